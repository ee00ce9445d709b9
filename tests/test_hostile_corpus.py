"""The whole job over the hostile corpus (tests/corpus.py) and pdfplumber's odd PDFs.

One run, two workers, 100 dpi: every input must end as exactly one record or
one dead letter, with the outcome its corpus entry allows; nothing crashes,
nothing hangs (pytest-timeout), and every dead letter's message says what to
do. The outcome table is printed (``pytest -s`` shows it) and written to
``outcomes.txt`` beside the run's output.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from paperbeam.errors import ExitCode

OK_CODES = (ExitCode.OK, ExitCode.OK_WITH_DEAD_LETTERS)

import corpus as C
from paperbeam import cli

# What a message must contain to tell the user what to do: one of these verbs.
ACTIONS = ("raise", "re-export", "export", "convert", "give", "check", "repair", "install", "split", "re-copy",
           "run again", "lower", "decrypt")


def _lines(out: Path, prefix: str):
    rows = []
    for path in sorted(glob.glob(str(out / f"{prefix}-*.jsonl"))):
        rows += [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


def test_corpus_is_big_enough_and_labelled():
    assert len(C.CORPUS) >= 40
    kinds = Counter(e.kind for e in C.CORPUS)
    for kind in ("empty", "random bytes", "wrong extension", "truncated PDF", "broken xref", "damaged image",
                 "bomb / huge page", "1-bit CCITT TIFF", "password PDF", "active content"):
        assert kinds[kind] >= 1, kind
    for e in C.CORPUS:
        assert e.expected and all(o == C.RECORD or o[0].isupper() for o in e.expected), e


def test_corpus_is_deterministic(tmp_path):
    def digest(d):
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in d.iterdir()}

    C.build(tmp_path / "a")
    C.build(tmp_path / "b")
    assert digest(tmp_path / "a") == digest(tmp_path / "b")


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory, tesseract):
    root = tmp_path_factory.mktemp("hostile")
    inputs = root / "in"
    entries = C.build(inputs / "corpus")
    expected = {f"corpus/{e.name}": e for e in entries}
    from conftest import ODDITIES

    if ODDITIES.is_dir():  # copied into the temporary input only, never into the repository
        shutil.copytree(ODDITIES, inputs / "pdf-oddities")
        for p in sorted((inputs / "pdf-oddities").iterdir()):
            expected[f"pdf-oddities/{p.name}"] = None  # any one outcome; test_oddities.py checks them in detail
    out = root / "out"
    code = cli.main(["run", "--input", str(inputs), "--output", str(out), "--dpi", "100", "--workers", "2",
                     "--ocr-timeout", "120", "--max-document-seconds", "600"])
    prefix = str(inputs) + os.sep

    def rel(uri):
        return uri[len(prefix):] if uri.startswith(prefix) else uri

    outcomes = defaultdict(list)
    for r in _lines(out, "records"):
        outcomes[rel(r["source_uri"])].append((C.RECORD, ""))
    letters = _lines(out, "dead_letters")
    for d in letters:
        outcomes[rel(d["source_uri"])].append((d["error"], d["message"]))
    table = outcome_table(expected, outcomes)
    (root / "outcomes.txt").write_text(table, encoding="utf-8")
    print("\n" + table)
    return code, out, expected, outcomes, letters


def outcome_table(expected, outcomes) -> str:
    """Per class of input: files, records, dead letters by error."""
    by_kind = defaultdict(Counter)
    files = Counter()
    for name, entry in expected.items():
        kind = entry.kind if entry else "pdfplumber oddity"
        files[kind] += 1
        for outcome, _ in outcomes.get(name, [("MISSING", "")]):
            by_kind[kind][outcome] += 1
    rows = [f"{'class':22} {'files':>5}  outcomes", "-" * 72]
    for kind in sorted(files):
        parts = ", ".join(f"{k} {v}" for k, v in sorted(by_kind[kind].items(), key=lambda kv: (kv[0] != C.RECORD, kv[0])))
        rows.append(f"{kind:22} {files[kind]:5d}  {parts}")
    total = Counter()
    for c in by_kind.values():
        total.update(c)
    rows.append("-" * 72)
    rows.append(f"{'total':22} {sum(files.values()):5d}  " + ", ".join(f"{k} {v}" for k, v in sorted(total.items())))
    return "\n".join(rows)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_every_input_is_exactly_one_record_or_dead_letter(hostile_run):
    code, out, expected, outcomes, _ = hostile_run
    assert code in OK_CODES
    missing = sorted(set(expected) - set(outcomes))
    extra = sorted(set(outcomes) - set(expected))
    doubled = sorted(n for n, o in outcomes.items() if len(o) != 1)
    assert (missing, extra, doubled) == ([], [], [])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["accounted"] and summary["inputs"] == len(expected)
    assert summary["records"] + summary["dead_letters"] == len(expected)


@pytest.mark.slow
def test_each_outcome_is_one_the_corpus_allows(hostile_run):
    _, _, expected, outcomes, _ = hostile_run
    wrong = {
        name: (outcomes[name][0][0], sorted(entry.expected), outcomes[name][0][1][:160])
        for name, entry in expected.items()
        if entry is not None and name in outcomes and outcomes[name][0][0] not in entry.expected
    }
    assert wrong == {}


@pytest.mark.slow
def test_dead_letters_say_what_to_do(hostile_run):
    _, _, _, _, letters = hostile_run
    assert letters
    for d in letters:
        message = d["message"]
        assert message.strip(), d
        assert "bug" not in message.lower(), d  # every failure here was foreseen
        assert any(a in message.lower() for a in ACTIONS), d


@pytest.mark.slow
def test_limit_dead_letters_name_the_limit_and_the_value(hostile_run):
    _, _, _, _, letters = hostile_run
    limits = [d for d in letters if d["error"] == "LimitExceeded"]
    assert len(limits) >= 10
    for d in limits:
        assert "--max-" in d["message"], d
        assert any(ch.isdigit() for ch in d["message"]), d


@pytest.mark.slow
def test_output_names_never_come_from_input_names(hostile_run):
    """Inputs named '..%2f..%2fescape.pdf' or 'Rechnung März ; rm -rf.pdf' name no output file."""
    _, out, _, _, _ = hostile_run
    root = out.parent
    for path in root.rglob("*"):
        assert path.is_relative_to(root)
    names = [p.name for p in out.iterdir() if not p.name.startswith(".")]
    assert names and all(re.fullmatch(r"(records|dead_letters)-\d{5}-of-\d{5}\.jsonl|summary\.json", n) for n in names), names


@pytest.mark.slow
def test_dead_letters_never_quote_document_text(hostile_run):
    """The corpus's PDFs say 'INV-2001'; a dead letter names the problem, never the content."""
    _, _, _, _, letters = hostile_run
    for d in letters:
        assert "INV-2001" not in d["message"] and "pwned" not in d["message"], d
