"""The sources: files, manifest, zip archives, email. Each against the plugin
contract (every document found, each re-opened by its URI), the zip guards,
email attachments and headers, and whole runs through the CLI where pages are
read on a worker that re-opens an archive member or an attachment by URI."""

from __future__ import annotations

import io
import json
import mailbox
import shutil
import zipfile
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

import pytest

from paperbeam import plugins
from paperbeam.connectors.config import ConnectorSpec, load_yaml, options_of, split_uri
from paperbeam.errors import ConfigError, LimitExceeded
from paperbeam.testing.contract import SourceContract, run_config

SAMPLES = Path(__file__).resolve().parents[1] / "paperbeam" / "samples" / "documents"
PDF1, PDF2, PNG = SAMPLES / "invoice-000001.pdf", SAMPLES / "invoice-000002.pdf", SAMPLES / "receipt-000008.png"


def _expand(uri, tmp_path, **run_changes):
    """Every item a container source finds, without a pipeline: (documents, failures)."""
    from paperbeam.connectors.base import Failed

    source = plugins.build("sources", ConnectorSpec(uri), run_config(tmp_path).with_(**run_changes))
    source.precheck()
    transform = source.transform()
    docs, failed = [], []
    for container in transform.uris:
        for item in transform.expand_fn(container):
            (failed if isinstance(item, Failed) else docs).append(item)
    return docs, failed


def _lines(out: Path, prefix: str):
    rows = []
    for path in sorted(out.glob(f"{prefix}-*.jsonl")):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows


def _run(*argv) -> int:
    from paperbeam import cli

    return cli.main(["run", "--workers", "1", *argv])


# ---- URIs and config files ----

def test_uri_forms():
    assert split_uri("csv") == ("csv", "")
    assert split_uri("parquet:/data/out") == ("parquet", "/data/out")
    assert split_uri("parquet:///data/out") == ("parquet", "/data/out")
    assert split_uri("parquet:gs://b/out") == ("parquet", "gs://b/out")
    assert options_of(ConnectorSpec("zip:/a/*.zip?max_members=5", {"max_ratio": 9})) == ("zip", "/a/*.zip", {"max_members": "5", "max_ratio": 9})


def test_yaml_config_takes_uris_and_options_but_refuses_literal_secrets(tmp_path):
    good = tmp_path / "c.yaml"
    good.write_text("source: zip:/in/*.zip\nsinks:\n  - csv\n  - {uri: 'postgresql://app@db/x', password_env: PGPW, batch_size: 10}\n")
    specs = load_yaml(str(good))
    assert specs["source"].uri == "zip:/in/*.zip" and [s.uri for s in specs["sinks"]] == ["csv", "postgresql://app@db/x"]
    assert specs["sinks"][1].options == {"password_env": "PGPW", "batch_size": 10}
    bad = tmp_path / "bad.yaml"
    bad.write_text("sinks:\n  - {uri: 'postgresql://app@db/x', password: hunter2}\n")
    with pytest.raises(ConfigError, match="secret"):
        load_yaml(str(bad))


def test_unknown_source_lists_the_known_ones(tmp_path):
    with pytest.raises(ConfigError, match=r"Unknown source 'ftp'. Known: .*email.*files.*manifest.*zip"):
        plugins.build("sources", ConnectorSpec("ftp:/x"), run_config(tmp_path))


# ---- files and manifest ----

class TestFilesContract(SourceContract):
    name = "files"

    def make_uri(self, tmp_path):
        d = tmp_path / "in"
        d.mkdir()
        shutil.copy(PDF1, d)
        shutil.copy(PNG, d)
        return f"files:{d}", 2


class TestManifestContract(SourceContract):
    name = "manifest"

    def make_uri(self, tmp_path):
        d = tmp_path / "in"
        d.mkdir()
        shutil.copy(PDF1, d / "a.pdf")
        shutil.copy(PNG, tmp_path / "b.png")
        with zipfile.ZipFile(d / "z.zip", "w") as zf:
            zf.write(PDF2, "inner/c.pdf")
        (d / "list.txt").write_text(f"# this week's batch\na.pdf\n\n{tmp_path / 'b.png'}\nzip:{d / 'z.zip'}!/inner/c.pdf\n")
        return f"manifest:{d / 'list.txt'}", 3


def test_manifest_entry_that_is_missing_is_a_dead_letter(tmp_path):
    shutil.copy(PDF1, tmp_path / "a.pdf")
    (tmp_path / "list.txt").write_text("a.pdf\nmissing.pdf\n")
    docs, failed = _expand(f"manifest:{tmp_path / 'list.txt'}", tmp_path)
    assert [Path(d.uri).name for d in docs] == ["a.pdf"]
    assert [Path(f.uri).name for f in failed] == ["missing.pdf"]


def test_an_empty_manifest_stops_the_run_before_it_starts(tmp_path):
    (tmp_path / "list.txt").write_text("# nothing yet\n")
    with pytest.raises(ConfigError, match="lists no documents"):
        plugins.build("sources", ConnectorSpec(f"manifest:{tmp_path / 'list.txt'}"), run_config(tmp_path)).precheck()


# ---- zip ----

def _zip(path: Path, members: dict, compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name) if name.startswith(("/", "..")) else name, data)
    return path


class TestZipContract(SourceContract):
    name = "zip"

    def make_uri(self, tmp_path):
        _zip(tmp_path / "a.zip", {"invoices/one.pdf": PDF1.read_bytes(), "two.pdf": PDF2.read_bytes(), "dir/": b""})
        _zip(tmp_path / "b.zip", {"scan.png": PNG.read_bytes(), "__MACOSX/._scan.png": b"junk"})
        return f"zip:{tmp_path}/*.zip", 3


def test_zip_members_that_escape_are_refused(tmp_path):
    _zip(tmp_path / "evil.zip", {"../../etc/evil.pdf": PDF1.read_bytes(), "/abs.pdf": PDF1.read_bytes(),
                                 "ok/../../up.pdf": PDF1.read_bytes(), "fine.pdf": PDF2.read_bytes()})
    docs, failed = _expand(f"zip:{tmp_path / 'evil.zip'}", tmp_path)
    assert [d.metadata["member"] for d in docs] == ["fine.pdf"]
    assert sorted(type(f.error).__name__ for f in failed) == ["UnsafeMember"] * 3


def test_zip_bomb_members_are_refused(tmp_path):
    bomb = b"\0" * (8 * 1024 * 1024)  # 8 MiB of zeros: deflates about 1000 to 1
    _zip(tmp_path / "bomb.zip", {"bomb.pdf": b"%PDF-1.4\n" + bomb, "real.pdf": PDF1.read_bytes()})
    docs, failed = _expand(f"zip:{tmp_path / 'bomb.zip'}", tmp_path)
    assert [d.metadata["member"] for d in docs] == ["real.pdf"]
    assert isinstance(failed[0].error, LimitExceeded) and "zip bomb" in str(failed[0].error)
    # and the per-document size limit holds inside archives too
    docs, failed = _expand(f"zip:{tmp_path / 'bomb.zip'}?max_ratio=100000", tmp_path, max_file_bytes=1024 * 1024)
    assert [d.metadata["member"] for d in docs] == ["real.pdf"] and "--max-file-bytes" in str(failed[0].error)


def test_zip_with_too_many_members_or_broken_is_one_dead_letter(tmp_path):
    _zip(tmp_path / "many.zip", {f"{i}.pdf": PDF1.read_bytes()[:100] for i in range(5)})
    source = plugins.build("sources", ConnectorSpec(f"zip:{tmp_path / 'many.zip'}?max_members=3"), run_config(tmp_path))
    with pytest.raises(LimitExceeded, match="max_members"):
        list(source.expand_one(str(tmp_path / "many.zip")))
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not a zip at all")
    with pytest.raises(Exception, match="not a readable zip"):
        list(source.expand_one(str(tmp_path / "broken.zip")))


def test_a_zip_run_reads_pages_by_member_uri(tmp_path):
    archive = _zip(tmp_path / "batch.zip", {"a/one.pdf": PDF1.read_bytes(), "two.pdf": PDF2.read_bytes(), "notes.txt": b"hello"})
    out = tmp_path / "out"
    from paperbeam.errors import ExitCode

    assert _run("--source", f"zip:{archive}", "--output", str(out)) == int(ExitCode.OK_WITH_DEAD_LETTERS)  # notes.txt
    records = {r["metadata"]["member"]: r for r in _lines(out, "records")}
    assert sorted(records) == ["a/one.pdf", "two.pdf"]
    assert records["two.pdf"]["source_uri"] == f"zip:{archive}!/two.pdf"
    assert records["two.pdf"]["fields"]["total_amount"]["normalized"] == "3053.61"
    dead = _lines(out, "dead_letters")
    assert [d["source_uri"] for d in dead] == [f"zip:{archive}!/notes.txt"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["inputs"] == 3 and summary["accounted"]


def test_worker_processes_reopen_members_through_the_registry(tmp_path):
    """Two worker processes: pages are read in processes that only have the member's URI."""
    from paperbeam import cli
    from paperbeam.errors import ExitCode

    archive = _zip(tmp_path / "batch.zip", {"one.pdf": PDF1.read_bytes(), "two.pdf": PDF2.read_bytes()})
    out = tmp_path / "out"
    assert cli.main(["run", "--workers", "2", "--source", f"zip:{archive}", "--output", str(out)]) == int(ExitCode.OK)
    assert sorted(r["metadata"]["member"] for r in _lines(out, "records")) == ["one.pdf", "two.pdf"]


# ---- email ----

def _png(color) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (40, 20), color).save(buf, "PNG")
    return buf.getvalue()


def _message(subject: str, attachments=(), logo=True, msgid=None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "ACME Billing <billing@acme.example>"
    msg["To"] = "ap@example.com"
    msg["Subject"] = subject
    msg["Date"] = formatdate(1700000000, usegmt=True)
    msg["Message-ID"] = msgid or f"<{abs(hash(subject))}@acme.example>"
    msg.set_content("Please find the invoice attached.")
    msg.add_alternative("<p>Please find the invoice attached.</p><img src='cid:logo@acme'>", subtype="html")
    if logo:  # an image embedded in the HTML body: a logo, not a document
        msg.get_payload()[1].add_related(_png("red"), "image", "png", cid="<logo@acme>")
    for name, data, mtype in attachments:
        main, sub = mtype.split("/")
        msg.add_attachment(data, maintype=main, subtype=sub, filename=name)
    return msg


def _maildir(path: Path, messages) -> Path:
    box = mailbox.Maildir(str(path), create=True)
    for m in messages:
        box.add(m)
    box.close()
    return path


class TestEmailContract(SourceContract):
    name = "email"

    def make_uri(self, tmp_path):
        d = tmp_path / "mail"
        d.mkdir()
        (d / "one.eml").write_bytes(bytes(_message("Invoice 1", [("inv.pdf", PDF1.read_bytes(), "application/pdf")])))
        box = mailbox.mbox(str(d / "archive.mbox"))
        box.add(_message("Invoice 2", [("inv2.pdf", PDF2.read_bytes(), "application/pdf"),
                                       ("photo.png", PNG.read_bytes(), "image/png")]))
        box.add(_message("No attachment here"))
        box.close()
        _maildir(d / "Maildir", [_message("Invoice 3", [("scan.bin", PDF1.read_bytes(), "application/octet-stream")])])
        return f"email:{d}", 4


def test_email_attachments_carry_the_message_headers(tmp_path):
    eml = tmp_path / "m.eml"
    eml.write_bytes(bytes(_message("Invoice INV-1042 – October", [("inv.pdf", PDF1.read_bytes(), "application/pdf"),
                                                                  ("terms.txt", b"terms", "text/plain")], msgid="<inv1042@acme.example>")))
    docs, failed = _expand(f"email:{eml}", tmp_path)
    assert not failed and len(docs) == 1  # the PDF; not the logo, not the text file
    meta = docs[0].metadata
    assert meta["sender"] == "ACME Billing <billing@acme.example>"
    assert meta["subject"] == "Invoice INV-1042 – October"
    assert meta["message_id"] == "<inv1042@acme.example>"
    assert meta["date"] == "2023-11-14T22:13:20+00:00"
    assert meta["attachment"] == "inv.pdf"


def test_an_email_run_puts_the_headers_in_the_record(tmp_path):
    box = _maildir(tmp_path / "Maildir", [
        _message("Invoice 7", [("inv.pdf", PDF2.read_bytes(), "application/pdf")], msgid="<seven@acme.example>"),
        _message("Just saying hello"),
    ])
    out = tmp_path / "out"
    assert _run("--source", f"email:{box}", "--output", str(out)) == 0
    (record,) = _lines(out, "records")
    assert record["source_uri"].startswith(f"email:{box}#msg=")
    assert record["metadata"]["message_id"] == "<seven@acme.example>" and record["metadata"]["subject"] == "Invoice 7"
    assert record["fields"]["total_amount"]["normalized"] == "3053.61"
    assert json.loads((out / "summary.json").read_text())["inputs"] == 1


def test_a_folder_that_is_not_a_maildir_is_searched_and_an_empty_one_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="No mailboxes"):
        plugins.build("sources", ConnectorSpec(f"email:{tmp_path / 'empty'}"), run_config(tmp_path)).precheck()
