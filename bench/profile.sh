#!/usr/bin/env bash
# Where shareexec's time goes on the benchmark corpus (BENCHMARKS.md, "Where the time goes").
#
#   bench/profile.sh                   # report on standard output, raw data in target/bench/profile/
#
# 1. callgrind (valgrind) on a slice of SLICE events (default 100 000: the fixture itself, copy 0 of
#    the corpus): exact instruction counts per function, unaffected by the machine's load. Always run.
# 2. perf record on the whole corpus, if perf works here: hardware cycles when the CPU exposes
#    counters (`perf stat -e instructions true`), else the cpu-clock software timer (sampled, so
#    it shares the machine's noise). Skipped, with a note, when perf is missing or refused.
# Environment: SEMANTICS=elasticsearch|hardened (default elasticsearch), SLICE=100000,
#   BENCH_DIR=target/bench, SKIP_PERF=1, SKIP_CALLGRIND=1.
set -euo pipefail

die() { echo "bench/profile.sh: error: $*" >&2; exit 1; }
say() { echo "bench/profile.sh: $*" >&2; }

cd "$(dirname "$0")/.."
ROOT=$(pwd)
[[ -f Cargo.toml && -f bench/make-corpus.py ]] || die "run me from a shareexec checkout (bench/profile.sh)"
SEMANTICS=${SEMANTICS:-elasticsearch}
SLICE=${SLICE:-100000}
BENCH_DIR=${BENCH_DIR:-target/bench}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
mkdir -p "$BENCH_DIR/profile"
B=$(cd "$BENCH_DIR" && pwd)
P=$B/profile

# [profile.release] has debug = 1, so the release binary carries the symbols (and line tables) we need.
say "cargo build --release"
cargo build --release --bin shareexec >&2 || die "cargo build --release failed"
[[ $TARGET_DIR == /* ]] || TARGET_DIR=$ROOT/$TARGET_DIR
SX=$TARGET_DIR/release/shareexec
CORPUS=$B/defend-1m.ndjson
if [[ ! -s $CORPUS ]]; then
    python3 bench/make-corpus.py --out "$CORPUS"
fi
head -n "$SLICE" "$CORPUS" > "$P/slice.ndjson"
ARGS=(--semantics "$SEMANTICS" --no-progress --output-format json)

echo "## Profile of \`shareexec ${ARGS[*]}\`"
echo
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), load average $(cut -d' ' -f1-3 /proc/loadavg)"

if [[ -z ${SKIP_CALLGRIND:-} ]]; then
    command -v valgrind >/dev/null || die "valgrind is required (apt-get install valgrind), or set SKIP_CALLGRIND=1"
    say "callgrind on $SLICE events (slow: about a minute)"
    valgrind --tool=callgrind --callgrind-out-file="$P/callgrind.out" "$SX" "${ARGS[@]}" "$P/slice.ndjson" \
        > "$P/callgrind-alerts.ndjson" 2> "$P/callgrind.log" || { cat "$P/callgrind.log" >&2; die "valgrind failed"; }
    total=$(grep -m1 -E '^(summary|totals):' "$P/callgrind.out" | awk '{print $2}')
    echo
    echo "### callgrind, $SLICE events: $total instructions ($(awk -v t="$total" -v n="$SLICE" 'BEGIN {printf "%.0f", t / n}') per event)"
    echo
    # callgrind_annotate lists exclusive (self) cost per source file and function; code inlined
    # from std or serde_json counts under the function it was inlined into. Sum per function,
    # then per area of the program (by the function's leading path).
    callgrind_annotate --auto=no --inclusive=no --threshold=100 "$P/callgrind.out" > "$P/callgrind-self.txt" 2>/dev/null \
        || die "callgrind_annotate failed"
    python3 - "$P/callgrind-self.txt" <<'PY'
import collections, re, sys

AREAS = [  # (area, leading path prefixes); first match wins
    ("Sysmon shape sniffing (--input-format auto): shareexec::input::sysmon", ("shareexec::input::sysmon",)),
    ("ECS decoding glue: shareexec::input (ecs, rfc3339, ...)", ("shareexec::input",)),
    ("JSON parsing: serde_json / serde", ("serde_json", "serde_core", "serde::", "core::str::converts::from_utf8")),
    ("line framing: shareexec::lines", ("shareexec::lines",)),
    ("detector state machine: shareexec::{detector,window,keys,hosts,trust,...}", ("shareexec::detector", "shareexec::window",
        "shareexec::keys", "shareexec::hosts", "shareexec::trust", "shareexec::wildcard", "shareexec::fold", "shareexec::time",
        "shareexec::rule", "shareexec::verdict", "hashbrown", "foldhash")),
    ("alert output: shareexec::{output,render,run}", ("shareexec::output", "shareexec::render", "shareexec::run")),
    ("libc memcpy/memcmp/malloc/free", ("__mem", "_int_", "malloc", "free", "realloc", "cfree")),
]
total, per = None, collections.Counter()
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    m = re.match(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*?)(?: \[[^\]]*\])?\s*$", line)
    if not m:
        continue
    n, where = int(m.group(1).replace(",", "")), m.group(2)
    if where == "PROGRAM TOTALS":
        total = n
    else:
        per[where.split(":", 1)[1] if ":" in where and not where.startswith("<") else where] += n
if not total:
    sys.exit("no PROGRAM TOTALS in callgrind_annotate output")
areas = collections.Counter()
for name, n in per.items():
    lead = re.sub(r"^<(&mut |&)?", "", name)
    areas[next((a for a, prefixes in AREAS if lead.startswith(prefixes)), "other")] += n
print("By area (self instructions):\n\n| area | instructions | share |\n| --- | ---: | ---: |")
for area, n in areas.most_common():
    print("| %s | %s | %.1f%% |" % (area, format(n, ","), 100.0 * n / total))
print("\nTop 20 functions (self instructions):\n\n```text")
for name, n in per.most_common(20):
    print("%15s %6.2f%%  %s" % (format(n, ","), 100.0 * n / total, name))
print("```")
PY
fi

if [[ -z ${SKIP_PERF:-} ]]; then
    event=""
    if ! command -v perf >/dev/null; then
        echo; echo "(perf is not installed: no sampled profile of the whole corpus.)"
    elif perf stat -x, -e instructions true 2>&1 >/dev/null | grep -q '^[0-9]'; then
        event=cycles
    elif perf record -q -e cpu-clock -o "$P/probe.data" true >/dev/null 2>&1; then
        event=cpu-clock
    else
        echo; echo "(perf is refused here, see /proc/sys/kernel/perf_event_paranoid: no sampled profile.)"
    fi
    if [[ -n $event ]]; then
        say "perf record -e $event on the whole corpus"
        perf record -q -e "$event" -F 999 -o "$P/perf.data" "$SX" "${ARGS[@]}" "$CORPUS" \
            > "$P/perf-alerts.ndjson" 2> "$P/perf.log" || { cat "$P/perf.log" >&2; die "perf record failed"; }
        echo
        echo "### perf record -e $event, whole corpus ($(wc -l < "$CORPUS") events), self time by symbol"
        echo
        echo '```text'
        perf report -i "$P/perf.data" --stdio --no-children --sort symbol --percent-limit 1 2>/dev/null \
            | awk '/^ +[0-9.]+%/ && n++ < 25' | sed -E 's/[[:space:]]+-[[:space:]]+-[[:space:]]*$//'
        echo '```'
    fi
fi
say "raw data: $P (callgrind_annotate $P/callgrind.out; perf report -i $P/perf.data)"
