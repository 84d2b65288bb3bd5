#!/usr/bin/env python3
"""imds-emulator.py — the Azure Instance Metadata Service, as greenlight sees
it, on loopback (python3 stdlib only). Answers like the real service:

  GET  /metadata/identity/oauth2/token?api-version=&resource=
           [&client_id=|&object_id=|&msi_res_id=]     managed-identity token
  GET  /metadata/instance?api-version=                 instance metadata JSON
  GET  /metadata/instance/compute/name?api-version=&format=text    (any leaf)
  GET  /metadata/scheduledevents?api-version=          Scheduled Events
  POST /metadata/scheduledevents?api-version=          {"StartRequests": [...]}

Every /metadata request needs "Metadata: true" and no X-Forwarded-For, like
IMDS. Tokens are unsigned JWTs (alg none) that Azurite --oauth basic accepts.
JSON numbers in token responses are strings, as in real IMDS.

Test controls (loopback only; not in the request log):
  POST   /_test/fail {"status": 410|429|500|...|"timeout"|"reset",
                      "count": N | "seconds": S, "delay_ms": D,
                      "path": "token"|"instance"|"events"|"all",
                      "retry_after": S}
           fail the next N matching requests (default 1) or all of them for
           S seconds; "delay_ms" alone only delays them. Rules stack; the
           first live rule that matches a request applies.
  POST   /_test/token {"lifetime": S}           lifetime of later tokens
  POST   /_test/identities {"system": bool, "user": [{"client_id": ..,
                      "object_id": .., "msi_res_id": ..}]}
  POST   /_test/events {"type": "Terminate", "resources": ["vmss_0"],
                      "not_before_s": 300, ...}   -> the event (EventId)
  DELETE /_test/events/<id>                     cancel: the event vanishes
  POST   /_test/settings {"event_remove_s": S, "events_first_delay_s": S,
                      "vm_name": NAME}
  GET    /_test/requests[?path=SUBSTRING]       every /metadata request seen
  GET    /_test/approvals                       [{"t": .., "event_id": ..}]
  GET    /_test/state                           identities, events, settings
  POST   /_test/reset                           back to the start-up state

Usage: imds-emulator.py [--port N] [--port-file F] [--vm-name vmss_0]
                        [--token-lifetime S] [--event-remove-delay S]
                        [--events-first-delay S]
"""
import argparse
import base64
import json
import os
import socket
import struct
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

API_VERSIONS = ["2017-03-01", "2017-04-02", "2017-08-01", "2017-10-01",
                "2017-12-01", "2018-02-01", "2018-04-02", "2018-10-01",
                "2019-02-01", "2019-03-11", "2019-04-30", "2019-06-01",
                "2019-06-04", "2019-08-01", "2019-08-15", "2019-11-01",
                "2020-06-01", "2020-07-15", "2020-09-01", "2020-10-01",
                "2020-12-01", "2021-01-01", "2021-02-01", "2021-03-01",
                "2021-05-01", "2021-08-01", "2021-10-01", "2021-11-01",
                "2021-11-15", "2021-12-13", "2023-07-01", "2023-11-15",
                "2024-03-15", "2024-07-17", "2025-04-07"]
EVENT_VERSIONS = ["2017-03-01", "2017-08-01", "2017-11-01", "2019-01-01",
                  "2019-04-01", "2019-08-01", "2020-07-01"]
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SUBSCRIPTION = "8d10da13-8125-4ba9-a717-bf7490507b3d"
GROUP = "greenlight-lab"
MAX_LOG = 100000
MAX_BODY = 64 * 1024
LOGGED_HEADERS = ("Metadata", "X-Forwarded-For", "Content-Type",
                  "User-Agent", "Accept", "Connection")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def rfc1123(t):
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(t))


class Lab:
    """All mutable state, behind one lock."""

    def __init__(self, opts):
        self.opts = opts
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        o = self.opts
        self.vm_name = o.vm_name
        self.lifetime = o.token_lifetime
        self.event_remove_s = o.event_remove_delay
        self.first_delay_s = o.events_first_delay
        self.events_seen = False
        self.system = True
        self.system_ids = {"client_id": str(uuid.uuid4()),
                           "object_id": str(uuid.uuid4())}
        self.users = []
        self.faults = []
        self.events = []       # dicts as served, plus private "_" keys
        self.incarnation = 1
        self.requests = []
        self.approvals = []

    # --- scheduled events (call with the lock held) -----------------------
    def events_tick(self, now):
        """NotBefore passed -> Started; Started long enough -> gone."""
        changed = False
        keep = []
        for e in self.events:
            if e["EventStatus"] == "Scheduled" and e["_not_before"] <= now:
                self.start_event(e, now)
                changed = True
            if e["EventStatus"] == "Started" and e["_remove_at"] <= now:
                changed = True
                continue
            keep.append(e)
        self.events = keep
        if changed:
            self.incarnation += 1

    def start_event(self, e, now):
        e["EventStatus"] = "Started"
        e["NotBefore"] = ""
        e["_remove_at"] = now + self.event_remove_s

    def events_doc(self):
        return {"DocumentIncarnation": self.incarnation,
                "Events": [{k: v for k, v in e.items()
                            if not k.startswith("_")} for e in self.events]}

    def vmss_name(self):
        return self.vm_name.rsplit("_", 1)[0] if "_" in self.vm_name \
            else self.vm_name

    def instance_doc(self):
        vmss = self.vmss_name()
        iid = self.vm_name.rsplit("_", 1)[1] if "_" in self.vm_name else "0"
        n = int(iid) if iid.isdigit() else 0
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"
        b36 = ""
        while True:
            b36 = digits[n % 36] + b36
            n //= 36
            if n == 0:
                break
        rid = (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/"
               f"providers/Microsoft.Compute/virtualMachineScaleSets/{vmss}/"
               f"virtualMachines/{iid}")
        return {
            "compute": {
                "azEnvironment": "AzurePublicCloud",
                "location": "westeurope",
                "name": self.vm_name,
                "offer": "debian-12",
                "osType": "Linux",
                "placementGroupId": "5f7c4a2e-1b3d-4c5e-8f90-a1b2c3d4e5f6",
                "priority": "Regular",
                "evictionPolicy": "",
                "provider": "Microsoft.Compute",
                "publisher": "Debian",
                "resourceGroupName": GROUP,
                "resourceId": rid,
                "sku": "12-gen2",
                "subscriptionId": SUBSCRIPTION,
                "tags": "",
                "version": "0.20251112.2294",
                "vmId": str(uuid.uuid5(uuid.NAMESPACE_URL, rid)),
                "vmScaleSetName": vmss,
                "vmSize": "Standard_D2s_v5",
                "zone": "1",
                "osProfile": {
                    "adminUsername": "azureuser",
                    "computerName": f"{vmss[:9]}{b36.rjust(6, '0')}",
                    "disablePasswordAuthentication": "true",
                },
            },
            "network": {"interface": [{
                "ipv4": {"ipAddress": [{"privateIpAddress": "10.0.0.4",
                                        "publicIpAddress": ""}],
                         "subnet": [{"address": "10.0.0.0",
                                     "prefix": "24"}]},
                "ipv6": {"ipAddress": []},
                "macAddress": "000D3A123456"}]},
        }

    def identity_res_id(self, name):
        return (f"/subscriptions/{SUBSCRIPTION}/resourcegroups/{GROUP}/"
                f"providers/Microsoft.ManagedIdentity/"
                f"userAssignedIdentities/{name}")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "IMDS/150.870.65.1854"
    sys_version = ""

    # --- plumbing ---------------------------------------------------------
    def setup(self):
        super().setup()
        # headers and body go out in separate writes: without TCP_NODELAY a
        # reused keep-alive connection stalls ~40 ms (Nagle + delayed ACK)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (time.strftime("%H:%M:%S"), fmt % args))

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(n) if n > 0 else b""

    def send(self, status, obj, ctype="application/json; charset=utf-8",
             extra=None):
        data = obj if isinstance(obj, bytes) else (
            obj.encode() if isinstance(obj, str) else
            json.dumps(obj, separators=(",", ":")).encode())
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.answered = status

    def reset_connection(self):
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                   struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def dispatch(self):
        u = urlsplit(self.path)
        self.answered = None
        if u.path.startswith("/_test/"):
            if not self.client_address[0].startswith("127."):
                return self.send(403, {"error": "test controls are loopback only"})
            try:
                return self.control(u)
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                return self.send(400, {"error": f"bad control request: {e}"})
        t = time.time()
        entry = {"t": t, "method": self.command, "path": u.path,
                 "query": dict(parse_qsl(u.query, keep_blank_values=True)),
                 "headers": {h: self.headers[h] for h in LOGGED_HEADERS
                             if h in self.headers},
                 "status": None}
        lab = self.server.lab
        with lab.lock:
            if len(lab.requests) < MAX_LOG:
                lab.requests.append(entry)
        try:
            self.metadata(u, entry)
        finally:
            entry["status"] = self.answered if self.answered else "none"

    # --- faults -----------------------------------------------------------
    def category(self, path):
        if path.startswith("/metadata/identity/"):
            return "token"
        if path.startswith("/metadata/instance"):
            return "instance"
        if path.startswith("/metadata/scheduledevents"):
            return "events"
        return "other"

    def fault(self, path):
        lab = self.server.lab
        cat = self.category(path)
        now = time.time()
        with lab.lock:
            for f in lab.faults:
                if f["path"] not in ("all", cat):
                    continue
                if f.get("until") is not None:
                    if now >= f["until"]:
                        continue
                elif f["left"] <= 0:
                    continue
                else:
                    f["left"] -= 1
                f["fired"] += 1
                return dict(f)
        return None

    def apply_fault(self, f, entry):
        """Returns True when the request was answered (or dropped)."""
        entry["fault"] = f.get("status", "delay")
        if f.get("delay_ms"):
            time.sleep(f["delay_ms"] / 1000.0)
        st = f.get("status")
        if st is None:
            return False
        if st == "timeout":
            time.sleep(f.get("hold_s", 30))
            self.close_connection = True
            return True
        if st == "reset":
            self.reset_connection()
            return True
        extra = {}
        if f.get("retry_after") is not None:
            extra["Retry-After"] = str(f["retry_after"])
        body = {410: {"error": "service_unavailable", "error_description":
                      "IMDS is being updated; retry for up to 70 seconds"},
                429: {"error": "too_many_requests", "error_description":
                      "Too many requests; retry with exponential backoff"},
                404: {"error": "not_found", "error_description":
                      "Identity not yet available; retry"}
                }.get(st, {"error": "unknown_error", "error_description":
                           f"injected failure {st}"})
        self.send(int(st), body, extra=extra)
        return True

    # --- the metadata service ---------------------------------------------
    def metadata(self, u, entry):
        q_list = parse_qsl(u.query, keep_blank_values=True)
        q = dict(q_list)
        cat = self.category(u.path)
        if cat == "other":
            return self.send(404, {"error": "Not found"})
        if cat == "token":
            if self.headers.get("Metadata") != "true":
                return self.send(400, {
                    "error": "invalid_request",
                    "error_description":
                        "Required metadata header not specified"})
            if "X-Forwarded-For" in self.headers:
                return self.send(400, {
                    "error": "invalid_request",
                    "error_description":
                        "Request is not allowed: X-Forwarded-For header"})
        else:
            if self.headers.get("Metadata") != "true":
                return self.send(400, {
                    "error": "Bad request. Required metadata header not "
                             "specified"})
            if "X-Forwarded-For" in self.headers:
                return self.send(400, {
                    "error": "Bad request. X-Forwarded-For header is not "
                             "allowed"})
            if len(q) != len(q_list):
                return self.send(400, {
                    "error": "Bad request. Query parameters should not be "
                             "duplicated"})
        f = self.fault(u.path)
        if f and self.apply_fault(f, entry):
            return
        if cat == "token":
            return self.token(u, q)
        if cat == "instance":
            return self.instance(u, q)
        return self.scheduled_events(q)

    def bad_version(self, versions):
        return self.send(400, {
            "error": "Bad request. api-version is invalid or was not "
                     "specified in the request. For more information refer "
                     "to aka.ms/azureimds",
            "newest-versions": sorted(versions, reverse=True)[:3]})

    def token(self, u, q):
        if u.path != "/metadata/identity/oauth2/token" or \
                self.command != "GET":
            return self.send(404, {"error": "not_found"})
        if not q.get("api-version"):
            return self.send(400, {
                "error": "invalid_request",
                "error_description": "Required query variable 'api-version' "
                                     "is missing"})
        resource = q.get("resource", "")
        if not resource:
            return self.send(400, {
                "error": "invalid_request",
                "error_description": "Required audience parameter not "
                                     "specified"})
        lab = self.server.lab
        asked = [(k, q[k]) for k in ("client_id", "object_id", "msi_res_id")
                 if q.get(k)]
        with lab.lock:
            if len(asked) > 1:
                return self.send(400, {
                    "error": "invalid_request",
                    "error_description": "Only one of client_id, object_id "
                                         "or msi_res_id may be given"})
            ident = None
            if asked:
                k, v = asked[0]
                for i in lab.users:
                    if i.get(k, "").lower() == v.lower():
                        ident = dict(i, kind="user")
                if ident is None and lab.system and \
                        lab.system_ids.get(k, "").lower() == v.lower():
                    ident = dict(lab.system_ids, kind="system")
            elif lab.system:
                ident = dict(lab.system_ids, kind="system")
            elif len(lab.users) == 1:
                ident = dict(lab.users[0], kind="user")
            elif len(lab.users) > 1:
                return self.send(400, {
                    "error": "invalid_request",
                    "error_description": "Multiple user assigned identities "
                                         "exist, please specify the clientId "
                                         "/ resourceId of the identity in the "
                                         "token request"})
            if ident is None:
                return self.send(400, {
                    "error": "invalid_request",
                    "error_description": "Identity not found"})
            lifetime = lab.lifetime
            vmss = lab.vmss_name()
        now = int(time.time())
        nbf = now - 300
        exp = now + lifetime
        mirid = ident.get("msi_res_id") or (
            f"/subscriptions/{SUBSCRIPTION}/resourcegroups/{GROUP}/providers/"
            f"Microsoft.Compute/virtualMachineScaleSets/{vmss}")
        claims = {"aud": resource, "iss": f"https://sts.windows.net/{TENANT}/",
                  "iat": nbf, "nbf": nbf, "exp": exp,
                  "aio": b64url(os.urandom(12)), "appid": ident["client_id"],
                  "appidacr": "2", "idp": f"https://sts.windows.net/{TENANT}/",
                  "idtyp": "app", "oid": ident["object_id"],
                  "rh": "0.lab.", "sub": ident["object_id"], "tid": TENANT,
                  "uti": b64url(os.urandom(16)), "ver": "1.0",
                  "xms_mirid": mirid, "xms_idrel": "7 12"}
        jwt = (b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode()) +
               "." + b64url(json.dumps(claims).encode()) + ".")
        return self.send(200, {
            "access_token": jwt, "client_id": ident["client_id"],
            "expires_in": str(exp - now), "expires_on": str(exp),
            "ext_expires_in": str(exp - now), "not_before": str(nbf),
            "resource": resource, "token_type": "Bearer"})

    def instance(self, u, q):
        if self.command != "GET":
            return self.send(405, {"error": "Method not allowed"})
        if q.get("api-version") not in API_VERSIONS:
            return self.bad_version(API_VERSIONS)
        with self.server.lab.lock:
            node = self.server.lab.instance_doc()
        parts = [p for p in u.path[len("/metadata/instance"):].split("/") if p]
        for p in parts:
            if isinstance(node, dict) and p in node:
                node = node[p]
            elif isinstance(node, list) and p.isdigit() and \
                    int(p) < len(node):
                node = node[int(p)]
            else:
                return self.send(404, {"error": "Not found"})
        fmt = q.get("format", "json")
        if isinstance(node, str):
            if fmt != "text":
                return self.send(400, {
                    "error": "Bad request. Leaf nodes only support text "
                             "format"})
            return self.send(200, node, ctype="text/plain; charset=utf-8")
        if fmt == "text":
            keys = node.keys() if isinstance(node, dict) else \
                [str(i) for i in range(len(node))]
            return self.send(200, "\n".join(keys),
                             ctype="text/plain; charset=utf-8")
        if fmt != "json":
            return self.send(400, {"error": "Bad request. Unknown format"})
        return self.send(200, node)

    def scheduled_events(self, q):
        if q.get("api-version") not in EVENT_VERSIONS:
            return self.bad_version(EVENT_VERSIONS)
        lab = self.server.lab
        if self.command == "GET":
            with lab.lock:
                first = not lab.events_seen
                lab.events_seen = True
                delay = lab.first_delay_s
            if first and delay > 0:
                time.sleep(delay)
            with lab.lock:
                lab.events_tick(time.time())
                doc = lab.events_doc()
            return self.send(200, doc)
        if self.command != "POST":
            return self.send(405, {"error": "Method not allowed"})
        try:
            req = json.loads(self.body() or b"null")
            starts = req["StartRequests"]
            if not isinstance(starts, list) or not starts:
                raise ValueError("StartRequests must be a non-empty list")
            ids = []
            for s in starts:
                ids.append(str(s["EventId"]))
        except (ValueError, KeyError, TypeError):
            return self.send(400, {"error": "Bad request. Invalid request "
                                            "body"})
        now = time.time()
        with lab.lock:
            lab.events_tick(now)
            known = {e["EventId"].lower(): e for e in lab.events}
            if any(i.lower() not in known for i in ids):
                return self.send(400, {"error": "Bad request. Unknown "
                                                "EventId"})
            changed = False
            for i in ids:
                e = known[i.lower()]
                lab.approvals.append({"t": now, "event_id": e["EventId"]})
                if e["EventStatus"] == "Scheduled":
                    lab.start_event(e, now)
                    changed = True
            if changed:
                lab.incarnation += 1
        return self.send(200, {})

    # --- test controls ----------------------------------------------------
    def control(self, u):
        lab = self.server.lab
        m = self.command
        path = u.path.rstrip("/")
        q = dict(parse_qsl(u.query))
        body = json.loads(self.body() or b"null") if m in ("POST", "PUT") \
            else None
        if m == "GET" and path == "/_test/ping":
            return self.send(200, {"ok": True})
        if m == "POST" and path == "/_test/fail":
            st = body.get("status")
            if st is not None and st not in ("timeout", "reset"):
                st = int(st)
                if not 100 <= st <= 599:
                    raise ValueError("status must be 100..599")
            if st is None and not body.get("delay_ms"):
                raise ValueError("need status and/or delay_ms")
            p = body.get("path", "all")
            if p not in ("token", "instance", "events", "all"):
                raise ValueError("path: token|instance|events|all")
            f = {"status": st, "path": p, "fired": 0,
                 "delay_ms": int(body.get("delay_ms", 0)),
                 "hold_s": float(body.get("hold_s", 30)),
                 "retry_after": body.get("retry_after"),
                 "left": int(body.get("count", 1)), "until": None}
            if body.get("seconds") is not None:
                f["until"] = time.time() + float(body["seconds"])
            with lab.lock:
                lab.faults.append(f)
            return self.send(200, f)
        if m == "POST" and path == "/_test/token":
            with lab.lock:
                lab.lifetime = int(body["lifetime"])
            return self.send(200, {"lifetime": lab.lifetime})
        if m == "POST" and path == "/_test/identities":
            with lab.lock:
                if "system" in body:
                    lab.system = bool(body["system"])
                if "user" in body:
                    users = []
                    for n, i in enumerate(body["user"]):
                        users.append({
                            "client_id": i.get("client_id") or
                            str(uuid.uuid4()),
                            "object_id": i.get("object_id") or
                            str(uuid.uuid4()),
                            "msi_res_id": i.get("msi_res_id") or
                            lab.identity_res_id(f"lab-identity-{n}")})
                    lab.users = users
                out = {"system": lab.system, "system_identity":
                       lab.system_ids, "user": lab.users}
            return self.send(200, out)
        if m == "POST" and path == "/_test/events":
            now = time.time()
            nb = float(body.get("not_before_s", 300))
            with lab.lock:
                e = {"EventId": str(body.get("id") or uuid.uuid4()).upper(),
                     "EventStatus": body.get("status", "Scheduled"),
                     "EventType": body.get("type", "Terminate"),
                     "ResourceType": "VirtualMachine",
                     "Resources": list(body.get("resources",
                                                [lab.vm_name])),
                     "NotBefore": rfc1123(now + nb),
                     "Description": body.get(
                         "description",
                         "Virtual machine is being deleted."),
                     "EventSource": body.get("source", "User"),
                     "DurationInSeconds": int(body.get("duration", -1)),
                     "_not_before": now + nb, "_remove_at": float("inf")}
                if e["EventStatus"] == "Started":
                    lab.start_event(e, now)
                lab.events.append(e)
                lab.incarnation += 1
                out = {k: v for k, v in e.items() if not k.startswith("_")}
                out["DocumentIncarnation"] = lab.incarnation
            return self.send(200, out)
        if m == "DELETE" and path.startswith("/_test/events/"):
            eid = path.rsplit("/", 1)[1].lower()
            with lab.lock:
                n = len(lab.events)
                lab.events = [e for e in lab.events
                              if e["EventId"].lower() != eid]
                if len(lab.events) == n:
                    return self.send(404, {"error": "no such event"})
                lab.incarnation += 1
                inc = lab.incarnation
            return self.send(200, {"DocumentIncarnation": inc})
        if m == "POST" and path == "/_test/settings":
            with lab.lock:
                if "event_remove_s" in body:
                    lab.event_remove_s = float(body["event_remove_s"])
                if "events_first_delay_s" in body:
                    lab.first_delay_s = float(body["events_first_delay_s"])
                    lab.events_seen = False
                if "vm_name" in body:
                    lab.vm_name = str(body["vm_name"])
            return self.send(200, {"ok": True})
        if m == "GET" and path == "/_test/requests":
            with lab.lock:
                reqs = [dict(r) for r in lab.requests
                        if q.get("path", "") in r["path"]]
            return self.send(200, reqs)
        if m == "GET" and path == "/_test/approvals":
            with lab.lock:
                out = list(lab.approvals)
            return self.send(200, out)
        if m == "GET" and path == "/_test/state":
            with lab.lock:
                lab.events_tick(time.time())
                out = {"vm_name": lab.vm_name, "system": lab.system,
                       "system_identity": lab.system_ids, "user": lab.users,
                       "token_lifetime": lab.lifetime,
                       "event_remove_s": lab.event_remove_s,
                       "faults": lab.faults, "events": lab.events_doc()}
            return self.send(200, out)
        if m == "POST" and path == "/_test/reset":
            with lab.lock:
                lab.reset()
            return self.send(200, {"ok": True})
        return self.send(404, {"error": f"no control {m} {path}"})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--vm-name", default="vmss_0")
    p.add_argument("--token-lifetime", type=int, default=86399)
    p.add_argument("--event-remove-delay", type=float, default=2.0)
    p.add_argument("--events-first-delay", type=float, default=0.0)
    opts = p.parse_args()
    srv = Server(("127.0.0.1", opts.port), Handler)
    srv.lab = Lab(opts)
    port = srv.server_address[1]
    if opts.port_file:
        tmp = opts.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.rename(tmp, opts.port_file)
    print(f"imds-emulator: listening on http://127.0.0.1:{port} "
          f"(vm {opts.vm_name})", file=sys.stderr, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
