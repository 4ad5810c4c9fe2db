"""The pytest plugin, run for real: a pytest subprocess in a temp project writes a
run that ``perfslo check`` then reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from perfslo_tui.runs.files import is_run_file_name, read_run
from tests.conftest import run_cli

PERF_TESTS = """\
def work(n=300):
    return sum(i * i for i in range(n))


def test_simple(perf):
    perf.bench("transpile-simple", work, iterations=20)


def test_unconfigured(perf):
    perf.bench("brand-new", work, iterations=10)


def test_timed_and_measured(perf):
    with perf.time("lua-emit-simple"):
        work(1000)
    perf.measure("ir-parse-simple", 0.2)


def test_default_iterations(perf):
    perf.bench("ir-parse-complex", work)


def test_loop(perf):
    for _ in perf.loop("lua-emit-complex", iterations=5):
        work()
"""

# Simulates pytest-xdist: its -n option, and a worker's ``workerinput``.
FAKE_XDIST = """\
import pytest


def pytest_addoption(parser):
    # As pytest-xdist registers it (plugins may take lowercase short options).
    parser.getgroup("xdist")._addoption("-n", "--numprocesses", dest="numprocesses", default=None)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    if config.getoption("numprocesses") == "worker":
        config.workerinput = {"workerid": "gw0"}
"""


def pytest_in(
    project: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a real pytest session in the project folder."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("PERF", "PYTEST_"))}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *args],
        cwd=project,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def runs_in(project: Path) -> list[Path]:
    return sorted(p for p in (project / "artifacts").iterdir() if is_run_file_name(p.name))


@pytest.fixture
def perf_project(project: Path) -> Path:
    (project / "test_perf.py").write_text(PERF_TESTS)
    return project


def test_collect_writes_one_run_that_check_reads(perf_project: Path) -> None:
    result = pytest_in(perf_project, "test_perf.py", "--perf-collect", env={"PERF_ITERATIONS": "7"})
    assert result.returncode == 0, result.stdout + result.stderr
    (path,) = runs_in(perf_project)
    run = read_run(path)
    assert run.source == "pytest"
    assert len(run.samples["transpile-simple"]) == 20
    assert len(run.samples["transpile-simple@ref"]) == 20
    assert len(run.samples["brand-new"]) == 10
    assert len(run.samples["lua-emit-simple"]) == 1
    assert list(run.samples["ir-parse-simple"]) == [0.2]
    assert len(run.samples["ir-parse-complex"]) == 7  # PERF_ITERATIONS
    assert len(run.samples["lua-emit-complex"]) == 5
    # The terminal summary: a line per SLO, "no budget" for the unconfigured one.
    out = result.stdout
    assert "perfslo" in out and f"perfslo: wrote {path}" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "PASS" in lines["transpile-simple"] and "n=20" in lines["transpile-simple"]
    assert "no budget" in lines["brand-new"]
    assert "transpile-simple@ref" not in lines

    check = run_cli("check", "--format", "json", cwd=perf_project)
    assert check.returncode == 0, check.stderr
    report = json.loads(check.stdout)
    names = {slo["name"]: slo for slo in report["slos"]}
    assert "transpile-simple@ref" not in names
    assert names["brand-new"]["status"] == "NO BUDGET" and not names["brand-new"]["has_budget"]
    assert names["transpile-simple"]["status"] == "PASS"
    # All 20 samples are in the run; the stats are of the steady ones (on a busy
    # machine a slow start may be left out as warm-up).
    steady = names["transpile-simple"]["steady"]
    assert steady["samples_total"] == 20
    assert names["transpile-simple"]["stats"]["count"] == 20 - steady["steady_from"]
    text = run_cli("check", cwd=perf_project).stdout
    assert "brand-new" in text and "no budget" in text.lower()


def test_without_collection_nothing_is_timed_or_written(perf_project: Path) -> None:
    result = pytest_in(perf_project, "test_perf.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert runs_in(perf_project) == []
    assert "perfslo: wrote" not in result.stdout


def test_perf_collect_env_turns_collection_on(perf_project: Path) -> None:
    result = pytest_in(perf_project, "test_perf.py", "-k", "simple", env={"PERF_COLLECT": "true"})
    assert result.returncode == 0, result.stdout + result.stderr
    (path,) = runs_in(perf_project)
    assert set(read_run(path).samples) == {"transpile-simple", "transpile-simple@ref"}


def test_no_perf_test_selected_writes_nothing_and_says_so(perf_project: Path) -> None:
    (perf_project / "test_plain.py").write_text("def test_plain():\n    assert True\n")
    result = pytest_in(perf_project, "test_plain.py", "--perf-collect")
    assert result.returncode == 0
    assert runs_in(perf_project) == []
    assert "no samples collected" in result.stdout


def test_a_collection_error_is_reported_as_such(perf_project: Path) -> None:
    (perf_project / "test_broken.py").write_text("import no_such_module_here\n")
    result = pytest_in(perf_project, "test_perf.py", "test_broken.py", "--perf-collect")
    assert result.returncode == 2
    assert runs_in(perf_project) == []
    expected = "perfslo: no run written: pytest could not collect the tests (1 collection error, shown above)"
    assert expected in result.stdout
    assert "no test used the `perf` fixture" not in result.stdout


def test_perfslo_slo_measures_only_that_slo(perf_project: Path) -> None:
    # What perfslo sets to re-run one SLO: the other SLOs' tests still run, untimed.
    only = {"PERFSLO_SLO": "transpile-simple"}
    result = pytest_in(perf_project, "test_perf.py", "--perf-collect", env=only)
    assert result.returncode == 0, result.stdout + result.stderr
    (path,) = runs_in(perf_project)
    assert set(read_run(path).samples) == {"transpile-simple", "transpile-simple@ref"}
    none = pytest_in(perf_project, "test_perf.py", "--perf-collect", env={"PERFSLO_SLO": "not-measured-here"})
    assert none.returncode == 0
    assert "perfslo: no samples for PERFSLO_SLO=not-measured-here: no test measured it" in none.stdout
    assert len(runs_in(perf_project)) == 1


def test_artifacts_folder_option(perf_project: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    result = pytest_in(
        perf_project, "test_perf.py", "-k", "simple", "--perf-collect", f"--perf-artifacts={elsewhere}"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert runs_in(perf_project) == []
    assert len([p for p in elsewhere.iterdir() if is_run_file_name(p.name)]) == 1


@pytest.mark.parametrize("mode", ["2", "worker"])
def test_xdist_is_refused_with_a_clear_message(perf_project: Path, mode: str) -> None:
    (perf_project / "conftest.py").write_text(FAKE_XDIST)
    result = pytest_in(perf_project, "test_perf.py", "--perf-collect", "-n", mode)
    assert result.returncode == 4  # pytest's usage error
    assert "perfslo: --perf-collect does not run under pytest-xdist" in result.stderr
    assert "-p no:xdist or -n 0" in result.stderr
    assert runs_in(perf_project) == []


def test_xdist_without_collection_is_fine(perf_project: Path) -> None:
    (perf_project / "conftest.py").write_text(FAKE_XDIST)
    result = pytest_in(perf_project, "test_perf.py", "-n", "2")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_bad_config_is_a_one_line_usage_error(perf_project: Path) -> None:
    (perf_project / "perfslo.toml").write_text("[slos.transpile-simple]\nbudget = -1\n")
    result = pytest_in(perf_project, "test_perf.py", "--perf-collect")
    assert result.returncode == 4
    assert "perfslo.toml" in result.stderr and "budget" in result.stderr
    assert "Traceback" not in result.stderr
