"""A retrained output layer for RapidOCR's recogniser: the same network, its last layer fitted to printed business text.

Why: PP-OCR's recogniser ends in one linear layer that maps 120 features per
time step to 18,710 characters (Chinese, Japanese and Latin). The features
already see the glyph; the layer's habits are what go wrong on faint
receipts: a comma's tail read as "." or "5" where "S" was printed, because
it was fitted to a different mix of text. Refitting only that layer, on line
crops of printed receipts and only over the characters English business
documents use, fixes those habits for a 50 KB file and leaves the network,
its speed and its ONNX file (from the rapidocr wheel) untouched.

How it runs: the rapidocr wheel's recogniser is cut just before its last
layer (``features_model``, with the ``onnx`` package, in memory: nothing is
written or downloaded), so onnxruntime returns the features; ``HeadDecoder``
applies the refitted layer and hands rapidocr's own CTC decoder the
probabilities over the layer's own characters, so text, scores and word
boxes come out as before.

The layer knows only its own characters (``chars`` in the file: ASCII and
common symbols), so the engine uses it only for English pages; other
languages keep the wheel's layer. ``paperbeam.models.ocr.rec_head_train``
makes the file; the model card next to it says from what data and with what
figures.
"""

from __future__ import annotations

import copy
import os
from typing import List, Optional, Sequence, Tuple

import numpy as np

from paperbeam.errors import ConfigError, MissingDependency

SHIPPED = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "data", "ocr", "rec_head.npz")


class Head:
    """A linear layer (features -> characters) and the characters it scores; column 0 is CTC's blank."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, chars: Sequence[str], source: str = "", lang: str = "eng",
                 context: int = 0):
        if weight.ndim != 2 or weight.shape[1] != len(chars) or bias.shape != (len(chars),):
            raise ConfigError(f"Recogniser head {source or ''} is malformed: weight {weight.shape}, bias {bias.shape}, {len(chars)} characters.")
        self.weight = weight.astype(np.float32)
        self.bias = bias.astype(np.float32)
        self.chars = list(chars)
        self.source = source
        self.lang = lang  # the languages (tesseract codes joined by '+') whose characters it was fitted for
        self.context = int(context)  # time steps read on each side (0: each step alone, as the wheel's layer)
        if weight.shape[0] % (2 * self.context + 1):
            raise ConfigError(f"Recogniser head {source or ''}: {weight.shape[0]} input rows do not split into {2 * self.context + 1} time steps.")

    @classmethod
    def load(cls, path: str) -> "Head":
        if not os.path.isfile(path):
            raise ConfigError(f"Recogniser head file {path} does not exist.")
        with np.load(path, allow_pickle=False) as z:
            return cls(z["weight"].astype(np.float32), z["bias"].astype(np.float32), [str(c) for c in z["chars"]],
                       source=path, lang=str(z["lang"]) if "lang" in z else "eng",
                       context=int(z["context"]) if "context" in z else 0)

    def save(self, path: str) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        np.savez_compressed(path, weight=self.weight, bias=self.bias, chars=np.array(self.chars),
                            lang=np.array(self.lang), context=np.array(self.context))

    def digest(self) -> str:
        """A short fingerprint of the weights: it goes into the engine's version, so caches and records tell heads apart."""
        import hashlib

        h = hashlib.sha256(self.weight.tobytes() + self.bias.tobytes() + "\0".join(self.chars).encode())
        return h.hexdigest()[:10]

    def logits(self, features: np.ndarray) -> np.ndarray:
        """(batch, time, features) or (time, features) -> the same leading axes, characters last."""
        return with_context(features.astype(np.float32), self.context) @ self.weight + self.bias

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """(batch, time, features) -> (batch, time, characters), softmax over characters."""
        logits = self.logits(features)
        logits -= logits.max(axis=-1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=-1, keepdims=True)
        return logits

    def covers(self, lang: str) -> bool:
        """True when the page's languages ("eng", "eng+deu") are among those the layer was fitted for."""
        codes = {c for c in (lang or "").split("+") if c}
        return bool(codes) and codes <= set(self.lang.split("+"))


def with_context(features: np.ndarray, context: int) -> np.ndarray:
    """Each time step's features followed by its neighbours' (t-c .. t+c, zeros past the ends), on the last axis."""
    if not context:
        return features
    steps = features.shape[-2]
    pad = [(0, 0)] * (features.ndim - 2) + [(context, context), (0, 0)]
    padded = np.pad(features, pad)
    return np.concatenate([padded[..., k:k + steps, :] for k in range(2 * context + 1)], axis=-1)


def _onnx():
    try:
        import onnx
    except ImportError:
        raise MissingDependency("onnx (to run RapidOCR with paperbeam's recogniser head)", "pip install paperbeam[rapidocr]")
    return onnx


def split_last_layer(model_path: str) -> Tuple[bytes, np.ndarray, np.ndarray]:
    """The recogniser at ``model_path`` without its last layer (serialised), and that layer's weight and bias.

    The cut model's output is the features the last layer reads. The tail PP-OCR exports is
    MatMul(features, W) -> Add(b) [-> Identity] -> Softmax; the cut keeps everything before the
    MatMul. Anything else is refused rather than guessed.
    """
    onnx = _onnx()
    from onnx import numpy_helper

    model = onnx.load(model_path)
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    inits = {init.name: init for init in graph.initializer}
    node = producer.get(graph.output[0].name)
    tail = []
    while node is not None and node.op_type in ("Softmax", "Identity", "Add"):
        tail.append(node)
        node = producer.get(node.input[0])
    if node is None or node.op_type != "MatMul" or not tail or tail[0].op_type != "Softmax":
        raise ConfigError(f"{model_path} does not end in MatMul -> Add -> Softmax; paperbeam's recogniser head cannot be used with it.")
    add = next((n for n in tail if n.op_type == "Add" and node.output[0] in n.input), None)
    if add is None:
        raise ConfigError(f"{model_path}: the last MatMul has no bias Add; paperbeam's recogniser head cannot be used with it.")
    weight = numpy_helper.to_array(inits[next(i for i in node.input if i in inits)])
    bias = numpy_helper.to_array(inits[next(i for i in add.input if i in inits)])
    tail.append(node)
    features = next(i for i in node.input if i not in inits)
    drop = {id(n) for n in tail}
    kept = [n for n in graph.node if id(n) not in drop]
    del graph.node[:]
    graph.node.extend(kept)
    del graph.output[:]
    graph.output.extend([onnx.helper.make_tensor_value_info(features, onnx.TensorProto.FLOAT, None)])
    used = {i for n in kept for i in n.input}
    keep_init = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep_init)
    return model.SerializeToString(), weight, bias


def features_model(model_path: str) -> bytes:
    """The recogniser at ``model_path`` without its last layer: its output is the features that layer reads."""
    return split_last_layer(model_path)[0]


class HeadDecoder:
    """rapidocr's CTC decoder fed by our head: features in, rapidocr's (text, score) lines out.

    The decoder only turns indices into characters through its ``character`` list, so a copy of it
    given the head's characters decodes the head's probabilities directly: no 18,710-wide array
    per batch, as the wheel's own layer needs.
    """

    def __init__(self, decoder, head: Head):
        self.decoder = copy.copy(decoder)
        self.decoder.character = list(head.chars)
        self.decoder.dict = {c: k for k, c in enumerate(head.chars)}
        self.head = head
        self.character = self.decoder.character

    def __call__(self, features, *args, **kwargs):
        return self.decoder(self.head.probabilities(np.asarray(features)), *args, **kwargs)

    def __getattr__(self, name):
        if name == "decoder":  # not set yet (copy, unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.decoder, name)


def install(rec, model_path: str, head: Head, session_options=None, providers: Optional[List[str]] = None) -> None:
    """Make rapidocr's text recogniser ``rec`` run the cut model and decode through ``head``."""
    import onnxruntime

    wrapped = rec.session  # rapidocr's OrtInferSession; it reads inputs and outputs from .session
    opts = session_options
    if opts is None:
        opts = onnxruntime.SessionOptions()
        old = getattr(wrapped.session, "get_session_options", None)
        if old is not None:
            prev = old()
            opts.intra_op_num_threads = prev.intra_op_num_threads
            opts.inter_op_num_threads = prev.inter_op_num_threads
    wrapped.session = onnxruntime.InferenceSession(
        features_model(model_path), sess_options=opts, providers=providers or wrapped.session.get_providers())
    rec.postprocess_op = HeadDecoder(rec.postprocess_op, head)
