"""Crash recovery, for real: ``paperbeam run --incremental`` in its own process
group is killed with SIGKILL halfway through the pipeline; the next run
completes the work, with every input accounted for exactly once and the ledger
consistent with the output."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from test_nightly_runs import assert_accounted, make_docs

pytestmark = pytest.mark.slow

DOCS = 600
SCANS = 16  # pages that need OCR: they keep the pipeline busy long enough to be killed halfway on any machine


def make_scans(folder: Path, count: int) -> None:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=28)
    for i in range(count):
        img = Image.new("L", (1200, 1600), 255)
        draw = ImageDraw.Draw(img)
        for row in range(30):
            draw.text((60, 60 + row * 48), f"scan {i} line {row} total {i * 100 + row}.00 invoice", fill=0, font=font)
        img.save(folder / f"scan-{i:03d}.png")


def _command():
    exe = Path(sys.executable).with_name("paperbeam")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "paperbeam.cli"]


def _watch(stream, seen: dict) -> None:
    """Keep the latest pages_done from the run's JSON progress lines."""
    for line in stream:
        if '"progress"' in line:
            try:
                seen["pages"] = json.loads(line).get("pages_done", 0)
            except ValueError:
                pass


def test_sigkill_halfway_then_the_next_run_completes_exactly_once(tmp_path):
    inp, out = tmp_path / "inbox", tmp_path / "out"
    make_docs(inp, DOCS)
    make_scans(inp, SCANS)
    (inp / "broken.pdf").write_bytes(b"%PDF-1.4 truncated")
    argv = _command() + ["--log-format", "json", "run", "--input", str(inp), "--output", str(out),
                         "--incremental", "--workers", "2", "--progress"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    seen = {"pages": 0}
    threading.Thread(target=_watch, args=(proc.stderr, seen), daemon=True).start()
    staged_at = None
    deadline = time.time() + 90
    while time.time() < deadline and proc.poll() is None:
        if staged_at is None and list(out.glob(".staging-*")):
            staged_at = time.time()  # the pipeline is starting
        # Kill once some pages are done, or (progress is reported coarsely) 2.5 s into the pipeline.
        if staged_at and (0 < seen["pages"] < DOCS + SCANS or time.time() - staged_at > 2.5):
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed; give it more documents"
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its Beam workers, as a scheduler's timeout would
    proc.wait(timeout=30)

    ledger = out / ".paperbeam" / "ledger.sqlite"
    with sqlite3.connect(ledger) as db:
        killed = db.execute("SELECT run_id FROM paperbeam_runs WHERE status = 'running'").fetchall()
        assert len(killed) == 1, "the kill came after the commit: not halfway"
        assert db.execute("SELECT count(*) FROM paperbeam_documents").fetchone()[0] == 0
    assert list(out.glob(".staging-*")), "the killed run's staging directory is left behind"
    assert not list(out.glob("records-*.jsonl"))  # nothing half-written is visible

    again = subprocess.run(_command() + ["run", "--input", str(inp), "--output", str(out), "--incremental",
                                         "--workers", "2", "--json"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 5, again.stderr[-2000:]  # done, with the one broken file as a dead letter
    summary = json.loads(again.stdout)
    assert summary["incremental"]["recovered"]["rolled_back"] == [killed[0][0]]
    assert (summary["inputs"], summary["records"], summary["dead_letters"]) == (DOCS + SCANS + 1, DOCS + SCANS, 1)
    recs, _ = assert_accounted(inp, out)
    assert len({r["id"] for r in recs}) == DOCS + SCANS, "no duplicate document ids"
    assert not list(out.glob(".staging-*")) and not list(out.glob("beam-temp-*"))
    with sqlite3.connect(ledger) as db:
        statuses = dict(db.execute("SELECT run_id, status FROM paperbeam_runs").fetchall())
    assert statuses == {killed[0][0]: "abandoned", summary["run_id"]: "done"}
