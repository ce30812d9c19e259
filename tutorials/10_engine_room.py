# %% [markdown]
# # Lesson 10 — The engine room
#
# *The track beyond the lectures.* The lectures end with what a GPT is, how it is
# trained and tuned; this lesson and the next go past them, into how that training is
# made fast, on one machine (here) and on many (the next lesson).
#
# Every lesson so far spent almost all of its time in a few loops: matrix
# multiplication, softmax, attention. This lesson measures, on *your* machine, how
# those loops get fast. Each kernel has three rungs, each a real code path in the
# package: the **NumPy twin** (`tinygrad_edu/kernels/reference.py`, the math as the
# lecture writes it), the **plain C loop** (`csrc/naive_impl.h`: one thread, one number
# at a time, in the style of llm.c) and the **fast kernel** (`csrc/softmax_impl.h`,
# `csrc/attention_impl.h`, `csrc/gemm_impl.h`: SIMD vectors, cache blocking, threads).
# Read the three side by side.
#
# Run: `python tutorials/10_engine_room.py` (add `--quick` for a short run).
#
# ## The beliefs you bring
#
# No lecture covers this track, but everyone arrives with ideas about speed. Three of
# them, each checked below by a measurement, with the outcome the run gave:
#
# 1. **A Python loop over numbers is about as fast as NumPy**: both are Python (section 2).
# 2. **Rewriting NumPy code as a C loop makes it faster**: C is compiled (section 3).
# 3. **Attention needs memory for all T x T scores**: softmax needs the whole row
#    (section 5).

# %%
from __future__ import annotations

import contextlib

with contextlib.suppress(ImportError):  # a source checkout: teach from *its* package
    import _common  # noqa: F401  (tutorials/_common.py; a notebook on its own has none)

import statistics

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu.kernels import compiled, reference
from tinygrad_edu.kernels.config import config
from tinygrad_edu.lessons import bench
from tinygrad_edu.lessons.common import Lesson  # --quick, output folder, figures
from tinygrad_edu.lessons.timing import time_call

lesson = Lesson(
    "10_engine_room", "Lesson 10: the engine room", quick_help="smaller sizes, shorter timings"
)
args = lesson.args
QUICK = lesson.quick

info = tg.info()
print(
    f"backend: {info['backend']}, SIMD: {info['simd']}, threads: {info['num_threads']}, "
    f"OpenMP: {info['openmp']}"
)
if info["backend"] != "compiled":
    print("The compiled kernels are not built, so there is no engine room to visit.")
    print("Build them with `pip install -e .` and run this lesson again.")
    raise SystemExit(0)

# %% [markdown]
# ## 1. How fast could this machine possibly go?
#
# A core can start a few fused multiply-adds (FMA: `a * b + c`, 2 floating-point
# operations) every cycle, each on a whole vector of numbers: 16 floats with AVX-512,
# 8 with AVX2. The *peak* is what you get when nothing else is in the way: we measure
# it with a loop of independent FMAs on registers that never touches memory.

# %%
peak = bench.fp32_peak_gflops(1)
print(f"measured fp32 peak: {peak:.0f} GFLOP/s on one core")

# %% [markdown]
# ## 2. The matmul ladder
#
# C = A @ B for n x n matrices costs 2 n^3 operations. The naive loops do that work,
# but wait for memory most of the time. The ladder:
#
# 1. **Python triple loop** — one interpreted multiply-add at a time.
# 2. **C triple loop (i-k-j)** — compiled, and the inner loop walks rows of B and C
#    contiguously, so the compiler can vectorise it; but every element of C is read
#    and written n times from cache or memory.
# 3. **Blocked and packed** — copy a block of A and a panel of B into contiguous,
#    aligned strips that fit the L2 and L1 caches; a *micro-kernel* keeps an MR x NR
#    tile of C in registers for the whole K loop: each loaded number feeds many FMAs.
# 4. **Wider vectors** — the same micro-kernel compiled for AVX2 / AVX-512.
# 5. **Threads** — the cores share the packed B and split the rows of A.

# %%
rows = bench.matmul_ladder(256 if QUICK else 512, quick=QUICK)
print(f"{'rung':<36}{'n':>6}{'threads':>9}{'GFLOP/s':>11}{'% of peak':>11}")
for r in rows:
    pct = 100 * r["gflops"] / (peak * r["threads"])
    print(f"{r['rung']:<36}{r['n']:>6}{r['threads']:>9}{r['gflops']:>11.2f}{pct:>10.1f}%")
gflops = {r["rung"]: r["gflops"] for r in rows}
slowest, fastest = rows[0]["gflops"], max(r["gflops"] for r in rows[:-1])  # ours, not NumPy's
print(f"\nfrom the Python loop to our fastest rung: {fastest / slowest:,.0f}x")
what = {"blocked": "the memory hierarchy", "micro-kernel": "vector width", "threads": "cores"}
for above, r in zip(rows[1:-2], rows[2:-1]):  # what each of our rungs adds to the one above
    changed = next(w for word, w in what.items() if word in r["rung"])
    print(f"{r['rung']}: {r['gflops'] / above['gflops']:.2f}x the rung above ({changed})")
print("NumPy calls OpenBLAS, which does all of this in hand-written assembly.")
numpy_gflops = gflops["NumPy (OpenBLAS)"]
lesson.verdict(
    "ours_near_openblas",
    fastest >= numpy_gflops / 2,
    f"our readable C reaches {fastest:.1f} GFLOP/s against OpenBLAS's {numpy_gflops:.1f}: "
    "within a factor of 2 of hand-written assembly",
    f"our readable C reaches {fastest:.1f} GFLOP/s, OpenBLAS {numpy_gflops:.1f}: more than "
    "2x apart in this run (at this size, on this machine)",
)
python_gflops = gflops["Python triple loop"]
numpy_over_python = numpy_gflops / python_gflops
lesson.belief(
    "python_loop_as_fast_as_numpy",
    "a Python loop over numbers is about as fast as NumPy: both are Python",
    "corrected"
    if numpy_over_python >= 10
    else ("confirmed" if numpy_over_python <= 2 else "partly"),
    f"matmul: the Python loop does {python_gflops:.4f} GFLOP/s, NumPy {numpy_gflops:.1f}: "
    f"{numpy_over_python:,.0f}x (each Python step interprets one multiply-add; NumPy runs "
    "compiled loops over whole arrays)",
)

# %% [markdown]
# ## 3. Three rungs for every kernel: NumPy, plain C, SIMD + threads
#
# The matmul ladder above has its plain C rung (the triple loop). Every other kernel has
# one too, in `csrc/naive_impl.h`: softmax, cross-entropy, LayerNorm, GELU, attention and
# the optimizers, each the NumPy twin written as loops over single numbers. Here softmax
# and causal attention climb the same three rungs. For attention there is a fourth,
# between NumPy and C: the NumPy twin rewritten as the *online softmax*
# (`reference.attention_forward_online`), the algorithm both C versions use -- it walks
# the keys in blocks and never holds all the scores at once.
#
# The rungs take turns, round after round, and each gets the median of its rounds: on a
# shared machine a busy spell then slows all of them alike.

# %%
NTHREADS = tg.get_num_threads()


def with_threads(n, fn):
    """fn run with the kernels set to n threads (then set back)."""

    def run():
        old = config.num_threads
        config.num_threads = n
        try:
            return fn()
        finally:
            config.num_threads = old

    return run


def time_rungs(rungs: dict, rounds: int) -> dict:
    """Median seconds per call of each rung, the rungs taking turns for `rounds` rounds."""
    samples = {name: [] for name in rungs}
    for _ in range(rounds):
        for name, fn in rungs.items():
            samples[name].append(time_call(fn, 0.02 if QUICK else 0.1, repeats=1))
    return {name: statistics.median(s) for name, s in samples.items()}


def show(title: str, times: dict, work: float, unit: str) -> None:
    print(title)
    base = next(iter(times.values()))
    for name, sec in times.items():
        print(f"  {name:<40}{sec * 1e3:9.2f} ms {work / sec / 1e9:9.3f} {unit}  {base / sec:7.1f}x")


rng = np.random.default_rng(lesson.seed)
x = rng.standard_normal((1024 if QUICK else 4096, 1024)).astype(np.float32)
smax = time_rungs(
    {
        "NumPy twin": lambda: reference.softmax(x),
        "plain C (one number at a time)": lambda: compiled.softmax_naive(x),
        "SIMD kernel, 1 thread": with_threads(1, lambda: compiled.softmax(x)),
        f"SIMD kernel, {NTHREADS} threads": with_threads(NTHREADS, lambda: compiled.softmax(x)),
    },
    rounds=3 if QUICK else 7,
)
show(f"softmax of {x.shape[0]} x {x.shape[1]} float32:", smax, x.size, "G elements/s")

N, T, D = 4, 256 if QUICK else 512, 64
q, k, v = (rng.standard_normal((N, T, D)).astype(np.float32) for _ in range(3))
scale = 1.0 / np.sqrt(D)
att = time_rungs(
    {
        "NumPy twin (builds all of P)": lambda: reference.attention_forward(q, k, v, True, scale),
        "NumPy, online softmax (64 keys a block)": lambda: reference.attention_forward_online(
            q, k, v, True, scale
        ),
        "plain C, online softmax (key by key)": lambda: compiled.attention_forward_naive(
            q, k, v, True, scale
        ),
        "SIMD kernel, 1 thread": with_threads(
            1, lambda: compiled.attention_forward(q, k, v, True, scale)
        ),
        f"SIMD kernel, {NTHREADS} threads": with_threads(
            NTHREADS, lambda: compiled.attention_forward(q, k, v, True, scale)
        ),
    },
    rounds=3 if QUICK else 7,
)
att_flops = 4.0 * N * D * T * (T + 1) / 2  # q.k and p@v over the visible half of the scores
show(f"causal attention forward, {N} heads, T = {T}, D = {D}:", att, att_flops, "GFLOP/s")
full_p = reference.attention_forward(q, k, v, True, scale)[0]
online = reference.attention_forward_online(q, k, v, True, scale)[0]
print(
    "the online softmax gives the same output as the full P (an identity, shown here): "
    f"largest difference {np.max(np.abs(online - full_p)):.1e}"
)


def fast_over_plain(times: dict) -> float:
    plain = next(t for name, t in times.items() if name.startswith("plain C"))
    return plain / min(t for name, t in times.items() if name.startswith("SIMD"))


for key, name, times in (("softmax", "softmax", smax), ("attention", "attention", att)):
    ratio = fast_over_plain(times)
    lesson.verdict(
        f"simd_beats_plain_c_{key}",
        ratio >= 1.5,
        f"{name}: the SIMD kernel is {ratio:.1f}x faster than the plain C loop -- the same "
        "arithmetic, done on whole vectors of numbers (and cores) at once",
        f"{name}: the SIMD kernel was only {ratio:.2f}x the plain C loop's speed in this run "
        "(under the 1.5x we ask for before calling it faster: a busy machine can blur this)",
    )

c_over_numpy = {
    "softmax": smax["NumPy twin"] / smax["plain C (one number at a time)"],
    "attention": att["NumPy twin (builds all of P)"] / att["plain C, online softmax (key by key)"],
    "matmul": gflops["C triple loop (i-k-j)"] / numpy_gflops,
}
# The claim is general ("makes it faster"): one kernel where the C loop is clearly slower
# (1.5x, a margin a busy machine does not fake) corrects it; faster everywhere confirms it.
slower = [name for name, r in c_over_numpy.items() if r <= 1 / 1.5]
faster = [name for name, r in c_over_numpy.items() if r >= 1.5]
lesson.belief(
    "c_loop_beats_numpy",
    "rewriting NumPy code as a C loop makes it faster: C is compiled",
    "corrected" if slower else ("confirmed" if len(faster) == len(c_over_numpy) else "partly"),
    "plain C's speed over NumPy's: "
    + ", ".join(f"{name} {r:.2f}x" for name, r in c_over_numpy.items())
    + " (above 1: the C loop is faster; NumPy's own loops are compiled C too, many of them"
    " with SIMD)",
)

plt = lesson.plt
if plt is not None:
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.barh([r["rung"] for r in rows], [r["gflops"] for r in rows], color="tab:blue")
    ax.axvline(peak, color="tab:red", linestyle="--", label="1-core peak")
    ax.set_xscale("log")
    ax.set(
        xlabel="GFLOP/s (log scale)", ylabel="rung", title=f"The matmul ladder, n = {rows[0]['n']}"
    )
    ax.legend()
    fig.tight_layout()
    lesson.save(fig, "10_matmul_ladder.png")

# %% [markdown]
# ## 4. Fused softmax: the memory side
#
# `softmax(x) = exp(x - max) / sum(exp(x - max))`, row by row. Written in NumPy it
# makes five passes over the whole matrix (max, subtract, exp, sum, divide) and
# allocates temporaries as big as the input. The fused kernel does three short passes
# *per row* while the row sits in the L1 cache, with an inlined vectorised `exp`
# (csrc/tg_exp.h), and allocates only its output.

# %%
for r in bench.softmax_fused_vs_unfused(2048 if QUICK else 4096, 1024, quick=QUICK):
    print(
        f"{r['version']:<46} {r['ms']:7.2f} ms  {r['ns_per_element']:5.2f} ns/element  "
        f"peak memory {r['peak_mib']:6.1f} MiB"
    )

# %% [markdown]
# ## 5. Attention that never builds the score matrix
#
# The textbook attention (lesson 7) builds all T x T scores q.k, masks them, softmaxes
# them and multiplies by v: memory grows with T^2. The fused kernel walks the keys in
# blocks, keeping for each query a running maximum and running sum (the *online
# softmax*), so it never holds more than one block of scores; backward recomputes them
# block by block from the saved log-sum-exp of each row.

# %%
T = 256 if QUICK else 512
att_rows = bench.attention_fused_vs_textbook(T=T, quick=QUICK)
for r in att_rows:
    ms = "" if r["ms"] is None else f"{r['ms']:7.2f} ms"
    print(f"{r['version']:<38} {ms:>10}   extra memory {r['extra_mib']:6.1f} MiB")
textbook_mib, fused_mib = att_rows[0]["extra_mib"], att_rows[1]["extra_mib"]
scores_mib = att_rows[2]["extra_mib"]  # one T x T float32 score matrix per head
lesson.verdict(
    "fused_attention_memory",
    fused_mib < textbook_mib / 4,
    f"the fused kernel's extra memory ({fused_mib:.1f} MiB) is far below the textbook's "
    f"({textbook_mib:.1f} MiB): it never holds the T x T scores",
    f"the fused kernel's extra memory ({fused_mib:.1f} MiB) is close to the textbook's "
    f"({textbook_mib:.1f} MiB) in this run",
)
lesson.belief(
    "attention_needs_all_scores",
    "attention needs memory for all T x T scores: softmax needs the whole row",
    "corrected" if fused_mib < scores_mib / 2 else "confirmed",
    f"T = {T}: the T x T scores take {scores_mib:.1f} MiB, the textbook attention "
    f"{textbook_mib:.1f} MiB extra, the fused kernel {fused_mib:.1f} MiB: the online softmax "
    "needs only a running maximum and sum per query, and one block of scores",
)

# %% [markdown]
# ## 6. Memory: why frameworks keep a pool
#
# A training step makes the same temporary arrays every time -- activations, their
# gradients -- and frees them milliseconds later. With NumPy's own allocator each big
# array's memory goes back to the operating system when it dies (glibc returns blocks
# over 128 KiB with munmap), so the next one gets *fresh* pages: the first write to
# each 4 KiB page stops the program while the kernel zero-fills and maps it (a minor
# page fault). PyTorch keeps freed GPU blocks in a caching allocator for the same
# reason. Ours, `csrc/mempool.c`, keeps freed blocks by size and hands them to the
# next array of that size (`tinygrad_edu.kernels.mempool`; on by default).

# %%
pool_rows = bench.memory_pool_effect(quick=QUICK)
for r in pool_rows:
    f = "n/a" if r["faults_per_step"] is None else f"{r['faults_per_step']:7.0f}"
    print(f"{r['allocator']:<34} {r['ms_per_step']:6.1f} ms per step   page faults per step {f}")
faults = {r["allocator"]: r["faults_per_step"] for r in pool_rows}
without, with_pool = (
    next((f for name, f in faults.items() if ("pool" in name) == use), None)
    for use in (False, True)
)
if without is None or with_pool is None:
    print("(page faults cannot be counted on this system: compare the times only)")
else:
    lesson.verdict(
        "pool_removes_page_faults",
        with_pool < without,
        f"{without:,.0f} page faults per step with NumPy's allocator, {with_pool:,.0f} with the "
        "pool: the pool hands back memory that is already mapped (each count measured in a "
        "fresh process, as a training script starts)",
        f"{without:,.0f} page faults per step without the pool, {with_pool:,.0f} with it: glibc's "
        "own heuristics (it raises its mmap threshold, up to 32 MiB, each time it sees a big "
        "block freed) already kept the memory mapped in this run",
    )

# %% [markdown]
# ## 7. Fusion: the MLP block in fewer trips through memory
#
# The MLP block of lecture 8 is `x + c_proj(gelu(c_fc(x)))`. Run as four kernels, each
# one writes its whole result to memory and the next reads it back:
#
#     h   = x @ W1.T          GEMM: reads x, W1;  writes h       (N, H)
#     g   = gelu(h)           reads h;            writes g       (N, H)
#     y   = g @ W2.T          GEMM: reads g, W2;  writes y       (N, C)
#     out = x + y             reads x, y;         writes out     (N, C)
#
# The fused kernels do the GELU and the residual add *in the GEMM's epilogue*: the
# moment a small tile of the result (8 x 32 numbers with AVX-512) is finished and still
# in the L1 cache, it gets GELU (or the residual) and only then goes to memory
# (`csrc/gemm_impl.h`, the fused epilogue; `F.linear_gelu` and `Linear(x, residual=...)`,
# which the GPT uses). The pre-activation h is still written: the backward pass needs
# GELU's derivative at h, and recomputing h would cost another GEMM. The numbers are the
# same, bit for bit (tests/test_kernels_fused.py). Below: the bytes each version moves,
# counted from the shapes (each array read or written once per kernel), and the time,
# the two versions taking turns.

# %%
N_TOK, C_EMB = (768, 128) if QUICK else (3072, 128)  # tokens (B x T), width
H_MLP = 4 * C_EMB
xm = rng.standard_normal((N_TOK, C_EMB)).astype(np.float32)
w1 = (rng.standard_normal((H_MLP, C_EMB)) / np.sqrt(C_EMB)).astype(np.float32)
w2 = (rng.standard_normal((C_EMB, H_MLP)) / np.sqrt(H_MLP)).astype(np.float32)


def mlp_unfused():
    h = compiled.gemm(xm, w1.T)
    g = compiled.gelu(h)
    return xm + compiled.gemm(g, w2.T)


def mlp_fused():
    _, g = compiled.linear_gelu(xm, w1)  # (h, gelu(h)) from one GEMM
    return compiled.linear_residual(g, w2, None, xm)  # x + g @ W2.T from one GEMM


same = np.array_equal(mlp_unfused(), mlp_fused())
NC, NH, W = N_TOK * C_EMB, N_TOK * H_MLP, H_MLP * C_EMB  # numbers in x, in h, in a weight
item = xm.itemsize
bytes_unfused = item * ((NC + W + NH) + (NH + NH) + (NH + W + NC) + (NC + NC + NC))
bytes_fused = item * ((NC + W + NH + NH) + (NH + W + NC + NC))
fusion = time_rungs(
    {"unfused (4 kernels)": mlp_unfused, "fused (2 GEMMs)": mlp_fused}, 5 if QUICK else 9
)
t_unfused, t_fused = fusion["unfused (4 kernels)"], fusion["fused (2 GEMMs)"]
print(f"MLP block forward, N = {N_TOK} tokens, C = {C_EMB}, H = {H_MLP}, float32:")
print(f"  unfused: {bytes_unfused / 2**20:6.1f} MiB moved, {t_unfused * 1e3:7.2f} ms")
print(f"  fused:   {bytes_fused / 2**20:6.1f} MiB moved, {t_fused * 1e3:7.2f} ms")
print(f"  the same output, bit for bit: {same}")
saved = bytes_unfused - bytes_fused
lesson.verdict(
    "fusion_moves_fewer_bytes",
    saved > 0 and same,
    f"fusion saves {saved / 2**20:.1f} MiB of memory traffic per block "
    f"({100 * saved / bytes_unfused:.0f}% of the unfused {bytes_unfused / 2**20:.1f} MiB): "
    "the GELU pass and the residual add no longer read and write whole arrays",
    "the fused block did not move fewer bytes, or did not give the same output, in this run",
)
speedup = t_unfused / t_fused
lesson.verdict(
    "fusion_not_slower",
    speedup > 1 / 1.1,
    f"the fused block ran {speedup:.2f}x as fast as the unfused one (we ask only that it be "
    "no more than 10% slower, a margin a busy machine does not fake): the epilogue's work "
    "is done on tiles already in the cache",
    f"the fused block ran at {speedup:.2f}x the unfused one's speed in this run: slower by "
    "more than 10%, which a busy spell alone rarely explains",
)

# %% [markdown]
# ## 8. The whole GPT training step
#
# A training step runs forward, backward, clipping and AdamW. Its useful work is about
# 6 FLOPs per parameter per token (2 forward, 4 backward) plus the attention scores.
# *Model-FLOPs utilisation* (MFU) is that useful work per second divided by the peak:
# the rest is memory traffic, Python overhead and small matrices.

# %%
g = bench.gpt_step_throughput(quick=QUICK)
print(
    f"GPT step: {g['ms_per_step']:.1f} ms, {g['tokens_per_s']:,.0f} tokens/s, "
    f"{g['gflops']:.1f} GFLOP/s of useful work = {100 * g['mfu']:.1f}% MFU "
    f"(peak {g['peak_gflops']:.0f} GFLOP/s with {tg.get_num_threads()} threads)"
)
lesson.verdict(
    "gpt_step_far_from_peak",
    g["mfu"] < 0.5,
    f"the step uses {100 * g['mfu']:.0f}% of the peak: a small model on a CPU is far from it, "
    "its matrices are only 768 x 128 x 384 and every element-wise op is another pass over memory",
    f"the step uses {100 * g['mfu']:.0f}% of the peak: more than half, even for this small model",
)

# %% [markdown]
# ## Exercises
#
# Write this step of the lesson yourself, and let the library check it against its own code:
#
#     tinygrad-edu exercises init ex        # one file per exercise, in the folder ex
#     tinygrad-edu exercises check ex matmul_loops
#
# - `matmul_loops`: matrix multiplication as three loops
#
# Each file's docstring gives the idea, the math, the shapes and a hint; `check` says
# passed, not started, or the first input where your answer differs from the library's.
