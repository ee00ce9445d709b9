"""Labelled values -> OCR words -> BIO tags.

Ground truth says *what* a field is ("60.30", "INDAH GIFT & HOME DECO"), not
which OCR words hold it, and OCR text differs from the labelled strings
("60,30", "RECO" for "DECO", an address broken over lines). For each field
we look for runs of consecutive words (in reading order) that say the value:

* dates and amounts: the run's value after the same normalisation the
  evaluator uses (ISO date, decimal) equals the label's; failing that, a
  near-identical string (similarity >= ``short_min``);
* text: the run whose joined text is most similar to the label (rapidfuzz
  ratio, white space and case ignored), if at least ``text_min``;
* currency: the run whose currency code equals the label's ("A$" and
  "AUD" are both AUD), since truth holds the ISO code and the page a symbol.

Dates are only parsed (dateparser is slow) for runs whose digits, taken in
any order, resemble the label's: "06.12.2020" must be tried for the label
2020-12-06, and "20 Feb 2017" (month in letters) for 2017-02-20.

Every run that scores as well as the best one is tagged (a total printed
twice is the total twice). Fields are placed in a fixed order and never take
words another field already holds. Values that find no words are returned,
so training can report how many labels were lost.
"""

from __future__ import annotations

import re
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from paperbeam.models.evaluate import comparable

TEXT_MIN = 0.8
SHORT_MIN = 0.8
_WS = re.compile(r"\s+")
_DIGIT = re.compile(r"\d")


def _norm(text: str) -> str:
    return _WS.sub(" ", text).strip().casefold()


def _comparable(field_type: str, text: str, date_order: str) -> Optional[str]:
    """``evaluate.comparable``, or None for a string the normalisers choke on (a 40-digit "amount")."""
    try:
        return comparable(field_type, text, date_order)
    except (ArithmeticError, ValueError, OverflowError):
        return None


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _sorted_digits(text: str) -> str:
    return "".join(sorted(_digits(text)))


def _squash(text: str) -> str:
    return _WS.sub("", text).casefold()


def find_spans(
    texts: Sequence[str],
    value: str,
    field_type: str,
    taken: Sequence[bool],
    text_min: float = TEXT_MIN,
    short_min: float = SHORT_MIN,
    date_order: str = "day-first",
    normalizer: Optional[Callable[[str], Optional[str]]] = None,
) -> List[Tuple[int, int]]:
    """Runs ``[start, end)`` of ``texts`` that hold ``value`` (best score only, non-overlapping).

    ``normalizer``: a run matches when ``normalizer(run) == normalizer(value)`` (currency codes).
    """
    from rapidfuzz import fuzz

    target = _norm(value)
    if not target:
        return []
    n_value = len(target.split(" "))
    typed = field_type in ("date", "money", "number")
    goal_code = normalizer(value) if normalizer else None
    if normalizer:
        max_len, min_len = 3, 1
    elif typed:
        max_len = min(6, n_value + 3)
        min_len = 1
    else:
        max_len = n_value + max(3, n_value // 3)
        min_len = max(1, n_value // 2)
    goal = _comparable(field_type, value, date_order) if typed else None
    squashed = _squash(value)
    goal_digits = _sorted_digits(value)
    scored: List[Tuple[float, int, int]] = []
    n = len(texts)
    for i in range(n):
        if taken[i]:
            continue
        parts: List[str] = []
        for j in range(i, min(n, i + max_len)):
            if taken[j]:
                break
            parts.append(texts[j])
            k = j - i + 1
            if k < min_len:
                continue
            joined = " ".join(parts)
            if normalizer:
                score = 2.0 - 0.01 * k if goal_code and normalizer(joined) == goal_code else 0.0
            elif typed:
                if not _DIGIT.search(joined):
                    continue
                score = 0.0
                # dateparser is slow: only runs whose digits resemble the label's are parsed
                if field_type == "date" and fuzz.ratio(_sorted_digits(joined), goal_digits) < 60:
                    continue
                if goal is not None and _comparable(field_type, joined, date_order) == goal:
                    score = 2.0 - 0.01 * k  # exact after normalisation; shorter runs first
                else:
                    r = fuzz.ratio(_squash(joined), squashed) / 100.0
                    if r >= short_min:
                        score = r
            else:
                score = fuzz.ratio(_norm(joined), target) / 100.0
                if score < text_min:
                    continue
            if score > 0:
                scored.append((score, i, j + 1))
    if not scored:
        return []
    best = max(s for s, _, _ in scored)
    chosen: List[Tuple[int, int]] = []
    used = [False] * n
    for s, i, j in sorted(scored, key=lambda t: (-t[0], t[1])):
        if s < best - 1e-9:
            break
        if any(used[i:j]):
            continue
        for k in range(i, j):
            used[k] = True
        chosen.append((i, j))
    return sorted(chosen)


def _currency(text: str) -> Optional[str]:
    from paperbeam.normalize import currency_code

    return currency_code(text)


def align(
    texts: Sequence[str],
    values: Dict[str, Optional[str]],
    field_types: Dict[str, str],
    labels: Sequence[str],
    order: Optional[Sequence[str]] = None,
    date_order: str = "day-first",
) -> Tuple[List[int], List[str]]:
    """``(label id per word, fields whose value found no words)``; ``labels`` is the BIO label list."""
    index = {l: i for i, l in enumerate(labels)}
    tags = [0] * len(texts)
    taken = [False] * len(texts)
    missed: List[str] = []
    names = [f for f in (order or values) if f in values]
    for name in names:
        value = values.get(name)
        if value is None or not str(value).strip() or f"B-{name}" not in index:
            continue
        spans = find_spans(texts, str(value), field_types.get(name, "string"), taken, date_order=date_order,
                           normalizer=_currency if name == "currency" else None)
        if not spans:
            missed.append(name)
            continue
        for i, j in spans:
            tags[i] = index[f"B-{name}"]
            taken[i] = True
            for k in range(i + 1, j):
                tags[k] = index[f"I-{name}"]
                taken[k] = True
    return tags, missed
