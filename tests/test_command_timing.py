"""Command benchmarks and ``perfslo run``: real commands, real processes, real run files."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import orjson
import pytest

from perfslo_tui.actions.bench import run_to_completion
from perfslo_tui.collect.command_timing import CommandTimingError, needs_shell, time_command
from perfslo_tui.config import load_config
from perfslo_tui.runs.files import read_run
from tests.conftest import run_cli

PY = shlex.quote(sys.executable)


def counter_command(log: Path, sleep_s: float = 0.0) -> str:
    """A real command that appends one line to ``log`` each time it runs."""
    code = f"import time; open({str(log)!r}, 'a').write('x\\n'); time.sleep({sleep_s})"
    return f"{PY} -c {shlex.quote(code)}"


@pytest.mark.parametrize(
    ("command", "shell"),
    [
        ("node bench/simple.js", False),
        ("node -e 'console.log(1 | 2)'", False),  # operators inside quotes need no shell
        ('python -c "print(1)"', False),
        ("echo hi | wc -c", True),
        ("make bench && ./bench", True),
        ("bench > out.txt", True),
        ('echo "$HOME"', True),
        ("ls *.py", True),
        ("FOO=1 node bench.js", True),
        ("cd sub; ./run", True),
        ("echo 'unbalanced", True),
    ],
)
def test_a_shell_is_used_only_when_the_command_needs_one(command: str, shell: bool) -> None:
    assert needs_shell(command) is shell


def test_warmup_runs_then_timed_runs(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    seen: list[int] = []
    result = time_command(
        counter_command(log, 0.03), runs=4, warmup=2, on_sample=lambda i, _ms: seen.append(i)
    )
    assert log.read_text().count("x") == 6  # 2 warm-up + 4 timed, really run
    assert len(result.samples_ms) == 4 and seen == [0, 1, 2, 3]
    assert min(result.samples_ms) >= 30.0  # each sample includes the 30 ms sleep
    assert result.shell is False and result.warmup == 2


def test_the_reference_is_timed_after_each_timed_run_only_when_asked(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    with_reference = time_command(counter_command(log, 0.01), runs=4, warmup=1, reference=True)
    assert len(with_reference.reference_ms) == len(with_reference.samples_ms) == 4
    # Per-call milliseconds of the reference workload: the same unit as the harness writes.
    assert all(0 < v < 1.0 for v in with_reference.reference_ms)
    assert time_command(counter_command(log, 0.0), runs=2, warmup=0).reference_ms == []


def test_a_shell_command_really_runs_through_the_shell(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    result = time_command(f"echo hello | tr a-z A-Z > {shlex.quote(str(out))}", runs=2, warmup=0)
    assert result.shell is True
    assert out.read_text() == "HELLO\n"


def test_non_zero_exit_names_the_command_the_code_and_stderr(tmp_path: Path) -> None:
    code = "import sys; sys.stderr.write('bench: fixture missing\\n'); sys.exit(3)"
    command = f"{PY} -c {shlex.quote(code)}"
    with pytest.raises(CommandTimingError) as caught:
        time_command(command, runs=3, warmup=0)
    assert str(caught.value) == f"command {command!r} exited 3: bench: fixture missing"


def test_a_command_that_cannot_start(tmp_path: Path) -> None:
    with pytest.raises(CommandTimingError, match=r"cannot start command 'no-such-program-xyz --x'"):
        time_command("no-such-program-xyz --x", runs=1, warmup=0)


def test_a_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    marker = tmp_path / "child-finished"
    # A shell whose child would outlive a plain kill of the shell.
    command = f"sleep 2 && touch {shlex.quote(str(marker))}"
    with pytest.raises(CommandTimingError, match=r"timed out after 0.3s"):
        time_command(command, runs=1, warmup=0, timeout=0.3)
    import time

    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:  # the killed child must never finish
        assert not marker.exists()
        time.sleep(0.1)


def _config_with_commands(project: Path, extra: str) -> None:
    with (project / "perfslo.toml").open("a") as handle:
        handle.write(extra)


def test_perfslo_run_measures_the_slos_with_commands(project: Path, tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    _config_with_commands(
        project,
        f"""
[slos.cli-start]
budget = 5000
command = {json.dumps(counter_command(log, 0.01))}
warmup = 2
runs = 5

[slos.node-run]
budget = 5000
command = "node -e 'let s = 0; for (let i = 0; i < 1e5; i++) s += i'"
warmup = 0
runs = 3
""",
    )
    result = run_cli("run", cwd=project)
    assert result.returncode == 0, result.stderr
    [path] = sorted((project / "artifacts").glob("perf-*.json"))
    assert f"Run written: {path}" in result.stdout
    run = read_run(path)
    # Each timed run is followed by the harness's reference workload, paired sample by sample:
    # the gate tells a busy machine from a slow command as it does for the Python harness.
    assert {k: len(v) for k, v in run.samples.items()} == {
        "cli-start": 5,
        "cli-start@ref": 5,
        "node-run": 3,
        "node-run@ref": 3,
    }
    assert all(0 < v < 1.0 for v in run.samples["cli-start@ref"])  # ms per reference call
    assert run.fingerprint["reference"] is True and run.fingerprint["producer"] == "perfslo run"
    assert log.read_text().count("x") == 7
    assert min(run.samples["cli-start"]) >= 10.0
    assert run.source == "perfslo run"
    meta = orjson.loads(path.read_bytes())["metadata"]
    assert meta["commands"]["node-run"].startswith("node -e")

    report = orjson.loads(run_cli("check", "--format", "json", cwd=project).stdout)
    by_name = {s["name"]: s for s in report["slos"]}
    assert by_name["cli-start"]["stats"]["count"] == 5
    assert by_name["cli-start"]["status"] == "PASS"

    only = run_cli("run", "--slo", "node-run", "--runs", "2", "--warmup", "0", cwd=project)
    assert only.returncode == 0, only.stderr
    newest = max((project / "artifacts").glob("perf-*.json"), key=lambda p: read_run(p).timestamp_ms)
    assert {k: len(v) for k, v in read_run(newest).samples.items()} == {"node-run": 2, "node-run@ref": 2}


def test_perfslo_run_reports_a_failing_command_and_keeps_the_rest(project: Path) -> None:
    _config_with_commands(
        project,
        """
[slos.ok]
budget = 5000
command = "true"
runs = 2

[slos.broken]
budget = 5000
command = "sh -c 'echo cannot open fixture.js >&2; exit 4'"
runs = 2
""",
    )
    result = run_cli("run", cwd=project)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "perfslo: broken: command \"sh -c 'echo cannot open fixture.js >&2; exit 4'\" "
        "exited 4: cannot open fixture.js"
    )
    [path] = sorted((project / "artifacts").glob("perf-*.json"))
    assert set(read_run(path).samples) == {"ok", "ok@ref"}


def test_perfslo_run_usage_errors(project: Path) -> None:
    no_commands = run_cli("run", cwd=project)
    assert no_commands.returncode == 2
    assert "no SLO has a `command`" in no_commands.stderr
    unknown = run_cli("run", "--slo", "nope", cwd=project)
    assert unknown.returncode == 2
    assert "no SLO named 'nope'" in unknown.stderr
    no_command = run_cli("run", "--slo", "transpile-simple", cwd=project)
    assert no_command.returncode == 2
    assert "slos.transpile-simple has no `command` to run" in no_command.stderr


def test_perfslo_run_as_the_bench_command_writes_where_perfslo_asks(project: Path, tmp_path: Path) -> None:
    # bench_command = "perfslo run --slo {slo}": perfslo runs itself, and the
    # child writes into PERFSLO_ARTIFACTS, the folder the parent reads.
    _config_with_commands(
        project,
        '\n[slos.quick]\nbudget = 5000\ncommand = "true"\nruns = 3\nwarmup = 0\n',
    )
    text = (project / "perfslo.toml").read_text()
    (project / "perfslo.toml").write_text(
        f"bench_command = {json.dumps(PY + ' -m perfslo_tui.commands.cli run --slo {slo}')}\n" + text
    )
    elsewhere = tmp_path / "elsewhere"
    config = load_config(start=project).with_artifacts_dir(elsewhere)
    run_to_completion(config, slo="quick", timeout=120)
    [path] = sorted(elsewhere.glob("perf-*.json"))
    assert {k: len(v) for k, v in read_run(path).samples.items()} == {"quick": 3, "quick@ref": 3}
    assert list((project / "artifacts").glob("perf-*.json")) == []


def test_perfslo_run_respects_perfslo_artifacts(project: Path, tmp_path: Path) -> None:
    _config_with_commands(project, '\n[slos.quick]\nbudget = 5000\ncommand = "true"\nruns = 1\n')
    target = tmp_path / "from-env"
    result = run_cli("run", "-q", cwd=project, env={**os.environ, "PERFSLO_ARTIFACTS": str(target)})
    assert result.returncode == 0, result.stderr
    assert len(list(target.glob("perf-*.json"))) == 1


def test_check_confirm_reruns_perfslo_run_for_a_command_slo(project: Path) -> None:
    # The whole loop without any Python of the project's own: a command SLO,
    # bench_command = "perfslo run --slo {slo}", and the gate re-running it.
    sleeper = f"{PY} -c 'import time; time.sleep(0.03)'"
    _config_with_commands(
        project, f"\n[slos.slow-cli]\nbudget = 5\ncommand = {json.dumps(sleeper)}\nruns = 2\nwarmup = 0\n"
    )
    text = (project / "perfslo.toml").read_text()
    bench = json.dumps(PY + " -m perfslo_tui.commands.cli run --slo {slo}")
    (project / "perfslo.toml").write_text(f"bench_command = {bench}\n" + text)
    first = run_cli("run", cwd=project)
    assert first.returncode == 0, first.stderr
    gate = run_cli("check", "--confirm", "2", "--format", "json", "--no-step-summary", cwd=project)
    assert gate.returncode == 1, gate.stderr
    assert "re-run 1 of at most 4 (0 of 2 judged so far)" in gate.stderr
    runs = sorted((project / "artifacts").glob("perf-*.json"))
    assert len(runs) == 2  # the first run plus the confirming re-run
    report = orjson.loads(gate.stdout)
    [slow] = [s for s in report["slos"] if s["name"] == "slow-cli"]
    assert slow["status"] == "VIOLATION" and slow["confirmed"] is True
    assert slow["value_ms"] >= 30.0
