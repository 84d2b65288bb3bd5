#!/usr/bin/env python3
"""mkdata.py OUT_DIR TARGET_MIB — content for the deploy benchmark's archive:
an application-like tree whose tar.zst (zstd -3) is about TARGET_MIB MiB.

Two copies of real source text (the .py and .h files under /usr/lib/python3*
and /usr/include: thousands of small, compressible files), then random
binary files of 64 KiB to 4 MiB (like images or bundles, which do not
compress) until the compressed size reaches the target. Deterministic for a
given machine (the random part is seeded).
"""
import glob
import os
import random
import shutil
import subprocess
import sys

out, target_mib = sys.argv[1], int(sys.argv[2])
target = target_mib << 20
rng = random.Random(42)

sources = []
for root in sorted(glob.glob("/usr/lib/python3*")) + ["/usr/include"]:
    for dirpath, _, names in os.walk(root):
        for n in sorted(names):
            if n.endswith((".py", ".h")):
                p = os.path.join(dirpath, n)
                if os.path.isfile(p) and not os.path.islink(p):
                    sources.append(p)
if not sources:
    sys.exit("mkdata.py: no .py or .h files found for the text part")

text_bytes = 0
for copy in range(2):
    for i, p in enumerate(sources):
        dst = os.path.join(out, f"text{copy}", f"{i // 500:03d}",
                           os.path.basename(p))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if not os.path.exists(dst):
            shutil.copyfile(p, dst)
            text_bytes += os.path.getsize(dst)

tar = subprocess.Popen(["tar", "-C", out, "-cf", "-", "."],
                       stdout=subprocess.PIPE)
z = subprocess.run(["zstd", "-3", "-T0", "-c"], stdin=tar.stdout,
                   stdout=subprocess.PIPE, check=True)
tar.wait()
compressed = len(z.stdout)
need = target - compressed
sizes = [64 << 10, 256 << 10, 1 << 20, 4 << 20]
n = blobs = 0
while need > 0:
    size = min(rng.choice(sizes), need)
    path = os.path.join(out, "assets", f"{n // 100:02d}", f"asset{n:05d}.bin")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(rng.randbytes(size))
    need -= size
    blobs += size
    n += 1
files = sum(len(f) for _, _, f in os.walk(out))
print(f"mkdata: {files} files: {text_bytes >> 20} MiB of text "
      f"({compressed >> 20} MiB compressed), {blobs >> 20} MiB in {n} "
      f"random files")
