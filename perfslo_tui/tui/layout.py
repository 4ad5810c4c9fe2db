"""How the overview fits its SLOs on the screen: card size and columns, or one line each.

Pure functions of the SLO count and the space the card area has, so the
choice is tested without a terminal. In ``auto`` view the overview shows every
SLO when it can: the largest cards that fit (tall cards with a description and
a multi-line trend when there is room, down to three-line cards), else one
line per SLO with an inline sparkline. ``list`` always shows lines, ``cards``
always shows full cards (scrolling).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

VIEWS = ("auto", "list", "cards")
MIN_CARD_WIDTH = 30
MIN_CARD_HEIGHT = 5  # three lines inside the border: name, value and status, trend
FULL_CARD_HEIGHT = 12
MAX_CARD_HEIGHT = 18
FULL_CARD_WIDTH = 34
GRID_PADDING = 2  # the grid's padding, left and right
GUTTER = 1  # between columns


@dataclass(frozen=True, slots=True)
class Layout:
    """The overview's arrangement.

    Attributes:
        mode: ``cards`` (a grid of bordered cards) or ``rows`` (one line per SLO).
        columns: Grid columns (1 for rows).
        height: Each card's height in lines (1 for rows).
    """

    mode: str
    columns: int
    height: int

    @property
    def rows(self) -> bool:
        """True for one line per SLO."""
        return self.mode == "rows"


def card_width(width: int, columns: int) -> int:
    """The width of one card when ``columns`` share ``width``."""
    return (width - GRID_PADDING - GUTTER * (columns - 1)) // columns


def choose_layout(count: int, width: int, height: int, view: str = "auto") -> Layout:
    """The layout for ``count`` SLOs in a ``width`` x ``height`` card area.

    ``auto`` prefers, among the column counts whose cards fit every SLO on
    screen and are at least :data:`MIN_CARD_HEIGHT` tall and
    :data:`MIN_CARD_WIDTH` wide, the one with comfortable height (up to a full
    card), then the widest cards, so names are not clipped while there is
    room. When no card size fits them all, one line per SLO.
    """
    if view == "list":
        return Layout("rows", 1, 1)
    if view == "cards" or count == 0:
        columns = max(1, (width - GRID_PADDING) // FULL_CARD_WIDTH)
        rows = max(1, math.ceil(count / columns))
        return Layout("cards", columns, max(FULL_CARD_HEIGHT, min(MAX_CARD_HEIGHT, height // rows)))
    best: Layout | None = None
    best_score: tuple[int, int] = (-1, -1)
    columns = 1
    while columns <= count and card_width(width, columns) >= MIN_CARD_WIDTH:
        rows = math.ceil(count / columns)
        card_height = min(MAX_CARD_HEIGHT, height // rows)
        if card_height >= MIN_CARD_HEIGHT:
            score = (min(card_height, FULL_CARD_HEIGHT), card_width(width, columns))
            if score > best_score:
                best, best_score = Layout("cards", columns, card_height), score
        columns += 1
    return best if best is not None else Layout("rows", 1, 1)


@dataclass(frozen=True, slots=True)
class RowColumns:
    """Column widths of the one-line-per-SLO list (shared by every line and the header)."""

    name: int
    value: int = 9
    percent: int = 7
    state: int = 9
    baseline: int = 0
    spark: int = 8

    @property
    def fixed(self) -> int:
        """Everything but the name and the sparkline, with the gaps."""
        base = self.baseline + 2 if self.baseline else 0
        return 3 + 2 + self.value + 2 + self.percent + 2 + self.state + base + 2


def row_columns(width: int, longest_name: int) -> RowColumns:
    """Share a line's ``width`` out: the whole name when it fits, a trend of 8+ points, then vs baseline."""
    plain = RowColumns(name=0)
    room = width - plain.fixed
    with_base = RowColumns(name=0, baseline=19)
    if width - with_base.fixed - longest_name >= 16:
        plain = with_base
        room = width - plain.fixed
    name = max(8, min(longest_name, room - 8))
    spark = max(4, min(60, room - name))
    return RowColumns(name=name, baseline=plain.baseline, spark=spark)
