"""The review report in a real browser: headless Chromium (Debian's
``chromium``; CI installs it with apt) opens the report from the file system.

Checks that the field boxes are drawn where the fields are on the page image
(DOM geometry through the Chrome DevTools protocol, and the ink in a
screenshot), that hovering shows value and confidence, that corrections export
truth that ``paperbeam evaluate``/``train`` read, and that hostile document
text shows literally and runs nothing. Screenshots go to pytest's tmp_path.

The DevTools client below needs only ``websocket-client``; no browser is
downloaded: Chromium picks a free debugging port and writes it to
``DevToolsActivePort`` in its new, empty profile directory.
"""

from __future__ import annotations



import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from typing import Any, Dict, List, Optional

import pytest

import fixtures as F
from paperbeam.models import evaluate as ev
from paperbeam.records import DeadLetter
from paperbeam.review import render as R
from test_review import HOSTILE, pdf_record

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio", "--remote-debugging-port=0",
    "--force-device-scale-factor=1", "--window-size=1400,1000",
)


def find_chromium() -> Optional[str]:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


class CdpError(RuntimeError):
    pass


class Browser:
    def __init__(self, binary: str, timeout: float = 20.0):
        import websocket  # websocket-client

        self.profile = tempfile.mkdtemp(prefix="pb-chromium-")
        self.proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.time() + timeout
        port = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise CdpError(f"chromium exited with code {self.proc.returncode}")
            try:
                with open(port_file, encoding="utf-8") as fh:
                    port = int(fh.readline().strip())
                break
            except (OSError, ValueError):
                time.sleep(0.1)
        if port is None:
            self.close()
            raise CdpError("chromium did not open its debugging port")
        targets: List[Dict[str, Any]] = []
        while time.time() < deadline and not targets:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as resp:
                targets = [t for t in json.load(resp) if t.get("type") == "page"]
            if not targets:
                time.sleep(0.1)
        self.ws = websocket.create_connection(targets[0]["webSocketDebuggerUrl"], timeout=timeout, suppress_origin=True)
        self._id = 0
        self.events: List[Dict[str, Any]] = []
        self.timeout = timeout
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")

    def send(self, method: str, **params) -> Dict[str, Any]:
        self._id += 1
        msg_id = self._id
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise CdpError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_event(self, method: str, timeout: Optional[float] = None) -> Dict[str, Any]:
        deadline = time.time() + (timeout or self.timeout)
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        while time.time() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("method") == method:
                return msg
            self.events.append(msg)
        raise CdpError(f"no {method} event")

    def open(self, url: str, width: int = 1400, height: int = 1000) -> None:
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        self.events.clear()
        self.send("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired")
        deadline = time.time() + self.timeout
        while self.eval("document.documentElement.getAttribute('data-ready')") != "1":
            if time.time() > deadline:
                raise CdpError("the page never became ready (its script did not run?)")
            time.sleep(0.05)
        self.eval("document.fonts ? document.fonts.ready.then(function(){return 1}) : 1", await_promise=True)

    def eval(self, expression: str, await_promise: bool = False) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=await_promise)
        if "exceptionDetails" in result:
            raise CdpError(f"{expression[:60]}: {result['exceptionDetails'].get('text')} "
                           f"{result['exceptionDetails'].get('exception', {}).get('description', '')}")
        return result.get("result", {}).get("value")

    def screenshot(self, path: str, full_page: bool = False) -> str:
        params: Dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
        data = self.send("Page.captureScreenshot", **params)["data"]
        with open(path, "wb") as fh:
            fh.write(base64.b64decode(data))
        return path

    def problems(self) -> List[str]:
        """Script errors and console/log errors (CSP violations among them) seen so far."""
        out = []
        for event in self.events:
            m = event.get("method")
            p = event.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.append("exception: " + str(p.get("exceptionDetails", {}).get("text")))
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append("log: " + str(p["entry"].get("text")))
            elif m == "Runtime.consoleAPICalled" and p.get("type") == "error":
                out.append("console: " + " ".join(str(a.get("value")) for a in p.get("args", [])))
        return out

    def close(self) -> None:
        try:
            if getattr(self, "ws", None) is not None:
                self.ws.close()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


# --------------------------------------------------------------------------
# The tests

pytestmark = pytest.mark.slow

HOSTILE_NAME = '"><img src=x onerror="window.__pwned=4"><script>window.__pwned=5.pdf'
DARK = 110  # a screenshot pixel with every channel below this is ink


@pytest.fixture(scope="module")
def browser():
    binary = find_chromium()
    if binary is None:
        pytest.skip("chromium is not installed (apt-get install chromium; scripts/setup.sh test does it)")
    pytest.importorskip("websocket", reason="pip install websocket-client (in the test extra)")
    b = Browser(binary)
    yield b
    b.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    base = tmp_path_factory.mktemp("review")
    src = base / "in"
    src.mkdir()
    good = F.make_invoice_pdf(src)
    bad = F.draw_pdf(F.INVOICE, src / HOSTILE_NAME)
    records = [pdf_record(good), pdf_record(bad, hostile=True)]
    dead = DeadLetter(source_uri=str(src / '<img src=x onerror="window.__pwned=6">.pdf'), stage="read",
                      error="CorruptDocument", message='The PDF cannot be parsed (<script>window.__pwned=7</script>).')
    out = base / "report"
    R.render_report(R.RunData(records, [dead], source=str(src)), str(out), dpi=100)
    pages = [out / f"doc-{slug}.html" for slug in R._slugs(records)]
    return out, records, pages


def _center(box):
    c = box["client"]
    return (c["left"] + c["right"]) / 2, (c["top"] + c["bottom"]) / 2


def _mouse(browser, kind, x, y, **extra):
    browser.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, **extra)


def test_field_boxes_are_drawn_where_the_fields_are(browser, report, tmp_path):
    from PIL import Image

    out, records, pages = report
    browser.open(pages[0].as_uri())
    assert browser.problems() == []
    # scroll the total to the middle of the window, then measure the drawn box against the image
    browser.eval("document.querySelector('rect[data-field=total_amount]').scrollIntoView({block: 'center'})")
    boxes = {b["field"]: b for b in browser.eval("paperbeamReview.fieldBoxes()")}
    assert set(boxes) == {"total_amount", "vendor_name"}  # currency has no box: listed, not drawn
    total = boxes["total_amount"]

    # 1. Geometry: where reportlab drew the total, as a share of the page (the record's box came from
    #    pdfplumber, so this is an independent measure), against the drawn box as a share of the image.
    (x0, y0, x1, y1) = next(box for word, box in F.word_boxes(F.INVOICE) if word == F.TOTAL)
    width, height = F.A4
    assert total["x0"] == pytest.approx(x0 / width, abs=0.004)
    assert total["x1"] == pytest.approx(x1 / width, abs=0.004)
    assert total["y0"] == pytest.approx(y0 / height, abs=0.004)
    assert total["y1"] == pytest.approx(y1 / height, abs=0.004)
    assert total["image"]["width"] > 500  # the page is shown at a readable size

    # 2. Pixels: in a screenshot, the ink of the total is inside the drawn box.
    shot = browser.screenshot(str(tmp_path / "review-document.png"))
    img = Image.open(shot).convert("RGB")
    c = total["client"]
    left, top, right, bottom = (int(round(v)) for v in (c["left"], c["top"], c["right"], c["bottom"]))
    img_left = int(total["image"]["left"]) + 2
    img_right = int(total["image"]["left"] + total["image"]["width"]) - 2

    def ink(x0, y0, x1, y1):
        return [(x, y) for y in range(max(y0, 0), min(y1, img.height)) for x in range(max(x0, 0), min(x1, img.width))
                if max(img.getpixel((x, y))) < DARK]

    inside = ink(left + 2, top + 2, right - 2, bottom - 2)
    assert len(inside) > 40, "the total's glyphs are inside its box"
    band = ink(img_left, top - 3, img_right, bottom + 3)  # the whole text line, across the page image
    assert max(x for x, _ in band) == pytest.approx(right, abs=4), "the right-aligned total ends where its box ends"
    assert min(y for _, y in inside) >= top - 1 and max(y for _, y in inside) <= bottom + 1
    assert ink(left, top - 7, right, top - 3) == [], "no ink just above the box (the line above is further up)"
    assert ink(right + 3, top, min(right + 30, img_right), bottom) == [], "nothing right of the total"
    assert max(img.getpixel((left, (top + bottom) // 2))) > 150, "the box edge is drawn in the field's colour"

    # 3. Hover: the value and the confidence show.
    x, y = _center(total)
    _mouse(browser, "mouseMoved", x, y)
    tip = browser.eval("(function(){var t=document.getElementById('tip');return t.hidden?null:t.textContent})()")
    assert tip is not None and "total_amount" in tip and "1,234.56" in tip and "0.93" in tip
    browser.screenshot(str(tmp_path / "review-document-hover.png"))
    print("screenshots:", tmp_path)


def test_words_can_be_shown(browser, report):
    out, records, pages = report
    browser.open(pages[0].as_uri())
    visible = "document.querySelectorAll('svg.overlay g.words rect.word').length && getComputedStyle(document.querySelector('g.words')).display !== 'none'"
    assert browser.eval(visible) is False
    browser.eval("document.getElementById('show-words').click()")
    assert browser.eval(visible) is True
    assert browser.eval("document.querySelectorAll('rect.word').length") == len(records[0].pages[0].words)


def test_corrections_export_ground_truth(browser, report, tmp_path):
    out, records, pages = report
    browser.open(pages[0].as_uri())
    browser.eval("localStorage.clear()")
    browser.open(pages[0].as_uri())
    # type a corrected total into its form
    row = "document.querySelector('tr[data-field=total_amount]')"
    for cls, text in (("c-value", "1,234.57"), ("c-norm", "1234.57")):
        browser.eval(f"{row}.querySelector('.{cls}').select()")
        browser.eval(f"{row}.querySelector('.{cls}').focus()")
        browser.send("Input.insertText", text=text)
    # the due date was not found: type it and draw its box around the printed date with the mouse
    due_row = "document.querySelector('tr[data-field=due_date]')"
    browser.eval(f"{due_row}.querySelector('.c-value').focus()")
    browser.send("Input.insertText", text=F.DUE_DATE)
    browser.eval(f"{due_row}.querySelector('.c-norm').focus()")
    browser.send("Input.insertText", text="2018-11-18")
    (dx0, dy0, dx1, dy1) = next(box for word, box in F.word_boxes(F.INVOICE) if word == F.DUE_DATE)
    browser.eval(f"{due_row}.querySelector('.c-draw').click()")
    browser.eval("document.querySelector('svg.overlay').scrollIntoView({block: 'start'})")
    ir = browser.eval("(function(){var r=document.querySelector('.sheet img').getBoundingClientRect();"
                      "return {left:r.left, top:r.top, width:r.width, height:r.height}})()")
    sx, sy = ir["width"] / F.A4[0], ir["height"] / F.A4[1]
    start = (ir["left"] + dx0 * sx, ir["top"] + dy0 * sy)
    end = (ir["left"] + dx1 * sx, ir["top"] + dy1 * sy)
    _mouse(browser, "mouseMoved", *start)
    _mouse(browser, "mousePressed", *start, button="left", clickCount=1)
    _mouse(browser, "mouseMoved", *end, button="left", buttons=1)
    _mouse(browser, "mouseReleased", *end, button="left", clickCount=1)
    # mark the tax as not on the document
    browser.eval("document.querySelector('tr[data-field=tax_amount] .c-absent').click()")

    # export through the button, as a person would: the browser downloads <stem>.json
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.send("Page.setDownloadBehavior", behavior="allow", downloadPath=str(downloads))
    browser.eval("document.getElementById('export').click()")
    target = downloads / "invoice.json"
    deadline = time.time() + 10
    while not target.exists() and time.time() < deadline:
        time.sleep(0.1)
    assert target.exists(), os.listdir(downloads)
    truth = json.loads(target.read_text(encoding="utf-8"))
    assert browser.problems() == []

    assert truth["document"] == "invoice.pdf" and truth["schema_version"] == "1.0"
    assert truth["fields"]["total_amount"]["value"] == "1,234.57"
    assert truth["fields"]["total_amount"]["normalized"] == "1234.57"
    assert truth["fields"]["total_amount"]["bbox"] == pytest.approx(list(records[0].fields["total_amount"].bbox), abs=0.01)
    assert truth["fields"]["tax_amount"] is None
    due = truth["fields"]["due_date"]
    assert due["value"] == F.DUE_DATE and due["page"] == 1
    assert due["bbox"] == pytest.approx([dx0, dy0, dx1, dy1], abs=1.5)  # points, within a screen pixel or so
    assert truth["fields"]["vendor_name"]["value"] == F.VENDOR  # untouched fields are exported as extracted
    assert truth["origin"]["corrected"] == ["due_date", "tax_amount", "total_amount"]

    # it is ground truth that `paperbeam evaluate` (and `paperbeam train`) read from DIR/truth/<stem>.json
    (tmp_path / "gt" / "truth").mkdir(parents=True)
    (tmp_path / "gt" / "truth" / "invoice.json").write_text(target.read_text(encoding="utf-8"), encoding="utf-8")
    gt = ev.load_truth(str(tmp_path / "gt"))
    assert gt.format == "paperbeam"
    assert gt.documents["invoice"]["total_amount"] == "1234.57"
    assert gt.documents["invoice"]["due_date"] == "2018-11-18"
    assert gt.documents["invoice"]["tax_amount"] is None

    # edits survive a reload (kept in the browser) until reset
    browser.open(pages[0].as_uri())
    assert browser.eval(f"{row}.querySelector('.c-value').value") == "1,234.57"
    browser.eval("localStorage.clear()")


def test_hostile_text_shows_literally_and_runs_nothing(browser, report, tmp_path):
    out, records, pages = report
    for url in (pages[1].as_uri(), (out / "index.html").as_uri()):
        browser.open(url)
        assert browser.eval("typeof window.__pwned") == "undefined"
        assert browser.eval("document.querySelectorAll('img[onerror], iframe, script:not([src]):not([type])').length") == 0
        assert not [e for e in browser.events if e.get("method") == "Page.javascriptDialogOpening"]
        assert browser.problems() == []
    # index: the file name and the value are there as text
    assert HOSTILE_NAME in browser.eval("Array.from(document.querySelectorAll('#docs a')).map(function(a){return a.textContent})")
    assert HOSTILE in browser.eval("Array.from(document.querySelectorAll('#docs td .v')).map(function(e){return e.textContent})")
    assert "<script>window.__pwned=7</script>" in browser.eval("document.querySelector('section.dead').textContent")
    # filtering and sorting the documents table
    browser.eval("var f=document.getElementById('filter'); f.value='ACME'; f.dispatchEvent(new Event('input'))")
    assert browser.eval("document.getElementById('shown').textContent") == "1 of 2 shown"
    browser.screenshot(str(tmp_path / "review-index.png"))
    # document page: title and field value shown literally, hover text too
    browser.open(pages[1].as_uri())
    assert browser.eval("document.querySelector('header h1').textContent") == HOSTILE_NAME
    assert browser.eval("document.querySelector('tr[data-field=vendor_name] .extracted .v').textContent") == HOSTILE
    box = next(b for b in browser.eval("paperbeamReview.fieldBoxes()") if b["field"] == "vendor_name")
    _mouse(browser, "mouseMoved", *_center(box))
    assert HOSTILE in browser.eval("document.getElementById('tip').textContent")
    assert browser.eval("typeof window.__pwned") == "undefined"
    browser.screenshot(str(tmp_path / "review-hostile.png"))
