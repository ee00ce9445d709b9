"""`paperbeam synth`: synthetic invoices and receipts with ground truth.

Writes ``OUT/documents/<stem>.<ext>`` (born-digital PDFs and, for a fraction
``--scan-ratio``, scans: image-only PDF, PNG, JPEG, TIFF) and
``OUT/truth/<stem>.json``, in separate folders so ``paperbeam run --input
OUT/documents`` never sees the answers. Same ``--seed`` gives the same files,
whatever ``--jobs``.
"""

from __future__ import annotations

import argparse
import json
import sys


def _kinds(text: str):
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    allowed = ("invoice", "receipt")
    bad = [k for k in kinds if k not in allowed]
    if bad or not kinds:
        raise argparse.ArgumentTypeError(f"unknown kind(s) {', '.join(bad) or text!r}; use a comma-separated list of: {', '.join(allowed)}")
    return kinds


def _ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "synth",
        help="Generate synthetic invoices and receipts with ground truth.",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    p.add_argument("--count", type=_count, required=True, help="How many documents to make.")
    p.add_argument("--out", required=True, help="Output folder; documents/ and truth/ are made inside it.")
    p.add_argument("--kinds", type=_kinds, default=("invoice", "receipt"),
                   help="Comma-separated kinds, taking turns by index (default: invoice,receipt).")
    p.add_argument("--scan-ratio", type=_ratio, default=0.3,
                   help="Fraction of documents saved as scans: image-only PDF, PNG, JPEG or TIFF (default 0.3).")
    p.add_argument("--seed", type=int, default=0, help="Random seed; the same seed gives the same files (default 0).")
    p.add_argument("--jobs", type=int, default=0, help="Worker processes (default: one per CPU).")
    p.add_argument("--start", type=_count, default=1, help="Index of the first document, to extend a set (default 1).")
    p.add_argument("--quiet", action="store_true", help="Do not print the summary.")
    p.set_defaults(func=run)


def run(args, extra) -> int:
    from paperbeam.synth.generate import GenerateOptions, generate

    opts = GenerateOptions(count=args.count, out=args.out, kinds=tuple(args.kinds), scan_ratio=args.scan_ratio,
                           seed=args.seed, jobs=args.jobs, start=max(1, args.start))
    summary = generate(opts)
    if not args.quiet:
        print(json.dumps(summary, indent=2, sort_keys=True), file=sys.stdout)
    return 0
