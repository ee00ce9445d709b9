"""A thin layer over a reportlab canvas that remembers what it drew and where.

Layouts place text in top-left coordinates (points, y grows downwards, ``y``
is the baseline). Every string is recorded for the page text of the ground
truth, and a string (or a span of it) can be tagged as a field, whose box is
then measured from the font metrics: exactly where the glyphs are.

A painter without a canvas draws nothing and only measures: layouts run once
"dry" to learn the page count (for "Page 1 of 3") and a receipt's length.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from reportlab.pdfbase.pdfmetrics import getAscentDescent, stringWidth

BBox = Tuple[float, float, float, float]


class Painter:
    def __init__(self, canvas, width: float, height: float, page_count: int = 1):
        self.canvas = canvas
        self.width = width
        self.height = height
        self.page = 1
        self.page_count = page_count
        self.max_y = 0.0
        self._lines: Dict[int, List[Tuple[float, float, str]]] = {1: []}
        self.fields: Dict[str, dict] = {}

    # --- drawing ------------------------------------------------------------------------------
    def text(self, x: float, y: float, s: str, font: str, size: float, align: str = "left",
             field: Optional[str] = None, span: Optional[Tuple[int, int]] = None,
             gray: float = 0.0, also: Tuple[Tuple[str, Tuple[int, int]], ...] = ()) -> float:
        """Draw ``s`` with its baseline at ``y``; returns its width. ``align``: left, right, centre.

        ``field`` tags ``s[span]`` (all of ``s`` by default) as that field; ``also`` tags more
        spans of the same string, e.g. the currency symbol inside the total.
        """
        if not s:
            return 0.0
        w = stringWidth(s, font, size)
        x0 = x - w if align == "right" else x - w / 2 if align == "centre" else x
        if self.canvas is not None:
            c = self.canvas
            c.setFillGray(gray)
            c.setFont(font, size)
            c.drawString(x0, self.height - y, s)
        self._lines.setdefault(self.page, []).append((y, x0, s))
        _, descent = getAscentDescent(font, size)
        self.max_y = max(self.max_y, y - descent)
        tags = ((field, span or (0, len(s))),) if field else ()
        for name, (a, b) in tags + tuple(also):
            while a < b and s[a] == " ":
                a += 1
            while b > a and s[b - 1] == " ":
                b -= 1
            fx0 = x0 + stringWidth(s[:a], font, size)
            fx1 = fx0 + stringWidth(s[a:b], font, size)
            # The em box PDF text readers use (pdfminer/pdfplumber): from the descent line up by the
            # font size, so the truth box matches the word boxes a text layer gives.
            self.mark(name, s[a:b], (fx0, y - descent - size, fx1, y - descent))
        return w

    def mark(self, name: str, value: str, bbox: BBox) -> None:
        """Tag a value as a field; a second piece on the same page extends it (a multi-line address)."""
        old = self.fields.get(name)
        if old is None or old["page"] != self.page:
            if old is not None:
                return  # a field is recorded where it is first printed
            self.fields[name] = {"value": value, "page": self.page, "bbox": list(bbox)}
            return
        old["value"] = f"{old['value']} {value}"
        ob = old["bbox"]
        old["bbox"] = [min(ob[0], bbox[0]), min(ob[1], bbox[1]), max(ob[2], bbox[2]), max(ob[3], bbox[3])]

    def line(self, x0: float, y0: float, x1: float, y1: float, width: float = 0.5, gray: float = 0.0) -> None:
        if self.canvas is not None:
            self.canvas.setStrokeGray(gray)
            self.canvas.setLineWidth(width)
            self.canvas.line(x0, self.height - y0, x1, self.height - y1)

    def rect(self, x: float, y: float, w: float, h: float, fill_gray: Optional[float] = None,
             stroke: bool = False, fill_rgb: Optional[Tuple[float, float, float]] = None) -> None:
        if self.canvas is not None:
            c = self.canvas
            if fill_rgb is not None:
                c.setFillColorRGB(*fill_rgb)
            elif fill_gray is not None:
                c.setFillGray(fill_gray)
            c.setStrokeGray(0.3)
            c.rect(x, self.height - y - h, w, h, stroke=int(stroke), fill=int(fill_rgb is not None or fill_gray is not None))
            c.setFillGray(0)

    def new_page(self) -> None:
        if self.canvas is not None:
            self.canvas.showPage()
        self.page += 1
        self._lines.setdefault(self.page, [])

    # --- what was drawn -----------------------------------------------------------------------
    def page_texts(self) -> List[str]:
        """Each page's text: one line per baseline, strings left to right."""
        out = []
        for page in range(1, self.page + 1):
            rows: Dict[float, List[Tuple[float, str]]] = {}
            for y, x0, s in self._lines.get(page, []):
                key = next((k for k in rows if abs(k - y) < 1.0), y)
                rows.setdefault(key, []).append((x0, s))
            lines = [" ".join(s for _, s in sorted(parts)) for _, parts in sorted(rows.items())]
            out.append("\n".join(lines))
        return out
