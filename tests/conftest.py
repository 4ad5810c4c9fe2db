"""Shared fixtures: a real project folder with a config and real run files."""

from __future__ import annotations

import os
import random
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from hypothesis import settings

from perfslo_tui.config import Config, load_config
from perfslo_tui.runs.files import build_run_document, write_run
from perfslo_tui.runs.metadata import make_metadata

# CI runs every property test the same way each time and keeps no example
# database in the clone (a failing example found once would otherwise fail
# every later run there); locally hypothesis explores and remembers.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("dev")
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))

SEED_CONFIG = """\
confirm_runs = 1

[slos.transpile-simple]
budget = 0.85
description = "Single var declaration"

[slos.transpile-function]
budget = 1.2
description = "Function declaration"

[slos.transpile-objects]
budget = 1.15
description = "Objects & arrays"

[slos.ir-parse-simple]
budget = 0.25
description = "Basic IR parsing"

[slos.ir-parse-complex]
budget = 0.95
description = "Complex IR patterns"

[slos.lua-emit-simple]
budget = 0.35
description = "Simple Lua output"

[slos.lua-emit-complex]
budget = 1.05
description = "Complex Lua output"
"""

# The original system's hard-coded mock timings (notes/origin.md).
SEED_MOCK_TIMINGS = {
    "transpile-simple": 0.84,
    "transpile-function": 1.25,
    "transpile-objects": 1.27,
    "ir-parse-simple": 0.24,
    "ir-parse-complex": 0.96,
    "lua-emit-simple": 0.34,
    "lua-emit-complex": 1.06,
}

BASE_MS = 1_795_000_000_000  # 2026-11-18
HOUR_MS = 3_600_000


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never read the developer's settings: CI variables and colour flags."""
    for name in (
        "PERFSLO_COMMIT",
        "PERFSLO_BRANCH",
        "PERFSLO_ARTIFACTS",
        "PERFSLO_CONFIG",
        "PERFSLO_DATABASE_URL",
        "PERFSLO_MACHINE",
        "GITHUB_SHA",
        "GITHUB_HEAD_REF",
        "GITHUB_REF_NAME",
        "GITHUB_STEP_SUMMARY",
        "CI_COMMIT_SHA",
        "CI_COMMIT_REF_NAME",
        "PERF_ITERATIONS",
        "PERF_COLLECT",
        "NO_COLOR",
        "TEXTUAL_THEME",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository with the seed's seven SLOs in perfslo.toml, as cwd."""
    root = tmp_path / "proj"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "perfslo.toml").write_text(SEED_CONFIG)
    (root / "artifacts").mkdir()
    monkeypatch.chdir(root)
    return root


def declare_slo(project: Path, name: str, budget: float = 1000.0) -> None:
    """Add an SLO to the project's perfslo.toml (an import must match a configured SLO)."""
    with (project / "perfslo.toml").open("a") as handle:
        handle.write(f'\n[slos."{name}"]\nbudget = {budget}\n')


@pytest.fixture
def config(project: Path) -> Config:
    """The project's loaded config."""
    return load_config(start=project)


RunWriter = Callable[..., Path]


def make_run(
    artifacts: Path,
    values: Mapping[str, float | Sequence[float]],
    ts_ms: int = BASE_MS,
    commit: str = "a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0",
    branch: str = "main",
    spread: float = 0.0,
    count: int = 21,
) -> Path:
    """Write a real run file: a number becomes ``count`` samples around it.

    The samples spread evenly over ``value × (1 ± spread)`` in a fixed
    shuffled order, as real samples come: a sorted ramp would be a trend
    that the steady-state detection rightly cuts or refuses.
    """
    samples: dict[str, list[float]] = {}
    for name, value in values.items():
        if isinstance(value, int | float):
            half = count // 2
            ramp = [value * (1 + spread * (i - half) / max(half, 1)) for i in range(count)]
            random.Random(count).shuffle(ramp)
            samples[name] = ramp
        else:
            samples[name] = [float(v) for v in value]
    meta = make_metadata(timestamp_ms=ts_ms, git={"commit": commit, "branch": branch, "dirty": False})
    return write_run(artifacts, build_run_document(samples, meta))


@pytest.fixture
def write(project: Path) -> Iterator[RunWriter]:
    """Write run files into the project's artifacts folder."""

    def _write(values: Mapping[str, float | Sequence[float]], **kwargs: object) -> Path:
        return make_run(project / "artifacts", values, **kwargs)  # type: ignore[arg-type]

    yield _write


def run_cli(
    *args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real ``perfslo`` CLI in a subprocess."""
    import sys

    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "perfslo_tui", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
