"""The ``totals-tsv`` sink: one tab-separated line per document.

It follows the sink hooks of ``paperbeam.plugins``: ``name``, ``from_uri``,
``precheck``, ``records`` and ``dead_letters`` (None: it holds no dead
letters). It keeps only plain, picklable values, so Beam can ship it to
workers.
"""

from __future__ import annotations

import glob
import os

import apache_beam as beam

from paperbeam.errors import ConfigError

COLUMNS = ("vendor_name", "document_date", "total_amount", "currency")


def tsv_line(record) -> str:
    cells = [record.id]
    for name in COLUMNS:
        f = record.fields.get(name)
        value = "" if f is None else (f.normalized or f.value or "")
        cells.append(value.replace("\t", " ").replace("\n", " "))
    return "\t".join(cells)


class TotalsTsvSink:
    name = "totals-tsv"

    def __init__(self, output: str):
        self.output = output

    @classmethod
    def from_uri(cls, location: str, options: dict, run):
        if options:
            raise ConfigError(f"totals-tsv sink: unknown option(s) {', '.join(sorted(options))}; it takes none.")
        return cls(os.path.abspath(location or run.output))

    def precheck(self) -> None:
        try:
            os.makedirs(self.output, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"totals-tsv sink: cannot create {self.output}: {exc.strerror}.")
        for old in glob.glob(os.path.join(self.output, "totals-*.tsv")):
            os.remove(old)

    def records(self):
        return _WriteTsv(os.path.join(self.output, "totals"))

    def dead_letters(self):
        return None

    def __repr__(self) -> str:
        return f"TotalsTsvSink(output={self.output!r})"


class _WriteTsv(beam.PTransform):
    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def expand(self, records):
        return (
            records
            | "ToTsv" >> beam.Map(tsv_line)
            | "Write" >> beam.io.WriteToText(self.prefix, file_name_suffix=".tsv", header="id\t" + "\t".join(COLUMNS))
        )
