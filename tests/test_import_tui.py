"""Imported runs in the real TUI (Pilot): the cards show the imported values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest
from rich.console import Console

from perfslo_tui.config import load_config
from perfslo_tui.runs.steady import steady_values
from perfslo_tui.text import format_ms
from perfslo_tui.tui.app import PerfSLOApp
from tests.conftest import run_cli

FIXTURES = Path(__file__).parent / "fixtures" / "imports"
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def plain(renderable: object) -> str:
    with open("/dev/null", "w") as sink:
        console = Console(width=60, record=True, color_system=None, file=sink)
        console.print(renderable)
        return console.export_text()


async def test_the_tui_shows_an_imported_luascript_run(project: Path) -> None:
    source_file = FIXTURES / "luascript" / "run" / "perf-2d1a28a-1795825456155.json"
    imported = run_cli("import", "luascript-run", str(source_file), cwd=project)
    assert imported.returncode == 0, imported.stderr
    source = orjson.loads(source_file.read_bytes())
    app = PerfSLOApp(load_config(start=project), watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(500):  # wait for the first evaluation, not a fixed time
            if app.evaluation is not None and app.cards:
                break
            await pilot.pause(0.02)
        assert app.evaluation is not None
        assert (
            app.evaluation.run is not None and app.evaluation.run.run_id == "perf-2d1a28a-1795825456163.json"
        )
        for key in source["measurements"]:
            # The value is the median of the steady part: real runs warm up.
            median = float(np.median(steady_values([m["time"] for m in source["measurements"][key]])))
            card = app.cards[key]
            assert card.result is not None
            assert card.result.value_ms == pytest.approx(median)
            assert format_ms(median) in plain(card.render())


def _gbench_vector_sum() -> list[float]:
    source = orjson.loads((FIXTURES / "google-benchmark" / "gbench.json").read_bytes())
    return [
        e["real_time"] * 1e-6
        for e in source["benchmarks"]
        if e["run_name"] == "BM_VectorSum" and e["run_type"] == "iteration"
    ]


def _asv_time_sort() -> list[float]:
    file = FIXTURES / "asv" / "results" / "vm" / "3e3ee8ac-existing-py_tmp_asvenv_bin_python.json"
    source = orjson.loads(file.read_bytes())
    row = dict(
        zip(source["result_columns"], source["results"]["bench_sort.TimeSuite.time_sort"], strict=False)
    )
    return [s * 1000 for s in row["samples"][0]]


@pytest.mark.parametrize(
    ("fmt", "file", "source_name", "slo", "samples"),
    [
        (
            "google-benchmark",
            "google-benchmark/gbench.json",
            "BM_VectorSum",
            "ir-parse-simple",
            _gbench_vector_sum,
        ),
        (
            "asv",
            "asv/results/vm/3e3ee8ac-existing-py_tmp_asvenv_bin_python.json",
            "bench_sort.TimeSuite.time_sort",
            "transpile-function",
            _asv_time_sort,
        ),
    ],
)
async def test_the_tui_shows_renamed_imported_benchmarks(
    project: Path, fmt: str, file: str, source_name: str, slo: str, samples: object
) -> None:
    with (project / "perfslo.toml").open("a") as handle:
        handle.write(f'\n[rename]\n"{source_name}" = "{slo}"\n')
    imported = run_cli("import", fmt, str(FIXTURES / file), cwd=project)
    assert imported.returncode == 0, imported.stderr
    assert callable(samples)
    median = float(np.median(samples()))
    app = PerfSLOApp(load_config(start=project), watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(500):
            if app.evaluation is not None and app.cards:
                break
            await pilot.pause(0.02)
        card = app.cards[slo]
        assert card.result is not None
        assert card.result.value_ms == pytest.approx(median, rel=1e-9)
        assert card.result.stats is not None and card.result.stats.count == len(samples())
        assert format_ms(median) in plain(card.render())
