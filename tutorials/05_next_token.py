# %% [markdown]
# # Lesson 5: predicting the next token
#
# A large language model does one thing, again and again: given the tokens so far, it
# outputs a **probability for every possible next token**. Draw one token from that
# distribution, append it to the text, and ask again. That is all "writing" is for a GPT.
#
# Training is just as simple to state: show the model lots of text and, at every
# position, make the probability it gave to the token that really came next a little
# higher (next-token prediction, with the cross-entropy cost of lesson 4).
#
# This lesson goes from text to tokens, builds the simplest next-token model there is
# (a table of counts), then trains a small GPT that beats it, and finally looks at how
# the next token is drawn: sampling, temperature, top-k and top-p.
#
# Run: `python tutorials/05_next_token.py [--quick]`. Read alongside:
# `tinygrad_edu/tokenizer/`, `tinygrad_edu/models/bigram.py`,
# `tinygrad_edu/models/train_gpt.py` and `GPT.generate` / `sample_next` in
# `tinygrad_edu/models/gpt.py`.

# %%
from __future__ import annotations

import contextlib
import math
import re
import time

import numpy as np

with contextlib.suppress(ImportError):  # a source checkout: teach from *its* package
    import _common  # noqa: F401  (tutorials/_common.py; a notebook on its own has none)

import tinygrad_edu as tg
from tinygrad_edu.data.shakespeare import load_shakespeare
from tinygrad_edu.lessons.common import Lesson, lesson_gpt  # --quick, output folder, figures
from tinygrad_edu.models.bigram import BigramModel
from tinygrad_edu.models.gpt import GPT, sample_next
from tinygrad_edu.tokenizer import BPETokenizer, CharTokenizer, GPT2Tokenizer

lesson = Lesson(
    "05_next_token",
    "Lesson 5: predicting the next token",
    quick_help="a smaller GPT, trained briefly (CI)",
)
args = lesson.args
QUICK = lesson.quick
plt = lesson.plt
started = time.perf_counter()


def show(s: str) -> str:
    """A character or string as Python writes it: a newline shows as '\\n', a space as ' '."""
    return repr(s)


def softmax(scores: np.ndarray) -> np.ndarray:
    """Scores -> probabilities: exponentiate (all positive), divide by the sum (sum 1).
    Subtracting the largest score first changes nothing but keeps exp from overflowing."""
    e = np.exp(scores - scores.max())
    return e / e.sum()


def entropy_bits(p: np.ndarray) -> float:
    """How unsure a distribution is: -sum p log2 p. 0 bits = certain; log2(65) = 6.02
    bits = uniform over 65 characters. 2**H is 'as unsure as a fair choice among 2**H'."""
    p = p[p > 0]
    return max(0.0, float(-(p * np.log2(p)).sum()))  # max: print 0.00, not -0.00


# %% [markdown]
# ## What you may believe after the lecture, and how this lesson checks it
#
# A learner's notes on lecture 5 say four things. Three are checked below by an experiment
# on this lesson's tokenizers and its small GPT, with an outcome (confirmed, partly or
# corrected) computed from the run:
#
# 1. *A large language model generates the next possible word from the input before it*
#    (sections 1 and 5: what is a token, and what does the model give out?).
# 2. *A transformer is attention, forward propagation (the MLP), attention, and so on*
#    (section 4: take the trained GPT apart, layer by layer).
# 3. *In the end it chooses the word that fits the context best and outputs it*
#    (section 6: always taking the top one, against drawing at random).
#
# And a common one: *the model copies what it read* (section 6: look its samples up in
# the training text).
#
# The fourth, *it is trained, then tuned by reinforcement learning from human feedback*,
# is lesson 9's: it trains a reward model on preferences and tunes a GPT with it.
# The last cell lists the outcomes.


# %% [markdown]
# ## 1. Text becomes tokens
#
# A model reads numbers, not letters. A **tokenizer** is the fixed dictionary between the
# two. The simplest one gives every distinct character of the training text its own
# number (its *token id*): tiny Shakespeare has 65 characters, so the model will choose
# among 65 possible next tokens each time.

# %%
text = load_shakespeare()
tok = CharTokenizer.from_text(text)
V = tok.vocab_size
print(f"{len(text):,} characters of Shakespeare, {V} distinct ones (the vocabulary):")
print("  " + show("".join(tok.chars)))
sentence = "First Citizen:"
ids = tok.encode(sentence)
print(f"encode({show(sentence)}) = {ids}    <- one id per character")
print(f"decode(those ids)        = {show(tok.decode(ids))}    <- and back, exactly")

# %% [markdown]
# Real GPTs use **byte pair encoding** (BPE) instead: start from the 256 byte values and
# repeatedly merge the most frequent neighbouring pair into a new token (" t" + "he" ->
# " the"). Frequent words become one token, rare words stay in pieces. Fewer tokens per
# text means more text fits in the model's context. `explain` shows the merges, in the
# order training learned them, applied to one sentence:

# %%
bpe_chars, bpe_vocab = (100_000, 356) if QUICK else (300_000, 512)
bpe = BPETokenizer().train(text[:bpe_chars], vocab_size=bpe_vocab)
print(f"BPE trained on the first {bpe_chars:,} characters: {bpe.vocab_size} tokens")
print(bpe.explain("To be, or not to be: that is the question."))
held_out = text[-20_000:]  # text the BPE never saw
print(
    f"on 20,000 unseen characters: {len(tok.encode(held_out)):,} character tokens, "
    f"{len(bpe.encode(held_out)):,} BPE tokens "
    f"({len(held_out) / len(bpe.encode(held_out)):.2f} characters per BPE token)"
)

# %% [markdown]
# GPT-2 learned its merges the same way, on a large collection of web text: its vocabulary
# is the 256 bytes, its merges, and `<|endoftext|>`, the mark between documents.
# Its vocabulary ships with this package (`tinygrad_edu/data/gpt2/`, OpenAI's files), so
# we can ask how it splits words, numbers, code and other languages, and what a sentence
# costs. `GPT2Tokenizer` in `tinygrad_edu/tokenizer/gpt2.py` is our own reading of it, checked
# id for id against OpenAI's tiktoken. GPT-2's tokens are pieces of *bytes*, not of
# characters: a Chinese character is 3 bytes in UTF-8, and a token holding only part of
# one prints as `�`.

# %%
gpt2 = GPT2Tokenizer.from_bundled()
print(f"GPT-2's vocabulary: {gpt2.vocab_size:,} tokens")
examples = {
    "English": "The quick brown fox jumps over the lazy dog.",
    "a number": "In 1984, 3.14159 and 1,000,000 were typed.",
    "code": "for i in range(10): print(i ** 2)",
    "German": "Die schnelle braune Katze springt über den faulen Hund.",
    "Chinese": "敏捷的棕色狐狸跳过了懒狗。",
}
cost = {}
for name, sentence in examples.items():
    ids = gpt2.encode(sentence)
    pieces = [gpt2.decode([i]) for i in ids]
    cost[name] = len(sentence) / len(ids)
    print(f"{name:>9}: {len(ids):2d} tokens, {cost[name]:.1f} characters per token")
    print(
        "           " + " | ".join(show(p) for p in pieces[:14]) + (" ..." if len(ids) > 14 else "")
    )
lesson.verdict(
    "gpt2_english_is_cheapest",
    cost["English"] > max(cost["German"], cost["Chinese"]),
    "English costs GPT-2 the fewest tokens per character: its merges were learned on "
    "mostly English text, so other languages stay in smaller pieces (and fill the context sooner).",
    "unexpected: here another language costs fewer tokens per character than English.",
)
n_gpt2, n_ours = len(gpt2.encode(held_out)), len(bpe.encode(held_out))
lesson.verdict(
    "gpt2_vocab_is_denser",
    n_gpt2 < n_ours,
    f"on the same 20,000 unseen characters of Shakespeare GPT-2 needs {n_gpt2:,} tokens, our "
    f"{bpe.vocab_size}-token BPE {n_ours:,}: a larger vocabulary packs more text per token.",
    f"unexpected: GPT-2 needs {n_gpt2:,} tokens, our small BPE {n_ours:,}.",
)
print("(the rest of this lesson uses the character tokens: 65 choices are easy to print)")

# %% [markdown]
# ## 2. The task: the next token from the ones before
#
# One piece of text holds many training examples: at every position, the tokens so far
# are the context and the token after them is the answer. A window of 9 characters
# teaches 8 predictions:

# %%
window = tok.encode(text[:9])
for t in range(1, len(window)):
    context, target = window[:t], window[t]
    print(f"  after {show(tok.decode(context)):>12} comes {show(tok.decode([target]))}")

# %% [markdown]
# ## 3. The simplest language model: a table of counts (a bigram model)
#
# Look only at the one previous character. Count, over the training text, how often
# each character follows each other one; divide each row by its total and it becomes a
# probability distribution: P(next | previous). (`BigramModel` in
# `tinygrad_edu/models/bigram.py`; a pseudo-count of 1 in every cell, *smoothing*, keeps
# unseen pairs from getting probability 0.)
#
# As the GPT trainer does, the first 90% of the text is for training and the last 10%
# (validation) is kept aside to measure how well a model does on text it never saw.

# %%
data = np.array(tok.encode(text), dtype=np.int64)
n_train = int(0.9 * len(data))
train_ids, val_ids = data[:n_train], data[n_train:]
bigram = BigramModel(V, smoothing=1.0).fit(train_ids)
print(f"{bigram}  (a {V} x {V} table)")
for prev in ("t", "q"):
    p = bigram.next_token_probs(tok.stoi[prev])
    top = np.argsort(-p)[:5]
    line = "  ".join(f"{show(tok.chars[i])} {p[i]:.3f}" for i in top)
    print(f"after {show(prev)}, the 5 most likely next characters: {line}")
    rest = 1 - p[top[0]]
    print(f"  -> after {show(prev)} the table puts {p[top[0]]:.2f} on {show(tok.chars[top[0]])} "
          f"and spreads {rest:.2f} over the other {V - 1} characters")  # fmt: skip

# %% [markdown]
# **The cost** of a model on a text: for every position, the probability the model gave
# to the character that really came next; take -log of it and average. A perfect model
# pays 0, a model that knows nothing (every character 1/65) pays log 65 = 4.17. This
# *average negative log-likelihood* is the cross-entropy that GPT training lowers, so
# all the numbers below compare directly. exp(cost), the *perplexity*, reads as "as
# unsure as a fair choice among that many characters".

# %%
# In --quick mode the costs are measured on the first 20,000 validation characters.
val_eval = val_ids[:20_001] if QUICK else val_ids
uniform_cost = math.log(V)
bigram_cost = bigram.nll(val_eval)
print(f"cost on {len(val_eval) - 1:,} validation characters (lower is better):")
print(f"  knows nothing (uniform): {uniform_cost:.3f}  (perplexity {math.exp(uniform_cost):5.1f})")
print(f"  bigram table:            {bigram_cost:.3f}  (perplexity {math.exp(bigram_cost):5.1f})")
tg.manual_seed(0)
known_words = set(re.findall(r"[a-z]+", text.lower()))  # every word Shakespeare used


def real_word_share(written: str) -> float:
    """The share of the words in a text that Shakespeare used somewhere."""
    words = re.findall(r"[a-z]+", written.lower())
    return float(np.mean([w in known_words for w in words])) if words else 0.0


print("text sampled from the bigram model, one character at a time:")
bigram_text = tok.decode(bigram.sample(tok.stoi["\n"], 200))
print("  " + show(bigram_text))
print(f"  -> {100 * real_word_share(bigram_text):.0f}% of its words are words Shakespeare used")

if plt is not None:
    letters = [" "] + [chr(c) for c in range(ord("a"), ord("z") + 1)]
    sub = bigram.counts[np.ix_([tok.stoi[c] for c in letters], [tok.stoi[c] for c in letters])]
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.imshow(np.log1p(sub), cmap="Blues")
    labels = ["␣"] + letters[1:]
    ax.set_xticks(range(len(letters)), labels)
    ax.set_yticks(range(len(letters)), labels)
    ax.set(
        xlabel="next character",
        ylabel="previous character",
        title="Bigram counts (log scale): row = previous, column = next",
    )
    lesson.save(fig, "05_bigram_counts")

# %% [markdown]
# ## 4. A small GPT, trained for a short while
#
# The GPT sees up to `block_size` previous characters, not just one. It is trained by
# `tinygrad_edu/models/train_gpt.py`: random windows of the training text, the
# cross-entropy of every position's next character, backpropagation, an AdamW step,
# again and again. Its printed "loss" is the same cost as above, estimated on a few
# random windows. (The trained model is saved in the output folder; lessons 6 and 8
# reuse it, and running this lesson again does not train again.)

# The recipe (sizes, steps, learning rate) and the reuse of a finished run are in
# `lesson_gpt` of `tinygrad_edu/lessons/common.py`, shared with lessons 6 and 8; the
# training loop itself is `train` in `tinygrad_edu/models/train_gpt.py`.

# %%
t0 = time.perf_counter()
model, metrics, cfg = lesson_gpt(lesson)
print(f"{cfg.n_layer} blocks, {cfg.n_head} heads, C = {cfg.n_embd}, context {cfg.block_size}")
print(f"training took {time.perf_counter() - t0:.1f} s")


# %% [markdown]
# Now the GPT's cost on exactly the same validation characters as the bigram's: the
# validation text is cut into windows of `block_size`, and every position of every
# window predicts its next character (the first positions of a window see little
# context, which is fair: so did the bigram).


# %%
@tg.no_grad()
def gpt_cost(model: GPT, ids: np.ndarray, batch: int = 64) -> tuple[float, int]:
    """Mean cross-entropy over non-overlapping windows of ids; also how many targets."""
    T = model.config.block_size
    n_windows = (len(ids) - 1) // T
    starts = np.arange(n_windows) * T
    total = 0.0
    for k in range(0, n_windows, batch):
        rows = starts[k : k + batch, None] + np.arange(T)  # (b, T) positions
        _, loss = model(ids[rows], ids[rows + 1])  # targets: the same windows, one later
        total += loss.item() * rows.size
    return total / (n_windows * T), n_windows * T


gpt_val_cost, n_targets = gpt_cost(model, val_eval)
bigram_same = bigram.nll(val_eval[: n_targets + 1])  # the very same predictions
print(f"cost on {n_targets:,} validation characters:")
print(f"  uniform {uniform_cost:.3f}   bigram {bigram_same:.3f}   GPT {gpt_val_cost:.3f}")
lesson.verdict(
    "gpt_beats_bigram",
    gpt_val_cost < bigram_same,
    f"the GPT ({model.num_parameters() / 1e3:.0f} k parameters, {cfg.max_iters} steps) beats "
    "the bigram table: it uses the longer context",
    f"the GPT ({model.num_parameters() / 1e3:.0f} k parameters, {cfg.max_iters} steps) does "
    "not beat the bigram table yet: train it longer",
)

# %% [markdown]
# **Belief 2: attention, then the MLP, then attention...** Take the trained GPT apart. Each
# block has an attention layer and an MLP, and each *adds* its result to the vector it
# read: x = x + attention(x), then x = x + MLP(x). So the vector that leaves the last block
# is the token's own input vector (its embedding plus its position's) plus every layer's
# contribution: a *residual stream* that every layer reads and writes. We run it layer by
# layer on one window of validation text and measure, at every step, how large the update
# is compared with the stream, and whether input + updates is really what the model computes.

# %%
window_ids = val_eval[None, : cfg.block_size]  # (1, T): one window of validation text
tr = model.transformer
with tg.no_grad():
    x = tr.wte(window_ids) + tr.wpe(np.arange(cfg.block_size))  # (1, T, C): what + where
    steps = []  # (layer kind, |update| / |stream|), in the order the model runs them
    for block in tr.h:
        for kind, ln, sub in (
            ("attention", block.ln_1, block.attn),
            ("MLP", block.ln_2, block.mlp),
        ):
            update = sub(ln(x))  # (1, T, C)
            steps.append((kind, float(np.linalg.norm(update.numpy()) / np.linalg.norm(x.numpy()))))
            x = x + update
    same = np.allclose(tr.ln_f(x).numpy(), model.last_hidden_state(window_ids).numpy(), atol=1e-4)
print("the order the model runs:", " -> ".join(k for k, _ in steps))
print("each layer's update, as a fraction of the stream it is added to:",
      " ".join(f"{r:.2f}" for _, r in steps))  # fmt: skip
print(f"input vector + the {len(steps)} updates, through the final layer norm, is the model's own "
      f"output: {same}")  # fmt: skip
alternates = [k for k, _ in steps] == ["attention", "MLP"] * cfg.n_layer
if not alternates:
    blocks_outcome = "corrected"
else:  # right order; and if each layer only adds to a shared stream, the note misses that
    blocks_outcome = "partly" if same else "confirmed"
lesson.belief(
    "attention_mlp_alternate",
    "A transformer is attention, then forward propagation (an MLP), then attention, and so on.",
    blocks_outcome,
    f"the trained GPT runs {' -> '.join('A' if k == 'attention' else 'M' for k, _ in steps)} "
    f"(A attention, M MLP); each adds its update ({min(r for _, r in steps):.2f}-"
    f"{max(r for _, r in steps):.2f}x the stream's size) to one residual stream: input + updates "
    f"{'reproduces' if same else 'does not reproduce'} the model's output",
    notes=(12,),
)

if plt is not None:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    its = [m["iter"] for m in metrics]
    ax.plot(its, [m["train_loss"] for m in metrics], "o-", label="GPT, training windows")
    ax.plot(its, [m["val_loss"] for m in metrics], "o-", label="GPT, validation windows")
    ax.axhline(bigram_cost, color="k", ls="--", label="bigram table")
    ax.axhline(uniform_cost, color="gray", ls=":", label="uniform (knows nothing)")
    ax.set(xlabel="training step", ylabel="cost (nats per character)", title="Training the GPT")
    ax.legend()
    lesson.save(fig, "05_training")

# %% [markdown]
# ## 5. Generating: sample, append, repeat
#
# The model gives scores (*logits*) for every possible next character at every
# position; for generation only the last position matters. Softmax turns its 65 scores
# into probabilities, one character is *drawn at random* with those probabilities, it is
# appended, and the longer text goes in again. Step by step:

# %%
prompt = "ROMEO:\n"
context = tok.encode(prompt)
tg.manual_seed(lesson.seed + 1)
top_probs, drew_top = [], []  # the likeliest character's probability; was it the one drawn?
with tg.no_grad():
    for _ in range(10):
        logits, _ = model(np.array([context[-model.config.block_size :]]))
        last = logits.data[0, -1]  # (65,) scores for the next character
        p = softmax(last.astype(np.float64))
        top = np.argsort(-p)[:3]
        drawn = int(sample_next(last[None, :])[0])  # one random draw from p
        options = "  ".join(f"{show(tok.chars[i]):>4} {p[i]:.2f}" for i in top)
        shown = show(tok.decode(context[-12:]))
        print(f"  {shown:>16} -> top 3: {options}   drew {show(tok.chars[drawn])}")
        context.append(drawn)
        top_probs.append(p[top[0]])
        drew_top.append(drawn == top[0])

# %% [markdown]
# `model.generate` is this loop, plus a cache of the earlier tokens' keys and values so
# that each step only processes the new token (lesson 7 teaches that cache). Drawing at
# random, not always taking the most likely character, makes every sample different:

# %%
n_new = 150 if QUICK else 300
samples = []
for seed in (1, 2):
    tg.manual_seed(lesson.seed + seed)
    out = model.generate(np.array([tok.encode(prompt)]), n_new)
    samples.append(tok.decode(out[0]))
    print(f"--- sample {seed}:")
    print(samples[-1])

# %% [markdown]
# **Belief 1: the model generates the next word from the words before it.** What is a
# token, for the tokenizers of section 1, and what does the model give out at each step?

# %%
english = examples["English"]
n_words = len(re.findall(r"\S+", english))
pieces_gpt2 = [gpt2.decode([i]) for i in gpt2.encode(examples["a number"])]
print(f"{show(english)}: {n_words} words, {len(tok.encode(english))} character tokens, "
      f"{len(gpt2.encode(english))} GPT-2 tokens")  # fmt: skip
print(f"GPT-2 cuts the numbers into pieces: {' | '.join(show(p) for p in pieces_gpt2)}")
print(f"in the 10 steps above, the likeliest character had probability "
      f"{min(top_probs):.2f}-{max(top_probs):.2f}; it was the one drawn in {sum(drew_top)} of "
      "the 10 steps")  # fmt: skip
tokens_are_words = len(tok.encode(english)) == n_words
a_distribution = max(top_probs) < 0.99
lesson.belief(
    "next_word_from_the_input",
    "A large language model generates the next possible word from the input before it.",
    "partly" if a_distribution and not tokens_are_words else "confirmed",
    f"it predicts the next *token* (here a character: {len(tok.encode(english))} of them for "
    f"{n_words} words; GPT-2 splits '3.14159' into {len(gpt2.encode('3.14159'))}), as a "
    f"probability distribution (top choice {min(top_probs):.2f}-{max(top_probs):.2f}), drawn "
    f"from and fed back: two samples from one prompt "
    f"{'differ' if samples[0] != samples[1] else 'are the same'}",
    notes=(10,),
)

# %% [markdown]
# ## 6. Temperature: sharper or flatter
#
# Before the softmax, the scores are divided by a **temperature** T. Below 1 the
# differences between scores grow, so the likely characters get likelier (safer, more
# repetitive text); above 1 they shrink, so unlikely characters get a chance (more
# surprising, more mistakes). T = 0 means "always the most likely one" (greedy).
# Watch the entropy (how unsure the distribution is, in bits) and the samples:

# %%
prompt = "To be, or not to "
prompt_ids = np.array([tok.encode(prompt)])
with tg.no_grad():
    logits, _ = model(prompt_ids)
scores = logits.data[0, -1].astype(np.float64)  # (65,)
temperatures = (0.0, 0.5, 1.0, 1.5)
dists = {}
n_new = 80 if QUICK else 160
real_words, entropies = {}, {}
for T in temperatures:
    if T == 0:
        p = np.zeros(V)
        p[scores.argmax()] = 1.0  # greedy: all the probability on the highest score
    else:
        p = softmax(scores / T)
    dists[T] = p
    top = np.argsort(-p)[:3]
    best = "  ".join(f"{show(tok.chars[i])} {p[i]:.2f}" for i in top)
    print(f"T = {T}: entropy {entropy_bits(p):.2f} bits, top 3 after {show(prompt)}: {best}")
    tg.manual_seed(lesson.seed)
    out = model.generate(prompt_ids, n_new, temperature=T)
    written = tok.decode(out[0])[len(prompt) :]
    real_words[T] = real_word_share(written)
    entropies[T] = entropy_bits(p)
    print("   " + show(tok.decode(out[0])) + f"   ({100 * real_words[T]:.0f}% real words)")
print("(a demonstration, not a finding: dividing the scores by a larger T always flattens the")
print(" softmax, so the entropy grows with T for any scores that are not all equal)")

# %% [markdown]
# Does a hot sample invent more words? One short sample says little, so we draw five at
# T = 0.5 and five at T = 1.5 from the same prompt and count the words Shakespeare used.

# %%
share = {}
for T in (0.5, 1.5):
    texts = []
    for k in range(5):
        tg.manual_seed(lesson.seed * 10 + k)
        texts.append(tok.decode(model.generate(prompt_ids, n_new, temperature=T)[0])[len(prompt) :])
    share[T] = real_word_share(" ".join(texts))
    print(f"T = {T}: {100 * share[T]:.0f}% of the words in 5 samples are real")
lesson.verdict(
    "hot_sampling_invents_words",
    share[1.5] < share[0.5],
    f"at T = 1.5 {100 * share[1.5]:.0f}% of the words are real, at T = 0.5 "
    f"{100 * share[0.5]:.0f}%: a hot sample invents more words",
    f"at T = 1.5 {100 * share[1.5]:.0f}% of the words are real, at T = 0.5 "
    f"{100 * share[0.5]:.0f}%: these samples do not show hot sampling inventing more words",
)

# %% [markdown]
# **Belief 3: the model chooses the most fitting word and outputs it.** That would be
# T = 0, *greedy* decoding: always the top character. Generate 200 characters from three
# prompts, greedily and by sampling at T = 1, and measure two things: *repetition*, the
# share of the text's 8-character pieces that already occurred earlier in it (a loop
# repeats them all), and *diversity*, how many different texts three draws from the same
# prompt give. (The texts print their last 60 characters.)


# %%
def repeated_share(written: str, n: int = 8) -> float:
    """The share of the n-character pieces of a text that already occurred earlier in it."""
    grams = [written[i : i + n] for i in range(len(written) - n + 1)]
    seen, repeats = set(), 0
    for g in grams:
        repeats += g in seen
        seen.add(g)
    return repeats / max(len(grams), 1)


greedy_rep, sampled_rep, n_distinct, sampled_texts = [], [], {}, []
for j, start in enumerate(("ROMEO:\n", "To be, or not to ", "The king ")):
    ids = np.array([tok.encode(start)])
    for T, reps in ((0.0, greedy_rep), (1.0, sampled_rep)):
        texts = []
        for k in range(3):
            tg.manual_seed(lesson.seed * 100 + j * 10 + k)  # other draws for every prompt
            texts.append(tok.decode(model.generate(ids, 200, temperature=T)[0])[len(start) :])
        reps.extend(repeated_share(t) for t in texts)
        if T == 1.0:
            sampled_texts.extend(texts)
        n_distinct.setdefault(T, []).append(len(set(texts)))
        print(f"{show(start):>20} {'greedy ' if T == 0 else 'sampled'}: {show(texts[0][-60:])}")
print(f"repeated 8-character pieces: greedy {100 * np.mean(greedy_rep):.0f}%, "
      f"sampled {100 * np.mean(sampled_rep):.0f}%")  # fmt: skip
print(
    f"different texts from 3 draws per prompt: greedy {n_distinct[0.0]}, sampled {n_distinct[1.0]}"
)
lesson.verdict(
    "greedy_repeats_itself",
    np.mean(greedy_rep) > np.mean(sampled_rep) + 0.2,
    f"greedy text repeats itself ({100 * np.mean(greedy_rep):.0f}% of its 8-character pieces "
    f"are repeats, {100 * np.mean(sampled_rep):.0f}% when sampling): the top choice, again and "
    "again, falls into a loop",
    f"greedy text repeated itself about as much as sampled text ({100 * np.mean(greedy_rep):.0f}% "
    f"against {100 * np.mean(sampled_rep):.0f}%)",
)
lesson.belief(
    "choose_the_top_word",
    "In the end the model chooses the word that fits the context best and outputs it.",
    "partly" if np.mean(greedy_rep) > np.mean(sampled_rep) + 0.2 else "confirmed",
    f"it gives probabilities and a sampler draws from them; always taking the top one repeats "
    f"{100 * np.mean(greedy_rep):.0f}% of 8-character pieces (sampling {100 * np.mean(sampled_rep):.0f}%) "
    f"and gives {max(n_distinct[0.0])} different text(s) in 3 draws per prompt, sampling "
    f"{min(n_distinct[1.0])}",
    notes=(13,),
)

# %% [markdown]
# **A common belief: the model copies what it read.** Take the nine sampled texts above and
# look up every 8-character piece of them in the training text; for comparison, do the
# same with real Shakespeare the model never saw (the validation text):

# %%
train_text = text[:n_train]  # the characters the GPT was trained on
pieces = [t[i : i + 8] for t in sampled_texts for i in range(0, len(t) - 7, 4)]
unseen = text[n_train : n_train + sum(len(t) for t in sampled_texts)]
real_pieces = [unseen[i : i + 8] for i in range(0, len(unseen) - 7, 4)]
copied = float(np.mean([p in train_text for p in pieces]))
real_found = float(np.mean([p in train_text for p in real_pieces]))
print(f"{100 * copied:.0f}% of {len(pieces)} 8-character pieces of the samples occur in the "
      f"training text; of real, unseen Shakespeare: {100 * real_found:.0f}%")  # fmt: skip
lesson.belief(
    "model_copies_its_text",
    "A language model copies sentences from the text it was trained on.",
    "corrected" if copied < real_found else "partly",
    f"{100 * copied:.0f}% of {len(pieces)} 8-character pieces of nine samples occur in its "
    f"training text, {'fewer' if copied < real_found else 'no fewer'} than of real unseen "
    f"Shakespeare ({100 * real_found:.0f}%)"
    + (": it writes new text from the distribution it learned" if copied < real_found else ""),
)

if plt is not None:
    fig, axes = plt.subplots(1, len(temperatures), figsize=(13, 3), sharey=True)
    order = np.argsort(-dists[1.0])[:12]  # the 12 likeliest characters at T = 1
    for ax, T in zip(axes, temperatures):
        ax.bar(range(len(order)), dists[T][order])
        ax.set_xticks(range(len(order)), [tok.chars[i].replace(" ", "␣") for i in order])
        ax.set(title=f"T = {T}", ylim=(0, 1), xlabel="next character")
    axes[0].set_ylabel(f"P(next | {prompt!r})")
    lesson.save(fig, "05_temperature")

# %% [markdown]
# ## 7. Top-k and top-p: never draw the long tail
#
# Even a good model leaves a little probability on many bad characters, and drawn often
# enough, one of them will come up. Two common cures, applied before drawing:
# **top-k** keeps only the k likeliest tokens; **top-p** (nucleus sampling) keeps the
# smallest set of likeliest tokens whose probabilities add up to p. The kept
# probabilities are rescaled to sum to 1. (`sample_next` in `models/gpt.py`.)

# %%
p = dists[1.0]
sorted_p = np.sort(p)[::-1]
n_top_p = int(np.searchsorted(np.cumsum(sorted_p), 0.9) + 1)
print(f"at T = 1 after {show(prompt)}:")
print(
    f"  top-k, k = 5:   keeps 5 of {V} characters, holding {sorted_p[:5].sum():.2f} of the probability"
)
print(f"  top-p, p = 0.9: keeps the {n_top_p} likeliest, holding {sorted_p[:n_top_p].sum():.2f}")
for label, kw in (("top_k=5", {"top_k": 5}), ("top_p=0.9", {"top_p": 0.9})):
    tg.manual_seed(0)
    out = model.generate(prompt_ids, n_new, **kw)
    print(f"  {label:9}: " + show(tok.decode(out[0])))

# %% [markdown]
# ## 8. From a text predictor to a chatbot
#
# What we trained is a *pretrained* model: it continues text in the style of what it
# read. A chatbot is the same kind of model, pretrained on vastly more text, and then
# **fine-tuned**: first on example conversations, then with **reinforcement learning from
# human feedback** (RLHF): people rank several answers, a reward model learns their
# preferences, and the language model is nudged to produce answers that score well.
# Lesson 9 does that on a small scale. Lesson 6 looks inside the model we just trained.

# %%
print(f"lesson 5 done in {time.perf_counter() - started:.1f} s")

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
#     tinygrad-edu exercises check ex bpe_merge_step top_p_filter
#
# - `bpe_merge_step`: one byte-pair-encoding merge: find the commonest pair, merge it
# - `top_p_filter`: top-p (nucleus) filtering before sampling
#
# Each file's docstring gives the idea, the math, the shapes and a hint; `check` says
# passed, not started, or the first input where your answer differs from the library's.
