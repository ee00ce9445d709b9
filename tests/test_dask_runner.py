"""The pipeline on a real dask.distributed cluster: a scheduler and two workers,
each a separate process on loopback, started here with the ``dask`` CLI.

The records must equal the DirectRunner's for the same inputs, the summary
must hold inputs = records + dead letters, and the runner's fixes
(paperbeam/pipelines/runners.py) are checked one by one on small Beam
pipelines: tagged outputs kept apart, every sink written, finish_bundle
outputs and side inputs, a Reshuffle that really spreads the work, DoFn setup
once per worker process, and counters.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import apache_beam as beam
import pytest

from paperbeam.pipelines import batch
from paperbeam.pipelines.options import RunConfig
from paperbeam.pipelines.runners import runner_and_options

import fixtures as F

pytestmark = pytest.mark.slow

DASK = str(Path(sys.executable).with_name("dask"))


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"{what} did not happen within {timeout} s")


@pytest.fixture(scope="module")
def dask_address(tmp_path_factory):
    """``tcp://127.0.0.1:PORT`` of a scheduler with two single-threaded worker processes."""
    pytest.importorskip("distributed")
    if not os.path.exists(DASK):
        pytest.skip(f"the dask CLI is not at {DASK}; pip install 'apache-beam[dask]'")
    work = tmp_path_factory.mktemp("dask-cluster")
    # the workers import paperbeam (installed) and, for the DoFns defined below, this test module
    tests = str(Path(__file__).resolve().parent)
    env = dict(os.environ, OMP_THREAD_LIMIT="1", PYTHONWARNINGS="ignore",
               PYTHONPATH=os.pathsep.join(filter(None, [tests, os.environ.get("PYTHONPATH")])))
    scheduler_file = work / "scheduler.json"
    log = open(work / "cluster.log", "wb")
    procs = []

    def start(*args):
        procs.append(subprocess.Popen([DASK, *args], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work))

    try:
        start("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file))
        _wait_for(lambda: scheduler_file.exists() and scheduler_file.stat().st_size, 30, "the scheduler start")
        address = json.loads(scheduler_file.read_text())["address"]
        for i in range(2):
            start("worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard", "--name", f"w{i}",
                  "--local-directory", str(work / f"w{i}"), "--host", "127.0.0.1")
        from distributed import Client

        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        log.close()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A text PDF, a 2-page TIFF and a PNG to OCR, and an empty file (a dead letter)."""
    d = tmp_path_factory.mktemp("dask-in")
    F.make_invoice_pdf(d)
    F.make_tiff(d)
    F.make_png(d)
    F.make_empty(d)
    return d


def _records(out: Path):
    rows = {}
    for path in glob.glob(str(out / "records-*.jsonl")):
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            for page in rec.get("pages", []):
                page.pop("seconds", None)  # wall time differs between any two runs
            rows[os.path.basename(rec["source_uri"])] = rec
    return rows


def _dead_letters(out: Path):
    return sorted(
        (os.path.basename(json.loads(line)["source_uri"]), json.loads(line)["error"])
        for path in glob.glob(str(out / "dead_letters-*.jsonl"))
        for line in Path(path).read_text(encoding="utf-8").splitlines()
    )


def test_records_equal_the_direct_runners(dask_address, inputs, tmp_path, tesseract):
    direct = batch.run(RunConfig(input=str(inputs), output=str(tmp_path / "direct"), workers=1))
    dask = batch.run(RunConfig(input=str(inputs), output=str(tmp_path / "dask"), runner="dask", dask_address=dask_address))
    assert (dask.inputs, dask.records, dask.dead_letters) == (direct.inputs, direct.records, direct.dead_letters) == (4, 3, 1)
    assert dask.accounted and dask.pages == direct.pages == 4
    assert _records(tmp_path / "dask") == _records(tmp_path / "direct")
    assert _dead_letters(tmp_path / "dask") == _dead_letters(tmp_path / "direct") == [("empty.pdf", "EmptyDocument")]
    # counters come back from the workers (Beam's own DaskRunner reports none)
    assert dask.metrics["paperbeam:inputs"] == 4 and dask.metrics["paperbeam:pages_ocr"] == 3


def test_cli_runs_on_the_dask_address(dask_address, inputs, tmp_path, tesseract):
    from paperbeam import cli

    out = tmp_path / "out"
    code = cli.main(["run", "--input", str(inputs), "--output", str(out), "--runner", "dask", "--dask-address", dask_address, "--json"])
    from paperbeam.errors import ExitCode

    assert code == getattr(ExitCode, "OK_WITH_DEAD_LETTERS", ExitCode.OK)  # one input is a dead letter
    summary = json.loads((out / "summary.json").read_text())
    assert summary["accounted"] and summary["inputs"] == 4 and summary["config"]["dask_address"] == dask_address


class _Route(beam.DoFn):
    def process(self, n):
        if n % 3 == 0:
            yield beam.pvalue.TaggedOutput("odd_ones", n)
        else:
            yield n


class _CountSetup(beam.DoFn):
    """Writes one file per setup() call, named by process id."""

    def __init__(self, directory: str):
        self.directory = directory

    def setup(self):
        Path(self.directory, f"setup-{os.getpid()}-{time.monotonic_ns()}").touch()

    def start_bundle(self):
        self.in_bundle = 0

    def process(self, element):
        beam.metrics.Metrics.counter("test", "seen").inc()
        self.in_bundle += 1
        yield element, os.getpid()

    def finish_bundle(self):
        if self.in_bundle:
            Path(self.directory, f"bundle-{os.getpid()}-{time.monotonic_ns()}-{self.in_bundle}").touch()


def _run_on_dask(address, build, extra=()):
    runner, options = runner_and_options(RunConfig(input=".", output=".", runner="dask", dask_address=address), list(extra))
    pipeline = beam.Pipeline(runner=runner, options=options)
    build(pipeline)
    result = pipeline.run()
    result.wait_until_finish()
    return result


def _lines(prefix: Path):
    return sorted(line for p in glob.glob(f"{prefix}*") for line in Path(p).read_text().splitlines())


def test_runner_fixes_on_a_small_pipeline(dask_address, tmp_path):
    """Tagged outputs apart, every sink written, side inputs, Reshuffle fan-out, setup once per process, counters."""
    setups = tmp_path / "setups"
    setups.mkdir()

    def build(p):
        numbers = p | beam.Create(list(range(60)))
        routed = numbers | beam.ParDo(_Route()).with_outputs("odd_ones", main="rest")
        total = numbers | "Sum" >> beam.CombineGlobally(sum)
        spread = (
            routed.rest
            | beam.Reshuffle()
            | beam.ParDo(_CountSetup(str(setups)))
            | "WithTotal" >> beam.Map(lambda kv, t: (kv[0], kv[1], t), t=beam.pvalue.AsSingleton(total))
        )
        spread | "Rest" >> beam.Map(lambda x: str(x[0])) | "WriteRest" >> beam.io.WriteToText(str(tmp_path / "rest"))
        spread | "Pids" >> beam.Map(lambda x: f"{x[1]}") | "WritePids" >> beam.io.WriteToText(str(tmp_path / "pids"))
        routed.odd_ones | "Odd" >> beam.Map(str) | "WriteOdd" >> beam.io.WriteToText(str(tmp_path / "odd"))
        spread | "Totals" >> beam.Map(lambda x: x[2]) | beam.Distinct() | beam.Map(str) | "WriteTotal" >> beam.io.WriteToText(str(tmp_path / "total"))

    result = _run_on_dask(dask_address, build)
    assert _lines(tmp_path / "odd") == sorted(str(n) for n in range(60) if n % 3 == 0)
    assert _lines(tmp_path / "rest") == sorted(str(n) for n in range(60) if n % 3)
    assert _lines(tmp_path / "total") == [str(sum(range(60)))]
    # The Reshuffle dealt the 40 elements round-robin into 8 partitions (4 x 2 worker threads):
    # 8 bundles of about 5, which Dask may run on either worker (Beam's DaskRunner: 1 bundle of 40).
    bundles = sorted(int(p.name.rsplit("-", 1)[1]) for p in setups.glob("bundle-*"))
    assert len(bundles) == 8 and sum(bundles) == 40 and bundles[-1] - bundles[0] <= 2, bundles
    # setup ran at most once per worker process, not once per bundle
    pids = {p.name.split("-")[1] for p in setups.glob("setup-*")}
    assert len(list(setups.glob("setup-*"))) == len(pids) <= 2
    assert pids == set(_lines(tmp_path / "pids"))
    counters = result.metrics().query()["counters"]
    assert sum(c.committed for c in counters if c.key.metric.name == "seen") == 40


def test_no_worker_is_a_config_error(tmp_path):
    """A scheduler without workers fails in seconds with a message, instead of hanging."""
    pytest.importorskip("distributed")
    from distributed import LocalCluster

    from paperbeam.errors import ConfigError

    with LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as cluster:
        with pytest.raises(ConfigError, match="No Dask worker"):
            _run_on_dask(cluster.scheduler_address, lambda p: p | beam.Create([1]), ["--dask_connection_timeout=2"])


def test_without_an_address_a_local_cluster_is_made_and_closed(inputs, tmp_path, tesseract):
    """``--runner dask`` alone: a local cluster of --workers processes, gone when the run returns."""
    import multiprocessing

    before = set(multiprocessing.active_children())
    summary = batch.run(RunConfig(input=str(inputs), output=str(tmp_path / "out"), runner="dask", workers=2))
    assert summary.accounted and (summary.records, summary.dead_letters) == (3, 1)
    leftover = _wait_for(lambda: set(multiprocessing.active_children()) - before == set() or None, 30, "the local cluster's exit")
    assert leftover
