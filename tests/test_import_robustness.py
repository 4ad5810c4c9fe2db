"""Importers never crash: any JSON, or a real file with parts replaced, gives a result or one clear error."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfslo_tui.collect.importers import FORMATS, ImportedBaseline, ImportedRun
from perfslo_tui.runs.files import ArtifactError

FIXTURES = Path(__file__).parent / "fixtures" / "imports"
REAL = {
    "google-benchmark": FIXTURES / "google-benchmark" / "gbench.json",
    "asv": FIXTURES / "asv" / "results" / "vm" / "3e3ee8ac-existing-py_tmp_asvenv_bin_python.json",
    "luascript-run": FIXTURES / "luascript" / "run" / "perf-2d1a28a-1795825456155.json",
    "luascript-baseline": FIXTURES / "luascript" / ".perf-baseline.json",
}
PATH = Path("/nowhere/input.json")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def paths_of(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a JSON document."""
    out = [prefix] if prefix else []
    if isinstance(document, dict):
        for key, value in document.items():
            out += paths_of(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            out += paths_of(value, (*prefix, index))
    return out


def replace(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    changed = copy.deepcopy(document)
    target = changed
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return changed


def parse_or_error(fmt: str, document: Any) -> None:
    try:
        result = FORMATS[fmt].parse(PATH, document)
    except ArtifactError as exc:
        assert str(exc).startswith(f"{PATH}: ")
        assert "\n" not in str(exc)
        return
    assert isinstance(result, ImportedRun | ImportedBaseline)
    if isinstance(result, ImportedRun):
        assert result.samples and all(v > 0 for values in result.samples.values() for v in values)


@pytest.mark.parametrize("fmt", list(FORMATS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=json_values)
def test_any_json_is_a_result_or_one_line_error(fmt: str, document: Any) -> None:
    parse_or_error(fmt, document)


@pytest.mark.parametrize("fmt", sorted(REAL))
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_a_real_file_with_one_part_replaced_never_crashes(fmt: str, data: st.DataObject) -> None:
    document = orjson.loads(REAL[fmt].read_bytes())
    path = data.draw(st.sampled_from(paths_of(document)))
    value = data.draw(json_values)
    parse_or_error(fmt, replace(document, path, value))


@pytest.fixture(scope="module")
def live_documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Real files from the tools run here: pytest-benchmark, pyperf, hyperfine."""
    import shutil
    import subprocess
    import sys

    from tests.test_import_formats import PYPERF_SCRIPT, run_pytest_benchmark

    base = tmp_path_factory.mktemp("live")
    run_pytest_benchmark(base / "pb", f"--benchmark-json={base / 'pb.json'}")
    (base / "bench.py").write_text(PYPERF_SCRIPT)
    subprocess.run(
        [sys.executable, "bench.py", "-p", "1", "-n", "2", "-l", "5", "-w", "1", "-q", "-o", "pp.json"],
        cwd=base, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    hyperfine = shutil.which("hyperfine")
    if hyperfine is None:
        pytest.fail("hyperfine is not installed: `apt-get install hyperfine`")
    subprocess.run(
        [hyperfine, "-N", "-r", "3", "--export-json", str(base / "hf.json"), "true"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return {
        "pytest-benchmark": orjson.loads((base / "pb.json").read_bytes()),
        "pyperf": orjson.loads((base / "pp.json").read_bytes()),
        "hyperfine": orjson.loads((base / "hf.json").read_bytes()),
    }


@pytest.mark.parametrize("fmt", ["pytest-benchmark", "pyperf", "hyperfine"])
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_live_tool_file_with_one_part_replaced_never_crashes(
    fmt: str, live_documents: dict[str, Any], data: st.DataObject
) -> None:
    document = live_documents[fmt]
    assert isinstance(FORMATS[fmt].parse(PATH, document), ImportedRun)  # the unmodified file imports
    path = data.draw(st.sampled_from(paths_of(document)))
    parse_or_error(fmt, replace(document, path, data.draw(json_values)))
