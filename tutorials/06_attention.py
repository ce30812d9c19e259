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
# Run: `python tutorials/06_attention.py [--quick]`. Read alongside:
# `tinygrad_edu/models/gpt.py` (GPT.forward), `tinygrad_edu/nn/transformer.py`
# (CausalSelfAttention) and
# `tinygrad_edu/models/gpt_inspect.py` (how the attention weights are recomputed).

# %%
from __future__ import annotations

import contextlib
import time
from pathlib import Path

import numpy as np

with contextlib.suppress(ImportError):  # a source checkout: teach from *its* package
    import _common  # noqa: F401  (tutorials/_common.py; a notebook on its own has none)

import tinygrad_edu as tg
from tinygrad_edu.lessons.common import Lesson, lesson_gpt  # --quick, output folder, figures
from tinygrad_edu.models.gpt import GPT
from tinygrad_edu.models.gpt_inspect import attention_weights, hidden_states
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
# ## 0. The model from lesson 5
#
# The same recipe as lesson 5, so the same output folder: if lesson 5 ran, its model is
# loaded; otherwise it is trained now.

# %%
model, _, cfg = lesson_gpt(lesson)  # tinygrad_edu/lessons/common.py
tok = load_tokenizer(Path(cfg.out) / "tokenizer.json")
chars = tok.chars
V, C = model.config.vocab_size, model.config.n_embd
print(f"a GPT with {model.config.n_layer} blocks of {model.config.n_head} heads, C = {C}")

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
# hand; here we look at the result. For a short text, `attention_weights` recomputes,
# from one block's parameters, the matrix of weights:
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
# Heads specialise. A simple summary per head: on average over the positions, how much
# weight goes to the token itself, to the one just before it, and to the very first
# token, and how far back the head looks on average. A head that looks at the previous
# token lets every position know which character came before it; heads that pile their
# weight on the first token often use it as a resting place when nothing else matters.

# %%
print("layer head   itself  previous  first  mean distance back")
summary = []
for layer, w in weights.items():
    for h in range(w.shape[0]):
        rows = np.arange(1, T)  # position 0 can only look at itself: leave it out
        on_self = w[h, rows, rows].mean()
        on_prev = w[h, rows, rows - 1].mean()
        on_first = w[h, rows, 0].mean()
        distance = (w[h] * (np.arange(T)[:, None] - np.arange(T)[None, :])).sum(-1)[rows].mean()
        summary.append((layer, h, on_prev))
        print(
            f"  {layer}    {h}     {on_self:5.2f}    {on_prev:5.2f}   {on_first:5.2f}     {distance:5.1f}"
        )
layer, head, best_prev = max(summary, key=lambda r: r[2])
kind = "a 'previous-token head'" if best_prev > 0.5 else "a 'previous-token head' in the making"
print(
    f"-> layer {layer}, head {head} puts the most weight on the previous token ({best_prev:.2f}):"
)
print(f"   {kind}, a pattern found in real GPTs too. Its weights, in full:")

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
# Because of the mask, information only flows forward. Change the last character and
# the model's outputs at every earlier position stay exactly the same; only the last
# one changes:

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
print(f"same as the model's own output: max difference {np.abs(logits - model_logits).max():.1e}")
probs = softmax(logits.astype(np.float64))
order = np.argsort(-logits)
print(f"after {show(text)}, the highest and lowest scores and their probabilities:")
for j in list(order[:5]) + list(order[-2:]):
    print(f"  {show(chars[j]):>6}  score {logits[j]:+6.2f}  ->  probability {probs[j]:.3f}")

# %% [markdown]
# ## 4. Softmax: scores into probabilities
#
# softmax(s)_i = exp(s_i) / sum_j exp(s_j). exp makes every score positive and grows
# fast, so after dividing by the sum the largest scores take almost everything (near
# 1) and the small ones almost nothing (near 0): a "soft" version of picking the
# maximum. Adding the same number to every score changes nothing; multiplying the
# scores by a factor makes the winner win more clearly.

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

# %%
print(f"lesson 6 done in {time.perf_counter() - started:.1f} s")

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
