"""Word tags -> fields: a value, a confidence, a page and a box per field.

Per field, runs of words tagged ``B-f I-f ...`` (an ``I-f`` that follows no
run starts one; in text fields a run may bridge up to two "O" words, OCR
noise inside a name, and across a line break only in a field whose values
span lines) are candidates; a candidate's confidence is the mean, over its
tagged words, of the probability the model gave the field (B + I).
Text fields rank runs by the sum of those probabilities (a whole name beats
a stray word), dates and amounts by the mean.
After the tagged runs come the three words with the highest ``B-f``
probability (above ``fallback_min``) that no run starts with, extended over
the following words whose ``I-f`` probability is high: for a field every
document has, a likely guess scores better than none, and their confidence
(the model's own probability) says how sure it is.

A company name whose run crosses lines keeps only the lines of one name, read
as the rules read a name over lines (``names.name_span``: the mall above a
company is not part of it, nor the brand below its "SDN BHD"); a lone "·" or
"|" between a sender line's parts is dropped from a text value.
Candidates are tried best first (none under ``min_confidence``); the value goes through the same
normalisation as the rule-based extractor. A date or amount that does not
normalise is looked for inside the run with the rules' patterns (OCR glues
"Date:" to the date), and failing that skipped for the next candidate.
Dates and amounts are then chosen by vote: the value whose tagged runs have
the greatest summed confidence wins (a total is printed more often than the
change the model confuses it with; see ``_voted``).
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from paperbeam.models.extractors.base import finish_value, is_party_name, strip_currency, union_box
from paperbeam.models.extractors.rules import AMOUNT_RE, DATE_RE, SEPARATOR_MARKS
from paperbeam.models.layout.names import name_span
from paperbeam.normalize import normalize_value
from paperbeam.records import Field
from paperbeam.schema import Schema

FALLBACK_MIN = 0.1
CONTINUE_MIN = 0.3
FALLBACKS = 3
MIN_CONFIDENCE = 0.1  # below this a field is left out (``auto`` may then take the rules' value)
TEXT_GAP = 2  # "O" words a name or address may span (OCR noise)
EDGE_MIN = 0.4  # field probability (B + I) that lets an untagged word beside a name join it
_SEPARATOR_WORD = re.compile(rf"[{SEPARATOR_MARKS}]")  # a word that is only a separator
VOTED = ("date", "money")  # types whose value is chosen by the votes of all its runs (see _voted)


def candidates(probs: np.ndarray, b: int, i: int, fallback_min: float = FALLBACK_MIN, max_gap: int = 0,
               by_sum: bool = False, lines: Sequence = (), gap_across_lines: bool = True,
               ) -> List[Tuple[float, float, int, int]]:
    """``(score, confidence, start, end)`` runs for the field whose B and I columns are ``b`` and ``i``, best first.

    ``max_gap``: an ``I`` may continue a run across that many words tagged "O" (OCR noise
    inside a name or an address), which then belong to the value. ``gap_across_lines``
    False: only when the ``I`` is on the run's last line (a one-line field: the line above
    a shop's name, its mall or branch, is not noise inside it). ``by_sum``: rank runs by
    the sum of their words' field probabilities (a long, coherent name beats a stray word)
    rather than the mean. ``confidence`` is always the mean over the run's tagged words.
    """
    tags = probs.argmax(axis=1)
    field_p = probs[:, b] + probs[:, i]
    runs: List[List[int]] = []  # [start, end, tagged words...]
    current: List[int] = []
    for k, t in enumerate(tags):
        if t == b and by_sum and current and k == current[-1] + 1 and len(lines) and lines[k] == lines[k - 1]:
            current.append(k)  # "LIAN/B CHI/B PU/I" on one line: a name's first words both tagged as its start
        elif t == b:
            current = [k]
            runs.append(current)
        elif t == i:
            gap_ok = bool(current) and k - current[-1] - 1 <= max_gap and all(tags[g] == 0 for g in range(current[-1] + 1, k))
            if gap_ok and not gap_across_lines and k > current[-1] + 1 and len(lines) and lines[k] != lines[current[-1]]:
                gap_ok = False
            if gap_ok:
                current.append(k)
            else:
                current = [k]
                runs.append(current)
        elif t != 0:
            current = []
    if by_sum:
        runs = [_widened(run, tags, field_p, lines) for run in runs]
    out = []
    for run in runs:
        conf = float(field_p[run].mean())
        score = float(field_p[run].sum()) if by_sum else conf
        out.append((score, conf, run[0], run[-1] + 1))
    out.sort(key=lambda c: (-c[0], c[2]))
    # Then the words most likely to start the field although another tag won, so that a
    # field whose tagged runs do not parse (or that has none) can still be found.
    starts = {c[2] for c in out}
    for k in np.argsort(-probs[:, b], kind="stable")[:FALLBACKS]:
        k = int(k)
        if probs[k, b] < fallback_min or k in starts:
            continue
        e = k + 1
        while e < len(tags) and probs[e, i] >= CONTINUE_MIN:
            e += 1
        conf = float(field_p[k:e].mean())
        out.append((-1.0 + conf, conf, k, e))
    return out


def _widened(run: List[int], tags: np.ndarray, field_p: np.ndarray, lines: Sequence) -> List[int]:
    """A text run grown over the untagged words right beside it that the model gives the field ``EDGE_MIN`` or more.

    Why: the model often splits its belief over a name's first word ("KEDAI" 0.48 start of the name,
    0.52 "O"), so the argmax tags cut "KEDAI PAPAN YEW CHUAN" to "PAPAN YEW CHUAN". Only words tagged
    "O" are taken (never another field's), and only next to the run.
    """
    if not len(lines):
        return run
    start, end = run[0], run[-1]
    while start > 0 and tags[start - 1] == 0 and field_p[start - 1] >= EDGE_MIN and lines[start - 1] == lines[start]:
        start -= 1
    while end + 1 < len(tags) and tags[end + 1] == 0 and field_p[end + 1] >= EDGE_MIN and lines[end + 1] == lines[end]:
        end += 1
    return list(range(start, run[0])) + run + list(range(run[-1] + 1, end + 1))


def decode(
    words: Sequence,  # features.DocWord
    probs: np.ndarray,
    labels: Sequence[str],
    schema: Schema,
    date_order: str = "day-first",
    extractor: str = "model",
    min_confidence: float = MIN_CONFIDENCE,
    multi_line: Optional[Sequence[str]] = None,
) -> Dict[str, Field]:
    """The fields the tags say. ``multi_line``: the text fields whose values span lines (an address;
    ``ModelSpec.multi_line``, learnt from the training data); the others never bridge OCR noise across
    a line break. None: every field may (models trained before the statistic was kept)."""
    index = {l: k for k, l in enumerate(labels)}
    fields: Dict[str, Field] = {}
    lines = [(w.page, w.word.line) for w in words]
    tags = probs.argmax(axis=1)
    for spec in schema.fields:
        b, i = index.get(f"B-{spec.name}"), index.get(f"I-{spec.name}")
        if b is None or i is None or not len(words):
            continue
        text_field = spec.type == "string"
        found: List[Tuple[float, Field]] = []
        across = multi_line is None or spec.name in multi_line
        for score, conf, s, e in candidates(probs, b, i, max_gap=TEXT_GAP if text_field else 0, by_sum=text_field,
                                            lines=lines, gap_across_lines=across):
            if conf < min_confidence:
                continue
            if text_field and is_party_name(spec.name):
                s, e, conf = _name_in_run(words, probs, tags, b, i, s, e, conf)
            field = _field_from_run(spec, words, s, e, conf, date_order, extractor)
            if field is None:
                continue
            found.append((score, field))
            if spec.type not in VOTED:
                break
        if found:
            fields[spec.name] = _voted(found) if spec.type in VOTED else found[0][1]
    return fields


def _name_in_run(words: Sequence, probs: np.ndarray, tags: np.ndarray, b: int, i: int, s: int, e: int, conf: float):
    """``(s, e, confidence)`` of the name inside a run that crosses lines (``names.name_span``)."""
    field_p = probs[:, b] + probs[:, i]
    ns, ne = name_span(words, s, e, tags, field_p)
    if (ns, ne) == (s, e):
        return s, e, conf
    return ns, ne, float(field_p[ns:ne].mean())


def _field_from_run(spec, words: Sequence, s: int, e: int, conf: float, date_order: str, extractor: str):
    """The field the words ``s:e`` say, or None when they hold no value of its type."""
    if spec.type == "money":
        s, e = grouped_amount(words, s, e)
    span = list(words[s:e])
    page = span[0].page
    ws = [w.word for w in span if w.page == page]
    if spec.type == "string":
        # "Hauptstr. 1 · 10115 Berlin": a lone dot or bar between a sender line's parts is no part of the value
        # (the rules split the line at them, ``rules.SEPARATOR_MARKS``).
        ws = [w for w in ws if not _SEPARATOR_WORD.fullmatch(w.text)] or ws
    try:
        value, normalized, ws = finish_value(spec, " ".join(w.text for w in ws), ws, date_order)
    except (ArithmeticError, ValueError, OverflowError):  # an OCR run of digits no amount can be
        return None
    if spec.type in ("date", "money") and normalized is None:
        value, normalized = _value_inside(spec.type, value, date_order)
    if spec.type in ("date", "money", "number") and normalized is None:
        return None
    return Field(
        value=value,
        normalized=normalized,
        confidence=round(max(0.0, min(1.0, conf)), 4),
        page=page,
        bbox=union_box(ws),
        extractor=extractor,
    )


def _voted(found: Sequence[Tuple[float, Field]]) -> Field:
    """The value the tagged runs say most: the sum of their confidences, per normalised value.

    Why: a receipt prints its total two or three times (total, rounded total,
    cash when it was exact), while the amounts the model confuses with it
    (cash tendered, change, an item) are printed once; the likeliest single
    run is the change about as often as the total. Untagged fallbacks
    (score below 0) only count when no run was tagged. The value's most
    confident run gives the field its box and page.
    """
    tagged = [f for score, f in found if score >= 0] or [found[0][1]]
    votes: Dict[str, float] = {}
    for f in tagged:
        votes[f.normalized] = votes.get(f.normalized, 0.0) + f.confidence
    best = max(votes, key=lambda v: votes[v])  # ties: the first value, i.e. the best-ranked run
    return next(f for f in tagged if f.normalized == best)


_LEADING_GROUP = re.compile(r"(?:[A-Z]{3}|[^\w\s]{1,3})?\d{1,3}")
_THOUSANDS_GROUP = re.compile(r"\d{3}(?:[.,]\d{1,2})?")
_WHOLE_PART = re.compile(r"(?:[A-Z]{2,3}|[^\w\s]{1,3})?\d[\d.,]*")  # "49", "RM49", "1,049"
_CENTS = re.compile(r"\d{2}")


def _split_decimal(left: str, right: str) -> bool:
    """True when OCR cut one amount at its decimal point: "49." + "40", or "49" + ".40"."""
    if left.endswith((".", ",")):
        return bool(_WHOLE_PART.fullmatch(left[:-1])) and bool(_CENTS.fullmatch(right))
    return bool(_WHOLE_PART.fullmatch(left)) and right[:1] in ".," and bool(_CENTS.fullmatch(right[1:]))


def grouped_amount(words: Sequence, start: int, end: int) -> Tuple[int, int]:
    """The run ``[start, end)`` widened over the rest of an amount printed with spaces between its
    digit groups ("26 262,71", "1 004.96"), which reads as one word per group, or cut by OCR at its
    decimal point ("49. 40": the model tagged "40", which alone reads as 40.00).

    Why: French, Scandinavian and other locales group thousands with a space, so OCR and text layers
    give "26" and "262,71" as two words; a model that tags only one of them would report 26 or
    262.71. A group counts when it sits on the same line right after a word of one to three digits.
    """
    def same_line(a, b) -> bool:
        return a.page == b.page and a.word.line == b.word.line

    def joined(a, b) -> bool:  # words a and b are two pieces of one amount
        left, right = words[a].word.text, words[b].word.text
        return same_line(words[a], words[b]) and (
            (bool(_LEADING_GROUP.fullmatch(left)) and bool(_THOUSANDS_GROUP.fullmatch(right))) or _split_decimal(left, right))

    while start > 0 and joined(start - 1, start):
        start -= 1
    while end < len(words) and joined(end - 1, end):
        end += 1
    return start, end


def _value_inside(field_type: str, text: str, date_order: str):
    """A date or amount inside a tagged run that OCR glued to its label ("Date:19/10/2018", "RM60.30CASH")."""
    pattern = DATE_RE if field_type == "date" else AMOUNT_RE
    for m in pattern.finditer(text):
        value = m.group(0).strip()
        if field_type == "money":
            value = strip_currency(value)
        try:
            normalized = normalize_value(field_type, value, date_order)
        except (ArithmeticError, ValueError, OverflowError):
            continue
        if normalized is not None:
            return value, normalized
    return text, None
