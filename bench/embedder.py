"""The embedding pipeline songmatch runs, in plain Python (tokenizers + onnxruntime).

Same work as the extension: tokenizer.json with padding disabled and truncation at the
manifest's max_tokens, pad each batch to its longest text (pad id 0, mask 0, type ids 0),
run the graph with 1 intra-op thread and graph optimisation "all", mean-pool over the
attention mask, L2-normalise.  Used by ort_bench.py and http_service.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

# Keep every library on one thread: the comparison is 1 intra-op thread against 1.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402


class Embedder:
    def __init__(self, model_dir: str | Path, threads: int = 1):
        model_dir = Path(model_dir)
        self.manifest = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
        files = self.manifest["files"]
        self.tok = Tokenizer.from_file(str(model_dir / files["tokenizer"]["path"]))
        self.tok.no_padding()
        self.tok.enable_truncation(max_length=int(self.manifest["max_tokens"]))
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.sess = ort.InferenceSession(str(model_dir / files["model"]["path"]), so,
                                         providers=["CPUExecutionProvider"])
        self.inputs = self.manifest["inputs"]
        self.output = self.manifest["output"]
        self.normalize = bool(self.manifest.get("normalize", True))

    def encode(self, texts: list[str]) -> list:
        return [self.tok.encode(t) for t in texts]  # one thread, like the extension

    def token_counts(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self.encode(texts)]

    def run_batch(self, encs: list) -> np.ndarray:
        """One inference run: pad to the longest, run, mean-pool, L2: float32 [n, dims]."""
        width = max(1, max(len(e.ids) for e in encs))
        ids = np.zeros((len(encs), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for r, e in enumerate(encs):
            ids[r, :len(e.ids)] = e.ids
            mask[r, :len(e.ids)] = 1
        feed = {self.inputs["input_ids"]: ids, self.inputs["attention_mask"]: mask}
        if "token_type_ids" in self.inputs:
            feed[self.inputs["token_type_ids"]] = np.zeros_like(ids)
        hidden = self.sess.run([self.output], feed)[0]  # [n, seq, dims]
        m = mask[:, :, None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        if self.normalize:
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled.astype(np.float32, copy=False)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed one batch of texts."""
        return self.run_batch(self.encode(texts))

    def embed_all(self, texts: list[str], batch: int, sort_by_length: bool = False) -> np.ndarray:
        """Tokenise all, then run batches of `batch`: in input order, or longest first (as
        songmatch plans its batches) when sort_by_length."""
        encs = self.encode(texts)
        order = list(range(len(texts)))
        if sort_by_length:
            order.sort(key=lambda i: (-len(encs[i].ids), i))
        out = np.empty((len(texts), int(self.manifest["dims"])), dtype=np.float32)
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            out[idx] = self.run_batch([encs[j] for j in idx])
        return out
