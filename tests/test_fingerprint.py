"""Measurement fingerprints: every producer records one, and runs measured differently are not compared."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from perfslo_tui.collect.measure import PerfMeasurement
from perfslo_tui.config import load_config
from perfslo_tui.runs.files import build_run_document, read_run, write_run
from perfslo_tui.runs.metadata import make_metadata, python_fingerprint
from perfslo_tui.verdict.comparable import differences, release_line
from tests.conftest import BASE_MS, HOUR_MS, declare_slo, run_cli

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "node" / "write-run.js"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "imports"

HERE = {
    "producer": "perfslo",
    "protocol": "perfslo-bench/2",
    "runtime": "python",
    "runtime_version": "3.11.7",
    "cpu_model": "Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz",
    "cpu_count": 2,
    "os": "Linux 6.8.0-1017-azure",
}


def text(**changes: Any) -> str:
    return orjson.dumps({**HERE, **changes}, option=orjson.OPT_SORT_KEYS).decode()


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, ()),
        ({"runtime_version": "3.11.9"}, ()),  # a patch release
        ({"os": "Linux 6.11.0-1001-azure"}, ()),  # a kernel update
        ({"perf_iterations": 200}, ()),  # the sample count: the steady level does not depend on it
        ({"producer_version": "9.9"}, ()),
        ({"reference": False}, ()),
        ({"runtime_version": "3.12.1"}, ("python 3.11.7 → 3.12.1",)),
        ({"cpu_model": "AMD EPYC 7763"}, (f"CPU model {HERE['cpu_model']} → AMD EPYC 7763",)),
        ({"cpu_count": 4}, ("2 → 4 cores",)),
        ({"os": "Darwin 23.1.0"}, ("OS Linux → Darwin",)),
        ({"producer": "perfslo run"}, ("producer perfslo → perfslo run",)),
        ({"protocol": "perfslo-bench/3"}, ("protocol perfslo-bench/2 → perfslo-bench/3",)),
        ({"runtime": "pypy"}, ("runtime python → pypy",)),
    ],
)
def test_what_matters(changes: dict[str, Any], expected: tuple[str, ...]) -> None:
    assert differences(text(**changes), text()) == expected


def test_a_field_counts_only_when_both_runs_record_it() -> None:
    partial = orjson.dumps({"producer": "perfslo"}).decode()
    assert differences(partial, text(cpu_count=64)) == ()
    assert differences("", text()) == ()  # a run written before fingerprints existed
    assert release_line("node", "v20.11.1") == "20" and release_line("python", "3.11.7") == "3.11"
    node = {"runtime": "node", "producer": "write-run.js"}
    assert differences(text(**node, runtime_version="20.18.0"), text(**node, runtime_version="20.10.0")) == ()
    assert differences(text(**node, runtime_version="22.1.0"), text(**node, runtime_version="20.10.0")) == (
        "node 20.10.0 → 22.1.0",
    )


def quiet(level: float, seed: int) -> list[float]:
    return (level * np.exp(np.random.default_rng(seed).normal(0.0, 0.01, 60))).tolist()


def write_fp(
    folder: Path, value: float, ts: int, commit: str, fingerprint: dict[str, Any], seed: int
) -> Path:
    meta = make_metadata(
        timestamp_ms=ts, git={"commit": commit, "branch": "main", "dirty": False}, fingerprint=fingerprint
    )
    return write_run(folder, build_run_document({"transpile-simple": quiet(value, seed)}, meta))


def test_another_cpu_is_not_comparable_and_the_report_says_how_to_re_establish(project: Path) -> None:
    (project / "perfslo.toml").write_text("confirm_runs = 1\n\n[slos.transpile-simple]\nbudget = 50\n")
    artifacts = project / "artifacts"
    for i in range(4):
        write_fp(artifacts, 1.0, BASE_MS + i * HOUR_MS, "1" * 40, HERE, seed=i)
    assert run_cli("baseline", "--establish", cwd=project).returncode == 0
    baseline = orjson.loads((artifacts / ".perf-baseline.json").read_bytes())
    assert baseline["fingerprint"]["cpu_model"] == HERE["cpu_model"]
    # The same code, 40 % slower on another CPU model: not a regression, not a pass.
    other = {**HERE, "cpu_model": "AMD EPYC 7763 64-Core Processor"}
    write_fp(artifacts, 1.4, BASE_MS + 10 * HOUR_MS, "2" * 40, other, seed=10)
    done = run_cli("check", "--format", "json", cwd=project)
    assert done.returncode == 3, done.stderr
    report = orjson.loads(done.stdout)
    [slo] = report["slos"]
    cmp = slo["vs_baseline"]
    assert cmp["label"] == "not comparable (CPU model)"
    amd = "AMD EPYC 7763 64-Core Processor"
    assert cmp["unjudged"] == f"not comparable: CPU model {HERE['cpu_model']} → {amd}"
    assert cmp["judged"] is False and cmp["significant"] is False
    assert not slo["blocking"] and slo["regression_streak"] == 0 and not slo["inconclusive"]
    assert report["verdict"] == "UNJUDGED"
    out = run_cli("check", cwd=project).stdout
    assert "perfslo baseline --establish" in out and "perfslo compare 1111111 HEAD" in out
    assert "regression" not in out.lower().replace("no regression verdict", "")
    # Re-established on the new machine, the next run is judged again.
    assert run_cli("baseline", "--establish", cwd=project).returncode == 0
    write_fp(artifacts, 1.41, BASE_MS + 11 * HOUR_MS, "2" * 40, other, seed=11)
    report = orjson.loads(run_cli("check", "--format", "json", cwd=project).stdout)
    assert report["verdict"] == "PASSED" and report["slos"][0]["vs_baseline"]["judged"]


def test_the_sample_count_alone_never_makes_runs_incomparable(project: Path) -> None:
    (project / "perfslo.toml").write_text("confirm_runs = 1\n\n[slos.transpile-simple]\nbudget = 50\n")
    artifacts = project / "artifacts"
    for i in range(4):
        write_fp(artifacts, 1.0, BASE_MS + i * HOUR_MS, "1" * 40, {**HERE, "perf_iterations": 30}, seed=i)
    assert run_cli("baseline", "--establish", cwd=project).returncode == 0
    write_fp(artifacts, 1.005, BASE_MS + 9 * HOUR_MS, "2" * 40, {**HERE, "perf_iterations": 200}, seed=9)
    report = orjson.loads(run_cli("check", "--format", "json", cwd=project).stdout)
    assert report["slos"][0]["vs_baseline"]["judged"] and report["verdict"] == "PASSED"


def test_perfslos_own_harness_records_this_machine(config: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERF_ITERATIONS", "12")
    perf = PerfMeasurement(config)
    perf.bench("transpile-simple", lambda: sum(range(200)))
    fingerprint = read_run(perf.write()).fingerprint
    expected = python_fingerprint(perf_iterations=12, reference=True)
    assert fingerprint == expected
    assert fingerprint["runtime"] == "python" and fingerprint["runtime_version"].startswith("3.")
    assert fingerprint["cpu_count"] == os.cpu_count() and fingerprint["cpu_model"]
    assert fingerprint["protocol"] == "perfslo-bench/2"


def test_perfslo_run_records_a_command_fingerprint(project: Path) -> None:
    (project / "perfslo.toml").write_text(
        f'[slos.cli]\nbudget = 5000\ncommand = "{sys.executable} -c pass"\nruns = 2\nwarmup = 0\n'
    )
    assert run_cli("run", "-q", cwd=project).returncode == 0
    [path] = sorted((project / "artifacts").glob("perf-*.json"))
    fingerprint = read_run(path).fingerprint
    assert fingerprint["producer"] == "perfslo run" and fingerprint["runtime"] == "command"
    assert fingerprint["protocol"] == "perfslo-command/1" and "runtime_version" not in fingerprint


def test_the_node_example_records_node_and_this_machine(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the Node.js example test needs node >= 18 on PATH")
    env = {**os.environ, "PERFSLO_ARTIFACTS": str(tmp_path), "PERF_ITERATIONS": "5"}
    done = subprocess.run(
        [node, str(EXAMPLE), "--slo", "node-json-roundtrip"], cwd=tmp_path, env=env, capture_output=True,
        text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    [path] = sorted(tmp_path.glob("perf-*.json"))
    fingerprint = read_run(path).fingerprint
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    assert fingerprint["runtime"] == "node" and fingerprint["runtime_version"] == version.lstrip("v")
    assert fingerprint["producer"] == "write-run.js" and fingerprint["protocol"] == "node-write-run/2"
    assert fingerprint["perf_iterations"] == 5 and fingerprint["cpu_count"] == os.cpu_count()


def test_importers_keep_what_the_file_says_about_its_machine(project: Path) -> None:
    gbench = FIXTURES / "google-benchmark" / "gbench.json"
    declare_slo(project, "BM_StringBuild/64")  # an import must match a configured SLO
    done = run_cli("import", "google-benchmark", str(gbench), cwd=project)
    assert done.returncode == 0, done.stderr
    [path] = sorted((project / "artifacts").glob("perf-*.json"))
    fingerprint = read_run(path).fingerprint
    source = orjson.loads(gbench.read_bytes())["context"]
    assert fingerprint["producer"] == "google-benchmark" and fingerprint["runtime"] == "native"
    assert fingerprint["cpu_count"] == source["num_cpus"]
    assert "cpu_model" not in fingerprint  # not this machine's: the file does not say


def test_perf_measurement_writes_where_perfslo_points_it(project: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "elsewhere"
    (other / "artifacts").mkdir(parents=True)
    (other / "perfslo.toml").write_text('artifacts_dir = "artifacts"\n\n[slos.from-env]\nbudget = 9\n')
    target = tmp_path / "gate-reads-here"
    monkeypatch.setenv("PERFSLO_ARTIFACTS", str(target))
    monkeypatch.setenv("PERFSLO_CONFIG", str(other / "perfslo.toml"))
    perf = PerfMeasurement()  # as a bench script writes it, in the project folder
    assert perf.config.path == (other / "perfslo.toml").resolve() and "from-env" in perf.config.slos
    perf.measure("from-env", 1.0)
    assert perf.write().parent == target
    assert list((project / "artifacts").glob("perf-*.json")) == []
    assert load_config(start=project).artifacts_dir == project / "artifacts"  # untouched otherwise
