#!/usr/bin/env python3
"""The check of .ci/instructions.sh: its counts (results.tsv) against the budgets.

    instruction-budgets.py RESULTS BUDGETS UPDATE

Prints the table; fails (exit 1) on a count over its budget, a count without a budget, a
budget without a count, and a count that is not positive (a callgrind run that counted
nothing: `--toggle-collect` matching no function gives 0). UPDATE "1" writes BUDGETS
anew from the counts (each + 3 %) instead of checking them, but never from a count that
is not positive. Tested by .ci/instruction-budgets-test.sh.
"""
import sys
results, budgets_path = sys.argv[1], sys.argv[2]
update = sys.argv[3] == "1"
measured = {}
for line in open(results):
    name, value, n, unit = line.rstrip("\n").split("\t")
    measured[name] = (float(value), int(n), unit)
budgets = {}
try:
    for line in open(budgets_path):
        if line.strip() and not line.startswith("#"):
            name, budget = line.split("\t")[:2]
            budgets[name] = float(budget)
except FileNotFoundError:
    pass
print("| count | instructions | budget | of budget | over |")
print("| --- | ---: | ---: | ---: | --- |")
failed = []
# Not positive: nothing was counted. A failure even when updating.
empty = [f"{name}: {value:,.1f} instructions {unit}, not a count of the work (nothing measured?)"
         for name, (value, n, unit) in measured.items() if not value > 0]
if not measured:
    empty.append(f"no counts in {results}")
for name in budgets:
    if name not in measured:
        failed.append(f"{name}: a budget in {budgets_path} but no count")
for name, (value, n, unit) in measured.items():
    budget = budgets.get(name)
    if budget is None:
        row = f"| {name} ({unit}, {n}) | {value:,.1f} | none | | |"
        if not update:
            failed.append(f"{name}: no budget in {budgets_path}")
    else:
        over = value > budget
        row = f"| {name} ({unit}, {n}) | {value:,.1f} | {budget:,.0f} | {100 * value / budget:.1f} % | {'**yes**' if over else 'no'} |"
        if over:
            failed.append(f"{name}: {value:,.1f} instructions {unit}, over its budget of {budget:,.0f}")
    print(row)
bare = measured.get("detector_bare_loop")
for sem in ("elasticsearch", "hardened"):
    d = measured.get(f"detector_{sem}")
    if bare and d and d[0] > 0:
        print(f"\ndetector_{sem}: bare loop / detector = {bare[0] / d[0]:.2f} in instructions", end="")
print()
if empty:
    print("\ninstruction counts invalid:", *empty, sep="\n  ", file=sys.stderr)
    sys.exit(1)
if update:
    with open(budgets_path, "w") as f:
        f.write("# Instruction budgets checked by .ci/instructions.sh (written by UPDATE=1: the count + 3 %).\n")
        f.write("# name\tbudget\tcounted\tunit\n")
        for name, (value, n, unit) in measured.items():
            f.write(f"{name}\t{round(value * 1.03)}\t{value:.1f}\t{unit}\n")
    print(f"\nwrote {budgets_path}")
    failed = []
if failed:
    print("\ninstruction budgets exceeded:", *failed, sep="\n  ", file=sys.stderr)
    sys.exit(1)
