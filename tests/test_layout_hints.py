"""Rule hints: the rule-based extractor's reading of each word, as one more input of the layout model."""

import numpy as np
import torch

from paperbeam.models.extractors.model import ModelExtractor
from paperbeam.models.extractors.rules import RuleExtractor
from paperbeam.models.layout import weights
from paperbeam.models.layout.features import document_words
from paperbeam.models.layout.hints import rule_hints, rule_readings
from paperbeam.models.layout.tiny import tiny_model
from paperbeam.records import Document, Page, Word
from paperbeam.schema import INVOICE


def _receipt():
    lines = [["ACME", "TRADING", "SDN", "BHD"], ["Date:", "01/02/2020"], ["TOTAL", "RM", "12.50"],
             ["CASH", "50.00"], ["CHANGE", "37.50"]]
    words = [Word(t, (10.0 + 60 * k, 20.0 + 30 * n, 60.0 + 60 * k, 40.0 + 30 * n), 0.95, n)
             for n, line in enumerate(lines) for k, t in enumerate(line)]
    page = Page("r", 1, 400.0, 300.0, "px", "ocr", words, engine="tesseract 5")
    return Document("r", "file:///in/r.png", "image/png", [page])


def test_each_word_carries_the_field_the_rules_put_it_in():
    doc = _receipt()
    words = document_words(doc)
    hints = rule_hints(rule_readings(doc), words, INVOICE.names)
    by_text = dict(zip((w.word.text for w in words), hints))
    rules = RuleExtractor(INVOICE).extract(doc)
    assert rules["total_amount"].normalized == "12.50" and rules["document_date"].normalized == "2020-02-01"
    assert by_text["12.50"] == 1 + INVOICE.names.index("total_amount")
    assert by_text["01/02/2020"] == 1 + INVOICE.names.index("document_date")
    assert by_text["ACME"] == by_text["BHD"] == 1 + INVOICE.names.index("vendor_name")
    assert by_text["Date:"] == by_text["CASH"] == by_text["50.00"] == by_text["37.50"] == 0
    # a model that sees only some fields numbers them in its own order
    only_total = rule_hints(rule_readings(doc), words, ["total_amount"])
    hinted = {w.word.text for w, h in zip(words, only_total) if h}
    assert set(only_total) == {0, 1} and "12.50" in hinted and hinted <= {"RM", "12.50"}


def test_a_model_trained_with_hints_reads_them_and_keeps_them_when_saved(tmp_path, monkeypatch):
    lm = tiny_model(str(tmp_path / "tiny"), hints=INVOICE.names)
    doc = _receipt()
    words = document_words(doc)
    hints = rule_hints(rule_readings(doc), words, lm.spec.hints)
    # the hint table starts at zero: before training, hints change nothing (a model trained on from one without them)
    (a,), (b,) = lm.predict([words], hints=[hints]), lm.predict([words])
    assert np.allclose(a, b, atol=1e-6)
    with torch.no_grad():
        lm.model.hint_embed.weight.normal_(std=1.0)
    (c,), (d,) = lm.predict([words], hints=[hints]), lm.predict([words], hints=[[0] * len(words)])
    assert not np.allclose(c, d, atol=1e-4)
    lm.model.encoder.save_pretrained(str(tmp_path / "tiny"))  # the backbone on disk is this encoder
    base = {k: v.clone() for k, v in lm.model.encoder.state_dict().items()}
    weights.save(lm.model, lm.spec, str(tmp_path / "saved"), base)
    loaded, spec = weights.load(str(tmp_path / "saved"))
    assert spec.hints == INVOICE.names
    assert torch.allclose(loaded.hint_embed.weight, lm.model.hint_embed.weight, atol=1e-2)  # kept (fp16)
    # the extractor computes the hints itself, from the rules: its probabilities are the hinted ones
    ex = ModelExtractor(INVOICE, model_path=str(tmp_path / "saved"))
    ex.setup()
    (e,) = ex.model.predict([words], hints=[hints])
    assert np.allclose(e, c, atol=1e-2)
    seen = []
    predict = ex.model.predict
    ex.model.predict = lambda docs, batch_size=8, hints=None: seen.append(hints) or predict(docs, batch_size, hints)
    fields = ex.extract(doc)
    assert seen == [[hints]] and all(f.extractor == "model" for f in fields.values())
    # auto reads the rules once per document: the same fields make the model's hints and are combined with its answer
    from paperbeam.models.extractors.auto import AutoExtractor

    calls = []
    extract = RuleExtractor.extract
    monkeypatch.setattr(RuleExtractor, "extract", lambda self, d: calls.append(d.id) or extract(self, d))
    auto = AutoExtractor(INVOICE, model_path=str(tmp_path / "saved"))
    auto.setup()
    assert auto.extract(doc) and calls == [doc.id]

