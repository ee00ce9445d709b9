"""One error hierarchy. Library code raises these; only ``cli.py`` turns them
into exit codes and messages.

Two families:

* ``ConfigError`` and friends stop a run before any work starts (a missing
  input, an unwritable output, a schema with an unknown field type).
* ``DocumentError`` and its subclasses are about one input; the pipeline turns
  them into dead letters and goes on. Each message says what to do.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Exit codes a scheduler can act on. Documented in the README."""

    OK = 0  # every input became a record
    INTERNAL = 1  # a bug: the trace is on stderr
    CONFIG = 2  # the run is configured wrongly; nothing was processed
    PARTIAL = 3  # the dead-letter ratio passed --max-dead-letter-ratio
    ALREADY_RUNNING = 4  # another run holds the ledger's lock; this one did nothing
    OK_WITH_DEAD_LETTERS = 5  # success, with dead letters under --max-dead-letter-ratio


class PaperbeamError(Exception):
    """Base of every error paperbeam raises on purpose."""

    exit_code = ExitCode.INTERNAL


class ConfigError(PaperbeamError):
    """The run is configured wrongly; nothing has been processed."""

    exit_code = ExitCode.CONFIG


class AlreadyRunning(PaperbeamError):
    """Another run holds the ledger's lock; this one did nothing."""

    exit_code = ExitCode.ALREADY_RUNNING


class MissingDependency(ConfigError):
    """An optional package or system program is not installed."""

    def __init__(self, what: str, install: str):
        super().__init__(f"{what} is not installed. Install it with: {install}")


class DocumentError(PaperbeamError):
    """One input could not be processed. Becomes a dead letter, never a crash."""

    stage = "read"
    hint = "Check the file."

    def __init__(self, message: str, hint: str | None = None):
        self.detail = message
        super().__init__(f"{message} {hint or self.hint}".strip())


class EmptyDocument(DocumentError):
    hint = "The file has 0 bytes; it was probably truncated while copying. Re-export or re-copy it."


class UnsupportedFormat(DocumentError):
    hint = "paperbeam reads PDF, PNG, JPEG, TIFF, BMP, GIF and WebP; convert the file to one of these."


class CorruptDocument(DocumentError):
    hint = "The file is damaged or truncated; re-export it from its source, or repair it (e.g. `qpdf --repair in.pdf out.pdf`)."


class EncryptedDocument(DocumentError):
    hint = "The PDF is encrypted; give its password with --pdf-password-file, or export an unencrypted copy."


class LimitExceeded(DocumentError):
    """A configured limit (size, pages, pixels, time) was passed."""

    hint = "Raise the limit if the input is genuine, or split the document."


class OcrTimeout(LimitExceeded):
    """OCR of one page ran past --ocr-timeout; the OCR process was killed."""

    stage = "ocr"
    hint = ("Raise --ocr-timeout if the page is genuine (large pages at a high --dpi take longer), "
            "or lower --dpi.")


class DocumentTimeout(LimitExceeded):
    """Reading a document's pages ran past --max-document-seconds."""

    hint = "Raise --max-document-seconds if the document is genuine, or split it into smaller files."


class OcrFailed(DocumentError):
    stage = "ocr"
    hint = "The OCR engine failed on this page; check that it is installed, and the page image."


class ExtractionFailed(DocumentError):
    stage = "extract"
    hint = "This is a bug in the field extractor; please report it with the document id."
