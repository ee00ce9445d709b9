"""Speed of the layout-model extraction step alone, on CPU, side by side.

    python bench/extraction_speed.py [--pages 'DIR/*.json'] [--docs 32] [--model-path DIR]

For every combination of batch size (1, 8, 32), precision (fp32, dynamic
int8) and worker processes (1, 2), fresh worker processes load the model and
extract fields from the same documents (OCR is not timed: pages come from
cached OCR JSON, ``Page.to_dict`` files such as ``paperbeam train`` leaves in
its OCR cache, or from the package's sample documents read once). Printed:
documents per second (all workers together, after start-up), start-up time to
the first prediction (process start, imports, model load and one document),
and the peak RSS of each worker with the model loaded. Each worker uses
``--threads`` torch threads (default 1), as a Beam worker process would.
Figures depend on the machine and on what else runs on it: compare rows of
one run, not runs of different days.
"""

from __future__ import annotations

import argparse
import glob
import json
import multiprocessing as mp
import os
import resource
import sys
import time


def load_documents(pattern: str, limit: int):
    from paperbeam.records import Document, Page

    files = sorted(glob.glob(os.path.expanduser(pattern)))[:limit] if pattern else []
    docs = []
    for f in files:
        with open(f, encoding="utf-8") as fh:
            d = json.load(fh)
        stem = os.path.splitext(os.path.basename(f))[0]
        pages = [Page.from_dict(p, stem) for p in d["pages"]] if "pages" in d else [Page.from_dict(d, stem)]
        docs.append(Document(stem, f, "", pages))
    if not docs:  # the package's samples, read once (text layer or tesseract)
        from importlib import resources

        from paperbeam.models.layout.ocrcache import read_document
        from paperbeam.models.ocr.tesseract import TesseractEngine

        root = resources.files("paperbeam") / "samples" / "documents"
        engine = TesseractEngine()
        base = [read_document(str(p), engine, "tesseract") for p in sorted(root.iterdir())]
        docs = [base[k % len(base)] for k in range(limit)]
    while len(docs) < limit:
        docs.append(docs[len(docs) % max(1, len(docs))])
    return docs[:limit]


def _worker(args, docs, started, queue):
    import torch

    torch.set_num_threads(args["threads"])
    from paperbeam.models.layout.runtime import LayoutModel
    from paperbeam.schema import INVOICE

    lm = LayoutModel.load(args["model_path"], device="cpu", int8=args["int8"], threads=args["threads"])
    lm.extract(docs[:1], INVOICE, batch_size=1)
    first = time.time() - started
    queue.put(("ready", first))
    go = args["go"]
    go.wait()
    t0 = time.perf_counter()
    b = args["batch"]
    n_fields = 0
    for s in range(0, len(docs), b):
        n_fields += sum(len(f) for f in lm.extract(docs[s:s + b], INVOICE, batch_size=b))
    seconds = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    queue.put(("done", seconds, rss_mb, n_fields))


def run_config(docs, batch: int, int8: bool, workers: int, threads: int, model_path):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    go = ctx.Event()
    shards = [docs[k::workers] for k in range(workers)]
    procs = []
    started = time.time()
    for shard in shards:
        args = {"batch": batch, "int8": int8, "threads": threads, "model_path": model_path, "go": go}
        p = ctx.Process(target=_worker, args=(args, shard, started, queue))
        p.start()
        procs.append(p)
    firsts = [queue.get()[1] for _ in procs]
    t0 = time.perf_counter()
    go.set()
    dones = [queue.get() for _ in procs]
    wall = time.perf_counter() - t0
    for p in procs:
        p.join()
    return {
        "batch": batch, "precision": "int8" if int8 else "fp32", "workers": workers,
        "docs_per_s": len(docs) / wall, "startup_s": max(firsts), "rss_mb": max(d[2] for d in dones),
        "fields": sum(d[3] for d in dones),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", default="", help="glob of cached page/document JSON files (default: package samples)")
    ap.add_argument("--docs", type=int, default=32, help="documents per configuration (default 32)")
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--precisions", default="fp32,int8")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per worker (default 1)")
    ap.add_argument("--model-path", default=None, help="model folder (default: the one shipped in the package)")
    ap.add_argument("--json", default=None, help="also write the rows as JSON here")
    args = ap.parse_args(argv)
    docs = load_documents(args.pages, args.docs)
    words = sum(len(p.words) for d in docs for p in d.pages)
    print(f"{len(docs)} documents, {words / len(docs):.0f} words each on average; "
          f"{args.threads} torch thread(s) per worker; {os.cpu_count()} CPUs")
    rows = []
    head = f"{'batch':>5}  {'precision':>9}  {'workers':>7}  {'docs/s':>7}  {'start-up s':>10}  {'peak RSS MB/worker':>18}  {'fields':>6}"
    print(head)
    print("-" * len(head))
    for precision in args.precisions.split(","):
        for workers in (int(w) for w in args.workers.split(",")):
            for batch in (int(b) for b in args.batches.split(",")):
                r = run_config(docs, batch, precision == "int8", workers, args.threads, args.model_path)
                rows.append(r)
                print(f"{r['batch']:>5}  {r['precision']:>9}  {r['workers']:>7}  {r['docs_per_s']:>7.2f}  "
                      f"{r['startup_s']:>10.1f}  {r['rss_mb']:>18.0f}  {r['fields']:>6}", flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"documents": len(docs), "threads": args.threads, "rows": rows}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
