"""The gate's policy once an interleaved compare is attached to an SLO (``ab_confirmation``).

Real run files and the real engine; the compare's decisions are made by the
real rule from constructed pair differences.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from perfslo_tui.actions.baseline import establish_baseline
from perfslo_tui.actions.confirm import attach_ab_confirmations, plan_compare
from perfslo_tui.config import Config, load_config
from perfslo_tui.report.json_report import render_json
from perfslo_tui.report.text import render_text
from perfslo_tui.runs.store import load_history
from perfslo_tui.verdict.ab import ABConfirmation, decide
from perfslo_tui.verdict.engine import evaluate
from perfslo_tui.verdict.model import Evaluation, SLOResult, Verdict
from tests.conftest import BASE_MS, HOUR_MS, RunWriter

BASE_COMMIT = "1" * 40
CONFIG = "confirm_runs = 3\n\n[slos.work]\nbudget = 5.0\ntolerance = 0.05\n"


def samples(value: float, i: int) -> list[float]:
    offset = 1 + 0.004 * ((i * 37 % 11) - 5) / 5
    return [value * offset * (1 + 0.004 * ((k % 7) - 3)) for k in range(21)]


def slow_run(project: Path, write: RunWriter, latest: float = 1.2) -> tuple[Config, Evaluation]:
    """Six quiet runs at 1.0 ms, the baseline, then one run at ``latest``: a suspected regression."""
    (project / "perfslo.toml").write_text(CONFIG)
    last = None
    for i in range(6):
        last = write({"work": samples(1.0, i)}, ts_ms=BASE_MS + i * HOUR_MS, commit=BASE_COMMIT)
    config = load_config(start=project)
    establish_baseline(config, last)
    write({"work": samples(latest, 9)}, ts_ms=BASE_MS + 20 * HOUR_MS, commit="2" * 40)
    return config, evaluate(load_history(config.artifacts_dir), config)


def compared(change: float, sd: float, n: int = 8) -> ABConfirmation:
    d = list(math.log1p(change) + np.random.default_rng(4).normal(0.0, sd, n))
    return ABConfirmation(decide(d, tolerance=0.05, max_pairs=n), BASE_COMMIT, "HEAD 2222222")


def work(evaluation: Evaluation) -> SLOResult:
    result = evaluation.result("work")
    assert result is not None
    return result


def test_a_suspected_regression_is_what_a_compare_settles(project: Path, write: RunWriter) -> None:
    config, evaluation = slow_run(project, write)
    r = work(evaluation)
    assert r.suspected_regression and r.needs_confirmation and not r.blocking
    plan = plan_compare(config, evaluation)
    # The project is a git repository without the baseline's commit: re-runs, and why.
    assert plan.slos == ("work",) and plan.reason == "no bench_command configured"


def test_regressed_past_the_threshold_fails_the_gate(project: Path, write: RunWriter) -> None:
    _config, evaluation = slow_run(project, write)
    after = attach_ab_confirmations(evaluation, {"work": compared(0.20, 0.01)})
    r = work(after)
    assert r.blocking and r.confirmed_regression and not r.needs_confirmation
    assert after.verdict is Verdict.FAILED
    assert r.confirmation_label == "confirmed by interleaved compare (8 pairs)"
    text = render_text(after)
    assert "Regressions: 1 (work regressed +" in text
    assert "confirmed by interleaved compare (8 pairs))" in text


def test_a_confirmed_slowdown_in_the_warning_band_warns(project: Path, write: RunWriter) -> None:
    _config, evaluation = slow_run(project, write)
    after = attach_ab_confirmations(evaluation, {"work": compared(0.07, 0.005)})
    r = work(after)
    assert r.ab_confirmation is not None and r.ab_confirmation.regressed
    assert not r.blocking and r.warning and after.verdict is Verdict.WARNING


def test_same_clears_the_run_and_the_report_says_why(project: Path, write: RunWriter) -> None:
    _config, evaluation = slow_run(project, write)
    assert evaluation.verdict is Verdict.WARNING  # the slow run alone warns
    after = attach_ab_confirmations(evaluation, {"work": compared(0.0, 0.005)})
    r = work(after)
    assert not r.blocking and not r.warning and not r.needs_confirmation and not r.regression
    assert after.verdict is Verdict.PASSED
    lines = r.messages()
    assert any(
        line.endswith("vs baseline 1111111 in this run — cleared by interleaved compare (8 pairs)")
        for line in lines
    )
    assert any(
        line.startswith("interleaved compare, HEAD 2222222 vs baseline 1111111: same: ") for line in lines
    )
    assert not any(line.startswith("inconclusive") for line in lines)


def test_unknown_warns_with_the_command_that_would_settle_it(project: Path, write: RunWriter) -> None:
    _config, evaluation = slow_run(project, write)
    after = attach_ab_confirmations(evaluation, {"work": compared(0.04, 0.05, n=12)})
    r = work(after)
    assert r.ab_confirmation is not None and r.ab_confirmation.verdict.value == "unknown"
    assert r.warning and not r.blocking and after.verdict is Verdict.WARNING
    assert any(line.startswith("to settle it: ") for line in r.messages())
    document = render_json(after)
    assert '"ab_confirmation": {' in document and '"verdict": "unknown"' in document


def test_an_unconfirmed_violation_still_needs_re_runs_after_a_compare(
    project: Path, write: RunWriter
) -> None:
    _config, evaluation = slow_run(project, write, latest=6.0)  # over the 5 ms budget (and +500 %)
    after = attach_ab_confirmations(evaluation, {"work": compared(0.0, 0.005)})
    r = work(after)
    assert r.violation and not r.confirmed_violation
    assert r.needs_confirmation and not r.suspected_regression


def test_a_run_on_a_busy_machine_is_settled_by_a_compare_too(project: Path, write: RunWriter) -> None:
    # The reference workload ran 60 % slower in the latest run: the machine was busy, which can
    # hide a regression as well as fake one. Interleaving both sides is what a busy machine needs.
    (project / "perfslo.toml").write_text(CONFIG)
    last = None
    for i in range(6):
        values = {"work": samples(1.0, i), "work@ref": samples(0.5, i + 3)}
        last = write(values, ts_ms=BASE_MS + i * HOUR_MS, commit=BASE_COMMIT)
    config = load_config(start=project)
    establish_baseline(config, last)
    write(
        {"work": samples(1.6, 9), "work@ref": samples(0.8, 9)}, ts_ms=BASE_MS + 20 * HOUR_MS, commit="2" * 40
    )
    r = work(evaluate(load_history(config.artifacts_dir), config))
    assert r.busy and r.vs_baseline is not None and r.vs_baseline.busy
    assert r.suspected_regression and r.needs_confirmation
    assert evaluate(load_history(config.artifacts_dir), config).verdict is Verdict.UNJUDGED
    # A compare that decided judges it: cleared → PASSED, not "could not judge".
    cleared = attach_ab_confirmations(
        evaluate(load_history(config.artifacts_dir), config), {"work": compared(0.0, 0.005)}
    )
    assert work(cleared).unjudged == "" and cleared.verdict is Verdict.PASSED
    # One that could not decide leaves the busy run unjudged (exit 3), with the compare's action.
    unsettled = attach_ab_confirmations(
        evaluate(load_history(config.artifacts_dir), config), {"work": compared(0.04, 0.05, n=12)}
    )
    assert work(unsettled).unjudged.startswith("machine busy") and unsettled.verdict is Verdict.UNJUDGED
