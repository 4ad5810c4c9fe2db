"""A real git repository with a tiny bench command, for compare, gate and monitor tests."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from benchmarks.shared import git

BENCH = """\
import json, os, pathlib, time
from work import work

samples = []
for _ in range(30):
    start = time.perf_counter_ns()
    work()
    samples.append(max(time.perf_counter_ns() - start, 1) / 1e6)
folder = pathlib.Path(os.environ.get("PERFSLO_ARTIFACTS", "artifacts"))
folder.mkdir(parents=True, exist_ok=True)
commit = os.environ.get("PERFSLO_COMMIT", "unknown")
ms = int(time.time() * 1000)
document = {
    "schema_version": 1,
    "metadata": {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ms / 1000)),
        "timestamp_unix": ms,
        "commit": commit,
        "source": "test",
    },
    "slos": {"work": {"unit": "ms", "samples": samples}},
}
(folder / f"perf-{commit[:7]}-{ms}.json").write_text(json.dumps(document))
"""

WORK = "def work():\n    return sum(i * i for i in range({n}))\n"


def make_repo(
    root: Path, base_n: int = 20000, head_n: int = 60000, budget: float = 50, tolerance: float = 0.05
) -> Path:
    """A two-commit repository (tag ``base``): ``work()`` does ``base_n`` iterations, then ``head_n``.

    The bench command (``python bench.py``) writes one run of 30 samples of
    the SLO ``work`` into ``PERFSLO_ARTIFACTS`` (default ``artifacts/``).
    """
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    (root / "work.py").write_text(WORK.format(n=base_n))
    (root / "bench.py").write_text(BENCH)
    (root / "perfslo.toml").write_text(
        f'bench_command = "{sys.executable} bench.py"\n\n'
        f"[slos.work]\nbudget = {budget}\ntolerance = {tolerance}\n"
    )
    (root / ".gitignore").write_text("__pycache__/\nartifacts/\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    git(root, "tag", "base")
    (root / "work.py").write_text(WORK.format(n=head_n))
    git(root, "commit", "-q", "--allow-empty", "-am", "more work")
    return root


def fingerprint(repo: Path) -> tuple[str, str, str, str]:
    """HEAD, the index's bytes, the status and the worktree list: all a compare must leave alone."""
    index = hashlib.sha256((repo / ".git" / "index").read_bytes()).hexdigest()
    return (
        git(repo, "rev-parse", "HEAD"),
        index,
        git(repo, "status", "--porcelain", "--untracked-files=all"),
        git(repo, "worktree", "list", "--porcelain"),
    )
