"""Tesseract first, RapidOCR when tesseract's read of the page looks poor.

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

The decision is made on a *probe*: tesseract reads three bands of the page
(together about a third of its height, spread over the text from top to
bottom, each cut at blank rows so no line is split), stacked into one image,
and the signals come from that read. A poor page then costs the probe plus
RapidOCR instead of a full tesseract read plus RapidOCR; a good page costs
the probe plus the full tesseract read. Bands with too little text to judge
(a sparse page) fall back to judging the full tesseract read.

After a re-read, RapidOCR's text is kept unless, inside the probed bands, it
found under half the characters tesseract read there with confidence (words
at ``UNSURE`` or above: noise read as a flood of low-confidence letters does
not count), which means its detector missed part of the page: then the page
is read in full by tesseract. ``details`` records the probe, the signals,
the decision and the timings.
"""

from __future__ import annotations

import dataclasses
import time
from typing import List, Optional, Sequence, Tuple

import numpy as np

from paperbeam.models.ocr.base import OcrEngine, OcrResult
from paperbeam.models.ocr.preprocess import _ink_mask
from paperbeam.models.ocr.tesseract import TesseractEngine, choose_psm

UNSURE = 0.6  # a tesseract word below this confidence is one tesseract itself doubts
PROBE_SHARE = 0.3  # of the page height read by the probe, in PROBE_PARTS bands
PROBE_PARTS = 3
PROBE_MIN_BAND = 120  # pixels (of the prepared image) per band, about three lines of text
PROBE_GAP = 24  # white rows between the bands in the probe image


def probe_bands(gray: np.ndarray, share: float = PROBE_SHARE, parts: int = PROBE_PARTS,
                min_band: int = PROBE_MIN_BAND) -> List[Tuple[int, int]]:
    """Row ranges ``[top, bottom)`` to probe: ``parts`` bands spread over the text, cut at blank rows.

    One band would judge the page by one kind of text: the densest part of a
    receipt is its item lines, which tesseract reads better than the small
    header that holds the vendor's name and address. So the bands sit at the
    middle of each ``parts``-th of the page's text (from its first to its last
    inked row), together about ``share`` of the page. Each band's edges move
    outward to the nearest row without ink, so no line is read in half;
    overlapping bands merge. A page too short to sample is one band, whole.
    """
    h = gray.shape[0]
    band = max(int(h * share / parts), min_band)
    if h <= 2 * band * parts:
        return [(0, h)]
    ink = _ink_mask(gray)
    inked = np.flatnonzero(ink.any(axis=1))
    if not len(inked):
        return [(0, h)]
    blank = ~ink.any(axis=1)
    first, last = int(inked[0]), int(inked[-1]) + 1
    step = (last - first) / parts
    bands: List[Tuple[int, int]] = []
    for k in range(parts):
        middle = first + step * (k + 0.5)
        top, bottom = max(0, int(middle - band / 2)), min(h, int(middle + band / 2))
        while top > 0 and not blank[top]:
            top -= 1
        while bottom < h and not blank[bottom - 1]:
            bottom += 1
        if bands and top <= bands[-1][1]:
            bands[-1] = (bands[-1][0], max(bottom, bands[-1][1]))
        else:
            bands.append((top, bottom))
    return bands


def stack_bands(image, bands: Sequence[Tuple[int, int]], gap: int = PROBE_GAP):
    """The bands of a greyscale page one under another, with white rows between: one image, one tesseract call."""
    from PIL import Image

    height = sum(b - a for a, b in bands) + gap * (len(bands) - 1)
    out = Image.new("L", (image.width, height), 255)
    y = 0
    for a, b in bands:
        out.paste(image.crop((0, a, image.width, b)), (0, y))
        y += b - a + gap
    return out


def char_confidence(words) -> Optional[float]:
    """Mean word confidence weighted by the words' lengths (a 1-letter blob counts less than a long word)."""
    chars = sum(len(w.text) for w in words)
    return sum(w.confidence * len(w.text) for w in words) / chars if chars else None


class AutoEngine(OcrEngine):
    """Tesseract, or RapidOCR when tesseract's read of a probe of the page looks poor.

    Options:
      lang, psm, preprocess, timeout, osd: passed to TesseractEngine.
      min_confidence: re-read when tesseract's character-weighted confidence is below this (0.90).
      max_unsure_share: re-read when more than this share of words have confidence < 0.6 (0.10).
      min_chars: pages where tesseract found fewer characters are re-read too (a blank-looking
        read of a photo is often a failed read); 0 turns this off.
      probe: judge the page from tesseract's read of three bands of it (True, the default) or
        from a full read (False: slower on pages that go to RapidOCR).
      rapidocr: a dict of RapidOcrEngine options (threads, device, text_score, model_dir).
      threads: threads for both engines (1).
    """

    name = "auto"

    def __init__(self, lang: str = "eng", psm: Optional[int] = None, preprocess=True, timeout: Optional[float] = None,
                 osd: bool = True, min_confidence: float = 0.90, max_unsure_share: float = 0.10, min_chars: int = 20,
                 rapidocr: Optional[dict] = None, threads: int = 1, probe: bool = True):
        self.tesseract = TesseractEngine(lang=lang, psm=psm, preprocess=preprocess, timeout=timeout, osd=osd, threads=threads)
        from paperbeam.models.ocr.rapid import RapidOcrEngine  # MissingDependency names the extra to install

        opts = {"threads": threads, "timeout": timeout, "lang": lang, **(rapidocr or {})}
        self.rapid = RapidOcrEngine(preprocess=False, **opts)
        self.min_confidence = float(min_confidence)
        self.max_unsure_share = float(max_unsure_share)
        self.min_chars = int(min_chars)
        self.probe = bool(probe)

    def version(self) -> str:
        return f"auto ({self.tesseract.version()}, {self.rapid.version()})"

    def check(self) -> None:
        self.tesseract.check()
        self.rapid.check()

    def assess(self, result: OcrResult) -> dict:
        """The signals and whether they call for a re-read."""
        words = result.words
        conf = char_confidence(words)
        unsure = sum(1 for w in words if w.confidence < UNSURE) / len(words) if words else 1.0
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
        seconds = {"preprocess": round(time.perf_counter() - t0, 4)}
        details = {"seconds": seconds, "skew": prep.skew, "scale": prep.scale, "preprocess": prep.steps}
        full: Optional[OcrResult] = None
        whole = [(0, prep.image.height)]
        bands = probe_bands(np.asarray(prep.image)) if self.probe else whole
        t1 = time.perf_counter()
        if bands == whole:
            judged = full = self.tesseract.read_prepared(prep)
        else:
            probe = dataclasses.replace(prep, image=stack_bands(prep.image, bands))
            judged = self.tesseract.read_prepared(probe, psm=self._page_psm(prep))
            details["probe"] = {"rows": [[round(a / prep.scale), round(b / prep.scale)] for a, b in bands]}
        seconds["tesseract"] = round(time.perf_counter() - t1, 4)
        signals = self.assess(judged)
        if not signals["reread"] and full is None and self.min_chars and signals["chars"] < 2 * self.min_chars:
            # sparse bands cannot vouch for the page: judge the full read instead
            t1 = time.perf_counter()
            judged = full = self.tesseract.read_prepared(prep)
            seconds["tesseract"] = round(seconds["tesseract"] + time.perf_counter() - t1, 4)
            signals = self.assess(full)
            bands = whole
        details["tesseract"] = signals
        details["psm"] = judged.details.get("psm")
        if not signals["reread"]:
            return self._tesseract(prep, full, details)
        t2 = time.perf_counter()
        upright = dataclasses.replace(prep, image=prep.upright, scale=1.0)
        second = self.rapid.read_prepared(upright)
        seconds["rapidocr"] = round(time.perf_counter() - t2, 4)
        rapid_chars = sum(_chars_within(second.words, a / prep.scale, b / prep.scale) for a, b in bands)
        sure_chars = sum(len(w.text) for w in judged.words if w.confidence >= UNSURE)
        details["rapidocr"] = {"confidence": None if second.mean_confidence is None else round(second.mean_confidence, 4),
                               "chars": sum(len(w.text) for w in second.words), "provider": second.details.get("provider")}
        if rapid_chars * 2 < sure_chars:
            details["kept_because"] = (f"rapidocr found {rapid_chars} characters where tesseract read {sure_chars} "
                                       f"with confidence {UNSURE:g} or more")
            return self._tesseract(prep, full, details)
        details["chosen"] = "rapidocr"
        # One name per engine, not per page: the summary counts pages by engine and the ledger
        # compares versions. Why this page was re-read (tesseract's confidence...) is in details.
        second.engine = f"{second.engine} (chosen by auto)"
        second.details = details
        return second

    def _page_psm(self, prep) -> int:
        """The mode the full page would be read in, so the probe reads its band the same way."""
        return self.tesseract.psm or choose_psm(prep.width, prep.height)

    def _tesseract(self, prep, full: Optional[OcrResult], details: dict) -> OcrResult:
        """Tesseract's full read of the page (made now if only the probe was read)."""
        if full is None:
            t = time.perf_counter()
            full = self.tesseract.read_prepared(prep)
            details["seconds"]["tesseract"] = round(details["seconds"]["tesseract"] + time.perf_counter() - t, 4)
        details["chosen"] = "tesseract"
        full.details = details
        return full


def _chars_within(words, top: float, bottom: float) -> int:
    """Characters of the words whose vertical centre lies in rows [top, bottom)."""
    return sum(len(w.text) for w in words if top <= (w.bbox[1] + w.bbox[3]) / 2 < bottom)
