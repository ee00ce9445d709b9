"""normalize.py: printed dates and amounts to comparable values."""

from __future__ import annotations

import pytest

from paperbeam.normalize import currency_code, normalize_amount, normalize_date, normalize_text, normalize_value, strip_registration


@pytest.mark.parametrize(
    "text, order, expected",
    [
        ("19/10/2018", "day-first", "2018-10-19"),
        ("10/19/2018", "month-first", "2018-10-19"),
        # the ambiguous one: the order decides
        ("03/04/2024", "day-first", "2024-04-03"),
        ("03/04/2024", "month-first", "2024-03-04"),
        # ISO is year-first whatever the order says
        ("2018-10-19", "day-first", "2018-10-19"),
        ("2018-10-19", "month-first", "2018-10-19"),
        ("2018/10/19", "day-first", "2018-10-19"),
        ("19.10.2018", "day-first", "2018-10-19"),
        ("19/10/18", "day-first", "2018-10-19"),
        ("19 Oct 2018", "day-first", "2018-10-19"),
        ("19 Oct 2018", "month-first", "2018-10-19"),
        ("19-Oct-2018", "day-first", "2018-10-19"),
        ("October 19, 2018", "day-first", "2018-10-19"),
        ("19th October 2018", "day-first", "2018-10-19"),
        ("19 Okt. 2018", "day-first", "2018-10-19"),  # German month
        ("19/10/2018 14:32", "day-first", "2018-10-19"),  # receipts print the time too
    ],
)
def test_dates(text, order, expected):
    assert normalize_date(text, order) == expected


@pytest.mark.parametrize("text", ["Oct 2018", "1234", "31/02/2018", "", None, "no date here"])
def test_not_a_full_date(text):
    assert normalize_date(text) is None


@pytest.mark.parametrize(
    "text, amount, currency",
    [
        ("1,234.56", "1234.56", None),
        ("1.234,56", "1234.56", None),
        ("1 234,56 €", "1234.56", "EUR"),
        ("RM 60.30", "60.30", "MYR"),
        ("€ 12,50", "12.50", "EUR"),
        ("EUR 1,234.56", "1234.56", "EUR"),
        ("12.50 EUR", "12.50", "EUR"),
        ("$1,234.56", "1234.56", "USD"),
        ("£12.00", "12.00", "GBP"),
        ("CHF 1'234.50", "1234.50", "CHF"),
        ("S$ 10.00", "10.00", "SGD"),
        ("HK$ 20.00", "20.00", "HKD"),
        ("USD 0.99", "0.99", "USD"),
        ("1,234,567.89", "1234567.89", None),
        ("60.3O", "60.30", None),  # OCR read a zero as the letter O
    ],
)
def test_amounts(text, amount, currency):
    assert normalize_amount(text) == (amount, currency)


def test_decimal_separator_settles_the_ambiguous_case():
    assert normalize_amount("1,234", decimal_separator=",")[0] == "1.234"
    assert normalize_amount("1,234", decimal_separator=".")[0] == "1234.00"


def test_no_amount():
    assert normalize_amount("Total") == (None, None)
    assert normalize_amount(None) == (None, None)


@pytest.mark.parametrize(
    "text, code",
    [("€", "EUR"), ("$", "USD"), ("£", "GBP"), ("RM", "MYR"), ("USD", "USD"), ("eur", "EUR"), ("Total EUR", "EUR"),
     ("hk$ 5", "HKD"), ("S$", "SGD"), ("zł", "PLN"), ("Rp", "IDR"), ("Fr. 5", "CHF"), ("₹", "INR")],
)
def test_currency_codes(text, code):
    assert currency_code(text) == code


def test_currency_unknown():
    assert currency_code("Total") is None
    assert currency_code("") is None


def test_negative_amount_keeps_its_sign():
    assert normalize_amount("-12.00")[0] == "-12.00"


def test_parenthesised_negative_amount():
    assert normalize_amount("(12.00)")[0] == "-12.00"


def test_canadian_dollar_prefix():
    assert currency_code("CA$ 12.00") == "CAD"


def test_normalize_value_by_type():
    assert normalize_value("date", "19 Oct 2018") == "2018-10-19"
    assert normalize_value("money", "EUR 1,234.56") == "1234.56"
    assert normalize_value("number", "1,234.56") == "1234.56"
    assert normalize_value("string", "  ACME \n Supplies  ") == "ACME Supplies"
    assert normalize_text(None) is None


@pytest.mark.parametrize(
    "text, order, iso",
    [("20180304", "day-first", "2018-03-04"), ("25032018", "day-first", "2018-03-25"), ("03252018", "month-first", "2018-03-25")],
)
def test_eight_digit_dates(text, order, iso):
    assert normalize_date(text, order) == iso


def test_minus_between_label_and_amount_is_not_a_sign():
    assert normalize_amount("Total - 12.00")[0] == "12.00"


def test_an_absurdly_long_digit_run_does_not_crash():
    """OCR sometimes reads a barcode as one long amount."""
    value, _ = normalize_amount("1" * 60 + ".00")
    assert value is not None and value.startswith("1111")


@pytest.mark.parametrize("printed, name", [
    ("99 SPEED MART S/B (519537-X)", "99 SPEED MART S/B"),
    ("GARDENIA BAKERIES (KL) SDN BHD (139386 X)", "GARDENIA BAKERIES (KL) SDN BHD"),
    ("Dion Realties Sdn Bhd (Co. No:20154-T)", "Dion Realties Sdn Bhd"),
    ("URBAN IDEA SDN BHD (417940-M),", "URBAN IDEA SDN BHD"),
    ("ACME GmbH [HRB 12345]", "ACME GmbH"),
    ("ENTERPRISE (SETIA ALAM) SDN BHD 822737-X", "ENTERPRISE (SETIA ALAM) SDN BHD"),
    ("ACME Ltd Co. No. 01234567", "ACME Ltd"),
    # kept: part of the name, or nothing but the number
    ("MR. D.I.Y. (M) SDN BHD", "MR. D.I.Y. (M) SDN BHD"),
    ("AIK HUAT HARDWARE (SETIA ALAM) SDN BHD", "AIK HUAT HARDWARE (SETIA ALAM) SDN BHD"),
    ("7-ELEVEN (M) SDN BHD", "7-ELEVEN (M) SDN BHD"),
    ("(519537-X)", "(519537-X)"),
])
def test_a_name_loses_the_registration_number_printed_after_it(printed, name):
    assert strip_registration(printed) == name

