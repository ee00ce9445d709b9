"""OCR accuracy and speed on SROIE-style receipts: one table, one row per engine.

    python bench/ocr.py --sroie /work/shared/datasets/sroie-dev [--limit N] [--engines tesseract,rapidocr,auto]
    python bench/ocr.py --sroie ... --engine 'tesseract:psm=6' --engine 'tesseract:preprocess.rescale=false'
    python bench/ocr.py --synth DIR      # the scanned documents of a `paperbeam synth` folder

Data: SROIE: ``img/NNN.jpg``, ``box/NNN.csv`` (rows ``x1,y1,...,x4,y4,text``:
the true text lines) and ``key/NNN.json`` (company, date, address, total).
Synthetic (``paperbeam synth --scan-ratio 1``): every page of each scanned
document (image-only PDFs rendered at 300 dpi, PNG/JPEG/TIFF frames), its
exact text from ``truth/<stem>.json`` and, as the four keys, the printed
vendor_name, document_date, vendor_address and total_amount of that page.

Metrics (documented here because the numbers mean nothing without them):

* CER: Levenshtein distance between the OCR text and the true text, divided
  by the true text's length. Both texts are casefolded, whitespace runs
  (including line breaks) collapse to one space, and both are in reading
  order (lines top to bottom; boxes on the same row left to right).
* WER (bag of words): order-free, because layout analysis may legitimately
  order columns differently: (max(|T|, |O|) - |T ∩ O|) / |T| over the
  multisets of casefolded whitespace-separated tokens T (truth) and O (OCR).
* key coverage: a key value counts as found when it appears verbatim in the
  page's OCR text after removing all whitespace, case-insensitively.
* s/page: wall time of ``engine.recognize`` (preprocessing included) per page,
  engine construction (model loading) excluded and shown apart as "load s".
  Pages are read one at a time; set OMP_THREAD_LIMIT=1 (the engines default to
  1 thread) for figures comparable to a shared worker.

Nothing is cached between engines: each engine reads every page from disk.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import sys
import time
from collections import Counter
from typing import Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

from PIL import Image, ImageOps  # noqa: E402
from rapidfuzz.distance import Levenshtein  # noqa: E402

from paperbeam.models.evaluate import sroie_box_lines  # noqa: E402
from paperbeam.records import group_lines  # noqa: E402

FIELDS = ("company", "date", "address", "total")


# ----------------------------------------------------------------------------- data


def truth_lines(path: str) -> List[str]:
    """The true text lines of one receipt, in reading order."""
    rows = [(y0, y1, x0, text) for x0, y0, x1, y1, text in sroie_box_lines(path)]
    if not rows:
        return []
    rows.sort()
    heights = sorted(b - a for a, b, _, _ in rows)
    tol = max(1.0, heights[len(heights) // 2] * 0.5)
    out, current, y = [], [], None
    for top, bottom, x, text in rows:
        cy = (top + bottom) / 2
        if y is not None and abs(cy - y) > tol:
            out.append(" ".join(t for _, t in sorted(current)))
            current = []
        if not current:
            y = cy
        current.append((x, text))
    out.append(" ".join(t for _, t in sorted(current)))
    return out


def load_samples(root: str, limit: Optional[int]) -> List[dict]:
    samples = []
    for img in sorted(glob.glob(os.path.join(root, "img", "*"))):
        stem = os.path.splitext(os.path.basename(img))[0]
        box, key = os.path.join(root, "box", stem + ".csv"), os.path.join(root, "key", stem + ".json")
        if not (os.path.exists(box) and os.path.exists(key)):
            continue
        with open(key, encoding="utf-8") as fh:
            keys = json.load(fh)
        samples.append({"id": stem, "img": img, "lines": truth_lines(box), "keys": keys})
        if limit and len(samples) >= limit:
            break
    return samples


SYNTH_KEYS = {"company": "vendor_name", "date": "document_date", "address": "vendor_address", "total": "total_amount"}


def load_synth(root: str, limit: Optional[int]) -> List[dict]:
    """One sample per page of each scanned document of a ``paperbeam synth`` folder."""
    from paperbeam.models import formats, pages

    samples = []
    for truth_path in sorted(glob.glob(os.path.join(root, "truth", "*.json"))):
        with open(truth_path, encoding="utf-8") as fh:
            truth = json.load(fh)
        if not truth.get("scan"):
            continue
        path = os.path.join(root, "documents", truth["document"])
        with open(path, "rb") as fh:
            data = fh.read()
        media_type = formats.sniff(data)
        for page in truth["pages"]:
            n = page["page"]
            keys = {}
            for ours, name in SYNTH_KEYS.items():
                f = truth["fields"].get(name)
                keys[ours] = f["value"] if f and f.get("page") == n else None

            def load(data=data, media_type=media_type, n=n):
                """The page as the pipeline would OCR it."""
                page = pages.page_image(data, media_type, n, pages.PageOptions(dpi=300))
                return page.image, page.dpi or None

            samples.append({"id": f"{os.path.splitext(truth['document'])[0]}#{n}", "load": load,
                            "lines": [ln for ln in page["text"].split("\n") if ln.strip()], "keys": keys})
            if limit and len(samples) >= limit:
                return samples
    return samples


# ----------------------------------------------------------------------------- metrics


def norm_text(s: str) -> str:
    return re.sub(r"\s+", " ", s.casefold()).strip()


def squash(s: str) -> str:
    return re.sub(r"\s+", "", s.casefold())


def cer(truth: str, ocr: str) -> tuple:
    t, o = norm_text(truth), norm_text(ocr)
    return Levenshtein.distance(t, o), max(1, len(t))


def wer_bag(truth: str, ocr: str) -> tuple:
    t, o = Counter(norm_text(truth).split()), Counter(norm_text(ocr).split())
    nt, no = sum(t.values()), sum(o.values())
    common = sum((t & o).values())
    return max(nt, no) - common, max(1, nt)


def key_hits(keys: Dict[str, str], ocr: str) -> Dict[str, Optional[bool]]:
    page = squash(ocr)
    return {f: (squash(keys[f]) in page) if keys.get(f) else None for f in FIELDS}


# ----------------------------------------------------------------------------- engines


ENGINES = {
    "tesseract": "paperbeam.models.ocr.tesseract:TesseractEngine",
    "rapidocr": "paperbeam.models.ocr.rapid:RapidOcrEngine",
    "auto": "paperbeam.models.ocr.auto:AutoEngine",
}


def parse_value(v: str):
    low = v.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v


def make_engine(spec: str):
    """'name' or 'name:key=value,group.key=value' -> an engine instance (group.key: a dict option, e.g. preprocess)."""
    name, _, opts = spec.partition(":")
    kwargs: Dict[str, object] = {}
    for item in filter(None, opts.split(",")):
        k, _, v = item.partition("=")
        if "." in k:  # preprocess.rescale=false, rapidocr.head=stock (auto's RapidOCR)
            group, _, key = k.partition(".")
            kwargs.setdefault(group, {})[key] = parse_value(v)
        else:
            kwargs[k] = parse_value(v)
    try:
        from paperbeam import plugins

        cls = plugins.load("ocr_engines", name)
    except Exception:
        if name not in ENGINES:
            raise SystemExit(f"unknown engine {name!r}; known: {', '.join(ENGINES)}")
        mod, _, attr = ENGINES[name].partition(":")
        cls = getattr(__import__(mod, fromlist=[attr]), attr)
    return cls(**kwargs)


def page_text(words) -> str:
    return "\n".join(" ".join(w.text for w in line) for line in group_lines(words))


def run(spec: str, samples: List[dict], verbose: bool = False, dump: Optional[str] = None) -> dict:
    t = time.perf_counter()
    engine = make_engine(spec)
    engine.check()
    load = time.perf_counter() - t
    errs = chars = werrs = words = 0
    hits = {f: [0, 0] for f in FIELDS}
    seconds = 0.0
    decisions = Counter()
    for s in samples:
        if "load" in s:
            im, dpi = s["load"]()
        else:
            with Image.open(s["img"]) as im:
                im = ImageOps.exif_transpose(im)
                im.load()
            dpi = (im.info.get("dpi") or (None,))[0]
        t = time.perf_counter()
        result = engine.recognize(im, dpi=dpi)
        dt = time.perf_counter() - t
        seconds += dt
        text = page_text(result.words)
        truth = "\n".join(s["lines"])
        e, n = cer(truth, text)
        errs, chars = errs + e, chars + n
        e, n = wer_bag(truth, text)
        werrs, words = werrs + e, words + n
        kh = key_hits(s["keys"], text)
        for f, ok in kh.items():
            if ok is not None:
                hits[f][0] += ok
                hits[f][1] += 1
        chosen = result.details.get("chosen")
        if chosen:
            decisions[chosen] += 1
        if verbose:
            miss = [f for f, ok in kh.items() if ok is False]
            print(f"  {spec} {s['id']} {dt:.2f}s conf={result.mean_confidence or 0:.3f} cer={cer(truth, text)[0] / max(1, len(norm_text(truth))):.3f} "
                  f"{'chosen=' + chosen if chosen else ''} miss={','.join(miss)}", file=sys.stderr)
        if dump:
            os.makedirs(dump, exist_ok=True)
            with open(os.path.join(dump, f"{spec.replace(':', '_').replace(',', '_').replace('/', '_')}_{s['id']}.txt"), "w", encoding="utf-8") as fh:
                fh.write(text)
    n = max(1, len(samples))
    cov = {f: hits[f][0] / max(1, hits[f][1]) for f in FIELDS}
    return {
        "engine": spec,
        "version": engine.version(),
        "pages": len(samples),
        "cer": errs / max(1, chars),
        "wer": werrs / max(1, words),
        **cov,
        "keys": sum(cov.values()) / len(FIELDS),
        "s_page": seconds / n,
        "pages_s": n / seconds if seconds else 0.0,
        "load": load,
        "decisions": dict(decisions),
    }


def table(rows: List[dict]) -> str:
    head = ["engine", "pages", "CER", "WER(bag)", "company", "date", "address", "total", "keys avg", "s/page", "pages/s", "load s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in rows:
        lines.append("| " + " | ".join([
            r["engine"], str(r["pages"]), f"{r['cer']:.3f}", f"{r['wer']:.3f}",
            *(f"{100 * r[f]:.0f}%" for f in FIELDS), f"{100 * r['keys']:.1f}%",
            f"{r['s_page']:.2f}", f"{r['pages_s']:.2f}", f"{r['load']:.1f}",
        ]) + " |")
    for r in rows:
        if r["decisions"]:
            lines.append(f"{r['engine']}: text from {', '.join(f'{k} on {v} pages' for k, v in sorted(r['decisions'].items()))}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    data = ap.add_mutually_exclusive_group(required=True)
    data.add_argument("--sroie", help="directory with img/, box/, key/")
    data.add_argument("--synth", help="a `paperbeam synth` folder (documents/, truth/): its scanned documents")
    ap.add_argument("--limit", type=int, default=None, help="first N receipts (sorted by name)")
    ap.add_argument("--offset", type=int, default=0, help="skip the first N receipts")
    ap.add_argument("--fold", type=int, help="only receipts whose number leaves K when divided by 5 (2: those the shipped "
                    "models hold out; train a head with --holdout K to score the others)")
    ap.add_argument("--engines", default="tesseract,rapidocr,auto", help="comma-separated engine names")
    ap.add_argument("--engine", action="append", default=[], help="an engine with options, 'name:key=value,preprocess.flag=value', "
                    "'auto:rapidocr.head=stock' (repeatable; replaces --engines)")
    ap.add_argument("--verbose", action="store_true", help="one line per page on stderr")
    ap.add_argument("--dump", help="write each engine's page text here")
    args = ap.parse_args(argv)
    root = args.sroie or args.synth
    loader = load_samples if args.sroie else load_synth
    samples = loader(root, None)
    if args.fold is not None:
        from paperbeam.models.layout.train import is_validation

        samples = [smp for smp in samples if is_validation(str(smp["id"]), remainder=args.fold)]
    samples = samples[args.offset:(args.offset + args.limit) if args.limit else None]
    if not samples:
        print(f"no {'receipts' if args.sroie else 'scanned pages'} found under {root}", file=sys.stderr)
        return 2
    specs = args.engine or [e.strip() for e in args.engines.split(",") if e.strip()]
    rows = [run(spec, samples, args.verbose, args.dump) for spec in specs]
    print(f"{len(samples)} {'receipts' if args.sroie else 'scanned pages'} from {root}; OMP_THREAD_LIMIT={os.environ.get('OMP_THREAD_LIMIT')}")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
