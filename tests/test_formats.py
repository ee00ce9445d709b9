"""formats.sniff: the type of a file comes from its first bytes, never its name."""

from __future__ import annotations

import pytest

from paperbeam.errors import EmptyDocument, UnsupportedFormat
from paperbeam.models import formats


def test_pdf_with_junk_before_the_header(docs_dir):
    pdf = (docs_dir / "invoice.pdf").read_bytes()
    assert formats.sniff(b"\x00\x00garbage from a mail gateway\r\n" + pdf) == formats.PDF


def test_pdf_header_past_the_first_kib_is_not_a_pdf():
    with pytest.raises(UnsupportedFormat):
        formats.sniff(b"x" * 2000 + b"%PDF-1.4\n")


@pytest.mark.parametrize(
    "name, expected",
    [
        ("invoice.pdf", formats.PDF),
        ("scanned.pdf", formats.PDF),
        ("receipt.png", formats.PNG),
        ("photo.jpg", formats.JPEG),
        ("scan.tiff", formats.TIFF),
        ("png-named.pdf", formats.PNG),  # magic bytes win over the extension
    ],
)
def test_real_files(docs_dir, name, expected):
    assert formats.sniff((docs_dir / name).read_bytes()) == expected


@pytest.mark.parametrize("head", [b"II*\x00\x08\x00\x00\x00", b"MM\x00*\x00\x00\x00\x08", b"II+\x00\x08\x00\x00\x00"])
def test_tiff_both_byte_orders_and_bigtiff(head):
    assert formats.sniff(head + b"\x00" * 64) == formats.TIFF


def test_empty_is_empty_document():
    with pytest.raises(EmptyDocument) as err:
        formats.sniff(b"")
    assert "0 bytes" in str(err.value)


@pytest.mark.parametrize(
    "data, says",
    [
        (b"PK\x03\x04\x14\x00\x00\x00rest of a zip", "ZIP"),
        (b"\n  <!DOCTYPE html><html><body>Invoice</body></html>", "HTML"),
        (b"<html><head></head></html>", "HTML"),
        (b"\x1f\x8b\x08\x00", "gzip"),
    ],
)
def test_other_formats_say_what_they_are(data, says):
    with pytest.raises(UnsupportedFormat) as err:
        formats.sniff(data)
    assert says in str(err.value)
    assert "convert" in str(err.value).lower()  # the hint says what to do


def test_text_and_noise_are_unsupported(docs_dir):
    for name in ("notes.pdf", "random.pdf"):
        with pytest.raises(UnsupportedFormat):
            formats.sniff((docs_dir / name).read_bytes())
