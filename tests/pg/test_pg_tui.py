"""The monitor on a shared history, driven by Pilot against a real server and real writer processes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from benchmarks.history import CONFIG, SLOS, START_MS, STEP_MS, run_document
from benchmarks.pgserver import PgServer
from perfslo_tui.config import load_config
from perfslo_tui.runs.machine import machine_key
from perfslo_tui.runs.pg.history import PgHistory
from perfslo_tui.runs.pg.sync import push_folder
from perfslo_tui.tui.app import PerfSLOApp, monitor_loader
from perfslo_tui.tui.screens import ConfirmScreen
from perfslo_tui.tui.shared import SharedBar
from tests.pg.pghelpers import OTHER_HOST, python, write_runs
from tests.tui.tuihelpers import anyio_backend, loaded, wait_for

pytestmark = pytest.mark.anyio
__all__ = ["anyio_backend"]
SIZE = (120, 40)

PUSH_VALUE = """
import os, sys
import numpy as np, orjson
from benchmarks.history import SLOS, START_MS, STEP_MS, run_document
from perfslo_tui.runs.pg.history import PgHistory
history = PgHistory(sys.argv[1])
history.migrate()
for index, value in zip(sys.argv[2::2], sys.argv[3::2]):
    doc = run_document(START_MS + int(index) * STEP_MS, np.full((len(SLOS), 50), float(value)))
    if os.environ.get("PUSH_HOST"):
        doc["metadata"]["host"] = orjson.loads(os.environ["PUSH_HOST"])
    history.push_run(orjson.dumps(doc))
print("ok", flush=True)
"""


def _project(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "perfslo.toml").write_text(CONFIG)
    monkeypatch.setenv("PERFSLO_DATABASE_URL", url)
    return root


def _app(root: Path) -> PerfSLOApp:
    config = load_config(start=root)
    return PerfSLOApp(
        config, now=lambda: START_MS / 1000 + 40 * 86_400, watch=False, loader=monitor_loader(config)
    )


def _push(url: str, *pairs: tuple[int, float], host: dict[str, object] | None = None) -> None:
    args = [str(x) for pair in pairs for x in pair]
    proc = python(
        "-c", PUSH_VALUE, url, *args, extra_env={"PUSH_HOST": orjson.dumps(host).decode() if host else ""}
    )
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out.strip() == "ok", err


def _median(app: PerfSLOApp) -> float | None:
    card = app.cards.get(SLOS[0])
    result = card.result if card is not None else None
    return result.stats.median if result is not None and result.stats is not None else None


async def test_a_run_pushed_by_another_process_reaches_a_card(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _project(tmp_path, pg_url, monkeypatch)
    push_folder(write_runs(tmp_path / "seed", range(5))[0].parent, PgHistory(pg_url))
    app = _app(root)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        bar = app.query_one(SharedBar)
        await wait_for(pilot, lambda: bar.ok and "live" in bar.status)
        assert app.history is not None and app.history.shared == PgHistory(pg_url).where
        assert app.history.run_count == 5
        assert str(bar.render()).startswith("⇄ live · machine ")
        _push(pg_url, (100, 1.234))
        await wait_for(pilot, lambda: _median(app) == 1.234)
        assert app.history.run_count == 6


async def test_a_server_restart_is_shown_and_the_monitor_recovers_without_losing_a_run(
    own_server: PgServer, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = pg_url
    root = _project(tmp_path, url, monkeypatch)
    push_folder(write_runs(tmp_path / "seed", range(3))[0].parent, PgHistory(url))
    app = _app(root)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        bar = app.query_one(SharedBar)
        await wait_for(pilot, lambda: bar.ok and "live" in bar.status)
        own_server.stop()
        await wait_for(pilot, lambda: not bar.ok, timeout=20)
        assert "reconnecting" in bar.status and bar.has_class("-lost")
        assert str(bar.render()).startswith("⚠ lost the shared history (")
        assert "s3cret" not in str(bar.render())
        own_server.start()
        # Runs pushed while the monitor is reconnecting are not lost.
        _push(url, (200, 2.5), (201, 2.75))
        await wait_for(pilot, lambda: bar.ok and "reconnected" in bar.status, timeout=20)
        await wait_for(pilot, lambda: _median(app) == 2.75, timeout=20)
        assert app.history is not None and app.history.run_count == 5
        _push(url, (202, 3.25))
        await wait_for(pilot, lambda: _median(app) == 3.25)


async def test_m_switches_machines_and_b_sets_that_machines_baseline(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _project(tmp_path, pg_url, monkeypatch)
    seed = tmp_path / "seed"
    write_runs(seed, range(0, 4))
    for index in range(4, 7):  # another machine, three times slower, measured later
        doc = run_document(START_MS + index * STEP_MS, np.full((len(SLOS), 50), 3.0))
        doc["metadata"]["host"] = OTHER_HOST
        (seed / f"perf-0123456-{START_MS + index * STEP_MS}.json").write_bytes(orjson.dumps(doc))
    push_folder(seed, PgHistory(pg_url))
    other = machine_key({"host": OTHER_HOST})
    mine = machine_key({"host": {"cpu": "x86_64", "cpu_count": 2, "os": "Linux"}})
    app = _app(root)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        assert app.history is not None and app.history.machine == other and app.history.run_count == 3
        assert _median(app) == 3.0
        bar = app.query_one(SharedBar)
        assert f"machine {other} (aarch64 ×4 · Linux) · M: 1 other machine" in str(bar.render())
        await pilot.press("M")
        await wait_for(pilot, lambda: app.history is not None and app.history.machine == mine)
        assert app.history.run_count == 4 and _median(app) != 3.0
        # Runs of the machine not shown are counted, not mixed in.
        _push(pg_url, (300, 3.5), host=OTHER_HOST)
        await wait_for(pilot, lambda: bar.elsewhere == 1)
        assert f"machine {mine} (x86_64 ×2 · Linux) · 1 new run elsewhere · M: 1 other" in str(bar.render())
        assert app.history.run_count == 4
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: app.evaluation is not None and app.evaluation.baseline is not None)
        assert PgHistory(pg_url).baseline(mine) is not None and PgHistory(pg_url).baseline(other) is None
        await pilot.press("M")
        await wait_for(pilot, lambda: app.history is not None and app.history.machine is None)
        assert app.history.run_count == 8 and "all 2 machines (mixed)" in str(bar.render())
        assert bar.elsewhere == 0
        await pilot.press("M")
        await wait_for(pilot, lambda: app.history is not None and app.history.machine == other)
        assert app.evaluation is not None and app.evaluation.baseline is None  # never another machine's
