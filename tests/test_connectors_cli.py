"""Connectors on the command line and in a YAML file: URIs, secrets never as
values, and every connector checked before any document is read."""

from __future__ import annotations

import json
import shutil
import socket
import zipfile
from pathlib import Path

from paperbeam import cli

SAMPLES = Path(__file__).resolve().parents[1] / "paperbeam" / "samples" / "documents"


def _inputs(tmp_path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(SAMPLES / "invoice-000002.pdf", d)
    return d


def _error(capsys, *argv) -> str:
    assert cli.main(["run", "--workers", "1", *argv]) == 2
    return capsys.readouterr().err


def test_a_password_on_the_command_line_is_refused_and_not_echoed(capsys, tmp_path):
    err = _error(capsys, "--input", str(_inputs(tmp_path)), "--output", str(tmp_path / "out"),
                 "--sink", "postgresql://app:hunter2@127.0.0.1/acct")
    assert "Never put a password on the command line" in err and "hunter2" not in err
    err = _error(capsys, "--input", str(_inputs(tmp_path / "x") if (tmp_path / "x").mkdir() is None else ""),
                 "--output", str(tmp_path / "out"), "--sink", "postgresql://app@127.0.0.1/acct?password=hunter2")
    assert "password_env=VARIABLE" in err and "hunter2" not in err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("records-*"))


def test_an_unreachable_sink_fails_before_any_document_is_read(capsys, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "out"
    err = _error(capsys, "--input", str(_inputs(tmp_path)), "--output", str(out),
                 "--sink", f"postgresql://app@127.0.0.1:{port}/acct?connect_timeout=2")
    assert f"Cannot connect to postgresql://app@127.0.0.1:{port}/acct" in err
    assert not list(out.glob("records-*")) and not (out / "summary.json").exists()


def test_unknown_sink_and_option_are_config_errors(capsys, tmp_path):
    err = _error(capsys, "--input", str(_inputs(tmp_path)), "--output", str(tmp_path / "o"), "--sink", "excel")
    assert "Unknown sink 'excel'. Known: csv" in err
    err = _error(capsys, "--input", str(tmp_path / "in"), "--output", str(tmp_path / "o"), "--sink", "csv?colour=blue")
    assert "unknown option(s) colour" in err


def test_no_input_and_no_source(capsys, tmp_path):
    assert "--input is required" in _error(capsys, "--output", str(tmp_path / "o"))


def test_a_yaml_config_with_a_source_and_sinks(tmp_path):
    archive = tmp_path / "batch.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(SAMPLES / "invoice-000002.pdf", "one.pdf")
    config = tmp_path / "connectors.yaml"
    config.write_text(f"source: zip:{archive}\nsinks:\n  - csv\n  - {{uri: 'parquet:{tmp_path / 'pq'}', row_group_size: 100}}\n"
                      f"dead_letter_sink: csv:{tmp_path / 'dl'}\n")
    out = tmp_path / "out"
    assert cli.main(["run", "--workers", "1", "--connectors", str(config), "--output", str(out), "--sink", "jsonl:" + str(tmp_path / "j")]) == 0
    assert len(list(out.glob("records-*.csv"))) == 1 and list((tmp_path / "pq").glob("records-*.parquet"))
    assert list((tmp_path / "j").glob("records-*.jsonl")) and list((tmp_path / "dl").glob("dead_letters-*.csv"))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["records"] == 1 and summary["accounted"]
