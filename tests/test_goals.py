"""Targets beside budgets, the baseline's age, and re-establishing it after an improvement.

Real config files and run files, real git repositories, the real CLI in a
subprocess and the real dashboard renderer.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from benchmarks.shared import git
from perfslo_tui.config import ConfigError, load_config
from perfslo_tui.report.html import render_html
from perfslo_tui.runs.files import baseline_document_from_run, read_run, write_baseline
from perfslo_tui.runs.store import load_history
from perfslo_tui.verdict.engine import evaluate
from tests.conftest import BASE_MS, HOUR_MS, make_run, run_cli

DAY_MS = 24 * HOUR_MS
TARGET_CONFIG = """\
confirm_runs = 3

[slos.parse]
budget = 1.5
target = 1.0
metric = ["time", "peak_memory"]
budget_mb = 10.0
target_mb = 5.0
"""


def project_with(root: Path, config: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "perfslo.toml").write_text(config)
    (root / "artifacts").mkdir(exist_ok=True)
    return root


def commit(root: Path, message: str) -> str:
    (root / "code.txt").write_text(message)
    git(root, "add", "code.txt")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")


def parse_run(root: Path, ms: float, mb: float, index: int, sha: str = "a" * 40) -> Path:
    values = {"parse": [ms * (1 + 0.001 * (i - 10)) for i in range(21)], "parse@peak_memory": [mb] * 5}
    return make_run(root / "artifacts", values, ts_ms=BASE_MS + index * HOUR_MS, commit=sha)


# ------------------------------------------------------------------ config


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("budget = 1.0\ntarget = 1.2", "slos.x.target: 1.2 ms is above the budget 1 ms (`budget`)"),
        ("budget = 1.0\ntarget_mb = 3", "slos.x.target_mb: set, but the SLO does not measure peak_memory"),
        (
            'metric = "instructions"\nbudget_instructions = 5e6\ntarget_instructions = 6e6',
            "slos.x.target_instructions: 6e+06 instructions is above the budget 5e+06 instructions",
        ),
        ("budget = 1.0\ntarget = 0", "slos.x.target: must be > 0"),
    ],
)
def test_a_bad_target_is_one_line_from_the_gate(tmp_path: Path, body: str, problem: str) -> None:
    root = project_with(tmp_path / "p", f"[slos.x]\n{body}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(start=root)
    assert problem in str(caught.value)
    result = run_cli("check", cwd=root)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"perfslo: {root / 'perfslo.toml'}: ") and problem in line


def test_targets_and_baseline_limits_parse(tmp_path: Path) -> None:
    config = TARGET_CONFIG.replace("confirm_runs = 3\n", "confirm_runs = 3\nbaseline_max_age_days = 30\n")
    root = project_with(tmp_path / "p", config)
    loaded = load_config(start=root)
    specs = {s.metric: (s.budget, s.target) for s in loaded.slos["parse"].metric_budgets()}
    assert specs == {"time": (1.5, 1.0), "peak_memory": (10.0, 5.0)}
    assert loaded.baseline_max_age_days == 30 and loaded.baseline_max_commits is None
    (root / "perfslo.toml").write_text("baseline_max_commits = 0\n" + config)
    with pytest.raises(ConfigError, match="baseline_max_commits: must be >= 1"):
        load_config(start=root)


# ------------------------------------------------------------------ targets


def test_progress_toward_a_target_and_one_celebration_when_confirmed(tmp_path: Path) -> None:
    root = project_with(tmp_path / "p", TARGET_CONFIG)
    for i in range(5):
        parse_run(root, 1.2, 6.0, i)
    text = run_cli("check", cwd=root).stdout
    assert "  parse: 80.0% of budget · target 1ms: 0.2ms to go" in text
    assert "  parse · peak memory: 60.0% of budget · target 5 MB: 1 MB to go" in text
    # The target is met in one run, then two more: celebrated on the third only.
    outputs = []
    for i in range(5, 9):
        parse_run(root, 0.95, 6.0, i)
        outputs.append(run_cli("check", cwd=root).stdout)
    assert "target 1ms met in this run (1/3 runs)" in outputs[0]
    assert "target 1ms met in this run (2/3 runs)" in outputs[1]
    celebrated = [out for out in outputs if "🎯" in out]
    assert celebrated == [outputs[2]]
    assert "parse: 🎯 target 1ms met: 0.95ms in 3 runs in a row; tighten the budget" in outputs[2]
    assert "target 1ms met (3/3 runs); tighten the budget to keep the gain (`perfslo budgets`)" in outputs[3]
    report = json.loads(run_cli("check", "--format", "json", cwd=root).stdout)
    [slo] = report["slos"]
    assert slo["target"]["met"] and slo["target"]["confirmed"] and not slo["target"]["newly_met"]
    assert slo["target"]["streak"] == 4 and slo["target"]["to_go"] == 0
    assert slo["metrics"][0]["target"]["to_go"] == pytest.approx(1.0)
    markdown = run_cli("check", "--format", "markdown", cwd=root).stdout
    assert (
        "### Targets" in markdown and "- **parse**: 63.3% of budget · target 1ms met (3/3 runs)" in markdown
    )
    evaluation = evaluate(load_history(root / "artifacts"), load_config(start=root))
    html = render_html(evaluation, generated_ms=BASE_MS)
    assert '<div class="target">target 1ms met (3/3 runs); tighten the budget' in html


# ------------------------------------------------------------------ baseline age


def test_baseline_age_in_days_and_commits_warns_past_the_limits(tmp_path: Path) -> None:
    config = "baseline_max_age_days = 10\nbaseline_max_commits = 2\n\n[slos.parse]\nbudget = 1.5\n"
    root = project_with(tmp_path / "p", config)
    first = commit(root, "one")
    base_run = make_run(root / "artifacts", {"parse": 1.0}, ts_ms=BASE_MS, commit=first)
    document = baseline_document_from_run(read_run(base_run), established_ms=BASE_MS)
    write_baseline(root / "artifacts", document)
    for name in ("two", "three", "four"):
        last = commit(root, name)
    make_run(root / "artifacts", {"parse": 1.0}, ts_ms=BASE_MS + 12 * DAY_MS, commit=last)
    history = load_history(root / "artifacts")
    assert history.baseline_distance is not None and history.baseline_distance.commits == 3
    result = run_cli("check", cwd=root)
    assert result.returncode == 0, result.stderr
    assert f"Baseline: commit {first[:12]}, established 2026-11-18T" in result.stdout
    assert "(age 12 days, 3 commits)" in result.stdout
    assert (
        f"⚠️  baseline {first[:7]} is 12 days old (baseline_max_age_days = 10): re-establish it "
        "(`perfslo baseline --establish`)" in result.stdout
    )
    assert f"⚠️  baseline {first[:7]} is 3 commits behind (baseline_max_commits = 2)" in result.stdout
    assert "✅ PASSED" in result.stdout  # a stale baseline is a warning line, not a performance verdict
    report = json.loads(run_cli("check", "--format", "json", cwd=root).stdout)
    assert report["baseline"]["age_days"] == 12 and report["baseline"]["commits_since"] == 3
    assert report["baseline"]["stale"] and len(report["baseline"]["warnings"]) == 2
    assert report["goals"] == [f"⚠️  {line}" for line in report["baseline"]["warnings"]]
    html = render_html(evaluate(history, load_config(start=root)), generated_ms=BASE_MS)
    assert '<span id="baseline-age" class="stale">(age 12 days, 3 commits)</span>' in html
    # An older run has no count: git counted to the latest run's commit.
    old = run_cli("check", "--format", "json", "--run", str(base_run), cwd=root)
    assert json.loads(old.stdout)["baseline"]["commits_since"] is None


def test_without_git_the_age_is_in_days_only(tmp_path: Path) -> None:
    root = tmp_path / "nogit"
    (root / "artifacts").mkdir(parents=True)
    (root / "perfslo.toml").write_text("[slos.parse]\nbudget = 1.5\n")
    base_run = make_run(root / "artifacts", {"parse": 1.0}, ts_ms=BASE_MS, commit="a" * 40)
    write_baseline(root / "artifacts", baseline_document_from_run(read_run(base_run), established_ms=BASE_MS))
    make_run(root / "artifacts", {"parse": 1.0}, ts_ms=BASE_MS + 2 * DAY_MS, commit="b" * 40)
    result = run_cli("check", cwd=root)
    assert "(age 2 days)" in result.stdout and "commit" not in result.stdout.split("(age")[1].split(")")[0]


def test_the_header_warning_names_only_the_limits_passed() -> None:
    from perfslo_tui.verdict.goals import BaselineAge

    commits_only = BaselineAge("c" * 40, days=0.01, commits=5, max_days=30, max_commits=3)
    assert commits_only.brief == "baseline 5 commits behind (max 3)"
    days_only = BaselineAge("c" * 40, days=40.2, commits=2, max_days=30, max_commits=3)
    assert days_only.brief == "baseline 40 days old (max 30 days)"
    both = BaselineAge("c" * 40, days=40.2, commits=5, max_days=30, max_commits=3)
    assert both.brief == "baseline 40 days old (max 30 days) and 5 commits behind (max 3)"
    assert BaselineAge("c" * 40, days=2, commits=1, max_days=30, max_commits=3).brief == ""


def test_the_short_target_form_for_small_cards() -> None:
    from perfslo_tui.verdict.goals import TargetProgress

    def progress(value: float, streak: int) -> TargetProgress:
        return TargetProgress("time", "ms", 1.0, value, 1.5, streak, 3)

    assert progress(1.15, 0).compact == "target 1ms: 0.15ms to go"
    assert progress(0.9, 1).compact == "target 1/3"
    assert progress(0.9, 3).compact == "target met"
    assert progress(0.9, 7).compact == "target met"
    assert progress(1.15, 0).tiny == "0.15ms to target"
    assert progress(0.9, 1).tiny == "target 1/3"


# ------------------------------------------------------------------ re-establishing


def improvement_history(root: Path, later: list[float], other: float | None = None) -> None:
    """Five runs at 1.0 ms on the baseline's commit (the first is the baseline), then ``later`` runs."""
    names = {"parse": 1.0, **({"emit": 1.0} if other is not None else {})}
    first = None
    for i in range(5):
        level = 1.0 + 0.01 * (i % 3 - 1)
        values = {name: [level * v * (1 + 0.002 * (k - 10)) for k in range(21)] for name, v in names.items()}
        path = make_run(root / "artifacts", values, ts_ms=BASE_MS + i * HOUR_MS, commit="a" * 40)
        first = first or path
    assert first is not None
    write_baseline(root / "artifacts", baseline_document_from_run(read_run(first), established_ms=BASE_MS))
    for j, value in enumerate(later):
        values = {"parse": [value * (1 + 0.002 * (k - 10)) for k in range(21)]}
        if other is not None:
            values["emit"] = [other * (1 + 0.002 * (k - 10)) for k in range(21)]
        make_run(root / "artifacts", values, ts_ms=BASE_MS + (10 + j) * HOUR_MS, commit="b" * 40)


def test_the_gate_suggests_a_new_baseline_after_a_confirmed_improvement(tmp_path: Path) -> None:
    config = "confirm_runs = 3\n\n[slos.parse]\nbudget = 1.5\n"
    root = project_with(tmp_path / "p", config)
    improvement_history(root, [0.8, 0.81, 0.79, 0.8])
    evaluation = evaluate(load_history(root / "artifacts"), load_config(start=root))
    parse = evaluation.result("parse")
    assert parse is not None and parse.improvement is not None
    assert parse.improvement.change == pytest.approx(-0.2, abs=0.01) and parse.improvement.significant
    result = run_cli("check", cwd=root)
    pooled = f"{parse.improvement.change * 100:+.1f}%"
    assert f"↻ improved in every run since the baseline (parse {pooled}): re-establish it" in result.stdout


@pytest.mark.parametrize(
    ("later", "other"),
    [
        ([0.8, 0.81], None),  # two runs: not yet confirmed (3 needed)
        ([0.8, 1.0, 0.8, 0.79], None),  # one run since the baseline was not faster
        ([0.8, 0.81, 0.79, 0.8], 1.3),  # faster here, but another SLO is slower: a new baseline would hide it
    ],
)
def test_no_new_baseline_is_suggested_unless_every_run_since_improved(
    tmp_path: Path, later: list[float], other: float | None
) -> None:
    slos = "[slos.parse]\nbudget = 1.5\n" + ("\n[slos.emit]\nbudget = 1.5\n" if other is not None else "")
    root = project_with(tmp_path / "p", "confirm_runs = 3\n\n" + slos)
    improvement_history(root, later, other)
    evaluation = evaluate(load_history(root / "artifacts"), load_config(start=root))
    assert evaluation.rebaseline_advice == ""
    assert "re-establish" not in run_cli("check", cwd=root).stdout
