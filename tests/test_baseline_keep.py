"""Nothing is lost: partial runs and imports keep the other SLOs' baselines; mismatched imports refused."""

from __future__ import annotations

import json
from pathlib import Path

import orjson

from perfslo_tui.actions.baseline import establish_baseline, plan_baseline
from perfslo_tui.config import load_config
from perfslo_tui.runs.files import read_baseline
from perfslo_tui.runs.store import load_history
from perfslo_tui.verdict.engine import evaluate
from tests.conftest import BASE_MS, SEED_MOCK_TIMINGS, RunWriter, run_cli

FIXTURES = Path(__file__).parent / "fixtures" / "imports"
OLD = "a" * 40
NEW = "b" * 40


def test_a_one_slo_run_made_the_baseline_keeps_the_others(project: Path, write: RunWriter) -> None:
    full = write(SEED_MOCK_TIMINGS, ts_ms=BASE_MS, commit=OLD, spread=0.02)
    assert run_cli("baseline", "--establish", "--run", str(full), cwd=project).returncode == 0
    one = write({"lua-emit-simple": 0.3}, ts_ms=BASE_MS + 60_000, commit=NEW, spread=0.02)
    config = load_config(start=project)
    history = load_history(config.artifacts_dir)
    plan = plan_baseline(history.measured(one.name), history.baseline)
    assert plan.from_run == ["lua-emit-simple"]
    assert set(plan.kept) == set(SEED_MOCK_TIMINGS) - {"lua-emit-simple"}
    assert set(plan.kept.values()) == {OLD}

    result = run_cli("baseline", "--establish", "--run", str(one), cwd=project)
    assert result.returncode == 0, result.stderr
    assert "kept from the previous baseline (commit aaaaaaa)" in result.stdout
    baseline = read_baseline(project / "artifacts" / ".perf-baseline.json")
    assert baseline is not None
    assert set(baseline.medians) == set(SEED_MOCK_TIMINGS)
    assert baseline.commit == NEW and baseline.commit_of("lua-emit-simple") == NEW
    assert baseline.medians["lua-emit-simple"] == 0.3
    for name, value in SEED_MOCK_TIMINGS.items():
        if name != "lua-emit-simple":
            assert baseline.medians[name] == value
            assert baseline.commit_of(name) == OLD and baseline.source_run_of(name) == full.name
    # The regression panel has a baseline for every SLO, each against its own commit.
    evaluation = evaluate(load_history(config.artifacts_dir), config)
    for result_ in evaluation.slos:
        assert result_.vs_baseline is not None, result_.name
        expected = NEW if result_.name == "lua-emit-simple" else OLD
        assert result_.vs_baseline.reference_commit == expected
    # The replaced baseline is kept whole.
    [kept] = (project / "artifacts" / "baselines").glob("perf-baseline-*.json")
    assert set(orjson.loads(kept.read_bytes())["slos"]) >= set(SEED_MOCK_TIMINGS)
    # And the next full run becomes the baseline of everything, from one commit again.
    third = write(SEED_MOCK_TIMINGS, ts_ms=BASE_MS + 120_000, commit="c" * 40)
    _path, _kept, _run, carried = establish_baseline(config, third)
    assert carried == {}
    again = read_baseline(project / "artifacts" / ".perf-baseline.json")
    assert again is not None and again.slo_commits == {}


def test_baseline_show_lists_slos_not_reference_rows(project: Path, write: RunWriter) -> None:
    samples = {"transpile-simple": 0.8, "transpile-simple@ref": 0.01, "lua-emit-simple": 0.2}
    run = write(samples, ts_ms=BASE_MS, commit=OLD)
    assert run_cli("baseline", "--establish", "--run", str(run), cwd=project).returncode == 0
    one = write({"transpile-simple": 0.7}, ts_ms=BASE_MS + 1000, commit=NEW)
    assert run_cli("baseline", "--establish", "--run", str(one), cwd=project).returncode == 0
    shown = run_cli("baseline", "--show", cwd=project).stdout
    assert "@ref" not in shown
    rows = {line.split()[0]: line for line in shown.splitlines()[6:]}
    assert set(rows) == {"transpile-simple", "lua-emit-simple"}
    assert "kept from commit aaaaaaa" in rows["lua-emit-simple"]
    assert "kept" not in rows["transpile-simple"]


def test_an_import_matching_no_configured_slo_is_refused_with_the_rename_hint(project: Path) -> None:
    seed = FIXTURES / "luascript" / ".perf-baseline.json"
    names = list(orjson.loads(seed.read_bytes())["benchmarks"])
    result = run_cli("import", "luascript-baseline", str(seed), cwd=project)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"perfslo: {seed}: none of its {len(names)} benchmark name(s) ('{names[0]}'")
    assert "is a configured SLO" in line and f'[rename] "{names[0]}" = "' in line
    assert not (project / "artifacts" / ".perf-baseline.json").exists()
    # With the hint followed, the same file imports.
    with (project / "perfslo.toml").open("a") as handle:
        handle.write(f'\n[rename]\n{json.dumps(names[0])} = "transpile-simple"\n')
    result = run_cli("import", "luascript-baseline", str(seed), cwd=project)
    assert result.returncode == 0, result.stderr
    assert f"{len(names) - 1} name(s) match no configured SLO" in result.stdout


def test_an_imported_baseline_keeps_the_slos_it_lacks(project: Path, write: RunWriter) -> None:
    full = write(SEED_MOCK_TIMINGS, ts_ms=BASE_MS, commit=OLD)
    assert run_cli("baseline", "--establish", "--run", str(full), cwd=project).returncode == 0
    with (project / "perfslo.toml").open("a") as handle:
        handle.write('\n[rename]\n"simple-assignment" = "transpile-simple"\n')
    seed = FIXTURES / "luascript" / ".perf-baseline.json"
    result = run_cli("import", "luascript-baseline", str(seed), cwd=project)
    assert result.returncode == 0, result.stderr
    assert (
        f"{len(SEED_MOCK_TIMINGS) - 1} SLO(s) not in the file keep their previous baseline" in result.stdout
    )
    baseline = read_baseline(project / "artifacts" / ".perf-baseline.json")
    assert baseline is not None
    assert baseline.medians["transpile-simple"] == 0.013
    assert baseline.commit_of("transpile-function") == OLD
    assert baseline.medians["transpile-function"] == SEED_MOCK_TIMINGS["transpile-function"]
