"""Beam pipelines: options, the batch pipeline, one public PTransform per stage."""
