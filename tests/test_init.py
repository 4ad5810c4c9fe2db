"""``perfslo init`` on real little projects, then the loop it promises: bench, check, a card.

Each project is made on disk (a git repository, a package, real benchmark
results written by the real tools); init runs as the CLI does, its config is
loaded by the real loader, and its bench command really runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from perfslo_tui.actions.project_setup import detect, measure_command, plan_init, round_budget, slo_name
from perfslo_tui.config import load_config
from perfslo_tui.runs.files import read_run
from tests.conftest import run_cli

FIXTURES = Path(__file__).parent / "fixtures" / "imports"


def git_repo(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def python_project(root: Path) -> Path:
    git_repo(root)
    (root / "pyproject.toml").write_text('[project]\nname = "tiny-calc"\nversion = "0.1"\n')
    package = root / "src" / "tiny_calc"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("def add(a, b):\n    return a + b\n")
    return root


def runs(root: Path) -> list[Path]:
    return sorted((root / "artifacts").glob("perf-*.json"))


def test_budgets_round_up_with_headroom() -> None:
    assert round_budget(45.2) == 68.0
    assert round_budget(0.0123) == pytest.approx(0.019)
    assert round_budget(1000) == 1500.0
    assert slo_name("node bench/simple.js --n 10") == "node-bench-simple.js-n-10"


def test_a_python_project_from_nothing_to_a_passing_gate(tmp_path: Path) -> None:
    root = python_project(tmp_path / "proj")
    # Before: every command says what is missing and what fixes it.
    before = run_cli("check", cwd=root)
    assert before.returncode == 2
    assert before.stderr.strip() == (
        f"perfslo: no perfslo config in {root} (perfslo.toml, or [tool.perfslo] in pyproject.toml): "
        "run `perfslo init`"
    )
    result = run_cli("init", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "found pyproject.toml: project tiny-calc, package tiny_calc" in result.stdout
    config = load_config(start=root)
    assert config.path == root / "perfslo.toml"
    assert config.bench_command == "perfslo run"
    slo = config.slos["import-tiny_calc"]
    assert slo.command == 'PYTHONPATH=src python -c "import tiny_calc"'
    assert slo.budget_ms > 0
    text = (root / "perfslo.toml").read_text()
    assert "# measured" in text and "PERFSLO_SLO" in text  # commented, says how one SLO is re-run
    ignore = (root / ".gitignore").read_text().splitlines()
    assert "artifacts/perf-*.json" in ignore and "artifacts/.perfslo-cache/" in ignore
    assert (root / "artifacts").is_dir()
    # The next missing piece, then the one command that fixes it.
    nothing = run_cli("check", cwd=root)
    assert nothing.returncode == 2
    assert nothing.stderr.strip() == "perfslo: no runs in artifacts/ yet: run `perfslo bench`"
    bench = run_cli("bench", cwd=root)
    assert bench.returncode == 0, bench.stderr
    [run] = runs(root)
    assert set(read_run(run).samples) == {"import-tiny_calc", "import-tiny_calc@ref"}
    # Before the first commit the run says so, in its name and its metadata.
    assert run.name.startswith("perf-uncommitted-")
    assert read_run(run).dirty
    check = run_cli("check", cwd=root)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "PASSED" in check.stdout
    # The cache folder keeps itself out of git.
    assert (root / "artifacts" / ".perfslo-cache" / ".gitignore").read_text().splitlines()[-1] == "*"
    # Running init again never overwrites; --force keeps the old file.
    again = run_cli("init", cwd=root)
    assert again.returncode == 2 and "perfslo init --force" in again.stderr
    (root / "perfslo.toml").write_text(text + "# my edit\n")
    forced = run_cli("init", "--force", "--no-measure", cwd=root)
    assert forced.returncode == 0, forced.stderr
    assert (root / "perfslo.toml.bak").read_text().endswith("# my edit\n")
    assert (
        sum(1 for line in (root / ".gitignore").read_text().splitlines() if line == "artifacts/perf-*.json")
        == 1
    )


def test_a_failing_command_is_left_out_and_said_so(tmp_path: Path) -> None:
    root = python_project(tmp_path / "proj")
    text = (root / "pyproject.toml").read_text()
    (root / "pyproject.toml").write_text(text + '[project.scripts]\nnot-installed-cli = "tiny_calc:add"\n')
    result = run_cli("init", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "left out not-installed-cli-help: `not-installed-cli --help` failed here" in result.stdout
    assert "not-installed-cli-help" not in load_config(start=root).slos
    assert "# Left out, not-installed-cli-help" in (root / "perfslo.toml").read_text()


def test_pytest_benchmark_results_become_the_harness(tmp_path: Path) -> None:
    root = python_project(tmp_path / "proj")
    tests = root / "tests"
    tests.mkdir()
    (tests / "test_speed.py").write_text(
        "from tiny_calc import add\n\n"
        "def test_add(benchmark):\n    benchmark(add, 1, 2)\n\n"
        "def test_sum(benchmark):\n    benchmark(sum, range(100))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    saved = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--benchmark-autosave", str(tests)],
        cwd=root, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert saved.returncode == 0, saved.stdout + saved.stderr
    found = detect(root)
    assert len(found.pytest_benchmark) == 1
    result = run_cli("init", cwd=root)
    assert result.returncode == 0, result.stderr
    config = load_config(start=root)
    assert set(config.slos) == {"test_add", "test_sum"}
    assert config.bench_command is not None and "perfslo import pytest-benchmark" in config.bench_command
    # The bench command works as written, and one SLO narrows pytest with -k.
    bench = subprocess.run(
        [sys.executable, "-m", "perfslo_tui", "bench"], cwd=root, env=env,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert bench.returncode == 0, bench.stdout + bench.stderr
    assert set(read_run(runs(root)[-1]).samples) == {"test_add", "test_sum"}
    one = subprocess.run(
        [sys.executable, "-m", "perfslo_tui", "bench", "--slo", "test_sum"], cwd=root, env=env,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert one.returncode == 0, one.stdout + one.stderr
    assert set(read_run(runs(root)[-1]).samples) == {"test_sum"}


def test_a_node_project_with_a_seed_baseline(tmp_path: Path) -> None:
    if shutil.which("node") is None:
        pytest.fail("node is not installed: `apt-get install nodejs` (scripts/test.sh does it as root)")
    root = git_repo(tmp_path / "proj")
    (root / "package.json").write_text(
        json.dumps({"name": "mini-lib", "main": "lib.js", "scripts": {"bench": "node bench.js"}})
    )
    (root / "lib.js").write_text("module.exports = { twice: (x) => 2 * x };\n")
    (root / "bench.js").write_text(
        "const { twice } = require('./lib');\nfor (let i = 0; i < 1e5; i++) twice(i);\n"
    )
    shutil.copy(FIXTURES / "luascript" / ".perf-baseline.json", root / ".perf-baseline.json")
    result = run_cli("init", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "found a LUASCRIPT-format baseline: .perf-baseline.json" in result.stdout
    assert "perfslo import luascript-baseline .perf-baseline.json" in result.stdout
    config = load_config(start=root)
    seed = json.loads((root / ".perf-baseline.json").read_text())["benchmarks"]
    assert set(seed) <= set(config.slos)
    assert config.slos["load-mini-lib"].command == "node -e \"require('./lib.js')\""
    assert config.slos["npm-bench"].command == "npm run --silent bench"
    # The seed baseline now imports (its names are configured SLOs), and the bench runs.
    imported = run_cli("import", "luascript-baseline", ".perf-baseline.json", cwd=root)
    assert imported.returncode == 0, imported.stderr
    bench = run_cli("bench", cwd=root)
    assert bench.returncode == 0, bench.stdout + bench.stderr
    expected = {"load-mini-lib", "load-mini-lib@ref", "npm-bench", "npm-bench@ref"}
    assert set(read_run(runs(root)[-1]).samples) == expected


def test_hyperfine_exports_become_command_slos(tmp_path: Path) -> None:
    hyperfine = shutil.which("hyperfine")
    if hyperfine is None:
        pytest.fail(
            "hyperfine is not installed: `apt-get install hyperfine` (scripts/test.sh does it as root)"
        )
    root = git_repo(tmp_path / "proj")
    (root / "bench").mkdir()
    export = root / "bench" / "results.json"
    done = subprocess.run(
        [hyperfine, "-N", "--runs", "3", "--export-json", str(export),
         "-n", "named-only", "true", "sleep 0.01"],
        cwd=root, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = detect(root)
    assert found.hyperfine == [export]
    plan = plan_init(found, measure_command(root))
    assert [(s.name, s.command) for s in plan.slos] == [("sleep-0.01", "sleep 0.01")]
    assert plan.rename == {"sleep 0.01": "sleep-0.01"}
    assert plan.bench_command == "perfslo run"
    assert any(d.startswith("named-only: `named-only` failed here") for d in plan.dropped)


def test_an_empty_folder_gets_a_config_that_says_what_to_add(tmp_path: Path) -> None:
    root = git_repo(tmp_path / "empty")
    result = run_cli("init", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "found nothing perfslo knows" in result.stdout
    assert "no command to measure was found" in result.stdout
    config = load_config(start=root)
    assert config.slos == {} and config.bench_command is None
    check = run_cli("check", cwd=root)
    assert check.returncode == 2
    assert (
        check.stderr.strip()
        == f"perfslo: {root / 'perfslo.toml'} declares no SLOs: run `perfslo init --force`"
    )
    bench = run_cli("bench", cwd=root)
    assert bench.returncode == 2 and "no bench_command configured" in bench.stderr
