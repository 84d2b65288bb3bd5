#!/usr/bin/env python3
"""health_client.py — a bounded load loop for the health tests.

THREADS threads request URL back to back until SECONDS pass or MAX requests
were sent in all, each request with a 15 s timeout and a new connection.
Prints one JSON object: {"ok", "failed", "by_backend": {name: n},
"errors": [first 10], "last_end": {name: unix time}}. A reply counts as ok
when its status is 200; the backend is the first word of the body.

Usage: health_client.py URL THREADS SECONDS [MAX]
"""
import json
import sys
import threading
import time
import urllib.error
import urllib.request


def main():
    url, threads, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    cap = int(sys.argv[4]) if len(sys.argv) > 4 else 100000
    end = time.time() + seconds
    lock = threading.Lock()
    st = {"ok": 0, "failed": 0, "sent": 0, "by_backend": {}, "errors": [],
          "last_end": {}}

    def worker():
        while time.time() < end:
            with lock:
                if st["sent"] >= cap:
                    return
                st["sent"] += 1
            t0 = time.time()
            try:
                with urllib.request.urlopen(url, timeout=15) as r:
                    body = r.read().decode(errors="replace")
                    status = r.status
            except urllib.error.HTTPError as e:
                status, body = e.code, ""
            except Exception as e:  # resets, refused, timeouts
                status, body = 0, f"{type(e).__name__}: {e}"
            t1 = time.time()
            with lock:
                if status == 200:
                    st["ok"] += 1
                    name = body.split()[0] if body.split() else "?"
                    st["by_backend"][name] = st["by_backend"].get(name, 0) + 1
                    st["last_end"][name] = max(st["last_end"].get(name, 0),
                                               t1)
                else:
                    st["failed"] += 1
                    if len(st["errors"]) < 10:
                        st["errors"].append({"t0": t0, "t1": t1,
                                             "status": status,
                                             "body": body[:200]})

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(json.dumps(st))


if __name__ == "__main__":
    main()
