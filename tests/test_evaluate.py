"""paperbeam evaluate: hand-made cases whose scores are worked out by hand."""

from __future__ import annotations

import argparse
import json

import pytest

from paperbeam.errors import ConfigError
from paperbeam.models.evaluate import (
    comparable,
    document_stem,
    evaluate,
    load_predictions,
    load_truth,
)

TYPES = {"vendor_name": "string", "document_date": "date", "total_amount": "money"}

TRUTH = {
    "001": {"vendor_name": "ACME GmbH", "document_date": "19/10/2018", "total_amount": "60.30"},
    "002": {"vendor_name": "Beta Ltd", "document_date": "2019-01-12", "total_amount": "33.90"},
}


def record(stem, uri_prefix="file:///data/in/", ext=".pdf", **fields):
    """A prediction record in the public JSON form, with only what evaluate reads."""
    return {
        "schema_version": "1.0",
        "id": "sha-" + stem,
        "source_uri": f"{uri_prefix}{stem}{ext}",
        "media_type": "application/pdf",
        "page_count": 1,
        "fields": {
            name: {"value": value, "normalized": None, "confidence": 0.9, "page": 1, "bbox": None, "extractor": "rules"}
            for name, value in fields.items()
        },
    }


def perfect_predictions():
    return [record(stem, **values) for stem, values in TRUTH.items()]


# --------------------------------------------------------------------------
# Scores


def test_perfect_predictions_score_one_everywhere():
    report = evaluate(perfect_predictions(), TRUTH, TYPES)
    for name in TYPES:
        s = report.fields[name]
        assert (s.precision, s.recall, s.f1, s.edit_similarity) == (1.0, 1.0, 1.0, 1.0), name
        assert (s.support, s.predicted) == (2, 2)
    assert (report.micro.tp, report.micro.fp, report.micro.fn) == (6, 0, 0)
    assert report.micro.f1 == 1.0
    assert report.documents == 2
    assert report.documents_without_prediction == 0
    assert report.extra_predictions == 0
    assert report.mismatches == []


def test_no_predictions_at_all():
    report = evaluate([], TRUTH, TYPES)
    for name in TYPES:
        s = report.fields[name]
        assert (s.tp, s.fp, s.fn) == (0, 0, 2)
        assert (s.precision, s.recall, s.f1, s.edit_similarity) == (0.0, 0.0, 0.0, 0.0)
    assert report.micro.recall == 0.0
    assert report.documents_without_prediction == 2
    assert report.missing_documents == ["001", "002"]
    assert report.mismatches == []  # missing documents are listed once, not per field


def test_records_with_no_fields_are_predictions_not_missing_documents():
    report = evaluate([record("001"), record("002")], TRUTH, TYPES)
    assert report.micro.recall == 0.0
    assert report.micro.fn == 6
    assert report.documents_without_prediction == 0


def test_one_field_wrong_gives_exact_scores():
    preds = perfect_predictions()
    preds[0]["fields"]["vendor_name"]["value"] = "ACME GmbX"  # one substitution in 9 characters
    report = evaluate(preds, TRUTH, TYPES)

    s = report.fields["vendor_name"]
    assert (s.tp, s.fp, s.fn) == (1, 1, 1)
    assert s.precision == pytest.approx(0.5)
    assert s.recall == pytest.approx(0.5)
    assert s.f1 == pytest.approx(0.5)
    # (1 + (1 - 1/9)) / 2 documents
    assert s.edit_similarity == pytest.approx(17 / 18)

    assert report.fields["document_date"].f1 == 1.0
    assert report.fields["total_amount"].f1 == 1.0
    m = report.micro
    assert (m.tp, m.fp, m.fn) == (5, 1, 1)
    assert m.precision == pytest.approx(5 / 6)
    assert m.recall == pytest.approx(5 / 6)
    assert m.f1 == pytest.approx(5 / 6)
    assert m.edit_similarity == pytest.approx((5 + 8 / 9) / 6)

    assert len(report.mismatches) == 1
    mm = report.mismatches[0]
    assert (mm.document, mm.field, mm.truth, mm.predicted) == ("001", "vendor_name", "acme gmbh", "acme gmbx")
    assert mm.similarity == pytest.approx(8 / 9)


def test_prediction_without_truth_is_a_false_positive_and_missing_prediction_a_false_negative():
    truth = {"a": {"vendor_name": None, "total_amount": "10.00"}, "b": {"vendor_name": "X", "total_amount": None}}
    types = {"vendor_name": "string", "total_amount": "money"}
    preds = [record("a", vendor_name="Invented"), record("b", vendor_name="X")]
    report = evaluate(preds, truth, types)

    v = report.fields["vendor_name"]
    assert (v.tp, v.fp, v.fn) == (1, 1, 0)
    assert (v.precision, v.recall) == (0.5, 1.0)
    assert v.f1 == pytest.approx(2 / 3)
    assert v.edit_similarity == pytest.approx(0.5)  # a: 0 (no truth), b: 1

    t = report.fields["total_amount"]
    assert (t.tp, t.fp, t.fn) == (0, 0, 1)
    assert (t.precision, t.recall, t.f1, t.edit_similarity) == (0.0, 0.0, 0.0, 0.0)
    assert (t.support, t.predicted, t.compared) == (1, 0, 1)


def test_field_with_no_truth_and_no_prediction_scores_one_and_does_not_move_micro():
    types = {"vendor_name": "string", "due_date": "date"}
    truth = {"a": {"vendor_name": "X", "due_date": None}}
    report = evaluate([record("a", vendor_name="Y")], truth, types)
    d = report.fields["due_date"]
    assert (d.precision, d.recall, d.f1, d.edit_similarity, d.support) == (1.0, 1.0, 1.0, 1.0, 0)
    assert (report.micro.tp, report.micro.fp, report.micro.fn) == (0, 1, 1)
    assert report.micro.f1 == 0.0


def test_extra_predictions_are_ignored_and_counted():
    preds = perfect_predictions() + [record("999", vendor_name="Nobody", total_amount="1.00")]
    report = evaluate(preds, TRUTH, TYPES)
    assert report.micro.f1 == 1.0
    assert report.micro.fp == 0
    assert report.extra_predictions == 1
    assert report.extra_documents == ["999"]


def test_missing_documents_count_as_false_negatives():
    report = evaluate(perfect_predictions()[:1], TRUTH, TYPES)
    assert report.documents_without_prediction == 1
    assert report.missing_documents == ["002"]
    for s in report.fields.values():
        assert (s.tp, s.fp, s.fn) == (1, 0, 1)
        assert (s.precision, s.recall) == (1.0, 0.5)
        assert s.edit_similarity == pytest.approx(0.5)
    assert report.micro.f1 == pytest.approx(2 / 3)


def test_duplicate_predictions_score_the_first_only():
    preds = perfect_predictions() + [record("001", uri_prefix="/other/dir/", vendor_name="Wrong")]
    report = evaluate(preds, TRUTH, TYPES)
    assert report.micro.f1 == 1.0
    assert report.duplicate_predictions == 1


# --------------------------------------------------------------------------
# Normalisation


def test_dates_compare_as_iso_dates():
    truth = {"a": {"document_date": "19/10/2018"}, "b": {"document_date": "12-01-19"}}
    types = {"document_date": "date"}
    preds = [record("a", document_date="2018-10-19"), record("b", document_date="12 Jan 2019")]
    assert evaluate(preds, truth, types).fields["document_date"].tp == 2

    wrong = [record("a", document_date="2018-10-18"), record("b", document_date="2019-12-01")]
    assert evaluate(wrong, truth, types).fields["document_date"].tp == 0


def test_date_order_decides_ambiguous_dates():
    truth = {"a": {"document_date": "03/04/2019"}}
    types = {"document_date": "date"}
    preds = [record("a", document_date="2019-04-03")]
    assert evaluate(preds, truth, types, date_order="day-first").fields["document_date"].tp == 1
    assert evaluate(preds, truth, types, date_order="month-first").fields["document_date"].tp == 0


def test_prediction_normalized_value_is_preferred():
    preds = [record("a", document_date="sometime")]
    preds[0]["fields"]["document_date"]["normalized"] = "2018-10-19"
    report = evaluate(preds, {"a": {"document_date": "19/10/2018"}}, {"document_date": "date"})
    assert report.fields["document_date"].tp == 1


def test_amounts_compare_as_decimals():
    truth = {"a": {"total_amount": "RM 60.30"}, "b": {"total_amount": "1,234.50"}}
    types = {"total_amount": "money"}
    preds = [record("a", total_amount="60.3"), record("b", total_amount="1234.5")]
    assert evaluate(preds, truth, types).fields["total_amount"].tp == 2

    wrong = [record("a", total_amount="60.31"), record("b", total_amount="123.45")]
    assert evaluate(wrong, truth, types).fields["total_amount"].tp == 0


def test_text_is_case_folded_and_white_space_collapsed():
    truth = {"a": {"vendor_name": "ACME  GmbH\n"}}
    report = evaluate([record("a", vendor_name=" acme gmbh")], truth, {"vendor_name": "string"})
    assert report.fields["vendor_name"].tp == 1
    report = evaluate([record("a", vendor_name="ACME AG")], truth, {"vendor_name": "string"})
    assert report.fields["vendor_name"].tp == 0


def test_unparseable_values_fall_back_to_string_compare():
    assert comparable("date", "no date here") == "no date here"
    assert comparable("money", "  N/A ") == "n/a"
    assert comparable("money", "") is None
    assert comparable("string", "   ") is None
    assert comparable("money", "-1.73") == "-1.73"
    assert comparable("money", "100") == comparable("money", "100.00") == "100"


@pytest.mark.parametrize(
    "uri, stem",
    [
        ("file:///data/in/img/001.jpg", "001"),
        ("file:///data/My%20Invoice.v2.pdf", "My Invoice.v2"),
        ("/data/in/002.pdf", "002"),
        ("gs://bucket/scans/003.tiff", "003"),
        ("C:\\scans\\004.png", "004"),
        ("005", "005"),
    ],
)
def test_document_stem(uri, stem):
    assert document_stem(uri) == stem


# --------------------------------------------------------------------------
# Loaders


def write_records(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def test_load_predictions_from_file_dir_and_glob(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    write_records(out / "records-00000-of-00002.jsonl", perfect_predictions()[:1])
    write_records(out / "records-00001-of-00002.jsonl", perfect_predictions()[1:] + [])
    (out / "dead_letters-00000-of-00001.jsonl").write_text('{"stage": "read"}\n', encoding="utf-8")

    assert [r["id"] for r in load_predictions(str(out))] == ["sha-001", "sha-002"]
    assert len(load_predictions(str(out / "records-00000-of-00002.jsonl"))) == 1
    assert len(load_predictions(str(out / "records-*.jsonl"))) == 2


def test_load_predictions_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_predictions(str(tmp_path / "nope.jsonl"))
    with pytest.raises(ConfigError, match="No records"):
        load_predictions(str(tmp_path))
    with pytest.raises(ConfigError, match="No files match"):
        load_predictions(str(tmp_path / "records-*.jsonl"))
    bad = tmp_path / "records.jsonl"
    bad.write_text('{"source_uri": "a.pdf"}\nnot json\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="records.jsonl:2"):
        load_predictions(str(bad))


def make_sroie(root):
    """A two-receipt SROIE-layout directory: key/NNN.json beside img/NNN.jpg."""
    (root / "key").mkdir(parents=True)
    (root / "img").mkdir()
    keys = {
        "000": {"company": "INDAH GIFT & HOME DECO", "date": "19/10/2018",
                "address": "27, JALAN DEDAP 13, 81100 JOHOR BAHRU", "total": "60.30"},
        "001": {"company": "T.A.S LEISURE SDN BHD", "date": "30 DEC 17", "total": "102.40"},  # no address
    }
    for stem, key in keys.items():
        (root / "key" / f"{stem}.json").write_text(json.dumps(key), encoding="utf-8")
        (root / "img" / f"{stem}.jpg").write_bytes(b"\xff\xd8\xff")
    return root


def test_load_sroie_truth(tmp_path):
    truth = load_truth(str(make_sroie(tmp_path / "sroie")))  # detected from key/
    assert truth.format == "sroie"
    assert truth.field_types == {
        "vendor_name": "string", "document_date": "date", "vendor_address": "string", "total_amount": "money",
    }
    assert truth.documents["000"]["vendor_name"] == "INDAH GIFT & HOME DECO"
    assert truth.documents["000"]["total_amount"] == "60.30"
    assert truth.documents["001"]["vendor_address"] is None

    preds = [
        record("000", uri_prefix="file:///sroie/img/", ext=".jpg", vendor_name="Indah Gift & Home Deco",
               document_date="2018-10-19", vendor_address="27, JALAN DEDAP 13, 81100 JOHOR BAHRU",
               total_amount="RM 60.30"),
        record("001", uri_prefix="file:///sroie/img/", ext=".jpg", vendor_name="T.A.S LEISURE SDN BHD",
               document_date="2017-12-30", total_amount="102.40"),
    ]
    report = evaluate(preds, truth.documents, truth.field_types)
    assert report.micro.f1 == 1.0
    assert report.fields["vendor_address"].support == 1


def write_paperbeam_truth(root):
    (root / "truth").mkdir(parents=True)
    docs = {
        "inv-1": {
            "vendor_name": {"value": "ACME  GmbH", "normalized": "ACME GmbH", "page": 1, "bbox": [1, 2, 3, 4]},
            "document_date": {"value": "19.10.2018", "normalized": "2018-10-19", "page": 1, "bbox": None},
            "total_amount": {"value": "1.234,50 €", "normalized": "1234.50", "page": 1, "bbox": None},
            "due_date": None,
            "purchase_order": {"value": "PO-1", "normalized": "PO-1"},  # not in the invoice schema
        },
        "inv-2": {
            "vendor_name": {"value": "Beta Ltd", "page": 1, "bbox": None},  # no normalized: value is used
            "document_date": {"value": "2019-01-12", "normalized": "2019-01-12"},
            "total_amount": None,
            "due_date": None,
        },
    }
    for stem, fields in docs.items():
        data = {"schema_version": "1.0", "document": f"{stem}.pdf", "kind": "invoice", "fields": fields, "pages": []}
        (root / "truth" / f"{stem}.json").write_text(json.dumps(data), encoding="utf-8")
    return root


def test_load_paperbeam_truth(tmp_path):
    truth = load_truth(str(write_paperbeam_truth(tmp_path / "synth")))
    assert truth.format == "paperbeam"
    # Invoice-schema fields named in the truth files, in schema order.
    assert list(truth.field_types) == ["vendor_name", "document_date", "due_date", "total_amount"]
    assert truth.documents["inv-1"]["vendor_name"] == "ACME GmbH"
    assert truth.documents["inv-2"]["vendor_name"] == "Beta Ltd"
    assert truth.documents["inv-2"]["total_amount"] is None
    assert "purchase_order" not in truth.documents["inv-1"]

    preds = [
        record("inv-1", vendor_name="ACME GmbH", document_date="19/10/2018", total_amount="1234.5"),
        record("inv-2", vendor_name="Beta Ltd", document_date="2019-01-12", due_date="2019-02-12"),
    ]
    report = evaluate(preds, truth.documents, truth.field_types)
    assert report.fields["total_amount"].f1 == 1.0
    assert (report.fields["due_date"].fp, report.fields["due_date"].precision) == (1, 0.0)
    # the truth/ directory itself works as well as its parent
    assert load_truth(str(tmp_path / "synth" / "truth"), "paperbeam").documents == truth.documents


def test_load_truth_errors(tmp_path):
    with pytest.raises(ConfigError, match="Truth directory not found"):
        load_truth(str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="No .json truth files"):
        load_truth(str(tmp_path), "paperbeam")
    make_sroie(tmp_path / "s")
    with pytest.raises(ConfigError, match="not a paperbeam truth file"):
        load_truth(str(tmp_path / "s" / "key"), "paperbeam")


# --------------------------------------------------------------------------
# The command


def _setup_cli_case(tmp_path):
    sroie = make_sroie(tmp_path / "sroie")
    out = tmp_path / "out"
    out.mkdir()
    write_records(out / "records-00000-of-00001.jsonl", [
        record("000", uri_prefix="file:///sroie/img/", ext=".jpg", vendor_name="INDAH GIFT & HOME DECO",
               document_date="19/10/2018", vendor_address="27, JALAN DEDAP 13, 81100 JOHOR BAHRU",
               total_amount="60.3"),
        record("777", vendor_name="not in truth"),
    ])
    return sroie, out


def _check_cli_report(path, printed):
    report = json.loads(path.read_text(encoding="utf-8"))
    assert report["format"] == "sroie"
    assert report["documents"] == 2
    assert report["documents_without_prediction"] == 1
    assert report["extra_predictions"] == 1
    assert report["missing_documents"] == ["001"]
    assert report["fields"]["total_amount"]["precision"] == 1.0
    assert report["fields"]["total_amount"]["recall"] == 0.5
    assert report["fields"]["vendor_address"]["recall"] == 1.0
    assert report["micro"]["tp"] == 4 and report["micro"]["fn"] == 3 and report["micro"]["fp"] == 0
    assert report["micro"]["recall"] == pytest.approx(4 / 7)
    assert "micro avg" in printed and "vendor_address" in printed


def test_command_directly(tmp_path, capsys):
    from paperbeam.commands import evaluate as command

    sroie, out = _setup_cli_case(tmp_path)
    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers())
    args = parser.parse_args(
        ["evaluate", "--predictions", str(out), "--truth", str(sroie), "--json", str(tmp_path / "r" / "report.json")]
    )
    assert args.func(args, []) == 0
    _check_cli_report(tmp_path / "r" / "report.json", capsys.readouterr().out)


def test_cli_end_to_end(tmp_path, capsys):
    from paperbeam.cli import main

    sroie, out = _setup_cli_case(tmp_path)
    report = tmp_path / "report.json"
    code = main(["evaluate", "--predictions", str(out / "records-*.jsonl"), "--truth", str(sroie),
                 "--format", "sroie", "--json", str(report)])
    assert code == 0
    _check_cli_report(report, capsys.readouterr().out)

    code = main(["evaluate", "--predictions", str(tmp_path / "nowhere"), "--truth", str(sroie)])
    assert code == 2
    assert "Predictions not found" in capsys.readouterr().err
