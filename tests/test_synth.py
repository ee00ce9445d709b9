"""`paperbeam synth`: the ground truth must match the page, to the character and the box.

Fast: about 30 small born-digital documents and a handful of scans.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re

import numpy as np
import pytest

pytest.importorskip("faker")
pytest.importorskip("reportlab")
pdfplumber = pytest.importorskip("pdfplumber")

from paperbeam.normalize import currency_code, normalize_amount, normalize_date  # noqa: E402
from paperbeam.schema import INVOICE  # noqa: E402
from paperbeam.synth import degrade  # noqa: E402
from paperbeam.synth.generate import GenerateOptions, Spec, generate  # noqa: E402
from paperbeam.synth.layouts import LAYOUTS  # noqa: E402

SEED = 7
COUNT = 28

# Printed forms that real invoices use but normalize.currency_code cannot read yet.
CURRENCY_GAPS: set = set()


def _load_truths(root):
    out = {}
    for name in sorted(os.listdir(os.path.join(root, "truth"))):
        with open(os.path.join(root, "truth", name), encoding="utf-8") as fh:
            out[name[:-5]] = json.load(fh)
    return out


def _digest(root):
    h = {}
    for sub in ("documents", "truth"):
        for name in sorted(os.listdir(os.path.join(root, sub))):
            with open(os.path.join(root, sub, name), "rb") as fh:
                h[f"{sub}/{name}"] = hashlib.sha256(fh.read()).hexdigest()
    return h


@pytest.fixture(scope="module")
def born(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("born"))
    generate(GenerateOptions(count=COUNT, out=root, scan_ratio=0.0, seed=SEED, jobs=1))
    return root


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("scans"))
    specs = [
        Spec(1, "invoice", "classic_left", scan=True, fmt="pdf", dpi=(150,)),
        Spec(2, "invoice", "multipage_table", scan=True, fmt="tiff", dpi=(150,)),
        Spec(3, "receipt", "till_80mm", scan=True, fmt="png", dpi=(200,)),
        Spec(4, "receipt", "till_58mm", scan=True, fmt="jpeg", dpi=(200,), photo=True),
        Spec(5, "invoice", "banner_right", scan=True, fmt="jpeg", dpi=(150,)),
        Spec(6, "invoice", "multipage_table", scan=True, fmt="pdf", dpi=(150,)),
    ]
    generate(GenerateOptions(count=len(specs), out=root, seed=SEED, jobs=1), specs=specs)
    return root


def test_truth_has_the_schema_fields_and_pages(born):
    truths = _load_truths(born)
    assert len(truths) == COUNT
    for stem, t in truths.items():
        assert t["schema_version"] == "1.0"
        assert t["document"] == f"{stem}.pdf" and os.path.exists(os.path.join(born, "documents", t["document"]))
        assert t["kind"] in ("invoice", "receipt") and stem.startswith(t["kind"] + "-")
        assert t["layout"] in LAYOUTS
        assert t["scan"] is False
        assert t["date_order"] in ("day-first", "month-first")
        assert list(t["fields"]) == INVOICE.names
        for name in ("vendor_name", "document_date", "total_amount", "document_number"):
            assert t["fields"][name] is not None, (stem, name)
        if t["kind"] == "receipt":
            assert t["fields"]["due_date"] is None
        for page in t["pages"]:
            assert page["unit"] == "pt" and page["width"] > 100 and page["height"] > 100
        for name, f in t["fields"].items():
            if f is None:
                continue
            page = t["pages"][f["page"] - 1]
            x0, y0, x1, y1 = f["bbox"]
            assert 0 <= x0 < x1 <= page["width"] and 0 <= y0 < y1 <= page["height"], (stem, name, f["bbox"])
            # printed as is: every word of the value (of each line of an address) is on the page
            assert all(word in page["text"] for word in f["value"].split()), (stem, name)


def test_at_least_six_layouts_and_both_kinds(born):
    truths = _load_truths(born).values()
    assert len({t["layout"] for t in truths}) >= 6
    assert {t["kind"] for t in truths} == {"invoice", "receipt"}


def test_values_read_back_from_the_pdf_at_their_boxes(born):
    """pdfplumber finds exactly the recorded value inside the recorded box (0.5 pt / 2 pt of padding)."""
    checked = 0
    for stem, t in _load_truths(born).items():
        with pdfplumber.open(os.path.join(born, "documents", t["document"])) as pdf:
            assert len(pdf.pages) == len(t["pages"])
            for name in ("vendor_name", "document_number", "document_date", "due_date", "total_amount",
                         "tax_amount", "currency"):
                f = t["fields"][name]
                if f is None:
                    continue
                page = pdf.pages[f["page"] - 1]
                x0, y0, x1, y1 = f["bbox"]
                box = (max(0, x0 - 0.5), max(0, y0 - 2), min(page.width, x1 + 0.5), min(page.height, y1 + 2))
                text = " ".join((page.within_bbox(box).extract_text() or "").split())
                assert text == " ".join(f["value"].split()), (stem, name, text, f["value"])
                checked += 1
    assert checked >= COUNT * 5


def test_multi_page_invoices_put_the_total_on_the_last_page(born):
    multi = [t for t in _load_truths(born).values() if t["layout"] == "multipage_table"]
    assert multi
    for t in multi:
        assert len(t["pages"]) > 1
        assert t["fields"]["total_amount"]["page"] == len(t["pages"])
        assert t["fields"]["vendor_name"]["page"] == 1


def test_normalized_values_agree_with_normalize_py(born, scans):
    for root in (born, scans):
        for stem, t in _load_truths(root).items():
            f = t["fields"]
            for name in ("document_date", "due_date"):
                if f[name]:
                    assert normalize_date(f[name]["value"], t["date_order"]) == f[name]["normalized"], (stem, name, f[name])
                    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", f[name]["normalized"])
            for name in ("total_amount", "tax_amount"):
                if f[name]:
                    assert normalize_amount(f[name]["value"])[0] == f[name]["normalized"], (stem, name, f[name])
                    assert re.fullmatch(r"\d+\.\d{2}", f[name]["normalized"])
            cur = f["currency"]
            if cur and cur["value"] not in CURRENCY_GAPS:
                assert currency_code(cur["value"]) == cur["normalized"], (stem, cur)
            for name in ("vendor_name", "vendor_address", "document_number"):
                if f[name]:
                    assert f[name]["normalized"] == " ".join(f[name]["value"].split())


def test_same_seed_same_bytes_whatever_the_jobs(born, tmp_path):
    again = str(tmp_path / "again")
    generate(GenerateOptions(count=COUNT, out=again, scan_ratio=0.0, seed=SEED, jobs=2))
    assert _digest(again) == _digest(born)
    other = str(tmp_path / "other")
    generate(GenerateOptions(count=2, out=other, scan_ratio=0.0, seed=SEED + 1, jobs=1))
    assert _digest(other)["truth/invoice-000001.json"] != _digest(born)["truth/invoice-000001.json"]


def test_scans_are_deterministic(scans, tmp_path):
    root = str(tmp_path / "scans2")
    specs = [Spec(3, "receipt", "till_80mm", scan=True, fmt="png", dpi=(200,)),
             Spec(2, "invoice", "multipage_table", scan=True, fmt="tiff", dpi=(150,))]
    generate(GenerateOptions(count=2, out=root, seed=SEED, jobs=1), specs=specs)
    mine, theirs = _digest(root), _digest(scans)
    assert mine and all(theirs[k] == v for k, v in mine.items())


MAGIC = {".pdf": (b"%PDF",), ".tif": (b"II*\x00", b"MM\x00*"), ".png": (b"\x89PNG\r\n\x1a\n",), ".jpg": (b"\xff\xd8\xff",)}


def test_scans_have_the_declared_types_and_sizes(scans):
    from PIL import Image

    truths = _load_truths(scans)
    assert len(truths) == 6
    for stem, t in truths.items():
        assert t["scan"] is True
        path = os.path.join(scans, "documents", t["document"])
        ext = os.path.splitext(path)[1]
        with open(path, "rb") as fh:
            head = fh.read(8)
        assert any(head.startswith(m) for m in MAGIC[ext]), (stem, head)
        if ext == ".pdf":
            with pdfplumber.open(path) as pdf:
                assert len(pdf.pages) == len(t["pages"])
                assert not pdf.pages[0].chars  # image only: no text layer
                assert pdf.pages[0].images
                assert abs(float(pdf.pages[0].width) - t["pages"][0]["width"]) < 1.0
                assert t["pages"][0]["unit"] == "pt"
        else:
            with Image.open(path) as im:
                frames = getattr(im, "n_frames", 1)
                assert frames == len(t["pages"])
                assert im.size == (t["pages"][0]["width"], t["pages"][0]["height"])
                assert t["pages"][0]["unit"] == "px"
            if t["layout"] == "multipage_table":
                assert ext == ".tif" and frames > 1


def _page_array(path, page, unit_to_px):
    from PIL import Image

    if path.endswith(".pdf"):
        import pypdfium2 as pdfium

        pdf = pdfium.PdfDocument(path)
        arr = np.array(pdf[page - 1].render(scale=unit_to_px).to_pil().convert("L"))
        pdf.close()
        return arr
    with Image.open(path) as im:
        im.seek(page - 1)
        return np.array(im.convert("L"))


def test_scan_boxes_sit_on_ink(scans):
    """Each field box (moved by skew, turn or perspective) covers dark pixels; the page margin does not."""
    for stem, t in _load_truths(scans).items():
        path = os.path.join(scans, "documents", t["document"])
        scale = 2.0 if path.endswith(".pdf") else 1.0
        for name, f in t["fields"].items():
            if f is None:
                continue
            arr = _page_array(path, f["page"], scale)
            x0, y0, x1, y1 = (int(round(v * scale)) for v in f["bbox"])
            crop = arr[y0:y1 + 1, x0:x1 + 1]
            assert crop.size and crop.min() < 110, (stem, name, f["bbox"], int(crop.min()) if crop.size else None)


@pytest.mark.parametrize("turns", [0, 1, 2, 3])
@pytest.mark.parametrize("skew", [0.0, 2.5])
def test_degrade_moves_boxes_with_the_pixels(turns, skew):
    arr = np.full((300, 200), 255, np.uint8)
    box = (40.0, 60.0, 120.0, 90.0)
    arr[60:90, 40:120] = 0
    params = degrade.ScanParams(dpi=150, skew=skew, turns=turns, photo=False, blur=0.0, noise=0.0, paper=255,
                                jpeg_quality=0, bilevel=False)
    img, (moved,) = degrade.degrade_page(arr, [box], params, random.Random(1))
    ys, xs = np.nonzero(img < 128)
    ink = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    assert all(abs(a - b) <= 2.5 for a, b in zip(ink, moved)), (ink, moved)
    if turns % 2:
        assert img.shape == (200, 300)


def test_cli_writes_documents_and_truth_apart(tmp_path):
    import argparse

    from paperbeam.commands import synth

    parser = argparse.ArgumentParser()
    synth.register(parser.add_subparsers())
    out = str(tmp_path / "cli")
    args = parser.parse_args(["synth", "--count", "3", "--out", out, "--kinds", "receipt", "--scan-ratio", "0",
                              "--seed", "3", "--jobs", "1", "--quiet"])
    assert args.func(args, []) == 0
    assert sorted(os.listdir(os.path.join(out, "documents"))) == [f"receipt-00000{i}.pdf" for i in (1, 2, 3)]
    assert sorted(os.listdir(os.path.join(out, "truth"))) == [f"receipt-00000{i}.json" for i in (1, 2, 3)]
    with pytest.raises(SystemExit):
        parser.parse_args(["synth", "--count", "1", "--out", out, "--kinds", "bill"])


def test_normalize_reads_rupee_abbreviation():
    assert currency_code("Rs.") == "INR"
    assert normalize_amount("Rs. 1,234.50") == ("1234.50", "INR")
