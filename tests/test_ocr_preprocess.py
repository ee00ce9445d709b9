"""Each preprocessing step keeps or recovers the text, checked with real tesseract on drawn pages."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

pytesseract = pytest.importorskip("pytesseract")

from paperbeam.models.ocr import preprocess as pp  # noqa: E402
from paperbeam.models.ocr.tesseract import TesseractEngine  # noqa: E402

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
if not os.path.exists(FONT):  # pragma: no cover
    pytest.skip("no TrueType font: apt-get install fonts-dejavu-core", allow_module_level=True)

WORDS = ["RECEIPT", "Total", "42.50", "Cash", "Change", "Thank", "you", "visiting", "again"]
LINES = ["RECEIPT No 8812", "Total 42.50 Cash 50.00", "Change 7.50", "Thank you for visiting", "Please come again"]


def render(size=28, width=700, gap=60):
    font = ImageFont.truetype(FONT, size)
    img = Image.new("L", (width, 40 + gap * len(LINES)), 255)
    d = ImageDraw.Draw(img)
    for i, line in enumerate(LINES):
        d.text((30, 20 + i * gap), line, fill=0, font=font)
    return img


def found(result):
    text = {w.text for w in result.words}
    return sum(w in text for w in WORDS)


def engine(**flags):
    return TesseractEngine(preprocess=pp.PreprocessOptions.none().replace(**flags), osd=False)


def test_deskew_recovers_a_skewed_page():
    skewed = render().rotate(4, expand=True, fillcolor=255)
    assert abs(pp.estimate_skew(np.asarray(skewed)) - 4) < 0.6
    on = engine(deskew=True).recognize(skewed)
    assert abs(on.details["skew"] - 4) < 0.6
    assert found(on) == len(WORDS)
    assert pp.estimate_skew(np.asarray(render())) == 0.0


def test_rescale_recovers_small_text():
    small = render(size=9, width=240, gap=20)
    assert pp.char_height(np.asarray(small)) < 10
    off = engine().recognize(small)
    on = engine(rescale=True).recognize(small)
    assert on.details["scale"] > 2
    assert found(on) >= len(WORDS) - 1 and found(on) >= found(off)
    # boxes come back in the input's pixels
    assert max(w.bbox[2] for w in on.words) <= small.size[0] + 1


def test_contrast_and_binarize_keep_low_contrast_text():
    faint = Image.fromarray((150 + np.asarray(render()) * (60 / 255.0)).astype(np.uint8))  # ink 150, paper 210
    for flags in ({"normalize_contrast": True}, {"binarize": True}, {"remove_background": True}):
        assert found(engine(**flags).recognize(faint)) == len(WORDS), flags
    stretched = pp.normalize_contrast(np.asarray(faint))
    assert stretched.min() < 10 and stretched.max() > 245


def test_border_removal_paints_a_dark_frame_white():
    page = np.asarray(render()).copy()
    framed = np.pad(page, 25, constant_values=20)
    cleaned, painted = pp.remove_border(framed)
    assert painted == [25, 25, 25, 25] and cleaned.shape == framed.shape and cleaned[:25].min() > 200
    assert found(engine(remove_border=True).recognize(Image.fromarray(framed))) == len(WORDS)


def test_orientation_turns_a_page_upright():
    img = render()
    prep = pp.prepare(img.rotate(90, expand=True), pp.PreprocessOptions.none().replace(orientation=True))
    assert prep.rotation == 90 and prep.image.size == img.size


@pytest.fixture(scope="module")
def sideways_receipt(tmp_path_factory):
    """A synthetic receipt scanned sideways, blurred and speckled: tesseract's OSD says
    "Too few characters" on it. (``paperbeam synth`` seed 3, receipt 1, rendered at 300 dpi.)"""
    from paperbeam.models import pages
    from paperbeam.synth.generate import GenerateOptions, generate

    out = tmp_path_factory.mktemp("sideways")
    generate(GenerateOptions(count=1, out=str(out), kinds=("receipt",), scan_ratio=1.0, seed=3, jobs=1))
    data = (out / "documents" / "receipt-000001.pdf").read_bytes()
    image = pages.page_image(data, "application/pdf", 1, pages.PageOptions(dpi=300)).image
    assert image.width > image.height  # a receipt lying on its side
    return image


def test_lines_running_up_the_page_are_seen(sideways_receipt):
    sideways = np.asarray(sideways_receipt)
    assert pp.lines_run_vertically(sideways)
    assert not pp.lines_run_vertically(np.ascontiguousarray(np.rot90(sideways, -1)))
    assert not pp.lines_run_vertically(np.asarray(render()))


def test_a_sideways_page_osd_cannot_read_is_still_turned_upright(sideways_receipt, tesseract):
    found = pp.detect_orientation(np.asarray(sideways_receipt))
    assert found["rotate"] == 270 and "OSD gave no answer" in found["reason"], found
    assert found["verified"]["270"] > found["verified"]["0"] + pp.SIDEWAYS_MARGIN
    words = {w.text for w in TesseractEngine().recognize(sideways_receipt, dpi=300).words}
    assert {"TOTAL", "Subtotal"} <= words


def test_negative_scan_is_inverted():
    neg = Image.fromarray(255 - np.asarray(render()))
    assert np.asarray(pp.to_gray(neg)).mean() > 128


def test_options_none_switches_everything_off():
    opts = pp.PreprocessOptions.none()
    assert not any(getattr(opts, f) for f in ("orientation", "deskew", "rescale", "normalize_contrast", "binarize", "remove_background", "remove_border"))
