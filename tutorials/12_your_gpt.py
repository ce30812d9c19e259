# %% [markdown]
# # Lesson 12 (capstone): your own GPT, on your own text
#
# Everything of lessons 5-9, on a text you choose: train a character-level GPT, check that
# it beats the simplest model there is, read its samples, look inside it for the head and
# the neuron that lessons 6 and 8 found in theirs, and then steer it towards a preference
# you state in one line, with the DPO of lesson 9.
#
# Run: `python tutorials/12_your_gpt.py --data FILE [--prefer "lines that mention God"]`.
# FILE is any UTF-8 text of at least 50 kB, in any script: the tokenizer gives every
# character that occurs in it its own token. Without `--data` the lesson uses the Book of
# Genesis that ships with the package (`load_genesis` in `tinygrad_edu/data/genesis.py`).
#
# Read alongside: `train` in `tinygrad_edu/models/train_gpt.py`, `BigramModel` in
# `tinygrad_edu/models/bigram.py`, `inspect` in `tinygrad_edu/models/gpt_inspect.py` and
# `dpo_step` in `tinygrad_edu/rlhf.py`.

# %%
from __future__ import annotations

import contextlib
import hashlib
import math
import re
import time
from pathlib import Path

import numpy as np

with contextlib.suppress(ImportError):  # a source checkout: teach from *its* package
    import _common  # noqa: F401  (tutorials/_common.py; a notebook on its own has none)

import tinygrad_edu as tg
from tinygrad_edu import rlhf
from tinygrad_edu.data.genesis import SOURCE, load_genesis
from tinygrad_edu.data.shakespeare import read_text_file
from tinygrad_edu.lessons.common import Lesson
from tinygrad_edu.models.bigram import BigramModel
from tinygrad_edu.models.gpt import GPT
from tinygrad_edu.models.gpt_inspect import inspect
from tinygrad_edu.models.train_gpt import TrainConfig, train
from tinygrad_edu.tokenizer import load_tokenizer

DEFAULT_PREFERENCE = "shorter lines"
MIN_BYTES = 50_000


def add_arguments(parser) -> None:
    parser.add_argument(
        "--data", metavar="FILE", default=None,
        help=f"your text: UTF-8, at least {MIN_BYTES // 1000} kB (default: the Book of Genesis)",
    )  # fmt: skip
    parser.add_argument(
        "--prefer", metavar="RULE", default=DEFAULT_PREFERENCE,
        help='the preference DPO steers towards, in one line: "lines that end with a question '
        'mark", "lines that mention WORD", "shorter lines", "longer lines" '
        f"(default: {DEFAULT_PREFERENCE!r})",
    )  # fmt: skip


lesson = Lesson(
    "12_your_gpt",
    "Lesson 12 (capstone): your own GPT, on your own text",
    quick_help="a smaller GPT, trained briefly (CI)",
    add_arguments=add_arguments,
)
args = lesson.args
QUICK = lesson.quick
plt = lesson.plt
SEED = lesson.seed
started = time.perf_counter()


def show(s: str) -> str:
    """A character or string as Python writes it: a newline shows as '\\n'."""
    return repr(s)


# %% [markdown]
# ## What you may believe, and how this lesson checks it
#
# Two of the learner's notes, checked again on *your* text:
#
# 1. *The weights are the ones to train, not the data*: the trained weights are a fixed
#    set of numbers that then process any text, including text they never saw
#    (section 2).
# 2. *In the end the model chooses the word that fits best and outputs it*: always taking
#    the top choice, against drawing at random (section 3).

# %% [markdown]
# ## 1. Your preference, and your text
#
# The preference is read first, so that a rule this lesson cannot measure is refused at
# once. It understands four kinds of rule, judged on the characters
# the model writes after a prompt: lines that *end with* a mark or word (that mark and
# then a line break occur), lines that *mention* a word, *shorter* lines (a line ends
# within the completion) and *longer* lines (none does).

# %%
MARKS = {
    "a question mark": "?", "question mark": "?", "question marks": "?",
    "an exclamation mark": "!", "exclamation mark": "!", "a full stop": ".",
    "full stop": ".", "a period": ".", "period": ".", "a colon": ":", "colon": ":",
    "a semicolon": ";", "semicolon": ";", "a comma": ",", "comma": ",",
}  # fmt: skip


def parse_preference(line: str) -> tuple[str, str, object]:
    """One line -> (description, kind, target); SystemExit with the forms understood."""
    s = line.strip().rstrip(".").strip()
    s = re.sub(r"^(?:i )?prefer(?:s)?\s+", "", s, flags=re.I)
    s = re.sub(r"^(?:lines?|text|samples?)\s+(?:that|which)\s+", "", s, flags=re.I)
    m = re.fullmatch(r"(?:end|ends|ending)\s+(?:with|in)\s+(.+)", s, flags=re.I)
    if m:
        what = m.group(1).strip().strip("'\"")
        mark = MARKS.get(what.lower(), what)
        if mark:
            return f"lines that end with {mark!r}", "ends", mark
    m = re.fullmatch(
        r"(?:mention|mentions|mentioning|contain|contains|containing)\s+(?:the word\s+)?(.+)",
        s, flags=re.I,
    )  # fmt: skip
    if m and m.group(1).strip().strip("'\""):
        word = m.group(1).strip().strip("'\"")
        return f"lines that mention {word!r}", "mentions", word
    if re.fullmatch(r"(?:(?:the\s+)?shorter|short)\s+lines?|lines?\s+(?:that\s+are\s+)?shorter", s, re.I):  # fmt: skip
        return "shorter lines", "shorter", None
    if re.fullmatch(r"(?:(?:the\s+)?longer|long)\s+lines?|lines?\s+(?:that\s+are\s+)?longer", s, re.I):  # fmt: skip
        return "longer lines", "longer", None
    raise SystemExit(
        f"12_your_gpt: cannot measure the preference {line!r}: say 'lines that end with X', "
        "'lines that mention WORD', 'shorter lines' or 'longer lines'"
    )


PREFERENCE, KIND, TARGET = parse_preference(args.prefer)


def score(written: str) -> float:
    """How much a completion has of what the preference asks for (higher = preferred)."""
    if KIND == "ends":
        return float(written.count(TARGET + "\n"))
    if KIND == "mentions":
        return float(len(re.findall(r"(?<!\w)" + re.escape(TARGET) + r"(?!\w)", written)))
    line_ends = float(written.count("\n"))
    return line_ends if KIND == "shorter" else -line_ends


def meets(written: str) -> bool:
    """Does the completion meet the rule?"""
    if KIND == "longer":
        return "\n" not in written
    return score(written) >= 1


print(f"preference: {PREFERENCE}")

# %% [markdown]
# A text is refused, with one line saying why, if it is not UTF-8, holds NUL bytes (a
# binary file), or is smaller than 50 kB: a GPT needs more than that to learn anything a
# table of counts does not already know. The last 10% is kept aside (held out): the
# model never trains on it, and every comparison below is made on it.


# %%
def read_your_text(path: str) -> str:
    """The text of path, or SystemExit with one line saying why it cannot be used."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise SystemExit(f"12_your_gpt: cannot read {path}: {exc.strerror or exc}") from None
    if b"\0" in raw:
        raise SystemExit(f"12_your_gpt: {path} holds NUL bytes: a binary file, not a text")
    try:
        text = read_text_file(path)  # UTF-8, not empty (the trainer's own check)
    except (ValueError, OSError) as exc:
        raise SystemExit(f"12_your_gpt: {str(exc).splitlines()[0]}") from None
    if len(raw) < MIN_BYTES:
        raise SystemExit(
            f"12_your_gpt: {path} has {len(raw):,} bytes; give at least {MIN_BYTES:,} "
            "(about 50 kB of text) for a GPT to learn from"
        )
    return text


if args.data is None:
    text = load_genesis()
    print(f"no --data given: {SOURCE}")
    # the trainer reads a file: the text goes into the output folder, under our own name
    data_path = lesson.out / "12_genesis_kjv.txt"
    if data_path.is_symlink():
        raise SystemExit(f"12_your_gpt: {data_path} is a link; not writing through it")
    if not (data_path.is_file() and data_path.read_text(encoding="utf-8") == text):
        data_path.write_text(text, encoding="utf-8")
else:
    text = read_your_text(args.data)
    data_path = Path(args.data)
    print(f"your text: {args.data}")


# %% [markdown]
# ## 2. Train a GPT, and beat a table of counts
#
# `train` is the loop of lesson 5 (and of the `train-gpt` command), run on your text into
# the output folder; a second run finds the finished model there and does not train again.
# The baseline is the bigram table of lesson 5: the probability of the next character
# given only the one before, counted on the same 90%.

# %%
PROMPT_LEN, NEW_TOKENS = 16, 48  # characters of prompt, characters the model writes
if QUICK:
    recipe = dict(n_layer=3, n_head=4, n_embd=96, batch_size=16, max_iters=1000)
    recipe.update(learning_rate=3e-3, warmup_iters=50)
else:
    recipe = dict(n_layer=4, n_head=4, n_embd=128, batch_size=16, max_iters=3000)
    recipe.update(learning_rate=2e-3, warmup_iters=100)
digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]  # another text, another folder
run_name = "12_gpt_{n_layer}x{n_embd}_{max_iters}it".format(**recipe) + f"_{digest}_seed{SEED}"
cfg = TrainConfig(
    data=str(data_path),
    out=str(lesson.out / run_name),
    block_size=PROMPT_LEN + NEW_TOKENS,  # 64: the longest text it will be given
    eval_interval=recipe["max_iters"],
    eval_iters=5,
    progress=False,
    seed=1337 + SEED,
    **recipe,
)
t0 = time.perf_counter()
try:
    metrics = train(cfg, log=lambda line: print("  " + line))
except ValueError as exc:  # e.g. a folder of that name that is not a training run
    raise SystemExit(f"12_your_gpt: {str(exc).splitlines()[0]}") from None
model = GPT.from_pretrained(cfg.out)
model.eval()
tok = load_tokenizer(str(Path(cfg.out) / "tokenizer.json"))
V = tok.vocab_size
print(
    f"{len(text):,} characters, {V} distinct (the vocabulary); a GPT of "
    f"{model.num_parameters() / 1e3:.0f} k parameters, {cfg.n_layer} blocks, trained "
    f"{cfg.max_iters} steps ({time.perf_counter() - t0:.1f} s)"
)

data = np.asarray(tok.encode(text), dtype=np.int64)
n_train = int(len(data) * (1 - cfg.val_fraction))  # the trainer's own split
train_ids, val_ids = data[:n_train], data[n_train:]
T = cfg.block_size


@tg.no_grad()
def gpt_cost(ids: np.ndarray, batch: int = 64) -> tuple[float, int]:
    """Mean cross-entropy of the GPT over non-overlapping windows of ids; how many targets."""
    starts = np.arange((len(ids) - 1) // T) * T
    total = 0.0
    for k in range(0, len(starts), batch):
        rows = starts[k : k + batch, None] + np.arange(T)
        _, loss = model(ids[rows], ids[rows + 1])
        total += loss.item() * rows.size
    return total / (len(starts) * T), len(starts) * T


bigram = BigramModel(V, smoothing=1.0).fit(train_ids)
gpt_val, n_targets = gpt_cost(val_ids)
bigram_val = bigram.nll(val_ids[: n_targets + 1])  # the very same predictions
gpt_train, _ = gpt_cost(train_ids[: len(val_ids)])  # as many training characters
print(f"cost per character on {n_targets:,} held-out characters (lower is better):")
print(f"  uniform {math.log(V):.3f}   bigram {bigram_val:.3f}   GPT {gpt_val:.3f}")
lesson.verdict(
    "gpt_beats_bigram",
    gpt_val < bigram_val - 0.05,
    f"the GPT beats the bigram table on text it never saw ({gpt_val:.3f} against "
    f"{bigram_val:.3f}): it uses more than the one previous character",
    f"the GPT ({gpt_val:.3f}) does not clearly beat the bigram table ({bigram_val:.3f}) on "
    "the held-out text: train it longer (run without --quick)",
)

# %% [markdown]
# **Belief 1: the weights are the ones to train, not the data.** The trained weights are a
# fixed list of numbers, as many whatever the text's length. The held-out tenth is text
# these weights never saw: do they process it about as well as the text they trained on?
# (A model that had stored its text would do far better on that text than on new text.)

# %%
fingerprint = hashlib.sha256(b"".join(p.data.tobytes() for p in model.parameters())).hexdigest()
gpt_cost(val_ids)  # read the unseen text once more
unchanged = (
    fingerprint
    == hashlib.sha256(b"".join(p.data.tobytes() for p in model.parameters())).hexdigest()
)
gap = gpt_val - gpt_train
print(
    f"{model.num_parameters():,} weights; cost on training text {gpt_train:.3f}, on unseen "
    f"text {gpt_val:.3f} (gap {gap:+.3f}); weights unchanged by reading: {unchanged}"
)
generalises = unchanged and gpt_val < bigram_val and gap < 0.25
lesson.belief(
    "your_weights_not_data",
    "The weights are what is trained; the same weights then process any text, not only "
    "the text they were trained on.",
    "confirmed" if generalises else "partly",
    f"{model.num_parameters():,} fixed weights, unchanged by reading, cost {gpt_val:.3f} per "
    f"character on text they never saw against {gpt_train:.3f} on their training text "
    f"(the bigram: {bigram_val:.3f})",
    notes=(16,),
)

# %% [markdown]
# ## 3. Samples
#
# Three samples of 200 characters, each from the start of a line (a line break as the
# prompt). Lesson 5 explains the sampling: draw the next character from the model's
# probabilities, append it, and ask again.

# %%
newline = tok.encode("\n") if "\n" in text else tok.encode(text[0])
for k in range(3):
    tg.manual_seed(1000 * SEED + k)
    out = model.generate(np.array([newline]), 200)
    print(f"--- sample {k + 1}:")
    print(tok.decode(out[0].tolist()).strip("\n"))

# %% [markdown]
# **Belief 2: the model chooses the word that fits best and outputs it.** That would be
# greedy decoding: always the top character. Three prompts from the held-out text, 200
# characters each, greedily and by sampling; *repetition* is the share of the text's
# 8-character pieces that already occurred earlier in it.


# %%
def repeated_share(written: str, n: int = 8) -> float:
    grams = [written[i : i + n] for i in range(len(written) - n + 1)]
    seen, repeats = set(), 0
    for g in grams:
        repeats += g in seen
        seen.add(g)
    return repeats / max(len(grams), 1)


greedy_rep, sampled_rep = [], []
for j in range(3):
    start = val_ids[j * 1000 : j * 1000 + PROMPT_LEN][None, :]
    for temperature, reps in ((0.0, greedy_rep), (1.0, sampled_rep)):
        tg.manual_seed(100 * SEED + j)
        written = tok.decode(
            model.generate(start, 200, temperature=temperature)[0, PROMPT_LEN:].tolist()
        )
        reps.append(repeated_share(written))
        if j == 0:
            print(f"{'greedy ' if temperature == 0 else 'sampled'}: {show(written[-80:])}")
g_rep, s_rep = float(np.mean(greedy_rep)), float(np.mean(sampled_rep))
print(f"repeated 8-character pieces: greedy {g_rep:.0%}, sampled {s_rep:.0%}")
lesson.belief(
    "your_greedy_choice",
    "In the end the model chooses the word that fits the context best and outputs it.",
    "partly" if g_rep > s_rep + 0.2 else "confirmed",
    f"the model gives probabilities and a sampler draws from them; always taking the top "
    f"character repeats {g_rep:.0%} of 8-character pieces on this text, sampling {s_rep:.0%}",
    notes=(13,),
)

# %% [markdown]
# ## 4. Inside: a previous-token head and a selective neuron
#
# Lesson 6 found a head that looks at the previous character; lesson 8 found neurons that
# fire for one kind of character. `inspect` hooks the model during one forward pass over
# 64 held-out windows and keeps every block's attention weights and MLP neurons.
#
# A head that spread its weight evenly over the past would give the previous token
# 1/(i+1) at position i: the bar the best head has to beat.

# %%
rng = np.random.default_rng(SEED)
starts = rng.integers(0, len(val_ids) - T, 64)
windows = val_ids[starts[:, None] + np.arange(T)]  # (64, T) held-out characters
with tg.no_grad(), inspect(model) as probe:
    model(windows)
rows = np.arange(1, T)  # position 0 can only look at itself
heads = []
for layer, w in enumerate(probe.attention):  # (64, n_head, T, T)
    for h in range(w.shape[1]):
        heads.append((float(w[:, h, rows, rows - 1].mean()), layer, h))
best_prev, layer, head = max(heads)
even_prev = float(np.mean(1.0 / (rows + 1)))
print("previous-token share per head: " + ", ".join(f"{l}.{h} {s:.2f}" for s, l, h in heads))
lesson.verdict(
    "a_head_prefers_previous_token",
    best_prev > 2 * even_prev,
    f"layer {layer}, head {head} puts {best_prev:.2f} of its weight on the previous character, "
    f"{best_prev / even_prev:.1f} times the even share {even_prev:.2f}: a previous-token head",
    f"no head singles out the previous character: the best gives it {best_prev:.2f}, against "
    f"the even share {even_prev:.2f}",
)

# %% [markdown]
# For the neurons, lesson 8's measure: for a neuron and a character, pick one position
# holding that character and one holding another, at random; how often is the neuron more
# active on the first? (The ROC AUC: 0.5 = it cannot tell them apart, 1 = always.) Each
# neuron gets its best character. Picking the best of many neurons and characters flatters
# it, so the fair bar is the best neuron of an untrained GPT of the same shape, picked the
# same way on the same windows. Only characters with at least 20 positions count.


# %%
def char_auc(acts: np.ndarray, ids: np.ndarray, min_count: int = 20) -> np.ndarray:
    """(V, neurons): for every character and neuron, P(more active on that character)."""
    N = len(ids)
    ranks = acts.argsort(0).argsort(0).astype(np.float64) + 1  # (N, neurons), 1 = lowest
    onehot = np.zeros((N, V))
    onehot[np.arange(N), ids] = 1.0
    n_c = onehot.sum(0)[:, None]  # (V, 1)
    rank_sums = onehot.T @ ranks  # (V, neurons)
    auc = (rank_sums - n_c * (n_c + 1) / 2) / np.maximum(n_c * (N - n_c), 1)
    auc[(n_c[:, 0] < min_count) | (n_c[:, 0] == N)] = 0.0  # too rare (or everything)
    return auc


def best_neuron(m: GPT, chars: np.ndarray) -> tuple[float, int, int, int, np.ndarray]:
    """The MLP neuron most selective for one value of chars (64, T), over the windows:
    (auc, layer, neuron, character, its activations)."""
    with tg.no_grad(), inspect(m) as pr:
        m(windows)
    best = None
    for L, a in enumerate(pr.mlp_act):
        acts = a[:, 1:].reshape(-1, a.shape[-1])  # (64 (T - 1), 4C): positions with a past
        auc = char_auc(acts, chars[:, 1:].reshape(-1))
        c, j = np.unravel_index(auc.argmax(), auc.shape)
        if best is None or auc[c, j] > best[0]:
            best = (float(auc[c, j]), L, int(j), int(c), acts[:, j])
    return best


previous = np.concatenate([windows[:, :1], windows[:, :-1]], 1)  # the character before
tg.manual_seed(SEED + 7)
untrained = GPT(model.config)  # the same shape, never trained
untrained.eval()
auc_now, nL, nj, nc, nacts = best_neuron(model, windows)
auc_now_untrained = best_neuron(untrained, windows)[0]
flat = windows[:, 1:].reshape(-1)
means = {c: float(nacts[flat == c].mean()) for c in np.unique(flat) if (flat == c).sum() >= 5}
top = sorted(means, key=means.get, reverse=True)[:5]
print(
    f"block {nL}, neuron {nj}: the most selective for the character it reads, "
    f"{show(tok.decode([nc]))} (AUC {auc_now:.3f}; the untrained GPT's best {auc_now_untrained:.3f})"
)
print("  it fires most on: " + ", ".join(f"{show(tok.decode([c]))} {means[c]:+.2f}" for c in top))
print(f"  and on average {float(nacts.mean()):+.2f} over all {len(flat):,} positions")

# %% [markdown]
# An untrained GPT's neurons already tell characters apart: each character enters as its
# own random vector. The *context* is another matter: to fire for the character *before*,
# a neuron needs attention that brings it over, which only training gives. So the verdict
# asks the same of the character one position back, trained against untrained. Both come
# near an AUC of 1 (the best of thousands of neurons and characters is flattered), so the
# verdict compares how often each is *wrong*: the trained neuron must be wrong at most
# half as often as the untrained GPT's best.

# %%
auc_ctx, cL, cj, cc, _ = best_neuron(model, previous)
auc_ctx_untrained = best_neuron(untrained, previous)[0]
print(
    f"block {cL}, neuron {cj} fires after {show(tok.decode([cc]))}: AUC {auc_ctx:.3f} "
    f"(the untrained GPT's best for any previous character {auc_ctx_untrained:.3f})"
)
lesson.verdict(
    "a_neuron_reads_the_context",
    1.0 - auc_ctx < 0.5 * (1.0 - auc_ctx_untrained),
    f"training made a neuron that reads the context: block {cL}, neuron {cj} tells whether "
    f"the previous character was {show(tok.decode([cc]))} {auc_ctx:.1%} of the time, "
    f"wrong {1 - auc_ctx:.1%} of the time against the untrained GPT's best "
    f"{1 - auc_ctx_untrained:.1%}",
    f"no trained neuron reads the previous character clearly better: wrong "
    f"{1 - auc_ctx:.1%} of the time, the untrained GPT's best {1 - auc_ctx_untrained:.1%} "
    f"(it would need half of that at most)",
)

# %% [markdown]
# ## 5. Steer it: DPO on your preference
#
# Lesson 9's recipe without the people: for each of many prompts (16 characters of the
# training text), the model writes four completions of 48 characters; the rule judges
# them, and the one it likes most and the one it likes least become a pair (chosen,
# rejected), if the rule tells them apart. DPO then makes the chosen completions more
# likely than the frozen reference model finds them, and the rejected ones less, with
# nothing else than the pairs. The measure is on *fresh* samples from new prompts: the
# share of completions meeting the rule, before and after.

# %%
N_PROMPTS, PER_PROMPT, N_EVAL = (768, 4, 512) if QUICK else (2048, 4, 1024)
DPO_EPOCHS, BATCH, DPO_BETA, DPO_LR = (2, 32, 0.5, 3e-4) if QUICK else (3, 32, 0.5, 2e-4)


def random_prompts(n: int) -> np.ndarray:
    s = rng.integers(0, len(train_ids) - PROMPT_LEN, n)
    return train_ids[s[:, None] + np.arange(PROMPT_LEN)]


def completions(ids: np.ndarray) -> list[str]:
    return [tok.decode(row[PROMPT_LEN:].tolist()) for row in ids]


reference = rlhf.frozen_copy(model)
t0 = time.perf_counter()
prompts = random_prompts(N_PROMPTS)
tg.manual_seed(10 * SEED + 1)
drawn = np.stack([reference.generate(prompts, NEW_TOKENS) for _ in range(PER_PROMPT)], 1)
scores = np.array([[score(w) for w in completions(d)] for d in drawn])  # (prompts, 4)
keep = scores.max(1) > scores.min(1)
chosen = drawn[np.arange(N_PROMPTS), scores.argmax(1)][keep]
rejected = drawn[np.arange(N_PROMPTS), scores.argmin(1)][keep]
print(
    f"{N_PROMPTS} prompts x {PER_PROMPT} completions: {len(chosen)} pairs the rule tells "
    f"apart ({time.perf_counter() - t0:.1f} s)"
)
for c, r in zip(completions(chosen[:2]), completions(rejected[:2])):
    print(f"  chosen {show(c)}\n  rejected {show(r)}")

eval_prompts = random_prompts(N_EVAL)  # new prompts, the same before and after


def share_meeting(m: GPT) -> float:
    tg.manual_seed(10 * SEED + 3)
    return float(np.mean([meets(w) for w in completions(m.generate(eval_prompts, NEW_TOKENS))]))


before = share_meeting(reference)
policy = GPT.from_pretrained(cfg.out)
optimizer = tg.optim.Adam(policy.parameters(), lr=DPO_LR)
t0 = time.perf_counter()
for epoch in range(DPO_EPOCHS if len(chosen) >= BATCH else 0):
    order = rng.permutation(len(chosen))
    stats = [
        rlhf.dpo_step(policy, reference, chosen[b], rejected[b], PROMPT_LEN, optimizer, DPO_BETA)
        for b in (order[k : k + BATCH] for k in range(0, len(order) - BATCH + 1, BATCH))
    ]
    print(
        f"  DPO epoch {epoch + 1}: loss {np.mean([s['loss'] for s in stats]):.3f}, pairs ranked "
        f"right {np.mean([s['accuracy'] for s in stats]):.2f}"
    )
print(f"DPO took {time.perf_counter() - t0:.1f} s")
policy.eval()
after = share_meeting(policy)
pooled = (before + after) / 2
noise = math.sqrt(max(pooled * (1 - pooled), 1e-12) * 2 / N_EVAL)  # the difference's std
print(
    f"{PREFERENCE}: {before:.1%} of {N_EVAL} fresh completions before DPO, {after:.1%} after "
    f"(chance alone moves it by about {noise:.1%})"
)
lesson.verdict(
    "dpo_shifts_towards_preference",
    after > before + 3 * noise and after > before + 0.05,
    f"DPO steered the model: {before:.0%} -> {after:.0%} of fresh completions are {PREFERENCE}, "
    "learned from the pairs alone",
    f"DPO did not move the share of {PREFERENCE} clearly beyond chance ({before:.1%} -> "
    f"{after:.1%}): "
    + (
        f"only {len(chosen)} pairs; a rule that the model's samples rarely meet gives few"
        if len(chosen) < 4 * BATCH
        else "try more pairs or epochs (run without --quick)"
    ),
)
tg.manual_seed(10 * SEED + 5)
for w in completions(policy.generate(eval_prompts[:3], NEW_TOKENS)):
    print(f"  after DPO: {show(w)}")

if plt is not None:
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    ax1.bar(["uniform", "bigram", "GPT"], [math.log(V), bigram_val, gpt_val])
    ax1.set(ylabel="cost per character (nats)", xlabel="model", title="Held-out cost")
    ax2.bar(["before DPO", "after DPO"], [before, after])
    ax2.set(ylabel="share of completions", xlabel="model", title=PREFERENCE)
    lesson.save(fig, "your_gpt")

print(f"lesson 12 done in {time.perf_counter() - started:.1f} s")

# %% [markdown]
# ## What the run said about the beliefs

# %%
lesson.summary()

# %% [markdown]
# ## Exercises
#
# The capstone uses the pieces of the earlier exercises. Write them yourself, and run this
# lesson on your own functions with `--mine DIR`:
#
#     tinygrad-edu exercises init ex        # one file per exercise, in the folder ex
#     tinygrad-edu exercises check ex dpo_loss top_p_filter
#
# - `dpo_loss`: the DPO loss on sequence log-probabilities (lesson 9)
# - `top_p_filter`: top-p (nucleus) filtering before sampling (lesson 5)
