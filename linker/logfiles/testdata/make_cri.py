"""Renders testdata/h100's logs as a container runtime would have kept them.

Runs shared/tools/tracegen/render_logs.py (the script that wrote
testdata/h100/vllm.log) on testdata/h100/truth.json and writes its text log
again, each line wrapped in the kubelet's CRI format with the record's own
time (render_logs.py's nanosecond times, UTC) as the runtime's timestamp:

  <RFC 3339, ns, UTC> stdout F <the vllm.log line>

Every fifth long line is split into a P fragment and its F end, as the
kubelet splits lines it reads in pieces. The text of every line is checked
against testdata/h100/vllm.log, so the two logs are the same log.

    python3 make_cri.py /work/shared/tools/tracegen/render_logs.py \
        ../../../testdata/h100/truth.json ../../../testdata/h100/vllm.log h100-vllm.cri.log
"""
import datetime as dt
import os
import runpy
import sys
import tempfile

render, truth, text_log, out = sys.argv[1:5]
with tempfile.TemporaryDirectory() as tmp:
    saved = sys.argv
    sys.argv = [render, truth, "--out", tmp]
    g = runpy.run_path(render, run_name="__main__")
    sys.argv = saved
    rendered = open(os.path.join(tmp, "vllm.log")).read().splitlines()
want = open(text_log).read().splitlines()
assert rendered == want, "render_logs.py does not reproduce testdata/h100/vllm.log"
records = g["records"]
assert len(records) == len(want)


def stamp(ns):
    t = dt.datetime.fromtimestamp(ns // 10**9, dt.timezone.utc)
    frac = f"{ns % 10**9:09d}".rstrip("0")
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ("." + frac if frac else "") + "Z"


with open(out, "w") as f:
    for i, ((ns, *_), line) in enumerate(zip(records, want)):
        if i % 5 == 0 and len(line) > 120:
            cut = len(line) // 2
            f.write(f"{stamp(ns)} stdout P {line[:cut]}\n")
            f.write(f"{stamp(ns + 1000)} stdout F {line[cut:]}\n")
        else:
            f.write(f"{stamp(ns)} stdout F {line}\n")
