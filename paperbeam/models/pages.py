"""Open documents and read single pages out of them.

A PDF page is read from its text layer when the layer is usable, and
rasterised for OCR otherwise; a TIFF frame or a photo is always OCR'd. Pages
are opened one at a time, so a 200-page scan never has all its page images in
memory together.

The functions here are plain (no Beam), so they are tested directly.
"""

from __future__ import annotations

import io
import re
import struct
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from paperbeam.errors import CorruptDocument, EncryptedDocument, LimitExceeded, UnsupportedFormat
from paperbeam.models import formats
from paperbeam.records import Page, SOURCE_TEXT_LAYER, Word


@dataclass(frozen=True)
class PageOptions:
    """How pages are read. Part of the pipeline options; small and picklable."""

    dpi: int = 300
    force_ocr: bool = False
    pdf_password: Optional[str] = field(default=None, repr=False)  # never printed: options get logged
    max_pixels: int = 200_000_000  # per page image; a bigger one is refused, not decoded
    max_pages: int = 5000
    # Enforced around the OCR call in pipelines/read_pages.py (a hung OCR process is killed).
    ocr_timeout: Optional[float] = None  # seconds per page
    max_document_seconds: Optional[float] = None  # seconds of page reading per document
    # Fewer words than this on a page that is mostly one image: a scan with a stamped
    # date or page number, so OCR it (pdfplumber's malformed-from-issue-932.pdf).
    min_text_words: int = 10


# Pillow's own bomb guard would raise a warning, then an error at 2x its limit;
# we check sizes ourselves against PageOptions.max_pixels before decoding.
def _pil():
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None
    return Image


def count_pages(data: bytes, media_type: str, options: PageOptions) -> int:
    """The number of pages; raises a DocumentError for unreadable, encrypted or oversized documents."""
    if media_type == formats.PDF:
        n = len(open_pdf(data, options.pdf_password))
    elif media_type in formats.IMAGE_TYPES:
        img = open_image(data)
        # refused here, from the header, before the document fans out into pages
        check_pixels(img.size[0], img.size[1], options, "Image page 1")
        try:
            n = getattr(img, "n_frames", 1) if media_type in (formats.TIFF, formats.GIF, formats.WEBP) else 1
        except _PIL_ERRORS as exc:
            raise CorruptDocument(f"The image's frames cannot be counted ({_short(str(exc))}).")
    else:
        raise UnsupportedFormat(f"Cannot split a {media_type} into pages.")
    if n < 1:
        raise CorruptDocument("The document has no pages.")
    if n > options.max_pages:
        raise LimitExceeded(f"The document has {n} pages; the limit (--max-pages) is {options.max_pages}.")
    return n


def open_pdf(data: bytes, password: Optional[str] = None):
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(data, password=password)
    except pdfium.PdfiumError as exc:
        text = str(exc)
        # pdfium's last-error code is global and can be stale (left by an earlier encrypted
        # document), so "password" only counts when the file really has an /Encrypt entry.
        if "password" in text.lower() and b"/Encrypt" in data:
            if password:
                raise EncryptedDocument("The PDF is encrypted and the password given does not open it.")
            raise EncryptedDocument("The PDF is encrypted and no password was given.")
        if "password" in text.lower():
            text = "pdfium cannot load it"
        raise CorruptDocument(f"The PDF cannot be parsed ({_short(text)}).")


# What Pillow raises on damaged files besides OSError: its TIFF reader alone raises
# TypeError ("Missing dimensions"), KeyError and struct.error (tests/regressions/).
_PIL_ERRORS = (OSError, ValueError, EOFError, SyntaxError, struct.error, TypeError, KeyError, IndexError, ZeroDivisionError)


def open_image(data: bytes):
    Image = _pil()
    from PIL import UnidentifiedImageError

    try:
        img = Image.open(io.BytesIO(data))
        img.size  # noqa: B018 - forces the header to be read
        return img
    except UnidentifiedImageError:
        raise CorruptDocument("The image cannot be decoded (its header is damaged or it is not an image).")
    except _PIL_ERRORS as exc:
        raise CorruptDocument(f"The image cannot be decoded ({_short(str(exc))}).")


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_pixels(width: float, height: float, options: PageOptions, what: str) -> None:
    pixels = int(width) * int(height)
    if pixels > options.max_pixels:
        raise LimitExceeded(
            f"{what} would be {int(width)} x {int(height)} = {pixels:,} pixels; "
            f"the limit (--max-pixels) is {options.max_pixels:,}."
        )


def check_embedded_images(page, page_number: int, options: PageOptions) -> None:
    """Refuse a PDF page painting an image whose own size is over the limit.

    pdfium decodes an image XObject at its full size whatever the page size,
    so a letter-size page can hide a 40,000 x 40,000 Flate or JBIG2 bomb. The
    sizes come from the image dictionaries; nothing is decoded here.
    """
    import pypdfium2.raw as pdfium_c

    for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=8):
        try:
            width, height = obj.get_px_size()
        except Exception:  # noqa: BLE001 - an image without a readable size is left to the renderer
            continue
        check_pixels(width, height, options, f"An image on page {page_number}")


class DocumentCache:
    """Keeps the last few opened documents of a worker, so that reading page
    after page of one document does not parse it again each time.

    pdfium is not thread-safe; callers hold ``lock`` while using a handle.
    """

    def __init__(self, size: int = 2):
        self.size = size
        self.lock = threading.RLock()
        self._items: "OrderedDict[str, _OpenDocument]" = OrderedDict()

    def get(self, key: str, data_loader, media_type: str, options: PageOptions) -> "_OpenDocument":
        with self.lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            doc = _OpenDocument(data_loader(), media_type, options)
            self._items[key] = doc
            while len(self._items) > self.size:
                _, old = self._items.popitem(last=False)
                old.close()
            return doc

    def clear(self) -> None:
        with self.lock:
            for doc in self._items.values():
                doc.close()
            self._items.clear()


class _OpenDocument:
    def __init__(self, data: bytes, media_type: str, options: PageOptions):
        self.data = data
        self.media_type = media_type
        self.options = options
        self._pdfium = None
        self._plumber = None
        self._plumber_error: Optional[str] = None

    def pdfium(self):
        if self._pdfium is None:
            self._pdfium = open_pdf(self.data, self.options.pdf_password)
        return self._pdfium

    def plumber(self):
        """pdfplumber's view of the PDF, or None when pdfminer cannot parse it (pdfium may still render it)."""
        if self._plumber is None and self._plumber_error is None:
            import pdfplumber

            try:
                self._plumber = pdfplumber.open(io.BytesIO(self.data), password=self.options.pdf_password or "")
            except Exception as exc:  # noqa: BLE001 - pdfminer raises many types; we fall back to OCR
                self._plumber_error = type(exc).__name__
        return self._plumber

    def close(self):
        for handle in (self._plumber, self._pdfium):
            try:
                if handle is not None:
                    handle.close()
            except Exception:  # noqa: BLE001 - closing a broken handle must not fail the page
                pass
        self._plumber = self._pdfium = None


@dataclass
class PageImage:
    """A page to OCR: the image, its resolution, and the page size it came from."""

    image: object  # PIL.Image.Image
    dpi: float


_CID = re.compile(r"\(cid:\d+\)")


def text_layer_words(plumber_page) -> Tuple[List[Word], float, float]:
    """Words of a PDF page's text layer with boxes in points (top-left origin), grouped into lines."""
    raw = plumber_page.extract_words(keep_blank_chars=False, use_text_flow=False, x_tolerance=1.5)
    # Rows: words whose vertical centres fall in the band of the row's first word.
    rows: List[List[dict]] = []
    band = None
    for w in sorted(raw, key=lambda w: (w["top"], w["x0"])):
        mid = (w["top"] + w["bottom"]) / 2
        if band is None or not (band[0] - 1 <= mid <= band[1] + 1):
            rows.append([])
            band = (w["top"], w["bottom"])
        rows[-1].append(w)
    # Lines: a row is cut where the gap between words is wider than ~1.5 line
    # heights, so table columns and side-by-side blocks stay apart.
    words: List[Word] = []
    line = -1
    for row in rows:
        row.sort(key=lambda w: w["x0"])
        prev = None
        for w in row:
            height = max(w["bottom"] - w["top"], 1.0)
            if prev is None or w["x0"] - prev["x1"] > 1.5 * height:
                line += 1
            words.append(Word(text=w["text"], bbox=(w["x0"], w["top"], w["x1"], w["bottom"]), confidence=1.0, line=line))
            prev = w
    return words, float(plumber_page.width), float(plumber_page.height)


def text_layer_usable(words: List[Word], image_area_share: float, min_words: int) -> bool:
    """Whether a text layer can be trusted instead of OCR.

    Unusable: no words; mostly ``(cid:NN)`` glyphs or control characters (fonts
    without a Unicode map); or a page that is mostly one big image with only a
    few words on it (a scan with a stamped page number or an OCR'd title only).
    """
    if not words:
        return False
    text = "".join(w.text for w in words)
    junk = sum(len(m) for m in _CID.findall(text)) + sum(1 for c in text if c == "\ufffd" or (ord(c) < 32))
    if junk / max(len(text), 1) > 0.3:
        return False
    if image_area_share > 0.5 and len(words) < min_words:
        return False
    return True


def read_pdf_page(doc: _OpenDocument, page_number: int, options: PageOptions, lock) -> Tuple[Optional[Page], Optional[PageImage]]:
    """Either the page from its text layer, or an image of it to OCR."""
    if not options.force_ocr:
        with lock:
            plumber = doc.plumber()
            page = pp = None
            if plumber is not None:
                try:
                    pp = plumber.pages[page_number - 1]
                    words, width, height = text_layer_words(pp)
                    area = max(width * height, 1.0)
                    image_area = sum(
                        max(0.0, (im["x1"] - im["x0"]) * (im["bottom"] - im["top"])) for im in (pp.images or [])
                    )
                    if text_layer_usable(words, image_area / area, options.min_text_words):
                        page = Page(
                            doc_id="", page_number=page_number, width=width, height=height, unit="pt",
                            source=SOURCE_TEXT_LAYER, words=words, engine="pdfplumber", mean_confidence=1.0,
                            rotation=int(getattr(pp, "rotation", 0) or 0),
                        )
                except Exception:  # noqa: BLE001 - a page pdfminer cannot read is rasterised and OCR'd instead
                    page = None
                finally:
                    # pdfplumber keeps every page's parsed objects until closed: ~0.7 MB a page,
                    # so a 1,000-page PDF grew a worker past 700 MB (bench/memory.py)
                    if pp is not None:
                        pp.close()
            if page is not None:
                return page, None
    return None, render_pdf_page(doc, page_number, options, lock)


def render_pdf_page(doc: _OpenDocument, page_number: int, options: PageOptions, lock) -> PageImage:
    import pypdfium2 as pdfium

    with lock:
        pdf = doc.pdfium()
        try:
            page = pdf[page_number - 1]
        except pdfium.PdfiumError as exc:
            raise CorruptDocument(f"Page {page_number} cannot be loaded ({_short(str(exc))}).")
        try:
            w_pt, h_pt = page.get_size()
            scale = options.dpi / 72.0
            check_pixels(w_pt * scale, h_pt * scale, options, f"Page {page_number} at {options.dpi} dpi")
            check_embedded_images(page, page_number, options)
            try:
                bitmap = page.render(scale=scale, grayscale=True)
                image = bitmap.to_pil()
            except pdfium.PdfiumError as exc:
                raise CorruptDocument(f"Page {page_number} cannot be rendered ({_short(str(exc))}).")
        finally:
            page.close()
    return PageImage(image=image, dpi=float(options.dpi))


def read_image_page(doc: _OpenDocument, page_number: int, options: PageOptions) -> PageImage:
    """One frame of an image file, EXIF orientation applied, as grayscale."""
    from PIL import ImageOps

    img = open_image(doc.data)
    check_pixels(img.size[0], img.size[1], options, f"Image page {page_number}")
    try:
        if page_number > 1 or getattr(img, "n_frames", 1) > 1:
            img.seek(page_number - 1)
            check_pixels(img.size[0], img.size[1], options, f"Image page {page_number}")
        dpi = img.info.get("dpi", (0, 0))[0] or 0
        img = ImageOps.exif_transpose(img)
        if img.mode not in ("L", "RGB"):
            # a bilevel or grey scan stays one byte a pixel: a 20,000 x 20,000 fax-mode TIFF is
            # 400 MB as "L" but 1.2 GB as "RGB"
            img = img.convert("L" if img.mode in ("1", "LA", "I", "I;16", "F") else "RGB")
        img.load()
    except _PIL_ERRORS as exc:
        raise CorruptDocument(f"Image page {page_number} cannot be decoded ({_short(str(exc))}).")
    return PageImage(image=img, dpi=float(dpi) if dpi and dpi > 30 else 0.0)


def page_image(data: bytes, media_type: str, page_number: int, options: PageOptions) -> PageImage:
    """One page of a document as the pipeline would OCR it, for a one-off read (benchmarks, tests).

    Opens the document, renders the page (a PDF page at ``options.dpi``) or
    decodes the frame (an image), and closes it again; the image is copied
    first, since a rendered bitmap may live in pdfium's memory.
    """
    doc = _OpenDocument(data, media_type, options)
    try:
        if media_type == formats.PDF:
            found = render_pdf_page(doc, page_number, options, threading.Lock())
        else:
            found = read_image_page(doc, page_number, options)
        return PageImage(image=found.image.copy(), dpi=found.dpi)
    finally:
        doc.close()
