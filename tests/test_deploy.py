"""deploy/: each file is checked by a real validator where one installs here
(systemd-analyze verify, kubernetes-validate), and the command inside each is
extracted and actually run against a small input, with the deployment's paths
(/etc/paperbeam, /srv/paperbeam, /var/lib/paperbeam, /opt/paperbeam/venv) mapped
into a temporary directory.

Airflow itself is not installed (it is large and pins much of what Beam pins):
the DAG file is executed against a stand-in of the two Airflow names it
imports, which records the operator's arguments; the command is then built the
way the Beam provider's hook builds it (``py_interpreter py_options py_file
--runner=R --key=value...``) and run.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
import yaml

from test_nightly_runs import make_docs, rows

pytestmark = pytest.mark.slow

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
VENV_BIN = Path(sys.executable).parent


class Site:
    """A deployment's file system in a temporary directory, with a small inbox."""

    def __init__(self, root: Path):
        self.root = root
        self.map = {
            "/opt/paperbeam/venv/bin/": f"{VENV_BIN}/",
            "/etc/paperbeam": str(root / "etc"),
            "/srv/paperbeam": str(root / "srv"),
            "/var/lib/paperbeam": str(root / "var"),
            "/var/log/paperbeam": str(root / "log"),
        }
        for d in ("etc", "var", "log"):
            (root / d).mkdir(parents=True, exist_ok=True)
        make_docs(root / "srv" / "inbox", 24)
        (root / "srv" / "inbox" / "empty.pdf").write_bytes(b"")  # one dead letter in 25 (4%, under 5%): exit 5

    def local(self, text: str) -> str:
        for prod, here in self.map.items():
            text = text.replace(prod, here)
        return text

    def install_config(self, text: str) -> None:
        (self.root / "etc" / "nightly.yaml").write_text(self.local(text))

    def env(self, extra=None) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBEAM_")}
        env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '/usr/bin:/bin')}"
        env.update(extra or {})
        return env

    def run_shell(self, command: str, env=None) -> subprocess.CompletedProcess:
        return subprocess.run(["/bin/sh", "-c", self.local(command)], env=self.env(env), capture_output=True,
                              text=True, timeout=180)

    def check_output(self, out: str = "var/out") -> None:
        out_dir = self.root / out
        names = sorted(r["source_uri"].rsplit("/", 1)[1] for r in rows(out_dir, "records") + rows(out_dir, "dead_letters"))
        assert names == sorted(p.name for p in (self.root / "srv" / "inbox").iterdir())
        report = json.loads((self.root / "var" / "reports" / "last-night.json").read_text())
        assert report["config"]["incremental"] is True and report["dead_letters"] == 1


@pytest.fixture
def site(tmp_path):
    return Site(tmp_path)


def test_the_example_config_is_one_paperbeam_accepts():
    from paperbeam import cli
    from paperbeam.nightly.config import resolve

    args, _ = cli.build_parser().parse_known_args(["run", "--config", str(DEPLOY / "cron" / "nightly.yaml")])
    args, _ = resolve(args, environ={})
    assert args.incremental and args.max_dead_letter_ratio == 0.05


# -- cron -----------------------------------------------------------------------------------------

CRON_FIELD = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


def _cron_field_ok(field: str, lo: int, hi: int) -> bool:
    for part in field.split(","):
        m = re.fullmatch(r"(\*|\d+(?:-\d+)?)(?:/(\d+))?", part)
        if not m:
            return False
        if m.group(1) != "*":
            bounds = [int(x) for x in m.group(1).split("-")]
            if not all(lo <= b <= hi for b in bounds) or bounds != sorted(bounds):
                return False
    return True


def _cron_jobs(text: str):
    jobs = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or re.match(r"^[A-Z_]+=", line):
            continue
        fields = line.split(None, 6)
        assert len(fields) == 7, f"an /etc/cron.d line has 5 time fields, a user and a command: {line}"
        for f, (lo, hi) in zip(fields[:5], CRON_FIELD):
            assert _cron_field_ok(f, lo, hi), f"bad cron field {f!r} in {line}"
        assert "%" not in fields[6], "cron turns % into a newline: escape it"
        jobs.append((fields[5], fields[6]))
    return jobs


def test_cron_line_is_valid_and_its_command_runs(site):
    jobs = _cron_jobs((DEPLOY / "cron" / "paperbeam.cron").read_text())
    assert len(jobs) == 1 and jobs[0][0] == "paperbeam"
    site.install_config((DEPLOY / "cron" / "nightly.yaml").read_text())
    proc = site.run_shell(jobs[0][1])
    assert proc.returncode == 5, proc.stderr  # success with one dead letter, under the 5% threshold
    site.check_output()
    assert "25 inputs -> 24 records + 1 dead letters" in (site.root / "log" / "nightly.log").read_text()


# -- systemd --------------------------------------------------------------------------------------


def _unit(path: Path) -> dict:
    sections, current = {}, None
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key, []).append(value)
    return sections


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed (apt-get install systemd)")
def test_systemd_units_verify_cleanly(tmp_path):
    # verify checks that ExecStart exists: point it at this venv's paperbeam.
    for name in ("paperbeam-nightly.service", "paperbeam-nightly.timer"):
        text = (DEPLOY / "systemd" / name).read_text().replace("/opt/paperbeam/venv/bin/", f"{VENV_BIN}/")
        (tmp_path / name).write_text(text)
    proc = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "paperbeam-nightly.service"),
                           str(tmp_path / "paperbeam-nightly.timer")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr.strip() == "" and proc.stdout.strip() == "", proc.stderr + proc.stdout
    timer = _unit(DEPLOY / "systemd" / "paperbeam-nightly.timer")
    cal = subprocess.run(["systemd-analyze", "calendar", timer["Timer"]["OnCalendar"][0]], capture_output=True, text=True)
    assert cal.returncode == 0 and "Next elapse" in cal.stdout


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_verify_would_catch_a_mistake(tmp_path):
    """The check above is not vacuous: a misspelt key is reported."""
    (tmp_path / "bad.service").write_text("[Service]\nType=oneshot\nExecStart=/bin/true\nSuccessExitStatuss=5\n")
    proc = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "bad.service")], capture_output=True, text=True)
    assert "Unknown key" in proc.stderr


def test_systemd_service_command_runs_and_exit_5_counts_as_success(site):
    unit = _unit(DEPLOY / "systemd" / "paperbeam-nightly.service")
    assert unit["Service"]["Type"] == ["oneshot"] and "5" in unit["Service"]["SuccessExitStatus"][0].split()
    timer = _unit(DEPLOY / "systemd" / "paperbeam-nightly.timer")
    assert timer["Timer"]["Unit"] == ["paperbeam-nightly.service"] and timer["Timer"]["Persistent"] == ["true"]
    site.install_config((DEPLOY / "cron" / "nightly.yaml").read_text())
    proc = site.run_shell(unit["Service"]["ExecStart"][0])
    assert proc.returncode in {0, *map(int, unit["Service"]["SuccessExitStatus"][0].split())}, proc.stderr
    site.check_output()


# -- Kubernetes -----------------------------------------------------------------------------------


def _k8s_docs():
    return [d for d in yaml.safe_load_all((DEPLOY / "kubernetes" / "paperbeam-nightly.yaml").read_text()) if d]


def _kubernetes_validate(path: Path, version: str) -> subprocess.CompletedProcess:
    exe = VENV_BIN / "kubernetes-validate"
    if not exe.exists() and shutil.which("kubernetes-validate") is None:
        pytest.skip("kubernetes-validate is not installed (pip install kubernetes-validate)")
    return subprocess.run([str(exe) if exe.exists() else "kubernetes-validate", "--strict", "-k", version, str(path)],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("version", ["1.31.0", "1.37.0"])
def test_kubernetes_manifest_passes_the_schema_check(version):
    proc = _kubernetes_validate(DEPLOY / "kubernetes" / "paperbeam-nightly.yaml", version)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("passed") == 3


def test_kubernetes_schema_check_would_catch_a_mistake(tmp_path):
    bad = (DEPLOY / "kubernetes" / "paperbeam-nightly.yaml").read_text().replace("concurrencyPolicy:", "concurrencyPolicyy:")
    (tmp_path / "bad.yaml").write_text(bad)
    assert _kubernetes_validate(tmp_path / "bad.yaml", "1.37.0").returncode != 0


def test_kubernetes_cronjob_runs_one_at_a_time_with_a_volume_and_its_command_runs(site):
    docs = {d["kind"]: d for d in _k8s_docs()}
    cron = docs["CronJob"]["spec"]
    assert cron["concurrencyPolicy"] == "Forbid"
    pod = cron["jobTemplate"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if "persistentVolumeClaim" in v}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert claims["data"] == docs["PersistentVolumeClaim"]["metadata"]["name"]
    config = yaml.safe_load(docs["ConfigMap"]["data"]["nightly.yaml"])
    assert config["ledger"].startswith(mounts["data"] + "/"), "the ledger lives on the claim"
    codes = cron["jobTemplate"]["spec"]["podFailurePolicy"]["rules"][0]["onExitCodes"]["values"]
    assert {2, 3, 4} <= set(codes)
    # Run the container's command with the ConfigMap mounted where the pod mounts it.
    (site.root / "etc" / "nightly.yaml").write_text(site.local(docs["ConfigMap"]["data"]["nightly.yaml"]))
    env = {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
    env["PAPERBEAM_WORKERS"] = "1"  # what resourceFieldRef limits.cpu gives on a one-CPU limit
    command = container["command"] + container.get("args", [])
    assert command[:2] == ["/bin/sh", "-c"]
    proc = site.run_shell(command[2], env=env)
    assert proc.returncode == 0, proc.stderr  # paperbeam's 5 (dead letters under the threshold) is a pod success
    site.check_output()
    report = json.loads((site.root / "var" / "reports" / "last-night.json").read_text())
    assert report["config"]["workers"] == 1  # the environment override reached the run


# -- Airflow --------------------------------------------------------------------------------------


def _load_dag():
    """Execute the DAG file with stand-ins for `airflow.DAG` and the Beam operator; returns (dag kwargs, operator kwargs)."""
    seen = {}

    class DAG:
        def __init__(self, **kwargs):
            seen["dag"] = kwargs

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    class BeamRunPythonPipelineOperator:
        def __init__(self, **kwargs):
            seen.setdefault("operators", []).append(kwargs)

    modules = {name: types.ModuleType(name) for name in (
        "airflow", "airflow.providers", "airflow.providers.apache", "airflow.providers.apache.beam",
        "airflow.providers.apache.beam.operators", "airflow.providers.apache.beam.operators.beam")}
    modules["airflow"].DAG = DAG
    modules["airflow.providers.apache.beam.operators.beam"].BeamRunPythonPipelineOperator = BeamRunPythonPipelineOperator
    path = DEPLOY / "airflow" / "paperbeam_nightly.py"
    saved = {k: sys.modules.get(k) for k in modules}
    sys.modules.update(modules)
    try:
        exec(compile(path.read_text(), str(path), "exec"), {"__file__": str(path), "__name__": "paperbeam_nightly"})
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    return seen["dag"], seen["operators"]


def test_airflow_dag_file_is_valid_python_importing_the_real_operator():
    tree = ast.parse((DEPLOY / "airflow" / "paperbeam_nightly.py").read_text())
    imports = {(n.module, a.name) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert ("airflow.providers.apache.beam.operators.beam", "BeamRunPythonPipelineOperator") in imports
    assert ("airflow", "DAG") in imports
    dag, operators = _load_dag()
    assert dag["max_active_runs"] == 1 and dag["catchup"] is False and dag["schedule"]
    assert dag["default_args"]["retries"] == 0
    assert len(operators) == 1 and Path(operators[0]["py_file"]).exists()


def _beam_options_to_args(options: dict):
    """What airflow.providers.apache.beam.hooks.beam.beam_options_to_args makes of str, bool and list values."""
    args = []
    for key, value in options.items():
        if isinstance(value, bool):
            args += [f"--{key}"] if value else []
        elif isinstance(value, list):
            args += [f"--{key}={v}" for v in value]
        elif value is not None:
            args.append(f"--{key}={value}")
    return args


def test_airflow_operator_command_runs(site):
    _, (op,) = _load_dag()
    site.install_config((DEPLOY / "cron" / "nightly.yaml").read_text())
    # The operator adds an airflow-version label; the hook turns it into --labels=..., which paperbeam hands to Beam.
    variables = {**op["pipeline_options"], "labels": ["airflow-version=v3-0-0"]}
    cmd = [sys.executable, *op["py_options"], op["py_file"], f"--runner={op['runner']}", *_beam_options_to_args(variables)]
    proc = subprocess.run([site.local(c) for c in cmd], env=site.env(), capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr  # 5 (dead letters under the threshold) is mapped to 0 for Airflow
    site.check_output()
