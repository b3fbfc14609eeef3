#!/usr/bin/env bash
# Sysmon input through the CLI: everything on one thread (`--threads 0`) against the default (screening
# threads beside the detecting thread), interleaved runs, medians. Prints a markdown table.
#
#   bench/sysmon.sh
#
# The corpus is the committed OTRF Sysmon fixtures (tests/fixtures/sysmon/*.sysmon.ndjson.gz, real
# recordings; see tests/fixtures/sysmon/README.md) concatenated COPIES times: 653 lines, 872 274 bytes a
# copy. The copies repeat the same timestamps; the rule finds nothing in these recordings, so this measures
# reading, the Sysmon sniff and decode, and the detector's per-event work, not alerts.
# Environment knobs (all optional):
#   RUNS=12         measured runs of each configuration (the median is reported)
#   COPIES=600      corpus = COPIES x the fixtures (600: 391 800 lines, 523 MB; runs long enough
#                   for /usr/bin/time's 10 ms resolution)
#   BENCH_DIR=target/bench   where the corpus goes
set -euo pipefail

die() { echo "bench/sysmon.sh: error: $*" >&2; exit 1; }

cd "$(dirname "$0")/.."
[[ -f Cargo.toml && -d tests/fixtures/sysmon ]] || die "run me from a shareexec checkout (bench/sysmon.sh)"
RUNS=${RUNS:-12}
COPIES=${COPIES:-600}
BENCH_DIR=${BENCH_DIR:-target/bench}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
BIN=$TARGET_DIR/release/shareexec
mkdir -p "$BENCH_DIR"
/usr/bin/time -f %e true 2>/dev/null || die "needs GNU time at /usr/bin/time (apt-get install time)"

cargo build --release --quiet
CORPUS=$BENCH_DIR/sysmon-otrf-x$COPIES.ndjson
if [[ ! -s $CORPUS ]]; then
    for _ in $(seq "$COPIES"); do
        for f in tests/fixtures/sysmon/*.sysmon.ndjson.gz; do gzip -dc "$f"; done
    done >"$CORPUS.tmp"
    mv "$CORPUS.tmp" "$CORPUS"
fi
cat "$CORPUS" >/dev/null # into the page cache before the first measured run

RAW=$BENCH_DIR/sysmon-runs.txt
: >"$RAW"
for _ in $(seq "$RUNS"); do
    for threads in 0 default; do
        args=()
        [[ $threads == default ]] || args=(--threads "$threads")
        /usr/bin/time -f "$threads %e %U %S %M" "$BIN" "${args[@]}" --no-progress --output-format json \
            "$CORPUS" 2>>"$RAW" >/dev/null
    done
done

python3 - "$RAW" "$CORPUS" <<'EOF'
import statistics as st
import sys

raw, corpus = sys.argv[1], sys.argv[2]
runs, summary = {}, {}
for line in open(raw):
    parts = line.split()
    if len(parts) == 5 and parts[0] in ("0", "default"):
        runs.setdefault(parts[0], []).append(tuple(float(x) for x in parts[1:]))
    elif line.startswith("shareexec: ") and " lines, " in line:
        summary = line.strip()
size = sum(1 for _ in open(corpus, "rb")), __import__("os").path.getsize(corpus)
print(f"corpus: {corpus}, {size[0]:,} lines, {size[1]:,} bytes; last summary: `{summary}`\n")
print("| configuration | runs | wall s | CPU s | MB/s | peak RSS MiB |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
names = {"0": "`--threads 0` (one thread)", "default": "default (screening threads)"}
for key in ("0", "default"):
    r = runs.get(key, [])
    if not r:
        continue
    wall = [x[0] for x in r]
    med = st.median(wall)
    cpu = st.median([x[1] + x[2] for x in r])
    rss = st.median([x[3] for x in r]) / 1024
    print(f"| {names[key]} | {len(r)} | {med:.3f} ({min(wall):.2f}–{max(wall):.2f}) | {cpu:.3f} | "
          f"{size[1] / med / 1e6:.0f} | {rss:.1f} |")
EOF
