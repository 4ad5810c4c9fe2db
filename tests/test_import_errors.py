"""Bad input to ``perfslo import``: one clear line per bad file, the good ones still import."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from perfslo_tui.collect.importers import FORMATS
from perfslo_tui.runs.files import read_run
from perfslo_tui.runs.store import load_table
from tests.conftest import declare_slo, run_cli

FIXTURES = Path(__file__).parent / "fixtures" / "imports"
GBENCH = FIXTURES / "google-benchmark" / "gbench.json"
ASV = FIXTURES / "asv" / "results" / "vm" / "3e3ee8ac-existing-py_tmp_asvenv_bin_python.json"
LUA_RUN = FIXTURES / "luascript" / "run" / "perf-2d1a28a-1795825456155.json"
LUA_EMPTY = FIXTURES / "luascript" / "run" / "empty-perf-2d1a28a-1795825456271.json"
LUA_BASELINE = FIXTURES / "luascript" / ".perf-baseline.json"

# A real file of each committed format, to feed to the wrong importer.
REAL = {
    "google-benchmark": GBENCH,
    "asv": ASV,
    "luascript-run": LUA_RUN,
    "luascript-baseline": LUA_BASELINE,
}


def runs(project: Path) -> list[Path]:
    return sorted((project / "artifacts").glob("perf-*.json"))


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_a_file_of_another_format_is_named_with_what_was_expected(project: Path, fmt: str) -> None:
    other, source = next((name, path) for name, path in REAL.items() if name != fmt)
    result = run_cli("import", fmt, str(source), cwd=project)
    assert result.returncode == 2
    [line] = error_lines(result.stderr)
    assert line.startswith(f"perfslo: {source}: not {FORMATS[fmt].expected}")
    assert f"try `perfslo import {other} {source.name}`" in line  # it recognised the real format
    assert "Traceback" not in result.stderr
    assert runs(project) == []


@pytest.mark.parametrize("name", sorted(REAL))
def test_a_truncated_file_is_one_line_naming_file_and_expected_format(
    project: Path, tmp_path: Path, name: str
) -> None:
    data = REAL[name].read_bytes()
    cut = tmp_path / f"cut-{REAL[name].name}"
    cut.write_bytes(data[: len(data) // 2])
    result = run_cli("import", name, str(cut), cwd=project)
    assert result.returncode == 2
    [line] = error_lines(result.stderr)
    assert line.startswith(f"perfslo: {cut}: invalid JSON")
    assert "truncated or corrupt" in line
    assert line.endswith(f"expected {FORMATS[name].expected}")
    assert runs(project) == []
    assert not (project / "artifacts" / ".perf-baseline.json").exists()


def test_with_several_files_the_good_ones_still_import(project: Path, tmp_path: Path) -> None:
    declare_slo(project, "BM_VectorSum")
    broken = tmp_path / "broken.json"
    broken.write_bytes(GBENCH.read_bytes()[:300])
    missing = tmp_path / "missing.json"
    result = run_cli(
        "import", "google-benchmark", str(broken), str(GBENCH), str(missing), str(ASV), cwd=project
    )
    assert result.returncode == 2
    lines = error_lines(result.stderr)
    assert len(lines) == 3
    assert lines[0].startswith(f"perfslo: {broken}: invalid JSON")
    assert lines[1] == (f"perfslo: {missing}: no such file (expected {FORMATS['google-benchmark'].expected})")
    assert lines[2].startswith(f"perfslo: {ASV}: not {FORMATS['google-benchmark'].expected}")
    [written] = runs(project)
    assert sum(len(v) for v in read_run(written).samples.values()) == 15
    assert f"{GBENCH} -> {written}" in result.stdout


def test_the_same_file_is_not_imported_twice_unless_forced(project: Path) -> None:
    first = run_cli("import", "luascript-run", str(LUA_RUN), cwd=project)
    assert first.returncode == 0, first.stderr
    [written] = runs(project)
    again = run_cli("import", "luascript-run", str(LUA_RUN), cwd=project)
    assert again.returncode == 0
    assert f"already imported as {written.name}" in again.stdout
    assert runs(project) == [written]
    forced = run_cli("import", "luascript-run", "--force", str(LUA_RUN), cwd=project)
    assert forced.returncode == 0, forced.stderr
    assert len(runs(project)) == 2  # same commit and time: the next millisecond, never overwritten


def test_two_benchmarks_renamed_to_one_slo_is_an_error(project: Path) -> None:
    with (project / "perfslo.toml").open("a") as handle:
        handle.write(
            '\n[rename]\n"BM_VectorSum" = "ir-parse-simple"\n"BM_StringBuild/64" = "ir-parse-simple"\n'
        )
    result = run_cli("import", "google-benchmark", str(GBENCH), cwd=project)
    assert result.returncode == 2
    [line] = error_lines(result.stderr)
    assert line == (
        f"perfslo: {GBENCH}: benchmarks 'BM_StringBuild/64' and 'BM_VectorSum' "
        "both map to SLO 'ir-parse-simple'"
    )
    assert runs(project) == []


def test_the_seeds_empty_run_file_says_why(project: Path) -> None:
    result = run_cli("import", "luascript-run", str(LUA_EMPTY), cwd=project)
    assert result.returncode == 2
    [line] = error_lines(result.stderr)
    assert line == (
        f"perfslo: {LUA_EMPTY}: no measurements: every stats entry is 'no data' "
        "(LUASCRIPT's main() never called measure())"
    )


def test_not_an_object_and_bad_values(project: Path, tmp_path: Path) -> None:
    array = tmp_path / "array.json"
    array.write_text("[1, 2, 3]")
    result = run_cli("import", "hyperfine", str(array), cwd=project)
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        f"perfslo: {array}: not a hyperfine --export-json file: got a JSON array"
    ]
    # A real Google Benchmark file with one time made zero and one made a string.
    document = orjson.loads(GBENCH.read_bytes())
    document["benchmarks"][0]["real_time"] = 0
    zero = tmp_path / "zero.json"
    zero.write_bytes(orjson.dumps(document))
    document["benchmarks"][0]["real_time"] = "fast"
    text = tmp_path / "text.json"
    text.write_bytes(orjson.dumps(document))
    result = run_cli("import", "google-benchmark", str(zero), str(text), cwd=project)
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        f"perfslo: {zero}: benchmark 'BM_StringBuild/64' has a time of 0.0 ms (perfslo needs times > 0)",
        f"perfslo: {text}: benchmarks/0/real_time: expected a number",
    ]
    assert runs(project) == []


def test_imported_runs_load_into_the_store_the_views_read(project: Path) -> None:
    declare_slo(project, "BM_VectorSum")
    result = run_cli("import", "google-benchmark", str(GBENCH), cwd=project)
    assert result.returncode == 0, result.stderr
    table = load_table(project / "artifacts").table
    row = table.filter(table["slo"] == "BM_VectorSum").row(0, named=True)
    source = orjson.loads(GBENCH.read_bytes())
    [median] = [e["real_time"] for e in source["benchmarks"] if e["name"] == "BM_VectorSum_median"]
    assert row["source"] == "import:google-benchmark"
    assert row["count"] == 5
    assert row["median"] == pytest.approx(median * 1e-6, rel=1e-9)


def test_import_writes_where_perfslo_asks(project: Path, tmp_path: Path) -> None:
    import os

    declare_slo(project, "BM_VectorSum")
    declare_slo(project, "bench_sort.TimeSuite.time_sort")
    target = tmp_path / "from-env"
    env = {**os.environ, "PERFSLO_ARTIFACTS": str(target)}
    result = run_cli("import", "google-benchmark", str(GBENCH), cwd=project, env=env)
    assert result.returncode == 0, result.stderr
    assert len(list(target.glob("perf-*.json"))) == 1
    assert runs(project) == []
    explicit = tmp_path / "explicit"  # --artifacts wins over the environment
    result = run_cli("import", "--artifacts", str(explicit), "asv", str(ASV), cwd=project, env=env)
    assert result.returncode == 0, result.stderr
    assert len(list(explicit.glob("perf-*.json"))) == 1


def test_a_perfslo_run_given_to_an_importer_says_so(project: Path) -> None:
    import shutil

    from tests.conftest import make_run

    made = make_run(project / "elsewhere", {"transpile-simple": 0.8})
    copy = project / "run-copy.json"
    shutil.copy(made, copy)
    result = run_cli("import", "luascript-run", str(copy), cwd=project)
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        f"perfslo: {copy}: not {FORMATS['luascript-run'].expected} "
        "(it is already a perfslo run: put it in the artifacts folder as it is)"
    ]
