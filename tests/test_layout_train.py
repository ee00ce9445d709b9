"""`paperbeam train` end to end on a tiny backbone and cached OCR: data report, held-out rule, saved deltas."""

import json
import os

from paperbeam.models.layout.ocrcache import cache_path
from paperbeam.models.layout.tiny import write_tiny_backbone
from paperbeam.records import Page, Word


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


def test_train_command_writes_a_small_model_and_reports_the_data(tmp_path, capsys):
    from paperbeam.cli import main

    root, cache = tmp_path / "sroie", tmp_path / "cache"
    (root / "img").mkdir(parents=True)
    (root / "key").mkdir()
    (cache / "tesseract").mkdir(parents=True)
    for n in range(1, 8):
        _receipt(f"{n:03d}", f"{n}.50", str(cache), str(root))
    backbone = write_tiny_backbone(str(tmp_path / "bb"), with_weights=True)
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
    assert (out / "deltas.safetensors").stat().st_size < 5_000_000
