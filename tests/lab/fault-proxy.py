#!/usr/bin/env python3
"""fault-proxy.py — HTTPS reverse proxy between greenlight and Azurite that
breaks the storage path on demand (python3 stdlib only).

Clients speak HTTPS (the lab certificate) with HTTP/1.1 keep-alive; every
client connection gets its own upstream HTTPS connection (verified with the
lab CA). Bodies are streamed in 64 KiB pieces, never held whole.

Rules, on the control port (plain HTTP, loopback):
  POST /rules   JSON list, replaces the rules. Each rule:
      {"match": "SUBSTRING of path+query", "method": "GET" (optional),
       "count": N (times it fires, default 1; -1 = always),
       "action": ...} with one of
      {"action": "reset", "after_bytes": N}     RST the client connection
            after N body bytes (no after_bytes: before any response)
      {"action": "truncate", "after_bytes": N}  close cleanly (TLS
            close_notify) after N body bytes (default 0: after the headers)
      {"action": "status", "status": 503, "code": "ServerBusy",
       "retry_after": 1}                        Azure-style XML error,
            x-ms-error-code; the request never reaches Azurite
      {"action": "stall", "seconds": S, "after_bytes": N}   go silent for S
            seconds after N body bytes, then go on (no after_bytes: before
            the request is forwarded)
      {"action": "corrupt", "offset": N}        flip one body byte
      {"action": "delay", "ms": D}              wait D ms, then forward
    The first rule (in order) that matches and has count left fires.
  GET  /rules   the rules with "left" and "fired"
  GET  /log[?match=SUBSTRING]  every request served: {t, method, path, range,
        status, bytes, rule, action, fault, ms}. status is the HTTP status
        sent (a string such as "reset" when none was), bytes the body bytes
        sent, fault what broke the connection ("reset", "truncated",
        "client gone", ...) or absent.
  POST /reset   no rules, empty log

Usage: fault-proxy.py --upstream HOST:PORT --cert F --key F --ca F
                      [--port N] [--ctl-port N] [--port-file F]
"""
import argparse
import datetime
import fcntl
import json
import os
import socket
import ssl
import struct
import sys
import termios
import threading
import time
import uuid
from http.client import HTTPException, HTTPSConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate",
       "proxy-authorization", "te", "trailer", "transfer-encoding",
       "upgrade", "host"}
ACTIONS = {"reset", "truncate", "status", "stall", "corrupt", "delay"}
PIECE = 64 * 1024
MAX_LOG = 200000
MAX_MEM_BODY = 16 * 1024 * 1024
MESSAGES = {
    "ServerBusy": "The server is busy.",
    "OperationTimedOut": "Operation could not be completed within the "
                         "specified time.",
    "InternalError": "The server encountered an internal error. Please "
                     "retry the request.",
}
DEFAULT_CODES = {500: "InternalError", 503: "ServerBusy",
                 403: "AuthenticationFailed", 404: "BlobNotFound",
                 412: "ConditionNotMet", 408: "OperationTimedOut"}


class Abort(Exception):
    """The client connection was deliberately broken or went away."""


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self.log = []

    def set_rules(self, rules):
        if not isinstance(rules, list):
            raise ValueError("rules must be a JSON list")
        out = []
        for r in rules:
            if not isinstance(r, dict) or r.get("action") not in ACTIONS:
                raise ValueError(f"bad rule {r!r}: action one of "
                                 f"{sorted(ACTIONS)}")
            if not isinstance(r.get("match", ""), str):
                raise ValueError("match must be a string")
            r = dict(r)
            r.setdefault("match", "")
            r["left"] = int(r.get("count", 1))
            r["fired"] = 0
            if r["action"] == "status":
                r["status"] = int(r.get("status", 503))
            out.append(r)
        with self.lock:
            self.rules = out
        return out

    def match(self, method, target):
        with self.lock:
            for i, r in enumerate(self.rules):
                if r["left"] == 0:
                    continue
                if r.get("method") and r["method"].upper() != method:
                    continue
                if r["match"] not in target:
                    continue
                if r["left"] > 0:
                    r["left"] -= 1
                r["fired"] += 1
                return i, dict(r)
        return None, None

    def record(self, entry):
        with self.lock:
            if len(self.log) < MAX_LOG:
                self.log.append(entry)


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120  # idle keep-alive connections

    def setup(self):
        self.up = None
        self.request.settimeout(30)
        self.request = self.server.ctx.wrap_socket(self.request,
                                                   server_side=True)
        super().setup()

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass
        self.close_upstream()
        try:
            self.connection.close()
        except OSError:
            pass

    def log_message(self, fmt, *args):
        pass

    def close_upstream(self):
        if self.up is not None:
            self.up.close()
            self.up = None

    # --- every method goes the same way -----------------------------------
    def do_GET(self):
        self.handle_any()

    do_HEAD = do_PUT = do_POST = do_DELETE = do_OPTIONS = do_PATCH = do_GET

    def handle_any(self):
        st = self.server.state
        t0 = time.time()
        idx, rule = st.match(self.command, self.path)
        self.entry = {"t": t0, "method": self.command, "path": self.path,
                      "range": self.headers.get("x-ms-range") or
                      self.headers.get("Range") or "",
                      "status": None, "bytes": 0, "rule": idx,
                      "action": rule["action"] if rule else None}
        try:
            self.serve(rule)
        except Abort as e:
            self.close_connection = True
            self.close_upstream()
            self.entry["fault"] = str(e)
            if self.entry["status"] is None:
                self.entry["status"] = str(e)
        finally:
            self.entry["ms"] = round((time.time() - t0) * 1000, 1)
            st.record(self.entry)

    def read_body(self):
        """The request body: bytes, or (reader, length) when large."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
                if len(data) > MAX_MEM_BODY:
                    raise Abort("chunked request body too large")
        n = int(self.headers.get("Content-Length") or 0)
        if n <= MAX_MEM_BODY:
            return self.rfile.read(n) if n else b""
        return (self.rfile, n)

    def serve(self, rule):
        act = rule["action"] if rule else None
        if act == "reset" and rule.get("after_bytes") is None:
            self.rst()
        if act == "stall" and rule.get("after_bytes") is None:
            time.sleep(float(rule.get("seconds", 10)))
        if act == "delay":
            time.sleep(float(rule.get("ms", 0)) / 1000.0)
        body = self.read_body()
        if act == "status":
            return self.send_error_xml(rule)
        resp = self.forward(body)
        if resp is None:
            return
        self.relay(resp, rule)

    # --- upstream ---------------------------------------------------------
    def forward(self, body):
        srv = self.server
        hdrs = [(k, v) for k, v in self.headers.items()
                if k.lower() not in HOP]
        length = None
        if isinstance(body, tuple):
            body, length = body
        elif body or self.command in ("PUT", "POST"):
            length = len(body)
        for attempt in (0, 1):
            if self.up is None:
                self.up = HTTPSConnection(srv.up_host, srv.up_port,
                                          context=srv.up_ctx, timeout=60)
            try:
                self.up.putrequest(self.command, self.path, skip_host=True,
                                   skip_accept_encoding=True)
                self.up.putheader("Host", f"{srv.up_host}:{srv.up_port}")
                for k, v in hdrs:
                    if k.lower() != "content-length":
                        self.up.putheader(k, v)
                if length is not None:
                    self.up.putheader("Content-Length", str(length))
                self.up.endheaders()
                if hasattr(body, "read"):
                    left = length
                    while left > 0:
                        piece = body.read(min(PIECE, left))
                        if not piece:
                            raise Abort("client body ended early")
                        self.up.send(piece)
                        left -= len(piece)
                elif body:
                    self.up.send(body)
                return self.up.getresponse()
            except (OSError, HTTPException) as e:
                self.close_upstream()
                if attempt == 1 or hasattr(body, "read"):
                    self.send_error_xml({"status": 502, "code":
                                         "UpstreamUnavailable",
                                         "message": f"fault-proxy: upstream "
                                                    f"failed: {e}"})
                    return None
        return None

    def relay(self, resp, rule):
        act = rule["action"] if rule else None
        no_body = self.command == "HEAD" or resp.status in (204, 304) or \
            100 <= resp.status < 200
        length = resp.getheader("Content-Length")
        chunked = not no_body and length is None
        self.send_response_only(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in HOP:
                self.send_header(k, v)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers_checked()
        self.entry["status"] = resp.status
        if no_body:
            resp.read()
            return
        cut = None
        if act in ("reset", "truncate", "stall"):
            cut = int(rule.get("after_bytes") or 0)
        flip = int(rule.get("offset", 0)) if act == "corrupt" else None
        sent = 0
        while True:
            try:
                piece = resp.read1(PIECE)
            except (OSError, HTTPException) as e:
                self.close_upstream()
                raise Abort(f"upstream broke: {e}")
            if not piece:
                break
            if flip is not None and sent <= flip < sent + len(piece):
                b = bytearray(piece)
                b[flip - sent] ^= 0xFF
                piece = bytes(b)
            if cut is not None and sent + len(piece) >= cut:
                head, piece = piece[:cut - sent], piece[cut - sent:]
                self.write(head, chunked)
                sent += len(head)
                self.entry["bytes"] = sent
                self.cut(rule)
                cut = None  # stall goes on with the rest
            if piece:
                self.write(piece, chunked)
                sent += len(piece)
                self.entry["bytes"] = sent
        if cut is not None:  # body shorter than after_bytes
            self.cut(rule)
        if chunked:
            self.raw_write(b"0\r\n\r\n")

    def cut(self, rule):
        act = rule["action"]
        if act == "reset":
            self.close_upstream()
            self.rst()
        if act == "truncate":
            self.close_upstream()
            conn = self.connection
            self.drain()
            try:
                conn.settimeout(1)
                conn = conn.unwrap()  # TLS close_notify
            except (OSError, ValueError):
                pass
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
            raise Abort("truncated")
        if act == "stall":
            time.sleep(float(rule.get("seconds", 10)))

    def drain(self, limit_s=2.0):
        """Wait until the kernel has sent (and the peer acknowledged) what we
        wrote, so "after N bytes" means N bytes reached the client."""
        end = time.monotonic() + limit_s
        buf = bytearray(4)
        while time.monotonic() < end:
            try:
                fcntl.ioctl(self.connection.fileno(), termios.TIOCOUTQ, buf)
            except OSError:
                return
            if struct.unpack("i", buf)[0] == 0:
                return
            time.sleep(0.005)

    def rst(self):
        self.close_upstream()
        self.drain()
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass
        raise Abort("reset")

    # --- writing to the client --------------------------------------------
    def raw_write(self, data):
        try:
            self.wfile.write(data)
        except (OSError, ValueError):
            raise Abort("client gone")

    def end_headers_checked(self):
        try:
            self.end_headers()
        except (OSError, ValueError):
            raise Abort("client gone")

    def write(self, data, chunked):
        if not data:
            return
        if chunked:
            self.raw_write(b"%x\r\n" % len(data) + data + b"\r\n")
        else:
            self.raw_write(data)

    def send_error_xml(self, rule):
        status = int(rule.get("status", 503))
        code = rule.get("code") or DEFAULT_CODES.get(status, "InternalError")
        rid = str(uuid.uuid4())
        now = datetime.datetime.now(datetime.timezone.utc)
        msg = rule.get("message") or MESSAGES.get(code, "Injected failure.")
        body = (f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}'
                f"</Code><Message>{msg}\nRequestId:{rid}\nTime:"
                f"{now.strftime('%Y-%m-%dT%H:%M:%S.%f')}0Z</Message></Error>"
                ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-ms-error-code", code)
        self.send_header("x-ms-request-id", rid)
        self.send_header("x-ms-version", "2021-12-02")
        if rule.get("retry_after") is not None:
            self.send_header("Retry-After", str(rule["retry_after"]))
        self.end_headers_checked()
        if self.command != "HEAD":
            self.raw_write(body)
        self.entry["status"] = status
        self.entry["bytes"] = len(body) if self.command != "HEAD" else 0


class ControlHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        st = self.server.state
        u = urlsplit(self.path)
        q = dict(parse_qsl(u.query))
        if u.path == "/ping":
            return self.send(200, {"ok": True})
        if u.path == "/rules":
            with st.lock:
                return self.send(200, st.rules)
        if u.path == "/log":
            with st.lock:
                out = [dict(e) for e in st.log
                       if q.get("match", "") in e["path"]]
            return self.send(200, out)
        return self.send(404, {"error": "not found"})

    def do_POST(self):
        st = self.server.state
        n = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(n) if 0 < n <= 1 << 20 else b""
        if self.path == "/rules":
            try:
                return self.send(200, st.set_rules(json.loads(data or b"[]")))
            except (ValueError, TypeError) as e:
                return self.send(400, {"error": str(e)})
        if self.path == "/reset":
            with st.lock:
                st.rules = []
                st.log = []
            return self.send(200, {"ok": True})
        return self.send(404, {"error": "not found"})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def handle_error(self, request, client_address):
        e = sys.exc_info()[1]
        if not isinstance(e, (OSError, Abort)):
            super().handle_error(request, client_address)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--upstream", required=True, help="HOST:PORT of Azurite")
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--ctl-port", type=int, default=0)
    p.add_argument("--port-file")
    o = p.parse_args()
    state = State()
    proxy = Server(("127.0.0.1", o.port), ProxyHandler)
    proxy.state = state
    proxy.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    proxy.ctx.load_cert_chain(o.cert, o.key)
    host, _, port = o.upstream.rpartition(":")
    proxy.up_host, proxy.up_port = host, int(port)
    proxy.up_ctx = ssl.create_default_context(cafile=o.ca)
    ctl = Server(("127.0.0.1", o.ctl_port), ControlHandler)
    ctl.state = state
    threading.Thread(target=ctl.serve_forever, daemon=True).start()
    ports = f"{proxy.server_address[1]} {ctl.server_address[1]}"
    if o.port_file:
        with open(o.port_file + ".tmp", "w") as f:
            f.write(ports + "\n")
        os.rename(o.port_file + ".tmp", o.port_file)
    print(f"fault-proxy: https://127.0.0.1:{proxy.server_address[1]} -> "
          f"https://{o.upstream}, control http://127.0.0.1:"
          f"{ctl.server_address[1]}", file=sys.stderr, flush=True)
    try:
        proxy.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
