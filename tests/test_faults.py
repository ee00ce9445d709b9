"""Fault injection: a worker process killed in the middle of a bundle.

An OCR engine plugin (``test-crash-once``, see tests/corpus.py) calls
``os._exit(137)`` the first time it reads a page, as the kernel's OOM killer
would end a worker. What happens, measured on Beam 2.77:

* Multi-process direct runner (FnApiRunner, ``--workers 2``): the runner does
  **not** retry the bundle on a new worker. The run fails within seconds with
  ``RuntimeError: Channel closed prematurely`` (exit code 1), and nothing is
  committed to the output: no records, no dead letters (they are written
  to a staging directory that only a finished run moves into place).
* In-memory direct runner (``--workers 1``): the worker is the CLI process,
  so the whole process dies with the engine's exit status.

In both cases the retry is the scheduler's: running the same command again
recovers (rolls the killed run back) and produces every input exactly once,
with no duplicate record. That is what these tests assert.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import corpus as C
import fixtures as F
from paperbeam.errors import ExitCode

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

OK_CODES = (ExitCode.OK, ExitCode.OK_WITH_DEAD_LETTERS)


def _lines(out: Path, prefix: str):
    rows = []
    for path in sorted(glob.glob(str(out / f"{prefix}-*.jsonl"))):
        rows += [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


def _inputs(directory: Path) -> Path:
    directory.mkdir(parents=True)
    for i in range(5):
        F.make_png(directory, dpi=60 + i, name=f"receipt-{i}.png")  # five different scans: five OCR'd pages
    F.make_invoice_pdf(directory)
    F.draw_pdf(F.INVOICE, directory / "three-pages.pdf", pages=3)
    F.make_empty(directory)  # one dead letter, to check those are not doubled either
    return directory


def _run(inputs: Path, out: Path, workers: int, env: dict):
    return subprocess.run(
        [sys.executable, "-m", "paperbeam.cli", "run", "--input", str(inputs), "--output", str(out),
         "--workers", str(workers), "--dpi", "72", "--ocr", "test-crash-once"],
        capture_output=True, text=True, timeout=300, env=env,
    )


@pytest.mark.parametrize("workers", [2, 1])
def test_worker_killed_mid_bundle_then_rerun_gives_each_input_once(tmp_path, monkeypatch, workers):
    C.install_test_engines(tmp_path / "plugins", monkeypatch)
    flag = tmp_path / "crashed-once"
    env = dict(os.environ, PB_TEST_CRASH_FLAG=str(flag))
    inputs = _inputs(tmp_path / "in")
    n_inputs = len(list(inputs.iterdir()))
    out = tmp_path / "out"

    first = _run(inputs, out, workers, env)
    assert flag.exists(), first.stderr[-2000:]  # the fault really fired, in a worker process
    crashed_pid = int(flag.read_text())
    assert first.returncode not in OK_CODES, first.stdout
    if workers > 1:
        assert crashed_pid != 0
        assert first.returncode == ExitCode.INTERNAL
        assert "Channel closed prematurely" in first.stderr  # FnApiRunner's report of a dead worker
        assert "a worker process died" in first.stderr and "a bug" not in first.stderr  # said as what it is
    else:
        assert first.returncode == 137  # the in-memory worker was the CLI process itself
    # nothing half-done was committed: no records, no dead letters, no summary
    assert _lines(out, "records") == [] and _lines(out, "dead_letters") == []
    assert not (out / "summary.json").exists()

    second = _run(inputs, out, workers, env)  # the scheduler's retry; the engine does not crash again
    assert second.returncode in OK_CODES, second.stderr[-3000:]
    records, letters = _lines(out, "records"), _lines(out, "dead_letters")
    uris = Counter(r["source_uri"] for r in records) + Counter(d["source_uri"] for d in letters)
    assert sorted(uris) == sorted(str(p) for p in inputs.iterdir())
    assert set(uris.values()) == {1}  # no duplicates
    assert len({r["id"] for r in records}) == len(records)
    assert [os.path.basename(d["source_uri"]) for d in letters] == ["empty.pdf"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["accounted"] and summary["inputs"] == n_inputs == summary["records"] + summary["dead_letters"]


def test_a_dead_worker_is_told_apart_from_a_bug_through_the_exception_chain():
    from paperbeam.cli import worker_died

    try:
        try:
            raise RuntimeError("Channel closed prematurely.")
        except RuntimeError as inner:
            raise ValueError("pipeline failed") from inner
    except ValueError as outer:
        assert worker_died(outer)
    assert not worker_died(KeyError("total_amount"))
