"""The scenario suite: every scenario passes for seeds 1 to 20, agrees with
itself under --check-determinism, and each injected bug is caught by its
scenario at the same virtual time on every run."""
import concurrent.futures
import re
import subprocess

import pytest

from conftest import ROOT

SCENARIOS = sorted((ROOT / "scenarios").glob("*.scn"))
SEEDS = range(1, 21)
VERDICT = re.compile(r"^(PASS|FAIL) scenario=\S+ seed=(\d+) hash=([0-9a-f]{16}) virtual=([\d.]+) "
                     r"events=(\d+)(?: invariant=(\S+) t=([\d.]+))?")
WITH_BUG = re.compile(r"^# with-bug: (\S+) invariant=(\S+)", re.M)

# Scenarios that find defects in the code under test, not in the simulator:
# name -> what happens.  They still run; a pass turns into XPASS.
KNOWN_PRODUCT_BUGS = {}


def run(bins, path, seed, *extra, timeout=300):
    p = subprocess.run([str(bins["scstsim"]), "run", str(path), "--seed", str(seed), *extra],
                       capture_output=True, text=True, timeout=timeout)
    lines = p.stdout.strip().splitlines()
    m = VERDICT.match(lines[-1]) if lines else None
    assert m, f"{path.name} seed {seed}: no verdict (exit {p.returncode})\n{p.stdout}\n{p.stderr[-2000:]}"
    return p, m


def run_seeds(bins, path, seeds):
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda s: run(bins, path, s), seeds))


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_passes_seeds_1_to_20(bins, path):
    results = run_seeds(bins, path, SEEDS)
    failed = [(m.group(2), m.group(6), p.stdout.strip().splitlines()[-2:][0])
              for p, m in results if p.returncode != 0]
    if failed and path.name in KNOWN_PRODUCT_BUGS:
        pytest.xfail(KNOWN_PRODUCT_BUGS[path.name])
    assert not failed, f"{path.name}: failing seeds {failed}"


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_check_determinism_agrees(bins, path):
    p, m = run(bins, path, 1, "--check-determinism")
    assert "determinism: both runs agree" in p.stdout, p.stdout[-3000:]
    assert m.group(6) != "determinism"


# Shrunk schedules of failures the swarm found, each fixed at its root: they
# fail on the commit before their fix and must pass from then on.
REGRESSIONS = sorted((ROOT / "scenarios" / "regressions").glob("*.scn"))


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.stem for p in REGRESSIONS])
def test_regression_schedule_passes(bins, path):
    p = subprocess.run([str(bins["scstsim"]), "replay", str(path)], capture_output=True, text=True,
                       timeout=300)
    lines = p.stdout.strip().splitlines()
    m = VERDICT.match(lines[-1]) if lines else None
    assert m and p.returncode == 0 and m.group(1) == "PASS", f"{path.name}:\n{p.stdout[-3000:]}"


def test_swarm_smoke_every_scenario(bins, tmp_path):
    """`make swarm`'s script over a few seeds of every scenario, each with a
    fault profile of its own: one row per scenario, all passing."""
    p = subprocess.run([str(ROOT / "ci" / "swarm.sh"), str(bins["scstsim"].parent), "1-3", "2",
                        str(tmp_path / "swarm")], capture_output=True, text=True, timeout=900, cwd=ROOT)
    rows = {line.split()[0]: line.split()[1:4] for line in p.stdout.splitlines()[1:]}
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
    for path in SCENARIOS:
        assert rows.get(path.stem) == ["3", "3", "0"], f"{path.stem}: {rows.get(path.stem)}\n{p.stdout}"
    assert rows["total"][:3] == [str(3 * len(SCENARIOS)), str(3 * len(SCENARIOS)), "0"]


BUG_SCENARIOS = [(p, *WITH_BUG.search(p.read_text()).groups()) for p in SCENARIOS
                 if WITH_BUG.search(p.read_text())]


def test_each_injectable_bug_has_a_scenario(bins):
    listed = subprocess.run([str(bins["scstsim"]), "--inject-bug", "list"], capture_output=True,
                            text=True).stdout.split()
    covered = {bug for _, bug, _ in BUG_SCENARIOS}
    assert {"resync-no-restart", "lost-barrier-ack"} <= covered
    assert covered <= set(listed)


@pytest.mark.parametrize("path,bug,invariant", BUG_SCENARIOS, ids=[b for _, b, _ in BUG_SCENARIOS])
def test_injected_bug_is_caught_at_the_same_time(bins, path, bug, invariant):
    first = run(bins, path, 1, "--inject-bug", bug)
    second = run(bins, path, 1, "--inject-bug", bug)
    for p, m in (first, second):
        assert p.returncode == 1 and m.group(1) == "FAIL", p.stdout[-2000:]
        assert m.group(6) == invariant, m.group(0)
    assert first[1].group(7) == second[1].group(7)       # same virtual time
    assert first[1].group(3) == second[1].group(3)       # same run
    clean, m = run(bins, path, 1)
    assert clean.returncode == 0, m.group(0)


def test_flapping_network_schedule_replays_same_hash(bins, tmp_path):
    path = ROOT / "scenarios" / "09-flapping-network.scn"
    sched = tmp_path / "flap.scn"
    orig, m1 = run(bins, path, 7, "--schedule-out", sched)
    text = sched.read_text()
    assert "\nfault " not in text and "\nevery " not in text and "\nafter " not in text
    p = subprocess.run([str(bins["scstsim"]), "replay", str(sched)], capture_output=True, text=True,
                       timeout=300)
    m2 = VERDICT.match(p.stdout.strip().splitlines()[-1])
    assert m2 and m2.group(0) == m1.group(0) and p.returncode == orig.returncode


def test_injected_bug_schedule_shrinks(bins, tmp_path):
    path = ROOT / "scenarios" / "15-bug-resync-no-restart.scn"
    sched = tmp_path / "bug.scn"
    run(bins, path, 3, "--inject-bug", "resync-no-restart", "--schedule-out", sched)
    assert "inject-bug resync-no-restart" in sched.read_text()
    out = tmp_path / "small.scn"
    p = subprocess.run([str(bins["scstsim"]), "shrink", str(sched), "-o", str(out)], capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    count = lambda f: sum(1 for l in f.read_text().splitlines() if l.startswith("at "))
    assert count(out) < count(sched)
    again = subprocess.run([str(bins["scstsim"]), "bisect", str(out)], capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 1 and "resync-stuck" in again.stdout
