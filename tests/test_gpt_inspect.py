"""gpt_inspect: the hidden states, attention weights and MLP neurons it reports are the
ones a GPT computes, checked against the whole forward written out by hand in float64
NumPy from the model's own weights."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.models import gpt_inspect
from tinygrad_edu.models.gpt import GPT, GPTConfig

N_LAYER, N_HEAD, N_EMBD, VOCAB = 2, 2, 8, 11


def small_gpt(seed: int = 0, **kw) -> GPT:
    tg.manual_seed(seed)
    cfg = dict(block_size=12, vocab_size=VOCAB, n_layer=N_LAYER, n_head=N_HEAD, n_embd=N_EMBD)
    model = GPT(GPTConfig(**{**cfg, **kw}))
    # biases and LayerNorm parameters away from 0 and 1, as after training
    gen = np.random.default_rng(seed + 1)
    for _, p in model.named_parameters():
        p.data[...] += gen.normal(0.0, 0.1, p.shape).astype(p.dtype)
    return model


def _layer_norm(x, weight, bias, eps=1e-5):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


_erf = np.vectorize(math.erf)


def by_hand(model: GPT, ids: np.ndarray) -> dict:
    """The GPT's forward in float64 NumPy, from its state dict: every intermediate kept."""
    w = {k: v.astype(np.float64) for k, v in model.state_dict().items()}
    B, T = ids.shape
    C, nh = model.config.n_embd, model.config.n_head
    hs = C // nh
    x = w["transformer.wte.weight"][ids] + w["transformer.wpe.weight"][:T]  # (B, T, C)
    out = {"hidden": [x], "attention": [], "mlp_act": []}
    future = np.triu(np.ones((T, T), dtype=bool), k=1)
    for layer in range(model.config.n_layer):
        p = f"transformer.h.{layer}."
        a = _layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"])
        qkv = a @ w[p + "attn.c_attn.weight"].T + w[p + "attn.c_attn.bias"]  # (B, T, 3C)
        q, k, v = (qkv[..., i * C : (i + 1) * C].reshape(B, T, nh, hs).transpose(0, 2, 1, 3) for i in range(3))  # fmt: skip
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hs)  # (B, nh, T, T)
        scores = np.where(future, -np.inf, scores)
        att = np.exp(scores - scores.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        y = (att @ v).transpose(0, 2, 1, 3).reshape(B, T, C)
        x = x + y @ w[p + "attn.c_proj.weight"].T + w[p + "attn.c_proj.bias"]
        m = _layer_norm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"])
        pre = m @ w[p + "mlp.c_fc.weight"].T + w[p + "mlp.c_fc.bias"]  # (B, T, 4C)
        h = 0.5 * pre * (1.0 + _erf(pre / math.sqrt(2.0)))  # exact GELU
        x = x + h @ w[p + "mlp.c_proj.weight"].T + w[p + "mlp.c_proj.bias"]
        out["hidden"].append(x)
        out["attention"].append(att)
        out["mlp_act"].append(h)
    out["final"] = _layer_norm(x, w["transformer.ln_f.weight"], w["transformer.ln_f.bias"])
    out["logits"] = out["final"] @ w["transformer.wte.weight"].T
    return out


@pytest.fixture
def model_and_ids():
    model = small_gpt(seed=4)
    ids = np.random.default_rng(5).integers(0, VOCAB, size=(3, 9))
    return model, ids, by_hand(model, ids)


def test_the_hand_written_forward_is_the_models(model_and_ids):
    model, ids, want = model_and_ids
    logits, _ = model(ids)
    np.testing.assert_allclose(logits.data, want["logits"], atol=2e-5)


def test_functions_report_what_the_forward_computes(model_and_ids):
    model, ids, want = model_and_ids
    states = gpt_inspect.hidden_states(model, ids)
    assert len(states) == N_LAYER + 1
    for got, ref in zip(states, want["hidden"]):
        np.testing.assert_allclose(got, ref, atol=2e-5)
    for layer in range(N_LAYER):
        att = gpt_inspect.attention_weights(model, ids, layer)
        assert att.dtype == np.float64 and att.shape == (3, N_HEAD, 9, 9)
        np.testing.assert_allclose(att, want["attention"][layer], atol=2e-6)
        assert np.all(att[..., np.triu_indices(9, 1)[0], np.triu_indices(9, 1)[1]] == 0.0)
        act = gpt_inspect.mlp_activations(model, ids, layer)
        assert act.dtype == np.float64 and act.shape == (3, 9, 4 * N_EMBD)
        np.testing.assert_allclose(act, want["mlp_act"][layer], atol=2e-5)
    # negative layers count from the top; a 1-D idx gives one sequence's arrays
    np.testing.assert_array_equal(
        gpt_inspect.attention_weights(model, ids, -1),
        gpt_inspect.attention_weights(model, ids, N_LAYER - 1),
    )
    np.testing.assert_allclose(gpt_inspect.mlp_activations(model, ids[2], 0), want["mlp_act"][0][2], atol=2e-5)  # fmt: skip
