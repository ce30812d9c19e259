# %% [markdown]
# # Lesson 2: the cost, and gradient descent
#
# A network starts with random weights and does badly. To improve it we need a single
# number that says *how* badly: the **cost** (or loss). Learning is then nothing more
# than *minimising the cost* by turning the parameters.
#
# The **gradient** of the cost says, for each parameter, how fast the cost grows when
# that parameter grows. So the **negative gradient** is the direction of steepest
# descent: nudge every parameter a little that way and the cost drops. The size of the
# nudge is the **learning rate**. Repeat: that is **gradient descent**.
#
# Gradient descent finds *a* valley, the one downhill from where it started: a local
# minimum. Whether it is the lowest valley of all (the global minimum) depends on the
# start.
#
# Run: `python tutorials/02_cost_and_gradient_descent.py [--quick]`. The gradients come
# from the scalar engine (`tinygrad_edu/scalar.py`): we build the cost out of `Value`s
# and call `backward()`; lesson 3 opens that box.

# %%
from __future__ import annotations

import contextlib
from typing import Callable

with contextlib.suppress(ImportError):  # a source checkout: teach from *its* package
    import _common  # noqa: F401  (tutorials/_common.py; a notebook on its own has none)

from tinygrad_edu.lessons.common import Lesson  # --quick, output folder, figures
from tinygrad_edu.scalar import Value

lesson = Lesson(
    "02_cost_and_gradient_descent",
    "Lesson 2: cost and gradient descent",
    quick_help="fewer steps (for CI)",
)
args = lesson.args
STEPS = 100 if args.quick else 300
plt = lesson.plt

# %% [markdown]
# ## 1. A cost function
#
# The tiniest model: a line, `prediction = w * x + b`, with two parameters. The data are
# six points that lie roughly on y = 2x + 1. The cost is the **mean squared error**: the
# average of (prediction - truth)^2 over the points. It is 0 only if every prediction is
# exact, and it punishes big misses much more than small ones.

# %%
xs = [-2.0, -1.0, 0.0, 1.0, 2.0, 3.0]
ys = [-3.2, -0.8, 1.1, 2.9, 5.2, 6.8]


def line_cost(w: Value, b: Value) -> Value:
    """Mean squared error of the line w*x + b on the six points."""
    total = Value(0.0)
    for x, y in zip(xs, ys):
        prediction = w * x + b
        total = total + (prediction - y) ** 2
    return total / len(xs)


print("   w     b     cost    (the cost says how badly each guess fits the points)")
for w, b in [(0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (2.0, 1.0), (3.0, 1.0)]:
    print(f"{w:4.1f}  {b:4.1f}  {line_cost(Value(w), Value(b)).data:7.3f}")

# %% [markdown]
# ## 2. The gradient points uphill
#
# Build the cost out of `Value`s, call `backward()`, and every parameter's `.grad` holds
# the slope of the cost along that parameter. Stepping against the gradient (minus the
# learning rate times the gradient) lowers the cost.

# %%
w, b = Value(0.0), Value(0.0)
cost = line_cost(w, b)
cost.backward()
print(f"at w=0, b=0: cost {cost.data:.3f}, dcost/dw = {w.grad:.3f}, dcost/db = {b.grad:.3f}")
print("  both slopes are negative: increasing w and b lowers the cost")
lr = 0.05
w2, b2 = w.data - lr * w.grad, b.data - lr * b.grad
print(f"one step with learning rate {lr}: w={w2:.3f}, b={b2:.3f}, ", end="")
print(f"cost {cost.data:.3f} -> {line_cost(Value(w2), Value(b2)).data:.3f}")

# %% [markdown]
# ## 3. Gradient descent: repeat the step
#
# The whole algorithm fits in a few lines: evaluate the cost at the current point, get
# the gradient, step downhill, repeat. (For a straight line the best fit also has a
# formula, least squares, which lets us check where gradient descent ends up.)


# %%
def gradient_descent(
    f: Callable[..., Value], start: list[float], lr: float, steps: int
) -> tuple[list[float], list[float]]:
    """Minimise f from start; return the final point and the cost at every step."""
    point, costs = list(start), []
    for _ in range(steps):
        params = [Value(p) for p in point]  # a fresh graph each step, so grads start at 0
        cost = f(*params)
        cost.backward()
        costs.append(cost.data)
        point = [p.data - lr * p.grad for p in params]  # the step: against the gradient
    return point, costs


(w_end, b_end), costs = gradient_descent(line_cost, [0.0, 0.0], lr=0.1, steps=STEPS)
for step in [0, 1, 2, 5, 10, 20, 50, STEPS - 1]:
    print(f"step {step:3d}: cost {costs[step]:.5f}")
mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
w_best = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum(
    (x - mean_x) ** 2 for x in xs
)
b_best = mean_y - w_best * mean_x
print(f"gradient descent ends at w={w_end:.4f}, b={b_end:.4f}")
print(f"least squares says       w={w_best:.4f}, b={b_best:.4f}   <- the same line")

# %% [markdown]
# ## 4. Many valleys: where you start decides where you land
#
# A cost with several local minima (a bumpy landscape: four wells of different depths
# in a gentle bowl). We start gradient descent from several points. Each run rolls down
# into the valley it started above, and stays there: the gradient is zero at the bottom
# of *every* valley, so nothing tells it that a deeper one exists elsewhere.

# %%
WELLS = [(-4.0, 1.1), (-1.5, 0.5), (1.0, 1.4), (3.5, 0.7)]  # (centre, depth)


def bumpy(x: Value) -> Value:
    """0.03 x^2 minus a Gaussian well exp(-(x-c)^2 / 0.98) of each depth."""
    y = 0.03 * x**2
    for centre, depth in WELLS:
        y = y - depth * (-((x - centre) ** 2) / (2 * 0.7**2)).exp()
    return y


def f1(x: float) -> float:
    return bumpy(Value(x)).data


grid = [i / 100 for i in range(-700, 701)]
lowest = min(grid, key=f1)
print(f"the global minimum is near x = {lowest:.2f} (cost {f1(lowest):.3f})")
print(" start  ->   end     cost at end")
starts = [-6.0, -4.5, -3.0, -2.0, -1.0, 0.0, 0.5, 2.0, 3.0, 4.5, 6.0]
ends = []
for x0 in starts:
    (x_end,), _ = gradient_descent(bumpy, [x0], lr=0.2, steps=STEPS)
    ends.append(x_end)
    note = "  <- the global minimum" if abs(x_end - lowest) < 0.05 else ""
    print(f"{x0:6.2f} -> {x_end:6.2f}   {f1(x_end):8.3f}{note}")
print(f"{len({round(e, 1) for e in ends})} different valleys from {len(starts)} starts")

if plt is not None:
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(grid, [f1(x) for x in grid], color="gray")
    ax.scatter(starts, [f1(x) for x in starts], marker="o", label="start", zorder=3)
    ax.scatter(ends, [f1(x) for x in ends], marker="x", s=80, label="end", zorder=3)
    ax.set(xlabel="x", ylabel="cost", title="Gradient descent finds the nearest valley")
    ax.legend()
    lesson.save(fig, "02_valleys")

# %% [markdown]
# ## 5. A surface in two dimensions
#
# With two parameters the cost is a landscape over a plane. This one,
# `(x^2 - 1)^2 + 0.5 y^2 + 0.3 x`, has two valleys: a deeper one at x < 0 and a shallower
# one at x > 0. The negative gradient is a 2-D arrow; each step follows it.


# %%
def surface(x: Value, y: Value) -> Value:
    return (x**2 - 1) ** 2 + 0.5 * y**2 + 0.3 * x


paths = {}
for start in [(1.8, 1.5), (0.3, -1.8), (-0.3, 1.8), (-1.9, -1.0)]:
    point, costs = gradient_descent(surface, list(start), lr=0.05, steps=STEPS)
    paths[start] = point
    print(
        f"start ({start[0]:5.2f}, {start[1]:5.2f}) cost {costs[0]:6.3f}  ->  "
        f"end ({point[0]:5.2f}, {point[1]:5.2f}) cost {costs[-1]:6.3f}"
    )
deep = [s for s, end in paths.items() if end[0] < 0]  # ended in the valley at x < 0
lesson.verdict(
    "start_decides_valley",
    all((s[0] < 0) == (end[0] < 0) for s, end in paths.items()) and 0 < len(deep) < len(paths),
    f"each run stayed on its own side: the {len(deep)} starts with x < 0 found the deeper "
    "valley, the others the shallower one. Where you start decides where you end.",
    f"{len(deep)} of {len(paths)} runs ended in the deeper valley (x < 0): here the start "
    "did not decide the valley as cleanly as the picture suggests",
)

if plt is not None:
    n = 80
    gx = [-2.2 + 4.4 * i / (n - 1) for i in range(n)]
    gy = [-2.2 + 4.4 * j / (n - 1) for j in range(n)]
    z = [[surface(Value(x), Value(y)).data for x in gx] for y in gy]
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    contour = ax.contour(gx, gy, z, levels=30, cmap="viridis")
    fig.colorbar(contour, ax=ax, label="cost")
    for start in paths:  # redo each run, keeping every point, to draw the path
        trail, p = [list(start)], list(start)
        for _ in range(STEPS):
            p, _ = gradient_descent(surface, p, lr=0.05, steps=1)
            trail.append(p)
        ax.plot([q[0] for q in trail], [q[1] for q in trail], "r.-", markersize=2)
    ax.set(xlabel="x", ylabel="y", title="Gradient descent on a 2-D surface")
    lesson.save(fig, "02_surface")

# %% [markdown]
# ## 6. The learning rate
#
# Back to the line's cost. The learning rate scales every step:
# - **too small**: each step is tiny, the cost crawls down;
# - **good**: the cost drops fast and settles at the minimum;
# - **too large**: each step overshoots the valley floor and lands higher up the other
#   side than it started: the cost grows, step after step (it *diverges*).

# %%
show = [0, 1, 2, 5, 10, 20, 29]
best_cost = line_cost(Value(w_best), Value(b_best)).data  # the bottom of the valley
print("learning rate " + "".join(f"  step {s:<3d}" for s in show))
lr_costs = {}
for lr in (0.005, 0.1, 0.33):
    _, costs = gradient_descent(line_cost, [0.0, 0.0], lr=lr, steps=30)
    lr_costs[lr] = costs
    # the verdict comes from the costs: growing, near the best, or still far above it
    if costs[-1] > costs[0]:
        how = "diverging: the cost grew"
    elif costs[-1] < best_cost + 0.01 * (costs[0] - best_cost):
        how = "converging: 99% of the way down"
    else:
        how = f"crawling: {100 * (costs[0] - costs[-1]) / (costs[0] - best_cost):.0f}% of the way down"
    print(f"{lr:5.3f}         " + "".join(f"{costs[s]:10.3f}" for s in show) + f"   {how}")
print(f"(the best possible cost for these points is {best_cost:.3f})")
small, good, big = (lr_costs[lr][-1] for lr in (0.005, 0.1, 0.33))
lesson.verdict(
    "learning_rate_too_small_good_too_big",
    good < small < lr_costs[0.005][0] and big > lr_costs[0.33][0],
    "too small crawls, a good rate gets to the bottom, too large climbs out of the valley",
    f"after 30 steps the costs are {small:.3g} (lr 0.005), {good:.3g} (0.1), {big:.3g} (0.33): "
    "not the textbook pattern this time",
)

if plt is not None:
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    for lr, costs in lr_costs.items():
        ax.plot(range(len(costs)), costs, "o-", markersize=3, label=f"learning rate {lr}")
    ax.axhline(best_cost, color="k", ls=":", label="best possible cost")
    ax.set(xlabel="step", ylabel="cost (log scale)", yscale="log", title="Three learning rates")
    ax.legend()
    lesson.save(fig, "learning_rates")

# %% [markdown]
# ## Exercises
#
# Write these steps of the lesson yourself, and let the library check them against its own code:
#
#     tinygrad-edu exercises init ex        # one file per exercise, in the folder ex
#     tinygrad-edu exercises check ex mse_cost gradient_descent_step
#
# - `mse_cost`: the mean squared error cost
# - `gradient_descent_step`: one gradient-descent step for a line fitted by least squares
#
# Each file's docstring gives the idea, the math, the shapes and a hint; `check` says
# passed, not started, or the first input where your answer differs from the library's.
