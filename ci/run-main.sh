#!/bin/sh
# The main job (make run): every scenario in scenarios/ for one seed, one
# verdict line each, then a summary.  Exit 1 if any scenario failed.
#   usage: ci/run-main.sh BIN_DIR SEED
set -u
bin=$1
seed=$2
here=$(cd "$(dirname "$0")/.." && pwd)
passed=0
failed=0
for scn in "$here"/scenarios/*.scn; do
    out=$("$bin/scstsim" run "$scn" --seed "$seed" 2>&1)
    rc=$?
    verdict=$(printf '%s\n' "$out" | tail -1)
    case $rc in
        0) passed=$((passed + 1)) ;;
        *) failed=$((failed + 1))
           printf '%s\n' "$out" | grep -v '^PASS\|^FAIL' | tail -3 ;;
    esac
    printf '%s\n' "$verdict"
done
echo "scenarios: $passed passed, $failed failed (seed $seed)"
[ "$failed" -eq 0 ]
