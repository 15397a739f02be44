#!/usr/bin/env python3
"""Train the default bundle's emotion head: a small MLP over all-MiniLM-L6-v2 embeddings.

    target/venv-fixtures/bin/python models/emotion-head/train.py \
        --data-dir /work/shared/data/goemotions

Steps (all seeded; see README.md):
  1. embed GoEmotions train/dev with the default embedding model exactly as the
     extension does (tokenizers, no padding + truncation to max_tokens, batches
     padded to their longest text with pad id 0, onnxruntime with graph
     optimisation, attention-mask mean pooling, L2 normalisation); cached as .npy
     under --work-dir, keyed by the model/tokenizer/data sha256;
  2. train an MLP 384 -> hidden -> 28 logits with BCE-with-logits, AdamW, early
     stopping on dev macro-F1 (with per-label thresholds tuned each epoch, which is
     what ships; macro-F1 at 0.5 mostly measures whether rare labels ever reach 0.5);
  3. tune one threshold per label on dev (grid 0.05..0.95, each label's F1);
  4. export head.onnx (input `embedding` float32 [batch, 384], output `logits`
     float32 [batch, 28], opset 17), check ONNX/torch parity, write
     reference.json and the manifest models/manifests/minilm-goemotions-head.json.

`--sweep` trains the variants listed in VARIANTS and prints their dev figures
without exporting anything.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
EMBED_ID = "all-minilm-l6-v2-int8"
HEAD_ID = "minilm-goemotions-head"

REFERENCE_TEXTS = [
    "I'm so happy, this is the best day of my life!",
    "My grandmother passed away last night and I can't stop crying.",
    "Thank you so much for helping me move, I really appreciate it.",
    "This is disgusting, how could anyone think that's okay?",
    "Wait, what? I had no idea that was even possible!",
    "I'm really nervous about my exam tomorrow.",
    "I'm so sorry, I shouldn't have said that to you.",
    "Why does the bus keep leaving before it's supposed to? So annoying.",
    "lol that is hilarious, I can't breathe",
    "The meeting is at 3pm in room 204.",
    "I love you more than anything in the world.",
    "I hope things get better for you soon.",
]


# ----------------------------------------------------------------------------- utils

def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def r7(x: float) -> float:
    return float(f"{float(x):.7g}")


def read_labels(path: Path) -> list[str]:
    labels = [l.strip() for l in path.read_text(encoding="utf-8").splitlines() if l.strip()]
    assert len(labels) == 28, f"{path}: expected 28 labels, got {len(labels)}"
    return labels


def read_tsv(path: Path, n_labels: int):
    texts, ys = [], []
    with open(path, encoding="utf-8", newline="") as f:
        for line_no, line in enumerate(f, 1):
            line = line.rstrip("\n").rstrip("\r")
            parts = line.split("\t")
            if len(parts) != 3:
                sys.exit(f"{path}:{line_no}: expected 3 tab-separated fields, got {len(parts)}")
            text, lab, _id = parts
            y = np.zeros(n_labels, dtype=np.float32)
            for k in lab.split(","):
                y[int(k)] = 1.0
            texts.append(text)
            ys.append(y)
    return texts, np.stack(ys)


# ----------------------------------------------------------------------------- embedding

def load_embedder(model_dir: Path, manifest: dict, threads: int):
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / manifest["files"]["tokenizer"]["path"]))
    tok.no_padding()
    tok.enable_truncation(max_length=int(manifest["max_tokens"]))
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(str(model_dir / manifest["files"]["model"]["path"]), so,
                                providers=["CPUExecutionProvider"])
    return tok, sess


def embed_texts(texts, manifest, tok, sess, batch_size=64, log=None) -> np.ndarray:
    """Embeddings as the extension computes them; batches of similar length for speed."""
    encs = [tok.encode(t) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: (len(encs[i].ids), i))
    out = np.zeros((len(texts), int(manifest["dims"])), dtype=np.float32)
    names = manifest["inputs"]
    t0 = time.time()
    for b in range(0, len(order), batch_size):
        idx = order[b:b + batch_size]
        n = max(len(encs[i].ids) for i in idx)
        ids = np.zeros((len(idx), n), dtype=np.int64)      # pad id 0
        mask = np.zeros((len(idx), n), dtype=np.int64)
        for r, i in enumerate(idx):
            e = encs[i]
            ids[r, :len(e.ids)] = e.ids
            mask[r, :len(e.ids)] = 1
        feed = {names["input_ids"]: ids, names["attention_mask"]: mask}
        if "token_type_ids" in names:
            feed[names["token_type_ids"]] = np.zeros_like(ids)
        (hidden,) = sess.run([manifest["output"]], feed)
        m = mask[..., None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        pooled = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        out[idx] = pooled
        if log and (b // batch_size) % 100 == 0:
            log(f"  embedded {b + len(idx)}/{len(texts)} ({time.time() - t0:.0f}s)")
    return out


def cached_embeddings(split: str, texts, data_path: Path, model_dir: Path, manifest: dict,
                      work_dir: Path, threads: int, embedder_holder: dict) -> np.ndarray:
    key = hashlib.sha256("|".join([
        manifest["files"]["model"]["sha256"], manifest["files"]["tokenizer"]["sha256"],
        str(manifest["max_tokens"]), sha256_file(data_path)]).encode()).hexdigest()[:16]
    path = work_dir / f"emb_{split}_{key}.npy"
    if path.exists():
        emb = np.load(path)
        if emb.shape == (len(texts), int(manifest["dims"])):
            print(f"{split}: cached embeddings {path}")
            return emb
    if "tok" not in embedder_holder:
        embedder_holder["tok"], embedder_holder["sess"] = load_embedder(model_dir, manifest, threads)
    print(f"{split}: embedding {len(texts)} texts with {manifest['id']} ({threads} threads)")
    t0 = time.time()
    emb = embed_texts(texts, manifest, embedder_holder["tok"], embedder_holder["sess"],
                      log=lambda s: print(s, flush=True))
    print(f"{split}: embedded in {time.time() - t0:.0f}s")
    work_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, emb)
    os.replace(tmp, path)
    return emb


# ----------------------------------------------------------------------------- metrics

def f1_scores(y: np.ndarray, pred: np.ndarray):
    """(micro F1, macro F1, per-label F1) for 0/1 arrays [n, L]."""
    tp = (pred * y).sum(0)
    fp = (pred * (1 - y)).sum(0)
    fn = ((1 - pred) * y).sum(0)
    denom = 2 * tp + fp + fn
    per = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
    micro = 2 * tp.sum() / max(2 * tp.sum() + fp.sum() + fn.sum(), 1)
    return float(micro), float(per.mean()), per


THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.05), 2)


def tune_thresholds(y: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """Per label, the grid threshold with the best F1 (ties: the one closest to 0.5)."""
    th = np.full(y.shape[1], 0.5)
    for k in range(y.shape[1]):
        best = (-1.0, 0.0)
        for t in THRESHOLD_GRID:
            p = (prob[:, k] >= t).astype(np.float32)
            _, _, per = f1_scores(y[:, k:k + 1], p[:, None])
            score = (round(float(per[0]), 12), -abs(float(t) - 0.5))
            if score > best:
                best = score
                th[k] = float(t)
    return th


# ----------------------------------------------------------------------------- model

def set_determinism(seed: int, threads: int):
    import torch
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(threads)


def build_head(dims: int, hidden: int, n_labels: int, dropout: float, input_dropout: float):
    import torch.nn as nn
    layers = []
    if input_dropout > 0:
        layers.append(nn.Dropout(input_dropout))
    if hidden > 0:
        layers += [nn.Linear(dims, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, n_labels)]
    else:
        layers += [nn.Linear(dims, n_labels)]
    return nn.Sequential(*layers)


def predict(model, x: np.ndarray) -> np.ndarray:
    import torch
    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def train_head(cfg: dict, xtr, ytr, xdev, ydev, seed: int, threads: int, verbose=True):
    import torch
    import torch.nn.functional as F

    set_determinism(seed, threads)
    model = build_head(xtr.shape[1], cfg["hidden"], ytr.shape[1], cfg["dropout"],
                       cfg.get("input_dropout", 0.0))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    xt = torch.from_numpy(xtr)
    yt = torch.from_numpy(ytr)
    pos = ytr.sum(0)
    pos_weight = None
    if cfg.get("pos_weight_power", 0) > 0:
        pw = ((len(ytr) - pos) / np.maximum(pos, 1)) ** cfg["pos_weight_power"]
        pos_weight = torch.from_numpy(np.minimum(pw, cfg.get("pos_weight_cap", 1e9)).astype(np.float32))
    ls = cfg.get("label_smoothing", 0.0)
    gen = torch.Generator().manual_seed(seed)
    bs = cfg["batch_size"]
    steps_per_epoch = (len(xt) + bs - 1) // bs
    total = steps_per_epoch * cfg["epochs"]
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / max(1, int(0.05 * total))) * max(0.0, 1 - s / total)
        if cfg.get("schedule") == "linear" else 1.0)
    best = {"macro": -1.0}
    bad = 0
    history = []
    for epoch in range(1, cfg["epochs"] + 1):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        tot_loss = 0.0
        for b in range(0, len(xt), bs):
            idx = perm[b:b + bs]
            xb, yb = xt[idx], yt[idx]
            if ls > 0:
                yb = yb * (1 - ls) + 0.5 * ls
            logits = model(xb)
            if cfg.get("focal_gamma", 0) > 0:
                bce = F.binary_cross_entropy_with_logits(logits, yb, reduction="none",
                                                         pos_weight=pos_weight)
                p = torch.sigmoid(logits)
                pt = p * yb + (1 - p) * (1 - yb)
                loss = ((1 - pt) ** cfg["focal_gamma"] * bce).mean()
            else:
                loss = F.binary_cross_entropy_with_logits(logits, yb, pos_weight=pos_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot_loss += float(loss.detach()) * len(idx)
        prob = sigmoid(predict(model, xdev))
        mi5, ma5, _ = f1_scores(ydev, (prob >= 0.5).astype(np.float32))
        th = tune_thresholds(ydev, prob)
        mit, mat, _ = f1_scores(ydev, (prob >= th).astype(np.float32))
        # Early-stopping criterion: dev macro-F1 with tuned thresholds (what ships), since
        # macro-F1 at 0.5 is dominated by rare labels never crossing 0.5.
        crit = mat
        history.append({"epoch": epoch, "loss": tot_loss / len(xt), "micro_0_5": mi5, "macro_0_5": ma5,
                        "micro_tuned": mit, "macro_tuned": mat})
        if verbose:
            print(f"    epoch {epoch:2d} loss {tot_loss / len(xt):.4f}  @0.5 micro {mi5:.4f} macro {ma5:.4f}"
                  f"  tuned micro {mit:.4f} macro {mat:.4f}", flush=True)
        if crit > best["macro"] + 1e-6:
            best = {"macro": crit, "epoch": epoch,
                    "state": {k: v.detach().clone() for k, v in model.state_dict().items()}}
            bad = 0
        else:
            bad += 1
            if bad >= cfg["patience"]:
                break
    model.load_state_dict(best["state"])
    return model, best["epoch"], history


# ----------------------------------------------------------------------------- variants

BASE = {"hidden": 512, "dropout": 0.3, "input_dropout": 0.0, "lr": 1e-3, "weight_decay": 1e-2,
        "batch_size": 128, "epochs": 40, "patience": 5, "schedule": "const",
        "label_smoothing": 0.0, "pos_weight_power": 0.0, "focal_gamma": 0.0}

VARIANTS = {
    "linear": {**BASE, "hidden": 0, "dropout": 0.0, "lr": 3e-3},
    "mlp512": {**BASE},
    "mlp768": {**BASE, "hidden": 768},
    "mlp768_d5": {**BASE, "hidden": 768, "dropout": 0.5},
    "mlp768_pw": {**BASE, "hidden": 768, "pos_weight_power": 0.5},
    "mlp768_ls": {**BASE, "hidden": 768, "label_smoothing": 0.05},
    "mlp768_focal": {**BASE, "hidden": 768, "focal_gamma": 2.0},
    "mlp1024_d5": {**BASE, "hidden": 1024, "dropout": 0.5},
    "mlp768_in": {**BASE, "hidden": 768, "dropout": 0.5, "input_dropout": 0.1},
    "mlp768_sched": {**BASE, "hidden": 768, "dropout": 0.5, "epochs": 30, "patience": 30,
                     "schedule": "linear", "lr": 2e-3},
    "mlp768_d5_pw": {**BASE, "hidden": 768, "dropout": 0.5, "pos_weight_power": 0.5, "lr": 5e-4},
}

DEFAULT_VARIANT = "mlp768_d5"


def evaluate(model, xdev, ydev):
    prob = sigmoid(predict(model, xdev))
    mi5, ma5, per5 = f1_scores(ydev, (prob >= 0.5).astype(np.float32))
    th = tune_thresholds(ydev, prob)
    mit, mat, pert = f1_scores(ydev, (prob >= th).astype(np.float32))
    return {"micro_0_5": mi5, "macro_0_5": ma5, "micro_tuned": mit, "macro_tuned": mat,
            "per_label_f1_0_5": per5, "per_label_f1_tuned": pert, "thresholds": th, "prob": prob}


# ----------------------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True,
                    help="directory with train.tsv, dev.tsv, labels.txt, mappings.json")
    ap.add_argument("--model-dir", default=str(ROOT / "target/models" / EMBED_ID),
                    help="installed embedding model (models/fetch.py --bundle default)")
    ap.add_argument("--work-dir", default=str(ROOT / "target/emotion-head"),
                    help="scratch: cached embeddings")
    ap.add_argument("--out-dir", default=str(ROOT / "models/emotion-head"))
    ap.add_argument("--manifest-out", default=str(ROOT / "models/manifests" / f"{HEAD_ID}.json"))
    ap.add_argument("--variant", default=DEFAULT_VARIANT, choices=sorted(VARIANTS))
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=2, help="embedding (onnxruntime) threads")
    ap.add_argument("--train-threads", type=int, default=1,
                    help="torch threads; fixed so that float reductions repeat bit for bit")
    ap.add_argument("--sweep", nargs="*", metavar="VARIANT",
                    help="train these variants (all when none named), print dev figures, export nothing")
    ap.add_argument("--embed-only", action="store_true")
    args = ap.parse_args()

    t_start = time.time()
    data_dir = Path(args.data_dir)
    model_dir = Path(args.model_dir)
    work_dir = Path(args.work_dir)
    manifest = json.loads((ROOT / "models/manifests" / f"{EMBED_ID}.json").read_text(encoding="utf-8"))
    for entry in manifest["files"].values():
        p = model_dir / entry["path"]
        if not p.exists() or sha256_file(p) != entry["sha256"]:
            sys.exit(f"{p}: missing or sha256 mismatch; run models/fetch.py --bundle default --dest target/models")

    labels = read_labels(data_dir / "labels.txt")
    mappings = json.loads((data_dir / "mappings.json").read_text(encoding="utf-8"))
    tr_texts, ytr = read_tsv(data_dir / "train.tsv", len(labels))
    dev_texts, ydev = read_tsv(data_dir / "dev.tsv", len(labels))
    holder: dict = {}
    xtr = cached_embeddings("train", tr_texts, data_dir / "train.tsv", model_dir, manifest, work_dir,
                            args.threads, holder)
    xdev = cached_embeddings("dev", dev_texts, data_dir / "dev.tsv", model_dir, manifest, work_dir,
                             args.threads, holder)
    if args.embed_only:
        return

    if args.sweep is not None:
        names = args.sweep or list(VARIANTS)
        rows = []
        for name in names:
            t0 = time.time()
            print(f"== {name}: {VARIANTS[name]}", flush=True)
            model, ep, _ = train_head(VARIANTS[name], xtr, ytr, xdev, ydev, args.seed, args.train_threads)
            ev = evaluate(model, xdev, ydev)
            rows.append((name, ep, ev, time.time() - t0))
            print(f"== {name}: best epoch {ep}  @0.5 micro {ev['micro_0_5']:.4f} macro {ev['macro_0_5']:.4f}"
                  f"  tuned micro {ev['micro_tuned']:.4f} macro {ev['macro_tuned']:.4f}"
                  f"  ({time.time() - t0:.0f}s)", flush=True)
        print("\nvariant        epoch  micro@0.5  macro@0.5  micro-tuned  macro-tuned  secs")
        for name, ep, ev, secs in rows:
            print(f"{name:14s} {ep:5d}  {ev['micro_0_5']:9.4f}  {ev['macro_0_5']:9.4f}  "
                  f"{ev['micro_tuned']:11.4f}  {ev['macro_tuned']:11.4f}  {secs:4.0f}")
        return

    # --------------------------------------------------------------- final model
    import torch
    cfg = VARIANTS[args.variant]
    print(f"training {args.variant}: {cfg}", flush=True)
    model, best_epoch, history = train_head(cfg, xtr, ytr, xdev, ydev, args.seed, args.train_threads)
    ev = evaluate(model, xdev, ydev)
    print(f"best epoch {best_epoch}: @0.5 micro {ev['micro_0_5']:.4f} macro {ev['macro_0_5']:.4f}; "
          f"tuned micro {ev['micro_tuned']:.4f} macro {ev['macro_tuned']:.4f}")

    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = out_dir / "head.onnx"
    model.eval()
    dummy = torch.zeros(2, xtr.shape[1], dtype=torch.float32)
    torch.onnx.export(model, (dummy,), str(onnx_path), input_names=["embedding"], output_names=["logits"],
                      dynamic_axes={"embedding": {0: "batch"}, "logits": {0: "batch"}},
                      opset_version=17, do_constant_folding=True, dynamo=False)
    import onnx
    m = onnx.load(str(onnx_path))
    onnx.checker.check_model(m)
    # Fixed metadata: no producer version drift beyond what torch writes itself.
    m.doc_string = f"songmatch {HEAD_ID}: GoEmotions 28-way multi-label head over {EMBED_ID} embeddings"
    onnx.save(m, str(onnx_path))

    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
    ins = [(i.name, i.shape, i.type) for i in sess.get_inputs()]
    outs = [(o.name, o.shape, o.type) for o in sess.get_outputs()]
    print(f"onnx inputs {ins} outputs {outs}")
    onnx_logits = sess.run(["logits"], {"embedding": xdev})[0]
    torch_logits = predict(model, xdev)
    parity = float(np.abs(onnx_logits - torch_logits).max())
    print(f"parity onnx vs torch on dev ({len(xdev)} rows): max |diff| {parity:.3g}")
    assert parity < 1e-4, parity
    onnx_ev = evaluate_logits(onnx_logits, ydev, ev["thresholds"])
    print(f"dev figures recomputed from ONNX logits: {onnx_ev}")

    th = ev["thresholds"]
    metrics = {
        "dev_micro_f1_at_0_5": round(ev["micro_0_5"], 4),
        "dev_macro_f1_at_0_5": round(ev["macro_0_5"], 4),
        "dev_micro_f1_tuned": round(ev["micro_tuned"], 4),
        "dev_macro_f1_tuned": round(ev["macro_tuned"], 4),
        "train_rows": int(len(xtr)),
        "dev_rows": int(len(xdev)),
        "seed": args.seed,
    }

    # reference.json
    tok, esess = (holder["tok"], holder["sess"]) if "tok" in holder else load_embedder(model_dir, manifest, args.threads)
    ref = []
    for text in REFERENCE_TEXTS:
        emb = embed_texts([text], manifest, tok, esess)          # one text per run, no padding
        lg = sess.run(["logits"], {"embedding": emb})[0][0]
        pr = sigmoid(lg.astype(np.float64))
        pred = [labels[k] for k in range(len(labels)) if pr[k] >= th[k]]
        top = sorted(range(len(labels)), key=lambda k: -pr[k])[:3]
        ref.append({"text": text, "embedding_first8": [r7(v) for v in emb[0][:8]],
                    "logits": [r7(v) for v in lg], "probabilities": [r7(v) for v in pr],
                    "predicted": pred, "top3": [labels[k] for k in top]})
        print(f"  {text[:60]!r:64s} -> {pred}  top3 {[labels[k] for k in top]}")
    onnx_sha = sha256_file(onnx_path)
    reference = {
        "model": HEAD_ID,
        "base_model": EMBED_ID,
        "head_sha256": onnx_sha,
        "base_model_sha256": manifest["files"]["model"]["sha256"],
        "method": ("embedding: base model as the extension runs it, one text per run (no padding), "
                   "truncation to max_tokens, mean pooling over the attention mask, L2 normalised; "
                   "head.onnx run by onnxruntime CPU; probabilities = sigmoid(logits); predicted = "
                   "labels with probability >= the manifest's per-label threshold; "
                   "floats rounded to 7 significant digits"),
        "labels": labels,
        "thresholds": {labels[k]: float(th[k]) for k in range(len(labels))},
        "metrics": metrics,
        "dev_per_label_f1": {labels[k]: {"at_0_5": round(float(ev["per_label_f1_0_5"][k]), 4),
                                         "tuned": round(float(ev["per_label_f1_tuned"][k]), 4)}
                             for k in range(len(labels))},
        "training": {"variant": args.variant, "config": cfg, "best_epoch": best_epoch,
                     "history": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in h.items()}
                                 for h in history],
                     "onnx_torch_max_abs_diff_dev": float(f"{parity:.3g}"),
                     "torch": torch.__version__, "onnx": onnx.__version__,
                     "onnxruntime": ort.__version__,
                     "tokenizers": __import__("tokenizers").__version__, "numpy": np.__version__},
        "texts": ref,
    }
    (out_dir / "reference.json").write_text(json.dumps(reference, ensure_ascii=False, indent=1) + "\n",
                                            encoding="utf-8")

    head_manifest = {
        "id": HEAD_ID,
        "name": f"songmatch/{HEAD_ID}",
        "version": "1",
        "kind": "embedding-head",
        "base_model": EMBED_ID,
        "files": {"model": {"path": "head.onnx", "sha256": onnx_sha,
                            "source": {"repo": "models/emotion-head/head.onnx"}}},
        "max_tokens": int(manifest["max_tokens"]),
        "inputs": {"embedding": "embedding"},
        "output": "logits",
        "problem_type": "multi_label_classification",
        "labels": labels,
        "thresholds": {labels[k]: float(th[k]) for k in range(len(labels))},
        "ekman": mappings["ekman"],
        "sentiment": mappings["sentiment"],
        "metrics": metrics,
        "license": ("Apache-2.0 (head weights, trained by songmatch); training data GoEmotions "
                    "(Demszky et al. 2020, CC BY 4.0); base model all-MiniLM-L6-v2 (Apache-2.0)"),
        "notes": (f"MLP head ({xtr.shape[1]} -> {cfg['hidden']} ReLU -> {len(labels)} logits) over the "
                  f"{EMBED_ID} embedding (mean pooled, L2 normalised, {xtr.shape[1]} d); graph input "
                  f"`embedding` float32 [batch, {xtr.shape[1]}], output `logits` float32 [batch, "
                  f"{len(labels)}]; multi-label: sigmoid per label, a label is on when its probability "
                  f">= thresholds[label]. No tokenizer: it runs on the base model's embeddings, so "
                  f"max_tokens is the base model's. Trained by models/emotion-head/train.py (seed "
                  f"{args.seed}) on GoEmotions train ({len(xtr)} rows); thresholds tuned per label on "
                  f"GoEmotions dev (grid 0.05..0.95), so the *_tuned dev figures are optimistic "
                  f"(tuned on the set they are measured on). Labels in GoEmotions id order, neutral last."),
    }
    mpath = Path(args.manifest_out)
    mpath.write_text(json.dumps(head_manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {onnx_path} ({onnx_path.stat().st_size} bytes, sha256 {onnx_sha})")
    print(f"wrote {out_dir / 'reference.json'}, {mpath}")
    print(f"total {time.time() - t_start:.0f}s")


def evaluate_logits(logits, y, th):
    prob = sigmoid(logits)
    mi5, ma5, _ = f1_scores(y, (prob >= 0.5).astype(np.float32))
    mit, mat, _ = f1_scores(y, (prob >= th).astype(np.float32))
    return {"micro_0_5": round(mi5, 4), "macro_0_5": round(ma5, 4),
            "micro_tuned": round(mit, 4), "macro_tuned": round(mat, 4)}


if __name__ == "__main__":
    main()
