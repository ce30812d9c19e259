"""RLHF pieces: hidden states, reward model, sequence log-probs, KL estimates, losses
(hand-computed and against PyTorch), and that each training step learns what it should."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import Tensor, rlhf
from tinygrad_edu.models.gpt import GPT, GPTConfig

SMALL = dict(block_size=16, vocab_size=11, n_layer=2, n_head=2, n_embd=8)


def small_gpt(seed: int = 0, **kw) -> GPT:
    tg.manual_seed(seed)
    return GPT(GPTConfig(**{**SMALL, **kw}))


def exact_expectation(model: GPT, prompt: list[int], n_new: int, score) -> float:
    """E_{y ~ model(.|prompt)}[score(y)], by enumerating every completion."""
    V = model.config.vocab_size
    completions = np.array(list(itertools.product(range(V), repeat=n_new)))
    ids = np.concatenate([np.tile(prompt, (len(completions), 1)), completions], axis=1)
    with tg.no_grad():
        logp = rlhf.sequence_logprob(model, ids, len(prompt)).data.astype(np.float64)
    p = np.exp(logp)
    assert p.sum() == pytest.approx(1.0, abs=1e-4)  # a distribution over completions
    return float((p * score(completions)).sum())


# --- hidden states and the reward model ------------------------------------------------------------


def test_final_hidden_states_are_what_lm_head_reads():
    model = small_gpt(bias=True)
    idx = np.random.default_rng(0).integers(0, 11, (3, 7))
    h = rlhf.final_hidden_states(model, idx)
    assert h.shape == (3, 7, 8)
    logits, _ = model(idx)
    np.testing.assert_allclose(model.lm_head(h).data, logits.data, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="block_size"):
        rlhf.final_hidden_states(model, np.zeros((1, 17), dtype=np.int64))
    with pytest.raises(TypeError, match="integer"):  # as GPT.forward: a dtype is a type error
        rlhf.final_hidden_states(model, np.zeros((1, 3)))


def test_reward_model_copies_the_trunk_and_starts_undecided():
    gpt = small_gpt(seed=3)
    rm = rlhf.RewardModel.from_gpt(gpt)
    names = [n for n, _ in rm.named_parameters()]
    assert "reward_head.weight" in names and "transformer.wte.weight" in names
    assert not any(n.startswith("lm_head") for n in names)
    np.testing.assert_array_equal(rm.transformer.wte.weight.data, gpt.transformer.wte.weight.data)
    assert rm.transformer.wte.weight is not gpt.transformer.wte.weight  # a copy, not shared
    idx = np.random.default_rng(1).integers(0, 11, (4, 6))
    r = rm(idx)
    assert r.shape == (4,)
    np.testing.assert_array_equal(r.data, 0.0)  # zero head: every text scores 0 at first
    # the score is read at the last token: = the head on that token's hidden vector
    rm.reward_head.weight.data[...] = np.arange(8, dtype=np.float32) / 8
    h = rlhf.final_hidden_states(gpt, idx).data
    np.testing.assert_allclose(rm(idx).data, h[:, -1] @ rm.reward_head.weight.data[0], rtol=1e-5)
    # lengths: read earlier positions (causal: same as scoring the shorter sequence)
    np.testing.assert_allclose(rm(idx, lengths=[3, 3, 3, 3]).data, rm(idx[:, :3]).data, rtol=1e-5)


def test_reward_model_gradient_reaches_trunk_and_head():
    rm = rlhf.RewardModel.from_gpt(small_gpt(seed=4))
    rm.reward_head.weight.data[...] = 0.1
    loss = rlhf.bradley_terry_loss(rm(np.array([[1, 2, 3]])), rm(np.array([[3, 2, 1]])))
    loss.backward()
    for name, p in rm.named_parameters():
        assert p.grad is not None, name
    assert np.abs(rm.transformer.h[0].mlp.c_fc.weight.grad.data).sum() > 0


# --- log-probabilities ------------------------------------------------------------------------------


def test_token_logprobs_by_hand():
    logits = Tensor(np.array([[[0.0, 0.0, 0.0, 0.0], [math.log(3.0), 0.0, 0.0, 0.0]]]))
    lp = rlhf.token_logprobs(logits, np.array([[2, 0]]))
    # uniform over 4: log 1/4; [3, 1, 1, 1]/6: log 1/2
    np.testing.assert_allclose(lp.data, [[math.log(0.25), math.log(0.5)]], rtol=1e-12)
    with pytest.raises(ValueError, match="do not fit"):
        rlhf.token_logprobs(logits, np.array([0, 1]))


def test_token_logprobs_gradient_matches_pytorch_gather():
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(2)
    logits = r.standard_normal((2, 5, 7))
    targets = r.integers(0, 7, (2, 5))
    weights = r.standard_normal((2, 5))
    x = Tensor(logits, requires_grad=True)
    (rlhf.token_logprobs(x, targets) * Tensor(weights)).sum().backward()
    tx = torch.tensor(logits, requires_grad=True)
    tlp = torch.log_softmax(tx, -1).gather(-1, torch.from_numpy(targets)[..., None])[..., 0]
    (tlp * torch.from_numpy(weights)).sum().backward()
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    # by hand: d log p_t / d logit_v = [v == t] - p_v
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    onehot = np.eye(7)[targets]
    np.testing.assert_allclose(x.grad.data, weights[..., None] * (onehot - p), atol=1e-12)


def test_sequence_logprob_and_its_gradient_match_pytorch_twin():
    torch = pytest.importorskip("torch")
    import torch_gpt

    model = small_gpt(seed=5, bias=True)
    twin = torch_gpt.build(model.config)
    twin.load_numpy(model.state_dict())
    ids = np.random.default_rng(3).integers(0, 11, (3, 10))
    P = 4
    lp = rlhf.sequence_logprob(model, ids, P)
    lp.sum().backward()
    tids = torch.from_numpy(ids)
    tlogits, _ = twin(tids[:, :-1])
    tlp = torch.log_softmax(tlogits, -1).gather(-1, tids[:, 1:, None])[..., 0][:, P - 1 :].sum(-1)
    tlp.sum().backward()
    np.testing.assert_allclose(lp.data, tlp.detach().numpy(), rtol=1e-4, atol=1e-4)
    theirs = dict(twin.named_parameters())
    for name, p in model.named_parameters():
        np.testing.assert_allclose(
            p.grad.data, theirs[name].grad.numpy(), rtol=1e-3, atol=1e-4, err_msg=name
        )


def test_sequence_logprob_is_the_chain_rule_of_probability():
    model = small_gpt(seed=6, vocab_size=3)
    # sums to 1 over all 27 completions of length 3 (checked inside exact_expectation)
    exact_expectation(model, [0, 1], 3, lambda c: np.zeros(len(c)))
    # log p(a, b | prompt) = log p(a | prompt) + log p(b | prompt, a)
    ids = np.array([[0, 1, 2, 1]])
    with tg.no_grad():
        logits, _ = model(ids)
    lsm = logits.log_softmax(-1).data[0]
    want = lsm[1, 2] + lsm[2, 1]
    assert rlhf.sequence_logprob(model, ids, 2).item() == pytest.approx(want, rel=1e-5)
    with pytest.raises(ValueError, match="prompt_len"):
        rlhf.sequence_logprob(model, ids, 4)


# --- losses ---------------------------------------------------------------------------------------------


def test_log_sigmoid_is_stable_and_correct():
    x = np.array([-1000.0, -30.0, -1.0, 0.0, 2.0, 30.0, 1000.0])
    got = rlhf.log_sigmoid(Tensor(x)).data
    assert np.all(np.isfinite(got))
    want = -np.logaddexp(0.0, -x)  # log sigmoid(x) = -log(1 + e^-x)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)  # no log1p: 1e-16 absolute
    assert got[3] == pytest.approx(-math.log(2))
    # d/dx log sigmoid(x) = 1 - sigmoid(x): 1 far left, 1/2 at 0 (where a zero-initialised
    # reward model starts: a subgradient of 0 there would never get it going), 0 far right
    t = Tensor(np.array([-1000.0, 0.0, 1000.0]), requires_grad=True)
    rlhf.log_sigmoid(t).sum().backward()
    np.testing.assert_allclose(t.grad.data, [1.0, 0.5, 0.0])


def test_bradley_terry_loss_by_hand():
    assert rlhf.bradley_terry_loss([2.0], [0.5]).item() == pytest.approx(
        math.log(1 + math.exp(-1.5)), rel=1e-6
    )
    assert rlhf.bradley_terry_loss([1.0, -3.0], [1.0, -3.0]).item() == pytest.approx(
        math.log(2), rel=1e-6
    )  # undecided
    # wrong order costs about the margin
    assert rlhf.bradley_terry_loss([0.0], [20.0]).item() == pytest.approx(20.0, rel=1e-6)
    # gradient: d/d r_c of -log sigmoid(r_c - r_r) = -(1 - sigmoid(r_c - r_r))
    rc = Tensor(np.array([2.0]), requires_grad=True)
    rr = Tensor(np.array([0.5]), requires_grad=True)
    rlhf.bradley_terry_loss(rc, rr).backward()
    s = 1 / (1 + math.exp(-1.5))
    assert rc.grad.item() == pytest.approx(-(1 - s), rel=1e-9)
    assert rr.grad.item() == pytest.approx(1 - s, rel=1e-9)


def test_bradley_terry_loss_matches_pytorch():
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(4)
    a, b = r.standard_normal(9) * 3, r.standard_normal(9) * 3
    ta, tb = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    loss = rlhf.bradley_terry_loss(ta, tb)
    loss.backward()
    xa = torch.tensor(a, requires_grad=True)
    xb = torch.tensor(b, requires_grad=True)
    tl = -torch.nn.functional.logsigmoid(xa - xb).mean()
    tl.backward()
    assert loss.item() == pytest.approx(tl.item(), rel=1e-12)
    np.testing.assert_allclose(ta.grad.data, xa.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(tb.grad.data, xb.grad.numpy(), rtol=1e-10)


def test_dpo_loss_by_hand_and_against_pytorch():
    # policy raised y_w by 1 nat and lowered y_l by 1 nat, relative to the reference
    got = rlhf.dpo_loss([-4.0], [-6.0], [-5.0], [-5.0], beta=0.5).item()
    assert got == pytest.approx(math.log(1 + math.exp(-0.5 * 2.0)), rel=1e-6)
    assert rlhf.dpo_loss([-3.0], [-7.0], [-3.0], [-7.0]).item() == pytest.approx(math.log(2))
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(5)
    vals = [r.standard_normal(6) * 2 - 10 for _ in range(4)]
    ts = [Tensor(v, requires_grad=True) for v in vals]
    loss = rlhf.dpo_loss(*ts, beta=0.3)
    loss.backward()
    xs = [torch.tensor(v, requires_grad=True) for v in vals]
    logits = 0.3 * ((xs[0] - xs[2]) - (xs[1] - xs[3]))
    tl = -torch.nn.functional.logsigmoid(logits).mean()
    tl.backward()
    assert loss.item() == pytest.approx(tl.item(), rel=1e-12)
    for t, x in zip(ts, xs):
        np.testing.assert_allclose(t.grad.data, x.grad.numpy(), rtol=1e-10)


def test_reinforce_loss_gradient_is_advantage_weighted():
    lp = Tensor(np.array([-1.0, -2.0, -3.0]), requires_grad=True)
    adv = np.array([1.0, 0.0, -2.0])
    loss = rlhf.reinforce_loss(lp, adv)
    assert loss.item() == pytest.approx(-(-1.0 + 0.0 + 6.0) / 3)
    loss.backward()
    np.testing.assert_allclose(lp.grad.data, -adv / 3)


def test_ppo_clip_loss_by_hand_and_against_pytorch():
    old = np.log(np.array([[0.5, 0.5], [0.5, 0.5]]))
    adv = np.array([1.0, -1.0])
    # at rho = 1 it is REINFORCE per token
    lp = Tensor(old.copy(), requires_grad=True)
    loss = rlhf.ppo_clip_loss(lp, old, adv, clip=0.2)
    assert loss.item() == pytest.approx(0.0)
    loss.backward()
    np.testing.assert_allclose(lp.grad.data, -np.array([[1, 1], [-1, -1]]) / 4)
    # rho = 2 with A > 0: clipped at 1.2, no gradient; with A < 0: min picks rho A = -2
    lp = Tensor(old + math.log(2.0), requires_grad=True)
    loss = rlhf.ppo_clip_loss(lp, old, adv, clip=0.2)
    assert loss.item() == pytest.approx(-(1.2 + 1.2 - 2.0 - 2.0) / 4)
    loss.backward()
    np.testing.assert_allclose(lp.grad.data[0], 0.0)
    np.testing.assert_allclose(lp.grad.data[1], 2.0 / 4)  # d(-(rho * -1))/dlogp / 4 = rho / 4
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(6)
    new, old = r.standard_normal((4, 5)) * 0.3 - 2, r.standard_normal((4, 5)) * 0.3 - 2
    adv = r.standard_normal(4)
    t = Tensor(new, requires_grad=True)
    loss = rlhf.ppo_clip_loss(t, old, adv, clip=0.2)
    loss.backward()
    x = torch.tensor(new, requires_grad=True)
    ratio = torch.exp(x - torch.from_numpy(old))
    A = torch.from_numpy(adv)[:, None]
    tl = -torch.min(ratio * A, torch.clamp(ratio, 0.8, 1.2) * A).mean()
    tl.backward()
    assert loss.item() == pytest.approx(tl.item(), rel=1e-10)
    np.testing.assert_allclose(t.grad.data, x.grad.numpy(), rtol=1e-10, atol=1e-14)


# --- KL ----------------------------------------------------------------------------------------------------


def test_kl_divergence_exact_by_hand_and_against_pytorch():
    p, q = np.array([0.5, 0.25, 0.25]), np.array([0.25, 0.5, 0.25])
    want = 0.5 * math.log(2) + 0.25 * math.log(0.5)
    got = rlhf.kl_divergence(Tensor(np.log(p)), Tensor(np.log(q))).item()
    assert got == pytest.approx(want, rel=1e-12)
    assert rlhf.kl_divergence(Tensor(np.log(p)), Tensor(np.log(p))).item() == pytest.approx(0.0)
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(7)
    a, b = r.standard_normal((3, 6)), r.standard_normal((3, 6))
    ta = torch.log_softmax(torch.from_numpy(a), -1)
    tb = torch.log_softmax(torch.from_numpy(b), -1)
    # torch's kl_div(input=log q, target=log p, log_target=True) is KL(p || q), summed here per row
    tk = torch.nn.functional.kl_div(tb, ta, reduction="none", log_target=True).sum(-1)
    got = rlhf.kl_divergence(Tensor(a), Tensor(b)).data
    np.testing.assert_allclose(got, tk.numpy(), rtol=1e-10)
    assert np.all(got >= 0)


def test_kl_estimators_are_unbiased_and_k3_is_never_negative():
    p = np.array([0.6, 0.3, 0.1])  # the policy
    q = np.array([0.2, 0.5, 0.3])  # the reference
    exact = float((p * np.log(p / q)).sum())
    y = np.random.default_rng(8).choice(3, size=200_000, p=p)  # samples from the policy
    lp, lq = np.log(p)[y], np.log(q)[y]
    k1, k3 = rlhf.kl_k1(lp, lq).data, rlhf.kl_k3(lp, lq).data
    assert k1.min() < 0  # a single k1 sample can be negative...
    assert k3.min() >= 0  # ... a k3 sample never is
    assert k1.mean() == pytest.approx(exact, rel=0.02)
    assert k3.mean() == pytest.approx(exact, rel=0.02)
    assert k3.std() < k1.std()  # and k3 is less noisy here
    # identical distributions: both are exactly 0
    np.testing.assert_array_equal(rlhf.kl_k3(lp, lp).data, 0.0)
    np.testing.assert_array_equal(rlhf.kl_k1(lp, lp).data, 0.0)


# --- the training steps learn ---------------------------------------------------------------------------


def test_reward_model_learns_a_trivially_separable_preference():
    """The rater prefers sequences that end in token 1 over ones that end in token 2."""
    tg.manual_seed(9)
    rm = rlhf.RewardModel(GPTConfig(**SMALL))
    r = np.random.default_rng(9)

    def pairs(n):
        body = r.integers(3, 11, (n, 5))
        return (
            np.concatenate([body, np.full((n, 1), 1)], 1),
            np.concatenate([r.integers(3, 11, (n, 5)), np.full((n, 1), 2)], 1),
        )

    opt = tg.optim.Adam(rm.parameters(), lr=1e-2)
    first = None
    for _ in range(40):
        stats = rlhf.reward_model_step(rm, *pairs(16), opt)
        first = first if first is not None else stats["loss"]
    assert first == pytest.approx(math.log(2), rel=1e-5)  # zero head: undecided at first
    chosen, rejected = pairs(64)
    with tg.no_grad():
        acc = np.mean(rm(chosen).data > rm(rejected).data)
    assert acc == 1.0
    assert stats["loss"] < 0.1


def score_ones(completions: np.ndarray) -> np.ndarray:
    return (completions == 1).sum(-1).astype(np.float64)


@pytest.mark.parametrize("method", ["reinforce", "ppo"])
def test_policy_step_increases_expected_reward(method):
    policy = small_gpt(seed=10, vocab_size=3)
    reference = rlhf.frozen_copy(policy)
    prompt, n_new = [0, 2], 3
    before = exact_expectation(policy, prompt, n_new, score_ones)
    opt = tg.optim.Adam(policy.parameters(), lr=3e-2)
    cfg = rlhf.PolicyConfig(new_tokens=n_new, kl_coef=0.01, method=method)
    prompts = np.tile(prompt, (64, 1))
    tg.manual_seed(11)
    history = [
        rlhf.policy_step(policy, reference, lambda ids: score_ones(ids[:, 2:]), prompts, opt, cfg)
        for _ in range(8)
    ]
    after = exact_expectation(policy, prompt, n_new, score_ones)
    assert before == pytest.approx(1.0, abs=0.3)  # about 1 in 3 tokens at the start
    assert after > before + 0.5
    assert history[-1]["reward"] > history[0]["reward"]
    assert history[-1]["kl_k3"] > 0  # it moved away from the reference
    assert exact_expectation(reference, prompt, n_new, score_ones) == pytest.approx(before)
    assert history[0]["ids"].shape == (64, 5)


def test_kl_penalty_holds_the_policy_at_the_reference():
    """With a reward that is the same for every completion, only the KL term acts."""
    policy = small_gpt(seed=12, vocab_size=3)
    reference = rlhf.frozen_copy(policy)
    opt = tg.optim.SGD(policy.parameters(), lr=0.05)
    cfg = rlhf.PolicyConfig(new_tokens=3, kl_coef=1.0, whiten=False)
    tg.manual_seed(13)
    for _ in range(5):
        stats = rlhf.policy_step(
            policy, reference, lambda ids: np.zeros(len(ids)), np.zeros((32, 1), np.int64), opt, cfg
        )
    assert abs(stats["kl_k1"]) < 0.05 and stats["kl_k3"] < 0.05


def test_dpo_step_prefers_the_chosen_completions():
    policy = small_gpt(seed=14, vocab_size=3)
    reference = rlhf.frozen_copy(policy)
    prompt, n_new = [0, 2], 3
    before = exact_expectation(policy, prompt, n_new, score_ones)
    r = np.random.default_rng(15)
    a, b = r.integers(0, 3, (64, n_new)), r.integers(0, 3, (64, n_new))
    keep = score_ones(a) != score_ones(b)
    a, b = a[keep], b[keep]
    better = (score_ones(a) > score_ones(b))[:, None]
    chosen, rejected = np.where(better, a, b), np.where(better, b, a)
    full = lambda c: np.concatenate([np.tile(prompt, (len(c), 1)), c], 1)  # noqa: E731
    opt = tg.optim.Adam(policy.parameters(), lr=1e-2)
    stats = [
        rlhf.dpo_step(policy, reference, full(chosen), full(rejected), 2, opt, beta=0.5)
        for _ in range(15)
    ]
    assert stats[0]["loss"] == pytest.approx(math.log(2), rel=1e-5)  # policy == reference
    assert stats[-1]["loss"] < stats[0]["loss"] - 0.1
    assert exact_expectation(policy, prompt, n_new, score_ones) > before + 0.3


def test_frozen_copy_is_independent_and_frozen():
    model = small_gpt(seed=16)
    ref = rlhf.frozen_copy(model)
    assert all(not p.requires_grad for p in ref.parameters())
    assert ref.lm_head.weight is ref.transformer.wte.weight  # tying survives the copy
    assert ref.transformer.wte.weight is not model.transformer.wte.weight
    model.transformer.wte.weight.data[...] += 1.0
    assert not np.allclose(ref.transformer.wte.weight.data, model.transformer.wte.weight.data)
    with pytest.raises(ValueError, match="method"):
        rlhf.policy_step(
            model, ref, lambda i: np.zeros(len(i)), np.zeros((2, 1), np.int64), None,
            rlhf.PolicyConfig(method="sac"),
        )  # fmt: skip
