"""Save a fine-tuned model as its differences from the backbone, in fp16.

Why: the backbone (all-MiniLM-L6-v2) is already installed as a package, so
the repository only has to carry what fine-tuning changed. Tensors equal to
the backbone's (the frozen word-piece embeddings) are not written at all;
changed backbone tensors are written as ``fine_tuned - backbone`` (a small
delta keeps fp16's precision where it matters); new tensors (box tables,
head) are written whole. Loading rebuilds the backbone from its package and
adds the deltas back.
"""

from __future__ import annotations

import os
from typing import Dict, Tuple

import torch

DELTA = "delta."
NEW = "new."


def save(model, spec, directory: str, base_state: Dict[str, torch.Tensor]) -> Tuple[str, int]:
    """Write ``spec`` and the delta weights; returns (path, bytes). ``base_state``: the untouched backbone's state."""
    from safetensors.torch import save_file

    os.makedirs(directory, exist_ok=True)
    out: Dict[str, torch.Tensor] = {}
    for name, tensor in model.state_dict().items():
        t = tensor.detach().cpu()
        if name.startswith("encoder.") and name[len("encoder."):] in base_state:
            base = base_state[name[len("encoder."):]]
            if t.dtype.is_floating_point:
                if torch.equal(t.float(), base.float()):
                    continue
                out[DELTA + name] = (t.float() - base.float()).to(torch.float16).contiguous()
            elif not torch.equal(t, base):
                out[NEW + name] = t.contiguous()
        else:
            out[NEW + name] = (t.to(torch.float16) if t.dtype.is_floating_point else t).contiguous()
    path = os.path.join(directory, spec.weights)
    save_file(out, path, metadata={"format": "paperbeam-deltas/1", "backbone": spec.backbone})
    os.chmod(path, 0o644)  # shipped in the package: readable by whoever installs it
    spec.save(directory)
    return path, os.path.getsize(path)


def load(directory: str, backbone_dir: str = None):
    """``(model, spec)``: the backbone from its package or path, plus the saved deltas (fp32, eval mode)."""
    from safetensors.torch import load_file

    from paperbeam.models.layout import backbone as bb
    from paperbeam.models.layout.model import ModelSpec, build

    spec = ModelSpec.load(directory)
    backbone_dir = backbone_dir or bb.resolve(spec.backbone)
    model = build(spec, backbone_dir, pretrained=True)
    state = model.state_dict()
    saved = load_file(os.path.join(directory, spec.weights))
    for key, value in saved.items():
        if key.startswith(DELTA):
            name = key[len(DELTA):]
            state[name] = state[name].float() + value.float()
        elif key.startswith(NEW):
            name = key[len(NEW):]
            state[name] = value.to(state[name].dtype)
        else:
            raise ValueError(f"Unexpected tensor {key!r} in {directory}/{spec.weights}")
    model.load_state_dict(state, strict=True)
    model.eval()
    return model, spec
