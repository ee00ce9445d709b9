"""Words -> windows -> words, labels -> words (alignment), word tags -> fields (decoding)."""

import numpy as np
import pytest

from paperbeam.models.layout import backbone as bb
from paperbeam.models.layout.align import align, find_spans
from paperbeam.models.layout.decode import decode
from paperbeam.models.layout.features import IGNORE, DocWord, encode, merge, normalize_box
from paperbeam.models.layout.model import bio_labels
from paperbeam.models.layout.train import is_validation
from paperbeam.records import Word
from paperbeam.schema import INVOICE

LABELS = bio_labels(INVOICE.names)
TYPES = {f.name: f.type for f in INVOICE.fields}


@pytest.fixture(scope="module")
def tokenizer():
    return bb.load_tokenizer(bb.resolve(None))


def test_boxes_are_scaled_to_0_1000_and_clamped():
    assert normalize_box((50, 100, 150, 120), 200, 400) == (250, 250, 750, 300)
    assert normalize_box((-5, 0, 999, 10), 100, 100) == (0, 0, 1000, 100)


def test_sub_tokens_share_the_word_box_and_only_the_first_carries_the_label(tokenizer):
    (win,) = encode(["TOTAL:", "RM60.30"], [(1, 2, 3, 4), (5, 6, 7, 8)], tokenizer, labels=[0, 7])
    tokens = tokenizer.convert_ids_to_tokens(win.input_ids)
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert tokens[1:3] == ["total", ":"] and win.bbox[1] == win.bbox[2] == (1, 2, 3, 4)
    assert win.word_index[1] == 0 and win.word_index[2] == -1
    assert win.labels[1] == 0 and win.labels[2] == IGNORE
    second = win.word_index.index(1)
    assert win.labels[second] == 7 and all(b == (5, 6, 7, 8) for b in win.bbox[second:-1])


def test_long_documents_are_split_into_overlapping_windows_and_merged_back(tokenizer):
    texts = [f"w{i}" for i in range(60)]
    windows = encode(texts, [(0, 0, 1, 1)] * 60, tokenizer, max_length=24, stride=6)
    assert len(windows) > 2 and all(len(w) <= 24 for w in windows)
    assert windows[1].start == windows[0].start + 22 - 6  # consecutive windows overlap by `stride` tokens
    assert {i for w in windows for i in w.word_index if i >= 0} == set(range(60))
    # each window "predicts" its own index: a word takes the window where it sits most centrally
    probs = [np.full((len(w), 3), k, dtype=np.float32) for k, w in enumerate(windows)]
    merged = merge(windows, probs, 60, 3)
    for word in range(60):
        holders = [k for k, w in enumerate(windows) if word in w.word_index]
        margins = {k: min(windows[k].word_index.index(word), len(windows[k]) - 1 - windows[k].word_index.index(word))
                   for k in holders}
        assert merged[word, 0] == max(margins, key=lambda k: (margins[k], -k))


def test_a_word_the_tokenizer_cannot_read_is_predicted_outside():
    merged = merge([], [], 2, 5)
    assert merged[:, 0].tolist() == [1.0, 1.0]


WORDS = ["INDAH", "GIFT", "&", "HOME", "RECO", "27,", "JALAN", "DEDAP", "13.", "TAMAN", "JOHOR", "JAYA,",
         "RECEIPT", "19/10/2018", "20:49:59", "SUBTOTAL", "60,31", "TOTAL", "RM", "60,30", "CASH", "70.30"]


def test_alignment_tolerates_ocr_differences_and_reports_what_it_cannot_place():
    values = {"vendor_name": "INDAH GIFT & HOME DECO", "vendor_address": "27, JALAN DEDAP 13, TAMAN JOHOR JAYA",
              "document_date": "19/10/2018", "total_amount": "60.30", "document_number": "INV-555"}
    tags, missed = align(WORDS, values, TYPES, LABELS,
                         order=["total_amount", "document_date", "document_number", "vendor_name", "vendor_address"])
    got = {}
    for w, t in zip(WORDS, tags):
        if t:
            got.setdefault(LABELS[t][2:], []).append((LABELS[t][0], w))
    assert got["total_amount"] == [("B", "60,30")]  # "60,31" (the subtotal) is not the total
    assert got["document_date"] == [("B", "19/10/2018")]
    assert [w for _, w in got["vendor_name"]] == ["INDAH", "GIFT", "&", "HOME", "RECO"]
    assert got["vendor_address"][0] == ("B", "27,") and len(got["vendor_address"]) == 7
    assert missed == ["document_number"]


def test_a_value_printed_twice_is_tagged_twice_and_fields_never_share_words():
    words = ["Total", "12.50", "Paid", "12.50"]
    spans = find_spans(words, "12.50", "money", [False] * 4)
    assert spans == [(1, 2), (3, 4)]
    assert find_spans(words, "12.50", "money", [False, True, False, True]) == []


def test_dates_in_any_printed_form_and_currency_symbols_align_to_their_normalised_labels():
    """Truth holds 2020-12-06 and AUD; the page prints 06.12.2020, 20 Feb 2017 and A$."""
    assert find_spans(["Invoice", "Date:", "06.12.2020", "Due"], "2020-12-06", "date", [False] * 4) == [(2, 3)]
    assert find_spans(["Date", "20", "Feb", "2017", "No"], "2017-02-20", "date", [False] * 5) == [(1, 4)]
    texts = ["TOTAL", "A$", "159,725.47", "paid", "by", "card"]
    tags, missed = align(texts, {"total_amount": "159725.47", "currency": "AUD"}, TYPES, LABELS)
    assert not missed
    assert [LABELS[t] for t in tags[:3]] == ["O", "B-currency", "B-total_amount"]
    tags, missed = align(["TOTAL", "EUR", "10.00"], {"currency": "GBP"}, TYPES, LABELS)
    assert missed == ["currency"]


def _probs(tags):
    p = np.full((len(tags), len(LABELS)), 0.01, dtype=np.float32)
    for k, t in enumerate(tags):
        p[k, LABELS.index(t)] = 0.9
    return p


def _words(texts):
    return [DocWord(1, Word(t, (10.0 * k, 5.0, 10.0 * k + 8, 15.0), 0.9), (0, 0, 0, 0)) for k, t in enumerate(texts)]


def test_decoding_builds_normalised_fields_with_confidence_and_box():
    texts = ["ACME", "SDN", "BHD", "Date:", "19/10/2018", "TOTAL", "RM60.30"]
    tags = ["B-vendor_name", "I-vendor_name", "I-vendor_name", "O", "B-document_date", "O", "B-total_amount"]
    fields = decode(_words(texts), _probs(tags), LABELS, INVOICE)
    assert fields["vendor_name"].value == "ACME SDN BHD" and fields["vendor_name"].bbox == (0.0, 5.0, 28.0, 15.0)
    assert fields["document_date"].normalized == "2018-10-19"
    assert fields["total_amount"].value == "60.30" and fields["total_amount"].normalized == "60.30"
    assert all(f.extractor == "model" and 0.8 < f.confidence <= 1.0 and f.page == 1 for f in fields.values())
    assert "due_date" not in fields


def test_decoding_skips_a_tagged_amount_that_does_not_parse_for_the_next_candidate():
    texts = ["TOTAL", "abc", "x", "12.00"]
    p = _probs(["O", "B-total_amount", "O", "B-total_amount"])
    p[3, LABELS.index("B-total_amount")] = 0.6  # less sure, but the only one that is an amount
    fields = decode(_words(texts), p, LABELS, INVOICE)
    assert fields["total_amount"].normalized == "12.00"


def test_a_likely_field_the_argmax_missed_is_still_proposed_with_low_confidence():
    p = _probs(["O", "O"])
    p[1, LABELS.index("B-total_amount")] = 0.4
    fields = decode(_words(["TOTAL", "9.99"]), p, LABELS, INVOICE)
    assert fields["total_amount"].normalized == "9.99" and fields["total_amount"].confidence < 0.5


def test_an_amount_printed_twice_outvotes_a_likelier_one_printed_once():
    texts = ["TOTAL", "9.00", "ROUNDED", "9.00", "CHANGE", "41.00"]
    p = _probs(["O", "B-total_amount", "O", "B-total_amount", "O", "B-total_amount"])
    p[1, LABELS.index("B-total_amount")] = p[3, LABELS.index("B-total_amount")] = 0.6
    p[5, LABELS.index("B-total_amount")] = 0.8  # the likeliest single run is the change
    fields = decode(_words(texts), p, LABELS, INVOICE)
    assert fields["total_amount"].normalized == "9.00" and fields["total_amount"].bbox[0] == 10.0
    p[5, LABELS.index("B-total_amount")] = 0.8
    p[3, LABELS.index("B-total_amount")] = 0.05  # printed twice, but tagged once: the change wins
    p[3, 0] = 0.9
    assert decode(_words(texts), p, LABELS, INVOICE)["total_amount"].normalized == "41.00"


def _lined_words(lines):
    """One DocWord per text, ``lines`` a list of lists of texts (one list per printed line)."""
    out = []
    for n, texts in enumerate(lines):
        for k, t in enumerate(texts):
            out.append(DocWord(1, Word(t, (10.0 * k, 20.0 * n, 10.0 * k + 8, 20.0 * n + 10), 0.9, line=n), (0, 0, 0, 0)))
    return out


def test_a_name_keeps_a_first_word_the_model_tagged_as_a_second_start_or_only_half_believed():
    words = _lined_words([["LIAN", "CHI", "PU", "TIAN"], ["KEDAI", "PAPAN", "YEW"]])
    p = _probs(["B-vendor_name", "B-vendor_name", "I-vendor_name", "I-vendor_name", "O", "O", "O"])
    fields = decode(words, p, LABELS, INVOICE)
    assert fields["vendor_name"].value == "LIAN CHI PU TIAN"
    p = _probs(["O", "O", "O", "O", "O", "I-vendor_name", "I-vendor_name"])
    p[4, LABELS.index("B-vendor_name")], p[4, 0] = 0.45, 0.5  # "O" wins the argmax by a hair
    assert decode(words, p, LABELS, INVOICE)["vendor_name"].value == "KEDAI PAPAN YEW"


def test_a_name_printed_twice_on_two_lines_is_not_read_as_one():
    words = _lined_words([["Gilles"], ["Gilles"], ["Invoice"]])
    fields = decode(words, _probs(["B-vendor_name", "B-vendor_name", "O"]), LABELS, INVOICE)
    assert fields["vendor_name"].value == "Gilles"


def test_the_validation_part_is_fixed_by_rule():
    assert [s for s in ("001", "002", "005", "012", "invoice-000017", "receipt-000016") if is_validation(s)] == [
        "002", "012", "invoice-000017"]


def test_a_date_glued_to_its_label_by_ocr_is_still_found():
    fields = decode(_words(["Date:19/10/2018", "x"]), _probs(["B-document_date", "O"]), LABELS, INVOICE)
    assert fields["document_date"].value == "19/10/2018" and fields["document_date"].normalized == "2018-10-19"


@pytest.mark.parametrize("texts, tags", [
    (["Total", "26", "262,71", "EUR"], ["O", "B-total_amount", "O", "O"]),  # the model tagged the first group
    (["Total", "26", "262,71", "EUR"], ["O", "O", "B-total_amount", "O"]),  # ... or the last
])
def test_an_amount_grouped_with_spaces_is_read_whole_whichever_group_was_tagged(texts, tags):
    fields = decode(_words(texts), _probs(tags), LABELS, INVOICE)
    assert fields["total_amount"].value == "26 262,71" and fields["total_amount"].normalized == "26262.71"


@pytest.mark.parametrize("texts, tags", [
    (["TOTAL", "49.", "40"], ["O", "O", "B-total_amount"]),  # OCR cut the amount after its point; the cents were tagged
    (["TOTAL", "49.", "40"], ["O", "B-total_amount", "O"]),  # ... or the whole part
    (["TOTAL", "RM49", ".40"], ["O", "O", "B-total_amount"]),  # ... or before it
])
def test_an_amount_cut_at_its_decimal_point_by_ocr_is_read_whole(texts, tags):
    fields = decode(_words(texts), _probs(tags), LABELS, INVOICE)
    assert fields["total_amount"].normalized == "49.40"


def test_an_item_count_before_an_amount_is_not_taken_for_its_whole_part():
    fields = decode(_words(["2", "12.50"]), _probs(["O", "B-total_amount"]), LABELS, INVOICE)
    assert fields["total_amount"].normalized == "12.50"


def test_a_number_on_the_next_line_is_no_thousands_group():
    words = _words(["Qty", "12", "250.00"])
    words[2] = DocWord(1, Word("250.00", (30.0, 25.0, 38.0, 35.0), 0.9, line=1), (0, 0, 0, 0))
    fields = decode(words, _probs(["O", "B-total_amount", "O"]), LABELS, INVOICE)
    assert fields["total_amount"].normalized == "12.00"


def test_a_one_line_field_does_not_bridge_noise_across_a_line_break_but_a_multi_line_one_does():
    words = _lined_words([["SOLARIS", "x"], ["SUN", "VICTORY"]])
    tags = ["I-vendor_name", "O", "I-vendor_name", "I-vendor_name"]
    assert decode(words, _probs(tags), LABELS, INVOICE)["vendor_name"].value == "SOLARIS x SUN VICTORY"  # unmeasured
    one_line = decode(words, _probs(tags), LABELS, INVOICE, multi_line=["vendor_address"])
    assert one_line["vendor_name"].value == "SUN VICTORY"
    address_tags = [t.replace("vendor_name", "vendor_address") for t in tags]
    spanning = decode(words, _probs(address_tags), LABELS, INVOICE, multi_line=["vendor_address"])
    assert spanning["vendor_address"].value == "SOLARIS x SUN VICTORY"


def test_the_fields_spanning_lines_are_learnt_from_the_training_labels():
    from paperbeam.models.layout.train import Example, multi_line_fields

    words = _lined_words([["SUN", "VICTORY"], ["LOT", "5"], ["KLANG"]])
    tags = ["B-vendor_name", "I-vendor_name", "B-vendor_address", "I-vendor_address", "I-vendor_address"]
    ex = Example("001", "s", words, [LABELS.index(t) for t in tags], [], {}, False)
    assert multi_line_fields([ex], LABELS) == ["vendor_address"]
