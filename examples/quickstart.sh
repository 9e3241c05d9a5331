#!/usr/bin/env bash
# examples/quickstart.sh: convert the bundled example profile to OTLP/JSON and
# print a summary. No backend, no GPU, no network needed.
#
#   examples/quickstart.sh            # builds the bridge with go, writes to a temp dir
#   OUT=/tmp/x examples/quickstart.sh # choose the output directory
#   BRIDGE_BIN=./vllm-otel-bridge examples/quickstart.sh  # use a built binary
#
# The output file holds one OTLP/JSON TracesData per line, exactly what the
# OpenTelemetry Collector's file exporter writes: one trace per engine step
# (CPU ops, CUDA runtime calls and kernels under it) and one llm_request trace
# per request, linked to the steps that served it (from examples/data/vllm.jsonl).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-$(mktemp -d -t vllm-otel-bridge-quickstart.XXXXXX)}
mkdir -p "$OUT"
BIN=${BRIDGE_BIN:-}
if [[ -z "$BIN" ]]; then
	BIN="$OUT/vllm-otel-bridge"
	echo "building $BIN"
	go build -o "$BIN" ./cmd/vllm-otel-bridge
fi

"$BIN" version
"$BIN" convert \
	--service-name vllm-example \
	--requests examples/data/vllm.jsonl \
	--summary \
	-o "$OUT/spans.otlp.jsonl" \
	examples/data/*.pt.trace.json.gz

echo
echo "wrote $OUT/spans.otlp.jsonl ($(wc -l <"$OUT/spans.otlp.jsonl") OTLP/JSON lines, $(du -h "$OUT/spans.otlp.jsonl" | cut -f1))"
echo "next: examples/jaeger-local.sh sends the same spans to a local Jaeger"
