"""Helpers of the shared-history tests: run files, processes, folder states."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from benchmarks.history import SLOS, START_MS, STEP_MS, run_document
from perfslo_tui.runs.files import run_file_name

REPO = Path(__file__).resolve().parents[2]
OTHER_HOST = {"hostname": "ci-7", "cpu": "aarch64", "cpu_count": 4, "os": "Linux 6.8", "python": "3.12"}


def run_bytes(
    index: int, host: dict[str, Any] | None = None, commit: str | None = None, seed: int = 3
) -> bytes:
    """A real run file (7 SLOs x 100 samples) measured at START_MS + index minutes."""
    rng = np.random.default_rng(seed * 7919 + index)
    scale = (np.arange(len(SLOS), dtype=float) + 1.0)[:, None]
    document = run_document(
        START_MS + index * STEP_MS, rng.lognormal(0.0, 0.1, size=(len(SLOS), 100)) * scale
    )
    if host is not None:
        document["metadata"]["host"] = host
    if commit is not None:
        document["metadata"]["commit"] = commit
    return orjson.dumps(document, option=orjson.OPT_INDENT_2)


def run_name(data: bytes) -> str:
    """The file name perfslo gives a run."""
    meta = orjson.loads(data)["metadata"]
    return run_file_name(meta["commit"], meta["timestamp_unix"])


def write_runs(folder: Path, indexes: range, **kwargs: Any) -> list[Path]:
    """Write runs into ``folder`` under perfslo's names."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in indexes:
        data = run_bytes(index, **kwargs)
        path = folder / run_name(data)
        path.write_bytes(data)
        paths.append(path)
    return paths


def folder_state(folder: Path) -> dict[str, str]:
    """Name -> sha256 of every file under ``folder`` (to prove it was left untouched)."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def env(**extra: str) -> dict[str, str]:
    """The environment of a child Python that can import perfslo and benchmarks."""
    result = dict(os.environ)
    result["PYTHONPATH"] = str(REPO) + (os.pathsep + result["PYTHONPATH"] if result.get("PYTHONPATH") else "")
    result.update(extra)
    return result


def python(*args: str, extra_env: dict[str, str] | None = None, **kwargs: Any) -> subprocess.Popen[str]:
    """Start ``python args...`` with pipes."""
    return subprocess.Popen(
        [sys.executable, *args],
        env=env(**(extra_env or {})),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=kwargs.pop("cwd", REPO),
        **kwargs,
    )


def perfslo(*args: str, cwd: Path, url: str | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
    """Run the real ``perfslo`` CLI with ``PERFSLO_DATABASE_URL`` set to ``url``."""
    variables = {**extra}
    if url is not None:
        variables["PERFSLO_DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "perfslo_tui", *args],
        cwd=cwd,
        env=env(**variables),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
