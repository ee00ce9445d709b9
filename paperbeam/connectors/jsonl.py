"""Sink: JSON Lines files, one record per line (the default output)."""

from __future__ import annotations

import os

from paperbeam.pipelines.write import WriteJsonLines


class JsonLinesSink:
    name = "jsonl"

    def __init__(self, output: str, with_words: bool = False):
        self.output = output
        self.with_words = with_words

    def precheck(self) -> None:
        from paperbeam.pipelines.options import check_output

        check_output(self.output)

    def records(self):
        return WriteJsonLines(os.path.join(self.output, "records"), with_words=self.with_words)

    def dead_letters(self):
        return WriteJsonLines(os.path.join(self.output, "dead_letters"))
