#!/usr/bin/env python3
"""health_workload.py — a small workload for the health tests (stdlib only).

Threaded HTTP/1.1 server with keep-alive and TCP_NODELAY, on 127.0.0.1:
  GET /          fast reply: "NAME ok\\n"
  GET /slow      replies after --slow seconds (default 2), or ?s=N seconds
                 (at most 30): "NAME slow\\n"
  GET /healthz   200 "ok", or 503 while sick
  POST /_sick    ?on=1|0: make /healthz fail or pass
Every request to / and /slow is logged as one JSON line to --log once its
reply is written: {"name", "path", "t0", "t1", "status"} (Unix seconds).
Client resets (a load balancer's health checks close with RST) are normal
and not logged.

Usage: health_workload.py --name blue --port-file F --log F [--slow 2]
"""
import argparse
import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "workload/1"
    sys_version = ""
    # idle keep-alive connections close after this, like Node's default
    # keepAliveTimeout: a drain then ends when the LB's pool goes idle
    timeout = 5

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, text):
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def record(self, t0, status):
        srv = self.server
        line = json.dumps({"name": srv.name, "path": self.path.split("?")[0],
                           "t0": t0,
                           "t1": time.time(), "status": status})
        with srv.lock:
            srv.log.write(line + "\n")
            srv.log.flush()

    def do_GET(self):
        t0 = time.time()
        srv = self.server
        if self.path == "/healthz":
            return self.reply(503 if srv.sick else 200,
                              "sick\n" if srv.sick else "ok\n")
        if self.path == "/":
            self.reply(200, f"{srv.name} ok\n")
            return self.record(t0, 200)
        if self.path == "/slow" or self.path.startswith("/slow?s="):
            secs = srv.slow
            if "?s=" in self.path:
                try:
                    secs = min(float(self.path.split("?s=", 1)[1]), 30.0)
                except ValueError:
                    return self.reply(400, "bad s\n")
            time.sleep(secs)
            self.reply(200, f"{srv.name} slow\n")
            return self.record(t0, 200)
        self.reply(404, "not found\n")

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(min(n, 65536))
        if self.path.startswith("/_sick"):
            self.server.sick = self.path.endswith("on=1")
            return self.reply(200, f"sick={int(self.server.sick)}\n")
        self.reply(404, "not found\n")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
            return  # resets and timeouts are normal here
        super().handle_error(request, client_address)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--name", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--slow", type=float, default=2.0)
    o = p.parse_args()
    srv = Server(("127.0.0.1", o.port), Handler)
    srv.name = o.name
    srv.slow = o.slow
    srv.sick = False
    srv.lock = threading.Lock()
    srv.log = open(o.log, "a")
    tmp = o.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{srv.server_address[1]}\n")
    os.rename(tmp, o.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
