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
import threading
import time
from collections import OrderedDict
from typing import Optional

import apache_beam as beam
from apache_beam.metrics import Metrics

from paperbeam import plugins
from paperbeam.models.ocr.base import build_engine
from paperbeam.errors import CorruptDocument, DocumentError, DocumentTimeout, OcrTimeout
from paperbeam.models import formats
from paperbeam.models.pages import DocumentCache, PageOptions, read_image_page, read_pdf_page
from paperbeam.progress import ProgressChannel
from paperbeam.records import Page, PageRef, SOURCE_OCR, SOURCE_TEXT_LAYER

log = logging.getLogger(__name__)


def load_bytes(ref: PageRef) -> bytes:
    """The document's bytes, checked against its id (the file must not change mid-run).

    Opened by URI through ``paperbeam.connectors.openers``: a path or gs:// /
    s3:// URI through FileSystems, an archive member or email attachment
    (``zip:...!/member``, ``email:...#msg=..&part=..``) by the source that made it.
    """
    from paperbeam.connectors.openers import open_uri

    data = open_uri(ref.uri)
    if hashlib.sha256(data).hexdigest() != ref.doc_id:
        raise CorruptDocument("The file changed while it was being processed.", "Run again once it is no longer being written.")
    return data


def _kill_children_of_thread(native_id: int) -> int:
    """Kill the processes a thread started (Linux: /proc/self/task/TID/children); returns how many."""
    import os
    import signal

    try:
        with open(f"/proc/self/task/{native_id}/children") as fh:
            pids = [int(p) for p in fh.read().split()]
    except (OSError, ValueError):
        return 0
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return len(pids)


def recognize_with_timeout(engine, image, dpi, seconds: Optional[float], page_number: int, limit: str = "--ocr-timeout"):
    """``engine.recognize`` with a hard wall-clock limit.

    The call runs in a helper thread; past ``seconds`` the OCR processes that
    thread started (tesseract, and tesseract's OSD runs) are killed and
    ``OcrTimeout`` is raised, naming the limit and its value. An engine that
    hangs inside Python cannot be killed; its thread is abandoned and
    ``OcrTimeout.abandoned`` tells the caller to make a fresh engine.
    """
    if not seconds:
        return engine.recognize(image, dpi=dpi)
    box: dict = {}

    def call():
        box["tid"] = threading.get_native_id()
        try:
            box["result"] = engine.recognize(image, dpi=dpi)
        except BaseException as exc:  # noqa: BLE001 - handed back to the calling thread
            box["error"] = exc

    worker = threading.Thread(target=call, name=f"paperbeam-ocr-page-{page_number}", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        # kill again while the thread lives: an engine may catch the failure and start another
        # OCR process (tesseract's orientation pass, then the page itself)
        killed, give_up = 0, time.monotonic() + 5.0
        while worker.is_alive() and time.monotonic() < give_up:
            killed += _kill_children_of_thread(box.get("tid", 0))
            worker.join(0.2)
        abandoned = worker.is_alive()
        what = "the OCR process was killed" if killed else ("the OCR call was abandoned" if abandoned else "its result came too late")
        err = OcrTimeout(f"OCR of page {page_number} took longer than {seconds:g} s, the limit ({limit}); {what}.")
        err.abandoned = abandoned
        log.warning("OCR timeout on page %d after %g s (%d process(es) killed)", page_number, seconds, killed)
        raise err
    if "error" in box:
        raise box["error"]
    return box["result"]


def read_page(ref: PageRef, engine, cache: DocumentCache, options: PageOptions, spent: float = 0.0) -> Page:
    """Read one page: text layer or OCR. Raises DocumentError subclasses.

    ``spent``: seconds this worker has already spent on the document's other
    pages; together with ``options.max_document_seconds`` it caps this page's OCR time.
    """
    started = time.perf_counter()
    budget = options.max_document_seconds
    if budget and spent >= budget:
        raise DocumentTimeout(
            f"Reading the document took over {budget:g} s, the limit (--max-document-seconds); page {ref.page_number} was not read."
        )
    doc = cache.get(ref.doc_id + ref.uri, lambda: load_bytes(ref), ref.media_type, options)
    if ref.media_type == formats.PDF:
        page, image = read_pdf_page(doc, ref.page_number, options, cache.lock)
    else:
        page, image = None, read_image_page(doc, ref.page_number, options)
    if page is None:
        seconds, limit = options.ocr_timeout, "--ocr-timeout"
        if budget:
            left = max(budget - spent - (time.perf_counter() - started), 0.001)
            if not seconds or left < seconds:
                seconds, limit = left, "--max-document-seconds"
        try:
            result = recognize_with_timeout(engine, image.image, image.dpi or None, seconds, ref.page_number, limit)
        except OcrTimeout as exc:
            if limit == "--max-document-seconds":
                err = DocumentTimeout(f"Reading the document took over {budget:g} s, the limit (--max-document-seconds); "
                                      f"OCR of page {ref.page_number} was stopped.")
                err.abandoned = exc.abandoned
                raise err from None
            raise
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
        self.page_ms = Metrics.distribution("paperbeam", "read_ms_per_page")
        # pages by source: paperbeam.pages_by_source:{text_layer,ocr,failed}
        self.by_source = {
            name: Metrics.counter("paperbeam.pages_by_source", name) for name in (SOURCE_TEXT_LAYER, SOURCE_OCR, "failed")
        }

    def setup(self):
        self.engine = build_engine(plugins.load("ocr_engines", self.engine_name), self.engine_options, self.engine_name)
        self.cache = DocumentCache(size=2)
        self.doc_seconds: "OrderedDict[str, float]" = OrderedDict()  # seconds spent per document on this worker
        self.progress = ProgressChannel()  # reports pages to the driver's progress bar (direct runner only)

    def teardown(self):
        self.cache.clear()
        self.progress.close()

    def process(self, ref: PageRef):
        header = {"doc_id": ref.doc_id, "media_type": ref.media_type, "page_count": ref.page_count, "metadata": ref.metadata}
        started = time.perf_counter()
        try:
            page = read_page(ref, self.engine, self.cache, self.options, spent=self.doc_seconds.get(ref.doc_id, 0.0))
            if page.source == SOURCE_OCR:
                self.ocr_pages.inc()
                self.ocr_ms.update(int(page.seconds * 1000))
            else:
                self.text_pages.inc()
            self.by_source[page.source if page.source in self.by_source else SOURCE_OCR].inc()
            self.page_ms.update(int(page.seconds * 1000))
        except Exception as exc:  # noqa: BLE001 - recorded on the page; the document becomes a dead letter
            self.failed_pages.inc()
            if getattr(exc, "abandoned", False):  # a hung in-process engine: never call it again
                self.engine = build_engine(plugins.load("ocr_engines", self.engine_name), self.engine_options, self.engine_name)
            stage = getattr(exc, "stage", "read") if isinstance(exc, DocumentError) else "ocr"
            page = Page(
                doc_id=ref.doc_id, page_number=ref.page_number, width=0, height=0, unit="px", source=SOURCE_OCR,
                error={"stage": stage, "error": type(exc).__name__, "message": str(exc) if isinstance(exc, DocumentError) else f"Unexpected {type(exc).__name__}: {str(exc)[:200]}. This is a bug; please report it."},
            )
            self.by_source["failed"].inc()
        self.doc_seconds[ref.doc_id] = self.doc_seconds.pop(ref.doc_id, 0.0) + (time.perf_counter() - started)
        while len(self.doc_seconds) > 1024:
            self.doc_seconds.popitem(last=False)
        self.progress.page_done(ref.doc_id, ref.page_number, ref.page_count, page.source, page.seconds, bool(page.error))
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
