"""Tell what a file is from its first bytes, never from its name.

A nightly folder holds ``scan.pdf`` files that are JPEGs and ``invoice``
files with no extension at all; the extension is a hint people get wrong.
"""

from __future__ import annotations

from paperbeam.errors import EmptyDocument, UnsupportedFormat

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
TIFF = "image/tiff"
GIF = "image/gif"
BMP = "image/bmp"
WEBP = "image/webp"

IMAGE_TYPES = (PNG, JPEG, TIFF, GIF, BMP, WEBP)
SUPPORTED = (PDF,) + IMAGE_TYPES

# What other files look like, so the error can say what was found.
_KNOWN_OTHERS = (
    (b"PK\x03\x04", "a ZIP archive (or an Office document: convert it to PDF first)"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office file (convert it to PDF first)"),
    (b"<!DOCTYPE html", "an HTML page"),
    (b"<html", "an HTML page"),
    (b"{", "a JSON file"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
)


def sniff(data: bytes) -> str:
    """The media type of ``data``; raises a DocumentError saying what it is instead."""
    if not data:
        raise EmptyDocument("The file is empty (0 bytes).")
    head = data[:1024]
    # Some PDF writers put junk before the header; readers accept it within the first 1 KiB.
    if b"%PDF-" in head:
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return TIFF
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head.startswith(b"BM"):
        return BMP
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return WEBP
    stripped = head.lstrip().lower()
    for magic, what in _KNOWN_OTHERS:
        if stripped.startswith(magic.lower()):
            raise UnsupportedFormat(f"The file is {what}, not a document paperbeam can read.")
    raise UnsupportedFormat("The file is not a PDF or an image (its first bytes match no known format).")
