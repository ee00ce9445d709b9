"""What a synthetic document says, independent of how it is drawn.

``make_content(rng, kind)`` returns a ``Content``: the vendor (Faker, in the
locale of a regional profile), numbers, dates, line items and totals computed
with ``Decimal``, plus the distractors a real document carries (order and
delivery dates next to the issue date, a subtotal next to the total, cash
tendered and change on receipts). Every printed string is formatted here, in
the document's own conventions, so layouts only place text.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import List, Optional, Tuple

CENT = Decimal("0.01")

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
MONTHS_DE = ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
             "Oktober", "November", "Dezember"]
MONTHS_FR = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
             "octobre", "novembre", "décembre"]

# Date formats: (name, order it implies or None when unambiguous, formatter).
DATE_FORMATS = {
    "dmy_slash": ("day-first", lambda d: f"{d.day:02d}/{d.month:02d}/{d.year}"),
    "mdy_slash": ("month-first", lambda d: f"{d.month:02d}/{d.day:02d}/{d.year}"),
    "dmy_dot": ("day-first", lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}"),
    "iso": (None, lambda d: d.isoformat()),
    "d_mon_y": (None, lambda d: f"{d.day:02d} {MONTHS[d.month - 1][:3]} {d.year}"),
    "d_mon_y_dash": (None, lambda d: f"{d.day:02d}-{MONTHS[d.month - 1][:3]}-{d.year}"),
    "month_d_y": (None, lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}"),
    "d_month_y": (None, lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}"),
    "de_long": (None, lambda d: f"{d.day}. {MONTHS_DE[d.month - 1]} {d.year}"),
    "fr_long": (None, lambda d: f"{d.day} {MONTHS_FR[d.month - 1]} {d.year}"),
}


@dataclass(frozen=True)
class Profile:
    """A region's conventions: Faker locale, currency, number and date formats, tax."""

    name: str
    locale: str
    currency: str
    symbols: Tuple[str, ...]  # printed forms of the currency besides the ISO code
    symbol_after: bool  # "12,00 €" rather than "€12.00"
    thousands: str
    decimal: str
    date_order: str
    date_formats: Tuple[str, ...]
    tax_label: str
    tax_rates: Tuple[str, ...]
    labels: str = "en"  # label language for invoices
    indian_grouping: bool = False


PROFILES = (
    Profile("us", "en_US", "USD", ("$", "US$"), False, ",", ".", "month-first",
            ("mdy_slash", "month_d_y", "iso", "d_mon_y"), "Sales Tax", ("6.25", "7", "8.875", "9.5")),
    Profile("gb", "en_GB", "GBP", ("£",), False, ",", ".", "day-first",
            ("dmy_slash", "d_mon_y", "d_month_y", "iso", "d_mon_y_dash"), "VAT", ("20",)),
    Profile("de", "de_DE", "EUR", ("€",), True, ".", ",", "day-first",
            ("dmy_dot", "de_long", "iso", "dmy_dot"), "MwSt.", ("19", "7"), labels="de"),
    Profile("fr", "fr_FR", "EUR", ("€",), True, " ", ",", "day-first",
            ("dmy_slash", "fr_long", "dmy_slash"), "TVA", ("20", "10"), labels="fr"),
    Profile("nl", "nl_NL", "EUR", ("€", "€ "), False, ".", ",", "day-first",
            ("dmy_dot", "d_mon_y", "iso", "dmy_slash"), "BTW", ("21", "9")),
    Profile("ie", "en_IE", "EUR", ("€",), False, ",", ".", "day-first",
            ("dmy_slash", "d_mon_y", "d_month_y"), "VAT", ("23", "13.5")),
    Profile("in", "en_IN", "INR", ("₹", "Rs."), False, ",", ".", "day-first",
            ("dmy_slash", "d_mon_y_dash", "dmy_dot", "d_mon_y"), "GST", ("18", "12", "5"),
            indian_grouping=True),
    Profile("au", "en_AU", "AUD", ("A$",), False, ",", ".", "day-first",
            ("dmy_slash", "d_mon_y", "d_month_y"), "GST", ("10",)),
    Profile("ch", "de_CH", "CHF", ("CHF", "Fr."), False, "'", ".", "day-first",
            ("dmy_dot", "de_long"), "MWST", ("8.1", "2.6"), labels="de"),
)

# Labels by language. The distractor labels are what make extraction honest.
LABELS = {
    "en": dict(invoice="INVOICE", number="Invoice No.", date="Invoice Date", due="Due Date", order="Order Date",
               delivery="Delivery Date", subtotal="Subtotal", total="Total", total_due="Total Due",
               bill_to="Bill To", ship_to="Ship To", qty="Qty", desc="Description", unit="Unit Price",
               amount="Amount", page="Page", of="of", customer="Customer No.", po="PO Number",
               carried="Carried forward", terms="Payment terms: {n} days net", currency="Currency",
               thanks="Thank you for your business!", shipping="Shipping", discount="Discount"),
    "de": dict(invoice="RECHNUNG", number="Rechnungsnr.", date="Rechnungsdatum", due="Fällig am",
               order="Bestelldatum", delivery="Lieferdatum", subtotal="Zwischensumme", total="Gesamtbetrag",
               total_due="Gesamtbetrag", bill_to="Rechnungsadresse", ship_to="Lieferadresse", qty="Menge",
               desc="Beschreibung", unit="Einzelpreis", amount="Betrag", page="Seite", of="von",
               customer="Kundennr.", po="Bestellnr.", carried="Übertrag", terms="Zahlbar innerhalb {n} Tagen",
               currency="Währung", thanks="Vielen Dank für Ihren Auftrag!", shipping="Versand",
               discount="Rabatt"),
    "fr": dict(invoice="FACTURE", number="N° de facture", date="Date de facture", due="Échéance",
               order="Date de commande", delivery="Date de livraison", subtotal="Total HT", total="Total TTC",
               total_due="Net à payer", bill_to="Facturé à", ship_to="Livré à", qty="Qté",
               desc="Désignation", unit="Prix unitaire", amount="Montant", page="Page", of="sur",
               customer="N° client", po="N° de commande", carried="Report", terms="Paiement à {n} jours",
               currency="Devise", thanks="Merci de votre confiance.", shipping="Frais de port",
               discount="Remise"),
}

SERVICES = ["Consulting services", "Software licence (annual)", "On-site support", "Project management",
            "Website maintenance", "Cloud hosting - Standard", "Data migration", "Training workshop",
            "Graphic design", "Copywriting", "SEO audit", "Hardware installation", "Travel expenses",
            "Translation services", "Legal review", "Accounting services", "Network cabling",
            "Office cleaning", "Security monitoring", "Printer toner cartridge", "Ergonomic office chair",
            "Standing desk", "LED monitor 27\"", "Wireless keyboard", "USB-C docking station",
            "A4 copy paper (5 reams)", "Shipping boxes (pack of 20)", "Catering for meeting",
            "Courier delivery", "Annual maintenance contract", "Spare parts kit", "Laptop sleeve 14\"",
            "Extended warranty", "Photo session (2 h)", "Event venue hire", "Label printer"]
GROCERIES = ["MILK 1L", "BREAD WHOLEMEAL", "EGGS 12PK", "BANANAS", "APPLES GALA", "COFFEE BEANS 500G",
             "ORANGE JUICE", "CHEDDAR 200G", "PASTA 500G", "TOMATOES", "RICE 1KG", "OLIVE OIL",
             "CHOC BAR", "WATER 6X1.5L", "YOGURT 4PK", "CHICKEN BREAST", "BUTTER 250G", "TEA BAGS 80",
             "SHAMPOO", "TOOTHPASTE", "PAPER TOWELS", "DISH SOAP", "CEREAL", "SALAD MIX", "CAPPUCCINO",
             "CROISSANT", "SANDWICH", "LATTE LARGE", "MUFFIN", "BATTERIES AA"]
STORE_WORDS = ["Market", "Mart", "Café", "Grocers", "Store", "Deli", "Bakery", "Express", "Foods"]


@dataclass
class Item:
    description: str
    qty: int
    unit_price: Decimal
    amount: Decimal


@dataclass
class Content:
    """Everything printed on one document, already formatted where it matters."""

    kind: str
    profile: Profile
    labels: dict
    vendor_name: str
    vendor_address: List[str]  # printed lines
    vendor_phone: str
    vendor_email: str
    vendor_tax_id: str
    customer_name: str
    customer_address: List[str]
    document_number: str
    customer_number: str
    po_number: str
    date_format: str
    date_order: str
    issue_date: dt.date
    due_date: Optional[dt.date]
    order_date: Optional[dt.date]
    delivery_date: Optional[dt.date]
    items: List[Item]
    subtotal: Decimal
    shipping: Optional[Decimal]
    tax_rate: Decimal
    tax: Decimal
    show_tax: bool
    total: Decimal
    currency_style: str  # "symbol" | "code" | "header" | "none"
    symbol: str
    payment_days: int
    tendered: Optional[Decimal] = None
    change: Optional[Decimal] = None
    card_last4: Optional[str] = None
    time_of_day: str = ""
    extra: dict = field(default_factory=dict)

    # --- formatting in the document's conventions -------------------------------------------
    def fmt_date(self, d: dt.date) -> str:
        return DATE_FORMATS[self.date_format][1](d)

    def fmt_number(self, amount: Decimal) -> str:
        p = self.profile
        neg = amount < 0
        whole, frac = f"{abs(amount).quantize(CENT):f}".split(".")
        if p.indian_grouping and len(whole) > 3:
            head, tail = whole[:-3], whole[-3:]
            groups = []
            while len(head) > 2:
                groups.insert(0, head[-2:])
                head = head[:-2]
            if head:
                groups.insert(0, head)
            whole = ",".join(groups + [tail])
        else:
            groups = []
            while len(whole) > 3:
                groups.insert(0, whole[-3:])
                whole = whole[:-3]
            whole = p.thousands.join([whole] + groups)
        return ("-" if neg else "") + whole + p.decimal + frac

    def money(self, amount: Decimal, with_currency: Optional[bool] = None) -> str:
        """An amount as printed; with the currency when the document's style shows it on amounts."""
        number = self.fmt_number(amount)
        if with_currency is False or self.currency_style in ("header", "none"):
            return number
        if self.currency_style == "code":
            return f"{number} {self.profile.currency}" if self.profile.symbol_after else f"{self.profile.currency} {number}"
        sym = self.symbol
        if self.profile.symbol_after:
            return f"{number} {sym}"
        # "CHF 12.50", "Rs. 12.50", "€ 12,50" (a symbol given with its space) but "$12.50", "A$12.50".
        return sym + (" " if sym[-1].isalpha() or sym.endswith(".") else "") + number

    def currency_printed(self) -> Optional[str]:
        """The currency as printed (symbol or code), or None when the document never shows it."""
        if self.currency_style == "none":
            return None
        if self.currency_style == "symbol":
            return self.symbol.strip()
        return self.profile.currency


def _q(x) -> Decimal:
    return Decimal(x).quantize(CENT, rounding=ROUND_HALF_UP)


@lru_cache(maxsize=None)
def _faker(locale: str):
    from faker import Faker

    return Faker(locale)


def _address_lines(fake, profile: Profile) -> List[str]:
    lines = [ln.strip() for ln in fake.address().split("\n") if ln.strip()]
    # Merge one-token lines (en_IN house numbers, nl postcodes) into the next one, as printed invoices do.
    merged: List[str] = []
    for ln in lines:
        if merged and (len(merged[-1]) <= 4 or len(ln) <= 3):
            merged[-1] = f"{merged[-1]} {ln}"
        else:
            merged.append(ln)
    return merged[:3]


def make_content(rng: random.Random, kind: str, profile: Optional[Profile] = None,
                 min_items: int = 0) -> Content:
    """Draw one document's content from ``rng`` (the only source of randomness).

    ``min_items`` forces a long item list (the multi-page layout asks for one).
    """
    profile = profile or rng.choice(PROFILES)
    fake = _faker(profile.locale)
    fake.seed_instance(rng.getrandbits(63))
    labels = LABELS[profile.labels if kind == "invoice" else "en"]

    if kind == "receipt":
        vendor = rng.choice([f"{fake.last_name()} {rng.choice(STORE_WORDS)}", fake.company().upper(),
                             f"{fake.city()} {rng.choice(STORE_WORDS)}"])
    else:
        vendor = fake.company()
    vendor = " ".join(vendor.split())
    address = _address_lines(fake, profile)
    customer = fake.company() if rng.random() < 0.7 else fake.name()
    customer_address = _address_lines(fake, profile)

    fmt = rng.choice(profile.date_formats)
    order = DATE_FORMATS[fmt][0] or profile.date_order
    issue = dt.date(2016, 1, 1) + dt.timedelta(days=rng.randrange(0, 9 * 365))
    days = rng.choice([7, 14, 14, 30, 30, 30, 45, 60])
    due = issue + dt.timedelta(days=days) if kind == "invoice" and rng.random() < 0.75 else None
    order_date = issue - dt.timedelta(days=rng.randrange(1, 40)) if kind == "invoice" and rng.random() < 0.6 else None
    delivery = issue - dt.timedelta(days=rng.randrange(0, 10)) if kind == "invoice" and rng.random() < 0.4 else None

    items: List[Item] = []
    if kind == "receipt":
        n = rng.randint(1, 14)
        for _ in range(n):
            qty = rng.choice([1, 1, 1, 1, 2, 3])
            price = _q(Decimal(rng.randint(49, 1999)) / 100)
            items.append(Item(rng.choice(GROCERIES), qty, price, _q(price * qty)))
    else:
        n = max(min_items, rng.choice([1, 2, 3, 4, 5, 6, 8, 10, 12]))
        for _ in range(n):
            qty = rng.choice([1, 1, 1, 2, 3, 4, 5, 10, 12, 25])
            price = _q(Decimal(rng.randint(500, 250000)) / 100)
            if qty > 5:
                price = _q(price / 10)
            items.append(Item(rng.choice(SERVICES), qty, price, _q(price * qty)))

    subtotal = sum((it.amount for it in items), Decimal("0.00"))
    shipping = _q(Decimal(rng.randint(495, 4995)) / 100) if kind == "invoice" and rng.random() < 0.25 else None
    rate = Decimal(rng.choice(profile.tax_rates))
    base = subtotal + (shipping or 0)
    tax = _q(base * rate / 100)
    show_tax = rng.random() < (0.92 if kind == "invoice" else 0.8)
    if not show_tax:  # tax-exempt sale: no tax line, and none in the total
        tax = Decimal("0.00")
    total = base + tax

    style = rng.choices(["symbol", "code", "header", "none"], [0.5, 0.25, 0.15, 0.1 if kind == "receipt" else 0.0])[0]
    symbol = rng.choice(profile.symbols)
    if symbol == "₹" and rng.random() < 0.3:
        symbol = "Rs."

    c = Content(
        kind=kind, profile=profile, labels=labels, vendor_name=vendor, vendor_address=address,
        vendor_phone=fake.phone_number(), vendor_email=f"billing@{fake.domain_name()}",
        vendor_tax_id=_tax_id(rng, profile), customer_name=customer, customer_address=customer_address,
        document_number=_doc_number(rng, kind, issue), customer_number=f"C{rng.randint(10000, 99999)}",
        po_number=f"PO-{rng.randint(100000, 999999)}", date_format=fmt, date_order=order,
        issue_date=issue, due_date=due, order_date=order_date, delivery_date=delivery, items=items,
        subtotal=subtotal, shipping=shipping, tax_rate=rate, tax=tax, show_tax=show_tax, total=total,
        currency_style=style, symbol=symbol, payment_days=days,
    )
    if kind == "receipt":
        c.time_of_day = f"{rng.randint(7, 21):02d}:{rng.randint(0, 59):02d}"
        if rng.random() < 0.55:
            step = rng.choice([Decimal(5), Decimal(10), Decimal(20), Decimal(50)])
            c.tendered = (total / step).to_integral_value(rounding="ROUND_CEILING") * step
            if c.tendered == total:
                c.tendered += step
            c.change = c.tendered - total
        else:
            c.card_last4 = f"{rng.randint(0, 9999):04d}"
    return c


def _doc_number(rng: random.Random, kind: str, issue: dt.date) -> str:
    if kind == "receipt":
        return rng.choice([f"{rng.randint(1000, 9999)}-{rng.randint(100000, 999999)}", f"R{rng.randint(100000, 9999999)}",
                           f"{rng.randint(10, 99)}/{rng.randint(1000, 99999)}"])
    return rng.choice([
        f"INV-{issue.year}-{rng.randint(1, 99999):05d}",
        f"{issue.year}{issue.month:02d}{rng.randint(1, 999):03d}",
        f"F{rng.randint(100000, 999999)}",
        f"{rng.choice('ABCDEFGHJK')}{rng.randint(10, 99)}/{rng.randint(1000, 9999)}",
        f"RE-{rng.randint(10000, 99999)}",
    ])


def _tax_id(rng: random.Random, profile: Profile) -> str:
    prefix = {"gb": "GB", "de": "DE", "fr": "FR", "nl": "NL", "ie": "IE", "ch": "CHE-"}.get(profile.name)
    if prefix:
        return f"VAT: {prefix}{rng.randint(100000000, 999999999)}"
    if profile.name == "in":
        return f"GSTIN: {rng.randint(10, 35)}AAACX{rng.randint(1000, 9999)}Q1Z{rng.randint(1, 9)}"
    if profile.name == "au":
        return f"ABN {rng.randint(10, 99)} {rng.randint(100, 999)} {rng.randint(100, 999)} {rng.randint(100, 999)}"
    return f"EIN {rng.randint(10, 99)}-{rng.randint(1000000, 9999999)}"
