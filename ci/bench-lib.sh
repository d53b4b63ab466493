# Sourced by the bench scripts.
# middle NUMBER...: the median of the non-empty arguments (nothing if none);
# single runs on a shared 2-core box swing by 5-10%.
middle() {
    printf '%s\n' "$@" | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}
