#!/usr/bin/env bash
# Self-test of .ci/instruction-budgets.py, the check .ci/instructions.sh makes of its
# counts: it must fail on a count over its budget, a count without a budget, a budget
# without a count, and a count of nothing (callgrind's `--toggle-collect` matching no
# function gives `summary: 0`, and the CLI's count less its start-up could be 0 or
# less), so that it never passes vacuously. Needs python3; takes well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."

CHECK=.ci/instruction-budgets.py
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fails=0

# expect PASS|FAIL NAME UPDATE RESULTS BUDGETS: RESULTS and BUDGETS are the files'
# contents (printf formats: `\t`, `\n`).
expect() {
    local want=$1 name=$2 update=$3 status=0
    printf "$4" > "$dir/results.tsv"
    printf "$5" > "$dir/budgets.tsv"
    python3 "$CHECK" "$dir/results.tsv" "$dir/budgets.tsv" "$update" > "$dir/out" 2>&1 || status=$?
    local got=PASS
    ((status == 0)) || got=FAIL
    if [[ $got != "$want" ]]; then
        echo "instruction-budgets-test.sh: $name: want $want, got $got (exit $status):" >&2
        sed 's/^/    /' "$dir/out" >&2
        fails=$((fails + 1))
    fi
}

ok_results='a\t100.0\t10\tper line\nb\t5.0\t10\tper event\n'
ok_budgets='# name\tbudget\na\t103\t100.0\tper line\nb\t6\t5.0\tper event\n'
expect PASS "within budgets" "" "$ok_results" "$ok_budgets"
expect FAIL "over a budget" "" 'a\t104.0\t10\tper line\nb\t5.0\t10\tper event\n' "$ok_budgets"
expect FAIL "a count without a budget" "" "$ok_results" 'a\t103\t100.0\tper line\n'
expect FAIL "a budget without a count" "" 'a\t100.0\t10\tper line\n' "$ok_budgets"
expect FAIL "no counts at all" "" '' "$ok_budgets"
expect FAIL "a count of nothing" "" 'a\t100.0\t10\tper line\nb\t0.0\t10\tper event\n' "$ok_budgets"
expect FAIL "a negative count" "" 'a\t-3.5\t10\tper line\nb\t5.0\t10\tper event\n' "$ok_budgets"
expect FAIL "a count that is not a number" "" 'a\t\t10\tper line\nb\t5.0\t10\tper event\n' "$ok_budgets"
expect FAIL "UPDATE=0 is no update" "0" 'a\t104.0\t10\tper line\nb\t5.0\t10\tper event\n' "$ok_budgets"
# UPDATE=1 writes the budgets anew (a count over its old budget is no failure), but not
# from a count of nothing.
expect PASS "UPDATE=1" "1" 'a\t104.0\t10\tper line\nb\t5.0\t10\tper event\n' "$ok_budgets"
grep -qxF "$(printf 'a\t107\t104.0\tper line')" "$dir/budgets.tsv" || {
    echo "instruction-budgets-test.sh: UPDATE=1 did not write a's budget:" >&2
    sed 's/^/    /' "$dir/budgets.tsv" >&2
    fails=$((fails + 1))
}
expect FAIL "UPDATE=1 on a count of nothing" "1" 'a\t0.0\t10\tper line\n' "$ok_budgets"

if ((fails > 0)); then
    echo "instruction-budgets-test.sh: $fails case(s) failed" >&2
    exit 1
fi
echo "instruction-budgets-test.sh: all cases pass" >&2
