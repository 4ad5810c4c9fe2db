"""Each import format, from files the real tools produced, checked with the real CLI.

pytest-benchmark, pyperf and hyperfine are run here; Google Benchmark is
compiled and run here too (and a file it produced is committed); asv and the
seed's own formats use committed files (see tests/fixtures/imports/README.md).
Every test counts the samples: the round trip keeps all the source had.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from perfslo_tui.collect.importers import FORMATS
from perfslo_tui.commands.import_cmd import FORMAT_NAMES
from perfslo_tui.runs.files import read_baseline, read_run
from perfslo_tui.runs.steady import steady_values
from tests.conftest import declare_slo, run_cli

FIXTURES = Path(__file__).parent / "fixtures" / "imports"


def add_rename(project: Path, rename: Mapping[str, str]) -> None:
    """Append a [rename] table to the project's perfslo.toml."""
    lines = ["", "[rename]"] + [f'"{src}" = "{dst}"' for src, dst in rename.items()]
    with (project / "perfslo.toml").open("a") as handle:
        handle.write("\n".join(lines) + "\n")


def do_import(project: Path, fmt: str, *files: Path) -> subprocess.CompletedProcess[str]:
    result = run_cli("import", fmt, *(str(f) for f in files), cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    return result


def written_runs(project: Path) -> list[Path]:
    return sorted((project / "artifacts").glob("perf-*.json"))


def check_json(project: Path, run: Path | None = None) -> dict[str, Any]:
    """Run the real ``perfslo check --format json`` and return its report."""
    args = ["check", "--format", "json", "--no-step-summary"]
    if run is not None:
        args += ["--run", str(run)]
    result = run_cli(*args, cwd=project)
    assert result.returncode in (0, 1), result.stderr
    report: dict[str, Any] = orjson.loads(result.stdout)
    return report


def slo_values(report: Mapping[str, Any]) -> dict[str, Any]:
    return {slo["name"]: slo for slo in report["slos"]}


def test_cli_format_names_match_the_registry() -> None:
    assert tuple(FORMATS) == FORMAT_NAMES


# ---------------------------------------------------------------- pytest-benchmark

BENCH_TESTS = """
def test_sort(benchmark):
    data = list(range(2000, 0, -1))
    benchmark(sorted, data)


def test_join(benchmark):
    benchmark(",".join, ["a"] * 500)
"""


def run_pytest_benchmark(folder: Path, *options: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test_bench_demo.py").write_text(BENCH_TESTS)
    args = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:perfslo",
        "test_bench_demo.py", "--benchmark-min-rounds=5", "--benchmark-max-time=0.02",
        "--benchmark-warmup=off", f"--benchmark-storage=file://{folder / 'storage'}", *options,
    ]  # fmt: skip
    done = subprocess.run(args, cwd=folder, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def pytest_benchmark_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real pytest-benchmark files: --benchmark-json, and saved with and without --benchmark-save-data."""
    base = tmp_path_factory.mktemp("pytest-benchmark")
    # "one" is a git checkout with a commit, so pytest-benchmark records it.
    (base / "one").mkdir()
    (base / "one" / "test_bench_demo.py").write_text(BENCH_TESTS)
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q", "-b", "bench-branch", str(base / "one")], check=True)
    subprocess.run([*git, "add", "test_bench_demo.py"], cwd=base / "one", check=True)
    subprocess.run([*git, "commit", "-q", "-m", "bench"], cwd=base / "one", check=True)
    run_pytest_benchmark(
        base / "one", f"--benchmark-json={base / 'one' / 'bench.json'}", "--benchmark-save=plain"
    )
    run_pytest_benchmark(base / "two", "--benchmark-save=withdata", "--benchmark-save-data")
    [plain] = (base / "one" / "storage").rglob("*plain.json")
    [withdata] = (base / "two" / "storage").rglob("*withdata.json")
    return {"json": base / "one" / "bench.json", "saved": plain, "saved-data": withdata}


@pytest.mark.parametrize("kind", ["saved-data", "json"])
def test_pytest_benchmark_with_data_keeps_every_sample(
    project: Path, pytest_benchmark_files: dict[str, Path], kind: str
) -> None:
    with_data = pytest_benchmark_files[kind]
    source = orjson.loads(with_data.read_bytes())
    add_rename(project, {"test_sort": "transpile-simple"})
    out = do_import(project, "pytest-benchmark", with_data)
    assert "test_sort -> SLO transpile-simple" in out.stdout

    [path] = written_runs(project)
    run = read_run(path)
    assert run.source == "import:pytest-benchmark"
    by_name = {b["name"]: b["stats"] for b in source["benchmarks"]}
    expected = {"transpile-simple": by_name["test_sort"], "test_join": by_name["test_join"]}
    for slo, stats in expected.items():
        assert len(run.samples[slo]) == stats["rounds"] == len(stats["data"])
        assert run.samples[slo] == pytest.approx([s * 1000 for s in stats["data"]], rel=1e-12)
    meta = orjson.loads(path.read_bytes())["metadata"]
    assert meta["import"]["summary_only"] == {}
    if kind == "json":  # written in a git checkout: its commit and branch are kept
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=with_data.parent, capture_output=True, text=True, check=True
        ).stdout.strip()
        assert source["commit_info"]["id"] == head
        assert (run.commit, run.branch) == (head, "bench-branch")
        assert path.name.startswith(f"perf-{head[:7]}-")
    assert meta["timestamp"][:19] == source["datetime"][:19]

    report = slo_values(check_json(project))
    value = report["transpile-simple"]["value_ms"]
    # The value is the median of the steady rounds (pytest-benchmark keeps them in the order run).
    steady = steady_values([s * 1000 for s in by_name["test_sort"]["data"]])
    assert value == pytest.approx(float(np.median(steady)), rel=1e-9)
    counts = report["transpile-simple"]["steady"]
    assert counts["samples_total"] == by_name["test_sort"]["rounds"]
    count = report["transpile-simple"]["stats"]["count"]
    cut = 0 if counts["class"] == "no steady state" else counts["steady_from"]  # then all count
    assert count == len(steady) == counts["samples_total"] - cut
    assert report["test_join"]["status"] == "NO BUDGET"  # unmapped: kept under its own name


def test_pytest_benchmark_without_data_imports_the_median(
    project: Path, pytest_benchmark_files: dict[str, Path]
) -> None:
    summary = pytest_benchmark_files["saved"]
    source = orjson.loads(summary.read_bytes())
    assert all("data" not in b["stats"] for b in source["benchmarks"])
    declare_slo(project, "test_sort")
    out = do_import(project, "pytest-benchmark", summary)
    assert "no raw samples in the file for 2 benchmark(s)" in out.stdout
    [path] = written_runs(project)
    run = read_run(path)
    document = orjson.loads(path.read_bytes())
    for bench in source["benchmarks"]:
        assert run.samples[bench["name"]] == [pytest.approx(bench["stats"]["median"] * 1000)]
        assert document["metadata"]["import"]["summary_only"][bench["name"]] == "median"
        assert document["metadata"]["import"]["source_counts"][bench["name"]] == bench["stats"]["rounds"]


# ---------------------------------------------------------------- pyperf

PYPERF_SCRIPT = """
import pyperf
runner = pyperf.Runner()
runner.timeit("sort-1000", stmt="sorted(data)", setup="data = list(range(1000, 0, -1))")
runner.timeit("join-500", stmt="','.join(items)", setup="items = ['a'] * 500")
"""


@pytest.fixture(scope="module")
def pyperf_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pyperf")
    (folder / "bench.py").write_text(PYPERF_SCRIPT)
    out = folder / "pyperf.json"
    done = subprocess.run(
        [sys.executable, "bench.py", "--processes", "2", "--values", "3", "--loops", "20",
         "--warmups", "1", "-q", "-o", str(out)],
        cwd=folder, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_pyperf_values_become_ms_samples(project: Path, pyperf_file: Path) -> None:
    source = orjson.loads(pyperf_file.read_bytes())
    add_rename(project, {"sort-1000": "lua-emit-simple"})
    do_import(project, "pyperf", pyperf_file)
    [path] = written_runs(project)
    run = read_run(path)
    for bench in source["benchmarks"]:
        values = [v for r in bench["runs"] for v in r.get("values", [])]
        warmups = [w for r in bench["runs"] for w in r.get("warmups", [])]
        assert len(values) == 6 and len(warmups) == 2  # 2 processes x 3 values; warm-ups left out
        name = "lua-emit-simple" if bench["metadata"]["name"] == "sort-1000" else bench["metadata"]["name"]
        assert run.samples[name] == pytest.approx([v * 1000 for v in values], rel=1e-12)
    doc = orjson.loads(path.read_bytes())
    assert doc["slos"]["lua-emit-simple"]["inner_loops"] == 20
    report = slo_values(check_json(project))
    sort_values = [v for r in source["benchmarks"][0]["runs"] for v in r.get("values", [])]
    assert report["lua-emit-simple"]["value_ms"] == pytest.approx(np.median(sort_values) * 1000)


def test_pyperf_gzip_file(project: Path, pyperf_file: Path, tmp_path: Path) -> None:
    import gzip

    packed = tmp_path / "pyperf.json.gz"
    packed.write_bytes(gzip.compress(pyperf_file.read_bytes()))
    declare_slo(project, "sort-1000")
    do_import(project, "pyperf", packed)
    [path] = written_runs(project)
    assert sum(len(v) for v in read_run(path).samples.values()) == 12


# ---------------------------------------------------------------- hyperfine


def require_tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: `apt-get install {package}` (scripts/test.sh does it as root)")
    return path


def test_hyperfine_times_become_ms_samples(project: Path, tmp_path: Path) -> None:
    hyperfine = require_tool("hyperfine", "hyperfine")
    out = tmp_path / "hyperfine.json"
    sleeper = f"{sys.executable} -c 'import time; time.sleep(0.02)'"
    done = subprocess.run(
        [hyperfine, "-N", "--warmup", "1", "--runs", "4", "--export-json", str(out), "-n", "sleep-20ms",
         sleeper, "true"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    source = orjson.loads(out.read_bytes())
    add_rename(project, {"sleep-20ms": "transpile-objects"})
    do_import(project, "hyperfine", out)
    [path] = written_runs(project)
    run = read_run(path)
    times = {r["command"]: r["times"] for r in source["results"]}
    assert run.samples["transpile-objects"] == pytest.approx([t * 1000 for t in times["sleep-20ms"]])
    assert run.samples["true"] == pytest.approx([t * 1000 for t in times["true"]])
    assert len(run.samples["transpile-objects"]) == 4
    assert min(run.samples["transpile-objects"]) >= 20.0  # it really slept 20 ms
    report = slo_values(check_json(project))
    assert report["transpile-objects"]["value_ms"] == pytest.approx(np.median(times["sleep-20ms"]) * 1000)
    assert report["transpile-objects"]["status"] == "VIOLATION"  # ~20 ms against a 1.15 ms budget


# ---------------------------------------------------------------- Google Benchmark


def gbench_samples(source: Mapping[str, Any]) -> dict[str, list[float]]:
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}
    out: dict[str, list[float]] = {}
    for entry in source["benchmarks"]:
        if entry["run_type"] == "iteration":
            out.setdefault(entry["run_name"], []).append(entry["real_time"] * scale[entry["time_unit"]])
    return out


def test_google_benchmark_repetitions_are_samples(project: Path) -> None:
    file = FIXTURES / "google-benchmark" / "gbench.json"
    source = orjson.loads(file.read_bytes())
    add_rename(project, {"BM_VectorSum": "ir-parse-simple"})
    do_import(project, "google-benchmark", file)
    [path] = written_runs(project)
    run = read_run(path)
    expected = gbench_samples(source)
    expected["ir-parse-simple"] = expected.pop("BM_VectorSum")
    assert {k: len(v) for k, v in run.samples.items()} == {k: 5 for k in expected}
    for name, values in expected.items():
        assert run.samples[name] == pytest.approx(values, rel=1e-12)
    assert run.timestamp_ms == 1795825428000  # context.date 2026-11-28T00:23:48+00:00
    report = slo_values(check_json(project))
    medians = {e["run_name"]: e for e in source["benchmarks"] if e.get("aggregate_name") == "median"}
    # Google Benchmark's own median aggregate agrees with perfslo's median of the repetitions.
    assert report["ir-parse-simple"]["value_ms"] == pytest.approx(
        medians["BM_VectorSum"]["real_time"] * 1e-6, rel=1e-9
    )
    assert report["BM_StringBuild/512"]["value_ms"] == pytest.approx(
        medians["BM_StringBuild/512"]["real_time"] * 1e-3, rel=1e-9
    )


def test_google_benchmark_aggregates_only_imports_the_median(project: Path) -> None:
    file = FIXTURES / "google-benchmark" / "gbench-aggregates.json"
    source = orjson.loads(file.read_bytes())
    declare_slo(project, "BM_VectorSum")
    do_import(project, "google-benchmark", file)
    [path] = written_runs(project)
    run = read_run(path)
    medians = {e["run_name"]: e for e in source["benchmarks"] if e.get("aggregate_name") == "median"}
    assert set(run.samples) == set(medians)
    assert run.samples["BM_VectorSum"] == [pytest.approx(medians["BM_VectorSum"]["real_time"] * 1e-6)]


def test_google_benchmark_live_from_a_tiny_cpp_program(project: Path, tmp_path: Path) -> None:
    gxx = require_tool("g++", "g++ libbenchmark-dev")
    binary = tmp_path / "bench"
    compiled = subprocess.run(
        [gxx, "-O2", "-o", str(binary), str(FIXTURES / "google-benchmark" / "bench.cpp"),
         "-lbenchmark", "-lpthread"],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    if compiled.returncode != 0:
        pytest.fail(
            f"cannot build with Google Benchmark (apt-get install libbenchmark-dev): {compiled.stderr}"
        )
    out = tmp_path / "live.json"
    done = subprocess.run(
        [str(binary), "--benchmark_repetitions=3", "--benchmark_min_time=0.01",
         f"--benchmark_out={out}", "--benchmark_out_format=json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    declare_slo(project, "BM_VectorSum")
    do_import(project, "google-benchmark", out)
    [path] = written_runs(project)
    run = read_run(path)
    expected = gbench_samples(orjson.loads(out.read_bytes()))
    assert {k: len(v) for k, v in run.samples.items()} == {k: 3 for k in expected} and len(expected) == 3
    for name, values in expected.items():
        assert run.samples[name] == pytest.approx(values, rel=1e-12)


# ---------------------------------------------------------------- asv


def test_asv_results_with_recorded_samples(project: Path) -> None:
    file = FIXTURES / "asv" / "results" / "vm" / "3e3ee8ac-existing-py_tmp_asvenv_bin_python.json"
    source = orjson.loads(file.read_bytes())
    add_rename(project, {"bench_sort.TimeSuite.time_sort": "transpile-function"})
    out = do_import(project, "asv", file)
    assert "skipped 'bench_sort.track_value': not a time benchmark" in out.stdout
    [path] = written_runs(project)
    run = read_run(path)
    columns = source["result_columns"]
    rows = {name: dict(zip(columns, row, strict=False)) for name, row in source["results"].items()}
    assert run.commit == source["commit_hash"]
    assert run.timestamp_ms == max(r["started_at"] for r in rows.values())
    param = rows["bench_sort.TimeParam.time_build_list"]
    assert run.samples["bench_sort.TimeParam.time_build_list(100)"] == pytest.approx(
        [s * 1000 for s in param["samples"][0]]
    )
    assert run.samples["bench_sort.TimeParam.time_build_list(1000)"] == pytest.approx(
        [s * 1000 for s in param["samples"][1]]
    )
    assert run.samples["transpile-function"] == pytest.approx(
        [s * 1000 for s in rows["bench_sort.TimeSuite.time_sort"]["samples"][0]]
    )
    expected_total = sum(
        len(s) for name, r in rows.items() if not name.endswith("track_value") for s in r["samples"]
    )
    assert sum(len(v) for v in run.samples.values()) == expected_total == 50
    report = slo_values(check_json(project))
    assert report["transpile-function"]["value_ms"] == pytest.approx(
        np.median(rows["bench_sort.TimeSuite.time_sort"]["samples"][0]) * 1000
    )


# ---------------------------------------------------------------- the seed's formats


def test_luascript_run_file_keeps_every_measurement(project: Path) -> None:
    file = FIXTURES / "luascript" / "run" / "perf-2d1a28a-1795825456155.json"
    source = orjson.loads(file.read_bytes())
    out = do_import(project, "luascript-run", file)
    assert "no data for 4 benchmark(s)" in out.stdout
    [path] = written_runs(project)
    run = read_run(path)
    assert path.name == "perf-2d1a28a-1795825456163.json"  # the seed's commit and timestamp_unix
    assert (run.commit, run.branch) == ("2d1a28a", "main")
    for key, entries in source["measurements"].items():
        assert run.samples[key] == [e["time"] for e in entries]
        assert len(run.samples[key]) == source["stats"][key]["count"] == 25
    report = slo_values(check_json(project))
    simple = [e["time"] for e in source["measurements"]["transpile-simple"]]
    # A true median, where the seed reported the upper one (vals[floor(n/2)]).
    assert report["transpile-simple"]["value_ms"] == pytest.approx(float(np.median(simple)))
    assert report["transpile-simple"]["status"] == "PASS"
    assert report["transpile-objects"]["status"] == "NO DATA"


def test_luascript_baselines_become_perfslo_baselines_keeping_the_old(project: Path, write: Any) -> None:
    rename = {
        "simple-assignment": "transpile-simple",
        "function-call": "transpile-function",
        "object-literal": "transpile-objects",
    }
    add_rename(project, rename)
    older = FIXTURES / "luascript" / "792731a" / ".perf-baseline.json"
    newer = FIXTURES / "luascript" / ".perf-baseline.json"
    do_import(project, "luascript-baseline", older)
    out = do_import(project, "luascript-baseline", newer)
    assert "previous baseline kept as" in out.stdout
    artifacts = project / "artifacts"
    kept = list((artifacts / "baselines").glob("perf-baseline-*.json"))
    assert len(kept) == 1
    old = read_baseline(kept[0])
    assert old is not None and old.commit == "4bfc8fe9fd5050702d2fcc4c108790bcff70aa0d"
    assert old.medians["transpile-function"] == 0.034
    baseline = read_baseline(artifacts / ".perf-baseline.json")
    assert baseline is not None
    source = orjson.loads(newer.read_bytes())
    assert baseline.commit == source["commit"]
    assert baseline.established == source["timestamp"]
    assert len(baseline.medians) == len(source["benchmarks"]) == 8
    for name, body in source["benchmarks"].items():
        assert baseline.medians[rename.get(name, name)] == body["median"]
        assert baseline.samples[rename.get(name, name)] == []  # the seed kept no samples

    shown = run_cli("baseline", "--show", cwd=project)
    assert shown.returncode == 0, shown.stderr
    assert "baa5f3ddff2f" in shown.stdout and "0.013" in shown.stdout

    # A run compared with the imported baseline: 0.026 ms is +100 % over its 0.013 ms median.
    write({"transpile-simple": 0.026})
    report = slo_values(check_json(project))
    comparison = report["transpile-simple"]["vs_baseline"]
    assert comparison["reference_ms"] == pytest.approx(0.013)
    assert comparison["change"] == pytest.approx(1.0)
    assert comparison["percent_change"] == "+100.0%"


def test_pyperf_single_benchmark_file_and_a_memory_benchmark(project: Path, tmp_path: Path) -> None:
    # `python -m pyperf timeit -o` writes one benchmark whose name, date and
    # unit live in the file's metadata; --track-memory measures bytes, not time.
    common = [sys.executable, "-m", "pyperf", "timeit", "-p", "1", "-n", "3", "-l", "10", "-w", "1", "-q"]
    timed = tmp_path / "timeit.json"
    memory = tmp_path / "memory.json"
    for extra, out in (([], timed), (["--track-memory"], memory)):
        done = subprocess.run(
            [*common, *extra, "--name", "build-list", "-o", str(out), "x = list(range(1000))"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    source = orjson.loads(timed.read_bytes())
    declare_slo(project, "build-list")
    do_import(project, "pyperf", timed)
    [path] = written_runs(project)
    run = read_run(path)
    values = [v for r in source["benchmarks"][0]["runs"] for v in r.get("values", [])]
    assert run.samples["build-list"] == pytest.approx([v * 1000 for v in values])
    assert len(values) == 3
    assert run.timestamp_ms == pytest.approx(
        datetime.fromisoformat(source["metadata"]["date"]).astimezone().timestamp() * 1000, abs=1
    )
    result = run_cli("import", "pyperf", str(memory), cwd=project)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"perfslo: {memory}: no time benchmarks in this pyperf file "
        "(skipped 'build-list': unit is 'byte', not time)"
    )
