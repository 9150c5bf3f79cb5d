#!/bin/sh
# install-edge.sh: install the homelab-mcp edge agent on this device as a systemd service.
#
#   curl -fsSL https://hub.example.com/edge/install.sh | sudo sh -s -- --token TOKEN --sha256 HASH
#
# and later, to replace the bundle with the hub's current one (token, settings and mode kept):
#
#   curl -fsSL https://hub.example.com/edge/install.sh | sudo sh -s -- --upgrade
#
# HASH is the edge bundle's sha256 that the hub prints at start and in list_nodes: this script
# refuses a bundle with any other. Fetch it over HTTPS (the hub behind its reverse proxy): over
# plain HTTP anyone on the path can change this script itself, and no hash inside it helps.
#
# POSIX sh (runs under dash). It usually runs from a pipe, so it cannot read anything beside it:
# the systemd units are embedded below and must stay identical to deploy/systemd/ (a test checks).
# Everything runs from main(), called on the last line, so a download cut short runs nothing.
set -eu

# The hub may rewrite these two lines when it serves this script, so that the one-liner needs
# only --token. --hub, --bundle-url or --bundle-file replace them.
DEFAULT_HUB=''
DEFAULT_SHA256=''

MIN_NODE_MAJOR=18
DEFAULT_LISTEN=0.0.0.0:8222
# Where systemd looks up the bare `node` of ExecStart; also sudo's usual secure_path.
SYSTEMD_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

usage() {
  cat <<'EOF'
install-edge.sh: install the homelab-mcp edge agent (homelab-edge) as a systemd service.

Usage: curl -fsSL https://HUB/edge/install.sh | sudo sh -s -- --token TOKEN --sha256 HASH [options]
       sudo sh install-edge.sh --token-file FILE --bundle-file homelab-edge.mjs [options]
       curl -fsSL https://HUB/edge/install.sh | sudo sh -s -- --upgrade [--sha256 HASH]

  --token TOKEN        bearer token the hub uses for this edge (at least 16 characters)
  --token-file FILE    read the token from FILE instead (keeps it out of the process list)
                       one of the two is required
  --hub URL            fetch the bundle from URL/edge/homelab-edge.mjs
  --bundle-url URL     fetch the bundle from URL
  --bundle-file PATH   use a bundle already on this machine
  --sha256 HEX         refuse the bundle unless its SHA-256 is HEX (the hub prints it at
                       start and in list_nodes); a bundle from the hub that served this
                       script is checked against that hub's hash even without it
  --listen HOST:PORT   address the edge listens on (default 0.0.0.0:8222); with --socket,
                       HOST must be an IP address and a socket drop-in is written
  --socket             socket activation: enable homelab-edge.socket instead of the service;
                       the edge starts on the first connection and exits when idle
  --no-start           install the files and reload systemd, but do not enable or start anything
  --upgrade            replace the installed bundle with the one fetched (and verified) as
                       above, keeping the token, settings and mode (service or socket); then
                       restart homelab-edge.service, or in socket mode stop the running edge so
                       that the socket starts the new bundle on the next connection. Prints the
                       old and new versions; the same bundle again changes and restarts nothing.
                       With --no-start the bundle is replaced and nothing is restarted
  --root DIR           install under DIR instead of / (image builds, tests): no root needed,
                       systemctl is not called and nothing is started
  --help               show this help

Installs /usr/local/lib/homelab-edge/homelab-edge.mjs, /etc/homelab-edge/token (0600),
/etc/default/homelab-edge (kept on reinstall unless --listen is given) and
/etc/systemd/system/homelab-edge.{service,socket}. Needs Node.js >= 18; when node is missing or
older, installs Debian's nodejs with apt-get.
EOF
}

say() { printf 'install-edge: %s\n' "$*"; }
die() {
  printf 'install-edge: error: %s\n' "$*" >&2
  exit 1
}

# Major version of `node` on PATH, or nothing when there is none.
node_major() {
  v=$(node --version 2>/dev/null) || return 0
  v=${v#v}
  v=${v%%.*}
  case $v in '' | *[!0-9]*) return 0 ;; esac
  printf '%s' "$v"
}

have_sha256() {
  command -v sha256sum >/dev/null 2>&1 || command -v shasum >/dev/null 2>&1 || command -v openssl >/dev/null 2>&1
}

# The SHA-256 of FILE, in lowercase hex.
sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum <"$1"
  elif command -v shasum >/dev/null 2>&1; then shasum -a 256 <"$1"
  else openssl dgst -sha256 -r <"$1"
  fi | awk '{ print $1 }'
}

# Writes stdin to FILE atomically with MODE: readers (and a running edge) see the old file or
# the new one, never half of one.
write_file() {
  _dir=$(dirname -- "$1")
  _tmp=$(mktemp "$_dir/.install-edge.XXXXXX")
  cat >"$_tmp"
  chmod "$2" "$_tmp"
  mv -f -- "$_tmp" "$1"
}

service_unit() {
  cat <<'HOMELAB_EDGE_SERVICE_UNIT'
# homelab-edge.service: the homelab-mcp edge agent, one per device.
#
# deploy/install-edge.sh embeds this exact text (it runs from a pipe and cannot read this file);
# deploy/install-edge.test.ts fails when the two differ, so edit both together.
#
# Two ways to run it:
#   always on:        systemctl enable --now homelab-edge.service
#   socket-activated: systemctl enable --now homelab-edge.socket
#                     systemd listens on :8222 and starts this service on the first connection; the
#                     edge exits after HOMELAB_EDGE_IDLE_EXIT idle seconds and then uses no memory.
# Local settings go in /etc/default/homelab-edge, not here, so that reinstalling keeps them.

[Unit]
Description=homelab-mcp edge agent
Wants=network-online.target
After=network-online.target

[Service]
# exec, not simple: `systemctl start` fails when node cannot be executed, instead of reporting
# success for a service that died at once.
Type=exec

# Node flags that keep memory flat under load (bench/edge/README.md): a small young generation,
# one V8 worker thread, and V8 optimizing for size. Not --no-opt (no optimizing compiler): in
# one interleaved bench run it cut the cold start from 166 to 124 ms and private memory after
# 2,000 calls from 15.5 to 11.3 MB, but get_status cost 18-38% more, and big outputs became so
# slow that 32 concurrent 1 MiB control-character outputs (packages/hub/test/security/
# edge.e2e.test.ts, memory bounds) failed on a loaded machine where they pass without it: an
# edge must stay fast on the work a Pi does slowly anyway. V8's lite mode held
# ~1-2 MB less after load, but it removes WebAssembly, and Node 22's ESM loader touches
# node:http's lazy WebSocket export, which loads undici, which needs WebAssembly: the edge then
# dies at start. So lite mode is not used. --optimize-for-size must be on the command line
# (NODE_OPTIONS rejects it). This line is the one place to change them;
# /etc/default/homelab-edge may also override the variable.
Environment="HOMELAB_EDGE_NODE_FLAGS=--max-semi-space-size=1 --max-old-space-size=32 --v8-pool-size=1 --optimize-for-size"
# Defaults for when /etc/default/homelab-edge is missing; the file overrides them.
# HOMELAB_EDGE_LISTEN is ignored when socket-activated (the edge serves the socket systemd passes).
Environment=HOMELAB_EDGE_LISTEN=127.0.0.1:8222
# --idle-exit only acts when systemd passed a socket (LISTEN_FDS); when started directly the
# edge ignores it, so the same unit serves both modes.
Environment=HOMELAB_EDGE_IDLE_EXIT=300
Environment=HOMELAB_EDGE_ARGS=
EnvironmentFile=-/etc/default/homelab-edge

# `node` without a path: systemd looks it up in /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:
# /sbin:/bin, so Debian's nodejs (/usr/bin/node) and a nodejs.org tarball under /usr/local both work.
# $VAR splits at whitespace into several arguments (or none when empty); ${VAR} stays one argument.
# The token comes from a root-only file, never the command line or Environment= (both are
# readable by every user through ps and `systemctl show`).
ExecStart=node $HOMELAB_EDGE_NODE_FLAGS /usr/local/lib/homelab-edge/homelab-edge.mjs --token-file /etc/homelab-edge/token --listen ${HOMELAB_EDGE_LISTEN} --idle-exit ${HOMELAB_EDGE_IDLE_EXIT} $HOMELAB_EDGE_ARGS
# An idle exit is status 0 and is not restarted (the socket starts the edge again); a crash or a
# failed bind (address not up yet at boot) is retried every 5 s, which never reaches the default
# start limit of 5 starts in 10 s.
Restart=on-failure
RestartSec=5
# The edge puts each run_command in a cgroup of its own below its service's (run-cgroup.ts), so
# that a timeout kills everything the command started, a `setsid` child that dropped its
# environment included. systemd supports sub-cgroups only in a delegated subtree.
Delegate=yes

# Hardening. The edge exists to administer this machine: it runs commands and writes files as
# root on purpose, and everything it spawns inherits these settings. So:
# - User= stays root: commands, write_file, systemctl, smartctl and the GPIO tools need it.
# - NoNewPrivileges= stays off: commands may use sudo, su or pkexec (`su pi -c 'sudo ...'`) or
#   other setuid/file-capability helpers, which it breaks; with any mount namespacing it would
#   also remount every file system nosuid.
# - No ProtectSystem=, ProtectHome=, ReadOnlyPaths=, PrivateTmp=: write_file and commands such as
#   apt-get must see and change the real file system, and a private /tmp would hide what a
#   command wrote from everybody else.
# - No PrivateDevices=/DevicePolicy=: smartctl reads /dev/sd* and /dev/nvme*, GPIO is /dev/gpiochip*.
# - No ProtectKernel*=, ProtectClock=, ProtectHostname=, RestrictNamespaces=,
#   RestrictAddressFamilies=, CapabilityBoundingSet=, SystemCallFilter=: sysctl, modprobe, dmesg,
#   timedatectl, hostnamectl, ip, docker and podman run through the edge need them.
# - No SystemCallArchitectures=native: Raspberry Pi OS often runs 32-bit armhf programs (node
#   included) on a 64-bit kernel, and they would be killed.
# - No MemoryDenyWriteExecute=: V8's JIT needs writable and executable memory.
# - No RestrictSUIDSGID=: apt-get installing a package with a setuid binary would fail.
# What does apply is resource control, as a safety net.
# The cap covers the whole cgroup: node and every command it runs. node needs about 15-20 MB of
# memory of its own (the rest of its 50-70 MB RSS is clean pages of the node binary that the
# kernel can drop), which leaves most of it to commands. Raise it with a drop-in
# (`systemctl edit homelab-edge.service`) if commands such as apt-get upgrade hit it.
MemoryMax=128M
# A command killed by the OOM killer fails on its own; the edge keeps serving. If node itself is
# killed, the service fails and Restart= brings it back.
OOMPolicy=continue
# Stops a runaway fork loop started through run_command.
TasksMax=512
# Stopping kills the whole cgroup, commands included, after this long.
TimeoutStopSec=20

[Install]
WantedBy=multi-user.target
HOMELAB_EDGE_SERVICE_UNIT
}

socket_unit() {
  cat <<'HOMELAB_EDGE_SOCKET_UNIT'
# homelab-edge.socket: socket activation for homelab-edge.service.
#
# deploy/install-edge.sh embeds this exact text; deploy/install-edge.test.ts fails when the two
# differ, so edit both together.
#
# systemd holds the listening socket and starts homelab-edge.service (same name) on the first
# connection, handing it this one socket; the edge exits when idle and nothing runs until the next
# connection. Enable this unit instead of the service: systemctl enable --now homelab-edge.socket
#
# To listen on another address or port, add a drop-in (install-edge.sh --socket --listen HOST:PORT
# writes this one):
#   /etc/systemd/system/homelab-edge.socket.d/listen.conf
#     [Socket]
#     ListenStream=
#     ListenStream=192.168.1.20:8222
# The empty ListenStream= first removes the default below; without it systemd listens on both.
# Then: systemctl daemon-reload && systemctl stop homelab-edge.service && systemctl restart homelab-edge.socket

[Unit]
Description=homelab-mcp edge agent socket

[Socket]
# A port alone means every address, IPv6 and IPv4 (IPv4 only when IPv6 is disabled).
ListenStream=8222
# One listening socket for one long-lived edge, which accepts connections itself; Accept=yes would
# start a new edge per connection.
Accept=no
# Lets a drop-in name an address that is not configured yet at boot (DHCP, Wi-Fi).
FreeBind=yes

[Install]
WantedBy=sockets.target
HOMELAB_EDGE_SOCKET_UNIT
}

env_file() {
  cat <<EOF
# Settings of homelab-edge.service (EnvironmentFile=). Written by install-edge.sh; a reinstall
# keeps this file and only rewrites HOMELAB_EDGE_LISTEN when --listen is given.
# After a change: systemctl restart homelab-edge.service

# Address the edge listens on when it is not socket-activated (socket mode: see
# /etc/systemd/system/homelab-edge.socket.d/). A token is required on any non-loopback address.
HOMELAB_EDGE_LISTEN=$1

# More homelab-edge flags, space-separated, for example:
#   HOMELAB_EDGE_ARGS=--root /srv --root /etc --disable-gpio --node-name kitchen-pi
HOMELAB_EDGE_ARGS=

# Seconds without requests before a socket-activated edge exits (ignored otherwise).
#HOMELAB_EDGE_IDLE_EXIT=300

# Node flags; the default is in the unit (see shared/reference/edge-footprint.md).
#HOMELAB_EDGE_NODE_FLAGS=--max-semi-space-size=1 --max-old-space-size=32 --v8-pool-size=1 --optimize-for-size
EOF
}

# Checks HOST:PORT; in socket mode HOST must be an IP address, since ListenStream= takes no names.
check_listen() {
  case $1 in *:*) ;; *) die "--listen: expected HOST:PORT (for example 0.0.0.0:8222), got '$1'" ;; esac
  _host=${1%:*}
  _port=${1##*:}
  case $_port in '' | *[!0-9]*) die "--listen: expected a port number after the last ':', got '$1'" ;; esac
  if [ "$_port" -lt 1 ] || [ "$_port" -gt 65535 ]; then die "--listen: the port must be 1 to 65535, got '$1'"; fi
  case $_host in
    '') die "--listen: expected a host before ':' (0.0.0.0 for every IPv4 address), got '$1'" ;;
    *[!A-Za-z0-9.:%_[\]-]*) die "--listen: expected HOST:PORT with an IP address or host name, got '$1'" ;;
  esac
  if [ "$2" = 1 ]; then
    case $_host in
      \[*\]) ;;
      *[!0-9.]*) die "--listen with --socket: systemd needs an IP address ([::] or 0.0.0.0 for all), not a name: got '$1'" ;;
    esac
  fi
}

# The last non-empty KEY=value of KEY in FILE.
last_value() {
  awk -v k="$1=" 'index($0, k) == 1 && length($0) > length(k) { v = substr($0, length(k) + 1) } END { print v }' "$2"
}

# An address others can use to reach this edge, for the closing hints.
reachable_host() {
  case $1 in
    0.0.0.0 | '[::]' | '')
      _ip=$(hostname -I 2>/dev/null | awk '{ print $1 }') || _ip=
      if [ -n "$_ip" ]; then
        case $_ip in *:*) _ip="[$_ip]" ;; esac
        printf '%s' "$_ip"
      else
        uname -n
      fi
      ;;
    *) printf '%s' "$1" ;;
  esac
}

# --upgrade, once the new bundle ($_bundle, version $_new) is verified and runs: swap it in
# atomically and restart what runs it, in the mode that is installed.
upgrade_bundle() {
  _installed=$prefix/usr/local/lib/homelab-edge/homelab-edge.mjs
  _old=$(node "$_installed" --version 2>/dev/null </dev/null) || _old='an unknown version (it does not run)'
  if cmp -s "$_bundle" "$_installed"; then
    say "already current: $_new is installed (the same bundle); nothing changed, nothing restarted"
    return 0
  fi
  umask 022
  # Beside the installed file, then renamed over it: a running edge keeps the old file open,
  # and a start at any moment finds the old bundle or the new one, never half of one.
  write_file "$_installed" 0755 <"$_bundle"
  # A newer installer may carry newer units; the settings file is the person's and stays.
  service_unit | write_file "$prefix/etc/systemd/system/homelab-edge.service" 0644
  socket_unit | write_file "$prefix/etc/systemd/system/homelab-edge.socket" 0644
  # `systemctl enable homelab-edge.socket` made this link: that is socket mode.
  if [ -e "$prefix/etc/systemd/system/sockets.target.wants/homelab-edge.socket" ] || [ -L "$prefix/etc/systemd/system/sockets.target.wants/homelab-edge.socket" ]; then _mode=socket; else _mode=service; fi
  say "upgraded: $_old -> $_new ($_installed, $_mode mode)"
  if [ $prefixed = 1 ]; then
    say "upgraded under $prefix: nothing restarted"
    return 0
  fi
  if [ $no_start = 1 ]; then
    say "not restarted (--no-start): the running edge stays $_old until: systemctl restart homelab-edge.service"
    return 0
  fi
  # Run by the edge itself (update_edges through run_command), this script is in the unit's
  # cgroup, which a restart kills: queue the job and return, rather than wait to be killed.
  _block=
  if grep -qs 'homelab-edge\.service' /proc/self/cgroup; then _block=--no-block; fi
  systemctl daemon-reload </dev/null || die "systemctl daemon-reload failed"
  if [ $_mode = socket ]; then
    systemctl $_block stop homelab-edge.service </dev/null || die "systemctl stop homelab-edge.service failed; the new bundle is installed and starts with the next edge"
    say "stopped the running edge: homelab-edge.socket starts $_new on the next connection"
  else
    systemctl $_block restart homelab-edge.service </dev/null || die "homelab-edge.service did not restart; see: journalctl -u homelab-edge.service"
    say "restarted homelab-edge.service${_block:+ (queued)}"
  fi
}

main() {
  token=
  token_file=
  hub=
  bundle_url=
  bundle_file=
  sha256=
  sha256_from=--sha256
  listen=
  socket=0
  no_start=0
  upgrade=0
  prefixed=0
  prefix=

  while [ $# -gt 0 ]; do
    case $1 in
      --*=*)
        # --name=value: split it and go round again.
        _name=${1%%=*}
        _value=${1#*=}
        shift
        set -- "$_name" "$_value" "$@"
        continue
        ;;
      --token | --token-file | --hub | --bundle-url | --bundle-file | --sha256 | --listen | --root)
        [ $# -ge 2 ] || die "$1 needs a value (see --help)"
        case $1 in
          --token) token=$2 ;;
          --token-file) token_file=$2 ;;
          --hub) hub=$2 ;;
          --bundle-url) bundle_url=$2 ;;
          --bundle-file) bundle_file=$2 ;;
          --sha256) sha256=$2 ;;
          --listen) listen=$2 ;;
          --root) prefix=$2 prefixed=1 ;;
        esac
        shift 2
        ;;
      --socket) socket=1; shift ;;
      --no-start) no_start=1; shift ;;
      --upgrade) upgrade=1; shift ;;
      -h | --help) usage; exit 0 ;;
      # Never echo a bare word back: it may be a token given without --token.
      -*) die "unknown option ${1%%=*} (see --help)" ;;
      *) die "unexpected argument: every value follows its option, like --token TOKEN (see --help)" ;;
    esac
  done

  # --- check everything before changing anything --------------------------------------------
  if [ $prefixed = 0 ] && [ "$(id -u)" != 0 ]; then
    die "must run as root: pipe it to 'sudo sh -s -- ...' (or give --root DIR to install into a directory)"
  fi
  if [ $upgrade = 1 ]; then
    # An upgrade changes the bundle only: everything else stays as installed.
    for _o in "--token:$token" "--token-file:$token_file" "--listen:$listen" "--socket:${socket#0}"; do
      [ -z "${_o#*:}" ] || die "--upgrade keeps the installed token, settings and mode: drop ${_o%%:*} (to change them, run the installer without --upgrade)"
    done
  fi
  if [ -n "$token" ] && [ -n "$token_file" ]; then die "give --token or --token-file, not both"; fi
  if [ $upgrade = 1 ]; then :; elif [ -n "$token_file" ]; then
    [ -r "$token_file" ] || die "--token-file $token_file: cannot read it"
    # $(cat) drops trailing newlines; the token stays out of every command line.
    token=$(cat -- "$token_file")
    [ -n "$token" ] || die "--token-file $token_file: the file is empty; expected the edge's bearer token"
  fi
  if [ $upgrade = 0 ]; then
    [ -n "$token" ] || die "--token TOKEN (or --token-file FILE) is required: the bearer token the hub will use for this edge, for example from 'openssl rand -hex 32'"
    _ws=$(printf ' \t\r\n.')
    _ws=${_ws%.}
    case $token in *["$_ws"]*) die "the token contains whitespace; expected one word of at least 16 characters" ;; esac
    [ ${#token} -ge 16 ] || die "the token is too short (${#token} characters); the edge requires at least 16, for example from 'openssl rand -hex 32'"
  fi

  _sources=0
  for _s in "$hub" "$bundle_url" "$bundle_file"; do [ -z "$_s" ] || _sources=$((_sources + 1)); done
  [ $_sources -le 1 ] || die "give only one of --hub, --bundle-url and --bundle-file"
  if [ $_sources = 0 ]; then
    [ -n "$DEFAULT_HUB" ] || die "where should the bundle come from? Give --hub URL (fetches URL/edge/homelab-edge.mjs), --bundle-url URL or --bundle-file PATH"
    hub=$DEFAULT_HUB
  fi
  if [ -n "$hub" ]; then bundle_url=${hub%/}/edge/homelab-edge.mjs; fi
  # The hub that served this script wrote its bundle's hash above: a bundle fetched from that
  # hub (by default or by --hub) is checked against it even without --sha256.
  if [ -z "$sha256" ] && [ -n "$DEFAULT_HUB" ] && [ "$bundle_url" = "${DEFAULT_HUB%/}/edge/homelab-edge.mjs" ]; then
    sha256=$DEFAULT_SHA256 sha256_from="the hash $DEFAULT_HUB wrote into this installer"
  fi
  if [ -n "$bundle_url" ]; then
    case $bundle_url in
      http://* | https://*) ;;
      *) die "expected an http:// or https:// URL for --hub/--bundle-url, got '$bundle_url'" ;;
    esac
  fi
  if [ -n "$bundle_file" ] && [ ! -r "$bundle_file" ]; then die "--bundle-file $bundle_file: cannot read it"; fi

  if [ -n "$sha256" ]; then
    sha256=$(printf '%s' "$sha256" | tr 'A-F' 'a-f')
    case $sha256 in *[!0-9a-f]*) die "--sha256: expected 64 hexadecimal digits, got '$sha256'" ;; esac
    [ ${#sha256} = 64 ] || die "--sha256: expected 64 hexadecimal digits, got ${#sha256}"
    have_sha256 || die "--sha256 needs sha256sum, shasum or openssl, and none is installed"
  fi

  listen_given=1
  if [ -z "$listen" ]; then listen=$DEFAULT_LISTEN listen_given=0; fi
  check_listen "$listen" "$socket"

  if [ $prefixed = 1 ]; then
    case $prefix in /*) ;; *) prefix=$(pwd)/$prefix ;; esac
    prefix=${prefix%/}
  else
    # Find node exactly where the unit's bare `node` will be found.
    PATH=$SYSTEMD_PATH
    export PATH
    if [ $no_start = 0 ]; then
      command -v systemctl >/dev/null 2>&1 || die "systemctl not found: the edge is installed as a systemd service. Use --no-start to only install the files"
      [ -d /run/systemd/system ] || die "systemd is not running here (no /run/systemd/system). Use --no-start to only install the files"
    fi
  fi
  if [ $upgrade = 1 ]; then
    [ -f "$prefix/usr/local/lib/homelab-edge/homelab-edge.mjs" ] && [ -f "$prefix/etc/homelab-edge/token" ] \
      || die "--upgrade: no edge is installed here (expected $prefix/usr/local/lib/homelab-edge/homelab-edge.mjs and $prefix/etc/homelab-edge/token); install it first, without --upgrade and with --token"
  fi

  _tmpdir=$(mktemp -d "${TMPDIR:-/tmp}/install-edge.XXXXXX")
  trap 'rm -rf "$_tmpdir"' EXIT
  trap 'exit 130' INT TERM HUP PIPE
  # .mjs: node decides ES module by the extension when checking the bundle below.
  _bundle=$_tmpdir/homelab-edge.mjs

  # --- the bundle ------------------------------------------------------------------------------
  if [ -n "$bundle_file" ]; then
    cp -- "$bundle_file" "$_bundle"
    _from=$bundle_file
  else
    _from=$bundle_url
    say "downloading $bundle_url"
    if command -v curl >/dev/null 2>&1; then
      curl -fsSL --retry 2 --connect-timeout 15 -o "$_bundle" "$bundle_url" </dev/null \
        || die "could not download the bundle from $bundle_url (curl failed; is the hub running and reachable from here?)"
    elif command -v wget >/dev/null 2>&1; then
      wget -q -T 30 -O "$_bundle" "$bundle_url" </dev/null \
        || die "could not download the bundle from $bundle_url (wget failed; is the hub running and reachable from here?)"
    else
      die "neither curl nor wget is installed: install one (apt-get install -y curl) or give --bundle-file PATH"
    fi
  fi
  [ -s "$_bundle" ] || die "the bundle from $_from is empty; expected homelab-edge.mjs"
  if [ -n "$sha256" ]; then
    _actual=$(sha256_of "$_bundle")
    [ "$_actual" = "$sha256" ] || die "the bundle from $_from has sha256 $_actual, expected $sha256 ($sha256_from): refusing to install it; nothing was changed"
    say "bundle sha256 verified"
  else
    say "no --sha256 given: the bundle is not verified"
  fi

  # --- Node.js >= 18 ---------------------------------------------------------------------------
  _major=$(node_major)
  if [ -z "$_major" ] || [ "$_major" -lt $MIN_NODE_MAJOR ]; then
    if [ -z "$_major" ]; then
      say "node not found on $PATH; installing Debian's nodejs"
    else
      say "node $(node --version) is older than v$MIN_NODE_MAJOR; installing Debian's nodejs"
    fi
    command -v apt-get >/dev/null 2>&1 || die "the edge needs Node.js >= $MIN_NODE_MAJOR and apt-get is not available to install it: install Node.js $MIN_NODE_MAJOR or newer (https://nodejs.org) so that 'node' is in $SYSTEMD_PATH, then re-run"
    # stdin from /dev/null: when this script comes through a pipe, a prompt would eat the script.
    DEBIAN_FRONTEND=noninteractive apt-get update </dev/null || die "apt-get update failed; fix the package sources, or install Node.js $MIN_NODE_MAJOR or newer yourself, and re-run"
    DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs </dev/null || die "apt-get install -y nodejs failed; install Node.js $MIN_NODE_MAJOR or newer yourself and re-run"
    hash -r 2>/dev/null || true
    _major=$(node_major)
    [ -n "$_major" ] || die "apt-get installed nodejs but there is still no 'node' on $PATH"
    [ "$_major" -ge $MIN_NODE_MAJOR ] || die "this system's nodejs is $(node --version), the edge needs v$MIN_NODE_MAJOR or newer: install it from https://nodejs.org or NodeSource and re-run"
  fi
  say "using node $(node --version) ($(command -v node))"
  _new=$(node "$_bundle" --version 2>/dev/null </dev/null) \
    || die "the bundle from $_from does not run on node $(node --version) ('node homelab-edge.mjs --version' failed); expected the homelab-edge bundle and Node.js >= $MIN_NODE_MAJOR"

  if [ $upgrade = 1 ]; then
    upgrade_bundle
    return 0
  fi

  # --- install ---------------------------------------------------------------------------------
  umask 022
  _lib=$prefix/usr/local/lib/homelab-edge
  _conf=$prefix/etc/homelab-edge
  _units=$prefix/etc/systemd/system
  _env=$prefix/etc/default/homelab-edge
  mkdir -p "$_lib" "$_units" "$prefix/etc/default"

  # A running edge keeps the old file open; it picks up the new one when restarted below.
  write_file "$_lib/homelab-edge.mjs" 0755 <"$_bundle"

  # The token: umask 077 so that no moment exists where another user could read it; printf is
  # a shell builtin, so the token never appears on a command line.
  (
    umask 077
    mkdir -p "$_conf"
    printf '%s' "$token" | write_file "$_conf/token" 0600
  )

  if [ -f "$_env" ]; then
    if [ $listen_given = 1 ]; then
      if grep -q '^HOMELAB_EDGE_LISTEN=' "$_env"; then
        sed "s|^HOMELAB_EDGE_LISTEN=.*|HOMELAB_EDGE_LISTEN=$listen|" "$_env" | write_file "$_env" 0644
      else
        { cat "$_env"; printf 'HOMELAB_EDGE_LISTEN=%s\n' "$listen"; } | write_file "$_env" 0644
      fi
      say "set HOMELAB_EDGE_LISTEN=$listen in $_env"
    else
      say "kept the existing $_env"
    fi
  else
    env_file "$listen" | write_file "$_env" 0644
  fi

  service_unit | write_file "$_units/homelab-edge.service" 0644
  socket_unit | write_file "$_units/homelab-edge.socket" 0644
  if [ $socket = 1 ] && [ $listen_given = 1 ]; then
    mkdir -p "$_units/homelab-edge.socket.d"
    printf '# Written by install-edge.sh --listen %s\n[Socket]\nListenStream=\nListenStream=%s\n' "$listen" "$listen" \
      | write_file "$_units/homelab-edge.socket.d/listen.conf" 0644
  fi
  say "installed $_lib/homelab-edge.mjs, $_conf/token, $_env and $_units/homelab-edge.{service,socket}"

  # --- start -----------------------------------------------------------------------------------
  if [ $socket = 1 ]; then _unit=homelab-edge.socket; else _unit=homelab-edge.service; fi
  if [ $prefixed = 1 ]; then
    say "installed under $prefix: nothing started"
  else
    if [ $no_start = 1 ]; then
      # --no-start also serves machines where systemd is not running (yet): reload only if it is.
      if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        systemctl daemon-reload </dev/null || die "systemctl daemon-reload failed"
      fi
      say "not started (--no-start); to start it: systemctl enable --now $_unit"
    else
      systemctl daemon-reload </dev/null || die "systemctl daemon-reload failed"
      # Switching modes: only one of the two may own the port. restart, not enable --now, so a
      # reinstall also replaces an edge that is already running with the new bundle.
      if [ $socket = 1 ]; then
        systemctl disable homelab-edge.service </dev/null >/dev/null 2>&1 || true
        systemctl stop homelab-edge.service </dev/null || die "systemctl stop homelab-edge.service failed"
        systemctl enable homelab-edge.socket </dev/null || die "systemctl enable homelab-edge.socket failed"
        systemctl restart homelab-edge.socket </dev/null || die "systemctl restart homelab-edge.socket failed; see: journalctl -u homelab-edge.socket"
      else
        systemctl disable --now homelab-edge.socket </dev/null >/dev/null 2>&1 || true
        systemctl enable homelab-edge.service </dev/null || die "systemctl enable homelab-edge.service failed"
        systemctl restart homelab-edge.service </dev/null || die "homelab-edge.service did not start; see: journalctl -u homelab-edge.service"
      fi
      say "started $_unit"
    fi
  fi

  # Where it really listens, for the hints: a kept settings file or socket drop-in may say so.
  if [ $listen_given = 0 ]; then
    if [ $socket = 1 ]; then
      listen=0.0.0.0:8222
      if [ -f "$_units/homelab-edge.socket.d/listen.conf" ]; then
        _kept=$(last_value ListenStream "$_units/homelab-edge.socket.d/listen.conf")
        case $_kept in *:*) listen=$_kept ;; esac
      fi
    else
      _kept=$(last_value HOMELAB_EDGE_LISTEN "$_env")
      case $_kept in *:*) listen=$_kept ;; esac
    fi
  fi
  _host=$(reachable_host "${listen%:*}")
  _port=${listen##*:}
  # The hub's node name: letters, digits, "-" and "_", at most 32, starting with a letter or
  # digit (hub.yaml refuses anything else), so the line below pastes as it is.
  _name=$(uname -n)
  _name=$(printf '%s' "${_name%%.*}" | tr -c 'A-Za-z0-9_-' '-' | sed 's/^[-_]*//; s/^\(.\{32\}\).*/\1/')
  [ -n "$_name" ] || _name=edge
  # The token goes to a file the hub reads at each reload (tokenFile:, relative to hub.yaml), so
  # adding a device needs no restart of the hub; the token itself is never printed here.
  cat <<EOF

Check it:  curl http://$_host:$_port/healthz
Logs:      journalctl -u homelab-edge
Add it to the hub (no restart: the hub reloads hub.yaml by itself):
  1. On the hub, store this edge's token (the --token given here) where only the hub reads it:
     printf '%s\n' "\$TOKEN" | sudo install -o homelab-hub -g homelab-hub -m 0600 /dev/stdin /etc/homelab-hub/secrets/$_name.token
     (a hub installed otherwise: a file of mode 0600 owned by the hub's user, its path relative to hub.yaml)
  2. Paste this line under nodes: in the hub's hub.yaml:
  - { name: $_name, url: "http://$_host:$_port/mcp", tokenFile: secrets/$_name.token }
EOF
}

main "$@"
