#!/usr/bin/env bash
# Instruction budgets of the hot paths. Wall time on a shared 2-core machine moves by more
# than most regressions, so CI checks exact instruction counts instead (callgrind: the same
# binary on the same input gives the same count, up to the few instructions that randomly
# seeded hash tables add or save) against the budgets committed in
# .ci/instruction-budgets.tsv. A count over its budget fails the script, and so do a count
# without a budget, a budget without a count and a count that is not positive (a run that
# counted nothing); the check is .ci/instruction-budgets.py, tested first by
# .ci/instruction-budgets-test.sh.
#
#   .ci/instructions.sh              # measure, print the table, check the budgets
#   UPDATE=1 .ci/instructions.sh     # also write the budgets file anew: each count + 3 %
#
# What is counted (single-threaded: `--threads 0`, so that the count is the work itself):
#   cli_*       the CLI on the committed fixtures, per line: the count on the input minus
#               the count on an empty file (start-up and exit), divided by the lines
#               - defend: the first 20 000 lines of tests/fixtures/gen/defend-100k.ndjson.gz
#               - sysmon: the OTRF Sysmon fixtures (tests/fixtures/sysmon), 10 times over
#   detector_*  `benches/detector.rs` in its instruction-count mode
#               (SHAREEXEC_BENCH_COUNT), per event, at 1 000 pending writes; bare_loop is the
#               issue's baseline, counted for the ratio and given a budget like the others
#
# Needs valgrind and python3 (installs nothing, as .ci/ffi.sh). The counts depend on the
# compiler: after a toolchain update, rerun with UPDATE=1 and commit the file with the
# old and new counts in the message. BENCHMARKS.md ("Instruction budgets") explains them.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "instructions.sh: error: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 is required but not installed"; }
need valgrind
need python3
bash .ci/instruction-budgets-test.sh

BUDGETS=.ci/instruction-budgets.tsv
TARGET_DIR=${CARGO_TARGET_DIR:-target}
[[ $TARGET_DIR == /* ]] || TARGET_DIR=$(pwd)/$TARGET_DIR
OUT=$TARGET_DIR/instructions
mkdir -p "$OUT"

echo "building: cargo build --release --bin shareexec; cargo bench --bench detector --no-run" >&2
cargo build --release --bin shareexec >&2
SX=$TARGET_DIR/release/shareexec
DETECTOR=$(cargo bench --bench detector --no-run --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("target", {}).get("name") == "detector" and m.get("executable"):
        print(m["executable"])
')
[[ -x $DETECTOR ]] || die "no detector bench executable (cargo bench --bench detector --no-run)"

# The inputs, from the committed fixtures only.
python3 - "$OUT" <<'PY'
import glob, gzip, sys
out = sys.argv[1]
with gzip.open("tests/fixtures/gen/defend-100k.ndjson.gz", "rb") as f, open(f"{out}/defend.ndjson", "wb") as o:
    for n, line in enumerate(f):
        if n == 20000:
            break
        o.write(line)
fixtures = sorted(glob.glob("tests/fixtures/sysmon/*.sysmon.ndjson.gz"))
assert fixtures, "no Sysmon fixtures"
data = b"".join(gzip.open(p, "rb").read() for p in fixtures)
with open(f"{out}/sysmon.ndjson", "wb") as o:
    o.write(data * 10)
open(f"{out}/empty.ndjson", "wb").close()
PY

# Total instructions of one callgrind run: count NAME [valgrind options --] COMMAND...
count() {
    local name=$1
    shift
    valgrind --tool=callgrind --callgrind-out-file="$OUT/$name.callgrind" "$@" \
        > "$OUT/$name.stdout" 2> "$OUT/$name.log" || { cat "$OUT/$name.log" >&2; die "$name: valgrind failed"; }
    grep -m1 -E '^(summary|totals):' "$OUT/$name.callgrind" | awk '{print $2}'
}

results=$OUT/results.tsv
: > "$results"
lines() { wc -l < "$1" | tr -d ' '; }

cli() {
    local name=$1 input=$2
    shift 2
    local empty total n
    empty=$(count "$name-empty" "$SX" --threads 0 --no-progress "$@" "$OUT/empty.ndjson")
    total=$(count "$name" "$SX" --threads 0 --no-progress "$@" "$OUT/$input.ndjson")
    n=$(lines "$OUT/$input.ndjson")
    printf '%s\t%s\t%s\tper line\n' "$name" "$(python3 -c "print(f'{($total - $empty) / $n:.1f}')")" "$n" >> "$results"
}

detector() {
    local name=$1 variant=$2 total events
    total=$(SHAREEXEC_BENCH_COUNT=$variant count "$name" --toggle-collect='*measured_batch*' "$DETECTOR")
    # "<variant> at <n> pending: <events> events measured (...)"
    events=$(grep -m1 -oE '[0-9]+ events measured' "$OUT/$name.stdout" | awk '{print $1}')
    [[ -n $events ]] || die "$name: the bench printed no event count"
    printf '%s\t%s\t%s\tper event\n' "$name" "$(python3 -c "print(f'{$total / $events:.1f}')")" "$events" >> "$results"
}

echo "counting (callgrind; a few minutes)" >&2
cli cli_defend_elasticsearch defend --semantics elasticsearch
cli cli_defend_hardened defend --semantics hardened
cli cli_defend_prefilter_on defend --semantics elasticsearch --prefilter on
cli cli_sysmon sysmon --semantics elasticsearch
detector detector_bare_loop bare_loop
detector detector_elasticsearch elasticsearch
detector detector_hardened hardened

python3 .ci/instruction-budgets.py "$results" "$BUDGETS" "${UPDATE:-}"
