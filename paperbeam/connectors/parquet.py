"""Sink: Parquet files with a pyarrow schema derived from the record schema.

    --sink parquet                 (records-*.parquet and dead_letters-*.parquet in --output)
    --sink parquet:gs://bucket/out?row_group_size=10000

Nested parts are kept nested: ``fields`` is a struct with one struct per schema
field (value, a *typed* normalised value -- date32 for dates, decimal128(38, 4)
for amounts and numbers --, confidence, page, bbox, extractor), ``pages`` a
list of structs. ``versions`` and ``metadata`` are string maps (non-string
metadata values JSON-encoded). Needs the ``parquet`` extra (pyarrow).
"""

from __future__ import annotations

import functools
import glob
import json
import os
from dataclasses import dataclass

import apache_beam as beam

from paperbeam.connectors.base import typed_value
from paperbeam.connectors.config import ConnectorConfig, as_int, reject_unknown
from paperbeam.errors import MissingDependency
from paperbeam.schema import Schema

DECIMAL_PRECISION, DECIMAL_SCALE = 38, 4


def _pa():
    try:
        import pyarrow
    except ImportError:
        raise MissingDependency("pyarrow (for the parquet sink)", "pip install 'paperbeam[parquet]'")
    return pyarrow


def normalized_type(field_type: str):
    pa = _pa()
    if field_type == "date":
        return pa.date32()
    if field_type in ("money", "number"):
        return pa.decimal128(DECIMAL_PRECISION, DECIMAL_SCALE)
    return pa.string()


def arrow_schema(schema: Schema):
    """The pyarrow schema of a record of ``schema``."""
    pa = _pa()
    field_structs = [
        pa.field(spec.name, pa.struct([
            ("value", pa.string()),
            ("normalized", normalized_type(spec.type)),
            ("confidence", pa.float64()),
            ("page", pa.int32()),
            ("bbox", pa.list_(pa.float64())),
            ("extractor", pa.string()),
        ]))
        for spec in schema.fields
    ]
    page = pa.struct([
        ("page", pa.int32()), ("width", pa.float64()), ("height", pa.float64()), ("unit", pa.string()),
        ("source", pa.string()), ("engine", pa.string()), ("mean_confidence", pa.float64()), ("dpi", pa.float64()),
        ("rotation", pa.int32()), ("word_count", pa.int32()), ("seconds", pa.float64()),
        ("error", pa.map_(pa.string(), pa.string())),
    ])
    return pa.schema([
        ("schema_version", pa.string()),
        ("id", pa.string()),
        ("source_uri", pa.string()),
        ("media_type", pa.string()),
        ("page_count", pa.int32()),
        ("schema", pa.string()),
        ("fields", pa.struct(field_structs)),
        ("pages", pa.list_(page)),
        ("versions", pa.map_(pa.string(), pa.string())),
        ("metadata", pa.map_(pa.string(), pa.string())),
    ])


def dead_letter_schema():
    pa = _pa()
    return pa.schema([
        ("source_uri", pa.string()), ("stage", pa.string()), ("error", pa.string()), ("message", pa.string()),
        ("doc_id", pa.string()), ("page", pa.int32()), ("schema_version", pa.string()),
    ])


def _string_map(d):
    if not d:
        return []
    return [(str(k), v if isinstance(v, str) or v is None else json.dumps(v, ensure_ascii=False, sort_keys=True)) for k, v in d.items()]


def _decimal(value):
    from decimal import Decimal, InvalidOperation

    if value is None:
        return None
    try:
        q = value.quantize(Decimal(1).scaleb(-DECIMAL_SCALE))
    except InvalidOperation:
        return None
    return q if len(q.as_tuple().digits) <= DECIMAL_PRECISION else None


def record_row(record, schema: Schema) -> dict:
    """A record as a dict matching ``arrow_schema(schema)``."""
    fields = {}
    for spec in schema.fields:
        f = record.fields.get(spec.name)
        if f is None:
            fields[spec.name] = None
            continue
        normalized = typed_value(spec.type, f)
        if spec.type in ("money", "number"):
            normalized = _decimal(normalized)
        fields[spec.name] = {
            "value": f.value, "normalized": normalized, "confidence": f.confidence, "page": f.page,
            "bbox": None if f.bbox is None else list(f.bbox), "extractor": f.extractor,
        }
    pages = []
    for p in record.pages:
        d = p.to_dict(with_words=False)
        d["error"] = _string_map(d.get("error"))
        pages.append(d)
    return {
        "schema_version": record.schema_version, "id": record.id, "source_uri": record.source_uri,
        "media_type": record.media_type, "page_count": record.page_count, "schema": record.schema,
        "fields": fields, "pages": pages, "versions": _string_map(record.versions), "metadata": _string_map(record.metadata),
    }


def dead_letter_row(letter) -> dict:
    return letter.to_dict()


@dataclass(repr=False)
class ParquetConfig(ConnectorConfig):
    output: str
    schema: Schema
    row_group_size: int = 10_000


class ParquetSink:
    name = "parquet"

    def __init__(self, config: ParquetConfig):
        self.config = config

    @classmethod
    def from_uri(cls, location: str, options: dict, run) -> "ParquetSink":
        reject_unknown(options, ("row_group_size",), "parquet sink")
        _pa()
        output = location or run.output
        if "://" not in output:
            output = os.path.abspath(output)
        cfg = ParquetConfig(output=output, schema=run.schema)
        if "row_group_size" in options:
            cfg.row_group_size = as_int(options["row_group_size"], "row_group_size", minimum=1)
        arrow_schema(cfg.schema)  # a schema pyarrow cannot express fails now
        return cls(cfg)

    def precheck(self) -> None:
        """The folder is writable; Parquet shards of an earlier run there are removed so two runs never mix."""
        from paperbeam.pipelines.options import check_output

        check_output(self.config.output)
        if "://" not in self.config.output:
            for pattern in ("records-*.parquet", "dead_letters-*.parquet"):
                for path in glob.glob(os.path.join(self.config.output, pattern)):
                    os.remove(path)

    def records(self):
        cfg = self.config
        return _WriteParquet(os.path.join(cfg.output, "records"), functools.partial(record_row, schema=cfg.schema),
                             functools.partial(arrow_schema, cfg.schema), cfg.row_group_size)

    def dead_letters(self):
        return _WriteParquet(os.path.join(self.config.output, "dead_letters"), dead_letter_row, dead_letter_schema,
                             self.config.row_group_size)

    def __repr__(self) -> str:
        return f"ParquetSink({self.config!r})"


class _WriteParquet(beam.PTransform):
    def __init__(self, prefix: str, to_row, make_schema, row_group_size: int):
        super().__init__()
        self.prefix, self.to_row, self.make_schema, self.row_group_size = prefix, to_row, make_schema, row_group_size

    def expand(self, pcoll):
        return (
            pcoll
            | "ToRow" >> beam.Map(self.to_row)
            | "WriteParquet" >> beam.io.WriteToParquet(
                self.prefix, self.make_schema(), file_name_suffix=".parquet",
                record_batch_size=min(1000, self.row_group_size), row_group_buffer_size=64 * 1024 * 1024,
            )
        )
