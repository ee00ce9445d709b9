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
