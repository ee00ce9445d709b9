"""Fine-tune the layout token classifier on documents with ground truth.

Data directories come in two layouts (``load_examples`` tells them apart):

* SROIE: ``img/NNN.jpg`` + ``key/NNN.json`` (company/date/address/total ->
  vendor_name/document_date/vendor_address/total_amount);
* paperbeam: ``documents/<stem>.*`` + ``truth/<stem>.json`` (``paperbeam
  synth`` output, corrections exported from review).

Words come from the same reading the pipeline does (text layer, else the
chosen OCR engine), cached on disk by ``ocrcache``; labels are aligned to
them fuzzily (``align``), and values that find no words are counted.

The validation part is fixed by a rule, not drawn at random: a document
whose stem ends in a number that leaves 2 when divided by 5 (002, 007, 012,
... ; one in five) is never trained on. (Not "divisible by 5": sroie-dev has
no such stems, they were kept out of it.) A document only teaches the fields its truth has: the
logits of the other fields are masked out of its loss, so SROIE receipts
(four fields) do not teach that an invoice number is "O" (``taught_fields``).

Seeded (python, numpy, torch; one shuffling RNG), so the same data, seed and
thread count give the same model. Progress and validation F1 per epoch are
printed; the best epoch's weights are the ones saved (as deltas, ``weights``).
"""

from __future__ import annotations

import glob
import json
import math
import os
import random
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from paperbeam.errors import ConfigError
from paperbeam.models.evaluate import evaluate, load_truth
from paperbeam.models.layout.align import align
from paperbeam.models.layout.features import DocWord, IGNORE, collate, collate_hints, document_words, encode
from paperbeam.schema import INVOICE

# Fields are aligned in this order: short, exact values first, so a long fuzzy
# address cannot swallow the date or the total.
ALIGN_ORDER = ("total_amount", "tax_amount", "document_date", "due_date", "document_number", "currency",
               "vendor_name", "vendor_address")
# The fields whose rule readings a new model sees as input (hints.py): all of the schema's.
HINT_FIELDS = tuple(INVOICE.names)
_TRAILING_NUMBER = re.compile(r"(\d+)$")


def is_validation(stem: str, every: int = 5, remainder: int = 2) -> bool:
    """The fixed held-out rule: the stem's trailing number leaves ``remainder`` when divided by ``every``."""
    m = _TRAILING_NUMBER.search(stem)
    return bool(m) and int(m.group(1)) % every == remainder


@dataclass
class Example:
    stem: str
    source: str
    words: List[DocWord]
    labels: List[int]
    fields: List[str]  # fields the truth has a value for (scored in validation)
    truth: Dict[str, Optional[str]]
    validation: bool
    unaligned: List[str] = field(default_factory=list)
    taught: List[str] = field(default_factory=list)  # fields whose tags are known (see ``taught_fields``)
    hints: List[int] = field(default_factory=list)  # per word, the rules' field (hints.rule_hints over HINT_FIELDS)


@dataclass
class DataStats:
    documents: int = 0
    validation: int = 0
    labelled_values: int = 0
    unaligned_values: int = 0
    unaligned_by_field: Dict[str, int] = field(default_factory=dict)
    skipped: List[str] = field(default_factory=list)

    def line(self) -> str:
        share = self.unaligned_values / max(self.labelled_values, 1)
        by = ", ".join(f"{k} {v}" for k, v in sorted(self.unaligned_by_field.items()))
        return (f"{self.documents} documents ({self.validation} held out), {self.labelled_values} labelled values, "
                f"{self.unaligned_values} not aligned to OCR words ({share:.1%}){': ' + by if by else ''}"
                + (f"; {len(self.skipped)} unreadable skipped" if self.skipped else ""))


def _document_files(directory: str) -> List[Tuple[str, str, str]]:
    """``(stem, document path, format)`` for a SROIE or paperbeam data directory."""
    if os.path.isdir(os.path.join(directory, "key")) and os.path.isdir(os.path.join(directory, "img")):
        out = []
        for key in sorted(glob.glob(os.path.join(directory, "key", "*.json"))):
            stem = os.path.splitext(os.path.basename(key))[0]
            imgs = sorted(glob.glob(os.path.join(directory, "img", stem + ".*")))
            if imgs:
                out.append((stem, imgs[0], "sroie"))
        return out
    docs_dir = os.path.join(directory, "documents")
    if os.path.isdir(docs_dir) and os.path.isdir(os.path.join(directory, "truth")):
        out = []
        for t in sorted(glob.glob(os.path.join(directory, "truth", "*.json"))):
            stem = os.path.splitext(os.path.basename(t))[0]
            files = sorted(glob.glob(os.path.join(docs_dir, stem + ".*")))
            if files:
                out.append((stem, files[0], "paperbeam"))
        return out
    raise ConfigError(
        f"{directory} is not a training data directory: expected img/ + key/ (SROIE) or documents/ + truth/ "
        "(paperbeam synth or exported corrections)."
    )


def load_examples(
    directories: Sequence[str],
    labels: Sequence[str],
    engine_name: str = "tesseract",
    cache_dir: Optional[str] = None,
    engine=None,
    log: Callable[[str], None] = print,
) -> Tuple[List[Example], DataStats]:
    from paperbeam.models.layout.hints import rule_hints, rule_readings
    from paperbeam.models.layout.ocrcache import read_document

    stats = DataStats()
    examples: List[Example] = []
    for directory in directories:
        files = _document_files(directory)
        truth = load_truth(directory, "sroie" if files and files[0][2] == "sroie" else "paperbeam")
        if engine is None:
            from paperbeam import plugins

            engine = plugins.load("ocr_engines", engine_name)()
        started = time.perf_counter()
        for n, (stem, path, _fmt) in enumerate(files, 1):
            try:
                doc = read_document(path, engine, engine_name, cache_dir)
            except Exception as exc:  # noqa: BLE001 - one unreadable training file is reported, not fatal
                stats.skipped.append(f"{path}: {exc}")
                continue
            known = dict(truth.documents.get(stem) or {})
            values = {k: v for k, v in known.items() if v not in (None, "")}
            words = document_words(doc)
            tags, missed = align([w.word.text for w in words], values, truth.field_types, labels, ALIGN_ORDER)
            ex = Example(stem, directory, words, tags, sorted(values), known, is_validation(stem), missed,
                         taught_fields(known, missed), rule_hints(rule_readings(doc), words, HINT_FIELDS))
            examples.append(ex)
            stats.documents += 1
            stats.validation += ex.validation
            stats.labelled_values += len(values)
            stats.unaligned_values += len(missed)
            for m in missed:
                stats.unaligned_by_field[m] = stats.unaligned_by_field.get(m, 0) + 1
            if n % 50 == 0 or n == len(files):
                log(f"  read {n}/{len(files)} documents of {directory} ({time.perf_counter() - started:.0f}s)")
    return examples, stats


def taught_fields(known: Dict[str, Optional[str]], unaligned: Sequence[str]) -> List[str]:
    """The fields whose tags a document can teach: those its truth names, less those not aligned.

    A field the truth names with no value (a synthetic invoice with no due date: ``"due_date": null``)
    is taught too: every word is "not a due date", which is how the model learns that most documents
    have none. A field the truth does not name at all (a SROIE receipt has no invoice number in its
    key file) says nothing, and neither does a value that found no words: tagging its words "O" would
    teach that the printed value is not the field. Those fields' logits are left out of the loss.
    """
    return sorted(k for k in known if k not in set(unaligned))


def multi_line_fields(examples: Sequence[Example], labels: Sequence[str], share: float = 0.5) -> List[str]:
    """The fields whose labelled values, in the training examples, span more than one line ``share`` of the time or more.

    Why: the decoder bridges a few untagged words inside a value (OCR noise). Across a line break that
    is right for an address, which is a block of lines, and wrong for a shop's name, where the line
    above is its mall or branch ("SOLARIS Dutamas" over "SUN VICTORY SDN BHD"). Which fields are
    which is learnt from the data, so a user's own schema gets it too.
    """
    spans: Dict[str, List[int]] = {}
    for ex in examples:
        if ex.validation:
            continue
        run_field, run_lines = None, set()
        for w, lab in zip(list(ex.words) + [None], list(ex.labels) + [IGNORE]):
            tag = labels[lab] if 0 <= lab < len(labels) else "O"
            if run_field is not None and tag != f"I-{run_field}":
                spans.setdefault(run_field, []).append(len(run_lines) > 1)
                run_field, run_lines = None, set()
            if tag.startswith("B-"):
                run_field, run_lines = tag[2:], set()
            if run_field is not None:
                run_lines.add((w.page, w.word.line))
    return [f for f in dict.fromkeys(l[2:] for l in labels if l.startswith("B-"))
            if spans.get(f) and sum(spans[f]) >= share * len(spans[f])]


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _field_mask(fields: Sequence[str], labels: Sequence[str]) -> List[bool]:
    return [l == "O" or l[2:] in fields for l in labels]


def _hints_for(ex: Example, fields: Sequence[str]) -> List[int]:
    """``ex.hints`` (made over HINT_FIELDS) renumbered for a model that sees ``fields``."""
    index = {k + 1: (fields.index(f) + 1 if f in fields else 0) for k, f in enumerate(HINT_FIELDS)}
    return [index.get(h, 0) for h in ex.hints] if ex.hints else [0] * len(ex.words)


def validate(lm, examples: Sequence[Example], schema=INVOICE, batch_size: int = 16) -> Dict[str, dict]:
    """Exact-match F1 and edit similarity per source directory, on the given examples."""
    from paperbeam.models.layout.decode import decode

    out: Dict[str, dict] = {}
    by_source: Dict[str, List[Example]] = {}
    for ex in examples:
        by_source.setdefault(ex.source, []).append(ex)
    for source, exs in by_source.items():
        hints = [_hints_for(ex, lm.spec.hints) for ex in exs] if lm.spec.hints else None
        probs = lm.predict([ex.words for ex in exs], batch_size, hints)
        preds = []
        for ex, p in zip(exs, probs):
            fields = decode(ex.words, p, lm.spec.labels, schema, multi_line=lm.spec.multi_line)
            preds.append({"source_uri": ex.stem, "fields": {k: f.to_dict() for k, f in fields.items()}})
        types = {f.name: f.type for f in schema.fields}
        scored = sorted({k for ex in exs for k in ex.fields} & set(types), key=list(types).index)
        report = evaluate(preds, {ex.stem: ex.truth for ex in exs}, {k: types[k] for k in scored})
        out[source] = {
            "documents": len(exs),
            "fields": {k: {"f1": round(s.f1, 4), "edit_similarity": round(s.edit_similarity, 4)}
                       for k, s in report.fields.items()},
            "mean_f1": round(float(np.mean([s.f1 for s in report.fields.values()])), 4) if report.fields else 0.0,
        }
    return out


def jitter_boxes(bbox, mask, amount: float, generator):
    """Each window's boxes moved and stretched together by a random shift and scale (training only).

    Why: the box tables learn one vector per coordinate, and a few hundred documents show each exact
    position only a few times, so the model can memorise where a field sat rather than learn what
    is around it. Moving a whole page by up to ``amount`` x 1000 and scaling it by up to 1 +/-
    ``amount`` keeps every word's place beside the others (what a label "TOTAL" to the left of an
    amount means) while no position is the same twice. The [CLS] and [SEP] boxes, and padding, stay.
    """
    import torch

    if amount <= 0:
        return bbox
    n = bbox.shape[0]
    scale = 1.0 + (torch.rand((n, 1, 2), generator=generator) * 2 - 1) * amount
    shift = (torch.rand((n, 1, 2), generator=generator) * 2 - 1) * amount * 1000
    xy = bbox.view(n, -1, 2, 2).float()  # [batch, tokens, (x0 y0), (x1 y1)]
    moved = (xy * scale[:, :, None, :] + shift[:, :, None, :]).round().clamp(0, 1000).long().view_as(bbox)
    body = mask.bool().clone()
    body[:, 0] = False
    lengths = mask.sum(dim=1)
    body[torch.arange(n), (lengths - 1).clamp(min=0)] = False
    return torch.where(body[:, :, None], moved, bbox)


def _batches(windows, batch_size: int, rng: random.Random):
    """Shuffled batches of windows of similar length (little padding)."""
    order = list(range(len(windows)))
    rng.shuffle(order)
    chunk = batch_size * 16
    batches = []
    for s in range(0, len(order), chunk):
        part = sorted(order[s:s + chunk], key=lambda k: len(windows[k]))
        batches += [part[i:i + batch_size] for i in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


def train(
    examples: Sequence[Example],
    out_dir: str,
    backbone: Optional[str] = None,
    epochs: int = 4,
    seed: int = 13,
    lr: float = 5e-5,
    head_lr: float = 1e-3,
    batch_size: int = 8,
    max_length: int = 512,
    stride: int = 128,
    threads: int = 2,
    version: str = "0",
    log: Callable[[str], None] = print,
    extra: Optional[dict] = None,
    patience: Optional[int] = None,
    box_jitter: float = 0.0,
    init: Optional[str] = None,
    hints: Sequence[str] = HINT_FIELDS,
) -> dict:
    """Fine-tune and save the best epoch to ``out_dir``; returns the training summary.

    ``patience``: stop once validation has not improved for that many epochs. ``box_jitter``: see
    ``jitter_boxes`` (0 = off). ``init``: a saved paperbeam model to start from instead of the bare
    backbone (a model whose validation was still rising when its epochs ran out trains on from
    where it stopped; the saved deltas stay relative to the backbone). ``hints``: the fields whose rule
    readings the model sees (``hints.py``; empty: none).
    ``training.json`` is rewritten after every epoch, so a run stopped early still says how it went.
    """
    import torch

    from paperbeam.models.layout import backbone as bb
    from paperbeam.models.layout import weights
    from paperbeam.models.layout.model import ModelSpec, bio_labels, build
    from paperbeam.models.layout.runtime import LayoutModel

    started = time.perf_counter()
    torch.set_num_threads(max(1, threads))
    seed_everything(seed)
    labels = bio_labels(INVOICE.names)
    backbone_name = backbone or bb.DEFAULT
    backbone_dir = bb.resolve(backbone_name)
    spec = ModelSpec(labels=labels, backbone=backbone_name, max_length=max_length, stride=stride, version=version,
                     extra=dict(extra or {}), hints=list(hints), multi_line=multi_line_fields(examples, labels))
    model = build(spec, backbone_dir, pretrained=True)
    base_state = {k: v.detach().clone() for k, v in model.encoder.state_dict().items()}
    if init:
        start_spec = ModelSpec.load(init)
        if start_spec.labels != labels or start_spec.backbone != backbone_name:
            raise ConfigError(f"--init {init} has other labels or another backbone ({start_spec.backbone}) "
                              f"than this training ({backbone_name}).")
        if start_spec.hints and start_spec.hints != spec.hints:
            raise ConfigError(f"--init {init} was trained with other rule hints ({start_spec.hints}) than this training "
                              f"({spec.hints or 'none'}).")
        weights.add_saved(model, init, start_spec)
    tokenizer = bb.load_tokenizer(backbone_dir)
    # The word-piece table is most of the weights and barely moves in a short fine-tune: keep it
    # frozen, so the shipped deltas stay small (it is not saved at all).
    model.encoder.get_input_embeddings().weight.requires_grad_(False)

    train_ex = [ex for ex in examples if not ex.validation]
    val_ex = [ex for ex in examples if ex.validation]
    if not train_ex:
        raise ConfigError("No training documents left after holding out the validation part.")
    windows = []
    masks = []
    for ex in train_ex:
        for w in encode([d.word.text for d in ex.words], [d.box for d in ex.words], tokenizer, ex.labels,
                        max_length, stride, hints=_hints_for(ex, spec.hints) if spec.hints else None):
            windows.append(w)
            masks.append(_field_mask(ex.taught, labels))
    steps_per_epoch = math.ceil(len(windows) / batch_size)
    total = steps_per_epoch * epochs
    new_params = [p for n, p in model.named_parameters() if not n.startswith("encoder.") and p.requires_grad]
    enc_params = [p for n, p in model.named_parameters() if n.startswith("encoder.") and p.requires_grad]
    optim = torch.optim.AdamW([{"params": enc_params, "lr": lr}, {"params": new_params, "lr": head_lr}],
                              weight_decay=0.01)
    warmup = max(1, int(0.1 * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (total - s) / max(1, total - warmup)))
    rng = random.Random(seed)
    box_rng = torch.Generator().manual_seed(seed)
    pad = tokenizer.pad_token_id or 0
    log(f"training on {len(train_ex)} documents ({len(windows)} windows), validating on {len(val_ex)}; "
        f"{epochs} epochs x {steps_per_epoch} steps, batch {batch_size}, lr {lr} / head {head_lr}, seed {seed}, "
        f"box jitter {box_jitter}, rule hints {', '.join(spec.hints) or 'none'}, fields spanning lines "
        f"{', '.join(spec.multi_line) or 'none'}" + (f", starting from {init}" if init else ""))
    history = []
    best = None
    step = 0
    for epoch in range(1, epochs + 1):
        model.train()
        t0 = time.perf_counter()
        losses = []
        for b, idx in enumerate(_batches(windows, batch_size, rng), 1):
            ids, bbox, mask, y = collate([windows[k] for k in idx], pad)
            tags = collate_hints([windows[k] for k in idx]) if spec.hints else None
            bbox = jitter_boxes(bbox, mask, box_jitter, box_rng)
            fmask = torch.tensor([masks[k] for k in idx], dtype=torch.bool)  # [B, L]
            logits = model(ids, bbox, mask, tags)
            logits = logits.masked_fill(~fmask[:, None, :], -1e4)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                                     ignore_index=IGNORE)
            optim.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optim.step()
            sched.step()
            step += 1
            losses.append(float(loss.detach()))
            if b % 10 == 0 or b == steps_per_epoch:
                el = time.perf_counter() - t0
                eta = el / b * (steps_per_epoch - b)
                log(f"  epoch {epoch}/{epochs} step {b}/{steps_per_epoch} loss {np.mean(losses[-10:]):.4f} "
                    f"({el:.0f}s, epoch eta {eta:.0f}s)")
        model.eval()
        lm = LayoutModel(model, tokenizer, spec, "cpu")
        scores = validate(lm, val_ex) if val_ex else {}
        main = scores.get(_main_source(scores), {}).get("mean_f1", -float(np.mean(losses)))
        row = {"epoch": epoch, "loss": round(float(np.mean(losses)), 4), "seconds": round(time.perf_counter() - t0, 1),
               "validation": scores}
        history.append(row)
        log(f"epoch {epoch}: loss {row['loss']}, {row['seconds']}s; validation " + "; ".join(
            f"{os.path.basename(s.rstrip('/'))}: mean F1 {v['mean_f1']} ("
            + ", ".join(f"{k} {f['f1']}" for k, f in v["fields"].items()) + ")" for s, v in scores.items()))
        if best is None or main > best[0]:
            best = (main, epoch)
            path, size = weights.save(model, spec, out_dir, base_state)
            log(f"  best so far: saved {path} ({size / 1e6:.1f} MB)")
        summary = {
            "seed": seed, "epochs": epochs, "epochs_run": epoch, "best_epoch": best[1],
            "best_validation_mean_f1": best[0], "train_documents": len(train_ex),
            "validation_documents": len(val_ex), "train_windows": len(windows), "lr": lr, "head_lr": head_lr,
            "batch_size": batch_size, "box_jitter": box_jitter, "init": init, "hints": spec.hints, "seconds": round(time.perf_counter() - started, 1), "threads": threads,
            "history": history, "python": sys.version.split()[0], "torch": torch.__version__,
        }
        with open(os.path.join(out_dir, "training.json"), "w", encoding="utf-8") as fh:
            json.dump(summary, fh, indent=2)
            fh.write("\n")
        if patience is not None and epoch - best[1] >= patience:
            log(f"no improvement for {patience} epoch(s): stopping after epoch {epoch}")
            break
    return summary


def _main_source(scores: Dict[str, dict]) -> Optional[str]:
    """The validation set that picks the best epoch: the first SROIE-layout one, else the first."""
    for s in scores:
        if os.path.isdir(os.path.join(s, "key")):
            return s
    return next(iter(scores), None)
