# %% [markdown]
# # Lesson 10 — The engine room
#
# Every lesson so far spent almost all of its time in a few loops: matrix
# multiplication, softmax, attention. This lesson measures, on *your* machine, how
# those loops get fast. Each rung of each ladder is a real code path in the package
# (`tinygrad_edu/lessons/bench.py` names them); read `csrc/gemm_impl.h`, `csrc/softmax_impl.h`
# and `csrc/attention_impl.h` next to `tinygrad_edu/kernels/reference.py` to see the
# fast version beside the readable one.
#
# Run: `python tutorials/10_engine_room.py` (add `--quick` for a short run).

# %%
from __future__ import annotations

import contextlib

with contextlib.suppress(ImportError):  # a source checkout: teach from *its* package
    import _common  # noqa: F401  (tutorials/_common.py; a notebook on its own has none)

import tinygrad_edu as tg
from tinygrad_edu.lessons import bench
from tinygrad_edu.lessons.common import Lesson  # --quick, output folder, figures

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
slowest, fastest = rows[0]["gflops"], max(r["gflops"] for r in rows)
print(f"\nfrom the Python loop to the fastest rung: {fastest / slowest:,.0f}x")
print("What to look at: the jump at 'blocked + packed' is the memory hierarchy; the jump at")
print("the micro-kernel is vector width; the last one is cores. NumPy calls OpenBLAS, which")
print("does all of this in hand-written assembly: our readable C gets close to it.")

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
# ## 3. Fused softmax
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
# ## 4. Attention that never builds the score matrix
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
lesson.verdict(
    "fused_attention_memory",
    fused_mib < textbook_mib / 4,
    f"the fused kernel's extra memory ({fused_mib:.1f} MiB) is far below the textbook's "
    f"({textbook_mib:.1f} MiB): it never holds the T x T scores",
    f"the fused kernel's extra memory ({fused_mib:.1f} MiB) is close to the textbook's "
    f"({textbook_mib:.1f} MiB) in this run",
)

# %% [markdown]
# ## 5. Memory: why frameworks keep a pool
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
# ## 6. The whole GPT training step
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
print("What to look at: a small model on a CPU is far from peak; the matrices are only")
print("768 x 128 x 384, and every element-wise op is another pass over memory.")

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
