"""Tesseract first, RapidOCR when tesseract's own read of the page looks poor.

Why: tesseract is cheap and exact on clean pages (born-digital PDFs rendered
to images, office scans at 300 dpi) but garbles thermal receipts, faint and
low-resolution scans and photos, where RapidOCR's neural detector and
recogniser read far better at a higher CPU cost. Reading every page with both
would double the bill; reading only with RapidOCR would pay its cost on the
clean majority of office documents.

The signal is tesseract's own confidence, weighted by characters: the LSTM
recogniser's per-word confidence is well calibrated in the sense that matters
here: on clean text it sits above ~0.9, and it falls quickly with blur, low
resolution and noise (bench/ocr.py: sroie receipts 0.5-0.86 with 4-53% CER;
rendered text 0.93-0.96). A second, independent signal is the share of words
tesseract itself marks as unreliable (confidence < 0.6). Either one past its
limit triggers the re-read.

The page is prepared once (orientation, deskew) and both engines read that
upright page, so the OSD pass is not paid twice; tesseract reads the rescaled
copy, RapidOCR the page at input resolution (it resizes itself).

After a re-read, RapidOCR's text is kept unless it found much less text than
tesseract (under half the characters), which means its detector missed part
of the page; ``details`` records the signals, the decision and both timings.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Optional

from paperbeam.models.ocr.base import OcrEngine, OcrResult
from paperbeam.models.ocr.tesseract import TesseractEngine


def char_confidence(words) -> Optional[float]:
    """Mean word confidence weighted by the words' lengths (a 1-letter blob counts less than a long word)."""
    chars = sum(len(w.text) for w in words)
    return sum(w.confidence * len(w.text) for w in words) / chars if chars else None


class AutoEngine(OcrEngine):
    """Tesseract, re-read with RapidOCR when the first read looks poor.

    Options:
      lang, psm, preprocess, timeout, osd: passed to TesseractEngine.
      min_confidence: re-read when tesseract's character-weighted confidence is below this (0.90).
      max_unsure_share: re-read when more than this share of words have confidence < 0.6 (0.10).
      min_chars: pages where tesseract found fewer characters are re-read too (a blank-looking
        read of a photo is often a failed read); 0 turns this off.
      rapidocr: a dict of RapidOcrEngine options (threads, device, text_score, model_dir).
      threads: threads for both engines (1).
    """

    name = "auto"

    def __init__(self, lang: str = "eng", psm: Optional[int] = None, preprocess=True, timeout: Optional[float] = None,
                 osd: bool = True, min_confidence: float = 0.90, max_unsure_share: float = 0.10, min_chars: int = 20,
                 rapidocr: Optional[dict] = None, threads: int = 1):
        self.tesseract = TesseractEngine(lang=lang, psm=psm, preprocess=preprocess, timeout=timeout, osd=osd, threads=threads)
        from paperbeam.models.ocr.rapid import RapidOcrEngine  # MissingDependency names the extra to install

        opts = {"threads": threads, "timeout": timeout, **(rapidocr or {})}
        self.rapid = RapidOcrEngine(preprocess=False, **opts)
        self.min_confidence = float(min_confidence)
        self.max_unsure_share = float(max_unsure_share)
        self.min_chars = int(min_chars)

    def version(self) -> str:
        return f"auto ({self.tesseract.version()}, {self.rapid.version()})"

    def check(self) -> None:
        self.tesseract.check()
        self.rapid.check()

    def assess(self, result: OcrResult) -> dict:
        """The signals and whether they call for a re-read."""
        words = result.words
        conf = char_confidence(words)
        unsure = sum(1 for w in words if w.confidence < 0.6) / len(words) if words else 1.0
        chars = sum(len(w.text) for w in words)
        reasons = []
        if conf is None or conf < self.min_confidence:
            reasons.append(f"confidence {0 if conf is None else conf:.2f} < {self.min_confidence:.2f}")
        if unsure > self.max_unsure_share:
            reasons.append(f"unsure words {unsure:.0%} > {self.max_unsure_share:.0%}")
        if chars < self.min_chars:
            reasons.append(f"{chars} characters < {self.min_chars}")
        return {
            "confidence": None if conf is None else round(conf, 4),
            "unsure_share": round(unsure, 4),
            "chars": chars,
            "reread": bool(reasons),
            "reasons": reasons,
        }

    def recognize(self, image, dpi: Optional[float] = None) -> OcrResult:
        t0 = time.perf_counter()
        prep = self.tesseract.prepare(image, dpi)
        t1 = time.perf_counter()
        first = self.tesseract.read_prepared(prep)
        t2 = time.perf_counter()
        signals = self.assess(first)
        details = {"tesseract": signals, "seconds": {"preprocess": round(t1 - t0, 4), "tesseract": round(t2 - t1, 4)},
                   "psm": first.details.get("psm"), "skew": prep.skew, "scale": prep.scale, "preprocess": prep.steps}
        if not signals["reread"]:
            details["chosen"] = "tesseract"
            first.details = details
            return first
        upright = dataclasses.replace(prep, image=prep.upright, scale=1.0)
        second = self.rapid.read_prepared(upright)
        details["seconds"]["rapidocr"] = round(time.perf_counter() - t2, 4)
        rapid_chars = sum(len(w.text) for w in second.words)
        details["rapidocr"] = {"confidence": None if second.mean_confidence is None else round(second.mean_confidence, 4),
                               "chars": rapid_chars, "provider": second.details.get("provider")}
        conf_text = "none" if signals["confidence"] is None else f"{signals['confidence']:.2f}"
        if rapid_chars * 2 < signals["chars"]:
            details["chosen"] = "tesseract"
            details["kept_because"] = f"rapidocr found {rapid_chars} characters, tesseract {signals['chars']}"
            first.details = details
            return first
        details["chosen"] = "rapidocr"
        second.engine = f"{second.engine} (auto: tesseract conf {conf_text})"
        second.details = details
        return second
