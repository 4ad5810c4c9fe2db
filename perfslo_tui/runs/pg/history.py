"""The shared history: :class:`PgHistory` (writes, reads and live updates on one object)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from psycopg import sql

from perfslo_tui.runs.pg import SharedHistoryError
from perfslo_tui.runs.pg.database import ConnectFailed
from perfslo_tui.runs.pg.reads import Reader, StoredRun
from perfslo_tui.runs.pg.urls import connect_problem, scrub
from perfslo_tui.runs.pg.writes import CHANNEL, Writer

# How far back (in row ids) a catch-up after a reconnect looks for runs that
# committed late: ids are taken at insert, not at commit, so a run can commit
# after a higher id was seen. Covers a batch push of 200 runs from each of
# 25 writers at once.
CATCH_UP_MARGIN = 5_000


@dataclass(frozen=True, slots=True)
class RunEvent:
    """Something arrived in the shared history.

    Attributes:
        run: The new run, or None when a baseline changed.
        baseline_scope: The machine whose baseline changed ('' for none in
            particular), or None for a run.
    """

    run: StoredRun | None
    baseline_scope: str | None = None


def parse_event(payload: str) -> RunEvent | None:
    """A notification's payload as an event; None for a payload this perfslo does not know."""
    try:
        data = orjson.loads(payload)
        if "baseline" in data:
            return RunEvent(None, str(data["baseline"]))
        return RunEvent(
            StoredRun(int(data["id"]), str(data["run_id"]), int(data["ts_ms"]), str(data["machine"]))
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


class PgHistory(Writer, Reader):
    """A connection to the shared history: push, load, listen.

    See :class:`~perfslo_tui.runs.pg.database.Database` for the arguments.
    Not thread-safe: :meth:`listen` opens its own connection, and a thread
    that reads while another listens uses its own ``PgHistory``.
    """

    def __enter__(self) -> PgHistory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def listen(
        self,
        callback: Callable[[RunEvent], None],
        stop: threading.Event,
        on_status: Callable[[str, bool], None] | None = None,
        poll_seconds: float = 0.25,
    ) -> None:
        """Call ``callback`` for every run pushed by anyone (and every baseline change) until ``stop``.

        Blocks: run it in a thread. Start it before the first load: a run
        committed in between then arrives twice at worst, never not at all.
        After a lost connection it says so through ``on_status(text, ok)``,
        reconnects forever (backing off to 2 s), says so again, and first
        delivers the runs committed meanwhile, so a server restart loses
        none. Each run is delivered once.

        Raises:
            SharedHistoryError: When the first connection fails (wrong URL,
                password, no perfslo history there...).
        """
        self.ensure_schema()
        status = on_status or (lambda _text, _ok: None)
        last_id = -1
        delay = 0.2
        first = True
        delivered: dict[int, None] = {}

        def deliver(event: RunEvent) -> None:
            if event.run is not None:
                if event.run.id in delivered:
                    return
                delivered[event.run.id] = None
                if len(delivered) > 4 * CATCH_UP_MARGIN:
                    for old in list(delivered)[: 2 * CATCH_UP_MARGIN]:
                        del delivered[old]
            callback(event)

        while not stop.is_set():
            try:
                conn = self.open_connection(autocommit=True, name="perfslo-listen")
            except ConnectFailed as exc:
                if first:
                    raise SharedHistoryError(connect_problem(exc.error, self.url)) from None
                stop.wait(delay)
                delay = min(delay * 2, 2.0)
                continue
            try:
                with conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                    if first:
                        # What exists when listening starts is the caller's first load, not news.
                        rows = conn.execute(
                            "SELECT id FROM perfslo.runs WHERE id > (SELECT coalesce(max(id), 0)"
                            " FROM perfslo.runs) - %s",
                            (CATCH_UP_MARGIN,),
                        ).fetchall()
                        delivered.update((int(row[0]), None) for row in rows)
                        last_id = max((int(row[0]) for row in rows), default=0)
                        status(f"live: listening to {self.where}", True)
                    else:
                        last_id = self._catch_up(conn, last_id, deliver)
                        status(f"reconnected to {self.where}: live again", True)
                    first = False
                    delay = 0.2
                    while not stop.is_set():
                        for note in conn.notifies(timeout=poll_seconds):
                            event = parse_event(note.payload)
                            if event is None:
                                continue
                            if event.run is not None:
                                last_id = max(last_id, event.run.id)
                            deliver(event)
                            if stop.is_set():
                                break
            except psycopg.Error as exc:
                if first:
                    raise SharedHistoryError(
                        f"{self.where}: cannot listen: {scrub(str(exc), self.url)}"
                    ) from None
                status(f"lost {self.where} ({scrub(str(exc), self.url, keep=60)}): reconnecting…", False)
                stop.wait(delay)
                delay = min(delay * 2, 2.0)

    @staticmethod
    def _catch_up(conn: psycopg.Connection[Any], last_id: int, deliver: Callable[[RunEvent], None]) -> int:
        rows = conn.execute(
            "SELECT id, run_id, ts_ms, machine FROM perfslo.runs WHERE id > %s ORDER BY id",
            (last_id - CATCH_UP_MARGIN,),
        ).fetchall()
        for row_id, run_id, ts_ms, machine in rows:
            deliver(RunEvent(StoredRun(int(row_id), str(run_id), int(ts_ms), str(machine))))
            last_id = max(last_id, int(row_id))
        # A baseline may have changed while away: the view re-reads it.
        deliver(RunEvent(None, ""))
        return last_id
