#!/usr/bin/env bash
# examples/launch-vllm.sh: start vLLM (>= 0.13, --profiler-config) the way
# vllm-otel-bridge expects, with the bridge beside it.
#
#   examples/launch-vllm.sh [MODEL] [extra vllm serve args...]
#
# What it sets up:
#   - torch profiler traces in $PROFILE_DIR (gzip, without Python stacks:
#     with_stack makes /stop_profile minutes slower and files far larger);
#   - request logging and per-step "Iteration(i)" lines, written as JSON with
#     sub-second times to $VLLM_LOG (examples/vllm-logging.json);
#   - vLLM's own llm_request spans sent over OTLP/gRPC to the bridge's
#     receiver (127.0.0.1:14317, see examples/bridge.yaml), which forwards them
#     unchanged and hangs the GPU steps under them;
#   - the bridge itself (`vllm-otel-bridge run --config examples/bridge.yaml`),
#     unless START_BRIDGE=0.
#
# Take a profile while requests run (each start/stop pair writes one file per
# GPU worker; the bridge ships it seconds after it is complete):
#   curl -X POST http://127.0.0.1:8000/start_profile
#   sleep 5
#   curl -X POST http://127.0.0.1:8000/stop_profile
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL=${1:-${MODEL:-Qwen/Qwen2.5-0.5B-Instruct}}
shift || true
PROFILE_DIR=${PROFILE_DIR:-/var/lib/vllm/profiles}
VLLM_LOG=${VLLM_LOG:-/var/log/vllm/vllm.jsonl}
STATE_DIR=${STATE_DIR:-/var/lib/vllm-otel-bridge}
BRIDGE_RECEIVER_GRPC=${BRIDGE_RECEIVER_GRPC:-127.0.0.1:14317}
OTLP_ENDPOINT=${OTLP_ENDPOINT:-127.0.0.1:4317} # where the bridge sends: Collector, Tempo or Jaeger
BRIDGE_BIN=${BRIDGE_BIN:-vllm-otel-bridge}

mkdir -p "$PROFILE_DIR" "$(dirname "$VLLM_LOG")" "$STATE_DIR"

# The logging config names its file; point it at $VLLM_LOG.
LOG_CONFIG=$(mktemp -t vllm-logging.XXXXXX.json)
sed "s#/var/log/vllm/vllm.jsonl#$VLLM_LOG#" examples/vllm-logging.json >"$LOG_CONFIG"
python3 -c 'import pythonjsonlogger' 2>/dev/null ||
	echo "warning: python-json-logger is not installed (pip install python-json-logger)" >&2

export VLLM_LOGGING_CONFIG_PATH=$LOG_CONFIG
export VLLM_CONFIGURE_LOGGING=1
# Writing a trace can take minutes for long windows: keep the RPC alive.
export VLLM_RPC_TIMEOUT=${VLLM_RPC_TIMEOUT:-1800000}
# vLLM's OTLP exporter: gRPC to the bridge's receiver, plaintext on loopback.
export OTEL_SERVICE_NAME=${OTEL_SERVICE_NAME:-vllm}
export OTEL_EXPORTER_OTLP_TRACES_INSECURE=true

if [[ "${START_BRIDGE:-1}" != 0 ]]; then
	VLLM_PROFILER_DIR=$PROFILE_DIR VLLM_LOG_FILE=$VLLM_LOG BRIDGE_STATE_DIR=$STATE_DIR \
		BRIDGE_RECEIVER_GRPC=$BRIDGE_RECEIVER_GRPC OTLP_ENDPOINT=$OTLP_ENDPOINT \
		"$BRIDGE_BIN" run --config examples/bridge.yaml &
	BRIDGE_PID=$!
	trap 'kill -TERM $BRIDGE_PID 2>/dev/null || true; wait $BRIDGE_PID 2>/dev/null || true; rm -f "$LOG_CONFIG"' EXIT
else
	trap 'rm -f "$LOG_CONFIG"' EXIT
fi

vllm serve "$MODEL" \
	--profiler-config "{\"profiler\":\"torch\",\"torch_profiler_dir\":\"$PROFILE_DIR\",\"torch_profiler_with_stack\":false}" \
	--enable-log-requests \
	--enable-logging-iteration-details \
	--otlp-traces-endpoint "grpc://$BRIDGE_RECEIVER_GRPC" \
	"$@"
