"""Read training images once with an OCR engine and keep the words on disk.

Why: OCR is by far the slowest step of training (seconds per receipt), while
the model only needs each image's words and boxes. Training reads the same
engine's output the pipeline will see at run time (so labels are aligned to
real OCR text), and a second training run costs no OCR at all.

The cache is one JSON file per document, ``<cache_dir>/<engine>/<stem>-<hash>.json``
(the hash of the file's bytes, so synthetic sets that reuse names never mix),
holding ``{"pages": [Page.to_dict(), ...]}`` (or, for single images, one page
dict); it lives outside the repository.
"""

from __future__ import annotations

import json
import os
import time
from typing import Optional

from paperbeam.records import SOURCE_OCR, Document, Page

DEFAULT_CACHE = os.environ.get("PAPERBEAM_OCR_CACHE", os.path.expanduser("~/.cache/paperbeam/ocr"))


def cache_path(cache_dir: str, engine_name: str, image_path: str) -> str:
    """``<cache>/<engine>/<stem>-<sha256 of the file, 16 hex>.json``: two files with one name never share words."""
    import hashlib

    stem = os.path.splitext(os.path.basename(image_path))[0]
    h = hashlib.sha256()
    with open(image_path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return os.path.join(cache_dir, engine_name, f"{stem}-{h.hexdigest()[:16]}.json")


def ocr_image(image_path: str, engine, engine_name: str, cache_dir: Optional[str] = None) -> Page:
    """The words of one image file, from the cache when present, else read and cached."""
    cache_dir = cache_dir or DEFAULT_CACHE
    path = cache_path(cache_dir, engine_name, image_path)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        return Page.from_dict(data["pages"][0] if "pages" in data else data, doc_id=os.path.basename(image_path))
    from paperbeam.models.pages import PageOptions, read_image_page

    with open(image_path, "rb") as fh:
        data = fh.read()
    start = time.perf_counter()
    image = read_image_page(_Doc(data), 1, PageOptions())
    result = engine.recognize(image.image, dpi=image.dpi or None)
    page = Page(
        doc_id=os.path.basename(image_path), page_number=1, width=float(result.width), height=float(result.height),
        unit="px", source=SOURCE_OCR, words=result.words, engine=result.engine,
        mean_confidence=result.mean_confidence, dpi=image.dpi or None, rotation=result.rotation,
        seconds=time.perf_counter() - start,
    )
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(page.to_dict(with_words=True), fh)
    os.replace(tmp, path)
    return page


def read_document(path: str, engine, engine_name: str, cache_dir: Optional[str] = None) -> Document:
    """All pages of a PDF or image file, read as the pipeline reads them (text layer, else OCR), cached."""
    cache_dir = cache_dir or DEFAULT_CACHE
    stem = os.path.splitext(os.path.basename(path))[0]
    cached = cache_path(cache_dir, engine_name, path)
    if os.path.exists(cached):
        with open(cached, encoding="utf-8") as fh:
            data = json.load(fh)
        pages = [Page.from_dict(p, stem) for p in data["pages"]] if "pages" in data else [Page.from_dict(data, stem)]
        return Document(id=stem, uri=path, media_type="", pages=pages)
    from paperbeam.models import formats
    from paperbeam.models.pages import DocumentCache, PageOptions, count_pages
    from paperbeam.pipelines.read_pages import read_page
    from paperbeam.records import PageRef

    with open(path, "rb") as fh:
        data = fh.read()
    import hashlib

    media_type = formats.sniff(data)
    options = PageOptions()
    n = count_pages(data, media_type, options)
    cache = DocumentCache()
    digest = hashlib.sha256(data).hexdigest()
    pages = []
    for number in range(1, n + 1):
        ref = PageRef(doc_id=digest, uri=path, media_type=media_type, page_number=number, page_count=n)
        pages.append(read_page(ref, engine, cache, options))
    cache.clear()
    os.makedirs(os.path.dirname(cached), exist_ok=True)
    with open(cached + ".tmp", "w", encoding="utf-8") as fh:
        json.dump({"pages": [p.to_dict(with_words=True) for p in pages]}, fh)
    os.replace(cached + ".tmp", cached)
    return Document(id=stem, uri=path, media_type=media_type, pages=pages)


def seed_from_run(run_dir: str, engine_name: str, cache_dir: Optional[str] = None) -> int:
    """Put the words of a finished ``paperbeam run --emit-words`` into the cache; returns how many documents.

    Why: training should see exactly the words the pipeline reads at run time, and a pipeline run
    reads a large set on every core, where ``read_document`` reads one file at a time. Records whose
    source file is gone or that carry no words are passed over (counted by the caller's data report).
    """
    import glob

    from paperbeam.models.evaluate import load_predictions
    from paperbeam.review.render import local_path

    cache_dir = cache_dir or DEFAULT_CACHE
    if not glob.glob(os.path.join(run_dir, "records-*.jsonl*")):
        from paperbeam.errors import ConfigError

        raise ConfigError(f"{run_dir} holds no records-*.jsonl: give the --output of a `paperbeam run --emit-words`.")
    seeded = 0
    for rec in load_predictions(run_dir):
        path = local_path(rec.get("source_uri") or "")
        pages = rec.get("pages") or []
        if not path or not os.path.isfile(path) or not pages or any("words" not in p for p in pages):
            continue
        target = cache_path(cache_dir, engine_name, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target + ".tmp", "w", encoding="utf-8") as fh:
            json.dump({"pages": pages}, fh)
        os.replace(target + ".tmp", target)
        seeded += 1
    return seeded


class _Doc:
    """The little of ``pages._OpenDocument`` that ``read_image_page`` uses."""

    def __init__(self, data: bytes):
        self.data = data


def main(argv=None) -> int:  # python -m paperbeam.models.layout.ocrcache ENGINE CACHE_DIR IMG... (shard i/n via env)
    import sys

    from paperbeam import plugins

    args = list(sys.argv[1:] if argv is None else argv)
    engine_name, cache_dir, images = args[0], args[1], args[2:]
    shard, shards = (int(x) for x in os.environ.get("SHARD", "0/1").split("/"))
    engine = plugins.load("ocr_engines", engine_name)()
    for i, img in enumerate(sorted(images)):
        if i % shards != shard:
            continue
        page = ocr_image(img, engine, engine_name, cache_dir)
        print(f"{img}: {len(page.words)} words {page.seconds:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
