"""Run configuration, checked before any work starts, and the Beam options it implies.

``RunConfig`` is everything the pipeline's stages need: small, picklable, with
no open handles; secrets are wrapped in ``Secret`` so they never print.
``validate()`` fails in a second with a message that says what to fix, so a
typo never costs an hour of OCR.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field, replace
from typing import List, Optional

from paperbeam.errors import ConfigError
from paperbeam.models.pages import PageOptions
from paperbeam.schema import INVOICE, Schema

RUNNER_ALIASES = {
    "direct": "direct",
    "directrunner": "direct",
    "dask": "dask",
    "daskrunner": "dask",
    "flink": "FlinkRunner",
    "flinkrunner": "FlinkRunner",
    "spark": "SparkRunner",
    "sparkrunner": "SparkRunner",
    "dataflow": "DataflowRunner",
    "dataflowrunner": "DataflowRunner",
    "portable": "PortableRunner",
    "portablerunner": "PortableRunner",
}


class Secret:
    """A value that never shows itself in a repr, a log line or a report."""

    def __init__(self, value: Optional[str]):
        self._value = value

    def get(self) -> Optional[str]:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret(None)"

    __str__ = __repr__


def read_password_file(path: Optional[str]) -> Optional[str]:
    """The password held in ``--pdf-password-file``, or None when no file is given.

    The path is not echoed on error: argparse accepts ``--pdf-password X`` as an
    abbreviation of ``--pdf-password-file``, so the "path" may be a password.
    """
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip("\r\n")
    except OSError as exc:
        raise ConfigError(
            f"Cannot read the --pdf-password-file: {exc.strerror}. Give the path of a file "
            "that holds the password (never the password itself)."
        )


@dataclass
class RunConfig:
    input: str
    output: str
    runner: str = "direct"
    workers: int = 0  # 0 = one per core
    schema: Schema = INVOICE
    ocr_engine: str = "tesseract"
    ocr_lang: str = "eng"
    ocr_psm: Optional[int] = None
    extractor: str = "rules"
    model_path: Optional[str] = None  # a layout model folder for the model/auto extractors (None: the shipped one)
    date_order: str = "day-first"
    dpi: int = 300
    force_ocr: bool = False
    emit_words: bool = False
    max_dead_letter_ratio: float = 1.0
    max_pages: int = 5000
    max_pixels: int = 200_000_000
    max_file_bytes: int = 500 * 1024 * 1024
    ocr_timeout: float = 300.0
    max_document_seconds: float = 3600.0
    pdf_password: Secret = field(default_factory=lambda: Secret(None))
    # Runner-specific (paperbeam/pipelines/runners.py); any other Beam option passes through untouched.
    dask_address: Optional[str] = None  # tcp://HOST:8786; None = a local cluster, one process per core
    flink_master: Optional[str] = None  # HOST:PORT of Flink's REST endpoint
    flink_job_server_jar: Optional[str] = None  # a local Beam Flink job-server jar, for sites without Maven
    job_endpoint: Optional[str] = None  # HOST:PORT of a running Beam job server
    sdk_worker_pool: Optional[str] = None  # HOST:PORT of Python SDK workers (EXTERNAL environment)
    gpu_accelerator: Optional[str] = None  # Beam accelerator hint for the extraction step only
    # Nightly runs (paperbeam/nightly): --incremental, the ledger, the report.
    incremental: bool = False  # skip inputs the ledger has with the same versions
    force: bool = False  # with incremental: reprocess every input
    retry_dead_letters: bool = False  # with incremental: reprocess inputs that were dead letters
    ledger: Optional[str] = None  # a SQLite path or a postgresql:// URL; None = OUT/.paperbeam/ledger.sqlite
    run_report: Optional[str] = None  # also write the run report (summary.json) here
    config_file: Optional[str] = None  # the --config file the options came from, if any
    beam_args: tuple = ()  # the Beam options passed through, for the report only
    input_files: Optional[tuple] = None  # ((uri, size), ...) to read instead of matching `input` (set by the driver)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def page_options(self) -> PageOptions:
        return PageOptions(
            dpi=self.dpi,
            force_ocr=self.force_ocr,
            pdf_password=self.pdf_password.get(),
            max_pixels=self.max_pixels,
            max_pages=self.max_pages,
            ocr_timeout=self.ocr_timeout,
            max_document_seconds=self.max_document_seconds,
        )

    def ocr_options(self) -> dict:
        return {"lang": self.ocr_lang, "psm": self.ocr_psm, "timeout": self.ocr_timeout}

    def effective_workers(self) -> int:
        return self.workers or os.cpu_count() or 1

    def to_report(self) -> dict:
        """The effective configuration, secrets masked: goes into summary.json."""
        return {
            "input": self.input,
            "output": self.output,
            "runner": self.runner,
            "workers": self.effective_workers(),
            "schema": self.schema.name,
            "ocr_engine": self.ocr_engine,
            "ocr_lang": self.ocr_lang,
            "ocr_psm": self.ocr_psm,
            "model_path": self.model_path,
            "extractor": self.extractor,
            "date_order": self.date_order,
            "dpi": self.dpi,
            "force_ocr": self.force_ocr,
            "emit_words": self.emit_words,
            "max_dead_letter_ratio": self.max_dead_letter_ratio,
            "max_pages": self.max_pages,
            "max_pixels": self.max_pixels,
            "max_file_bytes": self.max_file_bytes,
            "ocr_timeout": self.ocr_timeout,
            "max_document_seconds": self.max_document_seconds,
            "pdf_password": "***" if self.pdf_password else None,
            "dask_address": self.dask_address,
            "flink_master": self.flink_master,
            "flink_job_server_jar": self.flink_job_server_jar,
            "job_endpoint": self.job_endpoint,
            "sdk_worker_pool": self.sdk_worker_pool,
            "gpu_accelerator": self.gpu_accelerator,
            "incremental": self.incremental,
            "force": self.force,
            "retry_dead_letters": self.retry_dead_letters,
            "ledger": _mask_url(self.ledger),
            "run_report": self.run_report,
            "config_file": self.config_file,
            "beam_args": _mask_beam_args(self.beam_args),
        }

    def with_(self, **changes) -> "RunConfig":
        return replace(self, **changes)


def _mask_url(value: Optional[str]) -> Optional[str]:
    """A URL's password replaced by ***; anything else unchanged."""
    from paperbeam.nightly.ledger import mask

    return mask(value)


SECRET_WORDS = ("password", "secret", "token", "credential", "private_key", "access_key")


def _mask_beam_args(args) -> List[str]:
    """Beam options as given, with the value of any option whose name looks secret masked."""
    out: List[str] = []
    mask_next = False
    for arg in map(str, args or ()):
        name, eq, value = arg.partition("=")
        secret = name.startswith("-") and any(w in name.lower() for w in SECRET_WORDS)
        if mask_next and not arg.startswith("-"):
            out.append("***")
        elif eq and secret:
            out.append(f"{name}=***")
        elif eq and "://" in value:
            out.append(f"{name}={_mask_url(value)}")
        else:
            out.append(arg)
        mask_next = secret and not eq
    return out


def normalize_runner(name: str) -> str:
    key = name.strip().lower()
    if key in RUNNER_ALIASES:
        return RUNNER_ALIASES[key]
    if name.endswith("Runner"):
        return name  # any Beam runner class name passes straight through
    raise ConfigError(f"Unknown runner '{name}'. Use one of: direct, dask, flink, spark, dataflow, portable, or a Beam runner name.")


def input_pattern(path: str) -> str:
    """A directory means every file below it; anything else is a file or a glob."""
    if "://" not in path and os.path.isdir(path):
        return os.path.join(os.path.abspath(path), "**")
    if "://" not in path and not any(c in path for c in "*?["):
        return os.path.abspath(path)
    return path if "://" in path else os.path.abspath(path)


def match_inputs(pattern: str) -> List[str]:
    """The files the pattern names; a ConfigError when there are none."""
    from apache_beam.io.filesystems import FileSystems

    try:
        result = FileSystems.match([pattern])[0]
    except Exception as exc:  # noqa: BLE001 - Beam raises BeamIOError and friends
        raise ConfigError(f"Cannot list the input {pattern}: {exc}. Check the path and your access to it.")
    paths = sorted(m.path for m in result.metadata_list if not _is_dir(m.path))
    if not paths:
        raise ConfigError(f"No input files match {pattern}. Check --input (a file, a directory or a glob).")
    return paths


def _is_dir(path: str) -> bool:
    return "://" not in path and os.path.isdir(path)


def check_output(output: str) -> None:
    """The output directory exists (or is created) and is writable."""
    if "://" in output:
        return  # object stores are checked by the runner when it writes
    try:
        os.makedirs(output, exist_ok=True)
        probe = os.path.join(output, f".paperbeam-write-test-{uuid.uuid4().hex[:8]}")
        with open(probe, "w") as fh:
            fh.write("ok")
        os.remove(probe)
    except OSError as exc:
        raise ConfigError(f"Cannot write to the output directory {output}: {exc.strerror}. Choose a writable --output.")


def validate(config: RunConfig) -> List[str]:
    """Check everything that can be checked before the pipeline starts; returns the input files."""
    if not 0.0 <= config.max_dead_letter_ratio <= 1.0:
        raise ConfigError("--max-dead-letter-ratio must be between 0 and 1.")
    if config.dpi < 50 or config.dpi > 1200:
        raise ConfigError("--dpi must be between 50 and 1200.")
    if config.date_order not in ("day-first", "month-first", "year-first"):
        raise ConfigError("--date-order must be day-first, month-first or year-first.")
    for flag, value in (("--max-pages", config.max_pages), ("--max-pixels", config.max_pixels),
                        ("--max-file-bytes", config.max_file_bytes), ("--ocr-timeout", config.ocr_timeout),
                        ("--max-document-seconds", config.max_document_seconds)):
        if value <= 0:
            raise ConfigError(f"{flag} must be a positive number, not {value}.")
    if config.workers < 0:
        raise ConfigError("--workers must be 0 (one per core) or more.")
    files = match_inputs(input_pattern(config.input))
    check_output(config.output)
    return files
