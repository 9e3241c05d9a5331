#!/usr/bin/env bash
# bench/endpoint.sh: `convert --endpoint` end to end, with and without the
# step verdicts (--insights=false), without compression (the exporter's
# default, as OTLP's) and with --compression gzip, against `gzip -dc` of the
# same file in the same run. The sink is bench/acksink, a local OTLP/gRPC
# receiver that acknowledges every Export without decoding it (nor
# inflating it: that is the backend's work), so the converter, the OTLP
# client, protobuf encoding, gzip compression and the transport are all
# measured, and no backend is.
#
# Environment: SIZE (default 800MB of JSON), RUNS (default 3), FIXTURE
# (default the repo's H100 trace), OUT (default bench/out, git-ignored; the
# generated trace is kept for the next run), PORT (default 14317),
# INFLATE=1 to have the sink inflate gzip requests as a real receiver does
# (on the same cores as the converter: it then measures both).
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE=${SIZE:-800MB}
RUNS=${RUNS:-3}
FIXTURE=${FIXTURE:-testdata/h100/dp0_pp0_tp0_dcp0_ep0_rank0.1795789278257156267.pt.trace.json.gz}
OUT=${OUT:-bench/out}
PORT=${PORT:-14317}
INFLATE=${INFLATE:-0}
mkdir -p "$OUT"

if [ -z "${PREBUILT:-}" ]; then
	go build -o "$OUT/vob" ./cmd/vllm-otel-bridge
	go build -o "$OUT/acksink" ./bench/acksink
	go build -o "$OUT/gentrace" ./bench/gentrace
fi
gz="$OUT/trace-$SIZE.pt.trace.json.gz"
[ -s "$gz" ] || "$OUT/gentrace" -in "$FIXTURE" -size "$SIZE" -o "$gz"

sinkflags=()
[ "$INFLATE" = 1 ] && sinkflags=(-inflate)
"$OUT/acksink" -addr "127.0.0.1:$PORT" "${sinkflags[@]}" >"$OUT/acksink.log" 2>&1 &
sink=$!
trap 'kill "$sink" 2>/dev/null || true' EXIT
sleep 0.5

wall() { # wall NAME CMD...: appends "wall_s cpu_s" of CMD (cpu = user + sys) to $OUT/e.NAME
	local name=$1
	shift
	/usr/bin/time -f "%e %U %S" -o "$OUT/time.txt" "$@" >/dev/null
	awk '{printf "%.2f %.2f\n", $1, $2 + $3}' "$OUT/time.txt" >>"$OUT/e.$name"
}
median() { # median FILE COLUMN
	sort -g -k"$2","$2" "$1" | awk -v c="$2" '{v[NR]=$c} END{ if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2 }'
}

rm -f "$OUT"/e.*
conv=("$OUT/vob" convert --summary=false --endpoint "127.0.0.1:$PORT" --insecure)
for r in $(seq 1 "$RUNS"); do
	wall base sh -c "gzip -dc '$gz' >/dev/null"
	wall on "${conv[@]}" "$gz"
	wall off "${conv[@]}" --insights=false "$gz"
	wall gzon "${conv[@]}" --compression gzip "$gz"
	wall gzoff "${conv[@]}" --compression gzip --insights=false "$gz"
done
base=$(median "$OUT/e.base" 1)
basecpu=$(median "$OUT/e.base" 2)
echo "| $SIZE of JSON, $(($(stat -c %s "$gz") / 1000000)) MB gz | wall (median of $RUNS) | × gzip -dc | CPU s (user+sys) | × gzip -dc |"
echo "|---|---|---|---|---|"
for n in base on off gzon gzoff; do
	m=$(median "$OUT/e.$n" 1)
	c=$(median "$OUT/e.$n" 2)
	case $n in
	base) label='`gzip -dc FILE >/dev/null`' ;;
	on) label='`convert --endpoint` (insights on)' ;;
	off) label='`convert --endpoint --insights=false`' ;;
	gzon) label='`convert --endpoint --compression gzip` (insights on)' ;;
	gzoff) label='`convert --endpoint --compression gzip --insights=false`' ;;
	esac
	echo "| $label | ${m} s | $(awk -v a="$m" -v b="$base" 'BEGIN{printf "%.2f", a/b}') | ${c} | $(awk -v a="$c" -v b="$basecpu" 'BEGIN{printf "%.2f", a/b}') |"
done
for n in base on off gzon gzoff; do echo "$n runs (wall cpu): $(tr '\n' ' ' <"$OUT/e.$n")"; done
kill "$sink"
wait "$sink" 2>/dev/null || true
cat "$OUT/acksink.log"
