export EDGE_PI2=edgetok-pi2-3333333333333
