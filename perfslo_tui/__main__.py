"""``python -m perfslo_tui``: the ``perfslo`` CLI."""

from perfslo_tui.cli import entry

entry()
