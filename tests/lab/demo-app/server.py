#!/usr/bin/python3
"""The demo workload: a small HTTP service (python3 stdlib only).

  GET /         a greeting naming the release it serves
  GET /version  "code=<C> data=<D>": C is baked into this file when the
                release is built, D is read from ./VERSION (a loose file of
                the release) on every request. A release that is served
                whole answers with C == D; anything else would be a mix.
  GET /health   200 "ok", or 500 when the release was built unhealthy

It serves from its working directory (the release, through `current`),
listens on 127.0.0.1:$PORT, and exits on SIGTERM.
"""
import http.server
import os
import signal
import sys

CODE_VERSION = "@VERSION@"
HEALTHY = "@HEALTHY@" == "yes"


def read(path):
    with open(path) as f:
        return f.read().strip()


class Handler(http.server.BaseHTTPRequestHandler):
    def reply(self, status, text):
        body = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/health":
            self.reply(200 if HEALTHY else 500,
                       "ok" if HEALTHY else "unhealthy by design")
        elif self.path == "/version":
            self.reply(200, f"code={CODE_VERSION} data={read('VERSION')}")
        elif self.path == "/":
            self.reply(200, read("lib/greeting.txt").replace(
                "@RELEASE@", read("VERSION")))
        else:
            self.reply(404, "not found")

    def log_message(self, fmt, *args):
        pass


def main():
    port = int(os.environ.get("PORT", "8080"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"demo app {CODE_VERSION} listening on 127.0.0.1:{port}",
          flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
