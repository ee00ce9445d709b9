"""The model shipped inside the package loads offline and finds a total."""

import glob
import json
import os

import pytest

from paperbeam.models.layout.runtime import default_model_dir

pytestmark = pytest.mark.skipif(
    not os.path.exists(os.path.join(default_model_dir(), "paperbeam-model.json")),
    reason="the package was built without its model (paperbeam/data/model)",
)


def test_the_shipped_model_extracts_the_total_of_a_synthetic_receipt(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from paperbeam.models.extractors.model import ModelExtractor
    from paperbeam.models.layout.ocrcache import read_document
    from paperbeam.normalize import normalize_amount
    from paperbeam.schema import INVOICE
    from paperbeam.synth import GenerateOptions, generate

    generate(GenerateOptions(count=1, out=str(tmp_path), kinds=("receipt",), scan_ratio=0.0, seed=3, jobs=1))
    (pdf,) = glob.glob(str(tmp_path / "documents" / "*.pdf"))
    (truth,) = glob.glob(str(tmp_path / "truth" / "*.json"))
    doc = read_document(pdf, None, "text", cache_dir=str(tmp_path / "cache"))
    ex = ModelExtractor(INVOICE)
    ex.setup()
    fields = ex.extract(doc)
    with open(truth, encoding="utf-8") as fh:
        want = json.load(fh)["fields"]["total_amount"]["value"]
    assert fields["total_amount"].normalized == normalize_amount(want)[0]
    assert fields["total_amount"].extractor == "model" and fields["total_amount"].bbox is not None
    assert ex.model_version.startswith("layout")
