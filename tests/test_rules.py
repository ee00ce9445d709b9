"""The rule extractor on Documents built from Words with known boxes (no OCR)."""

from __future__ import annotations

import pytest

from paperbeam.models.extractors.base import union_box
from paperbeam.models.extractors.rules import RuleExtractor
from paperbeam.records import SOURCE_TEXT_LAYER, Document, Page, Word
from paperbeam.schema import INVOICE

import fixtures as F


def _page(number, layout, words=None):
    return Page(doc_id="d", page_number=number, width=layout.size[0], height=layout.size[1], unit="pt",
                source=SOURCE_TEXT_LAYER, words=words if words is not None else F.layout_words(layout))


def _doc(*pages):
    return Document(id="d", uri="mem://invoice", media_type="application/pdf", pages=list(pages))


def _box_of(*texts):
    """The union box of the given words as the layout places them."""
    boxes = dict(F.word_boxes(F.INVOICE))
    return union_box([Word(t, boxes[t]) for t in texts])


@pytest.fixture(scope="module")
def fields():
    return RuleExtractor(INVOICE).extract(_doc(_page(1, F.INVOICE)))


def test_every_default_field_is_found_with_page_and_box(fields):
    assert set(fields) == set(INVOICE.names)
    for name, f in fields.items():
        assert f.page == 1, name
        assert f.bbox is not None, name
        assert 0 < f.confidence <= 1, name
        assert f.extractor == "rules"


def test_vendor_name(fields):
    assert fields["vendor_name"].value == F.VENDOR
    assert fields["vendor_name"].bbox == pytest.approx(_box_of("ACME", "GmbH"))


def test_vendor_address(fields):
    value = fields["vendor_address"].value
    assert value.index("Hauptstrasse 12") < value.index("10115 Berlin") < value.index("Germany")
    assert "Tel" not in value and "Northwind" not in value
    assert fields["vendor_address"].bbox == pytest.approx(_box_of("Hauptstrasse", "12", "10115", "Berlin", "Germany"))


def test_document_number(fields):
    assert fields["document_number"].value == F.INVOICE_NUMBER
    assert fields["document_number"].bbox == pytest.approx(_box_of(F.INVOICE_NUMBER))


def test_document_date_is_not_the_due_date(fields):
    assert fields["document_date"].normalized == "2018-10-19"
    assert fields["document_date"].bbox == pytest.approx(_box_of(F.INVOICE_DATE))
    assert fields["due_date"].normalized == "2018-11-18"
    assert fields["due_date"].bbox == pytest.approx(_box_of(F.DUE_DATE))


def test_total_is_not_the_subtotal(fields):
    total = fields["total_amount"]
    assert total.normalized == "1234.56"
    assert total.value == F.TOTAL  # currency stripped from the value
    box = total.bbox
    x0, top, x1, bottom = _box_of(F.TOTAL)
    assert box[0] <= x0 and box[2] >= x1 and box[1] <= top + 0.5 and box[3] >= bottom - 0.5


def test_tax(fields):
    assert fields["tax_amount"].normalized == "197.11"
    assert fields["tax_amount"].bbox == pytest.approx(_box_of(F.TAX))


def test_currency(fields):
    assert fields["currency"].normalized == "EUR"


def test_fields_on_a_later_page_name_that_page():
    """Page 1 is a cover letter; the invoice is page 2: fields say page 2 with page-2 boxes."""
    cover = F.Layout(F.A4, (F.Text(50, 70, "Covering letter", 12), F.Text(50, 100, "Please find our invoice attached.")))
    fields = RuleExtractor(INVOICE).extract(_doc(_page(1, cover), _page(2, F.INVOICE)))
    for name in ("total_amount", "tax_amount", "document_number", "document_date"):
        assert fields[name].page == 2, name
    assert fields["total_amount"].normalized == "1234.56"
    assert fields["document_number"].bbox == pytest.approx(_box_of(F.INVOICE_NUMBER))


def test_subtotal_larger_than_total_is_still_not_the_total():
    """With a discount the subtotal is the larger number; the labelled total must still win."""
    layout = F.Layout(F.A4, (
        F.Text(50, 70, "Bright Paper Ltd", 16),
        F.Text(340, 300, "Subtotal"), F.Text(545, 300, "1,500.00", align="right"),
        F.Text(340, 315, "Discount"), F.Text(545, 315, "-265.44", align="right"),
        F.Text(340, 335, "Total", 12), F.Text(545, 335, "1,234.56", 12, "right"),
    ))
    fields = RuleExtractor(INVOICE).extract(_doc(_page(1, layout)))
    assert fields["total_amount"].normalized == "1234.56"


def test_month_first_date_order():
    layout = F.Layout(F.A4, (F.Text(50, 70, "Bright Paper Inc", 16), F.Text(340, 120, "Date: 10/19/2018")))
    fields = RuleExtractor(INVOICE, date_order="month-first").extract(_doc(_page(1, layout)))
    assert fields["document_date"].normalized == "2018-10-19"


def test_nothing_to_find_gives_no_fields():
    assert RuleExtractor(INVOICE).extract(_doc(_page(1, F.INVOICE, words=[]))) == {}


def _receipt(*rows):
    """A narrow receipt: (label, amount) rows from y=300 down."""
    texts = [F.Text(20, 60, "Kedai Runcit Maju", 14)]
    for k, (label, amount) in enumerate(rows):
        texts += [F.Text(20, 300 + 18 * k, label), F.Text(220, 300 + 18 * k, amount, align="right")]
    return F.Layout((240, 600), tuple(texts))


@pytest.mark.parametrize("rows, total", [
    # the exact total, the adjustment, the rounded total under a weaker label
    ((("Total (Inclusive of GST):", "23.26"), ("Rounding Adj:", "-0.01"), ("TOTAL:", "23.25")), "23.25"),
    # the rounded total under the rounding label itself, then the card line
    ((("Total Sales (Inclusive GST)", "RM 181.98"), ("Rounding Adjustment", "RM .02"), ("Rounding", "RM 182.00"),
      ("CREDIT", "RM 182.00")), "182.00"),
    # only the payment line carries it
    ((("Total Amount", "65.53"), ("Rounding Adj", "0.02"), ("VISA", "65.55")), "65.55"),
])
def test_cash_rounding_gives_the_rounded_total(rows, total):
    fields = RuleExtractor(INVOICE).extract(_doc(_page(1, _receipt(*rows))))
    assert fields["total_amount"].normalized == total


@pytest.mark.parametrize("rows, total", [
    # no rounding line: the exact total stays, even with a payment near it
    ((("Total", "33.92"), ("Cash", "33.95"), ("Change", "0.03")), "33.92"),
    # a rounding line, but the figure after it is the cash given and the change
    ((("Total", "33.92"), ("Rounding Adj", "-0.02"), ("Cash", "50.00"), ("Change", "16.10")), "33.92"),
    # a figure near the total after the rounding line that is not a rounded amount (0.05 steps)
    ((("Total", "33.92"), ("Rounding Adj", "0.00"), ("Points", "33.97")), "33.92"),
])
def test_rounding_needs_a_rounded_figure_after_the_rounding_line(rows, total):
    fields = RuleExtractor(INVOICE).extract(_doc(_page(1, _receipt(*rows))))
    assert fields["total_amount"].normalized == total


def test_the_vendor_name_leaves_its_registration_number_out_of_value_and_box():
    layout = F.Layout((240, 600), (F.Text(20, 40, "GARDENIA BAKERIES (KL) SDN BHD (139386 X)", 9),
                                   F.Text(20, 60, "Lot 3, Jalan Pelabur 23/1,"), F.Text(20, 75, "40300 Shah Alam"),
                                   F.Text(20, 300, "Total"), F.Text(220, 300, "12.00", align="right")))
    page = _page(1, layout)
    fields = RuleExtractor(INVOICE).extract(_doc(page))
    assert fields["vendor_name"].value == "GARDENIA BAKERIES (KL) SDN BHD"
    number = next(w for w in page.words if w.text == "(139386")
    assert fields["vendor_name"].bbox[2] <= number.bbox[0]


def test_a_name_whose_second_line_is_only_its_legal_form_is_read_whole():
    layout = F.Layout((240, 600), (F.Text(20, 40, "POPULAR BOOK", 9), F.Text(20, 55, "CO. (M) SDN BHD", 9),
                                   F.Text(20, 75, "No. 8, Jalan Kilang,"), F.Text(20, 90, "46050 Petaling Jaya"),
                                   F.Text(20, 300, "Total"), F.Text(220, 300, "12.00", align="right")))
    fields = RuleExtractor(INVOICE).extract(_doc(_page(1, layout)))
    assert fields["vendor_name"].value == "POPULAR BOOK CO. (M) SDN BHD"


def _receipt_top(*rows):
    """A narrow receipt: the shop's name, then ``rows`` one under another, and a total further down."""
    texts = [F.Text(20, 40, rows[0], 12)] + [F.Text(20, 44 + 14 * k, row) for k, row in enumerate(rows[1:], 1)]
    return F.Layout((240, 600), tuple(texts) + (F.Text(20, 300, "Total"), F.Text(220, 300, "18.00", align="right")))


@pytest.mark.parametrize("rows, address", [
    # a printed date and time above it, the owner's registration, an item line below: none is the address
    (("BANH MI CAFE", "03 Mar 2018 18:22", "Dimiliki: banh mi cafe sdn bhd 1110644-W", "No. 1 Jalan Puteri 7/10",
      "47100 Puchong Selangor", "22241 WS CUT SCISSORS 18.00"), "No. 1 Jalan Puteri 7/10 47100 Puchong Selangor"),
    # a branch name between the shop and its address, and "TAXINVOICE" glued after the postcode
    (("IKEA MALAYSIA SDN BHD", "IKEA Cheras", "No 2A Jalan Cochrane", "55100 Kuala Lumpur", "TAXINVOICE"),
     "No 2A Jalan Cochrane 55100 Kuala Lumpur"),
])
def test_an_address_leaves_out_the_lines_around_it_that_no_address_holds(rows, address):
    fields = RuleExtractor(INVOICE).extract(_doc(_page(1, _receipt_top(*rows))))
    assert fields["vendor_address"].value == address


def test_an_amount_read_with_a_gap_after_its_decimal_point_is_still_the_total():
    """OCR of receipts often reads "49. 39"; without the gap rule the total was the rounding line's 0.01."""
    fields = RuleExtractor(INVOICE).extract(_doc(_page(1, _receipt(
        ("Total RM Incl. of GST", "49. 39"), ("Rounding Adj", "0.01"), ("Total RM", "49. 40"), ("Cash", "50. 00")))))
    assert fields["total_amount"].normalized == "49.40"


@pytest.mark.parametrize("printed, name", [
    (("AIK HUAT HARDWARE", "ENTERPRISE (SETIA", "ALAM) SDN BHD", "822737-X"), "AIK HUAT HARDWARE ENTERPRISE (SETIA ALAM) SDN BHD"),
    (("LIAN CHI PU TIAN VEGETARIAN", "RESTAURANT SDN BHD"), "LIAN CHI PU TIAN VEGETARIAN RESTAURANT SDN BHD"),
    # a brand above a full name stays out of it
    (("SOLARIS", "SUN VICTORY SDN BHD"), "SUN VICTORY SDN BHD"),
])
def test_a_name_over_several_lines_runs_from_its_start_to_its_legal_form(printed, name):
    texts = tuple(F.Text(20, 40 + 15 * k, t, 9) for k, t in enumerate(printed))
    layout = F.Layout((240, 600), texts + (F.Text(20, 120, "No. 17-G, Jalan Setia Indah"), F.Text(20, 135, "40170 Shah Alam"),
                                           F.Text(20, 150, "Tel: 03-3362 3608"),
                                           F.Text(20, 300, "Total"), F.Text(220, 300, "12.00", align="right")))
    fields = RuleExtractor(INVOICE).extract(_doc(_page(1, layout)))
    assert fields["vendor_name"].value == name
    assert fields["vendor_address"].value == "No. 17-G, Jalan Setia Indah 40170 Shah Alam"


@pytest.mark.parametrize("printed, iso", [
    ("05-Jan-2017 03:17:50 PM", "2017-01-05"),  # a dash after the month's name
    ("02/JAN/2017", "2017-01-02"),
    ("REG CASHIER 18-03-201811:23", "2018-03-18"),  # OCR glued the time to the year
])
def test_receipt_dates_as_printed_and_as_read(printed, iso):
    layout = F.Layout((240, 600), (F.Text(20, 40, "KEDAI RUNCIT MAJU", 12), F.Text(20, 80, printed),
                                   F.Text(20, 300, "Total"), F.Text(220, 300, "18.00", align="right")))
    fields = RuleExtractor(INVOICE).extract(_doc(_page(1, layout)))
    assert fields["document_date"].normalized == iso


def _invoice_fields(*texts, total=("Total", "1,234.56")):
    """The rules' fields for an A4 page holding ``texts`` (the header under test) and a total further down."""
    layout = F.Layout(F.A4, tuple(texts) + (F.Text(340, 300, total[0]), F.Text(545, 300, total[1], align="right")))
    return RuleExtractor(INVOICE).extract(_doc(_page(1, layout)))


def test_the_sender_address_beside_a_bill_to_block_is_read_down_its_own_column():
    """Two blocks side by side, read in between: the vendor's address is the lines under the vendor's name."""
    fields = _invoice_fields(
        F.Text(48, 30, "INVOICE", 18), F.Text(434, 60, "Campbell and Sons", 12), F.Text(48, 62, "Bill To"),
        F.Text(48, 74, "Rhodes, Malone and Chase"), F.Text(479, 78, "541 Matthew Skyway"),
        F.Text(48, 86, "408 Anderson Green"), F.Text(460, 90, "South Danielle, DC 27516"),
        F.Text(48, 98, "Jeffreyhaven, WI 55879"), F.Text(498, 102, "001-993-879-8313"))
    assert fields["vendor_name"].value == "Campbell and Sons"
    assert fields["vendor_address"].value == "541 Matthew Skyway South Danielle, DC 27516"


@pytest.mark.parametrize("texts, address", [
    # a window envelope's sender line: the address without the name
    ((F.Text(436, 60, "Bieri & Söhne", 18), F.Text(48, 128, "Bieri & Söhne · Scheideggerstrasse 27 · 5397 Horw", 6),
      F.Text(337, 130, "Rechnungsnr.:"), F.Text(507, 130, "RE-67429"),
      F.Text(48, 146, "Gut AG"), F.Text(48, 158, "Albrechtstrasse 57")), "Scheideggerstrasse 27 5397 Horw"),
    # the same, its middle dots read by tesseract as dashes
    ((F.Text(380, 60, "Raju, Arya and Gupta", 18),
      F.Text(40, 128, "Raju, Arya and Gupta - 14, Tripathi Ganj - Bidar 957688", 6),
      F.Text(340, 130, "Invoice No.: 202106074")), "14, Tripathi Ganj Bidar 957688"),
    # a bare phone number after the town is not part of the address
    ((F.Text(56, 62, "Little-Fuller", 14), F.Text(56, 80, "Flat 38i"), F.Text(56, 92, "Hamilton Way"),
      F.Text(56, 104, "Smithville"), F.Text(56, 116, "(0121) 496 0658")), "Flat 38i Hamilton Way Smithville"),
])
def test_invoice_sender_addresses(texts, address):
    assert _invoice_fields(*texts)["vendor_address"].value == address


def test_a_document_title_in_another_language_is_not_the_vendor():
    fields = _invoice_fields(
        F.Text(40, 52, "Martin", 9), F.Text(451, 56, "RECHNUNG", 18),
        F.Text(40, 68, "Löchelweg 2-1"), F.Text(40, 80, "86196 Eisenberg"),
        F.Text(355, 80, "Rechnungsnr.:"), F.Text(525, 80, "F633297"), total=("Gesamtbetrag", "8.479,19"))
    assert fields["vendor_name"].value == "Martin"
    assert fields["vendor_address"].value == "Löchelweg 2-1 86196 Eisenberg"


def test_a_document_number_printed_well_right_of_its_label():
    """Label and value in one row but far apart (two text blocks); an order number's label does not win."""
    fields = _invoice_fields(
        F.Text(380, 60, "Lacombe SARL", 18),
        F.Text(329, 130, "N° de facture:"), F.Text(539, 130, "F389869", align="right"),
        F.Text(329, 172, "N° de commande:"), F.Text(539, 172, "PO-389204", align="right"), total=("Total TTC", "1 234,56"))
    assert fields["document_number"].value == "F389869"
