#!/bin/sh
# Determinism guard (DESIGN.md rules 1 and 2), run before the simulator links.
#   usage: determinism-guard.sh PRODUCT_OBJECTS... -- HARNESS_OBJECTS...
# Product code (tcmu_ram, scst, iscsi, drbd) must reach time, randomness,
# sockets, threads, sleeping, files, stdio and the heap only through umc/.
# The simulator harness (sim, faultnet) may use files and processes but never
# time, randomness, sockets or threads.  Neither may keep writable globals.
set -eu

product_forbidden='time clock_gettime gettimeofday clock rand rand_r random srand srandom drand48 lrand48 mrand48 getrandom
socket connect accept accept4 bind listen send sendto sendmsg recv recvfrom recvmsg
pthread_create fork sleep usleep nanosleep epoll_create epoll_create1 epoll_wait poll select
open open64 openat fopen fopen64 read write close mmap munmap msync
malloc calloc realloc free strdup strndup printf fprintf puts fputs perror getenv'
harness_forbidden='time clock_gettime gettimeofday clock rand rand_r random srand srandom drand48 lrand48 mrand48 getrandom
socket connect accept accept4 bind listen pthread_create sleep usleep nanosleep epoll_create epoll_create1 epoll_wait'

fail=0
check() { # check LIST OBJECTS...
    list=$1; shift
    for obj in "$@"; do
        [ -f "$obj" ] || continue
        for sym in $(nm -u "$obj" | awk '{print $2}'); do
            for bad in $list; do
                if [ "$sym" = "$bad" ]; then
                    echo "determinism guard: $obj calls $sym() directly; go through umc/ (DESIGN.md rule 1)" >&2
                    fail=1
                fi
            done
        done
        # writable data: .data/.bss sections; .data.rel.ro (const tables of
        # pointers under PIE) is read-only after relocation and allowed, and
        # sanitizer/coverage instrumentation is the compiler's, not ours
        globals=$(objdump -t "$obj" | awk '$0 ~ / O / {
            for (i = 1; i <= NF; i++) if ($i ~ /^(\.data|\.bss|\.tdata|\.tbss|\*COM\*)/) sec = $i;
            if (sec != "" && sec !~ /^\.data\.rel\.ro/ && $NF !~ /^__(odr_asan|asan|ubsan|gcov|llvm|sancov)/)
                print $NF; sec = "" }')
        if [ -n "$globals" ]; then
            echo "determinism guard: $obj has writable globals: $(echo $globals | tr '\n' ' ') (DESIGN.md rule 2)" >&2
            fail=1
        fi
    done
}

product=""
harness=""
seen_sep=0
for a in "$@"; do
    if [ "$a" = "--" ]; then seen_sep=1; continue; fi
    if [ $seen_sep = 0 ]; then product="$product $a"; else harness="$harness $a"; fi
done
# shellcheck disable=SC2086
check "$product_forbidden" $product
# shellcheck disable=SC2086
check "$harness_forbidden" $harness
if [ $fail = 0 ]; then
    echo "determinism guard: $(echo $product $harness | wc -w) objects clean"
fi
exit $fail
