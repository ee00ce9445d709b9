"""The typed records that flow between pipeline stages.

Every stage hands the next one of these, never a loose dict, so a change of
shape is a change here that every stage (and every test) sees. Each record
round-trips through JSON with ``to_dict`` / ``from_dict``; the JSON form is the
public output format and carries ``SCHEMA_VERSION``.

Coordinates: a word's or field's ``bbox`` is ``(x0, y0, x1, y1)`` in the units
of its page (``Page.unit``: PDF points for a text layer, pixels for a raster
that was OCR'd), origin top-left. ``Page.width`` / ``Page.height`` give the
page size in the same units, so a consumer can scale boxes onto any rendering.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

SCHEMA_VERSION = "1.0"

BBox = Tuple[float, float, float, float]

# Where a page's text came from.
SOURCE_TEXT_LAYER = "text_layer"
SOURCE_OCR = "ocr"


def _bbox(value) -> Optional[BBox]:
    return None if value is None else tuple(float(v) for v in value)


@dataclass
class Word:
    """One word as read from the page, with its box and the reader's confidence (0-1)."""

    text: str
    bbox: BBox
    confidence: float = 1.0
    line: int = 0
    block: int = 0

    def to_dict(self) -> Dict[str, Any]:
        return {
            "text": self.text,
            "bbox": [round(v, 2) for v in self.bbox],
            "confidence": round(self.confidence, 4),
            "line": self.line,
            "block": self.block,
        }

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "Word":
        return cls(
            text=d["text"],
            bbox=_bbox(d["bbox"]),
            confidence=float(d.get("confidence", 1.0)),
            line=int(d.get("line", 0)),
            block=int(d.get("block", 0)),
        )


@dataclass
class SourceDocument:
    """A document as read from its source: bytes plus identity.

    ``id`` is the SHA-256 of the content, so the same file found twice (or
    renamed) is the same document. ``metadata`` carries what a source knows
    about it (an email's sender and subject, an archive member's name).
    """

    id: str
    uri: str
    media_type: str
    data: bytes
    metadata: Dict[str, Any] = field(default_factory=dict)


@dataclass
class PageRef:
    """One page of a document still to be read: the unit the pipeline fans out on.

    It carries no page image: the page is opened where it is read, so a
    200-page scan never holds all its images in one place.
    """

    doc_id: str
    uri: str
    media_type: str
    page_number: int  # 1-based
    page_count: int
    metadata: Dict[str, Any] = field(default_factory=dict)


@dataclass
class Page:
    """A page after reading: its words, and where they came from."""

    doc_id: str
    page_number: int
    width: float
    height: float
    unit: str  # "pt" or "px"
    source: str  # SOURCE_TEXT_LAYER or SOURCE_OCR
    words: List[Word] = field(default_factory=list)
    engine: Optional[str] = None  # OCR engine name and version, e.g. "tesseract 5.3.0"
    mean_confidence: Optional[float] = None
    dpi: Optional[float] = None
    rotation: int = 0  # degrees the page was turned before reading
    seconds: float = 0.0
    error: Optional[Dict[str, str]] = None  # set when the page could not be read

    @property
    def text(self) -> str:
        return "\n".join(" ".join(w.text for w in line) for line in group_lines(self.words))

    def to_dict(self, with_words: bool = True) -> Dict[str, Any]:
        d = {
            "page": self.page_number,
            "width": round(self.width, 2),
            "height": round(self.height, 2),
            "unit": self.unit,
            "source": self.source,
            "engine": self.engine,
            "mean_confidence": None if self.mean_confidence is None else round(self.mean_confidence, 4),
            "dpi": self.dpi,
            "rotation": self.rotation,
            "word_count": len(self.words),
            "seconds": round(self.seconds, 3),
        }
        if self.error:
            d["error"] = self.error
        if with_words:
            d["words"] = [w.to_dict() for w in self.words]
        return d

    @classmethod
    def from_dict(cls, d: Dict[str, Any], doc_id: str = "") -> "Page":
        return cls(
            doc_id=doc_id,
            page_number=int(d["page"]),
            width=float(d["width"]),
            height=float(d["height"]),
            unit=d.get("unit", "px"),
            source=d["source"],
            words=[Word.from_dict(w) for w in d.get("words") or []],
            engine=d.get("engine"),
            mean_confidence=d.get("mean_confidence"),
            dpi=d.get("dpi"),
            rotation=int(d.get("rotation", 0)),
            seconds=float(d.get("seconds", 0.0)),
            error=d.get("error"),
        )


def group_lines(words: List[Word]) -> List[List[Word]]:
    """Words grouped into lines, in reading order (by block, line, then x)."""
    lines: Dict[Tuple[int, int], List[Word]] = {}
    for w in words:
        lines.setdefault((w.block, w.line), []).append(w)
    ordered = sorted(lines.values(), key=lambda ws: (min(w.bbox[1] for w in ws), min(w.bbox[0] for w in ws)))
    return [sorted(ws, key=lambda w: w.bbox[0]) for ws in ordered]


@dataclass
class Document:
    """All pages of one document, in page order: what extractors read."""

    id: str
    uri: str
    media_type: str
    pages: List[Page]
    metadata: Dict[str, Any] = field(default_factory=dict)

    @property
    def page_count(self) -> int:
        return len(self.pages)


@dataclass
class Field:
    """One extracted value: as printed, normalised, how sure, and where it was found."""

    value: str
    normalized: Optional[str] = None
    confidence: float = 0.0
    page: Optional[int] = None
    bbox: Optional[BBox] = None
    extractor: str = ""

    def to_dict(self) -> Dict[str, Any]:
        return {
            "value": self.value,
            "normalized": self.normalized,
            "confidence": round(self.confidence, 4),
            "page": self.page,
            "bbox": None if self.bbox is None else [round(v, 2) for v in self.bbox],
            "extractor": self.extractor,
        }

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "Field":
        return cls(
            value=d.get("value", ""),
            normalized=d.get("normalized"),
            confidence=float(d.get("confidence", 0.0)),
            page=d.get("page"),
            bbox=_bbox(d.get("bbox")),
            extractor=d.get("extractor", ""),
        )


@dataclass
class Record:
    """The output for one document: the public JSON Lines format."""

    id: str
    source_uri: str
    media_type: str
    page_count: int
    pages: List[Page]
    fields: Dict[str, Field]
    versions: Dict[str, Optional[str]]
    schema: str = "invoice"
    metadata: Dict[str, Any] = field(default_factory=dict)
    schema_version: str = SCHEMA_VERSION

    def to_dict(self, with_words: bool = False) -> Dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "id": self.id,
            "source_uri": self.source_uri,
            "media_type": self.media_type,
            "page_count": self.page_count,
            "schema": self.schema,
            "fields": {name: f.to_dict() for name, f in self.fields.items()},
            "pages": [p.to_dict(with_words=with_words) for p in self.pages],
            "versions": self.versions,
            "metadata": self.metadata,
        }

    def to_json(self, with_words: bool = False) -> str:
        return json.dumps(self.to_dict(with_words=with_words), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "Record":
        return cls(
            id=d["id"],
            source_uri=d["source_uri"],
            media_type=d["media_type"],
            page_count=int(d["page_count"]),
            pages=[Page.from_dict(p, d["id"]) for p in d.get("pages", [])],
            fields={k: Field.from_dict(v) for k, v in (d.get("fields") or {}).items()},
            versions=dict(d.get("versions") or {}),
            schema=d.get("schema", "invoice"),
            metadata=dict(d.get("metadata") or {}),
            schema_version=d.get("schema_version", SCHEMA_VERSION),
        )

    @classmethod
    def from_json(cls, line: str) -> "Record":
        return cls.from_dict(json.loads(line))


@dataclass
class DeadLetter:
    """An input that could not become a record, and why, in words a person can act on."""

    source_uri: str
    stage: str  # read | split | ocr | extract | write
    error: str  # the error class, e.g. "EncryptedDocument"
    message: str
    doc_id: Optional[str] = None
    page: Optional[int] = None
    schema_version: str = SCHEMA_VERSION

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "DeadLetter":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    @classmethod
    def from_json(cls, line: str) -> "DeadLetter":
        return cls.from_dict(json.loads(line))
