"""A throwaway PostgreSQL cluster for tests and benchmarks.

`throwaway_postgres()` runs `initdb` and `pg_ctl` from the installed server binaries (on PATH
or under /usr/lib/postgresql/*/bin) in a temporary directory, listening only on a unix socket
in that directory, as the `postgres` system user when the caller is root (PostgreSQL refuses
to run as root). It yields a libpq URL and removes the cluster on exit, also after errors,
and a watchdog process removes it if the caller is killed first.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from ..integrations._processes import read_log, watchdog

__all__ = ["ServerBinariesNotFound", "database_url", "find_server_binaries", "throwaway_postgres"]

#: Settings for a disposable cluster: nothing needs to survive a crash, so skip the fsyncs.
FAST_SETTINGS: Mapping[str, str] = {
    "fsync": "off",
    "full_page_writes": "off",
    "synchronous_commit": "off",
    "max_connections": "200",
}

_PORT = 5432  # Only names the socket file; the directory is private to the cluster.


class ServerBinariesNotFound(RuntimeError):
    """No `initdb`/`pg_ctl` pair was found on PATH or under /usr/lib/postgresql/*/bin."""


def find_server_binaries() -> Path | None:
    """Return the directory holding `initdb` and `pg_ctl`, newest version first, or None."""
    on_path = shutil.which("pg_ctl")
    candidates = [Path(on_path).resolve().parent] if on_path else []
    installed = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(installed, key=_major_version, reverse=True)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    return None


def _major_version(bindir: Path) -> int:
    name = bindir.parent.name
    return int(name) if name.isdigit() else 0


@contextmanager
def throwaway_postgres(
    settings: Mapping[str, str] = FAST_SETTINGS, *, bindir: Path | None = None
) -> Iterator[str]:
    """Start a private cluster and yield its URL, `postgresql://postgres@/postgres?host=...`.

    `settings` become `-c name=value` server options. Raises `ServerBinariesNotFound` when
    no server binaries are installed and `subprocess.CalledProcessError` (with the server
    log in the message) when the cluster cannot start.
    """
    bindir = bindir or find_server_binaries()
    if bindir is None:
        msg = (
            "no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin"
        )
        raise ServerBinariesNotFound(msg)
    run_as = _run_as_prefix()
    tmp = Path(tempfile.mkdtemp(prefix="jobledger-pg-"))
    stop = [*run_as, str(bindir / "pg_ctl"), "-D", str(tmp / "data"), "-m", "immediate", "stop"]
    try:
        with watchdog(tmp, stop=stop):
            yield from _serve(tmp, bindir, settings, run_as=run_as, stop=stop)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _serve(
    tmp: Path, bindir: Path, settings: Mapping[str, str], *, run_as: list[str], stop: list[str]
) -> Iterator[str]:
    """Create and start a cluster in `tmp`, yield its URL, then `stop` it."""
    data, log = tmp / "data", tmp / "server.log"
    if run_as:
        user = pwd.getpwnam("postgres")
        os.chown(tmp, user.pw_uid, user.pw_gid)
    initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]
    _run([*run_as, *initdb, "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"])
    options = [f"-k {tmp}", "-c listen_addresses=''", f"-p {_PORT}"]
    options += [f"-c {name}={value}" for name, value in settings.items()]
    start = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60"]
    try:
        _run([*run_as, *start, "-o", " ".join(options), "start"])
    except subprocess.CalledProcessError as error:
        error.stderr = (error.stderr or "") + read_log(log)
        raise
    try:
        yield f"postgresql://postgres@/postgres?host={quote(str(tmp), safe='')}&port={_PORT}"
    finally:
        _run(stop)


def database_url(url: str, dbname: str) -> str:
    """Return the libpq URI `url` pointing at database `dbname` instead."""
    parts = urlsplit(url)
    query = [(key, value) for key, value in parse_qsl(parts.query) if key != "dbname"]
    path = "/" + quote(dbname, safe="")
    return urlunsplit(parts._replace(path=path, query=urlencode(query)))


def _run_as_prefix() -> list[str]:
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        msg = "running as root, but there is no 'postgres' system user to run the server as"
        raise ServerBinariesNotFound(msg) from None
    return ["runuser", "-u", "postgres", "--"]


def _run(command: list[str]) -> None:
    subprocess.run(command, check=True, capture_output=True, text=True, cwd="/")
