#!/usr/bin/env python3
"""Run libiscsi's conformance suite (Debian's libiscsi-bin: iscsi-test-cu)
against one LU, each test in a process of its own: a hang or a crash costs
that test only, and a skipped test is told apart from a passed one (the
suite's own summary counts a skip as a pass).

  usage: iscsi_conformance.py URL [--multipath URL2] [--initiator2 IQN]
                              [--sanitize] [--timeout S] [--only REGEX]
                              [--tsv FILE]

URL: iscsi://HOST[:PORT]/TARGET-IQN/LUN.  Prints each test that does not
pass as it goes, then the counts per suite and in all; --tsv writes one
line per test: name, result (passed, failed, skipped, timeout, error), why.
"""
import argparse
import collections
import re
import subprocess
import sys

SUITE = "iscsi-test-cu"
FAMILIES = ("SCSI", "iSCSI")
# CUnit's run summary: "tests  TOTAL  RAN  PASSED  FAILED  INACTIVE"
SUMMARY = re.compile(r"^\s*tests\s+\d+\s+\d+\s+\d+\s+(\d+)", re.M)


def test_names():
    listing = subprocess.run([SUITE, "-l"], capture_output=True, text=True, check=False).stdout
    names = (line.strip() for line in listing.splitlines())
    return [n for n in names if n.count(".") == 2 and n.split(".")[0] in FAMILIES]


def first_line_with(marker, text):
    for line in text.splitlines():
        if marker in line:
            return line[line.index(marker):]
    return ""


def judge(output):
    """A test's result and why, from what the suite printed.  It logs
    "[FAILED]" for a failed check even where CUnit goes on to pass it."""
    summary = SUMMARY.search(output)
    if not summary:
        return "error", output[-300:]
    if int(summary.group(1)) or "[FAILED]" in output:
        return "failed", first_line_with("[FAILED]", output)
    if "[SKIPPED]" in output:
        return "skipped", first_line_with("[SKIPPED]", output)
    return "passed", ""


def run_test(name, args):
    cmd = [SUITE, "-d", "-n", "-t", name]
    if args.initiator2:
        cmd += ["-I", args.initiator2]
    if args.sanitize:
        cmd.append("-S")
    cmd.append(args.url)
    if args.multipath:
        cmd.append(args.multipath)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, check=False)
    except subprocess.TimeoutExpired:
        return "timeout", f"no result within {args.timeout:g} s"
    return judge(p.stdout + p.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url")
    ap.add_argument("--multipath", help="a second URL to the same LU (the MultipathIO tests)")
    ap.add_argument("--initiator2", help="the second initiator's name (-I)")
    ap.add_argument("--sanitize", action="store_true", help="run the SANITIZE tests too (-S)")
    ap.add_argument("--timeout", type=float, default=60, help="seconds per test")
    ap.add_argument("--only", help="run the tests whose name matches this regex")
    ap.add_argument("--tsv", help="write name, result and why of every test here")
    args = ap.parse_args()

    names = [n for n in test_names() if not args.only or re.search(args.only, n)]
    if not names:
        print(f"{SUITE} listed no tests (is libiscsi-bin installed?)", file=sys.stderr)
        return 2
    rows = []
    for name in names:
        result, why = run_test(name, args)
        why = " ".join(why.split())
        rows.append((name, result, why))
        if result != "passed" and result != "skipped":
            print(f"{result:8s} {name}  {why[:160]}", flush=True)
    if args.tsv:
        with open(args.tsv, "w", encoding="utf-8") as f:
            f.writelines("\t".join(row) + "\n" for row in rows)

    per_suite = collections.defaultdict(collections.Counter)
    for name, result, _ in rows:
        per_suite[name.rsplit(".", 1)[0]][result] += 1
    print(f"\n{'suite':40s} pass fail skip other")
    for suite, c in sorted(per_suite.items()):
        print(f"{suite:40s} {c['passed']:4d} {c['failed']:4d} {c['skipped']:4d} "
              f"{c['timeout'] + c['error']:5d}")
    total = collections.Counter(result for _, result, _ in rows)
    print(f"conformance: {total['passed']} passed, "
          f"{total['failed'] + total['timeout'] + total['error']} failed, {total['skipped']} skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
