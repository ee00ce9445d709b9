"""A rule-based field extractor for invoices and receipts.

It reads lines of words with their positions, finds labels ("Total", "Invoice
No", "Date"...) and the values beside or below them, and scores candidates by
the strength of the label and where on the page they sit. It needs no model,
runs anywhere, and is the baseline the transformer extractor must beat; in
``auto`` mode it fills the fields the model leaves empty.

Each rule returns candidates ``(score, value, words)``; the best one becomes a
``Field`` whose confidence is the score times the OCR confidence of its words.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Dict, List, Optional, Tuple

from paperbeam.models.extractors.base import FieldExtractor, Line, document_lines, finish_value, union_box
from paperbeam.normalize import currency_code, normalize_amount, normalize_date, strip_registration
from paperbeam.records import Document, Field, Word

MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
# A date; OCR often glues the time straight after it ("18-03-201811:23"), which still ends the date.
DATE_RE = re.compile(
    r"(?<![\d])("
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"
    r"|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"
    r"|\d{1,2}(?:st|nd|rd|th)?[-/. ]?" + MONTHS + r"[-/., ]*\d{2,4}"
    r"|" + MONTHS + r" \d{1,2}(?:st|nd|rd|th)?,? \d{4}"
    r")(?:(?![\d])|(?=\d{1,2}:\d{2}))",
    re.IGNORECASE,
)
# An amount: optional currency, digits with thousands separators, and two decimals. OCR of receipts
# often reads a gap after the decimal point ("49. 39"): one space there is still the same amount.
AMOUNT_RE = re.compile(
    r"(?<![\w.,])(?:(?:[A-Z]{3}|RM|Rp|S\$|US\$|[$€£¥₹])\s?)?-?"
    r"(?:\d{1,3}(?:[,.' ]\d{3})+|\d+)[.,] ?\d{2}(?![\d])(?:\s?(?:[A-Z]{3}|€|£|\$))?",
)
PERCENT_RE = re.compile(r"\d+(?:[.,]\d+)?\s?%")

TOTAL_LABELS: Tuple[Tuple[str, float], ...] = (
    (r"grand\s*total", 1.0),
    (r"total\s*(?:amount\s*)?(?:due|payable|to\s*pay)", 1.0),
    (r"amount\s*(?:due|payable)", 0.95),
    (r"balance\s*due", 0.95),
    (r"total\s*(?:incl|inc\.|including|\(incl)", 0.95),
    (r"total\s*amount", 0.9),
    (r"(?:nett?|rounded)\s*total|total\s*(?:rounded|rm|sales)", 0.9),
    (r"gesamtbetrag|rechnungsbetrag|montant\s*total|total\s*ttc|totaal|importe\s*total", 0.95),
    (r"\btotal\b", 0.75),
    (r"\bamount\b", 0.4),
)
NOT_TOTAL = re.compile(
    r"sub\s*-?\s*total|total\s*(?:tax|gst|vat|qty|quantity|items?|disc|discount|excl|before|savings?|net\b|ht\b)"
    r"|tax\s*total|total\s*gst|excl|nett?o?\s*amount|\bqty\b|\bitems?\b|change|cash|tendered|paid|rounding(?!\s*total)",
    re.IGNORECASE,
)
TAX_LABELS = re.compile(r"\b(?:tax|vat|gst|sst|mwst|ust|tva|iva|btw|sales\s*tax)\b", re.IGNORECASE)
NOT_TAX = re.compile(r"(?:tax\s*invoice|gst\s*(?:reg|id|no)|vat\s*(?:reg|id|no)|tax\s*(?:id|no|reg)|excl|exempt|\bincl)", re.IGNORECASE)

DOC_DATE_LABELS = re.compile(r"(?:invoice|receipt|bill|document|issue|tax\s*point)?\s*date|dated|datum|fecha|\bdate\b", re.IGNORECASE)
DUE_LABELS = re.compile(r"due|pay(?:ment)?\s*by|payable\s*by|fällig|échéance|vencimiento", re.IGNORECASE)
OTHER_DATE_LABELS = re.compile(r"order|delivery|ship|period|from|to\b|expir|valid|print", re.IGNORECASE)

NUMBER_LABELS = re.compile(
    r"(?:invoice|inv|receipt|rcpt|bill|document|doc|order|ref(?:erence)?|transaction|trans|cash\s*bill|slip)"
    r"\s*(?:no\.?|number|num|nr\.?|#|id)?\s*[:.#]?"
    r"|rechnungs-?(?:nr|nummer)|facture\s*n[°o]|n[°º]",
    re.IGNORECASE,
)
NUMBER_TOKEN = re.compile(r"^[#:]?([A-Z0-9][A-Z0-9\-/._]{1,30})$", re.IGNORECASE)

NOT_VENDOR = re.compile(
    r"\b(?:invoice|receipt|tax|bill\s*to|ship\s*to|sold\s*to|customer|date|tel|phone|fax|e-?mail|www|http|page"
    r"|gst|vat|reg(?:istration)?|no\.|cashier|table|order|welcome|thank|copy|original|quotation|statement"
    # the document's title in the languages the schema's labels know
    r"|rechnung|quittung|kassenbon|facture|re[çc]u|factura|recibo|fattura|ricevuta|factuur|kwitantie)\b",
    re.IGNORECASE,
)
COMPANY_HINT = re.compile(
    r"\b(?:sdn\.?\s*bhd|bhd|ltd|limited|llc|inc|corp|co\.|company|gmbh|ag|kg|s\.?a\.?s?|s\.?r\.?l|b\.?v|n\.?v"
    r"|plc|pty|enterprise|trading|store|mart|restaurant|cafe|shop|hardware|services?|group|holdings?)\b",
    re.IGNORECASE,
)
# A line that is nothing but a legal form: the end of a name printed over two lines.
LEGAL_FORM_ONLY = re.compile(
    r"(?:\s*(?:co\.?|company|\(m\)|\(malaysia\)|sdn\.?|bhd\.?|s/b|ltd\.?|limited|inc\.?|llc|gmbh|plc|pty\.?|corp\.?|&)\s*)+",
    re.IGNORECASE,
)
# Where an address line ends, if the row goes on: a date, a time, a document's title or label.
NOT_ADDRESS = re.compile(
    r"\b\d{1,2}[:.]\d{2}(?::\d{2})?\s*(?:am|pm)?\b(?![.,]\d)|\b\d{1,2}[/.-](?:\d{1,2}|[a-z]{3})[/.-]\d{2,4}\b"
    r"|\b\d{1,2}\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\s+\d{4}\b"
    r"|invoice|receipt|cashier|rechnung|factur|factuur|fattur",  # also glued to a neighbour by OCR: "TAXINVOICE"
    re.IGNORECASE,
)
# What makes a whole line no part of an address: a company registration number (the line is the company's:
# "Dimiliki: X SDN BHD 1110644-W"), a price at its end (an item line), or a bare phone number.
NOT_ADDRESS_LINE = re.compile(r"\b\d{6,}\s*-\s*[a-z]\b|\(\s*\d{5,}\s*-?\s*[a-z]\s*\)|\d+[.,]\d{2}(?:\s*[a-z]{1,2})?\s*$"
                              r"|^[\s+(]*\d[\d\s().-]{6,}(?:\s*(?:x|ext\.?)\s*\d+)?\s*$",
                              re.IGNORECASE)
# Words that make a line part of an address even without a number.
STREET_WORD = re.compile(
    r"\b(?:street|st|road|rd|avenue|ave|boulevard|blvd|lane|ln|drive|dr|way|place|square|court|highway|hwy"
    r"|building|tower|floor|level|block|suite|unit|centre|center|mall|plaza|park"
    r"|jalan|jln|lorong|persiaran|lebuh|lebuhraya|taman|tmn|kampung|kg|wisma|menara|bangunan|kompleks|seksyen"
    r"|strasse|straße|str|weg|allee|platz|gasse|ring|damm|rue|chemin|place|quai|impasse|via|viale|piazza|corso"
    r"|calle|avenida|paseo|camino|carrer|straat|laan|gracht|plein|kade)\b|stra(?:ss|ß)e\b|allee\b|weg\b|gasse\b",
    re.IGNORECASE,
)
# A name's last words are its legal form ("... SDN BHD", "... S/B", "... Ltd."), perhaps before a registration number.
LEGAL_FORM_END = re.compile(r"(?:sdn\.?\s*bhd|\bbhd|\bs/b|\bltd|\blimited|\bgmbh|\bllc|\binc|\bplc|\bpty)\.?\)?\s*(?:\(.*\))?\W*$", re.IGNORECASE)
# The kind of business, which names put last: "... RESTAURANT SDN BHD", "... ENTERPRISE (SETIA ALAM) SDN BHD".
BUSINESS_KIND_FIRST = re.compile(r"(?:restaurant|enterprise|trading|hardware|bakery|bakeries|stationery|marketing|services?"
                                 r"|industries|holdings?|international|resources|supplies|store|mart|cafe)\b", re.IGNORECASE)
CONTACT = re.compile(r"\b(?:tel|phone|fax|e-?mail|www|http|gst|vat|reg|co\.?\s*no|company\s*no|invoice|receipt|date)\b|@", re.IGNORECASE)
# A company registration number on its own line: "(4M0517726)", "(JM0352019-K)", "Co. No. 123456-X".
REGISTRATION = re.compile(r"^\W*(?:(?:co(?:mpany)?\.?\s*)?(?:reg(?:istration)?\.?\s*)?(?:no\.?)?\s*:?\s*)?[a-z]{0,3}\d{4,}[a-z]?(?:\s*-\s*[a-z0-9]{1,2})?\W*$", re.IGNORECASE)
BUYER = re.compile(r"\b(?:bill(?:ed)?\s*to|ship(?:ped)?\s*to|sold\s*to|customer|client|deliver\s*to)\b", re.IGNORECASE)


Candidate = Tuple[float, str, List[Word]]


def _words_matching(line: Line, start: int, end: int) -> List[Word]:
    """The words of ``line`` that overlap the character span [start, end) of ``line.text``."""
    out, pos = [], 0
    for w in line.words:
        w_start, w_end = pos, pos + len(w.text)
        if w_start < end and w_end > start:
            out.append(w)
        pos = w_end + 1
    return out


def _same_row(line: Line, lines: List[Line]) -> List[Line]:
    """Lines on the same page whose vertical centre lies within ``line``'s band, right of it."""
    x0, y0, x1, y1 = line.bbox
    out = []
    for other in lines:
        if other is line or other.page != line.page:
            continue
        ox0, oy0, ox1, oy1 = other.bbox
        centre = (oy0 + oy1) / 2
        if y0 <= centre <= y1 and ox0 >= x1 - 1:
            out.append(other)
    return sorted(out, key=lambda l: l.bbox[0])


def _next_lines(line: Line, lines: List[Line], n: int = 1) -> List[Line]:
    idx = lines.index(line)
    return [l for l in lines[idx + 1 : idx + 1 + n] if l.page == line.page]


def _address_head(line: Line) -> Optional[Line]:
    """``line``, or its words before the first thing no address holds (a date, an amount, a document label), or None."""
    if NOT_ADDRESS_LINE.search(line.text):
        return None
    found = [m.start() for m in (NOT_ADDRESS.search(line.text), DATE_RE.search(line.text)) if m]
    if not found:
        return line
    cut, pos, kept = min(found), 0, []
    for w in line.words:
        if pos + len(w.text) > cut:
            break
        kept.append(w)
        pos += len(w.text) + 1
    if sum(c.isalnum() for c in " ".join(w.text for w in kept)) < 3:
        return None
    return Line(line.page, kept, line.page_width, line.page_height)


def _same_column(a: Line, b: Line) -> bool:
    """True when the two lines overlap horizontally: one block of text, not two side by side."""
    return min(a.bbox[2], b.bbox[2]) - max(a.bbox[0], b.bbox[0]) > 0


SEPARATOR_MARKS = "·•|"  # printed between a sender line's parts: "ACME GmbH · Hauptstr. 1 · 10115 Berlin"
SENDER_SEPARATOR = re.compile(rf"\s[{SEPARATOR_MARKS}]\s")
# On a line that starts with the vendor's name, OCR's reading of the middle dot ("-", "–") separates too.
SENDER_SEPARATOR_AFTER_NAME = re.compile(r"\s[·•|–—-]\s")


def _sender_line_address(text: str, words: List[Word], vendor: str, separator=SENDER_SEPARATOR) -> Candidate:
    """The address in a one-line sender line ("ACME GmbH · Hauptstr. 1 · 10115 Berlin"): its parts after the name.

    Letters for window envelopes print the sender in one small line above the recipient; the
    address is every part but the company's name, read as one address ("Hauptstr. 1 10115 Berlin").
    """
    segments = [seg.strip() for seg in separator.split(text) if seg.strip()]
    while len(segments) > 1 and (segments[0].casefold() == vendor.casefold() or not re.search(r"\d", segments[0])):
        segments.pop(0)
    address = " ".join(segments)
    kept = [w for w in words if w.text.strip("·•|") and w.text in address.split()]
    return (0.6, address, kept or words)


def _line_of(word: Word, lines: List[Line]) -> Optional[int]:
    """The index in ``lines`` of the line that holds ``word``, or None."""
    return next((k for k, l in enumerate(lines) if any(w is word for w in l.words)), None)


def _name_part(line: Line) -> bool:
    """True when ``line`` could be part of a company's name: letters, no digits, no contact or document words."""
    text = strip_registration(line.text)
    return (not CONTACT.search(text) and not NOT_VENDOR.search(text) and not re.search(r"\d", text)
            and sum(c.isalpha() for c in text) >= 3)


def _amounts(line: Line) -> List[Tuple[str, List[Word]]]:
    text = line.text
    found = []
    for m in AMOUNT_RE.finditer(text):
        if PERCENT_RE.match(text, m.start()):
            continue
        found.append((m.group(0).strip(), _words_matching(line, m.start(), m.end())))
    return found


def _dates(line: Line) -> List[Tuple[str, List[Word], int]]:
    return [(m.group(1), _words_matching(line, m.start(1), m.end(1)), m.start(1)) for m in DATE_RE.finditer(line.text)]


def _value_beside(line: Line, lines: List[Line], finder) -> List[Tuple[str, List[Word], float]]:
    """Values after a label: on the line itself, then on the same row to the right, then on the next line."""
    out = [(v, ws, 1.0) for v, ws, *_ in finder(line)]
    for other in _same_row(line, lines):
        out += [(v, ws, 0.9) for v, ws, *_ in finder(other)]
    if not out:
        for other in _next_lines(line, lines, 1):
            out += [(v, ws, 0.7) for v, ws, *_ in finder(other)]
    return out


class RuleExtractor(FieldExtractor):
    name = "rules"
    version = "1"

    def extract(self, document: Document) -> Dict[str, Field]:
        lines = document_lines(document)
        found: Dict[str, Optional[Candidate]] = {
            "total_amount": self._total(lines),
            "tax_amount": self._tax(lines),
            "document_date": self._date(lines, due=False),
            "due_date": self._date(lines, due=True),
            "document_number": self._number(lines),
        }
        vendor = self._vendor(lines)
        found["vendor_name"] = vendor
        found["vendor_address"] = self._address(lines, vendor)
        found["currency"] = self._currency(lines, found.get("total_amount"))
        page_of = {id(w): line.page for line in lines for w in line.words}
        return self._to_fields(found, page_of)

    # -- one method per field ------------------------------------------------

    def _total(self, lines: List[Line]) -> Optional[Candidate]:
        labelled: List[Candidate] = []
        for line in lines:
            text = line.text.lower()
            if NOT_TOTAL.search(text) and not re.search(r"grand\s*total|total\s*(?:due|payable|amount)", text):
                continue
            weight = next((w for pat, w in TOTAL_LABELS if re.search(pat, text, re.IGNORECASE)), None)
            if weight is None:
                continue
            for value, words, near in _value_beside(line, lines, _amounts):
                # Later on the page and later pages are where totals sit.
                labelled.append((weight * near * (0.85 + 0.15 * line.top), value, words))
        if labelled:
            # Among the near-best candidates the total is the largest: it includes subtotal and tax.
            top = max(c[0] for c in labelled)
            close = [c for c in labelled if c[0] >= top - 0.1]
            return _after_rounding(max(close, key=lambda c: (_amount(c[1]), c[0])), lines)
        # No label: the largest amount in the document, with low confidence.
        amounts = [(v, ws) for line in lines for v, ws in _amounts(line)]
        if amounts:
            value, words = max(amounts, key=lambda a: _amount(a[0]))
            return (0.3, value, words)
        return None

    def _tax(self, lines: List[Line]) -> Optional[Candidate]:
        best: Optional[Candidate] = None
        for line in lines:
            text = line.text
            if not TAX_LABELS.search(text) or NOT_TAX.search(text) or re.search(r"sub\s*-?total", text, re.IGNORECASE):
                continue
            if re.search(r"grand\s*total|total\s*(?:due|incl)", text, re.IGNORECASE):
                continue
            for value, words, near in _value_beside(line, lines, _amounts):
                score = 0.8 * near
                if best is None or score > best[0]:
                    best = (score, value, words)
        return best

    def _date(self, lines: List[Line], due: bool) -> Optional[Candidate]:
        best: Optional[Candidate] = None
        first: Optional[Candidate] = None
        for line in lines:
            text = line.text
            labelled_due = bool(DUE_LABELS.search(text))
            labelled_doc = bool(DOC_DATE_LABELS.search(text)) and not labelled_due
            labelled_other = bool(OTHER_DATE_LABELS.search(text))
            candidates = _value_beside(line, lines, _dates) if (labelled_due or labelled_doc) else [
                (v, ws, 1.0) for v, ws, _ in _dates(line)
            ]
            for value, words, near in candidates:
                if normalize_date(value, self.date_order) is None:
                    continue
                if due:
                    score = 0.9 * near if labelled_due else 0.0
                elif labelled_doc and not labelled_other:
                    score = 0.95 * near
                elif labelled_doc:
                    score = 0.6 * near
                elif not labelled_due and not labelled_other:
                    score = 0.5 * near
                else:
                    score = 0.0
                if score <= 0:
                    continue
                if first is None:
                    first = (score, value, words)
                if best is None or score > best[0]:
                    best = (score, value, words)
        return best

    def _number(self, lines: List[Line]) -> Optional[Candidate]:
        best: Optional[Candidate] = None
        for line in lines:
            text = line.text
            for m in NUMBER_LABELS.finditer(text):
                # "N° de facture:" names the invoice's number, "N° de commande:" the order's: the whole label decides
                label = text[m.start():].lower()
                strength = 0.9 if re.search(r"invoice|inv|receipt|bill|rechnung|facture|factuur|fattura|document|doc", label) else 0.6
                rest_words = _words_matching(line, m.end(), len(text) + 1)
                label_words = _words_matching(line, m.start(), m.end())
                tail = [w for w in rest_words if w not in label_words]
                # the value after the label on its line, else at the start of the same row further right
                beside = [(w, strength) for w in tail[:2]]
                if not any(re.search(r"\d", w.text) for w in tail):
                    beside += [(w, 0.9 * strength) for other in _same_row(line, lines)[:1] for w in other.words[:2]]
                for w, score in beside:
                    token = w.text.strip(":#.,")
                    mt = NUMBER_TOKEN.match(token)
                    if mt and re.search(r"\d", token) and not DATE_RE.fullmatch(token) and not AMOUNT_RE.fullmatch(token):
                        if best is None or score > best[0]:
                            best = (score, mt.group(1), [w])
                        break
        return best

    def _vendor(self, lines: List[Line]) -> Optional[Candidate]:
        first_page = [l for l in lines if l.page == (lines[0].page if lines else 1)]
        candidates = []
        buyer_zone = False
        for rank, line in enumerate(first_page[:12]):
            text = line.text.strip()
            if BUYER.search(text):
                buyer_zone = True
                continue
            letters = sum(c.isalpha() for c in text)
            if letters < 3 or letters < 0.5 * len(text.replace(" ", "")):
                continue
            if NOT_VENDOR.search(text) or DATE_RE.search(text) or AMOUNT_RE.search(text) or REGISTRATION.match(text):
                continue
            score = 0.75 - 0.05 * rank + 8.0 * line.height
            if COMPANY_HINT.search(text):
                score += 0.25
            if buyer_zone:
                score -= 0.4
            candidates.append((score, line))
        if not candidates:
            return None
        score, line = max(candidates, key=lambda c: c[0])
        words = list(line.words)
        text = line.text.strip()
        # A name printed over two lines whose second line was chosen: "POPULAR BOOK" / "CO. (M) SDN BHD".
        # Or whose chosen line starts with the kind of business: "LIAN CHI PU TIAN VEGETARIAN" / "RESTAURANT SDN BHD".
        at = first_page.index(line)
        prev = first_page[at - 1] if at > 0 else None
        starts_with_kind = BUSINESS_KIND_FIRST.match(text) and LEGAL_FORM_END.search(text)
        if prev is not None and (LEGAL_FORM_ONLY.fullmatch(text) or starts_with_kind) and _name_part(prev):
            words = list(prev.words) + words
            text = f"{prev.text.strip()} {text}"
        # A name printed over two lines: "HOME MASTER HARDWARE &" / "ELECTRICAL", or "... TRADING" / "SDN BHD".
        nxt = _next_lines(line, lines, 1)
        if nxt and not CONTACT.search(nxt[0].text) and not re.search(r"\d", strip_registration(nxt[0].text)):
            follow = nxt[0].text.strip()
            if text.endswith(("&", "-", "AND", "and")) or \
                    re.fullmatch(r"\(?(?:sdn\.?\s*bhd|s/?b|bhd|ltd|limited|gmbh|llc|inc)\.?\)?", follow, re.IGNORECASE):
                words += nxt[0].words
                text = f"{text} {follow}"
        # ... or over up to three: "AIK HUAT HARDWARE" / "ENTERPRISE (SETIA" / "ALAM) SDN BHD": the name goes on,
        # from a line that starts with the kind of business, to the line that ends in its legal form.
        if not LEGAL_FORM_END.search(strip_registration(text)):
            last = _line_of(words[-1], lines)
            ahead = _next_lines(lines[last] if last is not None else line, lines, 2)
            if ahead and BUSINESS_KIND_FIRST.match(ahead[0].text.strip()):
                for k, other in enumerate(ahead):
                    if not _name_part(other):
                        break
                    if LEGAL_FORM_END.search(strip_registration(other.text)):
                        for part in ahead[:k + 1]:
                            words += part.words
                            text = f"{text} {part.text.strip()}"
                        break
        return (max(0.05, min(score, 0.95)), text, words)

    def _address(self, lines: List[Line], vendor: Optional[Candidate]) -> Optional[Candidate]:
        if vendor is None:
            return None
        vendor_words = vendor[2]
        start = _line_of(vendor_words[-1], lines)
        if start is None:
            return None
        vx0 = lines[start].bbox[0]
        parts: List[Line] = []
        for idx in range(start + 1, min(start + 10, len(lines))):
            line = lines[idx]
            text = line.text
            if not parts and SENDER_SEPARATOR_AFTER_NAME.search(text) and text.casefold().startswith(vendor[1].casefold()):
                head = _address_head(line) or line  # the sender line above a window envelope's recipient
                return _sender_line_address(head.text, head.words, vendor[1], SENDER_SEPARATOR_AFTER_NAME)
            if line.page == lines[start].page and not _same_column(line, parts[-1] if parts else lines[start]):
                continue  # a block beside the sender's (the customer's "Bill To"), read in between
            if REGISTRATION.match(text.strip()):
                continue
            head = _address_head(line)
            if line.page != lines[start].page or CONTACT.search(text) or BUYER.search(text) or head is None:
                if parts:
                    break
                continue
            if parts and abs(line.bbox[0] - vx0) > 0.35 * line.page_width and abs(line.bbox[0] - parts[-1].bbox[0]) > 0.2 * line.page_width:
                break
            if COMPANY_HINT.search(text) and not parts and not re.search(r"\d", text):
                continue  # a second line of the company name ("SDN BHD")
            if not parts and not re.search(r"[^\W\d_]{3}", head.text):
                continue  # an address starts with words, not a lone code ("RE-67429")
            parts.append(head)
            if head is not line:
                break  # the rest of the row is something else ("... 10115 Berlin   Invoice no.: 123")
            if re.search(r"\b\d{4,6}\b", text) and len(parts) >= 2:
                # a postcode usually ends the address, perhaps followed by the state or country
                nxt = [other for other in lines[idx + 1:idx + 4] if other.page == line.page and _same_column(other, line)][:1]
                if nxt and not CONTACT.search(nxt[0].text) and _address_head(nxt[0]) is nxt[0] and len(nxt[0].text) < 25 and not re.search(r"\d", nxt[0].text):
                    parts.append(nxt[0])
                break
        # A branch or shop name between the vendor and its address ("IKEA Cheras", "Licensee of McDonald's"):
        # a line with no number and no street or building word, before lines that have a number.
        while len(parts) > 1 and not re.search(r"\d", parts[0].text) and not STREET_WORD.search(parts[0].text) \
                and any(re.search(r"\d", p.text) for p in parts[1:]):
            parts.pop(0)
        if not parts:
            return None
        words = [w for l in parts for w in l.words]
        # Lines joined with a space, their own punctuation kept: the address as printed.
        text = " ".join(l.text.strip() for l in parts)
        if len(parts) == 1 and SENDER_SEPARATOR.search(text):
            return _sender_line_address(text, words, vendor[1])
        return (0.6, text, words)

    def _currency(self, lines: List[Line], total: Optional[Candidate]) -> Optional[Candidate]:
        if total is not None:
            code = currency_code(total[1])
            if code:
                return (total[0], code, total[2])
            line = next((l for l in lines if any(w in l.words for w in total[2])), None)
            if line is not None:
                code = currency_code(line.text)
                if code:
                    return (0.8 * total[0], code, line.words)
        counts: Dict[str, Tuple[int, List[Word]]] = {}
        for line in lines:
            code = currency_code(line.text) if re.search(r"[A-Z]{3}|[$€£¥₹]|\bRM\b", line.text) else None
            if code:
                n, ws = counts.get(code, (0, line.words))
                counts[code] = (n + 1, ws)
        if not counts:
            return None
        code, (n, words) = max(counts.items(), key=lambda kv: kv[1][0])
        return (0.5, code, words)

    # -- from candidates to fields ------------------------------------------

    def _to_fields(self, found: Dict[str, Optional[Candidate]], page_of: Dict[int, int]) -> Dict[str, Field]:
        fields: Dict[str, Field] = {}
        for spec in self.schema.fields:
            cand = found.get(spec.name)
            if not cand:
                continue
            score, value, words = cand
            value, normalized, words = finish_value(spec, value, words, self.date_order)
            if spec.type in ("date", "money", "number") and normalized is None:
                continue
            ocr_conf = min((w.confidence for w in words), default=0.0)
            fields[spec.name] = Field(
                value=value,
                normalized=normalized,
                confidence=round(max(0.0, min(1.0, score * (0.5 + 0.5 * ocr_conf))), 4),
                page=page_of.get(id(words[0])) if words else None,
                bbox=union_box(words),
                extractor=self.name,
            )
        return fields


ROUNDING = re.compile(r"\bround(?:ing|ed)?\b|\brnd\b|arrondi|rundung|afronding|redondeo", re.IGNORECASE)
CASH_ROUNDING_STEP = Decimal("0.10")  # the largest adjustment for cash rounding to 0.05 or 0.10


def _after_rounding(total: Candidate, lines: List[Line]) -> Candidate:
    """The amount payable when the page rounds ``total`` for cash (to 0.05 or 0.10): the figure after the rounding line.

    Why: where the smallest coins are gone (Malaysia, Switzerland, Australia, the Netherlands...), a
    receipt prints the exact total, a "Rounding Adj -0.02" line, then the rounded total, often under
    a weaker label ("TOTAL:", "Rounding", or only the card or cash line). The total a customer pays
    and a ledger records is the rounded one. It is taken only when it is within the rounding step of
    the exact total and sits below a rounding line that is itself below the exact total.
    """
    at = _line_of(total[2][0], lines) if total[2] else None
    exact = _amount(total[1])
    if at is None or exact < 1:
        return total
    after = next((k for k in range(at + 1, len(lines)) if lines[k].page == lines[at].page and ROUNDING.search(lines[k].text)), None)
    if after is None:
        return total
    for line in lines[after:after + 4]:
        if line.page != lines[at].page or re.search(r"change|balance|baki", line.text, re.IGNORECASE):
            continue
        for value, words in _amounts(line):
            if 0 < abs(_amount(value) - exact) <= CASH_ROUNDING_STEP and _amount(value) % Decimal("0.05") == 0:
                return (total[0], value, words)
    return total


def _amount(value: str) -> Decimal:
    normalized, _ = normalize_amount(value)
    try:
        return Decimal(normalized) if normalized else Decimal(0)
    except Exception:  # noqa: BLE001
        return Decimal(0)
