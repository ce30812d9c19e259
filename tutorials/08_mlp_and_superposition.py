# %% [markdown]
# # Lesson 8: the MLP block, facts, and superposition
#
# A transformer alternates attention blocks (tokens talk to each other) with **MLP
# blocks**, where each token's vector passes alone through
#
#     linear -> GELU (a smooth ReLU) -> linear
#
# the simplest neural network of lesson 1. Most of a GPT's parameters are in these
# blocks, and experiments suggest that this is where **facts** are stored: "Michael
# Jordan" goes in, "basketball" comes out.
#
# This lesson:
# 1. trains an MLP block to store 80 made-up facts, and looks at which hidden neurons
#    fire for which fact;
# 2. measures the geometry that lets a network hold *more features than it has
#    dimensions*: in high dimensions, very many directions can be nearly perpendicular;
# 3. shows a small model choosing to store more features than it has dimensions
#    (**superposition**) when the features are rarely active at the same time;
# 4. goes back to a trained GPT and looks at its MLP's neurons, token by token, and at
#    the angles between its token embeddings.
#
# Run: `python tutorials/08_mlp_and_superposition.py [--quick] [--seed N]`. The MLP block is `MLP` in
# `tinygrad_edu/nn/transformer.py`, the very class inside every `Block` of
# `tinygrad_edu/models/gpt.py`; the other models and measurements are in
# `tinygrad_edu/lessons/superposition.py`.

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
from tinygrad_edu import Tensor
from tinygrad_edu.data.shakespeare import load_shakespeare
from tinygrad_edu.lessons import superposition as S
from tinygrad_edu.lessons.common import Lesson, lesson_gpt  # --quick, output folder, figures
from tinygrad_edu.models.gpt import GPT
from tinygrad_edu.models.gpt_inspect import mlp_activations
from tinygrad_edu.nn import functional as F
from tinygrad_edu.tokenizer import load_tokenizer

lesson = Lesson(
    "08_mlp_and_superposition",
    "Lesson 8: MLPs and superposition",
    quick_help="smaller experiments (for CI)",
    add_arguments=lambda parser: (
        parser.add_argument("--threads", type=int, default=1, help="kernel threads (default 1)"),
    ),
)
args = lesson.args
QUICK = lesson.quick
SEED = lesson.seed  # --seed N: other facts, other random starts, section 6's GPT of seed N
tg.set_num_threads(args.threads)  # small matrices: one thread wastes no time waiting
plt = lesson.plt
lesson_start = time.perf_counter()

# %% [markdown]
# ## The beliefs you bring from the lecture
#
# Lecture 8 leaves a learner with beliefs like these, in our words. Each is checked below
# by an experiment, and the run prints its outcome (confirmed, partly or corrected) with
# the numbers:
#
# 1. **The MLP block, linear, ReLU, linear, is just the simplest neural network**
#    (section 6b, on the trained GPT's own MLP).
# 2. **Perpendicular directions belong to the same family of meaning, and a model looks
#    for as many perpendicular directions as it can** (sections 4 and 6b: the trained
#    embedding's angles, and how many nearly perpendicular directions fit).
# 3. A common one: **each neuron stores one fact** (section 2).
# 4. Another: **a network can hold at most as many features as it has dimensions**
#    (section 5).

# %% [markdown]
# ## 1. A memory of facts in an MLP block
#
# Forty made-up people, each with a sport and a home city: 80 facts. Inside a GPT, by
# the time the MLP block sees the token "Alric", attention has put a vector for
# "Alric" into the token's *residual stream* (the running sum of what each block adds).
# We model that vector as a fixed random direction in d = 16 dimensions. The answer is
# read out the way a GPT's unembedding reads a token: each sport and each city has its
# own fixed direction, and the score of a value is the dot product with it.
#
#     x = subject_vector[person]           (16,)   fixed, random
#     x = x + MLP(x)                       (16,)   MLP = c_proj(GELU(c_fc(x))), 64 neurons
#     scores = x @ value_vectors.T         (16,)   8 sports, 8 cities; fixed, random
#
# Only the MLP is trained, so if the facts are recalled, they are stored in its weights.

# %%
SPORTS = ["tennis", "chess", "rowing", "fencing", "golf", "judo", "polo", "rugby"]
CITIES = ["Oslo", "Lima", "Kyoto", "Porto", "Accra", "Quito", "Riga", "Perth"]
first = ["Al", "Bo", "Ca", "Da", "El", "Fi", "Go", "Ha", "Is", "Jo"]
last = ["ric", "na", "lin", "dor"]
PEOPLE = [a + b for b in last for a in first]  # 40 names: Alric, Boric, ...
n_people, D, HIDDEN = len(PEOPLE), 16, 64
fact_rng = np.random.default_rng(8 + SEED)
sport_of = fact_rng.integers(0, len(SPORTS), n_people)  # the facts to remember
city_of = fact_rng.integers(0, len(CITIES), n_people)
for i in range(3):
    print(f"  {PEOPLE[i]} plays {SPORTS[sport_of[i]]} and lives in {CITIES[city_of[i]]}")
print(f"  ... {n_people} people, {2 * n_people} facts")

tg.manual_seed(8 + SEED)
memory = S.FactMemory(n_people, len(SPORTS) + len(CITIES), d=D, hidden=HIDDEN, seed=8 + SEED)
everyone = np.arange(n_people)


def recall(use_mlp: bool = True) -> tuple[int, int]:
    """How many people's sport and city the model gets right."""
    with tg.no_grad():
        scores, _ = memory(everyone, use_mlp=use_mlp)
    s = scores.data
    sport_ok = s[:, : len(SPORTS)].argmax(1) == sport_of
    city_ok = s[:, len(SPORTS) :].argmax(1) == city_of
    return int(sport_ok.sum()), int(city_ok.sum())


def facts_cost() -> Tensor:
    scores, _ = memory(everyone)  # (40, 16)
    sport_scores, city_scores = scores[:, : len(SPORTS)], scores[:, len(SPORTS) :]
    return F.cross_entropy(sport_scores, sport_of) + F.cross_entropy(city_scores, city_of)


print(f"before training: sports {recall()[0]}/40, cities {recall()[1]}/40 (chance: about 5/40)")
opt = tg.optim.Adam(memory.parameters(), lr=1e-2)
steps = 300 if QUICK else 600
t0 = time.perf_counter()
for step in range(steps + 1):
    cost = facts_cost()
    opt.zero_grad()
    cost.backward()
    opt.step()
    if step % (steps // 4) == 0:
        sports, cities = recall()
        print(
            f"  step {step:4d}: cost {cost.item():.4f}, recalled sports {sports}/40, cities {cities}/40"
        )
print(f"trained in {time.perf_counter() - t0:.1f} s")
without = recall(use_mlp=False)
recalled = recall()
print(f"with the MLP switched off: sports {without[0]}/40, cities {without[1]}/40")
lesson.verdict(
    "mlp_stores_facts",
    sum(recalled) >= 0.95 * 2 * n_people and sum(without) < 0.5 * 2 * n_people,
    f"the trained MLP recalls {sum(recalled)} of {2 * n_people} facts, and without it only "
    f"{sum(without)}: the facts are in its weights",
    f"the MLP recalls {sum(recalled)} of {2 * n_people} facts ({sum(without)} without it): "
    "not a clean memory in this run",
)

# %% [markdown]
# ### One neuron as an AND gate
#
# Why ReLU and a bias are enough to store a fact: say the residual stream holds a
# "first name Michael" direction and a "last name Jordan" direction (1 when present).
# A neuron with weight 1 on each and **bias -1** has the weighted sum
# m + j - 1: that is 1 only when both are there, and at most 0 otherwise, which
# ReLU turns into silence. Its c_proj column can then write "basketball" into the
# stream, for Michael Jordan only. The GPT's GELU is a smooth ReLU: positive exactly
# where ReLU is, and a little negative (never below -0.17) where ReLU is 0. (A
# demonstration, arithmetic on four inputs: it shows how, it finds nothing.)

# %%
w_and, b_and = np.array([1.0, 1.0]), -1.0  # (2,) weights on [Michael, Jordan], and the bias
and_table, gelu_table = {}, {}
for michael in (0, 1):
    for jordan in (0, 1):
        z = w_and @ np.array([michael, jordan]) + b_and  # the weighted sum w . x + b
        and_table[(michael, jordan)] = max(0.0, z)  # ReLU(z)
        gelu_table[(michael, jordan)] = F.gelu(Tensor([z])).item()
        print(
            f"Michael {michael}  Jordan {jordan}  ->  ReLU({michael} + {jordan} - 1) = "
            f"{and_table[(michael, jordan)]:.0f}   GELU: {gelu_table[(michael, jordan)]:+.2f}"
        )
print("(only Michael AND Jordan gives a positive output: the bias sets the threshold above either")
print(" name alone)")

# %% [markdown]
# ## 2. Which neurons fire for which fact?
#
# For each person, the 64 hidden activations GELU(c_fc(x)): a neuron "fires" when its
# activation is above 0 (GELU(z) > 0 exactly when z > 0). Each neuron's row of
# `c_fc.weight` is the pattern it looks for; its column of `c_proj.weight` is what it
# adds to x when it fires.

# %%
with tg.no_grad():
    _, hidden = memory(everyone)
H = hidden.data  # (40 people, 64 neurons)
fires = H > 0
print("person    facts              neurons firing   strongest three (neuron: activation)")
for i in range(5):
    top = np.argsort(-H[i])[:3]
    tops = "  ".join(f"{j:2d}: {H[i, j]:.2f}" for j in top)
    facts = f"{SPORTS[sport_of[i]]}, {CITIES[city_of[i]]}"
    print(f"{PEOPLE[i]:8}  {facts:18}     {fires[i].sum():2d} of {HIDDEN}      {tops}")
per_person = fires.sum(1)
per_neuron = fires.sum(0)
print(
    f"\nneurons firing per person: mean {per_person.mean():.1f}, min {per_person.min()}, max {per_person.max()}"
)
print("people each neuron fires for:")
for lo, hi in ((0, 0), (1, 5), (6, 20), (21, 40)):
    n = int(((per_neuron >= lo) & (per_neuron <= hi)).sum())
    label = "never fires" if hi == 0 else f"fires for {lo:2d}-{hi:2d} people"
    print(f"  {label:24} {n:2d} neurons")
shared = per_person.min() > 1 and (per_neuron > 1).sum() > HIDDEN // 2
lesson.verdict(
    "neurons_are_shared",
    shared,
    f"each person lights up {per_person.min()} to {per_person.max()} neurons, and "
    f"{(per_neuron > 1).sum()} of {HIDDEN} neurons fire for more than one person",
    "in this run the facts look stored neuron by neuron: see the counts above",
)
lesson.belief(
    "one_neuron_one_fact",
    "each neuron stores one fact",
    "corrected" if shared else "partly",
    f"{HIDDEN} neurons hold {sum(recalled)} of {2 * n_people} facts; each person lights up "
    f"{per_person.min()} to {per_person.max()} neurons, and {(per_neuron > 1).sum()} neurons "
    "fire for more than one person",
)
if plt is not None:
    fig, ax = plt.subplots(figsize=(8, 3.6))
    ax.imshow(H.T, aspect="auto", cmap="Greys", interpolation="nearest")
    ax.set(
        xlabel="person (each holds two facts: a sport and a city)",
        ylabel="hidden neuron",
        title="Which neurons fire for which person (dark = strong GELU output)",
    )
    lesson.save(fig, "neurons_per_fact")

# %% [markdown]
# A neuron that fires for many people is *polysemantic*: if the counts above say so, a
# fact is a pattern over the neurons, and the neurons are shared. Then how much does one
# neuron matter? Silence the three neurons that fire most for one person, and check
# everyone's recall; then silence three random neurons instead.


# %%
def recall_with_silenced(silenced: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sport and city right/wrong per person with some hidden neurons forced to 0."""
    keep = np.ones(HIDDEN, dtype=np.float32)
    keep[silenced] = 0.0
    with tg.no_grad():
        x = memory.subject_vectors[everyone]
        h = F.gelu(memory.mlp.c_fc(x)) * Tensor(keep)  # MLP.forward, some neurons silenced
        s = ((x + memory.mlp.c_proj(h)) @ memory.value_vectors.T).data
    return s[:, : len(SPORTS)].argmax(1) == sport_of, s[:, len(SPORTS) :].argmax(1) == city_of


own_lost, others_lost = [], []
for person in range(n_people):
    top3 = np.argsort(-H[person])[:3]
    sport_ok, city_ok = recall_with_silenced(top3)
    others = np.arange(n_people) != person
    own_lost.append(not (sport_ok[person] and city_ok[person]))
    others_lost.append(int((~(sport_ok & city_ok))[others].sum()))
    if person < 2:
        print(
            f"silence neurons {sorted(top3.tolist())} (strongest for {PEOPLE[person]}): "
            f"{PEOPLE[person]}'s sport {'kept' if sport_ok[person] else 'LOST'}, "
            f"city {'kept' if city_ok[person] else 'LOST'}; {others_lost[-1]} of 39 others lose a fact"
        )
silence_rng = np.random.default_rng(SEED)
random_person_lost = []
for _ in range(200):
    sport_ok, city_ok = recall_with_silenced(silence_rng.choice(HIDDEN, 3, replace=False))
    random_person_lost.append(float(np.mean(~(sport_ok & city_ok))))
own_rate, random_rate = float(np.mean(own_lost)), float(np.mean(random_person_lost))
print(
    f"for all {n_people} people: silencing a person's own 3 strongest neurons costs that person "
    f"a fact {own_rate:.0%} of the time (and {np.mean(others_lost):.1f} of the 39 others on "
    f"average); 3 random neurons cost a given person a fact {random_rate:.0%} of the time "
    "(200 tries)"
)
lesson.verdict(
    "facts_lean_on_their_own_neurons",
    own_rate > 2 * random_rate + 0.05 and np.mean(others_lost) < 0.25 * (n_people - 1),
    f"a person's own strongest neurons matter to that person {own_rate / max(random_rate, 1e-9):.0f}x "
    "as often as random ones, while most others keep their facts: each fact leans on its own "
    "combination of shared neurons",
    "in this run a person's own strongest neurons matter little more than random ones",
)

# %% [markdown]
# (A neuron that never fires, for anyone, is nearly "dead": far below 0, GELU is flat
# and passes it almost no gradient; ReLU would pass none at all.)
#
# ## 3. Superposition already: 40 people in 16 dimensions
#
# The 40 people's vectors live in 16 dimensions, so they cannot all be perpendicular:
# at most 16 directions can be. Yet each person got their own answers. The angles
# between the people's vectors:

# %%
people_angles = S.angles_degrees(memory.subject_vectors.data)
print(
    f"{len(people_angles)} pairs of people: angles from {people_angles.min():.0f} to "
    f"{people_angles.max():.0f} degrees, mean {people_angles.mean():.1f}; "
    f"{np.mean(np.abs(people_angles - 90) < 15):.0%} within 90 +- 15"
)

# %% [markdown]
# Nearly perpendicular, not exactly. How many "nearly perpendicular" directions can a
# space hold? That is the geometry behind superposition, and it is worth measuring.
#
# ## 4. How many nearly perpendicular directions fit in d dimensions?
#
# Take N random directions (unit vectors) in d = 100 dimensions and look at the angle
# between every pair. Then let gradient descent move them so that every pair is within
# 90 +- 10 degrees (`S.spread_directions`): the cost is, over all pairs,
#
#     sum of relu(|cos(angle)| - sin(10 degrees))^2,     every cos at once: V @ V.T
#
# and after each step each vector is scaled back to length 1. The engine computes the
# N x N matrix of cosines with one matrix product, and autograd gives the gradient.

# %%
N_DIRS, DIM, TOL = (1000, 100, 10.0) if QUICK else (2000, 100, 10.0)
start = np.random.default_rng(SEED).standard_normal((N_DIRS, DIM))
before_angles = S.angles_degrees(start)
t0 = time.perf_counter()
spread, worst = S.spread_directions(N_DIRS, DIM, TOL, steps=400, lr=0.1, vectors=start)
after_angles = S.angles_degrees(spread)
print(
    f"{N_DIRS} directions in {DIM} dimensions: {len(worst) - 1} steps of gradient descent, "
    f"{time.perf_counter() - t0:.1f} s"
)


def describe(name: str, a: np.ndarray) -> None:
    off = np.abs(a - 90)
    print(
        f"{name:7} mean {a.mean():6.2f}  std {a.std():4.2f}  min {a.min():6.2f}  max {a.max():6.2f}"
        f"   within 90 +- 1: {np.mean(off <= 1):5.1%}   +- 5: {np.mean(off <= 5):5.1%}"
        f"   +- 10: {np.mean(off <= 10):6.2%}"
    )


print(f"angles of the {len(before_angles):,} pairs, in degrees:")
describe("random", before_angles)
describe("spread", after_angles)
off_after = float(np.abs(after_angles - 90).max())
lesson.verdict(
    "spread_within_tolerance",
    off_after <= TOL,
    f"after the descent every one of the {len(after_angles):,} pairs is within 90 +- {TOL:g} "
    f"degrees (the worst is {off_after:.2f} off): {N_DIRS} nearly perpendicular directions in "
    f"{DIM} dimensions",
    f"the descent left a pair {off_after:.2f} degrees off 90, outside the tolerance {TOL:g}",
)

edges = np.arange(56, 126, 4)
h_before = np.histogram(np.clip(before_angles, 56, 123.99), edges)[0]
h_after = np.histogram(np.clip(after_angles, 56, 123.99), edges)[0]
scale = max(h_before.max(), h_after.max()) / 30
print("\nangle (deg)    random                           spread")
for lo, nb, na in zip(edges[:-1], h_before, h_after):
    bar_b, bar_a = "#" * math.ceil(nb / scale), "#" * math.ceil(na / scale)
    print(f"{lo:3d}-{lo + 4:3d}   {bar_b:31}  {bar_a}")
print("(the outermost rows include everything beyond them)")

if plt is not None:
    fig, ax = plt.subplots(figsize=(7, 3.5))
    bins = np.linspace(55, 125, 141)
    ax.hist(before_angles, bins=bins, alpha=0.6, label="random")
    ax.hist(
        after_angles,
        bins=bins,
        alpha=0.6,
        label=f"after spreading ({np.mean(np.abs(after_angles - 90) <= TOL):.1%} within 90 +- {TOL:g})",
    )
    ax.set(
        xlabel="angle between a pair of directions (degrees)",
        ylabel="pairs",
        title=f"{N_DIRS} directions in {DIM} dimensions",
    )
    ax.legend()
    lesson.save(fig, "08_angles")

# %% [markdown]
# Two things to notice.
#
# * Random directions in 100 dimensions are *already* nearly perpendicular: most pairs
#   are within a few degrees of 90. But among hundreds of thousands of pairs, a few are
#   far off; the descent moved exactly those (the cost ignores every pair inside the
#   tolerance), and they now pile up at the edges, 80 and 100 degrees.
# * The bulk of the histogram barely got narrower, and it cannot get much narrower.
#   The matrix of cosines V V^T has N ones on its diagonal and rank at most d; from
#   that alone, the mean of cos^2 over all pairs is at least (N - d) / (d (N - 1)) (the
#   Welch bound, `S.welch_bound`). Here that floor is:

# %%
rms_floor = S.welch_bound(N_DIRS, DIM)
for name, a in (("random", before_angles), ("spread", after_angles)):
    rms = np.sqrt(np.mean(np.cos(np.radians(a)) ** 2))
    print(f"{name:7} RMS cos {rms:.4f}  (about {math.degrees(math.asin(rms)):.2f} degrees off 90)")
print(f"floor   RMS cos {rms_floor:.4f}  (no arrangement of {N_DIRS} directions does better)")

# %% [markdown]
# So "nearly perpendicular" has to mean "within some tolerance", and the count depends
# strongly on it. `S.most_directions(d, k)` searches for the largest N that the descent
# can fit within 90 +- k degrees (a lower bound on the true maximum: our optimiser may
# miss arrangements). The Welch bound gives an upper limit where it applies.

# %%
t0 = time.perf_counter()
print(f"in {DIM} dimensions, directions within 90 +- k degrees:")
print("    k     fitted   did not fit   upper limit (Welch)")
for k in (1.0, 3.0, 5.0):
    lo, hi = S.most_directions(DIM, k)
    limit = S.welch_max_directions(DIM, k)
    print(f"  {k:3.0f}     {lo:5d}       {hi:5d}          {limit:7.1f}")
print(f"  {TOL:3.0f}    >= {N_DIRS:4d}      (above)          none")

dims = (10, 20, 30, 40) if QUICK else (10, 20, 30, 40, 50, 60)
counts = []
print(f"\nwithin 90 +- {TOL:g} degrees, as the dimension grows:")
print("    d     fitted   did not fit   fitted / d   x per 10 more dimensions")
for d in dims:
    lo, hi = S.most_directions(d, TOL)
    growth = f"{lo / counts[-1]:.1f}" if counts else ""
    counts.append(lo)
    print(f"  {d:3d}     {lo:5d}       {hi:5d}         {lo / d:5.1f}        {growth}")
print(f"  {DIM:3d}    >= {N_DIRS:4d}      (above)      >= {N_DIRS / DIM:.0f}")
per_dim = [c / d for c, d in zip(counts, dims)]
growths = [b / a for a, b in zip(counts, counts[1:])]
lesson.verdict(
    "directions_grow_faster_than_dimensions",
    all(b > a for a, b in zip(per_dim, per_dim[1:])),
    f"every 10 more dimensions multiply the count by {min(growths):.1f} to {max(growths):.1f}, "
    "and the count per dimension keeps rising: faster than linear, as exponential growth would be",
    "the count per dimension did not rise at every step in this run: "
    + ", ".join(f"{x:.1f}" for x in per_dim),
)
print(f"({time.perf_counter() - t0:.1f} s)")

# %% [markdown]
# Within 90 +- 1 degree, the first table shows how few directions beyond d fit, and the
# Welch bound's limit beside them. Loosen the tolerance, and the count takes off: the
# second table shows by how much for every 10 extra dimensions.
# There is a clean proof that it must: for random directions, a pair is off by more
# than eps = sin(k) with probability at most 2 e^(-d eps^2 / 2), so e^(d eps^2 / 4)
# random directions contain no bad pair at all with positive probability
# (`S.random_directions_guarantee`). That guarantee is loose in small dimensions, but
# in a GPT's dimensions it is astronomically large:


# %%
def big(x: float) -> str:
    return f"{x:,.0f}" if x < 1e9 else f"about 10^{math.log10(x):.0f}"


print("dimensions        guaranteed within 90 +- 5    within 90 +- 10")
for name, d in (("100 (above)", 100), ("768 (GPT-2)", 768), ("12,288 (GPT-3)", 12288)):
    g5, g10 = (S.random_directions_guarantee(d, k) for k in (5.0, 10.0))
    print(f"{name:15}   {big(g5):>24}    {big(g10):>15}")

# %% [markdown]
# ## 5. Superposition: a model that stores more features than it has dimensions
#
# Does a network actually use this room? A toy model (after Elhage et al., "Toy Models
# of Superposition", 2022): 20 features must pass through 5 dimensions and come back
# out,
#
#     h = W x  (5 numbers),     x' = ReLU(W^T h + b)  (20 numbers)
#
# trained to make x' equal x, with feature i weighted 0.9^i (some features matter more).
# Feature i gets the direction W[:, i]; a feature the model gives up on gets a
# direction of length near 0. Each input has each feature active with probability p
# (value uniform in [0, 1), otherwise 0). When features are dense, any overlap between
# two directions costs on nearly every input, so it pays to keep about as many features
# as there are dimensions. When they are sparse, two features rarely need the space at the same
# time, so they can share it: their directions overlap a little, and the ReLU with a
# negative bias clips the small interference away.

# %%
N_FEAT, M_DIMS = 20, 5
importance = Tensor((0.9 ** np.arange(N_FEAT)).astype(np.float32))
toy_steps = 1500 if QUICK else 3000
probabilities = (1.0, 0.1, 0.01) if QUICK else (1.0, 0.3, 0.1, 0.03, 0.01)
t0 = time.perf_counter()
print(f"{N_FEAT} features through {M_DIMS} dimensions, {toy_steps} Adam steps each:")
print("p active   features stored   their directions: min angle   mean |cos|")
toy_models = {}
stored_counts: dict[float, int] = {}
for p in probabilities:
    tg.manual_seed(SEED)
    feature_rng = np.random.default_rng(SEED)
    toy = S.ToySuperposition(N_FEAT, M_DIMS)
    toy_opt = tg.optim.Adam(toy.parameters(), lr=1e-2)
    for _ in range(toy_steps):
        x = Tensor(S.sparse_features(1024, N_FEAT, p, feature_rng))
        err = toy(x) - x
        cost = (err * err * importance).sum(-1).mean()
        toy_opt.zero_grad()
        cost.backward()
        toy_opt.step()
    stored = toy.feature_norms() > 0.5
    cos = np.abs(S.pairwise_cosines(toy.W.data[:, stored].T))
    angles = S.angles_degrees(toy.W.data[:, stored].T)
    toy_models[p] = toy
    stored_counts[p] = int(stored.sum())
    print(
        f"  {p:5.2f}         {stored.sum():2d} of {N_FEAT}              "
        f"{angles.min():5.1f} deg          {cos.mean():.2f}"
    )
print(f"({time.perf_counter() - t0:.1f} s)")

if plt is not None:
    fig, axes = plt.subplots(1, len(probabilities), figsize=(3 * len(probabilities), 3))
    for ax, p in zip(axes, probabilities):
        W = toy_models[p].W.data
        ax.imshow(W.T @ W, cmap="RdBu", vmin=-1.2, vmax=1.2)
        ax.set(title=f"p = {p}: W^T W", xticks=[], yticks=[])
    lesson.save(fig, "08_toy_superposition")

# %%
dense, sparsest = stored_counts[max(probabilities)], stored_counts[min(probabilities)]
lesson.verdict(
    "superposition_when_sparse",
    sparsest > max(dense, M_DIMS),
    f"with dense features the model stores {dense} features in its {M_DIMS} dimensions; with "
    f"features active {min(probabilities):.0%} of the time it stores {sparsest}: more features "
    "than dimensions, in superposition",
    f"the toy stored {dense} features when dense and {sparsest} when sparse: sparsity did not "
    f"buy more features than {max(dense, M_DIMS)} in this run",
)
lesson.belief(
    "features_at_most_dimensions",
    "a network can hold at most as many features as it has dimensions",
    "corrected" if sparsest > M_DIMS else "confirmed",
    f"{M_DIMS} dimensions held {dense} of {N_FEAT} features when every feature is always active, "
    f"{sparsest} when each is active {min(probabilities):.0%} of the time",
)

# %% [markdown]
# The plot shows W^T W: a diagonal block means perpendicular features, off-diagonal colour
# means features that share space. When features rarely occur together, a model can give
# them overlapping directions and let the ReLU clip the small interference away.
#
# ## 6. Back to the GPT: the neurons of a trained MLP
#
# Everything above was a toy. Here is the real thing: the character-level GPT of lesson
# 5 (`lesson_gpt` of `tinygrad_edu/lessons/common.py`: reused if lesson 5 left it in the
# output folder, trained now otherwise). Each of its blocks has an `MLP` with 4 x C
# neurons. `mlp_activations` in `tinygrad_edu/models/gpt_inspect.py` hooks one block's
# MLP during a forward pass and returns GELU(c_fc(x)), the activation of every neuron
# for every token. The text is 6,400 characters that the GPT never trained on (the
# validation split); as a baseline, the same GPT untrained, with random weights.

# %%
t0 = time.perf_counter()
gpt, _, gpt_cfg = lesson_gpt(lesson)  # --seed N: the GPT trained with seed N
tok = load_tokenizer(Path(gpt_cfg.out) / "tokenizer.json")
text = load_shakespeare()
val_text = text[int(len(text) * (1 - gpt_cfg.val_fraction)) :]  # train_gpt's split
T = gpt_cfg.block_size
n_windows = 6400 // T
ids = np.array(tok.encode(val_text[: n_windows * T + 1]))
windows = ids[:-1].reshape(n_windows, T)  # (n_windows, T): what the GPT reads
next_ids = ids[1:].reshape(n_windows, T)  # the character after each one
n_layer, n_neurons = gpt.config.n_layer, 4 * gpt.config.n_embd
tg.manual_seed(1 + SEED)
untrained = GPT(gpt.config)  # the same shape, random weights


def neurons(model: GPT) -> np.ndarray:
    """(n_layer, tokens, n_neurons): every MLP neuron's activation on every token."""
    return np.stack(
        [mlp_activations(model, windows, L).reshape(-1, n_neurons) for L in range(n_layer)]
    )


acts, acts_untrained = neurons(gpt), neurons(untrained)
firing = (acts > 0).mean(2)  # (n_layer, tokens): the fraction of a block's neurons firing
firing_untrained = (acts_untrained > 0).mean(2)
print(f"{windows.size:,} tokens, {n_layer} blocks of {n_neurons} MLP neurons")
print("block   neurons firing per token: trained (middle 90% of tokens)   untrained")
for L in range(n_layer):
    lo, hi = np.quantile(firing[L], [0.05, 0.95])
    print(
        f"  {L}                          {firing[L].mean():4.0%}  ({lo:.0%} to {hi:.0%})"
        f"              {firing_untrained[L].mean():4.0%}"
    )
lesson.verdict(
    "gpt_mlp_fires_sparsely",
    all(firing[L].mean() < firing_untrained[L].mean() for L in range(n_layer)),
    "in every block, training left fewer neurons firing per token than the random "
    f"start's half: {', '.join(f'{f:.0%}' for f in firing.mean(1))}",
    "in this run training did not make every block fire fewer neurons per token: "
    + ", ".join(
        f"{f:.0%} (untrained {u:.0%})" for f, u in zip(firing.mean(1), firing_untrained.mean(1))
    ),
)

# %% [markdown]
# Does any one neuron mean something? Take a class of tokens, say the vowels among the
# letters, and ask of each neuron: pick one token inside the class and one outside, at
# random; how often is the neuron more active on the one inside? 0.5 means the neuron
# cannot tell them apart (statisticians call this number the ROC AUC). Its
# **selectivity** |2 AUC - 1| runs from 0 (no idea) to 1 (always tells; a neuron may also
# tell by going *quiet* on the class). The best of 4 x C neurons is picked, so the fair
# baseline is the best neuron of the untrained GPT, picked the same way.


# %%
def auc(a: np.ndarray, inside: np.ndarray) -> float:
    """P(a random token inside the class is more active than one outside); ties count half."""
    outside = np.sort(a[~inside])
    below = np.searchsorted(outside, a[inside], "left")  # outside tokens less active
    ties = np.searchsorted(outside, a[inside], "right") - below
    return float((below + 0.5 * ties).sum() / (inside.sum() * len(outside)))


def selectivity(activations: np.ndarray, inside: np.ndarray, among: np.ndarray) -> np.ndarray:
    """(n_layer, n_neurons): |2 AUC - 1| of every neuron, over the tokens `among`."""
    return np.array(
        [
            [abs(2 * auc(activations[L, among, j], inside[among]) - 1) for j in range(n_neurons)]
            for L in range(n_layer)
        ]
    )


def ids_of(chars: str) -> list[int]:
    return [tok.stoi[c] for c in chars if c in tok.stoi]


previous = np.concatenate([np.full((n_windows, 1), -1), windows[:, :-1]], 1)
everywhere = np.ones(windows.size, dtype=bool)
later = (np.arange(windows.size) % T) > 0  # a token that can see the one before it
classes = {  # name -> (tokens inside the class, the tokens compared)
    "a vowel (among letters)": (
        np.isin(windows, ids_of("aeiouAEIOU")).reshape(-1),
        np.isin(windows, ids_of("".join(c for c in tok.chars if c.isalpha()))).reshape(-1),
    ),
    "followed by a space": ((next_ids == tok.stoi[" "]).reshape(-1), everywhere),
    "right after a newline": ((previous == tok.stoi["\n"]).reshape(-1), later),
}
print("a token that is...          best neuron     selectivity   typical neuron   best untrained")
best = {}
for name, (inside, among) in classes.items():
    sel = selectivity(acts, inside, among)
    sel_untrained = selectivity(acts_untrained, inside, among)
    L, j = np.unravel_index(sel.argmax(), sel.shape)
    best[name] = (L, j, sel.max(), sel_untrained.max())
    print(
        f"  {name:26} block {L} #{j:<4}     {sel.max():.2f}          {np.median(sel):.2f}"
        f"             {sel_untrained.max():.2f}"
    )
lesson.verdict(
    "gpt_neurons_selective",
    all(b[2] > b[3] for b in best.values()),
    "for each class, one trained neuron tells it apart better than any untrained neuron "
    "can, and far better than a typical neuron: training made them",
    "not every class has a trained neuron beating the untrained GPT's best: "
    + ", ".join(name for name, b in best.items() if b[2] <= b[3]),
)
print(f"({time.perf_counter() - t0:.1f} s)")

# %%
L, j, _, _ = best["a vowel (among letters)"]
flat_ids = windows.reshape(-1)
letters = [c for c in "abcdefghijklmnopqrstuvwxyz" if (flat_ids == tok.stoi[c]).any()]
per_letter = [acts[L, flat_ids == tok.stoi[c], j].mean() for c in letters]  # (letters,)
on_vowels = acts[L, np.isin(flat_ids, ids_of("aeiou")), j].mean()
on_consonants = acts[L, np.isin(flat_ids, ids_of("".join(set(letters) - set("aeiou")))), j].mean()
print(
    f"block {L}, neuron {j}: mean activation on a, e, i, o, u {on_vowels:+.2f}, "
    f"on the other lower-case letters {on_consonants:+.2f}"
)
if plt is not None:
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.bar(letters, per_letter, color=["C1" if c in "aeiou" else "C0" for c in letters])
    ax.axhline(0, color="k", lw=0.5)
    ax.set(
        xlabel="the token (a lower-case letter; vowels in orange)",
        ylabel="mean activation (GELU)",
        title=f"The trained GPT's vowel neuron: block {L}, neuron {j}",
    )
    lesson.save(fig, "gpt_vowel_neuron")

# %% [markdown]
# Nobody told the GPT what a vowel is, or where words end. The table above says how well
# its best neuron for each class tells it apart, against a typical neuron and against the
# best neuron of the untrained GPT.
#
# ## 6b. The GPT's MLP, and the angles of its embedding
#
# **Is the GPT's MLP block the simple network of lesson 1?** Catch the vectors entering
# block 0's MLP with a forward hook, and compute c_proj(GELU(c_fc(x))) from its weight
# matrices by hand. Then ask whether the GELU matters: put ReLU, the lecture's choice, in
# its place in every block (a hook that replaces the MLP's output) and measure the cost
# on the held-out text.

# %%
mlp0 = gpt.transformer.h[0].mlp
caught: dict = {}


def keep_mlp_io(module, call_args, out) -> None:
    caught["x"], caught["out"] = call_args[0].data.copy(), out.data.copy()


def relu_mlp(module, call_args, out) -> Tensor:
    """A forward hook that replaces the MLP's output: the same weights, ReLU for GELU."""
    return module.c_proj(module.c_fc(call_args[0]).relu())


def held_out_cost() -> float:
    with tg.no_grad():
        return float(gpt(windows, next_ids)[1].item())


handle = mlp0.register_forward_hook(keep_mlp_io)
cost_gelu = held_out_cost()
handle.remove()
x_mlp = caught["x"].reshape(-1, gpt.config.n_embd)  # (tokens, C)


def weights_of(layer) -> tuple[np.ndarray, np.ndarray]:
    bias = layer.bias.data if layer.bias is not None else 0.0
    return layer.weight.data, bias


(W_fc, b_fc), (W_pr, b_pr) = weights_of(mlp0.c_fc), weights_of(mlp0.c_proj)
hidden_by_hand = F.gelu(Tensor(x_mlp @ W_fc.T + b_fc)).data  # (tokens, 4C): the neurons
by_hand = hidden_by_hand @ W_pr.T + b_pr  # (tokens, C)
mlp_gap = float(np.abs(by_hand - caught["out"].reshape(by_hand.shape)).max())
handles = [blk.mlp.register_forward_hook(relu_mlp) for blk in gpt.transformer.h]
cost_relu = held_out_cost()
for h_ in handles:
    h_.remove()
print(
    f"block 0's MLP = c_proj(GELU(c_fc(x))): {W_fc.shape[1]} -> {W_fc.shape[0]} -> "
    f"{W_pr.shape[0]}, by hand vs the model: max difference {mlp_gap:.1e}"
)
print(f"held-out cost with GELU {cost_gelu:.3f}; with ReLU in every MLP {cost_relu:.3f}")
lesson.verdict(
    "mlp_by_hand_is_the_model",
    mlp_gap < 1e-3,
    f"c_proj(GELU(c_fc(x))) by hand from block 0's weights is its MLP's output (to {mlp_gap:.0e})",
    f"block 0's MLP output is {mlp_gap:.1e} away from c_proj(GELU(c_fc(x))) by hand",
)
lesson.belief(
    "mlp_is_simple_network",
    "the MLP block, linear, ReLU, linear, is just the simplest neural network",
    ("confirmed" if abs(cost_relu - cost_gelu) < 0.05 else "partly")
    if mlp_gap < 1e-3
    else "corrected",
    f"the GPT's MLP is c_proj(GELU(c_fc(x))), {W_fc.shape[1]} -> {W_fc.shape[0]} -> "
    f"{W_pr.shape[0]} (by hand to {mlp_gap:.0e}); it was trained with GELU, and ReLU in its "
    f"place moves the held-out cost from {cost_gelu:.3f} to {cost_relu:.3f}",
    notes=(24,),
)

# %% [markdown]
# **Do perpendicular directions mean "the same family"?** The cosine of two directions is
# 1 when they point the same way, 0 when they are perpendicular. Compare, in the trained
# GPT's embedding, pairs of characters from the same family (vowels with vowels, capitals
# with capitals, punctuation with punctuation) with pairs from different families.

# %%
emb = gpt.transformer.wte.weight.data
unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
families = {
    "vowels": ids_of("aeiou"),
    "capitals": ids_of("ABCDEFGHIJKLMNOPRSTUVWY"),
    "punctuation": ids_of(".,;:!?"),
}
related, unrelated = [], []
for name_a, rows_a in families.items():
    for name_b, rows_b in families.items():
        cos_ab = unit[rows_a] @ unit[rows_b].T
        if name_a == name_b:
            related += cos_ab[~np.eye(len(rows_a), dtype=bool)].tolist()
        elif name_a < name_b:
            unrelated += cos_ab.ravel().tolist()
related_cos, unrelated_cos = float(np.mean(related)), float(np.mean(unrelated))
near_90 = float(np.mean(np.abs(np.degrees(np.arccos(np.clip(unrelated, -1, 1))) - 90) <= 15))
print(
    f"mean cosine, same family: {related_cos:+.2f} ({len(related)} pairs); different families: "
    f"{unrelated_cos:+.2f} ({len(unrelated)} pairs, {near_90:.0%} within 90 +- 15 degrees)"
)
lesson.belief(
    "perpendicular_same_family",
    "perpendicular directions belong to the same family of meaning; a model looks for as "
    "many perpendicular directions as it can",
    "corrected" if related_cos > 0.3 and related_cos > unrelated_cos + 0.2 else "partly",
    f"in the trained embedding, same-family characters have mean cosine {related_cos:+.2f} "
    f"(about {np.degrees(np.arccos(related_cos)):.0f} degrees apart), different families "
    f"{unrelated_cos:+.2f} (about {np.degrees(np.arccos(unrelated_cos)):.0f} degrees); "
    f"near-perpendicular is room for unrelated features: {N_DIRS} directions fit in {DIM} "
    f"dimensions within 90 +- {TOL:g} degrees (worst {off_after:.1f} off)",
    notes=(23,),
)

# %% [markdown]
# ## What this run showed
#
# The lines below are computed from this run: the MLP as a memory, the room in high
# dimensions, superposition in the toy, and the trained GPT's neurons.

# %%
print(
    f"* the MLP block stored {sum(recalled)} of {2 * n_people} facts in {HIDDEN} neurons; each "
    f"person lit {per_person.min()}-{per_person.max()} neurons, and {(per_neuron > 1).sum()} "
    "neurons served more than one person"
)
print(
    f"* {N_DIRS} directions fit in {DIM} dimensions within 90 +- {TOL:g} degrees "
    f"({N_DIRS / DIM:.0f}x the dimension); within 90 +- 1, the Welch bound allows "
    f"{S.welch_max_directions(DIM, 1.0):.0f}; the count within 90 +- {TOL:g} grew "
    f"x{min(growths):.1f}-x{max(growths):.1f} per 10 more dimensions"
)
print(
    f"* the toy stored {dense} of {N_FEAT} features in {M_DIMS} dimensions when they were dense "
    f"and {sparsest} when sparse"
)
print(
    "* in the trained GPT, neurons firing per token: "
    + ", ".join(
        f"block {L_} {f:.0%} (untrained {u:.0%})"
        for L_, (f, u) in enumerate(zip(firing.mean(1), firing_untrained.mean(1)))
    )
    + "; best class-selective neurons: "
    + ", ".join(f"{name} {b[2]:.2f} (untrained {b[3]:.2f})" for name, b in best.items())
)

# %%
print(f"\nlesson 8 ran in {time.perf_counter() - lesson_start:.1f} s")

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
#     tinygrad-edu exercises check ex mlp_block
#
# - `mlp_block`: the transformer's MLP block: Linear, GELU, Linear
#
# Each file's docstring gives the idea, the math, the shapes and a hint; `check` says
# passed, not started, or the first input where your answer differs from the library's.
