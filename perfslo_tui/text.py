"""Text every stage shows: untrusted names made safe, commits shortened, numbers and times formatted.

A leaf module (standard library only), so the run files, the verdict, the
reports and the TUI format the same value the same way.
"""

from __future__ import annotations

import datetime as dt
import math
import re

# Tab and newline too: one untrusted name must stay on one line and one cell.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
SHORT_COMMIT = 7


def clip(text: object, limit: int = 60) -> str:
    """Shorten text to ``limit`` characters, marking the cut with ``…``."""
    value = str(text)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def printable(text: str, limit: int = 80) -> str:
    """Make untrusted text safe for a terminal: escape control characters, clip.

    Names and commits come from files anyone can write; an ANSI escape or a
    bidi override in them must never reach the terminal as such.
    """
    return clip(_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text), limit)


def short_commit(commit: str | None) -> str:
    """A commit hash as git shortens it (seven characters), ``?`` when unknown.

    A word that is not a hash (``uncommitted``, ``unknown``) is kept whole.
    """
    if not commit:
        return "?"
    if len(commit) > SHORT_COMMIT and all(ch in "0123456789abcdefABCDEF" for ch in commit):
        return commit[:SHORT_COMMIT]
    return commit if len(commit) <= 12 else commit[:SHORT_COMMIT]


def utc_iso(timestamp_ms: int) -> str:
    """Epoch milliseconds as ISO-8601 UTC with a ``Z``."""
    moment = dt.datetime.fromtimestamp(timestamp_ms / 1000.0, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{timestamp_ms % 1000:03d}Z"


def format_ms(value_ms: float) -> str:
    """Format milliseconds compactly: ``1.27``, ``0.85``, ``0.0123``, ``1,234``."""
    if not math.isfinite(value_ms):
        return str(value_ms)
    if abs(value_ms) >= 1000:
        return f"{value_ms:,.0f}"
    return f"{value_ms:.4g}"


def format_value(value: float, unit: str = "ms") -> str:
    """A measured value with its unit: ``1.27ms``, ``171.5 M instr``, ``12.3 MB``."""
    if unit == "ms":
        return f"{format_ms(value)}ms"
    if unit == "instructions":
        if not math.isfinite(value):
            return f"{value} instr"
        for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
            if abs(value) >= limit:
                return f"{value / limit:.4g} {suffix} instr"
        return f"{value:.4g} instr"
    return f"{format_ms(value)} {unit}"


def format_percent(percent: float) -> str:
    """Format a percentage with one decimal: ``98.8%``."""
    return f"{percent:.1f}%"


def format_change(change: float) -> str:
    """Format a relative change (a fraction) signed with one decimal: ``+6.1%``."""
    percent = 100.0 * change
    if abs(percent) < 0.05:
        percent = 0.0
    return f"{percent:+.1f}%"
