"""The nightly pieces alone, no pipeline: input selection, the ledger (SQLite, and the
real PostgreSQL of scripts/postgres.sh when it starts here), the locks, atomic
commit and recovery, and --config with environment overrides."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from paperbeam import cli
from paperbeam.errors import AlreadyRunning, ConfigError
from paperbeam.nightly import commit as C
from paperbeam.nightly import config as nconfig
from paperbeam.nightly.incremental import InputFile, select
from paperbeam.nightly.ledger import STATUS_DEAD, STATUS_RECORD, Entry, mask, open_ledger
from paperbeam.nightly.lock import FileLock
from paperbeam.pipelines.options import RunConfig

REPO = Path(__file__).resolve().parents[1]
KEY = "v1"


def _entry(uri, status=STATUS_RECORD, size=10, mtime=1.0, key=KEY, doc_id="h", output_file="records-r1-00000-of-00001.jsonl"):
    return Entry(uri, doc_id, size, mtime, key, status, None if status == STATUS_RECORD else "read: EmptyDocument",
                 output_file, "r1")


# -- selection ------------------------------------------------------------------------------------


def test_select_skips_unchanged_and_picks_new_changed_and_version_changes():
    known = {"/a": _entry("/a"), "/b": _entry("/b"), "/c": _entry("/c", key="old"), "/gone": _entry("/gone")}
    inputs = [InputFile("/a", 10, 1.0), InputFile("/b", 11, 2.0), InputFile("/c", 10, 1.0), InputFile("/new", 5, 1.0)]
    hashed = []
    sel = select(inputs, known, KEY, hasher=lambda uri: hashed.append(uri) or "h")
    assert [f.uri for f in sel.process] == ["/b", "/c", "/new"]
    assert sel.reasons == {"changed": 1, "versions_changed": 1, "new": 1}
    assert sel.skipped == {"unchanged": 1} and sel.gone == 1
    assert hashed == []  # a size change needs no hash; nothing else was opened


def test_a_touched_file_with_the_same_content_is_hashed_once_and_skipped():
    known = {"/a": _entry("/a", doc_id="same"), "/b": _entry("/b", doc_id="old")}
    inputs = [InputFile("/a", 10, 5.0), InputFile("/b", 10, 5.0)]
    sel = select(inputs, known, KEY, hasher=lambda uri: "same")
    assert [f.uri for f in sel.process] == ["/b"] and sel.hashed == 2
    assert sel.touched == [("/a", 10, 5.0)]


def test_dead_letters_are_skipped_unless_retried_and_force_takes_everything():
    known = {"/a": _entry("/a"), "/d": _entry("/d", status=STATUS_DEAD)}
    inputs = [InputFile("/a", 10, 1.0), InputFile("/d", 10, 1.0)]
    assert select(inputs, known, KEY).skipped == {"unchanged": 1, "dead_letter": 1}
    retry = select(inputs, known, KEY, retry_dead_letters=True)
    assert [f.uri for f in retry.process] == ["/d"] and retry.reasons == {"retry_dead_letter": 1}
    assert select(inputs, known, KEY, force=True).reasons == {"forced": 2}


# -- ledger ---------------------------------------------------------------------------------------


def _roundtrip(ledger, output):
    ledger.claim_output(output)
    with pytest.raises(ConfigError, match="belongs to the output"):
        ledger.claim_output(output + "-other")
    ledger.begin_run("r1", output, output + "/.staging-r1", KEY, {"paperbeam": "x"})
    assert [r["run_id"] for r in ledger.runs("running")] == ["r1"]
    entries = [_entry("/a"), _entry("/d", status=STATUS_DEAD, output_file="dead_letters-r1-00000-of-00001.jsonl")]
    ledger.commit_run("r1", entries, {"records-r0-00000-of-00001.jsonl": ["/a"]}, {"inputs": 2})
    assert ledger.runs("running") == [] and [r["run_id"] for r in ledger.runs("committed")] == ["r1"]
    known = ledger.known()
    assert known["/a"] == entries[0] and known["/d"].status == STATUS_DEAD
    assert ledger.cleanups() == {"records-r0-00000-of-00001.jsonl": {"/a"}}
    ledger.cleanup_done("records-r0-00000-of-00001.jsonl")
    assert ledger.cleanups() == {}
    ledger.touch([("/a", 10, 9.5)])
    assert ledger.known()["/a"].mtime == 9.5
    assert ledger.versions(KEY) == {"paperbeam": "x"}


def test_sqlite_ledger_roundtrip(tmp_path):
    ledger = open_ledger(str(tmp_path / "l.sqlite"))
    try:
        _roundtrip(ledger, str(tmp_path / "out"))
    finally:
        ledger.close()


@pytest.fixture(scope="module")
def pg_dsn():
    """A fresh schema in the local PostgreSQL of scripts/postgres.sh (skipped where it cannot start)."""
    dsn = os.environ.get("PAPERBEAM_TEST_PG_DSN")
    if not dsn:
        try:
            proc = subprocess.run(["bash", str(REPO / "scripts" / "postgres.sh")], capture_output=True, text=True, timeout=180)
        except (OSError, subprocess.TimeoutExpired) as exc:
            pytest.skip(f"scripts/postgres.sh did not run: {exc}")
        if proc.returncode != 0 or not proc.stdout.strip():
            pytest.skip(f"no PostgreSQL here: {proc.stderr[-300:]}")
        dsn = proc.stdout.strip().splitlines()[-1]
    psycopg = pytest.importorskip("psycopg")
    from paperbeam.nightly.ledger import _split_password_file

    schema = f"nightly_{uuid.uuid4().hex[:8]}"
    conninfo, password = _split_password_file(dsn)
    with psycopg.connect(conninfo, password=password, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in dsn else "?"
    yield f"{dsn}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(conninfo, password=password, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def test_postgres_ledger_roundtrip_and_advisory_lock(pg_dsn, tmp_path):
    ledger = open_ledger(pg_dsn)
    other = open_ledger(pg_dsn)
    try:
        _roundtrip(ledger, str(tmp_path / "out"))
        held = ledger.lock().acquire("r-first")
        with pytest.raises(AlreadyRunning, match="r-first"):
            other.lock().acquire("r-second")
        held.release()
        other.lock().acquire("r-second").release()  # free again once released
    finally:
        ledger.close()
        other.close()


def test_masks_a_password_in_a_ledger_url():
    assert mask("postgresql://u:hunter2@db:5432/x?sslmode=require") == "postgresql://u:***@db:5432/x?sslmode=require"
    assert mask("/var/lib/paperbeam/ledger.sqlite") == "/var/lib/paperbeam/ledger.sqlite"
    report = RunConfig(input="i", output="o", ledger="postgresql://u:hunter2@db/x",
                       beam_args=("--aws_secret_access_key", "AKIA", "--s3_endpoint_url=http://k:pw@h")).to_report()
    text = json.dumps(report)
    assert "hunter2" not in text and "AKIA" not in text and ":pw@" not in text
    assert report["ledger"] == "postgresql://u:***@db/x"


# -- lock -----------------------------------------------------------------------------------------


def test_file_lock_refuses_a_second_holder_and_names_the_first(tmp_path):
    first = FileLock(str(tmp_path / "l.lock")).acquire("run-one")
    with pytest.raises(AlreadyRunning, match="run-one"):
        FileLock(str(tmp_path / "l.lock")).acquire("run-two")
    first.release()
    FileLock(str(tmp_path / "l.lock")).acquire("run-two").release()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    """The OS drops a flock with its process, even on SIGKILL."""
    code = (f"from paperbeam.nightly.lock import FileLock; import os, signal; "
            f"FileLock({str(tmp_path / 'l.lock')!r}).acquire('doomed'); os.kill(os.getpid(), signal.SIGKILL)")
    proc = subprocess.run([os.sys.executable, "-c", code], timeout=60)
    assert proc.returncode == -9
    FileLock(str(tmp_path / "l.lock")).acquire("next").release()


# -- commit and recovery --------------------------------------------------------------------------


def _write(path: Path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_drop_rows_rewrites_a_shard_and_removes_an_emptied_one(tmp_path):
    shard = tmp_path / "records-r0-00000-of-00001.jsonl"
    _write(shard, [{"source_uri": "/a"}, {"source_uri": "/b"}])
    assert C.drop_rows(str(shard), {"/a"}) == 1
    assert [json.loads(x)["source_uri"] for x in shard.read_text().splitlines()] == ["/b"]
    assert C.drop_rows(str(shard), {"/b"}) == 1 and not shard.exists()


def test_recovery_rolls_back_a_running_run_and_forward_a_committed_one(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    ledger = open_ledger(str(out / ".paperbeam" / "ledger.sqlite"))
    try:
        _write(out / "records-r0-00000-of-00001.jsonl", [{"source_uri": "/a"}, {"source_uri": "/b"}])
        # r1 was killed after its ledger commit: one shard still staged, its superseded row not yet removed
        staging1 = Path(C.prepare(str(out), "r1"))
        _write(staging1 / "records-00000-of-00001.jsonl", [{"source_uri": "/a", "id": "h2"}])
        ledger.begin_run("r1", str(out), str(staging1), KEY, {})
        ledger.commit_run("r1", [_entry("/a", output_file="records-r1-00000-of-00001.jsonl")],
                          {"records-r0-00000-of-00001.jsonl": ["/a"]}, {})
        # r2 was killed in the pipeline: only Beam's temporary files
        staging2 = Path(C.prepare(str(out), "r2"))
        (staging2 / "beam-temp-records-x").mkdir()
        ledger.begin_run("r2", str(out), str(staging2), KEY, {})
        report = C.recover_incremental(ledger, str(out))
        assert report["rolled_back"] == ["r2"] and report["rolled_forward"] == ["r1"] and report["rows_removed"] == 1
        assert not staging1.exists() and not staging2.exists()
        rows = [json.loads(line) for p in sorted(out.glob("records-*.jsonl")) for line in p.read_text().splitlines()]
        assert sorted(r["source_uri"] for r in rows) == ["/a", "/b"]  # /a once, from r1
        assert ledger.runs("running", "committed") == [] and ledger.cleanups() == {}
    finally:
        ledger.close()


def test_a_replacement_killed_halfway_is_finished_by_the_next_run(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    _write(out / "records-00000-of-00002.jsonl", [{"source_uri": "/old1"}])
    _write(out / "records-00001-of-00002.jsonl", [{"source_uri": "/old2"}])
    staging = Path(C.prepare(str(out), "r9"))
    _write(staging / "records-00000-of-00001.jsonl", [{"source_uri": "/new"}])
    _write(staging / "dead_letters-00000-of-00001.jsonl", [{"source_uri": "/bad"}])
    (staging / C.MANIFEST).write_text(json.dumps(C.staged_files(str(staging))))
    os.replace(staging / "dead_letters-00000-of-00001.jsonl", out / "dead_letters-00000-of-00001.jsonl")  # killed here
    report = C.recover_replace(str(out))
    assert report["rolled_forward"] == ["r9"]
    assert sorted(p.name for p in out.glob("*.jsonl")) == ["dead_letters-00000-of-00001.jsonl", "records-00000-of-00001.jsonl"]
    assert not staging.exists()


# -- --config and PAPERBEAM_<OPTION> ----------------------------------------------------------------


def _resolved(argv, env, tmp_path, yaml_text=None):
    if yaml_text is not None:
        (tmp_path / "nightly.yaml").write_text(yaml_text)
        argv = ["--config", str(tmp_path / "nightly.yaml"), *argv]
    args, _ = cli.build_parser().parse_known_args(["run", *argv])
    return nconfig.resolve(args, environ=env)


def test_command_line_beats_environment_beats_file_beats_default(tmp_path):
    yaml_text = "input: /in\noutput: /out\nworkers: 3\ndpi: 200\nocr: rapidocr\nincremental: true\nbeam_args: {temp_location: /tmp/t}\n"
    args, beam = _resolved(["--dpi", "150"], {"PAPERBEAM_WORKERS": "2", "PAPERBEAM_FORCE": "yes"}, tmp_path, yaml_text)
    assert (args.input, args.output) == ("/in", "/out")
    assert args.dpi == 150  # command line
    assert args.workers == 2  # environment over the file
    assert args.ocr_engine == "rapidocr" and args.incremental is True  # file
    assert args.force is True  # environment, a flag
    assert args.max_pages == 5000 and args.date_order == "day-first"  # defaults
    assert beam == ["--temp_location=/tmp/t"]


def test_a_command_line_value_equal_to_the_default_still_wins(tmp_path):
    args, _ = _resolved(["--workers", "0"], {}, tmp_path, "input: /in\noutput: /out\nworkers: 3\n")
    assert args.workers == 0


@pytest.mark.parametrize("yaml_text, message", [
    ("input: /in\noutput: /out\nworker: 2\n", "did you mean workers"),
    ("input: /in\noutput: /out\npdf_password: hunter2\n", "secrets never go in the config file"),
    ("input: /in\noutput: /out\ndpi: many\n", "dpi"),
    ("input: /in\noutput: /out\ndate-order: sideways\n", "not one of"),
    ("output: /out\n", "--input is required"),
    ("- just\n- a list\n", "must be a mapping"),
])
def test_config_mistakes_fail_at_once_with_exit_2(tmp_path, capsys, yaml_text, message):
    (tmp_path / "bad.yaml").write_text(yaml_text)
    code = cli.main(["run", "--config", str(tmp_path / "bad.yaml")])
    assert code == 2
    assert message in capsys.readouterr().err


def test_incremental_only_options_need_incremental(tmp_path, capsys, docs_dir):
    code = cli.main(["run", "--input", str(docs_dir / "invoice.pdf"), "--output", str(tmp_path / "o"), "--force"])
    assert code == 2 and "only apply with --incremental" in capsys.readouterr().err


def test_env_var_with_a_bad_value_names_the_variable(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PAPERBEAM_WORKERS", "lots")
    code = cli.main(["run", "--input", "/in", "--output", str(tmp_path / "o")])
    assert code == 2 and "PAPERBEAM_WORKERS" in capsys.readouterr().err
