"""What a run records about where and how it was measured: time, git, host, fingerprint.

The **measurement fingerprint** (``metadata.fingerprint`` in a run file, all
fields optional) says what produced the numbers: the producer and its
version, the measurement protocol, the runtime and its version, the CPU
model, core count and OS, ``PERF_ITERATIONS`` and whether a reference series
was timed. Runs whose fingerprints differ in what matters are not compared
(:mod:`perfslo_tui.verdict.comparable` decides what matters).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import socket
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from perfslo_tui.text import utc_iso

# The commit of a run measured before the repository's first commit.
UNBORN_COMMIT = "uncommitted"


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
    head = _git(["rev-parse", "HEAD"], where)
    # A repository before its first commit: the work tree is all uncommitted
    # changes, so the run is named and marked as such (never "unknown").
    unborn = head is None and _git(["rev-parse", "--is-inside-work-tree"], where) == "true"
    if not commit:
        commit = head or (UNBORN_COMMIT if unborn else "unknown")
    if not branch:
        branch = (
            _git(["symbolic-ref", "--short", "HEAD"], where)
            if unborn
            else _git(["rev-parse", "--abbrev-ref", "HEAD"], where)
        ) or "unknown"
    status = _git(["status", "--porcelain", "--untracked-files=no"], where)
    return {"commit": commit, "branch": branch, "dirty": bool(status) or (unborn and commit == UNBORN_COMMIT)}


# The fingerprint's fields and their JSON types (the schema says the same).
FINGERPRINT_FIELDS: dict[str, type] = {
    "producer": str,
    "producer_version": str,
    "protocol": str,
    "runtime": str,
    "runtime_version": str,
    "cpu_model": str,
    "cpu_count": int,
    "os": str,
    "perf_iterations": int,
    "reference": bool,
}
# perfslo's own harness (``bench``/``loop``): warm-up until steady, calibrated
# inner loop, reference workload beside every sample. Bumped when the way
# samples are taken changes what they mean.
HARNESS_PROTOCOL = "perfslo-bench/2"


def cpu_model() -> str:
    """The CPU's model name (``Intel(R) Xeon(R) …``), or the machine type when unknown.

    ``platform.processor()`` is empty on most Linux systems, so
    ``/proc/cpuinfo`` is read there.
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Processor", "cpu model") and value.strip():
                    return value.strip()[:128]
    except OSError:
        pass
    return (platform.processor() or platform.machine() or "unknown")[:128]


def machine_fingerprint() -> dict[str, Any]:
    """This machine's part of a fingerprint: CPU model, core count, OS."""
    return {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count() or 0,
        "os": f"{platform.system()} {platform.release()}",
    }


def python_fingerprint(
    producer: str = "perfslo",
    protocol: str = HARNESS_PROTOCOL,
    perf_iterations: int | None = None,
    reference: bool | None = None,
) -> dict[str, Any]:
    """The fingerprint of a run measured in this Python process on this machine.

    Args:
        producer: What took the samples (``perfslo``, ``perfslo run``).
        protocol: How they were taken (see :data:`HARNESS_PROTOCOL`).
        perf_iterations: ``PERF_ITERATIONS`` when it was set.
        reference: Whether a reference series was timed beside the samples.
    """
    from perfslo_tui import __version__

    found: dict[str, Any] = {
        "producer": producer,
        "producer_version": __version__,
        "protocol": protocol,
        "runtime": platform.python_implementation().lower().replace("cpython", "python"),
        "runtime_version": platform.python_version(),
        **machine_fingerprint(),
    }
    if perf_iterations is not None:
        found["perf_iterations"] = perf_iterations
    if reference is not None:
        found["reference"] = reference
    return found


def clean_fingerprint(raw: object) -> dict[str, Any]:
    """The known fields of a fingerprint with the right types; anything else is dropped."""
    if not isinstance(raw, Mapping):
        return {}
    kept: dict[str, Any] = {}
    for name, kind in FINGERPRINT_FIELDS.items():
        value = raw.get(name)
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            continue
        if isinstance(value, kind) and (not isinstance(value, str) or value.strip()):
            kept[name] = value.strip()[:128] if isinstance(value, str) else value
    return kept


def fingerprint_text(fingerprint: Mapping[str, Any]) -> str:
    """A fingerprint as the run table keeps it: canonical JSON, or empty when there is none."""
    return orjson.dumps(dict(fingerprint), option=orjson.OPT_SORT_KEYS).decode() if fingerprint else ""


# A commit as run files record it; anything else (an option, a range) never reaches git.
_COMMIT_RE = re.compile(r"[0-9a-fA-F]{4,64}")


def commits_between(old: str, new: str, cwd: Path) -> int | None:
    """How many commits ``new`` has that ``old`` has not (``git rev-list --count old..new``).

    Args:
        old: The older commit (the baseline's), as recorded in a file.
        new: The newer commit (the latest run's).
        cwd: A folder inside the repository.

    Returns:
        The count, or None outside a git repository, for a commit git does
        not know (a shallow clone, a run from another repository) or for a
        value that is not a commit id.
    """
    if not (_COMMIT_RE.fullmatch(old) and _COMMIT_RE.fullmatch(new)):
        return None
    where = cwd if cwd.is_dir() else cwd.parent
    if not where.is_dir():
        return None
    out = _git(["rev-list", "--count", f"{old}..{new}"], where)
    return int(out) if out is not None and out.isdigit() else None


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
    fingerprint: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a run's metadata block (time, git, host and, when given, the fingerprint)."""
    from perfslo_tui import __version__

    ms = timestamp_ms if timestamp_ms is not None else now_ms()
    info = dict(git) if git is not None else git_info(cwd)
    meta: dict[str, Any] = {
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
    if fingerprint:
        meta["fingerprint"] = clean_fingerprint(fingerprint)
    return meta


def now_ms() -> int:
    """The current time in epoch milliseconds (UTC)."""
    return int(dt.datetime.now(tz=dt.UTC).timestamp() * 1000)
