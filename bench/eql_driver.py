#!/usr/bin/env python3
"""Run an EQL sequence rule through Elastic's stock Python `eql` engine over ECS NDJSON.

    python bench/eql_driver.py RULE.eql FILE.ndjson > matches.ndjson

The comparator of bench/run.sh: PyPI `eql` 1.0.1's `PythonEngine`, fed one event at a time in
arrival order, as a user of that library would drive it. Elastic Defend (ECS) documents need two
adaptations the stock engine does not make by itself:

* Each line is one `eql.Event` per ECS category the rule asks for (`file`, `process`): ECS
  `event.category` is an array while an eql event has exactly one type. Categories are streamed
  in reverse stage order, so one document carrying both cannot be both stages of one sequence.
* ECS fields may be arrays (`event.type: ["start"]`); Elasticsearch matches a predicate on a
  multi-valued field if any value matches. The stock engine compares the whole list
  (`event.type == "start"` is null, `event.type in (...)` raises TypeError: unhashable list);
  `AnyValueEngine` below applies `==`/`!=`, `in` and the `:` wildcard to each element
  instead, keeping the stock engine's three-valued logic and case-insensitivity otherwise.

Everything else is the stock engine: case-insensitive `==`, `in` and join keys, `?` literal in
wildcards, null join keys that join each other, `not null` being null. These are *not*
Elasticsearch's semantics (see docs/semantics.md), so on the benchmark corpus this engine
finds fewer sequences than Elasticsearch does; run.sh checks each engine against its own
committed oracle result instead.

Prints one JSON line per matched sequence (line numbers are 1-based, counting non-blank lines,
and the documents' top-level `id`), and a summary on standard error. Events whose `@timestamp`
cannot be read are skipped and counted.
"""

import argparse
import calendar
import gc
import json
import sys
import time

import eql
from eql.engine import PythonEngine

TICKS_PER_SECOND = 10 ** 9  # event times are integer nanoseconds


# ------------------------------------------------------------------------------ the engine

def any_value(value, test):
    """`test` on a scalar, or the three-valued OR of `test` over a list's elements."""
    if not isinstance(value, list):
        return test(value)
    saw_null = False
    for item in value:
        r = test(item)
        if r:
            return True
        saw_null = saw_null or r is None
    return None if saw_null else False


class AnyValueEngine(PythonEngine):
    """The stock PythonEngine, with predicates applied to each value of a multi-valued field."""

    def _convert_comparison(self, node):
        stock = super()._convert_comparison(node)
        get_left = self.convert(node.left)
        get_right = self.convert(node.right)
        # Mirror the stock operand handling: strings compare case-insensitively.
        stringy = (eql.ast.FunctionCall, eql.ast.String, eql.ast.Field)
        op = node.function
        if isinstance(node.left, stringy) and isinstance(node.right, stringy):
            op = self.lowercase(op, always=False)
        op = self.check_types(op)

        def callback(scope):
            left = get_left(scope)
            if not isinstance(left, list):
                return stock(scope)
            right = get_right(scope)
            return any_value(left, lambda v: op(v, right))

        return callback

    def _convert_in_set(self, node):
        stock = super()._convert_in_set(node)
        if not all(isinstance(item, eql.ast.Literal) for item in node.container):
            return stock
        folded = {eql.utils.fold_case(item.value) for item in node.container}
        get_value = self.convert(node.expression)

        def member(v):
            return None if v is None else eql.utils.fold_case(v) in folded

        def callback(scope):
            value = get_value(scope)
            if not isinstance(value, list):
                return stock(scope)
            return any_value(value, member)

        return callback

    def _function_wildcard(self, arguments):
        from eql.functions import Wildcard
        match = Wildcard.get_callback(arguments[0], *arguments[1:])
        get_value = self.convert(arguments[0])
        return lambda scope: any_value(get_value(scope), match)


# ------------------------------------------------------------------------------ input

_second_cache = {}


def timestamp_ns(value):
    """ECS `@timestamp` -> integer ns since the epoch, or None.

    RFC 3339 `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, or a number of epoch milliseconds."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value * 1_000_000)
    if not isinstance(value, str) or len(value) < 20 or value[10] not in "Tt ":
        return None
    head, rest = value[:19], value[19:]
    frac = ""
    if rest.startswith("."):
        end = 1
        while end < len(rest) and rest[end].isdigit():
            end += 1
        frac, rest = rest[1:end], rest[end:]
        if not frac or len(frac) > 9:
            return None
    key = (head, rest)
    base = _second_cache.get(key)
    if base is None:
        try:
            secs = calendar.timegm(time.strptime(head.replace("t", "T").replace(" ", "T"),
                                                 "%Y-%m-%dT%H:%M:%S"))
        except ValueError:
            return None
        if rest in ("Z", "z"):
            pass
        elif len(rest) == 6 and rest[0] in "+-" and rest[3] == ":" and (rest[1:3] + rest[4:]).isdigit():
            sign = 1 if rest[0] == "+" else -1
            secs -= sign * (int(rest[1:3]) * 3600 + int(rest[4:]) * 60)
        else:
            return None
        base = secs * TICKS_PER_SECOND
        if len(_second_cache) > 65536:
            _second_cache.clear()
        _second_cache[key] = base
    return base + (int(frac.ljust(9, "0")) if frac else 0)


def nested(doc):
    """Dotted keys (`{"process.pid": 4}`) as nested objects, which is what eql's field paths read."""
    if not any("." in k for k in doc):
        return doc
    out = {}
    for key, value in doc.items():
        parts = [key] if key == "@timestamp" else key.split(".")
        node = out
        for p in parts[:-1]:
            child = node.get(p)
            if not isinstance(child, dict):
                child = node[p] = {}
            node = child
        if isinstance(value, dict):
            value = nested(value)
            if isinstance(node.get(parts[-1]), dict):
                node[parts[-1]].update(value)
                continue
        node[parts[-1]] = value
    return out


def field(doc, *path):
    for p in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(p)
    return doc


# ------------------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rule", help="file with the EQL sequence query")
    ap.add_argument("input", help="ECS NDJSON file ('-' for standard input)")
    args = ap.parse_args()

    with open(args.rule, encoding="utf-8") as f:
        text = f.read()
    with eql.parser.elasticsearch_syntax, eql.parser.ignore_missing_functions:
        query = eql.parse_query(text)
    if not isinstance(query.first, eql.ast.Sequence):
        sys.exit("eql_driver.py: the rule is not a sequence")
    # The ECS categories to stream, last stage first (see the module doc).
    stages = [q.query.event_type for q in query.first.queries]
    stream_order = list(dict.fromkeys(reversed(stages)))

    # Parsed documents are acyclic; without this the cyclic GC rescans every held event
    # on each allocation burst, which is not the engine's cost.
    gc.disable()

    engine = AnyValueEngine({"time_unit": TICKS_PER_SECOND})
    out = sys.stdout
    matches = 0

    def on_match(result):
        nonlocal matches
        matches += 1
        first, last = result.events[0].data, result.events[-1].data
        out.write(json.dumps({
            "file.id": first.get("id"), "process.id": last.get("id"),
            "file.line": first["__line"], "process.line": last["__line"],
        }) + "\n")

    engine.add_output_hook(on_match)
    engine.add_query(query)

    counts = {"lines": 0, "bad_json": 0, "no_timestamp": 0, "streamed": 0}
    Event = eql.Event
    stream = engine.stream_event
    started = time.perf_counter()
    source = sys.stdin if args.input == "-" else open(args.input, encoding="utf-8")
    with source:
        for line in source:
            if not line.strip():
                continue
            counts["lines"] += 1
            try:
                doc = json.loads(line)
            except ValueError:
                counts["bad_json"] += 1
                continue
            if not isinstance(doc, dict):
                counts["bad_json"] += 1
                continue
            doc = nested(doc)
            cats = field(doc, "event", "category")
            if isinstance(cats, str):
                cats = [cats]
            if not isinstance(cats, list):
                continue
            wanted = [c for c in stream_order if c in cats]
            if not wanted:
                continue
            ts = timestamp_ns(doc.get("@timestamp"))
            if ts is None:
                counts["no_timestamp"] += 1
                continue
            doc["__line"] = counts["lines"]
            for cat in wanted:
                counts["streamed"] += 1
                stream(Event(cat, ts, doc))
    engine.finalize()
    out.flush()
    elapsed = time.perf_counter() - started
    counts.update(matches=matches, seconds=round(elapsed, 3),
                  events_per_second=round(counts["lines"] / elapsed) if elapsed > 0 else None)
    print("eql_driver.py: " + json.dumps(counts), file=sys.stderr)


if __name__ == "__main__":
    main()
