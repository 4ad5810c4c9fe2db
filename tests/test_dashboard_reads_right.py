"""The dashboard reads right in a browser without an emoji font, and says what the evaluation says.

Headless Chromium with a font configuration that has no emoji font (checked):
every character on the page must have a font there, the status icons must be
drawn (their pixels, in their colours), time axes have distinct labels, a long
pause between runs is a gap in the line, dirty runs are marked, and the
banner and trend notes agree with the evaluation.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import BASE_MS, make_run, run_cli
from PIL import Image
from test_dashboard import DomIndex, chromium_args, dump_dom

from perfslo_tui.report.html import time_ticks
from perfslo_tui.verdict.trends import DAY_MS

HOUR_MS = 3_600_000
CONFIG = """confirm_runs = 3

[slos.steady-one]
budget = 1.0

[slos.jumpy-one]
budget = 1.0
"""
# Light-mode status colours of the page (--pass, --drift, --violation).
COLOURS = {"pass": (0x1A, 0x7F, 0x37), "drift": (0xB6, 0x6A, 0x00), "violation": (0xC6, 0x28, 0x28)}
EMOJI = [0x2705, 0x274C, 0x2754, 0x1F7E2]


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("headless Chromium is required: `apt-get install -y chromium` (scripts/test.sh does it)")


@pytest.fixture(scope="module")
def no_emoji_fonts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment whose fontconfig sees the system's fonts minus every emoji font."""
    folder = tmp_path_factory.mktemp("fonts")
    conf = folder / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        "<dir>/usr/share/fonts</dir>\n<dir>/usr/local/share/fonts</dir>\n"
        f"<cachedir>{folder / 'cache'}</cachedir>\n"
        "<selectfont><rejectfont><glob>*[Ee]moji*</glob><glob>*Symbola*</glob></rejectfont></selectfont>\n"
        "</fontconfig>\n"
    )
    env = {**os.environ, "FONTCONFIG_FILE": str(conf)}
    fonts = subprocess.run(
        ["fc-list", ":", "family"], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert fonts.strip(), "no font at all under the test's fontconfig"
    for code in EMOJI:
        covered = subprocess.run(
            ["fc-list", f":charset={code:x}", "family"], env=env, capture_output=True, text=True, check=True
        ).stdout
        assert covered.strip() == "", (
            f"U+{code:04X} has a font here ({covered.strip()}): not an emoji-free setup"
        )
    return env


def covered(env: dict[str, str], char: str) -> bool:
    out = subprocess.run(
        ["fc-list", f":charset={ord(char):x}", "family"], env=env, capture_output=True, text=True, check=True
    ).stdout
    return bool(out.strip())


@pytest.fixture
def busy_page(project: Path) -> Path:
    """Ten runs over ten days with a two-day pause; the latest jumps to 182 % of budget on a busy machine."""
    (project / "perfslo.toml").write_text(CONFIG)
    artifacts = project / "artifacts"
    times = [BASE_MS + i * 18 * HOUR_MS for i in range(6)] + [
        BASE_MS + 6 * 18 * HOUR_MS + 2 * DAY_MS + i * 18 * HOUR_MS for i in range(4)
    ]
    for i, ts in enumerate(times):
        last = i == len(times) - 1
        values = {
            "steady-one": 0.6 * (1 + 0.003 * (i % 3)),
            "steady-one@ref": 0.02 if last else 0.01,
            "jumpy-one": 1.82 if last else 0.7 * (1 + 0.003 * (i % 2)),
            "jumpy-one@ref": 0.02 if last else 0.01,
        }
        path = make_run(artifacts, values, ts_ms=ts, commit=f"{i + 1:x}" * 40, spread=0.01)
        if last:
            text = path.read_text()
            path.write_text(re.sub(r'"dirty": false', '"dirty": true', text))
    result = run_cli("dashboard", cwd=project)
    assert result.returncode == 0, result.stderr
    return project / "artifacts" / "perf-dashboard.html"


def screenshot(chromium: str, page: Path, out: Path, env: dict[str, str], profile: Path) -> Image.Image:
    result = subprocess.run(
        [*chromium_args(chromium, profile), "--window-size=1280,1600", "--force-device-scale-factor=1",
         f"--screenshot={out}", page.as_uri()],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return Image.open(out).convert("RGB")


def test_every_character_has_a_font_and_the_icons_are_drawn(
    chromium: str, busy_page: Path, no_emoji_fonts: dict[str, str], tmp_path: Path
) -> None:
    dom_text = dump_dom(chromium, busy_page, tmp_path / "p1")
    dom = DomIndex()
    dom.feed(dom_text)
    body = dom.find("body")[0]
    shown = "".join(body.text)
    # No character of the page needs a font this machine does not have (an empty box).
    missing = sorted(
        {ch for ch in shown if ord(ch) > 127 and not ch.isspace() and not covered(no_emoji_fonts, ch)}
    )
    assert missing == [], (
        f"drawn as empty boxes without an emoji font: {[f'U+{ord(c):04X}' for c in missing]}"
    )
    icons = [e for e in dom.find("svg", "icon")]
    kinds = Counter(
        cls for e in icons for cls in e.classes if cls in ("pass", "drift", "violation", "nodata")
    )
    assert kinds["pass"] >= 2 and kinds["violation"] >= 2 and kinds["drift"] >= 1
    # The icons' pixels: the page with everything but the icons hidden (inline CSS is allowed by the CSP).
    only_icons = tmp_path / "icons.html"
    only_icons.write_text(
        busy_page.read_text().replace(
            "</style>",
            "body * { visibility: hidden !important; }\n"
            "svg.icon, svg.icon * { visibility: visible !important; }</style>",
        )
    )
    image = screenshot(chromium, only_icons, tmp_path / "icons.png", no_emoji_fonts, tmp_path / "p2")
    pixels = np.asarray(image, dtype=int)
    counts = {
        name: int((np.abs(pixels - np.array(colour)).max(axis=2) <= 40).sum())
        for name, colour in COLOURS.items()
    }
    # A 16-px icon fills ~120 pixels with its colour; an empty box would fill none.
    assert counts["pass"] >= 150, counts
    assert counts["violation"] >= 150, counts
    assert counts["drift"] >= 15, counts  # the banner's icon: a white triangle whose "!" is amber
    # And the real page draws (not blank) in the same setup.
    page = screenshot(chromium, busy_page, tmp_path / "page.png", no_emoji_fonts, tmp_path / "p3")
    assert len(np.unique(np.asarray(page).reshape(-1, 3), axis=0)) > 50


def test_banner_notes_axes_gaps_and_dirty_points_say_what_the_evaluation_says(
    chromium: str, busy_page: Path, tmp_path: Path
) -> None:
    dom = DomIndex()
    dom.feed(dump_dom(chromium, busy_page, tmp_path / "profile"))
    banner = [e for e in dom.elements if e.attrs.get("id") == "verdict"][0]
    headline = "".join(banner.text)
    assert banner.attrs["data-verdict"] == "WARNING"
    assert "1 unconfirmed budget violation measured on a busy machine" in headline
    assert "drift" not in headline.lower()
    assert "perfslo check --confirm 3" in headline
    notes = {e.slo: "".join(e.text) for e in dom.find("div", "indicator")}
    assert "182.0%" in notes["jumpy-one"] and "steady" not in notes["jumpy-one"]
    assert "busy machine" in notes["jumpy-one"]
    for name in ("steady-one", "jumpy-one"):
        labels = ["".join(e.text) for e in dom.find("text") if e.slo == name and e.attrs.get("y") == "184"]
        assert len(labels) >= 3 and len(labels) == len(set(labels)), labels
        path = [e for e in dom.find("path", "series") if e.slo == name][0].attrs["d"]
        assert path.count("M") == 2, path  # the two-day pause is a gap
        points = [e for e in dom.find("circle") if e.slo == name and "".join(e.text)]
        dirty = [p for p in points if "dirty" in p.classes]
        assert len(points) == 10 and len(dirty) == 1 and "uncommitted" in "".join(dirty[0].text)
    legend = " ".join("".join(e.text) for e in dom.find("div", "legend"))
    assert "dirty run" in legend and "a break in the line" in legend


def test_a_short_burst_of_runs_says_its_span_is_short_not_that_runs_are_few(project: Path) -> None:
    (project / "perfslo.toml").write_text(CONFIG)
    for i in range(17):
        make_run(project / "artifacts", {"steady-one": 0.6, "jumpy-one": 0.7}, ts_ms=BASE_MS + i * 100_000)
    assert run_cli("dashboard", cwd=project).returncode == 0
    page = (project / "artifacts" / "perf-dashboard.html").read_text()
    assert "too few runs" not in page
    assert "17 runs within 27 min: too short a span for a trend (1 hour)" in page


def test_time_ticks_are_round_and_distinct() -> None:
    three_days = time_ticks(BASE_MS + 5 * HOUR_MS, BASE_MS + 3 * DAY_MS)
    labels = [label for _ts, label in three_days]
    assert len(labels) == len(set(labels)) >= 2
    assert all(ts % DAY_MS == 0 for ts, _label in three_days)
    hours = time_ticks(BASE_MS + 10 * 60_000, BASE_MS + 5 * HOUR_MS)
    assert 3 <= len(hours) <= 6 and all(ts % HOUR_MS == 0 for ts, _label in hours)
    labels = [label for _ts, label in hours]
    assert len(set(labels)) == len(labels)
    assert labels[0].startswith("Nov 18 ") and all(re.fullmatch(r"\d\d:00", label) for label in labels[1:])
