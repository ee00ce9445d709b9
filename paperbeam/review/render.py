"""Records + dead letters + summary -> a static HTML review report.

Everything a document says (file names, field values, OCR words, error
messages) is untrusted: it reaches the HTML only through ``esc`` (text and
attributes) or ``json_script`` (data for the page's script, which puts it in
the page with ``textContent``, never as markup). Each page also carries a
Content-Security-Policy that allows scripts and styles from the report's own
``assets/`` only, so even a mistake here would not run injected script.

Page images are made again from the source files (the records do not carry
them): PDF pages with pypdfium2 at a modest resolution, image files with PIL
(EXIF orientation applied, as the pipeline does). An OCR'd page is turned by
the page's ``rotation``, as the OCR engine turned it before reading, so its
boxes (in the engine's pixels) land on the right place once scaled by
``image size / page size``.
"""

from __future__ import annotations

import glob
import html
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple
from urllib.parse import unquote, urlparse

from paperbeam.errors import ConfigError
from paperbeam.records import SCHEMA_VERSION, SOURCE_OCR, DeadLetter, Page, Record
from paperbeam.schema import INVOICE

log = logging.getLogger(__name__)

ASSETS = ("review.css", "review.js", "corrections.js")
PALETTE = (
    "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42a5b3",
    "#f032e6", "#9a6324", "#808000", "#000075", "#e6a800", "#469990",
)
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "base-uri 'none'; form-action 'none'"
)
MAX_IMAGE_SIDE = 2000  # px; a page image bigger than this is scaled down


# --------------------------------------------------------------------------
# Escaping


def esc(value: Any) -> str:
    """Text or attribute value, HTML-escaped (quotes included)."""
    return html.escape("" if value is None else str(value), quote=True)


def json_script(obj: Any, element_id: str) -> str:
    """Data for the page's script in a non-executing ``<script type="application/json">``.

    ``<``, ``>`` and ``&`` are written as ``\\u003c`` etc., so a value holding
    ``</script>`` cannot end the element.
    """
    text = json.dumps(obj, ensure_ascii=False, sort_keys=True)
    for raw, safe in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, safe)
    return f'<script type="application/json" id="{esc(element_id)}">{text}</script>'


def num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value == value else "0"


# --------------------------------------------------------------------------
# Loading a run


@dataclass
class RunData:
    records: List[Record]
    dead_letters: List[DeadLetter] = field(default_factory=list)
    summary: Dict[str, Any] = field(default_factory=dict)
    source: str = ""


def _jsonl(paths: Iterable[str]):
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise ConfigError(f"{path} line {n} is not JSON ({exc.msg}). Is this a paperbeam records file?")


def load_run(path: str, dead_letters: Optional[str] = None, summary: Optional[str] = None) -> RunData:
    """A run's output: ``path`` is an output directory (records-*.jsonl, dead_letters-*.jsonl,
    summary.json), or a records file or glob, with the dead letters and summary given separately."""
    if os.path.isdir(path):
        record_files = sorted(glob.glob(os.path.join(path, "records-*.jsonl")))
        dead_letters = dead_letters or os.path.join(path, "dead_letters-*.jsonl")
        summary = summary or os.path.join(path, "summary.json")
        if not record_files and not glob.glob(dead_letters):
            raise ConfigError(f"No records-*.jsonl or dead_letters-*.jsonl in {path}. Give the --output directory of a run.")
    else:
        record_files = sorted(glob.glob(path))
        if not record_files:
            raise ConfigError(f"No records file matches {path}. Give a run's --output directory or its records-*.jsonl.")
    records = [Record.from_dict(d) for d in _jsonl(record_files)]
    records.sort(key=lambda r: (r.source_uri, r.id))
    letters = [DeadLetter.from_dict(d) for d in _jsonl(sorted(glob.glob(dead_letters)))] if dead_letters else []
    data: Dict[str, Any] = {}
    if summary and os.path.exists(summary):
        try:
            with open(summary, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"Cannot read the summary {summary} ({exc}).")
    return RunData(records=records, dead_letters=letters, summary=data, source=path)


# --------------------------------------------------------------------------
# Page images and boxes


def local_path(uri: str) -> str:
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return unquote(parsed.path)
    return uri


def read_source(uri: str) -> bytes:
    """The source file's bytes (local paths, file:// and any Beam file system)."""
    path = local_path(uri)
    if "://" not in path:
        with open(path, "rb") as fh:
            return fh.read()
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(path, compression_type="uncompressed") as fh:
        return fh.read()


def render_page_image(data: bytes, media_type: str, page: Page, dpi: int = 100, max_side: int = MAX_IMAGE_SIDE,
                      password: Optional[str] = None):
    """The page as a PIL image, oriented the way the page's boxes were measured."""
    from PIL import Image, ImageOps

    from paperbeam.models import formats
    from paperbeam.models.pages import open_image, open_pdf

    if media_type == formats.PDF:
        pdf = open_pdf(data, password)
        try:
            pp = pdf[page.page_number - 1]
            w_pt, h_pt = pp.get_size()
            scale = min(dpi / 72.0, max_side / max(w_pt, h_pt, 1.0))
            image = pp.render(scale=scale).to_pil()
            pp.close()
        finally:
            pdf.close()
    else:
        image = open_image(data)
        if image.size[0] * image.size[1] > 200_000_000:
            raise ValueError("the image is too large to show")
        if page.page_number > 1 or getattr(image, "n_frames", 1) > 1:
            image.seek(page.page_number - 1)
        image = ImageOps.exif_transpose(image)
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
    if page.source == SOURCE_OCR and page.rotation % 360:
        # the engine turned the page clockwise before reading; PIL turns counter-clockwise
        image = image.rotate(-(page.rotation % 360), expand=True)
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.LANCZOS)
    return image


def scale_box(bbox: Sequence[float], page: Page, image_size: Tuple[int, int]) -> Tuple[float, float, float, float]:
    """A box in the page's units -> ``(x, y, width, height)`` in the image's pixels."""
    sx = image_size[0] / page.width if page.width else 1.0
    sy = image_size[1] / page.height if page.height else 1.0
    x0, y0, x1, y1 = (float(v) for v in bbox)
    x0, x1 = sorted((x0, x1))
    y0, y1 = sorted((y0, y1))
    return x0 * sx, y0 * sy, (x1 - x0) * sx, (y1 - y0) * sy


# --------------------------------------------------------------------------
# Ground truth drafts (what corrections start from)


def document_name(uri: str) -> str:
    path = local_path(uri).replace("\\", "/").rstrip("/")
    return path.rsplit("/", 1)[-1] or path


def document_stem(uri: str) -> str:
    from paperbeam.models.evaluate import document_stem as stem

    return stem(uri)


def field_names(records: Iterable[Record]) -> List[str]:
    """The schema's fields in schema order, then any others the records have."""
    names = list(INVOICE.names)
    for rec in records:
        for name in rec.fields:
            if name not in names:
                names.append(name)
    return names


def truth_draft(record: Record, names: Sequence[str], date_order: Optional[str] = None) -> Dict[str, Any]:
    """The record as a truth file (``synth/truth.py`` format): what the corrections form edits.

    A field that was not found is null, as in the truth files. ``kind`` is the
    record's ``metadata["kind"]`` when a source set it, else the schema name.
    """
    fields: Dict[str, Any] = {}
    for name in names:
        f = record.fields.get(name)
        if f is None or f.value in (None, ""):
            fields[name] = None
        else:
            fields[name] = {
                "value": f.value,
                "normalized": f.normalized,
                "page": f.page,
                "bbox": None if f.bbox is None else [round(v, 2) for v in f.bbox],
            }
    truth = {
        "schema_version": SCHEMA_VERSION,
        "document": document_name(record.source_uri),
        "kind": str(record.metadata.get("kind") or record.schema),
        "fields": fields,
        "pages": [
            {"page": p.page_number, "width": round(p.width, 2), "height": round(p.height, 2), "unit": p.unit}
            for p in record.pages
        ],
        "origin": {"record_id": record.id, "source_uri": record.source_uri, "reviewed": False},
    }
    if date_order:
        truth["date_order"] = date_order
    return truth


# --------------------------------------------------------------------------
# Plots (SVG, made here; no plotting library in the browser)


def _svg_open(width: int, height: int, label: str) -> str:
    return (f'<svg class="plot" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
            f'role="img" aria-label="{esc(label)}"><title>{esc(label)}</title>')


def _axis_ticks(vmax: float, n: int = 4) -> List[float]:
    if vmax <= 0:
        return [0.0]
    return [vmax * i / n for i in range(n + 1)]


def rates_from_timeline(timeline: Sequence[Sequence[float]], window: float = 2.0) -> List[Tuple[float, float]]:
    """``[[seconds, pages, docs], ...]`` -> ``[(seconds, pages/s)]`` over windows of at least ``window`` s."""
    points = [(float(p[0]), float(p[1])) for p in timeline if len(p) >= 2]
    out: List[Tuple[float, float]] = []
    j = 0
    for t, pages in points[1:]:
        while j + 1 < len(points) and t - points[j + 1][0] >= window:
            j += 1
        t0, p0 = points[j]
        if t > t0:
            out.append((t, (pages - p0) / (t - t0)))
    return out


def svg_line(points: Sequence[Tuple[float, float]], title: str, xlabel: str, ylabel: str,
             mean: Optional[float] = None, width: int = 460, height: int = 200) -> str:
    left, right, top, bottom = 46, 10, 22, 34
    pw, ph = width - left - right, height - top - bottom
    xmax = max((p[0] for p in points), default=1.0) or 1.0
    ymax = max([p[1] for p in points] + [mean or 0.0]) or 1.0
    ymax *= 1.1
    out = [_svg_open(width, height, title), f'<text x="{left}" y="14" class="plot-title">{esc(title)}</text>']
    for v in _axis_ticks(ymax):
        y = top + ph - v / ymax * ph
        out.append(f'<line x1="{left}" y1="{num(y)}" x2="{left + pw}" y2="{num(y)}" class="grid"/>'
                   f'<text x="{left - 4}" y="{num(y + 4)}" class="tick" text-anchor="end">{v:.1f}</text>')
    for v in (_axis_ticks(xmax) if points else []):
        x = left + v / xmax * pw
        out.append(f'<text x="{num(x)}" y="{top + ph + 14}" class="tick" text-anchor="middle">{v:.{0 if xmax >= 8 else 1}f}</text>')
    out.append(f'<text x="{left + pw / 2:.0f}" y="{height - 4}" class="axis" text-anchor="middle">{esc(xlabel)}</text>')
    out.append(f'<text x="12" y="{top + ph / 2:.0f}" class="axis" text-anchor="middle" '
               f'transform="rotate(-90 12 {top + ph / 2:.0f})">{esc(ylabel)}</text>')
    if points:
        path = " ".join(f"{left + x / xmax * pw:.1f},{top + ph - y / ymax * ph:.1f}" for x, y in points)
        out.append(f'<polyline points="{path}" class="series"/>')
    else:
        out.append(f'<text x="{left + pw / 2:.0f}" y="{top + ph / 2:.0f}" class="empty" text-anchor="middle">'
                   "no timeline in summary.json (recorded on the direct runner)</text>")
    if mean:
        y = top + ph - mean / ymax * ph
        out.append(f'<line x1="{left}" y1="{num(y)}" x2="{left + pw}" y2="{num(y)}" class="mean"/>'
                   f'<text x="{left + pw}" y="{num(y - 3)}" class="tick" text-anchor="end">mean {mean:.2f}</text>')
    out.append("</svg>")
    return "".join(out)


def histogram(values: Sequence[float], bins: int = 10) -> List[int]:
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, max(0, int(float(v) * bins)))] += 1
    return counts


def svg_histogram(values: Sequence[float], title: str, color: str, low: float, width: int = 220, height: int = 120) -> str:
    left, right, top, bottom = 26, 6, 20, 20
    pw, ph = width - left - right, height - top - bottom
    counts = histogram(values)
    cmax = max(counts) or 1
    bw = pw / len(counts)
    out = [_svg_open(width, height, f"{title}: confidence histogram"),
           f'<text x="{left}" y="13" class="plot-title">{esc(title)} ({len(values)})</text>']
    x_low = left + low * pw
    out.append(f'<rect x="{left}" y="{top}" width="{num(x_low - left)}" height="{ph}" class="low-zone"/>')
    for i, c in enumerate(counts):
        h = c / cmax * ph
        out.append(f'<rect x="{num(left + i * bw + 1)}" y="{num(top + ph - h)}" width="{num(bw - 2)}" height="{num(h)}" '
                   f'fill="{color}"><title>{i / 10:.1f}-{(i + 1) / 10:.1f}: {c}</title></rect>')
    out.append(f'<text x="{left - 3}" y="{top + 8}" class="tick" text-anchor="end">{cmax}</text>')
    out.append(f'<text x="{left}" y="{height - 5}" class="tick">0</text>'
               f'<text x="{left + pw}" y="{height - 5}" class="tick" text-anchor="end">1</text>')
    out.append("</svg>")
    return "".join(out)


def svg_bars(counts: Dict[str, int], title: str, width: int = 460) -> str:
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    row, top, label_w = 20, 22, 220
    height = top + max(len(items), 1) * row + 8
    vmax = max((v for _, v in items), default=1) or 1
    out = [_svg_open(width, height, title), f'<text x="4" y="14" class="plot-title">{esc(title)}</text>']
    if not items:
        out.append(f'<text x="4" y="{top + 14}" class="empty">none</text>')
    for i, (label, v) in enumerate(items):
        y = top + i * row
        w = v / vmax * (width - label_w - 40)
        out.append(f'<text x="{label_w - 6}" y="{y + 14}" class="tick" text-anchor="end">{esc(label[:40])}</text>'
                   f'<rect x="{label_w}" y="{y + 3}" width="{num(w)}" height="{row - 6}" class="bar-dead"><title>{esc(label)}: {v}</title></rect>'
                   f'<text x="{num(label_w + w + 4)}" y="{y + 14}" class="tick">{v}</text>')
    out.append("</svg>")
    return "".join(out)


# --------------------------------------------------------------------------
# HTML


def _page(title: str, body: str, scripts: Sequence[str] = ("review.js",)) -> str:
    tags = "".join(f'<script src="assets/{esc(s)}"></script>' for s in scripts)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><link rel=\"stylesheet\" href=\"assets/review.css\"></head>"
        f"<body>{body}{tags}</body></html>\n"
    )


def _swatch(color: str) -> str:
    return f'<svg class="swatch" width="12" height="12" aria-hidden="true"><rect width="12" height="12" fill="{color}"/></svg>'


def _summary_html(summary: Dict[str, Any], run: RunData) -> str:
    if not summary:
        return (f'<p class="note">No summary.json next to the records: counts below are from the records '
                f"({len(run.records)}) and dead letters ({len(run.dead_letters)}).</p>")
    rows = [
        ("Run", summary.get("run_id")),
        ("Inputs", summary.get("inputs")),
        ("Records", summary.get("records")),
        ("Dead letters", f"{summary.get('dead_letters')} ({float(summary.get('dead_letter_ratio') or 0):.1%})"),
        ("Accounted for", "yes" if summary.get("accounted") else "NO (inputs != records + dead letters)"),
        ("Pages", f"{summary.get('pages')} ({summary.get('pages_text_layer')} text layer, {summary.get('pages_ocr')} OCR)"),
        ("Time", f"{float(summary.get('seconds') or 0):.1f} s, {float(summary.get('pages_per_second') or 0):.2f} pages/s"),
        ("Started / finished", f"{summary.get('started')} / {summary.get('finished')}"),
        ("Output", summary.get("output")),
    ]
    versions = summary.get("versions") or {}
    rows.append(("Versions", ", ".join(f"{k} {v}" for k, v in sorted(versions.items()) if v)))
    config = summary.get("config") or {}
    rows.append(("Configuration", ", ".join(f"{k}={v}" for k, v in sorted(config.items()))))
    cls = "" if summary.get("accounted", True) else ' class="bad"'
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    metrics = summary.get("metrics") or {}
    dists = summary.get("distributions") or {}
    if metrics or dists:
        items = [f"<tr><td>{esc(k)}</td><td class=\"num\">{esc(v)}</td></tr>" for k, v in sorted(metrics.items())]
        items += [
            f"<tr><td>{esc(k)}</td><td class=\"num\">n={esc(d.get('count'))} mean={esc(d.get('mean'))} "
            f"min={esc(d.get('min'))} max={esc(d.get('max'))}</td></tr>"
            for k, d in sorted(dists.items())
        ]
        body += ("<tr><th>Beam metrics</th><td><details><summary>counters and distributions</summary>"
                 f"<table class=\"metrics\">{''.join(items)}</table></details></td></tr>")
    return f"<table class=\"summary\"{cls}>{body}</table>"


def _doc_cell(f, low: float) -> str:
    if f is None or f.value in (None, ""):
        return '<td class="missing" data-sort="">—</td>'
    cls = "low" if f.confidence < low else ""
    title = f"{f.value} | normalized: {f.normalized} | confidence {f.confidence:.2f} | {f.extractor}"
    return (f'<td class="{cls}" data-sort="{esc(f.normalized or f.value)}" title="{esc(title)}">'
            f'<span class="v">{esc(f.value)}</span> <span class="c">{f.confidence:.2f}</span></td>')


def _index_html(run: RunData, names: List[str], colors: Dict[str, str], doc_files: List[str], low: float) -> str:
    summary = run.summary
    parts = [f"<header><h1>paperbeam review</h1><p>{esc(run.source)}</p></header>"]
    parts.append(f"<section><h2>Run</h2>{_summary_html(summary, run)}</section>")
    # Plots
    rates = rates_from_timeline(summary.get("timeline") or [])
    plots = [svg_line(rates, "Pages per second over the run", "seconds", "pages/s", mean=summary.get("pages_per_second"))]
    reasons = summary.get("dead_letters_by_reason")
    if reasons is None:
        reasons = {}
        for d in run.dead_letters:
            key = f"{d.stage}: {d.error}"
            reasons[key] = reasons.get(key, 0) + 1
    plots.append(svg_bars(reasons, "Dead letters by reason"))
    hists = []
    for name in names:
        values = [r.fields[name].confidence for r in run.records if name in r.fields and r.fields[name].value not in (None, "")]
        if values:
            hists.append(svg_histogram(values, name, colors[name], low))
    parts.append(f'<section><h2>Plots</h2><div class="plots">{"".join(plots)}</div>'
                 f'<h3>Confidence per field <small>(shaded: below {low:.2f})</small></h3><div class="plots hists">{"".join(hists)}</div></section>')
    # Documents
    head = "".join(f'<th data-type="text">{_swatch(colors[n])}{esc(n)}</th>' for n in names)
    rows = []
    for rec, href in zip(run.records, doc_files):
        lows = sum(1 for f in rec.fields.values() if f.value not in (None, "") and f.confidence < low)
        errors = sum(1 for p in rec.pages if p.error)
        cells = "".join(_doc_cell(rec.fields.get(n), low) for n in names)
        rows.append(
            f'<tr data-low="{lows}"><td data-sort="{esc(document_name(rec.source_uri))}"><a href="{esc(href)}">'
            f'{esc(document_name(rec.source_uri))}</a>{" <span class=badge>page errors</span>" if errors else ""}</td>'
            f'<td class="num" data-sort="{rec.page_count}">{rec.page_count}</td><td class="num" data-sort="{lows}">{lows}</td>{cells}</tr>'
        )
    parts.append(
        f'<section><h2>Documents <small>({len(run.records)})</small></h2>'
        '<div class="controls"><input type="search" id="filter" placeholder="Filter documents and values…" aria-label="filter">'
        f'<label><input type="checkbox" id="only-low"> only documents with fields below {low:.2f}</label>'
        '<span id="shown"></span></div>'
        '<div class="scroll"><table class="docs sortable" id="docs"><thead><tr>'
        '<th data-type="text">document</th><th data-type="num">pages</th><th data-type="num">low</th>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div></section>"
    )
    # Dead letters
    if run.dead_letters:
        dl = "".join(
            f"<tr><td>{esc(document_name(d.source_uri))}<div class=\"uri\">{esc(d.source_uri)}</div></td>"
            f"<td>{esc(d.stage)}</td><td>{esc(d.error)}</td><td>{esc(d.page if d.page is not None else '')}</td><td>{esc(d.message)}</td></tr>"
            for d in run.dead_letters
        )
        parts.append(
            f'<section class="dead"><h2>Dead letters <small>({len(run.dead_letters)})</small></h2>'
            '<table class="sortable dead-letters"><thead><tr><th data-type="text">document</th><th data-type="text">stage</th>'
            '<th data-type="text">error</th><th data-type="num">page</th><th data-type="text">message</th></tr></thead>'
            f"<tbody>{dl}</tbody></table></section>"
        )
    else:
        parts.append('<section><h2>Dead letters</h2><p class="note">None.</p></section>')
    return _page("paperbeam review", "".join(parts))


@dataclass
class _PageView:
    page: Page
    image: Optional[str]  # file name under pages/
    size: Tuple[int, int]  # image pixels (or the page's own size when there is no image)
    note: str = ""


def _page_views(rec: Record, out_dir: str, dpi: int, slug: str, password: Optional[str] = None) -> List[_PageView]:
    views: List[_PageView] = []
    data: Optional[bytes] = None
    data_error = ""
    try:
        data = read_source(rec.source_uri)
    except Exception as exc:  # noqa: BLE001 - the report still shows the boxes, on a blank page
        data_error = f"The source file cannot be read ({type(exc).__name__}); boxes are drawn on a blank page."
    for page in rec.pages:
        if page.error or not page.width or not page.height:
            views.append(_PageView(page, None, (0, 0), "This page could not be read."))
            continue
        note = data_error
        if data is not None:
            try:
                image = render_page_image(data, rec.media_type, page, dpi, password=password)
                name = f"{slug}-p{page.page_number}.png"
                image.save(os.path.join(out_dir, "pages", name), optimize=False)
                views.append(_PageView(page, name, image.size))
                continue
            except Exception as exc:  # noqa: BLE001 - a page we cannot show is noted, not fatal
                note = f"The page cannot be rendered ({type(exc).__name__}); boxes are drawn on a blank page."
        w = 800
        views.append(_PageView(page, None, (w, int(round(w * page.height / page.width))), note))
    return views


def _document_html(rec: Record, names: List[str], colors: Dict[str, str], views: List[_PageView], low: float,
                   nav: Tuple[Optional[str], Optional[str]], date_order: Optional[str]) -> str:
    name = document_name(rec.source_uri)
    figures = []
    page_data = []
    for v in views:
        p = v.page
        if not v.size[0]:
            figures.append(f'<figure class="page"><figcaption>Page {p.page_number}</figcaption>'
                           f'<p class="note bad">{esc(v.note)} {esc((p.error or {}).get("message", ""))}</p></figure>')
            continue
        w, h = v.size
        boxes = []
        for i, fname in enumerate(names):
            f = rec.fields.get(fname)
            if f is None or f.bbox is None or f.page != p.page_number or f.value in (None, ""):
                continue
            x, y, bw, bh = scale_box(f.bbox, p, v.size)
            cls = "field low" if f.confidence < low else "field"
            boxes.append(
                f'<rect class="{cls}" data-field="{esc(fname)}" x="{num(x)}" y="{num(y)}" width="{num(bw)}" height="{num(bh)}" '
                f'stroke="{colors[fname]}" fill="{colors[fname]}"><title>{esc(fname)}: {esc(f.value)} '
                f"(confidence {f.confidence:.2f})</title></rect>"
            )
        words = []
        for word in p.words:
            x, y, bw, bh = scale_box(word.bbox, p, v.size)
            words.append(f'<rect class="word" x="{num(x)}" y="{num(y)}" width="{num(bw)}" height="{num(bh)}">'
                         f"<title>{esc(word.text)} ({word.confidence:.2f})</title></rect>")
        img = (f'<img src="pages/{esc(v.image)}" width="{w}" height="{h}" alt="page {p.page_number}">' if v.image
               else f'<svg class="blank" viewBox="0 0 {w} {h}" width="{w}" height="{h}" aria-label="blank page"><rect width="{w}" height="{h}" fill="#fff"/></svg>')
        src = "OCR " + (p.engine or "") + (f", turned {p.rotation}°" if p.rotation else "") if p.source == SOURCE_OCR else "text layer"
        figures.append(
            f'<figure class="page" data-page="{p.page_number}"><figcaption>Page {p.page_number} '
            f"<small>({esc(src)}; {num(p.width)} × {num(p.height)} {esc(p.unit)})</small></figcaption>"
            f'{"<p class=note>" + esc(v.note) + "</p>" if v.note else ""}'
            f'<div class="sheet">{img}<svg class="overlay" viewBox="0 0 {w} {h}" preserveAspectRatio="none" '
            f'data-page="{p.page_number}"><g class="words" hidden>{"".join(words)}</g><g class="fields">{"".join(boxes)}</g>'
            f'<rect class="drawing" hidden x="0" y="0" width="0" height="0"/></svg></div></figure>'
        )
        page_data.append({"page": p.page_number, "width": p.width, "height": p.height, "unit": p.unit,
                          "image_width": w, "image_height": h, "words": len(p.words)})
    rows = []
    fields_data = []
    for fname in names:
        f = rec.fields.get(fname)
        present = f is not None and f.value not in (None, "")
        conf = f"{f.confidence:.2f}" if present else ""
        cls = "low" if present and f.confidence < low else ("missing" if not present else "")
        rows.append(
            f'<tr class="{cls}" data-field="{esc(fname)}"><th>{_swatch(colors[fname])}{esc(fname)}</th>'
            f'<td class="extracted"><span class="v">{esc(f.value if present else "—")}</span>'
            f'<div class="norm">{esc(f.normalized if present and f.normalized else "")}</div></td><td class="num">{conf}</td>'
            f'<td class="edit"><input class="c-value" aria-label="{esc(fname)} value" value="{esc(f.value if present else "")}">'
            f'<input class="c-norm" aria-label="{esc(fname)} normalized" placeholder="normalized" value="{esc((f.normalized or "") if present else "")}">'
            f'<label><input type="checkbox" class="c-absent"{"" if present else " checked"}> absent</label>'
            f'<button type="button" class="c-draw">draw box</button></td></tr>'
        )
        fields_data.append({"name": fname, "color": colors[fname], "present": present,
                            "value": f.value if present else None, "normalized": f.normalized if present else None,
                            "confidence": f.confidence if present else None, "page": f.page if present else None,
                            "bbox": list(f.bbox) if present and f.bbox else None})
    prev_link = f'<a href="{esc(nav[0])}">← previous</a>' if nav[0] else ""
    next_link = f'<a href="{esc(nav[1])}">next →</a>' if nav[1] else ""
    has_words = any(p.words for p in rec.pages)
    words_toggle = ('<label><input type="checkbox" id="show-words"> show OCR words</label>' if has_words
                    else '<span class="note">No words in this record (run with --emit-words to see them).</span>')
    data = {
        "doc_id": rec.id,
        "stem": document_stem(rec.source_uri),
        "truth": truth_draft(rec, names, date_order),
        "fields": fields_data,
        "pages": page_data,
        "low": low,
    }
    body = (
        f'<nav><a href="index.html">↑ all documents</a> {prev_link} {next_link}</nav>'
        f'<header><h1>{esc(name)}</h1><p class="uri">{esc(rec.source_uri)}</p>'
        f"<p>{rec.page_count} page(s), {esc(rec.media_type)}, id {esc(rec.id[:16])}…</p></header>"
        f'<div class="layout"><div class="pages">{"".join(figures)}</div>'
        f'<aside><h2>Fields</h2><div class="controls">{words_toggle}</div>'
        f'<table class="fields"><thead><tr><th>field</th><th>extracted</th><th>conf.</th><th>correction</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
        '<div class="controls"><button type="button" id="export">Export corrections as truth JSON</button>'
        '<button type="button" id="reset">Reset</button></div>'
        f'<p class="note">Saves <code>{esc(document_stem(rec.source_uri))}.json</code>: put it in <code>DIR/truth/</code> and the '
        f"document (<code>{esc(name)}</code>) in <code>DIR/documents/</code> for <code>paperbeam train --data DIR</code> "
        "(or <code>paperbeam evaluate --truth DIR</code>). Edits are kept in this browser until you reset.</p>"
        '<p id="status" role="status"></p></aside></div>'
        '<div id="tip" class="tip" hidden></div>'
        + json_script(data, "pb-data")
    )
    return _page(f"{name} — paperbeam review", body, scripts=("review.js", "corrections.js"))


def _slugs(records: Sequence[Record]) -> List[str]:
    seen: Dict[str, int] = {}
    out = []
    for rec in records:
        base = "".join(c for c in rec.id[:16] if c.isalnum()) or "doc"
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.append(base if n == 0 else f"{base}-{n}")
    return out


def copy_assets(out_dir: str) -> None:
    target = os.path.join(out_dir, "assets")
    os.makedirs(target, exist_ok=True)
    pkg = resources.files("paperbeam.review") / "assets"
    for name in ASSETS:
        with resources.as_file(pkg / name) as src:
            shutil.copyfile(src, os.path.join(target, name))


def render_report(run: RunData, out_dir: str, dpi: int = 100, low_confidence: float = 0.5,
                  pdf_password: Optional[str] = None) -> str:
    """Write the report into ``out_dir``; returns the path of ``index.html``.

    ``pdf_password`` opens encrypted PDFs to draw their pages (it is never written into the report).
    """
    if not 0.0 <= low_confidence <= 1.0:
        raise ConfigError(f"--low-confidence must be between 0 and 1, not {low_confidence}.")
    if not 20 <= dpi <= 600:
        raise ConfigError(f"--dpi must be between 20 and 600, not {dpi}.")
    os.makedirs(os.path.join(out_dir, "pages"), exist_ok=True)
    copy_assets(out_dir)
    names = field_names(run.records)
    colors = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}
    slugs = _slugs(run.records)
    doc_files = [f"doc-{s}.html" for s in slugs]
    date_order = (run.summary.get("config") or {}).get("date_order")
    for i, (rec, slug) in enumerate(zip(run.records, slugs)):
        views = _page_views(rec, out_dir, dpi, slug, pdf_password)
        nav = (doc_files[i - 1] if i > 0 else None, doc_files[i + 1] if i + 1 < len(doc_files) else None)
        with open(os.path.join(out_dir, doc_files[i]), "w", encoding="utf-8") as fh:
            fh.write(_document_html(rec, names, colors, views, low_confidence, nav, date_order))
    index = os.path.join(out_dir, "index.html")
    with open(index, "w", encoding="utf-8") as fh:
        fh.write(_index_html(run, names, colors, doc_files, low_confidence))
    log.info("review report: %s (%d documents, %d dead letters)", index, len(run.records), len(run.dead_letters))
    return index
