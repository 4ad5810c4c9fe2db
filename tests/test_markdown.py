"""The Markdown report, rendered by a real CommonMark + GFM-table parser."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from conftest import BASE_MS, HOUR_MS, SEED_MOCK_TIMINGS, RunWriter, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from perfslo_tui.report.markdown import COMMENT_MARKER, md_escape
from perfslo_tui.text import printable

HOSTILE = "<script>alert(1)</script> | [x](https://evil.example) @here"


def github_like() -> MarkdownIt:
    """CommonMark with GFM tables and raw HTML allowed (GitHub lets some HTML through)."""
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def indented_outside_fences(text: str) -> list[str]:
    bad, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        if not fenced and re.match(r"^( {4,}|\t)", line):
            bad.append(line)
    return bad


@pytest.fixture
def history(write: RunWriter) -> None:
    """Six runs: transpile-objects over budget (the seed's 110.4 %), plus an unconfigured hostile name."""
    for i in range(6):
        values: dict[str, float] = dict(SEED_MOCK_TIMINGS)
        values[HOSTILE] = 0.5
        write(values, ts_ms=BASE_MS + i * HOUR_MS, commit=f"{i:07x}" + "d" * 33, spread=0.02)


def test_check_markdown_renders_as_a_table_not_a_code_block(project: Path, history: None) -> None:
    result = run_cli("check", "--format", "markdown", cwd=project)
    assert result.returncode == 1, result.stderr  # transpile-objects: confirmed violation
    text = result.stdout
    assert text.startswith(COMMENT_MARKER + "\n")
    assert indented_outside_fences(text) == []

    tokens = github_like().parse(text)
    kinds = [t.type for t in tokens]
    assert "code_block" not in kinds  # the original's indented template
    assert kinds.count("table_open") == 1
    # Header + one row per SLO (7 configured + the unconfigured one).
    rows = [t for t in tokens if t.type == "tr_open"]
    assert len(rows) == 1 + 8
    html = github_like().render(text)
    assert "<h2>❌ FAILED: Performance SLO violations detected</h2>" in html
    assert "<td>transpile-simple</td>" in html  # names readable, no stray backslashes
    assert "transpile\\-simple" not in text
    row = next(line for line in text.splitlines() if line.startswith("| transpile-objects |"))
    cells = [c.strip() for c in row.strip("|").split(" | ")]
    assert cells[1] == "1.27ms" and cells[2] == "—" and cells[3] == "1.15ms ±5%" and cells[4] == "110.4%"
    assert "VIOLATION" in cells[5]
    assert re.search(r"[▁▂▃▄▅▆▇█]{6}", cells[7])  # a sparkline of the six runs

    # Violation details, and the command to reproduce locally in a fenced block.
    assert "### Blocking, not judged and warnings" in text
    assert "**transpile-objects** (blocking): 1.27ms exceeds budget 1.15ms by 10.4%" in text
    fences = [t for t in tokens if t.type == "fence"]
    assert fences and "perfslo check" in fences[-1].content


def test_hostile_names_stay_text(project: Path, history: None) -> None:
    text = run_cli("check", "--format", "markdown", cwd=project).stdout
    html = github_like().render(text)
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "evil.example" in html and 'href="https://evil' not in html and "<a " not in html
    # The pipe in the name did not split the row: every row has the header's 8 cells.
    widths = {line.count(" | ") for line in text.splitlines() if line.startswith("| ")}
    assert widths == {7}


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("transpile-simple", "transpile-simple"),
        ("lua_emit_complex", "lua_emit_complex"),
        ("a|b", "a\\|b"),
        ("<b>x</b> & y", "&lt;b&gt;x&lt;/b&gt; &amp; y"),
        ("[docs](http://x.io)", "[docs\\](http&#58;//x.io)"),
        ("*bold* `code`", "\\*bold\\* \\`code\\`"),
        ("__init__", "\\_\\_init\\_\\_"),
        ("ping @team", "ping &#64;team"),
        ("www.example.com", "www&#46;example.com"),
        ("~~gone~~", "\\~\\~gone\\~\\~"),
        ("line\nbreak", "line break"),
        ("bidi\u202eevil", "bidi\\\\x202eevil"),  # shown as the text \x202e, never as an override
    ],
)
def test_md_escape_escapes_only_what_can_break(raw: str, escaped: str) -> None:
    assert md_escape(raw) == escaped


def test_escaped_text_renders_back_to_the_original(project: Path) -> None:
    md = github_like()
    for raw in ("a|b <i>c</i> & [d](e) *f* _g_ ~h~", "transpile-objects (v2) #3 +1 -1 > 0"):
        rendered = md.render(f"| x |\n|---|\n| {md_escape(raw)} |\n")
        cell = re.search(r"<td>(.*)</td>", rendered)
        assert cell is not None
        text = re.sub(r"<[^>]+>", "", cell.group(1))
        text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").replace("&quot;", '"')
        assert text == raw


def test_step_summary_gets_the_markdown(project: Path, history: None, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    result = run_cli("check", cwd=project, env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.returncode == 1
    content = summary.read_text()
    assert content.startswith("earlier step\n" + COMMENT_MARKER)
    assert "| SLO | Value | Baseline | Budget | % of budget | Status | vs baseline |" in content
    assert indented_outside_fences(content) == []


# Mostly Markdown's own punctuation, so links, emphasis, code and HTML get tried.
MARKUP = list("<>&|[]()*_~`\\!#:/@.w -") + ["http://", "www.", "&amp;", "&#58;", "<a href=x>", "](", "**"]
NAMES = st.lists(
    st.one_of(st.sampled_from(MARKUP), st.characters(min_codepoint=32, max_codepoint=0x2FF)), max_size=25
).map("".join)


@settings(max_examples=300, deadline=None)
@given(NAMES)
def test_any_name_renders_back_as_plain_text(raw: str) -> None:
    """Whatever a name holds, in a table cell it renders as exactly that text and nothing else."""
    escaped = md_escape(raw, limit=1000)
    rendered = github_like().render(f"| x |\n|---|\n| {escaped} |\n")
    cell = re.search(r"<td>(.*)</td>", rendered, re.S)
    assert cell is not None, rendered
    inner = cell.group(1)
    assert "<" not in inner, inner  # no link, emphasis, code span, strikethrough or raw HTML
    assert html.unescape(inner) == printable(raw, 1000).strip()  # control characters shown as \xNN


def test_reproduce_block_has_the_bench_command(project: Path, history: None) -> None:
    config = (project / "perfslo.toml").read_text()
    (project / "perfslo.toml").write_text('bench_command = "python bench.py --slo {slo}"\n' + config)
    text = run_cli("check", "--format", "markdown", cwd=project).stdout
    fences = [t for t in github_like().parse(text) if t.type == "fence"]
    assert fences[-1].info == "sh"
    assert fences[-1].content == "python bench.py\nperfslo check\n"
