#!/usr/bin/env python3
"""Build the 1 000 000-event benchmark corpus from the committed 100 000-event fixture.

    python3 bench/make-corpus.py [--copies 10] [--fixture tests/fixtures/gen/defend-100k.ndjson.gz]
                                 [--out target/bench/defend-1m.ndjson]

The fixture (made by the project's seeded generator, see tests/fixtures/README.md) is written out
COPIES times. Copy 0 is byte-identical to the fixture, so its results are the committed oracle
results. Copy k (k >= 1) differs only in two values per line:

* `@timestamp` is moved k * SHIFT seconds later, where SHIFT is the fixture's time span plus
  60 s (the rule's maxspan) plus 1 s, rounded up to whole minutes. Every event of copy k is
  therefore more than 60 s after every event of copy k-1: no sequence can join across copies,
  and any engine's result on the corpus is exactly COPIES times its result on the fixture
  (which run.sh checks pair by pair).
* the top-level `id` gets the suffix `-rK`, so event ids stay unique and each match can be
  traced back to its copy.

Only those two values are rewritten (as text, not by re-serialising the JSON), so every other
byte of the line, key order and spacing included, is the fixture's. Deterministic: the same
fixture and arguments always give the same file; the sha256 is printed and stored beside the
output (OUT.sha256) so a rerun can reuse the file.

Python standard library only.
"""

import argparse
import calendar
import gzip
import hashlib
import math
import os
import re
import sys
import time

# The fixture's shape: one `"@timestamp":"YYYY-MM-DDTHH:MM:SS.fffZ"` per line and a top-level
# `"id":"…"` as the last member. Anything else is refused rather than silently mis-shifted.
TS_RE = re.compile(rb'"@timestamp":"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,9})?Z"')
ID_RE = re.compile(rb'"id":"([^"\\]*)"\}\s*$')
MAXSPAN_S = 60


def die(msg):
    print("make-corpus.py: error: " + msg, file=sys.stderr)
    sys.exit(1)


def epoch_seconds(clock):
    """b'2024-01-03T14:00:00' -> whole seconds since the epoch (UTC)."""
    return calendar.timegm(time.strptime(clock.decode("ascii"), "%Y-%m-%dT%H:%M:%S"))


def read_fixture(path):
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            lines = f.read().splitlines()
    except OSError as e:
        die("cannot read fixture %s: %s" % (path, e))
    if not lines:
        die("fixture %s is empty" % path)
    return lines


def span_seconds(lines):
    lo = hi = None
    for n, line in enumerate(lines, 1):
        found = TS_RE.findall(line)
        if len(found) != 1:
            die("line %d: expected exactly one \"@timestamp\":\"…Z\" (found %d)" % (n, len(found)))
        if not ID_RE.search(line):
            die("line %d: expected the top-level \"id\" as the last member" % n)
        clock, frac = found[0]
        t = epoch_seconds(clock) + (float(frac) if frac else 0.0)
        lo = t if lo is None or t < lo else lo
        hi = t if hi is None or t > hi else hi
    return hi - lo


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fixture", default="tests/fixtures/gen/defend-100k.ndjson.gz")
    ap.add_argument("--copies", type=int, default=10)
    ap.add_argument("--out", default="target/bench/defend-1m.ndjson")
    args = ap.parse_args()
    if args.copies < 1:
        die("--copies must be at least 1")

    lines = read_fixture(args.fixture)
    span = span_seconds(lines)
    shift = int(math.ceil((span + MAXSPAN_S + 1) / 60.0)) * 60

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    digest = hashlib.sha256()
    total = 0
    with open(tmp, "wb") as out:
        for k in range(args.copies):
            if k == 0:
                chunk = b"\n".join(lines) + b"\n"
            else:
                offset = k * shift
                suffix = ("-r%d" % k).encode()
                cache = {}

                def new_ts(m):
                    clock, frac = m.group(1), m.group(2) or b""
                    moved = cache.get(clock)
                    if moved is None:
                        moved = time.strftime("%Y-%m-%dT%H:%M:%S",
                                              time.gmtime(epoch_seconds(clock) + offset)).encode()
                        cache[clock] = moved
                    return b'"@timestamp":"' + moved + frac + b'Z"'

                def new_id(m):
                    return b'"id":"' + m.group(1) + suffix + b'"}'

                chunk = b"\n".join(ID_RE.sub(new_id, TS_RE.sub(new_ts, line, count=1), count=1)
                                   for line in lines) + b"\n"
            out.write(chunk)
            digest.update(chunk)
            total += len(chunk)
    os.replace(tmp, args.out)
    hexd = digest.hexdigest()
    with open(args.out + ".sha256", "w") as f:
        f.write("%s  %s\n" % (hexd, os.path.basename(args.out)))
    print("make-corpus.py: %s: %d events (%d copies of %s, %d lines each), %d bytes, "
          "shift %d s per copy (span %.3f s), sha256 %s"
          % (args.out, len(lines) * args.copies, args.copies, args.fixture, len(lines), total,
             shift, span, hexd), file=sys.stderr)


if __name__ == "__main__":
    main()
