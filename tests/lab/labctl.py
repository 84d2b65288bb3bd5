#!/usr/bin/env python3
"""labctl.py — storage side of greenlight's local lab (python3 stdlib only).

Talks to Azurite with Shared Key (the well-known devstoreaccount1 key), makes
container SAS tokens, and mints bearer tokens that Azurite --oauth basic
accepts. ENDPOINT is the blob service base URL, e.g.
https://127.0.0.1:10000/devstoreaccount1. TLS is verified against $LAB_CA.

  labctl.py container-create ENDPOINT NAME
  labctl.py upload ENDPOINT SRC_DIR CONTAINER PREFIX [--no-md5] [--put-md5]
                   [--block-size N] [--jobs N]
  labctl.py put ENDPOINT CONTAINER NAME FILE [--no-md5] [--put-md5]
                   [--block-size N]
  labctl.py delete ENDPOINT CONTAINER NAME
  labctl.py sas ENDPOINT CONTAINER [PERMS] [--expiry S] [--token-only]
  labctl.py token [--lifetime S] [--aud A] [--iss I] [--nbf-offset S]
                  [--no-iat]

Uploads: a file up to --block-size bytes (default 256 MiB) goes up in one Put
Blob, for which Azurite computes Content-MD5. Larger files, and every file
with --no-md5, go up as Put Block + Put Block List without
x-ms-blob-content-md5, so the blob has no MD5 at all (like big azcopy/SDK
uploads). --put-md5 sends x-ms-blob-content-md5 with the block list instead
(what azcopy --put-md5 does). Files are uploaded in parallel over keep-alive
connections.
"""
import argparse
import base64
import concurrent.futures
import datetime
import email.utils
import hashlib
import hmac
import http.client
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse
import uuid

ACCOUNT = "devstoreaccount1"
KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
       "K1SZFPTOtr/KBHBeksoGMGw==")
VERSION = "2021-12-02"
SAS_VERSION = "2021-12-02"
DEFAULT_BLOCK = 256 * 1024 * 1024
IO_CHUNK = 1024 * 1024


class StorageError(Exception):
    pass


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(string_to_sign):
    mac = hmac.new(base64.b64decode(KEY), string_to_sign.encode("utf-8"),
                   hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


class Client:
    """Shared Key requests to one blob endpoint; one connection per thread."""

    def __init__(self, endpoint):
        u = urllib.parse.urlsplit(endpoint.rstrip("/"))
        if u.scheme != "https":
            raise SystemExit(f"labctl: endpoint must be https: {endpoint}")
        self.host = u.hostname
        self.port = u.port or 443
        self.base = u.path  # "/devstoreaccount1" (path-style) or ""
        self.ctx = ssl.create_default_context(cafile=os.environ.get("LAB_CA"))
        self.local = threading.local()

    def conn(self, fresh=False):
        c = getattr(self.local, "conn", None)
        if c is None or fresh:
            if c is not None:
                c.close()
            c = http.client.HTTPSConnection(self.host, self.port,
                                            context=self.ctx, timeout=120,
                                            blocksize=IO_CHUNK)
            self.local.conn = c
        return c

    def request(self, method, path, query=None, headers=None, body=None,
                ok=(200, 201, 202), retries=3):
        """path: unencoded "/container/blob". Returns (status, headers, data).
        Retries on a dropped keep-alive connection (body must be bytes)."""
        query = query or {}
        path_enc = self.base + urllib.parse.quote(path, safe="/~")
        target = path_enc
        if query:
            target += "?" + urllib.parse.urlencode(sorted(query.items()),
                                                   quote_via=urllib.parse.quote)
        length = 0
        if isinstance(body, (bytes, bytearray)):
            length = len(body)
        elif body is not None:
            length = headers.pop("_length")
        h = {"x-ms-date": email.utils.formatdate(usegmt=True),
             "x-ms-version": VERSION}
        h.update(headers or {})
        h["Content-Length"] = str(length)
        h["Authorization"] = self.authorization(method, path_enc, query, h)
        for attempt in range(retries):
            c = self.conn(fresh=attempt > 0)
            try:
                c.request(method, target, body=body, headers=h)
                r = c.getresponse()
                data = r.read()
                break
            except (ConnectionError, http.client.HTTPException, OSError):
                if attempt == retries - 1 or not isinstance(
                        body, (bytes, bytearray, type(None))):
                    raise
        if r.status not in ok:
            code = r.getheader("x-ms-error-code", "")
            raise StorageError(f"{method} {path}: {r.status} {code} "
                               f"{data[:300].decode('utf-8', 'replace')}")
        return r.status, r, data

    def authorization(self, method, path_enc, query, h):
        def get(name):
            for k, v in h.items():
                if k.lower() == name:
                    return "" if (name == "content-length" and v == "0") \
                        else str(v)
            return ""
        fields = [method.upper()] + [get(n) for n in (
            "content-encoding", "content-language", "content-length",
            "content-md5", "content-type", "date", "if-modified-since",
            "if-match", "if-none-match", "if-unmodified-since", "range")]
        xms = sorted((k.lower(), str(v).strip()) for k, v in h.items()
                     if k.lower().startswith("x-ms-"))
        canon_headers = "".join(f"{k}:{v}\n" for k, v in xms)
        canon_res = f"/{ACCOUNT}{path_enc}"
        for k in sorted(query, key=str.lower):
            canon_res += f"\n{k.lower()}:{query[k]}"
        sts = "\n".join(fields) + "\n" + canon_headers + canon_res
        return f"SharedKey {ACCOUNT}:{sign(sts)}"

    # --- operations -------------------------------------------------------
    def container_create(self, name):
        try:
            self.request("PUT", f"/{name}", {"restype": "container"})
        except StorageError as e:
            if "ContainerAlreadyExists" not in str(e):
                raise

    def delete(self, container, name):
        self.request("DELETE", f"/{container}/{name}", ok=(202,))

    def put_file(self, container, name, path, block_size, md5_mode):
        """md5_mode: "auto" (Put Blob when small: Azurite computes the MD5),
        "none" (always blocks, no MD5), "put" (blocks + x-ms-blob-content-md5)."""
        size = os.path.getsize(path)
        blob = f"/{container}/{name}"
        base = {"Content-Type": "application/octet-stream"}
        if md5_mode == "auto" and size <= block_size:
            with open(path, "rb") as f:
                if size <= 16 * IO_CHUNK:
                    body = f.read()
                    self.request("PUT", blob, headers=dict(
                        base, **{"x-ms-blob-type": "BlockBlob"}), body=body)
                else:  # stream big single-shot blobs, never whole in memory
                    self.request("PUT", blob, headers=dict(
                        base, **{"x-ms-blob-type": "BlockBlob",
                                 "_length": size}), body=f, retries=1)
            return
        ids = []
        md5 = hashlib.md5()
        with open(path, "rb") as f:
            while True:
                chunk = f.read(block_size)
                if not chunk:
                    break
                bid = base64.b64encode(
                    f"block-{len(ids):08d}".encode()).decode()
                md5.update(chunk)
                self.request("PUT", blob, {"comp": "block", "blockid": bid},
                             body=chunk)
                ids.append(bid)
        xml = ('<?xml version="1.0" encoding="utf-8"?><BlockList>' +
               "".join(f"<Latest>{i}</Latest>" for i in ids) +
               "</BlockList>").encode()
        h = {"x-ms-blob-content-type": "application/octet-stream",
             "Content-Type": "application/xml"}
        if md5_mode == "put":
            h["x-ms-blob-content-md5"] = base64.b64encode(
                md5.digest()).decode()
        self.request("PUT", blob, {"comp": "blocklist"}, headers=h, body=xml)


def blob_name(prefix, rel):
    prefix = prefix.strip("/")
    return f"{prefix}/{rel}" if prefix else rel


def cmd_upload(a):
    c = Client(a.endpoint)
    src = os.path.abspath(a.src)
    if not os.path.isdir(src):
        raise SystemExit(f"labctl: {a.src}: not a directory")
    files = []
    for root, dirs, names in os.walk(src):
        dirs.sort()
        for n in sorted(names):
            p = os.path.join(root, n)
            if os.path.isfile(p):
                files.append((p, os.path.relpath(p, src).replace(os.sep, "/")))
    mode = "none" if a.no_md5 else ("put" if a.put_md5 else "auto")
    c.container_create(a.container)
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
        futs = [pool.submit(c.put_file, a.container, blob_name(a.prefix, rel),
                            p, a.block_size, mode) for p, rel in files]
        for f in concurrent.futures.as_completed(futs):
            f.result()
    total = sum(os.path.getsize(p) for p, _ in files)
    print(f"uploaded {len(files)} files, {total} bytes to "
          f"{a.container}/{a.prefix.strip('/')} in "
          f"{time.monotonic() - t0:.2f}s", file=sys.stderr)


def cmd_put(a):
    mode = "none" if a.no_md5 else ("put" if a.put_md5 else "auto")
    Client(a.endpoint).put_file(a.container, a.name, a.file, a.block_size,
                                mode)


def sas_query(container, perms, expiry_s):
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    st = (now - datetime.timedelta(minutes=5)).strftime(fmt)
    se = (now + datetime.timedelta(seconds=expiry_s)).strftime(fmt)
    sts = "\n".join([perms, st, se, f"/blob/{ACCOUNT}/{container}", "", "",
                     "https", SAS_VERSION, "c", "", "", "", "", "", "", ""])
    q = [("sv", SAS_VERSION), ("spr", "https"), ("st", st), ("se", se),
         ("sr", "c"), ("sp", perms), ("sig", sign(sts))]
    return urllib.parse.urlencode(q, quote_via=urllib.parse.quote, safe="")


def cmd_sas(a):
    q = sas_query(a.container, a.perms, a.expiry)
    if a.token_only:
        print(q)
    else:
        print(f"{a.endpoint.rstrip('/')}/{a.container}?{q}")


def cmd_token(a):
    tenant = os.environ.get("LAB_TENANT", "72f988bf-86f1-41af-91ab-2d7cd011db47")
    now = int(time.time())
    nbf = now + a.nbf_offset
    oid = str(uuid.uuid4())
    claims = {"aud": a.aud, "iss": a.iss or f"https://sts.windows.net/{tenant}/",
              "nbf": nbf, "exp": now + a.lifetime, "oid": oid, "sub": oid,
              "tid": tenant, "ver": "1.0", "idtyp": "app"}
    if not a.no_iat:
        claims["iat"] = nbf
    head = {"alg": "none", "typ": "JWT"}
    print(f"{b64url(json.dumps(head).encode())}."
          f"{b64url(json.dumps(claims).encode())}.")


def main():
    p = argparse.ArgumentParser(prog="labctl.py", description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    def blockopts(s):
        s.add_argument("--no-md5", action="store_true")
        s.add_argument("--put-md5", action="store_true")
        s.add_argument("--block-size", type=int, default=DEFAULT_BLOCK)

    s = sub.add_parser("container-create")
    s.add_argument("endpoint")
    s.add_argument("name")
    s.set_defaults(fn=lambda a: Client(a.endpoint).container_create(a.name))
    s = sub.add_parser("upload")
    s.add_argument("endpoint")
    s.add_argument("src")
    s.add_argument("container")
    s.add_argument("prefix")
    blockopts(s)
    s.add_argument("--jobs", type=int, default=8)
    s.set_defaults(fn=cmd_upload)
    s = sub.add_parser("put")
    for n in ("endpoint", "container", "name", "file"):
        s.add_argument(n)
    blockopts(s)
    s.set_defaults(fn=cmd_put)
    s = sub.add_parser("delete")
    for n in ("endpoint", "container", "name"):
        s.add_argument(n)
    s.set_defaults(fn=lambda a: Client(a.endpoint).delete(a.container, a.name))
    s = sub.add_parser("sas")
    s.add_argument("endpoint")
    s.add_argument("container")
    s.add_argument("perms", nargs="?", default="rl")
    s.add_argument("--expiry", type=int, default=86400)
    s.add_argument("--token-only", action="store_true")
    s.set_defaults(fn=cmd_sas)
    s = sub.add_parser("token")
    s.add_argument("--lifetime", type=int, default=3600)
    s.add_argument("--aud", default="https://storage.azure.com/")
    s.add_argument("--iss", default=None)
    s.add_argument("--nbf-offset", type=int, default=-300)
    s.add_argument("--no-iat", action="store_true")
    s.set_defaults(fn=cmd_token)
    a = p.parse_args()
    if getattr(a, "block_size", 1) <= 0:
        p.error("--block-size must be positive")
    try:
        a.fn(a)
    except (StorageError, OSError, http.client.HTTPException) as e:
        print(f"labctl: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
