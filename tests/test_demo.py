"""The simulator's demo: a verdict and a run hash that depend only on the seed."""
import re
import subprocess

LAST = re.compile(r"^(PASS|FAIL) seed=(\d+) hash=([0-9a-f]{16}) virtual=([\d.]+) events=(\d+)$")


def run_demo(bins, seed, *extra):
    p = subprocess.run([str(bins["scstsim"]), "demo", "--seed", str(seed), *extra],
                       capture_output=True, text=True, timeout=120)
    last = p.stdout.strip().splitlines()[-1]
    m = LAST.match(last)
    assert m, f"unexpected last line: {last!r}\n{p.stderr}"
    return p.returncode, m


def test_same_seed_same_hash(bins):
    rc1, a = run_demo(bins, 42)
    rc2, b = run_demo(bins, 42)
    assert rc1 == rc2 == 0 and a.group(1) == "PASS"
    assert a.group(3) == b.group(3)
    assert a.group(5) == b.group(5)


def test_other_seed_other_hash(bins):
    _, a = run_demo(bins, 1)
    _, b = run_demo(bins, 2)
    assert a.group(3) != b.group(3)


def test_demo_passes_for_many_seeds(bins):
    for seed in range(1, 11):
        rc, m = run_demo(bins, seed)
        assert rc == 0 and m.group(1) == "PASS", f"seed {seed}: {m.group(0)}"


def test_trace_file_replays_identically(bins, tmp_path):
    t1, t2 = tmp_path / "a.trace", tmp_path / "b.trace"
    run_demo(bins, 9, "--trace", str(t1))
    run_demo(bins, 9, "--trace", str(t2))
    text = t1.read_text()
    assert "power loss" in text and "restarted" in text
    assert text == t2.read_text()


def test_bad_usage_exits_2(bins):
    p = subprocess.run([str(bins["scstsim"]), "demo", "--seed", "x"], capture_output=True, text=True)
    assert p.returncode == 2 and "--seed" in p.stderr
    p = subprocess.run([str(bins["scstsim"]), "nosuch"], capture_output=True, text=True)
    assert p.returncode == 2 and "unknown command" in p.stderr


def test_scstd_and_scstctl_print_usage(bins):
    for name in ("scstd", "scstctl"):
        p = subprocess.run([str(bins[name]), "--help"], capture_output=True, text=True)
        assert p.returncode == 0 and "usage" in p.stdout.lower()
