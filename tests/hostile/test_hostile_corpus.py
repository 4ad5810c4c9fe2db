"""Every hostile input in the corpus, through the real loader and the real CLI.

For each case: the good runs still load, the bad file is reported with a
one-line reason naming it (or loads, or is ignored, as the case says), the
``perfslo check`` subprocess never shows a traceback or a raw escape
sequence, and exits 2 only when nothing usable is left.
"""

from __future__ import annotations

import html
import re
import subprocess
from pathlib import Path

import orjson
import pytest
from markdown_it import MarkdownIt

from perfslo_tui.runs.store import RunStore
from perfslo_tui.text import printable
from tests.conftest import BASE_MS, HOUR_MS, make_run, run_cli
from tests.hostile.hostile_cases import CASES, GOOD_VALUES, Case, case_ms

GOOD_RUNS = 3
CASE_IDS = [case.name for case in CASES]
REJECTED = [case for case in CASES if case.outcome == "rejected"]
LOADED = [case for case in CASES if case.outcome == "loaded"]
# A raw ESC or CSI byte in output means an escape sequence reached the terminal.
RAW_ESCAPE = re.compile("[\x1b\x9b\x07]")


def _good_runs(artifacts: Path) -> set[str]:
    return {
        make_run(artifacts, GOOD_VALUES, ts_ms=BASE_MS + i * HOUR_MS, spread=0.02).name
        for i in range(GOOD_RUNS)
    }


def _assert_clean(result: subprocess.CompletedProcess[str]) -> None:
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output[-3000:]
    assert not RAW_ESCAPE.search(output), "an escape sequence from a file reached the terminal"


def render_like_github(markdown: str) -> str:
    """Render Markdown as GitHub would (GFM tables, raw HTML allowed through)."""
    return MarkdownIt("gfm-like", {"html": True}).render(markdown)


def assert_no_hostile_html(rendered: str) -> None:
    """No tag, link or image written in a file survives into rendered HTML."""
    for tag in ("<script", "<img", "<a ", "<iframe", "onerror="):
        assert tag not in rendered, rendered


def _error_lines(stderr: str, name: str) -> list[str]:
    shown = printable(name, 400)
    return [line for line in stderr.splitlines() if shown in line]


def test_corpus_is_big_and_covers_the_issue() -> None:
    """The issue's list of hostile inputs, each present at least once."""
    assert len(CASES) >= 30
    assert len(REJECTED) >= 30 and len(LOADED) >= 10
    required = {
        "truncated_json", "empty_file", "invalid_utf8", "json_array", "json_string", "timestamp_is_string",
        "missing_samples", "unknown_schema_version", "nan_literal", "infinity_literal", "negative_sample",
        "zero_sample", "absurd_sample", "empty_samples", "million_samples", "hundred_mb_file",
        "deeply_nested_array", "duplicate_content", "future_timestamp", "rich_markup_name",
        "ansi_escape_name", "html_name", "path_separator_name", "long_name_at_limit", "slo_name_too_long",
    }
    assert required <= {case.name for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_case_in_the_store(case: Case, tmp_path: Path) -> None:
    """RunStore: the good runs load; the case is an error, a run, or ignored."""
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    good = _good_runs(artifacts)
    name = case.build(artifacts, case_ms(CASES.index(case)))
    store = RunStore(artifacts)
    store.refresh()
    run_ids = set(store.table["run_id"].unique().to_list())
    assert good <= run_ids
    path = artifacts / name
    if case.outcome == "rejected":
        assert run_ids == good
        assert set(store.errors) == {path}
        reason = store.errors[path]
        assert case.problem in reason
        assert "\n" not in printable(reason, 10_000)
    elif case.outcome == "loaded":
        assert store.errors == {}
        assert name in run_ids
        assert len(run_ids) == GOOD_RUNS + 1 + case.extra_files
        rows = store.table.filter(store.table["run_id"] == name)
        assert set(rows["slo"].to_list()) == set(case.slos)
    else:
        assert store.errors == {}
        assert run_ids == good
    # A second refresh with nothing changed reads nothing and changes nothing.
    again = store.refresh()
    assert not again.changes.any
    assert set(store.table["run_id"].unique().to_list()) == run_ids


SHOWN = [case for case in LOADED if case.shown]
SHOWN_RUNS = [(case, fmt) for case in SHOWN for fmt in ("text", "markdown")]


@pytest.mark.parametrize(
    ("case", "fmt"), SHOWN_RUNS, ids=[f"{case.name}-{fmt}" for case, fmt in SHOWN_RUNS]
)
def test_hostile_names_in_perfslo_check(case: Case, fmt: str, project: Path) -> None:
    """The run carrying hostile names is the one evaluated: its names show as inert text.

    (Rejected and ignored cases go through ``perfslo check`` together in
    :func:`test_every_case_at_once_in_each_report_format`: one subprocess
    per format instead of one per case keeps the suite fast.)
    """
    artifacts = project / "artifacts"
    _good_runs(artifacts)
    name = case.build(artifacts, case_ms(CASES.index(case)))
    result = run_cli("check", "--format", fmt, cwd=project)
    _assert_clean(result)
    assert result.returncode in (0, 1), result.stderr
    assert result.stderr == ""
    if fmt == "text":
        assert f"perfslo check: {name}" in result.stdout
        for text in case.shown:
            assert text in result.stdout
    else:
        rendered = render_like_github(result.stdout)
        assert_no_hostile_html(rendered)
        text = html.unescape(re.sub(r"<[^>]+>", "", rendered))
        # Shown literally, as text (a newline may become a space: still one cell).
        slo = case.slos[0]
        forms = {printable(slo, 10_000)[:12], printable(slo.replace("\n", " "), 10_000)[:12]}
        assert any(form in text for form in forms), text
        assert not RAW_ESCAPE.search(rendered) and "\u202e" not in rendered


def _all_cases(artifacts: Path, cases: list[Case]) -> dict[str, Case]:
    return {case.build(artifacts, case_ms(CASES.index(case))): case for case in cases}


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Case]]:
    """One project holding the good runs and every case at once."""
    root = tmp_path_factory.mktemp("crowded") / "proj"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    from tests.conftest import SEED_CONFIG

    (root / "perfslo.toml").write_text(SEED_CONFIG)
    artifacts = root / "artifacts"
    artifacts.mkdir()
    _good_runs(artifacts)
    return root, _all_cases(artifacts, list(CASES))


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_every_case_at_once_in_each_report_format(fmt: str, crowded: tuple[Path, dict[str, Case]]) -> None:
    """All cases in one folder: each rejected file is named once; nothing is interpreted."""
    root, names = crowded
    # One case records no host facts (a machine of its own): --machine all counts every loaded run.
    result = run_cli("check", "--format", fmt, "--machine", "all", cwd=root)
    _assert_clean(result)
    assert result.returncode in (0, 1), result.stderr
    rejected = {name for name, case in names.items() if case.outcome == "rejected"}
    warned = [line for line in result.stderr.splitlines() if "skipped" in line]
    assert len(warned) == len(rejected)
    for name in rejected:
        assert len(_error_lines(result.stderr, name)) == 1, name
    if fmt == "json":
        report = orjson.loads(result.stdout)
        assert {Path(e["path"]).name for e in report["errors"]} == rejected
        assert report["run_count"] == GOOD_RUNS + sum(1 + c.extra_files for c in LOADED)
    elif fmt == "markdown":
        assert_no_hostile_html(render_like_github(result.stdout))
    else:
        assert f"Skipped {len(rejected)} unusable file(s):" in result.stdout


def test_only_bad_files_exit_2_naming_each(tmp_path: Path) -> None:
    """Nothing usable left: exit 2, one line per bad file plus one closing line."""
    root = tmp_path / "proj"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    from tests.conftest import SEED_CONFIG

    (root / "perfslo.toml").write_text(SEED_CONFIG)
    artifacts = root / "artifacts"
    artifacts.mkdir()
    light = [case for case in REJECTED if not case.heavy]
    names = _all_cases(artifacts, light)
    result = run_cli("check", cwd=root)
    _assert_clean(result)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == len(light) + 1
    for name, case in names.items():
        (line,) = _error_lines(result.stderr, name)
        assert case.problem in line
    assert "no usable runs" in lines[-1]


def test_only_odd_but_usable_runs_do_not_exit_2(tmp_path: Path) -> None:
    """A folder holding only the odd-but-valid runs is a normal evaluation."""
    root = tmp_path / "proj"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    from tests.conftest import SEED_CONFIG

    (root / "perfslo.toml").write_text(SEED_CONFIG)
    artifacts = root / "artifacts"
    artifacts.mkdir()
    _all_cases(artifacts, [case for case in LOADED if not case.heavy])
    result = run_cli("check", "--format", "json", cwd=root)
    _assert_clean(result)
    assert result.returncode in (0, 1), result.stderr
    assert orjson.loads(result.stdout)["errors"] == []


def test_a_run_from_the_future_is_evaluated_with_a_warning(project: Path) -> None:
    """Documented outcome: loaded and evaluated (it is the latest), flagged on stderr."""
    artifacts = project / "artifacts"
    _good_runs(artifacts)
    case = next(case for case in CASES if case.name == "future_timestamp")
    name = case.build(artifacts, case_ms(CASES.index(case)))
    result = run_cli("check", cwd=project)
    _assert_clean(result)
    assert result.returncode == 0, result.stderr
    assert f"perfslo check: {name}" in result.stdout
    (line,) = result.stderr.splitlines()
    assert name in line and "2100-01-01" in line and "in the future" in line
