"""Sink: PostgreSQL. One table per schema, typed columns plus the full record
as JSONB; upsert on the document id, so running again never duplicates.

    --sink 'postgresql://paperbeam@db.internal:5432/accounts?password_env=PGPASSWORD'
    --sink 'postgresql://paperbeam@db/accounts?password_file=/run/secrets/pg&table=invoices&batch_size=1000'
    --dead-letter-sink 'postgresql://paperbeam@db/accounts?password_env=PGPASSWORD&table=paperbeam_dead_letters'

Options: ``table`` (default: the schema's name, e.g. ``invoice``; for dead
letters ``paperbeam_dead_letters``), ``db_schema`` (default ``public``),
``batch_size`` (rows per write, default 500), ``connect_timeout`` (seconds,
default 5), ``sslmode``. The password comes from ``password_env`` /
``password_file``, or libpq's own PGPASSWORD / ~/.pgpass; a password written
into the URI is refused.

The table: ``id`` (primary key), ``source_uri``, ``media_type``,
``page_count``, ``schema_version``, then per schema field a typed column
(date -> ``date``, money/number -> ``numeric``, string -> ``text``) and a
``<field>_confidence real``, then ``record jsonb`` (the whole record),
``run_id``, ``created_at`` and ``updated_at``. It is created on first use, and
migrated: a field added to the schema becomes a new column; a column whose
type no longer matches stops the run with a message (we never drop or
retype a column holding data).

Writes are batched: each worker stages rows with COPY into a temporary table
and merges them with ``INSERT ... ON CONFLICT (id) DO UPDATE``, one
transaction per batch. A Beam retry of a bundle repeats an upsert, which is
harmless. ``precheck()`` connects and creates or migrates the table before
the pipeline starts, so a wrong password or an unreachable host fails in
seconds. Needs the ``postgres`` extra (psycopg 3).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple
from urllib.parse import unquote, urlsplit

import apache_beam as beam
from apache_beam.metrics import Metrics

from paperbeam.connectors.base import typed_value
from paperbeam.connectors.config import ConnectorConfig, Secret, as_int, redact_uri, reject_unknown, secret_from
from paperbeam.errors import ConfigError, MissingDependency
from paperbeam.schema import Schema

OPTIONS = ("table", "db_schema", "batch_size", "connect_timeout", "sslmode", "password_env", "password_file")
SQL_TYPES = {"string": "text", "date": "date", "money": "numeric", "number": "numeric"}
# information_schema.columns.data_type for each SQL type we create
INFO_TYPES = {"text": "text", "date": "date", "numeric": "numeric", "real": "real", "integer": "integer",
              "jsonb": "jsonb", "timestamptz": "timestamp with time zone"}
DEAD_TABLE = "paperbeam_dead_letters"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def _psycopg():
    try:
        import psycopg
    except ImportError:
        raise MissingDependency("psycopg (for the postgresql sink)", "pip install 'paperbeam[postgres]'")
    return psycopg


def _identifier(name: str, what: str) -> str:
    if not _IDENT.match(name):
        raise ConfigError(f"postgresql sink: {what} '{name}' is not a plain SQL name (letters, digits, _; at most 63).")
    return name


@dataclass(repr=False)
class PostgresConfig(ConnectorConfig):
    host: str
    port: int
    dbname: str
    user: Optional[str]
    password: Secret
    table: Optional[str]  # None: the schema's name (records) or DEAD_TABLE (dead letters)
    db_schema: str
    schema: Schema
    batch_size: int = 500
    connect_timeout: int = 5
    sslmode: Optional[str] = None
    run_id: str = ""

    def where(self) -> str:
        return f"postgresql://{self.user + '@' if self.user else ''}{self.host}:{self.port}/{self.dbname}"

    def connect_kwargs(self) -> Dict[str, object]:
        kwargs: Dict[str, object] = {"host": self.host, "port": self.port, "dbname": self.dbname,
                                     "connect_timeout": self.connect_timeout, "application_name": "paperbeam"}
        if self.user:
            kwargs["user"] = self.user
        if self.password:
            kwargs["password"] = self.password.get()
        if self.sslmode:
            kwargs["sslmode"] = self.sslmode
        return kwargs


def parse_config(location: str, options: dict, schema: Schema, run_id: str = "") -> PostgresConfig:
    """The config from ``//user@host:port/db`` and options; secrets never from the URI."""
    reject_unknown(options, OPTIONS, "postgresql sink")
    parts = urlsplit("postgresql:" + location)
    if parts.password is not None:
        raise ConfigError(
            f"postgresql sink: {redact_uri('postgresql:' + location)} has a password in it. Never put a password on "
            "the command line: use ?password_env=VARIABLE or ?password_file=PATH (or PGPASSWORD / ~/.pgpass)."
        )
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname:
        raise ConfigError("postgresql sink: the URI names no database: postgresql://user@host:port/DATABASE.")
    options = dict(options)
    password = secret_from(options, "password", "postgresql sink")
    table = options.get("table")
    cfg = PostgresConfig(
        host=parts.hostname or "localhost", port=parts.port or 5432, dbname=dbname,
        user=unquote(parts.username) if parts.username else None, password=password,
        table=_identifier(table, "table") if table else None,
        db_schema=_identifier(options.get("db_schema", "public"), "db_schema"), schema=schema,
        batch_size=as_int(options.get("batch_size", 500), "batch_size", minimum=1),
        connect_timeout=as_int(options.get("connect_timeout", 5), "connect_timeout", minimum=1),
        sslmode=options.get("sslmode"), run_id=run_id,
    )
    record_columns(cfg.schema)  # field names that are not SQL names, or clash, fail now
    return cfg


def connect(cfg: PostgresConfig, autocommit: bool = False):
    """A connection; a failure is a ConfigError naming the server, never the password."""
    psycopg = _psycopg()
    try:
        return psycopg.connect(autocommit=autocommit, **cfg.connect_kwargs())
    except psycopg.OperationalError as exc:
        message = " ".join(str(exc).split())
        if cfg.password:
            message = message.replace(cfg.password.get(), "***")
        raise ConfigError(f"Cannot connect to {cfg.where()}: {message[:400]}. Check the host, port, database, user and password.")


# ---- table layouts ----

FIXED_RECORD_COLUMNS: List[Tuple[str, str]] = [
    ("id", "text"), ("source_uri", "text"), ("media_type", "text"), ("page_count", "integer"), ("schema_version", "text"),
]
TRAILING_RECORD_COLUMNS: List[Tuple[str, str]] = [("record", "jsonb"), ("run_id", "text")]
DEAD_COLUMNS: List[Tuple[str, str]] = [
    ("key", "text"), ("source_uri", "text"), ("stage", "text"), ("error", "text"), ("message", "text"),
    ("doc_id", "text"), ("page", "integer"), ("schema_version", "text"), ("record", "jsonb"), ("run_id", "text"),
]
TIMESTAMPS = [("created_at", "timestamptz"), ("updated_at", "timestamptz")]


def record_columns(schema: Schema) -> List[Tuple[str, str]]:
    cols = list(FIXED_RECORD_COLUMNS)
    for spec in schema.fields:
        cols.append((_identifier(spec.name, "schema field"), SQL_TYPES[spec.type]))
        cols.append((_identifier(f"{spec.name}_confidence", "schema field"), "real"))
    cols += TRAILING_RECORD_COLUMNS
    names = [c for c, _ in cols] + [c for c, _ in TIMESTAMPS]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise ConfigError(f"postgresql sink: schema field(s) {', '.join(clash)} clash with paperbeam's own columns; rename them.")
    return cols


@dataclass
class TableLayout:
    """A table: its qualified name, columns in order, and its key column."""

    db_schema: str
    table: str
    columns: List[Tuple[str, str]]
    key: str

    def ensure(self, conn) -> List[str]:
        """Create the table if missing, add missing columns; returns the columns added.
        A column of the wrong type is a ConfigError. Serialised by an advisory lock."""
        from psycopg import sql

        qualified = sql.Identifier(self.db_schema, self.table)
        added: List[str] = []
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"paperbeam:{self.db_schema}.{self.table}",))
            defs = [sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in self.columns]
            defs += [sql.SQL("{} timestamptz NOT NULL DEFAULT now()").format(sql.Identifier(c)) for c, _ in TIMESTAMPS]
            defs.append(sql.SQL("PRIMARY KEY ({})").format(sql.Identifier(self.key)))
            cur.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(qualified, sql.SQL(", ").join(defs)))
            cur.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
                (self.db_schema, self.table),
            )
            existing = dict(cur.fetchall())
            for column, sql_type in self.columns + TIMESTAMPS:
                if column not in existing:
                    default = sql.SQL(" NOT NULL DEFAULT now()") if sql_type == "timestamptz" else sql.SQL("")
                    cur.execute(sql.SQL("ALTER TABLE {} ADD COLUMN {} {}{}").format(
                        qualified, sql.Identifier(column), sql.SQL(sql_type), default))
                    added.append(column)
                elif existing[column] != INFO_TYPES[sql_type]:
                    raise ConfigError(
                        f"postgresql sink: column {self.table}.{column} is {existing[column]}, but paperbeam writes "
                        f"{sql_type} there. Rename or convert the column, or write to another table (?table=...)."
                    )
        return added

    def upsert_sql(self):
        """COPY into a per-connection temp table, then one merging INSERT."""
        from psycopg import sql

        names = [c for c, _ in self.columns]
        stage = sql.Identifier(f"_paperbeam_stage_{self.table}")
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in names)
        updates = sql.SQL(", ").join(
            sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c), sql.Identifier(c)) for c in names if c != self.key
        )
        create = sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} ({}) ON COMMIT DELETE ROWS").format(
            stage, sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in self.columns))
        copy = sql.SQL("COPY {} ({}) FROM STDIN").format(stage, cols)
        merge = sql.SQL(
            "INSERT INTO {} ({cols}) SELECT DISTINCT ON ({key}) {cols} FROM {} ORDER BY {key} "
            "ON CONFLICT ({key}) DO UPDATE SET {updates}, updated_at = now()"
        ).format(sql.Identifier(self.db_schema, self.table), stage, cols=cols, key=sql.Identifier(self.key), updates=updates)
        return create, copy, merge


def records_layout(cfg: PostgresConfig) -> TableLayout:
    return TableLayout(cfg.db_schema, cfg.table or _identifier(cfg.schema.name, "schema name"), record_columns(cfg.schema), "id")


def dead_letters_layout(cfg: PostgresConfig) -> TableLayout:
    return TableLayout(cfg.db_schema, cfg.table or DEAD_TABLE, list(DEAD_COLUMNS), "key")


def _no_nul(value):
    """PostgreSQL text and jsonb cannot hold NUL, which a damaged text layer can contain."""
    return value.replace("\x00", "") if isinstance(value, str) else value


def _strip_nul(obj):
    if isinstance(obj, str):
        return obj.replace("\x00", "")
    if isinstance(obj, dict):
        return {_strip_nul(k): _strip_nul(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_strip_nul(v) for v in obj]
    return obj


def _json(text: str) -> str:
    """JSON for a jsonb column: jsonb refuses \\u0000, so NULs are dropped (rare: re-encode only then)."""
    if "\\u0000" not in text:
        return text
    return json.dumps(_strip_nul(json.loads(text)), ensure_ascii=False, sort_keys=True)


def record_row(record, cfg: PostgresConfig) -> tuple:
    values = [record.id, _no_nul(record.source_uri), record.media_type, record.page_count, record.schema_version]
    for spec in cfg.schema.fields:
        f = record.fields.get(spec.name)
        values.append(_no_nul(typed_value(spec.type, f)))
        values.append(None if f is None else float(f.confidence))
    values += [_json(record.to_json()), cfg.run_id or None]
    return tuple(values)


def dead_letter_key(letter) -> str:
    basis = "\0".join(str(v) for v in (letter.source_uri, letter.doc_id, letter.stage, letter.page))
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()


def dead_letter_row(letter, cfg: PostgresConfig) -> tuple:
    return tuple(_no_nul(v) for v in (
        dead_letter_key(letter), letter.source_uri, letter.stage, letter.error, letter.message, letter.doc_id,
        letter.page, letter.schema_version, _json(letter.to_json()), cfg.run_id or None))


class TableWriter:
    """Batched upserts into one table over one connection (plain code: the DoFn wraps it)."""

    def __init__(self, cfg: PostgresConfig, layout: TableLayout):
        self.cfg, self.layout = cfg, layout
        self.conn = connect(cfg)
        layout.ensure(self.conn)
        self.create, self.copy, self.merge = layout.upsert_sql()
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(self.create)
        self.rows: List[tuple] = []

    def add(self, row: tuple) -> int:
        self.rows.append(row)
        return self.flush() if len(self.rows) >= self.cfg.batch_size else 0

    def flush(self) -> int:
        if not self.rows:
            return 0
        rows, self.rows = self.rows, []
        with self.conn.transaction(), self.conn.cursor() as cur:
            with cur.copy(self.copy) as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute(self.merge)
        return len(rows)

    def close(self) -> None:
        try:
            self.conn.close()
        finally:
            self.rows = []


class _UpsertFn(beam.DoFn):
    def __init__(self, cfg: PostgresConfig, kind: str):
        self.cfg, self.kind = cfg, kind
        self.written = Metrics.counter("paperbeam", f"postgres_{kind}_rows")
        self.writer = None

    def setup(self):
        layout = records_layout(self.cfg) if self.kind == "records" else dead_letters_layout(self.cfg)
        self.writer = TableWriter(self.cfg, layout)

    def process(self, element):
        row = record_row(element, self.cfg) if self.kind == "records" else dead_letter_row(element, self.cfg)
        self.written.inc(self.writer.add(row))

    def finish_bundle(self):
        self.written.inc(self.writer.flush())

    def teardown(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class _Upsert(beam.PTransform):
    def __init__(self, cfg: PostgresConfig, kind: str):
        super().__init__()
        self.cfg, self.kind = cfg, kind

    def expand(self, pcoll):
        return pcoll | "Upsert" >> beam.ParDo(_UpsertFn(self.cfg, self.kind))


class PostgresSink:
    name = "postgresql"

    def __init__(self, config: PostgresConfig):
        self.config = config

    @classmethod
    def from_uri(cls, location: str, options: dict, run) -> "PostgresSink":
        _psycopg()
        return cls(parse_config(location, options, run.schema, getattr(run, "run_id", "")))

    def precheck(self) -> None:
        """Connect (a wrong password or host fails here, in seconds) and create or migrate the table."""
        conn = connect(self.config)
        try:
            records_layout(self.config).ensure(conn)
        finally:
            conn.close()

    def precheck_dead_letters(self) -> None:
        """The same, for the dead-letter table (when this sink is the --dead-letter-sink)."""
        conn = connect(self.config)
        try:
            dead_letters_layout(self.config).ensure(conn)
        finally:
            conn.close()

    def records(self):
        return _Upsert(self.config, "records")

    def dead_letters(self):
        return _Upsert(self.config, "dead_letters")

    def __repr__(self) -> str:
        return f"PostgresSink({self.config!r})"
