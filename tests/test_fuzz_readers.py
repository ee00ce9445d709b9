"""Fuzzing the readers with hypothesis: valid PDFs, PNGs, TIFFs, JPEGs, GIFs, BMPs,
WebPs, zip archives and emails, mutated (bytes flipped, cut, spliced, numbers
replaced by extreme ones), must only ever raise ``DocumentError`` subclasses,
never anything else, and never hang.

Bounded for CI: about 60 s for the whole file on a shared 2-core machine. Set
``PAPERBEAM_FUZZ_EXAMPLES`` to fuzz longer by hand, e.g. 2000. Every crash
found becomes a file in ``tests/regressions/`` named after the problem, and
``test_regressions`` replays them all on every run.
"""

from __future__ import annotations

import io
import os
import re
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import corpus as C
import fixtures as F
from paperbeam.errors import DocumentError
from paperbeam.models import formats
from paperbeam.models.pages import PageOptions, _OpenDocument, count_pages, read_image_page, read_pdf_page

REGRESSIONS = Path(__file__).parent / "regressions"
EXAMPLES = int(os.environ.get("PAPERBEAM_FUZZ_EXAMPLES", "0")) or None
TIMEOUT = 120 if EXAMPLES is None else 120 + 2 * EXAMPLES  # seconds per test (pytest-timeout): a hang fails
# Small renders keep each example fast; the limits are the code under test, not turned off.
OPTIONS = PageOptions(dpi=36, max_pixels=4_000_000, max_pages=50)


def read_everything(data: bytes, options: PageOptions = OPTIONS) -> int:
    """What the pipeline does with one input short of OCR: sniff, count, read every page."""
    media_type = formats.sniff(data)
    n = count_pages(data, media_type, options)
    doc = _OpenDocument(data, media_type, options)
    try:
        for number in range(1, n + 1):
            if media_type == formats.PDF:
                read_pdf_page(doc, number, options, threading.RLock())
            else:
                read_image_page(doc, number, options)
    finally:
        doc.close()
    return n


def _image(fmt: str, mode: str = "L", **save) -> bytes:
    img = F.render(F.RECEIPT, 36)
    if mode != "L":
        img = img.convert(mode)
    buf = io.BytesIO()
    img.save(buf, fmt, **save)
    return buf.getvalue()


def _scanned_pdf() -> bytes:
    buf = io.BytesIO()
    F.render(F.RECEIPT, 36).save(buf, "PDF", resolution=36.0)
    return buf.getvalue()


SEEDS = {
    "pdf-text": lambda: C._invoice_pdf(),
    "pdf-raw": lambda: C.simple_pdf(),
    "pdf-image": _scanned_pdf,
    "pdf-encrypted": lambda: C._invoice_pdf(password="secret"),
    "png": lambda: _image("PNG"),
    "jpeg": lambda: _image("JPEG", quality=70),
    "tiff-lzw": lambda: _image("TIFF", compression="tiff_lzw"),
    "tiff-g4": lambda: _image("TIFF", mode="1", compression="group4"),
    "gif": lambda: _image("GIF"),
    "bmp": lambda: _image("BMP"),
    "webp": lambda: _image("WEBP", quality=50),
}
_SEED_BYTES = {}


def seed(name: str) -> bytes:
    if name not in _SEED_BYTES:
        _SEED_BYTES[name] = SEEDS[name]()
    return _SEED_BYTES[name]


_NUMBER = re.compile(rb"\d{1,10}")
EXTREMES = [b"0", b"-1", b"4294967295", b"99999999999999999999", b"2147483648", b"1e308", b"-0", b"65535"]


@st.composite
def mutations(draw, data: bytes):
    """One to four edits of ``data``: flips, cuts, inserts, duplicates, extreme numbers."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        if not buf:
            break
        op = draw(st.sampled_from(["flip", "byte", "cut", "truncate", "insert", "duplicate", "number", "delete"]))
        i = draw(st.integers(0, len(buf) - 1))
        if op == "flip":
            buf[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "byte":
            buf[i] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, 0x0A, 0x28, 0x5B, 0x3C]))
        elif op == "cut":
            j = draw(st.integers(i, min(len(buf), i + 4096)))
            del buf[i:j]
        elif op == "truncate":
            del buf[i:]
        elif op == "insert":
            buf[i:i] = draw(st.binary(min_size=1, max_size=64))
        elif op == "duplicate":
            j = draw(st.integers(i, min(len(buf), i + 2048)))
            buf[i:i] = buf[i:j]
        elif op == "delete":
            del buf[i]
        elif op == "number":
            found = [m for m in _NUMBER.finditer(bytes(buf))]
            if found:
                m = found[draw(st.integers(0, len(found) - 1))]
                buf[m.start():m.end()] = draw(st.sampled_from(EXTREMES))
    return bytes(buf)


SAVE = os.environ.get("PAPERBEAM_FUZZ_SAVE")  # a folder: every crashing input is written there too


def _save_crash(data: bytes, exc: BaseException) -> None:
    if SAVE:
        import hashlib

        os.makedirs(SAVE, exist_ok=True)
        name = f"{type(exc).__name__}-{hashlib.sha256(data).hexdigest()[:12]}.bin"
        Path(SAVE, name).write_bytes(data)
        Path(SAVE, name + ".txt").write_text(f"{type(exc).__name__}: {exc}\n", encoding="utf-8")


def _check(data: bytes):
    try:
        read_everything(data)
    except DocumentError as exc:
        assert str(exc).strip()  # a message for the dead letter
    except BaseException as exc:
        _save_crash(data, exc)
        raise


def _fuzz_settings(examples: int):
    return settings(
        max_examples=EXAMPLES or examples,
        deadline=None,  # a slow example is for pytest-timeout, not a flaky deadline on a shared machine
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
        derandomize=EXAMPLES is None,  # CI runs the same examples every time; by hand, new ones
        database=None,
    )


@pytest.mark.timeout(TIMEOUT)
@pytest.mark.parametrize("name", sorted(SEEDS))
def test_mutated_documents_raise_only_document_errors(name):
    base = seed(name)

    @_fuzz_settings(300)
    @given(st.data())
    def run(data):
        _check(data.draw(mutations(base), label="mutated"))

    run()


@pytest.mark.timeout(TIMEOUT)
@_fuzz_settings(300)
@given(st.binary(max_size=2048), st.sampled_from([b"%PDF-1.4\n", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00",
                                                 b"MM\x00*", b"GIF89a", b"BM", b"RIFF\x00\x00\x00\x00WEBP", b""]))
def test_magic_number_followed_by_noise(tail, magic):
    _check(magic + tail)


# -- containers: zip archives and emails -------------------------------------------------------


def _zip_seed() -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("a/invoice.pdf", (2024, 1, 1, 0, 0, 0)), C.simple_pdf())
        zf.writestr(zipfile.ZipInfo("receipt.png", (2024, 1, 1, 0, 0, 0)), seed("png"))
    return buf.getvalue()


def _eml_seed() -> bytes:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "Billing <billing@example.com>"
    msg["To"] = "ap@example.com"
    msg["Subject"] = "Invoice INV-1042"
    msg["Date"] = "Mon, 01 Jan 2024 00:00:00 +0000"
    msg["Message-ID"] = "<1@example.com>"
    msg.set_content("Please find the invoice attached.")
    msg.add_attachment(C.simple_pdf(), maintype="application", subtype="pdf", filename="invoice.pdf")
    return bytes(msg)


def _expand_zip(path: Path):
    from paperbeam.connectors.zip import ZipConfig, expand_archive

    return list(expand_archive(str(path), ZipConfig(pattern=str(path))))


def _expand_eml(path: Path):
    from paperbeam.connectors.email import EmailConfig, expand_container

    return list(expand_container(str(path), EmailConfig(location=str(path))))


@pytest.mark.timeout(TIMEOUT)
@pytest.mark.parametrize("kind", ["zip", "eml"])
def test_mutated_containers_raise_only_document_errors(kind, tmp_path):
    pytest.importorskip(f"paperbeam.connectors.{'zip' if kind == 'zip' else 'email'}")
    from paperbeam.connectors.base import Failed

    base = _zip_seed() if kind == "zip" else _eml_seed()
    expand = _expand_zip if kind == "zip" else _expand_eml
    path = tmp_path / f"fuzz.{kind}"

    @_fuzz_settings(200)
    @given(st.data())
    def run(data):
        path.write_bytes(data.draw(mutations(base), label="mutated"))
        try:
            found = expand(path)
        except DocumentError:
            return
        for item in found:
            if isinstance(item, Failed):
                assert isinstance(item.error, DocumentError), item.error

    run()


# -- every crash found so far ------------------------------------------------------------------------


def _regression_files():
    return sorted(p for p in REGRESSIONS.iterdir() if p.is_file() and not p.name.startswith((".", "README")))


def _replay(path: Path):
    from paperbeam.connectors.base import Failed

    if path.suffix in (".zip", ".eml"):
        try:
            found = _expand_zip(path) if path.suffix == ".zip" else _expand_eml(path)
        except DocumentError:
            return
        for item in found:
            if isinstance(item, Failed):
                assert isinstance(item.error, DocumentError), item.error
    else:
        _check(path.read_bytes())


@pytest.mark.parametrize(
    "path",
    _regression_files(),
    ids=lambda p: p.name,
)
def test_regressions(path):
    _replay(path)


def test_no_pages_pdf_after_an_encrypted_one_is_corrupt_not_encrypted():
    """pdfium's last-error code is global: a PDF that fails to load right after an
    encrypted one used to be reported as 'encrypted, give the password'."""
    from paperbeam.errors import CorruptDocument, EncryptedDocument

    with pytest.raises(EncryptedDocument):
        read_everything(seed("pdf-encrypted"))
    with pytest.raises(CorruptDocument) as err:
        read_everything((REGRESSIONS / "no-pages-after-encrypted-stale-pdfium-error.pdf").read_bytes())
    assert "password" not in str(err.value)
