#!/usr/bin/env bash
# scripts/jaeger.sh: build, start, wait for and stop a local Jaeger v2 (v1.76.0)
# with in-memory storage, for vllm-otel-bridge's end-to-end tests.
#
#   scripts/jaeger.sh build   build the binary into the cache unless it is there
#   scripts/jaeger.sh start   build if needed, start in the background on free
#                             loopback ports, wait until it answers, and write
#                             the addresses to "$JAEGER_STATE_DIR/env"
#   scripts/jaeger.sh wait    wait until a started Jaeger answers
#   scripts/jaeger.sh env     print the export lines of a started Jaeger
#   scripts/jaeger.sh stop    stop it (safe to call twice, and from traps)
#   scripts/jaeger.sh path    print where the cached binary lives
#
# Environment:
#   VLLM_OTEL_BRIDGE_CACHE  cache root (default $HOME/.cache/vllm-otel-bridge);
#                           the binary is $CACHE/jaeger-v1.76.0/jaeger, rebuilt
#                           when missing or when tools/e2e/go.sum changes.
#   JAEGER_STATE_DIR        pid, log and env files (default $CACHE/jaeger-run)
#   JAEGER_WAIT_SECONDS     how long start/wait wait (default 60)
#
# After start, "$JAEGER_STATE_DIR/env" holds (host:port, loopback only):
#   JAEGER_OTLP_GRPC  JAEGER_OTLP_HTTP  JAEGER_QUERY  JAEGER_HEALTH
# Building needs only the Go module proxy; it takes ~6 minutes on 2 cores.
set -euo pipefail

JAEGER_VERSION=v1.76.0
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS="$ROOT/tools/e2e"
CACHE=${VLLM_OTEL_BRIDGE_CACHE:-${HOME:-/root}/.cache/vllm-otel-bridge}
BIN_DIR="$CACHE/jaeger-$JAEGER_VERSION"
BIN="$BIN_DIR/jaeger"
STAMP="$BIN_DIR/go.sum.sha256"
STATE=${JAEGER_STATE_DIR:-$CACHE/jaeger-run}
WAIT_SECONDS=${JAEGER_WAIT_SECONDS:-60}

log() { printf '[jaeger.sh] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

sum_key() { sha256sum "$TOOLS/go.sum" | cut -d' ' -f1; }

cmd_build() {
	mkdir -p "$BIN_DIR"
	local key
	key=$(sum_key)
	if [[ -x "$BIN" && -f "$STAMP" && "$(cat "$STAMP")" == "$key" ]]; then
		log "cached: $BIN"
		return 0
	fi
	# One build at a time per cache directory.
	exec 9>"$BIN_DIR/.lock"
	flock 9
	if [[ -x "$BIN" && -f "$STAMP" && "$(cat "$STAMP")" == "$key" ]]; then
		log "cached (built by another process): $BIN"
		return 0
	fi
	log "building Jaeger $JAEGER_VERSION into $BIN (about 6 minutes on 2 cores)"
	local tmp="$BIN.tmp.$$" start=$SECONDS
	# go install cannot build Jaeger (its go.mod has replace lines), so build
	# the tool inside the tools module, whose go.sum pins every dependency.
	(cd "$TOOLS" && go build -o "$tmp" github.com/jaegertracing/jaeger/cmd/jaeger) ||
		{ rm -f "$tmp"; die "go build of Jaeger failed"; }
	mv -f "$tmp" "$BIN"
	printf '%s\n' "$key" >"$STAMP"
	log "built in $((SECONDS - start))s: $BIN"
}

# port_free PORT: true when nothing accepts connections on 127.0.0.1:PORT.
port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pick_ports N: print N distinct free loopback ports.
pick_ports() {
	local n=$1 picked=() p tries=0
	while ((${#picked[@]} < n)); do
		((tries++ < 500)) || die "no free ports found"
		p=$((20000 + RANDOM % 40000))
		[[ " ${picked[*]} " == *" $p "* ]] && continue
		port_free "$p" && picked+=("$p")
	done
	echo "${picked[@]}"
}

# http_status URL-PATH HOST:PORT: print the HTTP status code of a GET.
http_status() {
	local path=$1 hostport=$2
	if command -v curl >/dev/null 2>&1; then
		curl -s -o /dev/null -m 2 -w '%{http_code}' "http://$hostport$path" || true
		return 0
	fi
	# No curl on a bare machine: speak HTTP/1.0 over bash's /dev/tcp.
	local host=${hostport%:*} port=${hostport##*:} line
	{
		exec 3<>"/dev/tcp/$host/$port" || return 0
		printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$hostport" >&3
		IFS=' ' read -r -t 2 _ line _ <&3 || true
		exec 3<&-
		printf '%s' "${line:-000}"
	} 2>/dev/null || true
}

load_env() {
	[[ -f "$STATE/env" ]] || die "no Jaeger started ($STATE/env missing); run: scripts/jaeger.sh start"
	# shellcheck disable=SC1091
	source "$STATE/env"
}

cmd_wait() {
	load_env
	local deadline=$((SECONDS + WAIT_SECONDS)) pid
	pid=$(cat "$STATE/jaeger.pid" 2>/dev/null || true)
	while :; do
		if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
			log "Jaeger exited during start-up; last log lines:"
			tail -n 30 "$STATE/jaeger.log" >&2 || true
			die "Jaeger is not running"
		fi
		if [[ "$(http_status /status "$JAEGER_HEALTH")" == 200 &&
			"$(http_status /api/v3/services "$JAEGER_QUERY")" == 200 ]]; then
			log "ready: query http://$JAEGER_QUERY  otlp-grpc $JAEGER_OTLP_GRPC  otlp-http $JAEGER_OTLP_HTTP"
			return 0
		fi
		((SECONDS < deadline)) || { tail -n 30 "$STATE/jaeger.log" >&2 || true; die "Jaeger not ready after ${WAIT_SECONDS}s"; }
		sleep 0.3
	done
}

cmd_start() {
	cmd_build
	mkdir -p "$STATE"
	if [[ -f "$STATE/jaeger.pid" ]] && kill -0 "$(cat "$STATE/jaeger.pid")" 2>/dev/null; then
		log "already running (pid $(cat "$STATE/jaeger.pid")); stopping it first"
		cmd_stop
	fi
	local ports
	read -r -a ports <<<"$(pick_ports 5)"
	cat >"$STATE/env" <<EOF
export JAEGER_OTLP_GRPC=127.0.0.1:${ports[0]}
export JAEGER_OTLP_HTTP=127.0.0.1:${ports[1]}
export JAEGER_QUERY=127.0.0.1:${ports[2]}
export JAEGER_QUERY_GRPC=127.0.0.1:${ports[3]}
export JAEGER_HEALTH=127.0.0.1:${ports[4]}
EOF
	load_env
	log "starting $BIN (log: $STATE/jaeger.log)"
	JAEGER_OTLP_GRPC_ADDR=$JAEGER_OTLP_GRPC JAEGER_OTLP_HTTP_ADDR=$JAEGER_OTLP_HTTP \
		JAEGER_QUERY_HTTP_ADDR=$JAEGER_QUERY JAEGER_QUERY_GRPC_ADDR=$JAEGER_QUERY_GRPC \
		JAEGER_HEALTH_ADDR=$JAEGER_HEALTH \
		nohup "$BIN" --config "$TOOLS/jaeger-config.yaml" >"$STATE/jaeger.log" 2>&1 </dev/null &
	echo $! >"$STATE/jaeger.pid"
	cmd_wait
}

cmd_stop() {
	local pid
	pid=$(cat "$STATE/jaeger.pid" 2>/dev/null || true)
	if [[ -z "$pid" ]]; then
		return 0
	fi
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "pid $pid ignored SIGTERM; sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		log "stopped (pid $pid)"
	fi
	rm -f "$STATE/jaeger.pid"
}

case "${1:-}" in
build) cmd_build ;;
start) cmd_start ;;
wait) cmd_wait ;;
stop) cmd_stop ;;
env) load_env && cat "$STATE/env" ;;
path) echo "$BIN" ;;
*)
	sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
