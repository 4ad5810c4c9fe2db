"""The monitor shows targets and the baseline's age, and celebrates a met target once (Pilot, real files)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console
from tuihelpers import BASE_MS, HOUR_MS, WATCHERS, anyio_backend, loaded, make_app, wait_for

from perfslo_tui.runs.files import baseline_document_from_run, read_run, write_baseline
from perfslo_tui.tui.screens import DetailScreen, analysis_text
from perfslo_tui.tui.widgets import HeaderBar
from tests.conftest import RunWriter

SIZE = (120, 40)
pytestmark = pytest.mark.anyio
__all__ = ["anyio_backend"]

CONFIG = """\
confirm_runs = 3
baseline_max_age_days = 0.1

[slos.parse]
budget = 1.5
target = 1.0
description = "Parse a document"
"""


def text_of(renderable: object, width: int = 120) -> str:
    """What a renderable shows, as plain text."""
    console = Console(width=width, record=True, color_system=None, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(renderable)
    return console.export_text()


def target_notes(app: object) -> list[str]:
    return [n.message for n in app._notifications if n.title == "target met"]  # type: ignore[attr-defined]


async def test_target_progress_baseline_age_and_one_celebration(project: Path, write: RunWriter) -> None:
    (project / "perfslo.toml").write_text(CONFIG)
    first = write({"parse": 1.2}, ts_ms=BASE_MS, spread=0.01)
    write_baseline(project / "artifacts", baseline_document_from_run(read_run(first), established_ms=BASE_MS))
    write({"parse": 1.2}, ts_ms=BASE_MS + 3 * HOUR_MS, spread=0.01)
    app = make_app(project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await wait_for(pilot, lambda: app.watching)
        card = app.cards["parse"]
        assert "target 1ms: 0.2ms to go" in text_of(card.render(), 40)
        header = text_of(app.query_one(HeaderBar).build())
        # 3 hours old, past baseline_max_age_days = 0.1 (2.4 hours): shown, and marked stale.
        assert "baseline a1b2c3d (3h)" in header
        # The second line says which limit was passed.
        assert "⚠ baseline 3 hours old (max 0.1 days): b re-establishes it" in header
        assert app.evaluation is not None and app.evaluation.baseline_age is not None
        assert app.evaluation.baseline_age.stale
        for i in range(4):
            write({"parse": 0.95}, ts_ms=BASE_MS + (4 + i) * HOUR_MS, spread=0.01)
            await wait_for(pilot, lambda i=i: app.history is not None and app.history.run_count == 3 + i)
            await wait_for(
                pilot, lambda: not any(w.is_running for w in app.workers if w.group not in WATCHERS)
            )
            if i < 2:
                assert target_notes(app) == []
                assert f"target 1ms met in this run ({i + 1}/3 runs)" in text_of(card.render(), 60)
        # Celebrated on the third run that met it, and only then.
        assert target_notes(app) == [
            "parse: 🎯 target 1ms met: 0.95ms in 3 runs in a row; tighten the budget to keep the gain "
            "(`perfslo budgets`)"
        ]
        assert "target 1ms met (3/3 runs)" in text_of(card.render(), 60)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        result = app.result("parse")
        analysis = text_of(analysis_text(result), 200)
        assert "🎯 63.3% of budget · target 1ms met (3/3 runs); tighten the budget" in analysis


async def test_a_target_met_before_the_monitor_opened_is_not_news(project: Path, write: RunWriter) -> None:
    (project / "perfslo.toml").write_text(CONFIG)
    for i in range(3):
        write({"parse": 0.9}, ts_ms=BASE_MS + i * HOUR_MS, spread=0.01)
    app = make_app(project, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        result = app.result("parse")
        assert result is not None and result.target_progress is not None and result.target_progress.newly_met
        assert target_notes(app) == []
        assert ("parse", "time") in app.celebrated
        # No baseline: no age in the header.
        assert "no baseline" in text_of(app.query_one(HeaderBar).build())


async def test_at_80x24_the_small_cards_still_show_the_target_and_the_stale_commits(
    project: Path, write: RunWriter
) -> None:
    import subprocess

    (project / "perfslo.toml").write_text(
        CONFIG.replace("baseline_max_age_days = 0.1", "baseline_max_commits = 1")
        + "\n[slos.emit]\nbudget = 2.0\n\n[slos.check]\nbudget = 2.0\n"
    )

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=project,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    git("init", "-q")
    commits = []
    for i in range(3):
        (project / "note.txt").write_text(str(i))
        git("add", "note.txt")
        git("commit", "-qm", f"c{i}")
        commits.append(git("rev-parse", "HEAD"))
    values = {"parse": 1.2, "emit": 1.0, "check": 1.0}
    first = write(values, ts_ms=BASE_MS, spread=0.01, commit=commits[0])
    write_baseline(project / "artifacts", baseline_document_from_run(read_run(first), established_ms=BASE_MS))
    write(values, ts_ms=BASE_MS + HOUR_MS, spread=0.01, commit=commits[2])
    app = make_app(project, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        age = app.evaluation.baseline_age if app.evaluation is not None else None
        assert age is not None and age.commits == 2 and age.stale
        card = app.cards["parse"]
        assert card.content_size.height < 6, card.content_size  # too small for the target's own line
        shown = text_of(card.render(), card.content_size.width)
        # "of budget" gives way to the target where both do not fit (34 columns).
        assert "80.0%  PASS  0.2ms to target" in shown
        header = text_of(app.query_one(HeaderBar).build(), 80)
        assert "⚠ baseline 2 commits behind (max 1): b re-establishes it" in header
