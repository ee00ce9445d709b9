"""The file sinks (JSON Lines, CSV, Parquet) against the plugin contract, and
what each writes: CSV's columns, Parquet's typed nested schema."""

from __future__ import annotations

import csv
import glob
import json
import os

import pytest

from paperbeam import plugins
from paperbeam.connectors.config import ConnectorSpec
from paperbeam.errors import ConfigError
from paperbeam.testing.contract import SinkContract, run_config, run_pipeline, sample_dead_letters, sample_records


def _lines(pattern):
    out = []
    for path in sorted(glob.glob(pattern)):
        with open(path, encoding="utf-8") as fh:
            out += [json.loads(line) for line in fh if line.strip()]
    return out


class TestJsonLines(SinkContract):
    name = "jsonl"

    def make_uri(self, tmp_path):
        return f"jsonl:{tmp_path / 'j'}"

    def read_back(self, sink):
        return [r["id"] for r in _lines(os.path.join(sink.output, "records-*.jsonl"))]

    def read_back_dead_letters(self, sink):
        return [d["source_uri"] for d in _lines(os.path.join(sink.output, "dead_letters-*.jsonl"))]


def _csv_rows(pattern):
    rows = []
    for path in sorted(glob.glob(pattern)):
        with open(path, encoding="utf-8", newline="") as fh:
            rows += list(csv.DictReader(fh))
    return rows


class TestCsv(SinkContract):
    name = "csv"

    def make_uri(self, tmp_path):
        return f"csv:{tmp_path / 'c'}"

    def read_back(self, sink):
        return [r["id"] for r in _csv_rows(os.path.join(sink.config.output, "records-*.csv"))]

    def read_back_dead_letters(self, sink):
        return [r["source_uri"] for r in _csv_rows(os.path.join(sink.config.output, "dead_letters-*.csv"))]


def _parquet(pattern):
    import pyarrow.parquet as pq

    rows = []
    for path in sorted(glob.glob(pattern)):
        rows += pq.read_table(path).to_pylist()
    return rows


class TestParquet(SinkContract):
    name = "parquet"

    def make_uri(self, tmp_path):
        return f"parquet:{tmp_path / 'p'}"

    def read_back(self, sink):
        return [r["id"] for r in _parquet(os.path.join(sink.config.output, "records-*.parquet"))]

    def read_back_dead_letters(self, sink):
        return [r["source_uri"] for r in _parquet(os.path.join(sink.config.output, "dead_letters-*.parquet"))]


def _write(uri, tmp_path, records):
    import apache_beam as beam

    sink = plugins.build("sinks", ConnectorSpec(uri), run_config(tmp_path))
    sink.precheck()
    run_pipeline(lambda p: p | beam.Create(records) | sink.records())
    return sink


def test_csv_has_a_column_per_field_and_a_confidence_column(tmp_path):
    records = sample_records(2)
    sink = _write(f"csv:{tmp_path}", tmp_path, records)
    rows = {r["id"]: r for r in _csv_rows(os.path.join(sink.config.output, "records-*.csv"))}
    row = rows[records[0].id]
    assert row["total_amount"] == "1234.50" and row["total_amount_confidence"] == "0.88"
    assert row["document_date"] == "2018-10-19"
    assert row["vendor_name"] == 'ACME "Sûpplies" 0'  # quotes and accents survive
    assert row["due_date"] == "" and row["due_date_confidence"] == ""  # a field not found is empty
    assert json.loads(row["metadata"])["sender"] == "a@example.com"


def test_csv_raw_values_and_formula_cells_are_defused(tmp_path):
    record = sample_records(1)[0]
    record.fields["vendor_name"].value = "=HYPERLINK(\"http://x\")"
    record.fields["vendor_name"].normalized = record.fields["vendor_name"].value
    sink = _write(f"csv:{tmp_path}?value=raw", tmp_path, [record])
    row = _csv_rows(os.path.join(sink.config.output, "records-*.csv"))[0]
    assert row["total_amount"] == "1,234.50"  # as printed
    assert row["vendor_name"].startswith("'=")


def test_csv_rejects_a_bad_value_option(tmp_path):
    with pytest.raises(ConfigError, match="normalized or raw"):
        plugins.build("sinks", ConnectorSpec(f"csv:{tmp_path}?value=both"), run_config(tmp_path))


def test_parquet_schema_is_typed_and_nested(tmp_path):
    import datetime
    from decimal import Decimal

    import pyarrow as pa

    from paperbeam.connectors.parquet import arrow_schema
    from paperbeam.schema import INVOICE

    schema = arrow_schema(INVOICE)
    fields = schema.field("fields").type
    assert fields.field("document_date").type.field("normalized").type == pa.date32()
    assert pa.types.is_decimal(fields.field("total_amount").type.field("normalized").type)
    assert pa.types.is_list(schema.field("pages").type)

    records = sample_records(2)
    sink = _write(f"parquet:{tmp_path}", tmp_path, records)
    rows = {r["id"]: r for r in _parquet(os.path.join(sink.config.output, "records-*.parquet"))}
    row = rows[records[1].id]
    assert row["fields"]["total_amount"]["normalized"] == Decimal("1234.51")
    assert row["fields"]["document_date"]["normalized"] == datetime.date(2018, 10, 19)
    assert row["fields"]["due_date"] is None
    assert row["pages"][0]["source"] == "text_layer" and row["pages"][0]["word_count"] == 1
    assert dict(rows[records[0].id]["metadata"])["subject"] == "Invoice 0"


def test_unparseable_normalised_values_become_nulls_not_failures(tmp_path):
    record = sample_records(1)[0]
    record.fields["total_amount"].normalized = "about a thousand"
    record.fields["document_date"].normalized = "yesterday"
    sink = _write(f"parquet:{tmp_path}", tmp_path, [record])
    row = _parquet(os.path.join(sink.config.output, "records-*.parquet"))[0]
    assert row["fields"]["total_amount"]["normalized"] is None
    assert row["fields"]["total_amount"]["value"] == "1,234.50"


def test_a_rerun_into_the_same_folder_replaces_the_shards(tmp_path):
    records = sample_records(3)
    _write(f"csv:{tmp_path}", tmp_path, records)
    sink = _write(f"csv:{tmp_path}", tmp_path, records[:1])
    assert len(_csv_rows(os.path.join(sink.config.output, "records-*.csv"))) == 1


def test_dead_letters_to_csv(tmp_path):
    import apache_beam as beam

    sink = plugins.build("sinks", ConnectorSpec(f"csv:{tmp_path}"), run_config(tmp_path))
    run_pipeline(lambda p: p | beam.Create(sample_dead_letters()) | sink.dead_letters())
    rows = _csv_rows(os.path.join(str(tmp_path), "dead_letters-*.csv"))
    assert {r["error"] for r in rows} == {"CorruptDocument", "LimitExceeded"}
