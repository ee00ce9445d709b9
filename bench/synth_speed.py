"""How fast `paperbeam synth` makes documents: born-digital and scans, measured apart.

    python bench/synth_speed.py --count 200 --jobs 2

Prints documents per second for each; writes into a temporary folder it deletes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile

from paperbeam.synth.generate import GenerateOptions, generate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="synth-bench-")
    try:
        for label, ratio in (("born-digital", 0.0), ("scans", 1.0)):
            out = os.path.join(tmp, label)
            s = generate(GenerateOptions(count=args.count, out=out, scan_ratio=ratio, seed=args.seed, jobs=args.jobs))
            size = sum(os.path.getsize(os.path.join(out, "documents", f)) for f in os.listdir(os.path.join(out, "documents")))
            print(f"{label:13s} {s['documents']:6d} docs in {s['seconds']:7.2f} s = {s['per_second']:7.1f} docs/s "
                  f"(jobs={args.jobs}, {size / s['documents'] / 1024:.0f} KiB/doc, formats {s['formats']})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
