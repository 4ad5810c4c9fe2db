"""Run files and baselines: format, schema, atomic writes, no overwrites."""

from __future__ import annotations

import multiprocessing
import os
import random
import subprocess
from pathlib import Path

import orjson
import pytest

from perfslo_tui.runs.files import (
    ArtifactError,
    baseline_document_from_run,
    build_run_document,
    is_run_file_name,
    load_schema,
    read_baseline,
    read_run,
    write_baseline,
    write_run,
)
from perfslo_tui.runs.metadata import git_info, make_metadata
from tests.conftest import BASE_MS, make_run

GIT = {"commit": "a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0", "branch": "main", "dirty": False}


def _doc(ms: int = BASE_MS, samples: int = 100) -> dict[str, object]:
    values = [0.8 + i * 0.001 for i in range(samples)]
    random.Random(1).shuffle(values)  # in the order taken, samples are not sorted
    data = {"transpile-simple": values}
    return build_run_document(data, make_metadata(timestamp_ms=ms, git=GIT))


def test_run_file_has_the_seed_name_and_full_content(tmp_path: Path) -> None:
    path = write_run(tmp_path, _doc())
    assert path.name == f"perf-a1b2c3d-{BASE_MS}.json"
    assert is_run_file_name(path.name)
    doc = orjson.loads(path.read_bytes())
    assert doc["schema_version"] == 1
    meta = doc["metadata"]
    assert meta["timestamp"] == "2026-11-18T11:06:40.000Z"
    assert meta["timestamp_unix"] == BASE_MS
    assert meta["commit"] == GIT["commit"] and meta["branch"] == "main" and meta["dirty"] is False
    assert {"hostname", "cpu", "os", "python"} <= set(meta["host"])
    body = doc["slos"]["transpile-simple"]
    assert len(body["samples"]) == 100
    assert set(body["stats"]) == {"count", "min", "median", "mean", "p95", "max", "stdev"}
    assert body["stats"]["median"] == pytest.approx(0.8495)


def test_a_run_never_overwrites_another(tmp_path: Path) -> None:
    first = write_run(tmp_path, _doc())
    second = write_run(tmp_path, _doc())
    assert first != second
    assert second.name == f"perf-a1b2c3d-{BASE_MS + 1}.json"
    assert read_run(second).timestamp_ms == BASE_MS + 1
    assert read_run(first).timestamp_ms == BASE_MS


def test_no_temp_files_are_left_behind(tmp_path: Path) -> None:
    write_run(tmp_path, _doc())
    assert [p.name for p in tmp_path.iterdir()] == [f"perf-a1b2c3d-{BASE_MS}.json"]


def test_invalid_documents_are_refused_before_writing(tmp_path: Path) -> None:
    doc = _doc()
    doc["slos"] = {}
    with pytest.raises(ValueError, match="refusing to write an invalid run"):
        write_run(tmp_path, doc)
    assert list(tmp_path.iterdir()) == []


def _writer(folder: str, count: int) -> None:
    for i in range(count):
        write_run(Path(folder), _doc(BASE_MS + i * 10, samples=20_000))


def test_a_reader_racing_writers_never_sees_a_partial_run(tmp_path: Path) -> None:
    # Big files (20k samples, ~400 KB) make a torn read likely if writes were not atomic.
    ctx = multiprocessing.get_context("spawn")
    writers = [ctx.Process(target=_writer, args=(str(tmp_path), 15)) for _ in range(2)]
    for proc in writers:
        proc.start()
    seen_errors: list[str] = []
    reads = 0
    while any(proc.is_alive() for proc in writers) or reads == 0:
        for path in tmp_path.glob("perf-*.json"):
            try:
                run = read_run(path)
            except ArtifactError as exc:
                seen_errors.append(str(exc))
            else:
                assert len(run.samples["transpile-simple"]) == 20_000
                reads += 1
    for proc in writers:
        proc.join()
        assert proc.exitcode == 0
    assert seen_errors == []
    assert reads > 0
    assert len(list(tmp_path.glob("perf-*.json"))) == 30
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "empty file"),
        (b'{"schema_version": 1, "metadata": {', "invalid JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (
            b'{"schema_version": 1, "metadata": {"timestamp": "x", "timestamp_unix": 1, "commit": "c"}}',
            "schema",
        ),
        (b'{"schema_version": 7, "metadata": {}, "slos": {}}', "unsupported schema_version 7"),
    ],
)
def test_unreadable_or_schema_failing_files_name_file_and_problem(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    path = tmp_path / f"perf-abc-{BASE_MS}.json"
    path.write_bytes(content)
    with pytest.raises(ArtifactError) as info:
        read_run(path)
    assert str(path) in str(info.value)
    assert problem in str(info.value)
    assert "\n" not in str(info.value)


def test_samples_must_be_positive_numbers(tmp_path: Path) -> None:
    doc = _doc()
    doc["slos"]["transpile-simple"]["samples"][5] = -1.0  # type: ignore[index]
    path = tmp_path / f"perf-abc-{BASE_MS}.json"
    path.write_bytes(orjson.dumps(doc))
    with pytest.raises(ArtifactError, match="samples must be finite, > 0"):
        read_run(path)


def test_schema_file_is_published_and_valid() -> None:
    import jsonschema

    schema = load_schema("run")
    jsonschema.Draft202012Validator.check_schema(schema)
    repo_file = Path(__file__).resolve().parents[1] / "perfslo_tui" / "runs" / "schema" / "run.schema.json"
    assert orjson.loads(repo_file.read_bytes()) == schema


def test_git_metadata_and_ci_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    subprocess.run(["git", "init", "-q", "-b", "feature/x", str(repo)], check=True)
    (repo / "f").write_text("1")
    subprocess.run(["git", "add", "f"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "m"], cwd=repo, check=True, env=env)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True
    ).stdout.strip()
    info = git_info(repo)
    assert info == {"commit": head, "branch": "feature/x", "dirty": False}
    (repo / "f").write_text("2")
    assert git_info(repo)["dirty"] is True
    monkeypatch.setenv("GITHUB_SHA", "f" * 40)
    monkeypatch.setenv("GITHUB_HEAD_REF", "pr-branch")
    assert git_info(repo)["commit"] == "f" * 40
    assert git_info(repo)["branch"] == "pr-branch"
    monkeypatch.setenv("PERFSLO_BRANCH", "explicit")
    assert git_info(repo)["branch"] == "explicit"


def test_baseline_keeps_samples_median_and_commit_and_keeps_the_previous(tmp_path: Path) -> None:
    first = read_run(make_run(tmp_path, {"a": 1.0}, ts_ms=BASE_MS, commit="1" * 40))
    second = read_run(make_run(tmp_path, {"a": 2.0}, ts_ms=BASE_MS + 1000, commit="2" * 40))
    path, kept = write_baseline(tmp_path, baseline_document_from_run(first))
    assert kept is None
    baseline = read_baseline(path)
    assert baseline is not None
    assert baseline.commit == "1" * 40 and baseline.medians["a"] == pytest.approx(1.0)
    assert len(baseline.samples["a"]) == 21
    path, kept = write_baseline(tmp_path, baseline_document_from_run(second))
    assert kept is not None and kept.parent.name == "baselines"
    old = read_baseline(kept)
    assert old is not None and old.commit == "1" * 40
    new = read_baseline(path)
    assert new is not None and new.commit == "2" * 40 and new.source_run == second.run_id
