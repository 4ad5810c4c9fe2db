"""A newcomer's first minutes, timed: from ``perfslo init`` to the first card of their project.

``python -m benchmarks.newcomer [--install] [--node]`` makes a small Python project (a
``src/`` package with a console script) and, with ``--node``, a small Node project (``main``
and ``scripts.bench``) in fresh ``git init`` folders, then does what the README says after
the install: ``perfslo init``, then ``perfslo-tui`` in a 120x40 pseudo-terminal, then ``r``,
and times the moment the first card shows ("of budget" on screen). With ``--install`` the
Python project gets its own virtual environment with perfslo installed from this checkout
(``pip install <repo> -e <project>``, timed apart); without it the perfslo beside this
interpreter is used. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.first_paint import SIZE

REPO = Path(__file__).resolve().parent.parent

PYPROJECT = """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "wordfreq"
version = "0.1.0"

[project.scripts]
wordfreq = "wordfreq.cli:main"
"""
PACKAGE = '''"""Count words."""
from collections import Counter


def top_words(text: str, n: int = 10) -> list[tuple[str, int]]:
    return Counter(text.lower().split()).most_common(n)
'''
CLI = """import argparse
import sys

from wordfreq import top_words


def main() -> None:
    parser = argparse.ArgumentParser(description="most common words of stdin")
    parser.add_argument("-n", type=int, default=10)
    args = parser.parse_args()
    for word, count in top_words(sys.stdin.read(), args.n):
        print(count, word)
"""
PACKAGE_JSON = {
    "name": "slugger",
    "version": "1.0.0",
    "main": "index.js",
    "scripts": {"bench": "node bench.js"},
}
INDEX_JS = (
    'function slug(t) { return t.toLowerCase().replace(/[^a-z0-9]+/g, "-"); }\nmodule.exports = { slug };\n'
)
BENCH_JS = (
    'const { slug } = require("./index");\nlet n = 0;\n'
    'for (let i = 0; i < 200000; i++) n += slug("Hello, World " + i).length;\nconsole.log(n);\n'
)


def git_init(folder: Path) -> None:
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    subprocess.run(["git", "-C", str(folder), "add", "-A"], check=True)
    subprocess.run(
        ["git", "-C", str(folder), "-c", "user.name=n", "-c", "user.email=n@x", "commit", "-qm", "init"],
        check=True,
    )


def python_project(folder: Path) -> Path:
    package = folder / "src" / "wordfreq"
    package.mkdir(parents=True)
    (folder / "pyproject.toml").write_text(PYPROJECT)
    (package / "__init__.py").write_text(PACKAGE)
    (package / "cli.py").write_text(CLI)
    git_init(folder)
    return folder


def node_project(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "package.json").write_text(json.dumps(PACKAGE_JSON))
    (folder / "index.js").write_text(INDEX_JS)
    (folder / "bench.js").write_text(BENCH_JS)
    git_init(folder)
    return folder


def first_card(project: Path, bin_dir: Path) -> dict[str, float]:
    """``perfslo init``, then the monitor in a pty, ``r``, until a card shows a value."""
    import fcntl
    import select
    import signal
    import struct
    import termios

    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFSLO_")}
    env["TERM"] = "xterm-256color"
    start = time.perf_counter()
    init = subprocess.run(
        [str(bin_dir / "perfslo"), "init"], cwd=project, env=env, capture_output=True, text=True
    )
    if init.returncode != 0:
        raise RuntimeError(f"perfslo init failed: {init.stderr}")
    after_init = time.perf_counter() - start
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
    proc = subprocess.Popen(
        [str(bin_dir / "perfslo-tui")], cwd=project, env=env, stdin=slave, stdout=slave, stderr=slave,
        start_new_session=True,
    )  # fmt: skip
    os.close(slave)
    seen = b""
    moments: dict[str, float] = {"init": after_init}
    try:
        while "card" not in moments:
            if time.perf_counter() - start > 300:
                raise TimeoutError("no card within 300 s")
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                continue
            seen += os.read(master, 65536)
            if "monitor" not in moments and b"sort: " in seen:
                moments["monitor"] = time.perf_counter() - start
                os.write(master, b"r")
            if "monitor" in moments and b"of budget" in seen:
                moments["card"] = time.perf_counter() - start
        os.write(master, b"q")
        deadline = time.perf_counter() + 60
        while proc.poll() is None and time.perf_counter() < deadline:
            if select.select([master], [], [], 0.05)[0]:
                try:
                    os.read(master, 65536)
                except OSError:
                    break
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        os.close(master)
    moments["slos"] = float(len([line for line in init.stdout.splitlines() if line.startswith("  SLO ")]))
    return moments


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--install", action="store_true", help="a fresh venv with perfslo installed from here"
    )
    parser.add_argument("--node", action="store_true", help="also a Node project (needs node and npm)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="perfslo-newcomer-"))
    results: dict[str, dict[str, float]] = {}
    try:
        py = python_project(work / "wordfreq")
        bin_dir = Path(sys.executable).parent
        if args.install:
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "venv", str(py / ".venv")], check=True)
            subprocess.run(
                [str(py / ".venv" / "bin" / "pip"), "install", "-q", str(REPO), "-e", str(py)],
                check=True, capture_output=True,
            )  # fmt: skip
            bin_dir = py / ".venv" / "bin"
            results["install"] = {"seconds": time.perf_counter() - started}
        results["python"] = first_card(py, bin_dir)
        if args.node:
            results["node"] = first_card(node_project(work / "slugger"), Path(sys.executable).parent)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"(load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs); seconds from `perfslo init`:")
    for name in ("python", "node"):
        if name in results:
            r = results[name]
            print(
                f"  {name:<7} init {r['init']:.1f}  monitor {r['monitor']:.1f}  first card {r['card']:.1f}"
                f"  ({r['slos']:.0f} SLOs proposed)"
            )
    if "install" in results:
        print(f"  (install into a fresh venv: {results['install']['seconds']:.0f} s)")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
