"""The Node.js example writes run files that follow the schema and that perfslo reads."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import numpy as np
import orjson
import pytest

from perfslo_tui.runs.files import RUN_FILE_RE, load_schema
from tests.conftest import run_cli

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "node" / "write-run.js"


def node() -> str:
    path = shutil.which("node")
    if path is None:
        pytest.fail("node is not installed: the Node.js example test needs node >= 18 on PATH")
    return path


def run_example(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [node(), str(EXAMPLE), *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_node_example_writes_a_schema_valid_run_that_check_reads(project: Path) -> None:
    with (project / "perfslo.toml").open("a") as handle:
        handle.write(
            "\n[slos.node-regex-rewrite]\nbudget = 50\n\n[slos.node-json-roundtrip]\nbudget = 50\n"
            "\n[slos.node-render-rows]\nbudget = 50\n"
        )
    env = {"PERFSLO_ARTIFACTS": str(project / "artifacts"), "PERF_ITERATIONS": "12"}
    done = run_example(cwd=project, env=env)
    assert done.returncode == 0, done.stderr
    [path] = sorted((project / "artifacts").glob("perf-*.json"))
    assert f"Run written: {path}" in done.stdout
    assert RUN_FILE_RE.match(path.name)
    assert list((project / "artifacts").glob(".*.tmp")) == []  # the temp file was linked and removed

    document = orjson.loads(path.read_bytes())
    schema = load_schema("run")
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    assert list(validator.iter_errors(document)) == []
    assert document["metadata"]["source"] == "node"
    assert path.name == f"perf-unknown-{document['metadata']['timestamp_unix']}.json"  # no commit yet
    samples = {name: body["samples"] for name, body in document["slos"].items()}
    assert {k: len(v) for k, v in samples.items()} == {
        "node-regex-rewrite": 12,
        "node-json-roundtrip": 12,
        "node-render-rows": 12,
    }

    check = run_cli("check", "--format", "json", "--no-step-summary", cwd=project)
    assert check.returncode == 0, check.stderr
    report = orjson.loads(check.stdout)
    assert report["run"]["run_id"] == path.name
    by_name = {s["name"]: s for s in report["slos"]}
    for name, values in samples.items():
        assert by_name[name]["value_ms"] == pytest.approx(float(np.median(values)))
        assert by_name[name]["stats"]["count"] == 12
        assert by_name[name]["status"] == "PASS"


def test_node_example_records_the_commit_and_runs_one_slo(project: Path) -> None:
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "add", "perfslo.toml"], check=True)
    subprocess.run(
        ["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "-m", "init"], check=True
    )
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    env = {"PERFSLO_ARTIFACTS": str(project / "artifacts"), "PERF_ITERATIONS": "3"}
    done = run_example("--slo", "node-json-roundtrip", cwd=project, env=env)
    assert done.returncode == 0, done.stderr
    [path] = sorted((project / "artifacts").glob("perf-*.json"))
    assert path.name.startswith(f"perf-{head.stdout.strip()[:7]}-")
    document = orjson.loads(path.read_bytes())
    assert document["metadata"]["commit"] == head.stdout.strip()
    assert list(document["slos"]) == ["node-json-roundtrip"]

    bad = run_example("--slo", "nope", cwd=project, env=env)
    assert bad.returncode == 2
    assert "no benchmark named nope" in bad.stderr


def test_node_example_setup_runs_before_every_call_outside_the_timed_region(tmp_path: Path) -> None:
    # A benchmark whose setup (clear a cache, then 0.1 ms of busy work) dwarfs its call.
    script = tmp_path / "bench.js"
    script.write_text(
        f"const {{ main }} = require({str(EXAMPLE)!r});\n"
        "const cache = new Map(); let setups = 0, misses = 0;\n"
        "function spin(ms) {\n"
        "  const end = process.hrtime.bigint() + BigInt(ms * 1e6);\n"
        "  while (process.hrtime.bigint() < end);\n"
        "}\n"
        "process.exitCode = main({ cached: {\n"
        "  setup: () => { cache.clear(); setups++; spin(0.1); },\n"
        "  run: () => {\n"
        "    if (!cache.has(1)) { misses++; cache.set(1, 'x'.repeat(100)); }\n"
        "    return cache.get(1);\n"
        "  },\n"
        "} });\n"
        "process.on('exit', () => console.log(`setups=${setups} misses=${misses}`));\n"
    )
    done = subprocess.run(
        [node(), str(script)],
        cwd=tmp_path,
        env={**os.environ, "PERFSLO_ARTIFACTS": str(tmp_path / "a"), "PERF_ITERATIONS": "5"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    setups, misses = (int(part.split("=")[1]) for part in done.stdout.split()[-2:])
    assert setups == misses > 0  # every call ran after its own setup: the cache was always cold
    [path] = sorted((tmp_path / "a").glob("perf-*.json"))
    samples = orjson.loads(path.read_bytes())["slos"]["cached"]["samples"]
    assert len(samples) == 5
    assert float(np.median(samples)) < 0.05  # the 0.1 ms setup is not in the timed region
