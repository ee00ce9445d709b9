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
from paperbeam.pipelines.assemble import AssembleDocuments
from paperbeam.pipelines.deadletters import DEAD
from paperbeam.pipelines.extract import ExtractFields
from paperbeam.pipelines.options import RunConfig, input_pattern, validate
from paperbeam.pipelines.runners import runner_and_options
from paperbeam.pipelines.read import ReadDocuments
from paperbeam.pipelines.read_pages import ReadPages
from paperbeam.pipelines.split import SplitPages
from paperbeam.pipelines.summary import Summary, clear_previous_output, summarize
from paperbeam.pipelines.write import WriteJsonLines

log = logging.getLogger(__name__)


def extract_records(pbegin, config: RunConfig):
    """The stages up to records: returns ``(records, dead_letters)`` PCollections."""
    docs = pbegin | "Read" >> ReadDocuments(input_pattern(config.input), config.max_file_bytes)
    split = docs.documents | "SplitPages" >> SplitPages(config.page_options())
    pages = split["pages"] | "ReadPages" >> ReadPages(config.ocr_engine, config.ocr_options(), config.page_options())
    assembled = pages | "Assemble" >> AssembleDocuments()
    extracted = assembled.documents | "ExtractFields" >> ExtractFields(config.extractor, config.schema, config.date_order)
    dead_letters = (docs[DEAD], split[DEAD], assembled[DEAD], extracted[DEAD]) | "AllDeadLetters" >> beam.Flatten()
    return extracted.records, dead_letters


def build_pipeline(pipeline: beam.Pipeline, config: RunConfig) -> None:
    records, dead_letters = extract_records(pipeline, config)
    records | "WriteRecords" >> WriteJsonLines(os.path.join(config.output, "records"), with_words=config.emit_words)
    dead_letters | "WriteDeadLetters" >> WriteJsonLines(os.path.join(config.output, "dead_letters"))


def check_plugins(config: RunConfig) -> None:
    """The engine and extractor exist and can run here: checked before any work starts."""
    engine = plugins.load("ocr_engines", config.ocr_engine)(**config.ocr_options())
    engine.check()
    plugins.load("extractors", config.extractor)


def run(config: RunConfig, beam_args: Optional[List[str]] = None) -> Summary:
    """Run the whole job; returns the summary (also written to ``summary.json``)."""
    started = time.time()
    files = validate(config)
    check_plugins(config)
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # tesseract's threads fight the pipeline's workers
    clear_previous_output(config.output)
    runner, options = runner_and_options(config, beam_args or [])
    log.info("paperbeam run %s: %d input files, runner %s", config.run_id, len(files), config.runner)
    pipeline = beam.Pipeline(runner=runner, options=options)
    build_pipeline(pipeline, config)
    result = pipeline.run()
    result.wait_until_finish()
    return summarize(config, result, len(files), started)
