"""Which Beam runner a run uses, and the Beam options that go with it.

One small function per runner turns a ``RunConfig`` plus the Beam options the
user passed through into ``(runner, PipelineOptions)``; the pipeline itself
never changes between runners.

* ``direct``: Beam's FnApiRunner chosen explicitly (Beam 2.77's DirectRunner
  would first try Prism, which downloads a binary), worker processes, one per
  core by default.
* ``dask``: Beam's DaskRunner, fixed for this pipeline (see ``_DaskRunner``),
  on ``--dask-address`` or on a local cluster sized to the machine.
* ``flink`` / ``portable``: Beam's FlinkRunner / PortableRunner with the
  Python SDK workers in our image (``--sdk-worker-pool``) or any Beam
  environment the user names.
* ``dataflow``, ``spark`` and any other Beam runner: options pass straight
  through and the package is staged with ``--setup_file``.

``extraction_resource_hints`` asks for GPU workers for the extraction step
only, so OCR stays on cheap CPU workers.
"""

from __future__ import annotations

import logging
import os
from typing import Callable, Dict, List, Tuple

from apache_beam.options.pipeline_options import PipelineOptions

from paperbeam.errors import ConfigError
from paperbeam.pipelines.options import RunConfig, normalize_runner

log = logging.getLogger(__name__)

SETUP_PY = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "setup.py")


def runner_and_options(config: RunConfig, beam_args: List[str]) -> Tuple[object, PipelineOptions]:
    """The Beam runner and options for ``config.runner``; a ConfigError for a combination that cannot work."""
    runner = normalize_runner(config.runner)
    check_runner_options(config, runner)
    make = RUNNERS.get(runner)
    if make is None:
        return staged_runner(config, list(beam_args), runner)
    return make(config, list(beam_args))


def check_runner_options(config: RunConfig, runner: str) -> None:
    """Options that name another runner's cluster are a mistake: say so before anything runs."""
    wrong = {
        "--dask-address": (config.dask_address, {"dask"}),
        "--flink-master": (config.flink_master, {"FlinkRunner"}),
        "--flink-job-server-jar": (config.flink_job_server_jar, {"FlinkRunner"}),
        "--job-endpoint": (config.job_endpoint, {"FlinkRunner", "PortableRunner", "SparkRunner"}),
        "--sdk-worker-pool": (config.sdk_worker_pool, {"FlinkRunner", "PortableRunner", "SparkRunner"}),
    }
    for option, (value, runners) in wrong.items():
        if value and runner not in runners:
            raise ConfigError(f"{option} is for --runner {'/'.join(sorted(r.replace('Runner', '').lower() for r in runners))}, not {config.runner}.")
    if config.gpu_accelerator:
        extraction_resource_hints(config)  # raises on a malformed value


def _has(args: List[str], option: str) -> bool:
    return any(a == option or a.startswith(option + "=") for a in args)


def _set(args: List[str], option: str, value) -> None:
    """Add ``--option=value`` unless the user already passed that Beam option."""
    if not _has(args, option):
        args.append(f"{option}={value}")


# -- direct -----------------------------------------------------------------


class _OnlyOurWorkerCommand(logging.Filter):
    """Beam warns that in_memory mode ignores direct_num_workers; with our own
    worker command (below) the workers are processes all the same."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "direct_num_workers is not equal to 1" not in record.getMessage()


def direct_runner(config: RunConfig, args: List[str]):
    """Beam's FnApiRunner with one worker process per core, started by
    ``paperbeam.pipelines.worker`` (Beam's harness, quiet on the console).

    Beam's own ``multi_processing`` mode would replace our worker command with
    its default one; asking for ``in_memory`` with a subprocess environment
    gives the same process-per-worker execution with our command.
    """
    import sys

    from apache_beam.runners.portability.fn_api_runner import FnApiRunner
    from apache_beam.transforms.environments import SubprocessSDKEnvironment

    workers = config.effective_workers()
    _set(args, "--direct_num_workers", workers)
    _set(args, "--default_sdk_harness_log_level", logging.getLevelName(logging.getLogger().getEffectiveLevel()))
    if workers == 1:
        _set(args, "--direct_running_mode", "in_memory")
        return FnApiRunner(), PipelineOptions(args)
    _set(args, "--direct_running_mode", "in_memory")
    logging.getLogger("apache_beam.runners.portability.fn_api_runner.fn_runner").addFilter(_OnlyOurWorkerCommand())
    environment = SubprocessSDKEnvironment.from_command_string(f"{sys.executable} -m paperbeam.pipelines.worker")
    return FnApiRunner(default_environment=environment), PipelineOptions(args)


# -- dask -------------------------------------------------------------------


def dask_runner(config: RunConfig, args: List[str]):
    """Beam's DaskRunner on ``--dask-address``, or on a local cluster of ``--workers`` processes."""
    if config.dask_address:
        _set(args, "--dask_client_address", config.dask_address)
    from paperbeam.pipelines.dask_runner import _DaskRunner

    local_workers = None if _has(args, "--dask_client_address") or _has(args, "--dask_scheduler_file") else config.effective_workers()
    return _DaskRunner(local_workers=local_workers), PipelineOptions(args)


def local_dask_cluster(workers: int):
    """A dask.distributed cluster on this machine: ``workers`` processes of one thread each.

    One thread per process because OCR and extraction hold the GIL between
    tesseract calls; the processes inherit OMP_THREAD_LIMIT from this one.
    """
    from distributed import LocalCluster

    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")


# -- flink / portable -------------------------------------------------------


def _environment(config: RunConfig, args: List[str], runner_label: str) -> None:
    """Where the Python SDK workers run: our worker pool, or a Beam environment the user gave."""
    if config.sdk_worker_pool:
        if _has(args, "--environment_type") or _has(args, "--environment_config"):
            raise ConfigError("Give either --sdk-worker-pool or --environment_type/--environment_config, not both.")
        args += ["--environment_type=EXTERNAL", f"--environment_config={config.sdk_worker_pool}"]
        return
    if _has(args, "--environment_type"):
        return
    if _has(args, "--sdk_container_image"):
        args.append("--environment_type=DOCKER")
        return
    raise ConfigError(
        f"{runner_label} runs the Python steps in SDK workers that need tesseract and paperbeam: pass "
        "--sdk-worker-pool HOST:PORT (deploy/flink starts one on localhost:50000), or "
        "--environment_type=DOCKER --sdk_container_image=IMAGE built from our Dockerfile."
    )


def flink_runner(config: RunConfig, args: List[str]):
    """Beam's FlinkRunner: through a running Beam job server (``--job-endpoint``), or one
    started here from ``--flink-job-server-jar`` (else Beam downloads the jar from Maven)."""
    from apache_beam.runners.portability.flink_runner import FlinkRunner

    if not (config.flink_master or config.job_endpoint or _has(args, "--flink_master") or _has(args, "--job_endpoint")):
        raise ConfigError("--runner flink needs --flink-master HOST:PORT (Flink's REST address) or --job-endpoint HOST:PORT (a Beam Flink job server).")
    if config.job_endpoint:
        _set(args, "--job_endpoint", config.job_endpoint)
        if config.flink_job_server_jar:
            raise ConfigError("--flink-job-server-jar starts a job server here; with --job-endpoint one is already running. Give one of them.")
    if config.flink_master:
        _set(args, "--flink_master", config.flink_master)
    if config.flink_job_server_jar:
        if "://" not in config.flink_job_server_jar and not os.path.isfile(config.flink_job_server_jar):
            raise ConfigError(f"--flink-job-server-jar {config.flink_job_server_jar} is not a file. Give the path of beam-runners-flink-*-job-server-*.jar.")
        _set(args, "--flink_job_server_jar", config.flink_job_server_jar)
    if config.workers:
        _set(args, "--parallelism", config.workers)
    _environment(config, args, "Flink")
    return FlinkRunner(), PipelineOptions(args)


def portable_runner(config: RunConfig, args: List[str]):
    """Beam's PortableRunner against any job server (Flink, Spark, Samza) at ``--job-endpoint``."""
    from apache_beam.runners.portability.portable_runner import PortableRunner

    if config.job_endpoint:
        _set(args, "--job_endpoint", config.job_endpoint)
    if not _has(args, "--job_endpoint"):
        raise ConfigError("--runner portable needs --job-endpoint HOST:PORT (a Beam job server).")
    _environment(config, args, "The portable runner")
    return PortableRunner(), PipelineOptions(args)


# -- dataflow, spark and any other Beam runner ------------------------------


def staged_runner(config: RunConfig, args: List[str], runner: str):
    """A Beam runner by name; paperbeam is staged to its workers with ``--setup_file``."""
    if runner == "SparkRunner" and (config.job_endpoint or config.sdk_worker_pool):
        if config.job_endpoint:
            _set(args, "--job_endpoint", config.job_endpoint)
        _environment(config, args, "Spark")
    if os.path.exists(SETUP_PY):
        _set(args, "--setup_file", SETUP_PY)
    return runner, PipelineOptions(args)


def dataflow_runner(config: RunConfig, args: List[str]):
    """Dataflow: the user's project/region/temp_location pass through; the workers need our image for tesseract."""
    if config.ocr_engine == "tesseract" and not _has(args, "--sdk_container_image"):
        raise ConfigError(
            "Dataflow's default workers have no tesseract: pass --sdk_container_image=REGISTRY/paperbeam-worker:TAG "
            "built from our Dockerfile (see deploy/dataflow/README.md), or choose --ocr rapidocr."
        )
    return staged_runner(config, args, "DataflowRunner")


RUNNERS: Dict[str, Callable] = {
    "direct": direct_runner,
    "dask": dask_runner,
    "FlinkRunner": flink_runner,
    "PortableRunner": portable_runner,
    "DataflowRunner": dataflow_runner,
}


# -- resource hints ---------------------------------------------------------


def extraction_resource_hints(config: RunConfig) -> Dict[str, str]:
    """Beam resource hints for the extraction step only: a GPU when ``--gpu-accelerator`` asks for one.

    Runners that know resource hints (Dataflow) then run extraction on GPU
    workers and OCR on the default CPU workers; the others ignore them.
    """
    if not config.gpu_accelerator:
        return {}
    value = config.gpu_accelerator.strip()
    parts = dict(p.split(":", 1) if ":" in p else (p, "") for p in value.split(";") if p)
    if not parts.get("type") or not parts.get("count", "").isdigit() or int(parts["count"]) < 1:
        raise ConfigError(
            f"--gpu-accelerator '{value}' is not a Beam accelerator hint: use e.g. type:nvidia-tesla-t4;count:1;install-nvidia-driver."
        )
    return {"accelerator": value}
