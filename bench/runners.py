"""Pages/s of the same job on the DirectRunner and on Dask, with 1 and 2 workers.

    python bench/runners.py [--pages 12] [--dpi 200] [--workers 1,2] [--runners direct,dask] [--repeat 1]

Makes ``--pages`` one-page scans (dense A4 text, so every page is OCR'd), then
runs ``paperbeam run`` over them:

* ``direct``: the FnApiRunner with ``--workers N`` worker processes;
* ``dask``: a real dask.distributed scheduler with N single-threaded worker
  processes started here (as deploy/dask/start-cluster.sh does), reached with
  ``--dask-address``; the cluster's start-up is not timed, the job is.

Prints pages/s per runner and worker count, the N-worker / 1-worker ratio
against the ideal, and whether every run wrote the same records (page timings
aside).

``--latency`` instead times a pipeline whose step waits 0.25 s per element
without using a CPU (Create -> Reshuffle -> wait), on paperbeam's Dask runner
and on Beam's own DaskRunner, with 1 and 2 workers: how the runners
partition work, free of the CPU contention of a shared machine. With ``--repeat R`` every configuration runs R times, interleaved,
and the fastest run counts (the one least disturbed by other load). Timings
on a shared 2-core machine are noisy: compare ratios within one run, not
absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from pipeline import dense_page  # noqa: E402 - bench/pipeline.py: the same dense page the pipeline bench OCRs

DASK = str(Path(sys.executable).with_name("dask"))
PAPERBEAM = str(Path(sys.executable).with_name("paperbeam"))


def make_pages(directory: Path, pages: int, dpi: int) -> None:
    for i in range(pages):
        dense_page(i, dpi).save(directory / f"scan-{i:03d}.png", dpi=(dpi, dpi))


class DaskCluster:
    """A scheduler and ``workers`` single-threaded worker processes on loopback."""

    def __init__(self, workers: int, work: Path):
        self.workers, self.work, self.procs = workers, work, []

    def __enter__(self) -> str:
        env = dict(os.environ, OMP_THREAD_LIMIT="1", PYTHONWARNINGS="ignore",
                   PYTHONPATH=os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])))
        log = open(self.work / "dask.log", "ab")
        sched = self.work / f"scheduler-{self.workers}.json"
        self.procs.append(subprocess.Popen(
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(sched)],
            env=env, stdout=log, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 30
        while not (sched.exists() and sched.stat().st_size):
            if time.monotonic() > deadline:
                raise RuntimeError("the dask scheduler did not start; see " + str(self.work / "dask.log"))
            time.sleep(0.2)
        address = json.loads(sched.read_text())["address"]
        self.procs.append(subprocess.Popen(
            [DASK, "worker", address, "--nthreads", "1", "--nworkers", str(self.workers), "--no-dashboard",
             "--host", "127.0.0.1", "--local-directory", str(self.work / "dask-workers")],
            env=env, stdout=log, stderr=subprocess.STDOUT))
        from distributed import Client

        with Client(address, timeout=30) as client:
            client.wait_for_workers(self.workers, timeout=120)
        return address

    def __exit__(self, *exc):
        for p in reversed(self.procs):
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def run_job(inputs: Path, out: Path, runner: str, workers: int, extra=()) -> dict:
    cmd = [PAPERBEAM, "run", "--input", str(inputs), "--output", str(out), "--runner", runner, "--json", *extra]
    if runner == "direct":
        cmd += ["--workers", str(workers)]
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if proc.returncode not in (0, 5):  # 5: success with dead letters
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    summary = json.loads(proc.stdout[proc.stdout.index("{"):])
    summary["wall"] = wall
    return summary


def records(out: Path) -> dict:
    rows = {}
    for path in glob.glob(str(out / "records-*.jsonl")):
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            for page in rec.get("pages", []):
                page.pop("seconds", None)
            rows[rec["source_uri"]] = rec
    return rows


def wait_a_little(x):
    time.sleep(0.25)
    return x


def latency_bench(counts, elements: int = 32) -> None:
    """Create(elements) -> Reshuffle -> 0.25 s wait each, on both Dask runners."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.dask.dask_runner import DaskRunner

    from paperbeam.pipelines.options import RunConfig
    from paperbeam.pipelines.runners import runner_and_options

    print(f"{elements} elements, 0.25 s wait each (no CPU): Create -> Reshuffle -> Map(wait)")
    print(f"{'runner':<22} {'workers':>7} {'seconds':>8} {'vs 1 worker':>12}")
    with tempfile.TemporaryDirectory(prefix="paperbeam-bench-latency-") as tmp:
        for name in ("paperbeam dask", "Beam DaskRunner 2.77"):
            base = None
            for n in counts:
                with DaskCluster(n, Path(tmp)) as address:
                    if name == "paperbeam dask":
                        runner, options = runner_and_options(RunConfig(input=".", output=".", runner="dask", dask_address=address), [])
                    else:
                        runner, options = DaskRunner(), PipelineOptions([f"--dask_client_address={address}"])
                    pipeline = beam.Pipeline(runner=runner, options=options)
                    _ = pipeline | beam.Create(list(range(elements))) | beam.Reshuffle() | beam.Map(wait_a_little)
                    started = time.perf_counter()
                    result = pipeline.run()
                    result.wait_until_finish()
                    secs = time.perf_counter() - started
                    if getattr(result, "client", None) is not None:
                        result.client.close()  # Beam's DaskRunner leaves its client open
                base = base or secs
                print(f"{name:<22} {n:>7} {secs:>8.1f} {base / secs:>8.2f} (ideal {n / counts[0]:.0f})", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=12)
    ap.add_argument("--dpi", type=int, default=200)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--runners", default="direct,dask")
    ap.add_argument("--repeat", type=int, default=1, help="runs per configuration, interleaved; the fastest counts")
    ap.add_argument("--latency", action="store_true", help="time a no-CPU waiting step on both Dask runners instead")
    args = ap.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    if args.latency:
        latency_bench(counts)
        return 0
    with tempfile.TemporaryDirectory(prefix="paperbeam-bench-runners-") as tmp:
        work = Path(tmp)
        inputs = work / "in"
        inputs.mkdir()
        make_pages(inputs, args.pages, args.dpi)
        best, outputs = {}, {}
        for rep in range(args.repeat):
            for runner in args.runners.split(","):
                for n in counts:
                    out = work / f"out-{runner}-{n}-{rep}"
                    if runner == "dask":
                        with DaskCluster(n, work) as address:
                            s = run_job(inputs, out, "dask", n, ["--dask-address", address])
                    else:
                        s = run_job(inputs, out, runner, n)
                    assert s["accounted"] and s["records"] == args.pages, s
                    outputs[(runner, n, rep)] = records(out)
                    if (runner, n) not in best or s["seconds"] < best[(runner, n)][1]:
                        best[(runner, n)] = (s["pages"], s["seconds"], s["pages_per_second"])
                    print(f"  {runner} x{n} run {rep + 1}: {s['pages']} pages in {s['seconds']:.1f} s", file=sys.stderr, flush=True)
        rows = [(r, n, *v) for (r, n), v in best.items()]
    print(f"{args.pages} one-page scans, {args.dpi} dpi, all OCR'd (tesseract, OMP_THREAD_LIMIT=1); cores: {os.cpu_count()}; "
          f"best of {args.repeat}; load average at the end {os.getloadavg()[0]:.1f}")
    print(f"{'runner':<8} {'workers':>7} {'pages':>6} {'seconds':>8} {'pages/s':>8} {'vs 1 worker':>12}")
    base = {r: pps for r, n, _, _, pps in rows if n == counts[0]}
    for runner, n, pages, secs, pps in rows:
        ratio = f"{pps / base[runner]:.2f} (ideal {n / counts[0]:.0f})" if base.get(runner) else "-"
        print(f"{runner:<8} {n:>7} {pages:>6} {secs:>8.1f} {pps:>8.2f} {ratio:>12}")
    first = next(iter(outputs.values()))
    same = all(o == first for o in outputs.values())
    print(f"records equal across all runs (page timings aside): {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
