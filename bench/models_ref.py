"""songmatch's emotion and reranker pipelines in plain Python (tokenizers + onnxruntime), doing
the same work as the extension (crates/songmatch-core/src/models/{classify,rerank,embed,tokenize}.rs):

  EmotionHead      embedding-head kind: embed with the base model (bench/embedder.py), run the
                   head graph (`embedding` [b, dims] -> `logits` [b, labels]) in chunks of
                   max_texts, sigmoid per label
  CausalLmReranker causal-lm-yes-no kind (Qwen3-Reranker): prefix and suffix tokenised without
                   special tokens, the body likewise and truncated to max_tokens - prefix -
                   suffix; batches planned longest first (<= max_texts prompts, <= 1024 padded
                   tokens), left padding with the tokenizer's pad id, position_ids =
                   cumsum(mask) - 1 clipped at 0; score = sigmoid(logit_yes - logit_no) at the
                   last position
  CrossEncoder     cross-encoder kind: pair encoding (special tokens, longest-first truncation
                   to max_tokens, token_type_ids), batches longest first, right padding;
                   score = logits[:, 0] (sigmoid when the manifest says so)

Every session: 1 intra-op thread (or --threads), sequential, graph optimisation "all".
"""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

from embedder import Embedder  # noqa: E402

# songmatch's defaults (songmatch.max_batch_texts / max_batch_tokens) and the causal-LM cap
MAX_BATCH_TEXTS = 32
MAX_BATCH_TOKENS = 8192
CAUSAL_LM_MAX_BATCH_TOKENS = 1024


def session(path: Path, threads: int) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def sigmoid(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return (np.float32(1.0) / (np.float32(1.0) + np.exp(-x))).astype(np.float32)


def plan_batches(lens: list[int], max_texts: int, max_tokens: int) -> list[list[int]]:
    """embed.rs plan_batches: longest first (ties by index), at most max_texts per batch and at
    most max_tokens padded tokens (count x longest); an over-long text gets a batch of its own."""
    order = sorted(range(len(lens)), key=lambda i: (-lens[i], i))
    batches: list[list[int]] = []
    cur: list[int] = []
    longest = 0
    for i in order:
        ln = max(lens[i], 1)
        new_longest = max(longest, ln)
        if cur and (len(cur) + 1 > max(max_texts, 1) or (len(cur) + 1) * new_longest > max_tokens):
            batches.append(cur)
            cur = []
            longest = 0
        longest = max(longest, ln)
        cur.append(i)
    if cur:
        batches.append(cur)
    return batches


def load_tokenizer(model_dir: Path, manifest: dict) -> tuple[Tokenizer, int]:
    """tokenize.rs TextTokenizer::load: pad id from the tokenizer's padding, else [PAD] / <pad> /
    <|endoftext|>, else 0; padding off; truncation at max_tokens (longest first, right)."""
    tok = Tokenizer.from_file(str(model_dir / manifest["files"]["tokenizer"]["path"]))
    pad = tok.padding["pad_id"] if tok.padding else None
    if pad is None:
        pad = next((tok.token_to_id(t) for t in ("[PAD]", "<pad>", "<|endoftext|>") if tok.token_to_id(t) is not None), 0)
    tok.no_padding()
    tok.enable_truncation(max_length=int(manifest["max_tokens"]), stride=0, strategy="longest_first", direction="right")
    return tok, int(pad)


def graph_input(sess: ort.InferenceSession, manifest: dict, role: str) -> str | None:
    """engine.rs LoadedModel::input: the manifest's name for the role, if the graph has it."""
    name = manifest.get("inputs", {}).get(role, role)
    return name if name in {i.name for i in sess.get_inputs()} else None


class EmotionHead:
    def __init__(self, head_dir: str | Path, base_dir: str | Path, threads: int = 1):
        head_dir = Path(head_dir)
        self.manifest = json.loads((head_dir / "manifest.json").read_text(encoding="utf-8"))
        self.base = Embedder(base_dir, threads=threads)
        self.sess = session(head_dir / self.manifest["files"]["model"]["path"], threads)
        self.input = graph_input(self.sess, self.manifest, "embedding") or "embedding"
        self.output = self.manifest.get("output") or "logits"

    def probabilities(self, texts: list[str], batch: int = MAX_BATCH_TEXTS, sort_by_length: bool = True) -> np.ndarray:
        """float32 [n, labels]; embeddings in songmatch's batches (longest first) unless told otherwise
        (the base model's document template is "{text}", so the texts go in as they are)."""
        emb = self.base.embed_all(texts, batch, sort_by_length=sort_by_length)
        out = []
        for i in range(0, len(emb), batch):  # the head: chunks of max_texts in input order
            out.append(self.sess.run([self.output], {self.input: emb[i:i + batch]})[0])
        return sigmoid(np.concatenate(out, axis=0))


def fill_template(template: str, text: str, instruction: str) -> str:
    """embed.rs fill_template: {text} and {instruction} in one pass; other braces stay."""
    out, rest = [], template
    while True:
        pos = rest.find("{")
        if pos < 0:
            break
        out.append(rest[:pos])
        tail = rest[pos:]
        if tail.startswith("{text}"):
            out.append(text)
            rest = tail[len("{text}"):]
        elif tail.startswith("{instruction}"):
            out.append(instruction)
            rest = tail[len("{instruction}"):]
        else:
            out.append("{")
            rest = tail[1:]
    out.append(rest)
    return "".join(out)


class CausalLmReranker:
    def __init__(self, model_dir: str | Path, threads: int = 1):
        model_dir = Path(model_dir)
        self.manifest = m = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
        tok, self.pad = load_tokenizer(model_dir, m)
        tok.no_truncation()  # encode_plain: no special tokens, no truncation
        self.tok = tok
        self.sess = session(model_dir / m["files"]["model"]["path"], threads)
        t = m["template"]
        self.prefix = tok.encode(t["prefix"], add_special_tokens=False).ids
        self.suffix = tok.encode(t["suffix"], add_special_tokens=False).ids
        self.body = t["body"]
        self.instruction = m.get("default_instruction") or ""
        self.yes = tok.token_to_id(m.get("yes_token") or "yes")
        self.no = tok.token_to_id(m.get("no_token") or "no")
        self.max_tokens = int(m["max_tokens"])
        self.output = m.get("output") or "logits"
        self.names = {r: graph_input(self.sess, m, r) for r in ("input_ids", "attention_mask", "position_ids")}

    def prompt_ids(self, query: str, doc: str, instruction: str | None = None) -> list[int]:
        body = fill_template(self.body.replace("{query}", "\0Q\0").replace("{doc}", "\0D\0"), "",
                             self.instruction if instruction is None else instruction)
        body = body.replace("\0Q\0", query).replace("\0D\0", doc)
        ids = self.tok.encode(body, add_special_tokens=False).ids
        room = max(self.max_tokens - len(self.prefix) - len(self.suffix), 0)
        return self.prefix + ids[:room] + self.suffix

    def scores(self, query: str, docs: list[str], max_texts: int = MAX_BATCH_TEXTS,
               max_tokens: int = MAX_BATCH_TOKENS) -> np.ndarray:
        prompts = [self.prompt_ids(query, d) for d in docs]
        out = np.full(len(docs), np.nan, dtype=np.float32)
        for batch in plan_batches([len(p) for p in prompts], max_texts, min(max_tokens, CAUSAL_LM_MAX_BATCH_TOKENS)):
            seq = max(1, max(len(prompts[i]) for i in batch))
            ids = np.full((len(batch), seq), self.pad, dtype=np.int64)
            mask = np.zeros((len(batch), seq), dtype=np.int64)
            for r, i in enumerate(batch):  # left padding
                p = prompts[i]
                ids[r, seq - len(p):] = p
                mask[r, seq - len(p):] = 1
            pos = np.maximum(np.cumsum(mask, axis=1) - 1, 0)
            feed = {self.names["input_ids"] or "input_ids": ids}
            if self.names["attention_mask"]:
                feed[self.names["attention_mask"]] = mask
            if self.names["position_ids"]:
                feed[self.names["position_ids"]] = pos
            logits = self.sess.run([self.output], feed)[0]  # [n, seq, vocab]
            last = logits[:, -1, :]
            out[batch] = sigmoid(last[:, self.yes] - last[:, self.no])
        return out


class CrossEncoder:
    def __init__(self, model_dir: str | Path, threads: int = 1):
        model_dir = Path(model_dir)
        self.manifest = m = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
        self.tok, self.pad = load_tokenizer(model_dir, m)
        self.sess = session(model_dir / m["files"]["model"]["path"], threads)
        self.output = m.get("output") or "logits"
        self.sigmoid = m.get("activation") == "sigmoid"
        self.names = {r: graph_input(self.sess, m, r) for r in ("input_ids", "attention_mask", "token_type_ids")}

    def scores(self, query: str, docs: list[str], max_texts: int = MAX_BATCH_TEXTS,
               max_tokens: int = MAX_BATCH_TOKENS) -> np.ndarray:
        encs = [self.tok.encode(query, d) for d in docs]  # pair, special tokens, truncated
        out = np.full(len(docs), np.nan, dtype=np.float32)
        for batch in plan_batches([len(e.ids) for e in encs], max_texts, max_tokens):
            seq = max(1, max(len(encs[i].ids) for i in batch))
            ids = np.full((len(batch), seq), self.pad, dtype=np.int64)
            mask = np.zeros((len(batch), seq), dtype=np.int64)
            types = np.zeros((len(batch), seq), dtype=np.int64)
            for r, i in enumerate(batch):  # right padding
                e = encs[i]
                ids[r, :len(e.ids)] = e.ids
                mask[r, :len(e.ids)] = 1
                types[r, :len(e.ids)] = e.type_ids
            feed = {self.names["input_ids"] or "input_ids": ids}
            if self.names["attention_mask"]:
                feed[self.names["attention_mask"]] = mask
            if self.names["token_type_ids"]:
                feed[self.names["token_type_ids"]] = types
            logits = self.sess.run([self.output], feed)[0]  # [n, 1]
            s = logits[:, 0]
            out[batch] = sigmoid(s) if self.sigmoid else s
        return out
