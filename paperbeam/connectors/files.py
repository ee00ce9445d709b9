"""Source: files through Beam's FileSystems (local paths; gs:// and s3:// with the matching extra).

    --input /data/in            (the default source)
    --source files:gs://bucket/in/*.pdf
"""

from __future__ import annotations

from dataclasses import dataclass

from paperbeam.connectors.config import ConnectorConfig, reject_unknown
from paperbeam.errors import ConfigError
from paperbeam.pipelines.read import ReadDocuments


@dataclass(repr=False)
class FilesConfig(ConnectorConfig):
    pattern: str
    max_bytes: int = 500 * 1024 * 1024


class FileSource:
    """Reads every file matching a path, directory or glob; one document per file."""

    name = "files"

    def __init__(self, pattern: str, max_bytes: int = 500 * 1024 * 1024):
        self.config = FilesConfig(pattern=pattern, max_bytes=max_bytes)

    @property
    def pattern(self) -> str:
        return self.config.pattern

    @property
    def max_bytes(self) -> int:
        return self.config.max_bytes

    @classmethod
    def from_uri(cls, location: str, options: dict, run) -> "FileSource":
        reject_unknown(options, (), "files source")
        pattern = location or (run.input if run is not None else "")
        if not pattern:
            raise ConfigError("The files source needs a path: files:/data/in, or --input.")
        return cls(pattern, getattr(run, "max_file_bytes", 500 * 1024 * 1024))

    def precheck(self) -> None:
        from paperbeam.pipelines.options import input_pattern, match_inputs

        match_inputs(input_pattern(self.pattern))

    def transform(self):
        from paperbeam.pipelines.options import input_pattern

        return ReadDocuments(input_pattern(self.pattern), self.max_bytes)

    def __repr__(self) -> str:
        return f"FileSource({self.config!r})"
