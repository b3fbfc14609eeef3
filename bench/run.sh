#!/usr/bin/env bash
# Benchmark the shareexec CLI against Elastic's Python `eql` engine (PyPI eql 1.0.1) and rsigma 0.23.0
# on the same 1 000 000-event ECS NDJSON file; print a markdown report (BENCHMARKS.md's table).
#
#   bench/run.sh                       # everything: tools, build, corpus, checks, measurements, report
#
# One command from a clean clone. It installs what is missing, under target/ only:
#   - a Python venv with eql==1.0.1       ($BENCH_DIR/eqlvenv; needs python3 with the venv module)
#   - rsigma 0.23.0 via `cargo install`   ($BENCH_DIR/tools/bin/rsigma; a long build, once)
#   - GNU time (/usr/bin/time) via apt-get, if missing and we may
# Environment knobs (all optional):
#   RUNS=3          measured runs of shareexec and rsigma (the median is reported)
#   EQL_RUNS=1      measured runs of the eql engine (slow: one run by default)
#   COPIES=10       corpus = COPIES x the 100 000-event fixture
#   MAX_LOAD=       if set (e.g. 1.0), wait before each measured run until the 1-minute load
#                   average is below it, at most WAIT_MAX=600 seconds (then measure anyway)
#   SKIP_RSIGMA=1   leave rsigma out;  SKIP_ALLOC=1  skip the bytes-per-pending-entry test
#   PROFILE=1       also run bench/profile.sh (callgrind + perf) and append its report
#   EQL_PYTHON=…    a python that already has eql 1.0.1 (skips the venv)
#   RSIGMA=…        an rsigma 0.23.0 binary (skips cargo install)
#   BENCH_DIR=target/bench   where the corpus, outputs and the report go (REPORT: $BENCH_DIR/report.md)
set -euo pipefail

die() { echo "bench/run.sh: error: $*" >&2; exit 1; }
say() { echo "bench/run.sh: $*" >&2; }

cd "$(dirname "$0")/.."
ROOT=$(pwd)
[[ -f Cargo.toml && -f bench/make-corpus.py ]] || die "run me from a shareexec checkout (bench/run.sh)"

RUNS=${RUNS:-3}
EQL_RUNS=${EQL_RUNS:-1}
COPIES=${COPIES:-10}
WAIT_MAX=${WAIT_MAX:-600}
BENCH_DIR=${BENCH_DIR:-target/bench}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
FIXTURE=tests/fixtures/gen/defend-100k.ndjson.gz
ORACLE_ES=tests/fixtures/gen/defend-100k.oracle-es.ndjson
ORACLE_PY=tests/fixtures/gen/defend-100k.oracle-python.ndjson
mkdir -p "$BENCH_DIR"
B=$(cd "$BENCH_DIR" && pwd)
RUNDIR=$B/runs
rm -rf "$RUNDIR" && mkdir -p "$RUNDIR"

# ------------------------------------------------------------------------------- tools
command -v python3 >/dev/null || die "python3 is required"
command -v cargo >/dev/null || die "cargo is required (https://rustup.rs)"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 8))' || die "python3 >= 3.8 is required"

if ! /usr/bin/time -v true >/dev/null 2>&1; then
    say "GNU time (/usr/bin/time -v) is missing; installing the 'time' package"
    if command -v apt-get >/dev/null && [[ $(id -u) -eq 0 ]]; then
        apt-get install -y time >/dev/null || { apt-get update >/dev/null && apt-get install -y time >/dev/null; }
    elif command -v apt-get >/dev/null && command -v sudo >/dev/null; then
        sudo apt-get install -y time >/dev/null
    fi
    /usr/bin/time -v true >/dev/null 2>&1 || die "install GNU time (Debian/Ubuntu: apt-get install time)"
fi

if [[ -n ${EQL_PYTHON:-} ]]; then
    PY=$EQL_PYTHON
else
    PY=$B/eqlvenv/bin/python
    if ! "$PY" -c 'import eql, sys; sys.exit(eql.__version__ != "1.0.1")' 2>/dev/null; then
        say "creating $B/eqlvenv with eql==1.0.1"
        rm -rf "$B/eqlvenv"
        python3 -m venv "$B/eqlvenv" || die "python3 -m venv failed (Debian/Ubuntu: apt-get install python3-venv)"
        "$B/eqlvenv/bin/pip" install --quiet --disable-pip-version-check 'eql==1.0.1' || die "pip install eql==1.0.1 failed"
    fi
fi
"$PY" -c 'import eql, sys; sys.exit(eql.__version__ != "1.0.1")' || die "$PY has no eql 1.0.1"

if [[ -z ${SKIP_RSIGMA:-} ]]; then
    if [[ -n ${RSIGMA:-} ]]; then
        RS=$RSIGMA
    else
        RS=$B/tools/bin/rsigma
        if [[ $("$RS" --version 2>/dev/null) != *"0.23.0"* ]]; then
            say "installing rsigma 0.23.0 into $B/tools (cargo install; this takes a while)"
            cargo install rsigma --version 0.23.0 --locked --no-default-features --features rsigma-runtime \
                --root "$B/tools" || die "cargo install rsigma 0.23.0 failed"
        fi
    fi
    [[ $("$RS" --version 2>/dev/null) == *"0.23.0"* ]] || die "$RS is not rsigma 0.23.0"
fi

# ------------------------------------------------------------------------------- build, corpus
say "cargo build --release"
cargo build --release --bin shareexec >&2 || die "cargo build --release failed"
[[ $TARGET_DIR == /* ]] || TARGET_DIR=$ROOT/$TARGET_DIR
SX=$TARGET_DIR/release/shareexec
[[ -x $SX ]] || die "no binary at $SX"

CORPUS=$B/defend-1m.ndjson
[[ $COPIES -eq 10 ]] || CORPUS=$B/defend-${COPIES}x100k.ndjson
if [[ ! -s $CORPUS || ! -s $CORPUS.sha256 || bench/make-corpus.py -nt $CORPUS || $FIXTURE -nt $CORPUS ]]; then
    say "making the corpus"
    python3 bench/make-corpus.py --fixture "$FIXTURE" --copies "$COPIES" --out "$CORPUS"
fi
BYTES=$(stat -c %s "$CORPUS")
EVENTS=$(wc -l < "$CORPUS")
[[ $EVENTS -eq $((COPIES * 100000)) ]] || die "$CORPUS has $EVENTS lines, expected $((COPIES * 100000))"

# The rule's EQL exactly as Elastic ships it (tests/render.rs checks this rendering against the rule text).
"$SX" rule --format eql --semantics elasticsearch > "$B/rule.eql"

# ------------------------------------------------------------------------------- machine
{
    echo "date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    if git rev-parse --short HEAD >/dev/null 2>&1; then
        echo "git=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock || echo '+dirty')"
    else
        echo "git=unknown"
    fi
    echo "nproc=$(nproc)"
    echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
    echo "mem_total=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "kernel=$(uname -sr)"
    echo "rustc=$(rustc --version)"
    echo "python=$("$PY" -c 'import sys; print(sys.version.split()[0])')"
    echo "eql=$("$PY" -c 'import eql; print(eql.__version__)')"
    echo "lark=$("$PY" -c 'import importlib.metadata as m; print(m.version("lark"))' 2>/dev/null || echo '?')"
    if [[ -z ${SKIP_RSIGMA:-} ]]; then echo "rsigma=$("$RS" --version | head -1)"; fi
    echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "corpus=$CORPUS"
    echo "corpus_sha256=$(cut -d' ' -f1 "$CORPUS.sha256")"
    echo "bytes=$BYTES"
    echo "events=$EVENTS"
    echo "copies=$COPIES"
} > "$RUNDIR/machine.txt"

# ------------------------------------------------------------------------------- measuring
wait_for_low_load() {
    [[ -n ${MAX_LOAD:-} ]] || return 0
    local waited=0
    while awk -v max="$MAX_LOAD" '{ exit !($1 >= max) }' /proc/loadavg; do
        if ((waited >= WAIT_MAX)); then
            say "load still $(cut -d' ' -f1 /proc/loadavg) after ${WAIT_MAX}s; measuring anyway"
            return 0
        fi
        sleep 10
        waited=$((waited + 10))
    done
}

# measure NAME RUN_NUMBER CMD... : one run under GNU time; stdout -> NAME.out, stderr -> NAME.err
measure() {
    local name=$1 n=$2
    shift 2
    wait_for_low_load
    cut -d' ' -f1-3 /proc/loadavg > "$RUNDIR/$name.$n.load"
    printf '%q ' "$@" > "$RUNDIR/$name.cmd"
    say "run $n: $name"
    if ! /usr/bin/time -v -o "$RUNDIR/$name.$n.time" "$@" > "$RUNDIR/$name.out" 2> "$RUNDIR/$name.err"; then
        cat "$RUNDIR/$name.err" >&2
        die "$name failed (see $RUNDIR/$name.err)"
    fi
}

RSIGMA_CMD=()
if [[ -z ${SKIP_RSIGMA:-} ]]; then
    RSIGMA_CMD=("$RS" engine eval -r bench/sigma --no-detections --action reset --output-format ndjson -e "@$CORPUS")
fi

# Interleaved, so slow drifts of the machine's load spread over every engine alike.
for ((i = 1; i <= RUNS; i++)); do
    measure shareexec-es "$i" "$SX" --semantics elasticsearch --no-progress --output-format json "$CORPUS"
    measure shareexec-hardened "$i" "$SX" --no-progress --output-format json "$CORPUS"
    # Informative: the same without per-line Sysmon shape sniffing (the input is known to be ECS).
    measure shareexec-es-ecs "$i" "$SX" --semantics elasticsearch --input-format ecs --no-progress --output-format json "$CORPUS"
    # Informative: everything on one thread (no screening threads): the single-core figure.
    measure shareexec-es-1t "$i" "$SX" --semantics elasticsearch --threads 0 --no-progress --output-format json "$CORPUS"
    measure shareexec-es-fast "$i" "$SX" --semantics elasticsearch --prefilter on --no-progress --output-format json "$CORPUS"
    if [[ -z ${SKIP_RSIGMA:-} ]]; then measure rsigma "$i" "${RSIGMA_CMD[@]}"; fi
    if ((i <= EQL_RUNS)); then
        measure eql "$i" "$PY" bench/eql_driver.py "$B/rule.eql" "$CORPUS"
    fi
done
for ((i = RUNS + 1; i <= EQL_RUNS; i++)); do
    measure eql "$i" "$PY" bench/eql_driver.py "$B/rule.eql" "$CORPUS"
done

# ------------------------------------------------------------------------------- checks
# Exactly COPIES x each engine's result on the fixture, pair by pair where the output names events.
check() {
    local name=$1
    shift
    python3 bench/check_matches.py "$@" --copies "$COPIES" > "$RUNDIR/$name.count" \
        || die "$name: its matches are not $COPIES x the fixture's (see above)"
    say "$name: $(cat "$RUNDIR/$name.count") matches, checked"
}
check shareexec-es shareexec "$RUNDIR/shareexec-es.out" --oracle "$ORACLE_ES"
check shareexec-hardened shareexec "$RUNDIR/shareexec-hardened.out"
check shareexec-es-ecs shareexec "$RUNDIR/shareexec-es-ecs.out" --oracle "$ORACLE_ES"
check shareexec-es-1t shareexec "$RUNDIR/shareexec-es-1t.out" --oracle "$ORACLE_ES"
check shareexec-es-fast shareexec "$RUNDIR/shareexec-es-fast.out" --oracle "$ORACLE_ES"
check eql eql "$RUNDIR/eql.out" --oracle "$ORACLE_PY"
if [[ -z ${SKIP_RSIGMA:-} ]]; then
    # rsigma's matches name no events: compare with its own result on copy 0 (= the fixture) alone.
    head -n 100000 "$CORPUS" > "$RUNDIR/copy0.ndjson"
    "$RS" engine eval -r bench/sigma --no-detections --action reset --output-format ndjson \
        -e "@$RUNDIR/copy0.ndjson" > "$RUNDIR/rsigma-copy0.out" 2> "$RUNDIR/rsigma-copy0.err" \
        || die "rsigma failed on copy 0 (see $RUNDIR/rsigma-copy0.err)"
    check rsigma rsigma "$RUNDIR/rsigma.out" --per-copy "$RUNDIR/rsigma-copy0.out"
    rm -f "$RUNDIR/copy0.ndjson"
fi

ALLOC_OK=1
if [[ -z ${SKIP_ALLOC:-} ]]; then
    # One test thread: the counting allocator is process-wide, and libtest's own threads
    # (spawning the next test, printing results) allocate while a test counts.
    say "cargo test --release --test alloc -- --nocapture --test-threads=1"
    cargo test --release --test alloc -- --nocapture --test-threads=1 > "$RUNDIR/alloc.txt" 2>&1 || ALLOC_OK=
fi
echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$RUNDIR/machine.txt"

python3 bench/summarize.py "$RUNDIR" > "$B/report.md"
if [[ -n ${PROFILE:-} ]]; then
    BENCH_DIR=$B bench/profile.sh > "$RUNDIR/profile.md" || die "bench/profile.sh failed"
    { echo; cat "$RUNDIR/profile.md"; } >> "$B/report.md"
fi
cat "$B/report.md"
say "report: $B/report.md (raw /usr/bin/time -v output and engine outputs: $RUNDIR)"
[[ -n $ALLOC_OK ]] || { cat "$RUNDIR/alloc.txt" >&2; die "the allocation test failed (output above)"; }
