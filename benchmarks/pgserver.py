"""A throwaway PostgreSQL server for the tests and the benchmark.

``initdb`` into a temp folder, start on a free port of 127.0.0.1 (and a unix
socket in the same folder), stop and delete everything afterwards. The
superuser ``postgres`` has a password, so tests can prove what a wrong one
does; TCP connections use scram-sha-256, the unix socket trusts (only the
helper itself uses it). PostgreSQL refuses to run as root: as root every
server command runs as the ``postgres`` user through ``runuser`` and the
folder is handed to that user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SUPERUSER = "postgres"
SUPERUSER_PASSWORD = "s3cret-Pw-for-tests"  # noqa: S105 (a throwaway server's)


def find_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<v>/bin`` with initdb, or ``pg_config --bindir``, or None."""
    found = sorted(
        (Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1]
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PgServer:
    """A running throwaway server.

    Attributes:
        root: The temp folder (data dir, socket dir, log).
        port: The TCP port on 127.0.0.1.
        bin_dir: Where the server binaries are.
        settings: Extra ``-c name=value`` settings it was started with.
    """

    root: Path
    port: int
    bin_dir: Path
    settings: Sequence[str] = field(default_factory=tuple)

    @property
    def data_dir(self) -> Path:
        """The cluster's data folder."""
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        """The folder of the unix socket."""
        return self.root / "sock"

    @property
    def log_file(self) -> Path:
        """The server's log."""
        return self.root / "server.log"

    def url(
        self, user: str = SUPERUSER, password: str | None = SUPERUSER_PASSWORD, dbname: str = "postgres"
    ) -> str:
        """A TCP ``postgresql://`` URL for a user and database."""
        auth = f"{user}:{password}" if password is not None else user
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{dbname}"

    def _as_postgres(self, argv: list[str]) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *argv]
        return argv

    def _options(self) -> str:
        extra = " ".join(f"-c {s}" for s in self.settings)
        return f"-k {self.socket_dir} -c listen_addresses=127.0.0.1 -p {self.port} {extra}".strip()

    def pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``pg_ctl`` on this cluster (``start``, ``stop``, ``restart``...)."""
        argv = [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file), *args]
        if args and args[0] in ("start", "restart"):
            argv += ["-o", self._options()]
        return subprocess.run(
            self._as_postgres(argv), capture_output=True, text=True, check=check, timeout=120
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self.pg_ctl("start", "-w", "-t", "60")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: roll back open transactions, disconnect clients)."""
        self.pg_ctl("stop", "-w", "-m", mode, "-t", "60", check=False)

    def restart(self) -> None:
        """Restart it: every client connection is cut."""
        self.pg_ctl("restart", "-w", "-m", "fast", "-t", "60")

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        """Run SQL as the superuser over the unix socket; return its output."""
        argv = [
            str(self.bin_dir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At",
            "-h", str(self.socket_dir), "-p", str(self.port), "-U", SUPERUSER, "-d", dbname, "-c", sql,
        ]  # fmt: skip
        result = subprocess.run(self._as_postgres(argv), capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}")
        return result.stdout


def init_server(root: Path, settings: Sequence[str] = ()) -> PgServer:
    """Create a cluster in ``root`` (which must exist and be empty) and start it.

    Raises:
        RuntimeError: When no PostgreSQL binaries are installed or initdb fails.
    """
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL server binaries (initdb) found")
    server = PgServer(root=root, port=free_port(), bin_dir=bin_dir, settings=tuple(settings))
    server.socket_dir.mkdir()
    pwfile = root / "pw"
    pwfile.write_text(SUPERUSER_PASSWORD + "\n")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        for path in (server.socket_dir, pwfile):
            shutil.chown(path, "postgres")
    argv = [
        str(bin_dir / "initdb"), "-D", str(server.data_dir), "-U", SUPERUSER, f"--pwfile={pwfile}",
        "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync",
    ]  # fmt: skip
    result = subprocess.run(server._as_postgres(argv), capture_output=True, text=True, timeout=300)
    pwfile.unlink()
    if result.returncode != 0:
        raise RuntimeError(f"initdb failed: {result.stderr.strip()[-500:]}")
    for _attempt in range(5):
        try:
            server.start()
            return server
        except subprocess.CalledProcessError:
            # The port may have been taken between free_port() and the start.
            server.port = free_port()
    log = server.log_file.read_text(errors="replace")[-800:] if server.log_file.exists() else ""
    raise RuntimeError(f"the server did not start: {log}")


@contextlib.contextmanager
def throwaway_server(settings: Sequence[str] = ()) -> Iterator[PgServer]:
    """A started server in a temp folder; stopped and deleted on exit."""
    root = Path(tempfile.mkdtemp(prefix="perfslo-pg-"))
    server: PgServer | None = None
    try:
        server = init_server(root, settings)
        yield server
    finally:
        if server is not None:
            server.stop()
        # Wait for the postmaster to let go of its files before deleting them.
        time.sleep(0.1)
        shutil.rmtree(root, ignore_errors=True)
