"""Scenario files: the shipped ones parse; malformed ones exit 2 naming file and line."""
import subprocess

import pytest

from conftest import ROOT

SCENARIOS = sorted((ROOT / "scenarios").glob("*.scn"))

HEAD = "node alice 10.0.0.1\nnode bob 10.0.0.2\ndisk alice size=16M\ndisk bob size=16M\n"

# (name, text, line, words the message must have)
MALFORMED = [
    ("unknown_directive", HEAD + "nodes carol 10.0.0.3\n", 5, "unknown directive 'nodes'"),
    ("unknown_action", HEAD + "at 1s crsh alice\n", 5, "unknown action 'crsh'"),
    ("bad_time", HEAD + "at 10x crash alice\n", 5, "expected a time"),
    ("bad_size", "node alice 10.0.0.1\ndisk alice size=12Q\n", 2, "expected a size"),
    ("bad_ip", "node alice 10.0.0.300\n", 1, "IPv4"),
    ("undeclared_node", HEAD + "\n\nat 1s crash carol\n", 7, "'carol' is not a declared node"),
    ("time_backwards", HEAD + "at 5s crash alice\nat 2s restart alice\n", 6, "before the previous 'at'"),
    ("unterminated_heredoc", HEAD + "resource r0 <<END\nresource r0 {\n", 5, "never ends"),
    ("clog_needs_duration", HEAD + "at 1s clog alice bob\n", 5, "clog needs 'for TIME'"),
    ("workload_needs_dev", HEAD + "workload w1 node=alice iops=10\n", 5, "dev=DEV is needed"),
    ("unknown_workload", HEAD + "at 1s start w9\n", 5, "'w9' is not a declared workload"),
    ("bad_expect", HEAD + "expect everything-fine\n", 5, "unknown expectation"),
    ("unknown_bug", "inject-bug no-such-bug\n", 1, "unknown bug"),
    ("unquoted", HEAD + 'at 1s log "open quote\n', 5, "unterminated quote"),
    ("duplicate_node", HEAD + "node alice 10.0.0.9\n", 5, "declared twice"),
    ("fault_needs_rate", HEAD + "fault partition duration=1s..2s\n", 5, "rate=R/s is needed"),
    ("peer_key_needs_peer", HEAD + "at 1s wait-for alice connection=Connected\n", 5, "name the peer"),
    ("compare_needs_a_size_key", HEAD + "at 1s wait-for alice role<=Primary\n", 5, "not a size"),
    ("compare_needs_a_size", HEAD + "at 1s wait-for alice peer=bob out-of-sync<=lots\n", 5, "expected a size"),
    ("bad_chaos", HEAD + "chaos from 3s until 1s\n", 5, "must not be before"),
    ("resource_without_node",
     HEAD + "resource r9 <<END\nresource r9 { on zed { node-id 0; } }\nEND\n", 5, "no 'on NODE' section"),
]


def scstsim(bins, *args, timeout=60):
    return subprocess.run([str(bins["scstsim"]), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def test_shipped_scenarios_parse(bins):
    assert len(SCENARIOS) >= 14
    p = scstsim(bins, "check", *SCENARIOS)
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("path", SCENARIOS + sorted((ROOT / "scenarios" / "bench").glob("*.scn")),
                         ids=lambda p: p.stem)
def test_canonical_form_round_trips(bins, tmp_path, path):
    """check --print writes a scenario that parses back and prints the same
    (every, fault and swarm lines included): what schedules and shrink rely on."""
    once = scstsim(bins, "check", "--print", path)
    assert once.returncode == 0, once.stderr
    copy = tmp_path / path.name
    copy.write_text(once.stdout)
    twice = scstsim(bins, "check", "--print", copy)
    assert twice.returncode == 0, twice.stderr
    assert twice.stdout == once.stdout


def test_log_text_like_an_inline_marker_round_trips(bins, tmp_path):
    """A log message whose last word looks like '<<TAG' is written back quoted;
    a quoted word is text, never the start of inline text (found by
    fuzz_scenario)."""
    src = tmp_path / "marker.scn"
    src.write_text(HEAD + 'at 1s log <<END of the message\nat 2s log "one <<END"\n')
    once = scstsim(bins, "check", "--print", src)
    assert once.returncode == 0, once.stderr
    assert 'log "<<END of the message"' in once.stdout and 'log "one <<END"' in once.stdout
    copy = tmp_path / "again.scn"
    copy.write_text(once.stdout)
    twice = scstsim(bins, "check", "--print", copy)
    assert twice.returncode == 0, twice.stderr
    assert twice.stdout == once.stdout


@pytest.mark.parametrize("name,text,line,words", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_scenario_exits_2_naming_file_and_line(bins, tmp_path, name, text, line, words):
    path = tmp_path / f"{name}.scn"
    path.write_text(text)
    p = scstsim(bins, "run", path, "--seed", 3)
    assert p.returncode == 2, p.stdout + p.stderr
    assert f"{path}:{line}:" in p.stderr, p.stderr
    assert words in p.stderr, p.stderr
    assert not p.stdout.strip().startswith(("PASS", "FAIL")), p.stdout


def test_missing_file_and_bad_options_exit_2(bins, tmp_path):
    p = scstsim(bins, "run", tmp_path / "nope.scn")
    assert p.returncode == 2 and "nope.scn:0: cannot read" in p.stderr
    good = tmp_path / "ok.scn"
    good.write_text(HEAD + "duration 1s\n")
    assert scstsim(bins, "run", good, "--seed", "x").returncode == 2
    assert scstsim(bins, "run", good, "--frobnicate", "1").returncode == 2
    p = scstsim(bins, "run", good, "--inject-bug", "nope")
    assert p.returncode == 2 and "unknown bug" in p.stderr


def test_inject_bug_list(bins):
    p = scstsim(bins, "--inject-bug", "list")
    assert p.returncode == 0
    names = [line.split()[0] for line in p.stdout.splitlines() if line.strip()]
    assert "resync-no-restart" in names and "lost-barrier-ack" in names
    p2 = scstsim(bins, "run", "--inject-bug", "list")
    assert p2.returncode == 0 and p2.stdout == p.stdout
