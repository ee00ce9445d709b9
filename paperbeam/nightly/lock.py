"""One run at a time per ledger.

A SQLite ledger is guarded by an OS file lock (``flock``) on ``<ledger>.lock``;
a PostgreSQL ledger by a session advisory lock. Both are released by the
operating system or the server when the process dies, even by SIGKILL, so a
killed run never leaves a stale lock behind. A second run does not wait: it
fails at once with ``AlreadyRunning`` (exit code 4), naming the holder.
"""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Optional

from paperbeam.errors import AlreadyRunning, ConfigError


def _holder(run_id: str) -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(), "run_id": run_id,
            "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


class FileLock:
    """``flock`` on a file beside the ledger; the file also says who holds it."""

    def __init__(self, path: str, what: str = "this ledger"):
        self.path = path
        self.what = what
        self._fd: Optional[int] = None

    def acquire(self, run_id: str) -> "FileLock":
        import fcntl

        try:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ConfigError(f"Cannot create the lock file {self.path}: {exc.strerror}. Check --ledger.")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise AlreadyRunning(
                f"Another paperbeam run is using {self.what} ({describe(holder)}; lock {self.path}). "
                "This run did nothing. Wait for it to finish, or schedule runs further apart."
            )
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(_holder(run_id)).encode("utf-8"), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def _read_holder(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "{}")
    except (OSError, ValueError):
        return {}


def describe(holder: dict) -> str:
    if not holder:
        return "holder unknown"
    return f"run {holder.get('run_id')}, pid {holder.get('pid')} on {holder.get('host')}, since {holder.get('since')}"


class AdvisoryLock:
    """``pg_try_advisory_lock`` on a connection held open for the whole run."""

    def __init__(self, connect, key: int, describe_table: str):
        self._connect = connect
        self.key = key
        self.table = describe_table
        self._conn = None

    def acquire(self, run_id: str) -> "AdvisoryLock":
        conn = self._connect()
        conn.autocommit = True
        got = conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()[0]
        if not got:
            row = conn.execute("SELECT value FROM paperbeam_meta WHERE key = 'holder'").fetchone()
            conn.close()
            holder = json.loads(row[0]) if row and row[0] else {}
            raise AlreadyRunning(
                f"Another paperbeam run is using this ledger ({describe(holder)}; PostgreSQL advisory lock {self.key} "
                f"on {self.table}). This run did nothing. Wait for it to finish, or schedule runs further apart."
            )
        conn.execute(
            "INSERT INTO paperbeam_meta (key, value) VALUES ('holder', %s) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            (json.dumps(_holder(run_id)),),
        )
        self._conn = conn
        return self

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
            finally:
                self._conn.close()  # the server releases the lock with the session anyway
                self._conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
