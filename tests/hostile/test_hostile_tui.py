"""The live monitor (``perfslo-tui``) under the hostile corpus and concurrent writers.

Driven through Textual's Pilot on real files: every rejected case is listed
in the errors panel while the good runs show; hostile names appear on screen
as literal text; and with writers adding runs while the app watches, the
app ends up holding every run exactly once.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from perfslo_tui.config import load_config
from perfslo_tui.runs.selection import ALL
from perfslo_tui.text import printable
from perfslo_tui.tui.app import PerfSLOApp, monitor_loader
from perfslo_tui.tui.widgets import ErrorsPanel
from tests.conftest import BASE_MS, HOUR_MS, make_run
from tests.hostile.hostile_cases import ANSI, CASES, GOOD_VALUES, HTML, MARKUP, case_ms, named_slo
from tests.tui.tuihelpers import anyio_backend, wait_for

pytestmark = pytest.mark.anyio
__all__ = ["anyio_backend"]
SIZE = (160, 60)
REPO = Path(__file__).resolve().parents[2]
NOW = (BASE_MS + 48 * HOUR_MS) / 1000


def screen_text(app: PerfSLOApp) -> str:
    """Everything on screen, as plain text (from the real SVG screenshot, one line per row)."""
    svg = app.export_screenshot()
    rows: dict[str, list[str]] = {}
    for y, body in re.findall(r'<text[^>]*\by="([\d.]+)"[^>]*>(.*?)</text>', svg, flags=re.S):
        rows.setdefault(y, []).append(html.unescape(body))
    ordered = sorted(rows.items(), key=lambda kv: float(kv[0]))
    return "\n".join("".join(parts).replace("\xa0", " ") for _, parts in ordered)


def _good(artifacts: Path) -> set[str]:
    return {make_run(artifacts, GOOD_VALUES, ts_ms=BASE_MS + i * HOUR_MS, spread=0.02).name for i in range(3)}


async def test_every_rejected_case_is_in_the_errors_panel_good_runs_show(project: Path) -> None:
    """All light cases at once: each rejected file on its own line in the panel; the cards still load."""
    artifacts = project / "artifacts"
    good = _good(artifacts)
    names = {case.build(artifacts, case_ms(CASES.index(case))): case for case in CASES if not case.heavy}
    rejected = {artifacts / name for name, case in names.items() if case.outcome == "rejected"}
    loaded = {name for name, case in names.items() if case.outcome == "loaded"}
    config = load_config(start=project)
    # Some usable cases record no host facts (a machine of their own): show every machine.
    app = PerfSLOApp(config, now=lambda: NOW, watch=False, loader=monitor_loader(config, ALL))
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(ErrorsPanel)

        def listed() -> bool:
            return set(app.errors) == rejected and len(panel.shown.plain.splitlines()) == len(rejected)

        await wait_for(pilot, lambda: app.evaluation is not None and listed(), timeout=30)
        lines = panel.shown.plain.splitlines()
        assert len(lines) == len(rejected)
        for path in rejected:
            shown = printable(path.name, 60)[:40]
            (line,) = [line for line in lines if shown in line]
            case = names[path.name]
            assert case.problem[:20] in " ".join(line.split()) or case.problem[:20] in app.errors[path]
        assert not app.query_one("#errors-box").has_class("hidden")
        # The good runs (and the odd-but-usable ones) are all loaded and evaluated.
        assert app.evaluation is not None
        run_ids = set(app.history.runs["run_id"].to_list())
        assert good | loaded <= run_ids
        assert all(card.result is not None for card in app.cards.values())
        text = screen_text(app)
        assert "\x1b" not in text and "load errors" in text, text


@pytest.mark.parametrize(
    "slo",
    [MARKUP, ANSI, HTML, "two\nlines\u202eevil", "[link=https://evil.example]click[/link]"],
    ids=["rich-markup", "ansi", "html", "newline-bidi", "link-markup"],
)
async def test_hostile_names_are_shown_literally(project: Path, slo: str) -> None:
    """The newest run's hostile SLO name is on screen as the characters it is made of."""
    artifacts = project / "artifacts"
    _good(artifacts)
    build = named_slo(slo, commit="[red]c0ffee[/red]", branch="[blink]b[/blink]", tag="[bold]t")
    build(artifacts, case_ms(0))
    app = PerfSLOApp(load_config(start=project), now=lambda: NOW, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.evaluation is not None and slo in app.cards, timeout=30)
        await pilot.pause()
        text = screen_text(app)
        expected = printable(slo, 200)[:14]
        assert expected in " ".join(text.split()) or expected in text, text
        assert "\x1b" not in text and "\u202e" not in text
        if slo.startswith("[link="):
            assert "evil.example" in text  # the markup stayed text: no hidden link


@pytest.mark.slow
async def test_soak_with_the_tui_watching(project: Path) -> None:
    """Writers add 160 runs while the app watches: it ends up with every run once, no error seen."""
    artifacts = project / "artifacts"
    seed = _good(artifacts)
    app = PerfSLOApp(load_config(start=project), now=lambda: NOW, watch=True)
    seen_errors: list[dict[Path, str]] = []
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.evaluation is not None and app.watching, timeout=30)
        # Writers are plain subprocesses (multiprocessing cannot spawn from inside the running app).
        code = "import json, sys; from tests.hostile.test_hostile_soak import soak_writer; " \
            "print(json.dumps(soak_writer(sys.argv[1], int(sys.argv[2]), 40)))"
        writers = [
            subprocess.Popen([sys.executable, "-c", code, str(artifacts), str(w)], cwd=REPO,
                             stdout=subprocess.PIPE, text=True)
            for w in range(4)
        ]
        while any(writer.poll() is None for writer in writers):
            if app.errors:
                seen_errors.append(dict(app.errors))
            await pilot.pause(0.05)
        written = {name for writer in writers for name in json.loads(writer.communicate()[0])}
        assert all(writer.returncode == 0 for writer in writers)
        expected = seed | written
        assert len(written) == 160

        def settled() -> bool:
            counts = app.history.table.group_by("run_id").len()
            return set(counts["run_id"].to_list()) == expected

        started = time.monotonic()
        await wait_for(pilot, settled, timeout=60)
        lag = time.monotonic() - started
        print(f"tui soak: all {len(expected)} runs in the app {lag:.2f}s after the last write")
        counts = app.history.table.group_by("run_id").len()
        assert set(counts["len"].to_list()) == {len(GOOD_VALUES)}  # each run exactly once
        assert app.evaluation is not None and app.evaluation.run_count == len(expected)
        await pilot.pause()
        assert f"{len(expected)} runs" in screen_text(app)
    assert seen_errors == []


async def test_folder_swapped_for_a_file_and_back_while_watching(project: Path) -> None:
    """The artifacts folder becomes a file, then a folder again (moved back): the app survives and reloads."""
    artifacts = project / "artifacts"
    good = _good(artifacts)
    app = PerfSLOApp(load_config(start=project), now=lambda: NOW, watch=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.evaluation is not None and app.watching, timeout=30)
        aside = project / "artifacts.moved"
        artifacts.rename(aside)
        artifacts.write_text("not a folder")
        await wait_for(pilot, lambda: app.missing_dir or artifacts in app.errors, timeout=30)
        assert app.is_running
        artifacts.unlink()
        aside.rename(artifacts)
        extra = make_run(artifacts, GOOD_VALUES, ts_ms=BASE_MS + 10 * HOUR_MS).name
        await wait_for(
            pilot, lambda: set(app.history.runs["run_id"].to_list()) == good | {extra}, timeout=30
        )
        assert not app.errors
