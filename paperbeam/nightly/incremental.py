"""Which inputs a run must process.

A cheap check first: an input whose (URI, size, mtime) match the ledger, and
whose versions key matches this run's, is skipped without being opened. Only
an input whose size is the same but whose mtime moved is hashed, to tell a
`touch` or a copy from a real change (new inputs are hashed by the pipeline's
read stage anyway). A 10,000-file folder that did not change costs one
directory listing and one ledger query.

The versions key is a hash of everything that changes what a record says:
paperbeam's version, the record format, the extractor and its version, the
schema (its name and a hash of its fields), the OCR engine with its version and
options, the date order, and whether words are emitted. A change of any of
them reprocesses every input.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from paperbeam.nightly.ledger import STATUS_DEAD, STATUS_RECORD, Entry


@dataclass(frozen=True)
class InputFile:
    uri: str
    size: Optional[int]
    mtime: Optional[float]


@dataclass
class Selection:
    """The inputs to process, and why; plus the counts of what is skipped."""

    process: List[InputFile] = field(default_factory=list)
    reasons: Dict[str, int] = field(default_factory=dict)  # new, changed, versions_changed, forced, retry_dead_letter
    skipped: Dict[str, int] = field(default_factory=dict)  # unchanged, dead_letter (not retried)
    touched: List[Tuple[str, int, float]] = field(default_factory=list)  # (uri, size, mtime) of unchanged content
    gone: int = 0  # in the ledger, no longer in the input
    hashed: int = 0

    def _why(self, reason: str, f: InputFile) -> None:
        self.process.append(f)
        self.reasons[reason] = self.reasons.get(reason, 0) + 1

    def _skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def to_dict(self) -> dict:
        return {
            "selected": len(self.process),
            "selected_because": dict(self.reasons),
            "skipped": dict(self.skipped),
            "touched_unchanged": len(self.touched),
            "gone_from_input": self.gone,
            "hashed": self.hashed,
        }


def versions(config) -> Dict[str, object]:
    """Everything that changes what a record says (see the module docstring)."""
    from paperbeam import __version__, plugins
    from paperbeam.records import SCHEMA_VERSION

    extractor = plugins.load("extractors", config.extractor)
    try:
        engine_version = plugins.load("ocr_engines", config.ocr_engine)(**config.ocr_options()).version()
    except Exception:  # noqa: BLE001 - an engine that cannot say its version is keyed by name and options only
        engine_version = None
    schema = config.schema.to_dict()
    return {
        "paperbeam": __version__,
        "record_format": SCHEMA_VERSION,
        "extractor": {"name": config.extractor, "version": str(getattr(extractor, "version", "") or "")},
        "schema": {"name": config.schema.name,
                   "hash": hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()[:16]},
        "ocr": {"engine": config.ocr_engine, "version": engine_version, "lang": config.ocr_lang, "psm": config.ocr_psm,
                "dpi": config.dpi, "force_ocr": config.force_ocr},
        "date_order": config.date_order,
        "emit_words": config.emit_words,
    }


def versions_key(v: Dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(v, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def sha256_file(uri: str) -> str:
    from apache_beam.io.filesystems import FileSystems

    h = hashlib.sha256()
    with FileSystems.open(uri, compression_type="uncompressed") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def list_inputs(paths: List[str]) -> List[InputFile]:
    """Size and mtime of the matched inputs: one stat each locally, one listing for object stores."""
    import os

    out = []
    remote = [p for p in paths if "://" in p]
    meta = {}
    if remote:
        from apache_beam.io.filesystems import FileSystems

        for result in FileSystems.match(remote):
            for m in result.metadata_list:
                meta[m.path] = (m.size_in_bytes, m.last_updated_in_seconds)
    for p in paths:
        if "://" in p:
            size, mtime = meta.get(p, (None, None))
        else:
            st = os.stat(p)
            size, mtime = st.st_size, st.st_mtime
        out.append(InputFile(p, size, mtime))
    return out


def select(
    inputs: List[InputFile],
    known: Dict[str, Entry],
    key: str,
    force: bool = False,
    retry_dead_letters: bool = False,
    hasher: Callable[[str], str] = sha256_file,
) -> Selection:
    sel = Selection()
    seen = set()
    for f in inputs:
        seen.add(f.uri)
        prev = known.get(f.uri)
        if prev is None:
            sel._why("new", f)
            continue
        if force:
            sel._why("forced", f)
            continue
        if prev.versions_key != key:
            sel._why("versions_changed", f)
            continue
        if (prev.size, prev.mtime) != (f.size, f.mtime):
            if prev.doc_id is None or f.size != prev.size or f.size is None:
                sel._why("changed", f)
                continue
            sel.hashed += 1
            try:
                same = hasher(f.uri) == prev.doc_id
            except OSError:
                same = False  # unreadable now: let the read stage say why, as a dead letter
            if not same:
                sel._why("changed", f)
                continue
            sel.touched.append((f.uri, f.size, f.mtime))
        if prev.status == STATUS_DEAD:
            if retry_dead_letters:
                sel._why("retry_dead_letter", f)
            else:
                sel._skip("dead_letter")
            continue
        if prev.status == STATUS_RECORD:
            sel._skip("unchanged")
            continue
        sel._why("changed", f)  # an unknown status: process again rather than trust it
    sel.gone = sum(1 for uri in known if uri not in seen)
    return sel
