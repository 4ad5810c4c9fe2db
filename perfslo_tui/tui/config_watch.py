"""Watching the config file: the running monitor picks up an edited config.

The folder holding the config is watched (not recursively) for changes to
the config's file name, so an editor that saves by writing a new file and
renaming it over the old one is seen too, and so is a config that appears
(``perfslo init`` run in another terminal) or goes away.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from pathlib import Path

from watchfiles import Change, awatch

from perfslo_tui.config import DEDICATED_FILE, PYPROJECT_FILE

DEBOUNCE_MS = 100
CONFIG_NAMES = (DEDICATED_FILE, PYPROJECT_FILE)


async def watch_config(
    folder: Path,
    stop_event: asyncio.Event,
    on_change: Callable[[], object],
    names: Collection[str] = CONFIG_NAMES,
) -> None:
    """Call ``on_change`` after each batch of changes to a config file in ``folder``, until stopped.

    Args:
        folder: The folder holding the config (or where one would appear).
        stop_event: Set it to end the watch promptly.
        on_change: Called in the event loop; reload the config there.
        names: The file names that count.
    """
    folder = folder.resolve()
    wanted = set(names)

    def is_config(change: Change, path: str) -> bool:
        parent, _, name = path.rpartition("/")
        return parent == str(folder) and name in wanted

    while not stop_event.is_set():
        try:
            async for changes in awatch(
                folder,
                watch_filter=is_config,
                debounce=DEBOUNCE_MS,
                step=20,
                stop_event=stop_event,
                recursive=False,
                rust_timeout=1000,
                yield_on_timeout=True,
            ):
                if changes:
                    on_change()
        except (FileNotFoundError, OSError):
            pass
        if not stop_event.is_set():
            # The folder went away or the watch ended by itself: try again, without spinning.
            await asyncio.sleep(0.5)
