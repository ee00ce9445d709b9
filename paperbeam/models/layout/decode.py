"""Word tags -> fields: a value, a confidence, a page and a box per field.

Per field, runs of consecutive words tagged ``B-f I-f ...`` (an ``I-f`` that
follows no run starts one) are candidates; a candidate's confidence is the
mean, over its words, of the probability the model gave the field (B + I).
When no word has the field as its most likely tag, the word with the highest
``B-f`` probability (above ``fallback_min``) still makes a low-confidence
candidate, extended over the following words whose ``I-f`` probability is
high: for a field every document has, a likely guess scores better than none.

Candidates are tried best first; the value goes through the same
normalisation as the rule-based extractor, and a date or amount that does
not normalise is skipped for the next candidate.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np

from paperbeam.models.extractors.base import union_box
from paperbeam.models.extractors.rules import _strip_currency
from paperbeam.normalize import currency_code, normalize_value
from paperbeam.records import Field
from paperbeam.schema import Schema

FALLBACK_MIN = 0.1
CONTINUE_MIN = 0.3


def candidates(probs: np.ndarray, b: int, i: int, fallback_min: float = FALLBACK_MIN) -> List[Tuple[float, int, int]]:
    """``(confidence, start, end)`` runs for the field whose B and I columns are ``b`` and ``i``."""
    tags = probs.argmax(axis=1)
    field_p = probs[:, b] + probs[:, i]
    runs: List[Tuple[int, int]] = []
    start = None
    for k, t in enumerate(tags):
        if t == b or (t == i and start is None):
            if start is not None:
                runs.append((start, k))
            start = k
        elif t == i:
            continue
        elif start is not None:
            runs.append((start, k))
            start = None
    if start is not None:
        runs.append((start, len(tags)))
    out = [(float(field_p[s:e].mean()), s, e) for s, e in runs]
    if not out and len(tags):
        k = int(probs[:, b].argmax())
        if probs[k, b] >= fallback_min:
            e = k + 1
            while e < len(tags) and probs[e, i] >= CONTINUE_MIN:
                e += 1
            out.append((float(field_p[k:e].mean()) * 0.5, k, e))
    return sorted(out, key=lambda c: (-c[0], c[1]))


def decode(
    words: Sequence,  # features.DocWord
    probs: np.ndarray,
    labels: Sequence[str],
    schema: Schema,
    date_order: str = "day-first",
    extractor: str = "model",
) -> Dict[str, Field]:
    index = {l: k for k, l in enumerate(labels)}
    fields: Dict[str, Field] = {}
    for spec in schema.fields:
        b, i = index.get(f"B-{spec.name}"), index.get(f"I-{spec.name}")
        if b is None or i is None or not len(words):
            continue
        for conf, s, e in candidates(probs, b, i):
            span = list(words[s:e])
            page = span[0].page
            ws = [w.word for w in span if w.page == page]
            value = " ".join(w.text for w in ws)
            if spec.type == "money":
                value = _strip_currency(value)
            normalized = normalize_value(spec.type, value, date_order)
            if spec.name == "currency":
                normalized = currency_code(value) or value
            if spec.type in ("date", "money", "number") and normalized is None:
                continue
            fields[spec.name] = Field(
                value=value,
                normalized=normalized,
                confidence=round(max(0.0, min(1.0, conf)), 4),
                page=page,
                bbox=union_box(ws),
                extractor=extractor,
            )
            break
    return fields
