"""Scan and photo simulation: a born-digital PDF becomes images that look scanned.

Pages are rendered with pypdfium2 at 150-300 dpi in grey, then degraded with
numpy / OpenCV: paper tone and uneven lighting, a skew of a few degrees (or a
phone photo's perspective on a darker background), sometimes a 90/180/270
degree turn, blur, sensor noise and JPEG artefacts. Every geometric step is a
matrix, and the same matrices move the field boxes, so the ground truth boxes
are where the values are on the saved image.

All randomness comes from the ``random.Random`` passed in (numpy's generator
is seeded from it), so the output is a function of the seed.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np

BBox = Tuple[float, float, float, float]


@dataclass
class ScanParams:
    dpi: int
    skew: float  # degrees, counter-clockwise
    turns: int  # quarter turns counter-clockwise (np.rot90's k)
    photo: bool  # perspective + background, as a phone photo of a receipt
    blur: float  # Gaussian sigma in pixels (0: none)
    noise: float  # standard deviation in grey levels
    paper: int  # paper grey level (255 = white)
    jpeg_quality: int  # recompression for artefacts (0: none)
    bilevel: bool  # thresholded to black and white, as a fax or a cheap scanner


def pick_params(rng: random.Random, dpi_range: Sequence[int] = (150, 200, 200, 300), photo: bool = False,
                bilevel_ok: bool = False) -> ScanParams:
    turns = rng.choices([0, 1, 2, 3], [0.82, 0.06, 0.07, 0.05])[0]
    return ScanParams(
        dpi=rng.choice(list(dpi_range)),
        skew=0.0 if rng.random() < 0.15 else round(rng.uniform(-3.0, 3.0), 2),
        turns=0 if photo else turns,
        photo=photo,
        blur=rng.choice([0.0, 0.0, 0.6, 0.9, 1.2]),
        noise=rng.choice([2.0, 4.0, 6.0, 9.0]),
        paper=rng.randint(228, 250),
        jpeg_quality=rng.choice([0, 0, 45, 60, 80]),
        bilevel=bilevel_ok and rng.random() < 0.6,
    )


def render_pages(pdf_bytes: bytes, dpi: int) -> List[np.ndarray]:
    """Each page as a grey uint8 array."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(pdf_bytes)
    try:
        out = []
        for i in range(len(pdf)):
            page = pdf[i]
            bitmap = page.render(scale=dpi / 72.0, grayscale=True)
            arr = np.array(bitmap.to_pil().convert("L"))
            out.append(arr)
            page.close()
        return out
    finally:
        pdf.close()


def _transform_box(box: BBox, m: np.ndarray) -> BBox:
    pts = np.array([[box[0], box[1]], [box[2], box[1]], [box[2], box[3]], [box[0], box[3]]], dtype=np.float64)
    homo = np.hstack([pts, np.ones((4, 1))]) @ m.T
    xy = homo[:, :2] / homo[:, 2:3]
    return float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()), float(xy[:, 1].max())


def _turn_box(box: BBox, width: int, height: int, turns: int) -> BBox:
    """Where a box goes when the image turns ``turns`` quarter turns counter-clockwise (np.rot90)."""
    x0, y0, x1, y1 = box
    for _ in range(turns % 4):
        # (x, y) -> (y, W - x); the new image is H wide and W high.
        x0, y0, x1, y1 = y0, width - x1, y1, width - x0
        width, height = height, width
    return x0, y0, x1, y1


def degrade_page(arr: np.ndarray, boxes: List[BBox], p: ScanParams, rng: random.Random) -> Tuple[np.ndarray, List[BBox]]:
    """Degrade one page; ``boxes`` in pixels of ``arr``; returns the image and the moved boxes."""
    import cv2

    cv2.setNumThreads(1)
    nrng = np.random.default_rng(rng.getrandbits(64))
    h, w = arr.shape
    img = arr.astype(np.float32) * (p.paper / 255.0)
    # Uneven lighting: a gentle gradient across the page.
    gx, gy = rng.uniform(-0.06, 0.06), rng.uniform(-0.06, 0.06)
    ramp = 1.0 + gx * np.linspace(-1, 1, w, dtype=np.float32)[None, :] + gy * np.linspace(-1, 1, h, dtype=np.float32)[:, None]
    img *= ramp

    if p.photo:
        pad = int(0.12 * max(w, h))
        out_w, out_h = w + 2 * pad, h + 2 * pad
        src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        jit = lambda: rng.uniform(-0.04, 0.04) * w  # noqa: E731
        dst = np.float32([[pad + jit(), pad + jit()], [pad + w + jit(), pad + jit()],
                          [pad + w + jit(), pad + h + jit()], [pad + jit(), pad + h + jit()]])
        m = cv2.getPerspectiveTransform(src, dst).astype(np.float64)
        angle = rng.uniform(-4, 4)
        r = np.vstack([cv2.getRotationMatrix2D((out_w / 2, out_h / 2), angle, 1.0), [0, 0, 1]])
        m = r @ m
        background = float(rng.randint(60, 140))
        img = cv2.warpPerspective(img, m, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                  borderValue=background)
        img += nrng.normal(0, 6, size=img.shape).astype(np.float32) * (img < background + 1)
    else:
        m = np.vstack([cv2.getRotationMatrix2D((w / 2, h / 2), p.skew, 1.0), [0, 0, 1]])
        if p.skew:
            img = cv2.warpAffine(img, m[:2], (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                 borderValue=float(p.paper))
    boxes = [_transform_box(b, m) for b in boxes]

    if p.blur:
        img = cv2.GaussianBlur(img, (0, 0), p.blur)
    img += nrng.normal(0, p.noise, size=img.shape).astype(np.float32)
    img = np.clip(img, 0, 255).astype(np.uint8)
    if p.bilevel:
        img = np.where(img > 150, 255, 0).astype(np.uint8)
    elif p.jpeg_quality:
        ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, p.jpeg_quality])
        img = cv2.imdecode(enc, cv2.IMREAD_GRAYSCALE)

    hh, ww = img.shape
    if p.turns:
        boxes = [_turn_box(b, ww, hh, p.turns) for b in boxes]
        img = np.ascontiguousarray(np.rot90(img, p.turns))
    hh, ww = img.shape
    boxes = [(max(0.0, b[0]), max(0.0, b[1]), min(float(ww), b[2]), min(float(hh), b[3])) for b in boxes]
    return img, boxes


# --- writers: deterministic bytes (no timestamps) --------------------------------------------
def to_pil(arr: np.ndarray, bilevel: bool = False):
    from PIL import Image

    im = Image.fromarray(arr)
    return im.convert("1") if bilevel else im


def write_pdf(images, dpi: int, quality: int = 75) -> bytes:
    """An image-only PDF (JPEG or CCITT G4 inside), one page per image."""
    buf = io.BytesIO()
    first, rest = images[0], images[1:]
    first.save(buf, "PDF", save_all=True, append_images=rest, resolution=float(dpi), quality=quality,
               creationDate=None, modDate=None, title=None)
    return buf.getvalue()


def write_tiff(images, dpi: int, quality: int = 75) -> bytes:
    buf = io.BytesIO()
    first, rest = images[0], images[1:]
    # Not JPEG-in-TIFF: libtiff's JPEG codec leaves a byte of uninitialised padding in multi-page
    # files, so the bytes would differ from run to run. Deflate is lossless and deterministic.
    compression = "group4" if first.mode == "1" else "tiff_adobe_deflate"
    first.save(buf, "TIFF", save_all=True, append_images=rest, compression=compression, dpi=(dpi, dpi))
    return _zero_tiff_padding(buf.getvalue())


def _zero_tiff_padding(data: bytes) -> bytes:
    """Zero the word-alignment byte Pillow leaves uninitialised after an odd-length strip.

    Pillow's multi-page TIFF writer pads each frame's image data to an even offset without
    writing the pad byte, so it holds whatever was in memory and the file's bytes change from
    run to run although the pixels do not. Found by the determinism test.
    """
    import struct

    from PIL import Image

    endian = "<" if data[:2] == b"II" else ">"
    ifds, pos = set(), struct.unpack(endian + "I", data[4:8])[0]
    while pos and pos not in ifds and pos + 2 <= len(data):
        ifds.add(pos)
        count = struct.unpack(endian + "H", data[pos:pos + 2])[0]
        pos = struct.unpack(endian + "I", data[pos + 2 + 12 * count:pos + 6 + 12 * count])[0]
    starts, ends = set(ifds), []
    with Image.open(io.BytesIO(data)) as im:
        for k in range(getattr(im, "n_frames", 1)):
            im.seek(k)
            offsets, counts = im.tag_v2.get(273, ()), im.tag_v2.get(279, ())
            starts.update(offsets)
            if offsets:
                ends.append(max(o + c for o, c in zip(offsets, counts)))
    out = bytearray(data)
    for end in ends:
        if end % 2 == 1 and end + 1 in starts:
            out[end] = 0
    return bytes(out)


def write_png(image, dpi: int) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG", dpi=(dpi, dpi), optimize=False, compress_level=6)
    return buf.getvalue()


def write_jpeg(image, dpi: int, quality: int = 75) -> bytes:
    buf = io.BytesIO()
    image.convert("L").save(buf, "JPEG", quality=quality, dpi=(dpi, dpi))
    return buf.getvalue()
