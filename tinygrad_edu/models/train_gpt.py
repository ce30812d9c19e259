"""Training a GPT on text: next-token prediction (lecture 5), nanoGPT's CPU recipe.

The loop, once per iteration:
  1. cut batch_size random windows of block_size + 1 characters from the text;
     the model reads x = window[:-1] and must predict y = window[1:] (each
     position's next token), so one window teaches block_size predictions;
  2. forward -> cross-entropy cost; backward -> gradients;
  3. clip the gradient's norm at 1.0 (a rare huge step can wreck training);
  4. AdamW step, with the learning rate warmed up linearly, then cosine-decayed.
Every eval_interval iterations the cost is estimated on training and held-out
(validation) text, and a line is appended to metrics.jsonl.

The output folder holds model.safetensors + config.json (a GPT checkpoint),
tokenizer.json, optimizer.safetensors + train_state.json (to resume), metrics.jsonl.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, fields

import numpy as np

from .. import nn, optim, rng
from ..autograd import no_grad
from ..checkpoint import load, save
from ..data.shakespeare import load_shakespeare, read_text_file
from ..tokenizer import BPETokenizer, CharTokenizer, load_tokenizer
from .gpt import GPT, GPTConfig


@dataclass
class TrainConfig:
    """Defaults: nanoGPT's shakespeare_char recipe for a CPU (see shared data README)."""

    data: str | None = None  # a UTF-8 text file; None = the embedded tiny Shakespeare
    tokenizer: str = "char"  # "char" (one token per character) or "bpe" (byte-level BPE)
    bpe_vocab_size: int = 512  # with tokenizer="bpe": 256 bytes + this many - 256 merges
    out: str = "out-gpt"
    block_size: int = 64
    batch_size: int = 12
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = False
    max_iters: int = 2000
    learning_rate: float = 1e-3
    min_lr: float = 1e-4
    warmup_iters: int = 100
    lr_decay_iters: int | None = None  # None = max_iters: the cosine ends where training ends
    beta1: float = 0.9
    beta2: float = 0.99
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    eval_interval: int = 250
    eval_iters: int = 20
    val_fraction: float = 0.1
    seed: int = 1337
    resume: bool = True
    progress: bool = True

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


def learning_rate(it: int, cfg: TrainConfig) -> float:
    """Linear warm-up for warmup_iters, then cosine decay to min_lr at lr_decay_iters (nanoGPT)."""
    decay_iters = cfg.lr_decay_iters or cfg.max_iters
    if it < cfg.warmup_iters:
        return cfg.learning_rate * (it + 1) / (cfg.warmup_iters + 1)
    if it > decay_iters:
        return cfg.min_lr
    ratio = (it - cfg.warmup_iters) / max(1, decay_iters - cfg.warmup_iters)
    coeff = 0.5 * (1.0 + math.cos(math.pi * ratio))  # 1 -> 0
    return cfg.min_lr + coeff * (cfg.learning_rate - cfg.min_lr)


class TextData:
    """The text as one long array of token ids, split into train (first 90%) and val."""

    def __init__(self, ids: np.ndarray, block_size: int, val_fraction: float) -> None:
        n = int(len(ids) * (1 - val_fraction))
        self.train, self.val = ids[:n], ids[n:]
        self.block_size = block_size
        for name, part in (("training", self.train), ("validation", self.val)):
            if len(part) <= block_size:
                raise ValueError(
                    f"the {name} text has {len(part)} tokens, not enough for windows of "
                    f"block_size + 1 = {block_size + 1}: use more text or a smaller --block-size"
                )

    def batch(self, split: str, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """x, y (batch_size, block_size): random windows and the same windows shifted by one."""
        data = self.train if split == "train" else self.val
        starts = rng.generator().integers(0, len(data) - self.block_size, size=batch_size)
        offsets = starts[:, None] + np.arange(self.block_size)  # (B, T)
        return data[offsets].astype(np.int64), data[offsets + 1].astype(np.int64)


@no_grad()
def estimate_loss(model: GPT, data: TextData, cfg: TrainConfig) -> dict[str, float]:
    """Mean cost over eval_iters random batches of each split, in eval mode."""
    model.eval()
    out = {}
    for split in ("train", "val"):
        losses = [
            model(*data.batch(split, cfg.batch_size))[1].item() for _ in range(cfg.eval_iters)
        ]
        out[split] = float(np.mean(losses))
    model.train()
    return out


def make_optimizer(model: GPT, cfg: TrainConfig) -> optim.AdamW:
    """AdamW with weight decay on matrices (>= 2-D: Linear weights, embeddings) only.

    Decay pulls weights towards zero; biases and LayerNorm gains are left alone
    (decaying a gain towards 0 would just fight the normalisation).
    """
    params = list(model.parameters())
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return optim.AdamW(groups, lr=cfg.learning_rate, betas=(cfg.beta1, cfg.beta2))


def _load_text_and_tokenizer(cfg: TrainConfig, resume_dir: str | None):
    text = load_shakespeare() if cfg.data is None else read_text_file(cfg.data)
    tok_path = os.path.join(resume_dir, "tokenizer.json") if resume_dir else None
    if tok_path and os.path.isfile(tok_path):
        tok = load_tokenizer(tok_path)
    elif cfg.tokenizer == "char":
        tok = CharTokenizer.from_text(text)
    elif cfg.tokenizer == "bpe":
        tok = BPETokenizer().train(text, cfg.bpe_vocab_size)
    else:
        raise ValueError(f"tokenizer must be 'char' or 'bpe', got {cfg.tokenizer!r}")
    ids = np.asarray(tok.encode(text), dtype=np.uint16 if tok.vocab_size < 65536 else np.int64)
    return tok, ids


def _save_state(out: str, model: GPT, optimizer: optim.AdamW, it: int, cfg: TrainConfig) -> None:
    model.save_pretrained(out)
    arrays, meta = _split_state(optimizer.state_dict())
    save(arrays, os.path.join(out, "optimizer.safetensors"))
    state = {"iter": it, "train_config": asdict(cfg), "optimizer": meta}
    tmp = os.path.join(out, "train_state.json.tmp")
    with open(tmp, "w") as f:
        json.dump(state, f, indent=2)
    os.replace(tmp, os.path.join(out, "train_state.json"))


def _split_state(obj, prefix: str = ""):
    """Optimizer state (nested dicts/lists with arrays) -> (flat arrays, JSON-able skeleton)."""
    arrays: dict[str, np.ndarray] = {}
    if isinstance(obj, np.ndarray):
        arrays[prefix] = obj
        return arrays, {"__array__": prefix}
    if isinstance(obj, dict):
        skel = {}
        for k, v in obj.items():
            a, skel[str(k)] = _split_state(v, f"{prefix}.{k}" if prefix else str(k))
            arrays.update(a)
        return arrays, {"__dict__": skel, "__intkeys__": all(isinstance(k, int) for k in obj)}
    if isinstance(obj, (list, tuple)):
        items = []
        for i, v in enumerate(obj):
            a, s = _split_state(v, f"{prefix}.{i}")
            arrays.update(a)
            items.append(s)
        return arrays, {"__list__": items}
    if isinstance(obj, (np.integer, np.floating)):
        obj = obj.item()
    return arrays, obj


def _join_state(skel, arrays: dict[str, np.ndarray]):
    if isinstance(skel, dict) and "__array__" in skel:
        return arrays[skel["__array__"]]
    if isinstance(skel, dict) and "__dict__" in skel:
        conv = int if skel.get("__intkeys__") else str
        return {conv(k): _join_state(v, arrays) for k, v in skel["__dict__"].items()}
    if isinstance(skel, dict) and "__list__" in skel:
        return [_join_state(v, arrays) for v in skel["__list__"]]
    return skel


def train(cfg: TrainConfig, log=print) -> list[dict]:
    """Train (or resume) into cfg.out; returns the metrics written to metrics.jsonl."""
    if cfg.max_iters < 0 or cfg.eval_interval < 1 or cfg.eval_iters < 1 or cfg.batch_size < 1:
        raise ValueError(
            "max_iters >= 0, eval_interval >= 1, eval_iters >= 1 and batch_size >= 1 are needed"
        )
    os.makedirs(cfg.out, exist_ok=True)
    resuming = cfg.resume and os.path.isfile(os.path.join(cfg.out, "train_state.json"))
    rng.manual_seed(cfg.seed)
    tok, ids = _load_text_and_tokenizer(cfg, cfg.out if resuming else None)
    data = TextData(ids, cfg.block_size, cfg.val_fraction)
    if resuming:
        model = GPT.from_pretrained(cfg.out)
    else:
        model = GPT(
            GPTConfig(
                block_size=cfg.block_size,
                vocab_size=tok.vocab_size,
                n_layer=cfg.n_layer,
                n_head=cfg.n_head,
                n_embd=cfg.n_embd,
                dropout=cfg.dropout,
                bias=cfg.bias,
            )
        )
    optimizer = make_optimizer(model, cfg)
    metrics_path = os.path.join(cfg.out, "metrics.jsonl")
    start_iter, metrics = 0, []
    if resuming:
        with open(os.path.join(cfg.out, "train_state.json")) as f:
            state = json.load(f)
        start_iter = state["iter"]
        optimizer.load_state_dict(
            _join_state(state["optimizer"], load(os.path.join(cfg.out, "optimizer.safetensors")))
        )
        if os.path.isfile(metrics_path):
            with open(metrics_path) as f:
                metrics = [json.loads(line) for line in f if line.strip()]
        rng.manual_seed(cfg.seed + start_iter)  # fresh batches, not a replay of the first ones
        log(f"resuming from {cfg.out} at iteration {start_iter}")
    else:
        tok.save(os.path.join(cfg.out, "tokenizer.json"))
        open(metrics_path, "w").close()
    log(
        f"{model.num_parameters() / 1e6:.2f} M parameters, vocab {tok.vocab_size}, "
        f"{len(data.train):,} training tokens"
    )

    bar = _progress(cfg, start_iter)
    tokens_per_iter = cfg.batch_size * cfg.block_size
    elapsed = metrics[-1]["elapsed_s"] if metrics else 0.0
    window_tokens, window_time = 0, 0.0
    it = start_iter
    while True:
        evaluated_already = resuming and it == start_iter  # saved with its metrics
        if (it % cfg.eval_interval == 0 or it == cfg.max_iters) and not evaluated_already:
            losses = estimate_loss(model, data, cfg)
            row = {
                "iter": it,
                "train_loss": round(losses["train"], 4),
                "val_loss": round(losses["val"], 4),
                "lr": learning_rate(it, cfg),
                "elapsed_s": round(elapsed, 3),
                "tokens_per_s": round(window_tokens / window_time, 1) if window_time else 0.0,
            }
            metrics.append(row)
            with open(metrics_path, "a") as f:
                f.write(json.dumps(row) + "\n")
            log(
                f"iter {it}: train loss {row['train_loss']:.4f}, val loss {row['val_loss']:.4f}, "
                f"{row['tokens_per_s']:,.0f} tokens/s"
            )
            window_tokens, window_time = 0, 0.0
            if it > start_iter or it == cfg.max_iters:
                _save_state(cfg.out, model, optimizer, it, cfg)
        if it >= cfg.max_iters:
            break
        t0 = time.perf_counter()
        lr = learning_rate(it, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = data.batch("train", cfg.batch_size)
        _, loss = model(x, y)
        optimizer.zero_grad()
        loss.backward()
        if cfg.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        dt = time.perf_counter() - t0
        elapsed += dt
        window_tokens += tokens_per_iter
        window_time += dt
        it += 1
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}", tok_s=f"{tokens_per_iter / dt:,.0f}")
    if bar is not None:
        bar.close()
    return metrics


def _progress(cfg: TrainConfig, start: int):
    if not cfg.progress:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=cfg.max_iters, initial=start, desc="train-gpt", unit="it")
