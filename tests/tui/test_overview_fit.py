"""Every SLO at a glance: the overview chooses its card size for the terminal and the SLO count.

State first (which layout, what is on screen, what is hidden, how wide the
names are), through the real app on real run files; then snapshots at the
three sizes with 7 and 30 SLOs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from rich.console import Console
from textual.pilot import Pilot
from tuihelpers import anyio_backend, loaded, make_app, many_slos, wait_for

from perfslo_tui.tui.app import PerfSLOApp
from perfslo_tui.tui.layout import MIN_CARD_HEIGHT, choose_layout, row_columns
from perfslo_tui.tui.widgets import RegressionPanel

pytestmark = pytest.mark.anyio
__all__ = ["anyio_backend"]


def on_screen(app: PerfSLOApp) -> list[str]:
    """The SLOs whose card or line is wholly inside the visible card area."""
    scroll = app.query_one("#cards-scroll")
    region = scroll.content_region
    shown = []
    for card in app.visible_cards():
        box = card.region
        if box.height and region.contains_region(box):
            shown.append(card.slo_name)
    return shown


def plain(renderable: object, width: int = 120) -> str:
    console = Console(width=width, record=True, color_system=None, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(renderable)
    return console.export_text()


def footer_text(app: PerfSLOApp) -> str:
    return " ".join(
        f"{key.key_display} {key.description}"
        for key in app.screen.query("FooterKey")  # type: ignore[attr-defined]
    )


# ------------------------------------------------------------ the choice itself


def test_the_layout_choice() -> None:
    # 80x24, the panel under the cards: 12 lines, 74 columns for the SLOs.
    assert choose_layout(8, 80, 12).rows
    # 120x40: 72 x 36 beside the panel; 7 SLOs as 2 columns of 9-line cards.
    layout = choose_layout(7, 72, 36)
    assert (layout.mode, layout.columns, layout.height) == ("cards", 2, 9)
    # 24 SLOs there do not fit as cards: one line each (25 lines with the titles).
    assert choose_layout(24, 72, 36).rows
    # 200x50: 136 x 46; 7 SLOs as 3 columns of 15, 30 SLOs as 4 columns of 5.
    assert choose_layout(7, 136, 46) == choose_layout(7, 136, 46).__class__("cards", 3, 15)
    assert choose_layout(30, 136, 46).height == MIN_CARD_HEIGHT
    # The views the user picks.
    assert choose_layout(3, 136, 46, "list").rows
    assert choose_layout(30, 80, 12, "cards").height >= 12
    # A line shares its width: the whole name first, then a trend of 8+ points.
    columns = row_columns(74, 21)
    assert columns.name == 21 and columns.spark >= 8 and columns.baseline == 0
    wide = row_columns(180, 21)
    assert wide.baseline and wide.spark == 60


# --------------------------------------------------------------- on screen


@pytest.mark.parametrize(
    ("size", "count"),
    [((80, 24), 7), ((80, 24), 8), ((120, 40), 7), ((120, 40), 24), ((200, 50), 7), ((200, 50), 30)],
)
async def test_every_slo_is_on_screen_with_status_value_budget_and_trend(
    project: Path, size: tuple[int, int], count: int
) -> None:
    names = many_slos(project, count)
    app = make_app(project, watch=False)
    async with app.run_test(size=size) as pilot:
        await loaded(pilot)
        await pilot.pause(0.1)
        assert set(on_screen(app)) == set(names)
        assert app.hidden_count == 0
        assert app.query_one("#hidden-note").has_class("hidden")
        for name in names:
            card = app.cards[name]
            result = card.result
            assert result is not None and result.budget is not None
            shown = "".join(segment.text for segment in card.render_lines(card.region.reset_offset)[0])
            lines = ["".join(s.text for s in line) for line in card.render_lines(card.region.reset_offset)]
            text = "\n".join(lines)
            # The name whole, the value, the % of budget, the status word, a trend.
            assert name in text, (name, shown)
            assert result.state_label in text
            assert f"{result.budget.percent_of_budget:.1f}%" in text
            assert any(ch in text for ch in "▁▂▃▄▅▆▇█⠁⠂⠄⡀⠈⠐⠠⢀⣀⠤⠒⠉"), text
        # The footer is whole: its last key is there.
        assert "b Baseline" in footer_text(app)
        assert cell_len(footer_text(app)) <= size[0]


async def test_what_does_not_fit_says_how_many_are_hidden(project: Path) -> None:
    names = many_slos(project, 30)
    app = make_app(project, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.pause(0.1)
        shown = on_screen(app)
        assert app.layout_choice.rows and 0 < len(shown) < len(names)
        assert app.hidden_count == len(names) - len(shown)
        note = str(app.query_one("#hidden-note").render())
        assert f"{app.hidden_count} more SLOs (▼ {app.hidden_count} below)" in note
        # Scrolling down moves some above.
        app.query_one("#cards-scroll").scroll_end(animate=False)
        await wait_for(pilot, lambda: "above" in str(app.query_one("#hidden-note").render()))
        # The cards view keeps full cards and says what is off screen.
        await pilot.press("v", "v")
        assert app.view_mode == "cards"
        await wait_for(pilot, lambda: not app.layout_choice.rows)
        await pilot.pause(0.1)
        assert app.layout_choice.height >= 12
        assert app.hidden_count == len(names) - len(on_screen(app))


async def test_names_are_not_clipped_while_space_is_free(project: Path) -> None:
    long_name = "transpile-a-very-long-benchmark-name-x"
    names = many_slos(project, 6)
    config = (project / "perfslo.toml").read_text().replace(f'"{names[0]}"', f'"{long_name}"')
    (project / "perfslo.toml").write_text(config)
    for run in (project / "artifacts").glob("perf-*.json"):
        run.write_text(run.read_text().replace(f'"{names[0]}"', f'"{long_name}"'))
    app = make_app(project, watch=False)
    async with app.run_test(size=(200, 50)) as pilot:
        await loaded(pilot)
        await pilot.pause(0.1)
        card = app.cards[long_name]
        assert card.content_size.width >= len(long_name) + 2
        panel = app.query_one(RegressionPanel)
        assert long_name in "".join(
            str(s.text) for line in panel.render_lines(panel.region.reset_offset) for s in line
        )


async def test_esc_clears_a_kept_filter_and_the_panel_follows_it(project: Path) -> None:
    names = many_slos(project, 8)
    app = make_app(project, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("slash", *"load", "enter")
        assert app.filter_text == "load"
        kept = [n for n in names if "load" in n]
        assert {c.slo_name for c in app.visible_cards()} == set(kept)
        panel = plain(app.query_one(RegressionPanel).shown)
        assert all(n in panel for n in kept) and not any(n in panel for n in names if n not in kept)
        assert "Esc Clear filter" in footer_text(app).replace("esc", "Esc")
        await pilot.press("escape")
        assert app.filter_text == ""
        assert len(app.visible_cards()) == len(names)
        assert "Clear filter" not in footer_text(app)


# ---------------------------------------------------------------- snapshots


def _snapshot(size: tuple[int, int], count: int) -> Any:
    async def run_before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.pause(0.1)

    return run_before


@pytest.mark.parametrize("count", [7, 30])
@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 50)], ids=["80x24", "120x40", "200x50"])
def test_overview_fits_snapshot(snap_compare: Any, project: Path, size: tuple[int, int], count: int) -> None:
    many_slos(project, count)
    app = make_app(project, watch=False)
    assert snap_compare(app, terminal_size=size, run_before=_snapshot(size, count))
