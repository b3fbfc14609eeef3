"""External validation of shareexec's rendered SIEM rules (driven by tests/render.rs).

Run with the interpreter of .ci/python-tools.sh (eql 1.0.1, sigma-cli / pySigma):

  validate.py eql FILE...           parse each EQL query (Elasticsearch syntax); print one
                                    JSON line per file: the query's string literals, in order
  validate.py sigma-values FILE...  load each Sigma YAML stream with pySigma, resolve the
                                    correlation's references; print one JSON line per file:
                                    per rule name, each
                                    detection's field -> values as `:` patterns (wildcards
                                    `*` `?`, a literal `*` or `?` as `[*]` `[?]`), plus the
                                    correlation's rules, group-by, aliases and timespan
  validate.py yaml JSONFILE YAMLFILE  the YAML file (a list) must load as the JSON file's list

Exit status 0 on success; any parse error propagates (non-zero exit, traceback).
"""
import json
import sys


def eql_literals(paths):
    import eql
    from eql import ast

    for path in paths:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        # `:` and the other Elasticsearch-only syntax need elasticsearch_syntax (as the
        # reference oracle parses the Elastic rule); no schema is set, so any field parses.
        with eql.parser.elasticsearch_syntax, eql.parser.ignore_missing_functions:
            query = eql.parse_query(text)
        literals = [node.value for node in query if isinstance(node, ast.String)]
        print(json.dumps(literals))


def sigma_pattern(value):
    from sigma.types import SigmaString, SpecialChars

    if not isinstance(value, SigmaString):
        return value.to_plain() if hasattr(value, "to_plain") else str(value)
    out = []
    for part in value.s:
        if part == SpecialChars.WILDCARD_MULTI:
            out.append("*")
        elif part == SpecialChars.WILDCARD_SINGLE:
            out.append("?")
        elif isinstance(part, str):
            out.append(part.replace("*", "[*]").replace("?", "[?]"))
        else:
            out.append(repr(part))
    return "".join(out)


def plain(value):
    from sigma.types import SigmaString, SigmaBool, SigmaNumber, SigmaExists

    if isinstance(value, SigmaString):
        return sigma_pattern(value)
    if isinstance(value, SigmaBool):
        return value.boolean
    if isinstance(value, SigmaNumber):
        return value.number
    if isinstance(value, SigmaExists):
        return value.exists
    return str(value)


def sigma_values(path):
    from sigma.collection import SigmaCollection
    from sigma.correlations import SigmaCorrelationRule

    with open(path, encoding="utf-8") as f:
        collection = SigmaCollection.from_yaml(f.read())
    collection.resolve_rule_references()
    if collection.errors:
        raise SystemExit(f"errors: {collection.errors}")
    names = {str(r.id): r.name for r in collection.rules}
    name_of = lambda ref: names.get(ref.reference, ref.reference)
    out = {}
    for rule in collection.rules:
        if isinstance(rule, SigmaCorrelationRule):
            out[rule.name] = {
                "type": rule.type.name.lower(),
                "rules": [name_of(r) for r in rule.rules],
                "group-by": list(rule.group_by),
                "aliases": {
                    alias.alias: {name_of(ref): field for ref, field in alias.mapping.items()}
                    for alias in rule.aliases.aliases.values()
                },
                "timespan": rule.timespan.seconds,
                "generate": rule.generate,
                "id": str(rule.id),
            }
            continue
        detections = {}
        for name, detection in rule.detection.detections.items():
            items = {}
            for item in detection.detection_items:
                key = item.field + "".join("|" + m.__name__ for m in item.modifiers)
                items[key] = [plain(v) for v in (item.original_value or item.value)]
            detections[name] = items
        out[rule.name] = {
            "id": str(rule.id),
            "logsource": [rule.logsource.category, rule.logsource.product],
            "detections": detections,
            "condition": rule.detection.condition,
        }
    print(json.dumps(out, sort_keys=True))


def yaml_roundtrip(json_path, yaml_path):
    import yaml

    with open(json_path, encoding="utf-8") as f:
        expected = json.load(f)
    with open(yaml_path, encoding="utf-8") as f:
        loaded = yaml.safe_load(f)
    if loaded != expected:
        bad = [(e, l) for e, l in zip(expected, loaded or []) if e != l]
        raise SystemExit(f"YAML round trip differs ({len(bad)} items): {bad[:5]!r}")
    print(json.dumps({"ok": len(expected)}))


def main(argv):
    if len(argv) >= 2 and argv[0] == "eql":
        eql_literals(argv[1:])
    elif len(argv) >= 2 and argv[0] == "sigma-values":
        for path in argv[1:]:
            sigma_values(path)
    elif len(argv) == 3 and argv[0] == "yaml":
        yaml_roundtrip(argv[1], argv[2])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
