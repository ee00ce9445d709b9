"""The OCR engine interface.

An engine turns one page image into words with boxes and confidences. It is
created once per worker (in a DoFn's ``setup``), so it may hold loaded models;
``recognize`` must be safe to call again and again, and must not keep page
images between calls.
"""

from __future__ import annotations

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
