# %% [markdown]
# # Lesson 7: queries, keys and values
#
# Lesson 6 showed attention patterns: how much each token takes from each earlier
# token. Here is where they come from. Every token's vector x is multiplied by three
# learned matrices:
#
#     query q = x W_q    what this token is looking for
#     key   k = x W_k    what this token offers, to be matched against queries
#     value v = x W_v    what this token passes on when it is matched
#
# Token i's match with token j is the dot product q_i . k_j (large when they point the
# same way). The matches are scaled by 1/sqrt(d), the future is masked with -infinity,
# each row goes through a softmax (the weights), and token i receives the weighted
# average of the values:
#
#     out = softmax(Q K^T / sqrt(d) + mask) V
#
# We do it by hand on 4 tokens, check it against the library, split it into several
# heads as the GPT does, look at the real queries and keys of lesson 5's trained GPT,
# and then measure why long contexts are expensive: the T x T matrix of scores. Then the
# fused kernel that never builds that matrix, and the KV cache that makes generating one
# token at a time cost a context's length, not its square.
#
# Run: `python tutorials/07_queries_keys_values.py [--quick] [--seed N]`. Read alongside:
# `scaled_dot_product_attention` in `tinygrad_edu/nn/functional.py`,
# `CausalSelfAttention` in `tinygrad_edu/nn/transformer.py` and `GPT.generate` in
# `tinygrad_edu/models/gpt.py`.

# %%
from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path

import numpy as np

with contextlib.suppress(ImportError):  # a source checkout: teach from *its* package
    import _common  # noqa: F401  (tutorials/_common.py; a notebook on its own has none)

import tinygrad_edu as tg
from tinygrad_edu.data.shakespeare import load_shakespeare
from tinygrad_edu.lessons.common import Lesson, lesson_gpt  # --quick, output folder, figures
from tinygrad_edu.lessons.timing import peak_memory, time_call
from tinygrad_edu.models.gpt import GPT, GPTConfig
from tinygrad_edu.models.gpt_inspect import inspect
from tinygrad_edu.models.train_gpt import TrainConfig, train
from tinygrad_edu.nn import CausalSelfAttention
from tinygrad_edu.nn import functional as F
from tinygrad_edu.tensor import Tensor
from tinygrad_edu.tokenizer import load_tokenizer

lesson = Lesson(
    "07_queries_keys_values",
    "Lesson 7: queries, keys and values",
    quick_help="shorter timings (CI)",
)
args = lesson.args
QUICK = lesson.quick
plt = lesson.plt
started = time.perf_counter()
np.set_printoptions(precision=3, suppress=True)

# The library's two attentions (tinygrad_edu/nn/functional.py): the textbook composition
# (scores, mask, softmax, weighted sum) and the fused kernel behind the same signature.
textbook_sdpa = F.scaled_dot_product_attention_reference
fused_sdpa = F.scaled_dot_product_attention


def show_matrix(name: str, m: np.ndarray, rows: str = "", cols: str = "") -> None:
    """Print a small matrix with labelled rows and columns."""
    print(f"{name}:")
    if cols:
        print("      " + "".join(f"{c:>8}" for c in cols))
    for i, row in enumerate(m):
        label = rows[i] if rows else ""
        print(f"  {label:>3} " + "".join(f"{v:8.3f}" for v in row))


# %% [markdown]
# ## The beliefs you bring from the lecture
#
# Lecture 7 leaves a learner with beliefs like these, in our words. Each is checked below
# by an experiment, and the run prints its outcome (confirmed, partly or corrected) with
# the numbers:
#
# 1. **A query is what a token is looking for, a key what it offers, a value what it
#    passes on** (section 2b, on the trained GPT's own queries and keys).
# 2. **Before the softmax, every irrelevant word gets a weight of minus infinity**
#    (section 2b: what the mask does, and what a trained head does with the words it
#    ignores).
# 3. **Long contexts are hard, because the cost grows with the square of the context**
#    (section 3; and section 5 for generation).
# 4. **Multi-head attention is how a GPT scales out** (section 2).
# 5. A common one: **to write each new token, the model must run attention over the whole
#    text again** (section 5, the KV cache).

# %% [markdown]
# ## 1. By hand: 4 tokens, head size 2
#
# Four tokens, each a vector of 3 features (the rows of x), and three small weight
# matrices, all with easy numbers. In a trained model these are learned; here they are
# made up so that you can check every number with pen and paper.

# %%
tokens = "ABCD"
x = np.array([[1, 0, 1], [0, 2, 0], [1, 1, 0], [0, 1, 1]], dtype=np.float64)  # (T=4, C=3)
W_q = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float64)  # (C=3, d=2)
W_k = np.array([[0, 1], [1, 0], [1, 1]], dtype=np.float64)
W_v = np.array([[1, 0], [0, 1], [0, 2]], dtype=np.float64)
Q, K, Vals = x @ W_q, x @ W_k, x @ W_v  # (4, 2) each: one query, key, value per token
show_matrix("x, the token vectors (T, C)", x, tokens)
show_matrix("Q = x W_q, one query per token (T, d)", Q, tokens)
show_matrix("K = x W_k, one key per token (T, d)", K, tokens)
show_matrix("V = x W_v, one value per token (T, d)", Vals, tokens)

# %% [markdown]
# **Scores.** Every query against every key: S = Q K^T, a T x T matrix; row i, column
# j says how well token i's query matches token j's key.

# %%
scores = Q @ K.T  # (4, 2) @ (2, 4) -> (4, 4)
i, j = 3, 1
print(
    f"one entry: score[{tokens[i]}, {tokens[j]}] = q_{tokens[i]} . k_{tokens[j]} = "
    f"{Q[i, 0]:g}*{K[j, 0]:g} + {Q[i, 1]:g}*{K[j, 1]:g} = {scores[i, j]:g}"
)
show_matrix("scores Q K^T (query row, key column)", scores, tokens, tokens)

# %% [markdown]
# **Scale.** The scores are divided by sqrt(d), d the head size (here sqrt(2)). Why:
# a dot product of d random numbers of size ~1 has size ~sqrt(d). Without the scaling,
# with GPT-2's d = 64, scores would be ~8 apart and the softmax would put almost all
# the weight on a single token from the start, and learn slowly (its gradient is ~0).

# %%
d = Q.shape[1]
scaled = scores / math.sqrt(d)
show_matrix(f"scaled scores, / sqrt({d})", scaled, tokens, tokens)
gen = np.random.default_rng(0)
q64, k64 = gen.standard_normal((2, 1000, 64))  # 1000 random query/key pairs, d = 64
raw = (q64 * k64).sum(-1)
print(f"random d = 64 vectors: q.k has std {raw.std():.1f}; / sqrt(64): {raw.std() / 8:.2f}")

# %% [markdown]
# **Mask.** Token i may not look at tokens after it: they are the future, the very thing
# it must predict. Their scores are set to -infinity. exp(-infinity) = 0, so after the
# softmax they get weight exactly 0, and the remaining weights still add up to 1 (which
# setting them to 0 *after* the softmax would not do).

# %%
future = np.triu(np.ones((4, 4), dtype=bool), k=1)  # above the diagonal: j > i
masked = np.where(future, -np.inf, scaled)
show_matrix("masked scores (-inf above the diagonal)", masked, tokens, tokens)

# %% [markdown]
# **Softmax** along each row: exp, then divide by the row's sum. Row i is now a
# probability distribution over the tokens 0..i: how much token i listens to each.

# %%
weights = np.exp(masked - masked.max(axis=1, keepdims=True))
weights /= weights.sum(axis=1, keepdims=True)
show_matrix("attention weights, softmax of each row", weights, tokens, tokens)
print(f"row sums: {weights.sum(axis=1)}")

# %% [markdown]
# **Weighted sum of values.** Token i's output is sum_j weight[i, j] * v_j: a blend of
# the values of the tokens it attends to. Token A can only see itself, so its output
# is its own value.

# %%
out = weights @ Vals  # (4, 4) @ (4, 2) -> (4, 2)
terms = " + ".join(f"{weights[3, j]:.3f}*{Vals[j]}" for j in range(4))
print(f"out_D = {terms}\n      = {out[3]}")
show_matrix("output, one new vector per token (T, d)", out, tokens)

# %% [markdown]
# The library does the same in one call, on tensors of shape (B, H, T, d): a batch of
# B texts, H heads. Here B = H = 1.

# %%
q_t, k_t, v_t = (Tensor(a[None, None]) for a in (Q, K, Vals))  # (1, 1, 4, 2), float64
with tg.no_grad():
    lib = textbook_sdpa(q_t, k_t, v_t, is_causal=True).data[0, 0]
print(f"by hand vs the library's textbook attention: max difference {np.abs(lib - out).max():.0e}")
with tg.no_grad():
    fused = fused_sdpa(q_t, k_t, v_t, is_causal=True).data[0, 0]
print(
    f"by hand vs the fused kernel:                 max difference {np.abs(fused - out).max():.0e}"
)

# %% [markdown]
# ### A head with a meaning: adjectives update nouns
#
# The numbers above were arbitrary. Now give the features a meaning, as the lecture does
# with "a fluffy blue creature". Each token vector has 4 features:
# [is a noun, is an adjective, fluffy, blue]. We set one head's matrices by hand:
#
# - W_q turns "is a noun" into the query "I am looking for adjectives";
# - W_k turns "is an adjective" into the key "I am an adjective" (the same direction);
# - W_v copies the adjective's meaning (fluffy, blue) into its value.
#
# The noun's query then matches the adjectives' keys, and the weighted sum of values
# carries "fluffy" and "blue" into the noun's vector: attention *updates* it.

# %%
words = ["a", "fluffy", "blue", "creature"]
x_w = np.array(
    [[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 0, 1], [1, 0, 0, 0]], dtype=np.float64
)  # (T=4, C=4): [noun, adjective, fluffy, blue]
Wq_w = np.array([[5.0], [0], [0], [0]])  # (C, d=1): nouns ask "adjective?", strongly
Wk_w = np.array([[0], [5.0], [0], [0]])  # (C, 1): adjectives answer "yes"
Wv_w = np.zeros((4, 4))
Wv_w[2, 2] = Wv_w[3, 3] = 1.0  # (C, C): pass on the meaning features only
s_w = (x_w @ Wq_w) @ (x_w @ Wk_w).T  # (4, 4) scores, d = 1
s_w = np.where(np.triu(np.ones((4, 4), dtype=bool), k=1), -np.inf, s_w)  # causal mask
w_w = np.exp(s_w - s_w.max(1, keepdims=True))
w_w /= w_w.sum(1, keepdims=True)
update = w_w @ (x_w @ Wv_w)  # (4, C): what attention adds to each token's vector
show_matrix("weights (query row, key column)", w_w, [w[:3] for w in words], [w[:6] for w in words])
new_creature = x_w[3] + update[3]
print(f"'creature' before: {x_w[3]}, after attention: {np.round(new_creature, 2)}")
on_adjectives = w_w[3, 1] + w_w[3, 2]
print(
    f"'creature' puts {100 * on_adjectives:.0f}% of its attention on the two adjectives and now "
    "carries 'fluffy' and 'blue'. (A demonstration: we set the matrices to do exactly this. "
    "Section 2b looks at what training made of a real head.)"
)

# %% [markdown]
# ## 2. Several heads
#
# One head can look for one kind of thing. A GPT runs several heads side by side: the C
# features of q, k and v are split into n_head groups of head_size = C / n_head; each
# group does the attention above on its own, and the outputs are put back side by side
# (concatenated) into C features, then mixed by one more matrix (c_proj). In the GPT
# the three matrices are one Linear layer c_attn of C -> 3C, for speed.
#
# First the plain way, one head at a time on column slices; then the GPT's way, a
# reshape that makes the heads a batch dimension so that one matmul does all heads;
# then the GPT's own `CausalSelfAttention` module with the same weights.

# %%
T, C, n_head = 5, 8, 2
hs = C // n_head
tg.manual_seed(0)
attn = CausalSelfAttention(n_embd=C, n_head=n_head)  # nn/transformer.py, as the GPT uses it
attn.eval()
xs = gen.standard_normal((T, C)).astype(np.float32)  # 5 token vectors of 8 features
W, b = attn.c_attn.weight.data, attn.c_attn.bias.data  # (3C, C), (3C,): PyTorch's Linear layout
qkv = xs @ W.T + b  # (T, 3C)
q_all, k_all, v_all = qkv[:, :C], qkv[:, C : 2 * C], qkv[:, 2 * C :]  # (T, C) each
print(f"x {xs.shape} -> c_attn -> q, k, v {q_all.shape} each; {n_head} heads of size {hs}")


def one_head(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Section 1's recipe: (T, hs) each -> (T, hs)."""
    s = q @ k.T / math.sqrt(q.shape[-1])
    s = np.where(np.triu(np.ones((len(q), len(k)), dtype=bool), k=1), -np.inf, s)
    w = np.exp(s - s.max(axis=1, keepdims=True))
    return (w / w.sum(axis=1, keepdims=True)) @ v


# the plain way: head h owns the features h*hs .. (h+1)*hs - 1
heads = [
    one_head(*(m[:, h * hs : (h + 1) * hs] for m in (q_all, k_all, v_all))) for h in range(n_head)
]
y_loop = np.concatenate(heads, axis=1)  # (T, C): the heads' outputs side by side
print(f"head by head: {n_head} outputs of {heads[0].shape}, concatenated -> {y_loop.shape}")

# the GPT's way: (T, C) -> (T, n_head, hs) -> (n_head, T, hs), all heads in one call
q_h, k_h, v_h = (m.reshape(T, n_head, hs).transpose(1, 0, 2) for m in (q_all, k_all, v_all))
with tg.no_grad():
    y_h = textbook_sdpa(Tensor(q_h), Tensor(k_h), Tensor(v_h), is_causal=True).data
y_batched = y_h.transpose(1, 0, 2).reshape(T, C)  # (n_head, T, hs) -> (T, n_head, hs) -> (T, C)
print(
    f"reshaped into heads {q_h.shape}, attention, back to {y_batched.shape}: "
    f"max difference from head by head {np.abs(y_batched - y_loop).max():.1e}"
)

with tg.no_grad():
    y_module = attn(Tensor(xs[None])).data[0]  # (T, C): c_attn, heads, c_proj
y_ours = y_loop @ attn.c_proj.weight.data.T + attn.c_proj.bias.data
print(
    f"then c_proj; vs the GPT's CausalSelfAttention module: max difference "
    f"{np.abs(y_ours - y_module).max():.1e}"
)

# %% [markdown]
# **What one head costs, and what its value map can do.** Each head has a query, a key
# and a value matrix of C x head_size, and its slice of c_proj (head_size x C) writes
# its output back: 4 C head_size weights per head, 4 C^2 for all heads together. The
# value map of one head, from a token's vector to what the head writes, is
# W_v (C x hs) followed by c_proj's slice (hs x C): a C x C matrix of rank at most hs.
# It is *low-rank*: a head can only move information through hs directions. (Both are
# arithmetic, true for any weights; the lines below demonstrate them, they find nothing.)

# %%
W_attn = attn.c_attn.weight.data  # (3C, C): rows 0..C queries, C..2C keys, 2C..3C values
W_out = attn.c_proj.weight.data  # (C, C)
per_head = 4 * C * hs
print(
    f"per head: 3 x C x hs (q, k, v) + hs x C (its c_proj slice) = {per_head} weights; "
    f"x {n_head} heads = {per_head * n_head} = 4 C^2 = {4 * C * C}"
)
ranks = []
for h in range(n_head):
    Wv_h = W_attn[2 * C + h * hs : 2 * C + (h + 1) * hs].T  # (C, hs): x -> this head's value
    Wo_h = W_out[:, h * hs : (h + 1) * hs].T  # (hs, C): this head's value -> output
    ranks.append(int(np.linalg.matrix_rank(Wv_h @ Wo_h)))  # the (C, C) value map
print(f"the value map of each head is {C} x {C} with rank {ranks} (head size {hs})")

# %% [markdown]
# **Do more heads make a bigger model?** Count the weights of one attention layer of
# width C = 64 with 1, 2, 4 and 8 heads, and, for comparison, of a whole GPT made wider or
# deeper.

# %%
head_counts = {}
for nh in (1, 2, 4, 8):
    layer_ = CausalSelfAttention(n_embd=64, n_head=nh)
    head_counts[nh] = sum(p_.data.size for p_ in layer_.parameters())
print(
    "one attention layer, C = 64: "
    + ", ".join(f"{nh} heads {n:,}" for nh, n in head_counts.items())
)
sizes = {}
for name, kw in {
    "2 blocks x 64 wide, 4 heads": dict(n_layer=2, n_embd=64, n_head=4),
    "2 blocks x 64 wide, 8 heads": dict(n_layer=2, n_embd=64, n_head=8),
    "2 blocks x 128 wide (2x width)": dict(n_layer=2, n_embd=128, n_head=4),
    "4 blocks x 64 wide (2x depth)": dict(n_layer=4, n_embd=64, n_head=4),
}.items():
    cfg_ = GPTConfig(block_size=32, vocab_size=65, dropout=0.0, **kw)
    sizes[name] = GPT(cfg_).num_parameters()
    print(f"  a GPT of {name:32} {sizes[name]:9,} parameters")

# %% [markdown]
# Heads cost nothing extra; what do they buy? Train two one-block GPTs on Shakespeare,
# the same width (64), data, steps and seed, one with a single head of size 64 and one
# with 4 heads of size 16, and measure both on the same held-out text. Four heads can
# follow four attention patterns at once in one layer; one head must pick one.

# %%
corpus = load_shakespeare()
heads_iters = 200 if QUICK else 600


def one_block_gpt(n_heads: int) -> GPT:
    cfg_h = TrainConfig(
        out=str(lesson.out / f"07_one_block_{n_heads}heads_{heads_iters}it_seed{lesson.seed}"),
        n_layer=1, n_head=n_heads, n_embd=64, block_size=32, batch_size=16,
        max_iters=heads_iters, learning_rate=5e-3, warmup_iters=20, seed=1337 + lesson.seed,
        eval_interval=heads_iters, eval_iters=5, progress=False,
    )  # fmt: skip
    train(cfg_h, log=lambda line: None)
    m = GPT.from_pretrained(cfg_h.out)
    m.eval()
    return m


one_head_gpt, four_head_gpt = one_block_gpt(1), one_block_gpt(4)
tok = load_tokenizer(
    Path(lesson.out) / f"07_one_block_1heads_{heads_iters}it_seed{lesson.seed}" / "tokenizer.json"
)
val_ids = np.asarray(tok.encode(corpus[int(len(corpus) * 0.9) :]), dtype=np.int64)  # held out
starts = np.random.default_rng(lesson.seed).integers(0, len(val_ids) - 33, 64)
windows = val_ids[starts[:, None] + np.arange(32)]  # (64, 32): the same text for every model
targets = val_ids[starts[:, None] + np.arange(1, 33)]


def held_out_cost(m: GPT) -> float:
    with tg.no_grad():
        return float(m(windows, targets)[1].item())


def head_distances(m: GPT) -> list[float]:
    """Each head of block 0: how far back it looks, on average over the held-out windows."""
    with tg.no_grad(), inspect(m) as pr:
        m(windows)
    w = pr.attention[0]  # (64, n_head, T, T)
    back = np.arange(32)[:, None] - np.arange(32)[None, :]
    return [float((w[:, h] * back).sum(-1)[:, 1:].mean()) for h in range(w.shape[1])]


cost_1, cost_4 = held_out_cost(one_head_gpt), held_out_cost(four_head_gpt)
print(
    f"one block, {heads_iters} steps, held-out cost: 1 head of 64 {cost_1:.3f}, "
    f"4 heads of 16 {cost_4:.3f}"
)
print(
    "how far back each head looks on average: 1 head "
    + ", ".join(f"{d:.1f}" for d in head_distances(one_head_gpt))
    + "; 4 heads "
    + ", ".join(f"{d:.1f}" for d in head_distances(four_head_gpt))
)
lesson.verdict(
    "several_heads_help_one_layer",
    cost_4 < cost_1 - 0.02,
    f"with the same weights count, 4 heads beat 1 by {cost_1 - cost_4:.3f} nats: several "
    "attention patterns in one layer",
    f"4 heads did not clearly beat 1 in this run ({cost_4:.3f} vs {cost_1:.3f} nats)",
)
same_count = len(set(head_counts.values())) == 1
lesson.belief(
    "multi_head_scales_out",
    "multi-head attention is how a GPT scales out",
    "corrected" if same_count else "partly",
    f"1, 2, 4, 8 heads at C = 64: {', '.join(f'{n:,}' for n in head_counts.values())} weights "
    f"(heads split the same width); 4 heads vs 1 in one block: held-out cost {cost_4:.3f} vs "
    f"{cost_1:.3f}; doubling width takes a GPT from {sizes['2 blocks x 64 wide, 4 heads']:,} "
    f"to {sizes['2 blocks x 128 wide (2x width)']:,} parameters, doubling depth to "
    f"{sizes['4 blocks x 64 wide (2x depth)']:,}; more machines: lesson 11",
    notes=(22,),
)

# %% [markdown]
# Scale comes from width, depth, data and machines (lesson 11 spreads one training run over
# many). Heads are how one layer's width is used: several smaller patterns instead of one.

# %% [markdown]
# ## 2b. The real queries and keys of a trained head
#
# The matrices above were random or set by hand. Lesson 6 found, in lesson 5's trained
# GPT, the head that gives the previous token the most weight. Here are its real queries
# and keys: `inspect` (models/gpt_inspect.py) keeps each block's c_attn output, the queries,
# keys and values of every token, as the model computed them.

# %%
model, _, cfg = lesson_gpt(lesson)  # the GPT of lessons 5 and 6 (trained if not yet)
with tg.no_grad(), inspect(model) as probe:
    model(windows)
rows = np.arange(1, 32)
share = {
    (l_, h): float(w_[:, h, rows, rows - 1].mean())
    for l_, w_ in enumerate(probe.attention)
    for h in range(w_.shape[1])
}
(layer, head), prev_share = max(share.items(), key=lambda kv: kv[1])
even_share = float(np.mean(1.0 / (rows + 1)))
nh_, C_ = model.config.n_head, model.config.n_embd
hs_ = C_ // nh_
qkv_all = probe.qkv[layer]  # (64, T, 3C): queries | keys | values of every token
q_real = qkv_all[..., :C_].reshape(64, 32, nh_, hs_)[:, :, head]  # (64, T, hs)
k_real = qkv_all[..., C_ : 2 * C_].reshape(64, 32, nh_, hs_)[:, :, head]
print(
    f"layer {layer}, head {head}: {prev_share:.2f} of its weight on the previous token "
    f"(even share {even_share:.2f}); its queries and keys have {hs_} numbers each"
)
text = tok.decode(windows[0][:10].tolist())
sc = q_real[0, :10] @ k_real[0, :10].T / math.sqrt(hs_)  # (10, 10): its real scores
print(f"its scores q . k / sqrt({hs_}) on {text!r} (query row, key column; the future blank):")
print("      " + "".join(f"{c!r:>7}" for c in text))
for i in range(10):
    print(
        f"{text[i]!r:>5} " + "".join(f"{sc[i, j]:7.2f}" if j <= i else "       " for j in range(10))
    )
scores_all = np.einsum("bid,bjd->bij", q_real, k_real) / math.sqrt(hs_)  # (64, T, T)
scores_all = np.where(np.triu(np.ones((32, 32), dtype=bool), 1), -np.inf, scores_all)
best_key = scores_all[:, rows].argmax(-1)  # (64, 31): the key each query matches best
prev_best = float((best_key == rows - 1).mean())
chance_best = float(np.mean(1.0 / (rows + 1)))
print(
    f"over 64 held-out windows, the previous token's key is the best match for the query at "
    f"{prev_best:.0%} of positions (picking a past position at random: {chance_best:.0%})"
)
lesson.belief(
    "query_key_value",
    "a query is what a token looks for, a key what it offers, a value what it passes on",
    "confirmed" if prev_best > 2 * chance_best else "partly",
    f"in the trained GPT's layer {layer}, head {head}, the query at position i matches the "
    f"previous token's key best at {prev_best:.0%} of held-out positions (random "
    f"{chance_best:.0%}): what this head looks for is what came just before",
    notes=(19,),
)

# %% [markdown]
# **The mask and irrelevance are different things.** The mask sets the scores of the
# future to minus infinity, so their weights are exactly 0: that is a rule, the same for
# every head and every text. Past tokens a head does not care about are never masked: if
# the head ignores them, it learned to, by giving them small scores, and their weights
# should come out small but not zero. The trained head's weights beside the mask:

# %%
w_head = probe.attention[layer][:, head]  # (64, T, T), float
allowed = ~np.triu(np.ones((32, 32), dtype=bool), 1)  # the past and the token itself
future_w = w_head[:, ~allowed]
past_w = w_head[:, allowed]
tiny = float((past_w < 0.01).mean())
print(
    f"future (masked) weights: {future_w.size} entries, largest {future_w.max():.1e} "
    f"(all exactly 0: {bool((future_w == 0).all())})"
)
print(
    f"past weights: {past_w.size} entries, smallest {past_w.min():.1e}, "
    f"{tiny:.0%} below 0.01 (learned to be ignored, never set to minus infinity)"
)
print("the first 10 tokens of one window, 'x' = masked by the rule, weights learned otherwise:")
print("      " + "".join(f"{c!r:>6}" for c in text))
for i in range(10):
    print(
        f"{text[i]!r:>5} "
        + "".join(f"{w_head[0, i, j]:6.2f}" if j <= i else "     x" for j in range(10))
    )
lesson.belief(
    "irrelevant_words_neg_inf",
    "before the softmax, every irrelevant word gets a weight of minus infinity",
    "corrected" if (future_w == 0).all() and past_w.min() > 0 and tiny > 0.05 else "partly",
    f"minus infinity is only for the future ({future_w.size} weights exactly 0); the trained "
    f"head gives {tiny:.0%} of the {past_w.size} past weights less than 0.01, but none 0 "
    f"(smallest {past_w.min():.1e}): irrelevance is learned as small scores",
    notes=(20,),
)
if plt is not None:
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.8))
    axes[0].imshow(allowed[:16, :16], cmap="gray", vmin=0, vmax=1)
    axes[0].set_title("the causal mask (black: -inf)", fontsize=9)
    axes[1].imshow(w_head[0, :16, :16], cmap="viridis", vmin=0, vmax=1)
    axes[1].set_title(f"trained layer {layer}, head {head}: weights", fontsize=9)
    for ax in axes:
        ax.set(xlabel="key position", ylabel="query position")
    fig.suptitle("The mask is a rule; near-zero weights are learned")
    fig.tight_layout()
    lesson.save(fig, "mask_vs_learned")

# %% [markdown]
# ## 3. The cost grows with the square of the context
#
# Every token scores every earlier token: for a context of T tokens that is a T x T
# matrix per head. Double the context and there are 4 times as many scores to compute,
# store and softmax. We time the textbook attention (one text, 4 heads of size 64, as
# in GPT-2) for growing T. The timing runs on one thread, so that it measures the work
# itself rather than how well two cores share it (on a busy machine, waiting for the
# second core can cost more than the work).

# %%
B, H, D = 1, 4, 64
Ts = [64, 128, 256, 512, 1024]
min_time = 0.02 if QUICK else 0.1
rng_ = np.random.default_rng(1)
threads = tg.get_num_threads()
tg.set_num_threads(1)


def qkv_for(T: int) -> list[Tensor]:
    """Random queries, keys and values (B, H, T, D) for a context of T tokens."""
    return [Tensor(rng_.standard_normal((B, H, T, D)).astype(np.float32)) for _ in range(3)]


def causal_call(attention, q: Tensor, k: Tensor, v: Tensor):
    """attention(q, k, v, is_causal=True) as a function of nothing, to time or measure."""
    return lambda: attention(q, k, v, is_causal=True)


timings = []
try:
    print("     T   time (ms)   x previous   scores per head   T x T matrices (all heads)")
    prev = None
    for T_ in Ts:
        q, k, v = qkv_for(T_)
        with tg.no_grad():
            sec = time_call(causal_call(textbook_sdpa, q, k, v), min_time)
        ratio = f"x{sec / prev:4.1f}" if prev else "     "
        prev = sec
        mb = B * H * T_ * T_ * 4 / 2**20  # float32: 4 bytes each
        timings.append((T_, sec))
        print(f"  {T_:4d}   {sec * 1e3:9.2f}      {ratio}     {T_ * T_:12,}      {mb:7.1f} MiB")
finally:
    tg.set_num_threads(threads)
last_ratio = timings[-1][1] / timings[-2][1]
lesson.verdict(
    "attention_cost_grows_faster_than_T",
    last_ratio > 2.5,
    f"each doubling of T: 4x the scores and memory; the last doubling took x{last_ratio:.1f} the "
    "time, towards x4 (at small T the fixed cost of each call dominates, so the first ratios are smaller)",
    f"each doubling of T: 4x the scores and memory, but the last doubling took only "
    f"x{last_ratio:.1f} the time: at these sizes the fixed cost of each call still dominates",
)
for T_ in (8192, 131072):
    print(
        f"   a context of {T_:7,} tokens: {T_ * T_ * 4 / 2**30:6.2f} GiB of scores per head per layer"
    )

# %% [markdown]
# Time on a shared machine is noisy; the memory the textbook attention allocates is not.
# Measure its peak for each T (NumPy's allocations during one call, forward only):

# %%
mem = []
for T_ in Ts:
    q, k, v = qkv_for(T_)
    with tg.no_grad():
        mem.append(peak_memory(causal_call(textbook_sdpa, q, k, v)))
print("     T   peak MiB   x previous")
for i_, (T_, m_) in enumerate(zip(Ts, mem)):
    print(f"  {T_:4d}   {m_ / 2**20:8.1f}" + (f"      x{m_ / mem[i_ - 1]:.2f}" if i_ else ""))
mem_ratio = mem[-1] / mem[-2]
lesson.belief(
    "long_context_hard",
    "it is hard to make the context longer",
    "confirmed" if mem_ratio > 3.0 else "partly",
    f"doubling T from {Ts[-2]} to {Ts[-1]}: 4x the scores, x{mem_ratio:.2f} the textbook "
    f"attention's memory, x{last_ratio:.1f} its time; {131072**2 * 4 / 2**30:,.0f} GiB of "
    "scores per head per layer at 131,072 tokens",
    notes=(21,),
)

if plt is not None:
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ts = np.array([t for t, _ in timings])
    secs = np.array([s for _, s in timings])
    ax.loglog(ts, secs * 1e3, "o-", label="textbook attention")
    ax.loglog(ts, secs[-1] * 1e3 * (ts / ts[-1]) ** 2, "k--", label="~ T^2")
    ax.set(xlabel="context length T", ylabel="ms per call", title="Attention cost vs context")
    ax.legend()
    lesson.save(fig, "07_quadratic")

# %% [markdown]
# ## 4. The fused kernel: same result, without the T x T matrix
#
# The T x T scores are only needed one row at a time, and even a row can be handled in
# blocks: keep, for each query, a running maximum, a running sum of exponentials and a
# running weighted sum of values, and correct them as each new block of keys arrives
# (the "online softmax" of FlashAttention). The result is the same up to rounding; the
# scores never exist all at once, so the memory grows like T, not T^2, and the data
# stays in the CPU's cache. (`csrc/attention_impl.h`; lesson 10 measures it further.)

# %%
print("(memory: the peak of NumPy allocations during one call, forward only: for the")
print(" textbook about two T x T matrices alive at once, the scores and their softmax; the")
print(" fused kernel's few small blocks of scratch memory are allocated in C, not counted)")
print("     T   textbook ms   fused ms   speed-up   textbook MiB   fused MiB   max |diff|")
tg.set_num_threads(1)  # the same single thread as above
fused_rows = []  # (T, textbook s, fused s, textbook bytes, fused bytes, max |diff|)
try:
    for T_ in Ts[2:] if QUICK else Ts:
        q, k, v = qkv_for(T_)
        with tg.no_grad():
            t_text = time_call(causal_call(textbook_sdpa, q, k, v), min_time)
            t_fused = time_call(causal_call(fused_sdpa, q, k, v), min_time)
            m_text = peak_memory(causal_call(textbook_sdpa, q, k, v))
            m_fused = peak_memory(causal_call(fused_sdpa, q, k, v))
            y_text = causal_call(textbook_sdpa, q, k, v)().data
            diff = np.abs(y_text - causal_call(fused_sdpa, q, k, v)().data).max()
        fused_rows.append((T_, t_text, t_fused, m_text, m_fused, diff))
        print(
            f"  {T_:4d}   {t_text * 1e3:10.2f}  {t_fused * 1e3:9.2f}    x{t_text / t_fused:<5.1f}"
            f"   {m_text / 2**20:11.1f}   {m_fused / 2**20:9.2f}     {diff:.1e}"
        )
finally:
    tg.set_num_threads(threads)
lesson.verdict(
    "fused_same_numbers_less_memory",
    max(r[5] for r in fused_rows) < 1e-4 and all(r[4] < r[3] / 4 for r in fused_rows),
    f"the same numbers (largest difference {max(r[5] for r in fused_rows):.0e}: float32 rounding), "
    f"{min(r[1] / r[2] for r in fused_rows):.1f}x to {max(r[1] / r[2] for r in fused_rows):.1f}x "
    "as fast, and a small part of the textbook's memory: the T x T scores are never stored",
    "the fused kernel did not beat the textbook on both counts in this run: see the table",
)


# %% [markdown]
# Attention is quadratic in the context; the fused kernel stores no T x T matrix, but
# every query still meets every earlier key. That is why long contexts
# stay expensive, and why a smaller token count per text (BPE, lesson 5) matters.
#
# ## 5. Generating one token at a time: the KV cache
#
# A GPT writes text one token at a time: run the model on the text so far, sample the
# next token, append it, repeat. Done naively, step t runs attention over all t tokens
# again: t queries against t keys, t^2 scores, and every token's query, key and value
# computed anew. But with the causal mask, nothing an earlier token computes depends on
# the tokens after it: its key and value at step t are the ones it had when it was new.
# So generation keeps them. That is the **KV cache**: for every layer, the keys and values
# of all the tokens so far, (B, n_head, t, head_size) each. At each step only the new
# token's query, key and value are computed; its key and value are appended to the cache;
# its one query meets the t cached keys. The new token costs t scores, a cost linear in
# the context, where recomputing costs t^2.
#
# `GPT.generate(use_cache=True)` does this (`CausalSelfAttention.forward`'s `cache`
# argument). Count the work by a hook on block 0's attention: at each step, how many new
# tokens it gets, and how many keys they meet. And check that the cache changes no number.

# %%
counts: list[tuple[int, int]] = []


def count_scores(attn_module, call_args, out) -> None:
    """Forward hook: (new tokens T, keys they meet S) for each call of the attention."""
    new = call_args[0].shape[1]
    cache_ = call_args[1] if len(call_args) > 1 else None
    counts.append((new, cache_["k"].shape[2] if cache_ else new))


handle = model.transformer.h[0].attn.register_forward_hook(count_scores)
prompt = windows[:1, :1]  # one token; then write block_size - 1 more
n_new = model.config.block_size - 1
try:
    per_mode = {}
    for use_cache in (True, False):
        counts.clear()
        tg.manual_seed(lesson.seed)
        t0 = time.perf_counter()
        out_ids = model.generate(prompt, n_new, temperature=0.0, use_cache=use_cache)
        per_mode[use_cache] = (out_ids, [t * s_ for t, s_ in counts], time.perf_counter() - t0)
finally:
    handle.remove()
(ids_c, work_c, sec_c), (ids_n, work_n, sec_n) = per_mode[True], per_mode[False]
print("step (context t)    scores with the cache   scores recomputing")
for t in (1, 2, 4, 8, 16, n_new):
    print(f"   {t:3d}                     {work_c[t - 1]:5d}                 {work_n[t - 1]:6d}")
print(
    f"all {n_new} steps: {sum(work_c):,} scores with the cache, {sum(work_n):,} recomputing "
    f"(x{sum(work_n) / sum(work_c):.1f}); the same text either way: {bool((ids_c == ids_n).all())}"
)
print(f"(time here: {sec_c * 1e3:.0f} ms with the cache, {sec_n * 1e3:.0f} ms without)")
linear = all(w_ == t for t, w_ in enumerate(work_c, 1))
square = all(w_ == t * t for t, w_ in enumerate(work_n, 1))
lesson.verdict(
    "kv_cache_linear_per_token",
    linear and square and (ids_c == ids_n).all(),
    f"with the cache the token at context t costs t scores, without it t^2: over {n_new} steps "
    f"{sum(work_c):,} against {sum(work_n):,}, and the same text",
    "the counts do not show t with the cache and t^2 without (see the table)",
)
lesson.belief(
    "generation_recomputes_everything",
    "to write each new token, the model must run attention over the whole text again",
    "corrected" if linear and (ids_c == ids_n).all() else "confirmed",
    f"with the KV cache, step t computes one query against t cached keys ({work_c[-1]} scores "
    f"at t = {n_new}, {work_n[-1]} when recomputing) and writes the same {n_new} tokens",
)

# %%
print(f"lesson 7 done in {time.perf_counter() - started:.1f} s")

# %% [markdown]
# ## What the run said about the beliefs

# %%
lesson.summary()

# %% [markdown]
# ## Exercises
#
# Write these steps of the lesson yourself, and let the library check them against its own code:
#
#     tinygrad-edu exercises init ex        # one file per exercise, in the folder ex
#     tinygrad-edu exercises check ex causal_attention split_merge_heads kv_cache_step
#
# - `causal_attention`: one head of causal attention: scores, mask, softmax, weighted values
# - `split_merge_heads`: multi-head attention's reshapes: split into heads, merge back
# - `kv_cache_step`: one generation step with a KV cache
#
# Each file's docstring gives the idea, the math, the shapes and a hint; `check` says
# passed, not started, or the first input where your answer differs from the library's.
