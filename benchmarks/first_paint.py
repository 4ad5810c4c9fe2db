"""How soon ``perfslo-tui`` shows something, in a real terminal (a pty), idle and busy.

``python -m benchmarks.first_paint [--runs 1000] [--repeat 5] [--busy N] [--quick]``
starts the real ``perfslo-tui`` console script in a pseudo-terminal of 120x40
on a generated history (7 SLOs x 100 samples per run, cache already built),
reads what it writes to the terminal, and times three moments from the
process start:

- **first line**: ``perfslo  starting…`` (the launcher, before Textual, polars, numpy);
- **monitor drawn**: the monitor's header (Textual's first paint, "sort: status");
- **cards**: the first SLO's name on a card (the history loaded and evaluated).

Each figure is the median of ``--repeat`` starts. ``--busy N`` runs N
CPU-bound processes meanwhile (a busy machine). The last line printed is a
JSON object with every figure, for tests and for docs/tui.md.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path
from statistics import median

from benchmarks.history import SLOS, write_history

MARKS = {"first_line": b"starting", "monitor": b"sort: ", "cards": SLOS[0].encode()}
TIMEOUT_S = 120.0
SIZE = (120, 40)


def project(folder: Path, runs: int) -> Path:
    """A project with the synthetic SLOs configured and ``runs`` runs."""
    lines = [f'[slos."{name}"]\nbudget = {2.0 * (i + 1)}\n' for i, name in enumerate(SLOS)]
    (folder / "perfslo.toml").write_text("\n".join(lines))
    write_history(folder / "artifacts", runs)
    # The first start builds the on-disk cache; the starts measured are later ones.
    subprocess.run(
        [sys.executable, "-m", "perfslo_tui", "check"],
        cwd=folder,
        capture_output=True,
        timeout=600,
        check=False,
    )
    return folder


def console_script() -> list[str]:
    """The installed ``perfslo-tui`` beside this interpreter, else the same entry point via -c."""
    script = Path(sys.executable).parent / "perfslo-tui"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from perfslo_tui.tui.launch import entry; entry()"]


def one_start(folder: Path) -> dict[str, float]:
    """Start the monitor in a pty; seconds from the start to each mark."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFSLO_")}
    env["TERM"] = "xterm-256color"
    start = time.perf_counter()
    proc = subprocess.Popen(
        console_script(), cwd=folder, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
    )
    os.close(slave)
    seen = b""
    found: dict[str, float] = {}
    try:
        while len(found) < len(MARKS):
            if time.perf_counter() - start > TIMEOUT_S:
                raise TimeoutError(f"not seen within {TIMEOUT_S}s: {sorted(set(MARKS) - set(found))}")
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            now = time.perf_counter() - start
            seen += chunk
            for name, mark in MARKS.items():
                if name not in found and mark in seen:
                    found[name] = now
        os.write(master, b"q")
        # Keep reading while it quits: a full pty buffer would block its last writes.
        deadline = time.perf_counter() + 60
        while proc.poll() is None and time.perf_counter() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    os.read(master, 65536)
                except OSError:
                    break
        proc.wait(timeout=5)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)
    return found


def hogs(count: int) -> list[subprocess.Popen[bytes]]:
    """CPU-bound processes: a busy machine."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="runs in the history (default 1000)")
    parser.add_argument("--repeat", type=int, default=5, help="starts per figure (default 5)")
    parser.add_argument("--busy", type=int, default=0, help="CPU-bound processes running meanwhile")
    parser.add_argument("--quick", action="store_true", help="60 runs, 2 starts (a smoke test)")
    args = parser.parse_args(argv)
    runs, repeat = (60, 2) if args.quick else (args.runs, args.repeat)
    work = Path(tempfile.mkdtemp(prefix="perfslo-first-paint-"))
    busy: list[subprocess.Popen[bytes]] = []
    try:
        folder = project(work, runs)
        busy = hogs(args.busy)
        starts = [one_start(folder) for _ in range(repeat)]
    finally:
        for hog in busy:
            hog.kill()
            hog.wait()
        shutil.rmtree(work, ignore_errors=True)
    figures = {name: median(s[name] for s in starts) for name in MARKS}
    load = os.getloadavg()[0]
    print(
        f"perfslo-tui in a {SIZE[0]}x{SIZE[1]} pty, {runs} runs, {repeat} starts, {args.busy} busy processes"
    )
    print(f"(load average {load:.1f}, {os.cpu_count()} CPUs); median seconds from the process start:")
    for name, label in (("first_line", "first line"), ("monitor", "monitor drawn"), ("cards", "cards")):
        print(f"  {label:<14} {figures[name]:.3f} s")
    print(json.dumps({"runs": runs, "repeat": repeat, "busy": args.busy, **figures, "starts": starts}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
