"""Words with boxes -> model inputs, and model outputs -> one row per word.

* ``document_words`` lists a document's words in reading order (page, line,
  x) with boxes normalised to 0-1000 of their page, as LayoutLM expects.
* ``encode`` splits the words into WordPiece sub-tokens; every sub-token
  carries its word's box, and only a word's first sub-token carries its label
  (the others get -100, which the loss ignores). A document longer than one
  window is cut into windows of ``max_length`` tokens ([CLS] ... [SEP]) that
  overlap by ``stride`` tokens.
* ``merge`` takes each word's prediction from the window where its first
  sub-token sits furthest from a window edge (the most context on both sides).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from paperbeam.records import Document, Word, group_lines

IGNORE = -100
CLS_BOX = (0, 0, 0, 0)
SEP_BOX = (1000, 1000, 1000, 1000)


@dataclass
class DocWord:
    page: int  # 1-based page number
    word: Word
    box: Tuple[int, int, int, int]  # 0-1000 of the page


def normalize_box(bbox, width: float, height: float) -> Tuple[int, int, int, int]:
    w, h = max(float(width), 1.0), max(float(height), 1.0)
    x0, y0, x1, y1 = bbox
    vals = (x0 / w, y0 / h, x1 / w, y1 / h)
    x0, y0, x1, y1 = (int(round(min(1.0, max(0.0, v)) * 1000)) for v in vals)
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def document_words(document: Document) -> List[DocWord]:
    out: List[DocWord] = []
    for page in document.pages:
        for line in group_lines(page.words):
            for w in line:
                if w.text.strip():
                    out.append(DocWord(page.page_number, w, normalize_box(w.bbox, page.width, page.height)))
    return out


@dataclass
class Window:
    input_ids: List[int]
    bbox: List[Tuple[int, int, int, int]]
    word_index: List[int]  # per token: the word whose first sub-token this is, else -1
    labels: Optional[List[int]] = None
    start: int = 0  # first body token's index in the document's token sequence
    doc: int = 0  # which document of a batch the window belongs to
    hints: Optional[List[int]] = None  # per token, its word's rule hint (hints.py); 0 for [CLS], [SEP]

    def __len__(self) -> int:
        return len(self.input_ids)


def encode(
    texts: Sequence[str],
    boxes: Sequence[Tuple[int, int, int, int]],
    tokenizer,
    labels: Optional[Sequence[int]] = None,
    max_length: int = 512,
    stride: int = 128,
    doc: int = 0,
    hints: Optional[Sequence[int]] = None,
) -> List[Window]:
    """Sub-token windows for one document's words (see the module docstring); ``hints``: one id per word."""
    body = max_length - 2
    if body <= stride:
        raise ValueError(f"max_length {max_length} leaves no room beside an overlap of {stride} tokens")
    ids: List[int] = []
    tok_box: List[Tuple[int, int, int, int]] = []
    first: List[int] = []
    tok_hint: List[int] = []
    if texts:
        enc = tokenizer(list(texts), is_split_into_words=True, add_special_tokens=False)
        seen = set()
        for tid, wid in zip(enc["input_ids"], enc.word_ids()):
            if wid is None:
                continue
            ids.append(tid)
            tok_box.append(tuple(boxes[wid]))
            tok_hint.append(int(hints[wid]) if hints is not None else 0)
            first.append(wid if wid not in seen else -1)
            seen.add(wid)
    windows: List[Window] = []
    start = 0
    while True:
        end = min(start + body, len(ids))
        wi = [-1] + first[start:end] + [-1]
        win = Window(
            input_ids=[tokenizer.cls_token_id] + ids[start:end] + [tokenizer.sep_token_id],
            bbox=[CLS_BOX] + tok_box[start:end] + [SEP_BOX],
            word_index=wi,
            start=start,
            doc=doc,
        )
        if labels is not None:
            win.labels = [IGNORE if w < 0 else int(labels[w]) for w in wi]
        if hints is not None:
            win.hints = [0] + tok_hint[start:end] + [0]
        windows.append(win)
        if end >= len(ids):
            break
        start = end - stride
    return windows


def collate(windows: Sequence[Window], pad_id: int = 0):
    """Padded tensors ``input_ids, bbox, attention_mask[, labels]`` for a list of windows."""
    import torch

    n = max(len(w) for w in windows)
    ids = torch.full((len(windows), n), pad_id, dtype=torch.long)
    bbox = torch.zeros((len(windows), n, 4), dtype=torch.long)
    mask = torch.zeros((len(windows), n), dtype=torch.long)
    labels = torch.full((len(windows), n), IGNORE, dtype=torch.long)
    for i, w in enumerate(windows):
        k = len(w)
        ids[i, :k] = torch.tensor(w.input_ids)
        bbox[i, :k] = torch.tensor(w.bbox)
        mask[i, :k] = 1
        if w.labels is not None:
            labels[i, :k] = torch.tensor(w.labels)
    return ids, bbox, mask, labels


def collate_hints(windows: Sequence[Window]):
    """Padded ``[batch, tokens]`` hint ids for windows encoded with hints (0 where a window has none)."""
    import torch

    hints = torch.zeros((len(windows), max(len(w) for w in windows)), dtype=torch.long)
    for i, w in enumerate(windows):
        if w.hints is not None:
            hints[i, :len(w)] = torch.tensor(w.hints)
    return hints


def merge(windows: Sequence[Window], probs: Sequence[np.ndarray], n_words: int, n_labels: int) -> np.ndarray:
    """Per-word label probabilities ``[n_words, n_labels]`` from per-window token probabilities.

    A word that got no token (nothing the tokenizer could read) gets "O" (column 0) with probability 1.
    """
    out = np.zeros((n_words, n_labels), dtype=np.float32)
    out[:, 0] = 1.0
    best = np.full(n_words, -1, dtype=np.int64)
    for win, p in zip(windows, probs):
        last = len(win) - 1
        for pos, w in enumerate(win.word_index):
            if w < 0:
                continue
            margin = min(pos, last - pos)
            if margin > best[w]:
                best[w] = margin
                out[w] = p[pos]
    return out
