"""Stage 3, Read pages: each page from its PDF text layer when that is usable,
otherwise rasterised and OCR'd by the configured engine.

The OCR engine is created once per worker in ``setup`` (by name, through the
plugin registry) and never pickled. A page that fails becomes a ``Page`` with
``error`` set rather than a dead letter: a document is one input, so whether
it becomes a record or a dead letter is decided once, when its pages are
assembled.
"""

from __future__ import annotations

import hashlib
import logging
import time
import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from paperbeam import plugins
from paperbeam.errors import CorruptDocument, DocumentError
from paperbeam.models import formats
from paperbeam.models.pages import DocumentCache, PageOptions, read_image_page, read_pdf_page
from paperbeam.records import Page, PageRef, SOURCE_OCR

log = logging.getLogger(__name__)


def load_bytes(ref: PageRef) -> bytes:
    """The document's bytes, checked against its id (the file must not change mid-run)."""
    with FileSystems.open(ref.uri, compression_type="uncompressed") as fh:
        data = fh.read()
    if hashlib.sha256(data).hexdigest() != ref.doc_id:
        raise CorruptDocument("The file changed while it was being processed.", "Run again once it is no longer being written.")
    return data


def read_page(ref: PageRef, engine, cache: DocumentCache, options: PageOptions) -> Page:
    """Read one page: text layer or OCR. Raises DocumentError subclasses."""
    started = time.perf_counter()
    doc = cache.get(ref.doc_id + ref.uri, lambda: load_bytes(ref), ref.media_type, options)
    if ref.media_type == formats.PDF:
        page, image = read_pdf_page(doc, ref.page_number, options, cache.lock)
    else:
        page, image = None, read_image_page(doc, ref.page_number, options)
    if page is None:
        result = engine.recognize(image.image, dpi=image.dpi or None)
        page = Page(
            doc_id=ref.doc_id, page_number=ref.page_number, width=float(result.width), height=float(result.height),
            unit="px", source=SOURCE_OCR, words=result.words, engine=result.engine,
            mean_confidence=result.mean_confidence, dpi=image.dpi or None, rotation=result.rotation,
        )
        del image
    page.doc_id = ref.doc_id
    page.seconds = time.perf_counter() - started
    return page


class _ReadPageFn(beam.DoFn):
    def __init__(self, engine_name: str, engine_options: dict, options: PageOptions):
        self.engine_name = engine_name
        self.engine_options = engine_options
        self.options = options
        self.ocr_pages = Metrics.counter("paperbeam", "pages_ocr")
        self.text_pages = Metrics.counter("paperbeam", "pages_text_layer")
        self.failed_pages = Metrics.counter("paperbeam", "pages_failed")
        self.ocr_ms = Metrics.distribution("paperbeam", "ocr_ms_per_page")

    def setup(self):
        self.engine = plugins.load("ocr_engines", self.engine_name)(**self.engine_options)
        self.cache = DocumentCache(size=2)

    def teardown(self):
        self.cache.clear()

    def process(self, ref: PageRef):
        header = {"doc_id": ref.doc_id, "media_type": ref.media_type, "page_count": ref.page_count, "metadata": ref.metadata}
        try:
            page = read_page(ref, self.engine, self.cache, self.options)
            if page.source == SOURCE_OCR:
                self.ocr_pages.inc()
                self.ocr_ms.update(int(page.seconds * 1000))
            else:
                self.text_pages.inc()
        except Exception as exc:  # noqa: BLE001 - recorded on the page; the document becomes a dead letter
            self.failed_pages.inc()
            stage = getattr(exc, "stage", "read") if isinstance(exc, DocumentError) else "ocr"
            page = Page(
                doc_id=ref.doc_id, page_number=ref.page_number, width=0, height=0, unit="px", source=SOURCE_OCR,
                error={"stage": stage, "error": type(exc).__name__, "message": str(exc) if isinstance(exc, DocumentError) else f"Unexpected {type(exc).__name__}: {str(exc)[:200]}. This is a bug; please report it."},
            )
        yield ref.uri, (header, page)


class ReadPages(beam.PTransform):
    """``PageRef`` -> ``(uri, (header, Page))``, text layer or OCR."""

    def __init__(self, engine_name: str, engine_options: dict, options: PageOptions):
        super().__init__()
        self.engine_name = engine_name
        self.engine_options = engine_options
        self.options = options

    def expand(self, pages):
        return pages | "ReadPage" >> beam.ParDo(_ReadPageFn(self.engine_name, self.engine_options, self.options))
