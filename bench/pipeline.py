"""Throughput and memory of the batch job, with baselines measured in the same run.

    python bench/pipeline.py [--pages 16] [--big-pages 200] [--workers 1,2]

Prints, as one table:
  * scanned pages/s: a plain sequential pytesseract loop with default
    settings (the baseline), then the pipeline with 1 and 2 worker processes;
    the 2-worker / 1-worker ratio against the ideal of 2;
  * born-digital pages/s (and a check that none was OCR'd);
  * peak RSS of a run over one N-page scanned PDF (default 200 pages), which
    must not grow with N: pages are opened one at a time.

The pages are made here (dense A4 text at 300 dpi), so the figures do not
depend on files outside the repository. Timings on shared 2-core machines are
noisy: compare ratios within one run, not absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time

from PIL import Image, ImageDraw, ImageFont

WORDS = (
    "invoice total amount tax date due payment account number customer order item quantity price "
    "description delivery address street road city postcode phone email reference balance discount"
).split()


def dense_page(seed: int, dpi: int = 300) -> Image.Image:
    """An A4 page of ~45 lines of words and numbers, like a dense invoice page."""
    rng = random.Random(seed)
    w, h = int(8.27 * dpi), int(11.69 * dpi)
    img = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=int(dpi * 0.14))
    y = int(dpi * 0.6)
    while y < h - dpi * 0.6:
        parts = [rng.choice(WORDS) for _ in range(rng.randint(4, 9))]
        parts.append(f"{rng.randint(1, 9999)}.{rng.randint(0, 99):02d}")
        draw.text((int(dpi * 0.6), y), " ".join(parts), fill=0, font=font)
        y += int(dpi * 0.22)
    return img


def make_scanned_pdf(path: str, pages: int, seed: int = 0, dpi: int = 300) -> None:
    """An image-only PDF of ``pages`` pages, written page by page to keep memory small."""
    first = dense_page(seed, dpi)
    # A few distinct pages repeated keeps generation fast; OCR work per page stays the same.
    distinct = [first] + [dense_page(seed + i, dpi) for i in range(1, min(pages, 4))]
    rest = [distinct[i % len(distinct)] for i in range(1, pages)]
    first.save(path, "PDF", resolution=dpi, save_all=True, append_images=rest)


def make_born_digital(path: str, pages: int) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(path, pagesize=A4, invariant=1)
    rng = random.Random(1)
    for _ in range(pages):
        y = 800
        while y > 60:
            c.drawString(50, y, " ".join(rng.choice(WORDS) for _ in range(8)) + f" {rng.randint(1, 999)}.00")
            y -= 16
        c.showPage()
    c.save()


def pytesseract_loop(folder: str) -> float:
    """The baseline: every page image through pytesseract one after another, default settings."""
    import pypdfium2 as pdfium
    import pytesseract

    env_limit = os.environ.pop("OMP_THREAD_LIMIT", None)
    try:
        n, start = 0, time.perf_counter()
        for name in sorted(os.listdir(folder)):
            pdf = pdfium.PdfDocument(os.path.join(folder, name))
            for i in range(len(pdf)):
                image = pdf[i].render(scale=300 / 72, grayscale=True).to_pil()
                pytesseract.image_to_data(image)
                n += 1
        return n / (time.perf_counter() - start)
    finally:
        if env_limit is not None:
            os.environ["OMP_THREAD_LIMIT"] = env_limit


def run_cli(input_path: str, output: str, workers: int, extra=()) -> dict:
    """``paperbeam run`` in a subprocess: returns its summary plus the peak RSS of the run's processes."""
    cmd = [sys.executable, "-m", "paperbeam.cli", "run", "--input", input_path, "--output", output,
           "--workers", str(workers), "--json", *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode not in (0, 5):  # 5: success with dead letters
        raise SystemExit(f"paperbeam run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    summary = json.loads(proc.stdout[proc.stdout.index("{"):])
    summary["peak_rss_mb"] = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=16, help="scanned pages for the throughput runs")
    parser.add_argument("--born-digital-pages", type=int, default=200)
    parser.add_argument("--big-pages", type=int, default=200, help="pages in the one-document memory run (0 to skip)")
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",")]

    with tempfile.TemporaryDirectory() as tmp:
        scans = os.path.join(tmp, "scans")
        os.makedirs(scans)
        for i in range(args.pages // 4):
            make_scanned_pdf(os.path.join(scans, f"scan-{i}.pdf"), 4, seed=i * 10)
        n_pages = (args.pages // 4) * 4
        rows = []
        rate = pytesseract_loop(scans)
        rows.append(("sequential pytesseract loop, defaults", n_pages, rate, None))
        rates = {}
        for w in workers:
            s = run_cli(scans, os.path.join(tmp, f"out-{w}"), w)
            assert s["pages_ocr"] == n_pages, s
            # Pages per second of pipeline work, start-up included (it is part of what a user waits for).
            rates[w] = s["pages"] / s["seconds"]
            rows.append((f"paperbeam, {w} worker(s)", s["pages"], rates[w], s["peak_rss_mb"]))

        digital = os.path.join(tmp, "digital")
        os.makedirs(digital)
        make_born_digital(os.path.join(digital, "born-digital.pdf"), args.born_digital_pages)
        s = run_cli(digital, os.path.join(tmp, "out-digital"), max(workers))
        rows.append((f"born-digital, {max(workers)} worker(s) (OCR'd: {s['pages_ocr']})", s["pages"], s["pages"] / s["seconds"], s["peak_rss_mb"]))

        big = None
        if args.big_pages:
            bigdir = os.path.join(tmp, "big")
            os.makedirs(bigdir)
            make_scanned_pdf(os.path.join(bigdir, "big.pdf"), args.big_pages, seed=99, dpi=300)
            big = run_cli(bigdir, os.path.join(tmp, "out-big"), max(workers), extra=["--dpi", "150"])
            rows.append((f"one {args.big_pages}-page scanned PDF at 150 dpi", big["pages"], big["pages"] / big["seconds"], big["peak_rss_mb"]))

    print(f"\n{'run':<52} {'pages':>6} {'pages/s':>8} {'peak RSS MB':>12}")
    for name, pages, r, rss in rows:
        print(f"{name:<52} {pages:>6} {r:>8.2f} {'' if rss is None else f'{rss:>12.0f}'}")
    if len(rates) >= 2:
        lo, hi = min(workers), max(workers)
        ratio = rates[hi] / rates[lo]
        print(f"\nscaling {hi} vs {lo} worker(s): {ratio:.2f}x (ideal {hi / lo:.0f}x; {ratio / (hi / lo):.0%} of ideal)")
    print(f"paperbeam {max(workers)} workers vs sequential pytesseract: {rates[max(workers)] / rate:.2f}x")
    print(f"machine: {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
