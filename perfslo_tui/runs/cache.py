"""The on-disk cache of the run table: one Arrow file next to the runs.

``<artifacts>/.perfslo-cache/`` holds ``runs-<token>.arrow``, the table rows
of every run file that loaded (Arrow IPC: it reads at memory speed, about
twice as fast as parquet for the samples lists), and ``index.json``, which
names that data file and records per file name the stat key it had when it
was read and a digest of its content, plus the files that failed with their
reason (so a bad file is not re-parsed at every start).

The cache is never the source of truth, the JSON run files are:

* a cached file is used only while its stat key ``(mtime_ns, ctime_ns,
  size, inode)`` is unchanged; anything new, changed or deleted behind the
  cache's back is seen by the next scan. ``ctime`` cannot be set from user
  space, so a rewrite that restores the mtime (``cp -p``, ``touch -d``) is
  seen too;
* a file whose timestamps are within :data:`RACY_NS` of the moment the
  snapshot was scanned is never trusted from the cache (git's "racily
  clean" rule): it could have been rewritten in place with the same size
  within one timestamp tick after it was read, leaving the same stat key;
* a file whose stat key changed but whose content digest (BLAKE2b of its
  bytes, taken before they were parsed) is the same keeps its cached rows:
  a restored CI cache, ``cp -r`` or a checkout gives every file a new inode
  and ctime, and hashing a file costs ~1/30 of parsing and checking it;
* a cache that cannot be read, has another format or schema, or whose index
  does not match its rows is ignored and rebuilt; problems are reported as
  a string, never raised.

Both files are written to temp files and renamed into place, the data file
under a new name first, then the index that points to it, so a reader sees
one whole snapshot or the previous one. They are not fsync'ed: after a crash
a torn cache fails the checks above and is rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from perfslo_tui.atomic import atomic_write, atomic_write_bytes

CACHE_DIR = ".perfslo-cache"
INDEX_FILE = "index.json"
DATA_RE = re.compile(r"^runs-[0-9a-f]{16}\.arrow$")
# Bump when the table's meaning changes (columns, how stats are computed).
CACHE_FORMAT = 4
# Files touched this close to a scan are "racy": a same-size rewrite within
# one timestamp tick would keep their stat key. Ext4 ticks are ~4 ms, FAT's
# 2 s; 2 s covers both, and only the last seconds' files pay for it.
RACY_NS = 2_000_000_000

FileKey = tuple[int, int, int, int]
"""``(mtime_ns, ctime_ns, size, inode)`` of a file."""


def file_key(info: os.stat_result) -> FileKey:
    """The stat key of a file: it changes whenever its content may have."""
    return (info.st_mtime_ns, info.st_ctime_ns, info.st_size, info.st_ino)


def content_digest(data: bytes) -> str:
    """The digest that identifies a file's content (BLAKE2b-128, hex)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def file_digest(path: Path) -> str | None:
    """The content digest of a file, or None when it cannot be read."""
    try:
        # Not a FIFO or a device (a read would hang or never end): read_run reports those.
        return content_digest(path.read_bytes()) if path.is_file() else None
    except OSError:
        return None


def is_racy(key: FileKey, scanned_ns: int) -> bool:
    """True when a file was touched too close to ``scanned_ns`` to trust its key.

    Args:
        key: The file's stat key.
        scanned_ns: Wall-clock time (``time.time_ns()``) taken before the scan.
    """
    return max(key[0], key[1]) >= scanned_ns - RACY_NS


def cache_dir(artifacts_dir: Path) -> Path:
    """The folder holding the cache of an artifacts folder."""
    return artifacts_dir / CACHE_DIR


@dataclass(slots=True)
class Snapshot:
    """The table as cached, with the index that says which rows are current.

    Attributes:
        table: Rows of the run files in ``files``, sorted like the store's.
        files: Per run file name, the stat key it had when read.
        errors: Per failing file name, its stat key and the reason.
        digests: Per file name (in ``files`` or ``errors``), the digest of
            the content that was parsed.
        scanned_ns: When the folder was scanned for this snapshot.
    """

    table: pl.DataFrame
    files: dict[str, FileKey] = field(default_factory=dict)
    errors: dict[str, tuple[FileKey, str]] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)
    scanned_ns: int = 0

    def trusted(self, name: str, key: FileKey) -> bool:
        """True when the cached rows of ``name`` are those of the file with ``key``."""
        return self.files.get(name) == key and not is_racy(key, self.scanned_ns)

    def trusted_error(self, name: str, key: FileKey) -> str | None:
        """The cached reason ``name`` failed, if it is still the same file."""
        entry = self.errors.get(name)
        if entry is None or entry[0] != key or is_racy(key, self.scanned_ns):
            return None
        return entry[1]


def _as_key(value: Any) -> FileKey:
    # Elements are not type-checked (10,000 entries): a key is only ever
    # compared with a real stat key, which garbage never equals.
    if type(value) is not list or len(value) != 4:
        raise ValueError("bad file key")
    return (value[0], value[1], value[2], value[3])


def _as_digest(value: Any) -> str:
    if not (isinstance(value, str) and len(value) == 32):
        raise ValueError("bad digest")
    return value


def _schema_problem(table: pl.DataFrame, schema: Mapping[str, Any]) -> str | None:
    names = list(table.schema)
    if names != list(schema):
        return f"columns {names} are not {list(schema)}"
    for name, dtype in table.schema.items():
        if dtype != schema[name]:
            return f"column {name} is {dtype}, not {schema[name]}"
    return None


def load(artifacts_dir: Path, schema: Mapping[str, Any]) -> tuple[Snapshot | None, str | None]:
    """Read the cache of an artifacts folder.

    Args:
        artifacts_dir: The artifacts folder.
        schema: The table schema the cache must have.

    Returns:
        ``(snapshot, None)``, or ``(None, problem)`` when there is no usable
        cache (``problem`` is None when there is simply none).
    """
    folder = cache_dir(artifacts_dir)
    try:
        if (folder / INDEX_FILE).exists() and not (folder / INDEX_FILE).is_file():
            return None, "index is not a regular file"  # a FIFO would block the read forever
        raw = (folder / INDEX_FILE).read_bytes()
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, f"unreadable index ({exc.strerror or exc})"
    try:
        index = orjson.loads(raw)
        if not isinstance(index, dict) or index.get("format") != CACHE_FORMAT:
            return None, "written by another perfslo version"
        data_name = index["data"]
        if not isinstance(data_name, str) or not DATA_RE.match(data_name):
            raise ValueError("bad data file name")
        files: dict[str, FileKey] = {}
        digests: dict[str, str] = {}
        for name, (key, digest) in index["files"].items():
            files[str(name)] = _as_key(key)
            digests[str(name)] = _as_digest(digest)
        errors: dict[str, tuple[FileKey, str]] = {}
        for name, entry in index["errors"].items():
            if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[1], str)):
                raise ValueError("bad error entry")
            errors[str(name)] = (_as_key(entry[0]), entry[1])
            digests[str(name)] = _as_digest(entry[2])
        scanned_ns = index["scanned_ns"]
        rows = index["rows"]
        if type(scanned_ns) is not int or type(rows) is not int:
            raise ValueError("bad scan time or row count")
    except (KeyError, ValueError, TypeError, AttributeError, orjson.JSONDecodeError) as exc:
        return None, f"bad index ({type(exc).__name__}: {str(exc)[:120]})"
    try:
        # Read through a file object, not a memory map: a map of a file that
        # someone truncates under us would crash the process (SIGBUS).
        if not (folder / data_name).is_file():
            raise OSError("not a regular file")  # a FIFO would block the read forever
        with (folder / data_name).open("rb") as handle:
            table = pl.read_ipc(handle)
    except Exception as exc:  # noqa: BLE001 - any failure to read means "rebuild"
        return None, f"unreadable data ({type(exc).__name__}: {str(exc)[:120]})"
    problem = _schema_problem(table, schema)
    if problem:
        return None, f"wrong schema: {problem}"
    # The index must describe exactly the rows: every row's file is indexed
    # and every indexed file has rows.
    ids = table.get_column("run_id")
    if (
        table.height != rows
        or ids.null_count()
        or ids.n_unique() != len(files)
        or not ids.is_in(list(files)).all()
    ):
        return None, "index does not match the rows"
    return Snapshot(table, files, errors, digests, scanned_ns), None


GITIGNORE = b"# Created by perfslo: a cache of the run files, never the source of truth.\n*\n"


def save(artifacts_dir: Path, snapshot: Snapshot) -> str | None:
    """Write a snapshot atomically; return the problem if it could not be written.

    Never raises for I/O problems: a read-only or full disk only means the
    next start reads the JSON files again.
    """
    folder = cache_dir(artifacts_dir)
    data_name = f"runs-{secrets.token_hex(8)}.arrow"
    index = {
        "format": CACHE_FORMAT,
        "data": data_name,
        "rows": snapshot.table.height,
        "scanned_ns": snapshot.scanned_ns,
        "files": {name: [key, snapshot.digests[name]] for name, key in snapshot.files.items()},
        "errors": {
            name: [key, reason, snapshot.digests[name]] for name, (key, reason) in snapshot.errors.items()
        },
    }
    try:
        folder.mkdir(exist_ok=True)
        ignore = folder / ".gitignore"
        if not ignore.exists():
            # As .pytest_cache does: the cache keeps itself out of git.
            atomic_write_bytes(ignore, GITIGNORE, durable=False)
        try:
            index_path = folder / INDEX_FILE
            previous = orjson.loads(index_path.read_bytes()).get("data") if index_path.is_file() else None
        except (OSError, orjson.JSONDecodeError, AttributeError):
            previous = None
        atomic_write(folder / data_name, lambda handle: snapshot.table.write_ipc(handle), durable=False)
        atomic_write_bytes(folder / INDEX_FILE, orjson.dumps(index), durable=False)
    except Exception as exc:  # noqa: BLE001 - a cache that cannot be written is not an error
        return f"cannot write the cache in {folder}: {exc}"
    # Older data files go; the one the previous index named stays one more
    # round, for a reader that read that index a moment ago.
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if DATA_RE.match(entry.name) and entry.name not in (data_name, previous):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
    return None
