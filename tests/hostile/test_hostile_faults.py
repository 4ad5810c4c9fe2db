"""Faults: permissions, a full disk, write errors, a bad bench command, racing writers.

Permission tests run perfslo as the unprivileged ``nobody`` user through
``setpriv`` when the suite runs as root (where permission bits do not
apply), and as the current user otherwise; the modes used deny the owner
too, so both ways see the same denial.
The full disk is a real 4 MiB tmpfs when the test may mount one (root in a
container that allows it); the write error is an ``ENOSPC`` raised from the
real ``os.fsync`` inside the real writer.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from perfslo_tui.actions.bench import BenchCommandError, run_to_completion
from perfslo_tui.config import load_config
from perfslo_tui.runs import files as artifacts
from perfslo_tui.runs.files import (
    baseline_document_from_run,
    build_run_document,
    read_baseline,
    read_run,
    write_baseline,
    write_run,
)
from perfslo_tui.runs.metadata import make_metadata
from perfslo_tui.runs.store import RunStore
from tests.conftest import BASE_MS, HOUR_MS, SEED_CONFIG, make_run, run_cli
from tests.hostile.hostile_cases import GOOD_VALUES

GIT = {"commit": "fa17fa17fa17fa17fa17fa17fa17fa17fa17fa17", "branch": "main", "dirty": False}
SETPRIV = shutil.which("setpriv")


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _doc(ts_ms: int) -> dict[str, object]:
    return build_run_document({"transpile-simple": [0.7, 0.71]}, make_metadata(timestamp_ms=ts_ms, git=GIT))


# ---------------------------------------------------------------- permissions


@pytest.fixture
def shared_project() -> Iterator[Path]:
    """A git project in a folder ``nobody`` can enter (pytest's tmp is root-only)."""
    base = Path(tempfile.mkdtemp(prefix="perfslo-hostile-", dir="/tmp"))
    os.chmod(base, 0o755)
    root = base / "proj"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "perfslo.toml").write_text(SEED_CONFIG)
    (root / "artifacts").mkdir()
    for i in range(3):
        make_run(root / "artifacts", GOOD_VALUES, ts_ms=BASE_MS + i * HOUR_MS, spread=0.02)
    for path in [root, *root.rglob("*")]:
        if ".git" not in path.parts:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
    yield root
    os.chmod(root / "artifacts", 0o755)
    for path in [base, *base.rglob("*")]:  # give the owner back what the test took away
        if not path.is_symlink():
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
    shutil.rmtree(base, ignore_errors=True)


def _as_nobody(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run Python as ``nobody`` (when root) or as ourselves (permission bits apply already)."""
    if os.geteuid() == 0 and SETPRIV is None:
        pytest.skip("running as root without setpriv: cannot drop privileges to test permissions")
    prefix = [SETPRIV, "--reuid=nobody", "--regid=nogroup", "--clear-groups"] if os.geteuid() == 0 else []
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": "/nonexistent",
        # git refuses repositories owned by someone else unless told otherwise.
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "safe.directory",
        "GIT_CONFIG_VALUE_0": "*",
    }
    return subprocess.run(
        [*prefix, sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _one_clean_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def test_unlistable_artifacts_folder_is_one_line_exit_2(shared_project: Path) -> None:
    """``nobody`` may not list the folder: exit 2, one line naming it and the reason."""
    os.chmod(shared_project / "artifacts", 0o111)  # enter, but not list
    result = _as_nobody("-m", "perfslo_tui", "check", cwd=shared_project)
    assert result.returncode == 2
    line = _one_clean_line(result.stderr)
    assert str(shared_project / "artifacts") in line and "Permission denied" in line


def test_an_unreadable_run_is_skipped_the_rest_evaluated(shared_project: Path) -> None:
    """One run readable only by root: skipped with its reason; the gate still runs."""
    secret = sorted((shared_project / "artifacts").glob("perf-*.json"))[0]
    os.chmod(secret, 0o000)
    result = _as_nobody("-m", "perfslo_tui", "check", cwd=shared_project)
    assert result.returncode == 0, result.stderr
    line = _one_clean_line(result.stderr)
    assert secret.name in line and "cannot read: Permission denied" in line
    assert "Runs in history: 2" in result.stdout


def test_an_unreadable_config_is_one_line_exit_2(shared_project: Path) -> None:
    """The config itself unreadable: a ConfigError line, not a traceback."""
    os.chmod(shared_project / "perfslo.toml", 0o000)
    result = _as_nobody("-m", "perfslo_tui", "check", cwd=shared_project)
    assert result.returncode == 2
    line = _one_clean_line(result.stderr)
    assert "perfslo.toml" in line and "Permission denied" in line


def test_read_only_folder_baseline_fails_cleanly_and_keeps_the_old_one(shared_project: Path) -> None:
    """Establishing a baseline in a folder ``nobody`` cannot write: one line, nothing changed."""
    artifacts = shared_project / "artifacts"
    run = read_run(sorted(artifacts.glob("perf-*.json"))[0])
    write_baseline(artifacts, baseline_document_from_run(run, established_ms=BASE_MS))
    os.chmod(artifacts / ".perf-baseline.json", 0o644)
    os.chmod(artifacts, 0o555)
    before = _listing(artifacts)
    old = (artifacts / ".perf-baseline.json").read_bytes()
    result = _as_nobody("-m", "perfslo_tui", "baseline", "--establish", cwd=shared_project)
    assert result.returncode == 2
    line = _one_clean_line(result.stderr)
    assert "Permission denied" in line
    assert _listing(artifacts) == before
    assert (artifacts / ".perf-baseline.json").read_bytes() == old


def test_read_only_folder_write_run_raises_and_leaves_nothing(shared_project: Path) -> None:
    """The run writer as ``nobody`` in a read-only folder: PermissionError, no temp file."""
    artifacts = shared_project / "artifacts"
    os.chmod(artifacts, 0o555)
    before = _listing(artifacts)
    code = (
        "import sys; from pathlib import Path\n"
        "from perfslo_tui.runs.files import write_run, build_run_document\n"
        "from perfslo_tui.runs.metadata import make_metadata\n"
        "doc = build_run_document({'a': [1.0]}, make_metadata(timestamp_ms=1795000000000,"
        " git={'commit': 'abc', 'branch': 'm', 'dirty': False}))\n"
        "try:\n    write_run(Path(sys.argv[1]), doc)\n"
        "except PermissionError as exc:\n    print('denied', exc.errno)\n"
    )
    result = _as_nobody("-c", code, str(artifacts), cwd=shared_project)
    assert result.stdout.strip() == f"denied {errno.EACCES}", result.stderr
    assert _listing(artifacts) == before


# ---------------------------------------------------------------- full disk / write errors


@pytest.fixture
def tiny_disk() -> Iterator[Path]:
    """A real 4 MiB tmpfs (room for a git repo), or skip where mounting is not allowed."""
    where = Path(tempfile.mkdtemp(prefix="perfslo-full-", dir="/tmp"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        where.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield where
    subprocess.run(["umount", str(where)], check=False)
    where.rmdir()


def _fill(folder: Path) -> None:
    """Fill the disk to the last byte."""
    with (folder / "ballast").open("wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


def test_disk_full_while_writing_a_run(tiny_disk: Path) -> None:
    """ENOSPC from a real full disk: OSError, no partial run and no temp file."""
    write_run(tiny_disk, _doc(BASE_MS))
    _fill(tiny_disk)
    before = _listing(tiny_disk)
    samples = {"transpile-simple": [0.5 + i / 1e5 for i in range(20_000)]}
    big = build_run_document(samples, make_metadata(timestamp_ms=BASE_MS + 1, git=GIT))
    with pytest.raises(OSError) as info:
        write_run(tiny_disk, big)
    assert info.value.errno == errno.ENOSPC
    assert _listing(tiny_disk) == before
    store = RunStore(tiny_disk)
    store.refresh()
    assert store.errors == {} and store.run_count == 1


def test_disk_full_while_replacing_the_baseline(tiny_disk: Path) -> None:
    """The old baseline stays byte for byte; no temp file, no half-written history copy."""
    run = read_run(write_run(tiny_disk, _doc(BASE_MS)))
    write_baseline(tiny_disk, baseline_document_from_run(run, established_ms=BASE_MS))
    old = (tiny_disk / ".perf-baseline.json").read_bytes()
    _fill(tiny_disk)
    before = sorted(str(p.relative_to(tiny_disk)) for p in tiny_disk.rglob("*"))
    with pytest.raises(OSError) as info:
        write_baseline(tiny_disk, baseline_document_from_run(run, established_ms=BASE_MS + 5))
    assert info.value.errno == errno.ENOSPC
    assert (tiny_disk / ".perf-baseline.json").read_bytes() == old
    after = sorted(str(p.relative_to(tiny_disk)) for p in tiny_disk.rglob("*"))
    leftovers = set(after) - set(before)
    # Creating the (empty) history folder may succeed; no file may appear.
    assert all((tiny_disk / name).is_dir() for name in leftovers), leftovers
    assert read_baseline(tiny_disk / ".perf-baseline.json") is not None


def test_disk_full_during_perfslo_baseline_establish(tiny_disk: Path) -> None:
    """The CLI on a full disk: one line, exit 2, the old baseline intact."""
    subprocess.run(["git", "init", "-q", str(tiny_disk)], check=True)
    (tiny_disk / "perfslo.toml").write_text(SEED_CONFIG)
    artifacts = tiny_disk / "artifacts"
    first = read_run(make_run(artifacts, GOOD_VALUES, ts_ms=BASE_MS))
    write_baseline(artifacts, baseline_document_from_run(first, established_ms=BASE_MS))
    make_run(artifacts, GOOD_VALUES, ts_ms=BASE_MS + HOUR_MS)
    old = (artifacts / ".perf-baseline.json").read_bytes()
    _fill(tiny_disk)
    result = run_cli("baseline", "--establish", cwd=tiny_disk)
    assert result.returncode == 2
    line = _one_clean_line(result.stderr)
    assert "No space left on device" in line
    assert (artifacts / ".perf-baseline.json").read_bytes() == old
    assert not [p for p in artifacts.rglob("*.tmp")]


@pytest.mark.parametrize("target", ["run", "baseline"])
def test_fsync_error_leaves_nothing_behind(
    target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC from ``os.fsync`` inside the real writer (any filesystem)."""
    run = read_run(write_run(tmp_path, _doc(BASE_MS)))
    write_baseline(tmp_path, baseline_document_from_run(run, established_ms=BASE_MS))
    old_baseline = (tmp_path / ".perf-baseline.json").read_bytes()
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(artifacts.os, "fsync", no_space)
    with pytest.raises(OSError):
        if target == "run":
            write_run(tmp_path, _doc(BASE_MS + HOUR_MS))
        else:
            write_baseline(tmp_path, baseline_document_from_run(run, established_ms=BASE_MS + 1))
    monkeypatch.undo()
    after = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert [p for p in after if p not in before and not (tmp_path / p).is_dir()] == []
    assert (tmp_path / ".perf-baseline.json").read_bytes() == old_baseline


# ---------------------------------------------------------------- the bench command


def _bench_config(root: Path, command: str) -> Path:
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "perfslo.toml").write_text(f"bench_command = {orjson.dumps(command).decode()}\n" + SEED_CONFIG)
    (root / "artifacts").mkdir(exist_ok=True)
    return root


KILLED_WRITER = (
    "import os, sys, signal\n"
    "path = os.path.join(os.environ['PERFSLO_ARTIFACTS'], 'perf-killed-1795090000000.json')\n"
    "with open(path, 'w') as f:\n"
    "    f.write('{\"schema_version\": 1, \"metadata\": {\"timestamp\": \"2026-11-')\n"
    "    f.flush()\n"
    "    os.kill(os.getpid(), signal.SIGKILL)\n"
)


def test_bench_command_killed_mid_write(tmp_path: Path) -> None:
    """A naive writer killed mid-file: the command fails with its signal; the half file is an error."""
    (tmp_path / "writer.py").write_text(KILLED_WRITER)
    root = _bench_config(tmp_path, f"{sys.executable} writer.py")
    for i in range(2):
        make_run(root / "artifacts", GOOD_VALUES, ts_ms=BASE_MS + i * HOUR_MS)
    # -9 when the shell execs the writer, 137 (128 + SIGKILL) when it forks it.
    with pytest.raises(BenchCommandError, match="exited (-9|137)"):
        run_to_completion(load_config(start=root))
    store = RunStore(root / "artifacts")
    store.refresh()
    assert store.run_count == 2
    (reason,) = store.errors.values()
    assert "invalid JSON" in reason


def test_perfslo_check_confirm_with_a_killed_bench_command(tmp_path: Path) -> None:
    """``check --confirm`` re-runs the command; it dies: one line, exit 2, nothing else lost."""
    (tmp_path / "writer.py").write_text(KILLED_WRITER)
    root = _bench_config(tmp_path, f"{sys.executable} writer.py")
    # A violation that needs confirming, so the bench command is re-run.
    for i in range(2):
        make_run(root / "artifacts", {**GOOD_VALUES, "transpile-objects": 1.27 if i else 0.9},
                 ts_ms=BASE_MS + i * HOUR_MS)
    result = run_cli("check", "--confirm", "3", cwd=root)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert re.match(r"perfslo: bench command exited (-9|137)", result.stderr.strip().splitlines()[-1])
    assert len(list((root / "artifacts").glob("perf-*.json"))) == 3


def test_hanging_bench_command_times_out_and_its_children_die(tmp_path: Path) -> None:
    """A hang (a shell whose child sleeps): the timeout fires on time and kills the whole group."""
    marker = tmp_path / "child.pid"
    root = _bench_config(tmp_path, f"sh -c 'echo $$ > {marker}; exec sleep 300' & wait")
    started = time.monotonic()
    with pytest.raises(BenchCommandError, match="timed out"):
        run_to_completion(load_config(start=root), timeout=1.0)
    assert time.monotonic() - started < 30
    child = int(marker.read_text())
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the bench command's child outlived the timeout"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie waiting for its reaper counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def test_interrupted_confirm_stops_the_bench_command(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT) during ``check --confirm``: exit 130 with one line; the benchmark stops too."""
    marker = tmp_path / "bench.pid"
    (tmp_path / "hang.py").write_text(
        f"import os, time\nopen({str(marker)!r}, 'w').write(str(os.getpid()))\ntime.sleep(300)\n"
    )
    root = _bench_config(tmp_path, f"{sys.executable} hang.py")
    for i in range(2):
        make_run(root / "artifacts", {**GOOD_VALUES, "transpile-objects": 1.27 if i else 0.9},
                 ts_ms=BASE_MS + i * HOUR_MS)
    process = subprocess.Popen(
        [sys.executable, "-m", "perfslo_tui", "check", "--confirm", "3"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    bench_pid = int(marker.read_text())
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "Traceback" not in stderr and stderr.strip().splitlines()[-1] == "perfslo: interrupted"
    deadline = time.monotonic() + 10
    while _alive(bench_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(bench_pid)


def test_bench_command_printing_megabytes(tmp_path: Path) -> None:
    """64 MB of output: read through, only a short tail kept; the failure line is the last line."""
    script = tmp_path / "loud.py"
    script.write_text(
        "import sys\nchunk = 'x' * 1023 + '\\n'\n"
        "for _ in range(64 * 1024):\n    sys.stdout.write(chunk)\n"
        "print('\\x1b[31mlast words')\nsys.exit(3)\n"
    )
    root = _bench_config(tmp_path, f"{sys.executable} {script}")
    with pytest.raises(BenchCommandError) as info:
        run_to_completion(load_config(start=root))
    message = str(info.value)
    assert "exited 3" in message and "last words" in message and len(message) < 1000


def test_bench_command_printing_megabytes_succeeds(tmp_path: Path) -> None:
    """A chatty but successful command: the result keeps at most a short tail."""
    root = _bench_config(tmp_path, f"{sys.executable} -c \"print('y' * 50_000_000)\"")
    result = run_to_completion(load_config(start=root))
    assert result.returncode == 0 and 0 < len(result.output_tail) <= 2000


# ---------------------------------------------------------------- racing writers


def _write_same_millisecond(folder: str, count: int) -> list[str]:
    meta = make_metadata(timestamp_ms=BASE_MS, git=GIT)
    names = []
    for i in range(count):
        doc = build_run_document({"transpile-simple": [0.7 + i / 1000]}, meta)
        names.append(write_run(Path(folder), doc).name)
    return names


def test_two_bench_runs_in_the_same_millisecond_keep_both(tmp_path: Path) -> None:
    """Four processes, each writing 25 runs all stamped with the same millisecond: 100 files."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(4) as pool:
        results = pool.starmap(_write_same_millisecond, [(str(tmp_path), 25)] * 4)
    names = [name for batch in results for name in batch]
    assert len(names) == len(set(names)) == 100
    store = RunStore(tmp_path)
    store.refresh()
    assert store.errors == {} and store.run_count == 100
    stamps = sorted(read_run(tmp_path / name).timestamp_ms for name in names)
    assert stamps == list(range(BASE_MS, BASE_MS + 100))  # each moved to the next free millisecond
    assert not list(tmp_path.glob(".*.tmp"))


def test_artifacts_path_is_a_file(project: Path) -> None:
    """``artifacts`` is a regular file: one line, exit 2, the file untouched."""
    artifacts = project / "artifacts"
    artifacts.rmdir()
    artifacts.write_text("not a folder")
    result = run_cli("check", cwd=project)
    assert result.returncode == 2
    line = _one_clean_line(result.stderr)
    assert str(artifacts) in line and "is a file, not a folder" in line
    assert artifacts.read_text() == "not a folder"
