"""Score extracted records against ground truth, per field.

Two views of the same comparison, so a near-miss is not hidden behind a zero:

* **exact match** after normalisation (the SROIE key-field scoring): strings are
  case-folded with white space collapsed, ``date`` fields are compared as ISO
  dates and ``money`` fields as decimal amounts, using ``paperbeam.normalize``
  (the same code the extractors use). A value that does not parse as a date
  or an amount falls back to the string comparison.
* **edit similarity** (the ANLS idea): ``1 - normalised Levenshtein distance``
  between the two normalised strings, averaged over the documents where the
  truth or the prediction has the field (a missing side scores 0).

Counting, per field and document, with truth ``t`` and prediction ``p``
(``None`` or an empty string means absent):

====================  =========================
both present, equal   TP
both present, differ  FP and FN
only ``p``            FP
only ``t``            FN
neither               not counted
====================  =========================

``precision = TP/(TP+FP)``, ``recall = TP/(TP+FN)``, F1 their harmonic mean.
A ratio whose denominator is 0 is 0.0 — except for a field with no truth and
no prediction anywhere, which has nothing to find and found nothing wrong:
its precision, recall, F1 and edit similarity are all 1.0 (its support of 0
shows it). The micro average adds up TP/FP/FN over all fields, so such a field
does not move it.

Truth documents without any prediction record score FN for each of their
fields and are counted in ``documents_without_prediction``; prediction records
for documents the truth does not know are not scored and are counted in
``extra_predictions``. Predictions match truth by file-name stem
(``.../img/001.jpg`` and ``key/001.json`` are both ``001``).

Everything here is plain functions over dicts, so bench scripts can call
``load_predictions``, ``load_truth`` and ``evaluate`` without the CLI.
"""

from __future__ import annotations

import csv
import glob
import gzip
import json
import logging
import os
import posixpath
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple
from urllib.parse import unquote, urlparse

from paperbeam.errors import ConfigError
from paperbeam.normalize import normalize_amount, normalize_date, normalize_text
from paperbeam.schema import INVOICE

log = logging.getLogger(__name__)

FORMATS = ("paperbeam", "sroie")

# SROIE task 3 key -> our invoice schema field.
SROIE_FIELDS = {
    "company": "vendor_name",
    "date": "document_date",
    "address": "vendor_address",
    "total": "total_amount",
}

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_PLAIN_DECIMAL = re.compile(r"-?\d+(?:\.\d+)?")


# --------------------------------------------------------------------------
# Comparing values


def comparable(field_type: str, text: Optional[str], date_order: str = "day-first") -> Optional[str]:
    """The form a value is compared in, or None when the value is absent.

    ``date`` -> ISO date, ``money``/``number`` -> canonical decimal string;
    anything else (and a date or amount that does not parse) -> case-folded
    text with white space collapsed.
    """
    if text is None:
        return None
    text = normalize_text(str(text))
    if not text:
        return None
    if field_type == "date":
        iso = text if _ISO_DATE.fullmatch(text) else normalize_date(text, date_order)
        if iso:
            return iso
    elif field_type in ("money", "number"):
        amount = _decimal(text)
        if amount is not None:
            return amount
    return text.casefold()


def _decimal(text: str) -> Optional[str]:
    """A canonical decimal string ("60.3", "60.30" and "RM 60.30" -> "60.3")."""
    if not _PLAIN_DECIMAL.fullmatch(text):
        text = normalize_amount(text)[0]
        if text is None:
            return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    # normalize() drops trailing zeros; format "f" avoids "6E+1" for 60.
    return format(value.normalize(), "f") if value else "0"


def edit_similarity(a: Optional[str], b: Optional[str]) -> float:
    """1 - normalised Levenshtein distance; 0.0 when either side is missing."""
    if a is None or b is None:
        return 0.0
    from rapidfuzz.distance import Levenshtein

    return float(Levenshtein.normalized_similarity(a, b))


# --------------------------------------------------------------------------
# Matching records to truth


def document_stem(uri: str) -> str:
    """The file-name stem of a path or URI: ``file:///a/b/001.jpg`` -> ``001``."""
    path = uri
    parsed = urlparse(uri)
    # A one-letter scheme is a Windows drive ("C:\\..."), not a URI scheme.
    if parsed.scheme and len(parsed.scheme) > 1:
        path = unquote(parsed.path) or parsed.netloc
    base = posixpath.basename(path.replace("\\", "/").rstrip("/"))
    stem, _ = os.path.splitext(base)
    return stem or base


def _field_text(value: Any) -> Optional[str]:
    """The string to score from a field as a record or truth file holds it.

    A field is a dict with ``normalized`` and ``value`` (``normalized`` wins
    when set), a plain string, or None.
    """
    if value is None:
        return None
    if isinstance(value, Mapping):
        for key in ("normalized", "value"):
            v = value.get(key)
            if v is not None and str(v).strip():
                return str(v)
        return None
    return str(value)


# --------------------------------------------------------------------------
# The report


@dataclass
class FieldScore:
    """Counts and scores for one field (or for the micro average)."""

    name: str
    type: str = "string"
    tp: int = 0
    fp: int = 0
    fn: int = 0
    similarity_sum: float = 0.0
    compared: int = 0  # documents where truth or prediction has the field

    @property
    def support(self) -> int:
        """Documents whose truth has the field."""
        return self.tp + self.fn

    @property
    def predicted(self) -> int:
        """Scored documents whose prediction has the field."""
        return self.tp + self.fp

    @property
    def _empty(self) -> bool:
        return self.compared == 0

    @property
    def precision(self) -> float:
        if self._empty:
            return 1.0
        return self.tp / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        if self._empty:
            return 1.0
        return self.tp / self.support if self.support else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def edit_similarity(self) -> float:
        return self.similarity_sum / self.compared if self.compared else 1.0

    def add(self, truth: Optional[str], pred: Optional[str]) -> bool:
        """Count one comparison of normalised values; True when it is not a match."""
        if truth is None and pred is None:
            return False
        self.compared += 1
        self.similarity_sum += edit_similarity(truth, pred)
        if truth is not None and truth == pred:
            self.tp += 1
            return False
        if pred is not None:
            self.fp += 1
        if truth is not None:
            self.fn += 1
        return True

    def to_dict(self) -> Dict[str, Any]:
        return {
            "type": self.type,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "edit_similarity": self.edit_similarity,
            "support": self.support,
            "predicted": self.predicted,
            "compared": self.compared,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


@dataclass
class Mismatch:
    """One (document, field) that did not match exactly: what to look at first."""

    document: str
    field: str
    truth: Optional[str]
    predicted: Optional[str]
    similarity: float

    def to_dict(self) -> Dict[str, Any]:
        return {
            "document": self.document,
            "field": self.field,
            "truth": self.truth,
            "predicted": self.predicted,
            "similarity": self.similarity,
        }


@dataclass
class EvaluationReport:
    fields: Dict[str, FieldScore]
    micro: FieldScore
    documents: int  # truth documents
    documents_without_prediction: int
    extra_predictions: int
    duplicate_predictions: int = 0
    date_order: str = "day-first"
    missing_documents: List[str] = field(default_factory=list)
    extra_documents: List[str] = field(default_factory=list)
    mismatches: List[Mismatch] = field(default_factory=list)
    meta: Dict[str, Any] = field(default_factory=dict)  # e.g. the paths and format, set by the caller

    def to_dict(self) -> Dict[str, Any]:
        return {
            **self.meta,
            "date_order": self.date_order,
            "documents": self.documents,
            "documents_with_prediction": self.documents - self.documents_without_prediction,
            "documents_without_prediction": self.documents_without_prediction,
            "extra_predictions": self.extra_predictions,
            "duplicate_predictions": self.duplicate_predictions,
            "fields": {name: s.to_dict() for name, s in self.fields.items()},
            "micro": self.micro.to_dict(),
            "missing_documents": list(self.missing_documents),
            "extra_documents": list(self.extra_documents),
            "mismatches": [m.to_dict() for m in self.mismatches],
        }

    def format_table(self) -> str:
        """The terminal table: per field and micro average, then document counts."""
        width = max([len("micro avg")] + [len(n) for n in self.fields])
        head = f"{'field':<{width}}  {'precision':>9}  {'recall':>6}  {'f1':>6}  {'edit_sim':>8}  {'support':>7}  {'predicted':>9}"
        lines = [head, "-" * len(head)]

        def row(name: str, s: FieldScore) -> str:
            return (
                f"{name:<{width}}  {s.precision:>9.4f}  {s.recall:>6.4f}  {s.f1:>6.4f}  "
                f"{s.edit_similarity:>8.4f}  {s.support:>7d}  {s.predicted:>9d}"
            )

        lines += [row(name, s) for name, s in self.fields.items()]
        lines += ["-" * len(head), row("micro avg", self.micro), ""]
        lines.append(
            f"documents: {self.documents} in truth, "
            f"{self.documents - self.documents_without_prediction} with a prediction, "
            f"{self.documents_without_prediction} without; "
            f"{self.extra_predictions} extra prediction(s) not in truth"
            + (f"; {self.duplicate_predictions} duplicate prediction(s) ignored" if self.duplicate_predictions else "")
        )
        return "\n".join(lines)


# --------------------------------------------------------------------------
# Scoring


def evaluate(
    predictions: Iterable[Any],
    truth: Mapping[str, Mapping[str, Any]],
    field_types: Mapping[str, str],
    date_order: str = "day-first",
) -> EvaluationReport:
    """Score prediction records against truth.

    ``predictions``: Record JSON dicts (or ``Record`` objects) with
    ``source_uri`` and ``fields: {name: {value, normalized, ...}}``.
    ``truth``: ``{stem: {field: value-or-None}}`` (a value may also be a
    ``{value, normalized}`` dict). ``field_types``: ``{field: schema type}``;
    only these fields are scored, in this order.
    """
    by_stem: Dict[str, Mapping[str, Any]] = {}
    duplicates = 0
    for rec in predictions:
        if hasattr(rec, "to_dict"):
            rec = rec.to_dict()
        stem = document_stem(str(rec.get("source_uri") or rec.get("id") or ""))
        if stem in by_stem:
            duplicates += 1
            log.warning("more than one prediction record for document %r; scoring the first", stem)
            continue
        by_stem[stem] = rec.get("fields") or {}

    scores = {name: FieldScore(name, ftype) for name, ftype in field_types.items()}
    micro = FieldScore("micro", "all")
    mismatches: List[Mismatch] = []
    missing: List[str] = []
    for stem in sorted(truth):
        t_fields = truth[stem] or {}
        p_fields = by_stem.get(stem)
        if p_fields is None:
            missing.append(stem)
        for name, ftype in field_types.items():
            t = comparable(ftype, _field_text(t_fields.get(name)), date_order)
            p = comparable(ftype, _field_text((p_fields or {}).get(name)), date_order)
            micro.add(t, p)
            # Missing documents are listed once in missing_documents, not per field.
            if scores[name].add(t, p) and p_fields is not None:
                mismatches.append(Mismatch(stem, name, t, p, edit_similarity(t, p)))

    extra = sorted(set(by_stem) - set(truth))
    return EvaluationReport(
        fields=scores,
        micro=micro,
        documents=len(truth),
        documents_without_prediction=len(missing),
        extra_predictions=len(extra),
        duplicate_predictions=duplicates,
        date_order=date_order,
        missing_documents=missing,
        extra_documents=extra,
        mismatches=mismatches,
    )


# --------------------------------------------------------------------------
# Loading


def _open_text(path: str):
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def prediction_files(path: str) -> List[str]:
    """The records files a path names: a file, a glob, or a ``paperbeam run`` output dir."""
    if os.path.isdir(path):
        files = sorted(glob.glob(os.path.join(path, "records*.jsonl*")))
        if not files:
            files = sorted(glob.glob(os.path.join(path, "**", "records*.jsonl*"), recursive=True))
        if not files:
            raise ConfigError(
                f"No records*.jsonl files in {path}. Give the output directory of `paperbeam run`, "
                "a records .jsonl file, or a glob such as 'out/records*.jsonl'."
            )
        return files
    if os.path.isfile(path):
        return [path]
    if glob.has_magic(path):
        files = sorted(f for f in glob.glob(path) if os.path.isfile(f))
        if files:
            return files
        raise ConfigError(f"No files match --predictions {path!r}. Check the pattern (quote it so the shell leaves it).")
    raise ConfigError(
        f"Predictions not found: {path}. Give the output directory of `paperbeam run`, "
        "a records .jsonl file, or a glob."
    )


def load_predictions(path: str) -> List[Dict[str, Any]]:
    """Record dicts from a records .jsonl file, a glob, or a ``paperbeam run`` output directory."""
    records: List[Dict[str, Any]] = []
    for name in prediction_files(path):
        with _open_text(name) as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{name}:{n} is not valid JSON ({exc}). Is this a paperbeam records file?")
                if not isinstance(rec, dict) or "source_uri" not in rec:
                    raise ConfigError(
                        f"{name}:{n} is not a paperbeam record (no 'source_uri'). "
                        "Point --predictions at the records*.jsonl files, not the dead letters."
                    )
                records.append(rec)
    return records


@dataclass
class GroundTruth:
    """Truth values per document stem, and the fields (with their types) to score."""

    documents: Dict[str, Dict[str, Optional[Any]]]
    field_types: Dict[str, str]
    format: str


def detect_format(path: str) -> str:
    """``sroie`` for a dir with ``key/`` (or of SROIE key files), else ``paperbeam``."""
    if os.path.isdir(os.path.join(path, "key")):
        return "sroie"
    if os.path.isdir(os.path.join(path, "truth")):
        return "paperbeam"
    files = sorted(glob.glob(os.path.join(path, "*.json")))
    if files:
        data = _read_json(files[0])
        if isinstance(data, dict) and "fields" not in data and set(data) & set(SROIE_FIELDS):
            return "sroie"
    return "paperbeam"


def _read_json(name: str) -> Any:
    try:
        with open(name, encoding="utf-8-sig") as fh:
            return json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Truth file {name} is not valid JSON ({exc}). Fix or remove it.")


def _json_files(directory: str, what: str) -> List[str]:
    files = sorted(glob.glob(os.path.join(directory, "*.json")))
    if not files:
        raise ConfigError(f"No .json truth files in {directory}. {what}")
    return files


def load_truth(path: str, fmt: Optional[str] = None) -> GroundTruth:
    """Ground truth from a SROIE-layout or paperbeam truth directory (``fmt`` None: detect)."""
    if not os.path.isdir(path):
        raise ConfigError(
            f"Truth directory not found: {path}. Give a SROIE-layout directory (with key/) "
            "or a paperbeam truth directory (with truth/<stem>.json)."
        )
    fmt = fmt or detect_format(path)
    if fmt == "sroie":
        return _load_sroie(path)
    if fmt == "paperbeam":
        return _load_paperbeam(path)
    raise ConfigError(f"Unknown truth format {fmt!r}. Use one of: {', '.join(FORMATS)}.")


def _load_sroie(path: str) -> GroundTruth:
    key_dir = os.path.join(path, "key") if os.path.isdir(os.path.join(path, "key")) else path
    docs: Dict[str, Dict[str, Optional[Any]]] = {}
    for name in _json_files(key_dir, "A SROIE directory holds key/NNN.json files beside img/NNN.jpg."):
        data = _read_json(name)
        if not isinstance(data, dict):
            raise ConfigError(f"{name} is not a SROIE key file (expected an object with company/date/address/total).")
        docs[document_stem(name)] = {ours: data.get(key) for key, ours in SROIE_FIELDS.items()}
    types = {f.name: f.type for f in INVOICE.fields}
    return GroundTruth(docs, {ours: types[ours] for ours in SROIE_FIELDS.values()}, "sroie")


def sroie_box_lines(path: str) -> List[Tuple[float, float, float, float, str]]:
    """(x0, y0, x1, y1, text) of each labelled line in a SROIE ``box/NNN.csv`` (rows: the 4 corners, then the text).

    Rows that are short or whose corners are not numbers are skipped; a text with commas spans the remaining columns.
    """
    rows = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for row in csv.reader(fh):
            if len(row) < 9:
                continue
            try:
                xs = [float(v) for v in row[0:8:2]]
                ys = [float(v) for v in row[1:8:2]]
            except ValueError:
                continue
            text = ",".join(row[8:]).strip()
            if text:
                rows.append((min(xs), min(ys), max(xs), max(ys), text))
    return rows


def _load_paperbeam(path: str) -> GroundTruth:
    truth_dir = os.path.join(path, "truth") if os.path.isdir(os.path.join(path, "truth")) else path
    docs: Dict[str, Dict[str, Optional[Any]]] = {}
    seen = set()
    for name in _json_files(truth_dir, "A paperbeam truth directory holds <stem>.json files (or truth/<stem>.json)."):
        data = _read_json(name)
        if not isinstance(data, dict) or not isinstance(data.get("fields"), dict):
            raise ConfigError(
                f"{name} is not a paperbeam truth file (expected an object with 'fields'). "
                "Use --format sroie for SROIE key files."
            )
        fields = data["fields"]
        seen.update(fields)
        docs[document_stem(name)] = {k: _field_text(v) for k, v in fields.items() if k in INVOICE.names}
    field_types = {f.name: f.type for f in INVOICE.fields if f.name in seen}
    if not field_types:
        raise ConfigError(f"The truth files in {truth_dir} name none of the fields {', '.join(INVOICE.names)}.")
    return GroundTruth(docs, field_types, "paperbeam")
