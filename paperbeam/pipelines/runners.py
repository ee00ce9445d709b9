"""Which Beam runner a run uses, and the Beam options that go with it.

``direct`` is Beam's FnApiRunner chosen explicitly: the DirectRunner of Beam
2.77 would first try the Prism runner, which downloads a binary, so its
behaviour would depend on the network. Its workers are processes, one per
core by default.
"""

from __future__ import annotations

import logging
import os
from typing import List, Tuple

from apache_beam.options.pipeline_options import PipelineOptions

from paperbeam.pipelines.options import RunConfig, normalize_runner


def runner_and_options(config: RunConfig, beam_args: List[str]) -> Tuple[object, PipelineOptions]:
    """The Beam runner and options for ``config.runner``."""
    runner = normalize_runner(config.runner)
    args = list(beam_args)
    if runner == "direct":
        from apache_beam.runners.portability.fn_api_runner import FnApiRunner

        workers = config.effective_workers()
        mode = "multi_processing" if workers > 1 else "in_memory"
        args += [f"--direct_num_workers={workers}", f"--direct_running_mode={mode}"]
        if not any(a.startswith("--default_sdk_harness_log_level") for a in args):
            args.append(f"--default_sdk_harness_log_level={logging.getLevelName(logging.getLogger().getEffectiveLevel())}")
        return FnApiRunner(), PipelineOptions(args)
    if runner == "dask":
        from apache_beam.runners.dask.dask_runner import DaskRunner

        return DaskRunner(), PipelineOptions(args)
    if not any(a.startswith("--setup_file") for a in args):
        setup_py = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "setup.py")
        if os.path.exists(setup_py):
            args.append(f"--setup_file={setup_py}")
    return runner, PipelineOptions(args)
