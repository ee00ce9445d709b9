"""Refit RapidOCR's last recogniser layer (and block) on labelled text lines (makes ``data/ocr/rec_head.npz``).

    python -m paperbeam.models.ocr.rec_head_train --sroie ../shared/datasets/sroie-dev \\
        --out paperbeam/data/ocr/rec_head.npz [--epochs 8 --seed 0 --features CACHE.npz]

Data: a SROIE-layout folder: ``img/NNN.jpg`` and ``box/NNN.csv`` (each row a
line's quadrilateral and its true text). Each page goes through RapidOCR's own
detector, as at run time; a detected line whose box overlaps one true line
well (IoU >= 0.5) becomes an example: the features the recogniser computes
for that crop (the input of its last layer, see ``rec_head``) and the true
text. Pages follow the layout model's held-out rule
(``paperbeam.models.layout.train.is_validation``): one in five is only used
to pick the epoch and report accuracy, never to fit.

Fitting: the new layer starts as the wheel's own columns for the characters
it keeps (ASCII and common symbols), so epoch 0 reads exactly as RapidOCR
does. The loss is CTC over *case-folded* characters (the probabilities of
"a" and "A" are added): SROIE's line texts are upper-cased, and the layer
must learn which glyph it sees, not to shout. An L2 pull towards the
starting weights keeps what the layer knew about text it is not shown. The
epoch with the best held-out line accuracy is kept, and the saved layer is
``--blend`` of the way from the wheel's layer to it (0.5: the average of the
two). Measured on the held-out receipts, the refitted layer alone read more
lines right but the lines holding the key fields (shop names, addresses)
slightly worse, and cost 1.4 points of key coverage; halfway gains on both
(figures in ``paperbeam/data/ocr/README.md``).

``--block`` refits the recogniser's last feed-forward block with the layer
(see ``rec_head``): the features are then that block's inputs, the pull
holds the block near the wheel's weights too, and the blend moves both.

Seeded (torch, python); the feature extraction is deterministic, and
``--features`` caches it so refits take seconds.
"""

from __future__ import annotations

import argparse
import glob
import os
import random
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from paperbeam.models.evaluate import sroie_box_lines
from paperbeam.models.layout.train import is_validation
from paperbeam.models.ocr.alphabet import allowed_characters
from paperbeam.models.ocr.rec_head import BLOCK_KEYS, Head, split_last_block, split_last_layer

MIN_IOU = 0.5
BATCH = 6  # rapidocr's rec_batch_num: crops are padded to the widest of their batch, as at run time


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class FeatureReader:
    """RapidOCR's detector and the recogniser cut before its last layer (or its last block), single-threaded."""

    def __init__(self, threads: int = 1, block: bool = False):
        import onnxruntime
        import rapidocr
        from rapidocr import RapidOCR

        from paperbeam.models.ocr.rapid import MODEL_FILES

        root = os.path.join(os.path.dirname(rapidocr.__file__), "models")
        self.rec_path = os.path.join(root, MODEL_FILES["Rec"])
        params = {"Global.log_level": "warning",
                  "EngineConfig.onnxruntime.intra_op_num_threads": threads,
                  "EngineConfig.onnxruntime.inter_op_num_threads": threads}
        for task, name in MODEL_FILES.items():
            params[f"{task}.model_path"] = os.path.join(root, name)
        self.ocr = RapidOCR(params=params)
        self.det = self.ocr._load_det_model()
        self.rec = self.ocr._load_rec_model()
        opts = onnxruntime.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = threads
        block_params = None
        if block:
            cut, block_params, weight, bias = split_last_block(self.rec_path)
        else:
            cut, weight, bias = split_last_layer(self.rec_path)
        self.session = onnxruntime.InferenceSession(cut, opts, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name
        self.charset = list(self.rec.postprocess_op.character)
        self.stock = Head(*_stock_columns(weight, bias, self.charset), source="stock", block=block_params)

    def lines(self, bgr: np.ndarray) -> List[Tuple[Tuple[float, float, float, float], np.ndarray]]:
        """(box, features) for every line the detector finds, features (time, 120) as the recogniser sees them."""
        from rapidocr.main import get_rotate_crop_image

        boxes = self.det(bgr).boxes
        if boxes is None or not len(boxes):
            return []
        crops = []
        for quad in boxes:
            crop = get_rotate_crop_image(bgr, np.array(quad, dtype=np.float32).copy())
            if crop.shape[0] >= 1.5 * crop.shape[1]:
                crop = np.rot90(crop)
            crops.append(crop)
        ratios = [c.shape[1] / float(c.shape[0]) for c in crops]
        order = np.argsort(ratios)
        out: Dict[int, np.ndarray] = {}
        _, height, width = self.rec.rec_image_shape
        for start in range(0, len(order), BATCH):
            chunk = order[start:start + BATCH]
            widest = max([width / height] + [ratios[i] for i in chunk])
            batch = np.stack([self.rec.resize_norm_img(crops[i], widest) for i in chunk]).astype(np.float32)
            feats = self.session.run(None, {self.input: batch})[0]
            for j, i in enumerate(chunk):
                out[int(i)] = feats[j].astype(np.float16)
        result = []
        for i, quad in enumerate(boxes):
            q = np.asarray(quad).reshape(4, 2)
            result.append(((float(q[:, 0].min()), float(q[:, 1].min()), float(q[:, 0].max()), float(q[:, 1].max())), out[i]))
        return result


def _stock_columns(weight: np.ndarray, bias: np.ndarray, charset: Sequence[str]):
    """The wheel's last layer restricted to the characters English documents use (column 0: blank)."""
    table = {c: k for k, c in enumerate(charset)}
    keep = ["blank"] + sorted(c for c in allowed_characters("eng") if c in table)
    cols = [0] + [table[c] for c in keep[1:]]
    return weight[:, cols], bias[cols], keep


def collect(sroie: str, reader: FeatureReader, shard: Tuple[int, int] = (0, 1), log=print, holdout: int = 2) -> List[dict]:
    """Examples {stem, text, feat, validation} from the pages of a SROIE folder (every n-th from the k-th, for ``shard`` (k, n))."""
    from PIL import Image, ImageOps

    examples = []
    paths = sorted(glob.glob(os.path.join(sroie, "img", "*.jpg")))[shard[0]::shard[1]]
    t0 = time.time()
    for n, path in enumerate(paths, 1):
        stem = os.path.splitext(os.path.basename(path))[0]
        box = os.path.join(sroie, "box", stem + ".csv")
        if not os.path.isfile(box):
            continue
        with Image.open(path) as im:
            bgr = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))[:, :, ::-1].copy()
        truth = sroie_box_lines(box)
        for bbox, feat in reader.lines(bgr):
            best = max(truth, key=lambda t: iou(bbox, t), default=None)
            if best is not None and iou(bbox, best) >= MIN_IOU:
                examples.append({"stem": stem, "text": best[4], "feat": feat, "validation": is_validation(stem, remainder=holdout)})
        if n % 50 == 0 or n == len(paths):
            log(f"  read {n}/{len(paths)} pages, {len(examples)} lines, {time.time() - t0:.0f} s")
    return examples


def save_examples(path: str, examples: List[dict]) -> None:
    np.savez_compressed(path, stem=np.array([e["stem"] for e in examples]), text=np.array([e["text"] for e in examples]),
                        validation=np.array([e["validation"] for e in examples]),
                        length=np.array([len(e["feat"]) for e in examples]),
                        feat=np.concatenate([e["feat"] for e in examples]))


def load_examples(path: str) -> List[dict]:
    with np.load(path, allow_pickle=False) as z:
        ends = np.cumsum(z["length"])
        feats = np.split(z["feat"], ends[:-1])
        return [{"stem": str(s), "text": str(t), "validation": bool(v), "feat": f}
                for s, t, v, f in zip(z["stem"], z["text"], z["validation"], feats)]


def greedy(probs_or_logits: np.ndarray, chars: Sequence[str]) -> str:
    """CTC best path: the likeliest character per step, repeats merged, blanks dropped."""
    out, prev = [], 0
    for k in probs_or_logits.argmax(-1).tolist():
        if k != prev and k:
            out.append(chars[k])
        prev = k
    return "".join(out)


def squashed(text: str) -> str:
    return "".join(text.split()).casefold()


def line_accuracy(examples: List[dict], head: Head) -> float:
    """Share of lines read exactly (ignoring case and spaces)."""
    if not examples:
        return 0.0
    hits = sum(squashed(greedy(head.logits(e["feat"]), head.chars)) == squashed(e["text"]) for e in examples)
    return hits / len(examples)


def widen(head: Head, context: int) -> Head:
    """``head`` reading ``context`` neighbouring steps on each side, their weights zero: the same readings, room to learn."""
    if context == head.context:
        return head
    if head.context:
        raise ValueError("only a plain layer can be widened")
    rows = head.weight.shape[0]
    weight = np.zeros(((2 * context + 1) * rows, head.weight.shape[1]), np.float32)
    weight[context * rows:(context + 1) * rows] = head.weight
    return Head(weight, head.bias.copy(), head.chars, source=head.source, lang=head.lang, context=context, block=head.block)


def blend(start: Head, refit: Head, share: float) -> Head:
    """The layer ``share`` of the way from ``start`` to ``refit`` (weights and biases interpolated)."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"blend must be between 0 and 1, not {share}")
    block = None
    if start.block is not None:
        block = {k: start.block[k] * (1 - share) + refit.block[k] * share if k in BLOCK_KEYS else start.block[k]
                 for k in start.block}
    return Head(start.weight * (1 - share) + refit.weight * share, start.bias * (1 - share) + refit.bias * share,
                start.chars, source=refit.source, lang=start.lang, context=start.context, block=block)


def fit(examples: List[dict], start: Head, epochs: int = 8, seed: int = 0, lr: float = 1e-3, pull: float = 1e-3,
        batch: int = 32, log=print) -> Tuple[Head, List[dict]]:
    """The refitted layer (best held-out epoch) and per-epoch figures."""
    import torch
    import torch.nn.functional as F

    random.seed(seed)
    torch.manual_seed(seed)
    chars = start.chars
    folded = ["blank"] + sorted({c.casefold() for c in chars[1:]})
    fold_index = {c: k for k, c in enumerate(folded)}
    fold = torch.zeros(len(chars), len(folded))
    fold[0, 0] = 1.0
    for k, c in enumerate(chars[1:], 1):
        fold[k, fold_index[c.casefold()]] = 1.0
    known = set(chars[1:])
    usable = [e for e in examples if e["text"] and set(e["text"]) <= known]
    train = [e for e in usable if not e["validation"]]
    held = [e for e in usable if e["validation"]]
    log(f"  {len(examples)} lines; {len(train)} to fit, {len(held)} held out; {len(examples) - len(usable)} with characters the layer lacks")
    initial = {"weight": start.weight, "bias": start.bias}
    initial.update({"block." + k: v for k, v in (start.block or {}).items() if k in BLOCK_KEYS})
    origin = {k: torch.tensor(v) for k, v in initial.items()}
    params = {k: torch.nn.Parameter(v.clone()) for k, v in origin.items()}
    eps = {k: float(start.block.get(k, 1e-5)) for k in ("eps1", "eps2")} if start.block else {}
    opt = torch.optim.Adam(list(params.values()), lr=lr)
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)

    def snapshot() -> Head:
        block = None
        if start.block is not None:
            block = dict(start.block)
            block.update({k[len("block."):]: v.detach().numpy().copy() for k, v in params.items() if k.startswith("block.")})
        return Head(params["weight"].detach().numpy().copy(), params["bias"].detach().numpy().copy(), chars, source="refit",
                    lang=start.lang, context=start.context, block=block)

    def layer_features(feats):
        if start.block is None:
            return feats
        width = feats.shape[-1] // 2
        x, skip = feats[..., :width], feats[..., width:]
        h = F.layer_norm(x, (width,), params["block.ln1_g"], params["block.ln1_b"], eps["eps1"])
        z = h @ params["block.w1"] + params["block.b1"]
        y = x + F.silu(z) @ params["block.w2"] + params["block.b2"]
        return F.layer_norm(y, (width,), params["block.ln2_g"], params["block.ln2_b"], eps["eps2"]) + skip

    history = [{"epoch": 0, "held_out_line_accuracy": round(line_accuracy(held, start), 4), "loss": None}]
    log(f"  epoch 0 (the wheel's layer): held-out line accuracy {history[0]['held_out_line_accuracy']:.4f}")
    best, best_acc = start, history[0]["held_out_line_accuracy"]
    order = list(range(len(train)))
    width = train[0]["feat"].shape[-1] if train else 0
    for epoch in range(1, epochs + 1):
        random.shuffle(order)
        total = 0.0
        for i in range(0, len(order), batch):
            part = [train[k] for k in order[i:i + batch]]
            steps = max(len(e["feat"]) for e in part)
            feats = torch.zeros(len(part), steps, width)
            for j, e in enumerate(part):
                feats[j, :len(e["feat"])] = torch.from_numpy(e["feat"].astype(np.float32))
            targets = [torch.tensor([fold_index[c.casefold()] for c in e["text"]]) for e in part]
            feats = layer_features(feats)
            if start.context:
                padded = F.pad(feats, (0, 0, start.context, start.context))
                feats = torch.cat([padded[:, k:k + steps] for k in range(2 * start.context + 1)], -1)
            probs = torch.softmax(feats @ params["weight"] + params["bias"], -1) @ fold
            logp = torch.log(probs.clamp_min(1e-12)).transpose(0, 1)
            loss = ctc(logp, torch.cat(targets), torch.tensor([len(e["feat"]) for e in part]),
                       torch.tensor([len(t) for t in targets]))
            loss = loss + pull * sum(((params[k] - origin[k]) ** 2).sum() for k in params)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(part)
        head = snapshot()
        acc = line_accuracy(held, head)
        history.append({"epoch": epoch, "held_out_line_accuracy": round(acc, 4), "loss": round(total / max(1, len(train)), 4)})
        log(f"  epoch {epoch}: loss {total / max(1, len(train)):.4f}, held-out line accuracy {acc:.4f}")
        if acc > best_acc:
            best, best_acc = head, acc
    return best, history


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sroie", required=True, help="a SROIE-layout folder (img/, box/)")
    parser.add_argument("--out", required=True, help="where to write the head (.npz)")
    parser.add_argument("--features", help="cache(s) of the extracted line features (.npz, comma-separated): read if present, else written")
    parser.add_argument("--shard", default="0/1", help="K/N: read only every N-th page from the K-th, write --features and stop (to run N at once)")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--pull", type=float, default=1e-3, help="L2 weight pulling the layer towards the wheel's")
    parser.add_argument("--context", type=int, default=0, help="neighbouring time steps the layer reads on each side")
    parser.add_argument("--space-bias", type=float, default=0.0,
                        help="added to the space's logit when decoding (the shipped head: 1.0, see data/ocr/README.md)")
    parser.add_argument("--holdout", type=int, default=2, help="hold out pages whose number leaves this when divided by 5 "
                        "(2, as the layout model; 1, 3 and 4 give the other folds of a cross-validation)")
    parser.add_argument("--block", action="store_true", help="refit the recogniser's last feed-forward block as well as its last layer "
                        "(the features cache then holds that block's inputs)")
    parser.add_argument("--blend", type=float, default=0.5, help="how far to move from the wheel's layer to the refitted one (0..1)")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    t0 = time.time()
    reader = FeatureReader(block=args.block)
    k, _, n = args.shard.partition("/")
    shard = (int(k), int(n or 1))
    caches = [p for p in (args.features or "").split(",") if p]
    if caches and all(os.path.isfile(p) for p in caches) and shard[1] == 1:
        examples = [e for p in caches for e in load_examples(p)]
        for e in examples:  # the cache is the same for every fold; the held-out part is chosen now
            e["validation"] = is_validation(e["stem"], remainder=args.holdout)
    else:
        examples = collect(args.sroie, reader, shard=shard, holdout=args.holdout)
        if caches:
            save_examples(caches[0], examples)
        if shard[1] > 1:
            print(f"wrote {len(examples)} lines to {caches[0] if caches else 'nowhere (no --features)'}")
            return 0
    start = widen(reader.stock, args.context)
    head, history = fit(examples, start, epochs=args.epochs, seed=args.seed, lr=args.lr, pull=args.pull)
    head = blend(start, head, args.blend)
    head.space_bias = args.space_bias
    held = [e for e in examples if e["validation"] and set(e["text"]) <= set(head.chars[1:])]
    head.save(args.out)
    print(f"saved {args.out} ({os.path.getsize(args.out) / 1024:.0f} KB) in {time.time() - t0:.0f} s; held-out line accuracy: "
          f"wheel's layer {history[0]['held_out_line_accuracy']:.4f}, refitted {max(h['held_out_line_accuracy'] for h in history):.4f}, "
          f"saved (blend {args.blend:g}) {line_accuracy(held, head):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
