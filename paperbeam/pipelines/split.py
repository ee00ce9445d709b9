"""Stage 2, Split: one document becomes one ``PageRef`` per page, then a
Reshuffle, so the pages of a long document fan out across workers instead of
being read one after another on the worker that opened the file.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from paperbeam.models.pages import PageOptions, count_pages
from paperbeam.pipelines.deadletters import DEAD, dead
from paperbeam.records import PageRef, SourceDocument


def split_pages(doc: SourceDocument, options: PageOptions):
    n = count_pages(doc.data, doc.media_type, options)
    for number in range(1, n + 1):
        yield PageRef(doc.id, doc.uri, doc.media_type, number, n, dict(doc.metadata))


class _SplitFn(beam.DoFn):
    def __init__(self, options: PageOptions):
        self.options = options
        self.pages = Metrics.counter("paperbeam", "pages")

    def process(self, doc: SourceDocument):
        try:
            refs = list(split_pages(doc, self.options))
        except Exception as exc:  # noqa: BLE001 - every failure becomes a dead letter
            yield dead(exc, doc.uri, "split", doc.id)
            return
        self.pages.inc(len(refs))
        yield from refs


class SplitPages(beam.PTransform):
    """``SourceDocument`` -> ``PageRef`` per page (reshuffled) and dead letters."""

    def __init__(self, options: PageOptions):
        super().__init__()
        self.options = options

    def expand(self, documents):
        split = documents | "Split" >> beam.ParDo(_SplitFn(self.options)).with_outputs(DEAD, main="pages")
        pages = split.pages | "FanOut" >> beam.Reshuffle()
        return {"pages": pages, DEAD: split[DEAD]}
