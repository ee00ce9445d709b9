"""Source: a manifest file listing the documents to read, one URI per line.

    --source manifest:/data/batch-2024-10.txt

Blank lines and lines starting with ``#`` are skipped; a relative path is
relative to the manifest's folder. Any URI a page reader can open works: a
path, gs:// or s3:// (with the extra), ``zip:/a.zip!/member.pdf``. A listed
document that is missing becomes a dead letter; a manifest with no entries,
or one that cannot be read, stops the run before it starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator, List

from paperbeam.connectors.base import ExpandContainers, Failed, Found, make_document
from paperbeam.connectors.config import ConnectorConfig, reject_unknown
from paperbeam.errors import ConfigError


@dataclass(repr=False)
class ManifestConfig(ConnectorConfig):
    manifest: str
    max_bytes: int = 500 * 1024 * 1024


def read_manifest(path: str) -> List[str]:
    from apache_beam.io.filesystems import FileSystems

    try:
        with FileSystems.open(path, compression_type="uncompressed") as fh:
            text = fh.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"The manifest {path} is not UTF-8 text.")
    except Exception as exc:  # noqa: BLE001 - BeamIOError, OSError
        raise ConfigError(f"Cannot read the manifest {path}: {str(exc)[:200]}. Check the path.")
    base = os.path.dirname(path)
    uris = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if ":" not in line and not os.path.isabs(line) and "://" not in path:
            line = os.path.join(base, line)
        uris.append(line)
    if not uris:
        raise ConfigError(f"The manifest {path} lists no documents.")
    return uris


def read_listed(uri: str, cfg: ManifestConfig) -> Iterator[Found]:
    from paperbeam.connectors.openers import open_uri

    try:
        data = open_uri(uri, cfg.max_bytes)
    except Exception as exc:  # noqa: BLE001 - a missing or unreadable entry is one dead letter
        yield Failed(uri, exc)
        return
    yield make_document(uri, data)


class ManifestSource:
    """Every document a manifest lists."""

    name = "manifest"

    def __init__(self, config: ManifestConfig):
        self.config = config

    @classmethod
    def from_uri(cls, location: str, options: dict, run) -> "ManifestSource":
        reject_unknown(options, (), "manifest source")
        location = location or (run.input if run is not None else "")
        if not location:
            raise ConfigError("The manifest source needs a file: manifest:/path/to/list.txt, or --input.")
        if "://" not in location:
            location = os.path.abspath(location)
        return cls(ManifestConfig(manifest=location, max_bytes=getattr(run, "max_file_bytes", ManifestConfig.max_bytes)))

    def precheck(self) -> None:
        read_manifest(self.config.manifest)

    def read_one(self, uri: str) -> Iterator[Found]:
        return read_listed(uri, self.config)

    def transform(self):
        return ExpandContainers(read_manifest(self.config.manifest), self.read_one)

    def __repr__(self) -> str:
        return f"ManifestSource({self.config!r})"
