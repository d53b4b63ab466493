#!/bin/bash
# make bench: scstd against tgt (Debian's tgtd, LUN on a same-size file in
# /dev/shm) on loopback, the same clients against each in one run, each figure
# printed with the ratio scstd/tgt.  Then the replication and simulator
# benchmarks where their scripts exist.
#   usage: ci/bench.sh BIN_DIR
set -u
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/bench-lib.sh"
size_mib=${BENCH_SIZE_MIB:-1024}
secs=${BENCH_SECONDS:-8}
runs=${BENCH_RUNS:-3}         # each figure is the median of this many runs
tgt_port=3262
scst_port=3263
scst_plain_port=3264   # a second scstd with its poll naps off
tgt_iqn=iqn.2026-11.local.tgt:bench
scst_iqn=iqn.2026-11.local.scstd:ram0
tgt_img=/dev/shm/scst-bench-tgt.img
work=$(mktemp -d /tmp/scst-bench.XXXXXX)
pids=()

stop_servers() {
    # tgtd ignores SIGTERM while it has targets, hence the -9 after a grace
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    sleep 0.5
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    pids=()
    rm -f "$tgt_img"
}
cleanup() {
    stop_servers
    rm -rf "$work"
}
trap cleanup EXIT

wait_port() { # HOST PORT: until something listens
    for _ in $(seq 100); do
        (exec 3<>/dev/tcp/"$1"/"$2") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "bench: nothing listens on $1:$2" >&2
    return 1
}

start_tgt() {
    truncate -s "${size_mib}M" "$tgt_img"
    tgtd -f -C 77 --iscsi portal=127.0.0.1:$tgt_port >"$work/tgtd.log" 2>&1 &
    pids+=($!)
    wait_port 127.0.0.1 $tgt_port || return 1
    tgtadm -C 77 --lld iscsi --op new --mode target --tid 1 -T $tgt_iqn &&
    tgtadm -C 77 --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b "$tgt_img" &&
    tgtadm -C 77 --lld iscsi --op bind --mode target --tid 1 -I ALL
}

start_scstd() { # PORT [SCSTD ARGS...]
    local port=$1
    shift
    "$bin/scstd" --portal 127.0.0.1:$port --admin "$work/scstd-$port.sock" "$@" \
        >"$work/scstd-$port.log" 2>&1 &
    pids+=($!)
    wait_port 127.0.0.1 $port
}

block_size() { # URL -> logical block size
    iscsi-readcapacity16 "$1" 2>/dev/null | sed -n 's/^LOGICAL BLOCK LENGTH IN BYTES:\([0-9]*\).*/\1/p' | head -1
}

# iscsi-perf 4 KiB random reads, QD32: prints IOPS
perf_randread() {
    local bs blocks
    bs=$(block_size "$1"); bs=${bs:-512}
    blocks=$((4096 / bs))
    timeout $((secs + 20)) iscsi-perf -m 32 -b "$blocks" -t "$secs" -r "$1" 2>&1 |
        tr '\r' '\n' | sed -n 's/^iops average \([0-9]*\).*/\1/p' | tail -1
}

# qemu-img bench's own CPU use, in percent of one core: COUNT SIZE DEPTH (w|r) URL
# (a client near 100% is what bounds the figure, not the server)
qemu_client_cpu() {
    qemu_bench_run "$@" /usr/bin/time -f 'client-cpu %P' | sed -n 's/^client-cpu \([0-9]*\)%.*/\1/p'
}

# The median of RUNS runs of a command printing one number.
median() { # COMMAND ARGS... -> median figure
    local i figures=()
    for ((i = 0; i < runs; i++)); do figures+=("$("$@")"); done
    middle "${figures[@]}"
}

measure() { # NAME URL: fills results[NAME.metric]
    local name=$1 url=$2
    results[$name.randread]=$(median perf_randread "$url")
    results[$name.write4k]=$(median qemu_rate 200000 4096 32 w "$url")
    results[$name.write4k_cpu]=$(qemu_client_cpu 200000 4096 32 w "$url")
    results[$name.write1m]=$(median qemu_rate 4000 1M 8 w "$url")
    results[$name.read1m]=$(median qemu_rate 4000 1M 8 r "$url")
}

ratio() { # A B -> A/B to two places, or n/a when either is missing
    awk -v s="$1" -v t="$2" 'BEGIN { if (s > 0 && t > 0) printf "%.2f", s / t; else print "n/a" }'
}

row() { # LABEL METRIC UNIT GOAL
    local s=${results[scstd.$2]:-} t=${results[tgt.$2]:-}
    printf "%-44s %10s %10s %7s   (goal %s)\n" "$1" "${s:-n/a}" "${t:-n/a}" "$(ratio "$s" "$t")x" "$4"
}

declare -A results
echo "bench: iSCSI on loopback, ${size_mib} MiB LUNs, scstd vs tgt $(tgtd -V 2>/dev/null | head -1), median of $runs runs"
if start_tgt; then
    measure tgt "iscsi://127.0.0.1:$tgt_port/$tgt_iqn/1"
else
    echo "bench: tgt did not start: $(tail -3 "$work/tgtd.log")"
fi
if start_scstd $scst_port; then
    measure scstd "iscsi://127.0.0.1:$scst_port/$scst_iqn/0"
else
    echo "bench: scstd did not start: $(tail -3 "$work/scstd-$scst_port.log")"
fi
# how much of the 4 KiB write figure the poll naps give (scstd/README.md)
if start_scstd $scst_plain_port --poll-nap-us 0; then
    results[scstd.write4k_plain]=$(median qemu_rate 200000 4096 32 w \
        "iscsi://127.0.0.1:$scst_plain_port/$scst_iqn/0")
else
    echo "bench: scstd --poll-nap-us 0 did not start: $(tail -3 "$work/scstd-$scst_plain_port.log")"
fi
printf "%-44s %10s %10s %8s\n" "" "scstd" "tgt" "ratio"
row "iscsi-perf 4 KiB random read QD32 (IOPS)" randread IOPS ">= 2x"
row "qemu-img bench 4 KiB write QD32 (IOPS)" write4k IOPS ">= 2x"
row "qemu-img bench 1 MiB seq write QD8 (MiB/s)" write1m MiB/s ">= 1.5x"
row "qemu-img bench 1 MiB seq read QD8 (MiB/s)" read1m MiB/s ">= 1.5x"
echo "4 KiB write QD32, the client's own CPU (one more run each): against scstd" \
    "${results[scstd.write4k_cpu]:-n/a}%, against tgt ${results[tgt.write4k_cpu]:-n/a}% of a core"
plain=${results[scstd.write4k_plain]:-}
echo "4 KiB write QD32 against scstd --poll-nap-us 0 (no poll naps): ${plain:-n/a} IOPS," \
    "$(ratio "$plain" "${results[tgt.write4k]:-}")x tgt"
# the next benchmarks run on a quiet machine: an idle tgtd still holding its
# populated /dev/shm LUN halved the drbd resync figure
stop_servers

for extra in "$here"/bench-*.sh; do
    [ -x "$extra" ] || continue
    echo
    "$extra" "$bin" || echo "bench: $(basename "$extra") failed"
done
