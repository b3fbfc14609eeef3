#!/usr/bin/env python3
"""Check an engine's matches on the benchmark corpus: exactly COPIES times the fixture's.

    python3 bench/check_matches.py FORMAT MATCHES [--copies N] [--oracle FIXTURE_ORACLE]

FORMAT is how MATCHES is written:
  shareexec  shareexec's JSON alerts (`verdict` "alert"; pair = events[0/1]["event.id"])
  eql        bench/eql_driver.py's lines (pair = "file.id", "process.id")
  oracle     the committed oracle files, tests/fixtures/gen/*.oracle-*.ndjson (same keys)
  rsigma     rsigma's NDJSON correlation matches: they name no events, only the `group_key`
             (host.id, path), so the check is against the same engine's matches on copy 0 alone
             (--per-copy): the corpus must give every group key exactly COPIES times as often.

bench/make-corpus.py writes copy k of the fixture with the suffix `-rK` on every event id
(copy 0 unchanged), and no sequence can span two copies. So a correct engine's matches are
the same (write id, execution id) pairs in every copy, suffixes aside. This script checks
that every pair lies within one copy, that every copy has the same multiset of pairs as
copy 0, and (with --oracle) that copy 0 equals the committed oracle result. Prints the number
of matches and exits 1 on any difference.
"""

import argparse
import collections
import json
import re
import sys

SUFFIX = re.compile(r"^(.*)-r(\d+)$")


def die(msg):
    print("check_matches.py: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def pairs(fmt, path):
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
            except ValueError as e:
                die("%s:%d: not JSON: %s" % (path, n, e))
            if fmt == "shareexec":
                if d.get("shareexec", {}).get("verdict") != "alert":
                    continue
                ev = d.get("events") or []
                if len(ev) != 2:
                    die("%s:%d: an alert without two events" % (path, n))
                out.append((ev[0].get("event.id"), ev[1].get("event.id")))
            elif fmt == "rsigma":
                if "group_key" not in d:
                    continue  # a detection-level match (there are none with --no-detections)
                out.append(json.dumps(d["group_key"], sort_keys=True))
            else:
                out.append((d.get("file.id"), d.get("process.id")))
    return out


def split(event_id):
    """'e000000001-r3' -> ('e000000001', 3); an id without a suffix is copy 0."""
    if event_id is None:
        die("a match without event ids; cannot tell its copy")
    m = SUFFIX.match(event_id)
    return (m.group(1), int(m.group(2))) if m else (event_id, 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("format", choices=("shareexec", "eql", "oracle", "rsigma"))
    ap.add_argument("matches")
    ap.add_argument("--copies", type=int, default=10)
    ap.add_argument("--oracle", help="committed oracle result for copy 0 (oracle format)")
    ap.add_argument("--per-copy", help="rsigma: the same engine's matches on copy 0 alone")
    args = ap.parse_args()

    found = pairs(args.format, args.matches)
    if args.format == "rsigma":
        if not args.per_copy:
            die("rsigma matches need --per-copy")
        one = collections.Counter(pairs("rsigma", args.per_copy))
        expected = collections.Counter({k: v * args.copies for k, v in one.items()})
        if collections.Counter(found) != expected:
            die("%d matches, not %d x the %d of copy 0 (by group key)" % (len(found), args.copies, sum(one.values())))
        print(len(found))
        return

    per_copy = collections.defaultdict(collections.Counter)
    for write_id, exec_id in found:
        (w, kw), (x, kx) = split(write_id), split(exec_id)
        if kw != kx:
            die("match %s -> %s spans two copies" % (write_id, exec_id))
        if not 0 <= kw < args.copies:
            die("match %s -> %s is from copy %d of %d" % (write_id, exec_id, kw, args.copies))
        per_copy[kw][(w, x)] += 1

    base = per_copy[0]
    if args.oracle:
        expected = collections.Counter(pairs("oracle", args.oracle))
        if base != expected:
            die("copy 0: %d matches, the oracle %s has %d; %d missing, %d extra"
                % (sum(base.values()), args.oracle, sum(expected.values()),
                   sum((expected - base).values()), sum((base - expected).values())))
    for k in range(1, args.copies):
        if per_copy[k] != base:
            die("copy %d: %d matches differ from copy 0's %d"
                % (k, sum(per_copy[k].values()), sum(base.values())))
    print(len(found))


if __name__ == "__main__":
    main()
