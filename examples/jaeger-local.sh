#!/usr/bin/env bash
# examples/jaeger-local.sh: send the bundled example profile to a local Jaeger
# and tell you where to look.
#
# Jaeger comes from, in this order:
#   1. JAEGER_OTLP_GRPC (+ JAEGER_QUERY) if already set: an existing Jaeger
#   2. docker, if its daemon answers (and JAEGER_DOCKER != 0):
#      jaegertracing/jaeger:2.13.0 with its UI on http://127.0.0.1:16686
#      (container vllm-otel-bridge-jaeger)
#   3. scripts/jaeger.sh: Jaeger v1.76.0 built from the Go module proxy (cached;
#      the first build takes ~6 minutes). That build has no UI (its page is a
#      placeholder), so only the API queries printed at the end apply.
#
#   examples/jaeger-local.sh          # start Jaeger, convert, print links
#   examples/jaeger-local.sh stop     # stop the Jaeger this script started
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${JAEGER_IMAGE:-jaegertracing/jaeger:2.13.0}
CONTAINER=vllm-otel-bridge-jaeger
SERVICE=${SERVICE_NAME:-vllm-example}

# docker_works: the CLI is installed and its daemon answers. "command -v docker"
# alone is not enough: with the CLI and no daemon, docker run fails.
docker_works() {
	command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1
}

if [[ "${1:-}" == stop ]]; then
	if docker_works; then docker rm -f "$CONTAINER" >/dev/null 2>&1 || true; fi
	bash scripts/jaeger.sh stop || true
	exit 0
fi

if [[ -z "${JAEGER_OTLP_GRPC:-}" ]]; then
	if [[ "${JAEGER_DOCKER:-1}" != 0 ]] && docker_works; then
		if ! docker inspect "$CONTAINER" >/dev/null 2>&1; then
			docker run -d --rm --name "$CONTAINER" \
				-p 127.0.0.1:16686:16686 -p 127.0.0.1:4317:4317 -p 127.0.0.1:4318:4318 "$IMAGE" >/dev/null
		fi
		JAEGER_OTLP_GRPC=127.0.0.1:4317
		JAEGER_QUERY=127.0.0.1:16686
		HAS_UI=1
		for _ in $(seq 1 60); do
			curl -fs "http://$JAEGER_QUERY/api/v3/services" >/dev/null 2>&1 && break
			sleep 0.5
		done
	else
		bash scripts/jaeger.sh start
		eval "$(bash scripts/jaeger.sh env)"
	fi
fi

BIN=${BRIDGE_BIN:-}
if [[ -z "$BIN" ]]; then
	BUILD_DIR=$(mktemp -d -t vllm-otel-bridge.XXXXXX)
	trap 'rm -rf "$BUILD_DIR"' EXIT
	BIN=$BUILD_DIR/vllm-otel-bridge
	go build -o "$BIN" ./cmd/vllm-otel-bridge
fi

"$BIN" convert \
	--endpoint "$JAEGER_OTLP_GRPC" --protocol grpc --insecure \
	--service-name "$SERVICE" \
	--requests examples/data/vllm.jsonl \
	--summary \
	examples/data/*.pt.trace.json.gz

# The example was recorded on 2026-11-27 (UTC); search around that time.
Q=${JAEGER_QUERY:-127.0.0.1:16686}
WINDOW="query.start_time_min=2026-11-27T14:21:00Z&query.start_time_max=2026-11-27T14:24:00Z"
echo
echo "Sent to Jaeger."
if [[ "${HAS_UI:-0}" == 1 ]]; then
	echo "  UI:                  http://$Q/search?service=$SERVICE&lookback=custom&start=1795789200000000&end=1795789400000000"
else
	echo "  (this Jaeger has no UI: it was built from source; use the API queries below,"
	echo "   or use a Docker daemon or deploy/compose for the UI)"
fi
cat <<MSG
  API, step traces:    curl -s 'http://$Q/api/v3/traces?query.service_name=$SERVICE&$WINDOW&query.num_traces=50'
  API, requests:       curl -s 'http://$Q/api/v3/traces?query.service_name=$SERVICE&query.operation_name=llm_request&$WINDOW&query.num_traces=50'
  API, operations:     curl -s 'http://$Q/api/v3/operations?service=$SERVICE'
Stop Jaeger with: examples/jaeger-local.sh stop
MSG
