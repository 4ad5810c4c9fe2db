"""The shared run history in PostgreSQL (docs/shared-history.md).

One database holds the runs and baselines of every machine of a team. It is
used when ``history_url`` is set in the config or ``PERFSLO_DATABASE_URL`` in
the environment; otherwise the artifacts folder is the history, as always.
The driver is an optional extra (``pip install 'perfslo[pg]'``): this
module imports none of it, so the file store never pays for it, and
:func:`open_history` says in one line when it is missing.

- :mod:`.urls`: URLs, credentials and one-line error messages without passwords;
- :mod:`.database`: connections, retries, the versioned schema (``migrations/``);
- :mod:`.writes`: pushing runs and baselines (idempotent: a run's key is its content digest);
- :mod:`.reads`: the run table through Arrow, baselines, machines;
- :mod:`.listen`: LISTEN/NOTIFY with a reconnect that survives a server restart;
- :mod:`.store`: :class:`~.store.PgRunStore`, the loader the views use;
- :mod:`.sync`: ``perfslo push`` / ``perfslo pull``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from perfslo_tui.runs.pg.history import PgHistory

ENV_URL = "PERFSLO_DATABASE_URL"
EXTRA_HINT = "pip install 'perfslo[pg]'"


class SharedHistoryError(Exception):
    """Anything wrong with the shared history, as one line that never holds a password."""


def driver_missing() -> str | None:
    """Why the shared history cannot be used here, or None when its driver is installed."""
    missing = [
        name
        for name, module in (("psycopg", "psycopg"), ("adbc-driver-postgresql", "adbc_driver_postgresql"))
        if importlib.util.find_spec(module) is None
    ]
    if not missing:
        return None
    return (
        f"the shared history (history_url / {ENV_URL}) needs the PostgreSQL driver, which is not "
        f"installed ({', '.join(missing)} missing): {EXTRA_HINT}"
    )


def configured_url(config_url: str | None, environ: Mapping[str, str]) -> str | None:
    """The shared history's URL if one is configured (the environment's wins), else None.

    Nothing is checked here: :func:`open_history` does that.
    """
    return environ.get(ENV_URL) or config_url or None


def open_history(config_url: str | None, environ: Mapping[str, str], **options: Any) -> PgHistory | None:
    """The shared history configured by the config and the environment, or None for the file store.

    Nothing is sent to the server yet: the connection opens on first use.

    Raises:
        SharedHistoryError: The driver is missing, the URL is not a
            PostgreSQL URL, or the config's URL holds a password.
    """
    if configured_url(config_url, environ) is None:
        return None
    problem = driver_missing()
    if problem is not None:
        raise SharedHistoryError(problem)
    from perfslo_tui.runs.pg.history import PgHistory
    from perfslo_tui.runs.pg.urls import resolve_url

    url = resolve_url(config_url, environ)
    assert url is not None  # configured above
    return PgHistory(url, **options)


def push_new_runs(paths: Sequence[Path], config_url: str | None, environ: Mapping[str, str]) -> str | None:
    """Push runs just written locally to the shared history, when one is configured.

    The run file stays the local truth: a failed push loses nothing, and
    the next ``perfslo push`` sends what is missing.

    Returns:
        None without a shared history; else one line to show (what was
        pushed, or why not), never a password.
    """
    if configured_url(config_url, environ) is None or not paths:
        return None
    count = f"{len(paths)} run{'s' if len(paths) != 1 else ''}"
    try:
        history = open_history(config_url, environ)
        assert history is not None
        with history:
            from perfslo_tui.runs.pg.sync import push_files

            history.migrate()
            counts = push_files(paths, history)
    except SharedHistoryError as exc:
        later = "`perfslo push` sends it later"
        return f"warning: {count} written but not pushed to the shared history ({exc}); {later}"
    if counts.rejected:
        name, problem = counts.rejected[0]
        return f"warning: {name} not pushed to the shared history: {problem}"
    return f"pushed {count} to the shared history {history.where}"
