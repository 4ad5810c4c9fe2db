"""Profiles: the harness under cProfile, every reader, the diff, the kept profiles, bad files."""

from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys
from pathlib import Path

import pytest

from perfslo_tui.profiles.diff import diff_profiles
from perfslo_tui.profiles.formats import normalise_path, read_profile
from perfslo_tui.profiles.model import ProfileError
from perfslo_tui.profiles.store import list_profiles, save_profile

FIXTURES = Path(__file__).parent / "fixtures" / "profiles"

WORKLOAD = '''\
"""Three functions of about equal cost; B_EXTRA makes b() do that much more work."""
import os

N = 3000
B = int(N * (1 + float(os.environ.get("B_EXTRA", "0"))))


def spin(n):
    total = 0
    for i in range(n):
        total += (i * i) % 7
    return total


def a():
    total = 0
    for i in range(N):
        total += (i * i) % 7
    return total


def b():
    total = 1
    for i in range(B):
        total += (i * i) % 7
    return total


def c():
    total = 2
    for i in range(N):
        total += (i * i) % 7
    return total


def work():
    return a() + b() + c()
'''

BENCH = """\
from perfslo_tui.measure import PerfMeasurement
from workload import spin, work

perf = PerfMeasurement()
perf.bench("work", work, iterations=int(__import__("os").environ.get("ITER", "30")))
perf.bench("other", lambda: spin(500))
print("wrote", perf.write())
"""


def project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "workload.py").write_text(WORKLOAD)
    (root / "bench.py").write_text(BENCH)
    (root / "perfslo.toml").write_text(
        f'bench_command = "{sys.executable} bench.py"\n\n[slos.work]\nbudget = 50\n'
    )
    return root


def run_profiled(root: Path, output: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        **os.environ,
        "PERFSLO_PROFILE": "work",
        "PERFSLO_PROFILE_OUTPUT": str(output),
        "PERFSLO_ARTIFACTS": str(root / "artifacts"),
        **env,
    }
    return subprocess.run(
        [sys.executable, "bench.py"], cwd=root, env=environ, capture_output=True, text=True, check=True
    )


def test_the_harness_profiles_the_requested_slo_only_and_writes_no_run(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    output = tmp_path / "out" / "work.pstats"
    done = run_profiled(root, output)
    assert "/dev/null" in done.stdout  # a profiling process writes no run
    assert not (root / "artifacts").exists()
    record = json.loads(Path(f"{output}.json").read_text())
    assert record["slo"] == "work" and record["calls"] >= 1 and record["level"] > 0
    profile = read_profile(output, roots=[str(root)])
    names = {f.frame.name: f for f in profile.functions}
    assert {"work", "a", "b", "c"} <= set(names)
    assert names["work"].calls == record["calls"] == names["b"].calls
    assert "spin" not in names  # the other SLO (spin(500)) was skipped
    assert names["b"].frame.file == "workload.py"  # made relative to the project
    assert not any("_lsprof" in n or "profiler.py" in f.frame.file for n, f in names.items())
    # The call tree: all → work → a, b, c.
    work = profile.root.children[0]
    assert work.frame.name == "work"
    assert {child.frame.name for child in work.children} >= {"a", "b", "c"}
    assert profile.share(names["work"].total_s) > 0.9


def test_a_synthetic_30_percent_in_one_function_comes_first_in_the_diff(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    before_file, after_file = tmp_path / "before.pstats", tmp_path / "after.pstats"
    run_profiled(root, before_file, ITER="60")
    run_profiled(root, after_file, ITER="60", B_EXTRA="0.3")
    records = [json.loads(Path(f"{p}.json").read_text()) for p in (before_file, after_file)]
    diff = diff_profiles(
        read_profile(before_file, roots=[str(root)]),
        read_profile(after_file, roots=[str(root)]),
        before_calls=records[0]["calls"],
        after_calls=records[1]["calls"],
        before_level=records[0]["level"],
        after_level=records[1]["level"],
    )
    top = diff.changes[0]
    assert (top.name, top.file) == ("b", "workload.py")
    assert top.contribution > 0.03 and top.relative > 0.1


def test_diff_orders_by_contribution_and_contributions_add_up(tmp_path: Path) -> None:
    def pstats(path: Path, times: dict[str, float]) -> Path:
        stats = {("m.py", i + 1, name): (10, 10, t, t, {}) for i, (name, t) in enumerate(times.items())}
        path.write_bytes(marshal.dumps(stats))
        return path

    before = read_profile(pstats(tmp_path / "b.pstats", {"parse": 0.30, "lex": 0.50, "emit": 0.20}))
    after = read_profile(
        pstats(tmp_path / "a.pstats", {"parse": 0.39, "lex": 0.50, "emit": 0.18, "new": 0.01})
    )
    diff = diff_profiles(before, after)
    assert [c.name for c in diff.changes] == ["parse", "emit", "new"]
    assert diff.changes[0].contribution == pytest.approx(0.09)
    assert diff.changes[0].relative == pytest.approx(0.30)
    assert diff.changes[2].verb == "new"
    assert sum(c.contribution for c in diff.changes) == pytest.approx(diff.total_change)
    assert "+9.0% of total  parse (m.py)" in diff.lines(1)[0]
    # Per benchmark call: twice the calls with twice the time is no change.
    doubled = read_profile(pstats(tmp_path / "d.pstats", {"parse": 0.60, "lex": 1.00, "emit": 0.40}))
    assert diff_profiles(before, doubled, before_calls=10, after_calls=20).changes == ()


def test_speedscope_sampled_and_evented(tmp_path: Path) -> None:
    frames = [
        {"name": "main", "file": "/proj/app.py", "line": 1},
        {"name": "parse", "file": "/proj/p.py", "line": 5},
    ]
    sampled = {
        "$schema": "https://www.speedscope.app/file-format-schema.json",
        "shared": {"frames": frames},
        "profiles": [
            {
                "type": "sampled",
                "unit": "milliseconds",
                "startValue": 0,
                "endValue": 4,
                "samples": [[0, 1], [0, 1], [0, 1], [0]],
                "weights": [1, 1, 1, 1],
            },
        ],
    }
    path = tmp_path / "s.json"
    path.write_text(json.dumps(sampled))
    profile = read_profile(path, roots=["/proj"])
    stats = {f.frame.name: f for f in profile.functions}
    assert profile.format == "speedscope" and profile.unit == "s" and profile.sampled
    assert stats["parse"].self_s == pytest.approx(0.003) and stats["parse"].frame.file == "p.py"
    assert stats["main"].total_s == pytest.approx(0.004)
    evented = {
        "shared": {"frames": frames},
        "profiles": [
            {
                "type": "evented",
                "unit": "seconds",
                "startValue": 0,
                "endValue": 10,
                "events": [
                    {"type": "O", "frame": 0, "at": 0},
                    {"type": "O", "frame": 1, "at": 2},
                    {"type": "C", "frame": 1, "at": 8},
                    {"type": "C", "frame": 0, "at": 10},
                ],
            },
        ],
    }
    path.write_text(json.dumps(evented))
    stats = {f.frame.name: f for f in read_profile(path).functions}
    assert stats["parse"].self_s == pytest.approx(6) and stats["parse"].calls == 1
    assert stats["main"].self_s == pytest.approx(4) and stats["main"].total_s == pytest.approx(10)


def test_py_spy_speedscope_and_node_cpuprofile_from_the_real_tools(tmp_path: Path) -> None:
    script = tmp_path / "hot.py"
    script.write_text(
        "def leaf(n):\n    return sum(i * i for i in range(n))\n\n"
        "def slow():\n    return leaf(60000)\n\nfor _ in range(40):\n    slow()\n"
    )
    py_spy = Path(sys.executable).parent / "py-spy"
    out = tmp_path / "spy.json"
    subprocess.run(
        [
            str(py_spy),
            "record",
            "--format",
            "speedscope",
            "-r",
            "200",
            "-o",
            str(out),
            "--",
            sys.executable,
            str(script),
        ],
        check=True,
        capture_output=True,
    )
    profile = read_profile(out, roots=[str(tmp_path)])
    names = {f.frame.name for f in profile.top(5, by="total")}
    assert any("slow" in n for n in names), names
    node = "node"
    js = tmp_path / "w.js"
    js.write_text(
        "function inner(n){let s=0;for(let i=0;i<n;i++){s+=i*i%7}return s}\n"
        "for(let i=0;i<200;i++) inner(300000);\n"
    )
    subprocess.run([node, "--cpu-prof", "--cpu-prof-dir", str(tmp_path / "cpu"), str(js)], check=True)
    cpu = next((tmp_path / "cpu").glob("*.cpuprofile"))
    profile = read_profile(cpu, roots=[str(tmp_path)])
    assert profile.format == "cpuprofile"
    assert profile.functions[0].frame.name == "inner" and profile.functions[0].frame.file == "w.js"
    assert all(f.frame.name != "(idle)" for f in profile.functions)


def test_perf_script_and_collapsed_stacks_recorded_from_real_tools() -> None:
    perf = read_profile(FIXTURES / "perf-script.txt")
    assert perf.format == "perf" and perf.unit == "s"
    assert perf.root.children[0].frame.name.startswith("python")
    assert any(f.frame.name == "_PyEval_EvalFrameDefault" for f in perf.functions)
    folded = read_profile(FIXTURES / "py-spy-raw.folded")
    assert folded.format == "collapsed" and folded.unit == "samples"
    totals = {f.frame.name: f.total_s for f in folded.functions}
    assert totals["slow"] > totals["fast"] > 0  # slow() does four times fast()'s work


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "the profile is empty"),
        (b"\x00\x01\x02garbage", "not a profile perfslo can read"),
        (b'{"a": 1}', "neither a speedscope profile nor a Chrome .cpuprofile"),
        (b"[1, 2]", "not a profile (a list at the top)"),
        (
            b'{"shared": {"frames": []}, "profiles": [{"type": "sampled", "samples": [[3]]}]}',
            "a broken profile",
        ),
        (b'{"nodes": [{"id": 1, "children": [2]}, {"id": 2, "children": [1], "hitCount": 1}]}', "cycle"),
        (marshal.dumps({("f", 1, "x"): (1, 1, 0.1, 0.1, {})})[:-3], "not a profile perfslo can read"),
    ],
)
def test_an_unreadable_profile_is_one_line_naming_the_file(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    path = tmp_path / "bad.prof"
    path.write_bytes(content)
    with pytest.raises(ProfileError) as caught:
        read_profile(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and problem in message and "\n" not in message


def test_kept_profiles_records_and_a_broken_record(tmp_path: Path) -> None:
    source = tmp_path / "p.pstats"
    source.write_bytes(marshal.dumps({("/proj/m.py", 1, "f"): (1, 1, 0.2, 0.2, {})}))
    artifacts = tmp_path / "artifacts"
    kept = save_profile(
        artifacts,
        source,
        slo="parse/x",
        commit="a" * 40,
        dirty=False,
        made_ms=1000,
        profiler="cProfile",
        profile_format="pstats",
        calls=4,
        reference_ms=0.01,
        wall_s=1.5,
        root="/proj",
        run_id="perf-aaaaaaa-1",
        level=3.5,
    )
    assert kept.path.name == "prof-aaaaaaa-1000-parse_x.pstats" and kept.path.is_file()
    (artifacts / "profiles" / "prof-x-1-y.profile.json").write_text("{not json")
    records, errors = list_profiles(artifacts)
    assert [r.slo for r in records] == ["parse/x"]
    assert records[0].calls == 4 and records[0].level == 3.5 and records[0].run_id == "perf-aaaaaaa-1"
    assert records[0].read().functions[0].frame.file == "m.py"
    assert len(errors) == 1 and "not JSON" in next(iter(errors.values()))


def test_normalise_path() -> None:
    assert normalise_path("~") == ""
    assert normalise_path("/w/proj/src/a.py", ["/w/proj"]) == "src/a.py"
    assert normalise_path("/venv/lib/python3.11/site-packages/numpy/core.py") == "numpy/core.py"
    assert normalise_path("file:///w/proj/a.js", ["/w/proj/"]) == "a.js"
