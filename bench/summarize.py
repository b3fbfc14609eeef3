#!/usr/bin/env python3
"""Turn bench/run.sh's raw measurements into the markdown report (BENCHMARKS.md's tables).

    python3 bench/summarize.py RUNDIR

RUNDIR holds, per engine NAME: NAME.N.time (GNU `/usr/bin/time -v` of run N), NAME.N.load (the
load average just before run N), NAME.cmd (the command), NAME.count (checked number of
matches); and machine.txt (key=value facts), alloc.txt (optional test output).
Medians over the runs; ratios are other engine / `shareexec --semantics elasticsearch`.
"""

import glob
import os
import re
import statistics
import sys

BASE = "shareexec-es"
ENGINES = [
    ("shareexec-es", "shareexec --semantics elasticsearch"),
    ("shareexec-hardened", "shareexec (default: hardened)"),
    ("shareexec-es-ecs", "shareexec --semantics elasticsearch --input-format ecs"),
    ("shareexec-es-1t", "shareexec --semantics elasticsearch --threads 0 (one thread)"),
    ("shareexec-es-fast", "shareexec --semantics elasticsearch --prefilter on (skips unvalidated)"),
    ("rsigma", "rsigma 0.23.0 (Sigma port, --action reset)"),
    ("eql", "eql 1.0.1 PythonEngine (bench/eql_driver.py)"),
]
# (other engine, what is compared, goal from issue #5)
GOALS = [
    ("eql", "wall", 50, "≥ 50× faster than eql (wall time, whole process)"),
    ("rsigma", "wall", 10, "≥ 10× faster than rsigma (wall time, whole process)"),
    ("eql", "rss", 5, "≥ 5× less peak memory than eql"),
]


def parse_time(path):
    text = open(path, encoding="utf-8").read()

    def grab(label):
        m = re.search(r"^\s*" + re.escape(label) + r".*?:\s*(\S+)\s*$", text, re.M)
        if not m:
            sys.exit("summarize.py: %s: no %r" % (path, label))
        return m.group(1)

    wall = 0.0
    for part in grab("Elapsed (wall clock) time").split(":"):
        wall = wall * 60 + float(part)
    return {
        "wall": wall,
        "cpu": float(grab("User time (seconds)")) + float(grab("System time (seconds)")),
        "rss": int(grab("Maximum resident set size (kbytes)")) * 1024,
    }


def read(path, default=""):
    try:
        return open(path, encoding="utf-8").read().strip()
    except OSError:
        return default


def ratio_table(w, results, base, title, include):
    """A markdown table of each included engine's wall time, CPU time and peak RSS ÷ base's."""
    w("### %s\n" % title)
    w("| engine | wall time | CPU time | peak RSS |")
    w("| --- | ---: | ---: | ---: |")
    for name, label in ENGINES:
        r = results.get(name)
        if not r or not include(name):
            continue
        w("| %s | %.1f× | %.1f× | %.1f× |" % (label, r["wall"] / base["wall"], r["cpu"] / base["cpu"],
                                             r["rss"] / base["rss"]))
    w("")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: summarize.py RUNDIR")
    rundir = sys.argv[1]
    facts = dict(line.split("=", 1) for line in read(os.path.join(rundir, "machine.txt")).splitlines() if "=" in line)
    events, size = int(facts["events"]), int(facts["bytes"])
    root = os.getcwd() + os.sep

    results = {}
    for name, _label in ENGINES:
        times = sorted(glob.glob(os.path.join(rundir, name + ".*.time")))
        if not times:
            continue
        runs = [parse_time(t) for t in times]
        loads = [float(read(t[:-5] + ".load", "nan").split()[0]) for t in times]
        results[name] = {
            "n": len(runs),
            "wall": statistics.median(r["wall"] for r in runs),
            "wall_min": min(r["wall"] for r in runs),
            "wall_max": max(r["wall"] for r in runs),
            "cpu": statistics.median(r["cpu"] for r in runs),
            "rss": statistics.median(r["rss"] for r in runs),
            "loads": loads,
            "count": read(os.path.join(rundir, name + ".count"), "?"),
            "cmd": read(os.path.join(rundir, name + ".cmd")).replace(root, ""),
        }

    out = []
    w = out.append
    w("### Machine and corpus\n")
    w("| | |\n| --- | --- |")
    w("| date (UTC) | %s |" % facts.get("date_utc", "?"))
    w("| commit | `%s` |" % facts.get("git", "?"))
    w("| CPU | %s, `nproc` = %s |" % (facts.get("cpu", "?"), facts.get("nproc", "?")))
    w("| memory | %s |" % facts.get("mem_total", "?"))
    w("| kernel | %s |" % facts.get("kernel", "?"))
    w("| rustc | %s |" % facts.get("rustc", "?"))
    w("| Python / eql / lark | %s / %s / %s |" % (facts.get("python", "?"), facts.get("eql", "?"), facts.get("lark", "?")))
    if "rsigma" in facts:
        w("| rsigma | %s |" % facts["rsigma"])
    w("| load average (1, 5, 15 min) | start %s; end %s |" % (facts.get("load_start", "?"), facts.get("load_end", "?")))
    w("| corpus | %s events, %s bytes (%.1f MB), %s × tests/fixtures/gen/defend-100k.ndjson.gz time-shifted; sha256 `%s` |"
      % (format(events, ","), format(size, ","), size / 1e6, facts.get("copies", "?"), facts.get("corpus_sha256", "?")))
    w("")
    w("### Whole process, wall time and peak RSS (`/usr/bin/time -v`)\n")
    w("Medians over the runs (wall time min–max in brackets). events/s and MB/s are by wall time; "
      "CPU = user + system; CPU/wall well below 100 % means the process waited for a core. "
      "Load = the 1-minute load average just before each run.\n")
    w("| engine | runs | wall s | CPU s | CPU/wall | events/s | MB/s | peak RSS MiB | matches | load |")
    w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for name, label in ENGINES:
        r = results.get(name)
        if not r:
            continue
        w("| %s | %d | %.2f (%.2f–%.2f) | %.2f | %.0f %% | %s | %.1f | %.1f | %s | %s |" % (
            label, r["n"], r["wall"], r["wall_min"], r["wall_max"], r["cpu"], 100.0 * r["cpu"] / r["wall"],
            format(round(events / r["wall"]), ","), size / r["wall"] / 1e6, r["rss"] / 2 ** 20,
            r["count"], ", ".join("%.2f" % x for x in r["loads"])))
    w("")
    base = results.get(BASE)
    if base:
        ratio_table(w, results, base, "Ratios (other engine ÷ `shareexec --semantics elasticsearch`, medians)",
                    lambda name: name != BASE)
        w("### Goals of issue #5\n")
        w("| goal | measured | met |")
        w("| --- | ---: | --- |")
        for name, what, target, text in GOALS:
            r = results.get(name)
            if not r:
                continue
            ratio = r[what] / base[what]
            w("| %s | %.1f× | %s |" % (text, ratio, "yes" if ratio >= target else "**no**"))
        w("")
    one = results.get("shareexec-es-1t")
    if one:
        # The other engines each run on one core: the same comparison with ours on one.
        ratio_table(w, results, one,
                    "On one thread (other engine ÷ `shareexec --semantics elasticsearch --threads 0`)",
                    lambda name: not name.startswith("shareexec"))
    w("### Commands\n")
    w("```sh")
    for name, _label in ENGINES:
        if name in results:
            w("/usr/bin/time -v %s" % results[name]["cmd"].strip())
    w("```")
    alloc = read(os.path.join(rundir, "alloc.txt"))
    if alloc:
        lines = [ln for ln in alloc.splitlines()
                 if "bytes per pending entry" in ln or ln.startswith("test ") or "test result" in ln
                 or ln.strip() == "ok" or "left:" in ln or "right:" in ln or "panicked" in ln]
        w("\n### `cargo test --release --test alloc -- --nocapture --test-threads=1`\n")
        w("```text")
        w("\n".join(lines))
        w("```")
    print("\n".join(out))


if __name__ == "__main__":
    main()
