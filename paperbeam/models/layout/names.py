"""Where a tagged company name starts and ends when the model's run crosses lines.

The model tags a shop's name well but not always its edges: it takes in the
line above ("SOLARIS DUTAMAS" / "SUN VICTORY SDN BHD": the mall, then the
company) or below ("IKANO HANDEL SDN BHD" / "IKEA": the company, then the
brand), and it stops at a name that goes on over a line break ("HOME MASTER
HARDWARE &" / "ELECTRICAL"). The rule-based extractor already knows how a
name is printed over lines (``RuleExtractor._vendor``): it ends at its legal
form ("SDN BHD", "Ltd", "GmbH"), and it goes on after "&", before a line that
is only a legal form or starts with the kind of business ("RESTAURANT SDN
BHD"), and inside an open parenthesis. ``name_span`` applies the same
knowledge to the model's run, so both extractors read a name's lines alike.

It only cuts a run where two of its lines cannot be one name, and keeps the
part that is a whole name. Within a line, only a label the run starts with
("OWN BY:") is dropped.
"""

from __future__ import annotations

import re
from typing import List, Sequence, Tuple

import numpy as np

from paperbeam.models.extractors.rules import BUSINESS_KIND_FIRST, CONTACT, LEGAL_FORM_END, LEGAL_FORM_ONLY
from paperbeam.normalize import strip_registration

LABEL_WORDS = 3  # "Owned by:", "Dimiliki oleh :": the longest label a run may start with
_DANGLING = re.compile(r"(?:&|-|\band)\s*$", re.IGNORECASE)  # "HOME MASTER HARDWARE &": the name goes on
_CONTINUING = re.compile(r"^\s*(?:&|and\b)", re.IGNORECASE)  # "THE COFFEE BEAN" / "& TEA LEAF (M) SDN. BHD."


def name_span(words: Sequence, start: int, end: int, tags: np.ndarray, field_p: np.ndarray) -> Tuple[int, int]:
    """The part of the run ``[start, end)`` that is one whole name (see the module docstring).

    ``words``: the document's ``features.DocWord`` list in reading order; ``tags``: each word's
    argmax label (0 is "O"); ``field_p``: each word's probability of the field (B + I).
    """
    segments = _one_name_segments(words, start, end)
    if len(segments) > 1:
        # A part that ends in a legal form is a whole company name; else the part the model is surest of.
        start, end = max(segments, key=lambda s: (_ends_in_legal_form(_text(words, *s)), float(field_p[s[0]:s[1]].sum())))
    return _after_label(words, start, end), _continued(words, start, end, tags)


def _after_label(words: Sequence, start: int, end: int) -> int:
    """``start`` moved past a label the run begins with ("OWN BY: CHEF LEE SDN BHD", "Dimiliki: ...").

    Why: a name holds no colon (one of sroie-dev's 500 vendor labels has one, and it is that label
    itself), so the words up to one that ends in ":" at the start of the run are the label's.
    """
    new = start
    for k in range(start, min(start + LABEL_WORDS, end - 1)):
        if not _same_line(words[start], words[k]):
            break
        if words[k].word.text.endswith(":"):
            new = k + 1
    return new


def _one_name_segments(words: Sequence, start: int, end: int) -> List[Tuple[int, int]]:
    """The run cut into ``(start, end)`` parts between lines that cannot belong to one name."""
    lines: List[Tuple[int, int]] = []
    for k in range(start, end):
        if lines and _same_line(words[k - 1], words[k]):
            lines[-1] = (lines[-1][0], k + 1)
        else:
            lines.append((k, k + 1))
    segments = [lines[0]]
    for line in lines[1:]:
        if _one_name(_text(words, *segments[-1]), _text(words, *line)):
            segments[-1] = (segments[-1][0], line[1])
        else:
            segments.append(line)
    return segments


def _one_name(above: str, below: str) -> bool:
    """True unless ``above`` is a finished name, or ``below`` is a whole name of its own that ``above`` does not lead into."""
    if _ends_in_legal_form(above):
        return False  # "IKANO HANDEL SDN BHD" / "IKEA"
    if _DANGLING.search(above) or _CONTINUING.match(below) or above.count("(") > above.count(")"):
        return True  # "HOME MASTER HARDWARE &" / "ELECTRICAL"; "... BEAN" / "& TEA LEAF ..."; "ENTERPRISE (SETIA" / "ALAM) SDN BHD"
    if LEGAL_FORM_ONLY.fullmatch(below) or BUSINESS_KIND_FIRST.match(below):
        return True  # "POPULAR BOOK" / "CO. (M) SDN BHD"; "LIAN CHI PU TIAN VEGETARIAN" / "RESTAURANT SDN BHD"
    return not _whole_name(below)  # "SOLARIS DUTAMAS" / "SUN VICTORY SDN BHD": two things


def _whole_name(text: str) -> bool:
    """A name with its legal form and a word of its own before it: "SUN VICTORY SDN BHD", not "(KL) SDN BHD"."""
    name = strip_registration(text) or ""
    m = LEGAL_FORM_END.search(name)
    if not m:
        return False
    head = re.sub(r"\([^)]*\)", " ", name[:m.start()])  # "(KL)", "(M)" are part of the legal form's group
    return bool(re.search(r"[^\W\d_]{3}", head))


def _ends_in_legal_form(text: str) -> bool:
    return bool(LEGAL_FORM_END.search(strip_registration(text) or ""))


def _continued(words: Sequence, start: int, end: int, tags: np.ndarray) -> int:
    """``end`` moved past the next line when the name dangles into it ("... HARDWARE &" / "ELECTRICAL")
    and that line, untagged, reads like part of a name (letters, no digits, no phone or e-mail)."""
    if end >= len(words) or _same_line(words[end - 1], words[end]) or not _DANGLING.search(_text(words, start, end)):
        return end
    stop = end
    while stop < len(words) and _same_line(words[end], words[stop]):
        stop += 1
    line = _text(words, end, stop)
    if any(tags[end:stop]) or CONTACT.search(line) or re.search(r"\d", line) or sum(c.isalpha() for c in line) < 3:
        return end
    return stop


def _same_line(a, b) -> bool:
    return a.page == b.page and a.word.line == b.word.line


def _text(words: Sequence, start: int, end: int) -> str:
    return " ".join(w.word.text for w in words[start:end]).strip()
