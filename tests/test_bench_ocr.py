"""bench/ocr.py on synthetic scans: the benchmark itself reads pages, scores them and prints its table."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_ocr_bench_scores_synthetic_scans_against_their_exact_text(tmp_path, tesseract):
    from paperbeam.synth.generate import GenerateOptions, generate

    generate(GenerateOptions(count=2, out=str(tmp_path), kinds=("receipt",), scan_ratio=1.0, seed=3, jobs=1))
    out = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "ocr.py"), "--synth", str(tmp_path),
                          "--engines", "tesseract"], capture_output=True, text=True, timeout=300, check=True).stdout
    header, rule, row = [line for line in out.splitlines() if line.startswith("|")][:3]
    cells = dict(zip([c.strip() for c in header.strip("|").split("|")], [c.strip() for c in row.strip("|").split("|")]))
    assert cells["engine"] == "tesseract" and int(cells["pages"]) >= 2
    assert float(cells["CER"]) < 0.3  # clean synthetic receipts read well
    assert float(cells["total"].rstrip("%")) > 0  # the printed total was found on the page


@pytest.mark.slow
def test_ocr_bench_reads_one_fold_of_a_sroie_folder_with_nested_engine_options(tmp_path, tesseract):
    """--fold 2 keeps only receipts whose number leaves 2 (of 5); 'auto:rapidocr.head=stock' reaches auto's RapidOCR."""
    pytest.importorskip("rapidocr")
    import csv
    import json

    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 28)
    for d in ("img", "box", "key"):
        (tmp_path / d).mkdir()
    for stem, shop in (("001", "KEDAI MAJU"), ("002", "TOKO BARU"), ("007", "KIOSK SATU")):
        lines = [shop, "19/10/2018", "TOTAL 60.30"]
        img = Image.new("RGB", (600, 260), "white")
        draw = ImageDraw.Draw(img)
        rows = []
        for i, text in enumerate(lines):
            x0, y0, x1, y1 = draw.textbbox((30, 30 + i * 70), text, font=font)
            draw.text((30, 30 + i * 70), text, fill="black", font=font)
            rows.append([x0, y0, x1, y0, x1, y1, x0, y1, text])
        img.save(tmp_path / "img" / f"{stem}.jpg", quality=95)
        with open(tmp_path / "box" / f"{stem}.csv", "w", newline="") as fh:
            csv.writer(fh).writerows(rows)
        (tmp_path / "key" / f"{stem}.json").write_text(json.dumps(
            {"company": shop, "date": "19/10/2018", "address": "", "total": "60.30"}))
    out = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "ocr.py"), "--sroie", str(tmp_path), "--fold", "2",
                          "--engine", "auto:rapidocr.head=stock"], capture_output=True, text=True, timeout=300, check=True).stdout
    header, rule, row = [line for line in out.splitlines() if line.startswith("|")][:3]
    cells = dict(zip([c.strip() for c in header.strip("|").split("|")], [c.strip() for c in row.strip("|").split("|")]))
    assert cells["engine"] == "auto:rapidocr.head=stock"
    assert int(cells["pages"]) == 2  # 002 and 007
    assert cells["total"] == "100%" and cells["date"] == "100%"
