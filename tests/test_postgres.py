"""The PostgreSQL sink against a real server (no mocks).

The server: $PAPERBEAM_TEST_PG_DSN (a paperbeam sink URI, as printed by
scripts/postgres.sh, which CI runs first); when unset, this module runs
scripts/postgres.sh itself, and fails (never skips) if it cannot start one.
Each test writes to its own table, dropped afterwards.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from paperbeam import plugins
from paperbeam.connectors.config import ConnectorSpec
from paperbeam.errors import ConfigError
from paperbeam.testing.contract import SinkContract, run_config, run_pipeline, sample_dead_letters, sample_records

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def pg_uri() -> str:
    uri = os.environ.get("PAPERBEAM_TEST_PG_DSN")
    if uri:
        return uri
    try:
        proc = subprocess.run([str(REPO / "scripts" / "postgres.sh")], capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"PAPERBEAM_TEST_PG_DSN is unset and scripts/postgres.sh could not run: {exc}")
    if proc.returncode != 0 or not proc.stdout.strip():
        pytest.fail(f"PAPERBEAM_TEST_PG_DSN is unset and scripts/postgres.sh failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    uri = proc.stdout.strip().splitlines()[-1]
    os.environ["PAPERBEAM_TEST_PG_DSN"] = uri  # subprocesses (the CLI tests) see it too
    return uri


def _with(uri: str, **params) -> str:
    extra = "&".join(f"{k}={v}" for k, v in params.items())
    return f"{uri}{'&' if '?' in uri else '?'}{extra}" if extra else uri


@pytest.fixture
def table(pg_uri):
    name = f"t_{uuid.uuid4().hex[:10]}"
    yield name
    _sql(pg_uri, f"DROP TABLE IF EXISTS {name}")


def _sink(uri, tmp_path, schema=None):
    run = run_config(tmp_path)
    if schema is not None:
        run = run.with_(schema=schema)
    return plugins.build("sinks", ConnectorSpec(uri), run)


def _sql(pg_uri, query, params=()):
    from paperbeam.connectors.postgres import connect, parse_config
    from paperbeam.connectors.config import options_of
    from paperbeam.schema import INVOICE

    _, location, options = options_of(ConnectorSpec(pg_uri))
    conn = connect(parse_config(location, options, INVOICE), autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def _write(sink, records):
    import apache_beam as beam

    run_pipeline(lambda p: p | beam.Create(records) | sink.records())


class TestPostgresContract(SinkContract):
    name = "postgresql"

    @pytest.fixture(autouse=True)
    def _server(self, pg_uri, table):
        self.uri, self.table = pg_uri, table
        yield
        _sql(pg_uri, f"DROP TABLE IF EXISTS {table}_dl")

    def make_uri(self, tmp_path):
        return _with(self.uri, table=self.table)

    def read_back(self, sink):
        return [r[0] for r in _sql(self.uri, f"SELECT id FROM {self.table}")]

    def test_dead_letters(self, tmp_path):
        import apache_beam as beam

        sink = _sink(_with(self.uri, table=f"{self.table}_dl"), tmp_path)
        sink.precheck_dead_letters()
        for _ in range(2):  # twice: a rerun does not duplicate dead letters either
            run_pipeline(lambda p: p | beam.Create(sample_dead_letters()) | sink.dead_letters())
        rows = _sql(self.uri, f"SELECT source_uri, stage, page FROM {self.table}_dl ORDER BY source_uri")
        assert rows == [("/in/big.tif", "read", 3), ("/in/broken.pdf", "split", None)]


def test_typed_columns_and_the_full_record_as_jsonb(pg_uri, table, tmp_path):
    sink = _sink(_with(pg_uri, table=table), tmp_path)
    sink.precheck()
    records = sample_records(2)
    _write(sink, records)
    types = dict(_sql(pg_uri, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s", (table,)))
    assert types["document_date"] == "date" and types["total_amount"] == "numeric"
    assert types["record"] == "jsonb" and types["vendor_name"] == "text" and types["total_amount_confidence"] == "real"
    rows = _sql(pg_uri, f"SELECT document_date, total_amount, due_date, record->'metadata'->>'sender', "
                        f"record->'fields'->'total_amount'->>'value' FROM {table} WHERE id = %s", (records[0].id,))
    import datetime
    from decimal import Decimal

    assert rows == [(datetime.date(2018, 10, 19), Decimal("1234.50"), None, "a@example.com", "1,234.50")]
    # SQL over the typed columns works as a user expects
    assert _sql(pg_uri, f"SELECT sum(total_amount) FROM {table} WHERE document_date < '2019-01-01'")[0][0] == Decimal("2469.01")


def test_upsert_updates_a_changed_record_in_place(pg_uri, table, tmp_path):
    sink = _sink(_with(pg_uri, table=table), tmp_path)
    sink.precheck()
    record = sample_records(1)[0]
    _write(sink, [record])
    record.fields["total_amount"].normalized = "99.95"
    _write(sink, [record])
    rows = _sql(pg_uri, f"SELECT total_amount, updated_at >= created_at FROM {table}")
    assert [(str(r[0]), r[1]) for r in rows] == [("99.95", True)]


def test_batches_of_any_size_write_every_row(pg_uri, table, tmp_path):
    import hashlib

    records = []
    for i, r in enumerate(sample_records(1) * 7):
        r = r.__class__(**{**r.__dict__, "id": hashlib.sha256(f"b{i}".encode()).hexdigest()})
        records.append(r)
    sink = _sink(_with(pg_uri, table=table, batch_size=3), tmp_path)
    sink.precheck()
    _write(sink, records + records[:2])  # duplicates inside one run are merged, not doubled
    assert _sql(pg_uri, f"SELECT count(*) FROM {table}")[0][0] == 7


def test_a_new_schema_field_is_migrated_into_a_new_column(pg_uri, table, tmp_path):
    from paperbeam.schema import INVOICE, FieldSpec, Schema

    _sink(_with(pg_uri, table=table), tmp_path).precheck()
    wider = Schema(name="invoice", fields=INVOICE.fields + (FieldSpec("po_number", "string"), FieldSpec("paid_on", "date")))
    sink = _sink(_with(pg_uri, table=table), tmp_path, schema=wider)
    sink.precheck()
    types = dict(_sql(pg_uri, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s", (table,)))
    assert types["po_number"] == "text" and types["paid_on"] == "date" and types["po_number_confidence"] == "real"
    _write(sink, sample_records(1))
    assert _sql(pg_uri, f"SELECT count(*), count(po_number) FROM {table}")[0] == (1, 0)


def test_a_column_of_the_wrong_type_stops_the_run_before_it_starts(pg_uri, table, tmp_path):
    _sql(pg_uri, f"CREATE TABLE {table} (id text PRIMARY KEY, total_amount text)")
    with pytest.raises(ConfigError, match=r"total_amount is text, but paperbeam writes numeric"):
        _sink(_with(pg_uri, table=table), tmp_path).precheck()


def test_a_wrong_password_fails_at_precheck_without_showing_it(pg_uri, tmp_path, monkeypatch):
    monkeypatch.setenv("PB_TEST_WRONG_PASSWORD", "not-the-password-42")
    base = pg_uri.split("?")[0]
    sink = _sink(f"{base}?password_env=PB_TEST_WRONG_PASSWORD", tmp_path)
    assert "not-the-password-42" not in repr(sink) and "not-the-password-42" not in str(sink.config.to_report())
    with pytest.raises(ConfigError, match="Cannot connect") as err:
        sink.precheck()
    assert "not-the-password-42" not in str(err.value)
    assert "password authentication failed" in str(err.value)


def test_an_unreachable_server_fails_at_precheck(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = _sink(f"postgresql://nobody@127.0.0.1:{port}/db?connect_timeout=2", tmp_path)
    with pytest.raises(ConfigError, match="Cannot connect to postgresql://nobody@127.0.0.1"):
        sink.precheck()


def test_secrets_never_come_from_the_uri(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="Never put a password on the command line"):
        _sink("postgresql://app:hunter2@db/acct", tmp_path)
    with pytest.raises(ConfigError, match="password_env=VARIABLE"):
        _sink("postgresql://app@db/acct?password=hunter2", tmp_path)
    with pytest.raises(ConfigError, match="PB_UNSET_VARIABLE, which is not set"):
        _sink("postgresql://app@db/acct?password_env=PB_UNSET_VARIABLE", tmp_path)
    secret = tmp_path / "pw"
    secret.write_text("s3cret-from-file\n")
    sink = _sink(f"postgresql://app@db/acct?password_file={secret}", tmp_path)
    assert sink.config.password.get() == "s3cret-from-file"
    assert "s3cret" not in repr(sink) and "***" in repr(sink)


def test_run_twice_through_the_cli_never_duplicates(pg_uri, table, tmp_path):
    """The whole job, twice, into one table and a dead-letter table: same rows after the rerun."""
    import shutil

    from paperbeam import cli
    from paperbeam.errors import ExitCode

    docs = tmp_path / "in"
    docs.mkdir()
    for name in ("invoice-000001.pdf", "invoice-000002.pdf"):
        shutil.copy(REPO / "paperbeam" / "samples" / "documents" / name, docs / name)
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    dead = f"{table}_dead"
    try:
        for _ in range(2):
            code = cli.main(["run", "--input", str(docs), "--output", str(tmp_path / "out"), "--workers", "1",
                             "--sink", _with(pg_uri, table=table), "--dead-letter-sink", _with(pg_uri, table=dead)])
            assert code == int(ExitCode.OK_WITH_DEAD_LETTERS)  # broken.pdf
            assert _sql(pg_uri, f"SELECT count(*), count(DISTINCT id) FROM {table}")[0] == (2, 2)
            assert _sql(pg_uri, f"SELECT count(*) FROM {dead}")[0][0] == 1
    finally:
        _sql(pg_uri, f"DROP TABLE IF EXISTS {dead}")


def test_nul_characters_from_a_damaged_text_layer_do_not_break_the_batch(pg_uri, table, tmp_path):
    sink = _sink(_with(pg_uri, table=table), tmp_path)
    sink.precheck()
    record = sample_records(1)[0]
    record.fields["vendor_name"].value = "ACME\x00 GmbH \\u0000"
    record.fields["vendor_name"].normalized = "ACME\x00 GmbH"
    _write(sink, [record])
    assert _sql(pg_uri, f"SELECT vendor_name, record->'fields'->'vendor_name'->>'value' FROM {table}") == [
        ("ACME GmbH", "ACME GmbH \\u0000")]
