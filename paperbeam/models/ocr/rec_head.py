"""A retrained tail for RapidOCR's recogniser: the same network, its last layer (and last block) fitted to printed business text.

Why: PP-OCR's recogniser ends in one linear layer that maps 120 features per
time step to 18,710 characters (Chinese, Japanese and Latin). The features
already see the glyph; the layer's habits are what go wrong on faint
receipts: a comma's tail read as "." or "5" where "S" was printed, because
it was fitted to a different mix of text. Refitting only that layer, on line
crops of printed receipts and only over the characters English business
documents use, fixes those habits for a small file and leaves the network,
its speed and its ONNX file (from the rapidocr wheel) untouched.

How it runs: the rapidocr wheel's recogniser is cut just before its last
layer (``features_model``, with the ``onnx`` package, in memory: nothing is
written or downloaded), so onnxruntime returns the features; ``HeadDecoder``
applies the refitted layer and hands rapidocr's own CTC decoder the
probabilities over the layer's own characters, so text, scores and word
boxes come out as before.

A head may also carry the recogniser's last feed-forward block
(``block``: LN -> Linear 120x240 -> swish -> Linear 240x120, residual, LN,
plus the skip connection from the neck's start). The cut is then one block
earlier (``split_last_block``) and ``run_block`` computes that block in
numpy with the refitted weights: 58,000 more weights that can relearn what
the features say about thin strokes and faint print, not only how they map
to characters. The shipped file has one (figures in the model card).

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
                 context: int = 0, block: Optional[dict] = None, space_bias: float = 0.0):
        if weight.ndim != 2 or weight.shape[1] != len(chars) or bias.shape != (len(chars),):
            raise ConfigError(f"Recogniser head {source or ''} is malformed: weight {weight.shape}, bias {bias.shape}, {len(chars)} characters.")
        self.weight = weight.astype(np.float32)
        self.bias = bias.astype(np.float32)
        self.chars = list(chars)
        self.source = source
        self.lang = lang  # the languages (tesseract codes joined by '+') whose characters it was fitted for
        self.context = int(context)  # time steps read on each side (0: each step alone, as the wheel's layer)
        # Added to the space's logit before decoding. Why: fitted on lines whose labels the loss reads case- and
        # space-blind, the layer under-calls the gap between words ("STATIONERYSHOP", "JALANAIR"); +1.0, chosen
        # on training lines, raised whole lines read right with their spaces 0.894 -> 0.903 there and
        # 0.878 -> 0.886 on held-out lines, and did not move them with spaces ignored (data/ocr/README.md).
        self.space_bias = float(space_bias)
        # the recogniser's last feed-forward block, refitted too (see run_block), or None: the cut is then before it
        self.block = None if block is None else {k: np.asarray(v, np.float32) for k, v in block.items()}
        if self.block is not None and set(BLOCK_KEYS) - set(self.block):
            raise ConfigError(f"Recogniser head {source or ''}: its block lacks {sorted(set(BLOCK_KEYS) - set(self.block))}.")
        if weight.shape[0] % (2 * self.context + 1):
            raise ConfigError(f"Recogniser head {source or ''}: {weight.shape[0]} input rows do not split into {2 * self.context + 1} time steps.")

    @classmethod
    def load(cls, path: str) -> "Head":
        if not os.path.isfile(path):
            raise ConfigError(f"Recogniser head file {path} does not exist.")
        with np.load(path, allow_pickle=False) as z:
            block = {k[len("block_"):]: z[k] for k in z.files if k.startswith("block_")}
            return cls(z["weight"].astype(np.float32), z["bias"].astype(np.float32), [str(c) for c in z["chars"]],
                       source=path, lang=str(z["lang"]) if "lang" in z else "eng",
                       context=int(z["context"]) if "context" in z else 0, block=block or None,
                       space_bias=float(z["space_bias"]) if "space_bias" in z else 0.0)

    def save(self, path: str) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        block = {"block_" + k: v for k, v in (self.block or {}).items()}
        np.savez_compressed(path, weight=self.weight, bias=self.bias, chars=np.array(self.chars),
                            lang=np.array(self.lang), context=np.array(self.context), space_bias=np.array(self.space_bias),
                            **block)

    def digest(self) -> str:
        """A short fingerprint of the weights: it goes into the engine's version, so caches and records tell heads apart."""
        import hashlib

        h = hashlib.sha256(self.weight.tobytes() + self.bias.tobytes() + "\0".join(self.chars).encode())
        for key in sorted(self.block or {}):  # a plain layer's fingerprint is unchanged
            h.update(key.encode() + self.block[key].tobytes())
        if self.space_bias:  # a head without one keeps its fingerprint
            h.update(f"space_bias={self.space_bias:g}".encode())
        return h.hexdigest()[:10]

    def logits(self, features: np.ndarray) -> np.ndarray:
        """(batch, time, features) or (time, features) -> the same leading axes, characters last."""
        features = features.astype(np.float32)
        if self.block is not None:
            features = run_block(self.block, features)
        out = with_context(features, self.context) @ self.weight + self.bias
        if self.space_bias and " " in self.chars:
            out[..., self.chars.index(" ")] += self.space_bias
        return out

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
    model = _onnx().load(model_path)
    weight, bias = _cut_last_layer(model, model_path)
    return model.SerializeToString(), weight, bias


def _cut_last_layer(model, model_path: str) -> Tuple[np.ndarray, np.ndarray]:
    """Cut ``model`` (an onnx ModelProto, changed in place) before its last layer; that layer's weight and bias."""
    onnx = _onnx()
    from onnx import numpy_helper

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
    features = next(i for i in node.input if i not in inits)
    del graph.output[:]
    graph.output.extend([onnx.helper.make_tensor_value_info(features, onnx.TensorProto.FLOAT, None)])
    _prune(graph)
    return weight, bias


BLOCK_KEYS = ("ln1_g", "ln1_b", "w1", "b1", "w2", "b2", "ln2_g", "ln2_b")


def _layer_norm(v: np.ndarray, gain: np.ndarray, shift: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    mean = v.mean(-1, keepdims=True)
    centred = v - mean
    return centred / np.sqrt((centred * centred).mean(-1, keepdims=True) + eps) * gain + shift


def run_block(block: dict, features: np.ndarray) -> np.ndarray:
    """The recogniser's last feed-forward block, in numpy: (x, skip) on the last axis -> the features the layer reads.

    x + MLP(LN(x)), layer-normed, plus the skip connection from the start of the recogniser's neck,
    exactly as the wheel's graph computes it (checked by the tests against the uncut model).
    """
    width = features.shape[-1] // 2
    x, skip = features[..., :width], features[..., width:]
    h = _layer_norm(x, block["ln1_g"], block["ln1_b"], float(block.get("eps1", 1e-5)))
    z = h @ block["w1"] + block["b1"]
    z = z / (1.0 + np.exp(-z))  # swish
    y = x + z @ block["w2"] + block["b2"]
    return _layer_norm(y, block["ln2_g"], block["ln2_b"], float(block.get("eps2", 1e-5))) + skip


def _skip_identity(producer: dict, name: str):
    node = producer.get(name)
    while node is not None and node.op_type == "Identity":
        name = node.input[0]
        node = producer.get(name)
    return node, name


def _parse_layer_norm(producer: dict, inits: dict, name: str):
    """(input, gain, shift, eps) of the layer norm whose output is ``name``, as paddle2onnx writes it, or None."""
    from onnx import numpy_helper

    def const(n):
        return numpy_helper.to_array(inits[n]) if n in inits else None

    add, _ = _skip_identity(producer, name)
    if add is None or add.op_type != "Add" or const(add.input[1]) is None:
        return None
    mul, _ = _skip_identity(producer, add.input[0])
    if mul is None or mul.op_type != "Mul" or const(mul.input[1]) is None:
        return None
    div, _ = _skip_identity(producer, mul.input[0])
    if div is None or div.op_type != "Div":
        return None
    sub, _ = _skip_identity(producer, div.input[0])
    sqrt, _ = _skip_identity(producer, div.input[1])
    if sub is None or sub.op_type != "Sub" or sqrt is None or sqrt.op_type != "Sqrt":
        return None
    eps_add, _ = _skip_identity(producer, sqrt.input[0])
    eps = const(eps_add.input[1]) if eps_add is not None and eps_add.op_type == "Add" else None
    if eps is None:
        return None
    _, source = _skip_identity(producer, sub.input[0])
    return source, const(mul.input[1]).reshape(-1), const(add.input[1]).reshape(-1), float(eps)


def _parse_mlp(producer: dict, inits: dict, name: str):
    """(input, w1, b1, w2, b2) of Linear -> swish -> Linear ending at ``name``, or None."""
    from onnx import numpy_helper

    def linear(n):
        add, _ = _skip_identity(producer, n)
        if add is None or add.op_type != "Add" or add.input[1] not in inits:
            return None
        mm, _ = _skip_identity(producer, add.input[0])
        if mm is None or mm.op_type != "MatMul" or mm.input[1] not in inits:
            return None
        return mm.input[0], numpy_helper.to_array(inits[mm.input[1]]), numpy_helper.to_array(inits[add.input[1]])

    second = linear(name)
    if second is None:
        return None
    swish, _ = _skip_identity(producer, second[0])
    if swish is None or swish.op_type != "Mul":
        return None
    sig, _ = _skip_identity(producer, swish.input[1])
    if sig is None or sig.op_type != "Sigmoid":
        return None
    first = linear(swish.input[0])
    if first is None:
        return None
    return first[0], first[1], first[2], second[1], second[2]


def split_last_block(model_path: str) -> Tuple[bytes, dict, np.ndarray, np.ndarray]:
    """The recogniser cut before its last feed-forward block: (serialised model, block, last layer's weight, bias).

    PP-OCR's SVTR neck ends LN(x + MLP(LN(x))) -> reshape -> + skip -> the last layer. The cut
    model outputs x and the skip side by side (time, 2 x 120), so ``run_block`` can compute the
    features with a refitted block. Anything else is refused rather than guessed.
    """
    onnx = _onnx()
    from onnx import helper

    refuse = ConfigError(f"{model_path} does not end in the SVTR block paperbeam's recogniser head expects.")
    model = onnx.load(model_path)
    weight, bias = _cut_last_layer(model, model_path)
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    inits = {init.name: init for init in graph.initializer}
    t_out, _ = _skip_identity(producer, graph.output[0].name)
    if t_out is None or t_out.op_type != "Transpose":
        raise refuse
    squeeze, _ = _skip_identity(producer, t_out.input[0])
    if squeeze is None or squeeze.op_type != "Squeeze":
        raise refuse
    add, _ = _skip_identity(producer, squeeze.input[0])
    if add is None or add.op_type != "Add":
        raise refuse
    t_in, _ = _skip_identity(producer, add.input[0])
    reshape, _ = _skip_identity(producer, t_in.input[0]) if t_in is not None and t_in.op_type == "Transpose" else (None, None)
    if reshape is None or reshape.op_type != "Reshape":
        raise refuse
    skip = add.input[1]
    ln2 = _parse_layer_norm(producer, inits, reshape.input[0])
    if ln2 is None:
        raise refuse
    residual, _ = _skip_identity(producer, ln2[0])
    if residual is None or residual.op_type != "Add":
        raise refuse
    for mlp_side, x_side in ((residual.input[1], residual.input[0]), (residual.input[0], residual.input[1])):
        mlp = _parse_mlp(producer, inits, mlp_side)
        ln1 = _parse_layer_norm(producer, inits, mlp[0]) if mlp else None
        if ln1 is not None and _skip_identity(producer, ln1[0])[1] == _skip_identity(producer, x_side)[1]:
            break
    else:
        raise refuse
    x = _skip_identity(producer, x_side)[1]
    axes = [list(a.ints) for a in squeeze.attribute if a.name == "axes"]
    perm = [list(a.ints) for a in t_out.attribute if a.name == "perm"]
    if not axes or not perm:
        raise refuse
    graph.node.extend([
        helper.make_node("Squeeze", [skip], ["paperbeam.skip.squeezed"], axes=axes[0]),
        helper.make_node("Transpose", ["paperbeam.skip.squeezed"], ["paperbeam.skip"], perm=perm[0]),
        helper.make_node("Concat", [x, "paperbeam.skip"], ["paperbeam.block_input"], axis=-1),
    ])
    del graph.output[:]
    graph.output.extend([onnx.helper.make_tensor_value_info("paperbeam.block_input", onnx.TensorProto.FLOAT, None)])
    _prune(graph)
    block = {"ln1_g": ln1[1], "ln1_b": ln1[2], "eps1": np.float32(ln1[3]), "w1": mlp[1], "b1": mlp[2],
             "w2": mlp[3], "b2": mlp[4], "ln2_g": ln2[1], "ln2_b": ln2[2], "eps2": np.float32(ln2[3])}
    return model.SerializeToString(), {k: np.asarray(v, np.float32) for k, v in block.items()}, weight, bias


def _prune(graph) -> None:
    """Drop the nodes and initialisers the graph's outputs no longer need."""
    producer = {out: node for node in graph.node for out in node.output}
    needed, stack, seen = set(), [o.name for o in graph.output], set()
    while stack:
        name = stack.pop()
        node = producer.get(name)
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        needed.add(id(node))
        stack.extend(node.input)
    kept = [n for n in graph.node if id(n) in needed]
    del graph.node[:]
    graph.node.extend(kept)
    used = {i for n in kept for i in n.input}
    keep_init = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep_init)


def features_model(model_path: str, block: bool = False) -> bytes:
    """The recogniser at ``model_path`` without its last layer (``block``: without its last block too): what the head reads."""
    return split_last_block(model_path)[0] if block else split_last_layer(model_path)[0]


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
        features_model(model_path, block=head.block is not None), sess_options=opts, providers=providers or wrapped.session.get_providers())
    rec.postprocess_op = HeadDecoder(rec.postprocess_op, head)
