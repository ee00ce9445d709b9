"""Nothing large travels with the pipeline.

Beam pickles every DoFn into the pipeline it submits (to Dataflow, Flink,
Dask, the direct runner's worker processes). OCR engines, models and clients
are made in ``DoFn.setup`` on the workers; this test measures what is
actually pickled, so a model or a client captured by mistake fails here, not
as a 2 GB job submission.
"""

from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.internal import pickler
from apache_beam.portability import common_urns
from apache_beam.portability.api import beam_runner_api_pb2

from paperbeam import plugins
from paperbeam.pipelines import batch
from paperbeam.pipelines.options import RunConfig

MAX_DOFN_BYTES = 64 * 1024  # one pickled DoFn: its configuration, never a model
MAX_PIPELINE_BYTES = 1024 * 1024  # the whole submitted pipeline


def _pipeline_proto(config: RunConfig):
    pipeline = beam.Pipeline()
    batch.build_pipeline(pipeline, config)
    return pipeline.to_runner_api()


def _pickled_dofns(proto):
    """(transform name, pickled DoFn bytes) for every ParDo of the pipeline."""
    for t in proto.components.transforms.values():
        if t.spec.urn == common_urns.primitives.PAR_DO.urn:
            payload = beam_runner_api_pb2.ParDoPayload.FromString(t.spec.payload)
            yield t.unique_name, payload.do_fn.payload


def _configs(tmp_path):
    base = RunConfig(input=str(tmp_path), output=str(tmp_path / "out"))
    yield base
    for engine in plugins.names("ocr_engines"):
        yield base.with_(ocr_engine=engine)
    for extractor in plugins.names("extractors"):
        yield base.with_(extractor=extractor, gpu_accelerator="type:nvidia-tesla-t4;count:1")


def test_every_pickled_dofn_is_small(tmp_path):
    for config in _configs(tmp_path):
        proto = _pipeline_proto(config)
        sizes = dict(_pickled_dofns(proto))
        assert sizes, "no ParDo found: did the pipeline proto change shape?"
        big = {name: len(p) for name, p in sizes.items() if len(p) > MAX_DOFN_BYTES}
        assert not big, f"{config.ocr_engine}/{config.extractor}: DoFns pickled with something large: {big}"
        total = len(proto.SerializeToString())
        assert total < MAX_PIPELINE_BYTES, f"the pipeline is {total:,} bytes"


def test_the_pipeline_does_not_grow_with_the_inputs(tmp_path):
    """Inputs are matched on the workers, not listed into the pipeline."""
    small = len(_pipeline_proto(RunConfig(input=str(tmp_path), output=str(tmp_path / "out"))).SerializeToString())
    for i in range(200):
        (tmp_path / f"doc-{i}.pdf").write_bytes(b"%PDF-1.4\n" + b"x" * 1000)
    many = len(_pipeline_proto(RunConfig(input=str(tmp_path), output=str(tmp_path / "out"))).SerializeToString())
    assert abs(many - small) < 1024


@pytest.mark.parametrize("stage", ["ReadPages/ReadPage", "ExtractFields/Extract"])
def test_engines_and_extractors_are_made_in_setup_not_pickled(tmp_path, stage):
    proto = _pipeline_proto(RunConfig(input=str(tmp_path), output=str(tmp_path / "out")))
    name, payload = next((n, p) for n, p in _pickled_dofns(proto) if n.startswith(stage))
    fn = pickler.loads(payload)[0]  # Beam pickles (DoFn, args, kwargs, side inputs, windowing)
    held = {k for k in vars(fn) if k in ("engine", "extractor", "model", "client", "session", "cache")}
    assert not held, f"{name} carries {held} before setup(): make it in setup() on the worker"
