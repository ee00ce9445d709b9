"""Tesseract through pytesseract: words, boxes and confidences from one page image.

Why this shape: the pipeline creates one engine per worker and calls
``recognize`` for each page; tesseract itself is a subprocess per call, so the
engine holds only its settings. ``check`` runs when the pipeline is built and
says exactly which Debian package is missing.

Threads: tesseract's OpenMP build starts one thread per core for every page,
which on a shared worker (several Beam workers, several engineers) makes it
slower, not faster. Unless the user set ``OMP_THREAD_LIMIT`` themselves, the
engine sets it to 1 in ``os.environ`` (pytesseract's subprocess inherits it).

Page segmentation: ``psm=None`` picks per page: narrow pages (receipts,
height/width >= 1.6) are one column of lines of varying size (psm 4); other
pages (invoices, letters) get full automatic layout analysis (psm 3). See
bench/ocr.py for the measurements behind the choice.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from typing import Dict, List, Optional, Tuple

from paperbeam.errors import ConfigError, MissingDependency, OcrFailed
from paperbeam.models.ocr.base import OcrEngine, OcrResult, mean_confidence
from paperbeam.models.ocr.preprocess import PreprocessOptions, detect_orientation, options_from, prepare
from paperbeam.records import Word

VALID_PSM = {1, 3, 4, 5, 6, 7, 8, 11, 12, 13}  # 0 is OSD only, 2 is layout without OCR
_LANG_RE = re.compile(r"^[A-Za-z0-9_/\-]+$")
RECEIPT_ASPECT = 1.6  # height / width at or above which a page is read as a single column (psm 4)


def ensure_thread_limit(threads: int = 1) -> None:
    """Put OMP_THREAD_LIMIT in the environment tesseract subprocesses inherit, unless the user set it."""
    os.environ.setdefault("OMP_THREAD_LIMIT", str(threads))


def debian_package(lang: str) -> str:
    """The Debian/Ubuntu package that ships a tesseract language: deu -> tesseract-ocr-deu."""
    if lang.startswith("script/"):
        return "tesseract-ocr-script-" + lang.split("/", 1)[1].lower()
    return "tesseract-ocr-" + lang.lower().replace("_", "-")


def choose_psm(width: int, height: int) -> int:
    """psm 4 (one column, lines of varying size) for receipt-shaped pages, psm 3 (automatic layout) otherwise."""
    return 4 if width and height / float(width) >= RECEIPT_ASPECT else 3


def words_from_data(data: Dict[str, list], scale: float = 1.0) -> List[Word]:
    """pytesseract ``image_to_data`` (Output.DICT) to Words.

    Drops non-word levels (conf -1) and empty text. ``line`` is a running
    index over (block, paragraph, line), unique within the page, in
    tesseract's reading order; boxes are divided by ``scale``.
    """
    words: List[Word] = []
    line_ids: Dict[Tuple[int, int, int], int] = {}
    n = len(data.get("text", []))
    for i in range(n):
        text = (data["text"][i] or "").strip()
        try:
            conf = float(data["conf"][i])
        except (TypeError, ValueError):
            conf = -1.0
        if not text or conf < 0:
            continue
        key = (int(data["block_num"][i]), int(data["par_num"][i]), int(data["line_num"][i]))
        line = line_ids.setdefault(key, len(line_ids))
        x, y, w, h = (float(data[k][i]) for k in ("left", "top", "width", "height"))
        words.append(
            Word(
                text=text,
                bbox=(x / scale, y / scale, (x + w) / scale, (y + h) / scale),
                confidence=max(0.0, min(1.0, conf / 100.0)),
                line=line,
                block=key[0],
            )
        )
    return words


class TesseractEngine(OcrEngine):
    """Tesseract OCR engine.

    Options:
      lang: tesseract languages joined with '+', e.g. "eng+deu".
      psm: page segmentation mode; None picks per page (see ``choose_psm``).
      oem: OCR engine mode (None = tesseract's default, the LSTM engine).
      preprocess: True (default steps), False, a dict of ``PreprocessOptions`` fields, or PreprocessOptions.
      timeout: seconds per tesseract call; a page over it raises OcrFailed.
      osd: detect 90/180/270 rotation with tesseract OSD (also switchable as preprocess.orientation).
      config: extra tesseract command-line options, e.g. "-c preserve_interword_spaces=1".
      threads: OMP_THREAD_LIMIT set for tesseract when the environment does not set it.
    """

    name = "tesseract"

    def __init__(
        self,
        lang: str = "eng",
        psm: Optional[int] = None,
        preprocess=True,
        timeout: Optional[float] = None,
        osd: bool = True,
        oem: Optional[int] = None,
        config: str = "",
        threads: int = 1,
    ):
        if not lang or not all(_LANG_RE.match(part) for part in lang.split("+")):
            raise ConfigError(f"Tesseract lang must be language codes joined with '+', like 'eng+deu'; got {lang!r}.")
        if psm is not None and int(psm) not in VALID_PSM:
            raise ConfigError(f"Tesseract psm {psm!r} is not a page segmentation mode that reads text; use one of {sorted(VALID_PSM)} or None (automatic).")
        if oem is not None and int(oem) not in (0, 1, 2, 3):
            raise ConfigError(f"Tesseract oem must be 0-3 or None, not {oem!r}.")
        if timeout is not None and float(timeout) <= 0:
            raise ConfigError(f"Tesseract timeout must be a positive number of seconds, not {timeout!r}.")
        self.lang = lang
        self.psm = None if psm is None else int(psm)
        self.oem = None if oem is None else int(oem)
        self.timeout = None if timeout is None else float(timeout)
        self.osd = bool(osd)
        self.config = config or ""
        opts = options_from(preprocess)
        if opts is None:
            # even "no preprocessing" still honours osd: orientation is about correctness, not quality
            opts = PreprocessOptions.none().replace(orientation=self.osd)
        elif not self.osd:
            opts = opts.replace(orientation=False)
        self.preprocess = opts
        self._version: Optional[str] = None
        ensure_thread_limit(threads)

    # ------------------------------------------------------------------ setup

    def check(self) -> None:
        import pytesseract

        cmd = pytesseract.pytesseract.tesseract_cmd
        if shutil.which(cmd) is None and not os.path.isfile(cmd):
            raise MissingDependency("The tesseract OCR program", "apt-get install tesseract-ocr (Debian/Ubuntu)")
        try:
            installed = set(pytesseract.get_languages(config=""))
        except pytesseract.TesseractNotFoundError:
            raise MissingDependency("The tesseract OCR program", "apt-get install tesseract-ocr (Debian/Ubuntu)")
        wanted = self.lang.split("+") + (["osd"] if self.preprocess.orientation else [])
        missing = [lang for lang in wanted if lang not in installed]
        if missing:
            have = ", ".join(sorted(installed)) or "none"
            packages = " ".join(debian_package(m) for m in missing)
            hint = " (or turn orientation detection off with osd=False)" if missing == ["osd"] else ""
            raise ConfigError(
                f"Tesseract language data for {', '.join(repr(m) for m in missing)} is not installed "
                f"(installed: {have}). Install it with: apt-get install {packages}{hint}"
            )

    def version(self) -> str:
        if self._version is None:
            import pytesseract

            try:
                self._version = f"tesseract {pytesseract.get_tesseract_version()}"
            except pytesseract.TesseractNotFoundError:
                raise MissingDependency("The tesseract OCR program", "apt-get install tesseract-ocr (Debian/Ubuntu)")
        return self._version

    # ------------------------------------------------------------------ reading

    def _config(self, psm: int) -> str:
        parts = [f"--psm {psm}"]
        if self.oem is not None:
            parts.append(f"--oem {self.oem}")
        if self.config:
            parts.append(self.config)
        return " ".join(parts)

    def _osd(self, gray):
        return detect_orientation(gray, timeout=self.timeout, min_confidence=self.preprocess.osd_min_confidence,
                                  trust_confidence=self.preprocess.osd_trust_confidence)

    def recognize(self, image, dpi: Optional[float] = None, psm: Optional[int] = None) -> OcrResult:
        """Read one page. ``psm`` overrides the engine's mode for this call."""
        t0 = time.perf_counter()
        prep = self.prepare(image, dpi)
        result = self.read_prepared(prep, psm)
        result.details["seconds"]["preprocess"] = round(time.perf_counter() - t0 - result.details["seconds"]["ocr"], 4)
        return result

    def prepare(self, image, dpi: Optional[float] = None):
        """The page after this engine's preprocessing (see preprocess.prepare)."""
        return prepare(image, self.preprocess, dpi=dpi, osd=self._osd)

    def read_prepared(self, prep, psm: Optional[int] = None) -> OcrResult:
        """Recognise an already prepared page (AutoEngine shares one preparation between engines)."""
        import pytesseract

        mode = psm or self.psm or choose_psm(prep.width, prep.height)
        t1 = time.perf_counter()
        try:
            data = pytesseract.image_to_data(
                prep.image,
                lang=self.lang,
                config=self._config(mode),
                output_type=pytesseract.Output.DICT,
                timeout=self.timeout or 0,
            )
        except pytesseract.TesseractNotFoundError:
            raise MissingDependency("The tesseract OCR program", "apt-get install tesseract-ocr (Debian/Ubuntu)")
        except pytesseract.TesseractError as e:
            raise OcrFailed(f"tesseract failed (status {e.status}): {str(e.message).strip()[:300]}")
        except RuntimeError as e:
            if "timeout" in str(e).lower():
                raise OcrFailed(
                    f"tesseract took longer than {self.timeout:g} s on this page.",
                    hint="Raise the OCR timeout if the page is genuine (large pages at high DPI take longer), or lower the render DPI.",
                )
            raise
        words = words_from_data(data, prep.scale)
        t2 = time.perf_counter()
        return OcrResult(
            words=words,
            width=prep.width,
            height=prep.height,
            engine=self.version(),
            rotation=prep.rotation,
            mean_confidence=mean_confidence(words),
            details={
                "psm": mode,
                "lang": self.lang,
                "skew": prep.skew,
                "scale": prep.scale,
                "preprocess": prep.steps,
                "seconds": {"ocr": round(t2 - t1, 4)},
            },
        )
