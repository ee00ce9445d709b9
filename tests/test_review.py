"""The review report without a browser: page images, box scaling, escaping,
ground-truth drafts that `paperbeam evaluate`/`train` read, and the command.

The browser checks (boxes drawn where the text is, nothing injected runs)
are in test_review_browser.py.
"""

from __future__ import annotations

import glob
import json
import os
import re
from pathlib import Path

import pytest

import fixtures as F
from paperbeam import cli
from paperbeam.models import evaluate as ev
from paperbeam.records import DeadLetter, Field, Page, Record, SOURCE_OCR, SOURCE_TEXT_LAYER
from paperbeam.review import render as R

HOSTILE = '<script>window.__pwned=1</script>"><img src=x onerror="window.__pwned=2">'


def pdf_record(path: Path, total_value: str = "1,234.56", hostile: bool = False) -> Record:
    """A record for a reportlab invoice, its words and the total's box read by pdfplumber."""
    import pdfplumber

    from paperbeam.models.pages import text_layer_words

    with pdfplumber.open(str(path)) as pdf:
        words, width, height = text_layer_words(pdf.pages[0])
    total = next(w for w in words if w.text == F.TOTAL)
    vendor = [w for w in words if w.line == words[0].line]
    vendor_box = (min(w.bbox[0] for w in vendor), min(w.bbox[1] for w in vendor),
                  max(w.bbox[2] for w in vendor), max(w.bbox[3] for w in vendor))
    fields = {
        "total_amount": Field(total_value, "1234.56", 0.93, 1, total.bbox, "rules"),
        "vendor_name": Field(HOSTILE if hostile else F.VENDOR, None, 0.31, 1, vendor_box, "rules"),
        "currency": Field("EUR", "EUR", 0.9, None, None, "rules"),
    }
    page = Page(doc_id="d" * 64, page_number=1, width=width, height=height, unit="pt", source=SOURCE_TEXT_LAYER,
                words=words, engine="pdfplumber")
    import hashlib

    doc_id = hashlib.sha256(path.read_bytes()).hexdigest()
    return Record(id=doc_id, source_uri=str(path), media_type="application/pdf", page_count=1, pages=[page],
                  fields=fields, versions={"paperbeam": "test"})


@pytest.fixture()
def invoice(tmp_path) -> Path:
    return F.make_invoice_pdf(tmp_path)


def test_scale_box_from_points_to_pixels():
    page = Page(doc_id="x", page_number=1, width=595.0, height=842.0, unit="pt", source=SOURCE_TEXT_LAYER)
    x, y, w, h = R.scale_box((100, 200, 150, 210), page, (1190, 1684))  # 2x
    assert (x, y, w, h) == pytest.approx((200, 400, 100, 20))
    # boxes given corner-swapped still come out with positive sizes
    assert R.scale_box((150, 210, 100, 200), page, (595, 842)) == pytest.approx((100, 200, 50, 10))


def test_pdf_page_image_matches_the_page_size(invoice):
    rec = pdf_record(invoice)
    image = R.render_page_image(invoice.read_bytes(), "application/pdf", rec.pages[0], dpi=72)
    assert image.size == (595, 842)
    image = R.render_page_image(invoice.read_bytes(), "application/pdf", rec.pages[0], dpi=144)
    assert image.size == (1190, 1684)


def test_ocr_page_is_turned_as_the_engine_turned_it(tmp_path):
    """A 90° clockwise OCR rotation: the page image is turned the same way before boxes are drawn."""
    from PIL import Image

    img = Image.new("RGB", (300, 200), "white")
    img.paste((0, 0, 0), (0, 0, 40, 40))  # black square, top-left of the file
    buf = tmp_path / "scan.png"
    img.save(buf)
    # the engine read a 200 x 300 image (turned clockwise): the square is now at the top right
    page = Page(doc_id="x", page_number=1, width=200, height=300, unit="px", source=SOURCE_OCR, rotation=90)
    out = R.render_page_image(buf.read_bytes(), "image/png", page).convert("L")
    assert out.size == (200, 300)
    assert out.getpixel((180, 20)) < 50 and out.getpixel((20, 20)) > 200
    # a text-layer page's /Rotate is already applied by both pdfplumber and pdfium: no second turn
    page.source = SOURCE_TEXT_LAYER
    assert R.render_page_image(buf.read_bytes(), "image/png", page).size == (300, 200)


def test_exif_orientation_is_applied(tmp_path):
    path = F.make_exif_jpeg(tmp_path, orientation=6)
    from PIL import Image

    stored = Image.open(path).size
    page = Page(doc_id="x", page_number=1, width=stored[1], height=stored[0], unit="px", source=SOURCE_OCR)
    assert R.render_page_image(path.read_bytes(), "image/jpeg", page).size == (stored[1], stored[0])


def test_report_files_boxes_and_no_network(invoice, tmp_path):
    rec = pdf_record(invoice)
    out = tmp_path / "report"
    index = R.render_report(R.RunData([rec], source=str(tmp_path)), str(out), dpi=72)
    assert Path(index).exists()
    docs = glob.glob(str(out / "doc-*.html"))
    assert len(docs) == 1
    assert sorted(os.listdir(out / "assets")) == sorted(R.ASSETS)
    assert len(os.listdir(out / "pages")) == 1
    html = Path(docs[0]).read_text(encoding="utf-8")
    # at 72 dpi one point is one pixel: the box is the field's bbox as it is
    m = re.search(r'<rect class="field" data-field="total_amount" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"', html)
    assert m, "the total's box is drawn"
    x0, y0, x1, y1 = rec.fields["total_amount"].bbox
    assert [float(v) for v in m.groups()] == pytest.approx([x0, y0, x1 - x0, y1 - y0], abs=0.01)
    # the low-confidence field is marked, the field without a box is listed but not drawn
    assert 'class="field low" data-field="vendor_name"' in html
    assert 'data-field="currency"' in html and 'rect class="field" data-field="currency"' not in html
    # works offline: nothing is fetched from anywhere but the report's own folder
    for path in glob.glob(str(out / "*.html")) + glob.glob(str(out / "assets" / "*")):
        text = Path(path).read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), path
        assert "@import" not in text and "url(http" not in text


def test_every_piece_of_document_text_is_escaped(tmp_path):
    name = '"><img src=x onerror=alert(1)><script>alert(2).pdf'  # no "/" in a file name
    path = F.draw_pdf(F.INVOICE, tmp_path / name)
    rec = pdf_record(path, hostile=True)
    rec.pages[0].words[0].text = "<b>word</b>"
    dead = DeadLetter(source_uri=str(tmp_path / "<script>x</script>.pdf"), stage="read", error="CorruptDocument",
                      message='bad "<iframe src=javascript:alert(3)>"')
    out = tmp_path / "report"
    R.render_report(R.RunData([rec], [dead], source=str(tmp_path)), str(out), dpi=50)
    for page in glob.glob(str(out / "*.html")):
        text = Path(page).read_text(encoding="utf-8")
        assert "<script>window.__pwned" not in text and "<script>alert" not in text and "<script>x" not in text
        assert "<img src=x" not in text and "<iframe" not in text and "<b>word" not in text
        # the only scripts are the report's own files and the inert JSON data block
        for tag in re.findall(r"<script[^>]*>", text):
            assert tag in ('<script src="assets/review.js">', '<script src="assets/corrections.js">',
                           '<script type="application/json" id="pb-data">'), tag
        assert "Content-Security-Policy" in text
    doc = Path(glob.glob(str(out / "doc-*.html"))[0]).read_text(encoding="utf-8")
    data = re.search(r'<script type="application/json" id="pb-data">(.*?)</script>', doc, re.S).group(1)
    assert json.loads(data)["truth"]["fields"]["vendor_name"]["value"] == HOSTILE  # intact after the round trip
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=&quot;window.__pwned=2&quot;&gt;" in doc


def test_json_script_cannot_be_closed_early():
    tag = R.json_script({"v": "</script><script>alert(1)</script>", "u": "\u2028"}, "d")
    assert tag.count("</script>") == 1 and tag.endswith("</script>")
    assert json.loads(tag[tag.index(">") + 1: -len("</script>")])["v"] == "</script><script>alert(1)</script>"


def test_truth_draft_is_ground_truth_that_evaluate_reads(invoice, tmp_path):
    rec = pdf_record(invoice)
    truth = R.truth_draft(rec, R.field_names([rec]), "day-first")
    assert set(truth) >= {"schema_version", "document", "kind", "fields", "pages"}
    assert truth["document"] == "invoice.pdf"
    assert truth["fields"]["due_date"] is None  # not found -> null, as in the synth truth files
    assert set(truth["fields"]["total_amount"]) == {"value", "normalized", "page", "bbox"}
    assert truth["pages"] == [{"page": 1, "width": 595.0, "height": 842.0, "unit": "pt"}]
    os.makedirs(tmp_path / "gt" / "truth")
    with open(tmp_path / "gt" / "truth" / "invoice.json", "w", encoding="utf-8") as fh:
        json.dump(truth, fh)
    gt = ev.load_truth(str(tmp_path / "gt"))
    assert gt.format == "paperbeam"
    assert gt.documents["invoice"]["total_amount"] == "1234.56"
    report = ev.evaluate([rec.to_dict()], gt.documents, gt.field_types)
    assert report.documents == 1 and report.documents_without_prediction == 0
    assert report.micro.f1 == pytest.approx(1.0)


def test_rates_and_histograms():
    rates = R.rates_from_timeline([[0, 0, 0], [1, 2, 1], [2, 4, 2], [4, 4, 2], [6, 10, 5]], window=2)
    assert rates[0] == pytest.approx((1, 2.0))
    assert rates[-1] == pytest.approx((6, 3.0))  # (10 - 4) / (6 - 4)
    assert R.histogram([0.0, 0.05, 0.5, 0.99, 1.0]) == [2, 0, 0, 0, 0, 1, 0, 0, 0, 2]
    svg = R.svg_bars({"read: <CorruptDocument>": 3}, "Dead letters")
    assert "&lt;CorruptDocument&gt;" in svg and "<CorruptDocument>" not in svg


def _write_run(directory: Path, rec: Record, dead: DeadLetter) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "records-00000-of-00001.jsonl").write_text(rec.to_json(with_words=True) + "\n", encoding="utf-8")
    (directory / "dead_letters-00000-of-00001.jsonl").write_text(dead.to_json() + "\n", encoding="utf-8")
    summary = {"run_id": "abc", "inputs": 2, "records": 1, "dead_letters": 1, "accounted": True, "pages": 1,
               "pages_ocr": 0, "pages_text_layer": 1, "seconds": 3.0, "pages_per_second": 0.33,
               "dead_letter_ratio": 0.5, "dead_letters_by_reason": {"read: CorruptDocument": 1},
               "timeline": [[0, 0, 0], [1.5, 1, 1]], "config": {"date_order": "month-first"},
               "metrics": {"paperbeam:inputs": 2}, "distributions": {"paperbeam:ocr_ms_per_page": {"count": 1, "sum": 5, "min": 5, "max": 5, "mean": 5.0}}}
    (directory / "summary.json").write_text(json.dumps(summary), encoding="utf-8")


def test_review_command(invoice, tmp_path, capsys):
    rec = pdf_record(invoice)
    dead = DeadLetter(source_uri="/in/broken.pdf", stage="read", error="CorruptDocument", message="The PDF cannot be parsed.")
    run_dir = tmp_path / "run"
    _write_run(run_dir, rec, dead)
    assert cli.main(["review", str(run_dir), "--dpi", "50"]) == 0
    assert "1 documents, 1 dead letters" in capsys.readouterr().out
    index = (run_dir / "review" / "index.html").read_text(encoding="utf-8")
    assert "The PDF cannot be parsed." in index and "broken.pdf" in index
    assert "Pages per second over the run" in index and "<polyline" in index
    assert "paperbeam:ocr_ms_per_page" in index
    doc = Path(glob.glob(str(run_dir / "review" / "doc-*.html"))[0]).read_text(encoding="utf-8")
    assert '"date_order": "month-first"' in doc  # carried into the truth draft
    assert 'class="word"' in doc  # --emit-words records: the words can be shown
    # a records file needs --out; a missing one is a configuration error (exit 2)
    assert cli.main(["review", str(run_dir / "records-00000-of-00001.jsonl")]) == 2
    assert cli.main(["review", str(tmp_path / "nothing-here.jsonl"), "--out", str(tmp_path / "x")]) == 2
    assert "No records file matches" in capsys.readouterr().err


def test_missing_source_still_draws_boxes(invoice, tmp_path):
    rec = pdf_record(invoice)
    rec.source_uri = str(tmp_path / "gone.pdf")
    out = tmp_path / "report"
    R.render_report(R.RunData([rec]), str(out))
    doc = Path(glob.glob(str(out / "doc-*.html"))[0]).read_text(encoding="utf-8")
    assert "cannot be read" in doc and 'data-field="total_amount"' in doc and 'class="blank"' in doc


@pytest.mark.slow
def test_boxes_of_a_page_the_ocr_engine_turned_land_on_the_text(tmp_path, tesseract):
    """A scan stored sideways: tesseract turns it upright (OSD) and reads it; the report's page image
    is turned the same way, so the total's box, scaled onto it, covers the total's ink."""
    from paperbeam.models.ocr.tesseract import TesseractEngine

    upright = F.render(F.INVOICE, dpi=150)
    path = tmp_path / "turned.png"
    upright.rotate(90, expand=True).save(path)  # stored turned a quarter counter-clockwise
    from PIL import Image

    result = TesseractEngine().recognize(Image.open(path).convert("L"), dpi=150)
    assert result.rotation == 90
    page = Page(doc_id="x", page_number=1, width=result.width, height=result.height, unit="px", source=SOURCE_OCR,
                words=result.words, rotation=result.rotation)
    total = next(w for w in result.words if w.text == F.TOTAL)
    image = R.render_page_image(path.read_bytes(), "image/png", page, max_side=800).convert("L")
    assert image.size[0] < image.size[1]  # upright again (A4 portrait)
    x, y, w, h = (int(round(v)) for v in R.scale_box(total.bbox, page, image.size))
    inside = [image.getpixel((i, j)) for i in range(x, x + w) for j in range(y, y + h)]
    assert min(inside) < 80 and sum(p < 128 for p in inside) > 0.1 * len(inside)  # ink under the box
    # and where reportlab drew the total, as a share of the page
    (x0, y0, x1, y1) = next(box for word, box in F.word_boxes(F.INVOICE) if word == F.TOTAL)
    assert (x / image.size[0], (x + w) / image.size[0]) == pytest.approx((x0 / F.A4[0], x1 / F.A4[0]), abs=0.01)
    assert (y / image.size[1], (y + h) / image.size[1]) == pytest.approx((y0 / F.A4[1], y1 / F.A4[1]), abs=0.01)


def test_encrypted_pdf_pages_are_drawn_with_the_password(tmp_path):
    import hashlib

    path = F.make_encrypted_pdf(tmp_path, password="secret")
    page = Page(doc_id="x", page_number=1, width=595.0, height=842.0, unit="pt", source=SOURCE_TEXT_LAYER)
    rec = Record(id=hashlib.sha256(path.read_bytes()).hexdigest(), source_uri=str(path), media_type="application/pdf",
                 page_count=1, pages=[page], fields={"total_amount": Field("1,234.56", "1234.56", 0.9, 1, (480, 371, 545, 383))},
                 versions={})
    R.render_report(R.RunData([rec]), str(tmp_path / "without"))
    assert "cannot be rendered (EncryptedDocument)" in Path(glob.glob(str(tmp_path / "without" / "doc-*.html"))[0]).read_text()
    R.render_report(R.RunData([rec]), str(tmp_path / "with"), pdf_password="secret")
    doc = Path(glob.glob(str(tmp_path / "with" / "doc-*.html"))[0]).read_text()
    assert "cannot be rendered" not in doc and "secret" not in doc and '<img src="pages/' in doc
