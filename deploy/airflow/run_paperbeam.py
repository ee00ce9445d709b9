"""The ``py_file`` of deploy/airflow/paperbeam_nightly.py: ``paperbeam run`` with the options
Airflow's BeamRunPythonPipelineOperator passes (``--runner=DirectRunner --config=...``).

Exit code 5 (success with dead letters under the threshold) becomes 0, because Airflow
fails a task on any other code; the dead letters are in the run report. Every other
code is passed on, so a partial run (3) or a configuration error (2) fails the task.
"""

import sys

from paperbeam.cli import main
from paperbeam.errors import ExitCode

if __name__ == "__main__":
    code = main(["run", *sys.argv[1:]])
    sys.exit(0 if code == ExitCode.OK_WITH_DEAD_LETTERS else code)
