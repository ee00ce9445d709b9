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

Exit codes (for schedulers):
  0 success: every input became a record
  5 success with dead letters, under --max-dead-letter-ratio (see dead_letters-*.jsonl)
  3 partial: the dead-letter ratio passed --max-dead-letter-ratio
  2 configuration error: nothing was processed
  4 already running: another run holds the ledger's lock; this one did nothing
  1 internal error (a bug; the trace is on stderr)
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "run",
        help="run the extraction job over files",
        description="Read documents (PDF, scans, photos), OCR where needed, extract fields, write JSON Lines records.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--input", "-i", help="a file, a directory (read recursively) or a glob; gs:// and s3:// with the matching extra (or give --source)")
    p.add_argument("--output", "-o", required=True, help="directory for records, dead letters and summary.json (created if missing)")
    p.add_argument("--runner", default="direct", help="direct (default: this machine, one worker process per core), dask, flink, spark, dataflow, or a Beam runner name")
    p.add_argument("--workers", type=int, default=0, help="worker processes for the direct runner (default 0 = one per core)")
    p.add_argument("--schema", help="YAML file declaring the fields to extract (default: the invoice/receipt schema)")
    p.add_argument("--ocr", dest="ocr_engine", default="tesseract", help="OCR engine: a name from `paperbeam plugins` (default tesseract)")
    p.add_argument("--lang", dest="ocr_lang", default="eng", help="OCR languages, tesseract style: eng, eng+deu (default eng)")
    p.add_argument("--psm", dest="ocr_psm", type=int, default=None, help="tesseract page segmentation mode (default: chosen per page)")
    p.add_argument("--extractor", default="rules", help="field extractor: a name from `paperbeam plugins` (default rules)")
    p.add_argument("--model", dest="model_path", default=None, metavar="DIR",
                   help="layout model folder (`paperbeam train` output) for --extractor model or auto (default: the model shipped in the package)")
    p.add_argument("--date-order", default="day-first", choices=["day-first", "month-first", "year-first"], help="how to read ambiguous dates like 03/04/2024 (default day-first)")
    p.add_argument("--dpi", type=int, default=300, help="resolution at which PDF pages without a usable text layer are rasterised for OCR (default 300)")
    p.add_argument("--force-ocr", action="store_true", help="OCR every page, even those with a usable text layer")
    p.add_argument("--emit-words", action="store_true", help="include every page's words with boxes in the records (large)")
    p.add_argument("--max-dead-letter-ratio", type=float, default=1.0, help="exit with code 3 when more than this share of inputs become dead letters (0-1, default 1 = never)")
    p.add_argument("--max-pages", type=int, default=5000, help="refuse documents with more pages (default 5000)")
    p.add_argument("--max-pixels", type=int, default=200_000_000, help="refuse page images larger than this many pixels (default 200,000,000)")
    p.add_argument("--max-file-bytes", type=int, default=500 * 1024 * 1024, help="refuse files larger than this (default 500 MiB)")
    p.add_argument("--ocr-timeout", type=float, default=300.0, help="seconds before OCR of one page is stopped and its OCR process killed (default 300)")
    p.add_argument("--max-document-seconds", type=float, default=3600.0, help="refuse a document whose pages take longer than this to read, in seconds (default 3600)")
    p.add_argument("--pdf-password-file", help="file holding the password for encrypted PDFs (never put a password on the command line)")
    runners = p.add_argument_group("runners", "where the job runs (any other Beam option, e.g. --project, passes through)")
    runners.add_argument("--dask-address", metavar="ADDRESS", help="--runner dask: the scheduler, tcp://HOST:8786 (default: a local cluster, one worker process per core)")
    runners.add_argument("--flink-master", metavar="HOST:PORT", help="--runner flink: Flink's REST address HOST:PORT (e.g. localhost:8081)")
    runners.add_argument("--flink-job-server-jar", metavar="JAR", help="--runner flink: a local beam-runners-flink job-server jar, so nothing is fetched from Maven")
    runners.add_argument("--job-endpoint", metavar="HOST:PORT", help="--runner flink/portable/spark: a running Beam job server HOST:PORT (deploy/flink starts one on localhost:8099)")
    runners.add_argument("--sdk-worker-pool", metavar="HOST:PORT", help="--runner flink/portable/spark: Python SDK workers built from our Dockerfile, HOST:PORT (e.g. localhost:50000)")
    runners.add_argument("--gpu-accelerator", metavar="HINT", help="Beam accelerator hint for the extraction step only, e.g. 'type:nvidia-tesla-t4;count:1;install-nvidia-driver' (Dataflow)")
    conn = p.add_argument_group(
        "connectors",
        "sources and sinks by URI, NAME[:LOCATION][?option=value&...]; names from `paperbeam plugins`. "
        "Secrets never go on the command line: use ?password_env=VAR or ?password_file=PATH.",
    )
    conn.add_argument("--source", metavar="URI", help="where documents come from (default files:--input): files:PATH|GLOB, "
                      "manifest:LIST.txt, zip:ARCHIVES.zip, email:MAILDIR|MBOX|*.eml; without a location, --input is used")
    conn.add_argument("--sink", metavar="URI", action="append", default=[], help="also write records here (repeatable): csv, "
                      "parquet, jsonl (in --output unless NAME:DIR), postgresql://USER@HOST:PORT/DB?password_env=PGPASSWORD&table=T")
    conn.add_argument("--dead-letter-sink", metavar="URI", action="append", default=[], help="also write dead letters here "
                      "(repeatable), e.g. postgresql://USER@HOST/DB?password_file=PATH&table=paperbeam_dead_letters")
    conn.add_argument("--connectors", metavar="YAML", help="a YAML file with source, sinks and dead_letter_sink "
                      "(URIs or {uri: ..., option: value}); command-line URIs are added to it")
    p.add_argument("--json", action="store_true", help="print the summary as JSON instead of text")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (direct runner; default: only when stderr is a terminal)")
    p.add_argument("--log-format", choices=["text", "json"], default=argparse.SUPPRESS,
                   help="text (default) or json: log lines and progress as JSON objects, one per line, on stderr")
    p.add_argument("--review", nargs="?", const="", default=None, metavar="DIR",
                   help="also write the HTML review report (default DIR: OUTPUT/review)")
    nightly = p.add_argument_group("nightly runs", "see deploy/ for cron, systemd, Kubernetes and Airflow")
    nightly.add_argument("--config", metavar="YAML", help="read options from this YAML file (keys are option names); "
                         "PAPERBEAM_<OPTION> environment variables override it, the command line overrides both")
    nightly.add_argument("--incremental", action="store_true", help="process only inputs the ledger has not seen with "
                         "the same versions (paperbeam, extractor, schema, OCR); earlier nights' files stay in OUTPUT")
    nightly.add_argument("--force", action="store_true", help="with --incremental: reprocess every input")
    nightly.add_argument("--retry-dead-letters", action="store_true", help="with --incremental: reprocess inputs that were dead letters")
    nightly.add_argument("--ledger", metavar="PATH_OR_DSN", help="the ledger: a SQLite file (default OUTPUT/.paperbeam/ledger.sqlite) "
                         "or postgresql://USER@HOST/DB?password_file=FILE; one run at a time per ledger (exit 4 otherwise)")
    nightly.add_argument("--run-report", metavar="FILE", help="also write the run report (summary.json) to FILE")
    p.set_defaults(func=run, accepts_extra=True)
    from paperbeam.nightly.config import defer_defaults

    defer_defaults(p)  # last: --config, the environment and the defaults fill what the command line did not give


def connector_specs(args) -> dict:
    """Source, sinks and dead-letter sinks as ``ConnectorSpec``s: the YAML file's, then the command line's."""
    from paperbeam.connectors.config import ConnectorSpec, load_yaml

    specs = load_yaml(args.connectors) if getattr(args, "connectors", None) else {"source": None, "sinks": [], "dead_letter_sink": None}
    if getattr(args, "source", None):
        specs["source"] = ConnectorSpec(args.source)
    sinks = list(specs["sinks"]) + [ConnectorSpec(u) for u in getattr(args, "sink", []) or []]
    dead = ([specs["dead_letter_sink"]] if specs["dead_letter_sink"] else []) + [
        ConnectorSpec(u) for u in getattr(args, "dead_letter_sink", []) or []]
    return {"source": specs["source"], "sinks": sinks, "dead_letter_sinks": dead}


def _input_from_source(args) -> None:
    """A source with a location (``--source zip:/in/*.zip``, or ``source:`` in --connectors) gives the input."""
    from paperbeam.connectors.config import options_of

    if getattr(args, "input", None) or not (getattr(args, "source", None) or getattr(args, "connectors", None)):
        return
    spec = connector_specs(args)["source"]
    if spec is not None and options_of(spec)[1]:
        args.input = options_of(spec)[1]


def _input_of(args) -> str:
    """--input, or the location in --source (what the run's input check matches)."""
    from paperbeam.connectors.config import options_of

    specs = connector_specs(args)
    location = options_of(specs["source"])[1] if specs["source"] is not None else ""
    value = location or args.input
    if not value:
        raise ConfigError("Give --input (a file, a directory or a glob) or --source NAME:LOCATION.")
    return value


def config_from_args(args):
    from paperbeam.nightly.config import resolve
    from paperbeam.pipelines.options import RunConfig, Secret, normalize_runner
    from paperbeam.schema import load_schema

    args, _ = resolve(args)  # --config and PAPERBEAM_* (a no-op when run() has resolved already)

    from paperbeam.pipelines.options import read_password_file

    password = read_password_file(args.pdf_password_file)
    normalize_runner(args.runner)
    return RunConfig(
        input=_input_of(args),
        output=os.path.abspath(args.output) if "://" not in args.output else args.output,
        runner=args.runner,
        workers=args.workers,
        schema=load_schema(args.schema),
        ocr_engine=args.ocr_engine,
        ocr_lang=args.ocr_lang,
        ocr_psm=args.ocr_psm,
        extractor=args.extractor,
        model_path=os.path.abspath(args.model_path) if args.model_path and "://" not in args.model_path else args.model_path,
        date_order=args.date_order,
        dpi=args.dpi,
        force_ocr=args.force_ocr,
        emit_words=args.emit_words,
        max_dead_letter_ratio=args.max_dead_letter_ratio,
        max_pages=args.max_pages,
        max_pixels=args.max_pixels,
        max_file_bytes=args.max_file_bytes,
        ocr_timeout=args.ocr_timeout,
        max_document_seconds=args.max_document_seconds,
        pdf_password=Secret(password),
        dask_address=args.dask_address,
        flink_master=args.flink_master,
        flink_job_server_jar=args.flink_job_server_jar,
        job_endpoint=args.job_endpoint,
        sdk_worker_pool=args.sdk_worker_pool,
        gpu_accelerator=args.gpu_accelerator,
        incremental=bool(args.incremental),
        force=bool(args.force),
        retry_dead_letters=bool(args.retry_dead_letters),
        ledger=args.ledger if not args.ledger or "://" in args.ledger else os.path.abspath(args.ledger),
        run_report=os.path.abspath(args.run_report) if args.run_report else None,
        config_file=os.path.abspath(args.config) if args.config else None,
    )


def run(args, extra) -> int:
    import json

    from paperbeam.pipelines import batch

    unknown = [a for a in extra if not a.startswith("--")]
    if unknown:
        raise ConfigError(f"Unexpected argument(s): {' '.join(unknown)}. Options start with --; see `paperbeam run --help`.")
    from paperbeam.progress import choose_mode

    from paperbeam.connectors import Connectors

    from paperbeam.nightly.config import resolve

    _input_from_source(args)  # --source zip:/in/*.zip stands for --input
    args, file_beam_args = resolve(args)  # --config nightly.yaml, then PAPERBEAM_<OPTION>, under the command line
    extra = file_beam_args + list(extra)  # Beam takes the last value: the command line's wins
    config = config_from_args(args).with_(beam_args=tuple(extra))
    specs = connector_specs(args)
    connectors = Connectors.from_specs(config, specs["source"], specs["sinks"], specs["dead_letter_sinks"])
    review_dir = None
    if args.review is not None:
        if "://" in config.output:
            raise ConfigError("--review needs a local --output directory (the report is written beside it); "
                              "run `paperbeam review` on a copy of the output instead.")
        review_dir = os.path.abspath(args.review) if args.review else os.path.join(config.output, "review")
    mode = choose_mode(args.progress, getattr(args, "log_format", "text"))
    summary = batch.run(config, extra, progress=mode, review_dir=review_dir, connectors=connectors)
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2, sort_keys=True))
    else:
        print(summary.human())
        if review_dir:
            print(f"  review: {os.path.join(review_dir, 'index.html')}")
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
    if summary.dead_letters:
        return int(ExitCode.OK_WITH_DEAD_LETTERS)  # success; some inputs need a look (dead_letters-*.jsonl)
    return int(ExitCode.OK)
