"""A company name the model tagged over lines is read the way the rules read one (names.name_span)."""

import pytest

from paperbeam.models.layout.decode import decode
from paperbeam.schema import INVOICE
from tests.test_layout_features import LABELS, _lined_words, _probs


def _vendor(lines, tags):
    return decode(_lined_words(lines), _probs(tags), LABELS, INVOICE)["vendor_name"]


@pytest.mark.parametrize("lines, expected", [
    # The line above is a mall or a brand, the line below the company: the company is the name.
    ([["SOLARIS", "DUTAMAS"], ["SUN", "VICTORY", "SDN", "BHD"]], "SUN VICTORY SDN BHD"),
    # The name ends at its legal form: the brand under it is something else.
    ([["IKANO", "HANDEL", "SDN", "BHD"], ["IKEA"]], "IKANO HANDEL SDN BHD"),
    # A name printed over lines stays whole, as the rules join them.
    ([["POPULAR", "BOOK"], ["CO.", "(M)", "SDN", "BHD"]], "POPULAR BOOK CO. (M) SDN BHD"),
    ([["LIAN", "CHI", "PU", "TIAN", "VEGETARIAN"], ["RESTAURANT", "SDN", "BHD"]],
     "LIAN CHI PU TIAN VEGETARIAN RESTAURANT SDN BHD"),
    ([["AIK", "HUAT", "HARDWARE"], ["ENTERPRISE", "(SETIA"], ["ALAM)", "SDN", "BHD"]],
     "AIK HUAT HARDWARE ENTERPRISE (SETIA ALAM) SDN BHD"),
    ([["THE", "COFFEE", "BEAN"], ["&", "TEA", "LEAF", "(M)", "SDN.", "BHD."]], "THE COFFEE BEAN & TEA LEAF (M) SDN. BHD."),
    ([["GARDENIA", "BAKERIES"], ["(KL)", "SDN", "BHD"]], "GARDENIA BAKERIES (KL) SDN BHD"),
    # No legal form anywhere: the model's run is kept as it is.
    ([["KEDAI", "PAPAN"], ["YEW", "CHUAN"]], "KEDAI PAPAN YEW CHUAN"),
])
def test_a_name_tagged_over_lines_keeps_the_lines_of_one_name(lines, expected):
    n = sum(len(line) for line in lines)
    assert _vendor(lines, ["B-vendor_name"] + ["I-vendor_name"] * (n - 1)).value == expected


def test_the_cut_name_gets_the_box_of_its_own_words():
    lines = [["SOLARIS", "DUTAMAS"], ["SUN", "VICTORY", "SDN", "BHD"]]
    field = _vendor(lines, ["B-vendor_name"] + ["I-vendor_name"] * 5)
    assert field.bbox[1] == 20.0  # the second line's top: the mall's line is not framed


def test_a_name_that_dangles_into_the_next_line_goes_on_there_unless_that_line_is_no_name():
    lines = [["HOME", "MASTER", "HARDWARE", "&"], ["ELECTRICAL"], ["TEL:", "03-1234"]]
    tags = ["B-vendor_name", "I-vendor_name", "I-vendor_name", "I-vendor_name", "O", "O", "O"]
    assert _vendor(lines, tags).value == "HOME MASTER HARDWARE & ELECTRICAL"
    lines[1] = ["NO.", "12,", "JALAN"]  # an address, with digits: not part of the name
    assert _vendor(lines, tags + ["O"] * 2).value == "HOME MASTER HARDWARE &"


def test_a_name_on_one_line_is_never_cut():
    lines = [["MYDIN", "MART", "SDN", "BHD", "EXPRESS"]]
    assert _vendor(lines, ["B-vendor_name"] + ["I-vendor_name"] * 4).value == "MYDIN MART SDN BHD EXPRESS"


def test_the_dots_between_a_sender_lines_parts_are_no_part_of_its_address():
    words = _lined_words([["Hauptstr.", "1", "·", "10115", "Berlin"]])
    tags = ["B-vendor_address"] + ["I-vendor_address"] * 4
    assert decode(words, _probs(tags), LABELS, INVOICE)["vendor_address"].value == "Hauptstr. 1 10115 Berlin"


def test_a_label_the_name_run_starts_with_is_no_part_of_the_name():
    lines = [["OWN", "BY:", "CHEF", "LEE", "SDN", "BHD"]]
    assert _vendor(lines, ["B-vendor_name"] + ["I-vendor_name"] * 5).value == "CHEF LEE SDN BHD"
    lines = [["TEL:"]]  # a run that is nothing but a label keeps it: there is no name to leave
    assert _vendor(lines, ["B-vendor_name"]).value == "TEL:"
