"""A hostile corpus: broken, odd and malicious inputs, built byte by byte.

``build(directory)`` writes every file of ``CORPUS`` into ``directory`` and
returns the entries. Each entry names its file, the class of input it stands
for, and the outcomes it may end in: ``"record"`` or the name of the
``DocumentError`` subclass of its dead letter. A few inputs have two accepted
outcomes where a library may legitimately repair them (pdfium rebuilds a
broken xref table); the test still demands exactly one outcome per input.

Everything is deterministic (fixed seeds, fixed PDF dates, no clock), so a
failure can be reproduced on the same bytes. The bombs are small on disk: a
header that claims gigapixels over a few bytes of data, or a real zlib stream
of zeros. Nothing here is ever decoded at full size by a correct reader.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, FrozenSet, List, Sequence, Tuple

import fixtures as F

RECORD = "record"


@dataclass(frozen=True)
class Entry:
    name: str
    kind: str  # the class of input, for the outcome table
    expected: FrozenSet[str]  # "record" and/or DocumentError class names
    make: Callable[[], bytes]
    why: str = ""


def _ok(*names: str) -> FrozenSet[str]:
    return frozenset(names)


# -- raw builders ------------------------------------------------------------------------


def raw_pdf(objects: Sequence[bytes], root: int = 1, trailer: bytes = b"", version: bytes = b"1.4") -> bytes:
    """A PDF from object bodies (object i+1 is ``objects[i]``) with a correct xref table."""
    out = io.BytesIO()
    out.write(b"%PDF-" + version + b"\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root %d 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, trailer, xref))
    return out.getvalue()


def _stream(dictionary: bytes, data: bytes) -> bytes:
    return b"<< " + dictionary + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


_TEXT = b"BT /F1 12 Tf 72 720 Td (Invoice INV-2001 Total EUR 99.00) Tj ET"
_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def simple_pdf(extra_catalog: bytes = b"", media_box: bytes = b"[0 0 612 792]", content: bytes = _TEXT,
               page_extra: bytes = b"", extra_objects: Sequence[bytes] = ()) -> bytes:
    """One page of text; ``extra_objects`` are numbered from 6 on."""
    return raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R " + extra_catalog + b">>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox " + media_box + b" /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> "
        + page_extra + b">> >>",
        _stream(b"", content),
        _FONT,
        *extra_objects,
    ])


def _invoice_pdf(**kw) -> bytes:
    buf = io.BytesIO()
    F.draw_pdf(F.INVOICE, buf, **kw)
    return buf.getvalue()


def _image_bytes(fmt: str, render_dpi: int = 100, mode: str = "L", **save) -> bytes:
    img = F.render(F.RECEIPT, render_dpi)
    if mode != "L":
        img = img.convert(mode)
    buf = io.BytesIO()
    img.save(buf, fmt, **save)
    return buf.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(width: int, height: int, rows: int = 8) -> bytes:
    """A PNG whose header claims ``width x height`` 1-bit pixels, with a few real rows of data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    idat = zlib.compress(row * rows, 9)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def tiff(frames: Sequence[Tuple[int, int]], compression: int = 4, data: bytes = b"\x00" * 16,
         first_ifd: int = None) -> bytes:
    """A little-endian TIFF with one IFD per (width, height), each a 1-bit strip of ``data`` (CCITT G4 by default)."""
    out = bytearray(b"II*\x00" + b"\x00\x00\x00\x00")
    data_off = len(out)
    out += data
    ifd_offsets = []
    for n, (w, h) in enumerate(frames):
        if len(out) % 2:
            out += b"\x00"
        ifd_offsets.append(len(out))
        tags = [
            (256, 4, 1, w), (257, 4, 1, h), (258, 3, 1, 1), (259, 3, 1, compression), (262, 3, 1, 0),
            (273, 4, 1, data_off), (277, 3, 1, 1), (278, 4, 1, h), (279, 4, 1, len(data)),
        ]
        out += struct.pack("<H", len(tags))
        for tag, typ, count, value in tags:
            packed = struct.pack("<H", value) + b"\x00\x00" if typ == 3 else struct.pack("<I", value)
            out += struct.pack("<HHI", tag, typ, count) + packed
        out += b"\x00\x00\x00\x00"  # next IFD, patched below
    for this, nxt in zip(ifd_offsets, ifd_offsets[1:]):
        count = struct.unpack_from("<H", out, this)[0]
        struct.pack_into("<I", out, this + 2 + 12 * count, nxt)
    struct.pack_into("<I", out, 4, ifd_offsets[0] if first_ifd is None else first_ifd)
    return bytes(out)


def _zeros_zlib(total: int, chunk: int = 1 << 20) -> bytes:
    z = zlib.compressobj(9)
    block = b"\x00" * chunk
    parts = []
    left = total
    while left > 0:
        parts.append(z.compress(block[: min(chunk, left)]))
        left -= chunk
    parts.append(z.flush())
    return b"".join(parts)


def pdf_image_bomb(width: int, height: int, real: bool) -> bytes:
    """A letter-size page painting one 1-bit image XObject of ``width x height`` pixels.

    ``real``: the Flate stream really holds all the pixels (zeros, ~1000:1);
    otherwise the header lies over a few bytes (a JBIG2 stream claiming the size).
    """
    if real:
        image = _stream(b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
                        b"/BitsPerComponent 1 /Filter /FlateDecode" % (width, height),
                        _zeros_zlib((width + 7) // 8 * height))
    else:
        image = _stream(b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
                        b"/BitsPerComponent 1 /Filter /JBIG2Decode" % (width, height),
                        b"\x00\x00\x00\x00\x30\x00\x01\x00\x00\x00\x13" + b"\x00" * 32)
    return simple_pdf(content=b"q 612 0 0 792 0 0 cm /Im1 Do Q", page_extra=b"/XObject << /Im1 6 0 R >>",
                      extra_objects=[image])


def many_pages_pdf(n: int) -> bytes:
    """``n`` pages sharing one content stream: tiny on disk, over --max-pages when n is large."""
    first_page = 5
    kids = b" ".join(b"%d 0 R" % (first_page + i) for i in range(n))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % n,
        _stream(b"", _TEXT),
        _FONT,
    ]
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R /Resources << /Font << /F1 4 0 R >> >> >>"
    objects += [page] * n
    return raw_pdf(objects)


def _replace_once(data: bytes, old: bytes, new: bytes) -> bytes:
    assert old in data, old
    return data.replace(old, new, 1)


def _broken_xref_offsets() -> bytes:
    data = simple_pdf()
    head, _, tail = data.partition(b"xref\n")
    lines = tail.split(b"\n")
    lines = [b"%010d 00000 n " % (7 * i + 3) if line.endswith(b" n ") else line for i, line in enumerate(lines)]
    return head + b"xref\n" + b"\n".join(lines)


def _no_xref() -> bytes:
    data = simple_pdf()
    return data[: data.index(b"xref\n")] + b"%%EOF\n"


def _startxref_past_end() -> bytes:
    data = simple_pdf()
    head, _, tail = data.rpartition(b"startxref\n")
    return head + b"startxref\n999999999\n%%EOF\n"


def _xref_prev_loop() -> bytes:
    data = simple_pdf()
    xref = data.rindex(b"xref\n")
    return _replace_once(data, b"/Root 1 0 R", b"/Root 1 0 R /Prev %d" % xref)


def _page_tree_cycle() -> bytes:
    # the page tree's Kids point back at the tree itself
    return raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
        b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>",
    ])


def _no_pages() -> bytes:
    return raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"])


def _wrong_stream_length() -> bytes:
    return _replace_once(simple_pdf(), b"/Length %d" % len(_TEXT), b"/Length 99999")


def _javascript() -> bytes:
    js = b"<< /S /JavaScript /JS (app.alert('pwned'); this.exportDataObject({cName: 'a', nLaunch: 2});) >>"
    return simple_pdf(extra_catalog=b"/OpenAction 6 0 R /Names << /JavaScript << /Names [(x) 6 0 R] >> >>",
                      extra_objects=[js])


def _embedded_file() -> bytes:
    payload = b"MZ\x90\x00 this pretends to be an executable attachment"
    return simple_pdf(
        extra_catalog=b"/Names << /EmbeddedFiles << /Names [(../../evil.exe) 7 0 R] >> >>",
        extra_objects=[
            _stream(b"/Type /EmbeddedFile", payload),
            b"<< /Type /Filespec /F (../../evil.exe) /UF (../../evil.exe) /EF << /F 6 0 R >> >>",
        ],
    )


def _launch_action() -> bytes:
    return simple_pdf(extra_catalog=b"/OpenAction << /S /Launch /F (/bin/sh) /Win << /F (cmd.exe) >> >>")


def _owner_password_only() -> bytes:
    from reportlab.lib.pdfencrypt import StandardEncryption

    return _invoice_pdf(password=StandardEncryption("", ownerPassword="owner-only", canPrint=0))


def _truncated(keep_fraction: float) -> bytes:
    data = _invoice_pdf()
    return data[: int(len(data) * keep_fraction)]


def _jpeg() -> bytes:
    return _image_bytes("JPEG", quality=80)


def _jpeg_bad_sof() -> bytes:
    data = bytearray(_jpeg())
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">H", data, sof + 5, 0)  # height 0
    return bytes(data)


def _jpeg_bad_marker() -> bytes:
    data = _jpeg()
    sos = data.index(b"\xff\xda")
    return data[:sos] + b"\xff\x01\x00\x00\xff\xfe\xff\xff" + data[sos:]  # reserved marker, bad COM length


def _jpeg_garbage_scan() -> bytes:
    data = bytearray(_jpeg())
    sos = data.index(b"\xff\xda")
    rng = random.Random(11)
    for i in range(sos + 20, len(data) - 2, 97):
        byte = rng.randrange(256)
        data[i] = byte if byte != 0xFF else 0x00
    return bytes(data)


def _jpeg_huge_header() -> bytes:
    data = bytearray(_jpeg())
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, 65000, 65000)
    return bytes(data)


def _gif_huge_screen() -> bytes:
    return (b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\x80\x00\x00" + b"\x00\x00\x00\xff\xff\xff"
            + b"\x2c" + struct.pack("<HHHH", 0, 0, 65535, 65535) + b"\x00" + b"\x02\x02\x44\x01\x00" + b"\x3b")


def _bmp_huge() -> bytes:
    w, h = 100_000, 100_000
    header = b"BM" + struct.pack("<IHHI", 54 + 16, 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, 16, 2835, 2835, 0, 0)
    return header + info + b"\x00" * 16


def _png_bad_crc() -> bytes:
    data = bytearray(_image_bytes("PNG"))
    data[29] ^= 0xFF  # inside the IHDR chunk's CRC
    return bytes(data)


def _png_with_pdf_marker() -> bytes:
    # a polyglot-ish PNG: a text chunk saying %PDF- inside the first KiB
    png = _image_bytes("PNG")
    chunk = _png_chunk(b"tEXt", b"Comment\x00%PDF-1.7 not really")
    return png[:33] + chunk + png[33:]


def _webp_truncated() -> bytes:
    return _image_bytes("WEBP", quality=50)[:200]


def _tiff_ccitt() -> bytes:
    return _image_bytes("TIFF", mode="1", compression="group4", dpi=(100, 100))


def _random(size: int, seed: int) -> bytes:
    data = random.Random(seed).randbytes(size)
    return b"\x00" + data[1:]  # never a magic number


def _zip() -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("../../../etc/cron.d/evil", date_time=(2024, 1, 1, 0, 0, 0))
        zf.writestr(info, b"* * * * * root sh -c 'echo pwned'\n")
    return buf.getvalue()


def _blank_page_pdf() -> bytes:
    return simple_pdf(content=b"")


def _zero_mediabox() -> bytes:
    return simple_pdf(media_box=b"[0 0 0 0]")


def _negative_mediabox() -> bytes:
    return simple_pdf(media_box=b"[0 0 -612 -792]")


def _huge_mediabox() -> bytes:
    # the largest page PDF allows, times a UserUnit of 75: ~1 km square
    return simple_pdf(media_box=b"[0 0 14400 14400] /UserUnit 75", content=b"")


def _huge_page_no_userunit() -> bytes:
    return simple_pdf(media_box=b"[0 0 14400 14400]", content=b"")


def _content_garbage() -> bytes:
    return simple_pdf(content=b"BT /F9 12 Tf ((((((( Tj ] ET q q q q Q Q 1 0 0 0 0 cm /Nope Do 9e999 9e999 re f")


def _deep_nesting() -> bytes:
    # an array nested 100,000 deep: parsers that recurse blow their stack
    return simple_pdf(extra_catalog=b"/Junk " + b"[" * 100_000 + b"]" * 100_000 + b" ")


def _junk_before_header() -> bytes:
    return b"X-Mailer junk line\r\n" * 10 + _invoice_pdf()


def _garbage_after_eof() -> bytes:
    return _invoice_pdf() + _random(5000, 3)


CORPUS: List[Entry] = [
    # -- empty and noise
    Entry("zero-bytes.pdf", "empty", _ok("EmptyDocument"), lambda: b""),
    Entry("zero-bytes-no-extension", "empty", _ok("EmptyDocument"), lambda: b""),
    Entry("one-byte.pdf", "random bytes", _ok("UnsupportedFormat"), lambda: b"%"),
    Entry("random-4k.pdf", "random bytes", _ok("UnsupportedFormat"), lambda: _random(4096, 7)),
    Entry("random-64k.png", "random bytes", _ok("UnsupportedFormat"), lambda: _random(65536, 8)),
    Entry("random-1k.tiff", "random bytes", _ok("UnsupportedFormat"), lambda: _random(1024, 9)),
    # -- wrong extensions and other formats
    Entry("invoice-pdf-named.jpg", "wrong extension", _ok(RECORD), _invoice_pdf),
    Entry("receipt-png-named.pdf", "wrong extension", _ok(RECORD), lambda: _image_bytes("PNG")),
    Entry("receipt-jpeg-named.tiff", "wrong extension", _ok(RECORD), _jpeg),
    Entry("invoice-no-extension", "wrong extension", _ok(RECORD), _invoice_pdf),
    Entry("notes-text.pdf", "not a document", _ok("UnsupportedFormat"),
          lambda: b"Invoice INV-1042\nTotal EUR 1,234.56\nplain text, not a PDF\n"),
    Entry("page-html.pdf", "not a document", _ok("UnsupportedFormat"), lambda: b"<!DOCTYPE html><html><script>alert(1)</script></html>"),
    Entry("archive-zip-slip.pdf", "not a document", _ok("UnsupportedFormat"), _zip),
    Entry("archive.gz.pdf", "not a document", _ok("UnsupportedFormat"), lambda: b"\x1f\x8b\x08\x00" + b"\x00" * 60),
    Entry("program-elf.pdf", "not a document", _ok("UnsupportedFormat"), lambda: b"\x7fELF\x02\x01\x01" + b"\x00" * 120),
    Entry("scan.jb2", "not a document", _ok("UnsupportedFormat"),
          lambda: b"\x97JB2\r\n\x1a\n\x01\x00\x00\x00\x01" + b"\x00\x00\x00\x00\x30\x00\x01\x00\x00\x00\x13"
          + struct.pack(">IIII", 200_000, 200_000, 0, 0) + b"\x00" * 3),
    Entry("photo.heic", "not a document", _ok("UnsupportedFormat"), lambda: b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64),
    # -- truncated PDFs
    Entry("pdf-header-only.pdf", "truncated PDF", _ok("CorruptDocument"), lambda: b"%PDF-1.7\n"),
    Entry("truncated-600-bytes.pdf", "truncated PDF", _ok("CorruptDocument"), lambda: _invoice_pdf()[:600]),
    Entry("truncated-half.pdf", "truncated PDF", _ok("CorruptDocument", RECORD), lambda: _truncated(0.5)),
    Entry("truncated-no-trailer.pdf", "truncated PDF", _ok(RECORD, "CorruptDocument"), lambda: _truncated(0.97)),
    # -- broken structure
    Entry("xref-offsets-wrong.pdf", "broken xref", _ok(RECORD, "CorruptDocument"), _broken_xref_offsets),
    Entry("xref-missing.pdf", "broken xref", _ok(RECORD, "CorruptDocument"), _no_xref),
    Entry("startxref-past-end.pdf", "broken xref", _ok(RECORD, "CorruptDocument"), _startxref_past_end),
    Entry("xref-prev-loop.pdf", "broken xref", _ok(RECORD, "CorruptDocument"), _xref_prev_loop),
    Entry("stream-length-wrong.pdf", "broken structure", _ok(RECORD, "CorruptDocument"), _wrong_stream_length),
    Entry("page-tree-cycle.pdf", "broken structure", _ok("CorruptDocument"), _page_tree_cycle),
    Entry("no-pages.pdf", "broken structure", _ok("CorruptDocument"), _no_pages),
    Entry("content-stream-garbage.pdf", "broken structure", _ok(RECORD), _content_garbage),
    Entry("array-nested-100k-deep.pdf", "broken structure", _ok(RECORD, "CorruptDocument"), _deep_nesting),
    Entry("junk-before-header.pdf", "broken structure", _ok(RECORD), _junk_before_header),
    Entry("garbage-after-eof.pdf", "broken structure", _ok(RECORD), _garbage_after_eof),
    Entry("mediabox-zero.pdf", "odd page box", _ok(RECORD, "CorruptDocument"), _zero_mediabox),
    Entry("mediabox-negative.pdf", "odd page box", _ok(RECORD, "CorruptDocument"), _negative_mediabox),
    Entry("blank-page.pdf", "odd page box", _ok(RECORD), _blank_page_pdf),
    # -- huge pages and decompression bombs
    Entry("page-14400pt-square.pdf", "bomb / huge page", _ok("LimitExceeded"), _huge_page_no_userunit),
    Entry("page-userunit-75.pdf", "bomb / huge page", _ok("LimitExceeded"), _huge_mediabox),
    Entry("pdf-flate-image-40000x40000.pdf", "bomb / huge page", _ok("LimitExceeded"), lambda: pdf_image_bomb(40_000, 40_000, real=True)),
    Entry("pdf-jbig2-image-200000x200000.pdf", "bomb / huge page", _ok("LimitExceeded"), lambda: pdf_image_bomb(200_000, 200_000, real=False)),
    Entry("png-100000x100000.png", "bomb / huge page", _ok("LimitExceeded"), lambda: png_bomb(100_000, 100_000)),
    Entry("tiff-ccitt-1bit-80000x80000.tiff", "bomb / huge page", _ok("LimitExceeded"), lambda: tiff([(80_000, 80_000)])),
    Entry("tiff-second-frame-huge.tiff", "bomb / huge page", _ok("LimitExceeded"),
          lambda: tiff([(64, 64), (90_000, 90_000)], compression=1, data=b"\xff" * 512)),
    Entry("jpeg-65000x65000-header.jpg", "bomb / huge page", _ok("LimitExceeded"), _jpeg_huge_header),
    Entry("gif-65535x65535.gif", "bomb / huge page", _ok("LimitExceeded"), _gif_huge_screen),
    Entry("bmp-100000x100000.bmp", "bomb / huge page", _ok("LimitExceeded"), _bmp_huge),
    Entry("pdf-6000-pages.pdf", "bomb / huge page", _ok("LimitExceeded"), lambda: many_pages_pdf(6000)),
    # -- damaged images
    Entry("jpeg-soi-eoi-only.jpg", "damaged image", _ok("CorruptDocument"), lambda: b"\xff\xd8\xff\xd9"),
    Entry("jpeg-truncated.jpg", "damaged image", _ok("CorruptDocument"), lambda: _jpeg()[:700]),
    Entry("jpeg-height-zero.jpg", "damaged image", _ok("CorruptDocument"), _jpeg_bad_sof),
    Entry("jpeg-reserved-marker.jpg", "damaged image", _ok("CorruptDocument", RECORD), _jpeg_bad_marker),
    Entry("jpeg-garbage-scan-data.jpg", "damaged image", _ok(RECORD, "CorruptDocument"), _jpeg_garbage_scan),
    Entry("png-bad-crc.png", "damaged image", _ok("CorruptDocument"), _png_bad_crc),
    Entry("png-truncated.png", "damaged image", _ok("CorruptDocument"), lambda: _image_bytes("PNG")[:300]),
    Entry("png-with-pdf-marker.png", "damaged image", _ok("CorruptDocument", RECORD), _png_with_pdf_marker),
    Entry("tiff-ifd-offset-past-end.tiff", "damaged image", _ok("CorruptDocument"), lambda: tiff([(64, 64)], first_ifd=10_000_000)),
    Entry("webp-truncated.webp", "damaged image", _ok("CorruptDocument"), _webp_truncated),
    # -- odd but valid
    Entry("tiff-ccitt-g4-1bit.tiff", "1-bit CCITT TIFF", _ok(RECORD), _tiff_ccitt),
    Entry("Rechnung März 2024 (Kopie) ; rm -rf.pdf", "odd name", _ok(RECORD), _invoice_pdf),
    Entry("..%2f..%2fescape.pdf", "odd name", _ok(RECORD), _invoice_pdf),
    # -- passwords and active content
    Entry("password-user-secret.pdf", "password PDF", _ok("EncryptedDocument"), lambda: _invoice_pdf(password="secret")),
    Entry("password-owner-only.pdf", "password PDF", _ok(RECORD), _owner_password_only),
    Entry("javascript-openaction.pdf", "active content", _ok(RECORD), _javascript),
    Entry("embedded-file-path-escape.pdf", "active content", _ok(RECORD), _embedded_file),
    Entry("launch-action.pdf", "active content", _ok(RECORD), _launch_action),
]

BY_NAME: Dict[str, Entry] = {e.name: e for e in CORPUS}
assert len(BY_NAME) == len(CORPUS), "corpus names must be unique"


def build(directory: Path) -> List[Entry]:
    """Write every corpus file into ``directory``; returns the entries."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for entry in CORPUS:
        (directory / entry.name).write_bytes(entry.make())
    return list(CORPUS)


# -- hostile OCR engines, registered as real plugins for a test ----------------------------

ENGINES_SOURCE = '''
"""OCR engines that misbehave on purpose (written by tests/corpus.py for one test)."""
import os
import subprocess
import time

from paperbeam.models.ocr.base import OcrEngine, OcrResult
from paperbeam.records import Word


class FastEngine(OcrEngine):
    """Reads every page instantly as one word; the marker lets tests find it in the records."""

    name = "test-fast"

    def __init__(self, **options):
        self.options = options

    def version(self):
        return "test-fast 0"

    def recognize(self, image, dpi=None):
        return OcrResult(words=[Word(os.environ.get("PB_TEST_WORD", "Total"), (1.0, 1.0, 5.0, 5.0), 0.9, 0)],
                         width=image.size[0], height=image.size[1], engine="test-fast 0")


def _note_pid(pid):
    path = os.environ.get("PB_TEST_PIDFILE")
    if path:
        with open(path, "a") as fh:
            fh.write(f"{pid}\\n")


class HangEngine(FastEngine):
    """Starts an OCR process that never finishes, and waits for it (a hung tesseract)."""

    def recognize(self, image, dpi=None):
        proc = subprocess.Popen(["sleep", "600"])
        _note_pid(proc.pid)
        proc.wait()
        raise RuntimeError(f"the OCR process ended with {proc.returncode}")


class PythonHangEngine(FastEngine):
    """Hangs inside Python, where nothing can kill it."""

    def recognize(self, image, dpi=None):
        time.sleep(float(os.environ.get("PB_TEST_HANG_SECONDS", "30")))
        return super().recognize(image, dpi)


class SlowEngine(FastEngine):
    """Each page takes PB_TEST_SLOW_SECONDS in an OCR subprocess."""

    def recognize(self, image, dpi=None):
        proc = subprocess.Popen(["sleep", os.environ.get("PB_TEST_SLOW_SECONDS", "1.5")])
        _note_pid(proc.pid)
        proc.wait()
        return super().recognize(image, dpi)


class CrashOnceEngine(FastEngine):
    """Kills its own worker process (os._exit) the first time it runs, as an OOM kill would."""

    def recognize(self, image, dpi=None):
        flag = os.environ["PB_TEST_CRASH_FLAG"]
        try:
            fd = os.open(flag, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return super().recognize(image, dpi)
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        os._exit(137)
'''

ENGINES = {
    "test-fast": "FastEngine",
    "test-hang": "HangEngine",
    "test-python-hang": "PythonHangEngine",
    "test-slow": "SlowEngine",
    "test-crash-once": "CrashOnceEngine",
}


def install_test_engines(directory: Path, monkeypatch) -> Path:
    """Register ``ENGINES`` as ``paperbeam.ocr_engines`` entry points, for this process and the
    worker processes it starts (through PYTHONPATH), exactly as an installed plugin would be."""
    import os
    import sys

    from paperbeam import plugins

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pb_test_engines.py").write_text(ENGINES_SOURCE, encoding="utf-8")
    info = directory / "pb_test_engines-0.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pb-test-engines\nVersion: 0.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        "[paperbeam.ocr_engines]\n" + "".join(f"{n} = pb_test_engines:{c}\n" for n, c in ENGINES.items()), encoding="utf-8")
    monkeypatch.syspath_prepend(str(directory))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(directory)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    plugins.reset()
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    return directory


if __name__ == "__main__":  # python tests/corpus.py DIR: build the corpus by hand
    import sys

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "hostile-corpus")
    for e in build(out):
        print(f"{e.kind:20} {'/'.join(sorted(e.expected)):28} {e.name}")
    print(f"{len(CORPUS)} files in {out}")
