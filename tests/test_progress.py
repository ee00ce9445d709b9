"""Progress on the direct runner, JSON logging, and Beam metrics in the summary.

The counting is tested with a fake clock; the channel between processes with
real worker processes writing into a real progress directory; and the whole
path once with a real `paperbeam run` (one born-digital PDF, so no OCR).
"""

from __future__ import annotations

import io
import json
import logging
import multiprocessing
import os

import pytest

import fixtures as F
from paperbeam import cli, logging_setup, progress as P


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_state_counts_pages_and_documents_once():
    clock = Clock()
    state = P.ProgressState(documents_total=4, clock=clock)
    for page in (1, 2, 1):  # page 1 twice: a retried bundle
        state.add({"doc": "a", "page": page, "pages": 2})
    state.add({"doc": "b", "page": 1, "pages": 3, "failed": True})
    clock.now += 10
    snap = state.snapshot()
    assert snap["pages_done"] == 3 and snap["documents_done"] == 1 and snap["pages_failed"] == 1
    # 2 docs seen with 5 pages: 2 unseen ones are taken as alike -> 10 pages in all, 7 left at 0.3 pages/s
    assert snap["pages_total_estimate"] == 10
    assert snap["pages_per_second"] == pytest.approx(0.3)
    assert snap["eta_seconds"] == pytest.approx(7 / 0.3, abs=0.1)


def test_rate_is_over_the_last_half_minute():
    clock = Clock()
    state = P.ProgressState(documents_total=100, clock=clock)
    for i in range(60):  # 60 pages in the first 10 s, then nothing for 40 s
        state.add({"doc": f"d{i}", "page": 1, "pages": 1})
    clock.now += 10
    state.sample()
    clock.now += 40
    state.sample()
    assert state.snapshot()["pages_per_second"] == pytest.approx(0.0)
    assert state.timeline[0] == [0.0, 0, 0] and state.timeline[1] == [10.0, 60, 60]


def test_bar_line():
    line = P.render_bar({"documents_done": 5, "documents_total": 10, "pages_done": 12, "pages_per_second": 2.5,
                         "eta_seconds": 75}, width=100)
    assert line.startswith("[") and " 5/10 docs  12 pages  2.5 pages/s  left 1:15" in line
    assert line.count("#") * 2 == line.index("]") - 1  # half full
    assert P.format_seconds(None) == "--:--" and P.format_seconds(3725) == "1:02:05"


def test_mode_choice():
    tty, pipe = Tty(), io.StringIO()
    assert P.choose_mode(None, "text", tty) == "bar"
    assert P.choose_mode(None, "text", pipe) == "off"  # quiet when not a terminal
    assert P.choose_mode(True, "text", pipe) == "bar"
    assert P.choose_mode(None, "json", pipe) == "json"
    assert P.choose_mode(False, "json", tty) == "off"


def _worker(directory, doc, pages):
    channel = P.ProgressChannel(directory)
    for page in range(1, pages + 1):
        channel.page_done(doc, page, pages, "ocr", 0.1)
    channel.close()


def test_reporter_reads_what_worker_processes_write(tmp_path):
    out = Tty()
    reporter = P.ProgressReporter(documents_total=3, mode="bar", stream=out, interval=0.05)
    with reporter:
        assert os.environ[P.ENV] == reporter.directory  # the workers inherit it
        ctx = multiprocessing.get_context("spawn")
        procs = [ctx.Process(target=_worker, args=(os.environ[P.ENV], f"doc{i}", i + 1)) for i in range(3)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(30)
        directory = reporter.directory
    assert P.ENV not in os.environ and not os.path.exists(directory)  # cleaned up
    snap = reporter.state.snapshot()
    assert snap["pages_done"] == 6 and snap["documents_done"] == 3
    assert reporter.timeline[-1][1:] == [6, 3]
    text = out.getvalue()
    assert "\r[" in text and text.endswith("\n") and "3/3 docs  6 pages" in text


def test_reporter_is_silent_off_a_terminal_and_writes_json_for_machines(tmp_path):
    quiet = io.StringIO()
    with P.ProgressReporter(documents_total=1, mode="auto", stream=quiet, interval=0.05):
        P.ProgressChannel().page_done("a", 1, 1)
    assert quiet.getvalue() == ""
    machine = io.StringIO()
    with P.ProgressReporter(documents_total=1, mode="json", stream=machine, interval=0.05):
        P.ProgressChannel().page_done("a", 1, 1)
    lines = [json.loads(line) for line in machine.getvalue().splitlines()]
    assert lines[-1]["message"] == "finished" and lines[-1]["documents_done"] == 1 and lines[-1]["pages_done"] == 1
    assert lines[-1]["logger"] == "paperbeam.progress" and "ts" in lines[-1]


def test_channel_without_a_run_does_nothing(monkeypatch, tmp_path):
    monkeypatch.delenv(P.ENV, raising=False)
    channel = P.ProgressChannel()
    channel.page_done("a", 1, 1)  # no error, no file
    gone = P.ProgressChannel(str(tmp_path / "removed"))
    gone.page_done("a", 1, 1)  # the run's directory is gone: stops quietly
    assert gone.directory is None


def test_partial_lines_wait_for_their_end(tmp_path):
    reporter = P.ProgressReporter(documents_total=1, mode="off", directory=str(tmp_path))
    path = tmp_path / "w.jsonl"
    path.write_bytes(b'{"doc": "a", "page": 1, "pa')
    assert reporter.poll() == 0
    with open(path, "ab") as fh:
        fh.write(b'ges": 1}\n')
    assert reporter.poll() == 1 and reporter.state.pages_done == 1


def test_json_log_format():
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    handler = logging_setup.configure("INFO", "json", stream)
    try:
        logging.getLogger("paperbeam.test").info("hello %s", "<world>")
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("paperbeam.test").exception("failed")
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        for h in saved[1]:
            root.addHandler(h)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines()[:2])
    assert first["message"] == "hello <world>" and first["level"] == "INFO" and first["logger"] == "paperbeam.test"
    assert second["level"] == "ERROR" and "ValueError: boom" in second["exc"]
    with pytest.raises(ValueError):
        logging_setup.configure("INFO", "xml")


@pytest.mark.slow
def test_run_with_progress_metrics_and_review(tmp_path, capsys):
    """A real run on the direct runner: JSON progress on stderr, metrics and timeline in the summary, the report."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    F.make_invoice_pdf(inputs)
    out = tmp_path / "out"
    code = cli.main(["--log-format", "json", "run", "--input", str(inputs), "--output", str(out),
                     "--workers", "1", "--review"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    progress = [json.loads(line) for line in captured.err.splitlines()
                if line.startswith("{") and '"paperbeam.progress"' in line]
    assert progress and progress[-1]["message"] == "finished"
    assert progress[-1]["pages_done"] == 1 and progress[-1]["documents_done"] == 1
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["metrics"]["paperbeam.pages_by_source:text_layer"] == 1
    assert summary["distributions"]["paperbeam:read_ms_per_page"]["count"] == 1
    assert summary["timeline"][-1][1:] == [1, 1]
    assert (out / "review" / "index.html").exists()
    assert "review: " in captured.out


def test_directories_of_dead_drivers_are_removed(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    gone = ctx.Process(target=int)
    gone.start()
    gone.join()
    stale = tmp_path / f"{P.PREFIX}{gone.pid}-abc"
    live = tmp_path / f"{P.PREFIX}{os.getpid()}-abc"
    other = tmp_path / "something-else"
    for d in (stale, live, other):
        d.mkdir()
    assert P.remove_stale_directories(str(tmp_path)) == 1
    assert not stale.exists() and live.exists() and other.exists()
