"""Turn printed values into comparable ones: dates to ISO 8601, amounts to a
decimal string plus an ISO 4217 currency code.

The parsing itself is done by well-kept libraries (dateparser for dates,
price-parser for amounts); this module only picks their settings and maps
currency symbols, so every extractor and ``evaluate`` normalise the same way.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Optional, Tuple

# Symbols and local abbreviations that name one currency without doubt, plus
# the common ambiguous "$" which we read as USD only when nothing else is known.
CURRENCY_SYMBOLS = {
    "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "₩": "KRW", "₽": "RUB", "₺": "TRY",
    "₫": "VND", "₱": "PHP", "฿": "THB", "zł": "PLN", "kč": "CZK", "rm": "MYR", "rp": "IDR", "rs.": "INR", "rs": "INR",
    "s$": "SGD", "a$": "AUD", "au$": "AUD", "c$": "CAD", "ca$": "CAD", "mx$": "MXN", "hk$": "HKD", "nz$": "NZD", "r$": "BRL",
    "us$": "USD", "fr.": "CHF", "chf": "CHF", "kr": "SEK", "$": "USD",
}
ISO_CODES = {
    "AED", "AUD", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF", "IDR",
    "INR", "JPY", "KRW", "MXN", "MYR", "NOK", "NZD", "PHP", "PLN", "RON", "RUB", "SEK", "SGD",
    "THB", "TRY", "TWD", "USD", "VND", "ZAR",
}

DATE_ORDERS = {"day-first": "DMY", "month-first": "MDY", "year-first": "YMD"}


def currency_code(text: Optional[str]) -> Optional[str]:
    """The ISO 4217 code for a symbol or code found in ``text``, if one can be told."""
    if not text:
        return None
    t = text.strip()
    upper = re.findall(r"\b[A-Z]{3}\b", t.upper())
    for code in upper:
        if code in ISO_CODES:
            return code
    low = t.lower()
    # Longest symbols first so "hk$" wins over "$".
    for sym in sorted(CURRENCY_SYMBOLS, key=len, reverse=True):
        if sym.isalpha() or sym.endswith("."):
            if re.search(r"(?<![a-z])" + re.escape(sym) + r"(?![a-z])", low):
                return CURRENCY_SYMBOLS[sym]
        elif re.search(r"(?<![a-z])" + re.escape(sym), low):
            # "a$" must not match inside "ca$": a symbol never follows a letter.
            return CURRENCY_SYMBOLS[sym]
    return None


def normalize_amount(text: Optional[str], decimal_separator: Optional[str] = None) -> Tuple[Optional[str], Optional[str]]:
    """``(decimal string, currency code)`` for a printed amount, or ``(None, None)``.

    ``decimal_separator`` ("." or ",") settles "1,234" vs "1.234" when the
    document's convention is known; otherwise price-parser guesses.
    """
    if not text:
        return None, None
    from price_parser import Price

    cleaned = text.replace("O", "0") if re.fullmatch(r"[\dO.,\s]+", text) else text
    price = Price.fromstring(cleaned, decimal_separator=decimal_separator)
    if price.amount is None:
        return None, currency_code(text)
    try:
        amount = Decimal(price.amount)
    except InvalidOperation:
        return None, currency_code(text)
    # price-parser returns the absolute value; credit notes print "-12.00", "12.00-" or "(12.00)".
    stripped = text.strip()
    if re.match(r"^\(.*\)$", stripped) or re.match(r"^(?:[-\u2212]|(?:[A-Za-z]{1,3}|[^\w\s]{1,3})\s?[-\u2212])\s?\S{0,4}?\s?\d", stripped) or stripped.endswith("-"):
        amount = -abs(amount)
    return format_decimal(amount), currency_code(price.currency or text)


def format_decimal(amount: Decimal) -> str:
    """Two decimals unless more were printed: "60.3" -> "60.30", "1.005" stays."""
    try:
        quantized = amount.quantize(Decimal("0.01"))
    except InvalidOperation:  # more digits than the decimal context holds: OCR noise, kept as read
        return format(amount, "f")
    return format(quantized if amount == quantized else amount, "f")


@lru_cache(maxsize=4096)
def normalize_date(text: Optional[str], date_order: str = "day-first") -> Optional[str]:
    """ISO 8601 date (YYYY-MM-DD) for a printed date, or None when it is not a full date."""
    if not text or not re.search(r"\d", text):
        return None
    import dateparser

    order = DATE_ORDERS.get(date_order, date_order)
    cleaned = re.sub(r"\s+", " ", text.strip().strip(",.:;"))
    # Eight digits with no separators: 20180304 (year first) or 04032018 (in the document's order).
    if re.fullmatch(r"\d{8}", cleaned):
        year_first = 1900 <= int(cleaned[:4]) <= 2100 and 1 <= int(cleaned[4:6]) <= 12
        cleaned = (
            f"{cleaned[:4]}-{cleaned[4:6]}-{cleaned[6:]}" if year_first else f"{cleaned[:2]}/{cleaned[2:4]}/{cleaned[4:]}"
        )
    # ISO dates are year-first whatever the locale's order.
    if re.fullmatch(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}", cleaned):
        order = "YMD"
    parsed = dateparser.parse(
        cleaned,
        languages=["en", "de", "fr", "es", "it", "nl", "pt"],
        settings={
            "DATE_ORDER": order,
            "REQUIRE_PARTS": ["day", "month", "year"],
            "PREFER_DATES_FROM": "past",
            "RETURN_AS_TIMEZONE_AWARE": False,
        },
    )
    if parsed is None or not (1900 <= parsed.year <= 2100):
        return None
    return parsed.date().isoformat()


def normalize_number(text: Optional[str]) -> Optional[str]:
    value, _ = normalize_amount(text)
    return value


def normalize_text(text: Optional[str]) -> Optional[str]:
    """Collapse white space; the form strings are compared in."""
    if text is None:
        return None
    return re.sub(r"\s+", " ", text).strip()


# A registration number printed after a company's name: "(519537-X)", "(139386 X)", "(Co. No:20154-T)", "[728384M]".
TRAILING_REGISTRATION = re.compile(
    r"[\s,]*[(\[]\s*(?:(?:co(?:mpany)?|reg(?:istration)?|roc|regn)\.?\s*)*(?:no\.?|number|nr\.?)?\s*[:.]?\s*"
    r"[a-z]{0,3}\s*\d{4,}(?:\s*-?\s*[a-z0-9]{1,2})?\s*[)\]]?[\s,.;:]*$",
    re.IGNORECASE,
)


# ... or after its legal form without brackets: "ENTERPRISE SDN BHD 822737-X", "ACME Ltd Co. No. 01234567".
REGISTRATION_AFTER_LEGAL_FORM = re.compile(
    r"(\b(?:sdn\.?\s*bhd|bhd|s/b|ltd|limited|gmbh|inc|llc|plc)\.?)\s+(?:co(?:mpany)?\.?\s*)?(?:no\.?\s*:?\s*)?"
    r"[a-z]{0,3}\d{5,}(?:\s*-?\s*[a-z])?\W*$",
    re.IGNORECASE,
)


def strip_registration(name: Optional[str]) -> Optional[str]:
    """A party's name without the registration number printed after it.

    Why: receipts and invoices print "GARDENIA BAKERIES (KL) SDN BHD (139386 X)" on one line; the
    number identifies the company in a register but is not its name, and a name that carries it
    matches neither the customer's records nor another receipt from the same shop. Only a
    parenthesised group of at least four digits at the end goes: "(M)" and "(KL)" stay.
    """
    if not name:
        return name
    m = TRAILING_REGISTRATION.search(name)
    if m and m.start() > 0:
        return name[:m.start()].rstrip(" ,;:")
    m = REGISTRATION_AFTER_LEGAL_FORM.search(name)
    return name[:m.end(1)] if m else name


def normalize_value(field_type: str, text: Optional[str], date_order: str = "day-first") -> Optional[str]:
    """The normalised form of a value of a schema field type."""
    if field_type == "date":
        return normalize_date(text, date_order)
    if field_type == "money":
        return normalize_amount(text)[0]
    if field_type == "number":
        return normalize_number(text)
    return normalize_text(text)
