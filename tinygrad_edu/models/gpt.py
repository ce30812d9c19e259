"""A GPT, line by line (lectures 5-8).

A GPT predicts the next token from the tokens before it. The whole model:

    idx (B, T) token ids
      -> token embedding + position embedding          (B, T, C)   lecture 6
      -> n_layer x Block:                                          lectures 6-8
           x = x + attention(layer_norm(x))   tokens talk to each other (nn/transformer.py)
           x = x + mlp(layer_norm(x))         each token thinks alone   (nn/transformer.py)
      -> final layer norm                               (B, T, C)
      -> unembedding (the token embedding, transposed)  (B, T, vocab) logits
      -> softmax -> a probability for every possible next token

B is the batch size, T the number of tokens (at most block_size), C = n_embd the
width of every token's vector. Parameter names and shapes are nanoGPT's, so a
nanoGPT or PyTorch state dict (as NumPy arrays) loads by name.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, fields

import numpy as np

from .. import kernels, nn, rng
from ..autograd import no_grad
from ..nn import functional as F
from ..tensor import Tensor
from .hf import load_gpt_folder


@dataclass
class GPTConfig:
    block_size: int = 64  # the longest context the model can see (position embeddings)
    vocab_size: int = 65  # how many different tokens (65 characters for tiny Shakespeare)
    n_layer: int = 4  # how many attention + MLP blocks
    n_head: int = 4  # attention heads per block; each sees n_embd // n_head features
    n_embd: int = 128  # C: the width of every token's vector
    dropout: float = 0.0
    bias: bool = True  # biases in Linear and LayerNorm (GPT-2 has them; nanoGPT's CPU recipe not)
    activation: str = "gelu"  # "gelu" (exact, nanoGPT) or "gelu_tanh" (GPT-2's "gelu_new")
    layer_norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        for name in ("block_size", "vocab_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"GPTConfig.{name} must be a positive int, got {value!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.activation not in ("gelu", "gelu_tanh"):
            raise ValueError(f"activation must be 'gelu' or 'gelu_tanh', got {self.activation!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> GPTConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


class Block(nn.Module):
    """One transformer block: communicate (attention), then compute (MLP).

    Pre-norm residual form: each sub-layer reads a normalised copy of x and adds
    its result back onto x, so the gradient has a straight path to the bottom.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps, bias=config.bias)
        self.attn = nn.CausalSelfAttention(
            config.n_embd, config.n_head, config.bias, config.dropout
        )
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps, bias=config.bias)
        approximate = "tanh" if config.activation == "gelu_tanh" else "none"
        self.mlp = nn.MLP(
            config.n_embd, 4 * config.n_embd, config.bias, config.dropout, approximate
        )

    def forward(self, x: Tensor, cache: dict | None = None) -> Tensor:
        """x (B, T, C) -> (B, T, C); cache: this layer's keys and values in generation."""
        # x = x + attn(ln_1(x)), then x = x + mlp(ln_2(x)); each sub-layer is handed the
        # residual x so that its last GEMM adds it as it writes (one pass, nn/transformer.py)
        x = self.attn(self.ln_1(x), cache, residual=x)
        x = self.mlp(self.ln_2(x), residual=x)
        return x


class GPT(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(
            {
                "wte": nn.Embedding(config.vocab_size, config.n_embd),  # token -> vector
                "wpe": nn.Embedding(config.block_size, config.n_embd),  # position -> vector
                "drop": nn.Dropout(config.dropout),
                "h": nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
                "ln_f": nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps, bias=config.bias),
            }
        )
        # The unembedding maps a vector back to a score per token. It shares its
        # weights with the token embedding (weight tying, as GPT-2 does): a token's
        # vector is both how it enters the model and what the model aims for.
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight
        self._init_weights()

    def _init_weights(self) -> None:
        """GPT-2's initialisation: N(0, 0.02) weights, zero biases, and the residual
        projections scaled by 1/sqrt(2 n_layer) so the residual stream's variance
        does not grow with depth."""
        g = rng.generator()
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                p.data[...] = 0.0
            elif "ln_" in name:
                p.data[...] = 1.0
            else:
                std = (
                    0.02 / math.sqrt(2 * self.config.n_layer)
                    if name.endswith("c_proj.weight")
                    else 0.02
                )
                p.data[...] = g.normal(0.0, std, p.shape)

    def num_parameters(self, non_embedding: bool = True) -> int:
        """Parameter count; by default without the position embeddings (as nanoGPT reports)."""
        n = sum(p.numel() for p in self.parameters())
        return n - self.transformer.wpe.weight.numel() if non_embedding else n

    def forward(self, idx, targets=None, cache: list | None = None, start_pos: int = 0):
        """idx (B, T) ints -> (logits (B, T, vocab), loss or None).

        cache and start_pos are generation's (see generate): one dict of keys and
        values per block, and how many tokens it already holds. To look at what the
        model computes on the way (hidden states, attention weights, MLP neurons),
        see models/gpt_inspect.py.
        """
        x = self.last_hidden_state(idx, cache, start_pos)  # (B, T, C)
        logits = self.lm_head(x)  # (B, T, vocab): a score for every possible next token
        loss = None
        if targets is not None:
            B, T = x.shape[:2]
            t = targets.data if isinstance(targets, Tensor) else np.asarray(targets)
            if t.shape != (B, T):
                raise ValueError(f"targets shape {t.shape} should match idx shape {(B, T)}")
            loss = F.cross_entropy(logits.reshape(B * T, -1), t.reshape(-1), ignore_index=-1)
        return logits, loss

    def last_hidden_state(self, idx, cache: list | None = None, start_pos: int = 0) -> Tensor:
        """idx (B, T) ints -> the vectors lm_head reads (B, T, C): forward without lm_head.

        (Hugging Face calls these the last hidden state.) Anything with a GPT's
        `transformer` and `config` may run it (`GPT.last_hidden_state(model, idx)`):
        the reward model (rlhf.py) does.
        """
        ids = idx.data if isinstance(idx, Tensor) else np.asarray(idx)
        if ids.ndim != 2:
            raise ValueError(f"idx must be (B, T) token ids, got shape {ids.shape}")
        if ids.dtype.kind not in "iu":
            raise TypeError(f"idx must hold integer token ids, got {ids.dtype}")
        T = ids.shape[1]
        if start_pos + T > self.config.block_size:
            raise ValueError(
                f"sequence of length {start_pos + T} is longer than block_size {self.config.block_size}"
            )
        tr = self.transformer
        pos = np.arange(start_pos, start_pos + T)
        x = tr.drop(tr.wte(ids) + tr.wpe(pos))  # (B, T, C) + (T, C): what + where
        for i, block in enumerate(tr.h):
            x = block(x, None if cache is None else cache[i])
        return tr.ln_f(x)

    # --- generation (lectures 5-6) -----------------------------------------------------------

    @no_grad()
    def generate(
        self,
        idx,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        use_cache: bool = True,
    ) -> np.ndarray:
        """Extend idx (B, T) by max_new_tokens sampled tokens, one at a time.

        Each step: logits of the last position -> divide by temperature (below 1:
        sharper, above 1: flatter; 0: always the most likely token) -> keep the top_k
        tokens and/or the smallest set whose probability reaches top_p -> softmax ->
        sample. With use_cache, each step feeds only the new token and reuses the
        keys and values of the earlier ones (same tokens, much less work); past
        block_size the context is cropped and recomputed, as without the cache.
        """
        ids = np.array(idx.data if isinstance(idx, Tensor) else idx, dtype=np.int64)
        if ids.ndim == 1:
            ids = ids[None, :]
        if ids.ndim != 2 or ids.shape[1] == 0:
            raise ValueError(
                f"idx must be a non-empty (B, T) array of token ids, got shape {ids.shape}"
            )
        if ids.min() < 0 or ids.max() >= self.config.vocab_size:
            bad = int(ids.min()) if ids.min() < 0 else int(ids.max())
            raise IndexError(f"token id {bad} is outside [0, {self.config.vocab_size})")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        if top_k is not None and top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        if top_p is not None and not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        was_training = self.training
        self.eval()
        bs = self.config.block_size
        cache, cached = None, 0  # per-layer key/value cache, and how many tokens it holds
        for _ in range(max_new_tokens):
            if use_cache and ids.shape[1] <= bs:
                if cache is None:
                    cache = [{} for _ in range(self.config.n_layer)]
                logits, _ = self(ids[:, cached:], cache=cache, start_pos=cached)
                cached = ids.shape[1]
            else:  # no cache, or the context outgrew block_size: crop and recompute
                logits, _ = self(ids[:, -bs:])
            next_id = sample_next(logits.data[:, -1, :], temperature, top_k, top_p)
            ids = np.concatenate([ids, next_id[:, None]], axis=1)
        self.train(was_training)
        return ids

    # --- checkpoints ----------------------------------------------------------------------------

    def save_pretrained(self, folder: str) -> None:
        """config.json + model.safetensors (nanoGPT names, PyTorch Linear layout)."""
        from ..checkpoint import save_model_folder

        state = self.state_dict()
        state.pop("lm_head.weight", None)  # tied: stored once, as transformers does
        config = {"model_type": "tinygrad_edu_gpt", **self.config.to_dict()}
        # each file replaced in one rename; a training run's folder is refused
        save_model_folder(folder, config, state, "a GPT model")

    @classmethod
    def from_pretrained(cls, folder: str) -> GPT:
        """Load a folder with config.json + model.safetensors: ours, or Hugging Face GPT-2's.

        Both GPT-2 key styles load: transformers' (`transformer.h.0...`) and the
        original files' (`h.0...`, with `attn.bias`/`attn.masked_bias` buffers, ignored).
        GPT-2 stores its Linear layers as Conv1D, (in, out): those are transposed.
        """
        fields_, state = load_gpt_folder(folder)
        path = os.path.join(folder, "config.json")
        try:  # (a field of the wrong kind, such as a null layer_norm_eps, is a TypeError)
            model = cls(GPTConfig.from_dict(fields_))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: not a GPT config ({exc})") from exc
        try:
            model.load_state_dict(state)
        except KeyError as exc:  # weights missing or left over: not the config's model
            raise ValueError(f"{path} does not describe the weights: {exc.args[0]}") from exc
        return model


def sample_next(
    logits: np.ndarray,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> np.ndarray:
    """One token id per row of logits (B, vocab), drawn from the tinygrad_edu generator."""
    logits = logits.astype(np.float64)
    if temperature == 0:
        return logits.argmax(axis=-1)
    logits = logits / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = np.sort(logits, axis=-1)[:, -top_k][:, None]
        logits = np.where(logits < kth, -np.inf, logits)
    probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probs /= probs.sum(axis=-1, keepdims=True)
    if top_p is not None and top_p < 1.0:
        probs = kernels.ops.top_p_filter(probs, top_p)  # the nucleus (kernels/reference.py)
    u = rng.generator().random((probs.shape[0], 1))
    return np.minimum((np.cumsum(probs, axis=-1) < u).sum(axis=-1), probs.shape[-1] - 1)
