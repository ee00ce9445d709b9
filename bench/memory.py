"""Peak memory of whole runs: a 1,000-page PDF and a 20,000 x 20,000 scan, beside a
one-page baseline. Each case is a separate ``paperbeam run`` subprocess; its
process tree (the CLI and Beam's worker processes) is sampled every 0.1 s.

    python bench/memory.py                 # the three cases of issue #10
    python bench/memory.py --raise-pixels  # also the scan with --max-pixels raised so it is decoded and OCR'd
    python bench/memory.py --workers 1 --pages 200 --side 12000

Prints, per case: the outcome (records / dead letters with the reason), wall
time, the peak RSS of the largest single process, and the peak of the sum over
the tree (what the machine had to hold at once). Needs psutil (in the test
extra); without it only the largest reaped process is reported
(``RUSAGE_CHILDREN``). Never a timed assertion: figures only.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))


def make_inputs(root: Path, pages: int, side: int) -> dict:
    """The documents, made once: a 1-page invoice, an N-page born-digital PDF, a side x side 1-bit scan."""
    import fixtures as F
    from PIL import Image, ImageDraw, ImageFont

    cases = {}
    d = root / "baseline"
    d.mkdir(parents=True, exist_ok=True)
    cases["baseline: 1-page invoice PDF"] = F.make_invoice_pdf(d)
    d = root / "pages"
    d.mkdir(exist_ok=True)
    cases[f"{pages}-page PDF (text layer)"] = F.draw_pdf(F.INVOICE, d / f"invoice-{pages}-pages.pdf", pages=pages)
    d = root / "scan"
    d.mkdir(exist_ok=True)
    path = d / f"scan-{side}x{side}.tiff"
    if not path.exists():
        img = Image.new("1", (side, side), 1)  # 1 bit per pixel: side * side / 8 bytes while drawing
        draw = ImageDraw.Draw(img)
        font = ImageFont.load_default(size=max(side // 60, 12))
        for i, t in enumerate(F.INVOICE.texts):
            draw.text((t.x / F.A4[0] * side, t.y / F.A4[1] * side), t.text, fill=0, font=font)
        img.save(path, "TIFF", compression="group4", dpi=(600, 600))
        del img, draw
    cases[f"{side} x {side} scan (1-bit CCITT G4 TIFF)"] = path
    return cases


class TreeSampler(threading.Thread):
    """Samples RSS of a process and all its descendants until it ends."""

    def __init__(self, pid: int, interval: float = 0.1):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_single = self.peak_tree = 0
        self.processes = 0
        self._halt = threading.Event()

    def run(self):
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        seen = set()
        while not self._halt.is_set():
            try:
                procs = [root] + root.children(recursive=True)
            except psutil.NoSuchProcess:
                break
            total = 0
            for p in procs:
                try:
                    rss = p.memory_info().rss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                seen.add(p.pid)
                total += rss
                self.peak_single = max(self.peak_single, rss)
            self.peak_tree = max(self.peak_tree, total)
            self.processes = len(seen)
            time.sleep(self.interval)

    def stop(self):
        self._halt.set()


def run_case(path: Path, out: Path, workers: int, extra: list, timeout: float) -> dict:
    cmd = [sys.executable, "-m", "paperbeam.cli", "run", "--input", str(path), "--output", str(out),
           "--workers", str(workers), "--json"] + extra
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = None
    try:
        import psutil  # noqa: F401

        sampler = TreeSampler(proc.pid)
        sampler.start()
    except ImportError:
        pass
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - started
    if sampler:
        sampler.stop()
        sampler.join()
    reaped_max = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
    outcome = "exit %d" % proc.returncode
    letters = []
    for f in glob.glob(str(out / "dead_letters-*.jsonl")):
        letters += [json.loads(line) for line in Path(f).read_text().splitlines() if line.strip()]
    records = sum(1 for f in glob.glob(str(out / "records-*.jsonl")) for line in Path(f).read_text().splitlines() if line.strip())
    if proc.returncode in (0, 5):
        outcome = f"{records} record(s)" if records else ""
        if letters:
            outcome += ("; " if outcome else "") + "; ".join(f"dead letter {d['error']}: {d['message'][:110]}" for d in letters)
    else:
        outcome += ": " + stderr.strip().splitlines()[-1][:160] if stderr.strip() else ""
    return {
        "seconds": seconds,
        "peak_single": sampler.peak_single if sampler else reaped_max,
        "peak_tree": sampler.peak_tree if sampler else None,
        "processes": sampler.processes if sampler else None,
        "outcome": outcome,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--side", type=int, default=20000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--dpi", type=int, default=150)
    ap.add_argument("--raise-pixels", action="store_true", help="also run the scan with --max-pixels above its size (decoded, OCR'd)")
    ap.add_argument("--ocr-timeout", type=float, default=120.0)
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per case before it is killed")
    ap.add_argument("--dir", help="where to keep inputs and outputs (default: a temporary directory)")
    args = ap.parse_args(argv)

    root = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="paperbeam-memory-"))
    cases = make_inputs(root / "in", args.pages, args.side)
    runs = [(name, path, []) for name, path in cases.items()]
    if args.raise_pixels:
        scan = [(n, p) for n, p in cases.items() if "scan" in n][0]
        runs.append((scan[0] + ", --max-pixels raised", scan[1], ["--max-pixels", str(args.side * args.side + 1)]))
    common = ["--dpi", str(args.dpi), "--ocr-timeout", str(args.ocr_timeout)]
    print(f"paperbeam memory bench: --workers {args.workers} --dpi {args.dpi}; inputs in {root / 'in'}")
    print(f"{'case':58} {'file MB':>8} {'wall s':>7} {'peak RSS 1 proc MB':>19} {'peak RSS tree MB':>17}  outcome")
    for i, (name, path, extra) in enumerate(runs):
        result = run_case(path, root / f"out-{i}", args.workers, common + extra, args.timeout)
        tree = f"{result['peak_tree'] / 2**20:17.0f}" if result["peak_tree"] else f"{'n/a':>17}"
        print(f"{name:58} {path.stat().st_size / 2**20:8.2f} {result['seconds']:7.1f} "
              f"{result['peak_single'] / 2**20:19.0f} {tree}  {result['outcome']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
