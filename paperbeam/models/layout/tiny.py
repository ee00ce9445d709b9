"""A tiny, randomly initialised backbone for fast tests and smoke runs.

Same tokenizer (and so the same vocabulary) as the default backbone, but 2
layers 32 wide: it builds in a fraction of a second and exercises every code
path (windows, box embeddings, deltas, the Beam handler) without the real
weights. Its predictions mean nothing.
"""

from __future__ import annotations

import json
import os
import shutil

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


def write_tiny_backbone(directory: str, hidden: int = 32, layers: int = 2, with_weights: bool = False) -> str:
    from paperbeam.models.layout.backbone import package_model_dir

    src = package_model_dir()
    os.makedirs(directory, exist_ok=True)
    for name in TOKENIZER_FILES:
        if os.path.exists(os.path.join(src, name)):
            shutil.copy(os.path.join(src, name), os.path.join(directory, name))
    with open(os.path.join(src, "config.json"), encoding="utf-8") as fh:
        config = json.load(fh)
    config.update(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2, intermediate_size=2 * hidden)
    with open(os.path.join(directory, "config.json"), "w", encoding="utf-8") as fh:
        json.dump(config, fh)
    if with_weights:
        from paperbeam.models.layout.backbone import load_encoder

        load_encoder(directory, config_only=True).save_pretrained(directory)
    return directory


def tiny_model(directory: str, seed: int = 0, hints=()):
    """``LayoutModel`` over a fresh tiny backbone written to ``directory`` (fp32, CPU); ``hints``: see ``ModelSpec``."""
    import torch

    from paperbeam.models.layout import backbone
    from paperbeam.models.layout.model import ModelSpec, bio_labels, build
    from paperbeam.models.layout.runtime import LayoutModel
    from paperbeam.schema import INVOICE

    write_tiny_backbone(directory)
    torch.manual_seed(seed)
    spec = ModelSpec(labels=bio_labels(INVOICE.names), backbone=directory, max_length=64, stride=16, version="tiny",
                     hints=list(hints))
    model = build(spec, directory, pretrained=False).eval()
    return LayoutModel(model, backbone.load_tokenizer(directory), spec, "cpu")
