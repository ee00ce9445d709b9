"""A loaded model ready to predict: the part shared by the Beam handler, the
``model`` extractor and validation during training.

``LayoutModel.load`` finds the model (the one shipped in the package unless
a directory is given), picks the device at run time (CUDA with fp16/bf16
autocast when present, else CPU in fp32, or with dynamic int8 quantisation
when asked: faster, but it cost accuracy on held-out data)
and keeps the tokenizer beside it. ``predict`` batches the windows of many
documents together (sorted by length, so little is padding) and returns one
probability row per word; ``extract`` decodes them into fields.
"""

from __future__ import annotations

import os
import time
from importlib import resources
from typing import Dict, List, Optional, Sequence

import numpy as np

from paperbeam.errors import ConfigError
from paperbeam.models.layout.features import DocWord, collate, collate_hints, document_words, encode, merge
from paperbeam.records import Document, Field
from paperbeam.schema import Schema


def default_model_dir() -> str:
    """The model shipped in the package (``PAPERBEAM_MODEL`` names another folder for every worker)."""
    return str(resources.files("paperbeam") / "data" / "model")


class LayoutModel:
    def __init__(self, model, tokenizer, spec, device: str = "cpu", autocast_dtype=None, quantized: bool = False):
        self.model = model
        self.tokenizer = tokenizer
        self.spec = spec
        self.device = device
        self.autocast_dtype = autocast_dtype
        self.quantized = quantized
        self.load_seconds = 0.0

    @property
    def version(self) -> str:
        return f"{self.spec.version}{' int8' if self.quantized else ''}"

    @classmethod
    def load(cls, model_dir: Optional[str] = None, device: Optional[str] = None, int8: Optional[bool] = None,
             threads: Optional[int] = None) -> "LayoutModel":
        """``int8``: dynamic int8 quantisation on CPU. Off by default: on held-out SROIE it cost
        about 2 points of F1 on every field (MODEL_CARD.md), for 2-3x the speed."""
        import torch

        from paperbeam.models.layout import backbone, weights
        from paperbeam.models.layout.model import SPEC_FILE, choose_device, quantize_int8

        started = time.perf_counter()
        backbone.offline()
        model_dir = model_dir or os.environ.get("PAPERBEAM_MODEL") or default_model_dir()
        if not os.path.isfile(os.path.join(model_dir, SPEC_FILE)):
            raise ConfigError(
                f"{model_dir} holds no paperbeam layout model ({SPEC_FILE} missing). "
                "Train one with `paperbeam train`, or leave the model path out to use the built-in model."
            )
        if threads:
            torch.set_num_threads(int(threads))
        model, spec = weights.load(model_dir)
        tokenizer = backbone.load_tokenizer(backbone.resolve(spec.backbone))
        device = choose_device(device)
        autocast_dtype = None
        quantized = False
        if device.startswith("cuda"):
            model.to(device)
            autocast_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        elif int8:
            model = quantize_int8(model)
            quantized = True
        out = cls(model, tokenizer, spec, device, autocast_dtype, quantized)
        out.load_seconds = time.perf_counter() - started
        return out

    def predict(self, docs: Sequence[Sequence[DocWord]], batch_size: int = 8,
                hints: Optional[Sequence[Sequence[int]]] = None) -> List[np.ndarray]:
        """Per document, ``[n_words, n_labels]`` label probabilities.

        ``hints``: per document, one rule hint per word (``hints.rule_hints``), for a model whose
        spec lists hints; without them such a model reads every word as one the rules did not pick.
        """
        import torch

        windows = []
        for d, words in enumerate(docs):
            windows += encode([w.word.text for w in words], [w.box for w in words], self.tokenizer,
                              max_length=self.spec.max_length, stride=self.spec.stride, doc=d,
                              hints=hints[d] if hints is not None else None)
        order = sorted(range(len(windows)), key=lambda k: len(windows[k]))
        probs: List[Optional[np.ndarray]] = [None] * len(windows)
        pad = self.tokenizer.pad_token_id or 0
        with torch.inference_mode():
            for s in range(0, len(order), max(1, batch_size)):
                chunk = [windows[k] for k in order[s:s + batch_size]]
                ids, bbox, mask, _ = collate(chunk, pad)
                ids, bbox, mask = ids.to(self.device), bbox.to(self.device), mask.to(self.device)
                tags = collate_hints(chunk).to(self.device) if hints is not None else None
                if self.autocast_dtype is not None:
                    with torch.autocast(device_type="cuda", dtype=self.autocast_dtype):
                        logits = self.model(ids, bbox, mask, tags)
                else:
                    logits = self.model(ids, bbox, mask, tags)
                p = torch.softmax(logits.float(), dim=-1).cpu().numpy()
                for row, k in enumerate(order[s:s + batch_size]):
                    probs[k] = p[row, : len(windows[k])]
        out = []
        n_labels = len(self.spec.labels)
        for d, words in enumerate(docs):
            idx = [k for k, w in enumerate(windows) if w.doc == d]
            out.append(merge([windows[k] for k in idx], [probs[k] for k in idx], len(words), n_labels))
        return out

    def extract(self, documents: Sequence[Document], schema: Schema, date_order: str = "day-first",
                batch_size: int = 8, extractor: str = "model",
                rule_fields: Optional[Sequence[Dict[str, Field]]] = None) -> List[Dict[str, Field]]:
        """Fields per document. ``rule_fields``: the rules' fields per document (``hints.rule_readings``)
        when the caller already has them; a model with hints otherwise runs the rules itself."""
        from paperbeam.models.layout.decode import decode

        words = [document_words(d) for d in documents]
        hints = None
        if self.spec.hints:
            from paperbeam.models.layout.hints import rule_hints, rule_readings

            if rule_fields is None:
                rule_fields = [rule_readings(d, date_order) for d in documents]
            hints = [rule_hints(found, w, self.spec.hints) for found, w in zip(rule_fields, words)]
        probs = self.predict(words, batch_size, hints)
        return [decode(w, p, self.spec.labels, schema, date_order, extractor, multi_line=self.spec.multi_line)
                for w, p in zip(words, probs)]
