"""``perfslo budgets``: the evidence, the suggested budgets, the flags and ``--write``.

Real run files (with reference series and busy runs), the real CLI in a
subprocess, real config files rewritten on disk.
"""

from __future__ import annotations

import json
import math
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from perfslo_tui.config import load_config
from perfslo_tui.runs.store import load_history
from perfslo_tui.verdict.budgets import advise, round_up
from perfslo_tui.verdict.engine import evaluate
from tests.conftest import BASE_MS, HOUR_MS, make_run, run_cli

CONFIG = """\
# Budgets of the test project
confirm_runs = 3

[slos.loose]
budget = 2.0         # ms, half used
description = "Loose"

[slos.tight]
budget = 0.98        # ms
description = "Tight"

[slos.right]
budget = 1.25        # ms

[slos.mem]
metric = "peak_memory"
budget_mb = 10.0     # MB

[slos.unbudgeted]
budget = 1.25
metric = ["time", "peak_memory"]
"""
# Run medians around 1.0 ms: a fixed pattern within ±2 %.
PATTERN = [1.0, 1.012, 0.991, 1.004, 1.018, 0.996, 1.007, 0.988, 1.015, 1.001, 0.994, 1.009]


def project_with(root: Path, config: str = CONFIG, name: str = "perfslo.toml") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / name).write_text(config)
    (root / "artifacts").mkdir(exist_ok=True)
    return root


def samples_around(value: float, count: int = 21) -> list[float]:
    return [value * (1 + 0.001 * (i - count // 2)) for i in range(count)]


def write_history(artifacts: Path, busy: tuple[int, ...] = (3, 8), dirty: tuple[int, ...] = (5,)) -> None:
    """12 clean runs of the pattern, plus busy runs (reference 50 % slower, times too) and dirty ones."""
    index = 0
    for i, level in enumerate(PATTERN):
        runs = [(level, 1.0, False)]
        if i in busy:
            runs.append((level * 1.5, 1.5, False))
        if i in dirty:
            runs.append((level * 0.7, 1.0, True))
        for value, speed, is_dirty in runs:
            values: dict[str, list[float]] = {}
            for name in ("loose", "tight", "right", "unbudgeted"):
                values[name] = samples_around(value)
                values[f"{name}@ref"] = samples_around(0.01 * speed)
            values["mem@peak_memory"] = [4.0] * 5
            values["unbudgeted@peak_memory"] = [2.5] * 5
            path = make_run(artifacts, values, ts_ms=BASE_MS + index * HOUR_MS, commit="c" * 40)
            if is_dirty:
                document = json.loads(path.read_text())
                document["metadata"]["dirty"] = True
                path.write_text(json.dumps(document))
            index += 1


def expected_budget(values: list[float], tolerance: float = 0.05) -> tuple[float, float]:
    """The rule computed here from its definition: p95 × (1 + 2t), up to two significant figures."""
    exact = float(np.quantile(values, 0.95)) * (1 + 2 * tolerance)
    digits = 1 - math.floor(math.log10(exact))
    return exact, math.ceil(round(exact * 10**digits, 9)) / 10**digits


def test_round_up_keeps_two_significant_figures_and_never_rounds_down() -> None:
    cases = {
        1.234: 1.3,
        0.0871: 0.088,
        1.1: 1.1,
        1.1000001: 1.2,
        123456: 130000,
        9.95: 10,
        0.85: 0.85,
        2e-5: 2e-5,
    }
    for value, rounded in cases.items():
        assert round_up(value) == rounded, value
        assert round_up(value) >= value
    with pytest.raises(ValueError):
        round_up(0.0)


def test_advice_uses_clean_committed_runs_and_flags_loose_and_tight(tmp_path: Path) -> None:
    root = project_with(tmp_path / "p")
    write_history(root / "artifacts")
    config = load_config(start=root)
    history = load_history(root / "artifacts")
    advice = {(a.slo, a.metric): a for a in advise(history, evaluate(history, config), config)}
    assert list(advice) == [
        ("loose", "time"),
        ("tight", "time"),
        ("right", "time"),
        ("mem", "peak_memory"),
        ("unbudgeted", "time"),
        ("unbudgeted", "peak_memory"),
    ]
    tight = advice[("tight", "time")]
    assert tight.evidence is not None
    # The two busy runs (their reference ran 50 % slower) and the dirty one are left out.
    assert tight.evidence.busy == 2 and tight.evidence.dirty == 1
    assert tight.evidence.count == len(PATTERN)
    assert sorted(tight.evidence.runs) == pytest.approx(sorted(PATTERN))
    exact, rounded = expected_budget(PATTERN)
    assert tight.exact == pytest.approx(exact)
    assert tight.suggested == pytest.approx(rounded) and rounded == 1.2
    assert (tight.flag, tight.action) == ("tight", "raise")
    assert "normal noise violates it" in tight.reason
    assert tight.evidence.over(0.98) == sum(1 for v in PATTERN if v > 0.98)
    loose = advice[("loose", "time")]
    assert (loose.flag, loose.action, loose.suggested) == ("loose", "lower", 1.2)
    assert advice[("right", "time")].flag == "ok" and advice[("right", "time")].action == "keep"
    memory = advice[("mem", "peak_memory")]
    # Memory has no reference series and no noise: 4.0 MB × 1.1 = 4.4 MB.
    assert (memory.flag, memory.unit, memory.key, memory.suggested) == ("loose", "MB", "budget_mb", 4.4)
    missing = advice[("unbudgeted", "peak_memory")]
    assert (missing.flag, missing.action, missing.key, missing.suggested) == (
        "no budget",
        "add",
        "budget_mb",
        2.8,
    )


def test_runs_before_a_step_are_not_evidence(tmp_path: Path) -> None:
    root = project_with(tmp_path / "p", "[slos.tight]\nbudget = 1.4\n")
    for i in range(24):
        level = PATTERN[i % len(PATTERN)] * (1.0 if i < 12 else 1.5)
        commit = ("a" if i < 12 else "b") * 40  # the slower code is a new commit
        make_run(
            root / "artifacts", {"tight": samples_around(level)}, ts_ms=BASE_MS + i * HOUR_MS, commit=commit
        )
    config = load_config(start=root)
    history = load_history(root / "artifacts")
    evaluation = evaluate(history, config)
    [advice] = advise(history, evaluation, config)
    assert advice.evidence is not None and advice.evidence.since_step is not None
    assert min(advice.evidence.runs) > 1.4  # only the new level
    assert advice.flag == "tight" and advice.suggested == expected_budget([v * 1.5 for v in PATTERN])[1]


def test_a_step_within_one_commit_is_the_machine_and_stays_evidence(tmp_path: Path) -> None:
    # benchmarks/budgets.py saw this: a step found among A/A runs of one commit
    # left 3 runs of evidence, and a tight budget went unflagged.
    root = project_with(tmp_path / "p", "[slos.tight]\nbudget = 1.3\n")
    for i in range(24):
        level = PATTERN[i % len(PATTERN)] * (1.0 if i < 20 else 1.25)
        make_run(root / "artifacts", {"tight": samples_around(level)}, ts_ms=BASE_MS + i * HOUR_MS)
    config = load_config(start=root)
    history = load_history(root / "artifacts")
    evaluation = evaluate(history, config)
    [result] = evaluation.slos
    assert result.step is not None  # the engine sees the step...
    [advice] = advise(history, evaluation, config)
    assert advice.evidence is not None and advice.evidence.since_step is None  # ...the evidence keeps it all
    assert advice.evidence.count == 20 and max(advice.evidence.runs) > 1.2
    assert advice.flag == "tight"


def test_too_few_clean_runs_give_no_suggestion(tmp_path: Path) -> None:
    root = project_with(tmp_path / "p", "[slos.tight]\nbudget = 0.5\n")
    for i in range(3):
        make_run(root / "artifacts", {"tight": samples_around(1.0)}, ts_ms=BASE_MS + i * HOUR_MS)
    result = run_cli("budgets", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "tight: 3 clean comparable runs, 5 needed for a suggestion" in result.stdout
    assert "Every budget agrees with the evidence." in result.stdout


def test_the_cli_prints_evidence_flags_and_json(tmp_path: Path) -> None:
    root = project_with(tmp_path / "p")
    write_history(root / "artifacts")
    result = run_cli("budgets", cwd=root)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].startswith("Suggested budget: p95 × (1 + 2t), rounded up to 2 significant figures")
    row = next(line for line in lines if line.startswith("tight "))
    assert row.split()[-2:] == ["⚠", "tight"] and "1.2ms" in row and "0.98ms" in row
    assert "  loose: loose: median 1.00" in result.stdout
    assert "uses 50.1% of the budget (under 70 %)" in result.stdout
    assert "  tight: left out: 2 busy, 1 dirty" in result.stdout
    assert "4 budget(s) would change: `perfslo budgets --write` rewrites perfslo.toml" in result.stdout
    report = json.loads(run_cli("budgets", "--format", "json", "--slo", "mem", cwd=root).stdout)
    assert report["rule"] == "p95" and [b["slo"] for b in report["budgets"]] == ["mem"]
    [mem] = report["budgets"]
    assert mem["evidence"]["median"] == 4.0 and mem["suggested"] == 4.4 and mem["flag"] == "loose"
    assert (
        run_cli("budgets", "--slo", "nope", cwd=root)
        .stderr.strip()
        .endswith("not an SLO of " + str(root / "perfslo.toml"))
    )


def test_write_rewrites_only_the_flagged_budgets_keeps_comments_and_a_backup(tmp_path: Path) -> None:
    root = project_with(tmp_path / "p")
    write_history(root / "artifacts")
    before = (root / "perfslo.toml").read_text()
    result = run_cli("budgets", "--write", cwd=root)
    assert result.returncode == 0, result.stderr
    after = (root / "perfslo.toml").read_text()
    # The diff is shown, then the file is rewritten.
    assert "-budget = 0.98        # ms" in result.stdout
    assert "+budget = 1.2        # ms — raised from 0.98ms by perfslo budgets: tight" in result.stdout
    [backup] = root.glob("perfslo.toml.perfslo-*.bak")
    assert backup.read_text() == before and f"Previous file kept as {backup}" in result.stdout
    changed = [
        (old, new) for old, new in zip(before.splitlines(), after.splitlines(), strict=False) if old != new
    ]
    assert [old for old, _new in changed] == [
        "budget = 2.0         # ms, half used",
        "budget = 0.98        # ms",
        "budget_mb = 10.0     # MB",
    ]
    assert after.splitlines()[0] == "# Budgets of the test project"
    assert "budget = 1.2         # ms, half used — lowered from 2ms by perfslo budgets: loose, p95" in after
    assert "budget_mb = 4.4     # MB — lowered from 10 MB by perfslo budgets: loose" in after
    assert "budget_mb = 2.8  # added from none by perfslo budgets: no budget" in after
    config = load_config(start=root)
    assert config.slos["tight"].budget_ms == 1.2 and config.slos["unbudgeted"].budget_mb == 2.8
    # Applied, the budgets agree with the evidence: nothing more to write.
    again = run_cli("budgets", "--write", cwd=root)
    assert "Nothing to write" in again.stdout and (root / "perfslo.toml").read_text() == after
    # A second rewrite replaces perfslo's note instead of stacking another.
    (root / "perfslo.toml").write_text(after.replace("budget = 1.2        #", "budget = 0.9        #"))
    assert run_cli("budgets", "--write", "--slo", "tight", cwd=root).returncode == 0
    line = next(x for x in (root / "perfslo.toml").read_text().splitlines() if "from 0.9ms" in x)
    assert line == (
        "budget = 1.2        # ms — raised from 0.9ms by perfslo budgets: tight, "
        "p95 1.016ms of 12 clean runs, rule p95 × (1 + 2t)"
    )


def test_write_in_pyproject_leaves_the_rest_of_the_file_alone(tmp_path: Path) -> None:
    pyproject = (
        '[project]\nname = "demo"  # the package\nversion = "1.0"\n\n'
        "[tool.perfslo]\nconfirm_runs = 3\n\n"
        "[tool.perfslo.slos.tight]\nbudget = 0.98\n\n"
        "[tool.ruff]\nline-length = 100\n"
    )
    root = project_with(tmp_path / "p", pyproject, name="pyproject.toml")
    for i, level in enumerate(PATTERN):
        make_run(root / "artifacts", {"tight": samples_around(level)}, ts_ms=BASE_MS + i * HOUR_MS)
    result = run_cli("budgets", "--write", cwd=root)
    assert result.returncode == 0, result.stderr
    after = (root / "pyproject.toml").read_text()
    assert after == pyproject.replace(
        "budget = 0.98\n",
        "budget = 1.2  # raised from 0.98ms by perfslo budgets: tight, p95 1.016ms of 12 clean runs, "
        "rule p95 × (1 + 2t)\n",
    )


def test_a_config_that_cannot_be_rewritten_safely_is_refused_in_one_line(tmp_path: Path) -> None:
    root = project_with(tmp_path / "p", "[slos.tight]\nbudget = 0.98\n")
    for i, level in enumerate(PATTERN):
        make_run(root / "artifacts", {"tight": samples_around(level)}, ts_ms=BASE_MS + i * HOUR_MS)
    config = root / "perfslo.toml"
    # Read-only (by its mode bits, so root is refused too).
    config.chmod(0o444)
    result = run_cli("budgets", "--write", cwd=root)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"perfslo: {config}: read-only: not rewritten (make it writable, or apply the diff by hand)"
    ]
    assert config.read_text() == "[slos.tight]\nbudget = 0.98\n"
    assert not list(root.glob("*.bak"))
    config.chmod(stat.S_IRUSR | stat.S_IWUSR)
    # Dotted keys spread over the parent table: tomlkit cannot change them in place.
    dotted = '[slos]\ntight.budget = 0.98\nother.budget = 1.0\ntight.description = "x"\n'
    config.write_text(dotted)
    result = run_cli("budgets", "--write", cwd=root)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "written with dotted keys" in result.stderr and "not rewritten" in result.stderr
    assert config.read_text() == dotted and not list(root.glob("*.bak"))


def test_write_keeps_a_target_under_the_budget(tmp_path: Path) -> None:
    root = project_with(tmp_path / "p", "[slos.loose]\nbudget = 3.0\ntarget = 1.5\n")
    for i, level in enumerate(PATTERN):
        make_run(root / "artifacts", {"loose": samples_around(level)}, ts_ms=BASE_MS + i * HOUR_MS)
    result = run_cli("budgets", "--write", cwd=root)
    assert result.returncode == 0, result.stderr
    # The evidence says 1.2 ms, but a budget under the target would be invalid: the target bounds it.
    assert load_config(start=root).slos["loose"].budget_ms == 1.5


def test_without_a_config_there_is_nothing_to_suggest(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = run_cli("budgets", cwd=tmp_path / "empty")
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "perfslo: no config file found: no SLOs configured: nothing to suggest budgets for"
    )


@pytest.mark.slow
def test_the_budgets_benchmark_runs_in_quick_mode(tmp_path: Path) -> None:
    out = tmp_path / "outcome.json"
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "budgets.py"
    result = subprocess.run(
        [sys.executable, str(script), "--quick", "--json", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    outcome = json.loads(out.read_text())
    rows = {r["slo"]: r for r in outcome["rows"]}
    assert set(rows) == {
        f"{w}-{k}" for w in ("sort", "json", "regex", "alloc") for k in ("loose", "tight", "right")
    }
    assert all(r["aa_runs"] == 5 for r in rows.values())
    # Memory is deterministic: its designed budgets are flagged as designed.
    assert [rows[f"alloc-{k}"]["flag"] for k in ("loose", "tight", "right")] == ["loose", "tight", "ok"]
    assert "| rule | A/A runs past its budget | median A/A use of its budget |" in result.stdout
    assert "Flags agreeing with the A/A truth:" in result.stdout
