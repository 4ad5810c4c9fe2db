"""Bench commands are run as written: shell syntax survives, one SLO reaches the command.

Every command here really runs in a shell (redirections, pipes, ``&&``,
quotes, ``sh -c``) and writes a real run; the tests look at what it left
behind: the run's SLOs, the files the redirections wrote, the environment.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from perfslo_tui.actions.bench import (
    SLO_ENV,
    build_command,
    command_env,
    reproduce_commands,
    run_to_completion,
    supports_single_slo,
    without_placeholder,
)
from perfslo_tui.config import load_config
from perfslo_tui.runs.files import read_run
from tests.conftest import BASE_MS, SEED_MOCK_TIMINGS, make_run, run_cli

# Writes one run into $PERFSLO_ARTIFACTS: the SLOs named by --slo arguments,
# else $PERFSLO_SLO, else all; prints what it did and what it was given.
SCRIPT = """\
import json, os, sys
from pathlib import Path
from perfslo_tui.runs.files import build_run_document, write_run
from perfslo_tui.runs.metadata import make_metadata

NAMES = {names!r}
args = sys.argv[1:]
if args and args[0] == "--slo":
    args = args[1:]
if any(a.startswith("-") for a in args):
    print("usage error: unexpected option", args, file=sys.stderr)
    sys.exit(2)
chosen = args or ([os.environ["PERFSLO_SLO"]] if os.environ.get("PERFSLO_SLO") else NAMES)
folder = Path(os.environ["PERFSLO_ARTIFACTS"])
count = len(list(folder.glob("perf-*.json"))) if folder.is_dir() else 0
meta = make_metadata(timestamp_ms={base} + (count + 1) * 60_000)
samples = {{n: [0.5 + 0.001 * i for i in range(11)] for n in chosen}}
path = write_run(folder, build_run_document(samples, meta))
print("argv", json.dumps(sys.argv[1:]))
print("env", os.environ.get("PERFSLO_SLO", "<unset>"))
print("wrote", path.name)
"""

PY = sys.executable


@pytest.fixture
def bench_project(project: Path) -> Path:
    (project / "bench.py").write_text(SCRIPT.format(names=list(SEED_MOCK_TIMINGS), base=BASE_MS))
    return project


def configure(project: Path, command: str) -> None:
    path = project / "perfslo.toml"
    text = re.sub(r"^bench_command = .*\n", "", path.read_text(), flags=re.M)
    path.write_text(f"bench_command = {json.dumps(command)}\n" + text)


def runs(project: Path) -> list[Path]:
    return sorted((project / "artifacts").glob("perf-*.json"))


# ------------------------------------------------------------- the text itself


@pytest.mark.parametrize(
    ("command", "full"),
    [
        ("node perf/bench.js --slo {slo} > /dev/null", "node perf/bench.js > /dev/null"),
        ("python -m b --slo {slo} 2>&1 | tee out.txt", "python -m b 2>&1 | tee out.txt"),
        ("sh -c 'python b.py --slo {slo}' && echo done", "sh -c 'python b.py' && echo done"),
        ('sh -c "b {slo} > log" ; echo ok', 'sh -c "b > log" ; echo ok'),
        ("x --slo={slo} | cat", "x | cat"),
        ('x "--filter=^{slo}$" -v', "x -v"),
        ("pytest -k '{slo}' -q", "pytest -q"),
        ("make bench&&b {slo}", "make bench&&b"),
        # Quoting the user wrote stays exactly as written (never re-quoted).
        ("a  'two  spaces' \"$HOME\" --slo {slo}>x", "a  'two  spaces' \"$HOME\">x"),
    ],
)
def test_a_full_run_cuts_only_the_placeholder_word(command: str, full: str) -> None:
    assert without_placeholder(command) == full


def test_without_a_placeholder_the_command_is_the_users_text(project: Path) -> None:
    command = "node bench.js > /dev/null 2>&1 && echo 'a  b' | tee -a log"
    configure(project, command)
    config = load_config(start=project)
    assert build_command(config) == command
    assert build_command(config, "transpile-simple") == command
    assert supports_single_slo(config)  # through the environment
    assert command_env(config, "transpile-simple")[SLO_ENV] == "transpile-simple"


def test_a_full_run_never_inherits_perfslo_slo(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(project, "true")
    monkeypatch.setenv(SLO_ENV, "leftover")
    assert SLO_ENV not in command_env(load_config(start=project))


# ------------------------------------------------------------ real shells


SHELL_FORMS = [
    # (bench_command, the file its redirection writes)
    ("{py} bench.py --slo {{slo}} > bench.log", "bench.log"),
    ("{py} bench.py --slo {{slo}} 2>&1 | tee bench.log", "bench.log"),
    ("echo start > bench.log && {py} bench.py --slo {{slo}} >> bench.log", "bench.log"),
    ("sh -c '{py} bench.py --slo {{slo}} > bench.log'", "bench.log"),
    ('sh -c "{py} bench.py \\"--slo\\" {{slo}}" > bench.log', "bench.log"),
    ("{py} bench.py > 'bench  log.txt'", "bench  log.txt"),
]


@pytest.mark.parametrize(("template", "written"), SHELL_FORMS)
def test_full_and_one_slo_runs_through_a_real_shell(bench_project: Path, template: str, written: str) -> None:
    configure(bench_project, template.format(py=PY))
    config = load_config(start=bench_project)
    result = run_to_completion(config)
    assert result.returncode == 0
    output = (bench_project / written).read_text()
    assert "env <unset>" in output
    [full] = runs(bench_project)
    assert set(read_run(full).samples) == set(SEED_MOCK_TIMINGS)
    run_to_completion(config, "lua-emit-simple")
    one = runs(bench_project)[-1]
    assert set(read_run(one).samples) == {"lua-emit-simple"}
    assert "env lua-emit-simple" in (bench_project / written).read_text()


def test_a_hostile_name_stays_one_argument_in_the_env_and_the_placeholder(bench_project: Path) -> None:
    name = "x'; touch pwned; echo '$(touch pwned2)"
    configure(bench_project, f"{PY} bench.py --slo {{slo}} > bench.log")
    config = load_config(start=bench_project)
    run_to_completion(config, name)
    assert not (bench_project / "pwned").exists() and not (bench_project / "pwned2").exists()
    log = (bench_project / "bench.log").read_text()
    assert f"argv {json.dumps(['--slo', name])}" in log
    assert f"env {name}" in log


# ------------------------------------------------------- the gate and the report


def test_check_confirm_reruns_the_command_as_written(bench_project: Path) -> None:
    configure(bench_project, f"{PY} bench.py --slo {{slo}} > bench.log 2>&1 && echo ran >> count.txt")
    # A violation the gate wants confirmed: the bench writes 0.5 ms, over the budget of 0.25.
    make_run(bench_project / "artifacts", {**SEED_MOCK_TIMINGS, "ir-parse-simple": 0.9}, ts_ms=BASE_MS)
    text = (bench_project / "perfslo.toml").read_text()
    (bench_project / "perfslo.toml").write_text(text.replace("confirm_runs = 1", "confirm_runs = 2"))
    result = run_cli("check", "--confirm", "2", cwd=bench_project)
    assert result.returncode in (0, 1), result.stderr
    assert "perfslo: re-run 1 of at most 4" in result.stderr
    assert (bench_project / "count.txt").read_text().count("ran") >= 1
    assert "usage error" not in (bench_project / "bench.log").read_text()
    assert len(runs(bench_project)) >= 2


def test_the_reproduce_line_is_the_users_command_and_it_runs(bench_project: Path) -> None:
    command = f"{PY} bench.py --slo {{slo}} 2>&1 | tee bench.log > /dev/null && echo done"
    configure(bench_project, command)
    config = load_config(start=bench_project)
    assert (
        reproduce_commands(config)
        == f"{PY} bench.py 2>&1 | tee bench.log > /dev/null && echo done\nperfslo check"
    )
    make_run(bench_project / "artifacts", SEED_MOCK_TIMINGS, ts_ms=BASE_MS)
    report = run_cli("check", "--format", "markdown", cwd=bench_project).stdout
    block = report.split("```", 2)[1] if "```" in report else ""
    lines = [line for line in block.splitlines() if line.strip() and not line.startswith(("sh", "bash"))]
    assert lines[0] == f"{PY} bench.py 2>&1 | tee bench.log > /dev/null && echo done"
    env = {**command_env(config)}
    done = subprocess.run(lines[0], shell=True, cwd=bench_project, env=env, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "done", done.stderr
    assert set(read_run(runs(bench_project)[-1]).samples) == set(SEED_MOCK_TIMINGS)
