"""URLs, credentials and error messages of the shared history.

A password is never read from a config file (they get committed): it comes
from ``PGPASSWORD``, from ``PERFSLO_DATABASE_URL`` or from ``~/.pgpass``
(``PGPASSFILE``), all read by libpq itself. URLs are shown only as
``postgresql://user@host:port/db``, and every message is scrubbed of the
password, even those libpq writes about a URL it cannot parse.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from perfslo_tui.runs.pg import ENV_URL, SharedHistoryError


def conninfo(url: str) -> dict[str, Any]:
    """The URL's parts (libpq's parser).

    Raises:
        SharedHistoryError: When it is not a PostgreSQL URL libpq can parse.
    """
    if not url.startswith(("postgresql://", "postgres://")):
        raise SharedHistoryError(
            f"the shared history's URL must start with postgresql:// (got {scrub(url, url, keep=40)!r})"
        )
    try:
        return conninfo_to_dict(url)
    except psycopg.Error as exc:
        # libpq quotes the URL it could not parse: never repeat it.
        raise SharedHistoryError(f"not a valid PostgreSQL URL ({scrub(str(exc), url, keep=80)})") from None


def describe_url(url: str) -> str:
    """The URL as it may be shown: ``postgresql://user@host:port/db``, never a password."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.Error:
        return "postgresql://(unparsable URL)"
    user = str(info.get("user") or "")
    host = str(info.get("host") or "localhost")
    if host.startswith("/"):
        host = f"[{host}]"  # a unix socket folder
    port = info.get("port") or "5432"
    db = info.get("dbname") or user or ""
    return f"postgresql://{user + '@' if user else ''}{host}:{port}/{db}"


def check_config_url(url: str) -> None:
    """Refuse a URL from a config file that carries a password.

    Raises:
        SharedHistoryError: When it is not a PostgreSQL URL or holds a password.
    """
    if conninfo(url).get("password"):
        raise SharedHistoryError(
            f"history_url {describe_url(url)} in the config holds a password: remove it and put it in "
            f"PGPASSWORD, {ENV_URL} or ~/.pgpass"
        )


def resolve_url(config_url: str | None, environ: Mapping[str, str]) -> str | None:
    """The history URL to use: ``PERFSLO_DATABASE_URL`` wins over the config's ``history_url``.

    Raises:
        SharedHistoryError: When the chosen URL is not a PostgreSQL URL, or
            the config's holds a password.
    """
    env_url = environ.get(ENV_URL)
    if env_url:
        conninfo(env_url)
        return env_url
    if config_url:
        check_config_url(config_url)
        return config_url
    return None


def _secrets(url: str) -> list[str]:
    found = []
    try:
        password = conninfo_to_dict(url).get("password")
    except psycopg.Error:
        password = None
    if password:
        found.append(str(password))
    # The raw userinfo as written too (a percent-encoded password), and any password= parameter.
    match = re.match(r"^[a-z]+://[^:@/]*:([^@/]*)@", url)
    if match and match.group(1):
        found.append(match.group(1))
    found += [m for m in re.findall(r"password=([^&\s]+)", url) if m]
    return sorted(set(found), key=len, reverse=True)


def scrub(message: str, url: str, keep: int = 200) -> str:
    """One line of ``message`` with every form of the URL's password replaced by ``***``."""
    text = " ".join(message.split())
    for secret in _secrets(url):
        text = text.replace(secret, "***")
    return text if len(text) <= keep else text[: keep - 1] + "…"


def connect_problem(exc: BaseException, url: str) -> str:
    """One line saying why connecting failed, naming the server but never the password."""
    where = describe_url(url)
    text = " ".join(str(exc).split())
    try:
        info: dict[str, Any] = conninfo_to_dict(url)
    except psycopg.Error:
        info = {}
    low = text.lower()
    if "password authentication failed" in low or "no password supplied" in low:
        return (
            f"{where}: authentication failed for user {info.get('user', '?')!r} (wrong password? it comes "
            f"from PGPASSWORD, {ENV_URL} or ~/.pgpass)"
        )
    match = re.search(r'database "([^"]+)" does not exist', text)
    if match:
        return f"{where}: database {match.group(1)!r} does not exist on that server"
    match = re.search(r'role "([^"]+)" does not exist', text)
    if match:
        return f"{where}: user {match.group(1)!r} does not exist on that server"
    if "connection refused" in low or "no such file or directory" in low:
        return f"{where}: server down or not listening there (connection refused)"
    if "timeout expired" in low or "timed out" in low:
        return f"{where}: server unreachable (connection timed out)"
    if "could not translate host name" in low or "name or service not known" in low:
        return f"{where}: unknown host {info.get('host', '?')!r}"
    if "starting up" in low or "shutting down" in low or "in recovery" in low:
        return f"{where}: the server is starting or stopping, try again in a moment"
    if "ssl" in low and ("not support" in low or "certificate" in low or "required" in low):
        return f"{where}: SSL problem: {scrub(text.removeprefix('connection failed: '), url)}"
    return f"{where}: cannot connect: {scrub(text.removeprefix('connection failed: '), url)}"


# Error texts that mean "the connection went away", not "the query or the credentials are wrong".
LOST_CONNECTION = (
    "connection refused",
    "no such file or directory",
    "server closed the connection",
    "terminating connection",
    "consuming input failed",
    "connection is lost",
    "connection is closed",
    "connection is bad",
    "no connection to the server",
    "starting up",
    "shutting down",
    "eof detected",
    "unexpected eof",
    "ssl syscall",
    "broken pipe",
    "connection reset",
    "timeout expired",
)


def is_transient(exc: BaseException) -> bool:
    """A lost or refused connection that a retry may cure (not a bad password or a bad query)."""
    if not isinstance(exc, psycopg.OperationalError):
        return False
    if isinstance(exc, psycopg.errors.AdminShutdown | psycopg.errors.CannotConnectNow):
        return True
    low = str(exc).lower()
    return any(part in low for part in LOST_CONNECTION)
