"""Source: email. ``.eml`` files, mbox files and Maildir folders; each PDF or
image attachment of each message becomes a document.

    --source email:/var/mail/invoices            (a Maildir, an mbox, a folder of .eml, or a glob)

The message's sender, subject, date and Message-ID go into the document's
metadata and so into ``Record.metadata``, with the attachment's file name and
the mailbox it came from.

A document's URI is ``email:<container>#msg=<key>&part=<n>`` (``msg`` is left
out for an .eml file): ``open_uri`` re-opens the message and takes part ``n``
in walk order, so a page-reading worker never needs the whole mailbox in
memory. .eml files are read through Beam's FileSystems (gs://, s3:// work);
mbox and Maildir need a local path (Python's ``mailbox`` module).

Which parts are documents: every part whose type is application/pdf or
image/* (or application/octet-stream with a document file extension or a
PDF's or image's first bytes), except
images embedded in an HTML body (parts with a Content-ID inside
multipart/related, which are logos and signatures). A message with no
document is counted (``email_messages_without_documents``) and skipped.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import mailbox
import os
from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple
from urllib.parse import parse_qsl

from apache_beam.metrics import Metrics

from paperbeam.connectors.base import ExpandContainers, Failed, Found, make_document
from paperbeam.connectors.config import ConnectorConfig, reject_unknown
from paperbeam.errors import ConfigError, CorruptDocument, LimitExceeded

DOC_EXTENSIONS = (".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp")


@dataclass(repr=False)
class EmailConfig(ConnectorConfig):
    location: str
    max_bytes: int = 500 * 1024 * 1024


def document_uri(container: str, part: int, key: Optional[str] = None) -> str:
    fragment = f"part={part}" if key is None else f"msg={key}&part={part}"
    return f"email:{container}#{fragment}"


def parse_document_uri(uri: str) -> Tuple[str, Optional[str], int]:
    if not uri.startswith("email:") or "#" not in uri:
        raise CorruptDocument(f"Not an email document URI: {uri[:200]}.", "Expected email:<container>#msg=<key>&part=<n>.")
    container, fragment = uri[len("email:"):].rsplit("#", 1)
    params = dict(parse_qsl(fragment))
    try:
        return container, params.get("msg"), int(params["part"])
    except (KeyError, ValueError):
        raise CorruptDocument(f"The email document URI has no part number: {uri[:200]}.")


def _walk(part, in_related: bool = False):
    """Every leaf part with whether it sits inside multipart/related, in a fixed order."""
    if part.is_multipart():
        related = in_related or part.get_content_type() == "multipart/related"
        for sub in part.get_payload():
            yield from _walk(sub, related)
    else:
        yield part, in_related


def is_document_part(part, in_related: bool) -> bool:
    ctype = part.get_content_type()
    filename = (part.get_filename() or "").lower()
    if ctype == "application/pdf" or (ctype.startswith("image/") and ctype != "image/svg+xml"):
        pass
    elif ctype == "application/octet-stream" and (filename.endswith(DOC_EXTENSIONS) or _looks_like_document(part)):
        pass
    else:
        return False
    embedded = in_related and part.get("Content-ID") and part.get_content_disposition() != "attachment"
    return not embedded


def _looks_like_document(part) -> bool:
    """An attachment sent as application/octet-stream whose bytes are a PDF or an image."""
    from paperbeam.models import formats

    try:
        formats.sniff((part.get_payload(decode=True) or b"")[:1024])
        return True
    except Exception:  # noqa: BLE001 - not a document: the sniffer says what it is instead
        return False


def document_parts(message) -> Iterator[Tuple[int, object]]:
    """``(n, part)`` for each document part; ``n`` is its index among all leaf parts."""
    for n, (part, related) in enumerate(_walk(message)):
        if is_document_part(part, related):
            yield n, part


def _header(message, name: str) -> Optional[str]:
    try:
        value = message.get(name)
    except Exception:  # noqa: BLE001 - a malformed header is reported as missing, not fatal
        return None
    return None if value is None else " ".join(str(value).split())


def message_metadata(message, container: str) -> dict:
    date = _header(message, "Date")
    if date:
        try:
            date = email.utils.parsedate_to_datetime(date).isoformat()
        except (TypeError, ValueError):
            pass  # kept as written
    return {
        "sender": _header(message, "From"),
        "subject": _header(message, "Subject"),
        "date": date,
        "message_id": _header(message, "Message-ID"),
        "mailbox": container,
    }


def parse_message(data: bytes):
    return email.message_from_bytes(data, policy=email.policy.default)


def _payload(part, max_bytes: int) -> bytes:
    try:
        data = part.get_payload(decode=True) or b""
    except Exception as exc:  # noqa: BLE001 - a broken transfer encoding
        raise CorruptDocument(f"The attachment cannot be decoded: {exc}.", "Ask the sender to send it again.")
    if len(data) > max_bytes:
        raise LimitExceeded(f"The attachment is {len(data):,} bytes; the limit (--max-file-bytes) is {max_bytes:,}.")
    return data


def container_kind(container: str) -> str:
    if os.path.isdir(container):
        if os.path.isdir(os.path.join(container, "cur")) and os.path.isdir(os.path.join(container, "new")):
            return "maildir"
        raise CorruptDocument(f"{container} is a folder but not a Maildir (no cur/ and new/).")
    if "://" not in container:
        with open(container, "rb") as fh:
            if fh.read(5) == b"From ":
                return "mbox"
    return "eml"


def _mailbox(container: str, kind: str):
    if kind == "maildir":
        return mailbox.Maildir(container, factory=None, create=False)
    return mailbox.mbox(container, factory=None, create=False)


def _messages(container: str, kind: str) -> Iterator[Tuple[Optional[str], object]]:
    """``(key, message)`` for every message of a container; key None for an .eml."""
    if kind == "eml":
        from paperbeam.connectors.openers import read_filesystem

        yield None, parse_message(read_filesystem(container))
        return
    box = _mailbox(container, kind)
    try:
        for key in box.iterkeys():
            yield str(key), parse_message(box.get_bytes(key))
    finally:
        box.close()


def expand_container(container: str, cfg: EmailConfig) -> Iterator[Found]:
    empty = Metrics.counter("paperbeam", "email_messages_without_documents")
    kind = container_kind(container)
    for key, message in _messages(container, kind):
        meta = message_metadata(message, container)
        found = 0
        for n, part in document_parts(message):
            found += 1
            uri = document_uri(container, n, key)
            try:
                data = _payload(part, cfg.max_bytes)
            except Exception as exc:  # noqa: BLE001 - one attachment, one dead letter
                yield Failed(uri, exc)
                continue
            yield make_document(uri, data, dict(meta, attachment=part.get_filename()))
        if not found:
            empty.inc()


def find_containers(location: str) -> List[str]:
    """Maildirs, mbox files and .eml files at a path, below a folder, or matching a glob."""
    from paperbeam.pipelines.options import input_pattern, match_inputs

    if "://" not in location and os.path.isdir(location):
        found = []
        for root, dirs, files in os.walk(os.path.abspath(location)):
            if "cur" in dirs and "new" in dirs:
                found.append(root)
                dirs[:] = [d for d in dirs if d not in ("cur", "new", "tmp")]
            found.extend(os.path.join(root, f) for f in sorted(files) if not f.startswith("."))
            dirs.sort()
        if not found:
            raise ConfigError(f"No mailboxes or .eml files below {location}.")
        return found
    return match_inputs(input_pattern(location))


class EmailSource:
    """Attachments of .eml files, mbox files and Maildir folders."""

    name = "email"

    def __init__(self, config: EmailConfig):
        self.config = config

    @classmethod
    def from_uri(cls, location: str, options: dict, run) -> "EmailSource":
        reject_unknown(options, (), "email source")
        location = location or (run.input if run is not None else "")
        if not location:
            raise ConfigError("The email source needs a mailbox: email:/path (a Maildir, an mbox, .eml files), or --input.")
        return cls(EmailConfig(location=location, max_bytes=getattr(run, "max_file_bytes", EmailConfig.max_bytes)))

    def precheck(self) -> None:
        find_containers(self.config.location)

    def expand_one(self, container: str) -> Iterator[Found]:
        return expand_container(container, self.config)

    def transform(self):
        return ExpandContainers(find_containers(self.config.location), self.expand_one)

    @staticmethod
    def open_uri(uri: str) -> bytes:
        container, key, n = parse_document_uri(uri)
        if key is None:
            from paperbeam.connectors.openers import read_filesystem

            message = parse_message(read_filesystem(container))
        else:
            kind = container_kind(container)
            box = _mailbox(container, kind)
            try:
                message = parse_message(box.get_bytes(key if kind == "maildir" else int(key)))
            except (KeyError, ValueError):
                raise CorruptDocument("The message is no longer in the mailbox.", "Run again once the mailbox stops changing.")
            finally:
                box.close()
        for index, part in document_parts(message):
            if index == n:
                return _payload(part, EmailConfig.max_bytes)
        raise CorruptDocument("The message no longer has this attachment.", "Run again once the mailbox stops changing.")

    def __repr__(self) -> str:
        return f"EmailSource({self.config!r})"
