# %% [markdown]
# # Lesson 9: reinforcement learning from human feedback (RLHF), in miniature
#
# A GPT learns from next-token prediction to continue text the way its training text
# goes (lesson 5). That makes it a good imitator, not a good assistant: nothing in
# "predict the next character of Shakespeare" says which continuations people *like*.
# Chat models get that second ingredient from **reinforcement learning from human
# feedback**:
#
# 1. a **pretrained** model;
# 2. **preferences**: people compare two completions of the same prompt and pick one;
# 3. a **reward model** learns to score text so that the preferred completion scores
#    higher (the Bradley-Terry model);
# 4. **policy optimisation**: the GPT (now called the *policy*) writes completions, the
#    reward model scores them, and the policy is nudged towards high scores, with a
#    **KL penalty** that keeps it close to the pretrained model (the *reference*);
#    **DPO** does 3 and 4 in one step, directly on the preference pairs;
# 5. check: the reward goes up, the KL stays bounded, and the samples changed the way
#    the raters wanted.
#
# Everything here is tiny: a character-level GPT trained for a minute on tiny
# Shakespeare, and a rater that is a Python function standing in for people. The pieces
# (reward model, sequence log-probability, KL estimates, the losses, a policy step) live
# in `tinygrad_edu/rlhf.py`; read it alongside this lesson.
#
# Run: `python tutorials/09_rlhf.py [--quick] [--seed N]`.

# %%
from __future__ import annotations

import contextlib
import re
import time

import numpy as np

with contextlib.suppress(ImportError):  # a source checkout: teach from *its* package
    import _common  # noqa: F401  (tutorials/_common.py; a notebook on its own has none)

import tinygrad_edu as tg
from tinygrad_edu import rlhf
from tinygrad_edu.data.shakespeare import load_shakespeare
from tinygrad_edu.lessons.common import Lesson  # --quick, output folder, figures
from tinygrad_edu.models.gpt import GPT
from tinygrad_edu.models.train_gpt import TrainConfig, train
from tinygrad_edu.tokenizer import load_tokenizer

lesson = Lesson(
    "09_rlhf",
    "Lesson 9: RLHF in miniature",
    quick_help="a smaller, shorter run (for CI)",
    add_arguments=lambda parser: (
        parser.add_argument("--threads", type=int, default=1, help="kernel threads (default 1)"),
    ),
)
args = lesson.args
QUICK = lesson.quick
# These models are tiny (64-128 wide): splitting their small matrix products across
# threads costs more than it saves, and on a busy machine threads that wait for each
# other are slower still. One thread, unless you ask for more.
tg.set_num_threads(args.threads)
plt = lesson.plt
lesson_start = time.perf_counter()
SEED = lesson.seed  # --seed N: another pretrained model, other prompts, other samples


def seed(k: int) -> None:
    """Seed the sampler for step k of the lesson (a different stream for every --seed)."""
    tg.manual_seed(k + 100 * SEED)


PROMPT_LEN, NEW_TOKENS = 16, 32  # characters of prompt, characters the model writes
if QUICK:
    MODEL = dict(n_layer=2, n_head=4, n_embd=64, batch_size=16, max_iters=250, learning_rate=3e-3)
    N_PAIRS, RM_EPOCHS, RL_STEPS, DPO_EPOCHS = 768, 4, 100, 2
else:
    MODEL = dict(n_layer=3, n_head=4, n_embd=96, batch_size=16, max_iters=1200, learning_rate=2e-3)
    N_PAIRS, RM_EPOCHS, RL_STEPS, DPO_EPOCHS = 1024, 4, 200, 2
BATCH = 32  # prompts per policy step, and pairs per reward-model / DPO step

# %% [markdown]
# ## The beliefs you bring from the lecture
#
# The lecture says a chat model is *trained, then tuned with reinforcement learning from
# human feedback*. Learners leave with beliefs about that second stage; this lesson checks
# each by an experiment, and prints the outcome the run gave (confirmed, partly or
# corrected) with its numbers:
#
# 1. **Two stages**: a model first learns to continue text, then RLHF changes what it
#    writes towards what people prefer (section 6).
# 2. **The model is told what people want**: it is not. Everything after the rater sees
#    only which of two texts won; we check that the preference still gets learned
#    (section 3).
# 3. **A higher reward is a better model**: the reward is a stand-in, and a policy pushed
#    without a leash games it (section 6).
# 4. **RLHF needs a reward model**: DPO learns from the pairs directly (section 5).

# %% [markdown]
# ## 1. A pretrained model
#
# `train_gpt.train` is the same next-token training loop as the `train-gpt` command: a
# small character-level GPT on the tiny Shakespeare corpus that ships with the package.
# It is short, so the model only half-learns English: it knows about words, spaces,
# line breaks and speakers' names, but spells like a toddler. That is enough to see
# RLHF at work. (A second run finds the checkpoint in the output folder and skips the
# training; delete the folder to train again.)

# %%
ckpt = lesson.out / (
    ("09_pretrained_quick" if QUICK else "09_pretrained") + (f"_seed{SEED}" if SEED else "")
)
t0 = time.perf_counter()
metrics = train(
    TrainConfig(
        out=str(ckpt),
        block_size=PROMPT_LEN + NEW_TOKENS,  # 48: the longest text we will ever feed it
        warmup_iters=50,
        eval_interval=MODEL["max_iters"],
        eval_iters=5,
        progress=False,
        seed=1337 + SEED,  # TrainConfig's default seed for --seed 0
        **MODEL,
    ),
    log=lambda msg: print("  " + msg),
)
reference = rlhf.frozen_copy(GPT.from_pretrained(str(ckpt)))  # the frozen pretrained model
tok = load_tokenizer(str(ckpt / "tokenizer.json"))
print(
    f"pretrained: {reference.num_parameters() / 1e6:.2f} M parameters, validation loss "
    f"{metrics[-1]['val_loss']:.3f} after {metrics[-1]['iter']} iterations "
    f"({time.perf_counter() - t0:.1f} s)"
)

text_ids = np.asarray(tok.encode(load_shakespeare()), dtype=np.int64)
data_rng = np.random.default_rng(SEED)


def random_prompts(n: int) -> np.ndarray:
    """n windows of PROMPT_LEN characters from the corpus: (n, PROMPT_LEN) token ids."""
    starts = data_rng.integers(0, len(text_ids) - PROMPT_LEN, n)
    return text_ids[starts[:, None] + np.arange(PROMPT_LEN)]


def completion_text(ids: np.ndarray) -> str:
    return tok.decode(ids[PROMPT_LEN:].tolist())


def show(ids: np.ndarray, n: int = 4, indent: str = "  ") -> None:
    """Print prompt | completion for the first n rows."""
    for row in ids[:n]:
        prompt, completion = tok.decode(row[:PROMPT_LEN].tolist()), completion_text(row)
        print(f"{indent}{prompt!r:22} -> {completion!r}")


eval_prompts = random_prompts(64)  # the same prompts before and after, for a fair comparison
seed(1)
before = reference.generate(eval_prompts, NEW_TOKENS)
print("samples from the pretrained model (prompt -> completion):")
show(before)

# %% [markdown]
# ## 2. Preferences, from a rater that stands in for people
#
# In real RLHF, people read two completions of the same prompt and say which is better.
# We have no people, so **our rater is a Python function**: it counts the punctuation
# marks (`. , ; : ! ?`) in a completion and prefers the completion with more of them,
# as if our readers liked short, clearly punctuated phrases. Ties carry no preference
# and are dropped. It is deliberately simple: we can check every later step against
# it, and a tiny model can learn it.
#
# Everything downstream sees only the *pairs* (which of two texts won), never the
# rater's numbers, exactly as with human labels.

# %%
PUNCTUATION = set(".,;:!?")


def rater(completion: str) -> int:
    """Our stand-in for a human: how many punctuation marks. More is preferred."""
    return sum(ch in PUNCTUATION for ch in completion)


def rater_scores(ids: np.ndarray) -> np.ndarray:
    return np.array([rater(completion_text(row)) for row in ids], dtype=np.float64)


t0 = time.perf_counter()
pair_prompts = random_prompts(N_PAIRS)
seed(2)
first = reference.generate(pair_prompts, NEW_TOKENS)  # two samples of the same prompt
second = reference.generate(pair_prompts, NEW_TOKENS)
s1, s2 = rater_scores(first), rater_scores(second)
decided = s1 != s2
first_wins = (s1 > s2)[:, None]
chosen = np.where(first_wins, first, second)[decided]  # (n_pairs, PROMPT_LEN + NEW_TOKENS)
rejected = np.where(first_wins, second, first)[decided]
n_val = len(chosen) // 5  # hold out a fifth of the pairs to test the reward model
print(
    f"{N_PAIRS} prompts, two completions each: {len(chosen)} pairs with a preference, "
    f"{N_PAIRS - len(chosen)} ties dropped ({time.perf_counter() - t0:.1f} s)"
)
print(
    f"the pretrained model writes {rater_scores(before).mean():.2f} punctuation marks per completion"
)
print("three pairs (chosen | rejected):")
for i in range(3):
    print(f"  {completion_text(chosen[i])!r:40} | {completion_text(rejected[i])!r}")

# %% [markdown]
# ## 3. A reward model, trained with the Bradley-Terry loss
#
# The reward model is the pretrained GPT's trunk (embeddings, blocks, final layer norm)
# with the unembedding replaced by a `Linear(n_embd, 1)`: it reads the hidden vector at
# the **last token** (the only position that has seen the whole text, with causal
# attention) and outputs one number r(text). It starts from the pretrained weights, so
# it already "reads"; it only has to learn what the raters like.
#
# The **Bradley-Terry** model says the probability that the chosen text beats the
# rejected one is sigmoid(r_chosen - r_rejected). Training maximises that probability
# for the observed pairs: the loss is
#
#     -log sigmoid(r_chosen - r_rejected)
#
# Only differences of rewards matter, so the reward's zero point is arbitrary. The head
# starts at zero, so every text first scores 0 and the first loss is log 2 = 0.693.

# %%
t0 = time.perf_counter()
reward_model = rlhf.RewardModel.from_gpt(reference)
rm_opt = tg.optim.AdamW(reward_model.parameters(), lr=1e-3, weight_decay=0.0)


def pair_accuracy(model: rlhf.RewardModel, c: np.ndarray, r: np.ndarray) -> float:
    with tg.no_grad():
        return float(np.mean(model(c).data > model(r).data))


print("epoch   BT loss   train accuracy   held-out accuracy")
train_idx = np.arange(n_val, len(chosen))
for epoch in range(RM_EPOCHS):
    order = data_rng.permutation(train_idx)
    losses, accs = [], []
    for k in range(0, len(order), BATCH):
        b = order[k : k + BATCH]
        stats = rlhf.reward_model_step(reward_model, chosen[b], rejected[b], rm_opt)
        losses.append(stats["loss"])
        accs.append(stats["accuracy"])
        if epoch == 0 and k == 0:
            print(f"  (first batch: loss {stats['loss']:.3f}, log 2 = {np.log(2):.3f})")
    held_out = pair_accuracy(reward_model, chosen[:n_val], rejected[:n_val])
    print(
        f"{epoch + 1:4d}     {np.mean(losses):.3f}        {np.mean(accs):.3f}            {held_out:.3f}"
    )
print(f"reward model trained in {time.perf_counter() - t0:.1f} s")

# %% [markdown]
# Does the reward model agree with the rater on text it has never seen? Two checks: the
# held-out pairs (a fifth, never trained on), where a model that guesses is right half the
# time, give or take 0.5 / sqrt(pairs); and the pretrained model's samples from section 1,
# grouped by the rater's count, where the mean reward should rise with the number of
# punctuation marks if the rater's taste was learned.


# %%
def reward_of(ids: np.ndarray) -> np.ndarray:
    with tg.no_grad():
        return reward_model(ids).data.astype(np.float64)


r_before, p_before = reward_of(before), rater_scores(before)
print("punctuation marks   completions   mean reward-model score")
for n in range(int(p_before.max()) + 1):
    sel = p_before == n
    if sel.any():
        print(f"       {n:2d}               {sel.sum():3d}            {r_before[sel].mean():+.2f}")
corr = float(np.corrcoef(r_before, p_before)[0, 1])
print(f"correlation between the two: {corr:.2f}")
chance_band = 3 * 0.5 / np.sqrt(n_val)  # three standard deviations of a coin's accuracy
print(
    f"held-out pairs ranked right: {held_out:.3f} of {n_val} "
    f"(a coin: 0.5 +- {chance_band / 3:.3f}, so above {0.5 + chance_band:.3f} is not luck)"
)
learned = held_out > 0.5 + chance_band and corr > 0.3
lesson.verdict(
    "reward_model_learned_the_rater",
    learned,
    f"the reward model ranks {held_out:.0%} of unseen pairs like the rater, and its score rises "
    f"with the punctuation count (correlation {corr:.2f}): it learned the rater's taste from "
    "pairs alone",
    f"the reward model has not clearly learned the rater's taste in this run (held-out "
    f"{held_out:.3f}, correlation {corr:.2f})",
)
lesson.belief(
    "rlhf_model_is_told_the_rule",
    "RLHF tells the model what people want",
    "corrected" if learned else "partly",
    f"the rule (count . , ; : ! ?) was never shown, only {len(chosen) - n_val} pairs won or "
    f"lost; the reward model still ranks {held_out:.0%} of {n_val} unseen pairs like the rater "
    f"(chance 50%), correlation {corr:.2f}",
    notes=(11,),
)
if plt is not None:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(p_before))
    ax.scatter(p_before + jitter, r_before, s=10, alpha=0.5)
    ax.set(
        xlabel="punctuation marks in the completion (what the rater counts)",
        ylabel="reward-model score",
        title=f"Reward-model score vs the rater's count (correlation {corr:.2f})",
    )
    lesson.save(fig, "reward_vs_punctuation")

# %% [markdown]
# ## 4. Policy optimisation with a KL penalty
#
# Now the policy (a trainable copy of the pretrained GPT) learns from the reward model.
# One step of `rlhf.policy_step`:
#
# 1. sample a completion y for each of 32 prompts x, at temperature 1;
# 2. score it: r = reward_model(x + y);
# 3. measure how far the policy has moved from the reference, on this very sample:
#    the **sequence log-probability** log pi(y | x) is the sum over y's tokens of
#    log softmax(logits)[token] (`rlhf.sequence_logprob`), and the per-token log-ratio
#    log pi - log pi_ref, summed over y, is the **k1** estimate of KL(pi || pi_ref);
# 4. penalised reward R = r - beta * KL, and the **advantage** A = R - mean(R) (the
#    batch mean is the *baseline*: a completion is pushed up only if it beat the others);
# 5. **REINFORCE**: the loss -mean(A * log pi(y | x)) has as its gradient the policy
#    gradient; step.
#
# Why the KL penalty? The reward model is only right about text like what it was
# trained on. Without a leash the policy may find text the reward model scores highly
# for the wrong reasons (*reward hacking*) and forget how to write: section 6 measures
# whether it did. Maximising
# E[r] - beta * KL(pi || pi_ref) is the standard compromise. The table also shows the
# **k3** estimate, (rho - 1) - log rho with rho = pi_ref / pi per token: it estimates
# the same KL (in nats per completion) but is never negative and less noisy.

# %%
policy = GPT.from_pretrained(str(ckpt))
pol_opt = tg.optim.Adam(policy.parameters(), lr=1e-4)
cfg = rlhf.PolicyConfig(new_tokens=NEW_TOKENS, kl_coef=0.1)
t0 = time.perf_counter()
history = []
print(f"REINFORCE with a baseline, beta = {cfg.kl_coef}:")
print("step   reward model   rater (marks)   KL k3   KL k1")
seed(3)
for step in range(RL_STEPS + 1):
    stats = rlhf.policy_step(policy, reference, reward_of, random_prompts(BATCH), pol_opt, cfg)
    stats["rater"] = rater_scores(stats["ids"]).mean()
    history.append(stats)
    if step % 20 == 0:
        print(
            f"{step:4d}      {stats['reward']:+.3f}          {stats['rater']:.2f}        "
            f"{stats['kl_k3']:5.2f}   {stats['kl_k1']:5.2f}"
        )
print(f"{RL_STEPS} policy steps in {time.perf_counter() - t0:.1f} s")


def mean_of(h: list, key: str, steps: slice) -> float:
    return float(np.mean([s[key] for s in h[steps]]))


# %% [markdown]
# Did the reward climb? Each step's reward is a mean over 32 samples, so compare the first
# five steps with the last five, in units of the spread of the reward model's scores on
# the pretrained model's samples (section 3).

# %%
first5, last5 = slice(0, 5), slice(-5, None)
rise = mean_of(history, "reward", last5) - mean_of(history, "reward", first5)
rater_rise = mean_of(history, "rater", last5) - mean_of(history, "rater", first5)
spread = float(r_before.std())
print(
    f"reward-model score, first 5 steps -> last 5: {mean_of(history, 'reward', first5):+.2f} -> "
    f"{mean_of(history, 'reward', last5):+.2f} ({rise / spread:+.1f} spreads of {spread:.2f}); "
    f"the rater's count {mean_of(history, 'rater', first5):.2f} -> "
    f"{mean_of(history, 'rater', last5):.2f}"
)
lesson.verdict(
    "reward_rises",
    rise > 0.5 * spread and rater_rise > 0,
    f"the reward climbed by {rise / spread:.1f} spreads, and the rater's own count rose with it",
    "the reward did not clearly climb in this run (see the numbers)",
)

# %% [markdown]
# The penalty charges beta = 0.1 reward for every nat of KL, so moving away from the
# pretrained model must pay for itself. Does it hold the policy back? Run the same steps
# without the leash (beta = 0) and compare.

# %%
loose = GPT.from_pretrained(str(ckpt))
loose_opt = tg.optim.Adam(loose.parameters(), lr=1e-4)
loose_cfg = rlhf.PolicyConfig(new_tokens=NEW_TOKENS, kl_coef=0.0)
loose_history = []
seed(3)
for _ in range(RL_STEPS + 1):
    stats = rlhf.policy_step(
        loose, reference, reward_of, random_prompts(BATCH), loose_opt, loose_cfg
    )
    stats["rater"] = rater_scores(stats["ids"]).mean()
    loose_history.append(stats)
print("beta = 0 (no KL penalty), every 20 steps:")
print("step   reward model   rater (marks)   KL k3")
for step in range(0, RL_STEPS + 1, 20):
    s = loose_history[step]
    print(f"{step:4d}      {s['reward']:+.3f}          {s['rater']:.2f}        {s['kl_k3']:5.2f}")
kl_leash, kl_loose = mean_of(history, "kl_k3", last5), mean_of(loose_history, "kl_k3", last5)
half = slice(RL_STEPS // 2, RL_STEPS // 2 + 5)  # five steps from the middle of the run
grow_leash = kl_leash - mean_of(history, "kl_k3", half)
grow_loose = kl_loose - mean_of(loose_history, "kl_k3", half)
print(
    f"KL (k3) over the last 5 steps: beta = {cfg.kl_coef}: {kl_leash:.2f} nats, beta = 0: "
    f"{kl_loose:.2f}; growth over the second half: {grow_leash:+.2f} vs {grow_loose:+.2f}"
)
lesson.verdict(
    "kl_bounded_with_penalty",
    kl_leash < 0.5 * kl_loose and grow_leash < 1.0 < grow_loose,
    f"with the penalty the KL levelled off (it changed by {grow_leash:+.2f} nats over the second "
    f"half, ending at {kl_leash:.2f}); without it the policy kept drifting ({grow_loose:+.2f}, "
    f"ending at {kl_loose:.2f})",
    "in this run the penalty did not clearly hold the KL down (see the numbers)",
)

# %% [markdown]
# ## 5. DPO: straight from the preference pairs
#
# Direct preference optimisation skips the reward model and the sampling. Its insight:
# for the KL-regularised objective above, the best policy satisfies
# r(y) = beta * log(pi(y) / pi_ref(y)) + (something that depends on the prompt only).
# Put that reward into the Bradley-Terry loss, and the prompt terms cancel:
#
#     -log sigmoid(beta * [(log pi(y_w) - log pi_ref(y_w)) - (log pi(y_l) - log pi_ref(y_l))])
#
# with y_w the chosen and y_l the rejected completion. It is an ordinary supervised loss
# on the pairs: raise the chosen completion's log-probability relative to the reference
# more than the rejected one's.

# %%
dpo_policy = GPT.from_pretrained(str(ckpt))
dpo_opt = tg.optim.Adam(dpo_policy.parameters(), lr=1e-4)
DPO_BETA = 0.5
t0 = time.perf_counter()
print(f"DPO, beta = {DPO_BETA}:")
print("epoch   DPO loss   pairs ranked right (train)")
for epoch in range(DPO_EPOCHS):
    order = data_rng.permutation(train_idx)
    losses, accs = [], []
    for k in range(0, len(order), BATCH):
        b = order[k : k + BATCH]
        stats = rlhf.dpo_step(
            dpo_policy, reference, chosen[b], rejected[b], PROMPT_LEN, dpo_opt, DPO_BETA
        )
        losses.append(stats["loss"])
        accs.append(stats["accuracy"])
    print(f"{epoch + 1:4d}      {np.mean(losses):.3f}       {np.mean(accs):.3f}")
print(f"DPO trained in {time.perf_counter() - t0:.1f} s")

# %% [markdown]
# The training accuracy above is on pairs DPO stepped on. The held-out fifth says whether
# it learned the preference: DPO's implicit reward is beta * (log pi - log pi_ref), and a
# pair is ranked right when the chosen completion's implicit reward is the larger.


# %%
def implicit_reward(model: GPT, ids: np.ndarray) -> np.ndarray:
    """log pi(y | x) - log pi_ref(y | x) per sequence (DPO's reward, up to beta)."""
    with tg.no_grad():
        lp = rlhf.sequence_logprob(model, ids, PROMPT_LEN).data
        lp_ref = rlhf.sequence_logprob(reference, ids, PROMPT_LEN).data
    return (lp - lp_ref).astype(np.float64)


dpo_held_out = float(
    np.mean(
        implicit_reward(dpo_policy, chosen[:n_val]) > implicit_reward(dpo_policy, rejected[:n_val])
    )
)
print(
    f"DPO ranks {dpo_held_out:.3f} of the {n_val} held-out pairs right (the reward model: "
    f"{held_out:.3f}; a coin: 0.5 +- {chance_band / 3:.3f})"
)
lesson.verdict(
    "dpo_ranks_held_out_pairs",
    dpo_held_out > 0.5 + chance_band,
    f"DPO learned the preference without a reward model: {dpo_held_out:.0%} of unseen pairs",
    f"DPO's held-out accuracy ({dpo_held_out:.3f}) is within luck of a coin in this run",
)

# %% [markdown]
# ## 6. Before and after
#
# The same 64 evaluation prompts for every model, with fresh samples. "KL" is the k3
# estimate of KL(model || pretrained), in nats per 32-character completion. Two more
# columns measure what the rater does *not* count, whether the text is still the kind of
# text the model learned to write: "fluency", the pretrained model's mean log-probability
# per character of the completion (closer to 0 = more like its Shakespeare), and "words",
# the share of the completion's words that occur somewhere in the corpus.

# %%
corpus_words = set(re.findall(r"[a-z']+", load_shakespeare().lower()))


def real_word_share(ids: np.ndarray) -> float:
    words = [w for row in ids for w in re.findall(r"[a-z']+", completion_text(row).lower())]
    return float(np.mean([w in corpus_words for w in words])) if words else 0.0


def evaluate(model: GPT, k: int = 4) -> tuple[np.ndarray, dict[str, float]]:
    seed(k)
    ids = model.generate(eval_prompts, NEW_TOKENS)
    with tg.no_grad():
        lp = rlhf.completion_logprobs(model, ids, PROMPT_LEN).data
        lp_ref = rlhf.completion_logprobs(reference, ids, PROMPT_LEN).data
    kl = rlhf.kl_k3(lp, lp_ref).data.sum(-1).mean()
    return ids, {
        "rater": rater_scores(ids).mean(),
        "reward": reward_of(ids).mean(),
        "kl": kl,
        "fluency": float(lp_ref.mean()),
        "words": real_word_share(ids),
    }


results = {
    "pretrained": evaluate(reference),
    "RLHF, beta = 0.1": evaluate(policy),
    "RLHF, beta = 0": evaluate(loose),
    f"DPO, beta = {DPO_BETA}": evaluate(dpo_policy),
}
print("model               rater (marks)   reward model   KL to pretrained   fluency   words")
for name, (_, m) in results.items():
    print(
        f"{name:20}     {m['rater']:5.2f}          {m['reward']:+.2f}          {m['kl']:6.2f}"
        f"          {m['fluency']:+.2f}     {m['words']:.2f}"
    )
for name, (ids, _) in results.items():
    print(f"\n{name}:")
    show(ids)

# %% [markdown]
# What the table says, as this run measured it. The rater counts punctuation and nothing
# else, so it is as easy to game as the reward model: every rater, reward model or human
# label is an imperfect stand-in for what we want, and pushed hard enough a model exploits
# what the stand-in misses (Goodhart's law). Compare the unleashed policy with the leashed
# one on what the stand-ins do not measure, fluency and real words.

# %%
pre, leash = results["pretrained"][1], results["RLHF, beta = 0.1"][1]
loose_m, dpo_m = results["RLHF, beta = 0"][1], results[f"DPO, beta = {DPO_BETA}"][1]
tuned = leash["rater"] > pre["rater"] + 0.5 and dpo_m["rater"] > pre["rater"] + 0.5
lesson.verdict(
    "preference_learned",
    tuned,
    f"the rater's count rose from {pre['rater']:.2f} to {leash['rater']:.2f} (RLHF) and "
    f"{dpo_m['rater']:.2f} (DPO), though neither model ever saw the rater's rule",
    "the tuned models do not clearly beat the pretrained one on the rater's count in this run",
)
lesson.belief(
    "rlhf_second_stage",
    "a chat model is trained in two stages: first to continue text, then RLHF moves it to "
    "what people prefer",
    "confirmed" if tuned and leash["kl"] > 0.5 else "partly",
    f"pretraining to validation loss {metrics[-1]['val_loss']:.2f}, then {RL_STEPS} RLHF steps: "
    f"rater's count {pre['rater']:.2f} -> {leash['rater']:.2f}, "
    f"{leash['kl']:.2f} nats from the pretrained model",
    notes=(11,),
)
hacked = (
    loose_m["reward"] > pre["reward"] + 0.5 * spread
    and loose_m["reward"] > leash["reward"] - 0.25 * spread  # about as high, or higher
    and loose_m["kl"] > 2 * leash["kl"]
    and loose_m["fluency"] < leash["fluency"] - 0.1
)
print(
    f"beta = 0: reward {loose_m['reward']:+.2f} (beta = 0.1: {leash['reward']:+.2f}), KL "
    f"{loose_m['kl']:.2f} vs {leash['kl']:.2f}, fluency {loose_m['fluency']:+.2f} vs "
    f"{leash['fluency']:+.2f}, real words {loose_m['words']:.2f} vs {leash['words']:.2f} "
    f"(pretrained: {pre['words']:.2f})"
)
lesson.verdict(
    "reward_hacked_without_kl",
    hacked,
    "without the leash the policy scored a reward as high as the leashed one's by drifting "
    "furthest from the pretrained model, into text that model finds less likely per character: "
    "reward hacking",
    "in this run the unleashed policy did not pay for its reward in fluency (see the numbers)",
)
lesson.belief(
    "higher_reward_is_better",
    "a higher reward means a better model",
    "corrected" if hacked else "partly",
    f"beta = 0: reward {loose_m['reward']:+.2f}, fluency {loose_m['fluency']:+.2f} nats/char; "
    f"beta = 0.1: reward {leash['reward']:+.2f}, fluency {leash['fluency']:+.2f}; the reward "
    "is a stand-in, and a policy with no KL leash games it",
    notes=(11,),
)
lesson.belief(
    "rlhf_needs_reward_model",
    "preference tuning needs a separate reward model",
    "corrected"
    if dpo_held_out > 0.5 + chance_band and dpo_m["rater"] > pre["rater"]
    else "confirmed",
    f"DPO, on the pairs alone: {dpo_held_out:.0%} of unseen pairs ranked right, rater's count "
    f"{pre['rater']:.2f} -> {dpo_m['rater']:.2f}, KL {dpo_m['kl']:.2f} nats",
    notes=(11,),
)

# %%
if plt is not None:
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    steps = np.arange(len(history))
    for h, label in ((history, f"beta = {cfg.kl_coef}"), (loose_history, "beta = 0")):
        axes[0].plot(steps, [s["reward"] for s in h], label=label)
        axes[1].plot(steps, [s["rater"] for s in h], label=label)
        axes[2].plot(steps, [s["kl_k3"] for s in h], label=label)
    for ax, title in zip(
        axes, ["reward-model score", "rater: punctuation marks", "KL to pretrained (k3, nats)"]
    ):
        ax.set(title=title, xlabel="policy step", ylabel=title)
        ax.legend()
    lesson.save(fig, "09_rlhf")

print(f"\nlesson 9 ran in {time.perf_counter() - lesson_start:.1f} s")

# %% [markdown]
# ## What the run said about the beliefs

# %%
lesson.summary()

# %% [markdown]
# ## Exercises
#
# Write this step of the lesson yourself, and let the library check it against its own code:
#
#     tinygrad-edu exercises init ex        # one file per exercise, in the folder ex
#     tinygrad-edu exercises check ex dpo_loss
#
# - `dpo_loss`: the DPO loss on sequence log-probabilities
#
# Each file's docstring gives the idea, the math, the shapes and a hint; `check` says
# passed, not started, or the first input where your answer differs from the library's.
