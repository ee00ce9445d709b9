"""The Beam stages together, on TestPipeline with assert_that and the real tesseract.

One mixed folder: a born-digital invoice, its scan as an image-only PDF, a
2-page TIFF, a PNG, an EXIF-rotated JPEG, a PNG named .pdf, and five broken
files. Every input must end as exactly one record or one dead letter.
"""

from __future__ import annotations

import os

import apache_beam as beam
import pytest
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import BeamAssertException, assert_that

from paperbeam.pipelines import batch
from paperbeam.pipelines.runners import runner_and_options
from paperbeam.pipelines.options import RunConfig

import fixtures as F

pytestmark = pytest.mark.slow

RECORDS = {
    # file -> (media type, page count, page source)
    "invoice.pdf": ("application/pdf", 1, "text_layer"),
    "scanned.pdf": ("application/pdf", 1, "ocr"),
    "scan.tiff": ("image/tiff", 2, "ocr"),
    "receipt.png": ("image/png", 1, "ocr"),
    "photo.jpg": ("image/jpeg", 1, "ocr"),
    "png-named.pdf": ("image/png", 1, "ocr"),
}


def _pipeline(config: RunConfig) -> test_pipeline.TestPipeline:
    runner, options = runner_and_options(config, [])
    return test_pipeline.TestPipeline(runner=runner, options=options)


def _check(predicate):
    """An assert_that matcher from a function that raises AssertionError."""

    def match(actual):
        try:
            predicate(list(actual))
        except AssertionError as exc:
            raise BeamAssertException(str(exc)) from exc

    return match


def _by_name(items):
    return {os.path.basename(i.source_uri): i for i in items}


def _records_are_the_readable_inputs(records):
    names = sorted(os.path.basename(r.source_uri) for r in records)
    assert names == sorted(RECORDS), names


def _page_sources(records):
    for name, rec in _by_name(records).items():
        media_type, count, source = RECORDS[name]
        assert rec.media_type == media_type, (name, rec.media_type)
        assert rec.page_count == count == len(rec.pages), (name, rec.page_count)
        assert [p.page_number for p in rec.pages] == list(range(1, count + 1)), name
        for page in rec.pages:
            assert page.source == source, (name, page.page_number, page.source)
            assert page.error is None, (name, page.error)
            if source == "ocr":
                assert page.engine and page.engine.startswith("tesseract"), (name, page.engine)
                assert page.unit == "px" and page.words, name
            else:
                assert page.engine == "pdfplumber" and page.unit == "pt", name


def _born_digital_fields(records):
    rec = _by_name(records)["invoice.pdf"]
    assert rec.versions["ocr_engine"] is None  # nothing of it was OCR'd
    assert rec.fields["total_amount"].normalized == "1234.56"
    assert rec.fields["document_number"].value == F.INVOICE_NUMBER
    assert rec.fields["document_date"].normalized == "2018-10-19"
    assert rec.fields["currency"].normalized == "EUR"
    assert rec.fields["total_amount"].page == 1


def _ocr_read_the_scans(records):
    by_name = _by_name(records)
    scan = by_name["scanned.pdf"]
    assert scan.pages[0].dpi == 150
    assert F.INVOICE_NUMBER in [w.text for w in scan.pages[0].words]
    assert scan.fields["total_amount"].normalized == "1234.56"
    assert scan.versions["ocr_engine"].startswith("tesseract")
    # the EXIF-rotated photo was read upright: its words are words, not noise
    photo_text = " ".join(w.text for w in by_name["photo.jpg"].pages[0].words)
    assert "CORNER" in photo_text and "60.30" in photo_text, photo_text
    assert by_name["photo.jpg"].fields["total_amount"].normalized == "60.30"


def _dead_letters_are_the_broken_inputs(letters):
    got = {os.path.basename(d.source_uri): (d.stage, d.error) for d in letters}
    assert len(got) == len(letters), "an input has more than one dead letter"
    assert got == F.BROKEN, got
    for d in letters:
        assert d.message and "bug" not in d.message.lower(), d.message


def test_mixed_folder(mixed_dir, tesseract, tmp_path):
    config = RunConfig(input=str(mixed_dir), output=str(tmp_path / "out"), workers=1, dpi=150)
    inputs = len(os.listdir(mixed_dir))
    assert inputs == len(RECORDS) + len(F.BROKEN)
    with _pipeline(config) as p:
        records, dead_letters = batch.extract_records(p, config)
        assert_that(records, _check(_records_are_the_readable_inputs), label="RecordsAreReadableInputs")
        assert_that(records, _check(_page_sources), label="PageSources")
        assert_that(records, _check(_born_digital_fields), label="BornDigitalFields")
        assert_that(records, _check(_ocr_read_the_scans), label="OcrReadTheScans")
        assert_that(dead_letters, _check(_dead_letters_are_the_broken_inputs), label="DeadLetters")
        counted = (
            (records | "R1" >> beam.Map(lambda r: r.source_uri),
             dead_letters | "D1" >> beam.Map(lambda d: d.source_uri))
            | "AllOutcomes" >> beam.Flatten()
        )
        expected = sorted(str(mixed_dir / n) for n in os.listdir(mixed_dir))
        assert_that(counted, _check(lambda uris: _same(sorted(uris), expected)), label="EveryInputOnce")


def _same(actual, expected):
    assert actual == expected, (actual, expected)


def test_password_opens_the_encrypted_pdf(docs_dir, tmp_path):
    from paperbeam.pipelines.options import Secret

    config = RunConfig(input=str(docs_dir / "encrypted.pdf"), output=str(tmp_path / "out"), workers=1,
                       pdf_password=Secret("secret"))

    def one_text_layer_record(records):
        assert len(records) == 1
        assert records[0].pages[0].source == "text_layer"
        assert records[0].fields["total_amount"].normalized == "1234.56"

    with _pipeline(config) as p:
        records, dead_letters = batch.extract_records(p, config)
        assert_that(records, _check(one_text_layer_record), label="Record")
        assert_that(dead_letters, _check(lambda d: _same(d, [])), label="NoDeadLetters")
