"""``python -m perfslo_tui``: the ``perfslo`` CLI."""

from perfslo_tui.commands.cli import entry

entry()
