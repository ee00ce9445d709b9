"""The ledger: which input files have been processed, with which versions, and where their rows are.

One row per input URI: its content hash (the document id), size and mtime at
the time it was read, the versions key it was processed with, its status
(``record`` or ``dead_letter`` and why), the output shard that holds its row,
the run that processed it, and when. A ``runs`` table is the commit log: a run
is ``running`` until its outcomes are written here in one transaction
(``committed``), then ``done`` once its files are in place. That transaction
is the commit point of a run; see ``commit.py`` for what happens around it.

A SQLite file by default (``OUT/.paperbeam/ledger.sqlite``); PostgreSQL for
shared deployments with ``--ledger postgresql://user@host/db`` (add
``?password_file=/path`` rather than a password in the URL). The SQL is the
same for both; only the placeholder differs.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
import urllib.parse
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

from paperbeam.errors import ConfigError, MissingDependency
from paperbeam.nightly.lock import AdvisoryLock, FileLock

LEDGER_FORMAT = "1"

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS paperbeam_meta (key TEXT PRIMARY KEY, value TEXT)""",
    """CREATE TABLE IF NOT EXISTS paperbeam_documents (
        uri TEXT PRIMARY KEY,
        doc_id TEXT,
        size BIGINT,
        mtime DOUBLE PRECISION,
        versions_key TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT,
        output_file TEXT,
        run_id TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        processed_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS paperbeam_versions (key TEXT PRIMARY KEY, versions TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS paperbeam_runs (
        run_id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        output TEXT NOT NULL,
        staging TEXT,
        versions_key TEXT,
        started TEXT NOT NULL,
        finished TEXT,
        counts TEXT)""",
    """CREATE TABLE IF NOT EXISTS paperbeam_cleanups (output_file TEXT NOT NULL, uri TEXT NOT NULL, run_id TEXT NOT NULL)""",
]

STATUS_RECORD = "record"
STATUS_DEAD = "dead_letter"


@dataclass(frozen=True)
class Entry:
    """One input's outcome, as the ledger keeps it."""

    uri: str
    doc_id: Optional[str]
    size: Optional[int]
    mtime: Optional[float]
    versions_key: str
    status: str
    reason: Optional[str]
    output_file: Optional[str]
    run_id: str


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def is_postgres(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://"))


def mask(target: Optional[str]) -> Optional[str]:
    """A ledger target fit for a report: a URL's password replaced by ***."""
    if not target or "://" not in target:
        return target
    parts = urllib.parse.urlsplit(target)
    if parts.password is None:
        return target
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def default_target(output: str) -> str:
    return os.path.join(output, ".paperbeam", "ledger.sqlite")


class Ledger:
    """The SQL both backends share. Use ``open_ledger``."""

    placeholder = "?"

    def __init__(self, target: str, conn):
        self.target = target
        self.conn = conn

    # -- plumbing ---------------------------------------------------------------------------------
    def _sql(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    def _execute(self, sql: str, params: Tuple = ()):
        return self.conn.execute(self._sql(sql), params)

    def _executemany(self, sql: str, rows: Iterable[Tuple]) -> None:
        rows = list(rows)
        if rows:
            cur = self.conn.cursor()
            cur.executemany(self._sql(sql), rows)

    def _create(self) -> None:
        for statement in SCHEMA:
            self._execute(statement)
        self._execute("INSERT INTO paperbeam_meta (key, value) VALUES ('format', ?) ON CONFLICT (key) DO NOTHING", (LEDGER_FORMAT,))
        self.conn.commit()

    def lock(self):
        raise NotImplementedError

    def close(self) -> None:
        self.conn.close()

    # -- what the driver asks -----------------------------------------------------------------------
    def claim_output(self, output: str) -> None:
        """A ledger describes one output; refuse to mix two (the skipped rows would be elsewhere)."""
        row = self._execute("SELECT value FROM paperbeam_meta WHERE key = 'output'").fetchone()
        if row and row[0] != output:
            raise ConfigError(
                f"The ledger {mask(self.target)} belongs to the output {row[0]}, not {output}. "
                "Use one ledger per output directory (--ledger), or the output it was made for."
            )
        if not row:
            self._execute("INSERT INTO paperbeam_meta (key, value) VALUES ('output', ?)", (output,))
            self.conn.commit()

    def known(self) -> Dict[str, Entry]:
        rows = self._execute(
            "SELECT uri, doc_id, size, mtime, versions_key, status, reason, output_file, run_id FROM paperbeam_documents"
        ).fetchall()
        return {r[0]: Entry(*r) for r in rows}

    def versions(self, key: str) -> Optional[dict]:
        row = self._execute("SELECT versions FROM paperbeam_versions WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def begin_run(self, run_id: str, output: str, staging: str, versions_key: str, versions: dict) -> None:
        self._execute(
            "INSERT INTO paperbeam_versions (key, versions) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
            (versions_key, json.dumps(versions, sort_keys=True)),
        )
        self._execute(
            "INSERT INTO paperbeam_runs (run_id, status, output, staging, versions_key, started) VALUES (?, 'running', ?, ?, ?, ?)",
            (run_id, output, staging, versions_key, now()),
        )
        self.conn.commit()

    def runs(self, *statuses: str) -> List[dict]:
        marks = ", ".join("?" for _ in statuses)
        rows = self._execute(
            f"SELECT run_id, status, output, staging, started, finished, counts FROM paperbeam_runs WHERE status IN ({marks}) ORDER BY started",
            tuple(statuses),
        ).fetchall()
        keys = ("run_id", "status", "output", "staging", "started", "finished", "counts")
        return [dict(zip(keys, r)) for r in rows]

    def commit_run(self, run_id: str, entries: List[Entry], superseded: Dict[str, List[str]], counts: dict) -> None:
        """The commit point: every outcome of the run, the rows it supersedes, and the run's status, at once."""
        stamp = now()
        try:
            self._executemany(
                """INSERT INTO paperbeam_documents
                   (uri, doc_id, size, mtime, versions_key, status, reason, output_file, run_id, first_seen, processed_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (uri) DO UPDATE SET doc_id = excluded.doc_id, size = excluded.size, mtime = excluded.mtime,
                     versions_key = excluded.versions_key, status = excluded.status, reason = excluded.reason,
                     output_file = excluded.output_file, run_id = excluded.run_id, processed_at = excluded.processed_at""",
                [(e.uri, e.doc_id, e.size, e.mtime, e.versions_key, e.status, e.reason, e.output_file, e.run_id, stamp, stamp)
                 for e in entries],
            )
            self._executemany(
                "INSERT INTO paperbeam_cleanups (output_file, uri, run_id) VALUES (?, ?, ?)",
                [(f, uri, run_id) for f, uris in superseded.items() for uri in uris],
            )
            self._execute(
                "UPDATE paperbeam_runs SET status = 'committed', counts = ? WHERE run_id = ?",
                (json.dumps(counts, sort_keys=True), run_id),
            )
            self.conn.commit()
        except BaseException:
            self.conn.rollback()
            raise

    def set_run_status(self, run_id: str, status: str) -> None:
        self._execute("UPDATE paperbeam_runs SET status = ?, finished = ? WHERE run_id = ?", (status, now(), run_id))
        self.conn.commit()

    def touch(self, rows: List[Tuple[str, int, float]]) -> None:
        """Files whose mtime moved but whose content did not: remember the new stat so they are not hashed again."""
        self._executemany("UPDATE paperbeam_documents SET size = ?, mtime = ? WHERE uri = ?", [(s, m, u) for u, s, m in rows])
        self.conn.commit()

    def cleanups(self) -> Dict[str, set]:
        out: Dict[str, set] = {}
        for output_file, uri in self._execute("SELECT output_file, uri FROM paperbeam_cleanups").fetchall():
            out.setdefault(output_file, set()).add(uri)
        return out

    def cleanup_done(self, output_file: str) -> None:
        self._execute("DELETE FROM paperbeam_cleanups WHERE output_file = ?", (output_file,))
        self.conn.commit()


class SqliteLedger(Ledger):
    def __init__(self, path: str):
        path = os.path.abspath(path)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            conn = sqlite3.connect(path, timeout=30)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"Cannot open the ledger {path}: {exc}. Choose a writable --ledger path.")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # the ledger is the commit point: it must survive a power cut
        super().__init__(path, conn)
        self._create()

    def lock(self):
        return FileLock(self.target + ".lock")


class PostgresLedger(Ledger):
    placeholder = "%s"

    def __init__(self, target: str):
        try:
            import psycopg
        except ImportError:
            raise MissingDependency("psycopg (for a PostgreSQL ledger)", "pip install 'paperbeam[postgres]'")
        self._conninfo, self._password = _split_password_file(target)
        try:
            conn = psycopg.connect(self._conninfo, password=self._password, connect_timeout=10) if self._password else \
                psycopg.connect(self._conninfo, connect_timeout=10)
        except psycopg.Error as exc:
            raise ConfigError(f"Cannot connect to the ledger {mask(target)}: {str(exc).strip()}. Check --ledger and the server.")
        super().__init__(target, conn)
        self._create()

    def _connect(self):
        import psycopg

        kwargs = {"password": self._password} if self._password else {}
        return psycopg.connect(self._conninfo, connect_timeout=10, **kwargs)

    def lock(self):
        schema = self.conn.execute("SELECT current_schema()").fetchone()[0]
        self.conn.commit()
        key = int.from_bytes(hashlib.sha256(f"paperbeam.ledger:{schema}".encode()).digest()[:8], "big", signed=True)
        return AdvisoryLock(self._connect, key, f"{schema}.paperbeam_documents")


def _split_password_file(target: str) -> Tuple[str, Optional[str]]:
    """``?password_file=PATH`` is ours, not libpq's: read the password and drop the parameter."""
    parts = urllib.parse.urlsplit(target)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    password_files = [v for k, v in query if k == "password_file"]
    rest = [(k, v) for k, v in query if k != "password_file"]
    if not password_files:
        return target, None
    try:
        with open(password_files[0], encoding="utf-8") as fh:
            password = fh.read().strip("\r\n")
    except OSError as exc:
        raise ConfigError(f"Cannot read the ledger's password_file {password_files[0]}: {exc.strerror}.")
    scheme = "postgresql" if parts.scheme in ("postgres", "postgresql") else parts.scheme
    return urllib.parse.urlunsplit(parts._replace(scheme=scheme, query=urllib.parse.urlencode(rest))), password


def open_ledger(target: str) -> Ledger:
    if is_postgres(target):
        return PostgresLedger(target)
    if target.startswith("sqlite:///"):
        target = target[len("sqlite://"):]
    elif "://" in target:
        raise ConfigError(f"--ledger {mask(target)}: give a file path (SQLite) or a postgresql:// URL.")
    return SqliteLedger(target)
