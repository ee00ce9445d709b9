"""ExtractFieldsWithModel on TestPipeline: RunInference with our handler, records
built like ExtractFields builds them, and every failure as a dead letter."""

import functools

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from paperbeam.models.layout.handler import LayoutModelHandler
from paperbeam.models.layout.tiny import tiny_model
from paperbeam.pipelines.infer import ExtractFieldsWithModel
from paperbeam.schema import INVOICE
from test_layout_model import _Broken, make_document


def broken_tiny(directory):
    return _Broken(tiny_model(directory))


@pytest.mark.parametrize("batch", [1, 8])  # 1: the failing batch goes through RunInference's own dead-letter output
def test_records_and_dead_letters(tmp_path, batch):
    handler = LayoutModelHandler(max_batch_size=batch, model_loader=functools.partial(broken_tiny, str(tmp_path)))
    docs = [make_document("a"), make_document("bad"), make_document("c")]
    with TestPipeline() as p:
        out = (p | beam.Create(docs)
               | ExtractFieldsWithModel("auto", INVOICE, handler=handler))
        assert_that(out.records | "Ids" >> beam.Map(lambda r: r.id), equal_to(["a", "c"]), label="records")
        assert_that(out["dead_letters"] | "Dead" >> beam.Map(lambda d: (d.doc_id, d.stage)),
                    equal_to([("bad", "extract")]), label="dead")
        assert_that(out.records | "Versions" >> beam.Map(lambda r: (r.versions["extractor"], r.versions["model"],
                                                                     r.versions["ocr_engine"])),
                    equal_to([("auto 1", "layout broken", "tesseract 5")] * 2), label="versions")


def test_unknown_modes_and_options_fail_when_the_pipeline_is_built():
    from paperbeam.errors import ConfigError

    with pytest.raises(ConfigError):
        ExtractFieldsWithModel("rules", INVOICE)
    with pytest.raises(ConfigError):
        ExtractFieldsWithModel("model", INVOICE, extractor_options={"modle_path": "x"})
