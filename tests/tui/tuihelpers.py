"""Helpers for the TUI tests: a frozen clock, the app on a test project, waiting on conditions."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from perfslo_tui.config import load_config
from perfslo_tui.tui.app import PerfSLOApp

BASE_MS = 1_795_000_000_000  # as in tests/conftest.py
# Workers that run for as long as the app: the watchers and the shared history's listener.
WATCHERS = ("watch", "config-watch", "listen")
HOUR_MS = 3_600_000
# Three hours after the last fixed run: ages on screen read "3h ago".
FROZEN_NOW = (BASE_MS + 5 * HOUR_MS) / 1000

BENCH_SCRIPT = '''\
"""A bench command for tests: writes one real run into $PERFSLO_ARTIFACTS."""
import os
import sys
from pathlib import Path

from perfslo_tui.runs.files import build_run_document, write_run
from perfslo_tui.runs.metadata import make_metadata

NAMES = {names!r}
folder = Path(os.environ["PERFSLO_ARTIFACTS"])
value = float(os.environ.get("TEST_BENCH_VALUE", "0.5"))
chosen = sys.argv[1:] or NAMES
print("benchmarking", " ".join(chosen), flush=True)
existing = len(list(folder.glob("perf-*.json"))) if folder.is_dir() else 0
ts = {base} + 10 * 3_600_000 + existing * 60_000
samples = {{name: [value * (1 + 0.001 * (i - 10)) for i in range(21)] for name in chosen}}
git = {{"commit": "b0b0b0b" * 5 + "b0b0b", "branch": "work", "dirty": True}}
meta = make_metadata(timestamp_ms=ts, git=git)
path = write_run(folder, build_run_document(samples, meta))
print("wrote", path.name, flush=True)
'''


def set_bench_command(root: Path, command: str) -> None:
    """Put a bench command into the project's perfslo.toml (top-level keys come first)."""
    path = root / "perfslo.toml"
    path.write_text(f"bench_command = '{command}'\n" + path.read_text())


def bench_script(root: Path) -> Path:
    """The test bench script, written into the project."""
    script = root / "bench.py"
    names = list(load_config(start=root).slos)
    script.write_text(BENCH_SCRIPT.format(names=names, base=BASE_MS))
    return script


# Names of every length a real project has, for the "every SLO at a glance" layouts.
WORDS = ("parse", "transpile-function", "emit", "ir-lower-complex", "load", "render-report", "gc", "startup")


def many_slos(root: Path, count: int, runs: int = 8) -> list[str]:
    """A project with ``count`` SLOs (names 2 to 30 characters), ``runs`` runs and a baseline.

    Statuses vary (pass, drift, violation, one never measured by the latest
    run), and the values move run to run so every trend has a shape.
    """
    import numpy as np

    from perfslo_tui.actions.baseline import establish_baseline
    from perfslo_tui.runs.files import build_run_document, write_run
    from perfslo_tui.runs.metadata import make_metadata

    names = [f"{WORDS[i % len(WORDS)]}-{i:02d}" if i % 3 else WORDS[i % len(WORDS)] for i in range(count)]
    names = list(dict.fromkeys(names))
    while len(names) < count:
        names.append(f"slo-{len(names):02d}")
    lines = ["confirm_runs = 2", ""]
    budgets = {}
    for i, name in enumerate(names):
        budgets[name] = round(0.5 + (i % 7) * 0.75, 2)
        lines += [f'[slos."{name}"]', f"budget = {budgets[name]}", f'description = "Benchmark {i}"', ""]
    (root / "perfslo.toml").write_text("\n".join(lines))
    artifacts = root / "artifacts"
    rng = np.random.default_rng(7)
    for run in range(runs):
        samples = {}
        for i, name in enumerate(names):
            if run == runs - 1 and i == count - 1:
                continue  # the latest run did not measure this one: it is marked as older
            level = budgets[name] * (0.55 + 0.1 * (i % 6) + 0.02 * run * (i % 3))
            samples[name] = list(level * (1 + 0.01 * rng.standard_normal(15)))
        git = {"commit": f"{run + 1:x}" * 40, "branch": "main", "dirty": run == runs - 1}
        meta = make_metadata(timestamp_ms=BASE_MS - 4 * HOUR_MS + run * HOUR_MS // 2, git=git)
        path = write_run(artifacts, build_run_document(samples, meta))
        if run == 0:
            establish_baseline(load_config(start=root), path)
    return names


def make_app(root: Path, *, watch: bool = True) -> PerfSLOApp:
    """The real app on the project's config with the frozen clock."""
    return PerfSLOApp(load_config(start=root), now=lambda: FROZEN_NOW, watch=watch)


async def wait_for(pilot: Pilot[int], condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Let the app run until ``condition()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s: {condition}")
        await pilot.pause(0.02)


async def loaded(pilot: Pilot[int]) -> PerfSLOApp:
    """Wait for the first evaluation and the cards, and for the app to go idle.

    Idle: no worker running (the refresh may go round once more) and the
    layout done, so a screenshot taken next does not depend on how busy the
    machine is.
    """
    app = pilot.app
    assert isinstance(app, PerfSLOApp)
    await wait_for(pilot, lambda: app.evaluation is not None and len(app.cards) > 0)
    await wait_for(pilot, lambda: not any(w.is_running for w in app.workers if w.group not in WATCHERS))
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()
    return app


PYTHON = sys.executable



@pytest.fixture
def anyio_backend() -> str:
    """The TUI runs on asyncio (import this fixture into each async test module)."""
    return "asyncio"
