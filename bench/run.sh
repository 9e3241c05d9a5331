#!/usr/bin/env bash
# bench/run.sh: whole-process measurements of the converter against the
# physical floor, on large traces generated at bench time.
#
# For each size it makes a plain and a gzip (level 1) trace by repeating the
# events of a real H100 trace (bench/gentrace: timestamps shifted, ids
# offset), then runs, interleaved, RUNS times each:
#   gz:    gzip -dc FILE >/dev/null                        (baseline)
#          discard FILE      (Convert + exporter protobuf encode, no I/O)
#          discard -spill FILE (same, records and args in a scratch file, as convert and run do by default)
#          vllm-otel-bridge convert --summary=false -o /dev/null FILE (OTLP/JSON)
#   plain: wc -l FILE                                      (baseline: a plain byte scan)
#          discard FILE, discard -spill FILE
#          vllm-otel-bridge convert --summary=false -o /dev/null FILE
# and prints one markdown table of medians: wall time, ratio to the
# baseline of the same input in the same run, MB/s of JSON, peak RSS
# (/usr/bin/time -v, "Maximum resident set size").
#
# Environment: SIZES (default "100MB 500MB 2GB"), RUNS (default 3),
# FIXTURE (default the repo's H100 trace), OUT (default bench/out, git-ignored;
# generated files are kept for the next run, delete it to regenerate),
# JSON_OUT=0 to leave out the OTLP/JSON file rows (slow on big inputs),
# JSON_RUNS (default RUNS) to run those rows fewer times, JSON_MAX_MB
# (default 600) to run them only on inputs up to that size.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-"100MB 500MB 2GB"}
RUNS=${RUNS:-3}
JSON_OUT=${JSON_OUT:-1}
JSON_RUNS=${JSON_RUNS:-$RUNS}
JSON_MAX_MB=${JSON_MAX_MB:-600}
FIXTURE=${FIXTURE:-testdata/h100/dp0_pp0_tp0_dcp0_ep0_rank0.1795789278257156267.pt.trace.json.gz}
OUT=${OUT:-bench/out}
mkdir -p "$OUT"

go build -o "$OUT/vob" ./cmd/vllm-otel-bridge
go build -o "$OUT/discard" ./bench/discard
go build -o "$OUT/gentrace" ./bench/gentrace

# measure NAME CMD...: runs CMD under /usr/bin/time -v, appends
# "wall_s rss_kb" to $OUT/m.NAME.
measure() {
	local name=$1
	shift
	local t0 t1 rss
	t0=$(date +%s%N)
	/usr/bin/time -v -o "$OUT/time.txt" "$@" >/dev/null
	t1=$(date +%s%N)
	rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$OUT/time.txt")
	echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.4f", (b-a)/1e9}') $rss" >>"$OUT/m.$name"
}

# median FILE COLUMN
median() {
	sort -g -k"$2","$2" "$1" | awk -v c="$2" '{v[NR]=$c} END{ if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2 }'
}

rm -f "$OUT"/m.*
rows=()
for size in $SIZES; do
	plain="$OUT/trace-$size.pt.trace.json"
	gz="$plain.gz"
	[ -s "$plain" ] || "$OUT/gentrace" -in "$FIXTURE" -size "$size" -o "$plain"
	[ -s "$gz" ] || "$OUT/gentrace" -in "$FIXTURE" -size "$size" -o "$gz"
	bytes=$(stat -c %s "$plain")
	json=$JSON_OUT
	[ "$bytes" -le $((JSON_MAX_MB * 1000000)) ] || json=0
	for r in $(seq 1 "$RUNS"); do
		measure "$size.gz.base" sh -c "gzip -dc '$gz' >/dev/null"
		measure "$size.gz.discard" "$OUT/discard" "$gz"
		measure "$size.gz.spill" "$OUT/discard" -spill "$gz"
		if [ "$json" = 1 ] && [ "$r" -le "$JSON_RUNS" ]; then
			measure "$size.gz.json" "$OUT/vob" convert --summary=false -o /dev/null "$gz"
		fi
		measure "$size.plain.base" wc -l "$plain"
		measure "$size.plain.discard" "$OUT/discard" "$plain"
		measure "$size.plain.spill" "$OUT/discard" -spill "$plain"
		if [ "$json" = 1 ] && [ "$r" -le "$JSON_RUNS" ]; then
			measure "$size.plain.json" "$OUT/vob" convert --summary=false -o /dev/null "$plain"
		fi
	done
	rows+=("$size:$bytes")
done

echo
echo "| input | JSON size | run | wall (median) | × baseline | MB/s of JSON | peak RSS |"
echo "|---|---|---|---|---|---|---|"
for row in "${rows[@]}"; do
	size=${row%%:*}
	bytes=${row#*:}
	for form in gz plain; do
		base=$(median "$OUT/m.$size.$form.base" 1)
		for what in base discard spill json; do
			f="$OUT/m.$size.$form.$what"
			[ -s "$f" ] || continue
			wall=$(median "$f" 1)
			rss=$(median "$f" 2)
			n=$(wc -l <"$f")
			case "$form/$what" in
			gz/base) label='`gzip -dc FILE >/dev/null`' ;;
			plain/base) label='`wc -l FILE` (byte scan)' ;;
			*/discard) label='`bench/discard` (Convert + protobuf encode, no I/O)' ;;
			*/spill) label='`bench/discard -spill` (same, records and args in a scratch file: the default of convert and run)' ;;
			*/json) label='`vllm-otel-bridge convert -o /dev/null` (OTLP/JSON)' ;;
			esac
			awk -v inp="$size $form" -v b="$bytes" -v w="$wall" -v base="$base" -v rss="$rss" -v l="$label" -v n="$n" 'BEGIN{
				printf "| %s | %.0f MB | %s | %.2f s (n=%d) | %.2f | %.0f | %.0f MB |\n", inp, b/1e6, l, w, n, w/base, b/1e6/w, rss/1024 }'
		done
	done
done
echo
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(go version | cut -d' ' -f3), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end."
