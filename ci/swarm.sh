#!/bin/sh
# make swarm: the swarm of every scenario in scenarios/ (SEEDS, default 1-500),
# each seed with a fault profile of its own, over JOBS workers (default: the
# cores).  One row per scenario, then a total; failing seeds' schedules go to
# OUT/NAME/.  Exit status 1 if any seed failed.
set -u
bin=$1
seeds=${2:-1-500}
jobs=${3:-$(nproc)}
out=${4:-build/swarm}
mkdir -p "$out"
printf '%-40s %7s %7s %7s  %s\n' scenario seeds passed failed "failing invariants (seeds)"
total=0 passed=0 failed=0
start=$(date +%s)
for scn in scenarios/*.scn; do
    name=$(basename "$scn" .scn)
    log="$out/$name.log"
    "$bin/scstsim" swarm "$scn" --seeds "$seeds" -j "$jobs" --out "$out/$name" >"$log" 2>&1
    line=$(grep -E '^swarm: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
    p=$(echo "$line" | sed -E 's/^swarm: ([0-9]+) passed, ([0-9]+) failed$/\1/')
    f=$(echo "$line" | sed -E 's/^swarm: ([0-9]+) passed, ([0-9]+) failed$/\2/')
    if [ -z "$line" ]; then
        echo "$name: no summary (see $log)" >&2
        p=0 f=1
    fi
    invs=$(grep -E '^swarm: invariant ' "$log" | sed -E 's/^swarm: invariant (\S+): ([0-9]+) seeds$/\1 \2/' | tr '\n' ',' | sed 's/,$//; s/,/, /g')
    printf '%-40s %7d %7d %7d  %s\n' "$name" $((p + f)) "$p" "$f" "$invs"
    total=$((total + p + f)) passed=$((passed + p)) failed=$((failed + f))
done
printf '%-40s %7d %7d %7d  (%d s, %s jobs)\n' total "$total" "$passed" "$failed" $(($(date +%s) - start)) "$jobs"
[ "$failed" -eq 0 ]
