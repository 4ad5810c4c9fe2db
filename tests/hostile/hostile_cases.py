"""The corpus of hostile inputs: every case with its expected, documented outcome.

Each :class:`Case` writes one (or, for ``duplicate_content``, one more) file
into an artifacts folder and says what perfslo must do with it:

* ``rejected``: the file is listed in ``RunStore.errors`` with a reason
  containing ``problem``; ``perfslo check`` prints one line naming the file
  and the reason; the good runs still load.
* ``loaded``: the file is a usable run (perhaps odd); it loads, and
  everything it carries that a person sees (``shown``) appears as inert text.
* ``ignored``: not named like a run file, so it is neither read nor an error
  (temp files of killed writers, notes, other tools' output).

Files are generated at test time (the 100 MB and million-sample cases too),
so nothing big is committed. The decisions for the edge cases are written in
``why`` and collected in ``docs/reliability.md``.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from perfslo_tui.runs.files import build_run_document
from perfslo_tui.runs.metadata import make_metadata
from tests.conftest import BASE_MS, HOUR_MS

Outcome = Literal["rejected", "loaded", "ignored"]
GIT = {"commit": "0123456789abcdef0123456789abcdef01234567", "branch": "main", "dirty": False}
# Hostile runs are dated after the good ones, so a loaded one is the run
# `perfslo check` evaluates and its names reach the report.
CASE_MS = BASE_MS + 24 * HOUR_MS
GOOD_VALUES = {
    "transpile-simple": 0.70,
    "transpile-function": 1.00,
    "transpile-objects": 0.95,
    "ir-parse-simple": 0.20,
    "ir-parse-complex": 0.80,
    "lua-emit-simple": 0.30,
    "lua-emit-complex": 0.90,
}
FUTURE_MS = 4_102_444_800_000  # 2100-01-01, inside the schema's range


def good_document(ts_ms: int, slos: dict[str, list[float]] | None = None) -> dict[str, Any]:
    """A valid run document (what perfslo itself writes) to break on purpose."""
    samples = slos if slos is not None else {name: [v, v * 1.01, v * 0.99] for name, v in GOOD_VALUES.items()}
    return build_run_document(samples, make_metadata(timestamp_ms=ts_ms, git=GIT))


Builder = Callable[[Path, int], str]


@dataclass(frozen=True)
class Case:
    """One hostile input and what perfslo must do with it.

    Attributes:
        name: Short id (used in test ids).
        build: Writes the file into a folder for a given timestamp; returns its name.
        outcome: ``rejected``, ``loaded`` or ``ignored``.
        problem: For ``rejected``: a piece of the one-line reason.
        why: The decision, for the reliability doc.
        shown: For ``loaded``: text the plain report must contain literally.
        slos: For ``loaded``: the SLO names the table must hold for this run.
        heavy: Generates a big file (kept out of the all-in-one-folder runs twice).
    """

    name: str
    build: Builder
    outcome: Outcome
    problem: str = ""
    why: str = ""
    shown: tuple[str, ...] = ()
    slos: tuple[str, ...] = ()
    heavy: bool = False
    extra_files: int = field(default=0)


def run_name(tag: str, ts_ms: int) -> str:
    """A file name that the loader treats as a run file."""
    return f"perf-{tag}-{ts_ms}.json"


def raw(data: bytes | Callable[[int], bytes], tag: str = "x") -> Builder:
    """A builder writing fixed (or timestamp-dependent) bytes."""

    def build(folder: Path, ts_ms: int) -> str:
        name = run_name(tag, ts_ms)
        (folder / name).write_bytes(data(ts_ms) if callable(data) else data)
        return name

    return build


def mutated(change: Callable[[dict[str, Any]], Any], tag: str = "x") -> Builder:
    """A builder writing a good document after ``change`` (which may return a replacement)."""

    def build(folder: Path, ts_ms: int) -> str:
        doc = copy.deepcopy(good_document(ts_ms))
        result = change(doc)
        name = run_name(tag, ts_ms)
        (folder / name).write_bytes(orjson.dumps(result if result is not None else doc))
        return name

    return build


def text_doc(replace: tuple[str, str], tag: str = "x") -> Builder:
    """A builder that edits the JSON text (for literals orjson will not write: NaN...)."""

    def build(folder: Path, ts_ms: int) -> str:
        doc = good_document(ts_ms, {"transpile-simple": [0.5, 123456.789, 0.6]})
        text = orjson.dumps(doc).decode().replace(replace[0], replace[1])
        name = run_name(tag, ts_ms)
        (folder / name).write_text(text)
        return name

    return build


def named_slo(slo: str, *, commit: str | None = None, branch: str | None = None, tag: str = "x") -> Builder:
    """A valid run whose SLO name (and optionally commit/branch) is hostile."""

    def build(folder: Path, ts_ms: int) -> str:
        doc = good_document(ts_ms, {slo: [0.4, 0.41, 0.39], "transpile-simple": [0.7, 0.71, 0.69]})
        if commit is not None:
            doc["metadata"]["commit"] = commit
        if branch is not None:
            doc["metadata"]["branch"] = branch
        name = run_name(tag, ts_ms)
        (folder / name).write_bytes(orjson.dumps(doc))
        return name

    return build


def _truncated(ts_ms: int) -> bytes:
    data = orjson.dumps(good_document(ts_ms), option=orjson.OPT_INDENT_2)
    return data[: len(data) * 2 // 3]  # as left by a writer killed mid-write


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    keys = path.split("/")

    def change(doc: dict[str, Any]) -> None:
        target = doc
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return change


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    keys = path.split("/")

    def change(doc: dict[str, Any]) -> None:
        target = doc
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]

    return change


def _samples(values: Any) -> Callable[[dict[str, Any]], None]:
    return _set("slos/transpile-simple/samples", values)


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _deep_host(ts_ms: int) -> bytes:
    doc = good_document(ts_ms)
    doc["metadata"]["host"] = "HOST"
    # 900 levels: under orjson's parse depth limit of 1024 (its writer stops earlier).
    nested = b'{"k":' * 900 + b"1" + b"}" * 900
    return orjson.dumps(doc).replace(b'"HOST"', nested)


def _million(count: int) -> Callable[[int], bytes]:
    def data(ts_ms: int) -> bytes:
        doc = good_document(ts_ms, {"transpile-simple": [0.7]})
        doc["slos"]["transpile-simple"]["samples"] = [0.5 + (i % 1000) / 2000 for i in range(count)]
        return orjson.dumps(doc)

    return data


def _hundred_mb(folder: Path, ts_ms: int) -> str:
    """A 100 MB run file: a valid head, then padding (written in chunks)."""
    name = run_name("huge", ts_ms)
    head = orjson.dumps(good_document(ts_ms))[:-1] + b',"padding":"'
    chunk = b"x" * (1 << 20)
    with (folder / name).open("wb") as handle:
        handle.write(head)
        for _ in range(100):
            handle.write(chunk)
        handle.write(b'"}')
    return name


def _directory(folder: Path, ts_ms: int) -> str:
    name = run_name("dir", ts_ms)
    (folder / name).mkdir()
    return name


def _fifo(folder: Path, ts_ms: int) -> str:
    name = run_name("fifo", ts_ms)
    os.mkfifo(folder / name)
    return name


def _device_link(folder: Path, ts_ms: int) -> str:
    name = run_name("dev", ts_ms)
    (folder / name).symlink_to("/dev/zero")
    return name


def _duplicate(folder: Path, ts_ms: int) -> str:
    """The same run twice under two names (a copied file)."""
    data = orjson.dumps(good_document(ts_ms))
    first = run_name("dup", ts_ms)
    (folder / first).write_bytes(data)
    (folder / run_name("dup", ts_ms + 1)).write_bytes(data)
    return first


def _ignored(name: str, data: bytes = b"{") -> Builder:
    def build(folder: Path, ts_ms: int) -> str:
        (folder / name.format(ms=ts_ms)).write_bytes(data)
        return name.format(ms=ts_ms)

    return build


LUASCRIPT_RUN = orjson.dumps(
    {
        "metadata": {"timestamp": "2025-12-20T10:00:00Z", "commit": "abc"},
        "measurements": {"transpile-simple": [{"time": 0.84}]},
        "stats": {"transpile-simple": {"count": 1, "median": 0.84}},
    }
)

MARKUP = "[bold red]PWNED[/]"
ANSI = "\x1b[31mred\x1b[0m\x1b]0;title\x07"
HTML = "<script>alert(1)</script>"
LONG = "L" * 200

CASES: tuple[Case, ...] = (
    # ---------------------------------------------------------------- not JSON
    Case("truncated_json", raw(_truncated), "rejected", "invalid JSON",
         "a writer killed mid-write: reported, never half-loaded (perfslo's own writer is atomic)"),
    Case("empty_file", raw(b""), "rejected", "empty file"),
    Case("whitespace_only", raw(b"  \n\t\n"), "rejected", "empty file"),
    Case("nul_bytes", raw(b"\x00" * 4096), "rejected", "invalid JSON"),
    Case("random_binary", raw(bytes(range(256)) * 16), "rejected", "invalid JSON"),
    Case("invalid_utf8", raw(b'{"schema_version": 1, "metadata": {"commit": "\xff\xfe"}}'), "rejected",
         "not valid UTF-8"),
    Case("utf8_bom", raw(lambda ms: b"\xef\xbb\xbf" + orjson.dumps(good_document(ms))), "loaded",
         why="a UTF-8 byte order mark (PowerShell, .NET) is skipped: the run is fine",
         slos=tuple(GOOD_VALUES)),
    Case("trailing_garbage", raw(lambda ms: orjson.dumps(good_document(ms)) + b"}garbage"), "rejected",
         "invalid JSON"),
    Case("nan_literal", text_doc(("123456.789", "NaN")), "rejected", "invalid JSON",
         "NaN/Infinity are not JSON; a writer emitting them (Python's json) is reported"),
    Case("infinity_literal", text_doc(("123456.789", "Infinity")), "rejected", "invalid JSON"),
    Case("overflowing_number", text_doc(("123456.789", "1e400")), "rejected", "invalid JSON"),
    Case("deeply_nested_array", raw(_nested(200_000)), "rejected", "invalid JSON",
         "200 000 levels: refused by the parser's depth limit, no RecursionError"),
    # ---------------------------------------------------------------- wrong shape
    Case("json_array", raw(b"[1, 2, 3]"), "rejected", "expected a JSON object, got an array"),
    Case("json_string", raw(b'"perf run"'), "rejected", "expected a JSON object, got a string"),
    Case("json_null", raw(b"null"), "rejected", "expected a JSON object, got null"),
    Case("json_number", raw(b"42"), "rejected", "expected a JSON object, got a number"),
    Case("json_bool", raw(b"true"), "rejected", "expected a JSON object, got a boolean"),
    Case("missing_schema_version", mutated(_drop("schema_version")), "rejected", "schema_version"),
    Case("unknown_schema_version", mutated(_set("schema_version", 3)), "rejected",
         "unsupported schema_version 3", "a newer perfslo's format is named, not guessed at"),
    Case("schema_version_string", mutated(_set("schema_version", "1")), "rejected", "schema_version"),
    Case("missing_metadata", mutated(_drop("metadata")), "rejected", "metadata"),
    Case("metadata_is_list", mutated(_set("metadata", [1, 2])), "rejected", "metadata"),
    Case("missing_timestamp", mutated(_drop("metadata/timestamp_unix")), "rejected", "timestamp_unix"),
    Case("timestamp_is_string", mutated(_set("metadata/timestamp_unix", "yesterday")), "rejected",
         "timestamp_unix"),
    Case("negative_timestamp", mutated(_set("metadata/timestamp_unix", -5)), "rejected", "timestamp_unix"),
    Case("timestamp_after_year_3000", mutated(_set("metadata/timestamp_unix", 10**17)), "rejected",
         "timestamp_unix"),
    Case("commit_is_number", mutated(_set("metadata/commit", 1234)), "rejected", "commit"),
    Case("dirty_is_string", mutated(_set("metadata/dirty", "yes")), "rejected", "dirty"),
    Case("missing_slos", mutated(_drop("slos")), "rejected", "slos"),
    Case("slos_empty", mutated(_set("slos", {})), "rejected", "slos"),
    Case("slos_is_list", mutated(_set("slos", [{"samples": [1.0]}])), "rejected", "slos"),
    Case("slo_body_is_number", mutated(_set("slos/transpile-simple", 0.84)), "rejected", "transpile-simple"),
    Case("missing_samples", mutated(_drop("slos/transpile-simple/samples")), "rejected", "samples"),
    Case("empty_samples", mutated(_samples([])), "rejected", "samples",
         "an SLO without samples has no value; the file is refused as a whole, not half-used"),
    Case("samples_are_strings", mutated(_samples(["0.8", "0.9"])), "rejected", "samples"),
    Case("samples_are_bools", mutated(_samples([True, True])), "rejected", "samples"),
    Case("samples_nested_lists", mutated(_samples([[0.8], [0.9]])), "rejected", "samples"),
    Case("samples_null", mutated(_samples([0.8, None])), "rejected", "samples"),
    Case("negative_sample", mutated(_samples([0.8, -0.1])), "rejected", "samples"),
    Case("zero_sample", mutated(_samples([0.0, 0.8])), "rejected", "samples",
         "a 0 ms sample is a broken timer, not a fast run"),
    Case("absurd_sample", mutated(_samples([0.8, 1e12])), "rejected", "samples",
         "over a day per call is a unit mistake (ns as ms)"),
    Case("samples_over_limit", raw(_million(1_000_001), "many"), "rejected", "too many samples",
         "over a million samples per SLO is refused (a runaway loop), with the count", heavy=True),
    Case("hundred_mb_file", _hundred_mb, "rejected", "too large",
         "refused after reading 64 MiB, before parsing", heavy=True),
    Case("luascript_format", raw(LUASCRIPT_RUN), "rejected", "perfslo import",
         "the original system's run format: the message says how to convert it"),
    Case("slo_name_empty", mutated(lambda d: d["slos"].update({"": {"samples": [0.5]}})), "rejected", "slos"),
    Case("slo_name_too_long", named_slo("N" * 5000), "rejected", "too long",
         "names over 200 characters are refused; the message is clipped"),
    Case("commit_too_long", mutated(_set("metadata/commit", "c" * 500)), "rejected", "commit"),
    Case("stats_wrong_type", mutated(_set("slos/transpile-simple/stats", "fast")), "rejected", "stats"),
    Case("inner_loops_zero", mutated(_set("slos/transpile-simple/inner_loops", 0)), "rejected",
         "inner_loops"),
    Case("violations_not_list", mutated(_set("violations", "none")), "rejected", "violations"),
    Case("a_directory", _directory, "rejected", "directory"),
    Case("a_fifo", _fifo, "rejected", "not a regular file",
         "a FIFO named like a run is refused without blocking (it would hang a plain open/read)"),
    Case("symlink_to_device", _device_link, "rejected", "not a regular file",
         "a link to /dev/zero is refused before reading"),
    Case("ansi_in_file_name", raw(b"{", tag="\x1b[31mX\x1b]0;t\x07"), "rejected", "invalid JSON",
         "the file name is untrusted too: escaped in every message"),
    Case("newline_in_file_name", raw(b"[]", tag="a\nperfslo: all good"), "rejected", "got an array",
         "a newline in a file name cannot forge a second output line"),
    # ---------------------------------------------------------------- odd but usable
    Case("markup_in_file_name", mutated(lambda d: None, tag="[bold red]x"), "loaded",
         why="the run id (file name) is shown literally", shown=("[bold red]x",), slos=tuple(GOOD_VALUES)),
    Case("future_timestamp", mutated(_set("metadata/timestamp_unix", FUTURE_MS)), "loaded",
         why="loaded (the time is data, clocks skew); `perfslo check` warns on stderr when the run "
         "it evaluates is dated more than a day ahead", slos=tuple(GOOD_VALUES)),
    Case("duplicate_content", _duplicate, "loaded",
         why="run identity is the file name: two files with the same content are two runs (both kept, "
         "nothing merged or dropped); perfslo's own writer never reuses a name", slos=tuple(GOOD_VALUES),
         extra_files=1),
    Case("name_time_mismatch", mutated(_set("metadata/timestamp_unix", CASE_MS - 10 * HOUR_MS)), "loaded",
         why="the file name's time is only a name; metadata.timestamp_unix orders runs",
         slos=tuple(GOOD_VALUES)),
    Case("unknown_fields", mutated(lambda d: d.update({"x-extra": {"a": [1, 2]}, "metadata": {
        **d["metadata"], "ci": {"job": 7}}})), "loaded",
         why="unknown fields are ignored (forward compatible)", slos=tuple(GOOD_VALUES)),
    Case("stats_disagree_with_samples", mutated(_set("slos/transpile-simple/stats/median", 999.0)), "loaded",
         why="recorded stats are ignored: values are recomputed from the samples", slos=tuple(GOOD_VALUES)),
    Case("deep_host_metadata", raw(_deep_host), "loaded",
         why="900 levels inside metadata.host parse and are never walked", slos=tuple(GOOD_VALUES)),
    Case("single_sample", mutated(lambda d: d.update(slos={"transpile-simple": {"samples": [0.7]}})),
         "loaded",
         why="one sample is a value with unknown noise", slos=("transpile-simple",)),
    Case("integer_and_tiny_samples", mutated(_samples([1, 2, 1e-300])), "loaded",
         why="integers and tiny positive numbers are valid ms", slos=tuple(GOOD_VALUES)),
    Case("million_samples", raw(_million(1_000_000), "million"), "loaded",
         why="exactly the limit of a million samples per SLO loads", slos=("transpile-simple",), heavy=True),
    Case("rich_markup_name", named_slo(MARKUP, branch="[link=https://evil]x[/link]"), "loaded",
         why="Rich/Textual markup in names is text, shown literally", shown=(MARKUP,),
         slos=(MARKUP, "transpile-simple")),
    Case("ansi_escape_name", named_slo(ANSI, commit="\x1b[2J\x1b[H", branch="\x1b[5mblink"), "loaded",
         why="escape sequences are shown as \\x1b..., never sent to the terminal",
         shown=("\\x1b[31mred",), slos=(ANSI, "transpile-simple")),
    Case("html_name", named_slo(HTML, commit="<img src=x onerror=alert(1)>"), "loaded",
         why="HTML is text: escaped in Markdown and HTML reports", shown=(HTML,),
         slos=(HTML, "transpile-simple")),
    Case("path_separator_name", named_slo("../../etc/passwd", commit="../../../tmp/evil"), "loaded",
         why="names and commits are never used as paths", shown=("../../etc/passwd",),
         slos=("../../etc/passwd", "transpile-simple")),
    Case("newline_and_bidi_name", named_slo("two\nlines\u202eevil", branch="a\r\nb"), "loaded",
         why="newlines, CR and bidi overrides are escaped so one name stays one line",
         shown=("two\\x0alines\\x202eevil",), slos=("two\nlines\u202eevil",
                                                                              "transpile-simple")),
    Case("long_name_at_limit", named_slo(LONG), "loaded",
         why="a 200-character name (the limit) loads and is clipped in tables",
         shown=("L" * 20,), slos=(LONG, "transpile-simple")),
    Case("unicode_name", named_slo("трансп💥ile ✓"), "loaded",
         why="any Unicode name is fine", shown=("трансп💥ile ✓",),
         slos=("трансп💥ile ✓", "transpile-simple")),
    # ---------------------------------------------------------------- not run files
    Case("writer_temp_file", _ignored(".perf-a1b2c3d-{ms}.json.k3j4.tmp"), "ignored",
         why="the hidden temp file a killed perfslo writer leaves is never read as a run"),
    Case("notes_file", _ignored("NOTES.txt", b"\x1b[31m[bold]hi"), "ignored"),
    Case("json_without_run_name", _ignored("results-{ms}.json"), "ignored",
         why="only perf-<commit>-<epoch-ms>.json files are runs; other JSON is left alone"),
    Case("backslash_in_name", _ignored("perf-a\\b-{ms}.json"), "ignored"),
    Case("short_millis_name", _ignored("perf-abc-123.json"), "ignored"),
)

BY_NAME = {case.name: case for case in CASES}
assert len(BY_NAME) == len(CASES), "case names must be unique"


def case_ms(index: int) -> int:
    """A distinct timestamp per case (so all cases can share one folder)."""
    return CASE_MS + index * 1000
