"""Source: files through Beam's FileSystems (local paths; gs:// and s3:// with the matching extra)."""

from __future__ import annotations

from paperbeam.pipelines.read import ReadDocuments


class FileSource:
    """Reads every file matching a path, directory or glob; one document per file."""

    name = "files"

    def __init__(self, pattern: str, max_bytes: int = 500 * 1024 * 1024):
        self.pattern = pattern
        self.max_bytes = max_bytes

    def precheck(self) -> None:
        from paperbeam.pipelines.options import input_pattern, match_inputs

        match_inputs(input_pattern(self.pattern))

    def transform(self):
        from paperbeam.pipelines.options import input_pattern

        return ReadDocuments(input_pattern(self.pattern), self.max_bytes)
