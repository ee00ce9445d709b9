"""What the container sources (manifest, zip, email) share: a list of container
URIs is fanned out across workers, each container is expanded into documents
by a plain function, and every document found (or failing) is counted as one
input, so ``inputs == records + dead letters`` holds for archives and
mailboxes as it does for files.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Union

import apache_beam as beam
from apache_beam.metrics import Metrics

from paperbeam.models import formats
from paperbeam.pipelines.deadletters import DEAD, dead
from paperbeam.records import SourceDocument


@dataclass
class Failed:
    """One document of a container that cannot be read; becomes a dead letter."""

    uri: str
    error: BaseException


Found = Union[SourceDocument, Failed]


def make_document(uri: str, data: bytes, metadata: Optional[Dict[str, Any]] = None) -> Found:
    """A SourceDocument identified by its content; an unreadable format becomes ``Failed``."""
    try:
        media_type = formats.sniff(data)
    except Exception as exc:  # noqa: BLE001 - DocumentError subclasses: a dead letter
        return Failed(uri, exc)
    return SourceDocument(id=hashlib.sha256(data).hexdigest(), uri=uri, media_type=media_type, data=data, metadata=dict(metadata or {}))


class _ExpandFn(beam.DoFn):
    def __init__(self, expand: Callable[[str], Iterable[Found]]):
        self.expand = expand
        self.inputs = Metrics.counter("paperbeam", "inputs")
        self.bytes = Metrics.distribution("paperbeam", "input_bytes")

    def process(self, uri: str):
        try:
            for item in self.expand(uri):
                self.inputs.inc()
                if isinstance(item, Failed):
                    yield dead(item.error, item.uri, "read")
                else:
                    self.bytes.update(len(item.data))
                    yield item
        except Exception as exc:  # noqa: BLE001 - the container itself failed: one dead letter
            self.inputs.inc()
            yield dead(exc, uri, "read")


class ExpandContainers(beam.PTransform):
    """Container URIs -> ``SourceDocument`` (``documents``) and dead letters (``dead_letters``).

    ``expand`` must be picklable (a module-level function or a bound method of
    a picklable config); it runs on the workers.
    """

    def __init__(self, uris: List[str], expand: Callable[[str], Iterable[Found]]):
        super().__init__()
        self.uris = list(uris)
        self.expand_fn = expand

    def expand(self, pbegin):
        return (
            pbegin
            | "Containers" >> beam.Create(self.uris)
            | "Spread" >> beam.Reshuffle()
            | "Expand" >> beam.ParDo(_ExpandFn(self.expand_fn)).with_outputs(DEAD, main="documents")
        )


# ---- shaping a Record for the tabular sinks (CSV, Parquet, PostgreSQL) ----

def typed_value(field_type: str, field):
    """A field's normalised value as the Python type its schema type maps to
    (date -> ``datetime.date``, money/number -> ``Decimal``, string -> ``str``);
    None when missing or not parseable (the full record keeps the raw text)."""
    import datetime
    from decimal import Decimal, InvalidOperation

    if field is None:
        return None
    text = field.normalized if field.normalized not in (None, "") else (field.value if field_type == "string" else None)
    if text in (None, ""):
        return None
    try:
        if field_type == "date":
            return datetime.date.fromisoformat(str(text)[:10])
        if field_type in ("money", "number"):
            value = Decimal(str(text).replace(",", ""))
            return value if value.is_finite() else None
    except (ValueError, InvalidOperation):
        return None
    return str(text)


def flat_row(record, schema) -> Dict[str, Any]:
    """One flat row per record: identity columns, then ``<field>`` and
    ``<field>_confidence`` for every field of the schema, in schema order."""
    row: Dict[str, Any] = {
        "id": record.id,
        "source_uri": record.source_uri,
        "media_type": record.media_type,
        "page_count": record.page_count,
        "schema": record.schema,
    }
    for spec in schema.fields:
        field = record.fields.get(spec.name)
        row[spec.name] = typed_value(spec.type, field)
        row[f"{spec.name}_confidence"] = None if field is None else round(field.confidence, 4)
    return row
