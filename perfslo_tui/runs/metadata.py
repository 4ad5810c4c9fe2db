"""What a run records about where it was measured: time, git commit, branch, host."""

from __future__ import annotations

import datetime as dt
import os
import platform
import socket
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from perfslo_tui.text import utc_iso


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def git_info(cwd: Path | None = None) -> dict[str, Any]:
    """Commit, branch and dirty flag of the work tree, with CI overrides.

    ``PERFSLO_COMMIT`` / ``PERFSLO_BRANCH`` win; then GitHub Actions'
    ``GITHUB_SHA`` and ``GITHUB_HEAD_REF`` / ``GITHUB_REF_NAME``, GitLab's
    ``CI_COMMIT_SHA`` / ``CI_COMMIT_REF_NAME``; then git itself.
    """
    where = cwd or Path.cwd()
    env = os.environ
    commit = env.get("PERFSLO_COMMIT") or env.get("GITHUB_SHA") or env.get("CI_COMMIT_SHA")
    branch = (
        env.get("PERFSLO_BRANCH")
        or env.get("GITHUB_HEAD_REF")
        or env.get("GITHUB_REF_NAME")
        or env.get("CI_COMMIT_REF_NAME")
    )
    if not commit:
        commit = _git(["rev-parse", "HEAD"], where) or "unknown"
    if not branch:
        branch = _git(["rev-parse", "--abbrev-ref", "HEAD"], where) or "unknown"
    status = _git(["status", "--porcelain", "--untracked-files=no"], where)
    return {"commit": commit, "branch": branch, "dirty": bool(status)}


def host_info() -> dict[str, Any]:
    """Host, CPU, OS and Python facts recorded with each run.

    ``PERFSLO_MACHINE`` adds ``label``: an explicit machine name that keeps
    runs apart (see :mod:`perfslo_tui.runs.machine`).
    """
    info: dict[str, Any] = {
        "hostname": socket.gethostname(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count() or 0,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
    }
    label = os.environ.get("PERFSLO_MACHINE", "").strip()
    if label:
        info["label"] = label[:64]
    return info


def make_metadata(
    timestamp_ms: int | None = None,
    cwd: Path | None = None,
    source: str = "perfslo",
    git: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a run's metadata block (time, git, host)."""
    from perfslo_tui import __version__

    ms = timestamp_ms if timestamp_ms is not None else now_ms()
    info = dict(git) if git is not None else git_info(cwd)
    return {
        "timestamp": utc_iso(ms),
        "timestamp_unix": ms,
        "commit": str(info.get("commit", "unknown")),
        "branch": str(info.get("branch", "unknown")),
        "dirty": bool(info.get("dirty", False)),
        "host": host_info(),
        "runner": os.environ.get("RUNNER_NAME") or socket.gethostname(),
        "python": platform.python_version(),
        "tool": f"perfslo {__version__}",
        "source": source,
    }


def now_ms() -> int:
    """The current time in epoch milliseconds (UTC)."""
    return int(dt.datetime.now(tz=dt.UTC).timestamp() * 1000)


