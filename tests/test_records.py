"""records.py: every record round-trips through JSON unchanged."""

from __future__ import annotations

import json

from paperbeam.records import SCHEMA_VERSION, DeadLetter, Field, Page, Record, Word


def _word(text="INV-1042", x=392.8):
    return Word(text=text, bbox=(x, 177.07, x + 42.24, 187.07), confidence=0.9612, line=3, block=1)


def _page(number=1, words=None):
    return Page(doc_id="abc", page_number=number, width=595.0, height=842.0, unit="pt", source="text_layer",
                words=words if words is not None else [_word(), _word("Total", 340.0)], engine="pdfplumber",
                mean_confidence=0.98, dpi=None, rotation=90, seconds=0.125)


def _record():
    return Record(
        id="abc", source_uri="file:///in/invoice.pdf", media_type="application/pdf", page_count=2,
        pages=[_page(1), _page(2, words=[])],
        fields={
            "total_amount": Field("1,234.56", "1234.56", 0.62, 1, (469.63, 370.48, 545.0, 382.48), "rules"),
            "vendor_name": Field("ACME Supplies GmbH", "ACME Supplies GmbH", 0.95, 1, (50.0, 55.73, 233.04, 73.73), "rules"),
            "due_date": Field("", None, 0.0, None, None, "rules"),
        },
        versions={"paperbeam": "0.1.0", "ocr_engine": None, "extractor": "rules 1"},
        metadata={"email_subject": "Invoice für Oktober"},
    )


def test_word_round_trip():
    w = _word()
    assert Word.from_dict(json.loads(json.dumps(w.to_dict()))) == w


def test_page_round_trip_with_words():
    p = _page()
    back = Page.from_dict(json.loads(json.dumps(p.to_dict(with_words=True))), doc_id="abc")
    assert back == p


def test_page_without_words_has_a_count_only():
    d = _page().to_dict(with_words=False)
    assert "words" not in d and d["word_count"] == 2


def test_page_error_round_trips():
    p = _page(words=[])
    p.error = {"stage": "ocr", "error": "OcrFailed", "message": "tesseract failed"}
    assert Page.from_dict(json.loads(json.dumps(p.to_dict())), doc_id="abc") == p


def test_record_round_trip_with_words():
    r = _record()
    line = r.to_json(with_words=True)
    assert Record.from_json(line) == r
    assert Record.from_json(line).to_json(with_words=True) == line


def test_record_without_words_keeps_everything_else():
    r = _record()
    back = Record.from_json(r.to_json())
    assert back.fields == r.fields
    assert back.versions == r.versions and back.metadata == r.metadata
    assert [p.page_number for p in back.pages] == [1, 2]
    assert all(p.words == [] for p in back.pages)


def test_words_only_with_with_words():
    r = _record()
    plain = json.loads(r.to_json())
    full = json.loads(r.to_json(with_words=True))
    assert all("words" not in p for p in plain["pages"])
    assert [w["text"] for w in full["pages"][0]["words"]] == ["INV-1042", "Total"]


def test_schema_version_is_present():
    d = json.loads(_record().to_json())
    assert d["schema_version"] == SCHEMA_VERSION
    letter = json.loads(DeadLetter("file:///x.pdf", "split", "EncryptedDocument", "encrypted").to_json())
    assert letter["schema_version"] == SCHEMA_VERSION


def test_record_json_is_one_line_and_keeps_unicode():
    line = _record().to_json()
    assert "\n" not in line
    assert "für" in line


def test_dead_letter_round_trip():
    letter = DeadLetter(source_uri="file:///in/scan.tiff", stage="ocr", error="OcrFailed",
                        message="Page 2: tesseract failed", doc_id="abc", page=2)
    assert DeadLetter.from_json(letter.to_json()) == letter


def test_dead_letter_ignores_unknown_keys_from_newer_versions():
    d = DeadLetter("u", "read", "EmptyDocument", "empty").to_dict()
    d["added_in_2_0"] = True
    assert DeadLetter.from_dict(d) == DeadLetter("u", "read", "EmptyDocument", "empty")
