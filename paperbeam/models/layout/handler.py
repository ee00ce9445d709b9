"""A Beam ``ModelHandler`` for the layout model, for ``RunInference``.

RunInference batches documents (``batch_elements_kwargs``), loads the model
once per worker process through ``load_model`` and shares it across the
process's threads (Beam's ``shared.Shared``); nothing large is pickled with
the pipeline, only the handler's settings. The device is chosen in
``load_model``, on the worker: CUDA when present (fp16/bf16 autocast), else
CPU in fp32 (``int8=True``: dynamic int8 quantisation, 2-3x faster, about 2
points of F1 lower on held-out SROIE).

``run_inference`` returns one ``PredictionResult`` per document whose
``inference`` is the dict of fields. A batch that fails is retried one
document at a time, and a document that still fails gets the exception as
its ``inference``, so one bad document does not take its batch-mates to the
dead-letter output with it (``pipelines.infer`` turns it into a dead letter).
"""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, Iterable, Optional, Sequence

from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from paperbeam.records import Document
from paperbeam.schema import INVOICE, Schema

log = logging.getLogger(__name__)


class LayoutModelHandler(ModelHandler[Document, PredictionResult, Any]):
    def __init__(
        self,
        model_dir: Optional[str] = None,
        schema: Schema = INVOICE,
        date_order: str = "day-first",
        device: Optional[str] = None,
        int8: Optional[bool] = None,
        threads: Optional[int] = None,
        min_batch_size: int = 1,
        max_batch_size: int = 8,
        max_batch_duration_secs: Optional[int] = None,
        model_loader=None,
    ):
        """``model_loader``: a zero-argument callable returning a ``LayoutModel`` (tests inject one)."""
        super().__init__()
        self.model_dir = model_dir
        self.schema = schema
        self.date_order = date_order
        self.device = device
        self.int8 = int8
        self.threads = threads
        self.min_batch_size = int(min_batch_size)
        self.max_batch_size = int(max_batch_size)
        self.max_batch_duration_secs = max_batch_duration_secs
        self.model_loader = model_loader

    def load_model(self):
        if self.model_loader is not None:
            return self.model_loader()
        from paperbeam.models.layout.runtime import LayoutModel

        return LayoutModel.load(self.model_dir, device=self.device, int8=self.int8, threads=self.threads)

    def run_inference(self, batch: Sequence[Document], model, inference_args: Optional[Dict[str, Any]] = None
                      ) -> Iterable[PredictionResult]:
        batch = list(batch)
        model_id = f"layout {model.version}"
        try:
            found = model.extract(batch, self.schema, self.date_order, batch_size=self.max_batch_size)
            return [PredictionResult(doc, fields, model_id) for doc, fields in zip(batch, found)]
        except Exception:  # noqa: BLE001 - find the document that fails, keep the others
            if len(batch) == 1:
                raise
            log.warning("a batch of %d documents failed; retrying them one by one", len(batch))
        out = []
        for doc in batch:
            try:
                fields = model.extract([doc], self.schema, self.date_order, batch_size=1)[0]
            except Exception as exc:  # noqa: BLE001 - becomes this document's dead letter
                fields = exc
            out.append(PredictionResult(doc, fields, model_id))
        return out

    def batch_elements_kwargs(self):
        kw = {"min_batch_size": self.min_batch_size, "max_batch_size": self.max_batch_size}
        if self.max_batch_duration_secs:
            kw["max_batch_duration_secs"] = self.max_batch_duration_secs
        return kw

    def get_num_bytes(self, batch: Sequence[Document]) -> int:
        return sum(len(w.text) + 32 for d in batch for p in d.pages for w in p.words)

    def get_metrics_namespace(self) -> str:
        return "paperbeam_layout"

    def share_model_across_processes(self) -> bool:
        # One model per worker process (shared by its threads): MiniLM is small, and a
        # cross-process proxy would add a pickling round trip per batch.
        return False
