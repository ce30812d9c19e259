# %% [markdown]
# # Lesson 6: attention, and the vectors around it
#
# Inside a GPT, every token is a **vector** of numbers (its features). The model is a
# pipeline of those vectors:
#
#     token ids  --embedding-->  one vector per token                  (T, C)
#       --attention-->  the vectors "talk to each other": each token takes in
#                       information from the tokens before it and updates itself
#       --MLP-->        then each vector passes alone through a small network
#       ... (attention + MLP, repeated n_layer times)
#       --unembedding-->  the last vector becomes one score per possible next token
#       --softmax-->      the scores become probabilities
#
# What training changes are the **weights** (the embedding matrix, the attention and MLP
# matrices), never the text: the same weights process any text you give the model.
#
# This lesson opens up the small GPT trained in lesson 5 (it is trained here if you have
# not run lesson 5) and looks at each stage in turn.
#
# Run: `python tutorials/06_attention.py [--quick] [--seed N]`. Read alongside:
# `tinygrad_edu/models/gpt.py` (GPT.forward), `tinygrad_edu/nn/transformer.py`
# (CausalSelfAttention) and
# `tinygrad_edu/models/gpt_inspect.py` (inspect: hooks that read the residual stream and
# the attention weights as the model computes them).

# %%
from __future__ import annotations

import contextlib
import time
from pathlib import Path

import numpy as np

with contextlib.suppress(ImportError):  # a source checkout: teach from *its* package
    import _common  # noqa: F401  (tutorials/_common.py; a notebook on its own has none)

import tinygrad_edu as tg
from tinygrad_edu.data.shakespeare import load_shakespeare
from tinygrad_edu.lessons.common import Lesson, lesson_gpt  # --quick, output folder, figures
from tinygrad_edu.models.gpt import GPT
from tinygrad_edu.models.gpt_inspect import attention_weights, hidden_states, inspect
from tinygrad_edu.tensor import Tensor
from tinygrad_edu.tokenizer import load_tokenizer

lesson = Lesson(
    "06_attention", "Lesson 6: attention", quick_help="a smaller GPT, trained briefly (CI)"
)
args = lesson.args
QUICK = lesson.quick
plt = lesson.plt
started = time.perf_counter()


def show(s: str) -> str:
    """A character as Python writes it: a newline shows as '\\n', a space as ' '."""
    return repr(s)


def softmax(scores: np.ndarray) -> np.ndarray:
    """Scores -> probabilities: exp makes them positive, dividing by the sum makes them
    add up to 1. (Subtracting the largest score first changes nothing, see section 5.)"""
    e = np.exp(scores - scores.max())
    return e / e.sum()


# %% [markdown]
# ## The beliefs you bring from the lecture
#
# Lecture 6 leaves a learner with beliefs like these, in our words. Each is checked below
# by an experiment on the trained GPT, and the run prints its outcome (confirmed, partly or
# corrected) with the numbers:
#
# 1. **Attention: vectors talk to each other and change their values.** The same
#    character should end up with a different vector in a different context (section 2b).
# 2. **Then each vector goes on, through the MLP, to the next attention layer**: the MLP
#    works on each vector alone (section 2c).
# 3. **What training changes is the weights, not the data**: the same weights then
#    process any text (section 0).
# 4. **The embedding is a big matrix of tokens by features; the unembedding turns the last
#    vector into the next token's probabilities** (section 3).
# 5. **Softmax pushes the largest score near 1 and the others near 0** (section 5).
# 6. A common one: **attention lets every token look at the whole text**, before and
#    after it (section 2).
# 7. Another: **the model only works out its answer at the very end**, in the last layer
#    (section 3b).

# %% [markdown]
# ## 0. The model from lesson 5
#
# The same recipe as lesson 5, so the same output folder: if lesson 5 ran, its model is
# loaded; otherwise it is trained now.

# %%
model, metrics, cfg = lesson_gpt(lesson)  # tinygrad_edu/lessons/common.py
tok = load_tokenizer(Path(cfg.out) / "tokenizer.json")
chars = tok.chars
V, C = model.config.vocab_size, model.config.n_embd
print(f"a GPT with {model.config.n_layer} blocks of {model.config.n_head} heads, C = {C}")

# %% [markdown]
# Training moved the weights; the text stayed as it was. If what was learned lives in the
# weights, the same weights should handle text the model never saw about as well as its
# training text. The held-out tenth of the corpus (train_gpt's validation split) gives
# 64 windows to measure on here, and in the sections below.

# %%
corpus = load_shakespeare()
val_ids = np.asarray(tok.encode(corpus[int(len(corpus) * 0.9) :]), dtype=np.int64)
T_ctx = model.config.block_size
starts = np.random.default_rng(lesson.seed).integers(0, len(val_ids) - T_ctx - 1, 64)
windows = val_ids[starts[:, None] + np.arange(T_ctx)]  # (64, T): text never trained on
targets = val_ids[starts[:, None] + np.arange(1, T_ctx + 1)]  # the next character of each
with tg.no_grad(), inspect(model) as probe_val:  # hooks keep what each block computes
    val_logits = model(windows)[0].data  # (64, T, V)


def mean_nll(logits: np.ndarray, next_ids: np.ndarray) -> float:
    """The cross-entropy cost: mean -log p(the true next token), in nats."""
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    return float(-np.take_along_axis(logp, next_ids[..., None], -1).mean())


tg.manual_seed(lesson.seed)
fresh = GPT(model.config)  # the same architecture, weights not trained
fresh.eval()
with tg.no_grad():
    fresh_nll = mean_nll(fresh(windows)[0].data, targets)
val_nll, train_nll = mean_nll(val_logits, targets), metrics[-1]["train_loss"]
print(
    f"cost on 64 unseen windows: trained weights {val_nll:.3f}, untrained {fresh_nll:.3f}; "
    f"on its training text (train_gpt's last estimate) {train_nll:.3f}"
)
lesson.belief(
    "weights_not_data",
    "what training changes is the weights, not the data; the same weights process any text",
    "confirmed" if val_nll < fresh_nll - 1.0 and abs(val_nll - train_nll) < 0.15 else "partly",
    f"cost on unseen text {val_nll:.2f} (untrained weights {fresh_nll:.2f}), on the training "
    f"text {train_nll:.2f}: what was learned went with the weights to new text",
    notes=(16,),
)

# %% [markdown]
# ## 1. The embedding matrix: a learned vector for every token
#
# `transformer.wte.weight` has one row per token: the token's vector. Looking a token
# up is just taking its row. At the start these rows are random; training moves them so
# that tokens that behave alike get similar vectors, because the layers above then can
# treat them alike.

# %%
wte = model.transformer.wte.weight.data  # (V, C)
e = tok.stoi["e"]
print(f"embedding matrix: shape {wte.shape} = (vocab_size, n_embd)")
print(f"the vector of 'e' (token {e}), first 8 of its {C} numbers:")
print("  " + " ".join(f"{v:+.2f}" for v in wte[e, :8]) + " ...")

# %% [markdown]
# Similar vectors point in similar directions. The **cosine similarity**
# u . v / (|u| |v|) is 1 for the same direction, 0 for perpendicular ones. The nearest
# neighbours of a few characters, in the trained model and in a freshly initialised one
# (random vectors: their neighbours mean nothing):


# %%
def nearest(E: np.ndarray, i: int, k: int = 4) -> list[tuple[int, float]]:
    """The k rows of E most similar to row i (cosine similarity), best first."""
    unit = E / np.linalg.norm(E, axis=1, keepdims=True)  # every row scaled to length 1
    cos = unit @ unit[i]  # (V,): cosine of row i with every row
    cos[i] = -np.inf  # not itself
    best = np.argsort(-cos)[:k]
    return [(int(j), float(cos[j])) for j in best]


tg.manual_seed(0)
untrained = GPT(model.config).transformer.wte.weight.data
for c in ("a", "e", "T", "t", ",", "?"):
    trained_nb = "  ".join(f"{show(chars[j])} {s:.2f}" for j, s in nearest(wte, tok.stoi[c]))
    random_nb = " ".join(show(chars[j]) for j, _ in nearest(untrained, tok.stoi[c]))
    print(f"  {show(c):>5}: trained {trained_nb:38}  untrained {random_nb}")

vowels = [tok.stoi[c] for c in "aeiou"]
consonants = [tok.stoi[c] for c in "bcdfghklmnprstw"]


def mean_cos(E: np.ndarray, rows_a: list[int], rows_b: list[int]) -> float:
    unit = E / np.linalg.norm(E, axis=1, keepdims=True)
    sims = unit[rows_a] @ unit[rows_b].T
    if rows_a == rows_b:
        sims = sims[~np.eye(len(rows_a), dtype=bool)]  # leave out each vowel with itself
    return float(sims.mean())


print(
    f"mean cosine similarity, vowel with vowel: {mean_cos(wte, vowels, vowels):+.2f}, "
    f"vowel with consonant: {mean_cos(wte, vowels, consonants):+.2f} "
    f"(untrained: {mean_cos(untrained, vowels, vowels):+.2f} and "
    f"{mean_cos(untrained, vowels, consonants):+.2f})"
)
lesson.verdict(
    "vowels_grouped",
    mean_cos(wte, vowels, vowels) - mean_cos(wte, vowels, consonants)
    > mean_cos(untrained, vowels, vowels) - mean_cos(untrained, vowels, consonants),
    "training pulled the vowels closer together than to the consonants, more than chance did: "
    "nobody told it what a vowel is",
    "in this run the vowels are no closer to each other than to the consonants: train longer",
)

# %% [markdown]
# **A direction means something.** Take the difference vector upper case minus lower case,
# wte["A"] - wte["a"], for every letter, and average it over all letters but one: that is
# a "capital letter" direction. Does it tell the left-out letter's capital from its small
# form? (Projecting both onto the direction, the capital should come out higher.)

# %%
letters = [c for c in "abcdefghijklmnopqrstuvwxyz" if c in tok.stoi and c.upper() in tok.stoi]
diffs = np.array([wte[tok.stoi[c.upper()]] - wte[tok.stoi[c]] for c in letters])  # (n, C)
right = 0
for k, c in enumerate(letters):
    direction = np.delete(diffs, k, axis=0).mean(0)  # learned from the other letters only
    right += int(wte[tok.stoi[c.upper()]] @ direction > wte[tok.stoi[c]] @ direction)
print(
    f"the capital-letter direction ranks the capital above the small letter for {right} of "
    f"{len(letters)} left-out letters"
)
lesson.verdict(
    "case_direction",
    right > 0.75 * len(letters),
    "one direction in the embedding space means 'capital letter'",
    "the case direction is not clear in this model: it has seen too little text",
)

# %% [markdown]
# The position of a token is added the same way: `transformer.wpe.weight` holds one
# learned vector per position 0..block_size-1, and the vector entering the first block
# is token vector + position vector. Without it, "dog bites man" and "man bites dog"
# would look the same to attention.

# %%
wpe = model.transformer.wpe.weight.data  # (block_size, C)
print(f"position embedding: shape {wpe.shape} = (block_size, n_embd)")
print("vector entering block 0 = wte[token] + wpe[position], shape (T, C) for T tokens")

# %% [markdown]
# **Where a GPT's parameters live.** The embedding matrix is shared with the unembedding
# (weight tying), every block has its attention and MLP matrices, and the MLPs hold most:

# %%
tally: dict = {}
for name, param in model.named_parameters():
    part = (
        "embedding (wte, shared with unembedding)"
        if "wte" in name
        else "position embedding (wpe)"
        if "wpe" in name
        else "attention (c_attn, c_proj)"
        if ".attn." in name
        else "MLP (c_fc, c_proj)"
        if ".mlp." in name
        else "LayerNorms"
    )
    tally[part] = tally.get(part, 0) + param.data.size
total = sum(tally.values())
for part, n in sorted(tally.items(), key=lambda kv: -kv[1]):
    print(f"  {part:42} {n:8,}  {100 * n / total:5.1f}%")
note = (
    " (model.num_parameters() leaves out wpe, as nanoGPT counts)"
    if model.num_parameters() == total - tally.get("position embedding (wpe)", 0)
    else f" (model.num_parameters() = {model.num_parameters():,})"
)
print(f"  {'total':42} {total:8,}{note}")

# %% [markdown]
# ## 2. Attention patterns: who looks at whom
#
# In each attention head, every token asks a question (its query), every earlier token
# offers an answer (its key), and the match between the two, through a softmax, says how
# much of the earlier token's information (its value) flows in. Lesson 7 computes this by
# hand; here we look at the result. For a short text, `attention_weights`
# (models/gpt_inspect.py) hands back, read through hooks as the model computes it, one
# block's matrix of weights:
#
#     row i = the query at position i,  column j = the key at position j,
#     entry  = how much token i takes from token j     (every row sums to 1)
#
# A token may only look at itself and the past, so everything above the diagonal is 0:
# the pattern is a lower triangle.

# %%
text = "To be, or not to be: that is"
ids = np.array(tok.encode(text))
T = len(ids)
weights = {layer: attention_weights(model, ids, layer) for layer in range(model.config.n_layer)}
w0 = weights[0]  # (n_head, T, T)
print(f"text: {show(text)} ({T} tokens); weights of one block: shape {w0.shape} = (heads, T, T)")
print(
    f"every row sums to 1: max |sum - 1| = {np.abs(w0.sum(-1) - 1).max():.1e}; "
    f"above the diagonal: max {w0[:, np.triu_indices(T, 1)[0], np.triu_indices(T, 1)[1]].max():.1f}"
)

# %% [markdown]
# Do heads specialise? A simple summary per head, averaged over the positions of the 64
# held-out windows: how much weight goes to the token itself, to the one just before it,
# and to the very first token, and how far back the head looks on average. A head that
# looks at the previous token lets every position know which character came before it;
# heads that pile their weight on the first token often use it as a resting place when
# nothing else matters. Real GPTs have "previous-token heads"; does this one? A head that
# spread its weight evenly over the past would give the previous token 1/(i+1) at
# position i: that is the bar to beat.

# %%
print("layer head   itself  previous  first  mean distance back   (64 held-out windows)")
summary = []
rows = np.arange(1, T_ctx)  # position 0 can only look at itself: leave it out
back = np.arange(T_ctx)[:, None] - np.arange(T_ctx)[None, :]  # (T, T): how far back
for layer_i, w_all in enumerate(probe_val.attention):  # (64, n_head, T, T) per block
    for h in range(w_all.shape[1]):
        w_h = w_all[:, h]  # (64, T, T)
        on_self = w_h[:, rows, rows].mean()
        on_prev = w_h[:, rows, rows - 1].mean()
        on_first = w_h[:, rows, 0].mean()
        distance = (w_h * back).sum(-1)[:, rows].mean()
        summary.append((layer_i, h, float(on_prev)))
        print(
            f"  {layer_i}    {h}     {on_self:5.2f}    {on_prev:5.2f}   {on_first:5.2f}     {distance:5.1f}"
        )
layer, head, best_prev = max(summary, key=lambda r: r[2])
even_prev = float(np.mean(1.0 / (rows + 1)))  # attending evenly over positions 0..i
print(
    f"layer {layer}, head {head} gives the previous token the most weight: {best_prev:.2f}, "
    f"against {even_prev:.2f} for a head that attends evenly"
)
strength = (
    "most of its weight: a previous-token head"
    if best_prev > 0.5
    else "not yet most of its weight, as a full previous-token head would"
)
lesson.verdict(
    "a_head_prefers_previous_token",
    best_prev > 1.5 * even_prev,
    f"layer {layer}, head {head} prefers the previous token, {best_prev / even_prev:.1f} times "
    f"the even share ({strength})",
    f"no head singles out the previous token: the best gives it {best_prev:.2f}, close to the "
    f"even share {even_prev:.2f}",
)
print("Its weights on the sentence, in full:")

# %%
w = weights[layer][head]  # (T, T)
n_show = min(T, 12)
print("query \\ key " + "".join(f"{show(c):>6}" for c in text[:n_show]))
for i in range(n_show):
    cells = "".join(f"{w[i, j]:6.2f}" if j <= i else "     ." for j in range(n_show))
    print(f"{show(text[i]):>11} {cells}")
print("(first 12 positions; '.' = the future, masked)")

# %% [markdown]
# The same matrix for the whole text as a picture in characters, darker = more weight
# (' ' below 0.05, '@' near 1):

# %%
shades = " .:-=+*#%@"
print("      " + "".join("_" if c == " " else ("/" if c == "\n" else c) for c in text))
for i in range(T):
    row = "".join(shades[min(9, int(w[i, j] * 10))] if j <= i else " " for j in range(T))
    print(f"{show(text[i]):>5} {row}")

if plt is not None:
    n_layer, n_head = model.config.n_layer, model.config.n_head
    fig, axes = plt.subplots(n_layer, n_head, figsize=(3 * n_head, 3 * n_layer), squeeze=False)
    labels = ["␣" if c == " " else c for c in text]
    for l_ in range(n_layer):
        for h in range(n_head):
            ax = axes[l_][h]
            ax.imshow(weights[l_][h], cmap="viridis", vmin=0, vmax=1)
            ax.set_title(f"layer {l_}, head {h}", fontsize=9)
            ax.set_xticks(range(T), labels, fontsize=6)
            ax.set_yticks(range(T), labels, fontsize=6)
    fig.suptitle("Attention weights: row = query position, column = key position")
    fig.tight_layout()
    lesson.save(fig, "06_attention_patterns")

# %% [markdown]
# Does information flow backwards too? Change the last character, and compare the
# model's outputs at every earlier position, and at the last one:

# %%
other = ids.copy()
other[-1] = tok.stoi["n"] if chars[ids[-1]] != "n" else tok.stoi["m"]
with tg.no_grad():
    a = model(ids[None])[0].data[0]  # (T, V) logits
    b = model(other[None])[0].data[0]
print(f"{show(text)} vs {show(tok.decode(other))}:")
print(
    f"  largest change of the logits at positions 0..{T - 2}: {np.abs(a[:-1] - b[:-1]).max():.2f}"
)
print(f"  largest change at the last position:       {np.abs(a[-1] - b[-1]).max():.2f}")
past_change, last_change = np.abs(a[:-1] - b[:-1]).max(), np.abs(a[-1] - b[-1]).max()
lesson.belief(
    "attention_sees_whole_text",
    "attention lets every token look at the whole text, before and after it",
    "corrected" if past_change == 0 and last_change > 0 else "confirmed",
    f"changing the last character moved the earlier positions' logits by {past_change:.2g} and "
    f"the last one's by {last_change:.2f}: a token sees only itself and the past",
)

# %% [markdown]
# ## 2b. One character, many contexts
#
# Take the character 'e' at the same position in 32 different stretches of held-out text.
# Entering block 0, its vector is wte['e'] + wpe[position]: the same in every context.
# Attention is where the context gets in. Measure how far the 32 vectors spread apart
# (the mean distance to their average, as a share of the average's length) at each stage.

# %%
e_id, p = tok.stoi["e"], T_ctx // 2
at = np.flatnonzero(val_ids == e_id)
at = at[at >= p]
at = at[:: max(1, len(at) // 32)][:32]  # spread through the held-out text
contexts = val_ids[at[:, None] - p + np.arange(p + 1)]  # (32, p + 1): each ends in 'e'
with tg.no_grad(), inspect(model) as probe_e:
    model(contexts)
block0 = model.transformer.h[0]
x_in = Tensor(probe_e.hidden[0])  # (32, p + 1, C) entering block 0
with tg.no_grad():  # block 0's first half, as Block.forward writes it
    after_attn = (x_in + block0.attn(block0.ln_1(x_in))).data  # (32, p + 1, C)


def spread(vectors: np.ndarray) -> float:
    """Mean distance of the rows to their average, over the average's length."""
    centre = vectors.mean(0)
    return float(np.linalg.norm(vectors - centre, axis=1).mean() / np.linalg.norm(centre))


stages = {
    "entering block 0 (embedding + position)": probe_e.hidden[0][:, p],
    "after block 0's attention": after_attn[:, p],
    "after block 0's MLP": probe_e.hidden[1][:, p],
    f"leaving the last block ({model.config.n_layer})": probe_e.hidden[-1][:, p],
}
print(f"'e' at position {p} in {len(at)} contexts, e.g. {show(tok.decode(contexts[0][-12:]))}:")
for name, vecs in stages.items():
    print(f"  {name:45} spread {spread(vecs):.3f}")
spread_in, spread_attn = (
    spread(stages["entering block 0 (embedding + position)"]),
    spread(after_attn[:, p]),
)
lesson.belief(
    "vectors_talk",
    "in attention the token vectors talk to each other and change their values",
    "confirmed" if spread_in < 1e-6 and spread_attn > 0.05 else "partly",
    f"'e' at position {p} in {len(at)} contexts: identical entering block 0 (spread "
    f"{spread_in:.3f}), spread {spread_attn:.3f} after one attention, "
    f"{spread(probe_e.hidden[-1][:, p]):.3f} leaving the last block",
    notes=(14,),
)

# %% [markdown]
# ## 2c. Then each vector passes alone through the MLP
#
# Block.forward's second line is `x = x + mlp(ln_2(x))`. Nothing in it mixes positions: it
# is the same small network applied to each of the T vectors. Run block 0's MLP on the
# whole batch of vectors at once and on each position by itself. (A demonstration of what
# the code does, rather than a finding: a different result would mean a bug.)

# %%
mid = Tensor(after_attn)  # (32, p + 1, C): the vectors after block 0's attention
with tg.no_grad():
    together = block0.mlp(block0.ln_2(mid)).data
    alone = np.stack(
        [
            block0.mlp(block0.ln_2(Tensor(after_attn[:, i : i + 1]))).data[:, 0]
            for i in range(p + 1)
        ],
        axis=1,
    )
mlp_gap = float(np.abs(together - alone).max())
print(
    f"MLP on all {p + 1} positions at once vs one position at a time: max difference {mlp_gap:.1e}"
)
lesson.belief(
    "mlp_per_vector",
    "after attention, each vector passes through the MLP on its own, then on to the next "
    "attention layer",
    "confirmed" if mlp_gap < 1e-4 * np.abs(together).max() else "corrected",
    f"block 0's MLP on {p + 1} positions together vs one at a time: max difference "
    f"{mlp_gap:.1e} (outputs up to {np.abs(together).max():.2f}); the blocks alternate "
    f"attention and MLP {model.config.n_layer} times",
    notes=(15,),
)

# %% [markdown]
# ## 3. Unembedding: the last vector becomes a score per token
#
# After the last block (and a final layer norm), each position holds one vector x of C
# numbers. To predict the next token, x is compared with every token's embedding
# vector: the score (*logit*) of token t is the dot product x . wte[t], all at once
# `logits = x @ wte.T`. (GPT-2 reuses the embedding matrix here, "weight tying": a
# token's vector is both how it enters and what the model aims for.)

# %%
states = hidden_states(model, ids)  # n_layer + 1 arrays (T, C): the residual stream
with tg.no_grad():
    x_last = model.transformer.ln_f(Tensor(states[-1])).data[-1]  # (C,): the last position
    model_logits = model(ids[None])[0].data[0, -1]  # (V,) what the model outputs
logits = x_last @ wte.T  # (C,) @ (C, V) -> (V,)
print(f"last vector x: shape {x_last.shape}; logits = x @ wte.T: shape {logits.shape}")
unembed_gap = float(np.abs(logits - model_logits).max())
print(f"same as the model's own output: max difference {unembed_gap:.1e}")
tied = model.lm_head.weight is model.transformer.wte.weight
lesson.belief(
    "embedding_unembedding",
    "the embedding is a matrix of tokens by features; the unembedding turns the last vector "
    "into a score, then a probability, for every possible next token",
    "confirmed" if unembed_gap < 1e-3 else "corrected",
    f"wte is {wte.shape[0]} tokens x {wte.shape[1]} features "
    f"({tally['embedding (wte, shared with unembedding)'] / total:.0%} of this small model); "
    f"x @ wte.T gives the model's {V} logits to {unembed_gap:.0e}; "
    + (
        "the unembedding is the same matrix (tied)" if tied else "the unembedding is its own matrix"
    ),
    notes=(17,),
)
probs = softmax(logits.astype(np.float64))
order = np.argsort(-logits)
print(f"after {show(text)}, the highest and lowest scores and their probabilities:")
for j in list(order[:5]) + list(order[-2:]):
    print(f"  {show(chars[j]):>6}  score {logits[j]:+6.2f}  ->  probability {probs[j]:.3f}")

# %% [markdown]
# ## 3b. Reading the residual stream after every layer (the "logit lens")
#
# The unembedding reads the last block's output. Nothing stops us from reading the stream
# earlier: take the vector entering each block, apply the final layer norm and the
# unembedding, and ask what that half-finished vector would predict. On the 64 held-out
# windows: the cost of the true next character, and how often the top guess is right.
# (Entering block 0 the vector is just the token's own embedding plus its position.)

# %%
ln_f = model.transformer.ln_f
lens = []
for stream in probe_val.hidden:  # n_layer + 1 arrays (64, T, C)
    with tg.no_grad():
        decoded = ln_f(Tensor(stream)).data @ wte.T  # (64, T, V): this layer's guess
    lens.append(
        (
            mean_nll(decoded, targets),
            float((decoded.argmax(-1) == targets).mean()),
            float((decoded.argmax(-1) == windows).mean()),
        )
    )
print("read after          cost (nats)   top guess right   top guess = the input token")
for depth, (nll, acc, echo) in enumerate(lens):
    where = "the embedding" if depth == 0 else f"block {depth - 1}"
    print(f"  {where:16}     {nll:6.3f}          {acc:5.3f}            {echo:5.3f}")
print(f"  (the model's own output: cost {val_nll:.3f})")
gain = lens[0][0] - lens[-1][0]
lesson.verdict(
    "logit_lens_sharpens",
    gain > 0.5 and lens[-1][1] > lens[0][1],
    f"the prediction is built up through the blocks: the cost falls by {gain:.2f} nats from the "
    "embedding to the last block",
    "reading the stream early predicts about as well as at the end in this run",
)
mid_gain = lens[0][0] - lens[1][0]
lesson.belief(
    "answer_only_at_the_end",
    "the model only works out its answer in the last layer",
    "corrected" if mid_gain > 0.25 * gain else "confirmed",
    f"decoded after block 0 the cost is already {lens[1][0]:.2f} nats (embedding "
    f"{lens[0][0]:.2f}, last block {lens[-1][0]:.2f}): block 0 alone makes "
    f"{mid_gain / gain:.0%} of the gain",
)

# %% [markdown]
# On the sentence: what each layer would answer after "To be, or not to b".

# %%
pos = text.index("to b") + 3  # the position of the second 'b'
for depth, stream in enumerate(states):  # the sentence's residual stream, from section 3
    with tg.no_grad():
        guess = softmax((ln_f(Tensor(stream)).data[pos] @ wte.T).astype(np.float64))
    top = np.argsort(-guess)[:3]
    where = "the embedding" if depth == 0 else f"block {depth - 1}"
    print(f"  after {where:14} " + "  ".join(f"{show(chars[j])} {guess[j]:.2f}" for j in top))
if plt is not None:
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(range(len(lens)), [r[0] for r in lens], marker="o")
    ax.set_xticks(range(len(lens)), ["embed"] + [f"block {i}" for i in range(model.config.n_layer)])
    ax.set(
        xlabel="residual stream read after",
        ylabel="cost of the true next character (nats)",
        title="Logit lens: each layer's vector, decoded",
    )
    lesson.save(fig, "logit_lens")

# %% [markdown]
# ## 4. Softmax: scores into probabilities
#
# softmax(s)_i = exp(s_i) / sum_j exp(s_j). exp makes every score positive and grows
# fast, so after dividing by the sum the largest score takes the biggest share, and when
# it stands far above the others, almost everything (near 1, the others near 0): a
# "soft" version of picking the maximum. How often a trained model's scores are that
# lopsided is measured at the end of section 5. Adding the same number to every score
# changes nothing; multiplying the scores by a factor makes the winner win more clearly.

# %%
s = np.array([4.0, 2.0, 1.0, 0.0, -2.0])


def fmt(p: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:.3f}" for v in p) + "]"


print(f"scores          {s}")
print(f"softmax         {fmt(softmax(s))}   (sums to {softmax(s).sum():.3f})")
print(f"scores + 100    {fmt(softmax(s + 100))}   <- the same")
print(f"scores x 3      {fmt(softmax(3 * s))}   <- sharper")
print(f"scores / 3      {fmt(softmax(s / 3))}   <- flatter")

# %% [markdown]
# ## 5. Temperature is dividing the logits
#
# "scores / 3" above is a temperature of 3. `generate(temperature=T)` does exactly that
# (`sample_next` in `models/gpt.py`: `logits = logits / temperature`) before the
# softmax. Small T: the top token takes everything (T -> 0 is "always the most likely");
# large T: everything tends towards 1/V.

# %%
print(f"next-token probabilities after {show(text)}:")
print("     T    top 3                              max p   entropy")
for T_ in (0.25, 0.5, 1.0, 2.0, 4.0):
    p = softmax(logits.astype(np.float64) / T_)
    top = np.argsort(-p)[:3]
    best = "  ".join(f"{show(chars[j])} {p[j]:.2f}" for j in top)
    ent = float(-(p * np.log2(np.maximum(p, 1e-300))).sum())
    print(f"  {T_:4.2f}    {best:32}  {p.max():.2f}   {ent:.2f} bits")
print(f"  (uniform over {V} tokens: max p {1 / V:.3f}, entropy {np.log2(V):.2f} bits)")

# %% [markdown]
# Does softmax always put the largest score near 1? It does when the largest score stands
# far above the rest; here is how often that happens for this model's next-token guesses,
# at every position of the 64 held-out windows.

# %%
z = val_logits.astype(np.float64)
z = z - z.max(-1, keepdims=True)
p_all = np.exp(z) / np.exp(z).sum(-1, keepdims=True)  # (64, T, V)
top_p = p_all.max(-1)
z_cold = z / 0.25
p_cold = np.exp(z_cold) / np.exp(z_cold).sum(-1, keepdims=True)
near_one, near_one_cold = float((top_p > 0.9).mean()), float((p_cold.max(-1) > 0.9).mean())
print(
    f"top probability: median {np.median(top_p):.2f}; above 0.9 at {near_one:.0%} of "
    f"{top_p.size} positions (at temperature 0.25: {near_one_cold:.0%})"
)
lesson.belief(
    "softmax_near_one",
    "softmax makes the largest value close to 1 and the others close to 0",
    "confirmed" if near_one > 0.5 else "partly",
    f"the top next-character probability is above 0.9 at {near_one:.0%} of {top_p.size} "
    f"held-out positions (median {np.median(top_p):.2f}); dividing the scores by a temperature "
    f"of 0.25 makes that {near_one_cold:.0%}: flat scores give flat probabilities",
    notes=(18,),
)

# %%
print(f"lesson 6 done in {time.perf_counter() - started:.1f} s")

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
#     tinygrad-edu exercises check ex softmax layer_norm_backward
#
# - `softmax`: softmax over the last axis, stable for any logits
# - `layer_norm_backward`: the gradients of LayerNorm
#
# Each file's docstring gives the idea, the math, the shapes and a hint; `check` says
# passed, not started, or the first input where your answer differs from the library's.
