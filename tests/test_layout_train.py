"""`paperbeam train` end to end on a tiny backbone and cached OCR: data report, held-out rule, saved deltas."""

import json
import os

from paperbeam.models.layout.ocrcache import cache_path
from paperbeam.models.layout.tiny import write_tiny_backbone
from paperbeam.records import Page, Word
from paperbeam.schema import INVOICE


def _receipt(stem, total, ocr_dir, root):
    words = [Word(t, (10.0 + 50 * k, 10.0 + 20 * k, 50.0 + 50 * k, 25.0 + 20 * k), 0.9, k)
             for k, t in enumerate(["ACME", "STORE", "TOTAL", total, "THANK", "YOU"])]
    page = Page(stem, 1, 400.0, 800.0, "px", "ocr", words, engine="tesseract 5")
    img = os.path.join(root, "img", stem + ".jpg")
    with open(img, "wb") as fh:  # never decoded: its words are in the OCR cache
        fh.write(stem.encode())
    with open(cache_path(ocr_dir, "tesseract", img), "w") as fh:
        json.dump(page.to_dict(), fh)
    with open(os.path.join(root, "key", stem + ".json"), "w") as fh:
        json.dump({"company": "ACME STORE", "date": "01/01/2020", "address": "", "total": total.replace(",", ".")}, fh)


def _tiny_sroie(tmp_path):
    """Seven receipts (words in the OCR cache) and a tiny backbone with weights: ``(root, cache, backbone)``."""
    root, cache = tmp_path / "sroie", tmp_path / "cache"
    (root / "img").mkdir(parents=True)
    (root / "key").mkdir()
    (cache / "tesseract").mkdir(parents=True)
    for n in range(1, 8):
        _receipt(f"{n:03d}", f"{n}.50", str(cache), str(root))
    backbone = write_tiny_backbone(str(tmp_path / "bb"), with_weights=True)
    return root, cache, backbone


def test_train_command_writes_a_small_model_and_reports_the_data(tmp_path, capsys):
    from paperbeam.cli import main

    root, cache, backbone = _tiny_sroie(tmp_path)
    out = tmp_path / "model"
    code = main(["train", "--data", str(root), "--out", str(out), "--epochs", "1", "--seed", "1",
                 "--backbone", backbone, "--ocr-cache", str(cache), "--threads", "1"])
    assert code == 0
    printed = capsys.readouterr().out
    # 002 and 007 are held out; the date is not on the page, so 7 labels could not be aligned
    assert "7 documents (2 held out), 21 labelled values, 7 not aligned" in printed
    summary = json.loads((out / "training.json").read_text())
    assert summary["train_documents"] == 5 and summary["validation_documents"] == 2 and summary["seed"] == 1
    spec = json.loads((out / "paperbeam-model.json").read_text())
    assert spec["backbone"] == backbone and spec["labels"][0] == "O"
    assert spec["hints"] == INVOICE.names and summary["hints"] == INVOICE.names  # it sees the rules' reading
    assert (out / "deltas.safetensors").stat().st_size < 5_000_000
    plain = tmp_path / "plain"
    assert main(["train", "--data", str(root), "--out", str(plain), "--epochs", "1", "--backbone", backbone,
                 "--ocr-cache", str(cache), "--threads", "1", "--no-rule-hints"]) == 0
    assert json.loads((plain / "paperbeam-model.json").read_text())["hints"] == []


def test_a_field_known_to_be_absent_is_taught_and_an_unaligned_or_unnamed_one_is_not():
    from paperbeam.models.layout.model import bio_labels
    from paperbeam.models.layout.train import _field_mask, taught_fields
    from paperbeam.schema import INVOICE

    # a synthetic invoice's truth: no due date (null); its address was printed but found no OCR words
    known = {"vendor_name": "ACME", "vendor_address": "1 Main St", "due_date": None, "total_amount": "9.99"}
    taught = taught_fields(known, unaligned=["vendor_address"])
    assert taught == ["due_date", "total_amount", "vendor_name"]
    mask = dict(zip(bio_labels(INVOICE.names), _field_mask(taught, bio_labels(INVOICE.names))))
    assert mask["O"] and mask["B-due_date"] and mask["I-due_date"]  # "no word is a due date" is taught
    assert not mask["B-vendor_address"] and not mask["B-document_number"]  # unaligned; not in the truth at all


def test_box_jitter_moves_a_window_as_a_whole_and_leaves_cls_sep_and_padding():
    import torch

    from paperbeam.models.layout.train import jitter_boxes

    bbox = torch.tensor([[[0, 0, 0, 0], [100, 200, 150, 220], [500, 200, 600, 220], [1000, 1000, 1000, 1000],
                          [0, 0, 0, 0]]] * 3)
    mask = torch.tensor([[1, 1, 1, 1, 0]] * 3)
    moved = jitter_boxes(bbox, mask, 0.1, torch.Generator().manual_seed(3))
    assert torch.equal(moved[:, 0], bbox[:, 0]) and torch.equal(moved[:, 3:], bbox[:, 3:])
    assert not torch.equal(moved[:, 1:3], bbox[:, 1:3])
    for w in moved:  # the second word is still right of the first, on the same row, in every window
        assert w[2, 0] > w[1, 2] and w[1, 1] == w[2, 1] and w[1, 3] == w[2, 3]
    again = jitter_boxes(bbox, mask, 0.1, torch.Generator().manual_seed(3))
    assert torch.equal(moved, again) and torch.equal(jitter_boxes(bbox, mask, 0.0, None), bbox)


def test_training_takes_the_words_of_a_pipeline_run_instead_of_reading_again(tmp_path):
    from paperbeam.models.layout.ocrcache import read_document, seed_from_run

    img = tmp_path / "img" / "004.jpg"
    img.parent.mkdir()
    img.write_bytes(b"never decoded")
    page = Page("x", 1, 400.0, 800.0, "px", "ocr", [Word("TOTAL", (1, 2, 3, 4), 0.9), Word("9.99", (5, 2, 9, 4), 0.8)])
    run = tmp_path / "run"
    run.mkdir()
    record = {"source_uri": "file://" + str(img), "pages": [page.to_dict(with_words=True)]}
    gone = {"source_uri": str(tmp_path / "img" / "gone.jpg"), "pages": [page.to_dict(with_words=True)]}
    (run / "records-00000-of-00001.jsonl").write_text(json.dumps(record) + "\n" + json.dumps(gone) + "\n")
    assert seed_from_run(str(run), "auto", str(tmp_path / "cache")) == 1
    doc = read_document(str(img), None, "auto", str(tmp_path / "cache"))  # no engine: it must not OCR
    assert [w.text for w in doc.pages[0].words] == ["TOTAL", "9.99"]


def test_training_can_start_from_a_saved_model(tmp_path):
    """With both learning rates at 0, training from ``--init`` saves the model it started from, unchanged."""
    import torch

    from paperbeam.cli import main
    from paperbeam.models.layout import weights

    root, cache, backbone = _tiny_sroie(tmp_path)
    common = ["--data", str(root), "--epochs", "1", "--backbone", backbone, "--ocr-cache", str(cache), "--threads", "1"]
    assert main(["train", "--out", str(tmp_path / "first"), "--seed", "1", *common]) == 0
    assert main(["train", "--out", str(tmp_path / "again"), "--seed", "2", "--lr", "0", "--head-lr", "0",
                 "--init", str(tmp_path / "first"), *common]) == 0
    first, _ = weights.load(str(tmp_path / "first"), backbone)
    again, _ = weights.load(str(tmp_path / "again"), backbone)
    a, b = first.state_dict(), again.state_dict()
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-3) for k in a)
    # the same training without --init starts from the backbone and a fresh head, not from "first"
    assert main(["train", "--out", str(tmp_path / "fresh"), "--seed", "2", "--lr", "0", "--head-lr", "0", *common]) == 0
    fresh = weights.load(str(tmp_path / "fresh"), backbone)[0].state_dict()
    assert not all(torch.allclose(a[k], fresh[k], atol=1e-3) for k in a)
    assert json.loads((tmp_path / "again" / "training.json").read_text())["init"] == str(tmp_path / "first")

