"""paperbeam's nightly run as an Airflow DAG, through Beam's Python pipeline operator.

Install: put this file and run_paperbeam.py in the DAGs folder of an Airflow with
``apache-airflow-providers-apache-beam``; install paperbeam in the interpreter named
by ``PY_INTERPRETER``; put the options in /etc/paperbeam/nightly.yaml (see
deploy/cron/nightly.yaml). The operator runs
``PY_INTERPRETER run_paperbeam.py --runner=DirectRunner --config=/etc/paperbeam/nightly.yaml``.

One run at a time: ``max_active_runs=1`` here, and paperbeam's ledger lock (exit 4)
whatever the scheduler does. No retries: a partial run (exit 3) retried would skip its
dead letters and look clean; rerun it by hand with ``--retry-dead-letters`` instead.
"""

import os
from datetime import datetime, timedelta

from airflow import DAG
from airflow.providers.apache.beam.operators.beam import BeamRunPythonPipelineOperator

HERE = os.path.dirname(os.path.abspath(__file__))
PY_INTERPRETER = "/opt/paperbeam/venv/bin/python"

with DAG(
    dag_id="paperbeam_nightly",
    description="Invoices and receipts to JSON records, every night",
    schedule="30 2 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 0, "execution_timeout": timedelta(hours=6)},
    tags=["paperbeam"],
) as dag:
    paperbeam_run = BeamRunPythonPipelineOperator(
        task_id="paperbeam_run",
        runner="DirectRunner",
        py_file=os.path.join(HERE, "run_paperbeam.py"),
        py_interpreter=PY_INTERPRETER,
        py_options=[],
        pipeline_options={"config": "/etc/paperbeam/nightly.yaml"},
    )
