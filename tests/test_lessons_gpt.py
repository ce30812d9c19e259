"""The helpers of the GPT lessons (5-8): the bigram model and the look inside a GPT."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.autograd import no_grad
from tinygrad_edu.models.bigram import BigramModel
from tinygrad_edu.models.gpt import GPT, GPTConfig
from tinygrad_edu.models.gpt_inspect import attention_weights, hidden_states, mlp_activations
from tinygrad_edu.nn import functional as F
from tinygrad_edu.tensor import Tensor

# --- the bigram model -----------------------------------------------------------------------


def test_bigram_counts_by_hand():
    m = BigramModel(vocab_size=3, smoothing=0.0).fit([0, 1, 0, 2, 0, 1])
    assert m.counts.tolist() == [[0, 2, 1], [1, 0, 0], [1, 0, 0]]
    np.testing.assert_allclose(m.next_token_probs(0), [0, 2 / 3, 1 / 3])
    np.testing.assert_allclose(m.next_token_probs(2), [1, 0, 0])
    m.fit([2, 2])  # fit adds to the counts
    assert m.counts[2].tolist() == [1, 0, 1]


def test_bigram_matches_a_python_loop_on_random_text():
    gen = np.random.default_rng(0)
    ids = gen.integers(0, 7, size=500)
    m = BigramModel(vocab_size=7, smoothing=0.5).fit(ids)
    counts = np.zeros((7, 7))
    for a, b in zip(ids[:-1], ids[1:]):
        counts[a, b] += 1
    assert m.counts.tolist() == counts.astype(int).tolist()
    probs = (counts + 0.5) / (counts + 0.5).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(m.probs, probs)
    np.testing.assert_allclose(m.probs.sum(axis=1), 1.0)
    want = -np.mean([math.log(probs[a, b]) for a, b in zip(ids[:-1], ids[1:])])
    assert m.nll(ids) == pytest.approx(want, rel=1e-12)


def test_bigram_smoothing_and_empty_rows():
    m = BigramModel(vocab_size=4, smoothing=0.0).fit([0, 1])
    np.testing.assert_allclose(m.next_token_probs(3), 0.25)  # never seen: uniform
    assert math.isinf(m.nll([0, 2]))  # an unseen pair without smoothing costs infinitely much
    smooth = BigramModel(vocab_size=4, smoothing=1.0).fit([0, 1])
    np.testing.assert_allclose(smooth.next_token_probs(0), [1 / 5, 2 / 5, 1 / 5, 1 / 5])
    assert smooth.nll([0, 2]) == pytest.approx(math.log(5))
    # a model that knows nothing costs log V
    assert BigramModel(vocab_size=4).nll([0, 1, 2, 3]) == pytest.approx(math.log(4))


def test_bigram_sample_follows_the_table_and_is_seeded():
    # 0 -> 1 -> 2 -> 0 always: the sample is forced
    m = BigramModel(vocab_size=3, smoothing=0.0).fit([0, 1, 2, 0, 1, 2, 0])
    tg.manual_seed(0)
    assert m.sample(1, 5) == [1, 2, 0, 1, 2, 0]
    free = BigramModel(vocab_size=5).fit([0, 1, 2, 3, 4])
    tg.manual_seed(3)
    first = free.sample(0, 50)
    tg.manual_seed(3)
    assert free.sample(0, 50) == first
    assert len(set(first)) > 1


def test_bigram_bad_input_raises():
    with pytest.raises(ValueError, match="vocab_size"):
        BigramModel(0)
    with pytest.raises(TypeError, match="vocab_size"):
        BigramModel(3.0)
    with pytest.raises(ValueError, match="smoothing"):
        BigramModel(3, smoothing=-1)
    m = BigramModel(3)
    with pytest.raises(IndexError, match="token id 3"):
        m.fit([0, 3])
    with pytest.raises(IndexError, match="token id -1"):
        m.fit([0, -1])
    with pytest.raises(TypeError, match="integer"):
        m.fit([0.0, 1.0])
    with pytest.raises(ValueError, match="1-D"):
        m.fit([[0, 1]])
    with pytest.raises(ValueError, match="at least 2"):
        m.nll([1])
    with pytest.raises(IndexError, match="previous"):
        m.next_token_probs(5)
    with pytest.raises(ValueError, match="num_tokens"):
        m.sample(0, -1)


# --- inside a GPT ---------------------------------------------------------------------------


def small_gpt(seed: int = 0, **kw) -> GPT:
    tg.manual_seed(seed)
    cfg = dict(block_size=12, vocab_size=11, n_layer=2, n_head=2, n_embd=8, bias=True)
    model = GPT(GPTConfig(**{**cfg, **kw}))
    # give the biases and LayerNorm parameters non-trivial values, as training would
    gen = np.random.default_rng(seed + 1)
    for _, p in model.named_parameters():
        p.data[...] += gen.normal(0.0, 0.1, p.shape).astype(p.dtype)
    return model


def test_hidden_states_rebuild_the_logits():
    model = small_gpt()
    idx = np.random.default_rng(0).integers(0, 11, size=(2, 9))
    states = hidden_states(model, idx)
    assert len(states) == model.config.n_layer + 1
    assert all(s.shape == (2, 9, 8) for s in states)
    with no_grad():
        logits, _ = model(idx)
        last = model.transformer.ln_f(Tensor(states[-1])).data
    np.testing.assert_allclose(last @ model.transformer.wte.weight.data.T, logits.data, atol=1e-5)
    one = hidden_states(model, idx[1])  # a 1-D idx gives (T, C) arrays
    np.testing.assert_allclose(one[-1], states[-1][1], atol=1e-6)


@pytest.mark.parametrize("layer", [0, 1, -1])
def test_attention_weights_reproduce_the_block(layer):
    """weights @ values, heads side by side, through c_proj == the block's attention."""
    model = small_gpt(seed=2)
    B, T, C, nh = 2, 7, 8, 2
    hs = C // nh
    idx = np.random.default_rng(1).integers(0, 11, size=(B, T))
    w = attention_weights(model, idx, layer)
    assert w.shape == (B, nh, T, T)
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, atol=1e-6)  # the model's float32 softmax
    assert np.all(w[..., np.triu_indices(T, k=1)[0], np.triu_indices(T, k=1)[1]] == 0.0)
    assert np.all(w[..., 0, 0] == 1.0)  # the first token can only look at itself
    block = model.transformer.h[layer]
    x = hidden_states(model, idx)[layer % model.config.n_layer]  # what enters the block
    with no_grad():
        want = block.attn(block.ln_1(Tensor(x))).data  # (B, T, C)
        qkv = block.attn.c_attn(block.ln_1(Tensor(x))).data
        v = qkv[..., 2 * C :].reshape(B, T, nh, hs).transpose(0, 2, 1, 3)  # (B, nh, T, hs)
        y = (w @ v).transpose(0, 2, 1, 3).reshape(B, T, C).astype(np.float32)
        got = block.attn.c_proj(Tensor(y)).data
    np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(attention_weights(model, idx[0], layer), w[0], atol=1e-12)


def test_attention_weights_keep_the_models_mode_and_check_input():
    model = small_gpt(dropout=0.5)
    idx = np.arange(5)
    a = attention_weights(model, idx, 0)
    b = attention_weights(model, idx, 0)
    np.testing.assert_array_equal(a, b)  # eval mode: no dropout, repeatable
    assert model.training  # left as it was
    with pytest.raises(IndexError, match="layer 2"):
        attention_weights(model, idx, 2)
    with pytest.raises(TypeError, match="layer"):
        attention_weights(model, idx, 0.0)
    with pytest.raises(ValueError, match="block_size"):
        attention_weights(model, np.zeros(13, dtype=np.int64), 0)
    with pytest.raises(IndexError, match="token id 11"):
        hidden_states(model, [1, 11])
    with pytest.raises(TypeError, match="integer"):
        hidden_states(model, [1.0, 2.0])
    with pytest.raises(ValueError, match="T >= 1"):
        hidden_states(model, np.zeros((1, 0), dtype=np.int64))


@pytest.mark.parametrize("layer", [0, 1, -1])
def test_mlp_activations_are_what_the_block_computes(layer):
    """GELU(c_fc(ln_2(x + attention))) recomputed by hand; through c_proj and added to the
    stream, they give the next block's input."""
    model = small_gpt(seed=3)
    idx = np.random.default_rng(2).integers(0, 11, size=(2, 7))
    h = mlp_activations(model, idx, layer)
    assert h.shape == (2, 7, 4 * 8)
    block = model.transformer.h[layer]
    states = hidden_states(model, idx)
    i = layer % model.config.n_layer
    with no_grad():
        x = Tensor(states[i])
        mid = x + block.attn(block.ln_1(x))  # the stream after attention
        want = F.gelu(block.mlp.c_fc(block.ln_2(mid))).data
        out = (mid + block.mlp.c_proj(Tensor(h.astype(np.float32)))).data
    np.testing.assert_allclose(h, want, atol=1e-5)
    np.testing.assert_allclose(out, states[i + 1], atol=1e-5)
    assert "forward" not in vars(block.mlp.c_proj)  # the hook is gone
    np.testing.assert_allclose(mlp_activations(model, idx[1], layer), h[1], atol=1e-12)
    with pytest.raises(IndexError, match="layer 2"):
        mlp_activations(model, idx, 2)
