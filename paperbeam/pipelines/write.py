"""Stage 6, Write: records and dead letters as sharded JSON Lines files."""

from __future__ import annotations

import apache_beam as beam


class WriteJsonLines(beam.PTransform):
    """Elements with ``to_json()`` -> ``<prefix>-SSSSS-of-NNNNN.jsonl`` files."""

    def __init__(self, prefix: str, **to_json_kwargs):
        super().__init__()
        self.prefix = prefix
        self.to_json_kwargs = to_json_kwargs

    def expand(self, pcoll):
        kwargs = self.to_json_kwargs
        return (
            pcoll
            | "ToJson" >> beam.Map(lambda r: r.to_json(**kwargs))
            | "WriteFiles" >> beam.io.WriteToText(self.prefix, file_name_suffix=".jsonl")
        )
