#!/usr/bin/env python3
"""Reference embeddings for the default bundle's embedding model.

Runs the fetched model (target/models/<id>/) with the `tokenizers` and
`onnxruntime` Python packages, one text at a time, and writes
pgrx-tests/data/embed_default_reference.json, which the Rust tests compare
against.

    python3 -m venv target/venv-ref
    target/venv-ref/bin/pip install -r models/reference/requirements.txt
    python3 models/fetch.py --bundle default --dest target/models
    target/venv-ref/bin/python models/reference/embed_reference.py

Pipeline (must match the extension's):
  * tokenizer.json as shipped, except: truncation to the manifest's max_tokens
    (the file says 128, the sentence-transformers config says 256) and NO
    padding (the file pads every input to a fixed 128 tokens; one text at a
    time needs none, and the extension pads to the longest text of a batch);
  * input_ids, attention_mask, token_type_ids (all zeros) as int64 [1, n];
  * last_hidden_state [1, n, 384] mean-pooled over the attention mask;
  * L2-normalised; floats rounded to 7 significant digits in the JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

ROOT = Path(__file__).resolve().parents[2]

LONG_TEXT = " ".join(
    f"Verse {i}: the midnight train hums a slow blues in B flat while rain taps the window "
    f"and the drummer counts in seven eight." for i in range(1, 31))

TEXTS = [
    "A melancholic acoustic ballad about leaving home.",
    "Upbeat synth-pop with a driving four-on-the-floor beat and bright female vocals.",
    "Dark, brooding techno at 128 BPM with industrial percussion.",
    "Lo-fi hip hop beats to study and relax to",
    "Café au lait and a naïve crooner singing à la française.",
    "Música alegre para bailar toda la noche 💃🎶",
    "🔥🔥🔥 banger 🎸🥁",
    "一首关于夏天和海边的轻快流行歌曲",
    "أغنية حزينة عن الحب والفراق",
    "Медленная грустная песня под гитару",
    "夜のドライブにぴったりなシティポップ",
    "jazz",
    "hello",
    "a",
    "THE LOUDEST PUNK SONG EVER WRITTEN!!!",
    "MiXeD cAsE sHoUtInG iN tHe ChOrUs",
    "What's that song... you know, the one that goes \"na na na\"?",
    "Track 7 (2:45) — released 1999, remastered 2011, 33⅓ rpm, 96 kHz/24-bit.",
    "Songs like Bohemian Rhapsody by Queen",
    "A cinematic orchestral piece that slowly builds from solo piano to full strings and brass.",
    "chill   \t spaced \n out   whitespace",
    "Ein ruhiges Klavierstück für einen verregneten Sonntag.",
    "Canción de cuna suave para dormir a un bebé.",
    LONG_TEXT,
]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def r7(x: float) -> float:
    return float(f"{float(x):.7g}")


def load(model_dir: Path, threads: int = 1):
    manifest = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
    files = manifest["files"]
    for entry in files.values():
        p = model_dir / entry["path"]
        actual = sha256_file(p)
        if actual != entry["sha256"]:
            sys.exit(f"{p}: sha256 {actual} != manifest {entry['sha256']}; run models/fetch.py")
    tok = Tokenizer.from_file(str(model_dir / files["tokenizer"]["path"]))
    tok.no_padding()
    tok.enable_truncation(max_length=int(manifest["max_tokens"]))
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(str(model_dir / files["model"]["path"]), so,
                                providers=["CPUExecutionProvider"])
    return manifest, tok, sess


def embed_one(manifest, tok, sess, text: str):
    enc = tok.encode(text)
    ids = np.asarray([enc.ids], dtype=np.int64)
    mask = np.asarray([enc.attention_mask], dtype=np.int64)
    feed = {manifest["inputs"]["input_ids"]: ids, manifest["inputs"]["attention_mask"]: mask}
    if "token_type_ids" in manifest["inputs"]:
        feed[manifest["inputs"]["token_type_ids"]] = np.zeros_like(ids)
    (hidden,) = sess.run([manifest["output"]], feed)
    m = mask[..., None].astype(np.float32)
    pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
    if manifest.get("normalize", True):
        pooled = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return enc, pooled[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", default=str(ROOT / "target/models/all-minilm-l6-v2-int8"))
    ap.add_argument("--out", default=str(ROOT / "pgrx-tests/data/embed_default_reference.json"))
    args = ap.parse_args()
    model_dir = Path(args.model_dir)
    manifest, tok, sess = load(model_dir)
    max_tokens = int(manifest["max_tokens"])

    full = Tokenizer.from_file(str(model_dir / manifest["files"]["tokenizer"]["path"]))
    full.no_padding()
    full.no_truncation()

    out_texts = []
    for text in TEXTS:
        enc, vec = embed_one(manifest, tok, sess, text)
        n_full = len(full.encode(text).ids)
        assert len(vec) == manifest["dims"]
        item = {
            "text": text,
            "token_ids": list(enc.ids),
            "n_tokens_untruncated": n_full,
            "truncated": n_full > max_tokens,
            "embedding": [r7(x) for x in vec],
        }
        out_texts.append(item)
    long_item = next(t for t in out_texts if t["text"] == LONG_TEXT)
    assert long_item["truncated"] and len(long_item["token_ids"]) == max_tokens, \
        "the over-length text must be truncated to max_tokens"
    assert long_item["token_ids"][-1] == 102, "truncated sequence must still end with [SEP]"

    doc = {
        "model": manifest["id"],
        "model_version": manifest["version"],
        "model_sha256": manifest["files"]["model"]["sha256"],
        "tokenizer_sha256": manifest["files"]["tokenizer"]["sha256"],
        "dims": manifest["dims"],
        "max_tokens": max_tokens,
        "pooling": manifest["pooling"],
        "normalize": manifest["normalize"],
        "method": ("tokenizers: tokenizer.json with no_padding() and truncation at max_tokens "
                   "(the file's own Fixed(128) padding and 128 truncation overridden); one text "
                   "per run; onnxruntime CPU, graph optimisation all, 1 thread; token_type_ids "
                   "all zero; mean over attention mask; L2 normalised; 7 significant digits"),
        "generator": {
            "script": "models/reference/embed_reference.py",
            "onnxruntime": ort.__version__,
            "tokenizers": __import__("tokenizers").__version__,
            "numpy": np.__version__,
        },
        "texts": out_texts,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}: {len(out_texts)} texts, long text {long_item['n_tokens_untruncated']} "
          f"-> {len(long_item['token_ids'])} tokens")


if __name__ == "__main__":
    main()
