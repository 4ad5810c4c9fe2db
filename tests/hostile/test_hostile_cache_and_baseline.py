"""Hostile baselines and a hostile on-disk cache.

* A broken ``.perf-baseline.json`` is one error line; the gate still runs on
  the runs (exit 0/1, never 2), and ``perfslo baseline --show`` says what is
  wrong in one line. Establishing a new baseline keeps the broken one in
  ``baselines/`` (nothing is lost, not even a bad file).
* A broken ``.perfslo-cache/`` (garbage, truncated, lying, FIFOs, a file
  instead of the folder) is never an error and never changes the table: the
  JSON run files are the truth. Each case runs in a subprocess with a
  timeout, so a hang is a failure, not a stuck suite.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from perfslo_tui.runs.files import BASELINE_HISTORY_DIR, BASELINE_NAME
from perfslo_tui.runs.store import RunStore
from tests.conftest import BASE_MS, HOUR_MS, make_run, run_cli
from tests.hostile.hostile_cases import GOOD_VALUES, LUASCRIPT_RUN, MARKUP
from tests.hostile.test_hostile_corpus import RAW_ESCAPE

REPO = Path(__file__).resolve().parents[2]

BAD_BASELINES: dict[str, tuple[bytes, str]] = {
    "empty": (b"", "empty file"),
    "truncated": (b'{"schema_version": 1, "kind": "baseline", "establ', "invalid JSON"),
    "array": (b"[]", "expected a JSON object, got an array"),
    "luascript_format": (
        orjson.dumps({"timestamp": "x", "commit": "c", "benchmarks": {"a": {"avg": 1, "median": 1}}}),
        "perfslo import",
    ),
    "a_run_file": (LUASCRIPT_RUN, "schema"),
    "negative_median": (
        orjson.dumps({"schema_version": 1, "kind": "baseline", "established": "x",
                      "slos": {"a": {"median": -1}}}),
        "median",
    ),
    "wrong_version": (
        orjson.dumps({"schema_version": 7, "kind": "baseline", "established": "x", "slos": {}}),
        "schema_version",
    ),
    "invalid_utf8": (b'{"schema_version": 1, "kind": "\xff"}', "UTF-8"),
}


@pytest.mark.parametrize("case", sorted(BAD_BASELINES))
def test_a_broken_baseline_is_one_line_and_the_gate_still_runs(case: str, project: Path) -> None:
    """check: exit 0/1 with one line naming the baseline; --show: exit 2, one line; --establish keeps it."""
    data, problem = BAD_BASELINES[case]
    artifacts = project / "artifacts"
    for i in range(3):
        make_run(artifacts, GOOD_VALUES, ts_ms=BASE_MS + i * HOUR_MS)
    (artifacts / BASELINE_NAME).write_bytes(data)
    check = run_cli("check", cwd=project)
    assert check.returncode in (0, 1), check.stderr
    (line,) = check.stderr.strip().splitlines()
    assert BASELINE_NAME in line and problem in line
    assert "Baseline: none" in check.stdout
    if case not in ("truncated", "luascript_format"):
        return  # the one-line --show and the kept copy: checked on two cases, to save subprocesses
    show = run_cli("baseline", "--show", cwd=project)
    assert show.returncode == 2 and "Traceback" not in show.stderr
    (line,) = show.stderr.strip().splitlines()
    assert BASELINE_NAME in line and problem in line
    establish = run_cli("baseline", "--establish", cwd=project)
    assert establish.returncode == 0, establish.stderr
    (kept,) = (artifacts / BASELINE_HISTORY_DIR).iterdir()
    assert kept.read_bytes() == data  # the replaced (broken) baseline is kept byte for byte


def test_a_baseline_with_hostile_names_shows_them_as_text(project: Path) -> None:
    """Names, commit and source run of a baseline are untrusted text too."""
    artifacts = project / "artifacts"
    for i in range(3):
        make_run(artifacts, {**GOOD_VALUES, MARKUP: 0.5}, ts_ms=BASE_MS + i * HOUR_MS)
    doc = {
        "schema_version": 1, "kind": "baseline", "established": "\x1b[2J<b>now</b>",
        "commit": "\x1b[31m[red]c", "source_run": "../../etc/passwd\x07", "branch": "b",
        "slos": {MARKUP: {"median": 0.5, "samples": [0.5]}, "\x1b]0;title\x07": {"median": 1.0}},
    }
    (artifacts / BASELINE_NAME).write_bytes(orjson.dumps(doc))
    for args in (("baseline", "--show"), ("check",), ("check", "--format", "markdown")):
        result = run_cli(*args, cwd=project)
        assert result.returncode in (0, 1), result.stderr
        assert not RAW_ESCAPE.search(result.stdout + result.stderr), args
    assert MARKUP in run_cli("baseline", "--show", cwd=project).stdout


# ---------------------------------------------------------------- the on-disk cache

LOAD = (
    "import json, sys; from pathlib import Path; from perfslo_tui.runs.store import RunStore\n"
    "store = RunStore(Path(sys.argv[1])); store.refresh()\n"
    "print(json.dumps({'runs': sorted(set(store.table['run_id'].to_list())), 'rows': store.table.height,"
    " 'errors': {str(k): v for k, v in store.errors.items()}}))\n"
)


def _load(artifacts: Path, isolated: bool = False) -> dict[str, object]:
    """Load like a fresh process would; ``isolated``: in a subprocess, so a hang fails in 60 s."""
    if not isolated:
        store = RunStore(artifacts)
        store.refresh()
        return {
            "runs": sorted(set(store.table["run_id"].to_list())),
            "rows": store.table.height,
            "errors": {str(k): v for k, v in store.errors.items()},
        }
    result = subprocess.run(
        [sys.executable, "-c", LOAD, str(artifacts)], cwd=REPO, capture_output=True, text=True, timeout=60,
        check=False,
    )
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    loaded: dict[str, object] = json.loads(result.stdout)
    return loaded


def _index(cache: Path) -> dict[str, object]:
    index: dict[str, object] = orjson.loads((cache / "index.json").read_bytes())
    return index


def _data(cache: Path) -> Path:
    return cache / str(_index(cache)["data"])


def _set_index(cache: Path, **changes: object) -> None:
    (cache / "index.json").write_bytes(orjson.dumps({**_index(cache), **changes}))


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


CORRUPTIONS: dict[str, Callable[[Path], None]] = {
    "index_garbage": lambda c: (c / "index.json").write_bytes(b"\x00\xffgarbage"),
    "index_truncated": lambda c: (c / "index.json").write_bytes((c / "index.json").read_bytes()[:50]),
    "index_array": lambda c: (c / "index.json").write_bytes(b"[1, 2]"),
    "index_other_format": lambda c: _set_index(c, format=999),
    "index_data_traversal": lambda c: _set_index(c, data="../../perf-x-1.json"),
    "index_rows_lie": lambda c: _set_index(c, rows=3),
    "index_files_wrong_types": lambda c: _set_index(c, files={"perf-a-1.json": "x"}),
    "index_empty_object": lambda c: (c / "index.json").write_bytes(b"{}"),
    "data_truncated": lambda c: _data(c).write_bytes(_data(c).read_bytes()[:1000]),
    "data_random": lambda c: _data(c).write_bytes(os.urandom(5000)),
    "data_empty": lambda c: _data(c).write_bytes(b""),
    "data_missing": lambda c: _data(c).unlink(),
    "data_is_a_fifo": lambda c: _fifo(_data(c)),
    "index_is_a_fifo": lambda c: _fifo(c / "index.json"),
    "cache_dir_is_a_file": lambda c: (shutil.rmtree(c), c.write_bytes(b"not a folder")),
}


@pytest.fixture(scope="module")
def cached_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """40 runs and one bad file, loaded once so that the store writes its cache."""
    artifacts = tmp_path_factory.mktemp("cached") / "artifacts"
    for i in range(40):
        make_run(artifacts, GOOD_VALUES, ts_ms=BASE_MS + i * HOUR_MS, count=5)
    (artifacts / f"perf-bad-{BASE_MS}.json").write_bytes(b"{")
    truth = _load(artifacts)
    assert (artifacts / ".perfslo-cache" / "index.json").is_file(), "the store wrote no cache to corrupt"
    return artifacts, truth


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_a_corrupt_cache_never_changes_what_loads(
    corruption: str, cached_folder: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    """The same runs, rows and errors as from the JSON files; nothing hangs."""
    source, truth = cached_folder
    artifacts = tmp_path / "artifacts"
    shutil.copytree(source, artifacts, copy_function=shutil.copy2)
    CORRUPTIONS[corruption](artifacts / ".perfslo-cache")
    loaded = _load(artifacts, isolated="fifo" in corruption)
    assert loaded["runs"] == truth["runs"] and loaded["rows"] == truth["rows"]
    assert {Path(k).name: v for k, v in loaded["errors"].items()} == {  # type: ignore[attr-defined]
        Path(k).name: v for k, v in truth["errors"].items()  # type: ignore[attr-defined]
    }


def test_a_fifo_as_the_baseline_neither_hangs_check_nor_establish(project: Path) -> None:
    """``.perf-baseline.json`` is a FIFO: check names it; --establish replaces it (nothing to keep)."""
    artifacts = project / "artifacts"
    for i in range(2):
        make_run(artifacts, GOOD_VALUES, ts_ms=BASE_MS + i * HOUR_MS)
    os.mkfifo(artifacts / BASELINE_NAME)
    check = subprocess.run(
        [sys.executable, "-m", "perfslo_tui", "check"],
        cwd=project, capture_output=True, text=True, timeout=60, check=False,
    )
    assert check.returncode in (0, 1), check.stderr
    (line,) = check.stderr.strip().splitlines()
    assert BASELINE_NAME in line and "not a regular file" in line
    establish = subprocess.run(
        [sys.executable, "-m", "perfslo_tui", "baseline", "--establish"], cwd=project, capture_output=True,
        text=True, timeout=60, check=False,
    )
    assert establish.returncode == 0, establish.stderr
    assert (artifacts / BASELINE_NAME).is_file()
    assert run_cli("baseline", "--show", cwd=project).returncode == 0
