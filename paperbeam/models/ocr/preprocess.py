"""Page-image clean-up before OCR: orientation, deskew, rescale, contrast, borders.

Why: OCR engines read clean, upright, well-sized text best. Real scans are
none of those: receipts photographed at an angle, faxed invoices turned 90
degrees, thermal paper at 150 dpi whose characters are 12 pixels high, grey
backgrounds and black scanner borders. Each step here is a plain function of a
greyscale ``numpy`` array (testable alone), switched by a flag in
``PreprocessOptions``; ``prepare`` runs the enabled steps in order and records
what each did and how long it took, so ``bench/ocr.py`` can measure them.

Coordinates: ``prepare`` returns the image to read plus ``scale``; an engine
divides the boxes it reads by ``scale`` so words come back in the pixels of
the upright (oriented and deskewed) page at its original resolution.

Orientation (90/180/270) uses tesseract's OSD when tesseract is installed; it
needs a few dozen characters and reports nothing on sparse pages, which is
treated as "upright", never as an error.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional

import numpy as np

try:  # opencv is optional: without it the numpy/PIL fallbacks below are used
    import cv2
except ImportError:  # pragma: no cover - exercised only where opencv is absent
    cv2 = None

from PIL import Image


@dataclass(frozen=True)
class PreprocessOptions:
    """Which clean-up steps run before OCR. Every step can be switched off."""

    orientation: bool = True  # detect 90/180/270 with tesseract OSD and turn the page upright
    osd_min_confidence: float = 2.0  # tesseract's orientation confidence below which the page is left as is
    osd_trust_confidence: float = 14.0  # at or above: turn without checking; between: recognise both ways, keep the better
    deskew: bool = True  # straighten small skews
    max_skew: float = 6.0  # degrees searched either way
    rescale: bool = True  # scale so the median character is about target_char_height pixels high
    target_char_height: float = 24.0  # median glyph height; receipts: cap height ~24 px, x-height ~17-20 px (bench: 20-30 all beat no rescale on CER)
    max_upscale: float = 3.0
    downscale_above: float = 2.5  # shrink only when characters are this many times the target (saves time)
    max_pixels: int = 12_000_000  # never make an image larger than this
    normalize_contrast: bool = False  # stretch grey levels (1st..99th percentile) to 0..255; tesseract thresholds itself, measured neutral-to-worse on receipts
    binarize: bool = False  # adaptive threshold; helps some engines on uneven light, hurts LSTM on clean scans
    remove_background: bool = False  # flatten uneven illumination (shadows on photos) by dividing by a blurred background
    remove_border: bool = True  # crop dark scanner borders touching the image edge

    @classmethod
    def none(cls) -> "PreprocessOptions":
        """Every step off: the image is only converted to greyscale."""
        return cls(**{f.name: False for f in dataclasses.fields(cls) if f.type in ("bool", bool)})

    def replace(self, **changes) -> "PreprocessOptions":
        return dataclasses.replace(self, **changes)


@dataclass
class Prepared:
    """The image to read and how it relates to the input."""

    image: Image.Image  # greyscale ("L"), upright, possibly rescaled
    scale: float = 1.0  # image pixels per pixel of the upright page at input resolution
    rotation: int = 0  # degrees clockwise the input was turned (multiple of 90)
    skew: float = 0.0  # degrees counter-clockwise the page was then straightened by
    width: int = 0  # size of the upright page at input resolution (the frame the words are reported in)
    height: int = 0
    steps: Dict[str, dict] = field(default_factory=dict)  # step -> {"seconds": ..., what it found}
    upright: Optional[Image.Image] = None  # the upright page at input resolution, before rescale/contrast (for a second engine)


# --------------------------------------------------------------------------- steps


def to_gray(image: Image.Image) -> np.ndarray:
    """A greyscale uint8 array; transparency is flattened onto white."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(bg, rgba)
    if image.mode == "1":
        image = image.convert("L")
    elif image.mode not in ("L",):
        image = image.convert("L")
    arr = np.asarray(image, dtype=np.uint8)
    if arr.mean() < 100:  # white text on dark (negative scan): invert so text is dark
        arr = 255 - arr
    return arr


def _ink_mask(gray: np.ndarray) -> np.ndarray:
    """True where there is ink (text): Otsu threshold on the greyscale image."""
    if cv2 is not None:
        _, mask = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
        return mask > 0
    hist = np.bincount(gray.ravel(), minlength=256).astype(float)
    total = hist.sum()
    sum_all = (np.arange(256) * hist).sum()
    w0 = np.cumsum(hist)
    s0 = np.cumsum(np.arange(256) * hist)
    w1 = total - w0
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (s0 * w1 - (sum_all - s0) * w0) ** 2 / (w0 * w1)
    t = int(np.nanargmax(between))
    return gray <= t


def remove_border(gray: np.ndarray) -> tuple:
    """Paint dark bands (scanner lids, photo backgrounds) that touch the edges white.

    A row/column belongs to the border while more than 60% of it is dark,
    scanning inwards from each edge (at most a quarter of the page). The image
    keeps its size, so word boxes keep their coordinates. Returns
    (image, [left, top, right, bottom] widths painted).
    """
    h, w = gray.shape
    dark = gray < 96
    rows = dark.mean(axis=1)
    cols = dark.mean(axis=0)

    def inward(profile, limit):
        i = 0
        while i < limit and profile[i] > 0.6:
            i += 1
        return i

    top, bottom = inward(rows, h // 4), inward(rows[::-1], h // 4)
    left, right = inward(cols, w // 4), inward(cols[::-1], w // 4)
    if not (top or bottom or left or right):
        return gray, [0, 0, 0, 0]
    out = gray.copy()
    inner = gray[top:h - bottom, left:w - right]
    paper = int(np.percentile(inner, 90)) if inner.size else 255
    out[:top, :] = paper
    out[h - bottom:, :] = paper
    out[:, :left] = paper
    out[:, w - right:] = paper
    return out, [left, top, right, bottom]


def char_height(gray: np.ndarray) -> Optional[float]:
    """Median height in pixels of character-sized ink blobs, or None on a page without text.

    Connected components of the ink mask, keeping those shaped like glyphs
    (not dots, not rules, not pictures); the median of their heights is close
    to the cap height on receipts and between x-height and cap height on
    mixed-case text.
    """
    if cv2 is None:
        return None
    h, w = gray.shape
    # work on a bounded size so big pages stay cheap
    f = min(1.0, 2000.0 / max(h, w))
    small = cv2.resize(gray, (max(1, int(w * f)), max(1, int(h * f))), interpolation=cv2.INTER_AREA) if f < 1 else gray
    mask = _ink_mask(small).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        return None
    ws, hs, areas = stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT], stats[1:, cv2.CC_STAT_AREA]
    keep = (hs >= 4) & (hs <= small.shape[0] / 8) & (ws <= hs * 3) & (ws >= 1) & (areas >= 6)
    if keep.sum() < 8:
        return None
    return float(np.median(hs[keep])) / f


def rescale_factor(height: Optional[float], shape, opts: PreprocessOptions, dpi: Optional[float] = None) -> float:
    """The factor that brings characters to the target height, within the limits in ``opts``."""
    if height is None:
        if not dpi:
            return 1.0
        height = dpi / 300.0 * opts.target_char_height  # assume ~10 pt text when nothing was measured
    factor = opts.target_char_height / height
    if factor < 1.0:
        # big text reads fine; shrink only very large characters, to save time
        factor = min(1.0, opts.target_char_height * 1.5 / height) if height > opts.target_char_height * opts.downscale_above else 1.0
    elif factor < 1.25:
        factor = 1.0  # close enough: a resample costs time and blurs
    factor = min(factor, opts.max_upscale)
    h, w = shape
    if h * w * factor * factor > opts.max_pixels:
        factor = max(min(factor, (opts.max_pixels / float(h * w)) ** 0.5), min(factor, 1.0))
    return round(factor, 3)


def resize(gray: np.ndarray, factor: float) -> np.ndarray:
    if factor == 1.0:
        return gray
    h, w = gray.shape
    size = (max(1, int(round(w * factor))), max(1, int(round(h * factor))))
    if cv2 is not None:
        return cv2.resize(gray, size, interpolation=cv2.INTER_CUBIC if factor > 1 else cv2.INTER_AREA)
    return np.asarray(Image.fromarray(gray).resize(size, Image.BICUBIC if factor > 1 else Image.LANCZOS))


def detect_orientation(gray: np.ndarray, timeout: Optional[float] = None, min_confidence: float = 2.0,
                       trust_confidence: float = 14.0, verify: bool = True) -> dict:
    """Which way up the page is: tesseract OSD, and a check of the lines' direction when OSD has no answer.

    OSD gives up on noisy or blurred scans ("Too few characters") even when
    the page is plainly sideways. When it gives no rotation with confidence,
    the projection profiles say whether the text lines run up the page
    (``lines_run_vertically``); if they do, the page is read as it is and a
    quarter turn either way, and a turn is taken only when its reading is
    clearly more confident (by ``SIDEWAYS_MARGIN``) than the page as it is:
    the profile test alone also fires on some upright photos of receipts
    lying on a dark table. Pages OSD is sure about never pay for this.
    """
    found = _osd_orientation(gray, timeout, min_confidence, trust_confidence, verify)
    if found["rotate"] or found.get("confidence", 0.0) >= min_confidence or not lines_run_vertically(gray):
        return found
    scores = {turn: read_confidence(rotate_right_angle(gray, turn), timeout) for turn in (0, 90, 270)}
    best = max((90, 270), key=lambda turn: scores[turn])
    verified = {str(turn): round(score, 3) for turn, score in scores.items()}
    if scores[best] < scores[0] + SIDEWAYS_MARGIN:
        return {**found, "verified": verified}
    return {"rotate": best, "confidence": found.get("confidence", 0.0),
            "reason": "OSD gave no answer; the text lines run vertically", "verified": verified}


SIDEWAYS_MARGIN = 0.15  # mean word confidence a quarter turn must gain over the page as it is


def lines_run_vertically(gray: np.ndarray, margin: float = 2.0) -> bool:
    """True when the text lines run up and down the page (a page scanned sideways).

    Text lines make the ink's row profile alternate sharply between lines and
    the gaps between them, while the column profile, summed across many lines,
    stays smooth. A page whose column profile is ``margin`` times sharper than
    its row profile is sideways. Checked on a copy at most 1000 pixels long,
    smoothed first so that speckle is not taken for ink.
    """
    h, w = gray.shape
    f = min(1.0, 1000.0 / max(h, w))
    small = gray
    if cv2 is not None:
        if f < 1:
            small = cv2.resize(gray, (max(1, int(w * f)), max(1, int(h * f))), interpolation=cv2.INTER_AREA)
        small = cv2.medianBlur(np.ascontiguousarray(small, dtype=np.uint8), 3)
    mask = _ink_mask(small).astype(np.float32)
    if mask.mean() < 0.002 or mask.mean() > 0.5:
        return False
    rows = mask.mean(axis=1)  # ink share per row: lines and gaps when the text is upright
    cols = mask.mean(axis=0)
    sharp_rows = float(np.mean(np.diff(rows) ** 2))
    sharp_cols = float(np.mean(np.diff(cols) ** 2))
    return sharp_cols > margin * sharp_rows


def _osd_orientation(gray: np.ndarray, timeout: Optional[float], min_confidence: float, trust_confidence: float,
                     verify: bool) -> dict:
    """Tesseract OSD: {"rotate": 0|90|180|270 (clockwise turn that makes the page upright), "confidence": ...}.

    OSD is a proposal, not a verdict: on faint thermal receipts it calls
    upright pages upside down with confidences up to ~3. So a rotation is
    taken outright only at ``trust_confidence`` or above (14, OCRmyPDF's
    default ``--rotate-pages-threshold``); between ``min_confidence`` and that,
    both readings are recognised and the one with the higher mean word
    confidence wins (costs a second tesseract pass, on such pages only).
    Sparse pages (OSD needs a few dozen characters) and a missing ``osd``
    traineddata give rotate 0 with a reason, never an error.
    """
    import pytesseract

    try:
        osd = pytesseract.image_to_osd(
            Image.fromarray(gray), config="--psm 0", output_type=pytesseract.Output.DICT, timeout=timeout or 0
        )
    except pytesseract.TesseractNotFoundError:
        return {"rotate": 0, "confidence": 0.0, "reason": "tesseract is not installed (apt-get install tesseract-ocr)"}
    except pytesseract.TesseractError as e:
        return {"rotate": 0, "confidence": 0.0, "reason": str(e.message or e).strip()[:120]}
    except RuntimeError as e:  # pytesseract's timeout
        return {"rotate": 0, "confidence": 0.0, "reason": str(e)}
    rotate = int(osd.get("rotate", 0)) % 360
    conf = float(osd.get("orientation_conf", 0.0))
    if not rotate:
        return {"rotate": 0, "confidence": conf}
    if conf < min_confidence:
        return {"rotate": 0, "confidence": conf, "reason": f"OSD said {rotate} with low confidence"}
    if conf >= trust_confidence or not verify:
        return {"rotate": rotate, "confidence": conf}
    as_is = read_confidence(gray, timeout)
    turned = read_confidence(rotate_right_angle(gray, rotate), timeout)
    found = {"rotate": rotate if turned > as_is else 0, "confidence": conf,
             "verified": {"0": round(as_is, 3), str(rotate): round(turned, 3)}}
    return found


def read_confidence(gray: np.ndarray, timeout: Optional[float] = None) -> float:
    """Tesseract's mean word confidence (0-1) over words of 3+ characters: how readable this orientation is."""
    import pytesseract

    try:
        data = pytesseract.image_to_data(Image.fromarray(gray), config="--psm 6", output_type=pytesseract.Output.DICT,
                                         timeout=timeout or 0)
    except (pytesseract.TesseractError, RuntimeError):
        return 0.0
    confs = [float(c) for c, t in zip(data["conf"], data["text"]) if float(c) >= 0 and len((t or "").strip()) >= 3]
    return sum(confs) / len(confs) / 100.0 if confs else 0.0


def rotate_right_angle(gray: np.ndarray, degrees_cw: int) -> np.ndarray:
    """Turn the image clockwise by a multiple of 90 degrees."""
    k = (degrees_cw // 90) % 4
    return np.ascontiguousarray(np.rot90(gray, -k)) if k else gray


def estimate_skew(gray: np.ndarray, max_angle: float = 6.0) -> float:
    """The small angle (degrees, counter-clockwise positive) the text lines are tilted by.

    Projection profiles: rotate the ink mask by candidate angles and keep the
    one whose row sums are most peaked (text lines then fall into rows). Coarse
    search at 0.5 degrees, then 0.1 around the best, on a copy at most 1000
    pixels wide. Returns 0.0 when there is too little ink to tell.
    """
    if cv2 is None:
        return 0.0
    h, w = gray.shape
    f = min(1.0, 1000.0 / max(h, w))
    small = cv2.resize(gray, (max(1, int(w * f)), max(1, int(h * f))), interpolation=cv2.INTER_AREA) if f < 1 else gray
    mask = _ink_mask(small).astype(np.float32)
    if mask.mean() < 0.002 or mask.mean() > 0.5:
        return 0.0
    sh, sw = mask.shape
    centre = (sw / 2.0, sh / 2.0)

    def score(angle):
        m = cv2.getRotationMatrix2D(centre, angle, 1.0)
        rot = cv2.warpAffine(mask, m, (sw, sh), flags=cv2.INTER_NEAREST, borderValue=0)
        rows = rot.sum(axis=1)
        return float(np.sum(np.diff(rows) ** 2))

    coarse = np.arange(-max_angle, max_angle + 1e-6, 0.5)
    scores = [score(a) for a in coarse]
    best = float(coarse[int(np.argmax(scores))])
    fine = np.arange(best - 0.4, best + 0.41, 0.1)
    fscores = [score(a) for a in fine]
    best = float(fine[int(np.argmax(fscores))])
    base = score(0.0)
    # only trust a clear improvement over "no skew"; a flat optimum means no lines to align
    if abs(best) < 0.3 or max(fscores) < base * 1.05:
        return 0.0
    # the rotation that aligns the lines is -skew
    return round(-best, 2)


def rotate_small(gray: np.ndarray, skew: float) -> np.ndarray:
    """Straighten by ``skew`` degrees, keeping the image size and filling corners with the background."""
    if not skew or cv2 is None:
        return gray
    h, w = gray.shape
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), -skew, 1.0)
    bg = int(np.percentile(gray, 90))
    return cv2.warpAffine(gray, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT, borderValue=bg)


def normalize_contrast(gray: np.ndarray) -> np.ndarray:
    """Stretch grey levels so the 1st percentile becomes black and the 99th white."""
    lo, hi = np.percentile(gray, (1, 99))
    if hi - lo < 8:  # blank or nearly so: nothing to stretch
        return gray
    if lo <= 5 and hi >= 250:
        return gray
    out = (gray.astype(np.float32) - lo) * (255.0 / (hi - lo))
    return np.clip(out, 0, 255).astype(np.uint8)


def remove_background(gray: np.ndarray, char_px: Optional[float] = None) -> np.ndarray:
    """Divide by a blurred copy (the paper's illumination) so shadows and tints go flat white."""
    if cv2 is None:
        return gray
    k = int(max(15, (char_px or 20) * 3)) | 1
    bg = cv2.medianBlur(cv2.dilate(gray, np.ones((3, 3), np.uint8)), min(k, 255))
    out = cv2.divide(gray, bg, scale=255)
    return out


def binarize(gray: np.ndarray, char_px: Optional[float] = None) -> np.ndarray:
    """Adaptive (local mean) threshold; the window is a few characters wide."""
    if cv2 is None:
        return np.where(_ink_mask(gray), 0, 255).astype(np.uint8)
    block = int(max(15, (char_px or 20) * 2)) | 1
    return cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, block, 15)


# --------------------------------------------------------------------------- pipeline


def prepare(
    image: Image.Image,
    opts: Optional[PreprocessOptions] = None,
    dpi: Optional[float] = None,
    osd: Optional[Callable[[np.ndarray], dict]] = None,
) -> Prepared:
    """Run the enabled steps on a page image. ``osd`` overrides orientation detection (tests, other engines)."""
    opts = opts or PreprocessOptions()
    steps: Dict[str, dict] = {}

    def timed(name, fn, *a):
        t = time.perf_counter()
        out = fn(*a)
        steps.setdefault(name, {})["seconds"] = round(time.perf_counter() - t, 4)
        return out

    gray = timed("gray", to_gray, image)
    if opts.remove_border:
        gray, painted = timed("remove_border", remove_border, gray)
        steps["remove_border"]["painted"] = painted

    chars = None
    scale = 1.0
    if opts.rescale or opts.binarize or opts.remove_background:
        chars = timed("measure", char_height, gray)
        steps["measure"]["char_height"] = None if chars is None else round(chars, 1)

    rotation = 0
    if opts.orientation:
        # OSD reads small text poorly: give it the page at a readable size (not kept)
        f = rescale_factor(chars, gray.shape, opts, dpi) if chars else 1.0
        probe = resize(gray, min(f, 2.0)) if f > 1 else gray
        found = timed("orientation", osd or (lambda g: detect_orientation(g, min_confidence=opts.osd_min_confidence, trust_confidence=opts.osd_trust_confidence)), probe)
        steps["orientation"].update(found)
        rotation = int(found.get("rotate", 0)) % 360
        gray = rotate_right_angle(gray, rotation)
        if rotation in (90, 270) and chars is not None:  # glyph heights measured sideways were widths
            chars = char_height(gray)
            steps["measure"]["char_height"] = None if chars is None else round(chars, 1)

    skew = 0.0
    if opts.deskew:
        skew = timed("deskew", estimate_skew, gray, opts.max_skew)
        steps["deskew"]["angle"] = skew
        gray = rotate_small(gray, skew)

    height, width = gray.shape
    upright = gray

    if opts.rescale:
        scale = rescale_factor(chars, gray.shape, opts, dpi)
        gray = timed("rescale", resize, gray, scale)
        steps["rescale"]["factor"] = scale

    if opts.remove_background:
        gray = timed("remove_background", remove_background, gray, chars * scale if chars else None)
    if opts.normalize_contrast:
        gray = timed("normalize_contrast", normalize_contrast, gray)
    if opts.binarize:
        gray = timed("binarize", binarize, gray, chars * scale if chars else None)

    return Prepared(
        image=Image.fromarray(gray),
        scale=scale,
        rotation=rotation,
        skew=skew,
        width=width,
        height=height,
        steps=steps,
        upright=Image.fromarray(upright),
    )


def options_from(value, base: Optional[PreprocessOptions] = None) -> Optional[PreprocessOptions]:
    """``preprocess=`` as engines accept it: True (the engine's defaults, ``base``), False/None (off),
    a dict of changes to ``base``, or PreprocessOptions."""
    base = base or PreprocessOptions()
    if value is True:
        return base
    if value is False or value is None:
        return None
    if isinstance(value, PreprocessOptions):
        return value
    if isinstance(value, dict):
        from paperbeam.errors import ConfigError

        names = {f.name for f in dataclasses.fields(PreprocessOptions)}
        unknown = sorted(set(value) - names)
        if unknown:
            raise ConfigError(f"Unknown preprocessing option(s) {', '.join(unknown)}. Known: {', '.join(sorted(names))}.")
        return base.replace(**value)
    from paperbeam.errors import ConfigError

    raise ConfigError(f"preprocess must be true, false, a dict of options or PreprocessOptions, not {value!r}.")
