"""Extraction quality end to end: run the pipeline on a dataset, then evaluate.

    python bench/accuracy.py --sroie ../shared/datasets/sroie-dev [--limit 100]
    python bench/accuracy.py --synth 100            # generate synthetic documents, then run and score
    python bench/accuracy.py --sroie DIR --reuse OUT # score again from a previous run's words (no OCR)
    python bench/accuracy.py --sroie DIR --reuse OUT --extractor model --part holdout   # training's held-out part

Prints the per-field table of ``paperbeam evaluate`` (exact-match P/R/F1 and
edit similarity) with the time taken. Only the documents that were run are
scored, so ``--limit`` gives honest figures for a subset. ``--reuse`` re-runs
only the extractor on the words saved by an earlier run (``--emit-words``),
which makes trying an extractor change take seconds instead of minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def run_pipeline(input_dir: str, output: str, workers: int, extractor: str, ocr: str, extra=()) -> float:
    cmd = [sys.executable, "-m", "paperbeam.cli", "run", "--input", input_dir, "--output", output,
           "--workers", str(workers), "--emit-words", "--extractor", extractor, "--ocr", ocr, *extra]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def reextract(records, extractor: str, schema, date_order: str, model_dir=None, int8: bool = False):
    """Run the extractor again on the words a previous run saved (``model_dir``: another layout model;
    ``int8``: the layout model dynamically quantised)."""
    from paperbeam import plugins
    from paperbeam.records import Document, Record

    options = {"model_path": model_dir} if model_dir else {}
    if int8:
        options["int8"] = True
    ext = plugins.load("extractors", extractor)(schema, date_order=date_order, **options)
    ext.setup()
    out = []
    for raw in records:
        rec = Record.from_dict(raw)
        doc = Document(rec.id, rec.source_uri, rec.media_type, rec.pages, rec.metadata)
        rec.fields = ext.extract(doc)
        out.append(rec.to_dict())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--sroie", help="a SROIE-layout directory (img/, key/)")
    src.add_argument("--truth-dir", help="a paperbeam synth directory (documents/, truth/)")
    src.add_argument("--synth", type=int, help="generate this many synthetic documents and score on them")
    parser.add_argument("--limit", type=int, default=0, help="only the first N documents (sorted by name)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--extractor", default="rules")
    parser.add_argument("--ocr", default="tesseract")
    parser.add_argument("--date-order", default="day-first")
    parser.add_argument("--model", help="a layout model folder for --extractor model/auto (default: the shipped one)")
    parser.add_argument("--int8", action="store_true", help="with --reuse and --extractor model/auto: the int8 model")
    parser.add_argument("--reuse", help="a previous run's output directory (made with --emit-words): skip OCR")
    parser.add_argument("--part", choices=("all", "holdout", "rest"), default="all",
                        help="only the documents `paperbeam train` holds out (stem number mod 5 == 2), only the others, or all")
    parser.add_argument("--json", help="write the report here too")
    args = parser.parse_args()
    if args.int8 and not args.reuse:
        parser.error("--int8 re-extracts a run's words: give --reuse RUN")

    from paperbeam.models.evaluate import evaluate, load_predictions, load_truth
    from paperbeam.schema import INVOICE

    tmp = tempfile.mkdtemp(prefix="paperbeam-accuracy-")
    if args.synth:
        subprocess.run([sys.executable, "-m", "paperbeam.cli", "synth", "--count", str(args.synth), "--out", tmp + "/synth", "--seed", "7"], check=True)
        data_dir, docs_sub, fmt = tmp + "/synth", "documents", "paperbeam"
    elif args.sroie:
        data_dir, docs_sub, fmt = args.sroie, "img", "sroie"
    else:
        data_dir, docs_sub, fmt = args.truth_dir, "documents", "paperbeam"

    names = sorted(os.listdir(os.path.join(data_dir, docs_sub)))
    if args.limit:
        names = names[: args.limit]
    if args.part != "all":
        from paperbeam.models.layout.train import is_validation

        names = [n for n in names if is_validation(os.path.splitext(n)[0]) == (args.part == "holdout")]
    stems = {os.path.splitext(n)[0] for n in names}

    seconds = 0.0
    if args.reuse:
        from paperbeam.models.evaluate import document_stem

        kept = [r for r in load_predictions(args.reuse) if document_stem(r["source_uri"]) in stems]
        predictions = reextract(kept, args.extractor, INVOICE, args.date_order, args.model, args.int8)
        output = args.reuse
    else:
        subset = os.path.join(tmp, "input")
        os.makedirs(subset)
        for n in names:
            os.symlink(os.path.abspath(os.path.join(data_dir, docs_sub, n)), os.path.join(subset, n))
        output = os.path.join(tmp, "out")
        extra = ["--date-order", args.date_order] + (["--model", args.model] if args.model else [])
        seconds = run_pipeline(subset, output, args.workers, args.extractor, args.ocr, extra)
        predictions = load_predictions(output)

    truth = load_truth(data_dir, fmt)
    documents = {k: v for k, v in truth.documents.items() if k in stems}
    report = evaluate(predictions, documents, truth.field_types, date_order=args.date_order)
    print(report.format_table())
    if seconds:
        print(f"\n{len(names)} documents in {seconds:.1f} s ({len(names) / seconds:.2f} documents/s, {args.workers} workers, OCR {args.ocr}, extractor {args.extractor})")
    print(f"run output: {output}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report.to_dict(), fh, indent=2)


if __name__ == "__main__":
    main()
