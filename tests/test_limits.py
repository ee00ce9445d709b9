"""Every limit of issue #10, each configurable, each ending in a dead letter that
names the limit and the value: file size, page count, pixels per page
(decompression bombs in PNG, TIFF, JPEG, GIF, BMP and PDF images), OCR seconds
per page (the hung OCR process is killed) and seconds per document.

Readers are tested directly; one pipeline run per kind of limit checks the
flag reaches the workers and the dead letter says what to do.
"""

from __future__ import annotations

import glob
import json
import os
import threading
import time
from pathlib import Path

import pytest

from paperbeam.errors import ExitCode

OK_CODES = (ExitCode.OK, ExitCode.OK_WITH_DEAD_LETTERS)
from PIL import Image

import corpus as C
import fixtures as F
from paperbeam import cli
from paperbeam.errors import DocumentTimeout, LimitExceeded, OcrTimeout
from paperbeam.models import formats
from paperbeam.models.pages import DocumentCache, PageOptions, _OpenDocument, count_pages, read_image_page, read_pdf_page
from paperbeam.pipelines.read import read_source
from paperbeam.pipelines.read_pages import read_page, recognize_with_timeout
from paperbeam.records import PageRef


def _read_all(data: bytes, options: PageOptions):
    """Split and read every page the way the pipeline does, without OCR."""
    media_type = formats.sniff(data)
    n = count_pages(data, media_type, options)
    doc = _OpenDocument(data, media_type, options)
    for number in range(1, n + 1):
        if media_type == formats.PDF:
            read_pdf_page(doc, number, options, threading.RLock())
        else:
            read_image_page(doc, number, options)
    return n


# -- file size -------------------------------------------------------------------------


def test_file_size_limit_names_the_flag_and_the_size(tmp_path):
    path = F.make_invoice_pdf(tmp_path)
    size = path.stat().st_size
    with pytest.raises(LimitExceeded) as err:
        read_source(str(path), size, 1000)
    assert f"{size:,} bytes" in str(err.value) and "--max-file-bytes" in str(err.value) and "1,000" in str(err.value)
    # a size the file system under-reports is still caught while reading
    with pytest.raises(LimitExceeded) as err:
        read_source(str(path), None, 1000)
    assert "--max-file-bytes" in str(err.value)
    assert read_source(str(path), size, size).data == path.read_bytes()


# -- page count ------------------------------------------------------------------------


def test_six_thousand_page_pdf_is_refused_when_counted():
    data = C.many_pages_pdf(6000)
    assert len(data) < 2_000_000
    with pytest.raises(LimitExceeded) as err:
        count_pages(data, formats.PDF, PageOptions())
    assert "6000 pages" in str(err.value) and "--max-pages" in str(err.value) and "5000" in str(err.value)
    assert count_pages(data, formats.PDF, PageOptions(max_pages=6000)) == 6000


def test_tiff_frames_count_against_max_pages(docs_dir):
    with pytest.raises(LimitExceeded) as err:
        count_pages((docs_dir / "scan.tiff").read_bytes(), formats.TIFF, PageOptions(max_pages=1))
    assert "--max-pages" in str(err.value)


# -- pixels: decompression bombs -----------------------------------------------------------

BOMBS = {
    "png": lambda: C.png_bomb(100_000, 100_000),
    "tiff-ccitt": lambda: C.tiff([(80_000, 80_000)]),
    "tiff-second-frame": lambda: C.tiff([(64, 64), (90_000, 90_000)], compression=1, data=b"\xff" * 512),
    "jpeg": C._jpeg_huge_header,
    "gif": C._gif_huge_screen,
    "bmp": C._bmp_huge,
    "pdf-flate-image": lambda: C.pdf_image_bomb(40_000, 40_000, real=True),
    "pdf-jbig2-image": lambda: C.pdf_image_bomb(200_000, 200_000, real=False),
    "pdf-huge-mediabox": C._huge_page_no_userunit,
    "pdf-userunit": C._huge_mediabox,
}


@pytest.mark.parametrize("kind", sorted(BOMBS))
def test_bombs_are_refused_before_decoding(kind):
    data = BOMBS[kind]()
    assert len(data) < 1_000_000  # small on disk
    with pytest.raises(LimitExceeded) as err:
        _read_all(data, PageOptions(dpi=100))
    message = str(err.value)
    assert "--max-pixels" in message and "200,000,000" in message
    assert " x " in message and "pixels" in message


def test_a_bomb_under_a_raised_limit_is_read(tmp_path):
    """The limit is the only thing refusing it: a 4,000 x 4,000 1-bit image is fine under the default."""
    data = C.pdf_image_bomb(4_000, 4_000, real=True)
    assert _read_all(data, PageOptions(dpi=50)) == 1
    with pytest.raises(LimitExceeded) as err:
        _read_all(data, PageOptions(dpi=50, max_pixels=10_000_000))
    assert "4000 x 4000 = 16,000,000 pixels" in str(err.value) and "10,000,000" in str(err.value)


def test_image_refused_at_split_from_its_header():
    """A bomb image never fans out into pages: count_pages reads only the header."""
    with pytest.raises(LimitExceeded):
        count_pages(C.png_bomb(100_000, 100_000), formats.PNG, PageOptions())


def test_pillow_own_bomb_guard_is_not_what_stops_it():
    """We check sizes ourselves; Pillow's own MAX_IMAGE_PIXELS is switched off on purpose."""
    data = C.png_bomb(20_000, 20_000)  # 400 Mpx: over our default, and over Pillow's warning level
    with pytest.raises(LimitExceeded):
        _read_all(data, PageOptions())
    assert Image.MAX_IMAGE_PIXELS is None


# -- OCR seconds per page ------------------------------------------------------------------


@pytest.fixture
def engines(tmp_path, monkeypatch):
    C.install_test_engines(tmp_path / "plugins", monkeypatch)
    pidfile = tmp_path / "pids"
    monkeypatch.setenv("PB_TEST_PIDFILE", str(pidfile))
    import pb_test_engines

    return pb_test_engines, pidfile


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_hung_ocr_process_is_killed(engines):
    mod, pidfile = engines
    image = Image.new("L", (50, 50), 255)
    started = time.monotonic()
    with pytest.raises(OcrTimeout) as err:
        recognize_with_timeout(mod.HangEngine(), image, None, 1.0, page_number=3)
    assert time.monotonic() - started < 30
    message = str(err.value)
    assert "page 3" in message and "1 s" in message and "--ocr-timeout" in message and "killed" in message
    assert "Raise --ocr-timeout" in message
    pid = int(pidfile.read_text().split()[0])
    assert not _alive(pid)
    assert err.value.abandoned is False


def _our_children():
    pids = []
    for children in glob.glob("/proc/self/task/*/children"):
        pids += Path(children).read_text().split()
    return pids


def _live_tesseracts(wait: float = 5.0):
    """Our child tesseract processes that are still running (not zombies), after a short grace period:
    other tests in this process may own other children (a Dask cluster, a server)."""
    deadline = time.monotonic() + wait
    while True:
        live = []
        for pid in _our_children():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            if "(tesseract)" in stat and stat.split(")")[1].split()[0] != "Z":
                live.append(pid)
        if not live or time.monotonic() > deadline:
            return live
        time.sleep(0.1)


def test_real_tesseract_past_the_limit_is_killed(tesseract):
    """The real engine: a full A4 page at 300 dpi takes tesseract well over 0.5 s."""
    from paperbeam.models.ocr.tesseract import TesseractEngine

    with pytest.raises(OcrTimeout) as err:
        recognize_with_timeout(TesseractEngine(), F.render(F.INVOICE, 300), 300, 0.5, page_number=1)
    assert "killed" in str(err.value) and not err.value.abandoned
    assert _live_tesseracts() == []  # no tesseract left running


def test_ocr_hung_in_python_is_abandoned_and_reported(engines, monkeypatch):
    mod, _ = engines
    monkeypatch.setenv("PB_TEST_HANG_SECONDS", "8")
    with pytest.raises(OcrTimeout) as err:
        recognize_with_timeout(mod.PythonHangEngine(), Image.new("L", (50, 50), 255), None, 0.5, page_number=1)
    assert "abandoned" in str(err.value) and err.value.abandoned


def test_fast_ocr_is_unaffected_by_the_timeout(engines):
    mod, _ = engines
    result = recognize_with_timeout(mod.FastEngine(), Image.new("L", (50, 50), 255), None, 5.0, page_number=1)
    assert [w.text for w in result.words] == ["Total"]


# -- seconds per document ---------------------------------------------------------------------


def _ref(path: Path, media_type: str, page: int, count: int) -> PageRef:
    import hashlib

    return PageRef(hashlib.sha256(path.read_bytes()).hexdigest(), str(path), media_type, page, count)


def test_document_over_its_time_budget_stops_before_the_next_page(docs_dir, engines):
    mod, _ = engines
    options = PageOptions(dpi=72, max_document_seconds=2.0, ocr_timeout=60)
    ref = _ref(docs_dir / "scan.tiff", formats.TIFF, 2, 2)
    with pytest.raises(DocumentTimeout) as err:
        read_page(ref, mod.FastEngine(), DocumentCache(), options, spent=2.5)
    assert "--max-document-seconds" in str(err.value) and "2 s" in str(err.value)
    assert "split" in str(err.value)  # what to do
    page = read_page(ref, mod.FastEngine(), DocumentCache(), options, spent=0.5)
    assert page.words


def test_document_budget_caps_the_ocr_of_its_last_page(docs_dir, engines, monkeypatch):
    mod, pidfile = engines
    monkeypatch.setenv("PB_TEST_SLOW_SECONDS", "30")
    options = PageOptions(dpi=72, max_document_seconds=3.0, ocr_timeout=60)
    ref = _ref(docs_dir / "scan.tiff", formats.TIFF, 1, 2)
    started = time.monotonic()
    with pytest.raises(DocumentTimeout) as err:
        read_page(ref, mod.SlowEngine(), DocumentCache(), options, spent=1.0)
    assert time.monotonic() - started < 15
    assert "--max-document-seconds" in str(err.value)
    assert not _alive(int(pidfile.read_text().split()[0]))


# -- the flags, end to end -----------------------------------------------------------------------


def _run(args):
    out = Path(args[args.index("--output") + 1])
    code = cli.main(["run", "--workers", "1", "--dpi", "72", "--ocr", "test-fast"] + args)
    letters = []
    for path in sorted(glob.glob(str(out / "dead_letters-*.jsonl"))):
        letters += [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    records = []
    for path in sorted(glob.glob(str(out / "records-*.jsonl"))):
        records += [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    return code, {os.path.basename(d["source_uri"]): d for d in letters}, records


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_limit_flags_reach_the_workers(tmp_path, engines, docs_dir):
    inputs = tmp_path / "in"
    inputs.mkdir()
    F.make_invoice_pdf(inputs, "small.pdf")
    (inputs / "big.pdf").write_bytes(F.draw_pdf(F.INVOICE, tmp_path / "x.pdf", pages=30).read_bytes())
    F.draw_pdf(F.INVOICE, inputs / "three-pages.pdf", pages=3)
    F.make_png(inputs, dpi=200)  # 639 x 722 pixels
    size = (inputs / "big.pdf").stat().st_size
    code, letters, records = _run(["--input", str(inputs), "--output", str(tmp_path / "out"),
                                   "--max-file-bytes", str(size - 1), "--max-pages", "2", "--max-pixels", "100000"])
    assert code in OK_CODES
    assert len(records) == 1 and records[0]["source_uri"].endswith("small.pdf")
    assert letters["big.pdf"]["error"] == "LimitExceeded" and "--max-file-bytes" in letters["big.pdf"]["message"]
    assert f"{size - 1:,}" in letters["big.pdf"]["message"]
    assert "--max-pages" in letters["three-pages.pdf"]["message"] and "3 pages" in letters["three-pages.pdf"]["message"]
    assert "--max-pixels" in letters["receipt.png"]["message"] and "100,000" in letters["receipt.png"]["message"]
    for d in letters.values():
        assert "Raise the limit" in d["message"]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ocr_timeout_flag_kills_a_hung_ocr_in_the_pipeline(tmp_path, engines, docs_dir):
    _, pidfile = engines
    inputs = tmp_path / "in"
    inputs.mkdir()
    F.make_png(inputs, dpi=100)
    F.make_invoice_pdf(inputs)  # text layer: never reaches the engine
    code, letters, records = _run(["--input", str(inputs), "--output", str(tmp_path / "out"), "--ocr", "test-hang",
                                   "--ocr-timeout", "2"])
    assert code in OK_CODES and len(records) == 1
    d = letters["receipt.png"]
    assert (d["stage"], d["error"]) == ("ocr", "OcrTimeout")
    assert "2 s" in d["message"] and "--ocr-timeout" in d["message"] and "killed" in d["message"]
    for pid in pidfile.read_text().split():
        assert not _alive(int(pid))


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_max_document_seconds_flag(tmp_path, engines, monkeypatch):
    monkeypatch.setenv("PB_TEST_SLOW_SECONDS", "1.5")
    inputs = tmp_path / "in"
    inputs.mkdir()
    F.make_tiff(inputs, pages=4, dpi=72)
    code, letters, records = _run(["--input", str(inputs), "--output", str(tmp_path / "out"), "--ocr", "test-slow",
                                   "--max-document-seconds", "2"])
    assert code in OK_CODES and records == []
    d = letters["scan.tiff"]
    assert d["error"] == "DocumentTimeout" and "--max-document-seconds" in d["message"] and "2 s" in d["message"]


def test_limits_must_be_positive(tmp_path):
    from paperbeam.errors import ConfigError
    from paperbeam.pipelines.options import RunConfig, validate

    F.make_invoice_pdf(tmp_path)
    for name in ("max_pages", "max_pixels", "max_file_bytes", "ocr_timeout", "max_document_seconds"):
        with pytest.raises(ConfigError) as err:
            validate(RunConfig(input=str(tmp_path), output=str(tmp_path / "out"), **{name: 0}))
        assert "--" + name.replace("_", "-") in str(err.value)


def test_document_time_limit_is_checked_over_all_pages():
    """Each page is under the limit on its own worker; together they are not."""
    from paperbeam.errors import DocumentTimeout
    from paperbeam.pipelines.assemble import assemble
    from paperbeam.records import Page

    header = {"doc_id": "d", "media_type": "application/pdf", "page_count": 2, "metadata": {}}
    pages = [(header, Page("d", n, 10, 10, "px", "ocr", seconds=6.0)) for n in (1, 2)]
    assert assemble("u", pages, max_seconds=20).page_count == 2
    with pytest.raises(DocumentTimeout, match="max-document-seconds"):
        assemble("u", pages, max_seconds=10)
