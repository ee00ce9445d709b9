"""The OCR engine interface.

An engine turns one page image into words with boxes and confidences. It is
created once per worker (in a DoFn's ``setup``), so it may hold loaded models;
``recognize`` must be safe to call again and again, and must not keep page
images between calls.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import List, Optional

from paperbeam.records import Word


@dataclass
class OcrResult:
    """What an engine read from one page image.

    ``words`` are in pixel coordinates of the image the engine finally read
    (after any rotation it applied: ``rotation`` degrees clockwise), whose size
    is ``width`` x ``height``.
    """

    words: List[Word]
    width: int
    height: int
    engine: str  # name and version, e.g. "tesseract 5.3.0"
    rotation: int = 0
    mean_confidence: Optional[float] = None
    details: dict = field(default_factory=dict)


class OcrEngine:
    """Base class for OCR engines. Subclasses set ``name`` and implement ``recognize``."""

    name = "base"

    def version(self) -> str:
        return "unknown"

    def check(self) -> None:
        """Raise ``paperbeam.errors.ConfigError`` (or ``MissingDependency``) if the engine
        cannot run here: called when the pipeline is built, before any work starts."""

    def recognize(self, image, dpi: Optional[float] = None) -> OcrResult:  # image: PIL.Image.Image
        raise NotImplementedError


def mean_confidence(words: List[Word]) -> Optional[float]:
    return sum(w.confidence for w in words) / len(words) if words else None


def build_engine(factory, options: dict, name: Optional[str] = None) -> OcrEngine:
    """``factory(**options)``, passing only the options the engine takes.

    Why: the run command has one set of OCR options (``--lang``, ``--psm``,
    ``--ocr-timeout``) for every engine, and not every engine has each one
    (RapidOCR has no page segmentation modes; a plugin may have none of
    them). An option left at its default (None) is dropped quietly; one the
    user set for an engine that cannot use it is a configuration error that
    names the engine, rather than a TypeError from deep inside a worker.
    """
    from paperbeam.errors import ConfigError

    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # a builtin or C factory: trust it with everything
        return factory(**options)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return factory(**options)
    unknown = {k: v for k, v in options.items() if k not in params}
    refused = sorted(k for k, v in unknown.items() if v is not None and not (k == "lang" and v == "eng"))
    if refused:
        label = name or getattr(factory, "name", None) or getattr(factory, "__name__", "this engine")
        raise ConfigError(f"The OCR engine {label!r} has no option {', '.join(refused)}; "
                          f"it takes: {', '.join(p for p in params if p != 'self') or 'no options'}.")
    return factory(**{k: v for k, v in options.items() if k in params})
