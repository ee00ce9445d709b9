"""Nightly runs: the first night over a folder of small documents, then a second
night over the same, unchanged folder (which should take seconds), then a night
where a few files were added and changed. Prints wall-clock figures for each
`paperbeam run --incremental` process and its stage times.

    python bench/nightly.py                      # 10,000 documents, every night over all of them
    python bench/nightly.py --first-night 1000   # first night over 1,000, the rest added before night 2
                                                 # (the unchanged night is then measured after a catch-up night)

Documents are one-page text-layer PDFs written by hand (about 1 KB, each with
unique content): no OCR, so the first night measures Beam and the pipeline, not
tesseract. The figures go to stdout, and as JSON with --json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from paperbeam.synth.minimal import invoice


def make(folder: Path, start: int, stop: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, stop):
        sub = folder / f"{i // 1000:03d}"  # 1,000 files a folder, as a real inbox would be split
        sub.mkdir(exist_ok=True)
        (sub / f"doc-{i:06d}.pdf").write_bytes(invoice(i))


def night(label: str, inp: Path, out: Path, workers: int) -> dict:
    exe = Path(sys.executable).with_name("paperbeam")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "paperbeam.cli"]
    cmd += ["run", "--input", str(inp), "--output", str(out), "--incremental", "--workers", str(workers), "--json"]
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.time() - t0
    if proc.returncode not in (0, 5):
        sys.stderr.write(proc.stderr[-3000:])
        raise SystemExit(f"{label}: paperbeam exited {proc.returncode}")
    s = json.loads(proc.stdout)
    row = {
        "night": label, "wall_seconds": round(wall, 2), "exit": proc.returncode, "processed": s["inputs"],
        "records": s["records"], "dead_letters": s["dead_letters"], "skipped": s["incremental"]["skipped"],
        "hashed": s["incremental"]["hashed"], "stage_seconds": s["stage_seconds"],
        "ledger_totals": s["incremental"]["ledger_totals"],
    }
    print(f"{label:<28} {wall:8.2f} s wall  processed {s['inputs']:>6}  skipped {sum(row['skipped'].values()):>6}"
          f"  hashed {row['hashed']:>4}  stages {json.dumps(s['stage_seconds'])}", flush=True)
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=10_000)
    ap.add_argument("--first-night", type=int, default=None, help="documents in the first night (default: all)")
    ap.add_argument("--changed", type=int, default=100, help="files added, and files rewritten, before the last night")
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--keep", help="work in this directory and keep it (default: a temporary one, removed)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    work = Path(args.keep or tempfile.mkdtemp(prefix="paperbeam-bench-nightly-"))
    inp, out = work / "inbox", work / "out"
    first = args.first_night or args.docs
    try:
        t0 = time.time()
        make(inp, 0, first)
        print(f"made {first} documents in {time.time() - t0:.1f} s under {inp}", flush=True)
        rows = [night(f"night 1: {first} new", inp, out, args.workers)]
        if first < args.docs:
            make(inp, first, args.docs)
            rows.append(night(f"catch-up: {args.docs - first} new", inp, out, args.workers))
        rows.append(night(f"night 2: {args.docs} unchanged", inp, out, args.workers))
        make(inp, args.docs, args.docs + args.changed)
        for i in range(args.changed):
            p = inp / f"{i // 1000:03d}" / f"doc-{i:06d}.pdf"
            p.write_bytes(invoice(i, variant="v2"))
        rows.append(night(f"night 3: +{args.changed} new, {args.changed} changed", inp, out, args.workers))
        if args.json:
            print(json.dumps({"docs": args.docs, "cpus": os.cpu_count(), "nights": rows}, indent=2))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
