"""Instruction counting under valgrind: real valgrind, real processes, real files.

Every count starts at least one valgrind process (1-4 s each here), so the
workloads are small and one script run covers several properties.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from perfslo_tui.collect.instructions import (
    REQUEST_ENV,
    InstructionCountError,
    batch_label,
    batch_plan,
    count_command,
    count_python_workload,
    count_request,
    relaunch_argv,
    run_marked,
    valgrind_available,
)

PY = sys.executable
needs_valgrind = pytest.mark.skipif(
    valgrind_available() is not None, reason=f"valgrind is needed: {valgrind_available()}"
)

# A pure-Python unit of work; work(k) runs it k times, so work(2) is twice the work.
WORKLOAD = """
import json

def unit():
    d = {}
    for i in range(200):
        k = "key%d" % i
        d[k] = d.get(k, 0) + len(k)
    return json.dumps(d, sort_keys=True)

def work(k):
    for _ in range(k):
        unit()
"""


def write_script(folder: Path, body: str) -> Path:
    script = folder / "bench_script.py"
    script.write_text(textwrap.dedent(WORKLOAD) + textwrap.dedent(body))
    return script


@needs_valgrind
def test_a_python_benchmark_counts_the_same_twice_scales_with_work_and_excludes_the_harness(
    tmp_path: Path,
) -> None:
    # The script is what a user's benchmark file looks like with bench(...,
    # instructions=True): it runs natively, and each count re-runs it under
    # valgrind, where only the requested benchmark is called.
    log = tmp_path / "calls.log"
    script = write_script(
        tmp_path,
        f"""
        import os, sys
        from perfslo_tui.collect.instructions import REQUEST_ENV, count_callable

        print(json.dumps({{"pid": os.getpid()}}), flush=True)

        def logged(key, fn):
            # Logs its first call in each process only: file I/O inside the
            # measured calls would add allocator and system-call noise.
            seen = []
            def call():
                if not seen:
                    seen.append(1)
                    with open({str(log)!r}, "a") as out:
                        out.write(f"{{key}} {{REQUEST_ENV in os.environ}} {{os.getpid()}}\\n")
                fn()
            return call

        # "base" is counted twice: two re-runs of the same script, the A/A case.
        benchmarks = [
            ("base", lambda: work(1), {{}}),
            ("base", lambda: work(1), {{}}),
            ("double", lambda: work(2), {{}}),
            ("empty", lambda: None, {{}}),
            ("base-getppid", lambda: work(1), {{"method": "getppid"}}),
        ]
        for key, fn, options in benchmarks:
            result = count_callable(
                fn if key == "empty" else logged(key, fn), key, target_instructions=5_000_000, **options
            )
            if result is not None:
                print(json.dumps({{"key": key, "samples": result.samples, "calls": result.calls,
                                  "overhead": result.overhead_per_call, "method": result.method}}))
        """,
    )
    done = subprocess.run([PY, str(script)], capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    native_pid = str(rows[0]["pid"])
    first, second, *others = rows[1:]
    counts = {row["key"]: row for row in others}
    assert first["key"] == second["key"] == "base" and set(counts) == {"double", "empty", "base-getppid"}
    base = first["samples"]
    median = sorted(base)[1]
    assert median > 100_000  # ~200 dict updates, string formats and a json.dumps
    # Deterministic: the same script counted twice gives the same numbers
    # (identical in every run here; 0.01 % is the stated tolerance), with the
    # same N (chosen by count, not by a clock); the three repeats of one count
    # agree within 0.1 %.
    assert first["calls"] == second["calls"]
    assert all(abs(a - b) <= median * 1e-4 for a, b in zip(base, second["samples"], strict=True)), (
        base,
        second["samples"],
    )
    # Two of the three repeats agree within 0.1 %; the count used is their median. (A full
    # suite on a busy machine once saw one repeat 24 % low, 794,048 against 1,044,892 twice:
    # the median keeps such a repeat out of the value.)
    spans = sorted(abs(a - b) for i, a in enumerate(base) for b in base[i + 1 :])
    assert spans[0] <= median * 1e-3, base
    # Twice the work, twice the instructions (the call of work() itself is shared).
    ratio = sorted(counts["double"]["samples"])[1] / median
    assert 1.98 <= ratio <= 2.02, ratio
    # The harness (loop, call of an empty function) is subtracted: an empty
    # workload counts ~0 although the harness costs hundreds per call.
    assert all(abs(s) <= 20 for s in counts["empty"]["samples"]), counts["empty"]
    assert counts["empty"]["overhead"] > 100
    # The portable marker (getppid dumps) measures the same thing. Its dumps
    # are syscalls whose own cost lands on either side of the marker, and its
    # harness overhead is estimated separately: CI saw 0.13 % between the two
    # methods (1,307 of 1.04 M), so the check is 0.5 %, still far below any
    # change worth a budget.
    other = sorted(counts["base-getppid"]["samples"])[1]
    assert abs(other - median) <= median * 5e-3, (other, median)
    assert "getppid" in counts["base-getppid"]["method"]
    # Each logged benchmark ran natively (timed to predict the count's
    # duration) and under valgrind only in its own re-runs: every re-run
    # skipped the benchmarks it was not asked for.
    runs: dict[str, set[str]] = {}
    for line in log.read_text().splitlines():
        key, in_rerun, pid = line.split()
        if in_rerun == "True":
            runs.setdefault(key, set()).add(pid)
        else:
            assert pid == native_pid
    assert {key: len(pids) for key, pids in runs.items()} == {"base": 2, "double": 1, "base-getppid": 1}
    assert len(set.union(*runs.values())) == 4


@needs_valgrind
def test_a_command_benchmark_is_counted_per_iteration_with_n_and_whole_without(tmp_path: Path) -> None:
    loop = (
        "import sys\nfor _ in range(int(sys.argv[2])):\n    for _ in range(int(sys.argv[1])): sum(range(500))"
    )
    one = count_command([PY, "-S", "-c", loop, "1", "{n}"], cwd=tmp_path, calls=20)
    two = count_command([PY, "-S", "-c", loop, "2", "{n}"], cwd=tmp_path, calls=20)
    assert one.processes == 2 and one.calls == 20 and "2N" in one.method
    # Start-up (~80 M instructions for the interpreter) cancels: what is left
    # is one iteration, and twice the range is twice the count.
    assert 10_000 < one.samples[0] < 1_000_000, one
    assert 1.9 <= two.samples[0] / one.samples[0] <= 2.1, (one.samples, two.samples)
    assert one.raw[1] > one.raw[0] > 10_000_000
    # A string with shell syntax runs through sh -c; every process is counted.
    whole = count_command(f"{shlex.quote(PY)} -S -c pass && true", cwd=tmp_path)
    assert whole.calls == 1 and "whole process" in whole.method
    assert whole.samples[0] > 1_000_000


def test_without_valgrind_every_entry_point_says_how_to_install_it(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path)}  # a real folder without valgrind in it
    problem = valgrind_available(env=env)
    assert problem is not None and "apt-get install valgrind" in problem and "\n" not in problem
    with pytest.raises(InstructionCountError, match="apt-get install valgrind"):
        count_command("node bench.js {n}", env=env)
    with pytest.raises(InstructionCountError, match="apt-get install valgrind"):
        count_python_workload("bench#1", argv=[PY, "-c", "pass"], env=env)


@needs_valgrind
def test_a_count_over_the_time_limit_is_refused_up_front_or_stopped(tmp_path: Path) -> None:
    # Predicted: 0.3 s natively is ~18 s under valgrind, over a 5 s limit.
    started = time.perf_counter()
    with pytest.raises(InstructionCountError, match=r"would take about \d+s under valgrind.*limit of 5s"):
        count_command([PY, "-c", "import time; time.sleep(0.3)"], timeout_s=5)
    assert time.perf_counter() - started < 5  # refused before valgrind ran
    # Stopped: the re-run hangs before the benchmark; valgrind and the
    # program are killed at the limit.
    pid_file = tmp_path / "child.pid"
    script = write_script(
        tmp_path,
        f"""
        import os, time
        if {REQUEST_ENV!r} in os.environ:
            open({str(pid_file)!r}, "w").write(str(os.getpid()))
            time.sleep(120)
        """,
    )
    with pytest.raises(InstructionCountError, match="took longer than the limit of 4s") as caught:
        count_python_workload("bench#1", argv=[PY, str(script)], cwd=tmp_path, timeout_s=4)
    assert "\n" not in str(caught.value)
    pid = int(pid_file.read_text())
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@needs_valgrind
def test_failures_under_valgrind_are_one_clear_line(tmp_path: Path) -> None:
    script = write_script(
        tmp_path,
        """
        from perfslo_tui.collect.instructions import count_callable

        def broken():
            raise ValueError("boom at call 1")

        count_callable(broken, "broken")
        """,
    )
    with pytest.raises(InstructionCountError) as caught:
        count_python_workload("broken", argv=[PY, str(script)], cwd=tmp_path, timeout_s=120)
    assert str(caught.value) == "benchmark 'broken' raised under valgrind: ValueError: boom at call 1"
    # The re-run must reach the same benchmark again.
    with pytest.raises(InstructionCountError, match="never reached benchmark 'bench#9'"):
        count_python_workload("bench#9", argv=[PY, str(script)], cwd=tmp_path, timeout_s=120)
    # A command that works natively but not under valgrind (it detects it).
    refuses = "import os, sys; sys.exit(3 if 'vgpreload' in os.environ.get('LD_PRELOAD', '') else 0)"
    with pytest.raises(InstructionCountError, match="exited 3 under valgrind"):
        count_command([PY, "-S", "-c", refuses], timeout_s=120)


def test_a_command_that_fails_natively_is_not_blamed_on_valgrind(tmp_path: Path) -> None:
    if valgrind_available() is not None:
        pytest.skip("valgrind is needed")
    with pytest.raises(InstructionCountError, match="exited 1 without valgrind: no such input"):
        count_command([PY, "-c", "import sys; sys.exit('no such input')"], timeout_s=60)
    with pytest.raises(InstructionCountError, match=r"cannot start command 'no-such-program-perfslo \{n\}'"):
        count_command("no-such-program-perfslo {n}")


def test_run_marked_calls_the_workload_as_planned_outside_valgrind() -> None:
    calls: list[int] = []
    n, labels = run_marked(lambda: calls.append(1), 5, repeats=2, warmup=3)
    # warm-up 3, one unmeasured batch of 5, then per repeat 5 + 10
    assert n == 5 and len(calls) == 3 + 5 + 2 * 15
    assert labels == [batch_label(*batch) for batch in batch_plan(5, 2)]
    assert labels[-2:] == ["perfslo noop 0 5", "perfslo noop 0 10"]
    with pytest.raises(ValueError, match="needs dump_dir"):
        run_marked(lambda: None)
    with pytest.raises(ValueError, match="unknown method"):
        run_marked(lambda: None, 1, method="perf-events")


def test_a_malformed_request_and_an_unrepeatable_process_are_clear_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert count_request({}) is None
    with pytest.raises(InstructionCountError, match=f"{REQUEST_ENV} is malformed"):
        count_request({REQUEST_ENV: '{"key": "x"}'})
    monkeypatch.setattr(sys, "argv", [""])
    with pytest.raises(InstructionCountError, match="not started from a script"):
        relaunch_argv()
