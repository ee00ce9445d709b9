"""``paperbeam run`` as a user runs it: in-process through ``cli.main`` and once
through the installed entry point, on documents made by tests/fixtures.py."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from paperbeam import cli

import fixtures as F

pytestmark = pytest.mark.slow

SUMMARY_KEYS = {"inputs", "records", "dead_letters", "pages", "pages_ocr", "pages_text_layer", "seconds", "versions"}
RUN_OPTIONS = [
    "--input", "--output", "--runner", "--workers", "--schema", "--ocr", "--lang", "--psm", "--extractor",
    "--date-order", "--dpi", "--force-ocr", "--emit-words", "--max-dead-letter-ratio", "--max-pages",
    "--max-pixels", "--max-file-bytes", "--ocr-timeout", "--pdf-password-file", "--json",
]


def _lines(out: Path, prefix: str):
    rows = []
    for path in sorted(glob.glob(str(out / f"{prefix}-*.jsonl"))):
        rows += [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


def _run(*args) -> int:
    return cli.main(["run", "--workers", "1", *map(str, args)])


@pytest.fixture(scope="module")
def small_inputs(tmp_path_factory):
    """A text PDF, a PNG to OCR, and two broken files: half of the inputs are dead letters."""
    d = tmp_path_factory.mktemp("cli-in")
    F.make_invoice_pdf(d)
    F.make_png(d)
    F.make_empty(d)
    F.make_encrypted_pdf(d)
    return d


@pytest.fixture(scope="module")
def ratio_run(small_inputs, tmp_path_factory, tesseract):
    """One run with --emit-words and a 10% dead-letter limit: (exit code, output dir)."""
    out = tmp_path_factory.mktemp("cli-out") / "out"
    code = _run("--input", small_inputs, "--output", out, "--emit-words", "--max-dead-letter-ratio", "0.1")
    return code, out


def test_writes_records_dead_letters_and_summary(ratio_run):
    _, out = ratio_run
    assert glob.glob(str(out / "records-*.jsonl"))
    assert glob.glob(str(out / "dead_letters-*.jsonl"))
    summary = json.loads((out / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(summary)
    assert summary["inputs"] == 4
    assert summary["inputs"] == summary["records"] + summary["dead_letters"]
    assert (summary["records"], summary["dead_letters"]) == (2, 2)
    assert (summary["pages"], summary["pages_text_layer"], summary["pages_ocr"]) == (2, 1, 1)
    assert summary["versions"]["ocr_engine"].startswith("tesseract")
    assert summary["seconds"] > 0
    # what the summary counts is what the files hold
    assert len(_lines(out, "records")) == summary["records"]
    assert len(_lines(out, "dead_letters")) == summary["dead_letters"]


def test_dead_letter_ratio_over_the_limit_exits_3(ratio_run):
    code, _ = ratio_run
    assert code == 3


def test_emit_words_puts_words_in_records(ratio_run):
    _, out = ratio_run
    records = {os.path.basename(r["source_uri"]): r for r in _lines(out, "records")}
    words = [w["text"] for w in records["invoice.pdf"]["pages"][0]["words"]]
    assert F.INVOICE_NUMBER in words
    assert records["receipt.png"]["pages"][0]["words"]


def test_password_file_opens_the_encrypted_pdf_and_words_are_off_by_default(small_inputs, tmp_path, capsys):
    password = tmp_path / "password.txt"
    password.write_text("secret\n")
    out = tmp_path / "out"
    code = _run("--input", small_inputs / "encrypted.pdf", "--output", out, "--pdf-password-file", password, "--json")
    assert code == 0
    records = _lines(out, "records")
    assert len(records) == 1 and _lines(out, "dead_letters") == []
    assert records[0]["fields"]["total_amount"]["normalized"] == "1234.56"
    assert all("words" not in p for p in records[0]["pages"])
    printed = json.loads(capsys.readouterr().out)
    assert printed["records"] == 1
    assert "secret" not in (out / "summary.json").read_text()  # the password never shows
    assert json.loads((out / "summary.json").read_text())["config"]["pdf_password"] == "***"


def test_the_installed_entry_point(small_inputs, tmp_path):
    """The real console script: a process, its exit code and its files."""
    exe = Path(sys.executable).with_name("paperbeam")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "paperbeam.cli"]
    out = tmp_path / "out"
    proc = subprocess.run(
        cmd + ["run", "--input", str(small_inputs / "invoice.pdf"), "--output", str(out), "--workers", "1"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "1 inputs -> 1 records + 0 dead letters" in proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["inputs"], summary["records"], summary["pages_text_layer"], summary["pages_ocr"]) == (1, 1, 1, 0)


# -- configuration errors: exit 2 at once, nothing done ----------------------------------


def _config_error(capsys, *args):
    code = cli.main(["run", *map(str, args)])
    err = capsys.readouterr().err
    assert code == 2, err
    return err


def _nothing_written(out: Path):
    assert not glob.glob(str(out / "records-*")) and not (out / "summary.json").exists()


def test_missing_input(capsys, tmp_path):
    out = tmp_path / "out"
    err = _config_error(capsys, "--input", tmp_path / "no-such-folder", "--output", out)
    assert "No input files match" in err and "no-such-folder" in err
    assert not out.exists()


def test_unwritable_output(capsys, small_inputs, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    err = _config_error(capsys, "--input", small_inputs, "--output", blocker / "sub")
    assert "Cannot write to the output directory" in err and "--output" in err


def test_schema_with_unknown_type(capsys, small_inputs, tmp_path):
    schema = tmp_path / "po.yaml"
    schema.write_text("name: po\nfields:\n  - {name: po_number, type: string}\n  - {name: total, type: currency}\n")
    out = tmp_path / "out"
    err = _config_error(capsys, "--input", small_inputs, "--output", out, "--schema", schema)
    assert "'total'" in err and "'currency'" in err and "money" in err
    assert not out.exists()


def test_unknown_runner(capsys, small_inputs, tmp_path):
    out = tmp_path / "out"
    err = _config_error(capsys, "--input", small_inputs, "--output", out, "--runner", "sparky")
    assert "Unknown runner 'sparky'" in err and "direct" in err
    assert not out.exists()


def test_unknown_ocr_engine_lists_the_known_ones(capsys, small_inputs, tmp_path):
    out = tmp_path / "out"
    err = _config_error(capsys, "--input", small_inputs, "--output", out, "--ocr", "abbyy")
    assert "'abbyy'" in err and "Known:" in err and "tesseract" in err
    _nothing_written(out)


def test_rapidocr_engine_runs_from_the_command_line(tmp_path):
    """Every engine gets only the run options it has: RapidOCR has no --psm, and must still run."""
    pytest.importorskip("rapidocr")
    src = tmp_path / "in"
    src.mkdir()
    F.make_png(src)
    out = tmp_path / "out"
    assert _run("--input", src, "--output", out, "--ocr", "rapidocr") == 0
    (record,) = _lines(out, "records")
    assert record["pages"][0]["engine"].startswith("rapidocr")


def test_an_option_the_engine_does_not_have_is_a_config_error(capsys, small_inputs, tmp_path):
    pytest.importorskip("rapidocr")
    out = tmp_path / "out"
    err = _config_error(capsys, "--input", small_inputs, "--output", out, "--ocr", "rapidocr", "--psm", "6")
    assert "'rapidocr' has no option psm" in err
    _nothing_written(out)


def test_a_layout_model_folder_is_chosen_with_model(tmp_path):
    """A user's own model folder (here a copy of the shipped one) runs behind --extractor model."""
    import shutil

    from paperbeam.models.layout.runtime import default_model_dir

    model = tmp_path / "my-model"
    shutil.copytree(default_model_dir(), model)
    src = tmp_path / "in"
    src.mkdir()
    F.make_png(src)
    out = tmp_path / "out"
    assert _run("--input", src, "--output", out, "--extractor", "model", "--model", model) == 0
    (record,) = _lines(out, "records")
    from paperbeam.models.layout.model import ModelSpec

    assert record["versions"]["model"] == f"layout {ModelSpec.load(str(model)).version}"
    assert record["fields"] and all(f["extractor"] == "model" for f in record["fields"].values())
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["config"]["model_path"] == str(model)


def test_model_must_be_a_model_folder_and_needs_a_model_extractor(capsys, small_inputs, tmp_path):
    out = tmp_path / "out"
    err = _config_error(capsys, "--input", small_inputs, "--output", out, "--extractor", "model", "--model", tmp_path)
    assert "holds no paperbeam layout model" in err
    err = _config_error(capsys, "--input", small_inputs, "--output", out, "--model", tmp_path)
    assert "only --extractor model or auto" in err
    _nothing_written(out)


def test_unreadable_password_file(capsys, small_inputs, tmp_path):
    out = tmp_path / "out"
    err = _config_error(capsys, "--input", small_inputs, "--output", out, "--pdf-password-file", tmp_path / "nope.txt")
    assert "--pdf-password-file" in err
    assert not out.exists()


def test_bad_dpi(capsys, small_inputs, tmp_path):
    out = tmp_path / "out"
    err = _config_error(capsys, "--input", small_inputs, "--output", out, "--dpi", "10")
    assert "--dpi" in err
    _nothing_written(out)


# -- help ------------------------------------------------------------------------


def _help(capsys, argv):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_top_level_help(capsys):
    text = _help(capsys, ["--help"])
    for word in ("run", "evaluate", "synth", "--log-level", "--version"):
        assert word in text


def test_run_help_mentions_every_option(capsys):
    text = _help(capsys, ["run", "--help"])
    for option in RUN_OPTIONS:
        assert option in text, option
    # exit codes and outputs are explained
    for word in ("records-*.jsonl", "dead_letters-*.jsonl", "summary.json", "Exit codes"):
        assert word in text


def _run_parser():
    parser = cli.build_parser()
    return next(a for a in parser._subparsers._group_actions[0].choices.items() if a[0] == "run")[1]


def test_foundation_options_are_declared():
    """The options the foundation promises stay; other issues add more."""
    declared = {s for a in _run_parser()._actions for s in a.option_strings}
    assert set(RUN_OPTIONS) <= declared


def test_every_declared_run_option_is_explained(capsys):
    """Every option of `run`, whoever added it, has help text and shows in --help."""
    run = _run_parser()
    text = _help(capsys, ["run", "--help"])
    for action in run._actions:
        for option in action.option_strings:
            if option.startswith("--") and option != "--help":
                assert action.help, option
                assert option in text, option
