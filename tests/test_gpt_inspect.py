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


def test_probe_holds_what_one_forward_computed(model_and_ids):
    model, ids, want = model_and_ids
    with gpt_inspect.inspect(model) as probe:
        logits, _ = model(ids)
    np.testing.assert_allclose(logits.data, want["logits"], atol=2e-5)  # the forward unchanged
    np.testing.assert_allclose(probe.final, want["final"], atol=2e-5)
    for layer in range(N_LAYER + 1):
        np.testing.assert_allclose(probe.hidden[layer], want["hidden"][layer], atol=2e-5)
    for layer in range(N_LAYER):
        np.testing.assert_allclose(probe.attention[layer], want["attention"][layer], atol=2e-6)
        np.testing.assert_allclose(probe.mlp_act[layer], want["mlp_act"][layer], atol=2e-5)
    # the hooks are gone after the `with`: another forward leaves the probe as it was
    for module in model.modules():
        assert not module._forward_hooks
    kept = probe.hidden[1].copy()
    model(ids[:, :4])
    np.testing.assert_array_equal(probe.hidden[1], kept)


def test_probe_keeps_the_last_forward_and_its_attention():
    model = small_gpt(seed=6)
    first = np.random.default_rng(7).integers(0, VOCAB, size=(2, 5))
    second = np.random.default_rng(8).integers(0, VOCAB, size=(1, 7))
    with gpt_inspect.inspect(model) as probe:
        model(first)
        assert probe.attention[0].shape == (2, N_HEAD, 5, 5)
        model(second)  # the weights follow the new forward, not the first one's
        assert probe.attention[0].shape == (1, N_HEAD, 7, 7)
        assert probe.hidden[N_LAYER].shape == probe.final.shape == (1, 7, N_EMBD)
    want = by_hand(model, second)
    np.testing.assert_allclose(probe.attention[1], want["attention"][1], atol=2e-6)


def test_probe_refuses_the_kv_cache_and_keeps_gradients_flowing():
    model = small_gpt(seed=9)
    ids = np.random.default_rng(10).integers(0, VOCAB, size=(2, 6))
    with gpt_inspect.inspect(model) as probe, pytest.raises(ValueError, match="KV cache"):
        model.generate(ids[:, :2], 2, use_cache=True)
    with gpt_inspect.inspect(model) as probe:
        _, loss = model(ids, ids)  # training mode, with a graph: the caller's choice
    loss.backward()  # the hooks kept copies; the graph is the model's own
    assert model.transformer.wte.weight.grad is not None
    assert probe.mlp_act[0].shape == (2, 6, 4 * N_EMBD)
