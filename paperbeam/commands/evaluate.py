"""``paperbeam evaluate``: score records against ground truth, per field.

The scoring lives in ``paperbeam.models.evaluate``; this module only parses
arguments, prints the table and writes the JSON report.
"""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Score extracted records against ground truth: per field precision, recall and
F1 on exact match after normalisation (dates as ISO dates, amounts as
decimals, text case-folded), and the mean edit similarity (1 - normalised
Levenshtein distance) so near-misses show. Predictions match truth documents
by file-name stem (img/001.jpg <-> key/001.json).
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="score records against ground truth (precision, recall, F1, edit similarity)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--predictions", required=True, metavar="RECORDS",
        help="a records .jsonl file, a quoted glob, or the output directory of `paperbeam run`",
    )
    p.add_argument(
        "--truth", required=True, metavar="TRUTH",
        help="a SROIE-layout directory (key/NNN.json) or a paperbeam truth directory (truth/<stem>.json)",
    )
    p.add_argument(
        "--format", choices=["paperbeam", "sroie"], default=None,
        help="the truth format (default: detected; a key/ directory means sroie)",
    )
    p.add_argument("--json", metavar="OUT", default=None, help="also write the report as JSON to OUT")
    p.add_argument(
        "--date-order", choices=["day-first", "month-first"], default="day-first",
        help="how to read ambiguous printed dates such as 03/04/2019 (default day-first)",
    )
    p.set_defaults(func=run)


def run(args, extra) -> int:
    import json
    import os

    from paperbeam.errors import ConfigError
    from paperbeam.models.evaluate import evaluate, load_predictions, load_truth

    truth = load_truth(args.truth, args.format)
    predictions = load_predictions(args.predictions)
    report = evaluate(predictions, truth.documents, truth.field_types, date_order=args.date_order)
    report.meta = {"predictions": args.predictions, "truth": args.truth, "format": truth.format}
    print(report.format_table())
    if args.json:
        try:
            parent = os.path.dirname(os.path.abspath(args.json))
            os.makedirs(parent, exist_ok=True)
            with open(args.json, "w", encoding="utf-8") as fh:
                json.dump(report.to_dict(), fh, ensure_ascii=False, indent=2)
                fh.write("\n")
        except OSError as exc:
            raise ConfigError(f"Cannot write the JSON report to {args.json}: {exc}. Choose a writable path.")
        print(f"\nreport written to {args.json}")
    return 0
