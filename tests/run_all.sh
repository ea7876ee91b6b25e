#!/bin/bash
# Runs every test suite and prints the combined "N passed, N failed" last.
# Usage: tests/run_all.sh BUILD_DIR
set -u
BUILD="${1:-build}"
total_p=0 total_f=0
for suite in "$BUILD/unit_tests" "tests/cli/test_cli.sh $BUILD" "tests/cli/test_workflow.sh $BUILD"; do
    echo "== $suite"
    out=$($suite 2>&1); echo "$out"
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' <<<"$out" | tail -1)
    if [ -z "$line" ]; then
        echo "suite '$suite' crashed or printed no summary"; total_f=$((total_f + 1)); continue
    fi
    total_p=$((total_p + $(cut -d' ' -f1 <<<"$line")))
    total_f=$((total_f + $(cut -d' ' -f3 <<<"$line")))
done
echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
