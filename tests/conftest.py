"""pytest fixtures: the documents of ``tests/fixtures.py``, made once per session
into a temporary directory (they are small and deterministic, so sharing them
is safe as long as no test writes into these directories)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fixtures as F  # noqa: E402

ODDITIES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "pdf-oddities"


def _tesseract_or_skip():
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract is not installed (apt-get install tesseract-ocr)")


@pytest.fixture(scope="session")
def docs_dir(tmp_path_factory) -> Path:
    """One of every kind of single document, side by side (read-only for tests)."""
    d = tmp_path_factory.mktemp("docs")
    F.make_invoice_pdf(d)
    F.make_scanned_pdf(d)
    F.make_tiff(d)
    F.make_png(d)
    F.make_exif_jpeg(d)
    F.make_exif_jpeg(d, orientation=8, name="photo8.jpg")
    F.make_png_named_pdf(d)
    F.make_broken(d)
    return d


@pytest.fixture(scope="session")
def mixed_dir(tmp_path_factory) -> Path:
    """The mixed input folder the pipeline tests run over."""
    return F.make_mixed_folder(tmp_path_factory.mktemp("mixed"))


@pytest.fixture(scope="session")
def tesseract():
    _tesseract_or_skip()


@pytest.fixture(scope="session")
def oddities() -> Path:
    if not ODDITIES.is_dir():
        pytest.skip(f"the pdfplumber oddity PDFs are not at {ODDITIES} (they are never copied into the repo)")
    return ODDITIES
