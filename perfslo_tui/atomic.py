"""Writing a file so that readers see all of it or nothing, and nothing is lost on failure."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO


def atomic_write(
    path: Path, write: Callable[[IO[bytes]], object], *, overwrite: bool = True, durable: bool = True
) -> Path:
    """Write a file through ``write(handle)`` so that readers see all of it or nothing.

    The content goes to a hidden temp file in the same folder, is flushed
    (and, when ``durable``, fsync'ed), then renamed (``overwrite``) or
    hard-linked (no overwrite) into place. On any error the temp file is
    removed and the old file is intact.

    Args:
        path: The final path.
        write: Writes the whole content to the binary handle it is given.
        overwrite: Replace an existing file (rename) or fail if it exists.
        durable: fsync before renaming. Files that can be rebuilt (a cache)
            skip it: after a crash they may be lost, never half-written.

    Returns:
        The path written.

    Raises:
        FileExistsError: When ``overwrite`` is False and ``path`` exists.
        OSError: On a write error (disk full, permissions); nothing is left behind.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
            tmp.unlink()
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path


def atomic_write_bytes(path: Path, data: bytes, *, overwrite: bool = True, durable: bool = True) -> Path:
    """:func:`atomic_write` of a bytes value."""
    return atomic_write(path, lambda handle: handle.write(data), overwrite=overwrite, durable=durable)
