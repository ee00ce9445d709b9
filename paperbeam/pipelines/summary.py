"""What a run did, in numbers: ``summary.json`` and the lines printed at the end.

Counts come from the output files themselves (what was written is what
counts), inputs from the read stage's Beam counter, falling back to the number
of files matched when the runner reports no metrics. The summary states
``inputs == records + dead_letters``; when it does not hold, ``accounted`` is
false and the run fails.
"""

from __future__ import annotations

import glob
import json
import os
import platform
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Tuple

from apache_beam.io.filesystems import FileSystems

from paperbeam import __version__

OUTPUT_PATTERNS = ("records-*.jsonl", "dead_letters-*.jsonl", "summary.json")


@dataclass
class Summary:
    run_id: str
    inputs: int
    records: int
    dead_letters: int
    pages: int
    pages_ocr: int
    pages_text_layer: int
    seconds: float
    pages_per_second: float
    accounted: bool
    dead_letter_ratio: float
    dead_letters_by_reason: Dict[str, int]
    pages_by_engine: Dict[str, int]
    fields_found: Dict[str, int]
    versions: Dict[str, Optional[str]]
    config: Dict[str, object]
    output: str
    started: str
    finished: str
    metrics: Dict[str, int] = field(default_factory=dict)  # Beam counters, "namespace:name"
    # Beam distributions, "namespace:name" -> {count, sum, min, max, mean} (e.g. paperbeam:ocr_ms_per_page)
    distributions: Dict[str, Dict[str, float]] = field(default_factory=dict)
    # [seconds since start, pages done, documents done] sampled by the progress reporter (direct runner)
    timeline: List[List[float]] = field(default_factory=list)
    # Filled by the run's driver (paperbeam/nightly/driver.py): record, dead_letter, skipped_unchanged, skipped_dead_letter
    counts_by_status: Dict[str, int] = field(default_factory=dict)
    # Seconds spent in the driver's stages: lock, recover, select, prepare, pipeline, commit
    stage_seconds: Dict[str, float] = field(default_factory=dict)
    # --incremental: ledger, versions, why inputs were selected or skipped, what a killed run left
    incremental: Dict[str, object] = field(default_factory=dict)

    def to_dict(self):
        return asdict(self)

    def human(self) -> str:
        lines = [
            f"paperbeam run {self.run_id}: {self.inputs} inputs -> {self.records} records + {self.dead_letters} dead letters"
            + ("" if self.accounted else "  (NOT ACCOUNTED FOR: see summary.json)"),
            f"  pages: {self.pages} ({self.pages_text_layer} from the text layer, {self.pages_ocr} OCR'd)"
            f" in {self.seconds:.1f} s ({self.pages_per_second:.2f} pages/s)",
        ]
        for reason, n in sorted(self.dead_letters_by_reason.items(), key=lambda kv: -kv[1]):
            lines.append(f"  dead letters, {reason}: {n}")
        if self.pages_by_engine:
            lines.append("  pages by engine: " + ", ".join(f"{k} {v}" for k, v in sorted(self.pages_by_engine.items())))
        skipped = {k[len("skipped_"):]: v for k, v in self.counts_by_status.items() if k.startswith("skipped_") and v}
        if self.incremental.get("ledger"):
            why = self.incremental.get("selected_because") or {}
            lines.append(
                f"  incremental: {self.incremental.get('selected', 0)} selected"
                + (" (" + ", ".join(f"{k} {v}" for k, v in sorted(why.items())) + ")" if why else "")
                + (", skipped " + ", ".join(f"{k} {v}" for k, v in sorted(skipped.items())) if skipped else "")
            )
            totals = self.incremental.get("ledger_totals") or {}
            if totals:
                lines.append("  ledger: " + ", ".join(f"{k} {v}" for k, v in sorted(totals.items())))
        recovered = self.incremental.get("recovered") or {}
        if recovered.get("rolled_back") or recovered.get("rolled_forward"):
            lines.append(f"  recovered a killed run: rolled back {len(recovered.get('rolled_back') or [])}, "
                         f"rolled forward {len(recovered.get('rolled_forward') or [])}")
        if self.stage_seconds:
            lines.append("  time: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.stage_seconds.items()))
        lines.append(f"  versions: paperbeam {self.versions.get('paperbeam')}, extractor {self.versions.get('extractor')}, "
                     f"ocr {self.versions.get('ocr_engine') or '-'}; {self.started} -> {self.finished}")
        lines.append(f"  output: {self.output}")
        return "\n".join(lines)


def clear_previous_output(output: str) -> None:
    """Remove the files a previous run wrote here, so shards of two runs never mix."""
    if "://" in output:
        return
    for pattern in OUTPUT_PATTERNS:
        for path in glob.glob(os.path.join(output, pattern)):
            os.remove(path)


def _read_lines(pattern: str):
    result = FileSystems.match([pattern])[0]
    for meta in sorted(result.metadata_list, key=lambda m: m.path):
        with FileSystems.open(meta.path, compression_type="uncompressed") as fh:
            for raw in fh.read().decode("utf-8").splitlines():
                if raw.strip():
                    yield json.loads(raw)


def _versions() -> Dict[str, Optional[str]]:
    import apache_beam

    versions = {"paperbeam": __version__, "apache_beam": apache_beam.__version__, "python": platform.python_version()}
    for module in ("pytesseract", "pdfplumber", "pypdfium2"):
        try:
            versions[module] = __import__(module).__version__ if module != "pypdfium2" else __import__(module).V_PYPDFIUM2
        except Exception:  # noqa: BLE001 - a version we cannot read is reported as unknown
            versions[module] = None
    return versions


def _counters(result) -> Dict[str, int]:
    return _metrics(result)[0]


def _metrics(result) -> Tuple[Dict[str, int], Dict[str, Dict[str, float]]]:
    """Beam counters and distributions, summed over steps: ``({"ns:name": n}, {"ns:name": {count, sum, min, max, mean}})``."""
    try:
        from apache_beam.metrics.metric import MetricsFilter

        found = result.metrics().query(MetricsFilter())
    except Exception:  # noqa: BLE001 - not every runner reports metrics
        return {}, {}
    counters: Dict[str, int] = {}
    for c in found.get("counters", []):
        key = f"{c.key.metric.namespace}:{c.key.metric.name}"
        value = c.committed if c.committed is not None else c.attempted
        counters[key] = counters.get(key, 0) + int(value or 0)
    dists: Dict[str, Dict[str, float]] = {}
    for d in found.get("distributions", []):
        value = d.committed if d.committed is not None else d.attempted
        if value is None or not getattr(value, "count", 0):
            continue
        key = f"{d.key.metric.namespace}:{d.key.metric.name}"
        cur = dists.get(key)
        if cur is None:
            dists[key] = {"count": value.count, "sum": value.sum, "min": value.min, "max": value.max}
        else:
            cur.update(count=cur["count"] + value.count, sum=cur["sum"] + value.sum,
                       min=min(cur["min"], value.min), max=max(cur["max"], value.max))
    for d in dists.values():
        d["mean"] = round(d["sum"] / d["count"], 3) if d["count"] else 0.0
    return counters, dists


def summarize(config, result, matched_files: int, started: float, timeline: Optional[List[List[float]]] = None) -> Summary:
    records = dead = pages = ocr = text = 0
    by_engine: Counter = Counter()
    fields_found: Counter = Counter()
    engine_versions = set()
    for rec in _read_lines(os.path.join(config.output, "records-*.jsonl")):
        records += 1
        for page in rec.get("pages", []):
            pages += 1
            if page.get("source") == "text_layer":
                text += 1
                by_engine["text_layer"] += 1
            else:
                ocr += 1
                by_engine[page.get("engine") or "unknown"] += 1
                engine_versions.add(page.get("engine"))
        for name, value in (rec.get("fields") or {}).items():
            if value and value.get("value") not in (None, ""):
                fields_found[name] += 1
    reasons: Counter = Counter()
    for letter in _read_lines(os.path.join(config.output, "dead_letters-*.jsonl")):
        dead += 1
        reasons[f"{letter.get('stage')}: {letter.get('error')}"] += 1
    counters, distributions = _metrics(result)
    inputs = counters.get("paperbeam:inputs") or matched_files
    seconds = time.time() - started
    versions = _versions()
    versions["ocr_engine"] = ", ".join(sorted(v for v in engine_versions if v)) or None
    versions["extractor"] = config.extractor
    summary = Summary(
        run_id=config.run_id,
        inputs=inputs,
        records=records,
        dead_letters=dead,
        pages=pages,
        pages_ocr=ocr,
        pages_text_layer=text,
        seconds=round(seconds, 3),
        pages_per_second=round(pages / seconds, 3) if seconds > 0 else 0.0,
        accounted=inputs == records + dead,
        dead_letter_ratio=round(dead / inputs, 4) if inputs else 0.0,
        dead_letters_by_reason=dict(reasons),
        pages_by_engine=dict(by_engine),
        fields_found=dict(fields_found),
        versions=versions,
        config=config.to_report(),
        output=config.output,
        started=time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        metrics=counters,
        distributions=distributions,
        timeline=[list(p) for p in (timeline or [])],
    )
    with FileSystems.create(os.path.join(config.output, "summary.json")) as fh:
        fh.write(json.dumps(summary.to_dict(), indent=2, sort_keys=True).encode("utf-8"))
    return summary
