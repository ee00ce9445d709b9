"""Turning an error about one input into a dead letter.

Every stage routes bad inputs to a ``dead_letters`` tagged output through
``to_dead_letter``; nothing is swallowed. An error we did not foresee still
becomes a dead letter (so one bad scan never kills a nightly run), but its
message says it is a bug, with the exception class, so it gets reported.
"""

from __future__ import annotations

import logging

import apache_beam as beam
from apache_beam.metrics import Metrics

from paperbeam.errors import DocumentError
from paperbeam.records import DeadLetter

DEAD = "dead_letters"

log = logging.getLogger(__name__)


def to_dead_letter(exc: BaseException, uri: str, stage: str, doc_id=None, page=None) -> DeadLetter:
    if isinstance(exc, DocumentError):
        message = str(exc)
        stage = getattr(exc, "stage", stage) if stage == "read" else stage
    else:
        message = (
            f"Unexpected {type(exc).__name__} while processing this document at the {stage} stage: "
            f"{str(exc)[:200]}. This is a bug in paperbeam or a library it uses; please report it."
        )
    # The message names the problem, never the document's text; the URI is logged at DEBUG only.
    log.warning("dead letter at %s stage: %s", stage, type(exc).__name__)
    log.debug("dead letter for %s: %s", uri, message)
    Metrics.counter("paperbeam.dead_letters", f"{stage}.{type(exc).__name__}").inc()
    Metrics.counter("paperbeam", "dead_letters").inc()
    return DeadLetter(source_uri=uri, stage=stage, error=type(exc).__name__, message=message, doc_id=doc_id, page=page)


def dead(exc: BaseException, uri: str, stage: str, doc_id=None, page=None):
    """A tagged output for the dead-letter collection."""
    return beam.pvalue.TaggedOutput(DEAD, to_dead_letter(exc, uri, stage, doc_id, page))
