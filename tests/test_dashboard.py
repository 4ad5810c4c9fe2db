"""`perfslo dashboard`: the self-contained page, loaded in real headless Chromium."""

from __future__ import annotations

import random
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import BASE_MS, SEED_CONFIG, SEED_MOCK_TIMINGS, make_run, run_cli

from perfslo_tui.verdict.trends import DAY_MS

SCRIPT_NAME = "<script>alert(1)</script>"
IMG_NAME = '<img src=x onerror="document.documentElement.dataset.pwned=1">'
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        "headless Chromium is required for the dashboard tests and was not found on PATH: "
        "install it with `apt-get install -y chromium` (scripts/test.sh does this in CI)"
    )


def chromium_args(binary: str, profile: Path) -> list[str]:
    return [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
    ]


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    slo: str | None  # data-slo of the nearest enclosing element that has one
    text: list[str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


class DomIndex(HTMLParser):
    """Every element of the dumped DOM, with its text and the SLO it belongs to."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.stack: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        slo = values.get("data-slo", self.stack[-1].slo if self.stack else None)
        element = Element(tag, values, slo)
        self.elements.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop().tag == tag:
                break

    def handle_data(self, data: str) -> None:
        for element in self.stack:
            element.text.append(data)

    def find(self, tag: str, cls: str | None = None) -> list[Element]:
        return [e for e in self.elements if e.tag == tag and (cls is None or cls in e.classes)]


def png_size_and_colours(path: Path) -> tuple[int, int, int]:
    """Width, height and the number of distinct byte values in the image data."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    pos, idat = 8, b""
    while pos < len(data):
        length = struct.unpack(">I", data[pos : pos + 4])[0]
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


@pytest.fixture
def dashboard(project: Path, tmp_path: Path) -> Iterator[tuple[Path, list[str]]]:
    """A month of runs with a step and a drift, a baseline, and two hostile SLO names."""
    # A TOML literal string ('...') holds the double quotes of the payload as they are.
    config = SEED_CONFIG + f"\n[slos.\"{SCRIPT_NAME}\"]\nbudget = 2.0\ndescription = '{IMG_NAME}'\n"
    (project / "perfslo.toml").write_text(config)
    rng = random.Random(11)
    runs = []
    for i in range(30):
        values = {name: v * 0.9 * (1 + rng.gauss(0, 0.01)) for name, v in SEED_MOCK_TIMINGS.items()}
        if i >= 20:
            values["transpile-objects"] *= 1.2
        values["lua-emit-complex"] *= 1 + 0.004 * i
        values[SCRIPT_NAME] = 1.0
        values[IMG_NAME] = 0.4
        runs.append(
            make_run(project / "artifacts", values, ts_ms=BASE_MS + i * DAY_MS, commit=f"{i:07x}" + "e" * 33)
        )
    assert run_cli("baseline", "--establish", "--run", str(runs[5]), cwd=project).returncode == 0
    result = run_cli("dashboard", cwd=project)
    assert result.returncode == 0, result.stderr
    page = project / "artifacts" / "perf-dashboard.html"
    assert page.is_file()
    yield page, [*SEED_MOCK_TIMINGS, SCRIPT_NAME, IMG_NAME]


def dump_dom(chromium: str, page: Path, profile: Path) -> str:
    result = subprocess.run(
        [*chromium_args(chromium, profile), "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "<html" in result.stdout
    return result.stdout


def test_every_slo_has_its_card_and_chart(
    chromium: str, dashboard: tuple[Path, list[str]], tmp_path: Path
) -> None:
    page, names = dashboard
    dom = DomIndex()
    dom.feed(dump_dom(chromium, page, tmp_path / "profile"))
    root = dom.find("html")[0]
    assert root.attrs.get("data-perfslo") == "ready", "the page's own script did not run"

    cards = {e.attrs["data-slo"]: e for e in dom.find("section", "card")}
    assert sorted(cards) == sorted(names)
    charts = {e.attrs["data-slo"]: e for e in dom.find("svg", "chart")}
    assert sorted(charts) == sorted(names)
    for name in names:
        title = [e for e in dom.find("h3") if e.slo == name]
        assert "".join(title[0].text) == name
        # Chart points carry their value as a title; the status icons' circles do not.
        circles = [e for e in dom.find("circle") if e.slo == name and "".join(e.text)]
        assert len(circles) == 30  # one point per run in the 30-day window
        refs = {c for e in dom.find("line") if e.slo == name for c in e.classes}
        bands = [e for e in dom.find("rect", "band") if e.slo == name]
        if name == IMG_NAME:  # measured but not configured: no budget to draw
            assert not bands and "ref-budget" not in refs
            continue
        assert {"ref-budget", "ref-limit"} <= refs
        assert bands
    baseline_refs = [e for e in dom.find("line", "ref-baseline") if e.slo == "transpile-simple"]
    assert baseline_refs
    # The step in transpile-objects is marked at its culprit, in the chart and the analysis table.
    steps = [e for e in dom.find("text", "step-label") if e.slo == "transpile-objects"]
    assert steps and "regressed +" in "".join(steps[0].text) and "0000014" in "".join(steps[0].text)
    regressions = dom.find("table")
    assert any("0000014" in "".join(t.text) for t in regressions)
    # The drift shows as an indicator ("… % ⚠️ drifting +x% over n days") and a fit line.
    indicator = [e for e in dom.find("div", "indicator") if e.slo == "lua-emit-complex"]
    assert "drifting +" in "".join(indicator[0].text)
    assert [e for e in dom.find("line", "fit") if e.slo == "lua-emit-complex"]
    verdict = [e for e in dom.elements if e.attrs.get("id") == "verdict"][0]
    assert verdict.attrs["data-verdict"] == "FAILED"


def test_hostile_slo_names_are_text_and_nothing_injected_runs(
    chromium: str, dashboard: tuple[Path, list[str]], tmp_path: Path
) -> None:
    page, _names = dashboard
    source = page.read_text()
    dumped = dump_dom(chromium, page, tmp_path / "profile")
    dom = DomIndex()
    dom.feed(dumped)
    # Exactly one script element (the page's own) and no image: nothing from a name became markup.
    assert len(dom.find("script")) == 1
    assert dom.find("img") == []
    assert "data-pwned" not in dumped
    assert dom.find("html")[0].attrs.get("data-perfslo") == "ready"
    texts = ["".join(e.text) for e in dom.find("h3")]
    assert SCRIPT_NAME in texts and IMG_NAME in texts
    description = [e for e in dom.find("div", "desc") if e.slo == SCRIPT_NAME]
    assert "".join(description[0].text) == IMG_NAME
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in source


def test_page_is_self_contained(dashboard: tuple[Path, list[str]]) -> None:
    page, _names = dashboard
    source = page.read_text()
    assert "http://" not in source and "https://" not in source
    dom = DomIndex()
    dom.feed(source)
    linked = [e for e in dom.elements if {"src", "href", "xlink:href", "action"} & set(e.attrs)]
    assert linked == []
    assert {e.tag for e in dom.elements}.isdisjoint({"link", "iframe", "img", "object", "embed"})
    assert "Content-Security-Policy" in source and "default-src 'none'" in source


def test_screenshot_shows_the_page(chromium: str, dashboard: tuple[Path, list[str]], tmp_path: Path) -> None:
    page, _names = dashboard
    shot = tmp_path / "dashboard.png"
    result = subprocess.run(
        [
            *chromium_args(chromium, tmp_path / "profile"),
            "--window-size=1280,1800",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    width, height, colours = png_size_and_colours(shot)
    assert (width, height) == (1280, 1800)
    assert colours > 50  # a drawn page, not a blank one


def test_dashboard_output_option_and_empty_folder(project: Path, tmp_path: Path) -> None:
    target = tmp_path / "site" / "index.html"
    result = run_cli("dashboard", "--output", str(target), cwd=project)
    assert result.returncode == 0, result.stderr
    assert "No runs in the artifacts folder yet" in target.read_text()
    assert not (project / "artifacts" / "perf-dashboard.html").exists()
