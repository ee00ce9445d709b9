"""What a perfect word tagger could score on a run's words: the exact-match ceiling of the model.

    python bench/ceiling.py --run OUT --truth ../shared/datasets/sroie-dev --part holdout

A token classifier can only answer with a run of consecutive words (in the
reading order the model sees them, ``features.document_words``). For each
field this counts the documents where some such run, cleaned as the decoder
cleans a value and compared as ``paperbeam evaluate`` compares it, equals the
truth. It prints that share per field beside what the run's own extractor
scored, so the gap between a model and its ceiling, and between the ceiling
and a quality bar, is read from one table. ``--no-clean`` measures the raw
word runs (the ceiling before the cleaning every extractor does, ``extractors.base.finish_value``).
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def reachable(texts, truth: str, spec, clean: bool) -> bool:
    """Whether some run of consecutive ``texts`` equals ``truth`` after the evaluator's normalisation.

    Dates and amounts are tried over runs of up to six words that hold a digit (dates only where
    the run's digits resemble the truth's, as ``align`` does: dateparser is slow); text over runs
    of up to five words more than the truth has.
    """
    from rapidfuzz import fuzz

    from paperbeam.models.evaluate import comparable
    from paperbeam.models.extractors.base import finish_value

    field_type = spec.type
    goal = comparable(field_type, truth)
    if goal is None:
        return False
    typed = field_type in ("date", "money", "number")
    max_words = 6 if typed else len(truth.split()) + 5
    goal_digits = "".join(sorted(c for c in truth if c.isdigit()))
    n = len(texts)
    for i in range(n):
        for j in range(i + 1, min(n, i + max_words) + 1):
            value = " ".join(texts[i:j])
            if typed:
                digits = "".join(sorted(c for c in value if c.isdigit()))
                if not digits or (field_type == "date" and fuzz.ratio(digits, goal_digits) < 60):
                    continue
            try:
                if clean:
                    value, normalized, _ = finish_value(spec, value, [], "day-first")
                    value = normalized or value
                if comparable(field_type, value) == goal:
                    return True
            except (ArithmeticError, ValueError, OverflowError):
                continue
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="a `paperbeam run --emit-words` output directory")
    parser.add_argument("--truth", required=True, help="SROIE-layout or paperbeam truth directory")
    parser.add_argument("--part", choices=("all", "holdout", "rest"), default="all",
                        help="the training hold-out rule's documents (stem number mod 5 == 2), the others, or all")
    parser.add_argument("--no-clean", action="store_true", help="compare raw word runs, without value cleaning")
    args = parser.parse_args()

    from paperbeam.models.evaluate import document_stem, evaluate, load_predictions, load_truth
    from paperbeam.models.layout.features import document_words
    from paperbeam.models.layout.train import is_validation
    from paperbeam.records import Record
    from paperbeam.schema import INVOICE

    truth = load_truth(args.truth)
    records = load_predictions(args.run)
    keep = {"all": lambda s: True, "holdout": is_validation, "rest": lambda s: not is_validation(s)}[args.part]
    records = [r for r in records if keep(document_stem(r["source_uri"]))]
    stems = {document_stem(r["source_uri"]) for r in records}
    hits = {f: 0 for f in truth.field_types}
    support = {f: 0 for f in truth.field_types}
    for raw in records:
        rec = Record.from_dict(raw)
        texts = [w.word.text for w in document_words(rec)]
        values = truth.documents.get(document_stem(rec.source_uri)) or {}
        for name in truth.field_types:
            if values.get(name) in (None, ""):
                continue
            support[name] += 1
            hits[name] += reachable(texts, str(values[name]), INVOICE.field(name), not args.no_clean)
    report = evaluate(records, {k: v for k, v in truth.documents.items() if k in stems}, truth.field_types)
    print(f"{len(records)} documents ({args.part}); ceiling = share of values some run of words equals"
          f"{' (raw words)' if args.no_clean else ' (after value cleaning)'}")
    print(f"{'field':<18}{'ceiling':>9}{'run F1':>9}")
    ceilings = []
    for name in truth.field_types:
        if not support[name]:
            continue
        c = hits[name] / support[name]
        ceilings.append(c)
        print(f"{name:<18}{c:>9.3f}{report.fields[name].f1:>9.3f}")
    print(f"{'mean':<18}{sum(ceilings) / len(ceilings):>9.3f}"
          f"{sum(report.fields[n].f1 for n in truth.field_types if support[n]) / len(ceilings):>9.3f}")


if __name__ == "__main__":
    main()
