"""The batch pipeline: Read -> Split -> Read pages (text layer or OCR) ->
Assemble -> Extract -> Write, with every stage's dead letters gathered into
one output.

``build_pipeline`` wires the stages onto a Beam pipeline (tests use it with
TestPipeline); ``run`` checks the configuration, picks the runner, runs, and
writes ``summary.json``.
"""

from __future__ import annotations

import logging
import os
import time
from typing import List, Optional

import apache_beam as beam

from paperbeam import plugins
from paperbeam.errors import ConfigError
from paperbeam.models.ocr.base import build_engine
from paperbeam.pipelines.assemble import AssembleDocuments
from paperbeam.pipelines.deadletters import DEAD
from paperbeam.pipelines.extract import ExtractFields
from paperbeam.pipelines.options import RunConfig, input_pattern, validate
from paperbeam.nightly.driver import Night
from paperbeam.pipelines.runners import extraction_resource_hints, runner_and_options
from paperbeam.pipelines.read import ReadDocuments
from paperbeam.pipelines.read_pages import ReadPages
from paperbeam.pipelines.split import SplitPages
from paperbeam.pipelines.summary import Summary, summarize
from paperbeam.pipelines.write import WriteJsonLines

log = logging.getLogger(__name__)


def extract_records(pbegin, config: RunConfig, source=None):
    """The stages up to records: returns ``(records, dead_letters)`` PCollections."""
    # The source: files from --input unless another one was chosen (through the registry, by name).
    read = source.transform() if source is not None else ReadDocuments(input_pattern(config.input), config.max_file_bytes, files=config.input_files)
    docs = pbegin | "Read" >> read
    split = docs.documents | "SplitPages" >> SplitPages(config.page_options())
    pages = split["pages"] | "ReadPages" >> ReadPages(config.ocr_engine, config.ocr_options(), config.page_options())
    assembled = pages | "Assemble" >> AssembleDocuments(config.max_document_seconds)
    if config.extractor in ("model", "auto"):  # the layout model, batched through Beam's RunInference
        from paperbeam.pipelines.infer import ExtractFieldsWithModel

        extract = ExtractFieldsWithModel(config.extractor, config.schema, config.date_order,
                                         {"model_path": config.model_path} if config.model_path else None)
    else:
        extract = ExtractFields(config.extractor, config.schema, config.date_order)
    # GPU workers (where the runner honours resource hints) for extraction only; OCR stays on CPU workers.
    extracted = assembled.documents | "ExtractFields" >> extract.with_resource_hints(**extraction_resource_hints(config))
    dead_letters = (docs[DEAD], split[DEAD], assembled[DEAD], extracted[DEAD]) | "AllDeadLetters" >> beam.Flatten()
    return extracted.records, dead_letters


def build_pipeline(pipeline: beam.Pipeline, config: RunConfig, connectors=None) -> None:
    """``connectors`` (a ``paperbeam.connectors.Connectors``) adds a source and sinks;
    JSON Lines in --output is always written, since the summary counts from it."""
    source = connectors.source if connectors is not None else None
    records, dead_letters = extract_records(pipeline, config, source=source)
    records | "WriteRecords" >> WriteJsonLines(os.path.join(config.output, "records"), with_words=config.emit_words)
    dead_letters | "WriteDeadLetters" >> WriteJsonLines(os.path.join(config.output, "dead_letters"))
    for i, sink in enumerate(connectors.sinks if connectors is not None else ()):
        records | f"WriteRecords[{i}:{sink.name}]" >> sink.records()
    for i, sink in enumerate(connectors.dead_letter_sinks if connectors is not None else ()):
        dead_letters | f"WriteDeadLetters[{i}:{sink.name}]" >> sink.dead_letters()


def check_plugins(config: RunConfig) -> None:
    """The engine and extractor exist and can run here: checked before any work starts."""
    engine = build_engine(plugins.load("ocr_engines", config.ocr_engine), config.ocr_options(), config.ocr_engine)
    engine.check()
    plugins.load("extractors", config.extractor)
    if config.model_path:
        from paperbeam.models.layout.model import SPEC_FILE

        if config.extractor not in ("model", "auto"):
            raise ConfigError(f"--model names a layout model, which only --extractor model or auto reads (not {config.extractor!r}).")
        if not os.path.isfile(os.path.join(config.model_path, SPEC_FILE)):
            raise ConfigError(f"{config.model_path} holds no paperbeam layout model ({SPEC_FILE} missing): "
                              "give the folder `paperbeam train --out` wrote.")


def run(config: RunConfig, beam_args: Optional[List[str]] = None, *, progress: str = "off",
        review_dir: Optional[str] = None, connectors=None) -> Summary:
    """Run the whole job; returns the summary (also written to ``summary.json``).

    ``progress``: a ``paperbeam.progress`` mode (``bar``, ``json``, ``off``,
    ``auto``); on the direct runner the pages read are counted (and kept as
    the summary's timeline) whatever the mode. ``review_dir``: also write the
    HTML review report there once the run is done.
    """
    from paperbeam.pipelines.options import normalize_runner
    from paperbeam.progress import ProgressReporter

    started = time.time()
    files = validate(config)
    check_plugins(config)
    if connectors is not None:
        connectors.precheck()  # sources and sinks: a bad password or host fails now, not after the OCR
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # tesseract's threads fight the pipeline's workers
    # Lock, recover what a killed run left, pick the inputs (all, or with --incremental those the
    # ledger has not seen with these versions) and a staging directory for the output (paperbeam/nightly).
    night = Night.start(config, files)
    reporter, finished = None, False
    try:
        work = night.work  # writes into the staging directory; reads the selected inputs
        result = None
        if night.inputs or not config.incremental:  # an unchanged night does not start Beam at all
            runner, options = runner_and_options(work, beam_args or [])
            log.info("paperbeam run %s: %d input files, runner %s", config.run_id, len(night.inputs), config.runner)
            pipeline = beam.Pipeline(runner=runner, options=options)
            build_pipeline(pipeline, work, connectors)
            # Workers of the direct runner share this machine's file system, so they can report pages read.
            reporter = ProgressReporter(len(night.inputs), mode=progress) if normalize_runner(config.runner) == "direct" else None
            if reporter is not None:
                reporter.start()
            result = pipeline.run()
            result.wait_until_finish()
        finished = True
    finally:
        if reporter is not None:
            reporter.stop()
        if not finished:
            night.release()  # the pipeline failed: unlock; the next run rolls this one back
    try:
        summary = summarize(work, result, len(night.inputs), started, timeline=reporter.timeline if reporter else None)
    except BaseException:
        night.release()
        raise
    summary = night.commit(summary)  # the ledger, then the files into place, then the report; unlocks
    if review_dir:
        from paperbeam.review.render import load_run, render_report

        render_report(load_run(config.output), review_dir, pdf_password=config.pdf_password.get())
    return summary
