"""Stage 4, Assemble: the pages of a document back together, in page order.

Keyed by source URI, not by content id, so two copies of one file stay two
inputs with two outcomes. A document with a failed or missing page becomes a
dead letter naming the page and the reason.
"""

from __future__ import annotations

import apache_beam as beam

from paperbeam.errors import CorruptDocument, DocumentError
from paperbeam.pipelines.deadletters import DEAD, dead
from paperbeam.records import Document


class PageFailed(DocumentError):
    """A page of the document could not be read; the message is the page's own."""

    hint = ""


def assemble(uri: str, items) -> Document:
    items = sorted(items, key=lambda hp: hp[1].page_number)
    header = items[0][0]
    pages = [p for _, p in items]
    for page in pages:
        if page.error:
            err = PageFailed(f"Page {page.page_number}: {page.error['message']}")
            err.stage = page.error.get("stage", "ocr")
            err.cause = page.error.get("error")
            raise err
    numbers = [p.page_number for p in pages]
    if numbers != list(range(1, header["page_count"] + 1)):
        raise CorruptDocument(f"Expected {header['page_count']} pages, got pages {numbers}.", "This is a bug; please report it.")
    return Document(id=header["doc_id"], uri=uri, media_type=header["media_type"], pages=pages, metadata=header["metadata"])


class _AssembleFn(beam.DoFn):
    def process(self, element):
        uri, items = element
        items = list(items)
        try:
            yield assemble(uri, items)
        except PageFailed as exc:
            letter = dead(exc, uri, exc.stage, items[0][0]["doc_id"])
            letter.value.error = exc.cause or letter.value.error
            yield letter
        except Exception as exc:  # noqa: BLE001
            yield dead(exc, uri, "assemble", items[0][0]["doc_id"] if items else None)


class AssembleDocuments(beam.PTransform):
    """``(uri, (header, Page))`` -> ``Document`` and dead letters."""

    def expand(self, keyed_pages):
        return (
            keyed_pages
            | "GroupPages" >> beam.GroupByKey()
            | "Assemble" >> beam.ParDo(_AssembleFn()).with_outputs(DEAD, main="documents")
        )
