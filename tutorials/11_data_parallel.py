# %% [markdown]
# # Lesson 11 — Data parallelism: how GPTs are trained on many machines
#
# *The track beyond the lectures.* The lectures end with what a GPT is, how it is
# trained and tuned (lessons 1-9); lessons 10 and 11 go past them, into how that training
# is made fast, on one machine (lesson 10) and on many (this one).
#
# The lectures say GPTs are trained with enormous compute. No single computer has it:
# the work is spread over thousands. The first and simplest way, used by every large
# training run, is *data parallelism*: every worker holds a whole copy of the model,
# works on its own slice of the batch, and the workers average their gradients every
# step (an *all-reduce*). Read `tinygrad_edu/distributed.py` beside this lesson.
#
# Run it two ways:
# * `mpiexec -n 2 python tutorials/11_data_parallel.py` — two processes, each with one
#   core, talking through MPI (`pip install -e ".[mpi]"` installs mpi4py and MPICH);
# * `python tutorials/11_data_parallel.py` — one process: the same ideas, with the
#   network figures stated instead of measured.
#
# Add `--quick` for a short run.

# %%
from __future__ import annotations

import contextlib
import time

import numpy as np

with contextlib.suppress(ImportError):  # a source checkout: teach from *its* package
    import _common  # noqa: F401  (tutorials/_common.py; a notebook on its own has none)

import tinygrad_edu as tg
from tinygrad_edu import distributed as dist
from tinygrad_edu import optim, rng
from tinygrad_edu.lessons.common import Lesson  # --quick, output folder, figures
from tinygrad_edu.models.gpt import GPT, GPTConfig

lesson = Lesson(
    "11_data_parallel", "Lesson 11: data parallelism", quick_help="fewer steps and sizes"
)
QUICK = lesson.quick

world = dist.world()
MAIN = world.is_main


def say(*a, **k):
    """Only rank 0 prints: N copies of every line would teach nothing."""
    if MAIN:
        print(*a, **k, flush=True)


def verdict(key: str, holds: bool, if_true: str, if_false: str) -> None:
    """lesson.verdict on rank 0 only (one printed line, one record)."""
    if MAIN:
        lesson.verdict(key, holds, if_true, if_false)


say(
    f"{world.size} process(es); backend {tg.info()['backend']}, {tg.get_num_threads()} thread(s) each"
)


def belief(key: str, claim: str, outcome: str, evidence: str) -> None:
    """lesson.belief on rank 0 only."""
    if MAIN:
        lesson.belief(key, claim, outcome, evidence)


# %% [markdown]
# ## The beliefs you bring
#
# No lecture covers this track, but everyone arrives with ideas about training on many
# machines. Two of them, each checked below by an experiment, with the outcome the run
# gave:
#
# 1. **Splitting the batch over N workers changes the training**: each worker sees only
#    its slice, so N workers must take a different step than one worker on the whole
#    batch (section 1).
# 2. **N workers train N times faster** (sections 3 and 4).

# %% [markdown]
# ## 1. Averaging the shards' gradients IS the full batch's gradient
#
# The cost is a mean over the batch: C = (1/B) Σᵢ cᵢ. Cut the B examples into N shards
# of B/N. Shard r's cost is the mean over its own examples, C_r = (N/B) Σ_{i∈r} cᵢ, and
# (1/N) Σ_r ∇C_r = (1/B) Σᵢ ∇cᵢ = ∇C. So N workers that each see B/N examples and then
# average their gradients take exactly the step one worker would take on all B.
#
# Check it on the recipe's GPT (in one process: we play the N workers one after the other).
# The algebra says it must hold; the run checks that the library's cost really is a mean
# over the batch, and how close float32 rounding leaves the two.

# %%
cfg = GPTConfig(block_size=64, vocab_size=65, n_layer=4, n_head=4, n_embd=128, dropout=0.0)
rng.manual_seed(0)
model = GPT(cfg)
dist.broadcast_parameters(model.parameters())  # under mpiexec: everyone starts from rank 0's
params = list(model.parameters())
n_params = sum(p.data.size for p in params)
B, T = 12, cfg.block_size
data = np.random.default_rng(1).integers(0, cfg.vocab_size, size=(B, T + 1))
x, y = data[:, :-1], data[:, 1:]


def gradients(xb, yb) -> list[np.ndarray]:
    model.zero_grad()
    _, loss = model(xb, yb)
    loss.backward()
    return [p.grad.numpy().copy() for p in params]


full = gradients(x, y)
N_SHARDS = 4
shards = [gradients(x[r::N_SHARDS], y[r::N_SHARDS]) for r in range(N_SHARDS)]
average = [sum(gs) / N_SHARDS for gs in zip(*shards)]
worst = max(float(np.abs(a - f).max() / (np.abs(f).max() + 1e-30)) for a, f in zip(average, full))
one_shard_off = max(
    float(np.abs(s - f).max() / (np.abs(f).max() + 1e-30)) for s, f in zip(shards[0], full)
)
say(f"largest relative difference, average of {N_SHARDS} shards vs full batch: {worst:.1e}")
say(
    f"one shard alone vs full batch (what a worker knows before the all-reduce): {one_shard_off:.1e}"
)
verdict(
    "shard_average_is_full_gradient",
    worst < 1e-4 <= one_shard_off,
    "the average matches the full batch to float32 rounding; a single shard does not.",
    "unexpected: the average should match within float32 rounding, a single shard not "
    "(see the numbers).",
)

# %% [markdown]
# A gradient is not yet a step, and training is many steps. Train three copies of the GPT
# from the same start for three AdamW steps, a new batch each step: one worker on the whole
# batch; N = 4 workers, each on its shard, with their gradients averaged; and a worker on
# its own shard only (what it would do without the all-reduce). How far apart do the
# weights end up, measured against how far the steps moved them?

# %%
start_state = {k: np.array(v.data, copy=True) for k, v in model.state_dict().items()}


def trained_copy(mode: str, n_steps: int = 3) -> list[np.ndarray]:
    """The weights after n_steps AdamW steps from the same start. mode: 'full',
    'averaged' (N_SHARDS workers and an all-reduce) or 'one shard'."""
    net = GPT(cfg)
    net.load_state_dict({k: tg.Tensor(v) for k, v in start_state.items()})
    ps = list(net.parameters())
    opt = optim.AdamW(ps, lr=1e-3)
    batches = np.random.default_rng(2)
    for _ in range(n_steps):
        d = batches.integers(0, cfg.vocab_size, size=(B, T + 1))
        xs, ys = d[:, :-1], d[:, 1:]
        parts = {"full": [0], "averaged": range(N_SHARDS), "one shard": [0]}[mode]
        step = N_SHARDS if mode != "full" else 1
        grads = None
        for r in parts:
            net.zero_grad()
            _, loss = net(xs[r::step], ys[r::step])
            loss.backward()
            g = [p.grad.numpy().copy() for p in ps]
            grads = g if grads is None else [a + b for a, b in zip(grads, g)]
        for p, g in zip(ps, grads):
            p.grad = tg.Tensor(g / len(parts))
        opt.step()
    return [p.data.copy() for p in ps]


start = [p.data.copy() for p in params]
runs = {mode: trained_copy(mode) for mode in ("full", "averaged", "one shard")}


def apart(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    """|a - b| / |full run - start|, over all weights together (Euclidean norms)."""
    moved = np.sqrt(sum(float(((f - s) ** 2).sum()) for f, s in zip(runs["full"], start)))
    return np.sqrt(sum(float(((u - v) ** 2).sum()) for u, v in zip(a, b))) / moved


same_steps = apart(runs["averaged"], runs["full"])
own_shard = apart(runs["one shard"], runs["full"])
say(
    f"after 3 steps, distance to the whole-batch run, as a share of how far it moved: "
    f"{N_SHARDS} workers averaged {same_steps:.1e}, one worker on its shard alone {own_shard:.2f}"
)
verdict(
    "n_workers_same_steps",
    same_steps < 1e-3 < 1e-2 < own_shard,
    f"{N_SHARDS} workers with an all-reduce trained the same model as one worker on the whole "
    "batch, to float32 rounding; without the all-reduce a worker goes its own way",
    "unexpected: the averaged workers did not follow the whole-batch run (see the numbers)",
)
belief(
    "n_workers_different_step",
    "N workers, each on its own slice of the batch, take a different step than one worker",
    "corrected" if same_steps < 1e-3 else "confirmed",
    f"after 3 AdamW steps, {N_SHARDS} averaged workers are {same_steps:.1e} of the step length "
    f"from the one-worker run; a worker on its shard alone is {own_shard:.2f} away",
)

# %% [markdown]
# ## 2. The all-reduce: what it sends
#
# After backward each worker holds a gradient of n numbers; afterwards each must hold
# the sum of all N. Two classic ways:
#
# * **ring**: the workers sit in a ring; the buffer is cut into N chunks. In N−1 steps
#   each passes one chunk to its neighbour, adding as it goes (reduce-scatter), then
#   N−1 more steps pass the finished chunks round (all-gather). Each worker sends
#   2(N−1)/N · n numbers — almost 2n, *whatever N is* — in 2(N−1) messages.
# * **tree**: sums flow up a binary tree and back down: 2·log₂N messages, but each
#   carries the whole n. Few, large messages: good when latency dominates.
#
# A message of n bytes costs about α + n·β (α: latency, β: seconds per byte). So
# ring: t = 2(N−1)·α + 2(N−1)/N · n·β.  We fit α and β to this machine.

# %%
sizes = [1 << k for k in ((12, 16, 20, 22) if QUICK else (10, 12, 14, 16, 18, 20, 22, 24))]
if world.size > 1:
    measured = [dist.allreduce_time(s, repeats=5 if QUICK else 20) for s in sizes]
    n_ = world.size
    # t = a * (2(N-1)) + b * (2(N-1)/N * bytes): least squares for alpha, beta
    A = np.array([[2 * (n_ - 1), 2 * (n_ - 1) / n_ * s] for s in sizes])
    (alpha, beta), *_ = np.linalg.lstsq(A, np.array(measured), rcond=None)
    alpha, beta = max(alpha, 1e-7), max(beta, 1e-12)
    say(f"all-reduce between {n_} processes on this machine (shared memory):")
    for s, t in zip(sizes, measured):
        model_t = 2 * (n_ - 1) * alpha + 2 * (n_ - 1) / n_ * s * beta
        say(f"  {s / 1e6:8.3f} MB: {t * 1e6:9.1f} us   (model {model_t * 1e6:9.1f} us)")
    say(f"fit: alpha = {alpha * 1e6:.1f} us per message, 1/beta = {1 / beta / 1e9:.2f} GB/s")
else:
    # one process: nothing to exchange; time a copy of the same sizes instead (what a
    # shared-memory all-reduce between two processes on this machine mostly does)
    measured = []
    for s in sizes:
        a, b = np.ones(s // 4, np.float32), np.empty(s // 4, np.float32)
        t0 = time.perf_counter()
        for _ in range(5):
            np.copyto(b, a)
        measured.append((time.perf_counter() - t0) / 5)
    beta = float(np.median([t / s for s, t in zip(sizes[-2:], measured[-2:])]))
    alpha = 2e-6  # stated, not measured: a typical shared-memory MPI latency
    say("one process: no all-reduce to measure (run under `mpiexec -n 2` for that).")
    say(
        f"a memory copy here moves {1 / beta / 1e9:.1f} GB/s; alpha is assumed {alpha * 1e6:.0f} us"
    )

# %% [markdown]
# ## 3. A cost model: how far does it scale?
#
# A step with a fixed global batch on N workers takes
#
#     t(N) = t_compute / N  +  t_allreduce(N, gradient bytes)
#
# and the *efficiency* is t(1) / (N · t(N)): 1.0 means N workers are N times faster.
# We measure t_compute for the recipe model here, and derive GPT-2 small's from its
# operation count (6 · parameters · tokens per step) and this core's measured speed.
# The network figures are stated: 10 and 100 Gbit/s links with 5 µs latency.

# %%
local_B = dist.local_batch_size(B, world)
xb, yb = dist.shard(x, world), dist.shard(y, world)
steps = 3 if QUICK else 10
gradients(xb, yb)  # warm-up
t0 = time.perf_counter()
for _ in range(steps):
    gradients(xb, yb)
t_local = (time.perf_counter() - t0) / steps
t_compute_1 = t_local * world.size  # the whole global batch on one worker of this kind
flops_per_s = 6 * n_params * local_B * T / t_local  # forward + backward ~ 6 flops/param/token
say(f"recipe model: {n_params / 1e6:.2f} M parameters, {B} x {T} tokens per step")
say(f"  forward + backward on {local_B} sequences: {t_local * 1e3:.1f} ms here "
    f"({flops_per_s / 1e9:.0f} GFLOP/s counted as 6 flops per parameter per token)")  # fmt: skip


def ring_time(n_workers, nbytes, a, b):
    if n_workers == 1:
        return 0.0
    return 2 * (n_workers - 1) * a + 2 * (n_workers - 1) / n_workers * nbytes * b


GPT2_FLOPS = 6 * 124e6 * 512 * 1024  # GPT-2 small (124 M), a 512 x 1024-token batch
MODELS = {
    # name: (parameters, seconds of compute per step on one worker)
    "recipe 4x128": (n_params, t_compute_1),
    "GPT-2 small, this CPU": (124e6, GPT2_FLOPS / flops_per_s),
    # a stated figure, not measured: one accelerator sustaining 100 TFLOP/s
    "GPT-2 small, 100 TFLOP/s": (124e6, GPT2_FLOPS / 100e12),
}
NETS = {"10 Gbit/s": 8 / 10e9, "100 Gbit/s": 8 / 100e9}
workers = [1, 2, 4, 8, 16, 64, 256, 1024]
table = {}
for mname, (p, tc) in MODELS.items():
    for net, b in NETS.items():
        eff = []
        for n in workers:
            t = tc / n + ring_time(n, 4 * p, 5e-6, b)
            eff.append(tc / (n * t))
        table[(mname, net)] = eff
        say(f"{mname:>13}, {net:>10}: efficiency "
            + " ".join(f"{n}:{e:.2f}" for n, e in zip(workers, eff)))  # fmt: skip

plt = lesson.plt
if plt is not None and MAIN:
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for (mname, net), eff in table.items():
        ax.semilogx(workers, eff, marker="o", label=f"{mname}, {net}")
    ax.set_xlabel("workers (N)")
    ax.set_ylabel("efficiency  t(1) / (N t(N))")
    ax.set_title("Data parallelism: predicted efficiency (ring all-reduce)")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8)
    lesson.save(fig, "data_parallel_efficiency")

# %% [markdown]
# ## 4. Where data parallelism stops helping
#
# The model above says it plainly: the compute per worker shrinks as 1/N while the
# all-reduce does not (a ring sends ~2× the gradient whatever N is). Once they are
# equal, more workers buy little. There are three more walls:

# %%
recipe_10 = table[("recipe 4x128", "10 Gbit/s")]
gpt2_100 = table[("GPT-2 small, 100 TFLOP/s", "100 Gbit/s")]
half_recipe = next((n for n, e in zip(workers, recipe_10) if e < 0.5), None)
half_gpt2 = next((n for n, e in zip(workers, gpt2_100) if e < 0.5), None)
say(f"the recipe model on 10 Gbit/s falls below 50% efficiency at N = {half_recipe}"
    if half_recipe else "the recipe model stays above 50% efficiency up to 1,024 workers")  # fmt: skip
say(f"GPT-2 small on 100 TFLOP/s accelerators and 100 Gbit/s falls below 50% at N = {half_gpt2}"
    if half_gpt2 else "GPT-2 small on fast accelerators stays above 50% up to 1,024 workers")  # fmt: skip
# The belief holds where some set-up keeps N workers near N times faster (90% efficiency
# or more at N = 8) and fails where some set-up drops below 50% within 1,024 workers;
# "partly" when the table shows both.
eff8 = {key: eff[workers.index(8)] for key, eff in table.items()}
near_linear = [key for key, e in eff8.items() if e >= 0.9]
below_half = [key for key, eff in table.items() if min(eff) < 0.5]
belief(
    "n_workers_n_times_faster",
    "N workers train N times faster",
    ("partly" if below_half else "confirmed") if near_linear else "corrected",
    f"cost model with this machine's measured compute: {len(near_linear)} of {len(table)} "
    f"set-ups keep 90% efficiency or more on 8 workers (GPT-2 small on this CPU, 10 Gbit/s: "
    f"{eff8[('GPT-2 small, this CPU', '10 Gbit/s')]:.0%}), {len(below_half)} fall below 50% "
    f"within 1,024 (the recipe model on 10 Gbit/s at N = {half_recipe or '(none)'}, "
    f"{eff8[('recipe 4x128', '10 Gbit/s')]:.0%} on 8; GPT-2 small on 100 TFLOP/s "
    f"accelerators at N = {half_gpt2 or '(none)'})",
)
say(
    "a slow worker hides a slow network: at this CPU's speed GPT-2 small's step takes "
    f"{MODELS['GPT-2 small, this CPU'][1] / 3600:.1f} hours, next to which any all-reduce is free"
)
say(f"the batch runs out: a global batch of {B} sequences gives at most {B} workers one each")
adam_bytes = 16  # fp32 weight + gradient + Adam's two moments, per parameter
for name, p in (("recipe", n_params), ("GPT-2 small", 124e6), ("GPT-3 (175 B)", 175e9)):
    say(f"memory per worker for {name}: {p * adam_bytes / 1e9:,.2f} GB of weights, gradients "
        "and Adam state — every worker holds all of it")  # fmt: skip

# %% [markdown]
# What comes next, each attacking one wall:
# * **gradient accumulation**: run several micro-batches before each all-reduce — fewer
#   all-reduces per example, at the price of a larger effective batch;
# * **sharded optimizer state** (ZeRO, FSDP): each worker keeps only 1/N of the Adam
#   moments (and of the weights), gathering what it needs when it needs it — memory per
#   worker falls by up to N;
# * **tensor parallelism**: split each big matrix multiply across workers (columns of
#   one layer here, rows there), for models whose layers do not fit one device;
# * **pipeline parallelism**: different layers on different workers, micro-batches
#   flowing through like an assembly line.
# Large runs combine all four ("3-D parallelism").

# %% [markdown]
# ## 5. Data-parallel training for real
#
# `mpiexec -n 2 tinygrad-edu train-gpt` trains the recipe data-parallel: `--batch-size`
# stays the global batch, rank 0 alone writes the checkpoints and metrics, and every
# iteration's loss matches one process's with the same seed and global batch, to float32
# rounding (tests/test_distributed.py checks both, and an exact resume). The lines marked
# "DP" in `tinygrad_edu/models/train_gpt.py` are all it takes.
# Here: a few optimizer steps, timed, with the all-reduce's share measured.

# %%
opt = optim.AdamW(model.parameters(), lr=1e-3)
t_wait = t_reduce = t_all = 0.0
for _ in range(steps):
    t0 = time.perf_counter()
    model.zero_grad()
    _, loss = model(xb, yb)
    loss.backward()
    t1 = time.perf_counter()
    if world.size > 1:
        world.comm.Barrier()  # wait for the slowest rank, so the next line times only the transfer
    t2 = time.perf_counter()
    dist.average_gradients(model.parameters(), world)
    t3 = time.perf_counter()
    opt.step()
    t_all += time.perf_counter() - t0
    t_wait, t_reduce = t_wait + t2 - t1, t_reduce + t3 - t2
predicted = ring_time(world.size, 4 * n_params, alpha, beta)
measured_reduce = t_reduce / steps
say(f"{world.size} process(es): {t_all / steps * 1e3:.1f} ms per step; waiting for the slower "
    f"rank {t_wait / steps * 1e3:.2f} ms, the all-reduce itself {measured_reduce * 1e3:.2f} ms")  # fmt: skip
if world.size == 1:
    say(
        "(one process: nothing to average. Run `mpiexec -n 2 python tutorials/11_data_parallel.py`.)"
    )
else:
    ratio = measured_reduce / predicted
    agreement = "agrees with" if 0.5 <= ratio <= 2 else "differs from"
    say(f"the cost model predicted {predicted * 1e3:.2f} ms: the measurement {agreement} it "
        f"(ratio {ratio:.2f}); on one machine, waiting for the slower rank costs "
        f"{'more' if t_wait > t_reduce else 'less'} than the transfer")  # fmt: skip
    say(
        "(in a step the all-reduce also packs ~50 gradients into one buffer and unpacks them, "
        "and shares the two cores with the other rank's work; section 2 timed the transfer alone)"
    )

# %% [markdown]
# ## What the run said about the beliefs

# %%
if MAIN:  # one printed summary, from rank 0
    lesson.summary()

# %% [markdown]
# ## Exercises
#
# Write this step of the lesson yourself, and let the library check it against its own code:
#
#     tinygrad-edu exercises init ex        # one file per exercise, in the folder ex
#     tinygrad-edu exercises check ex shard_batch
#
# - `shard_batch`: each worker's slice of the global batch
#
# Each file's docstring gives the idea, the math, the shapes and a hint; `check` says
# passed, not started, or the first input where your answer differs from the library's.
