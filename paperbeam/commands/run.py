"""``paperbeam run``: the batch job.

Options paperbeam does not know are handed to Beam untouched, so any Beam
pipeline option (``--temp_location``, ``--project``, ``--sdk_container_image``
...) works here as it does in any Beam program.
"""

from __future__ import annotations

import argparse
import os
import sys

from paperbeam.errors import ConfigError, ExitCode

EPILOG = """\
Any option not listed here is passed to Apache Beam as a pipeline option
(e.g. --temp_location gs://bucket/tmp --project P --region R).

Output (in --output DIR):
  records-*.jsonl       one JSON record per document
  dead_letters-*.jsonl  one per input that could not become a record, with the reason
  summary.json          counts (inputs = records + dead_letters), pages, time, versions

Exit codes: 0 success (dead letters, if any, under --max-dead-letter-ratio);
  2 configuration error (nothing was processed); 3 partial: the dead-letter
  ratio passed --max-dead-letter-ratio; 1 internal error.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "run",
        help="run the extraction job over files",
        description="Read documents (PDF, scans, photos), OCR where needed, extract fields, write JSON Lines records.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--input", "-i", required=True, help="a file, a directory (read recursively) or a glob; gs:// and s3:// with the matching extra")
    p.add_argument("--output", "-o", required=True, help="directory for records, dead letters and summary.json (created if missing)")
    p.add_argument("--runner", default="direct", help="direct (default: this machine, one worker process per core), dask, flink, spark, dataflow, or a Beam runner name")
    p.add_argument("--workers", type=int, default=0, help="worker processes for the direct runner (default 0 = one per core)")
    p.add_argument("--schema", help="YAML file declaring the fields to extract (default: the invoice/receipt schema)")
    p.add_argument("--ocr", dest="ocr_engine", default="tesseract", help="OCR engine: a name from `paperbeam plugins` (default tesseract)")
    p.add_argument("--lang", dest="ocr_lang", default="eng", help="OCR languages, tesseract style: eng, eng+deu (default eng)")
    p.add_argument("--psm", dest="ocr_psm", type=int, default=None, help="tesseract page segmentation mode (default: chosen per page)")
    p.add_argument("--extractor", default="rules", help="field extractor: a name from `paperbeam plugins` (default rules)")
    p.add_argument("--date-order", default="day-first", choices=["day-first", "month-first", "year-first"], help="how to read ambiguous dates like 03/04/2024 (default day-first)")
    p.add_argument("--dpi", type=int, default=300, help="resolution at which PDF pages without a usable text layer are rasterised for OCR (default 300)")
    p.add_argument("--force-ocr", action="store_true", help="OCR every page, even those with a usable text layer")
    p.add_argument("--emit-words", action="store_true", help="include every page's words with boxes in the records (large)")
    p.add_argument("--max-dead-letter-ratio", type=float, default=1.0, help="exit with code 3 when more than this share of inputs become dead letters (0-1, default 1 = never)")
    p.add_argument("--max-pages", type=int, default=5000, help="refuse documents with more pages (default 5000)")
    p.add_argument("--max-pixels", type=int, default=200_000_000, help="refuse page images larger than this many pixels (default 200,000,000)")
    p.add_argument("--max-file-bytes", type=int, default=500 * 1024 * 1024, help="refuse files larger than this (default 500 MiB)")
    p.add_argument("--ocr-timeout", type=float, default=300.0, help="seconds before OCR of one page is given up (default 300)")
    p.add_argument("--pdf-password-file", help="file holding the password for encrypted PDFs (never put a password on the command line)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON instead of text")
    p.set_defaults(func=run, accepts_extra=True)


def config_from_args(args):
    from paperbeam.pipelines.options import RunConfig, Secret, normalize_runner
    from paperbeam.schema import load_schema

    password = None
    if args.pdf_password_file:
        try:
            with open(args.pdf_password_file, encoding="utf-8") as fh:
                password = fh.read().strip("\r\n")
        except OSError as exc:
            raise ConfigError(f"Cannot read --pdf-password-file {args.pdf_password_file}: {exc.strerror}.")
    normalize_runner(args.runner)
    return RunConfig(
        input=args.input,
        output=os.path.abspath(args.output) if "://" not in args.output else args.output,
        runner=args.runner,
        workers=args.workers,
        schema=load_schema(args.schema),
        ocr_engine=args.ocr_engine,
        ocr_lang=args.ocr_lang,
        ocr_psm=args.ocr_psm,
        extractor=args.extractor,
        date_order=args.date_order,
        dpi=args.dpi,
        force_ocr=args.force_ocr,
        emit_words=args.emit_words,
        max_dead_letter_ratio=args.max_dead_letter_ratio,
        max_pages=args.max_pages,
        max_pixels=args.max_pixels,
        max_file_bytes=args.max_file_bytes,
        ocr_timeout=args.ocr_timeout,
        pdf_password=Secret(password),
    )


def run(args, extra) -> int:
    import json

    from paperbeam.pipelines import batch

    unknown = [a for a in extra if not a.startswith("--")]
    if unknown:
        raise ConfigError(f"Unexpected argument(s): {' '.join(unknown)}. Options start with --; see `paperbeam run --help`.")
    config = config_from_args(args)
    summary = batch.run(config, extra)
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2, sort_keys=True))
    else:
        print(summary.human())
    if not summary.accounted:
        print("paperbeam: error: inputs != records + dead letters; see summary.json. This is a bug.", file=sys.stderr)
        return int(ExitCode.INTERNAL)
    if summary.inputs and summary.dead_letter_ratio > config.max_dead_letter_ratio:
        print(
            f"paperbeam: {summary.dead_letters} of {summary.inputs} inputs are dead letters "
            f"({summary.dead_letter_ratio:.1%}), over --max-dead-letter-ratio {config.max_dead_letter_ratio:.1%}.",
            file=sys.stderr,
        )
        return int(ExitCode.PARTIAL)
    return int(ExitCode.OK)
