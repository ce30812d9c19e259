"""Reinforcement learning from human feedback (lecture 5), in miniature.

Pretraining (models/train_gpt.py) teaches a GPT to continue text the way its
training text goes. RLHF then nudges it towards what people prefer:

  1. Preferences. Show a rater two completions of the same prompt; they say which
     one they prefer: a pair (chosen, rejected).
  2. A reward model. A GPT trunk with a head that outputs one number r(text). It is
     trained so that the chosen completion scores higher than the rejected one. The
     Bradley-Terry model turns a difference of scores into a probability,

         P(chosen is preferred) = sigmoid(r_chosen - r_rejected),

     and the loss is the cross-entropy of that: -log sigmoid(r_chosen - r_rejected).
  3. Policy optimisation. The GPT being tuned is the "policy": given a prompt it picks
     (samples) the next tokens. Sample completions, score them with the reward model,
     and make the high-scoring ones more likely (REINFORCE, or PPO). A KL penalty
     keeps the policy close to the frozen pretrained model (the "reference"), so that
     it keeps writing text and does not drift to some odd string that fools the
     reward model.
  DPO (direct preference optimisation) skips steps 2-3: it trains the policy on the
  preference pairs directly, with a loss whose best solution is the same
  KL-regularised optimum.

The pieces, in the order the tutorial (tutorials/09_rlhf.py) uses them:

    final_hidden_states   the GPT's last hidden vectors (what the reward head reads)
    RewardModel           GPT trunk + Linear(n_embd, 1), read at the last token
    token_logprobs        log p(token) for every position: log_softmax, then "gather"
    completion_logprobs   the same for the completion tokens only, given the prompt
    sequence_logprob      their sum: log p(completion | prompt)
    log_sigmoid, bradley_terry_loss, dpo_loss
    kl_k1, kl_k3, kl_divergence    estimates of KL(policy || reference), and the exact value
    reinforce_loss, ppo_clip_loss, policy_step, dpo_step, reward_model_step

Shapes: B sequences, T tokens, V the vocabulary, C = n_embd. A "sequence" here is the
prompt (P tokens) followed by the completion (T_c tokens); all completions in a batch
have the same length (no padding needed).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from . import nn
from .autograd import no_grad
from .models.gpt import GPT, GPTConfig
from .tensor import Tensor, where

# --- the GPT's final hidden states and the reward model ----------------------------------------


def final_hidden_states(model: Any, idx: Any) -> Tensor:
    """The GPT's vectors after the last block and the final layer norm: (B, T, C).

    GPT.forward without its last line (the unembedding lm_head): GPT.last_hidden_state,
    which GPT.forward itself calls. `model` is anything with a nanoGPT-style `transformer`
    (wte, wpe, drop, h, ln_f) and a `config`: a GPT or a RewardModel.
    """
    return GPT.last_hidden_state(model, idx)


class RewardModel(nn.Module):
    """r(text): a GPT trunk, and a Linear layer from its last hidden vector to one number.

    The trunk has the GPT's names (`transformer.wte.weight`, ...), so a pretrained
    GPT's weights load into it (`from_gpt`): the reward model starts out already
    knowing how text goes, and only has to learn what the rater likes. The head
    `reward_head` (a Linear(n_embd, 1)) starts at zero, so every text first scores 0
    and P(chosen preferred) = sigmoid(0) = 0.5: the model starts undecided.

    The score is read at the last token: with causal attention, the last position is
    the only one that has seen the whole text.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.transformer = GPT(config).transformer  # wte, wpe, drop, h, ln_f; no lm_head
        self.reward_head = nn.Linear(config.n_embd, 1)
        self.reward_head.weight.data[...] = 0.0
        self.reward_head.bias.data[...] = 0.0

    @classmethod
    def from_gpt(cls, gpt: GPT) -> RewardModel:
        """A reward model whose trunk is a copy of `gpt`'s (the GPT itself is not shared)."""
        model = cls(gpt.config)
        trunk = {k: v for k, v in gpt.state_dict().items() if k.startswith("transformer.")}
        missing, unexpected = model.load_state_dict(trunk, strict=False)
        assert not unexpected and all(k.startswith("reward_head.") for k in missing)
        return model

    def forward(self, idx: Any, lengths: Any = None) -> Tensor:
        """idx (B, T) -> rewards (B,), read at the last token (or at lengths - 1)."""
        h = final_hidden_states(self, idx)  # (B, T, C)
        B, T, _ = h.shape
        last = np.full(B, T - 1) if lengths is None else np.asarray(lengths) - 1
        h_last = h[np.arange(B), last]  # (B, C): each sequence's last vector
        return self.reward_head(h_last).reshape(B)  # (B,)


# --- log-probabilities of a completion -----------------------------------------------------------


def token_logprobs(logits: Tensor, targets: Any) -> Tensor:
    """log p(targets[b, t]) under softmax(logits[b, t]): logits (B, T, V) -> (B, T).

    log_softmax turns scores into log-probabilities; then each position picks the
    entry of its target token (PyTorch's `gather`; here integer-array indexing, whose
    backward puts the gradient back into the picked entries).
    """
    t = targets.data if isinstance(targets, Tensor) else np.asarray(targets)
    if logits.ndim != 3 or t.shape != logits.shape[:2]:
        raise ValueError(f"logits (B, T, V) {logits.shape} and targets (B, T) {t.shape} do not fit")
    B, T, _ = logits.shape
    logp = logits.log_softmax(-1)  # (B, T, V)
    return logp[np.arange(B)[:, None], np.arange(T)[None, :], t]  # (B, T)


def completion_logprobs(model: GPT, ids: Any, prompt_len: int) -> Tensor:
    """log p(each completion token | everything before it): ids (B, P + T_c) -> (B, T_c).

    The model reads ids[:, :-1]; position t predicts token t + 1. The completion's
    first token, ids[:, P], is predicted at position P - 1.
    """
    ids = np.asarray(ids.data if isinstance(ids, Tensor) else ids)
    if not 1 <= prompt_len < ids.shape[1]:
        raise ValueError(f"prompt_len must be in [1, {ids.shape[1]}), got {prompt_len}")
    logits, _ = model(ids[:, :-1])  # (B, T - 1, V)
    return token_logprobs(logits, ids[:, 1:])[:, prompt_len - 1 :]  # (B, T_c)


def sequence_logprob(model: GPT, ids: Any, prompt_len: int) -> Tensor:
    """log p(completion | prompt) = the sum of its tokens' log-probabilities: (B,)."""
    return completion_logprobs(model, ids, prompt_len).sum(-1)


# --- the losses -------------------------------------------------------------------------------------


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=np.float32))


def log_sigmoid(x: Any) -> Tensor:
    """log sigmoid(x) = -log(1 + e^-x), computed without overflow for any x.

    For x >= 0 that formula is safe (e^-x <= 1). For x < 0 use the same function
    rearranged, x - log(1 + e^x), where again the exponent is never positive. Each
    branch is fed only the inputs it is meant for (0 elsewhere), so neither overflows,
    and the gradient at x = 0 is the true 1/2 (a max(x, 0) formulation would give a
    subgradient of 0 there, exactly where a zero-initialised reward model starts).
    """
    x = _t(x)
    pos = x.data >= 0
    x_pos = where(pos, x, 0.0)  # x where x >= 0, else 0
    x_neg = where(pos, 0.0, x)  # x where x < 0, else 0
    return where(pos, -(1.0 + (-x_pos).exp()).log(), x_neg - (1.0 + x_neg.exp()).log())


def bradley_terry_loss(r_chosen: Any, r_rejected: Any) -> Tensor:
    """mean of -log sigmoid(r_chosen - r_rejected): the reward model's cost.

    Zero when the chosen text scores far above the rejected one, log 2 = 0.693 when
    they score the same, and growing linearly the more the order is wrong.
    """
    return (-log_sigmoid(_t(r_chosen) - _t(r_rejected))).mean()


def dpo_loss(
    policy_chosen: Any,
    policy_rejected: Any,
    ref_chosen: Any,
    ref_rejected: Any,
    beta: float = 0.1,
) -> Tensor:
    """DPO: mean of -log sigmoid(beta * [(log pi(y_w) - log pi_ref(y_w)) - (log pi(y_l) - log pi_ref(y_l))]).

    Arguments are sequence log-probabilities (B,) of the chosen (y_w) and rejected (y_l)
    completions under the policy and the frozen reference. It is the Bradley-Terry
    loss with the reward r(y) = beta * log(pi(y) / pi_ref(y)): the policy itself is the
    reward model. That reward is the one for which the KL-regularised RL problem,
    maximise E[r] - beta * KL(pi || pi_ref), has pi as its solution.
    """
    chosen = _t(policy_chosen) - _t(ref_chosen)  # how much more likely than before
    rejected = _t(policy_rejected) - _t(ref_rejected)
    return (-log_sigmoid((chosen - rejected) * beta)).mean()


# --- KL divergence between the policy and the reference -----------------------------------------
#
# KL(pi || ref) = E_{y ~ pi}[log pi(y) - log ref(y)]: how surprised the reference would
# be, on average, by what the policy writes. For a sequence it is the sum over its
# tokens. We only ever see the tokens that were sampled, so we estimate it from the
# per-token log-ratio  log_ratio = log pi(y_t) - log ref(y_t)  at the sampled tokens:
#
#   k1 = log_ratio                  unbiased, but a single sample can be negative
#   k3 = (r - 1) - log r,  r = ref/pi = e^-log_ratio
#                                   also unbiased (E_pi[r] = 1), and never negative
#                                   (e^u >= 1 + u), so it is less noisy
#
# (J. Schulman, "Approximating KL divergence", 2020.) The policy step puts k1 into the
# reward, as InstructGPT does: that is what makes the policy gradient the gradient of
# E[reward] - beta * KL. The tutorial reports k3. With a small vocabulary the exact KL
# of each position's next-token distribution is cheap too: kl_divergence.


def kl_k1(logp: Any, logp_ref: Any) -> Tensor:
    """Per-token k1 estimate of KL(pi || ref): log pi - log ref (same shape as the inputs)."""
    return _t(logp) - _t(logp_ref)


def kl_k3(logp: Any, logp_ref: Any) -> Tensor:
    """Per-token k3 estimate of KL(pi || ref): (r - 1) - log r with r = ref/pi; always >= 0."""
    log_r = _t(logp_ref) - _t(logp)
    return log_r.exp() - 1.0 - log_r


def kl_divergence(logits_p: Any, logits_q: Any) -> Tensor:
    """Exact KL(p || q) = sum_v p_v (log p_v - log q_v) of the softmax of each row: (...)."""
    logp, logq = _t(logits_p).log_softmax(-1), _t(logits_q).log_softmax(-1)
    return (logp.exp() * (logp - logq)).sum(-1)


# --- policy optimisation ---------------------------------------------------------------------------


def reinforce_loss(seq_logp: Tensor, advantages: Any) -> Tensor:
    """REINFORCE: -mean(advantage * log pi(completion)); seq_logp (B,), advantages (B,).

    Its gradient, -mean(A * grad log pi(y)), is the policy gradient: each sampled
    completion's probability is pushed up in proportion to how much better than
    average it did (A > 0) and down when worse (A < 0). The advantage is a constant
    (no gradient flows into the reward).
    """
    adv = np.asarray(advantages.data if isinstance(advantages, Tensor) else advantages)
    return -(seq_logp * Tensor(adv.astype(seq_logp.dtype))).mean()


def ppo_clip_loss(logp: Tensor, logp_old: Any, advantages: Any, clip: float = 0.2) -> Tensor:
    """PPO's clipped surrogate, per token: -mean(min(rho A, clip(rho, 1-eps, 1+eps) A)).

    rho = pi(y_t) / pi_old(y_t) for the tokens sampled by pi_old; logp, logp_old (B, T),
    advantages (B,) (every token of a completion shares it). At rho = 1 the gradient is
    REINFORCE's; clipping stops the update from pushing rho far from 1 on one batch,
    so the same samples can be reused for several steps.
    """
    old = np.asarray(logp_old.data if isinstance(logp_old, Tensor) else logp_old)
    adv = np.asarray(advantages.data if isinstance(advantages, Tensor) else advantages)
    A = Tensor(np.broadcast_to(adv.reshape(-1, 1), logp.shape).astype(logp.dtype))
    ratio = (logp - Tensor(old.astype(logp.dtype))).exp()  # (B, T)
    unclipped = ratio * A
    clipped = ratio.clamp(1.0 - clip, 1.0 + clip) * A
    pessimistic = where(unclipped.data <= clipped.data, unclipped, clipped)  # the min
    return -pessimistic.mean()


@dataclass
class PolicyConfig:
    """Settings of one policy-optimisation step (RLHF step 3)."""

    new_tokens: int = 24  # completion length
    kl_coef: float = 0.1  # beta: the price of one nat of KL, in reward units
    method: str = "reinforce"  # "reinforce" (one step per batch) or "ppo" (several, clipped)
    ppo_epochs: int = 4
    clip: float = 0.2
    whiten: bool = True  # divide advantages by their std: steps of similar size throughout
    grad_clip: float = 1.0


def policy_step(
    policy: GPT,
    reference: GPT,
    reward_fn: Callable[[np.ndarray], np.ndarray],
    prompts: np.ndarray,
    optimizer: Any,
    cfg: PolicyConfig,
) -> dict[str, Any]:
    """Sample a completion per prompt, score it, and make good completions more likely.

      1. ids = prompt + completion sampled from the policy (temperature 1: the
         gradient below is that of the sampling distribution itself)
      2. reward r = reward_fn(ids) (B,), e.g. the reward model's score
      3. kl = sum over the completion of k1 = log pi - log ref (per sequence)
      4. penalised reward R = r - kl_coef * kl; advantage A = R - mean(R) (the baseline:
         without it every sampled completion would be pushed up, good or not)
      5. REINFORCE (or PPO-clip) on A; clip the gradient norm; optimizer step.
    Returns the batch's mean reward, KL estimates (k1, k3, per sequence), the loss, and
    the sampled ids.
    """
    if cfg.method not in ("reinforce", "ppo"):
        raise ValueError(f"method must be 'reinforce' or 'ppo', got {cfg.method!r}")
    prompts = np.asarray(prompts)
    P = prompts.shape[1]
    ids = policy.generate(prompts, cfg.new_tokens, temperature=1.0)  # (B, P + T_c)
    reward = np.asarray(reward_fn(ids), dtype=np.float64).reshape(-1)  # (B,)
    with no_grad():
        ref_lp = completion_logprobs(reference, ids, P).data  # (B, T_c)
    logp = completion_logprobs(policy, ids, P)  # (B, T_c), with a graph
    old_lp = logp.data  # the sampler's own log-probs, kept fixed (PPO's pi_old)
    k1 = (old_lp - ref_lp).sum(-1)  # (B,): per-sequence KL estimate
    k3 = kl_k3(old_lp, ref_lp).data.sum(-1)
    R = reward - cfg.kl_coef * k1
    adv = R - R.mean()
    if cfg.whiten:
        adv = adv / (adv.std() + 1e-8)
    epochs = cfg.ppo_epochs if cfg.method == "ppo" else 1
    for epoch in range(epochs):
        if epoch > 0:  # PPO reuses the samples: recompute under the updated policy
            logp = completion_logprobs(policy, ids, P)
        if cfg.method == "ppo":
            loss = ppo_clip_loss(logp, old_lp, adv, cfg.clip)
        else:
            loss = reinforce_loss(logp.sum(-1), adv)
        optimizer.zero_grad()
        loss.backward()
        if cfg.grad_clip > 0:
            nn.utils.clip_grad_norm_(policy.parameters(), cfg.grad_clip)
        optimizer.step()
    return {
        "reward": float(reward.mean()),
        "kl_k1": float(k1.mean()),
        "kl_k3": float(k3.mean()),
        "loss": float(loss.item()),
        "ids": ids,
    }


def reward_model_step(
    reward_model: RewardModel, chosen: np.ndarray, rejected: np.ndarray, optimizer: Any
) -> dict[str, float]:
    """One Bradley-Terry step on a batch of pairs (B, T) each; returns loss and accuracy."""
    r = reward_model(np.concatenate([chosen, rejected]))  # one forward for both halves
    B = len(chosen)
    r_chosen, r_rejected = r[:B], r[B:]
    loss = bradley_terry_loss(r_chosen, r_rejected)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return {"loss": loss.item(), "accuracy": float(np.mean(r_chosen.data > r_rejected.data))}


def dpo_step(
    policy: GPT,
    reference: GPT,
    chosen: np.ndarray,
    rejected: np.ndarray,
    prompt_len: int,
    optimizer: Any,
    beta: float = 0.1,
) -> dict[str, float]:
    """One DPO step on a batch of preference pairs (B, P + T_c) each, same prompts."""
    both = np.concatenate([chosen, rejected])
    B = len(chosen)
    with no_grad():
        ref = sequence_logprob(reference, both, prompt_len).data
    pi = sequence_logprob(policy, both, prompt_len)  # (2B,)
    loss = dpo_loss(pi[:B], pi[B:], ref[:B], ref[B:], beta)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    margin = (pi.data[:B] - ref[:B]) - (pi.data[B:] - ref[B:])
    return {"loss": loss.item(), "accuracy": float(np.mean(margin > 0))}


def frozen_copy(model: nn.Module) -> nn.Module:
    """A deep copy with every parameter frozen (requires_grad False): the reference."""
    ref = copy.deepcopy(model)
    ref.requires_grad_(False)
    ref.eval()
    return ref
