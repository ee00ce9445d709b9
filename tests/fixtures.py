"""Makers of small test documents: every test input is drawn here, none is shipped.

Each maker writes one file into a directory and returns its path; the output
depends only on the arguments (fixed random seeds, fixed PDF dates), so a
failing test can be re-run on the same bytes. One layout (``INVOICE``)
describes the invoice once; it is drawn as a born-digital PDF with reportlab,
rendered to pixels with PIL for the scans and photos, and turned into
``Word`` boxes for the extractor tests, so all three agree on where every word
is.

Coordinates in a layout are PDF points with a top-left origin: ``y`` is the
baseline's distance from the top of the page.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from paperbeam.records import Word

A4 = (595.0, 842.0)
FONT = "Helvetica"
FIXED_PDF_DATE = "D:20240101000000+00'00'"


@dataclass(frozen=True)
class Text:
    """One line of text at (x, baseline y) in points; ``align="right"`` ends it at x."""

    x: float
    y: float
    text: str
    size: float = 10.0
    align: str = "left"


@dataclass(frozen=True)
class Layout:
    size: Tuple[float, float]
    texts: Tuple[Text, ...]


# The invoice every test talks about. Values the tests check are named here.
VENDOR = "ACME Supplies GmbH"
INVOICE_NUMBER = "INV-1042"
INVOICE_DATE = "19/10/2018"
DUE_DATE = "18/11/2018"
SUBTOTAL = "1,037.45"
TAX = "197.11"
TOTAL = "1,234.56"

INVOICE = Layout(
    size=A4,
    texts=(
        Text(50, 70, VENDOR, 18),
        Text(545, 70, "INVOICE", 18, "right"),
        Text(50, 95, "Hauptstrasse 12"),
        Text(50, 110, "10115 Berlin"),
        Text(50, 125, "Germany"),
        Text(50, 140, "Tel: +49 30 1234567"),
        Text(50, 185, "Bill To:"),
        Text(50, 200, "Northwind Traders Ltd"),
        Text(50, 215, "1 Harbour Road, Dublin"),
        Text(340, 185, f"Invoice No: {INVOICE_NUMBER}"),
        Text(340, 200, f"Date: {INVOICE_DATE}"),
        Text(340, 215, f"Due Date: {DUE_DATE}"),
        Text(50, 270, "Description"),
        Text(340, 270, "Qty"),
        Text(545, 270, "Amount", align="right"),
        Text(50, 290, "Widget A, blue"),
        Text(340, 290, "2"),
        Text(545, 290, "500.00", align="right"),
        Text(50, 305, "Installation service"),
        Text(340, 305, "1"),
        Text(545, 305, "537.45", align="right"),
        Text(340, 345, "Subtotal"),
        Text(545, 345, SUBTOTAL, align="right"),
        Text(340, 360, "Tax 19%"),
        Text(545, 360, TAX, align="right"),
        Text(340, 380, "Total", 12),
        Text(545, 380, f"EUR {TOTAL}", 12, "right"),
        Text(50, 440, "Payment within 30 days. Thank you for your business."),
    ),
)

# A small receipt for the photo and image inputs: few pixels, so OCR is quick.
RECEIPT = Layout(
    size=(230.0, 260.0),
    texts=(
        Text(20, 30, "CORNER CAFE", 14),
        Text(20, 50, "12 Jalan Besar"),
        Text(20, 80, "Receipt: R-0077"),
        Text(20, 97, "Date: 05/03/2019"),
        Text(20, 130, "Latte"),
        Text(210, 130, "9.00", align="right"),
        Text(20, 147, "Cake"),
        Text(210, 147, "51.30", align="right"),
        Text(20, 180, "TOTAL", 12),
        Text(210, 180, "RM 60.30", 12, "right"),
        Text(20, 220, "Thank you"),
    ),
)


def text_width(text: str, size: float) -> float:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    return stringWidth(text, FONT, size)


def _left(t: Text) -> float:
    return t.x - text_width(t.text, t.size) if t.align == "right" else t.x


def word_boxes(layout: Layout) -> List[Tuple[str, Tuple[float, float, float, float]]]:
    """Every word of a layout with the box reportlab draws it in (points, top-left origin)."""
    from reportlab.pdfbase.pdfmetrics import getAscentDescent

    out = []
    for t in layout.texts:
        ascent, descent = getAscentDescent(FONT, t.size)
        x = _left(t)
        space = text_width(" ", t.size)
        for word in t.text.split(" "):
            w = text_width(word, t.size)
            out.append((word, (x, t.y - ascent, x + w, t.y - descent)))
            x += w + space
    return out


def layout_words(layout: Layout) -> List[Word]:
    """The layout as Words, one line per ``Text``: what a perfect reader would return."""
    words = []
    line = -1
    for t in layout.texts:
        line += 1
        for word, box in word_boxes(Layout(layout.size, (t,))):
            words.append(Word(text=word, bbox=box, confidence=1.0, line=line, block=0))
    return words


# -- born-digital PDF ---------------------------------------------------------


def draw_pdf(layout: Layout, path: Path, pages: int = 1, password: Optional[str] = None) -> Path:
    """A born-digital PDF (text layer, no images) of ``layout``, on ``pages`` identical pages."""
    from reportlab.pdfgen import canvas

    kwargs = {"encrypt": password} if password else {}
    c = canvas.Canvas(path if isinstance(path, io.BytesIO) else str(path), pagesize=layout.size, invariant=1, **kwargs)
    height = layout.size[1]
    for _ in range(pages):
        for t in layout.texts:
            c.setFont(FONT, t.size)
            if t.align == "right":
                c.drawRightString(t.x, height - t.y, t.text)
            else:
                c.drawString(t.x, height - t.y, t.text)
        c.showPage()
    c.save()
    return path if isinstance(path, io.BytesIO) else Path(path)


def make_invoice_pdf(directory: Path, name: str = "invoice.pdf") -> Path:
    return draw_pdf(INVOICE, Path(directory) / name)


def make_encrypted_pdf(directory: Path, password: str = "secret", name: str = "encrypted.pdf") -> Path:
    return draw_pdf(INVOICE, Path(directory) / name, password=password)


# -- pixels ------------------------------------------------------------------


def render(layout: Layout, dpi: float = 200):
    """The layout as a white grayscale image at ``dpi``, drawn with PIL's built-in FreeType font."""
    from PIL import Image, ImageDraw, ImageFont

    scale = dpi / 72.0
    img = Image.new("L", (round(layout.size[0] * scale), round(layout.size[1] * scale)), 255)
    draw = ImageDraw.Draw(img)
    for t in layout.texts:
        font = ImageFont.load_default(size=round(t.size * scale))
        x = t.x * scale
        anchor = "rs" if t.align == "right" else "ls"  # baseline anchors, as in the PDF
        draw.text((x, t.y * scale), t.text, fill=0, font=font, anchor=anchor)
    return img


def make_scanned_pdf(directory: Path, dpi: int = 200, name: str = "scanned.pdf") -> Path:
    """The invoice as an image-only PDF, as a scanner writes it: no text layer."""
    path = Path(directory) / name
    render(INVOICE, dpi).save(
        path, "PDF", resolution=float(dpi), creationDate=None, modDate=None,
    )
    return path


def make_tiff(directory: Path, pages: int = 2, dpi: int = 200, name: str = "scan.tiff") -> Path:
    """A multi-page TIFF (one frame per page) of the receipt."""
    path = Path(directory) / name
    frames = [render(RECEIPT, dpi) for _ in range(pages)]
    frames[0].save(path, "TIFF", save_all=True, append_images=frames[1:], dpi=(dpi, dpi), compression="tiff_lzw")
    return path


def make_png(directory: Path, dpi: int = 200, name: str = "receipt.png") -> Path:
    path = Path(directory) / name
    render(RECEIPT, dpi).save(path, "PNG", dpi=(dpi, dpi))
    return path


def make_exif_jpeg(directory: Path, orientation: int = 6, dpi: int = 200, name: str = "photo.jpg") -> Path:
    """A phone photo: pixels stored turned, with the EXIF Orientation tag that turns them upright.

    Orientation 6 means "rotate 90 degrees clockwise to view", so the stored
    pixels are the upright page turned 90 degrees counter-clockwise; 8 is the
    opposite. After ``ImageOps.exif_transpose`` the page is upright again.
    """
    from PIL import Image

    upright = render(RECEIPT, dpi)
    turn = {6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270, 3: Image.Transpose.ROTATE_180}[orientation]
    stored = upright.transpose(turn)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = Path(directory) / name
    stored.save(path, "JPEG", quality=90, exif=exif.tobytes(), dpi=(dpi, dpi))
    return path


# -- broken inputs -------------------------------------------------------------


def make_empty(directory: Path, name: str = "empty.pdf") -> Path:
    path = Path(directory) / name
    path.write_bytes(b"")
    return path


def make_random_bytes(directory: Path, size: int = 4096, seed: int = 7, name: str = "random.pdf") -> Path:
    """Noise with a .pdf name; the seed is one whose bytes match no magic number."""
    data = random.Random(seed).randbytes(size)
    assert b"%PDF-" not in data[:1024]
    path = Path(directory) / name
    path.write_bytes(data)
    return path


def make_truncated_pdf(directory: Path, keep: int = 600, name: str = "truncated.pdf") -> Path:
    """The first ``keep`` bytes of the invoice PDF: a header, no page tree, no xref."""
    buf = io.BytesIO()
    draw_pdf(INVOICE, buf)
    path = Path(directory) / name
    path.write_bytes(buf.getvalue()[:keep])
    return path


def make_text_as_pdf(directory: Path, name: str = "notes.pdf") -> Path:
    path = Path(directory) / name
    path.write_text("Invoice INV-1042\nTotal EUR 1,234.56\nThis is a plain text file, not a PDF.\n", encoding="utf-8")
    return path


def make_png_named_pdf(directory: Path, name: str = "png-named.pdf") -> Path:
    """A PNG with a .pdf name: it must be read as the PNG it is."""
    path = Path(directory) / name
    buf = io.BytesIO()
    render(RECEIPT, 200).save(buf, "PNG")
    path.write_bytes(buf.getvalue())
    return path


BROKEN = {
    # file name -> (stage, error class) of the dead letter it must become
    "empty.pdf": ("read", "EmptyDocument"),
    "random.pdf": ("read", "UnsupportedFormat"),
    "truncated.pdf": ("split", "CorruptDocument"),
    "notes.pdf": ("read", "UnsupportedFormat"),
    "encrypted.pdf": ("split", "EncryptedDocument"),
}


def make_broken(directory: Path) -> List[Path]:
    return [
        make_empty(directory),
        make_random_bytes(directory),
        make_truncated_pdf(directory),
        make_text_as_pdf(directory),
        make_encrypted_pdf(directory),
    ]


def make_mixed_folder(directory: Path) -> Path:
    """Every kind of input together: born-digital, scans, photos, and the broken ones."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    make_invoice_pdf(directory)
    make_scanned_pdf(directory)
    make_tiff(directory)
    make_png(directory)
    make_exif_jpeg(directory)
    make_png_named_pdf(directory)
    make_broken(directory)
    return directory
