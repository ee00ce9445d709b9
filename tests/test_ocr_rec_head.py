"""RapidOCR's recogniser with paperbeam's refitted last layer: real models from the rapidocr wheel, pages drawn here."""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

pytest.importorskip("rapidocr")
pytest.importorskip("onnx")

from paperbeam.errors import ConfigError  # noqa: E402
from paperbeam.models.ocr import rec_head  # noqa: E402
from paperbeam.models.ocr.rapid import RapidOcrEngine  # noqa: E402
from paperbeam.models.ocr.rec_head import Head, run_block, split_last_block, split_last_layer, with_context  # noqa: E402
from paperbeam.models.ocr.rec_head_train import (  # noqa: E402
    FeatureReader, blend, collect, fit, greedy, line_accuracy, widen)

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
if not os.path.exists(FONT):  # pragma: no cover
    pytest.skip("no TrueType font: apt-get install fonts-dejavu-core", allow_module_level=True)

LINES = ["TAX INVOICE No 4471", "Date 19/10/2018", "12, Jalan Dedap 13,", "TOTAL RM 60.30"]


def page(lines=LINES, size=30, gap=70, margin=40, width=760):
    """A white page with ``lines``, and each line's box as SROIE writes them (x0,y0,x1,y0,x1,y1,x0,y1,text)."""
    font = ImageFont.truetype(FONT, size)
    img = Image.new("RGB", (width, margin * 2 + gap * len(lines)), "white")
    draw = ImageDraw.Draw(img)
    rows = []
    for i, text in enumerate(lines):
        x0, y0, x1, y1 = draw.textbbox((margin, margin + i * gap), text, font=font)
        draw.text((margin, margin + i * gap), text, fill="black", font=font)
        rows.append([x0, y0, x1, y0, x1, y1, x0, y1, text])
    return img, rows


@pytest.fixture(scope="module")
def reader():
    return FeatureReader()


def words_of(engine, img):
    return [w.text for w in engine.recognize(img).words]


def test_the_wheel_layer_as_a_head_reads_exactly_as_rapidocr(reader, tmp_path):
    """The cut model + our decoder, given the wheel's own columns, must change nothing: the plumbing is exact."""
    path = str(tmp_path / "stock.npz")
    reader.stock.save(path)
    img, _ = page()
    stock = RapidOcrEngine(head="stock")
    cut = RapidOcrEngine(head=path)
    got = words_of(cut, img)
    assert got == words_of(stock, img)
    assert "60.30" in got and "INVOICE" in got
    assert "head" in cut.version() and "head" not in stock.version()


def test_the_wheel_block_and_layer_as_a_head_read_exactly_as_rapidocr(tmp_path):
    """Cut one block earlier, the numpy block with the wheel's weights must give rapidocr's reading word for word."""
    path = str(tmp_path / "stock-block.npz")
    FeatureReader(block=True).stock.save(path)
    assert Head.load(path).block is not None
    img, _ = page()
    assert words_of(RapidOcrEngine(head=path), img) == words_of(RapidOcrEngine(head="stock"), img)


def test_the_block_cut_computes_the_wheel_features():
    import onnxruntime

    path = FeatureReader().rec_path  # the wheel's recogniser
    cut_block, block, weight, bias = split_last_block(path)
    cut_layer, weight2, bias2 = split_last_layer(path)
    assert np.array_equal(weight, weight2) and np.array_equal(bias, bias2)
    batch = np.random.default_rng(0).random((2, 3, 48, 320), dtype=np.float32)
    with_block = onnxruntime.InferenceSession(cut_block, providers=["CPUExecutionProvider"])
    plain = onnxruntime.InferenceSession(cut_layer, providers=["CPUExecutionProvider"])
    inputs = {with_block.get_inputs()[0].name: batch}
    x = with_block.run(None, inputs)[0]
    assert x.shape[-1] == 2 * weight.shape[0]
    assert np.allclose(run_block(block, x), plain.run(None, inputs)[0], atol=1e-4)


def test_shipped_head_reads_a_clean_page():
    engine = RapidOcrEngine()  # English: the shipped layer
    assert engine.head is not None and "head" in engine.version()
    text = " ".join(words_of(engine, page()[0]))
    for word in ("INVOICE", "4471", "19/10/2018", "Jalan", "60.30"):
        assert word in text


def test_languages_the_head_was_not_fitted_for_use_the_wheel_layer(tmp_path):
    assert RapidOcrEngine(lang="eng+deu").head is None  # shipped head, German page: the wheel's layer, no error
    assert RapidOcrEngine(head="stock").head is None
    shipped = Head.load(rec_head.SHIPPED)
    path = str(tmp_path / "mine.npz")
    shipped.save(path)
    with pytest.raises(ConfigError, match="cannot write"):
        RapidOcrEngine(lang="eng+deu", head=path)  # a head the user named must not be dropped silently
    with pytest.raises(ConfigError, match="does not exist"):
        RapidOcrEngine(head=str(tmp_path / "missing.npz"))


def test_head_file_round_trip_and_fingerprint(tmp_path):
    shipped = Head.load(rec_head.SHIPPED)
    assert shipped.chars[0] == "blank" and set("0123456789.,-/:") <= set(shipped.chars)
    path = str(tmp_path / "h.npz")
    shipped.save(path)
    again = Head.load(path)
    assert again.digest() == shipped.digest()
    assert np.array_equal(again.weight, shipped.weight)
    changed = Head(shipped.weight + 1e-3, shipped.bias, shipped.chars)
    assert changed.digest() != shipped.digest()
    if shipped.block is not None:  # the block's weights are part of the file and of the fingerprint
        assert set(again.block) == set(shipped.block)
        moved = dict(shipped.block, w1=shipped.block["w1"] + 1e-3)
        assert Head(shipped.weight, shipped.bias, shipped.chars, block=moved).digest() != shipped.digest()
    with pytest.raises(ConfigError, match="lacks"):
        Head(shipped.weight, shipped.bias, shipped.chars, block={"w1": np.zeros((2, 2))})


def test_the_space_bias_is_kept_in_the_file_fingerprinted_and_only_moves_the_space(tmp_path):
    shipped = Head.load(rec_head.SHIPPED)
    assert shipped.space_bias == 1.0  # the shipped head's, chosen on training lines (data/ocr/README.md)
    path = str(tmp_path / "h.npz")
    shipped.save(path)
    assert Head.load(path).space_bias == 1.0 and Head.load(path).digest() == shipped.digest()
    plain = Head(shipped.weight, shipped.bias, shipped.chars, block=shipped.block)
    assert plain.space_bias == 0.0 and plain.digest() != shipped.digest()
    layer, biased = Head(shipped.weight, shipped.bias, shipped.chars), Head(shipped.weight, shipped.bias, shipped.chars, space_bias=1.0)
    feats = np.random.default_rng(0).normal(size=(7, shipped.weight.shape[0])).astype(np.float32)
    diff = biased.logits(feats) - layer.logits(feats)
    space = shipped.chars.index(" ")
    assert np.allclose(diff[:, space], 1.0, atol=1e-5) and np.allclose(np.delete(diff, space, axis=1), 0.0)


def test_widened_layer_reads_the_same_until_trained(reader):
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(2, 9, reader.stock.weight.shape[0])).astype(np.float32)
    wide = widen(reader.stock, 2)
    assert np.allclose(wide.logits(feats), reader.stock.logits(feats), atol=1e-4)
    ctx = with_context(feats, 1)
    assert ctx.shape == (2, 9, 3 * feats.shape[-1])
    assert np.array_equal(ctx[:, 0, :feats.shape[-1]], np.zeros_like(feats[:, 0]))  # before the first step: zeros
    assert np.array_equal(ctx[:, 4, feats.shape[-1]:2 * feats.shape[-1]], feats[:, 4])


def test_cut_refuses_a_model_without_the_expected_tail(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])
    model = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y]))
    path = str(tmp_path / "relu.onnx")
    onnx.save(model, path)
    with pytest.raises(ConfigError, match="MatMul"):
        rec_head.features_model(path)


def test_block_cut_refuses_a_model_whose_last_layer_has_no_block_before_it(tmp_path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 5])
    w = numpy_helper.from_array(np.ones((3, 5), np.float32), "w")
    b = numpy_helper.from_array(np.zeros(5, np.float32), "b")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["a"]),
             helper.make_node("Softmax", ["a"], ["y"], axis=-1)]
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y], [w, b]))
    path = str(tmp_path / "linear.onnx")
    onnx.save(model, path)
    rec_head.features_model(path)  # the last layer alone can be cut
    with pytest.raises(ConfigError, match="SVTR block"):
        rec_head.features_model(path, block=True)


def test_training_collects_labelled_lines_and_fits(reader, tmp_path):
    """A SROIE-layout folder of two drawn pages: lines are matched to their labels, held out by the stem rule, fitted."""
    root = tmp_path / "sroie"
    (root / "img").mkdir(parents=True)
    (root / "box").mkdir()
    for stem, lines in (("001", LINES), ("002", ["RECEIPT 88", "Cash 10.00", "Change 0.50"])):  # 002 is held out
        img, rows = page(lines)
        img.save(root / "img" / f"{stem}.jpg", quality=95)
        with open(root / "box" / f"{stem}.csv", "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(rows)
    examples = collect(str(root), reader, log=lambda *_: None)
    texts = {e["text"] for e in examples}
    assert {"TAX INVOICE No 4471", "TOTAL RM 60.30", "Cash 10.00"} <= texts
    assert {e["stem"] for e in examples if e["validation"]} == {"002"}
    assert line_accuracy([e for e in examples if e["validation"]], reader.stock) > 0.6
    head, history = fit(examples, reader.stock, epochs=2, log=lambda *_: None)
    assert [h["epoch"] for h in history] == [0, 1, 2]
    assert line_accuracy(examples, head) >= 0.6
    half = blend(reader.stock, head, 0.5)
    assert np.allclose(half.weight, (reader.stock.weight + head.weight) / 2)
    e = examples[0]
    assert greedy(half.logits(e["feat"]), half.chars)


def test_training_the_block_moves_it_and_keeps_the_reading(tmp_path):
    """--block: the features are the block's inputs; fitting changes the block's weights as well as the layer's."""
    root = tmp_path / "sroie"
    (root / "img").mkdir(parents=True)
    (root / "box").mkdir()
    for stem, lines in (("001", LINES), ("002", ["RECEIPT 88", "Cash 10.00", "Change 0.50"])):
        img, rows = page(lines)
        img.save(root / "img" / f"{stem}.jpg", quality=95)
        with open(root / "box" / f"{stem}.csv", "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(rows)
    reader = FeatureReader(block=True)
    examples = collect(str(root), reader, log=lambda *_: None)
    assert examples and examples[0]["feat"].shape[-1] == 2 * reader.stock.weight.shape[0]
    assert line_accuracy(examples, reader.stock) > 0.6
    head, history = fit(examples, reader.stock, epochs=2, lr=1e-2, log=lambda *_: None)
    assert [h["epoch"] for h in history] == [0, 1, 2]
    if head is not reader.stock:  # an epoch beat the wheel: its block moved
        assert not np.array_equal(head.block["w1"], reader.stock.block["w1"])
    half = blend(reader.stock, head, 0.5)
    assert np.allclose(half.block["w2"], (reader.stock.block["w2"] + head.block["w2"]) / 2)
    assert half.block["eps1"] == reader.stock.block["eps1"]
    path = str(tmp_path / "block.npz")
    half.save(path)
    text = " ".join(words_of(RapidOcrEngine(head=path), page()[0]))
    assert "60.30" in text and "INVOICE" in text
