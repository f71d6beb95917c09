"""The suite's databases: a PostgreSQL server (the one TEST_DATABASE_URL names, or a throw-away
one), the database of each test's data folder, and the apps opened on them.

The throw-away cluster runs Debian's binaries (``/usr/lib/postgresql/<version>/bin``) in a
temporary folder, listening on 127.0.0.1 on a free port, with fsync off (its data is thrown
away anyway). The server refuses to run as root, so as root it runs as the unprivileged
``postgres`` user that Debian's package creates. It is stopped and its folder removed at the
end, whatever happened.

``Databases`` makes and drops the suite's databases on either server through one autocommit
connection; their names start with a prefix of this run, so that two runs can share a server.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count
from pathlib import Path

from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
#: Server settings for a cluster whose data does not outlive the run.
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}


# Kept here, not in conftest.py: tests import ``tests.conftest``, a second copy of that module.
#: The PostgreSQL database of each data folder of this run (SQLite keeps its file inside the
#: folder).
DATABASE_URLS: dict[Path, str] = {}
#: The apps made on each data folder, whose engines are disposed when the test ends (a
#: PostgreSQL connection left to the garbage collector warns).
APPS: dict[Path, list[Flask]] = {}


class PostgresUnavailable(RuntimeError):
    """PostgreSQL was asked for and cannot be had; the message says what is missing."""


def pg_bin() -> Path:
    """The newest Debian PostgreSQL binaries folder holding pg_ctl."""
    found = sorted(
        (p for p in Path("/").glob(PG_BIN_GLOB.lstrip("/")) if (p / "pg_ctl").is_file()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not found:
        raise PostgresUnavailable(
            f"no PostgreSQL server binaries in {PG_BIN_GLOB}: install Debian's postgresql "
            "package (scripts/check does), or set TEST_DATABASE_URL to a server of your own"
        )
    return found[-1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(command: list[str], cwd: Path) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise PostgresUnavailable(
            f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )


@contextmanager
def throwaway_cluster() -> Iterator[str]:
    """Start a cluster; yield the URL of its ``postgres`` database; stop it and remove it."""
    bindir = pg_bin()
    folder = Path(tempfile.mkdtemp(prefix="qrservice-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(folder, ignore_errors=True)
            raise PostgresUnavailable(
                "running as root, and PostgreSQL refuses to: no 'postgres' user to run it as "
                "(Debian's postgresql package creates one)"
            ) from None
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    pgdata = folder / "cluster"
    pg_ctl = [*as_user, str(bindir / "pg_ctl"), "-D", str(pgdata)]
    started = False
    try:
        _run(
            [*as_user, str(bindir / "initdb"), "-D", str(pgdata), "-U", "postgres",
             "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync"],
            folder,
        )  # fmt: skip
        for attempt in range(3):  # a free port may be taken between the probe and the start
            port = _free_port()
            options = " ".join(f"-c {k}={v}" for k, v in SETTINGS.items())
            options += f" -c port={port} -c unix_socket_directories={folder}"
            try:
                _run(
                    [*pg_ctl, "-l", str(folder / "server.log"), "-w", "-t", "60",
                     "-o", options, "start"],
                    folder,
                )  # fmt: skip
            except PostgresUnavailable as exc:
                log = folder / "server.log"
                if attempt == 2:
                    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                    raise PostgresUnavailable(f"{exc}\nserver log:\n{tail}") from None
                continue
            started = True
            break
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        if started:
            subprocess.run([*pg_ctl, "-m", "immediate", "-w", "stop"], cwd=folder,
                           capture_output=True, timeout=60)  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


class Databases:
    """The suite's databases on one server, made and dropped through an autocommit connection."""

    def __init__(self, server_url: str) -> None:
        url = make_url(server_url)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        if not url.drivername.startswith("postgresql"):
            raise PostgresUnavailable(f"not a PostgreSQL URL: {url.render_as_string()}")
        self.server = url
        self.prefix = f"qrs_test_{os.getpid()}_"
        self._numbers = count(1)
        self._made: set[str] = set()
        self._admin = create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with self._admin.connect() as conn:
                self.version = int(conn.execute(text("SHOW server_version_num")).scalar())
        except Exception as exc:
            raise PostgresUnavailable(f"cannot connect to {url.render_as_string()}: {exc}") from exc

    def url(self, name: str) -> str:
        return self.server.set(database=name).render_as_string(hide_password=False)

    def create(self, label: str, template: str | None = None) -> str:
        """Create a database named after ``label`` (from ``template`` if given); its name."""
        name = f"{self.prefix}{label}_{next(self._numbers)}"
        sql = f'CREATE DATABASE "{name}"'
        if template is not None:
            sql += f' TEMPLATE "{template}"'
            if self.version >= 150000:
                # Copying the files is 4 times as fast as PostgreSQL 15's default of writing
                # every block to the WAL (42 ms instead of 190 ms for the demo's 11 MB).
                sql += " STRATEGY FILE_COPY"
        with self._admin.connect() as conn:
            conn.execute(text(sql))
        self._made.add(name)
        return name

    def drop(self, name: str) -> None:
        """Drop a database, ending any connection a test left open to it."""
        with self._admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._made.discard(name)

    def close(self) -> None:
        try:
            for name in sorted(self._made):
                self.drop(name)
        finally:
            self._admin.dispose()
