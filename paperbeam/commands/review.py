"""``paperbeam review``: a static HTML report of a run, to check and correct what was extracted.

The rendering lives in ``paperbeam.review.render``; this module parses
arguments and says where the report is.
"""

from __future__ import annotations

import argparse
import os

DESCRIPTION = """\
Write a static HTML report of a run that opens from the file system and
works offline: the run summary, a sortable and filterable table of documents
with each field's value and confidence (low-confidence fields and dead
letters highlighted), plots, and a page per document showing each page image
with the extracted fields' boxes drawn over it. On a document's page a person
can correct fields and export them as ground truth (DIR/truth/<stem>.json) for
`paperbeam train` and `paperbeam evaluate`.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "review",
        help="write an HTML report of a run, with page images, field boxes and corrections",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("records", metavar="RECORDS",
                   help="the --output directory of `paperbeam run`, or a records .jsonl file or quoted glob")
    p.add_argument("--out", "-o", default=None,
                   help="directory for the report (default: RECORDS/review for a run directory)")
    p.add_argument("--dead-letters", default=None, help="dead letters .jsonl file or glob (default: beside the records)")
    p.add_argument("--summary", default=None, help="the run's summary.json (default: beside the records)")
    p.add_argument("--low-confidence", type=float, default=0.5,
                   help="fields with a confidence below this are highlighted (0-1, default 0.5)")
    p.add_argument("--dpi", type=int, default=100, help="resolution of the page images made from PDFs (default 100)")
    p.add_argument("--pdf-password-file", help="file holding the password for encrypted PDFs, to draw their pages")
    p.set_defaults(func=run)


def run(args, extra) -> int:
    from paperbeam.errors import ConfigError, ExitCode
    from paperbeam.review.render import load_run, render_report

    out = args.out
    if out is None:
        if not os.path.isdir(args.records):
            raise ConfigError("Give --out DIR for the report when RECORDS is a file or a glob.")
        out = os.path.join(args.records, "review")
    from paperbeam.pipelines.options import read_password_file

    password = read_password_file(args.pdf_password_file)
    run_data = load_run(args.records, args.dead_letters, args.summary)
    index = render_report(run_data, out, dpi=args.dpi, low_confidence=args.low_confidence, pdf_password=password)
    print(f"review: {len(run_data.records)} documents, {len(run_data.dead_letters)} dead letters -> {index}")
    return int(ExitCode.OK)
