# Sourced by the bench scripts.
# middle NUMBER...: the median of the non-empty arguments (nothing if none);
# single runs on a shared 2-core box swing by 5-10%.
middle() {
    printf '%s\n' "$@" | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}

# qemu-img bench's output: COUNT SIZE DEPTH (w|r) URL [WRAPPER...]
qemu_bench_run() {
    local rw=""
    [ "$4" = w ] && rw=-w
    timeout 300 "${@:6}" qemu-img bench -f raw -t none -n $rw -c "$1" -d "$3" -s "$2" -S "$2" "$5" 2>&1
}

# qemu-img bench: COUNT SIZE DEPTH (w|r) URL -> seconds
qemu_bench() {
    qemu_bench_run "$@" | sed -n 's/^Run completed in \([0-9.]*\) seconds.*/\1/p'
}

# qemu-img bench as a rate: COUNT SIZE DEPTH (w|r) URL -> COUNT per second
qemu_rate() {
    local t
    t=$(qemu_bench "$@")
    awk -v t="$t" -v n="$1" 'BEGIN { if (t > 0) printf "%.0f", n / t }'
}
