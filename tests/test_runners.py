"""Runner choice: paperbeam's options become exactly the Beam options each runner needs.

Flink's job-server jar cannot be fetched here (no Maven), so the Flink path is
checked by what Beam would do with our options: which job server it would
start or connect to, which jar and Flink master it would hand that server, and
which SDK environment the pipeline would ask for. ``test_flink_end_to_end``
runs the real thing when a job endpoint is given in the environment
(deploy/flink/README.md).
"""

from __future__ import annotations

import glob
import json
import os
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PortableOptions
from apache_beam.runners.portability import portable_runner
from apache_beam.transforms import environments

from paperbeam.errors import ConfigError
from paperbeam.pipelines import batch
from paperbeam.pipelines.options import RunConfig
from paperbeam.pipelines.runners import SETUP_PY, extraction_resource_hints, runner_and_options

GPU = "type:nvidia-tesla-t4;count:1;install-nvidia-driver"


def _config(**kw) -> RunConfig:
    return RunConfig(input="in", output="out", **kw)


def _options(runner: str, args=(), **kw) -> dict:
    """The Beam options (those set explicitly) for a run on ``runner``."""
    _, options = runner_and_options(_config(runner=runner, **kw), list(args))
    return options.get_all_options(drop_default=True, retain_unknown_options=True)


# -- direct -------------------------------------------------------------------


def test_direct_is_the_fn_api_runner_with_one_process_per_worker():
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    runner, options = runner_and_options(_config(workers=2), [])
    assert isinstance(runner, FnApiRunner)  # never the DirectRunner, which would try Prism first
    opts = options.get_all_options(drop_default=True)
    assert opts["direct_num_workers"] == 2
    # Worker processes run our quiet wrapper of Beam's SDK harness.
    env = runner._default_environment
    assert "paperbeam.pipelines.worker" in env.command_string
    one = runner_and_options(_config(workers=1), [])[1].get_all_options()
    assert one["direct_num_workers"] == 1 and one["direct_running_mode"] == "in_memory"


def test_direct_defaults_to_one_worker_per_core():
    opts = _options("direct")
    assert opts["direct_num_workers"] == (os.cpu_count() or 1)


def test_a_beam_option_the_user_gave_wins():
    opts = _options("direct", ["--direct_num_workers=3", "--direct_running_mode=multi_threading"], workers=2)
    assert opts["direct_num_workers"] == 3 and opts["direct_running_mode"] == "multi_threading"


# -- dask ---------------------------------------------------------------------


def test_dask_address_becomes_the_dask_client_address():
    from apache_beam.runners.dask.dask_runner import DaskOptions, DaskRunner

    runner, options = runner_and_options(_config(runner="dask", dask_address="tcp://10.0.0.5:8786"), ["--dask_npartitions=16"])
    assert isinstance(runner, DaskRunner) and runner.local_workers is None
    dask = options.view_as(DaskOptions).get_all_options(drop_default=True, current_only=True)
    assert dask == {"address": "tcp://10.0.0.5:8786", "npartitions": 16}


def test_dask_without_address_sizes_a_local_cluster_to_the_machine():
    runner, options = runner_and_options(_config(runner="dask"), [])
    assert runner.local_workers == (os.cpu_count() or 1)
    assert "address" not in options.get_all_options(drop_default=True)
    assert runner_and_options(_config(runner="dask", workers=3), [])[0].local_workers == 3
    # Beam's own option works too, and then no local cluster is made
    assert runner_and_options(_config(runner="dask"), ["--dask_client_address=tcp://h:1"])[0].local_workers is None


# -- flink / portable ---------------------------------------------------------


def test_flink_with_a_job_endpoint_and_a_worker_pool():
    from apache_beam.runners.portability.flink_runner import FlinkRunner

    runner, options = runner_and_options(_config(runner="flink", job_endpoint="localhost:8099", sdk_worker_pool="localhost:50000"), [])
    assert isinstance(runner, FlinkRunner)
    assert options.get_all_options(drop_default=True) == {
        "job_endpoint": "localhost:8099",
        "environment_type": "EXTERNAL",
        "environment_config": "localhost:50000",
    }
    env = environments.Environment.from_options(options.view_as(PortableOptions))
    assert isinstance(env, environments.ExternalEnvironment) and env.url == "localhost:50000"


def test_flink_master_with_a_local_job_server_jar(tmp_path):
    """No job endpoint: Beam would start the job server from OUR jar, pointed at our Flink master (no Maven)."""
    from apache_beam.runners.portability.flink_runner import FlinkRunner

    jar = tmp_path / "beam-runners-flink-1.19-job-server-2.77.0.jar"
    jar.write_bytes(b"PK")
    runner, options = runner_and_options(
        _config(runner="flink", flink_master="flink-jm:8081", flink_job_server_jar=str(jar), sdk_worker_pool="pool:50000", workers=4), []
    )
    assert options.get_all_options(drop_default=True) == {
        "flink_master": "flink-jm:8081",
        "flink_job_server_jar": str(jar),
        "parallelism": 4,
        "environment_type": "EXTERNAL",
        "environment_config": "pool:50000",
    }
    server = runner.default_job_server(options)._job_server  # StopOnExitJobServer(FlinkJarJobServer)
    assert server.path_to_jar() == str(jar)
    args = server.java_arguments("1", "2", "3", "/tmp/artifacts")
    assert args[:2] == ["--flink-master", "http://flink-jm:8081"]


def test_flink_docker_environment_from_our_image():
    opts = _options("flink", ["--sdk_container_image=registry/paperbeam-worker:0.1"], flink_master="jm:8081")
    assert opts["environment_type"] == "DOCKER" and opts["sdk_container_image"] == "registry/paperbeam-worker:0.1"


@pytest.mark.parametrize(
    "kw, args, message",
    [
        ({}, [], "needs --flink-master"),
        ({"flink_master": "jm:8081"}, [], "--sdk-worker-pool"),
        ({"job_endpoint": "js:8099", "flink_job_server_jar": "x.jar", "sdk_worker_pool": "p:5"}, [], "Give one of them"),
        ({"flink_master": "jm:8081", "flink_job_server_jar": "/nope.jar", "sdk_worker_pool": "p:5"}, [], "is not a file"),
        ({"flink_master": "jm:8081", "sdk_worker_pool": "p:5"}, ["--environment_type=DOCKER"], "not both"),
    ],
)
def test_flink_mistakes_fail_before_the_run(kw, args, message):
    with pytest.raises(ConfigError, match=message):
        runner_and_options(_config(runner="flink", **kw), args)


def test_portable_runner_needs_a_job_endpoint():
    with pytest.raises(ConfigError, match="--job-endpoint"):
        runner_and_options(_config(runner="portable", sdk_worker_pool="p:5"), [])
    runner, options = runner_and_options(_config(runner="portable", job_endpoint="js:8099", sdk_worker_pool="p:5"), [])
    assert isinstance(runner, portable_runner.PortableRunner)
    assert options.get_all_options(drop_default=True)["job_endpoint"] == "js:8099"


@pytest.mark.parametrize(
    "runner, kw",
    [("direct", {"dask_address": "tcp://h:1"}), ("dask", {"flink_master": "jm:8081"}), ("dataflow", {"sdk_worker_pool": "p:5"})],
)
def test_an_option_for_another_runner_is_a_mistake(runner, kw):
    with pytest.raises(ConfigError, match="is for --runner"):
        runner_and_options(_config(runner=runner, **kw), ["--sdk_container_image=i"])


# -- dataflow, spark ----------------------------------------------------------

DATAFLOW_ARGS = ["--project=p", "--region=europe-west4", "--temp_location=gs://b/tmp", "--sdk_container_image=europe-docker.pkg.dev/p/r/paperbeam-worker:0.1"]


def test_dataflow_options_pass_straight_through_and_the_package_is_staged():
    runner, options = runner_and_options(_config(runner="dataflow"), DATAFLOW_ARGS)
    assert runner == "DataflowRunner"
    opts = options.get_all_options(drop_default=True)
    assert opts["project"] == "p" and opts["region"] == "europe-west4" and opts["temp_location"] == "gs://b/tmp"
    assert opts["sdk_container_image"].endswith("paperbeam-worker:0.1")
    assert opts["setup_file"] == SETUP_PY and os.path.exists(SETUP_PY)


def test_dataflow_without_our_image_has_no_tesseract():
    with pytest.raises(ConfigError, match="sdk_container_image"):
        runner_and_options(_config(runner="dataflow"), DATAFLOW_ARGS[:3])
    runner_and_options(_config(runner="dataflow", ocr_engine="rapidocr"), DATAFLOW_ARGS[:3])  # pip-installable engine


def test_spark_and_any_beam_runner_name_pass_through():
    runner, options = runner_and_options(_config(runner="spark"), ["--spark_master_url=spark://m:7077"])
    assert runner == "SparkRunner" and options.get_all_options(drop_default=True)["spark_master_url"] == "spark://m:7077"
    assert runner_and_options(_config(runner="SamzaRunner"), [])[0] == "SamzaRunner"


# -- resource hints -------------------------------------------------------------


def test_gpu_hint_is_on_the_extraction_step_only(tmp_path):
    """In the pipeline Beam submits, only the extraction ParDo's environment asks for the GPU."""
    config = RunConfig(input=str(tmp_path), output=str(tmp_path / "out"), gpu_accelerator=GPU)
    assert extraction_resource_hints(config) == {"accelerator": GPU}
    pipeline = beam.Pipeline()
    batch.build_pipeline(pipeline, config)
    proto = pipeline.to_runner_api()
    hinted = sorted(
        t.unique_name
        for t in proto.components.transforms.values()
        if not t.subtransforms and t.environment_id
        and proto.components.environments[t.environment_id].resource_hints.get("beam:resources:accelerator:v1") == GPU.encode()
    )
    assert hinted and all(name.startswith("ExtractFields/") for name in hinted), hinted


def test_no_gpu_no_hints_and_a_bad_hint_fails_early():
    assert extraction_resource_hints(_config()) == {}
    for bad in ("nvidia-tesla-t4", "type:nvidia-tesla-t4", "type:t4;count:zero"):
        with pytest.raises(ConfigError, match="accelerator hint"):
            runner_and_options(_config(gpu_accelerator=bad), [])


# -- Flink, for real, where a job server is given ----------------------------------

FLINK_ENV = ("PAPERBEAM_FLINK_JOB_ENDPOINT", "PAPERBEAM_SDK_WORKER_POOL", "PAPERBEAM_FLINK_SHARED_DIR")


@pytest.mark.slow
@pytest.mark.skipif(
    not all(os.environ.get(v) for v in FLINK_ENV),
    reason="no Flink here: set PAPERBEAM_FLINK_JOB_ENDPOINT (e.g. localhost:8099), PAPERBEAM_SDK_WORKER_POOL "
    "(e.g. localhost:50000) and PAPERBEAM_FLINK_SHARED_DIR (a directory the workers see at the same path) "
    "after `docker compose up` in deploy/flink",
)
def test_flink_end_to_end(tmp_path):
    import fixtures as F

    from paperbeam import cli

    shared = Path(os.environ["PAPERBEAM_FLINK_SHARED_DIR"]) / f"test-{os.getpid()}"
    inputs = shared / "in"
    inputs.mkdir(parents=True)
    F.make_invoice_pdf(inputs)
    F.make_png(inputs)
    F.make_empty(inputs)
    out = shared / "out"
    code = cli.main([
        "run", "--input", str(inputs), "--output", str(out), "--runner", "flink",
        "--job-endpoint", os.environ["PAPERBEAM_FLINK_JOB_ENDPOINT"], "--sdk-worker-pool", os.environ["PAPERBEAM_SDK_WORKER_POOL"],
    ])
    from paperbeam.errors import ExitCode

    assert code == getattr(ExitCode, "OK_WITH_DEAD_LETTERS", ExitCode.OK)  # one input is a dead letter
    summary = json.loads((out / "summary.json").read_text())
    assert summary["accounted"] and (summary["records"], summary["dead_letters"]) == (2, 1)
    assert len(glob.glob(str(out / "records-*.jsonl"))) >= 1
