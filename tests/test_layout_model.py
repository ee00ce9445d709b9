"""The layout model on a tiny randomly initialised backbone: box embeddings,
delta weights, the Beam ModelHandler and the model/auto extractors."""

import numpy as np
import pytest
import torch

from paperbeam.models.extractors.auto import AutoExtractor, combine
from paperbeam.models.extractors.model import ModelExtractor
from paperbeam.models.layout import weights
from paperbeam.models.layout.backbone import load_encoder
from paperbeam.models.layout.features import collate, document_words, encode
from paperbeam.models.layout.handler import LayoutModelHandler
from paperbeam.models.layout.model import quantize_int8
from paperbeam.models.layout.tiny import tiny_model
from paperbeam.records import Document, Field, Page, Word
from paperbeam.schema import INVOICE


def make_document(doc_id="d1", words=None):
    texts = words or ["ACME", "TRADING", "Date:", "01/02/2020", "TOTAL", "RM", "12.50"]
    ws = [Word(t, (10.0 + 40 * (k % 3), 20.0 + 15 * (k // 3), 45.0 + 40 * (k % 3), 32.0 + 15 * (k // 3)), 0.95, k // 3)
          for k, t in enumerate(texts)]
    page = Page(doc_id, 1, 200.0, 300.0, "px", "ocr", ws, engine="tesseract 5")
    return Document(doc_id, f"file:///in/{doc_id}.png", "image/png", [page])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_model(str(tmp_path_factory.mktemp("tiny")))


def test_the_boxes_change_the_prediction(tiny):
    words = document_words(make_document())
    (win,) = encode([w.word.text for w in words], [w.box for w in words], tiny.tokenizer)
    ids, bbox, mask, _ = collate([win])
    with torch.no_grad():
        a = tiny.model(ids, bbox, mask)
        b = tiny.model(ids, torch.zeros_like(bbox), mask)
    assert a.shape == (1, len(win), len(tiny.spec.labels))
    assert not torch.allclose(a, b)


def test_predictions_give_one_distribution_per_word_even_across_windows(tiny):
    doc = make_document(words=[f"word{k}" for k in range(80)])  # > one 64-token window
    (probs,) = tiny.predict([document_words(doc)], batch_size=3)
    assert probs.shape == (80, len(tiny.spec.labels))
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)


def test_only_the_changed_weights_are_saved_and_loading_restores_the_model(tiny, tmp_path):
    base = {k: v.clone() for k, v in load_encoder(tiny.spec.backbone, config_only=True).state_dict().items()}
    # pretend fine-tuning: the encoder moved away from `base` except for the word-piece table
    with torch.no_grad():
        for name, p in tiny.model.encoder.named_parameters():
            if "word_embeddings" in name:
                p.copy_(base[name])
    path, size = weights.save(tiny.model, tiny.spec, str(tmp_path), base)
    from safetensors.torch import load_file

    saved = load_file(path)
    assert not any("word_embeddings" in k for k in saved)
    assert {v.dtype for v in saved.values()} == {torch.float16, torch.int8, torch.float32}  # matrices' deltas in int8
    assert all(k.startswith(("delta8.", "scale.")) for k, v in saved.items() if v.dtype == torch.int8 or k.startswith("scale."))
    # the "backbone" at load time must be the same random init: load it from the saved base
    import paperbeam.models.layout.model as model_mod

    real_build = model_mod.build

    def build_from_base(spec, backbone_dir, pretrained=True):
        m = real_build(spec, backbone_dir, pretrained=False)
        m.encoder.load_state_dict(base)
        return m

    model_mod.build = build_from_base
    try:
        loaded, spec = weights.load(str(tmp_path))
    finally:
        model_mod.build = real_build
    assert spec.labels == tiny.spec.labels
    for name, t in tiny.model.state_dict().items():
        assert torch.allclose(loaded.state_dict()[name].float(), t.float(), atol=2e-3), name


def test_int8_row_deltas_round_trip_within_a_step():
    torch.manual_seed(0)
    delta = torch.randn(6, 50) * torch.tensor([1e-4, 1e-3, 1e-2, 0.1, 1.0, 0.0]).unsqueeze(1)
    values, scale = weights.quantize_rows(delta)
    assert values.dtype == torch.int8 and scale.shape == (6,)
    back = values.float() * scale.float().unsqueeze(1)
    step = delta.abs().amax(dim=1) / 127
    assert ((back - delta).abs().amax(dim=1) <= step * 0.51 + 1e-7).all()
    assert (back[5] == 0).all()


def test_int8_quantisation_keeps_the_predictions_close(tiny):
    words = document_words(make_document())
    (win,) = encode([w.word.text for w in words], [w.box for w in words], tiny.tokenizer)
    ids, bbox, mask, _ = collate([win])
    q = quantize_int8(tiny_model_copy(tiny))
    with torch.no_grad():
        a = torch.softmax(tiny.model(ids, bbox, mask), -1)
        b = torch.softmax(q(ids, bbox, mask), -1)
    assert (a - b).abs().max() < 0.05


def tiny_model_copy(tiny):
    import copy

    return copy.deepcopy(tiny.model)


class _Broken:
    """A LayoutModel whose extraction fails for documents named 'bad'."""

    def __init__(self, inner):
        self.inner = inner
        self.version = "broken"

    def extract(self, documents, schema, date_order, batch_size=8, extractor="model"):
        if any(d.id == "bad" for d in documents):
            raise RuntimeError("boom")
        return self.inner.extract(documents, schema, date_order, batch_size, extractor)


def test_the_handler_batches_and_isolates_a_failing_document(tiny):
    handler = LayoutModelHandler(max_batch_size=4, model_loader=lambda: _Broken(tiny))
    assert handler.batch_elements_kwargs() == {"min_batch_size": 1, "max_batch_size": 4}
    assert handler.share_model_across_processes() is False
    model = handler.load_model()
    docs = [make_document("a"), make_document("bad"), make_document("c")]
    results = list(handler.run_inference(docs, model))
    assert [r.example.id for r in results] == ["a", "bad", "c"]
    assert isinstance(results[1].inference, RuntimeError)
    assert isinstance(results[0].inference, dict) and isinstance(results[2].inference, dict)
    assert handler.get_num_bytes(docs) > 0


def test_the_model_extractor_and_auto_fill_from_rules(tiny):
    ex = ModelExtractor(INVOICE)
    ex.model = tiny
    fields = ex.extract(make_document())
    assert all(f.extractor == "model" for f in fields.values())
    auto = AutoExtractor(INVOICE)
    auto.model.model = tiny
    auto.rules.setup()
    out = auto.extract(make_document())
    assert all(f.extractor in ("model", "rules") for f in out.values())


def test_rules_win_dates_and_the_vendor_and_the_surer_extractor_wins_amounts_and_other_text():
    model = {"total_amount": Field("12.50", "12.50", 0.9, extractor="model"),
             "tax_amount": Field("2.00", "2.00", 0.9, extractor="model"),
             "vendor_name": Field("ACME", "ACME", 0.9, extractor="model"),
             "vendor_address": Field("1 Main St", "1 Main St", 0.7, extractor="model"),
             "document_number": Field("INV-1", "INV-1", 0.6, extractor="model")}
    rules = {
        "total_amount": Field("99.00", "99.00", 0.6, extractor="rules"),
        "tax_amount": Field("3.00", "3.00", 0.2, extractor="rules"),
        "vendor_name": Field("ACME LTD", "ACME LTD", 0.6, extractor="rules"),
        "vendor_address": Field("Main", "Main", 0.4, extractor="rules"),
        "document_number": Field("INV-2", "INV-2", 0.6, extractor="rules"),
        "document_date": Field("01/02/2020", "2020-02-01", 0.8, extractor="rules"),
        "currency": Field("EUR", "EUR", 0.2, extractor="rules"),
    }
    out = combine(model, rules, INVOICE, rule_min_confidence=0.5)
    assert out["total_amount"].extractor == "model" and out["total_amount"].value == "12.50"  # the surer one
    assert out["tax_amount"].value == "2.00"  # the rules are not sure enough
    rules["total_amount"] = Field("99.00", "99.00", 0.95, extractor="rules")
    assert combine(model, rules, INVOICE, rule_min_confidence=0.5)["total_amount"].value == "99.00"  # now they are the surer
    assert out["vendor_name"].value == "ACME LTD"  # the vendor: the rules', sure enough though less sure than the model
    assert out["vendor_address"].extractor == "model"  # the rules are not sure enough
    assert out["document_number"].value == "INV-1"  # a tie goes to the model
    assert out["document_date"].extractor == "rules"  # the model left it empty
    assert "currency" not in out  # ... and here the rules are not sure


def test_without_arbitration_rules_fill_only_empty_fields():
    model = {"total_amount": Field("12.50", "12.50", 0.9, extractor="model")}
    rules = {"total_amount": Field("99.00", "99.00", 0.99, extractor="rules"),
             "document_date": Field("01/02/2020", "2020-02-01", 0.8, extractor="rules")}
    out = combine(model, rules, INVOICE, rule_min_confidence=0.5, arbitrate=False)
    assert out["total_amount"].extractor == "model" and out["document_date"].extractor == "rules"


def test_rules_fill_an_unlabelled_date_the_model_left_empty():
    """A receipt's date usually has no label: the rules' score for it (0.5) read at 90% must clear the default bar."""
    from paperbeam.models.extractors.rules import RuleExtractor
    from paperbeam.records import SOURCE_OCR, Document, Page, Word

    words = [Word("KEDAI", (10, 10, 60, 20), 0.9, line=0), Word("MAJU", (65, 10, 110, 20), 0.9, line=0),
             Word("19/10/2018", (10, 40, 90, 50), 0.9, line=1), Word("20:49", (95, 40, 130, 50), 0.9, line=1)]
    doc = Document(id="r", uri="mem://receipt", media_type="image/jpeg",
                   pages=[Page(doc_id="r", page_number=1, width=200, height=100, unit="px", source=SOURCE_OCR, words=words)])
    rules = RuleExtractor(INVOICE).extract(doc)
    assert 0.45 <= rules["document_date"].confidence < 0.5
    out = combine({}, rules, INVOICE)
    assert out["document_date"].normalized == "2018-10-19" and out["document_date"].extractor == "rules"


def test_a_due_date_and_a_document_number_need_the_rules_to_have_found_their_label():
    model = {"due_date": Field("01/03/2020", "2020-03-01", 0.95, extractor="model"),
             "document_number": Field("4471", "4471", 0.95, extractor="model"),
             "document_date": Field("01/02/2020", "2020-02-01", 0.9, extractor="model")}
    out = combine(model, {}, INVOICE)
    assert "due_date" not in out and "document_number" not in out and out["document_date"].extractor == "model"
    labelled = {"document_number": Field("INV-4471", "INV-4471", 0.5, extractor="rules")}
    assert combine(model, labelled, INVOICE)["document_number"].value == "4471"  # labelled: then the surer one
    rules = {"due_date": Field("01/04/2020", "2020-04-01", 0.3, extractor="rules")}
    assert combine(model, rules, INVOICE)["due_date"].extractor == "model"  # labelled, the rules unsure: the model's
    assert combine(model, {}, INVOICE, arbitrate=False)["due_date"].extractor == "model"
