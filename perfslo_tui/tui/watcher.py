"""Watching the artifacts folder with watchfiles, surviving its disappearance.

The folder itself and its parent are watched (not recursively): events for
``*.json`` files in the folder mean "refresh", and an event on the folder
path itself (deleted, created, moved) means "re-arm", because a watch on a
deleted folder never fires again. When the folder is missing, the nearest
existing ancestor is watched until it appears.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from watchfiles import Change, awatch

DEBOUNCE_MS = 50
STEP_MS = 10


def nearest_existing(path: Path) -> Path:
    """The path itself or its closest ancestor that exists as a folder."""
    current = path
    while not current.is_dir() and current.parent != current:
        current = current.parent
    return current


class ArtifactsFilter:
    """watchfiles filter: run and baseline files in the folder, and the folder's own path.

    Events on the folder or any ancestor (created, deleted, moved) pass too:
    they are the signal to re-arm the watch.

    Temporary files of atomic writes (``.name.json.XXXX.tmp``) and anything
    else in the parent folder are dropped.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = str(folder)

    def __call__(self, change: Change, path: str) -> bool:
        """True when the event matters for the run table."""
        if self.is_on_path(path):
            return True
        parent, _, name = path.rpartition("/")
        return parent == self.folder and name.endswith(".json")

    def is_on_path(self, path: str) -> bool:
        """True for the folder itself or one of its ancestors (a re-arm event)."""
        return path == self.folder or self.folder.startswith(path.rstrip("/") + "/")


async def watch_folder(
    folder: Path,
    stop_event: asyncio.Event,
    on_change: Callable[[set[str] | None], None],
    on_state: Callable[[bool], None] | None = None,
) -> None:
    """Call ``on_change`` whenever run files in ``folder`` change, until stopped.

    Args:
        folder: The artifacts folder (may be missing, now or later).
        stop_event: Set it to end the watch promptly.
        on_change: Called (in the event loop) after each batch of relevant
            events, with the names of the files in ``folder`` that changed,
            or None when the folder itself changed (look at all of it).
        on_state: Called with True when the folder is watched, False while it
            is missing.
    """
    folder = folder.resolve()
    watch_filter = ArtifactsFilter(folder)
    while not stop_event.is_set():
        exists = folder.is_dir()
        if on_state is not None:
            on_state(exists)
        paths = [folder, folder.parent] if exists else [nearest_existing(folder.parent)]
        rearm = False
        try:
            async for changes in awatch(
                *paths,
                watch_filter=watch_filter,
                debounce=DEBOUNCE_MS,
                step=STEP_MS,
                stop_event=stop_event,
                recursive=False,
                rust_timeout=1000,
                yield_on_timeout=True,
            ):
                if not changes:
                    # Timeout tick: notice a folder that appeared (or vanished)
                    # without an event we could see, e.g. a missing grandparent.
                    if folder.is_dir() != exists:
                        rearm = True
                        on_change(None)
                        break
                    continue
                if any(watch_filter.is_on_path(path) for _change, path in changes):
                    on_change(None)
                    rearm = True
                    break
                on_change({path.rpartition("/")[2] for _change, path in changes})
        except (FileNotFoundError, OSError):
            # The watched folder went away under the watcher: re-arm below.
            rearm = True
            on_change(None)
        if not rearm and not stop_event.is_set():
            # awatch ended by itself; do not spin.
            await asyncio.sleep(0.1)
