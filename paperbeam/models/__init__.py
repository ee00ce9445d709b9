"""Models: page readers, OCR engines, field extractors, evaluation."""
