"""The whole job over real odd PDFs from pdfplumber's test suite.

They live outside the repository (``<repo>/../shared/samples/pdf-oddities``)
and are never copied in; without them these tests skip. Each file is named
after the problem it once caused. Run at 100 dpi with two workers to stay fast.
"""

from __future__ import annotations

import glob
import json
import os
from pathlib import Path

import pytest

from paperbeam import cli
from paperbeam.errors import ExitCode

pytestmark = pytest.mark.slow


def _lines(out: Path, prefix: str):
    rows = []
    for path in sorted(glob.glob(str(out / f"{prefix}-*.jsonl"))):
        rows += [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


@pytest.fixture(scope="module")
def odd_run(oddities, tesseract, tmp_path_factory):
    out = tmp_path_factory.mktemp("oddities") / "out"
    code = cli.main(["run", "--input", str(oddities), "--output", str(out), "--dpi", "100", "--workers", "2"])
    records = {os.path.basename(r["source_uri"]): r for r in _lines(out, "records")}
    letters = _lines(out, "dead_letters")
    return code, out, records, letters


def test_every_file_is_one_record_or_one_dead_letter(oddities, odd_run):
    code, out, records, letters = odd_run
    assert code == ExitCode.OK_WITH_DEAD_LETTERS  # empty.pdf and password-example.pdf are dead letters
    names = sorted(p.name for p in oddities.iterdir() if p.is_file())
    outcomes = sorted(list(records) + [os.path.basename(d["source_uri"]) for d in letters])
    assert outcomes == names  # each name exactly once
    summary = json.loads((out / "summary.json").read_text())
    assert summary["accounted"] and summary["inputs"] == len(names)


def test_no_dead_letter_is_a_bug(odd_run):
    _, _, _, letters = odd_run
    for d in letters:
        assert "bug" not in d["message"].lower(), d


def test_empty_pdf(odd_run):
    _, _, _, letters = odd_run
    letter = next(d for d in letters if d["source_uri"].endswith("/empty.pdf"))
    assert (letter["stage"], letter["error"]) == ("read", "EmptyDocument")


def test_password_example_without_password(odd_run):
    _, _, _, letters = odd_run
    letter = next(d for d in letters if d["source_uri"].endswith("/password-example.pdf"))
    assert letter["error"] == "EncryptedDocument"
    assert "--pdf-password-file" in letter["message"]


def test_password_example_with_password(oddities, tesseract, tmp_path):
    password = tmp_path / "pw"
    password.write_text("test")
    out = tmp_path / "out"
    code = cli.main(["run", "--input", str(oddities / "password-example.pdf"), "--output", str(out),
                     "--dpi", "100", "--workers", "1", "--pdf-password-file", str(password)])
    assert code == 0
    records = _lines(out, "records")
    assert len(records) == 1 and _lines(out, "dead_letters") == []
    assert records[0]["page_count"] >= 1


def test_chelsea_is_a_record_of_65_pages(odd_run):
    _, _, records, _ = odd_run
    rec = records["chelsea_pdta.pdf"]
    assert rec["page_count"] == 65
    assert [p["page"] for p in rec["pages"]] == list(range(1, 66))
    assert sum(p["source"] == "text_layer" for p in rec["pages"]) >= 60


def test_scanned_pages_were_ocrd(odd_run):
    """issue-203-decimalize.pdf has no text layer: its 3 pages must be OCR'd, not left empty."""
    _, _, records, _ = odd_run
    rec = records["issue-203-decimalize.pdf"]
    assert rec["page_count"] == 3
    for page in rec["pages"]:
        assert page["source"] == "ocr" and page["engine"].startswith("tesseract")
        assert page["dpi"] == 100
