"""The gate's reports (Markdown, text, JSON) show the kept profile diff behind a confirmed regression."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import BASE_MS, HOUR_MS, make_run, run_cli
from markdown_it import MarkdownIt

from benchmarks.shared import git
from tests.test_profile_command import make_project

HEADING = "### Where the time went (profile diff vs the baseline's commit)"
TEXT_HEADING = "Where the time went (kept profiles"


def write_history(artifacts: Path, good: str, bad: str) -> None:
    """Five runs at GOOD (the first one the baseline), then three 30 % slower runs at BAD."""
    for i in range(5):
        make_run(
            artifacts,
            {"work": 10.0 * (1 + 0.004 * (i % 3))},
            ts_ms=BASE_MS + i * HOUR_MS,
            commit=good,
            spread=0.02,
        )
    for i in range(3):
        make_run(artifacts, {"work": 13.0}, ts_ms=BASE_MS + (10 + i) * HOUR_MS, commit=bad, spread=0.02)


def establish_first_run(root: Path) -> None:
    first = min((root / "artifacts").glob("perf-*.json"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    done = run_cli("baseline", "--establish", "--run", str(first), cwd=root)
    assert done.returncode == 0, done.stderr


def test_a_confirmed_regression_shows_the_kept_profile_diff(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")  # HEAD: b() does 30 % more work than at HEAD~1
    good, bad = git(root, "rev-parse", "HEAD~1"), git(root, "rev-parse", "HEAD")
    # Real profiles of both commits, kept in artifacts/profiles/ by the real command.
    made = run_cli("profile", "work", "--against", "HEAD~1", "--quiet", cwd=root, timeout=600)
    assert made.returncode == 0, made.stderr
    write_history(root / "artifacts", good, bad)
    establish_first_run(root)

    done = run_cli("check", "--format", "markdown", cwd=root)
    assert done.returncode == 1, done.stdout + done.stderr  # the regression is confirmed (3/3 runs)
    text = done.stdout
    assert HEADING in text
    section = text.split(HEADING, 1)[1].split("<details>", 1)[0]
    assert f"kept profiles `{good[:7]}` → `{bad[:7]}`" in section
    tokens = MarkdownIt("commonmark").parse(text)
    fences = [t for t in tokens if t.type == "fence" and t.info == "text"]
    assert len(fences) == 1
    top = fences[0].content.splitlines()
    assert 1 <= len(top) <= 5
    assert " b (workload.py) " in top[0], top  # the function that got 30 % more work comes first
    assert top[0].startswith("+") and "(+" in top[0]
    kept = sorted((root / "artifacts" / "profiles").glob("*.pstats"))
    assert len(kept) == 2
    # The text report shows the same top lines, in the same order.
    plain = run_cli("check", cwd=root)
    assert plain.returncode == 1
    section = plain.stdout.split(TEXT_HEADING, 1)[1]
    assert f"  work: {good[:7]} → {bad[:7]} (per benchmark call;" in section
    assert [line.strip() for line in section.splitlines()[2 : 2 + len(top)]] == top
    # JSON: the diff as data, the same lines.
    report = json.loads(run_cli("check", "--format", "json", cwd=root).stdout)
    (entry,) = report["profile_diffs"]
    assert entry["slo"] == "work" and entry["kept"] and entry["unit"] == "s"
    assert entry["before"]["commit"] == good and entry["after"]["commit"] == bad
    assert entry["lines"][: len(top)] == top
    first = entry["changes"][0]
    assert first["function"] == "b" and first["after"] > first["before"] > 0 and first["contribution"] > 0
    # The gate never profiles: no new profile files.
    assert sorted((root / "artifacts" / "profiles").glob("*.pstats")) == kept


def test_without_kept_profiles_the_report_names_the_command(project: Path) -> None:
    (project / "perfslo.toml").write_text("[slos.'parse it']\nbudget = 50\n")
    good, bad = "1" * 40, "2" * 40
    for i in range(5):
        make_run(
            project / "artifacts",
            {"parse it": 10.0 * (1 + 0.004 * (i % 3))},
            ts_ms=BASE_MS + i * HOUR_MS,
            commit=good,
            spread=0.02,
        )
    establish_first_run(project)
    before = run_cli("check", "--format", "markdown", cwd=project)
    assert before.returncode == 0 and HEADING not in before.stdout  # nothing regressed: no section
    for i in range(3):
        make_run(
            project / "artifacts",
            {"parse it": 13.0},
            ts_ms=BASE_MS + (10 + i) * HOUR_MS,
            commit=bad,
            spread=0.02,
        )
    # A broken record in profiles/ is a warning line, never the report's end.
    (project / "artifacts" / "profiles").mkdir()
    (project / "artifacts" / "profiles" / "prof-x-1-parse_it.profile.json").write_text("{not json")
    done = run_cli("check", "--format", "markdown", cwd=project)
    assert done.returncode == 1, done.stdout + done.stderr
    assert HEADING in done.stdout
    assert (
        "- **parse it**: no kept profiles of both commits; `perfslo profile 'parse it' --baseline`"
        in done.stdout
    )
    plain = run_cli("check", cwd=project).stdout
    assert "parse it: no kept profiles of both commits; `perfslo profile 'parse it' --baseline`" in plain
    report = json.loads(run_cli("check", "--format", "json", cwd=project).stdout)
    assert report["profile_diffs"] == [
        {"slo": "parse it", "kept": False, "command": "perfslo profile 'parse it' --baseline"}
    ]
