"""Re-opening a document by its URI, on whichever worker reads its pages.

A document travels between stages as a small ``PageRef`` (no bytes), so the
page-reading worker opens it again from ``PageRef.uri``. Plain paths and Beam
filesystem URIs (``gs://``, ``s3://``) go through Beam's FileSystems. A URI
whose scheme is the name of a registered source with an ``open_uri`` hook
(``zip:/a.zip!/member.pdf``, ``email:/box.mbox#msg=3&part=2``) is opened by
that source: a third-party source gets re-opening for free by defining the
hook. Lookup is by name through the plugin registry, so nothing here is
pickled.
"""

from __future__ import annotations

from typing import Optional

from apache_beam.io.filesystems import FileSystems

from paperbeam import plugins
from paperbeam.errors import ConfigError, CorruptDocument, LimitExceeded

DEFAULT_MAX_BYTES = 500 * 1024 * 1024


def scheme_of(uri: str) -> Optional[str]:
    """The source name a URI belongs to, or None for a FileSystems path/URI."""
    if ":" not in uri:
        return None
    head = uri.split(":", 1)[0].lower()
    if len(head) < 2 or not head.replace("-", "").replace("_", "").isalnum():
        return None  # a Windows drive letter or not a scheme
    try:
        source = plugins.load("sources", head)
    except ConfigError:
        return None  # gs, s3, file, ...: FileSystems knows these
    return head if hasattr(source, "open_uri") else None


def read_filesystem(uri: str, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of a file through Beam's FileSystems, refusing more than ``max_bytes``."""
    try:
        fh = FileSystems.open(uri, compression_type="uncompressed")
    except Exception as exc:  # noqa: BLE001 - BeamIOError, OSError, ...
        raise CorruptDocument(f"Cannot open the file: {type(exc).__name__}: {str(exc)[:200]}.", "Check that it still exists and is readable.")
    with fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise LimitExceeded(f"The file is over {max_bytes:,} bytes, the limit (--max-file-bytes).")
    return data


def open_uri(uri: str, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of the document at ``uri``; raises DocumentError subclasses."""
    scheme = scheme_of(uri)
    if scheme is None:
        return read_filesystem(uri, max_bytes)
    data = plugins.load("sources", scheme).open_uri(uri)
    if len(data) > max_bytes:
        raise LimitExceeded(f"The document is over {max_bytes:,} bytes, the limit (--max-file-bytes).")
    return data
