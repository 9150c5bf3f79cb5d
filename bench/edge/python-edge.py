#!/usr/bin/env python3
"""The seed design's baseline edge: a ~100-line Python http.server that runs one command per POST.

Usage: python-edge.py PORT TOKEN_FILE      (binds 127.0.0.1 only; PORT 0 picks a free port)

  POST /cmd {"cmd": "..."}  -> {"stdout", "stderr", "exit_code", "duration_ms"}
  GET /status               -> {"hostname", "uptime_s", "loadavg", "mem_kb"} read from /proc

Every request needs "Authorization: Bearer TOKEN". This is the *fair* version of the design's
appendix server (see the edge-footprint reference): ThreadingHTTPServer with HTTP/1.1 keep-alive,
and TCP_NODELAY, because http.server writes the headers and the body in two sends and Nagle plus
delayed ACK would otherwise add ~40 ms to every keep-alive response.
"""
import hmac
import json
import socket
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1024 * 1024
CMD_TIMEOUT_S = 60


def read_status():
    with open("/proc/loadavg") as f:
        load = [float(x) for x in f.read().split()[:3]]
    mem = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("MemTotal", "MemFree", "MemAvailable", "SwapTotal", "SwapFree"):
                mem[key] = int(rest.split()[0])
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    return {"hostname": socket.gethostname(), "uptime_s": uptime, "loadavg": load, "mem_kb": mem}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True  # TCP_NODELAY: see the module docstring
    server_version = "python-edge/1"
    token = ""

    def log_message(self, fmt, *args):  # quiet: one log line per call would dominate the cost
        pass

    def send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def authorized(self):
        given = self.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), ("Bearer " + self.token).encode())

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            return None
        return self.rfile.read(length) if length else b""

    def do_GET(self):
        if not self.authorized():
            return self.send_json(401, {"error": "unauthorized"})
        if self.path != "/status":
            return self.send_json(404, {"error": "not found"})
        self.send_json(200, read_status())

    def do_POST(self):
        body = self.read_body()  # always drain the body, or the next keep-alive request breaks
        if body is None:
            return self.send_json(413, {"error": "body too large"})
        if not self.authorized():
            return self.send_json(401, {"error": "unauthorized"})
        if self.path != "/cmd":
            return self.send_json(404, {"error": "not found"})
        try:
            cmd = json.loads(body)["cmd"]
            if not isinstance(cmd, str) or not cmd:
                raise ValueError("cmd must be a non-empty string")
        except (ValueError, KeyError, TypeError) as err:
            return self.send_json(400, {"error": "expected {\"cmd\": \"...\"}: %s" % err})
        start = time.monotonic()
        try:
            r = subprocess.run(["/bin/sh", "-c", cmd], capture_output=True, timeout=CMD_TIMEOUT_S)
            out, err, code = r.stdout, r.stderr, r.returncode
        except subprocess.TimeoutExpired as e:
            out, err, code = e.stdout or b"", e.stderr or b"", None
        self.send_json(200, {
            "stdout": out.decode(errors="replace"),
            "stderr": err.decode(errors="replace"),
            "exit_code": code,
            "duration_ms": round((time.monotonic() - start) * 1000, 2),
        })


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: python-edge.py PORT TOKEN_FILE\n")
        return 2
    with open(sys.argv[2]) as f:
        Handler.token = f.read().strip()
    if len(Handler.token) < 16:
        sys.stderr.write("python-edge: the token must be at least 16 characters\n")
        return 2
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    sys.stderr.write(json.dumps({"msg": "python-edge listening", "listen": "%s:%d" % (host, port)}) + "\n")
    sys.stderr.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
