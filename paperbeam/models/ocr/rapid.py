"""RapidOCR (PaddleOCR's PP-OCR models on onnxruntime) behind the OcrEngine interface.

Why: a neural detector + recogniser reads low-resolution, noisy and faded
receipts that tesseract garbles, at a few times tesseract's CPU cost. The
models are the ONNX files shipped inside the ``rapidocr`` wheel, passed by
path so nothing is ever downloaded at run time. They are loaded once, when the
engine is constructed (the pipeline builds one engine per worker in
``DoFn.setup``).

RapidOCR returns text *lines* (a quadrilateral and a string). We split each
line into words on whitespace and give every word the slice of the line's
quadrilateral proportional to its character span, so the result has the same
shape as tesseract's: Words with boxes, a line index per line, and a
confidence (the line's recognition score).

Languages: ``lang`` takes tesseract's codes ("eng", "eng+deu"). When all of
them are Latin-script languages, the recogniser may only choose characters
those languages use (``paperbeam.models.ocr.alphabet``): RapidOCR's model also knows Chinese and
Japanese, and on faint English text it sometimes picks "à" or a CJK
character where the next-best reading is the right letter.

English pages are read through paperbeam's refitted recogniser tail
(``rec_head``: the wheel's network, its last block and output layer fitted
to printed business text); ``head="stock"`` keeps the wheel's own tail, and
a path uses a head file of your own. Other languages always use the wheel's.

Threads: onnxruntime defaults to one thread per core; several Beam workers on
one machine then fight over the cores. ``threads`` (default 1) sets
intra-op and inter-op threads. The CUDA execution provider is used when
onnxruntime offers it and ``device`` is "auto" or "cuda".
"""

from __future__ import annotations

import os
import time
import unicodedata
from typing import List, Optional, Sequence

import numpy as np

from paperbeam.errors import ConfigError, MissingDependency, OcrFailed
from paperbeam.models.ocr import rec_head
from paperbeam.models.ocr.alphabet import allowed_characters
from paperbeam.models.ocr.base import OcrEngine, OcrResult, mean_confidence
from paperbeam.models.ocr.preprocess import PreprocessOptions, options_from, prepare
from paperbeam.records import Word

INSTALL = "pip install paperbeam[rapidocr]"
MODEL_FILES = {
    "Det": "PP-OCRv6_det_small.onnx",
    "Rec": "PP-OCRv6_rec_small.onnx",
    "Cls": "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
}
# RapidOCR resizes pages itself; our steps that matter for it are orientation and deskew.
DEFAULT_PREPROCESS = PreprocessOptions(rescale=False, normalize_contrast=False, remove_border=True)


def _import():
    try:
        import onnxruntime  # noqa: F401  (rapidocr imports it lazily; fail here with the install hint)
        import rapidocr
    except ImportError as e:
        raise MissingDependency(f"RapidOCR ({e.name})", INSTALL)
    return rapidocr


def split_line(text: str, quad: Sequence[Sequence[float]], score: float, line: int, block: int = 0) -> List[Word]:
    """Words of one recognised line, each with the part of the line's box its characters span.

    ``quad`` is the line's corners (top-left, top-right, bottom-right,
    bottom-left), possibly slanted; a word spanning characters [a, b) of n gets
    the axis-aligned box of the quad cut at a/n and b/n along both long edges.
    """
    n = len(text)
    if not n or not text.strip():
        return []
    q = np.asarray(quad, dtype=float).reshape(4, 2)
    tl, tr, br, bl = q
    words = []
    i = 0
    for part in text.split():
        a = text.index(part, i)
        b = a + len(part)
        i = b
        fa, fb = a / n, b / n
        pts = np.array([tl + (tr - tl) * fa, bl + (br - bl) * fa, tl + (tr - tl) * fb, bl + (br - bl) * fb])
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        words.append(Word(text=part, bbox=(float(x0), float(y0), float(x1), float(y1)),
                          confidence=float(max(0.0, min(1.0, score))), line=line, block=block))
    return words


def reading_order(quads: Sequence, texts: Sequence[str], scores: Sequence[float]) -> List[list]:
    """Rows of (quad, text, score): top to bottom, and left to right within a row.

    RapidOCR detects text *segments*: on a receipt "TOTAL" and "RM 30.90" at
    the two ends of one printed line come back as two boxes. Boxes whose
    vertical centres are within half the median box height of a row's first
    box join that row, so a row is one printed line, as tesseract reports it.
    """
    items = [(np.asarray(q, dtype=float).reshape(4, 2), t, s) for q, t, s in zip(quads, texts, scores)]
    if not items:
        return []
    heights = [max(1.0, q[:, 1].max() - q[:, 1].min()) for q, _, _ in items]
    tol = float(np.median(heights)) * 0.5
    items.sort(key=lambda it: (it[0][:, 1].mean(), it[0][:, 0].min()))
    rows, current, row_y = [], [], None
    for it in items:
        cy = it[0][:, 1].mean()
        if row_y is not None and abs(cy - row_y) > tol:
            rows.append(current)
            current = []
        if not current:
            row_y = cy
        current.append(it)
    rows.append(current)
    return [sorted(row, key=lambda it: it[0][:, 0].min()) for row in rows]


class LimitedDecoder:
    """RapidOCR's CTC decoder, with the banned characters' probabilities set to zero before it picks."""

    def __init__(self, decoder, banned: np.ndarray):
        self.decoder = decoder
        self.banned = banned
        self.character = decoder.character

    def __call__(self, preds, *args, **kwargs):
        if len(self.banned) and getattr(preds, "ndim", 0) == 3:
            preds = np.array(preds, copy=True)
            preds[:, :, self.banned] = 0.0
        return self.decoder(preds, *args, **kwargs)

    def __getattr__(self, name):
        if name == "decoder":  # not set yet (copy, unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.decoder, name)


class RapidOcrEngine(OcrEngine):
    """RapidOCR engine (ONNX models from the rapidocr wheel).

    Options:
      preprocess: True (orientation + deskew + border removal), False, a dict or PreprocessOptions.
      threads: onnxruntime intra-op/inter-op threads (default 1; 0 = onnxruntime's default, all cores).
      device: "auto" (CUDA when onnxruntime offers it), "cpu" or "cuda".
      text_score: lines recognised below this score are dropped (RapidOCR's default 0.5).
      model_dir: a directory holding the three ONNX files, instead of the wheel's.
      lang: tesseract-style language codes joined with '+' ("eng" by default); Latin-script
        languages limit the characters the recogniser may choose; others leave them all.
      timeout: seconds per page; a page over it raises OcrFailed (checked after the fact: onnxruntime cannot be interrupted).
      head: "paperbeam" (the shipped refitted tail, for pages whose languages it covers: English),
        "stock" (the wheel's layer), or the path of a head file from ``paperbeam.models.ocr.rec_head_train``.
    """

    name = "rapidocr"

    def __init__(self, preprocess=True, threads: int = 1, device: str = "auto", text_score: float = 0.5,
                 model_dir: Optional[str] = None, timeout: Optional[float] = None,
                 lang: str = "eng", head: str = "paperbeam"):
        if device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"RapidOCR device must be 'auto', 'cpu' or 'cuda', not {device!r}.")
        if int(threads) < 0:
            raise ConfigError(f"RapidOCR threads must be 0 (all cores) or more, not {threads!r}.")
        self.preprocess = options_from(preprocess, DEFAULT_PREPROCESS) or PreprocessOptions.none()
        self.threads = int(threads)
        self.device = device
        self.text_score = float(text_score)
        self.timeout = timeout
        self.lang = lang
        self.head = self._choose_head(head, lang)
        rapidocr = _import()
        import onnxruntime

        root = model_dir or os.path.join(os.path.dirname(rapidocr.__file__), "models")
        paths = {k: os.path.join(root, f) for k, f in MODEL_FILES.items()}
        missing = [p for p in paths.values() if not os.path.isfile(p)]
        if missing:
            raise MissingDependency(f"RapidOCR model file(s) {', '.join(missing)}", f"{INSTALL} (the models ship inside the rapidocr wheel)")
        providers = onnxruntime.get_available_providers()
        use_cuda = device == "cuda" or (device == "auto" and "CUDAExecutionProvider" in providers)
        if device == "cuda" and "CUDAExecutionProvider" not in providers:
            raise ConfigError(f"RapidOCR device 'cuda' asked for, but onnxruntime offers only {providers}; install onnxruntime-gpu or use device='auto'.")
        self.provider = "CUDAExecutionProvider" if use_cuda else "CPUExecutionProvider"
        params = {
            "Global.log_level": "warning",
            "Global.text_score": self.text_score,
            "EngineConfig.onnxruntime.use_cuda": use_cuda,
            "EngineConfig.onnxruntime.intra_op_num_threads": self.threads or -1,
            "EngineConfig.onnxruntime.inter_op_num_threads": self.threads or -1,
        }
        for task, path in paths.items():
            params[f"{task}.model_path"] = path
        from rapidocr import RapidOCR

        try:
            self._ocr = RapidOCR(params=params)
            self._load_models()
            if self.head is not None:
                rec_head.install(self._ocr.text_rec, paths["Rec"], self.head)
            else:
                self._limit_alphabet()
        except (MissingDependency, ConfigError):
            raise
        except Exception as e:  # a broken install or model file: say so before any work starts
            raise ConfigError(f"RapidOCR could not load its models from {root}: {e}") from e
        self._version = f"rapidocr {getattr(rapidocr, '__version__', None) or _rapidocr_version()}"
        if self.head is not None:
            self._version += f" + head {self.head.digest()}"

    @staticmethod
    def _choose_head(head: str, lang: str) -> Optional["rec_head.Head"]:
        """The output layer to read with, or None for the wheel's own (see the module docstring)."""
        if head == "stock":
            return None
        chosen = rec_head.Head.load(rec_head.SHIPPED if head == "paperbeam" else head)
        if chosen.covers(lang):
            return chosen
        if head != "paperbeam":
            raise ConfigError(f"The recogniser head {head} was fitted for {chosen.lang!r} and cannot write every character "
                              f"of --lang {lang}; use head='stock' or a head fitted for those languages.")
        return None

    def _load_models(self) -> None:
        """Load the three ONNX sessions now rather than on the first page."""
        for loader in ("_load_det_model", "_load_cls_model", "_load_rec_model"):
            fn = getattr(self._ocr, loader, None)
            if fn is not None:
                fn()
        if not hasattr(self._ocr, "_load_det_model"):  # another rapidocr layout: warm up on a blank image
            self._ocr(np.full((64, 64, 3), 255, np.uint8))

    def _limit_alphabet(self) -> None:
        """Let the recogniser choose only characters of the requested languages (see alphabet.py)."""
        allowed = allowed_characters(self.lang)
        rec = getattr(self._ocr, "text_rec", None)
        decoder = getattr(rec, "postprocess_op", None)
        charset = getattr(decoder, "character", None)
        if allowed is None or charset is None:
            return
        # index 0 is CTC's blank; anything else outside the alphabet is never chosen
        banned = np.array([k for k, c in enumerate(charset) if k and c not in allowed], dtype=np.int64)
        rec.postprocess_op = LimitedDecoder(decoder, banned)

    def version(self) -> str:
        return self._version

    def check(self) -> None:
        _import()  # the constructor already loaded the models

    def recognize(self, image, dpi: Optional[float] = None) -> OcrResult:
        t0 = time.perf_counter()
        prep = prepare(image, self.preprocess, dpi=dpi)
        result = self.read_prepared(prep)
        result.details["seconds"]["preprocess"] = round(time.perf_counter() - t0 - result.details["seconds"]["ocr"], 4)
        return result

    def read_prepared(self, prep) -> OcrResult:
        """Recognise an already prepared page (AutoEngine shares one preparation between engines)."""
        arr = np.asarray(prep.image)
        bgr = np.repeat(arr[:, :, None], 3, axis=2) if arr.ndim == 2 else arr
        t1 = time.perf_counter()
        try:
            out = self._ocr(bgr)
        except Exception as e:
            raise OcrFailed(f"RapidOCR failed on this page: {type(e).__name__}: {e}")
        t2 = time.perf_counter()
        if self.timeout and t2 - t1 > self.timeout:
            raise OcrFailed(f"RapidOCR took {t2 - t1:.1f} s on this page, over the {self.timeout:g} s limit.",
                            hint="Raise the OCR timeout, lower the render DPI, or use a GPU.")
        boxes = getattr(out, "boxes", None)
        words: List[Word] = []
        if boxes is not None and len(boxes):
            for line, row in enumerate(reading_order(boxes, out.txts, out.scores)):
                for quad, text, score in row:
                    words.extend(split_line(unicodedata.normalize("NFKC", text), quad / prep.scale, score, line))
        return OcrResult(
            words=words,
            width=prep.width,
            height=prep.height,
            engine=self._version,
            rotation=prep.rotation,
            mean_confidence=mean_confidence(words),
            details={
                "provider": self.provider,
                "threads": self.threads,
                "skew": prep.skew,
                "preprocess": prep.steps,
                "seconds": {"ocr": round(t2 - t1, 4)},
            },
        )


def _rapidocr_version() -> str:
    try:
        from importlib.metadata import version

        return version("rapidocr")
    except Exception:  # pragma: no cover
        return "unknown"
