"""Soak: concurrent writers, a polling reader, repeated ``perfslo check`` and baseline swaps.

Four writer processes add 100 runs each through the real atomic writer,
deliberately stamping the same milliseconds (so names collide and the
no-overwrite path is taken), while

* a reader thread polls ``RunStore.refresh()`` and records anything odd,
* ``perfslo check`` runs again and again in a subprocess (each one reading,
  and possibly rewriting, the on-disk cache while the folder changes),
* the baseline is replaced over and over.

At the end every run written is in the table exactly once, no reader ever
saw a partial file, and every replaced baseline is kept in ``baselines/``.
"""

from __future__ import annotations

import multiprocessing
import random
import threading
import time
from pathlib import Path

import orjson
import pytest

from perfslo_tui.runs.files import (
    BASELINE_HISTORY_DIR,
    baseline_document_from_run,
    build_run_document,
    read_baseline,
    read_run,
    write_baseline,
    write_run,
)
from perfslo_tui.runs.metadata import make_metadata
from perfslo_tui.runs.store import RunStore
from tests.conftest import BASE_MS, run_cli
from tests.hostile.hostile_cases import GOOD_VALUES

WRITERS = 4
RUNS_EACH = 100
GIT = {"commit": "50a450a450a450a450a450a450a450a450a450a4", "branch": "soak", "dirty": False}


def soak_writer(folder: str, writer: int, count: int) -> list[str]:
    """Write ``count`` runs; every writer uses the same timestamps, so names collide."""
    rng = random.Random(writer)
    names = []
    for k in range(count):
        values = {
            name: [v * (1 + rng.uniform(-0.02, 0.02)) for _ in range(15)] for name, v in GOOD_VALUES.items()
        }
        meta = make_metadata(timestamp_ms=BASE_MS + k * 60_000, git=GIT)
        names.append(write_run(Path(folder), build_run_document(values, meta)).name)
        time.sleep(rng.uniform(0.0, 0.1))
    return names


class Reader(threading.Thread):
    """Polls a RunStore and records every inconsistency it sees."""

    def __init__(self, folder: Path) -> None:
        super().__init__(daemon=True)
        self.store = RunStore(folder)
        self.problems: list[str] = []
        self.polls = 0
        self.stop = threading.Event()

    def run(self) -> None:
        previous: set[str] = set()
        while not self.stop.is_set():
            self.store.refresh()
            self.polls += 1
            table = self.store.table
            if self.store.errors:
                self.problems.append(f"errors seen: {self.store.errors}")
            counts = table.group_by("run_id").len()
            if counts.height and set(counts["len"].to_list()) != {len(GOOD_VALUES)}:
                self.problems.append("a run with missing or duplicated rows")
            ids = set(counts["run_id"].to_list())
            if not previous <= ids:
                self.problems.append(f"runs disappeared: {sorted(previous - ids)[:3]}")
            previous = ids
            time.sleep(0.02)


@pytest.mark.slow
def test_soak_nothing_lost_nothing_partial(project: Path) -> None:
    """Every run exactly once; no partial file seen by any reader; baseline history kept."""
    artifacts = project / "artifacts"
    seed = [
        write_run(artifacts, build_run_document(
            {n: [v] * 5 for n, v in GOOD_VALUES.items()}, make_metadata(timestamp_ms=BASE_MS - 1000, git=GIT)
        )).name
    ]
    reader = Reader(artifacts)
    reader.start()
    checks: list[tuple[int, str]] = []
    swaps: list[str] = []
    done = threading.Event()

    def check_loop() -> None:
        while not done.is_set():
            result = run_cli("check", "--format", "json", cwd=project)
            checks.append((result.returncode, result.stderr))

    def baseline_loop() -> None:
        # Replace the baseline with the newest run, as `perfslo baseline --establish` does.
        while not done.is_set():
            newest = max(artifacts.glob("perf-*.json"), key=lambda p: p.name)
            write_baseline(artifacts, baseline_document_from_run(read_run(newest)))
            swaps.append(newest.name)
            time.sleep(0.2)

    helpers = [threading.Thread(target=check_loop) for _ in range(2)]
    helpers.append(threading.Thread(target=baseline_loop))
    for helper in helpers:
        helper.start()
    with multiprocessing.get_context("spawn").Pool(WRITERS) as pool:
        batches = pool.starmap(soak_writer, [(str(artifacts), w, RUNS_EACH) for w in range(WRITERS)])
    written = [name for batch in batches for name in batch]
    done.set()
    for helper in helpers:
        helper.join(timeout=120)
    reader.stop.set()
    reader.join(timeout=30)
    print(f"soak: {len(written)} runs by {WRITERS} writers, {len(checks)} perfslo check runs, "
          f"{reader.polls} refreshes, {len(swaps)} baseline swaps")

    # Nothing lost, nothing doubled.
    expected = set(written) | set(seed)
    assert len(written) == WRITERS * RUNS_EACH == len(set(written))
    assert reader.problems == []
    assert reader.polls > 10
    reader.store.refresh()
    for store in (reader.store, RunStore(artifacts)):  # the polled one and a fresh one (cache)
        if store is not reader.store:
            store.refresh()
        assert store.errors == {}
        counts = store.table.group_by("run_id").len()
        assert set(counts["run_id"].to_list()) == expected
        assert set(counts["len"].to_list()) == {len(GOOD_VALUES)}
    # Every `perfslo check` saw whole files only and a usable baseline.
    assert len(checks) >= 2
    for code, stderr in checks:
        assert code in (0, 1), stderr
        assert "Traceback" not in stderr and "skipped" not in stderr, stderr
    final = run_cli("check", "--format", "json", cwd=project)
    assert final.returncode in (0, 1) and final.stderr == ""
    assert orjson.loads(final.stdout)["run_count"] == len(expected)
    # Every replaced baseline was kept, whole.
    history = sorted((artifacts / BASELINE_HISTORY_DIR).glob("perf-baseline-*.json"))
    assert len(history) == len(swaps) - 1
    for kept in history:
        assert read_baseline(kept) is not None
    assert read_baseline(artifacts / ".perf-baseline.json") is not None
    assert not list(artifacts.rglob(".*.tmp"))
