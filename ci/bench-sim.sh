#!/bin/bash
# make bench, the simulator's part: how fast scstsim runs virtual time.
#   1. a 2-node protocol C scenario with a 1000 IOPS 4 KiB write workload:
#      virtual seconds per wall second on one core (goal >= 100x);
#   2. a swarm of 1000 seeds of 60 virtual seconds on 2 workers (goal < 600 s).
# BENCH_SWARM_SEEDS=N runs fewer seeds and scales the figure to 1000.
#   usage: ci/bench-sim.sh BIN_DIR
set -u
bin=$1
here=$(cd "$(dirname "$0")/.." && pwd)
seeds=${BENCH_SWARM_SEEDS:-1000}

now_ns() { date +%s%N; }

speed() { # FILE LABEL
    local t0 t1 out virt wall
    t0=$(now_ns)
    out=$("$bin/scstsim" run "$1" --seed 1 2>&1 | tail -1)
    t1=$(now_ns)
    virt=$(printf '%s\n' "$out" | sed -n 's/.* virtual=\([0-9.]*\) .*/\1/p')
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    awk -v v="$virt" -v w="$wall" -v l="$2" 'BEGIN {
        printf "%-58s %8.1fx real time (%s virtual s in %s wall s; goal >= 100x)\n", l, v / w, v, w }'
    case $out in PASS*) ;; *) echo "  (the run did not pass: $out)" ;; esac
}

echo "bench: scstsim ($(nproc) cores)"
speed "$here/scenarios/bench/speed-2node-c.scn" "2 nodes, protocol C, 1000 IOPS 4 KiB writes, 60 s:"
speed "$here/scenarios/bench/speed-1node-disk.scn" "1 node, plain disk, 1000 IOPS 4 KiB writes, 60 s:"

t0=$(now_ns)
out=$("$bin/scstsim" swarm "$here/scenarios/bench/swarm-60s.scn" --seeds "1-$seeds" -j 2 2>&1 | tail -1)
t1=$(now_ns)
awk -v a="$t0" -v b="$t1" -v n="$seeds" -v o="$out" 'BEGIN {
    w = (b - a) / 1e9
    printf "%-58s %8.1f s wall for %d seeds (%.1f s per 1000; goal < 600 s)\n",
           "swarm, 60 virtual s a seed, 2 workers:", w, n, w * 1000 / n
    printf "  %s\n", o }'
