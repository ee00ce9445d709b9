"""Stage 1, Read: match the input through Beam's FileSystems, read the bytes,
identify the type by its magic bytes, and give each document its id (the
SHA-256 of its content). Going through FileSystems means gs:// and s3:// work
with the matching Beam extra installed, with no change here.
"""

from __future__ import annotations

import hashlib

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import FileMetadata
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from paperbeam.errors import LimitExceeded
from paperbeam.models import formats
from paperbeam.pipelines.deadletters import DEAD, dead
from paperbeam.records import SourceDocument


def read_source(uri: str, size: int, max_bytes: int) -> SourceDocument:
    """Read one file into a SourceDocument; raises a DocumentError for what cannot be read."""
    if size is not None and size > max_bytes:
        raise LimitExceeded(f"The file is {size:,} bytes; the limit (--max-file-bytes) is {max_bytes:,}.")
    with FileSystems.open(uri, compression_type="uncompressed") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise LimitExceeded(f"The file is over {max_bytes:,} bytes, the limit (--max-file-bytes).")
    media_type = formats.sniff(data)
    return SourceDocument(id=hashlib.sha256(data).hexdigest(), uri=uri, media_type=media_type, data=data)


class _ReadFn(beam.DoFn):
    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.inputs = Metrics.counter("paperbeam", "inputs")
        self.bytes = Metrics.distribution("paperbeam", "input_bytes")

    def process(self, metadata):
        self.inputs.inc()
        self.bytes.update(int(metadata.size_in_bytes or 0))
        try:
            yield read_source(metadata.path, metadata.size_in_bytes, self.max_bytes)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a dead letter
            yield dead(exc, metadata.path, "read")


class ReadDocuments(beam.PTransform):
    """Files matching ``pattern`` -> ``SourceDocument`` (main) and dead letters (``dead_letters``).

    ``files``, a list of ``(uri, size)``, reads exactly those files instead of
    matching the pattern: an incremental run reads only what its ledger selected.
    """

    def __init__(self, pattern: str, max_bytes: int, files=None):
        super().__init__()
        self.pattern = pattern
        self.max_bytes = max_bytes
        self.files = None if files is None else [(str(u), s) for u, s in files]

    def expand(self, pbegin):
        if self.files is not None:
            matched = (
                pbegin
                | "Selected" >> beam.Create([FileMetadata(u, s or 0) for u, s in self.files])  # reshuffled: spread on workers
            )
        else:
            matched = (
                pbegin
                | "Match" >> fileio.MatchFiles(self.pattern, empty_match_treatment=fileio.EmptyMatchTreatment.ALLOW)
                | "DropDirectories" >> beam.Filter(lambda m: not m.path.endswith("/"))
            )
        return matched | "ReadBytes" >> beam.ParDo(_ReadFn(self.max_bytes)).with_outputs(DEAD, main="documents")
