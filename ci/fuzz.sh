#!/bin/sh
# make fuzz: link each tests/fuzz/fuzz_*.c with libFuzzer against the
# instrumented libraries in BUILD, run it for SECONDS on its corpus
# (tests/fuzz/corpus/NAME, seeds committed; findings kept out of the tree),
# and fail if any input crashes, hangs or leaks.
#   usage: ci/fuzz.sh BUILD SECONDS SRC...
set -u
build=$1 secs=$2
shift 2
libs="$build/lib/libsim.a $build/lib/libdrbd.a $build/lib/libiscsi.a $build/lib/libscst.a \
$build/lib/libtcmu_ram.a $build/lib/libfaultnet.a $build/lib/libumc.a $build/lib/libmte_sim.a"
san="-fsanitize=fuzzer,address,undefined"
mkdir -p "$build/fuzz"
failed=""
for src in "$@"; do
    name=$(basename "$src" .c)
    exe="$build/fuzz/$name"
    clang -O1 -g $san -I. -D_GNU_SOURCE "$src" $libs -lm -o "$exe" || { failed="$failed $name(build)"; continue; }
    corpus="$build/fuzz/corpus-$name"
    mkdir -p "$corpus"
    seeds="tests/fuzz/corpus/$name"
    [ -d "$seeds" ] || seeds=""
    echo "fuzz: $name for ${secs}s"
    if ! "$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
            -artifact_prefix="$build/fuzz/$name-" "$corpus" $seeds >"$build/fuzz/$name.log" 2>&1; then
        tail -30 "$build/fuzz/$name.log"
        failed="$failed $name"
    else
        grep -E '^(#[0-9]+).*(DONE|pulse)' "$build/fuzz/$name.log" | tail -1
    fi
done
if [ -n "$failed" ]; then
    echo "fuzz: FAILED:$failed (reproducers in $build/fuzz/)"
    exit 1
fi
echo "fuzz: $# targets ran ${secs}s each, no crashes"
