"""Lesson 8's helpers: the GPT's MLP block as a fact memory, angles and the Welch bound,
spreading directions on the sphere, and the toy model of superposition."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import Tensor
from tinygrad_edu.lessons import superposition as S
from tinygrad_edu.nn import functional as F


def test_angles_by_hand():
    v = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])  # lengths do not matter
    np.testing.assert_allclose(S.angles_degrees(v), [90.0, 45.0, 45.0], atol=1e-12)
    np.testing.assert_allclose(S.pairwise_cosines(v), [0.0, math.sqrt(0.5), math.sqrt(0.5)])
    assert S.angles_degrees(np.array([[1.0, 0.0], [-1.0, 0.0]]))[0] == pytest.approx(180.0)


def test_welch_bound_by_hand_and_it_holds():
    assert S.welch_bound(5, 5) == 0.0  # an orthonormal basis: all exactly 90 degrees
    # 3 lines in the plane: at best 60 degrees apart, |cos| = 1/2
    assert S.welch_bound(3, 2) == pytest.approx(0.5)
    mercedes = np.array([[math.cos(a), math.sin(a)] for a in (0, 2 * math.pi / 3, 4 * math.pi / 3)])
    assert np.abs(S.pairwise_cosines(mercedes)).max() == pytest.approx(0.5)
    r = np.random.default_rng(0)
    for n, d in ((30, 5), (200, 20)):
        cos = S.pairwise_cosines(r.standard_normal((n, d)))
        w = S.welch_bound(n, d)
        assert np.abs(cos).max() >= w
        assert np.sqrt(np.mean(cos**2)) >= w  # the RMS bound too
    assert S.welch_bound(10_000, 100) == pytest.approx(math.sin(math.radians(5.711)), rel=1e-3)


def test_welch_max_directions_and_random_guarantee():
    assert S.welch_max_directions(100, 1.0) == pytest.approx(103.1, abs=0.05)
    assert S.welch_max_directions(100, 10.0) == math.inf  # the bound stops binding
    n = S.welch_max_directions(50, 5.0)
    assert S.welch_bound(int(n), 50) <= math.sin(math.radians(5.0)) < S.welch_bound(int(n) + 1, 50)
    eps = math.sin(math.radians(10.0))
    assert S.random_directions_guarantee(12288, 10.0) == pytest.approx(math.exp(12288 * eps**2 / 4))


def test_spread_directions_reaches_the_tolerance_and_stays_on_the_sphere():
    tg.manual_seed(0)
    V, worst = S.spread_directions(60, 20, 15.0, steps=300)
    assert worst[0] > 15.0 >= worst[-1]  # random start is off; after: every pair within
    np.testing.assert_allclose(np.linalg.norm(V, axis=1), 1.0, rtol=1e-5)
    assert np.abs(S.angles_degrees(V) - 90).max() <= 15.0 + 1e-3
    # n = d: an (almost) orthonormal set
    V, worst = S.spread_directions(8, 8, 0.5, steps=500)
    assert worst[-1] <= 0.5


def test_spread_directions_cannot_beat_the_welch_bound():
    # 11 directions in 10 dimensions within 90 +- 5: the bound allows at most 10.7
    assert S.welch_max_directions(10, 5.0) < 11
    _, worst = S.spread_directions(11, 10, 5.0, steps=300)
    assert worst[-1] > 5.0
    assert worst[-1] >= math.degrees(math.asin(S.welch_bound(11, 10))) - 1e-6


def test_most_directions_in_the_plane():
    # lines through the origin in 2-D: 3 fit within 90 +- 31 (60 degrees apart), 4 do not
    assert S.most_directions(2, 31.0) == (3, 4)
    assert S.most_directions(2, 29.0) == (2, 3)


def test_fact_memory_uses_the_gpts_mlp_block():
    tg.manual_seed(1)
    mem = S.FactMemory(n_subjects=3, n_values=2, d=4, hidden=16, seed=1)
    block = mem.mlp
    assert type(block) is tg.nn.MLP  # the class inside every GPT block, not a copy
    x = Tensor(np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32))
    seen = []
    hook = block.c_proj.register_forward_hook(lambda m, args, y: seen.append(args[0]))
    out = block(x)
    hook.remove()
    h = seen[0]  # the neurons: what c_proj reads
    W1, b1 = block.c_fc.weight.data, block.c_fc.bias.data
    W2, b2 = block.c_proj.weight.data, block.c_proj.bias.data
    z = x.data @ W1.T + b1
    want_h = 0.5 * z * (1 + np.vectorize(math.erf)(z / math.sqrt(2)))  # GELU, exactly
    np.testing.assert_allclose(h.data, want_h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out.data, want_h @ W2.T + b2, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(block(x).data, out.data)
    assert np.array_equal(h.data > 0, z > 0)  # GELU(z) > 0 exactly when z > 0: "fires"
    _, h_mem = mem(np.arange(3))
    assert h_mem.shape == (3, 16)


def test_fact_memory_learns_facts_only_in_its_mlp():
    tg.manual_seed(2)
    mem = S.FactMemory(n_subjects=12, n_values=6, d=8, hidden=32, seed=2)
    names = [n for n, _ in mem.named_parameters()]
    assert all(n.startswith("mlp.") for n in names)  # subject and value vectors are frozen
    assert "subject_vectors" in mem.state_dict()
    answers = np.random.default_rng(2).integers(0, 6, 12)
    subjects = np.arange(12)
    opt = tg.optim.Adam(mem.parameters(), lr=1e-2)
    for _ in range(200):
        scores, h = mem(subjects)
        loss = F.cross_entropy(scores, answers)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert h.shape == (12, 32)
    with tg.no_grad():
        scores, _ = mem(subjects)
        plain, none = mem(subjects, use_mlp=False)
    assert np.all(scores.data.argmax(1) == answers)
    assert none is None
    np.testing.assert_allclose(
        plain.data, mem.subject_vectors.data @ mem.value_vectors.data.T, rtol=1e-6
    )


def test_sparse_features():
    r = np.random.default_rng(3)
    x = S.sparse_features(20_000, 10, 0.1, r)
    assert x.shape == (20_000, 10) and x.dtype == np.float32
    assert np.mean(x > 0) == pytest.approx(0.1, abs=0.005)
    assert x.min() >= 0 and x.max() < 1


def test_toy_model_forward_and_superposition():
    tg.manual_seed(4)
    toy = S.ToySuperposition(6, 2)
    x = Tensor(S.sparse_features(5, 6, 0.5, np.random.default_rng(4)))
    W, b = toy.W.data, toy.b.data
    np.testing.assert_allclose(
        toy(x).data, np.maximum(x.data @ W.T @ W + b, 0), rtol=1e-5, atol=1e-6
    )
    assert toy.feature_norms().shape == (6,)

    def stored(p: float) -> int:
        tg.manual_seed(0)
        r = np.random.default_rng(0)
        model = S.ToySuperposition(6, 2)
        opt = tg.optim.Adam(model.parameters(), lr=2e-2)
        importance = Tensor((0.9 ** np.arange(6)).astype(np.float32))
        for _ in range(600):
            x = Tensor(S.sparse_features(256, 6, p, r))
            err = model(x) - x
            loss = (err * err * importance).sum(-1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return int((model.feature_norms() > 0.5).sum())

    assert stored(1.0) == 2  # dense: as many features as dimensions
    assert stored(0.02) > 2  # sparse: more features than dimensions (superposition)
