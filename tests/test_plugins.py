"""The plugin registry: entry points for built-ins and third parties alike,
unknown and duplicate names, `paperbeam plugins`, plugins inside Beam workers,
and the example third-party package, pip-installed and used through its entry
point, passing the contract suite."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from paperbeam import plugins
from paperbeam.connectors.config import ConnectorSpec
from paperbeam.errors import ConfigError
from paperbeam.testing.contract import ExtractorContract, OcrEngineContract, SinkContract, beam_pickles, run_config

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "paperbeam-example-plugin"

BUILTIN = {
    "sources": {"files", "manifest", "zip", "email"},
    "sinks": {"jsonl", "csv", "parquet", "postgresql"},
    "ocr_engines": {"tesseract"},
    "extractors": {"rules"},
}


@pytest.fixture(scope="module")
def example_plugin(tmp_path_factory):
    """The example package pip-installed (from a copy, so the repo stays clean) into
    its own directory, put on sys.path as an installed package would be."""
    work = tmp_path_factory.mktemp("plugin")
    src, target = work / "src", work / "site"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    try:
        import setuptools  # noqa: F401 - present: build offline with it; absent (Python 3.12+ venvs): pip fetches it
        offline = ["--no-build-isolation", "--no-index"]
    except ImportError:
        offline = []
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", *offline, "--target", str(target), str(src)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    sys.path.insert(0, str(target))
    plugins.reset()
    yield target
    sys.path.remove(str(target))
    for name in [m for m in sys.modules if m.startswith("paperbeam_example_plugin")]:
        del sys.modules[name]
    plugins.reset()


def _env_with(target: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(target), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def test_builtins_are_registered_through_entry_points_like_any_plugin():
    table = plugins.describe()
    for group, expected in BUILTIN.items():
        rows = {r["name"]: r for r in table[group]}
        assert expected <= set(rows), f"{group}: missing {expected - set(rows)} (setup.py entry points; reinstall with pip install -e .)"
        for name in expected:
            assert rows[name]["package"] == "paperbeam" and rows[name]["version"] != "?"
            assert plugins.load(group, name).name in (name, "postgresql")


def test_an_unknown_name_is_rejected_with_the_known_ones(tmp_path):
    with pytest.raises(ConfigError, match=r"Unknown sink 'excel'. Known: csv, jsonl, .*parquet.*postgresql"):
        plugins.build("sinks", ConnectorSpec("excel:/tmp/x"), run_config(tmp_path))
    with pytest.raises(ConfigError, match=r"Unknown OCR engine|Unknown ocr engine"):
        plugins.load("ocr_engines", "nope")


def test_a_duplicate_name_from_another_package_is_rejected(tmp_path):
    dist = tmp_path / "impostor-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: impostor\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[paperbeam.sinks]\ncsv = impostor.sink:Csv\n")
    sys.path.insert(0, str(tmp_path))
    plugins.reset()
    try:
        with pytest.raises(ConfigError, match=r"Two installed packages register a sink named 'csv'.*impostor 1.0.*uninstall one"):
            plugins.load("sinks", "csv")
    finally:
        sys.path.remove(str(tmp_path))
        plugins.reset()
    assert plugins.load("sinks", "csv").name == "csv"


def test_every_builtin_connector_pickles_for_the_workers(tmp_path, monkeypatch):
    """Beam ships sources and sinks (and their transforms) to workers: nothing unpicklable inside."""
    (tmp_path / "in").mkdir()
    shutil.copy(REPO / "paperbeam" / "samples" / "documents" / "invoice-000001.pdf", tmp_path / "in")
    (tmp_path / "list.txt").write_text("in/invoice-000001.pdf\n")
    run = run_config(tmp_path).with_(input=str(tmp_path / "in"))
    for uri in ("files", f"manifest:{tmp_path / 'list.txt'}", "zip", "email"):
        source = beam_pickles(plugins.build("sources", ConnectorSpec(uri), run))
        assert source.name == uri.split(":")[0]
    monkeypatch.setenv("PB_TEST_PW", "zebra-secret-77")
    for uri in ("jsonl", "csv", "parquet", "postgresql://u@h/db?password_env=PB_TEST_PW"):
        sink = plugins.build("sinks", ConnectorSpec(uri), run)
        again = beam_pickles(sink)
        beam_pickles(sink.records())
        assert repr(again) == repr(sink) and "zebra-secret-77" not in repr(sink)


def test_the_plugins_command_lists_what_is_installed_with_versions(example_plugin):
    proc = subprocess.run([sys.executable, "-m", "paperbeam.cli", "plugins", "--json", "--check"],
                          capture_output=True, text=True, env=_env_with(example_plugin), timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    table = json.loads(proc.stdout)
    sinks = {r["name"]: r for r in table["sinks"]}
    assert sinks["totals-tsv"]["package"] == "paperbeam-example-plugin" and sinks["totals-tsv"]["version"] == "0.3.1"
    assert sinks["totals-tsv"]["status"] == "ok"
    assert {"csv", "parquet", "postgresql"} <= set(sinks)
    text = subprocess.run([sys.executable, "-m", "paperbeam.cli", "plugins"], capture_output=True, text=True,
                          env=_env_with(example_plugin), timeout=120, cwd=REPO).stdout
    assert "totals-tsv" in text and "paperbeam-example-plugin 0.3.1" in text


@pytest.mark.usefixtures("example_plugin")
class TestExamplePluginContract(SinkContract):
    """The contract suite, run here on the third-party sink exactly as its own tests run it."""

    name = "totals-tsv"

    def make_uri(self, tmp_path):
        return f"totals-tsv:{tmp_path / 'tsv'}"

    def read_back(self, sink):
        ids = []
        for path in sorted(Path(sink.output).glob("totals-*.tsv")):
            ids += [line.split("\t", 1)[0] for line in path.read_text().splitlines()[1:] if line]
        return ids


def test_the_example_plugins_own_contract_tests_pass(example_plugin):
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
                          capture_output=True, text=True, env=_env_with(example_plugin), timeout=300, cwd=str(example_plugin))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]


def test_a_run_uses_the_third_party_sink_by_name(example_plugin, tmp_path):
    docs = tmp_path / "in"
    docs.mkdir()
    shutil.copy(REPO / "paperbeam" / "samples" / "documents" / "invoice-000002.pdf", docs)
    proc = subprocess.run(
        [sys.executable, "-m", "paperbeam.cli", "run", "--input", str(docs), "--output", str(tmp_path / "out"),
         "--workers", "1", "--sink", "totals-tsv"],
        capture_output=True, text=True, env=_env_with(example_plugin), timeout=300, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (tsv,) = (tmp_path / "out").glob("totals-*.tsv")
    header, line = tsv.read_text().splitlines()
    assert header.startswith("id\tvendor_name") and line.split("\t")[3] == "3053.61"


def test_a_sink_that_holds_no_dead_letters_is_refused_as_dead_letter_sink(example_plugin, tmp_path):
    from paperbeam.connectors import Connectors

    connectors = Connectors.from_specs(run_config(tmp_path), dead_letter_sinks=[ConnectorSpec(f"totals-tsv:{tmp_path}")])
    with pytest.raises(ConfigError, match="cannot hold dead letters"):
        connectors.precheck()


class TestTesseractContract(OcrEngineContract):
    """The contract suite's OCR-engine checks, on the built-in engine (needs tesseract installed)."""

    name = "tesseract"

    @pytest.fixture(autouse=True)
    def _needs_tesseract(self, tesseract):
        pass


class TestRulesContract(ExtractorContract):
    name = "rules"
