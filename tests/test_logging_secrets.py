"""No document text and no secret in logs at the default level.

The CLI runs as a subprocess with two worker processes, so everything any
process writes (the driver, Beam's runner, the SDK workers and their
harness logs) ends up in the captured stdout/stderr. The documents carry a
distinctive marker in their text layer, their metadata and their pixels; one
is encrypted with a password given through --pdf-password-file, another with a
password that file does not hold. Neither the marker nor the password may
appear anywhere but in the records themselves.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from paperbeam.errors import ExitCode

OK_CODES = (ExitCode.OK, ExitCode.OK_WITH_DEAD_LETTERS)

import corpus as C
import fixtures as F

pytestmark = pytest.mark.slow

MARKER = "ZQXMARKER7731"
PASSWORD = "pw-Sekr3t-9917"
OTHER_PASSWORD = "pw-Other-4242"


def _marked_layout():
    texts = tuple(replace(t, text=t.text.replace("INV-1042", f"INV-1042 {MARKER}")) for t in F.INVOICE.texts)
    texts += (F.Text(50, 470, f"Reference {MARKER} {PASSWORD[::-1]}"),)
    return F.Layout(F.INVOICE.size, texts)


def _inputs(directory: Path) -> Path:
    layout = _marked_layout()
    directory.mkdir(parents=True)
    F.draw_pdf(layout, directory / "marked.pdf")
    F.draw_pdf(layout, directory / "marked-encrypted.pdf", password=PASSWORD)
    F.draw_pdf(layout, directory / "marked-other-password.pdf", password=OTHER_PASSWORD)
    F.render(layout, 100).save(directory / "marked-scan.png")
    # a PDF whose Title and Author are the marker, and whose page fails to load (a dead letter)
    broken = C.raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>",
    ], trailer=b"/Info << /Title (" + MARKER.encode() + b") /Author (" + PASSWORD.encode() + b") >> ")
    (directory / "marked-broken.pdf").write_bytes(broken)
    # text with the marker in a file that is not a document
    (directory / "marked-notes.pdf").write_text(f"{MARKER} {PASSWORD}\n", encoding="utf-8")
    return directory


def _run_cli(tmp_path: Path, *extra: str):
    inputs = _inputs(tmp_path / "in")
    secret = tmp_path / "password.txt"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [sys.executable, "-m", "paperbeam.cli", *extra, "run", "--input", str(inputs), "--output", str(out),
         "--workers", "2", "--dpi", "100", "--emit-words", "--pdf-password-file", str(secret)],
        capture_output=True, text=True, timeout=600, env=env, cwd=str(tmp_path),
    )
    return proc, out


def _lines(out: Path, prefix: str):
    rows = []
    for path in sorted(glob.glob(str(out / f"{prefix}-*.jsonl"))):
        rows += [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


@pytest.fixture(scope="module")
def default_run(tmp_path_factory, tesseract):
    return _run_cli(tmp_path_factory.mktemp("secrets-default"))


def test_run_succeeds_and_the_marker_flowed_through(default_run):
    proc, out = default_run
    assert proc.returncode in OK_CODES, proc.stderr[-3000:]
    records = {os.path.basename(r["source_uri"]): r for r in _lines(out, "records")}
    # the test means something only if the marker really went through the pipeline
    assert MARKER in json.dumps(records["marked.pdf"]) and MARKER in json.dumps(records["marked-encrypted.pdf"])
    letters = {os.path.basename(d["source_uri"]): d for d in _lines(out, "dead_letters")}
    assert letters["marked-other-password.pdf"]["error"] == "EncryptedDocument"
    assert "does not open it" in letters["marked-other-password.pdf"]["message"]


def test_no_marker_and_no_password_in_any_process_output(default_run):
    proc, _ = default_run
    everything = proc.stdout + proc.stderr
    assert MARKER not in everything
    assert PASSWORD not in everything and PASSWORD[::-1] not in everything
    assert OTHER_PASSWORD not in everything


def test_no_secret_in_summary_or_dead_letters(default_run):
    _, out = default_run
    summary = (out / "summary.json").read_text(encoding="utf-8")
    assert PASSWORD not in summary and json.loads(summary)["config"]["pdf_password"] == "***"
    for d in _lines(out, "dead_letters"):
        text = json.dumps(d)
        assert PASSWORD not in text and MARKER not in text, d


def test_no_marker_or_password_at_info_either(tmp_path, tesseract):
    """INFO is what people turn on to watch a run: it still names no document text."""
    proc, _ = _run_cli(tmp_path, "--log-level", "INFO")
    assert proc.returncode in OK_CODES, proc.stderr[-3000:]
    everything = proc.stdout + proc.stderr
    assert "INFO" in everything  # the level really was raised
    assert MARKER not in everything
    assert PASSWORD not in everything and PASSWORD[::-1] not in everything


def test_password_is_masked_in_reprs():
    from paperbeam.pipelines.options import RunConfig, Secret

    config = RunConfig(input="x", output="y", pdf_password=Secret(PASSWORD))
    assert PASSWORD not in repr(config) and PASSWORD not in str(config.to_report())
    # the page options travel to workers pickled, but never print the password
    assert PASSWORD not in repr(config.page_options()) or pytest.fail(
        "PageOptions' repr shows the PDF password; a worker logging its options would leak it"
    )


def test_a_password_typed_where_the_file_goes_is_not_echoed(tmp_path):
    """argparse accepts --pdf-password as an abbreviation of --pdf-password-file; the
    error for the missing 'file' must not print the password back."""
    F.make_invoice_pdf(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "paperbeam.cli", "run", "--input", str(tmp_path / "invoice.pdf"),
         "--output", str(tmp_path / "out"), "--pdf-password", PASSWORD],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == ExitCode.CONFIG
    assert "--pdf-password-file" in proc.stderr
    assert PASSWORD not in proc.stdout + proc.stderr
