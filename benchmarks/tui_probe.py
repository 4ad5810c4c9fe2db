"""Drive the real ``perfslo-tui`` app headless and report when things reach the screen.

``python -m benchmarks.tui_probe PROJECT [--live N]`` starts the app with
``run_test`` (no terminal), prints ``{"painted": <epoch s>}`` as soon as every
card of the overview holds its result, then, with ``--live N``, writes N new
run files (atomically, like ``write_run``) and prints, per file, the seconds
from the rename to the moment the first card shows that run's value.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import orjson

from benchmarks.history import SLOS, START_MS, STEP_MS, run_document, run_name

TIMEOUT_S = 60.0


async def _wait(condition: object, timeout: float = TIMEOUT_S) -> None:
    assert callable(condition)
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("the screen did not update in time")
        await asyncio.sleep(0.001)


async def probe(project: Path, live: int, first_index: int) -> None:
    from perfslo_tui.config import load_config
    from perfslo_tui.tui.app import PerfSLOApp

    config = load_config(start=project)
    app = PerfSLOApp(config)
    async with app.run_test(size=(160, 50)):

        def painted() -> bool:
            cards = app.cards
            return len(cards) == len(config.slos) and all(c.result is not None for c in cards.values())

        await _wait(painted)
        print(json.dumps({"painted": time.time()}), flush=True)
        artifacts = config.artifacts_dir
        card = app.cards[SLOS[0]]
        latencies: list[float] = []
        for k in range(live):
            index = first_index + k
            ms = START_MS + index * STEP_MS
            value = 1.0 + (k + 1) / 1000.0
            samples = np.full((len(SLOS), 100), value)
            data = orjson.dumps(run_document(ms, samples), option=orjson.OPT_INDENT_2)
            tmp = artifacts / f".{run_name(ms)}.probe.tmp"
            tmp.write_bytes(data)
            written = time.perf_counter()
            os.replace(tmp, artifacts / run_name(ms))

            def shown(expected: float = value) -> bool:
                result = card.result
                return result is not None and result.stats is not None and result.stats.median == expected

            await _wait(shown)
            latencies.append(time.perf_counter() - written)
        if live:
            print(json.dumps({"latencies": latencies}), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("project", type=Path)
    parser.add_argument("--live", type=int, default=0, help="new runs to write and time")
    parser.add_argument("--first-index", type=int, default=10_000_000, help="run index of the first new run")
    args = parser.parse_args()
    asyncio.run(probe(args.project, args.live, args.first_index))
    return 0


if __name__ == "__main__":
    sys.exit(main())
