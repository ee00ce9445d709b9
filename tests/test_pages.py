"""models/pages.py: opening documents and reading single pages, without Beam."""

from __future__ import annotations

import threading

import pytest

from paperbeam.errors import CorruptDocument, EncryptedDocument, LimitExceeded
from paperbeam.models import formats
from paperbeam.models.pages import (
    PageOptions,
    _OpenDocument,
    count_pages,
    read_image_page,
    read_pdf_page,
    text_layer_usable,
)
from paperbeam.records import SOURCE_TEXT_LAYER, Word

import fixtures as F


def _words(*texts):
    return [Word(t, (10.0 * i, 0.0, 10.0 * i + 8, 10.0)) for i, t in enumerate(texts)]


def _open(path, **options):
    opts = PageOptions(**options)
    data = path.read_bytes()
    return _OpenDocument(data, formats.sniff(data), opts), opts


# -- text_layer_usable ---------------------------------------------------------


def test_text_layer_with_words_is_usable():
    assert text_layer_usable(_words("Invoice", "No", "INV-1042"), image_area_share=0.0, min_words=3)


def test_no_words_is_unusable():
    assert not text_layer_usable([], image_area_share=0.0, min_words=3)


def test_cid_glyphs_are_unusable():
    junk = _words("(cid:12)(cid:7)(cid:44)", "(cid:3)(cid:9)", "ok")
    assert not text_layer_usable(junk, image_area_share=0.0, min_words=3)


def test_replacement_and_control_characters_are_unusable():
    assert not text_layer_usable(_words("\ufffd\ufffd\ufffd", "\x01\x02", "a"), image_area_share=0.0, min_words=3)


def test_a_few_cid_glyphs_among_text_are_still_usable():
    words = _words("Invoice", "number", "INV-1042", "total", "1,234.56", "(cid:3)")
    assert text_layer_usable(words, image_area_share=0.0, min_words=3)


def test_scan_with_a_stamped_page_number_is_unusable():
    # a full-page image with two words on top is a scan, not a text page
    assert not text_layer_usable(_words("Page", "1"), image_area_share=0.95, min_words=3)
    # the same two words on a page without a big image are a (short) text page
    assert text_layer_usable(_words("Page", "1"), image_area_share=0.1, min_words=3)


def test_scan_with_a_full_ocr_layer_is_usable():
    assert text_layer_usable(_words("ACME", "Invoice", "INV-1042", "Total"), image_area_share=0.95, min_words=3)


# -- count_pages ---------------------------------------------------------------


def test_count_pages_pdf(docs_dir, tmp_path):
    assert count_pages((docs_dir / "invoice.pdf").read_bytes(), formats.PDF, PageOptions()) == 1
    three = F.draw_pdf(F.INVOICE, tmp_path / "three.pdf", pages=3)
    assert count_pages(three.read_bytes(), formats.PDF, PageOptions()) == 3


def test_count_pages_tiff(docs_dir):
    assert count_pages((docs_dir / "scan.tiff").read_bytes(), formats.TIFF, PageOptions()) == 2


def test_count_pages_png_is_one(docs_dir):
    assert count_pages((docs_dir / "receipt.png").read_bytes(), formats.PNG, PageOptions()) == 1


def test_max_pages(tmp_path):
    three = F.draw_pdf(F.INVOICE, tmp_path / "three.pdf", pages=3)
    with pytest.raises(LimitExceeded) as err:
        count_pages(three.read_bytes(), formats.PDF, PageOptions(max_pages=2))
    assert "3 pages" in str(err.value) and "--max-pages" in str(err.value) and "2" in str(err.value)


def test_truncated_pdf_is_corrupt(docs_dir):
    with pytest.raises(CorruptDocument):
        count_pages((docs_dir / "truncated.pdf").read_bytes(), formats.PDF, PageOptions())


# -- born-digital PDF: the text layer --------------------------------------------


def test_born_digital_page_comes_from_the_text_layer(docs_dir):
    doc, opts = _open(docs_dir / "invoice.pdf")
    page, image = read_pdf_page(doc, 1, opts, threading.RLock())
    assert image is None
    assert page.source == SOURCE_TEXT_LAYER
    assert page.unit == "pt"
    assert (page.width, page.height) == pytest.approx(F.A4)
    texts = [w.text for w in page.words]
    for word in ("ACME", "INV-1042", "19/10/2018", "1,234.56", "Subtotal"):
        assert word in texts


def test_word_boxes_are_where_reportlab_drew_them(docs_dir):
    doc, opts = _open(docs_dir / "invoice.pdf")
    page, _ = read_pdf_page(doc, 1, opts, threading.RLock())
    drawn = dict(F.word_boxes(F.INVOICE))
    for text in ("INV-1042", "EUR", "ACME"):
        word = next(w for w in page.words if w.text == text)
        x0, top, x1, bottom = drawn[text]
        # the centre of the glyphs reportlab drew lies inside the box read back
        cx, cy = (x0 + x1) / 2, (top + bottom) / 2
        assert word.bbox[0] <= cx <= word.bbox[2] and word.bbox[1] <= cy <= word.bbox[3], (text, word.bbox, drawn[text])
        # and the box starts and ends where the string does (points, top-left origin)
        assert word.bbox[0] == pytest.approx(x0, abs=0.5)
        assert word.bbox[2] == pytest.approx(x1, abs=0.5)


def test_text_layer_keeps_table_columns_apart(docs_dir):
    doc, opts = _open(docs_dir / "invoice.pdf")
    page, _ = read_pdf_page(doc, 1, opts, threading.RLock())
    by_text = {w.text: w for w in page.words}
    # "Subtotal" and its amount share a row but are far apart: two lines
    assert by_text["Subtotal"].line != by_text["1,037.45"].line
    assert by_text["Invoice"].line == by_text["INV-1042"].line


def test_force_ocr_renders_a_text_page(docs_dir):
    doc, opts = _open(docs_dir / "invoice.pdf", force_ocr=True, dpi=72)
    page, image = read_pdf_page(doc, 1, opts, threading.RLock())
    assert page is None and image is not None


# -- image-only PDF: rendered for OCR at the configured dpi ------------------------


@pytest.mark.parametrize("dpi", [100, 150])
def test_image_only_pdf_is_rendered_at_the_configured_dpi(docs_dir, dpi):
    doc, opts = _open(docs_dir / "scanned.pdf", dpi=dpi)
    page, image = read_pdf_page(doc, 1, opts, threading.RLock())
    assert page is None
    assert image.dpi == dpi
    w, h = image.image.size
    assert w == pytest.approx(F.A4[0] * dpi / 72, abs=2)
    assert h == pytest.approx(F.A4[1] * dpi / 72, abs=2)


def test_pdf_render_over_max_pixels(docs_dir):
    doc, opts = _open(docs_dir / "scanned.pdf", dpi=300, max_pixels=1_000_000)
    with pytest.raises(LimitExceeded) as err:
        read_pdf_page(doc, 1, opts, threading.RLock())
    message = str(err.value)
    assert "--max-pixels" in message and "1,000,000" in message
    # the value it would have been: A4 at 300 dpi, about 2480 x 3508
    import re

    w, h, pixels = re.search(r"(\d+) x (\d+) = ([\d,]+) pixels", message).groups()
    assert abs(int(w) - 2480) <= 1 and abs(int(h) - 3508) <= 1
    assert int(pixels.replace(",", "")) == int(w) * int(h)


# -- encrypted PDF ------------------------------------------------------------------


def test_encrypted_without_password(docs_dir):
    with pytest.raises(EncryptedDocument) as err:
        count_pages((docs_dir / "encrypted.pdf").read_bytes(), formats.PDF, PageOptions())
    assert "no password" in str(err.value)
    assert "--pdf-password-file" in str(err.value)


def test_encrypted_with_wrong_password(docs_dir):
    with pytest.raises(EncryptedDocument) as err:
        count_pages((docs_dir / "encrypted.pdf").read_bytes(), formats.PDF, PageOptions(pdf_password="wrong"))
    assert "does not open it" in str(err.value)


def test_encrypted_with_right_password(docs_dir):
    data = (docs_dir / "encrypted.pdf").read_bytes()
    assert count_pages(data, formats.PDF, PageOptions(pdf_password="secret")) == 1
    doc, opts = _open(docs_dir / "encrypted.pdf", pdf_password="secret")
    page, image = read_pdf_page(doc, 1, opts, threading.RLock())
    assert image is None and page.source == SOURCE_TEXT_LAYER
    assert "INV-1042" in [w.text for w in page.words]


# -- images ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["photo.jpg", "photo8.jpg"])
def test_exif_orientation_is_applied(docs_dir, name):
    from PIL import Image

    path = docs_dir / name
    stored = Image.open(path).size
    upright = F.render(F.RECEIPT, 200)
    assert stored == (upright.height, upright.width)  # the file holds the page turned
    doc, opts = _open(path)
    image = read_image_page(doc, 1, opts)
    assert image.image.size == upright.size
    # upright means the same pixels, not only the same size: the turned page differs a lot
    diff = sum(abs(a - b) for a, b in zip(image.image.convert("L").getdata(), upright.getdata())) / (upright.width * upright.height)
    assert diff < 8, diff
    assert image.dpi == 200


def test_tiff_frames_are_pages(docs_dir):
    doc, opts = _open(docs_dir / "scan.tiff")
    first = read_image_page(doc, 1, opts)
    second = read_image_page(doc, 2, opts)
    assert first.image.size == second.image.size == F.render(F.RECEIPT, 200).size


def test_image_over_max_pixels(docs_dir):
    doc, opts = _open(docs_dir / "receipt.png", max_pixels=10_000)
    with pytest.raises(LimitExceeded) as err:
        read_image_page(doc, 1, opts)
    w, h = F.render(F.RECEIPT, 200).size
    message = str(err.value)
    assert f"{w} x {h} = {w * h:,} pixels" in message
    assert "--max-pixels" in message and "10,000" in message
