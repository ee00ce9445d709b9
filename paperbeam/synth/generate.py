"""Orchestration: plan each document from (seed, index), draw it, maybe scan it, write it.

A document depends only on ``(seed, index)``: its random source is
``random.Random(f"paperbeam-synth:{seed}:{index}")`` and Faker is re-seeded
from it, so ``--jobs`` changes the speed and never the output. Kinds take
turns by index and layouts rotate within a kind, so any window of a few dozen
documents covers every layout.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from paperbeam.errors import ConfigError
from paperbeam.synth import truth as truth_mod
from paperbeam.synth.content import make_content
from paperbeam.synth.layouts import INVOICE_LAYOUTS, LAYOUTS, MULTIPAGE_MIN_ITEMS, RECEIPT_LAYOUTS, render

KINDS = ("invoice", "receipt")
FORMATS = {"pdf": ("pdf", "application/pdf"), "tiff": ("tif", "image/tiff"), "png": ("png", "image/png"),
           "jpeg": ("jpg", "image/jpeg")}
LAYOUTS_BY_KIND = {"invoice": INVOICE_LAYOUTS, "receipt": RECEIPT_LAYOUTS}


@dataclass(frozen=True)
class GenerateOptions:
    count: int
    out: str
    kinds: Tuple[str, ...] = KINDS
    scan_ratio: float = 0.3
    seed: int = 0
    jobs: int = 0  # 0: one per CPU
    start: int = 1  # index of the first document

    def validate(self) -> None:
        if self.count < 0:
            raise ConfigError("--count must be 0 or more.")
        if not self.kinds or any(k not in KINDS for k in self.kinds):
            raise ConfigError(f"--kinds must be a comma-separated list of: {', '.join(KINDS)} (got {','.join(self.kinds)}).")
        if not 0.0 <= self.scan_ratio <= 1.0:
            raise ConfigError(f"--scan-ratio must be between 0 and 1 (got {self.scan_ratio}).")


@dataclass(frozen=True)
class Spec:
    """What one document will be. ``None`` fields are drawn from the document's random source."""

    index: int
    kind: str
    layout: str
    scan: Optional[bool] = None
    fmt: Optional[str] = None  # pdf | tiff | png | jpeg (scans only)
    dpi: Optional[Tuple[int, ...]] = None
    photo: Optional[bool] = None
    bilevel: Optional[bool] = None  # black-and-white (TIFF only)
    profile: Optional[str] = None  # a content.PROFILES name

    @property
    def stem(self) -> str:
        return f"{self.kind}-{self.index:06d}"


def plan(index: int, opts: GenerateOptions) -> Spec:
    kinds = tuple(opts.kinds)
    kind = kinds[(index - 1) % len(kinds)]
    layouts = LAYOUTS_BY_KIND[kind]
    layout = layouts[((index - 1) // len(kinds) + opts.seed) % len(layouts)]
    rng = _rng(opts.seed, index, "plan")
    return Spec(index=index, kind=kind, layout=layout, scan=rng.random() < opts.scan_ratio)


def _rng(seed: int, index: int, purpose: str) -> random.Random:
    return random.Random(f"paperbeam-synth:{seed}:{index}:{purpose}")


def _choose_format(rng: random.Random, kind: str, pages: int) -> str:
    if pages > 1:
        return rng.choices(["pdf", "tiff"], [0.6, 0.4])[0]
    if kind == "receipt":
        return rng.choices(["pdf", "tiff", "png", "jpeg"], [0.2, 0.1, 0.3, 0.4])[0]
    return rng.choices(["pdf", "tiff", "png", "jpeg"], [0.45, 0.2, 0.15, 0.2])[0]


def generate_one(spec: Spec, out: str, seed: int) -> Dict[str, object]:
    """Make one document and its truth file under ``out``; returns a short summary."""
    from paperbeam.synth import content as content_mod

    rng = _rng(seed, spec.index, "doc")
    profile = next((p for p in content_mod.PROFILES if p.name == spec.profile), None) if spec.profile else None
    min_items = rng.randint(MULTIPAGE_MIN_ITEMS, 70) if spec.layout == "multipage_table" else 0
    c = make_content(rng, spec.kind, profile=profile, min_items=min_items)
    r = render(c, spec.layout, rng)
    scan = bool(spec.scan)
    pages_text = r.page_texts
    if not scan:
        name = f"{spec.stem}.pdf"
        data = r.pdf
        pages = [{"page": i + 1, "width": round(r.width, 2), "height": round(r.height, 2), "unit": "pt",
                  "text": pages_text[i]} for i in range(r.page_count)]
        fields = r.fields
        fmt, dpi = "pdf", None
    else:
        fmt = spec.fmt or _choose_format(rng, spec.kind, r.page_count)
        if r.page_count > 1 and fmt in ("png", "jpeg"):
            raise ConfigError(f"{spec.stem}: a {r.page_count}-page document cannot be saved as {fmt}; use pdf or tiff.")
        data, pages, fields, dpi = _scan(r, spec, fmt, rng)
        name = f"{spec.stem}.{FORMATS[fmt][0]}"
    truth = truth_mod.build(c, document=name, layout=spec.layout, scan=scan, fields=fields, pages=pages,
                            extra={"media_type": FORMATS[fmt][1], "dpi": dpi, "locale": c.profile.locale})
    docs_dir, truth_dir = os.path.join(out, "documents"), os.path.join(out, "truth")
    with open(os.path.join(docs_dir, name), "wb") as fh:
        fh.write(data)
    with open(os.path.join(truth_dir, f"{spec.stem}.json"), "w", encoding="utf-8") as fh:
        fh.write(truth_mod.dumps(truth))
    return {"name": name, "kind": spec.kind, "layout": spec.layout, "scan": scan, "format": fmt, "pages": r.page_count}


def _scan(r, spec: Spec, fmt: str, rng: random.Random):
    """Render, degrade and encode; returns (bytes, truth pages, fields with moved boxes, dpi)."""
    from paperbeam.synth import degrade

    photo = spec.photo if spec.photo is not None else (spec.kind == "receipt" and fmt == "jpeg" and rng.random() < 0.6)
    params = degrade.pick_params(rng, spec.dpi or (150, 200, 200, 300), photo=photo, bilevel_ok=fmt == "tiff")
    if spec.bilevel is not None:
        params.bilevel = spec.bilevel and fmt == "tiff"
    scale = params.dpi / 72.0
    arrays = degrade.render_pages(r.pdf, params.dpi)
    by_page: Dict[int, List[str]] = {}
    for name, rec in r.fields.items():
        by_page.setdefault(rec["page"], []).append(name)
    fields: Dict[str, dict] = {}
    images, pages = [], []
    for i, arr in enumerate(arrays):
        names = by_page.get(i + 1, [])
        boxes = [tuple(v * scale for v in r.fields[n]["bbox"]) for n in names]
        img, moved = degrade.degrade_page(arr, boxes, params, rng)
        images.append(degrade.to_pil(img, params.bilevel))
        h, w = img.shape
        to_unit = 72.0 / params.dpi if fmt == "pdf" else 1.0
        for n, b in zip(names, moved):
            fields[n] = {**r.fields[n], "bbox": [v * to_unit for v in b]}
        pages.append({"page": i + 1, "width": round(w * to_unit, 2), "height": round(h * to_unit, 2),
                      "unit": "pt" if fmt == "pdf" else "px", "text": r.page_texts[i]})
    quality = rng.choice([70, 75, 80])
    if fmt == "pdf":
        data = degrade.write_pdf(images, params.dpi, quality)
    elif fmt == "tiff":
        data = degrade.write_tiff(images, params.dpi, quality)
    elif fmt == "png":
        data = degrade.write_png(images[0], params.dpi)
    else:
        data = degrade.write_jpeg(images[0], params.dpi, quality)
    return data, pages, fields, params.dpi


def _work(args) -> Dict[str, object]:
    spec, out, seed = args
    return generate_one(spec, out, seed)


def generate(opts: GenerateOptions, specs: Optional[Sequence[Spec]] = None, progress=None) -> Dict[str, object]:
    """Generate ``opts.count`` documents (or the given ``specs``) into ``opts.out``; returns counts and timing."""
    opts.validate()
    os.makedirs(os.path.join(opts.out, "documents"), exist_ok=True)
    os.makedirs(os.path.join(opts.out, "truth"), exist_ok=True)
    if specs is None:
        specs = [plan(i, opts) for i in range(opts.start, opts.start + opts.count)]
    jobs = opts.jobs or os.cpu_count() or 1
    started = time.perf_counter()
    tasks = [(s, opts.out, opts.seed) for s in specs]
    results: List[Dict[str, object]] = []
    if jobs <= 1 or len(tasks) <= 1:
        for t in tasks:
            results.append(_work(t))
            if progress:
                progress(len(results), len(tasks))
    else:
        ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
        with ctx.Pool(min(jobs, len(tasks))) as pool:
            for res in pool.imap_unordered(_work, tasks, chunksize=max(1, min(16, len(tasks) // (jobs * 8) or 1))):
                results.append(res)
                if progress:
                    progress(len(results), len(tasks))
    seconds = time.perf_counter() - started
    return {
        "documents": len(results),
        "seconds": round(seconds, 3),
        "per_second": round(len(results) / seconds, 2) if seconds > 0 else None,
        "kinds": dict(Counter(r["kind"] for r in results)),
        "layouts": dict(Counter(r["layout"] for r in results)),
        "formats": dict(Counter(("scan-" if r["scan"] else "") + str(r["format"]) for r in results)),
        "out": opts.out,
    }


__all__ = ["GenerateOptions", "Spec", "generate", "generate_one", "plan", "LAYOUTS", "KINDS"]
