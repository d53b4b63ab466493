#!/bin/sh
# Run every cmocka test binary given; print one summary line.  With VALGRIND=1
# each runs under valgrind and any leak or error fails it.
set -u
total=0; failed=0; bins=0; badbins=""
for t in "$@"; do
    bins=$((bins + 1))
    if [ "${VALGRIND:-0}" = 1 ]; then
        out=$(valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible \
              --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 "$t" 2>&1)
    else
        out=$("$t" 2>&1)
    fi
    rc=$?
    n=$(echo "$out" | sed -n 's/.*\[==========\] \([0-9]*\) test(s) run\..*/\1/p' | tail -1)
    total=$((total + ${n:-0}))
    if [ $rc -ne 0 ]; then
        echo "$out" | grep -E 'FAILED|ERROR|error|==[0-9]+==|Assert|Leak|leak' | head -40
        echo "unit: $(basename "$t") FAILED (exit $rc)"
        failed=$((failed + 1)); badbins="$badbins $(basename "$t")"
    fi
done
if [ $failed -ne 0 ]; then
    echo "unit tests: $total run in $bins binaries, FAILED binaries:$badbins"
    exit 1
fi
echo "unit tests: $total passed in $bins binaries${VALGRIND:+ (valgrind: no leaks, no errors)}"
