#!/bin/bash
# libiscsi's conformance suite against scstd, three LU configurations:
#   thin       the default LU: 1 GiB thin-provisioned ram, 512-byte blocks
#   readonly   a write-protected LU (ReadOnly tests; thin too: ReadOnlySBC
#              wants UNMAP)
#   removable  a removable-medium thin LU (PreventAllow, StartStopUnit, NoMedia)
# (readonly and removable report 4 KiB physical blocks under 512-byte logical
# ones, for the tests that want LBPPB > 1)
# One scstd serves the three as three targets (set up by a scst.conf); each
# configuration runs every SCSI and iSCSI test alone (ci/iscsi_conformance.py:
# --sanitize, a --multipath URL to the same LUN, --initiator2), the three in
# parallel.  Prints each configuration's counts and the union: a test counts
# as passed if it passes on at least one configuration.
#   usage: ci/conformance.sh BIN_DIR [OUT_DIR]
#   env:   ISCSI_CONFORMANCE (the tool), CONFORMANCE_ONLY (a regex of tests),
#          CONFORMANCE_TIMEOUT (seconds per test, default 60)
# Exit: 0 when no test fails on every configuration, 1 otherwise, 2 when the
# tool or the server is missing.
set -u
bin=$(cd "$1" && pwd)
out=${2:-$(mktemp -d /tmp/scst-conformance.XXXXXX)}
mkdir -p "$out"
tool=${ISCSI_CONFORMANCE:-$(cd "$(dirname "$0")" && pwd)/iscsi_conformance.py}
per_test_timeout=${CONFORMANCE_TIMEOUT:-60}
only=${CONFORMANCE_ONLY:-}
ini2=iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test-2

if [ ! -x "$tool" ]; then
    echo "conformance: the suite driver $tool is missing" >&2
    exit 2
fi
for p in iscsi-test-cu "$bin/scstd"; do
    if ! command -v "$p" >/dev/null 2>&1; then
        echo "conformance: $p is missing" >&2
        exit 2
    fi
done

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$out/scst.conf" <<'EOF'
HANDLER vdisk_blockio {
	DEVICE thin {
		filename tcmu000
		blocksize 512
		thin_provisioned 1
	}
	DEVICE readonly {
		filename tcmu001
		blocksize 512
		read_only 1
		thin_provisioned 1
		physical_blocksize 4096
	}
	DEVICE removable {
		filename tcmu002
		blocksize 512
		removable 1
		thin_provisioned 1
		physical_blocksize 4096
	}
}

TARGET_DRIVER iscsi {
	enabled 1
	TARGET iqn.2026-11.local.scstd:thin {
		LUN 0 thin
		enabled 1
	}
	TARGET iqn.2026-11.local.scstd:readonly {
		LUN 0 readonly
		enabled 1
	}
	TARGET iqn.2026-11.local.scstd:removable {
		LUN 0 removable
		enabled 1
	}
}
EOF

"$bin/scstd" --portal 127.0.0.1:$port --admin "$out/scstd.sock" --state-dir "$out/state" \
    --backstore tcmu000:1G --backstore tcmu001:256M --backstore tcmu002:256M \
    --config "$out/scst.conf" >"$out/scstd.out" 2>"$out/scstd.err" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
for _ in $(seq 100); do
    grep -q '^iscsi://' "$out/scstd.out" 2>/dev/null && break
    if ! kill -0 $server 2>/dev/null; then
        echo "conformance: scstd did not start: $(tail -3 "$out/scstd.err")" >&2
        exit 2
    fi
    sleep 0.1
done

configs="thin readonly removable"
pids=()
for c in $configs; do
    url="iscsi://127.0.0.1:$port/iqn.2026-11.local.scstd:$c/0"
    "$tool" "$url" --multipath "$url" --initiator2 "$ini2" --sanitize \
        --timeout "$per_test_timeout" ${only:+--only "$only"} --tsv "$out/$c.tsv" \
        >"$out/$c.log" 2>&1 &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done

if ! kill -0 $server 2>/dev/null; then
    echo "conformance: scstd died during the run: $(tail -5 "$out/scstd.err")" >&2
fi

python3 - "$out" $configs <<'EOF'
import sys
out, configs = sys.argv[1], sys.argv[2:]
results = {}
for c in configs:
    try:
        rows = [l.rstrip("\n").split("\t") for l in open(f"{out}/{c}.tsv")]
    except OSError:
        print(f"conformance {c}: no results")
        rows = []
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for name, res, *why in rows:
        results.setdefault(name, {})[c] = (res, why[0] if why else "")
        counts["skipped" if res == "skipped" else "passed" if res == "passed" else "failed"] += 1
    print(f"conformance {c:10s}: {counts['passed']} passed, {counts['failed']} failed, "
          f"{counts['skipped']} skipped")
union = {"passed": 0, "failed": 0, "skipped": 0}
never = []
for name in sorted(results):
    got = results[name]
    if any(r == "passed" for r, _ in got.values()):
        union["passed"] += 1
        continue
    failed = {c: why for c, (r, why) in got.items() if r != "skipped"}
    union["failed" if failed else "skipped"] += 1
    never.append((name, "failed" if failed else "skipped", failed))
print(f"conformance union     : {union['passed']} passed, {union['failed']} failed, "
      f"{union['skipped']} skipped (of {len(results)}; passed = on at least one configuration)")
for name, kind, failed in never:
    detail = "; ".join(f"{c}: {w[:100]}" for c, w in failed.items())
    print(f"  never passes: {name} ({kind}{': ' + detail if detail else ''})")
strict = union["failed"] == 0 and union["skipped"] == 0
print(f"verdict: every test passes on at least one configuration: {'yes' if strict else 'no'} "
      f"({union['failed']} fail on every configuration, {union['skipped']} are skipped on every one)")
sys.exit(0 if union["failed"] == 0 else 1)
EOF
rc=$?
echo "conformance: details in $out"
exit $rc
