#!/bin/bash
# Replication benchmarks (run by ci/bench.sh): two scstd on loopback, r0 on
# anonymous ram backstores, protocol C, the replication link on cubic (a link
# tuned as for a LAN: this machine's default, bbr, paces it without fq).
#   1. 1 MiB sequential writes QD8 through iSCSI: drbd1 (replicated) against
#      the unreplicated ram LUN of the same server        (goal >= 70%)
#   2. a full resync of a 1 GiB device, limits off        (goal >= 1 GB/s)
#   3. a resync at a configured resync-rate               (held within 10%)
#   usage: ci/bench-drbd.sh BIN_DIR
set -u
. "$(dirname "$0")/bench-lib.sh"
bin=$(cd "$1" && pwd)
size_mib=${BENCH_DRBD_SIZE_MIB:-1024}
rate_mib=${BENCH_DRBD_RATE_MIB:-200}
target=iqn.2026-11.local.scstd:ram0
work=$(mktemp -d /tmp/scst-bench-drbd.XXXXXX)
pids=()

cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    sleep 0.3
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

now() { date +%s.%N; }

# write_res FILE DISK-OPTIONS
write_res() {
    cat >"$1" <<EOF
resource r0 {
    net { protocol C; tcp-congestion-control cubic; }
    disk { $2 }
    on alpha { node-id 0; address 127.0.0.1:$port_ra;
               volume 0 { device drbd1 minor 1; disk "rdisk"; meta-disk internal; } }
    on beta  { node-id 1; address 127.0.0.1:$port_rb;
               volume 0 { device drbd1 minor 1; disk "rdisk"; meta-disk internal; } }
}
EOF
}

# start NAME RES: an scstd with r0 up (meta-data created first)
start() {
    local name=$1 res=$2 port
    port=$(free_port)
    "$bin/scstd" --portal 127.0.0.1:$port --admin "$work/$name.sock" --state-dir "$work/state" \
        --drbd-config "$res" --node "$name" --backstore "rdisk:${size_mib}M" \
        >"$work/$name.out" 2>"$work/$name.err" &
    pids+=($!)
    for _ in $(seq 100); do
        grep -q '^iscsi://' "$work/$name.out" 2>/dev/null && break
        sleep 0.05
    done
    eval "port_$name=$port"
    ctl "$name" create-md r0 >/dev/null && ctl "$name" up r0 >/dev/null
}

ctl() { local name=$1; shift; "$bin/scstctl" --admin "$work/$name.sock" "$@"; }

stop_all() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    pids=()
}

# synced NAME: both disks UpToDate, nothing syncing
synced() {
    local s
    s=$(ctl "$1" status r0 2>/dev/null) || return 1
    echo "$s" | grep -q 'disk:UpToDate' && echo "$s" | grep -q 'peer-disk:UpToDate' &&
        ! echo "$s" | grep -q 'replication:Sync' && ! echo "$s" | grep -q 'connection:'
}

wait_synced() { # NAME TIMEOUT -> 0 when synced
    local deadline=$(( $(date +%s) + $2 ))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        synced "$1" && return 0
        sleep 0.02
    done
    return 1
}

wait_connected() {
    for _ in $(seq 300); do
        ctl "$1" status r0 2>/dev/null | grep -q 'connection:' || return 0
        sleep 0.05
    done
    return 1
}

# 1 MiB writes over the first 7/8 of the device (drbd1 is a little smaller
# than its backing device: the meta-data sits at the end)
qemu_write_1m() { # URL -> MiB/s
    qemu_rate $((size_mib * 7 / 8)) 1M 8 w "$1"
}

port_ra=$(free_port)
port_rb=$(free_port)
echo "bench-drbd: two scstd on loopback, r0 protocol C on ${size_mib} MiB ram backstores"

# ---- 1 + 2: full resync with limits off, then replicated writes ------------------------
write_res "$work/fast.res" "c-plan-ahead 0; resync-rate 0; c-max-rate 0; c-min-rate 0;"
start alpha "$work/fast.res" && start beta "$work/fast.res" && wait_connected alpha || {
    echo "bench-drbd: the pair did not come up: $(tail -n 3 "$work/alpha.err"; tail -n 3 "$work/beta.err")"
    exit 1
}
t0=$(now)
ctl alpha primary --force r0 >/dev/null
if wait_synced alpha 300; then
    t1=$(now)
    resync=$(awk -v t0="$t0" -v t1="$t1" -v m="$size_mib" 'BEGIN { printf "%.0f", m * 1048576 / (t1 - t0) / 1e6 }')
else
    resync=""
fi
ctl alpha device add d1 --bdev drbd1 >/dev/null && ctl alpha lun add $target 1 d1 >/dev/null
# a first pass over each LUN faults the ram in (the resync already touched
# drbd1's backing pages, not the plain LUN's); the second pass is measured
for lun in 0 1; do qemu_write_1m "iscsi://127.0.0.1:$port_alpha/$target/$lun" >/dev/null; done
# three of each, interleaved; the medians
reps=() plains=()
for _ in 1 2 3; do
    reps+=("$(qemu_write_1m "iscsi://127.0.0.1:$port_alpha/$target/1")")
    plains+=("$(qemu_write_1m "iscsi://127.0.0.1:$port_alpha/$target/0")")
done
repl=$(middle "${reps[@]}")
plain=$(middle "${plains[@]}")
stop_all

# ---- 3: a configured resync-rate --------------------------------------------------------
port_ra=$(free_port)
port_rb=$(free_port)
write_res "$work/rate.res" "c-plan-ahead 0; resync-rate ${rate_mib}M; c-min-rate 0;"
measured=""
if start alpha "$work/rate.res" && start beta "$work/rate.res" && wait_connected alpha; then
    ctl alpha primary --force r0 >/dev/null
    # sample done:% between 10% and 90% of the sync
    measured=$(python3 - "$bin/scstctl" "$work/alpha.sock" "$size_mib" <<'EOF'
import re, subprocess, sys, time
ctl, sock, size = sys.argv[1], sys.argv[2], int(sys.argv[3]) << 20
def done():
    out = subprocess.run([ctl, "--admin", sock, "status", "r0"], capture_output=True, text=True).stdout
    m = re.search(r"done:([\d.]+)", out)
    return float(m.group(1)) if m else (100.0 if "replication:" not in out and "peer-disk:UpToDate" in out else None)
first = None
deadline = time.time() + 120
while time.time() < deadline:
    d, t = done(), time.time()
    if d is not None and d >= 10 and first is None:
        first = (d, t)
    if d is not None and d >= 90 and first:
        print(f"{(d - first[0]) / 100 * size / (t - first[1]) / 1048576:.1f}")
        break
    time.sleep(0.05)
EOF
)
fi
stop_all

ratio=$(awk -v r="$repl" -v p="$plain" 'BEGIN { if (r > 0 && p > 0) printf "%.0f%%", 100 * r / p; else print "n/a" }')
dev=$(awk -v m="$measured" -v c="$rate_mib" 'BEGIN { if (m > 0) printf "%+.1f%%", 100 * (m - c) / c; else print "n/a" }')
printf "%-60s %12s   (goal)\n" "" "figure"
printf "%-60s %12s   \n" "1 MiB seq write QD8, unreplicated LUN (MiB/s, median of 3)" "${plain:-n/a}"
printf "%-60s %12s   \n" "1 MiB seq write QD8, drbd1 protocol C (MiB/s, median of 3)" "${repl:-n/a}"
printf "%-60s %12s   (>= 70%%)\n" "  replicated / unreplicated" "$ratio"
printf "%-60s %12s   (>= 1000)\n" "full resync ${size_mib} MiB, limits off (MB/s)" "${resync:-n/a}"
printf "%-60s %12s   (%s MiB/s)\n" "resync at resync-rate ${rate_mib}M (MiB/s)" "${measured:-n/a}" "$rate_mib"
printf "%-60s %12s   (within 10%%)\n" "  deviation from the configured rate" "$dev"
