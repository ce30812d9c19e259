"""The same GPT in PyTorch: our model's twin, for tests and benchmarks (not installed).

tests/ import it as `torch_gpt` (pytest puts tests/ on sys.path); benchmarks/gpt.py
adds tests/ to sys.path itself.

Same architecture, same parameter names and shapes as models/gpt.py (and so as
nanoGPT), so `TorchGPT.load_numpy(our_model.state_dict())` gives a model whose
logits must match ours. PyTorch is imported only when this module is used.
"""

from __future__ import annotations

import math

import numpy as np

from tinygrad_edu.models.gpt import GPTConfig


def build(config: GPTConfig):
    """A torch.nn.Module GPT for `config` (imports torch)."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class CausalSelfAttention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
            self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
            self.resid_dropout = nn.Dropout(config.dropout)

        def forward(self, x):
            B, T, C = x.shape
            nh = config.n_head
            q, k, v = self.c_attn(x).split(C, dim=2)
            q = q.view(B, T, nh, C // nh).transpose(1, 2)  # (B, nh, T, hs)
            k = k.view(B, T, nh, C // nh).transpose(1, 2)
            v = v.view(B, T, nh, C // nh).transpose(1, 2)
            y = F.scaled_dot_product_attention(
                q, k, v, is_causal=True, dropout_p=config.dropout if self.training else 0.0
            )
            y = y.transpose(1, 2).contiguous().view(B, T, C)
            return self.resid_dropout(self.c_proj(y))

    class MLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
            self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
            self.dropout = nn.Dropout(config.dropout)
            self.approximate = "tanh" if config.activation == "gelu_tanh" else "none"

        def forward(self, x):
            return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate=self.approximate)))

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps, bias=config.bias)
            self.attn = CausalSelfAttention()
            self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps, bias=config.bias)
            self.mlp = MLP()

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class TorchGPT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.config = config
            self.transformer = nn.ModuleDict(
                {
                    "wte": nn.Embedding(config.vocab_size, config.n_embd),
                    "wpe": nn.Embedding(config.block_size, config.n_embd),
                    "drop": nn.Dropout(config.dropout),
                    "h": nn.ModuleList([Block() for _ in range(config.n_layer)]),
                    "ln_f": nn.LayerNorm(
                        config.n_embd, eps=config.layer_norm_eps, bias=config.bias
                    ),
                }
            )
            self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
            self.transformer.wte.weight = self.lm_head.weight  # tied, as nanoGPT
            for name, p in self.named_parameters():
                if name.endswith("c_proj.weight"):
                    nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * config.n_layer))
                elif p.dim() >= 2:
                    nn.init.normal_(p, 0.0, 0.02)
                elif name.endswith("bias"):
                    nn.init.zeros_(p)

        def forward(self, idx, targets=None):
            B, T = idx.shape
            pos = torch.arange(T, device=idx.device)
            x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
            for block in self.transformer.h:
                x = block(x)
            logits = self.lm_head(self.transformer.ln_f(x))
            loss = None
            if targets is not None:
                loss = F.cross_entropy(logits.view(B * T, -1), targets.view(-1), ignore_index=-1)
            return logits, loss

        def load_numpy(self, state: dict[str, np.ndarray]) -> None:
            """Load our state_dict (name -> ndarray), strictly."""
            with torch.no_grad():
                own = dict(self.named_parameters(remove_duplicate=False))
                missing = set(own) - set(state)
                if missing:
                    raise KeyError(f"missing keys: {sorted(missing)}")
                for name, p in own.items():
                    p.copy_(torch.from_numpy(np.asarray(state[name])).to(p.dtype))

    return TorchGPT()
