#!/bin/sh
# Run the built programs' leak-sensitive paths under valgrind; any leak or
# memory error fails.
set -eu
bin=$1
vg="valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99"
$vg "$bin/scstsim" demo --seed 7 >/dev/null
echo "valgrind: scstsim demo: no leaks, no errors"
