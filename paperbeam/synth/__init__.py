"""Synthetic invoices and receipts with exact ground truth.

Why: extractors and OCR settings are judged against documents whose right
answers are known to the character and to the box. Each document is drawn
from a seeded random source, so a (seed, index) pair always gives the same
document, whatever the number of worker processes.

Modules, in the order a document passes through them:

* ``content``  - what the document says (Faker vendor, numbers, dates, items, totals, distractors)
* ``layouts``  - how it is drawn (reportlab), recording where every field lands
* ``degrade``  - optional scan simulation (pypdfium2 render, skew, blur, noise, rotation)
* ``truth``    - the ground-truth JSON (the format ``paperbeam evaluate`` reads)
* ``generate`` - orchestration over processes

Needs the ``synth`` extra (faker, reportlab) plus pypdfium2, Pillow, numpy and
opencv-python-headless for scans.
"""

from paperbeam.synth.generate import GenerateOptions, generate, generate_one  # noqa: F401
