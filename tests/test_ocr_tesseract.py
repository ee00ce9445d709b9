"""The tesseract engine against the real tesseract binary, on pages these tests draw."""

from __future__ import annotations

import os

import pytest
from PIL import Image, ImageDraw, ImageFont

pytesseract = pytest.importorskip("pytesseract")

from paperbeam.errors import ConfigError, MissingDependency, OcrFailed  # noqa: E402
from paperbeam.models.ocr.tesseract import TesseractEngine, choose_psm, debian_package, words_from_data  # noqa: E402

try:
    pytesseract.get_tesseract_version()
except pytesseract.TesseractNotFoundError:  # pragma: no cover
    pytest.skip("tesseract is not installed (apt-get install tesseract-ocr)", allow_module_level=True)

FONT_PATHS = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
]
FONT = next((p for p in FONT_PATHS if os.path.exists(p)), None)
if FONT is None:  # pragma: no cover
    pytest.skip("no TrueType font: apt-get install fonts-dejavu-core", allow_module_level=True)

LINES = [
    "INVOICE Number 12345",
    "Date 19/10/2018 Total 60.30",
    "Thank you for your business today",
    "Payment due within thirty days",
    "Bank transfer to account 998877",
]


def render(lines=LINES, size=28, width=900, line_gap=70, margin=40):
    """A white page with the lines in black; returns (image, {word: box}) for the first line's words."""
    font = ImageFont.truetype(FONT, size)
    height = margin * 2 + line_gap * len(lines)
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    boxes = {}
    for i, line in enumerate(lines):
        x, y = margin, margin + i * line_gap
        for word in line.split():
            box = draw.textbbox((x, y), word, font=font)
            draw.text((x, y), word, fill="black", font=font)
            boxes.setdefault(word, box)
            x = box[2] + draw.textlength(" ", font=font)
    return img, boxes


@pytest.fixture(scope="module")
def engine():
    e = TesseractEngine()
    e.check()
    return e


@pytest.fixture(scope="module")
def page():
    return render()


def close(a, b, tol):
    return all(abs(u - v) <= tol for u, v in zip(a, b))


def test_words_boxes_and_confidences(engine, page):
    img, boxes = page
    result = engine.recognize(img)
    texts = [w.text for w in result.words]
    assert " ".join(texts) == " ".join(LINES)
    assert (result.width, result.height) == img.size
    assert result.rotation == 0
    assert result.engine.startswith("tesseract 5") or result.engine.startswith("tesseract 4")
    by_text = {w.text: w for w in result.words}
    for word in ("INVOICE", "12345", "19/10/2018", "60.30"):
        assert close(by_text[word].bbox, boxes[word], tol=4), (word, by_text[word].bbox, boxes[word])
    assert all(0.0 <= w.confidence <= 1.0 for w in result.words)
    assert result.mean_confidence > 0.85
    # one running line index per printed line, in reading order
    lines = {}
    for w in result.words:
        lines.setdefault(w.line, []).append(w.text)
    assert [" ".join(ws) for _, ws in sorted(lines.items())] == LINES


@pytest.mark.parametrize("degrees", [90, 270])
def test_rotated_page_is_turned_upright(engine, page, degrees):
    img, boxes = page
    turned = img.rotate(degrees, expand=True)  # PIL turns counter-clockwise
    result = engine.recognize(turned)
    assert result.rotation == degrees  # the engine turned it back clockwise
    assert (result.width, result.height) == img.size
    assert " ".join(w.text for w in result.words) == " ".join(LINES)
    by_text = {w.text: w for w in result.words}
    assert close(by_text["INVOICE"].bbox, boxes["INVOICE"], tol=5)


def test_small_skew_is_straightened(engine, page):
    img, _ = page
    result = engine.recognize(img.rotate(3, expand=True, fillcolor="white"))
    assert abs(result.details["skew"] - 3) < 0.6
    text = " ".join(w.text for w in result.words)
    for word in ("INVOICE", "19/10/2018", "60.30", "998877", "business"):
        assert word in text


def test_sparse_page_is_not_an_error(engine):
    img, _ = render(["TOTAL 9.99"], width=400)
    result = engine.recognize(img)
    assert result.rotation == 0
    assert [w.text for w in result.words] == ["TOTAL", "9.99"]
    assert result.details["preprocess"]["orientation"]["rotate"] == 0


def test_blank_page_gives_no_words(engine):
    result = engine.recognize(Image.new("L", (300, 200), 255))
    assert result.words == [] and result.mean_confidence is None


def test_psm_choice_and_override(engine, page):
    assert choose_psm(450, 1000) == 4
    assert choose_psm(1240, 1754) == 3
    img, _ = page
    result = engine.recognize(img, psm=6)
    assert result.details["psm"] == 6
    assert "INVOICE" in [w.text for w in result.words]


def test_missing_language_names_the_package():
    installed = set(pytesseract.get_languages(config=""))
    lang = "deu" if "deu" not in installed else "zzz"
    with pytest.raises(ConfigError) as err:
        TesseractEngine(lang=f"eng+{lang}").check()
    assert f"tesseract-ocr-{lang}" in str(err.value)
    assert debian_package("chi_sim") == "tesseract-ocr-chi-sim"


def test_bad_options_fail_at_construction():
    with pytest.raises(ConfigError):
        TesseractEngine(psm=0)
    with pytest.raises(ConfigError):
        TesseractEngine(lang="eng deu")
    with pytest.raises(ConfigError):
        TesseractEngine(preprocess={"deskw": True})


def test_missing_binary_is_a_missing_dependency(monkeypatch):
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    with pytest.raises(MissingDependency) as err:
        TesseractEngine().check()
    assert "tesseract-ocr" in str(err.value)


def test_timeout_raises_ocr_failed():
    big, _ = render(LINES * 12, width=2400)
    engine = TesseractEngine(timeout=0.01, preprocess=False, osd=False)
    with pytest.raises(OcrFailed) as err:
        engine.recognize(big)
    assert "longer than" in str(err.value)


def test_thread_limit_is_set_for_tesseract():
    TesseractEngine()
    assert os.environ.get("OMP_THREAD_LIMIT")


def test_words_from_data_drops_empty_and_non_words():
    data = {
        "text": ["", "Hello", " ", "world", "again"],
        "conf": ["-1", "96.5", "-1", "80", "50"],
        "block_num": [1, 1, 1, 1, 2],
        "par_num": [1, 1, 1, 1, 1],
        "line_num": [1, 1, 1, 1, 1],
        "left": [0, 10, 0, 60, 10],
        "top": [0, 10, 0, 10, 50],
        "width": [0, 40, 0, 40, 40],
        "height": [0, 20, 0, 20, 20],
    }
    words = words_from_data(data, scale=2.0)
    assert [w.text for w in words] == ["Hello", "world", "again"]
    assert words[0].bbox == (5.0, 5.0, 25.0, 15.0)
    assert words[0].confidence == pytest.approx(0.965)
    assert [w.line for w in words] == [0, 0, 1] and [w.block for w in words] == [1, 1, 2]
