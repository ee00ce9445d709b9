"""Save a fine-tuned model as its differences from the backbone.

Why: the backbone (all-MiniLM-L6-v2) is already installed as a package, so
the repository only has to carry what fine-tuning changed. Tensors equal to
the backbone's (the frozen word-piece embeddings) are not written at all;
changed backbone tensors are written as ``fine_tuned - backbone``; new
tensors (box tables, head) are written whole, in fp16. Loading rebuilds the
backbone from its package and adds the deltas back.

Deltas of weight matrices are stored in int8 with one scale per row
(``delta8.`` + ``scale.``, the scale in fp32): fine-tuning moves each weight by a small amount,
so the rounding error (at most 1/254 of the row's largest change) is tiny
beside the weight itself, and the model file is half the size of fp16
deltas. Vectors (biases, layer norms) stay fp16 (``delta.``); files written
with fp16 matrix deltas still load.
"""

from __future__ import annotations

import os
from typing import Dict, Tuple

import torch

DELTA = "delta."
DELTA8 = "delta8."
SCALE = "scale."
NEW = "new."


def quantize_rows(delta: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(int8 values, fp32 scale per row)`` with ``values * scale`` within half a step of ``delta`` (a 2-D tensor)."""
    d = delta.float()
    scale = d.abs().amax(dim=1, keepdim=True).clamp(min=1e-30) / 127.0
    values = torch.round(d / scale).clamp(-127, 127).to(torch.int8)
    return values.contiguous(), scale.squeeze(1).contiguous()


def save(model, spec, directory: str, base_state: Dict[str, torch.Tensor], int8_deltas: bool = True) -> Tuple[str, int]:
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
                delta = t.float() - base.float()
                if int8_deltas and delta.dim() == 2:
                    out[DELTA8 + name], out[SCALE + name] = quantize_rows(delta)
                else:
                    out[DELTA + name] = delta.to(torch.float16).contiguous()
            elif not torch.equal(t, base):
                out[NEW + name] = t.contiguous()
        else:
            out[NEW + name] = (t.to(torch.float16) if t.dtype.is_floating_point else t).contiguous()
    path = os.path.join(directory, spec.weights)
    save_file(out, path, metadata={"format": "paperbeam-deltas/2", "backbone": spec.backbone})
    os.chmod(path, 0o644)  # shipped in the package: readable by whoever installs it
    spec.save(directory)
    return path, os.path.getsize(path)


def load(directory: str, backbone_dir: str = None):
    """``(model, spec)``: the backbone from its package or path, plus the saved deltas (fp32, eval mode)."""
    from paperbeam.models.layout import backbone as bb
    from paperbeam.models.layout.model import ModelSpec, build

    spec = ModelSpec.load(directory)
    backbone_dir = backbone_dir or bb.resolve(spec.backbone)
    model = build(spec, backbone_dir, pretrained=True)
    add_saved(model, directory, spec)
    model.eval()
    return model, spec


def add_saved(model, directory: str, spec) -> None:
    """Turn ``model``, freshly built on its backbone, into the one saved in ``directory``: add the deltas, set the new tensors."""
    from safetensors.torch import load_file

    state = model.state_dict()
    saved = load_file(os.path.join(directory, spec.weights))
    for key, value in saved.items():
        if key.startswith(DELTA):
            name = key[len(DELTA):]
            state[name] = state[name].float() + value.float()
        elif key.startswith(DELTA8):
            name = key[len(DELTA8):]
            state[name] = state[name].float() + value.float() * saved[SCALE + name].float().unsqueeze(1)
        elif key.startswith(SCALE):
            continue
        elif key.startswith(NEW):
            name = key[len(NEW):]
            state[name] = value.to(state[name].dtype)
        else:
            raise ValueError(f"Unexpected tensor {key!r} in {directory}/{spec.weights}")
    model.load_state_dict(state, strict=True)
