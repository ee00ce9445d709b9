"""Regenerate the demo sample set that ships in ``paperbeam/samples/``.

    python scripts/make_samples.py

Eight documents with their ground truth, chosen to show every input kind the
pipeline reads: born-digital invoice PDFs (one multi-page), a born-digital
receipt, image-only scanned PDFs, a multi-page TIFF, a PNG scan and a JPEG
phone photo of a receipt. Grey, 150-200 dpi, JPEG quality ~75, so the folder
stays small (under ~2 MB). Deterministic: running it again gives the same bytes.
"""

from __future__ import annotations

import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from paperbeam.synth.generate import GenerateOptions, Spec, generate  # noqa: E402

OUT = os.path.join(os.path.dirname(HERE), "paperbeam", "samples")
SEED = 2024

SPECS = [
    Spec(1, "invoice", "classic_left", scan=False, profile="de"),
    Spec(2, "invoice", "banner_right", scan=False, profile="us"),
    Spec(3, "invoice", "multipage_table", scan=False, profile="gb"),
    Spec(4, "receipt", "till_80mm", scan=False, profile="nl"),
    Spec(5, "invoice", "centered_header", scan=True, fmt="pdf", dpi=(150,), profile="fr"),
    Spec(6, "invoice", "footer_vendor", scan=True, fmt="pdf", dpi=(200,), profile="in"),
    Spec(7, "invoice", "multipage_table", scan=True, fmt="tiff", dpi=(200,), bilevel=True, profile="ie"),
    Spec(8, "receipt", "till_58mm", scan=True, fmt="png", dpi=(150,), profile="au"),
    Spec(9, "receipt", "till_80mm", scan=True, fmt="jpeg", dpi=(200,), photo=True, profile="us"),
]


def main() -> int:
    for sub in ("documents", "truth"):
        shutil.rmtree(os.path.join(OUT, sub), ignore_errors=True)
    summary = generate(GenerateOptions(count=len(SPECS), out=OUT, seed=SEED, jobs=1), specs=SPECS)
    total = 0
    for sub in ("documents", "truth"):
        for name in sorted(os.listdir(os.path.join(OUT, sub))):
            size = os.path.getsize(os.path.join(OUT, sub, name))
            total += size
            print(f"{sub}/{name:28s} {size / 1024:8.1f} KiB")
    print(f"{summary['documents']} documents, {total / 1024 / 1024:.2f} MiB in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
