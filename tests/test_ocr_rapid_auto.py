"""RapidOCR and the auto engine, real models (from the rapidocr wheel), on pages these tests draw."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

pytest.importorskip("rapidocr")
pytest.importorskip("onnxruntime")

from paperbeam.models.ocr.auto import AutoEngine  # noqa: E402
from paperbeam.models.ocr.rapid import RapidOcrEngine, reading_order, split_line  # noqa: E402

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
if not os.path.exists(FONT):  # pragma: no cover
    pytest.skip("no TrueType font: apt-get install fonts-dejavu-core", allow_module_level=True)

LINES = [
    "INVOICE Number 12345",
    "Date 19/10/2018 Total 60.30",
    "Thank you for your business today",
    "Payment due within thirty days",
]


def render(size=28, width=800, gap=64, margin=30):
    font = ImageFont.truetype(FONT, size)
    img = Image.new("RGB", (width, margin * 2 + gap * len(LINES)), "white")
    draw = ImageDraw.Draw(img)
    boxes = {}
    for i, line in enumerate(LINES):
        x, y = margin, margin + i * gap
        for word in line.split():
            box = draw.textbbox((x, y), word, font=font)
            draw.text((x, y), word, fill="black", font=font)
            boxes.setdefault(word, box)
            x = box[2] + draw.textlength(" ", font=font)
    return img, boxes


def degrade(img):
    """A bad fax: half the resolution, blurred, faint, speckled."""
    w, h = img.size
    small = img.convert("L").resize((w // 2, h // 2), Image.BILINEAR).filter(ImageFilter.GaussianBlur(0.6))
    arr = np.asarray(small).astype(np.float32)
    arr = 120 + arr * (135 / 255.0)  # faint: ink at ~120 grey
    rng = np.random.default_rng(7)
    arr += rng.normal(0, 14, arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def rapid():
    return RapidOcrEngine()


@pytest.fixture(scope="module")
def auto():
    return AutoEngine()


def test_rapidocr_words_with_boxes(rapid):
    img, boxes = render()
    result = rapid.recognize(img)
    assert result.engine.startswith("rapidocr 3")
    assert result.details["provider"] in ("CPUExecutionProvider", "CUDAExecutionProvider")
    texts = [w.text for w in result.words]
    for word in ("INVOICE", "12345", "19/10/2018", "60.30", "business"):
        assert word in texts
    by_text = {w.text: w for w in result.words}
    # proportional split of the line box: within a few characters' width of the drawn word
    for word in ("INVOICE", "19/10/2018", "60.30"):
        got, want = by_text[word].bbox, boxes[word]
        assert abs(got[0] - want[0]) < 25 and abs(got[2] - want[2]) < 25, (word, got, want)
        assert got[1] <= want[1] + 6 and got[3] >= want[3] - 6
    # one line index per printed line, shared by the words of that line
    assert by_text["Date"].line == by_text["60.30"].line != by_text["INVOICE"].line
    assert all(0.5 <= w.confidence <= 1.0 for w in result.words)


def test_split_line_proportional():
    words = split_line("AB CDEF", [(0, 0), (70, 0), (70, 10), (0, 10)], 0.9, line=3)
    assert [w.text for w in words] == ["AB", "CDEF"]
    assert words[0].bbox == (0.0, 0.0, 20.0, 10.0)
    assert words[1].bbox == (30.0, 0.0, 70.0, 10.0)
    assert {w.line for w in words} == {3} and words[0].confidence == 0.9


def test_reading_order_merges_segments_on_one_row():
    quads = [[(300, 52), (400, 52), (400, 70), (300, 70)], [(0, 10), (90, 10), (90, 28), (0, 28)],
             [(0, 50), (80, 50), (80, 68), (0, 68)]]
    rows = reading_order(quads, ["RM 9.90", "SHOP", "TOTAL"], [1, 1, 1])
    assert [[t for _, t, _ in row] for row in rows] == [["SHOP"], ["TOTAL", "RM 9.90"]]


def test_auto_keeps_tesseract_on_a_clean_page(auto):
    img, _ = render()
    result = auto.recognize(img)
    assert result.details["chosen"] == "tesseract"
    assert result.details["tesseract"]["reread"] is False
    assert result.engine.startswith("tesseract")
    assert "19/10/2018" in [w.text for w in result.words]


def test_auto_rereads_a_degraded_page_with_rapidocr(auto):
    img, _ = render()
    bad = degrade(img)
    result = auto.recognize(bad)
    d = result.details
    assert d["tesseract"]["reread"] is True and d["tesseract"]["reasons"]
    assert d["chosen"] == "rapidocr"
    assert result.engine.startswith("rapidocr") and result.engine.endswith("(chosen by auto)")
    assert result.details["tesseract"]["confidence"] is not None
    text = " ".join(w.text for w in result.words)
    assert "INVOICE" in text and "60.30" in text
    # boxes are in the input image's pixels
    assert (result.width, result.height) == bad.size
    assert all(0 <= w.bbox[0] < w.bbox[2] <= bad.size[0] + 2 for w in result.words)


def test_missing_rapidocr_names_the_extra(monkeypatch):
    import sys

    from paperbeam.errors import MissingDependency

    monkeypatch.setitem(sys.modules, "rapidocr", None)  # as if not installed: import raises ImportError
    with pytest.raises(MissingDependency) as err:
        RapidOcrEngine()
    assert "pip install paperbeam[rapidocr]" in str(err.value)


def tall_page(lines=36, size=26, gap=46, width=900, margin=40):
    """An invoice-sized page: many lines of text, so the auto engine probes a band of it."""
    font = ImageFont.truetype(FONT, size)
    img = Image.new("L", (width, margin * 2 + gap * lines), 255)
    draw = ImageDraw.Draw(img)
    for i in range(lines):
        draw.text((margin, margin + i * gap), f"{LINES[i % len(LINES)]} line {i + 1}", fill=0, font=font)
    return img


def test_probe_bands_spread_over_the_text_and_cut_at_blank_rows():
    from paperbeam.models.ocr.auto import probe_bands, stack_bands

    page = np.full((3000, 800), 255, np.uint8)
    for y in range(300, 2700, 40):  # lines of "text" from 300 to 2700
        page[y:y + 20, 100:700:6] = 0
    bands = probe_bands(page)
    assert len(bands) == 3
    middles = [(a + b) / 2 for a, b in bands]
    assert middles[0] < 1000 < middles[1] < 2000 < middles[2]  # top, middle and bottom of the text
    for a, b in bands:
        assert (page[a] == 255).all() and (page[b - 1] == 255).all()  # never through a line
    assert 0.2 < sum(b - a for a, b in bands) / 3000 < 0.45
    stacked = stack_bands(Image.fromarray(page), bands)
    assert stacked.height == sum(b - a for a, b in bands) + 2 * 24 and stacked.width == 800
    assert probe_bands(page[:700]) == [(0, 700)]  # short pages are read whole


def test_auto_judges_a_tall_clean_page_from_a_probe(auto):
    img = tall_page()
    result = auto.recognize(img)
    d = result.details
    assert "probe" in d and sum(b - a for a, b in d["probe"]["rows"]) < img.height * 0.6
    assert d["chosen"] == "tesseract" and d["tesseract"]["reread"] is False
    text = " ".join(w.text for w in result.words)
    assert "line 1" in text and "line 36" in text  # the whole page was read, not only the probe


def test_auto_rereads_a_tall_degraded_page_from_its_probe(auto):
    bad = degrade(tall_page().convert("RGB"))
    result = auto.recognize(bad)
    d = result.details
    assert "probe" in d and d["tesseract"]["reread"] is True
    assert d["chosen"] == "rapidocr"
    assert "rapidocr" in d["seconds"]
    assert "INVOICE" in " ".join(w.text for w in result.words)


def test_alphabet_of_the_requested_languages():
    from paperbeam.models.ocr.alphabet import allowed_characters

    eng = allowed_characters("eng")
    assert {"a", "Z", "0", ",", "/", "€", "°"} <= eng and "à" not in eng and "。" not in eng
    deu = allowed_characters("eng+deu")
    assert {"ä", "ß", "à"} <= deu and "一" not in deu
    assert allowed_characters("chi_sim") is None and allowed_characters("eng+jpn") is None


def test_recogniser_chooses_only_characters_of_the_language():
    """A line whose likeliest character is 'à' reads 'a' (the next best) in English, 'à' in French.

    With the wheel's output layer (head="stock"); paperbeam's own layer for English has no 'à' column at all.
    """
    from paperbeam.models.ocr.rec_head import SHIPPED, Head

    assert "à" not in Head.load(SHIPPED).chars and "a" in Head.load(SHIPPED).chars
    decoder = RapidOcrEngine(head="stock")._ocr.text_rec.postprocess_op
    charset = list(decoder.character)
    want = {c: charset.index(c) for c in ("a", "à", "b")}
    preds = np.zeros((1, 5, len(charset)), np.float32)
    preds[0, :, 0] = 1.0  # blank
    preds[0, 1, 0], preds[0, 1, want["b"]] = 0.0, 0.9
    preds[0, 3, 0], preds[0, 3, want["à"]], preds[0, 3, want["a"]] = 0.0, 0.6, 0.3
    (text, _score), = decoder(preds)[0]
    assert text == "ba"
    french = RapidOcrEngine(lang="fra")
    (text, _score), = french._ocr.text_rec.postprocess_op(preds)[0]
    assert text == "bà"
