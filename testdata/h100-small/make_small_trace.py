#!/usr/bin/env python3
"""Cut a small real trace out of the H100 fixture: the first N steps.

Usage: make_small_trace.py SRC.pt.trace.json.gz DST.pt.trace.json.gz [N]

Events are copied as the exact text Kineto wrote (numbers keep their decimal
form). Kept: every metadata/instant event, CPU events starting before step N,
runtime/driver calls among those, and the GPU events of kept launches.
"""
import gzip, json, sys

src, dst = sys.argv[1], sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 3
raw = gzip.open(src, "rb").read().decode()
start = raw.index('"traceEvents"')
arr = raw.index("[", start) + 1
dec = json.JSONDecoder()
pos, spans = arr, []
while True:
    while raw[pos] in " \n\r\t,":
        pos += 1
    if raw[pos] == "]":
        break
    obj, end = dec.raw_decode(raw, pos)
    spans.append((obj, raw[pos:end]))
    pos = end
tail = raw[pos:]
steps = sorted(float(o["ts"]) for o, _ in spans
               if o.get("cat") == "user_annotation" and o["name"].startswith("execute_"))
cut = steps[n] if len(steps) > n else float("inf")
cpu = ("cpu_op", "user_annotation", "python_function", "cuda_runtime", "cuda_driver")
launches = {o["args"]["correlation"] for o, _ in spans
            if o.get("cat") in ("cuda_runtime", "cuda_driver") and float(o["ts"]) < cut}
kept = []
for o, text in spans:
    cat = o.get("cat")
    if o.get("ph") in ("M", "i") or cat in ("Trace", None):
        kept.append(text)
    elif cat in cpu:
        if float(o["ts"]) < cut:
            kept.append(text)
    elif cat in ("kernel", "gpu_memcpy", "gpu_memset"):
        if o.get("args", {}).get("correlation") in launches:
            kept.append(text)
    elif cat == "gpu_user_annotation":
        if float(o["ts"]) < cut:
            kept.append(text)
out = raw[:arr] + "\n" + ",\n".join(kept) + "\n" + tail
with open(dst, "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", mtime=0, filename="") as f:
    f.write(out.encode())
print(f"{len(kept)} of {len(spans)} events, {len(out)} bytes")
