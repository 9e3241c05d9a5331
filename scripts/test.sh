#!/usr/bin/env bash
# scripts/test.sh: THE test command of vllm-otel-bridge (CI runs it via .ci/run).
#
# Steps, each reported PASS/FAIL in a summary at the end; the script runs
# every step it can and exits non-zero if any failed:
#   tools     Go present; a C compiler for -race (installed with apt if missing)
#   gofmt     gofmt -l finds nothing (main module, tools/e2e, deploy/validate)
#   vet       go vet ./... and go vet -tags e2e ./e2e/...
#   unit      go test -race -count=1 ./..., then the converter's big
#             scratch-mode comparisons without -race
#   browser   the `inspect --html` page of the bundled example and the
#             `diff --html` page of profdiff's test pair opened in
#             headless Chromium (scripts/browser-check.cjs): no console or
#             page error, no request, the chart drawn; Debian's chromium
#             (and nodejs/npm) installed with apt, playwright-core with npm
#             into the cache, when missing (~5 s once installed)
#   fuzz      every FuzzXxx target, briefly (an execution count each, ~2 min)
#   deploy    deploy/validate: manifests, compose, configs, static build
#   jaeger    build (cached) and start Jaeger v2 on free loopback ports
#   e2e       go test -tags e2e ./e2e/... against it (Jaeger stopped on exit)
#
# Environment:
#   FUZZTIME                 -fuzztime for every target (e.g. 1000000x or 10m
#                            for a long run); default: a per-target count,
#                            see fuzz_count
#   SKIP_STEPS               space-separated step names to leave out (reported
#                            as SKIP, never as PASS), e.g. "fuzz e2e"
#   VLLM_OTEL_BRIDGE_CACHE   cache root for the Jaeger binary (see jaeger.sh)
#                            and playwright-core (node/ under it)
#   E2E_TIMEOUT              go test -timeout for e2e (default 20m)
#   UNIT_TIMEOUT             go test -timeout per unit package (default 30m:
#                            the app package's tensor-parallel tests take
#                            ~5 min under -race alone and past go test's
#                            10 min default on a loaded 2-core machine)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

E2E_TIMEOUT=${E2E_TIMEOUT:-20m}
SKIP_STEPS=" ${SKIP_STEPS:-} "
OWN_STATE_DIR=
if [[ -z "${JAEGER_STATE_DIR:-}" ]]; then
	JAEGER_STATE_DIR=$(mktemp -d -t vllm-otel-bridge-jaeger.XXXXXX)
	OWN_STATE_DIR=$JAEGER_STATE_DIR
fi
export JAEGER_STATE_DIR

declare -a SUMMARY=()
FAILED=0
PASSED_STEPS=0
FAILED_STEPS=0
START_ALL=$SECONDS

if [[ -t 1 ]]; then
	BOLD=$'\033[1m' RED=$'\033[31m' GREEN=$'\033[32m' RESET=$'\033[0m'
else
	BOLD='' RED='' GREEN='' RESET=''
fi

banner() {
	printf '\n%s==== %s ====%s\n' "$BOLD" "$*" "$RESET"
}

# step NAME CMD...: run one step, record PASS/FAIL and its duration.
step() {
	local name=$1
	shift
	if [[ "$SKIP_STEPS" == *" $name "* ]]; then
		SUMMARY+=("$(printf '%-8s SKIP   (SKIP_STEPS)' "$name")")
		return 0
	fi
	banner "$name: $*"
	local t0=$SECONDS rc=0
	"$@" || rc=$?
	local dt=$((SECONDS - t0))
	if ((rc == 0)); then
		SUMMARY+=("$(printf '%-8s PASS   %4ds' "$name" "$dt")")
		PASSED_STEPS=$((PASSED_STEPS + 1))
	else
		SUMMARY+=("$(printf '%-8s FAIL   %4ds  (exit %d)' "$name" "$dt" "$rc")")
		FAILED=1
		FAILED_STEPS=$((FAILED_STEPS + 1))
	fi
	return $rc
}

cleanup() {
	bash "$ROOT/scripts/jaeger.sh" stop >/dev/null 2>&1 || true
	# Keep Jaeger's log when something failed; it is named in the summary.
	if [[ -n "$OWN_STATE_DIR" && "$FAILED" == 0 ]]; then
		rm -rf "$OWN_STATE_DIR"
	fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

check_tools() {
	command -v go >/dev/null || { echo "go is not installed (need Go $(sed -n 's/^go //p' go.mod))"; return 1; }
	go version
	if ! command -v gcc >/dev/null; then
		echo "no C compiler: installing gcc for go test -race"
		if command -v apt-get >/dev/null; then
			DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
				DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null ||
				{ echo "apt-get install gcc failed"; return 1; }
		else
			echo "no apt-get: install a C compiler for -race"
			return 1
		fi
	fi
	gcc --version | head -1
}

check_gofmt() {
	local out
	out=$(gofmt -l . 2>&1)
	if [[ -n "$out" ]]; then
		echo "gofmt -l lists files that need formatting (run gofmt -w):"
		echo "$out"
		return 1
	fi
	echo "gofmt: clean"
}

check_vet() {
	local rc=0
	go vet ./... || rc=1
	go vet -tags e2e ./e2e/... || rc=1
	return $rc
}

run_unit() {
	go test -race -count=1 -timeout "${UNIT_TIMEOUT:-30m}" ./... || return 1
	# TestScratchModes leaves its big fixtures out under -race (ten times
	# slower there); they run here without it, so CI still checks that
	# every real trace converts identically with and without a scratch file.
	go test -count=1 -run '^TestScratchModes$' ./converter
}

# fuzz_targets prints "pkgdir FuzzName" for every fuzz target of the module.
fuzz_targets() {
	grep -rlE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' . 2>/dev/null |
		grep -vE '^\./(tools|deploy)/|/testdata/' |
		while read -r f; do
			sed -nE 's/^func (Fuzz[A-Za-z0-9_]*)\(f \*testing\.F\).*/\1/p' "$f" |
				while read -r name; do echo "$(dirname "$f") $name"; done
		done | sort -u
}

# fuzz_count NAME: the execution budget of one fuzz target, about 5-10 s
# of fuzzing on the 2-core CI machine (measured; rates differ 200x between
# targets: FuzzConvert converts whole traces, FuzzParse parses a file name;
# unlisted ones, such as FuzzScanner, get 10000).
#
# Budgets are counts ("-fuzztime Nx"), never durations: with a duration,
# go1.26's fuzz coordinator can report a bare "context deadline exceeded"
# failure at the deadline when a worker is still mid-input and no input
# failed (golang/go#75804, fixed only in go1.27). A count has no deadline
# to race; on a loaded machine it just takes longer.
fuzz_count() {
	case $1 in
	FuzzUnmarshal) echo 2000 ;;
	FuzzConvert) echo 4000 ;;
	FuzzConvertProperty) echo 80 ;;
	FuzzCheckFile) echo 8000 ;;
	FuzzDecodeProto) echo 20000 ;;
	FuzzDecodeJSON) echo 30000 ;;
	FuzzSplitRequest) echo 40000 ;;
	FuzzDecode | FuzzDecodeFile) echo 80000 ;;
	FuzzAppendProtoRequest | FuzzAppendWireString) echo 50000 ;;
	FuzzDecodeOTLPJSON | FuzzParseLogLine | FuzzParseCRI | FuzzParseDocker) echo 250000 ;;
	FuzzParse) echo 300000 ;;
	FuzzParseAnnotation) echo 400000 ;;
	*) echo 10000 ;;
	esac
}

run_fuzz() {
	local targets n per t dir name rc=0
	mapfile -t targets < <(fuzz_targets)
	n=${#targets[@]}
	if ((n == 0)); then
		echo "no fuzz targets found"
		return 0
	fi
	echo "$n fuzz targets, ${FUZZTIME:-an execution count} each"
	for t in "${targets[@]}"; do
		read -r dir name <<<"$t"
		per=${FUZZTIME:-$(fuzz_count "$name")x}
		printf -- '--- %s %s (-fuzztime %s)\n' "$dir" "$name" "$per"
		local log rc_t=0
		log=$(mktemp)
		go test -run='^$' -fuzz="^${name}\$" -fuzztime="$per" "$dir" >"$log" 2>&1 || rc_t=$?
		# On failure go test writes the input to testdata/fuzz/<name>/ and
		# prints how to rerun it; show that part.
		if ((rc_t != 0)); then
			tail -n 40 "$log"
			rc=1
		else
			tail -n 2 "$log"
		fi
		rm -f "$log"
	done
	return $rc
}

# playwright-core drives the system's Chromium (it downloads no browser).
PLAYWRIGHT_CORE_VERSION=1.65.2

# browser_tools sets CHROMIUM and PW_DIR, installing what is missing.
browser_tools() {
	local cache=${VLLM_OTEL_BRIDGE_CACHE:-$HOME/.cache/vllm-otel-bridge}
	local need=()
	CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
	[[ -n "$CHROMIUM" ]] || need+=(chromium)
	{ command -v node && command -v npm; } >/dev/null || need+=(nodejs npm)
	if ((${#need[@]} > 0)); then
		echo "installing ${need[*]} with apt"
		command -v apt-get >/dev/null || { echo "no apt-get: install ${need[*]}"; return 1; }
		DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
			{ echo "apt-get install ${need[*]} failed"; return 1; }
		CHROMIUM=$(command -v chromium || command -v chromium-browser) || { echo "no chromium after installing it"; return 1; }
	fi
	PW_DIR=$cache/node/playwright-core-$PLAYWRIGHT_CORE_VERSION
	if [[ ! -f "$PW_DIR/node_modules/playwright-core/package.json" ]]; then
		echo "installing playwright-core@$PLAYWRIGHT_CORE_VERSION with npm into $PW_DIR"
		mkdir -p "$PW_DIR" &&
			npm install --prefix "$PW_DIR" --no-save --no-audit --no-fund --loglevel=error "playwright-core@$PLAYWRIGHT_CORE_VERSION" ||
			{ echo "npm install playwright-core failed"; return 1; }
	fi
	"$CHROMIUM" --version 2>/dev/null | head -1
	echo "playwright-core $PLAYWRIGHT_CORE_VERSION, node $(node --version)"
}

# run_browser renders the bundled example (30 profiled steps, see
# examples/data/README.md) with inspect --html and checks the page in
# headless Chromium. The page, its screenshot and the terminal report are
# kept (and named) when the check fails.
run_browser() {
	browser_tools || return 1
	local dir rc=0
	dir=$(mktemp -d -t vllm-otel-bridge-browser.XXXXXX)
	go run ./cmd/vllm-otel-bridge inspect --requests examples/data/vllm.jsonl --html "$dir/inspect.html" \
		examples/data/*.pt.trace.json.gz >"$dir/inspect.txt" || { echo "inspect failed; see $dir"; return 1; }
	node scripts/browser-check.cjs "$PW_DIR/node_modules/playwright-core" "$CHROMIUM" \
		"$dir/inspect.html" "$dir/inspect.png" 30 || rc=1
	# diff --html of profdiff's test pair (CUDA graphs off vs on): 9 GPU
	# time classes, base vs new side by side.
	go run ./cmd/vllm-otel-bridge diff --html "$dir/diff.html" profdiff/testdata/device/*.pt.trace.json.gz \
		>"$dir/diff.txt" || { echo "diff failed; see $dir"; return 1; }
	node scripts/browser-check.cjs "$PW_DIR/node_modules/playwright-core" "$CHROMIUM" \
		"$dir/diff.html" "$dir/diff.png" 9 diff || rc=1
	if ((rc == 0)); then
		rm -rf "$dir"
	else
		echo "page, screenshot and report kept in $dir"
	fi
	return $rc
}

run_deploy() {
	if [[ ! -f deploy/validate/go.mod ]]; then
		echo "deploy/validate/go.mod missing"
		return 1
	fi
	(cd deploy/validate && go vet ./... && go test -count=1 ./...)
}

start_jaeger() {
	bash scripts/jaeger.sh start
}

run_e2e() {
	# shellcheck disable=SC1091
	source "$JAEGER_STATE_DIR/env" || return 1
	export JAEGER_OTLP_GRPC JAEGER_OTLP_HTTP JAEGER_QUERY
	go test -tags e2e -count=1 -timeout "$E2E_TIMEOUT" -v ./e2e/... 2>&1 |
		grep --line-buffered -vE '^=== (RUN|PAUSE|CONT)'
	return "${PIPESTATUS[0]}"
}

step tools check_tools || { echo "cannot test without the toolchain"; }
step gofmt check_gofmt
step vet check_vet
step unit run_unit
step browser run_browser
step fuzz run_fuzz
step deploy run_deploy
if step jaeger start_jaeger; then
	step e2e run_e2e
	bash scripts/jaeger.sh stop || true
else
	SUMMARY+=("$(printf '%-8s FAIL   (Jaeger did not start; log: %s)' e2e "$JAEGER_STATE_DIR/jaeger.log")")
	FAILED=1
	FAILED_STEPS=$((FAILED_STEPS + 1))
fi

banner "summary ($((SECONDS - START_ALL))s)"
printf '%s\n' "${SUMMARY[@]}"
echo "Jaeger log: $JAEGER_STATE_DIR/jaeger.log"
echo "steps: $PASSED_STEPS passed, $FAILED_STEPS failed"
if ((FAILED)); then
	printf '%sFAILED%s\n' "$RED" "$RESET"
	exit 1
fi
printf '%sALL PASSED%s\n' "$GREEN" "$RESET"
