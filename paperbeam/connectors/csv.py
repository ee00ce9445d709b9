"""Sink: CSV files, one row per document, one column per schema field plus a
``<field>_confidence`` column for each.

    --sink csv                    (records-*.csv and dead_letters-*.csv in --output)
    --sink csv:/data/out?value=raw

A field's column holds its normalised value (ISO dates, plain decimals) or,
with ``value=raw``, the text as printed. ``metadata`` (an email's sender and
subject, an archive member's name) is one JSON column. Cells that a
spreadsheet would run as a formula (starting with = + - @) are prefixed with
a quote, since these files are opened in spreadsheets.
"""

from __future__ import annotations

import csv as _csv
import functools
import glob
import io
import json
import os
from dataclasses import dataclass
from typing import List

import apache_beam as beam

from paperbeam.connectors.base import flat_row
from paperbeam.connectors.config import ConnectorConfig, reject_unknown
from paperbeam.errors import ConfigError
from paperbeam.records import DeadLetter
from paperbeam.schema import Schema

DEAD_COLUMNS = [f.name for f in DeadLetter.__dataclass_fields__.values()]


@dataclass(repr=False)
class CsvConfig(ConnectorConfig):
    output: str
    schema: Schema
    value: str = "normalized"  # or "raw"


def record_columns(schema: Schema) -> List[str]:
    cols = ["id", "source_uri", "media_type", "page_count", "schema"]
    for spec in schema.fields:
        cols += [spec.name, f"{spec.name}_confidence"]
    return cols + ["metadata"]


def _safe(value) -> str:
    if value is None:
        return ""
    text = str(value)
    if text[:1] in ("=", "+", "-", "@") and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def csv_line(values) -> str:
    buf = io.StringIO()
    _csv.writer(buf, lineterminator="").writerow([_safe(v) for v in values])
    return buf.getvalue()


def record_line(record, cfg: CsvConfig) -> str:
    row = flat_row(record, cfg.schema)
    if cfg.value == "raw":
        for spec in cfg.schema.fields:
            f = record.fields.get(spec.name)
            row[spec.name] = None if f is None else f.value
    row["metadata"] = json.dumps(record.metadata, ensure_ascii=False, sort_keys=True) if record.metadata else ""
    return csv_line(row.get(c) for c in record_columns(cfg.schema))


def dead_letter_line(letter) -> str:
    d = letter.to_dict()
    return csv_line(d.get(c) for c in DEAD_COLUMNS)


class CsvSink:
    name = "csv"

    def __init__(self, config: CsvConfig):
        self.config = config

    @classmethod
    def from_uri(cls, location: str, options: dict, run) -> "CsvSink":
        reject_unknown(options, ("value",), "csv sink")
        value = options.get("value", "normalized")
        if value not in ("normalized", "raw"):
            raise ConfigError(f"csv sink: value must be normalized or raw, not '{value}'.")
        output = location or run.output
        if "://" not in output:
            output = os.path.abspath(output)
        return cls(CsvConfig(output=output, schema=run.schema, value=value))

    def precheck(self) -> None:
        """The folder is writable; CSV shards of an earlier run there are removed so two runs never mix."""
        from paperbeam.pipelines.options import check_output

        check_output(self.config.output)
        if "://" not in self.config.output:
            for pattern in ("records-*.csv", "dead_letters-*.csv"):
                for path in glob.glob(os.path.join(self.config.output, pattern)):
                    os.remove(path)

    def records(self):
        cfg = self.config
        return _WriteCsv(os.path.join(cfg.output, "records"), csv_line(record_columns(cfg.schema)), functools.partial(record_line, cfg=cfg))

    def dead_letters(self):
        return _WriteCsv(os.path.join(self.config.output, "dead_letters"), csv_line(DEAD_COLUMNS), dead_letter_line)

    def __repr__(self) -> str:
        return f"CsvSink({self.config!r})"


class _WriteCsv(beam.PTransform):
    def __init__(self, prefix: str, header: str, to_line):
        super().__init__()
        self.prefix, self.header, self.to_line = prefix, header, to_line

    def expand(self, pcoll):
        return (
            pcoll
            | "ToCsv" >> beam.Map(self.to_line)
            | "WriteCsv" >> beam.io.WriteToText(self.prefix, file_name_suffix=".csv", header=self.header)
        )
