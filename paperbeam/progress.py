"""Progress of a run on the direct runner: documents and pages done, pages/s, time left.

Beam's FnApiRunner reports nothing until the pipeline has finished, and its
workers are separate processes. So progress travels through the file system:

* on a worker, ``ProgressChannel`` (opened in the page-reading DoFn's
  ``setup``) appends one JSON line per page read to its own file in a
  per-run directory named by the ``PAPERBEAM_PROGRESS_DIR`` environment
  variable, which the worker processes inherit from the driver;
* in the driver, ``ProgressReporter`` makes that directory, polls it from a
  thread, and shows a bar on a terminal, JSON lines for machines
  (``--log-format json``), or nothing (not a terminal, ``--no-progress``).
  It also keeps a timeline (seconds, pages, documents) that goes into
  ``summary.json`` and the review report's pages/s plot.

When the variable is not set (tests, remote runners) the channel does nothing.
A bundle that Beam retries reports its pages twice; pages are counted once
per (document, page).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from typing import Callable, Dict, List, Optional, Set, TextIO, Tuple

ENV = "PAPERBEAM_PROGRESS_DIR"

MODES = ("auto", "bar", "json", "off")


# --------------------------------------------------------------------------
# Worker side


class ProgressChannel:
    """Where a worker reports pages it has read. A no-op when no run is listening."""

    def __init__(self, directory: Optional[str] = None):
        self.directory = directory if directory is not None else os.environ.get(ENV)
        self._fd: Optional[int] = None

    @property
    def active(self) -> bool:
        return bool(self.directory) and os.path.isdir(self.directory)

    def page_done(self, doc_id: str, page: int, page_count: int, source: str = "", seconds: float = 0.0,
                  failed: bool = False) -> None:
        if not self.directory:
            return
        line = json.dumps(
            {"doc": doc_id, "page": page, "pages": page_count, "source": source, "s": round(seconds, 3),
             "failed": failed, "t": time.time()},
            separators=(",", ":"),
        ) + "\n"
        try:
            if self._fd is None:
                name = f"{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
                self._fd = os.open(os.path.join(self.directory, name), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.write(self._fd, line.encode("utf-8"))  # one write per line: readers never see half a line from us
        except OSError:
            self.directory = None  # the run has gone (its directory was removed): stop reporting

    def close(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None


# --------------------------------------------------------------------------
# Driver side


def format_seconds(seconds: Optional[float]) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def render_bar(snap: Dict[str, object], width: int = 80) -> str:
    """One line: ``[#####.....] 12/40 docs  87 pages  3.1 pages/s  left 0:42``."""
    total = snap.get("documents_total") or 0
    done = snap.get("documents_done") or 0
    share = min(1.0, done / total) if total else 0.0
    tail = (
        f" {done}/{total} docs  {snap.get('pages_done', 0)} pages"
        f"  {snap.get('pages_per_second', 0.0):.1f} pages/s  left {format_seconds(snap.get('eta_seconds'))}"
    )
    bar_width = max(10, min(40, width - len(tail) - 3))
    filled = int(round(share * bar_width))
    return f"[{'#' * filled}{'.' * (bar_width - filled)}]{tail}"[: max(width - 1, 20)]


class ProgressState:
    """Counts built from page reports; plain and testable without threads or files."""

    def __init__(self, documents_total: int, clock: Callable[[], float] = time.monotonic):
        self.documents_total = documents_total
        self.clock = clock
        self.started = clock()
        self.pages_seen: Set[Tuple[str, int]] = set()
        self.page_counts: Dict[str, int] = {}
        self.pages_by_doc: Dict[str, int] = {}
        self.pages_failed = 0
        self.timeline: List[List[float]] = [[0.0, 0, 0]]

    def add(self, event: Dict[str, object]) -> None:
        key = (str(event.get("doc")), int(event.get("page") or 0))
        if key in self.pages_seen:
            return
        self.pages_seen.add(key)
        self.page_counts[key[0]] = int(event.get("pages") or 1)
        self.pages_by_doc[key[0]] = self.pages_by_doc.get(key[0], 0) + 1
        if event.get("failed"):
            self.pages_failed += 1

    @property
    def pages_done(self) -> int:
        return len(self.pages_seen)

    @property
    def documents_done(self) -> int:
        return sum(1 for doc, n in self.pages_by_doc.items() if n >= self.page_counts.get(doc, 1))

    def snapshot(self) -> Dict[str, object]:
        elapsed = max(self.clock() - self.started, 1e-9)
        pages = self.pages_done
        docs = self.documents_done
        # Documents seen so far tell the pages per document; unseen ones are assumed alike.
        seen_docs = len(self.page_counts)
        known_pages = sum(self.page_counts.values())
        unseen = max(self.documents_total - seen_docs, 0)
        pages_total = known_pages + (unseen * known_pages / seen_docs if seen_docs else 0)
        rate = self._recent_rate(elapsed)
        eta = (pages_total - pages) / rate if rate > 0 and seen_docs else None
        return {
            "elapsed_seconds": round(elapsed, 1),
            "documents_done": docs,
            "documents_total": self.documents_total,
            "pages_done": pages,
            "pages_failed": self.pages_failed,
            "pages_total_estimate": int(round(pages_total)),
            "pages_per_second": round(rate, 3),
            "eta_seconds": None if eta is None else round(max(eta, 0.0), 1),
        }

    def _recent_rate(self, elapsed: float, window: float = 30.0) -> float:
        """Pages/s over the last ``window`` seconds of the timeline (the whole run while it is shorter)."""
        pages = self.pages_done
        past = [p for p in self.timeline if p[0] <= elapsed - window]
        if past:
            t0, p0 = past[-1][0], past[-1][1]
            return (pages - p0) / max(elapsed - t0, 1e-9)
        return pages / elapsed

    def sample(self) -> None:
        elapsed = round(self.clock() - self.started, 3)
        point = [elapsed, self.pages_done, self.documents_done]
        if self.timeline[-1][1:] != point[1:] or elapsed - self.timeline[-1][0] >= 5.0:
            self.timeline.append(point)


class ProgressReporter:
    """Polls the progress directory from a thread and shows what it finds.

    ``mode``: ``bar`` (one line rewritten in place), ``json`` (a JSON line
    every ``json_interval`` seconds and at the end), ``off`` (counts only, for
    the timeline), or ``auto``: ``bar`` when ``stream`` is a terminal, else
    ``off``. Use as a context manager around ``pipeline.run()``.
    """

    def __init__(self, documents_total: int, mode: str = "auto", stream: Optional[TextIO] = None,
                 interval: float = 0.5, json_interval: float = 5.0, clock: Callable[[], float] = time.monotonic,
                 directory: Optional[str] = None):
        if mode not in MODES:
            raise ValueError(f"progress mode must be one of {MODES}, not {mode!r}")
        self.stream = stream if stream is not None else sys.stderr
        if mode == "auto":
            mode = "bar" if _isatty(self.stream) else "off"
        self.mode = mode
        self.interval = interval
        self.json_interval = json_interval
        self.state = ProgressState(documents_total, clock)
        self._own_directory = directory is None
        self.directory = directory
        self._offsets: Dict[str, int] = {}
        self._partial: Dict[str, bytes] = {}
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._previous_env: Optional[str] = None
        self._last_json = 0.0
        self._drawn = False

    # -- lifecycle
    def start(self) -> "ProgressReporter":
        if self.directory is None:
            remove_stale_directories()
            self.directory = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-")
        self._previous_env = os.environ.get(ENV)
        os.environ[ENV] = self.directory
        self.state.started = self.state.clock()
        self._thread = threading.Thread(target=self._loop, name="paperbeam-progress", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.poll()
        self.state.sample()
        self._show(final=True)
        if self._previous_env is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = self._previous_env
        if self._own_directory and self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> "ProgressReporter":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def timeline(self) -> List[List[float]]:
        return self.state.timeline

    # -- work
    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
                self.state.sample()
                self._show()
            except Exception:  # noqa: BLE001 - a display problem must never fail the run
                pass

    def poll(self) -> int:
        """Read what workers appended since the last poll; returns the number of new events."""
        if not self.directory or not os.path.isdir(self.directory):
            return 0
        n = 0
        for name in sorted(os.listdir(self.directory)):
            path = os.path.join(self.directory, name)
            try:
                with open(path, "rb") as fh:
                    fh.seek(self._offsets.get(name, 0))
                    chunk = fh.read()
            except OSError:
                continue
            self._offsets[name] = self._offsets.get(name, 0) + len(chunk)
            data = self._partial.pop(name, b"") + chunk
            lines = data.split(b"\n")
            if lines[-1]:
                self._partial[name] = lines[-1]  # a line still being written
            for raw in lines[:-1]:
                try:
                    self.state.add(json.loads(raw))
                    n += 1
                except (ValueError, TypeError):
                    continue
        return n

    def _show(self, final: bool = False) -> None:
        if self.mode == "bar":
            width = shutil.get_terminal_size((100, 20)).columns
            self.stream.write("\r" + render_bar(self.state.snapshot(), width).ljust(width - 1))
            if final:
                self.stream.write("\n")
            self.stream.flush()
        elif self.mode == "json":
            now = self.state.clock()
            if final or now - self._last_json >= self.json_interval:
                self._last_json = now
                record = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "level": "INFO", "logger": "paperbeam.progress",
                          "message": "finished" if final else "progress", **self.state.snapshot()}
                self.stream.write(json.dumps(record, sort_keys=True) + "\n")
                self.stream.flush()


PREFIX = "paperbeam-progress-"


def remove_stale_directories(parent: Optional[str] = None) -> int:
    """Remove progress directories of drivers that died without cleaning up (killed runs).

    Their names carry the driver's process id: ``paperbeam-progress-<pid>-<random>``.
    """
    parent = parent or tempfile.gettempdir()
    removed = 0
    try:
        names = os.listdir(parent)
    except OSError:
        return 0
    for name in names:
        if not name.startswith(PREFIX):
            continue
        pid = name[len(PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        shutil.rmtree(os.path.join(parent, name), ignore_errors=True)
        removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def choose_mode(progress: Optional[bool], log_format: str, stream: Optional[TextIO] = None) -> str:
    """``--progress/--no-progress`` (None = not given) and ``--log-format`` -> a reporter mode."""
    if progress is False:
        return "off"
    if log_format == "json":
        return "json"
    if progress is True:
        return "bar"
    return "bar" if _isatty(stream if stream is not None else sys.stderr) else "off"
