"""Nightly runs end to end, through the real ``paperbeam run``: a folder that
grows and changes over several nights, the already-running refusal, and the
run report. Documents are tiny hand-written text-layer PDFs (no OCR), so a
night costs Beam's start-up and little else."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from paperbeam import cli
from paperbeam.nightly.lock import FileLock

from paperbeam.synth.minimal import invoice

pytestmark = pytest.mark.slow


def make_docs(folder: Path, n: int, start: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + n):
        (folder / f"doc-{i:05d}.pdf").write_bytes(invoice(i))


def rows(out: Path, kind: str):
    found = []
    for path in sorted(glob.glob(str(out / f"{kind}-*.jsonl"))):
        found += [json.loads(x) for x in Path(path).read_text(encoding="utf-8").splitlines() if x.strip()]
    return found


def output_state(out: Path):
    """Every output file (but summary.json, which has times) with the hash of its content."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.glob("*.jsonl"))}


def night(inp: Path, out: Path, *extra, report: Path | None = None):
    argv = ["run", "--input", str(inp), "--output", str(out), "--workers", "1", "--incremental", *map(str, extra)]
    if report:
        argv += ["--run-report", str(report)]
    code = cli.main(argv)
    return code, json.loads((out / "summary.json").read_text())


def assert_accounted(inp: Path, out: Path):
    """Every input file is exactly one record or one dead letter, and the ledger agrees."""
    recs, dead = rows(out, "records"), rows(out, "dead_letters")
    uris = [r["source_uri"] for r in recs] + [d["source_uri"] for d in dead]
    assert sorted(uris) == sorted(str(p) for p in inp.iterdir()), "each input exactly once"
    with sqlite3.connect(out / ".paperbeam" / "ledger.sqlite") as db:
        ledger = dict(db.execute("SELECT uri, status FROM paperbeam_documents").fetchall())
    assert ledger == {**{r["source_uri"]: "record" for r in recs}, **{d["source_uri"]: "dead_letter" for d in dead}}
    return recs, dead


def test_a_growing_folder_over_several_nights(tmp_path):
    inp, out, report = tmp_path / "inbox", tmp_path / "out", tmp_path / "report.json"
    make_docs(inp, 8)
    (inp / "truncated.pdf").write_bytes(b"")  # a dead letter

    # Night 1: everything is new.
    code, s = night(inp, out, report=report)
    assert code == 5  # success with dead letters under the threshold
    assert (s["inputs"], s["records"], s["dead_letters"]) == (9, 8, 1)
    assert s["incremental"]["selected_because"] == {"new": 9}
    assert json.loads(report.read_text())["run_id"] == s["run_id"]
    assert_accounted(inp, out)
    first = output_state(out)
    assert not list(out.glob(".staging-*"))

    # Night 2: nothing changed: nothing is read, Beam is not started, the files are the same.
    code, s = night(inp, out)
    assert code == 0
    assert s["inputs"] == 0 and s["counts_by_status"] == {"record": 0, "dead_letter": 0, "skipped_unchanged": 8,
                                                          "skipped_dead_letter": 1}
    assert s["incremental"]["hashed"] == 0 and s["incremental"]["ledger_totals"] == {"record": 8, "dead_letter": 1}
    assert output_state(out) == first

    # Night 3: two new files, one changed, one only touched (same bytes, new mtime).
    make_docs(inp, 2, start=100)
    (inp / "doc-00003.pdf").write_bytes(invoice(3, variant="corrected"))
    os.utime(inp / "doc-00004.pdf", (1_900_000_000, 1_900_000_000))
    code, s = night(inp, out)
    assert code == 0 and s["inputs"] == 3
    assert s["incremental"]["selected_because"] == {"new": 2, "changed": 1}
    assert s["incremental"]["hashed"] == 1 and s["incremental"]["touched_unchanged"] == 1
    recs, _ = assert_accounted(inp, out)
    changed = next(r for r in recs if r["source_uri"].endswith("doc-00003.pdf"))
    assert changed["id"] == hashlib.sha256(invoice(3, variant="corrected")).hexdigest()

    # Night 4: the truncated file was re-copied; --retry-dead-letters picks it up and its dead letter goes.
    (inp / "truncated.pdf").write_bytes(invoice(999))
    code, s = night(inp, out, "--retry-dead-letters")
    assert code == 0 and s["incremental"]["selected_because"] == {"changed": 1}
    recs, dead = assert_accounted(inp, out)
    assert dead == [] and len(recs) == 11
    os.utime(inp / "truncated.pdf", None)

    # Night 5: a version changes (the date order): everything is reprocessed, old shards are emptied and removed.
    before = set(output_state(out))
    code, s = night(inp, out, "--date-order", "month-first")
    assert code == 0 and s["incremental"]["selected_because"] == {"versions_changed": 11}
    assert_accounted(inp, out)
    assert not (before & set(output_state(out))), "every earlier shard was superseded"

    # Night 6: the same again: skipped, same files (a rerun is idempotent).
    settled = output_state(out)
    code, s = night(inp, out, "--date-order", "month-first")
    assert code == 0 and s["inputs"] == 0 and output_state(out) == settled

    # --force: everything again, still each input once.
    code, s = night(inp, out, "--date-order", "month-first", "--force")
    assert code == 0 and s["incremental"]["selected_because"] == {"forced": 11}
    assert_accounted(inp, out)


def test_the_run_report_has_what_a_scheduler_and_a_person_need(tmp_path, capsys):
    inp, out, report = tmp_path / "inbox", tmp_path / "out", tmp_path / "reports" / "night.json"
    make_docs(inp, 2)
    (inp / "empty.pdf").write_bytes(b"")
    code, _ = night(inp, out, report=report)
    printed = capsys.readouterr().out
    assert code == 5
    r = json.loads(report.read_text())
    assert r["counts_by_status"] == {"record": 2, "dead_letter": 1}
    assert r["pages_by_engine"] == {"text_layer": 2}
    assert r["dead_letters_by_reason"] == {"read: EmptyDocument": 1}
    assert {"lock", "select", "pipeline", "commit"} <= set(r["stage_seconds"])
    assert r["versions"]["paperbeam"] and r["started"] and r["finished"]
    assert r["config"]["incremental"] is True and r["config"]["ledger"] is None
    assert r["incremental"]["ledger"].endswith("ledger.sqlite")
    for text in ("3 inputs -> 2 records + 1 dead letters", "dead letters, read: EmptyDocument: 1",
                 "pages by engine: text_layer 2", "incremental: 3 selected (new 3)", "time: lock"):
        assert text in printed, printed


def test_a_second_run_on_the_same_ledger_exits_4_at_once(tmp_path):
    """Another run holds the ledger's lock: this one says so, exits 4, and touches nothing."""
    inp, out = tmp_path / "inbox", tmp_path / "out"
    make_docs(inp, 2)
    lock = FileLock(str(out / ".paperbeam" / "ledger.sqlite.lock")).acquire("the-first-run")
    try:
        exe = Path(sys.executable).with_name("paperbeam")
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "paperbeam.cli"]
        proc = subprocess.run(cmd + ["run", "--input", str(inp), "--output", str(out), "--incremental"],
                              capture_output=True, text=True, timeout=120)
    finally:
        lock.release()
    assert proc.returncode == 4, proc.stderr
    assert "Another paperbeam run is using this ledger" in proc.stderr and "the-first-run" in proc.stderr
    assert not list(out.glob("*.jsonl")) and not list(out.glob(".staging-*"))


def test_a_full_run_refuses_an_incremental_output(tmp_path, capsys):
    inp, out = tmp_path / "inbox", tmp_path / "out"
    make_docs(inp, 1)
    assert night(inp, out)[0] == 0
    code = cli.main(["run", "--input", str(inp), "--output", str(out), "--workers", "1"])
    assert code == 2 and "--incremental" in capsys.readouterr().err


def test_a_full_run_replaces_its_output_through_staging(tmp_path):
    inp, out = tmp_path / "inbox", tmp_path / "out"
    make_docs(inp, 3)
    (out / ".staging-deadbeef").mkdir(parents=True)  # left by a killed run: cleaned, never committed
    (out / ".staging-deadbeef" / "records-00000-of-00001.jsonl").write_text('{"source_uri": "/ghost"}\n')
    assert cli.main(["run", "--input", str(inp), "--output", str(out), "--workers", "1"]) == 0
    (inp / "doc-00000.pdf").unlink()
    assert cli.main(["run", "--input", str(inp), "--output", str(out), "--workers", "1"]) == 0
    assert sorted(r["source_uri"] for r in rows(out, "records")) == sorted(str(p) for p in inp.iterdir())
    assert not list(out.glob(".staging-*"))


def test_the_first_incremental_night_replaces_a_full_runs_output(tmp_path):
    inp, out = tmp_path / "inbox", tmp_path / "out"
    make_docs(inp, 3)
    assert cli.main(["run", "--input", str(inp), "--output", str(out), "--workers", "1"]) == 0
    code, s = night(inp, out)
    assert code == 0 and s["inputs"] == 3
    assert_accounted(inp, out)  # once each: the full run's shards are gone


from test_nightly_units import pg_dsn  # noqa: E402,F401,F811 - the PostgreSQL fixture (skips where none starts)


def test_nights_with_a_postgresql_ledger(tmp_path, pg_dsn):  # noqa: F811
    inp, out = tmp_path / "inbox", tmp_path / "out"
    make_docs(inp, 3)
    code, s = night(inp, out, "--ledger", pg_dsn)
    assert code == 0 and s["inputs"] == 3 and s["incremental"]["ledger_totals"] == {"record": 3}
    make_docs(inp, 1, start=50)
    code, s = night(inp, out, "--ledger", pg_dsn)
    assert code == 0 and s["inputs"] == 1 and s["counts_by_status"]["skipped_unchanged"] == 3
    assert not (out / ".paperbeam" / "ledger.sqlite").exists()
    assert s["config"]["ledger"].startswith("postgresql://")
    recs = rows(out, "records")
    assert sorted(r["source_uri"] for r in recs) == sorted(str(p) for p in inp.iterdir())
