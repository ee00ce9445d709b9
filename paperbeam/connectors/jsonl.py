"""Sink: JSON Lines files, one record per line (the default output).

    --output DIR                 (always written: the summary counts from it)
    --sink jsonl:/other/dir?with_words=true
"""

from __future__ import annotations

import os

from paperbeam.connectors.config import as_bool, reject_unknown
from paperbeam.pipelines.write import WriteJsonLines


class JsonLinesSink:
    name = "jsonl"

    def __init__(self, output: str, with_words: bool = False):
        self.output = output
        self.with_words = with_words

    @classmethod
    def from_uri(cls, location: str, options: dict, run) -> "JsonLinesSink":
        reject_unknown(options, ("with_words",), "jsonl sink")
        output = location or run.output
        if "://" not in output:
            output = os.path.abspath(output)
        return cls(output, as_bool(options.get("with_words", getattr(run, "emit_words", False)), "with_words"))

    def precheck(self) -> None:
        from paperbeam.pipelines.options import check_output

        check_output(self.output)

    def records(self):
        return WriteJsonLines(os.path.join(self.output, "records"), with_words=self.with_words)

    def dead_letters(self):
        return WriteJsonLines(os.path.join(self.output, "dead_letters"))

    def __repr__(self) -> str:
        return f"JsonLinesSink(output={self.output!r}, with_words={self.with_words})"
