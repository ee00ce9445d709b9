"""How a synthetic document is drawn: seven layouts, one function each.

Invoices: ``classic_left`` (vendor top-left, meta on the right), ``banner_right``
(colour band, vendor top-right, inline meta), ``centered_header`` (vendor
centred, address on one line), ``footer_vendor`` (European letter: vendor
address in the footer, sender line above the window), ``multipage_table``
(a long item table over several pages, totals on the last one). Receipts:
``till_80mm`` (monospace till roll) and ``till_58mm`` (narrow, proportional).

Every layout draws through a ``Painter``, which records each field's text and
box. ``render(content, layout, rng)`` returns the PDF bytes plus that record.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas as rl_canvas

from paperbeam.synth import fonts
from paperbeam.synth.content import Content
from paperbeam.synth.painter import Painter

INVOICE_LAYOUTS = ("classic_left", "banner_right", "centered_header", "footer_vendor", "multipage_table")
RECEIPT_LAYOUTS = ("till_80mm", "till_58mm")
LAYOUTS = INVOICE_LAYOUTS + RECEIPT_LAYOUTS
MULTIPAGE_MIN_ITEMS = 34


@dataclass
class Style:
    family: fonts.Family
    size: float
    accent: Tuple[float, float, float]
    margin: float
    table: str  # grid | zebra | rules
    page: Tuple[float, float]


@dataclass
class Rendered:
    pdf: bytes
    width: float
    height: float
    page_count: int
    fields: Dict[str, dict]  # name -> {value, page, bbox} (points, top-left origin)
    page_texts: List[str]


def _all_text(c: Content) -> str:
    return " ".join([c.vendor_name, *c.vendor_address, c.customer_name, *c.customer_address, c.symbol,
                     c.vendor_phone, *(it.description for it in c.items), " ".join(c.labels.values())])


def pick_style(rng: random.Random, c: Content, layout: str) -> Style:
    mono = layout == "till_80mm"
    family = fonts.pick(rng, _all_text(c), mono=mono)
    if not family.supports(c.symbol):  # e.g. "₹" without a TrueType font on this machine
        c.symbol = "Rs."
    if layout.startswith("till"):
        width = (80 if layout == "till_80mm" else 58) * mm
        size = rng.choice([7.5, 8.0, 8.5]) if layout == "till_80mm" else rng.choice([7.0, 7.5])
        return Style(family, size, (0, 0, 0), rng.choice([8.0, 10.0]), "rules", (width, 2000.0))
    page = LETTER if c.profile.name == "us" else A4
    accent = rng.choice([(0.12, 0.29, 0.53), (0.55, 0.1, 0.1), (0.1, 0.4, 0.3), (0.3, 0.3, 0.3), (0.85, 0.45, 0.1)])
    return Style(family, rng.choice([8.5, 9.0, 9.5, 10.0, 10.5]), accent, rng.choice([40.0, 48.0, 56.0]),
                 rng.choice(["grid", "zebra", "rules"]), page)


def render(c: Content, layout: str, rng: random.Random) -> Rendered:
    """Draw ``c`` with ``layout``. Runs the layout twice: dry (to count pages, measure receipts), then for real."""
    draw = DRAWERS[layout]
    state = rng.getstate()
    st = pick_style(rng, c, layout)
    dry = Painter(None, st.page[0], st.page[1])
    draw(dry, c, st, random.Random(rng.random()))
    rng.setstate(state)
    st = pick_style(rng, c, layout)
    seed = rng.random()
    width, height = st.page
    if layout.startswith("till"):
        height = round(dry.max_y + st.margin + 6, 2)
    buf = io.BytesIO()
    cv = rl_canvas.Canvas(buf, pagesize=(width, height), invariant=1, pageCompression=1)
    cv.setTitle(f"{c.kind} {c.document_number}")
    cv.setAuthor(c.vendor_name)
    p = Painter(cv, width, height, page_count=dry.page)
    draw(p, c, st, random.Random(seed))
    cv.showPage()
    cv.save()
    return Rendered(buf.getvalue(), width, height, p.page, p.fields, p.page_texts())


# --------------------------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------------------------
def _fit(s: str, font: str, size: float, width: float) -> str:
    if stringWidth(s, font, size) <= width:
        return s
    while s and stringWidth(s + "…", font, size) > width:
        s = s[:-1]
    return s.rstrip() + "…"


def _size_to_fit(s: str, font: str, size: float, width: float) -> float:
    while size > 6 and stringWidth(s, font, size) > width:
        size -= 0.5
    return size


def totals_height(c: Content, st: Style) -> float:
    rows = 1 + bool(c.shipping) + (3 if c.profile.name == "in" else 1) * c.show_tax
    return rows * (st.size + 5) + st.size + 30


def ensure_room(p: Painter, c: Content, st: Style, y: float, limit: float, header) -> float:
    """Start a new page when the totals block would run past ``limit``; returns the y to draw at."""
    if y + totals_height(c, st) <= limit:
        return y
    L = c.labels
    p.text(p.width - st.margin, p.height - st.margin - 20, f"{L['page']} {p.page} {L['of']} {p.page_count}",
           st.family.regular, st.size - 1, "right")
    p.new_page()
    return header(p)


def _currency_span(c: Content, s: str) -> Tuple[Tuple[str, Tuple[int, int]], ...]:
    """Tag the currency inside a printed amount, when amounts carry it."""
    printed = c.currency_printed()
    if c.currency_style not in ("symbol", "code") or not printed or printed not in s:
        return ()
    i = s.index(printed)
    return (("currency", (i, i + len(printed))),)


def meta_rows(c: Content, rng: random.Random) -> List[Tuple[str, str, Optional[str]]]:
    L = c.labels
    rows = [(L["number"], c.document_number, "document_number"), (L["date"], c.fmt_date(c.issue_date), "document_date")]
    extra = []
    if c.order_date:
        extra.append((L["order"], c.fmt_date(c.order_date), None))
    if c.delivery_date:
        extra.append((L["delivery"], c.fmt_date(c.delivery_date), None))
    if c.due_date:
        extra.append((L["due"], c.fmt_date(c.due_date), "due_date"))
    rng.shuffle(extra)
    rows += extra
    if rng.random() < 0.5:
        rows.append((L["customer"], c.customer_number, None))
    if rng.random() < 0.3:
        rows.append((L["po"], c.po_number, None))
    if c.currency_style == "header":
        rows.append((L["currency"], c.profile.currency, "currency"))
    return rows


def vendor_block(p: Painter, c: Content, st: Style, x: float, y: float, align: str = "left",
                 name_size: Optional[float] = None, contact: bool = True) -> float:
    f = st.family
    ns = _size_to_fit(c.vendor_name, f.bold, name_size or st.size + 6, p.width / 2 - st.margin)
    y += ns
    p.text(x, y, c.vendor_name, f.bold, ns, align, field="vendor_name")
    y += 3
    for ln in c.vendor_address:
        y += st.size + 2.5
        p.text(x, y, ln, f.regular, st.size, align, field="vendor_address")
    if contact:
        for ln in (c.vendor_phone, c.vendor_email, c.vendor_tax_id):
            y += st.size + 2.5
            p.text(x, y, ln, f.regular, st.size - 1, align, gray=0.25)
    return y


def party_block(p: Painter, c: Content, st: Style, x: float, y: float, label: Optional[str] = None) -> float:
    f = st.family
    if label:
        y += st.size + 2
        p.text(x, y, label, f.bold, st.size, gray=0.2)
    y += st.size + 3
    p.text(x, y, c.customer_name, f.regular, st.size + 0.5)
    for ln in c.customer_address:
        y += st.size + 2.5
        p.text(x, y, ln, f.regular, st.size)
    return y


def meta_table(p: Painter, st: Style, rows, x_label: float, x_value: float, y: float,
               value_align: str = "left") -> float:
    f = st.family
    for label, value, name in rows:
        y += st.size + 4
        p.text(x_label, y, f"{label}:", f.bold, st.size)
        p.text(x_value, y, value, f.regular, st.size, value_align, field=name)
    return y


def items_table(p: Painter, c: Content, st: Style, y: float, header: Callable[[Painter], float],
                bottom: float, rng: random.Random) -> float:
    """The item table; breaks onto new pages (with a carried-forward line) when it reaches ``bottom``."""
    f, s, L = st.family, st.size, c.labels
    left, right = st.margin, p.width - st.margin
    width = right - left
    x_qty, x_unit, x_amt = left + width * 0.60, left + width * 0.80, right - 4
    amount_head = L["amount"] + (f" ({c.profile.currency})" if c.currency_style == "header" else "")
    row_h = s + 7

    def head(y: float) -> float:
        if st.table in ("grid", "zebra"):
            p.rect(left, y, width, row_h + 2, fill_rgb=st.accent if st.table == "zebra" else None,
                   fill_gray=0.85 if st.table == "grid" else None)
        gray = 1.0 if st.table == "zebra" else 0.0
        y += s + 4
        p.text(left + 4, y, L["desc"], f.bold, s, gray=gray)
        p.text(x_qty, y, L["qty"], f.bold, s, "right", gray=gray)
        p.text(x_unit, y, L["unit"], f.bold, s, "right", gray=gray)
        p.text(x_amt, y, amount_head, f.bold, s, "right", gray=gray)
        y += 6
        if st.table == "rules":
            p.line(left, y - 2, right, y - 2, 0.8)
        return y

    y = head(y)
    running = 0
    for i, it in enumerate(c.items):
        if y + row_h > bottom:
            y += s + 6
            p.text(left + 4, y, L["carried"], f.bold, s)
            p.text(x_amt, y, c.money(running), f.bold, s, "right")
            p.text(right, bottom + 40, f"{L['page']} {p.page} {L['of']} {p.page_count}", f.regular, s - 1, "right")
            p.new_page()
            y = header(p)
            y = head(y)
            y += s + 6
            p.text(left + 4, y, L["carried"], f.regular, s)
            p.text(x_amt, y, c.money(running, with_currency=False), f.regular, s, "right")
        if st.table == "zebra" and i % 2 == 1:
            p.rect(left, y + 1, width, row_h, fill_gray=0.93)
        y += row_h
        p.text(left + 4, y - 3, _fit(it.description, f.regular, s, x_qty - left - 40), f.regular, s)
        p.text(x_qty, y - 3, str(it.qty), f.regular, s, "right")
        p.text(x_unit, y - 3, c.money(it.unit_price, with_currency=False), f.regular, s, "right")
        p.text(x_amt, y - 3, c.money(it.amount, with_currency=False), f.regular, s, "right")
        if st.table == "grid":
            p.line(left, y + 1, right, y + 1, 0.3, 0.6)
        running += it.amount
    return y + 4


def totals_block(p: Painter, c: Content, st: Style, x_label: float, x_value: float, y: float,
                 big_total: bool = False) -> float:
    f, s, L = st.family, st.size, c.labels
    rows: List[Tuple[str, str, Optional[str]]] = [(L["subtotal"], c.money(c.subtotal), None)]
    if c.shipping:
        rows.append((L["shipping"], c.money(c.shipping), None))
    if c.show_tax:
        rate = f"{c.tax_rate.normalize():f}".replace(".", c.profile.decimal)
        if c.profile.name == "in":
            half = c.tax_rate / 2
            h = f"{half.normalize():f}"
            cg = (c.tax / 2).quantize(c.tax)
            rows.append((f"CGST {h}%", c.money(cg), None))
            rows.append((f"SGST {h}%", c.money(c.tax - cg), None))
            rows.append((f"Total {c.profile.tax_label}", c.money(c.tax), "tax_amount"))
        else:
            rows.append((f"{c.profile.tax_label} {rate}%", c.money(c.tax), "tax_amount"))
    for label, value, name in rows:
        y += s + 5
        p.text(x_label, y, label, f.regular, s)
        p.text(x_value, y, value, f.regular, s, "right", field=name)
    y += 4
    p.line(x_label, y, x_value, y, 0.8)
    ts = s + (3 if big_total else 1.5)
    y += ts + 5
    total = c.money(c.total)
    p.text(x_label, y, L["total_due"] if big_total else L["total"], f.bold, ts)
    p.text(x_value, y, total, f.bold, ts, "right", field="total_amount", also=_currency_span(c, total))
    return y + 4


def footer(p: Painter, c: Content, st: Style, rng: random.Random, y: Optional[float] = None) -> None:
    f, s, L = st.family, st.size, c.labels
    y = y or p.height - st.margin - 20
    if c.due_date is None or rng.random() < 0.4:
        p.text(st.margin, y, L["terms"].format(n=c.payment_days), f.regular, s - 1)
    p.text(st.margin, y + s + 3, L["thanks"], f.regular, s - 1, gray=0.3)
    if p.page_count > 1:
        p.text(p.width - st.margin, y + s + 3, f"{L['page']} {p.page} {L['of']} {p.page_count}", f.regular, s - 1, "right")


# --------------------------------------------------------------------------------------------
# Invoice layouts
# --------------------------------------------------------------------------------------------
def classic_left(p: Painter, c: Content, st: Style, rng: random.Random) -> None:
    f, m = st.family, st.margin
    right = p.width - m
    y = vendor_block(p, c, st, m, m)
    p.text(right, m + 22, c.labels["invoice"], f.bold, 22, "right")
    meta_table(p, st, meta_rows(c, rng), right - 200, right, m + 30, "right")
    y = party_block(p, c, st, m, y + 20, c.labels["bill_to"])

    def header(pp: Painter) -> float:
        pp.text(m, m + 14, c.vendor_name, f.bold, 12)
        pp.text(right, m + 14, f"{c.labels['number']} {c.document_number}", f.regular, st.size, "right")
        return m + 30

    y = items_table(p, c, st, y + 24, header, p.height - m - 130, rng)
    y = ensure_room(p, c, st, y, p.height - m - 34, header)
    totals_block(p, c, st, right - 200, right - 4, y + 6)
    footer(p, c, st, rng)


def banner_right(p: Painter, c: Content, st: Style, rng: random.Random) -> None:
    f, m, L = st.family, st.margin, c.labels
    right = p.width - m
    p.rect(0, 0, p.width, 36, fill_rgb=st.accent)
    p.text(m, 25, L["invoice"], f.bold, 20, gray=1.0)
    y = vendor_block(p, c, st, right, 50, "right", name_size=st.size + 5)
    party_block(p, c, st, m, 50, L["bill_to"])
    y += 26
    # Inline meta: "Invoice No.: 123" as one string; the field is the span after the label.
    rows = meta_rows(c, rng)
    x = m
    for label, value, name in rows:
        s = f"{label}: {value}"
        w = stringWidth(s, f.regular, st.size)
        if x + w > right:
            x, y = m, y + st.size + 5
        p.text(x, y, s, f.regular, st.size, field=name, span=(len(label) + 2, len(s)))
        x += w + 18

    def header(pp: Painter) -> float:
        pp.rect(0, 0, pp.width, 20, fill_rgb=st.accent)
        pp.text(m, 14, f"{c.vendor_name} - {L['invoice']} {c.document_number}", f.bold, 10, gray=1.0)
        return 36

    y = items_table(p, c, st, y + 14, header, p.height - m - 140, rng)
    y = ensure_room(p, c, st, y, p.height - m - 34, header)
    totals_block(p, c, st, right - 220, right - 4, y + 8, big_total=True)
    footer(p, c, st, rng)


def centered_header(p: Painter, c: Content, st: Style, rng: random.Random) -> None:
    f, m, L = st.family, st.margin, c.labels
    cx, right = p.width / 2, p.width - m
    y = m + st.size + 10
    p.text(cx, y, c.vendor_name, f.bold, _size_to_fit(c.vendor_name, f.bold, st.size + 9, right - m), "centre",
           field="vendor_name")
    y += st.size + 6
    address = ", ".join(c.vendor_address)
    p.text(cx, y, address, f.regular, _size_to_fit(address, f.regular, st.size, right - m), "centre",
           field="vendor_address")
    y += st.size + 4
    p.text(cx, y, f"{c.vendor_phone}  |  {c.vendor_email}", f.regular, st.size - 1, "centre", gray=0.3)
    y += 10
    p.line(m, y, right, y, 1.0)
    y += 22
    p.text(cx, y, L["invoice"], f.bold, 16, "centre")
    rows = meta_rows(c, rng)
    half = (len(rows) + 1) // 2
    y1 = meta_table(p, st, rows[:half], right - 230, right - 120, y + 6)
    y2 = party_block(p, c, st, m, y + 6, L["bill_to"])
    y = max(y1, y2)
    if len(rows) > half:
        y = max(y, meta_table(p, st, rows[half:], right - 230, right - 120, y1))

    def header(pp: Painter) -> float:
        pp.text(cx, m + 12, c.vendor_name, f.bold, 12, "centre")
        return m + 28

    y = items_table(p, c, st, y + 20, header, p.height - m - 130, rng)
    y = ensure_room(p, c, st, y, p.height - m - 34, header)
    totals_block(p, c, st, right - 200, right - 4, y + 6)
    footer(p, c, st, rng)


def footer_vendor(p: Painter, c: Content, st: Style, rng: random.Random) -> None:
    f, m, L = st.family, st.margin, c.labels
    right = p.width - m
    p.text(right, m + 20, c.vendor_name, f.bold, _size_to_fit(c.vendor_name, f.bold, st.size + 8, right - m - 200),
           "right", field="vendor_name")
    # The one-line sender above the envelope window: a distractor copy of the address.
    p.text(m, 130, " · ".join([c.vendor_name, *c.vendor_address]) if f.supports("·")
           else " - ".join([c.vendor_name, *c.vendor_address]), f.regular, st.size - 2.5, gray=0.3)
    p.line(m, 133, m + 240, 133, 0.3)
    party_block(p, c, st, m, 138)
    y = meta_table(p, st, meta_rows(c, rng), right - 210, right, 120, "right")
    y = max(y, 230)
    p.text(m, y + 24, f"{L['invoice']} {c.document_number}", f.bold, st.size + 4)

    foot_y = p.height - m - 44

    def vendor_footer(pp: Painter) -> None:
        pp.line(m, foot_y - 12, right, foot_y - 12, 0.5, 0.5)
        yy = foot_y
        pp.text(m, yy, c.vendor_name, f.bold, st.size - 1.5)
        for ln in c.vendor_address:
            yy += st.size + 1
            pp.text(m, yy, ln, f.regular, st.size - 1.5, field="vendor_address")
        col = m + (right - m) / 3
        pp.text(col, foot_y, c.vendor_phone, f.regular, st.size - 1.5)
        pp.text(col, foot_y + st.size + 1, c.vendor_email, f.regular, st.size - 1.5)
        col2 = m + 2 * (right - m) / 3
        pp.text(col2, foot_y, c.vendor_tax_id, f.regular, st.size - 1.5)
        country = {"gb": "GB", "de": "DE", "fr": "FR", "nl": "NL", "ie": "IE", "ch": "CH"}.get(c.profile.name)
        bank = (f"IBAN {country}{rng.randint(10, 99)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)} "
                f"{rng.randint(1000, 9999)} {rng.randint(1000, 9999)}" if country
                else f"Account {rng.randint(10000000, 99999999)}  Routing {rng.randint(100000000, 999999999)}")
        pp.text(col2, foot_y + st.size + 1, bank, f.regular, st.size - 1.5)

    def header(pp: Painter) -> float:
        vendor_footer(pp)
        pp.text(right, m + 14, c.vendor_name, f.bold, 11, "right")
        return m + 30

    vendor_footer(p)
    y = items_table(p, c, st, y + 36, header, foot_y - 110, rng)
    y = ensure_room(p, c, st, y, foot_y - 60, header)
    y = totals_block(p, c, st, right - 210, right - 4, y + 6, big_total=True)
    if c.due_date is None:
        p.text(m, y + 30, L["terms"].format(n=c.payment_days), f.regular, st.size)
    p.text(m, y + 30 + st.size + 6, L["thanks"], f.regular, st.size)


def multipage_table(p: Painter, c: Content, st: Style, rng: random.Random) -> None:
    f, m, L = st.family, st.margin, c.labels
    right = p.width - m
    y = vendor_block(p, c, st, m, m, contact=rng.random() < 0.7)
    p.text(right, m + 20, L["invoice"], f.bold, 18, "right")
    meta_table(p, st, meta_rows(c, rng), right - 210, right, m + 28, "right")
    y = party_block(p, c, st, m, y + 16, L["bill_to"])

    def header(pp: Painter) -> float:
        pp.text(m, m + 12, c.vendor_name, f.bold, 11)
        pp.text(right, m + 12, f"{L['invoice']} {c.document_number}", f.regular, st.size, "right")
        pp.line(m, m + 18, right, m + 18, 0.5)
        return m + 28

    y = items_table(p, c, st, y + 20, header, p.height - m - 60, rng)
    # The totals go on a page of their own when they do not fit under the table.
    y = ensure_room(p, c, st, y, p.height - m - 34, header)
    totals_block(p, c, st, right - 210, right - 4, y + 6, big_total=True)
    footer(p, c, st, rng)


# --------------------------------------------------------------------------------------------
# Receipt layouts
# --------------------------------------------------------------------------------------------
def till_80mm(p: Painter, c: Content, st: Style, rng: random.Random) -> None:
    """A thermal till roll: monospace, fixed columns, label and amount in one padded string."""
    f, s, m = st.family, st.size, st.margin
    cols = int((p.width - 2 * m) / stringWidth("0", f.regular, s))
    cx = p.width / 2
    lh = s + 2.5
    y = m + s + 2
    p.text(cx, y, c.vendor_name[:cols], f.bold, s + 2, "centre", field="vendor_name")
    y += 3
    for ln in c.vendor_address:
        y += lh
        p.text(cx, y, ln[:cols], f.regular, s, "centre", field="vendor_address")
    y += lh
    p.text(cx, y, ("TEL " + c.vendor_phone)[:cols], f.regular, s, "centre")
    if rng.random() < 0.6:
        y += lh
        p.text(cx, y, c.vendor_tax_id[:cols], f.regular, s, "centre")
    y += lh
    p.text(m, y, "-" * cols, f.regular, s)

    def row(label: str, amount: str, name: Optional[str] = None, bold: bool = False, also=()):
        nonlocal y
        y += lh
        gap = max(1, cols - len(label) - len(amount))
        line = label + " " * gap + amount
        p.text(m, y, line, f.bold if bold else f.regular, s, field=name, span=(len(line) - len(amount), len(line)),
               also=tuple((n, (a + len(line) - len(amount), b + len(line) - len(amount))) for n, (a, b) in also))

    date = c.fmt_date(c.issue_date)
    y += lh
    line = f"{date} {c.time_of_day}"
    p.text(m, y, line, f.regular, s, field="document_date", span=(0, len(date)))
    no = f"#{c.document_number}"
    p.text(p.width - m, y, no, f.regular, s, "right", field="document_number", span=(1, len(no)))
    y += lh
    p.text(m, y, f"CASHIER {rng.randint(1, 40):02d}  TILL {rng.randint(1, 9)}", f.regular, s)
    y += lh / 2
    for it in c.items:
        if it.qty > 1:
            y += lh
            p.text(m + 12, y, f"{it.qty} x {c.money(it.unit_price, with_currency=False)}", f.regular, s)
        row(it.description[: cols - 12], c.money(it.amount, with_currency=False))
    y += lh
    p.text(m, y, "-" * cols, f.regular, s)
    row("SUBTOTAL", c.money(c.subtotal, with_currency=False))
    if c.show_tax:
        row(f"{c.profile.tax_label.upper()} {c.tax_rate.normalize():f}%", c.money(c.tax, with_currency=False), "tax_amount")
    total = c.money(c.total)
    row("TOTAL", total, "total_amount", bold=True, also=_totals_currency(c, total))
    if c.tendered is not None:
        row("CASH", c.money(c.tendered, with_currency=False))
        row("CHANGE", c.money(c.change, with_currency=False))
    else:
        row(f"CARD ****{c.card_last4}", c.money(c.total, with_currency=False))
        y += lh
        p.text(m, y, f"AUTH CODE {rng.randint(100000, 999999)}", f.regular, s)
    if c.currency_style == "header":
        y += lh
        line = f"ALL AMOUNTS IN {c.profile.currency}"
        p.text(m, y, line, f.regular, s, field="currency", span=(len(line) - 3, len(line)))
    y += lh
    p.text(m, y, f"ITEMS: {sum(it.qty for it in c.items)}", f.regular, s)
    y += lh * 1.5
    p.text(cx, y, "THANK YOU FOR SHOPPING", f.bold, s, "centre")
    y += lh
    p.text(cx, y, "PLEASE KEEP YOUR RECEIPT", f.regular, s, "centre")


def _totals_currency(c: Content, total: str):
    return tuple((n, span) for n, span in _currency_span(c, total))


def till_58mm(p: Painter, c: Content, st: Style, rng: random.Random) -> None:
    """A narrow receipt in a proportional font: labels left, amounts right, date at the bottom."""
    f, s, m = st.family, st.size, st.margin
    cx, right = p.width / 2, p.width - m
    lh = s + 3
    y = m + s + 4
    name_size = s + 4
    while stringWidth(c.vendor_name, f.bold, name_size) > right - m and name_size > s:
        name_size -= 0.5
    p.text(cx, y, c.vendor_name, f.bold, name_size, "centre", field="vendor_name")
    y += 2
    for ln in c.vendor_address:
        y += lh
        p.text(cx, y, _fit(ln, f.regular, s, right - m), f.regular, s, "centre", field="vendor_address")
    y += lh
    p.text(cx, y, c.vendor_phone, f.regular, s - 0.5, "centre")
    y += lh
    line = f"Receipt No: {c.document_number}"
    p.text(m, y, line, f.regular, s, field="document_number", span=(12, len(line)))
    y += 4
    p.line(m, y, right, y, 0.5)
    for it in c.items:
        y += lh
        desc = it.description.title() if rng.random() < 0.5 else it.description
        if it.qty > 1:
            desc = f"{it.qty}x {desc}"
        p.text(m, y, _fit(desc, f.regular, s, right - m - 45), f.regular, s)
        p.text(right, y, c.money(it.amount, with_currency=False), f.regular, s, "right")
    y += 5
    p.line(m, y, right, y, 0.5)

    def row(label, amount, name=None, bold=False, size=s, also=()):
        nonlocal y
        y += size + 3
        p.text(m, y, label, f.bold if bold else f.regular, size)
        p.text(right, y, amount, f.bold if bold else f.regular, size, "right", field=name, also=also)

    row("Subtotal", c.money(c.subtotal, with_currency=False))
    if c.show_tax:
        row(f"{c.profile.tax_label} {c.tax_rate.normalize():f}% incl." if rng.random() < 0.3 else
            f"{c.profile.tax_label} {c.tax_rate.normalize():f}%", c.money(c.tax, with_currency=False), "tax_amount")
    total = c.money(c.total)
    row("TOTAL", total, "total_amount", bold=True, size=s + 2, also=_totals_currency(c, total))
    if c.tendered is not None:
        row("Cash", c.money(c.tendered, with_currency=False))
        row("Change", c.money(c.change, with_currency=False))
    else:
        row("Card", c.money(c.total, with_currency=False))
    if c.currency_style == "header":
        y += lh
        line = f"Currency: {c.profile.currency}"
        p.text(m, y, line, f.regular, s, field="currency", span=(10, len(line)))
    y += lh * 1.5
    date = c.fmt_date(c.issue_date)
    p.text(m, y, date, f.regular, s, field="document_date")
    p.text(right, y, c.time_of_day, f.regular, s, "right")
    y += lh * 1.5
    p.text(cx, y, "Thank you, come again!", f.regular, s, "centre")


DRAWERS: Dict[str, Callable[[Painter, Content, Style, random.Random], None]] = {
    "classic_left": classic_left,
    "banner_right": banner_right,
    "centered_header": centered_header,
    "footer_vendor": footer_vendor,
    "multipage_table": multipage_table,
    "till_80mm": till_80mm,
    "till_58mm": till_58mm,
}
