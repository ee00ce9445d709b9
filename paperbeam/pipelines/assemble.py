"""Stage 4, Assemble: the pages of a document back together, in page order.

Keyed by source URI, not by content id, so two copies of one file stay two
inputs with two outcomes. A document with a failed or missing page becomes a
dead letter naming the page and the reason.
"""

from __future__ import annotations

from typing import Optional

import apache_beam as beam

from paperbeam.errors import CorruptDocument, DocumentError, DocumentTimeout
from paperbeam.pipelines.deadletters import DEAD, dead
from paperbeam.records import Document


class PageFailed(DocumentError):
    """A page of the document could not be read; the message is the page's own."""

    hint = ""


def assemble(uri: str, items, max_seconds: Optional[float] = None) -> Document:
    """One document from its pages; raises for a failed page, a missing page, or a
    document whose pages together took longer than ``max_seconds`` (the exact
    --max-document-seconds check: the page-reading workers each see only their pages)."""
    items = sorted(items, key=lambda hp: hp[1].page_number)
    header = items[0][0]
    pages = [p for _, p in items]
    for page in pages:
        if page.error:
            err = PageFailed(f"Page {page.page_number}: {page.error['message']}")
            err.stage = page.error.get("stage", "ocr")
            err.cause = page.error.get("error")
            raise err
    spent = sum(p.seconds for p in pages)
    if max_seconds is not None and spent > max_seconds:
        raise DocumentTimeout(
            f"Reading the document's {len(pages)} pages took {spent:.0f} s; the limit (--max-document-seconds) is {max_seconds:g} s."
        )
    numbers = [p.page_number for p in pages]
    if numbers != list(range(1, header["page_count"] + 1)):
        raise CorruptDocument(f"Expected {header['page_count']} pages, got pages {numbers}.", "This is a bug; please report it.")
    return Document(id=header["doc_id"], uri=uri, media_type=header["media_type"], pages=pages, metadata=header["metadata"])


class _AssembleFn(beam.DoFn):
    def __init__(self, max_seconds: Optional[float]):
        self.max_seconds = max_seconds

    def process(self, element):
        uri, items = element
        items = list(items)
        try:
            yield assemble(uri, items, self.max_seconds)
        except PageFailed as exc:
            letter = dead(exc, uri, exc.stage, items[0][0]["doc_id"])
            letter.value.error = exc.cause or letter.value.error
            yield letter
        except Exception as exc:  # noqa: BLE001
            yield dead(exc, uri, "assemble", items[0][0]["doc_id"] if items else None)


class AssembleDocuments(beam.PTransform):
    """``(uri, (header, Page))`` -> ``Document`` and dead letters."""

    def __init__(self, max_document_seconds: Optional[float] = None):
        super().__init__()
        self.max_document_seconds = max_document_seconds

    def expand(self, keyed_pages):
        return (
            keyed_pages
            | "GroupPages" >> beam.GroupByKey()
            | "Assemble" >> beam.ParDo(_AssembleFn(self.max_document_seconds)).with_outputs(DEAD, main="documents")
        )
