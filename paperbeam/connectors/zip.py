"""Source: zip archives; each member is a document.

    --source zip:/data/in/*.zip?max_members=5000

A member's URI is ``zip:<archive URI>!/<member path>``, so a page-reading
worker re-opens just that member (``open_uri``). Archives are opened through
Beam's FileSystems, so gs:// and s3:// archives work with the matching extra.

Guards, each turning the offending member (or archive) into a dead letter
rather than filling a worker's memory or disk:

* a member path that is absolute, or climbs out with ``..``: refused (we never
  extract to disk, but such a name is a sign of a crafted archive, and it ends
  up in URIs and outputs);
* a zip bomb: a member is read in chunks and abandoned past ``--max-file-bytes``
  whatever its header claims; a compression ratio over ``max_ratio`` (default
  200) for members over 1 MiB; more than ``max_members`` members; more than
  ``max_total_bytes`` uncompressed in one archive;
* encrypted members (the password would have to be on the command line).

Nested archives are not opened: they become dead letters ("not a document").
"""

from __future__ import annotations

import posixpath
import zipfile
import zlib
from dataclasses import dataclass
from typing import Iterator, List

from paperbeam.connectors.base import ExpandContainers, Failed, Found, make_document
from paperbeam.connectors.config import ConnectorConfig, as_int, reject_unknown
from paperbeam.errors import ConfigError, CorruptDocument, DocumentError, EncryptedDocument, LimitExceeded

SEPARATOR = "!/"
SKIPPED_PREFIXES = ("__MACOSX/",)


class UnsafeMember(DocumentError):
    hint = "The archive names a member outside itself (an absolute path or '..'); it was not read. Re-create the archive."


def member_uri(archive: str, member: str) -> str:
    return f"zip:{archive}{SEPARATOR}{member}"


def parse_member_uri(uri: str):
    if not uri.startswith("zip:") or SEPARATOR not in uri:
        raise CorruptDocument(f"Not a zip member URI: {uri[:200]}.", "Expected zip:<archive>!/<member>.")
    archive, member = uri[len("zip:"):].split(SEPARATOR, 1)
    return archive, member


def check_member_path(name: str) -> None:
    """Refuse a member name that is absolute or climbs out of the archive."""
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or (len(normalized) > 1 and normalized[1] == ":"):
        raise UnsafeMember(f"The member '{name[:200]}' has an absolute path.")
    if ".." in posixpath.normpath(normalized).split("/") or ".." in normalized.split("/"):
        raise UnsafeMember(f"The member '{name[:200]}' climbs out of the archive with '..'.")


@dataclass(repr=False)
class ZipConfig(ConnectorConfig):
    pattern: str
    max_bytes: int = 500 * 1024 * 1024  # per member (--max-file-bytes)
    max_members: int = 10_000
    max_total_bytes: int = 4 * 1024 ** 3
    max_ratio: int = 200


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, cfg: ZipConfig) -> bytes:
    check_member_path(info.filename)
    if info.flag_bits & 0x1:
        raise EncryptedDocument(f"The member '{info.filename[:200]}' is encrypted.", "Give paperbeam an unencrypted archive.")
    if info.file_size > cfg.max_bytes:
        raise LimitExceeded(f"The member is {info.file_size:,} bytes uncompressed; the limit (--max-file-bytes) is {cfg.max_bytes:,}.")
    if info.file_size > 1024 * 1024 and info.compress_size and info.file_size / info.compress_size > cfg.max_ratio:
        raise LimitExceeded(
            f"The member expands {info.file_size / info.compress_size:.0f} times (over max_ratio={cfg.max_ratio}): a likely zip bomb."
        )
    chunks, total = [], 0
    try:
        with zf.open(info) as fh:  # headers can lie: count what actually comes out
            while True:
                chunk = fh.read(1024 * 1024)
                if not chunk:
                    break
                total += len(chunk)
                if total > cfg.max_bytes:
                    raise LimitExceeded(f"The member expands past the limit (--max-file-bytes) of {cfg.max_bytes:,} bytes: a likely zip bomb.")
                chunks.append(chunk)
    except (zipfile.BadZipFile, EOFError, zlib.error, OSError, ValueError) as exc:
        # OSError/ValueError: a lying local header (e.g. a negative seek) in a damaged archive.
        raise CorruptDocument(f"The member '{info.filename[:200]}' is damaged: {exc}.")
    except NotImplementedError as exc:
        raise CorruptDocument(f"The member '{info.filename[:200]}' uses an unsupported compression: {exc}.")
    return b"".join(chunks)


def _open_archive(archive: str):
    from apache_beam.io.filesystems import FileSystems

    try:
        fh = FileSystems.open(archive, compression_type="uncompressed")
    except Exception as exc:  # noqa: BLE001
        raise CorruptDocument(f"Cannot open the archive: {type(exc).__name__}: {str(exc)[:200]}.", "Check that it exists and is readable.")
    try:
        return fh, zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        fh.close()
        raise CorruptDocument(f"The archive is not a readable zip file: {exc}.")


def expand_archive(archive: str, cfg: ZipConfig) -> Iterator[Found]:
    """Every member of one archive: a SourceDocument, or Failed with the reason."""
    fh, zf = _open_archive(archive)
    with fh, zf:
        members = [i for i in zf.infolist() if not i.is_dir() and not i.filename.startswith(SKIPPED_PREFIXES)]
        if len(members) > cfg.max_members:
            raise LimitExceeded(f"The archive has {len(members):,} members; the limit (max_members) is {cfg.max_members:,}.")
        declared = sum(i.file_size for i in members)
        if declared > cfg.max_total_bytes:
            raise LimitExceeded(f"The archive expands to {declared:,} bytes; the limit (max_total_bytes) is {cfg.max_total_bytes:,}.")
        total = 0
        for info in members:
            uri = member_uri(archive, info.filename)
            try:
                data = _read_member(zf, info, cfg)
            except DocumentError as exc:
                yield Failed(uri, exc)
                continue
            total += len(data)
            if total > cfg.max_total_bytes:
                yield Failed(uri, LimitExceeded(f"The archive expands past max_total_bytes={cfg.max_total_bytes:,}: a likely zip bomb."))
                return
            yield make_document(uri, data, {"archive": archive, "member": info.filename})


class ZipSource:
    """Every member of every zip archive matching a path, directory or glob."""

    name = "zip"
    OPTIONS = ("max_members", "max_total_bytes", "max_ratio")

    def __init__(self, config: ZipConfig):
        self.config = config

    @classmethod
    def from_uri(cls, location: str, options: dict, run) -> "ZipSource":
        reject_unknown(options, cls.OPTIONS, "zip source")
        pattern = location or (run.input if run is not None else "")
        if not pattern:
            raise ConfigError("The zip source needs archives: zip:/path/to/*.zip, or --input.")
        cfg = ZipConfig(pattern=pattern, max_bytes=getattr(run, "max_file_bytes", ZipConfig.max_bytes))
        for key in cls.OPTIONS:
            if key in options:
                setattr(cfg, key, as_int(options[key], key, minimum=1))
        return cls(cfg)

    def archives(self) -> List[str]:
        from paperbeam.pipelines.options import input_pattern, match_inputs

        return match_inputs(input_pattern(self.config.pattern))

    def precheck(self) -> None:
        self.archives()

    def expand_one(self, archive: str) -> Iterator[Found]:
        return expand_archive(archive, self.config)

    def transform(self):
        return ExpandContainers(self.archives(), self.expand_one)

    @staticmethod
    def open_uri(uri: str) -> bytes:
        archive, member = parse_member_uri(uri)
        fh, zf = _open_archive(archive)
        with fh, zf:
            try:
                info = zf.getinfo(member)
            except KeyError:
                raise CorruptDocument(f"The archive no longer has the member '{member[:200]}'.", "Run again once the archive stops changing.")
            return _read_member(zf, info, ZipConfig(pattern=archive))

    def __repr__(self) -> str:
        return f"ZipSource({self.config!r})"
