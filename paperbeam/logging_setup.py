"""How paperbeam logs: ``--log-format text`` for people, ``json`` for machines.

JSON is one object per line (``ts``, ``level``, ``logger``, ``message``, and
``exc`` with the trace when there is one), the same shape the progress
reporter writes, so a log shipper reads both from stderr.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Optional, TextIO

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(record.created))
            + f".{int(record.msecs):03d}" + time.strftime("%z", time.localtime(record.created)),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (it may be swapped, e.g. by test capture)."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


# Warnings Beam prints on every run that say nothing about the user's job: an
# optional GCP client library that is absent, and a worker directory the
# direct runner never uses. Shown again at DEBUG.
BENIGN_BEAM_WARNINGS = ("apitools not found", "No semi_persistent_directory found")


class _BenignBeamWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if logging.getLogger().getEffectiveLevel() <= logging.DEBUG:
            return True
        message = record.getMessage()
        return not any(text in message for text in BENIGN_BEAM_WARNINGS)


def configure(level: str = "WARNING", fmt: str = "text", stream: Optional[TextIO] = None) -> logging.Handler:
    """Replace the root logger's handlers with one writing ``fmt`` to ``stream`` (stderr)."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {FORMATS}, not {fmt!r}")
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(_BenignBeamWarnings())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
