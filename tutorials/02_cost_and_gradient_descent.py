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
import math
from typing import Callable

import numpy as np

with contextlib.suppress(ImportError):  # a source checkout: teach from *its* package
    import _common  # noqa: F401  (tutorials/_common.py; a notebook on its own has none)

from tinygrad_edu.lessons.common import Lesson  # --quick, output folder, figures
from tinygrad_edu.scalar import Value, descend_line

lesson = Lesson(
    "02_cost_and_gradient_descent",
    "Lesson 2: cost and gradient descent",
    quick_help="fewer steps (for CI)",
)
args = lesson.args
STEPS = 100 if lesson.quick else 300
plt = lesson.plt

# %% [markdown]
# ## What you may believe after the lecture, and how this lesson checks it
#
# A learner's notes on lecture 2 say three things. Each is checked below by an experiment,
# with an outcome (confirmed, partly or corrected) computed from the run:
#
# 1. *The cost says how well the whole network recognizes your data* (section 1).
# 2. *It is always easy to find a local minimum of a function* (sections 4-6: valleys, a
#    saddle, and learning rates).
# 3. *The way to compute gradient descent is backpropagation* (section 3: descent with
#    the gradient found another way).
#
# And a common one: *the negative gradient points at the minimum* (section 5: measure
# the angle).
#
# The last cell lists the outcomes.

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


print("   w     b     cost    mean miss   (the miss: |prediction - truth|, averaged)")
guesses = [(0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (2.0, 1.0), (3.0, 1.0)]
guess_costs, guess_misses = [], []
for w, b in guesses:
    guess_costs.append(line_cost(Value(w), Value(b)).data)
    guess_misses.append(sum(abs(w * x + b - y) for x, y in zip(xs, ys)) / len(xs))
    print(f"{w:4.1f}  {b:4.1f}  {guess_costs[-1]:7.3f}  {guess_misses[-1]:9.3f}")

# %% [markdown]
# **Belief 1: the cost says how well the network recognizes the data.** It is one number
# for the whole data set, yes. But which way does it point? Compare it with how far the
# lines miss the points:

# %%
cost_tracks_miss = all(
    (c1 < c2) == (m1 < m2)
    for c1, m1 in zip(guess_costs, guess_misses)
    for c2, m2 in zip(guess_costs, guess_misses)
    if c1 != c2
)
best, worst = int(np.argmin(guess_costs)), int(np.argmax(guess_costs))
print(f"the lowest cost, {guess_costs[best]:.3f}, belongs to the line that misses least "
      f"({guess_misses[best]:.3f}): {guess_misses[best] == min(guess_misses)}")  # fmt: skip
lesson.belief(
    "cost_measures_how_badly",
    "The cost says how well the whole network recognizes the data.",
    "partly" if cost_tracks_miss and guess_misses[best] == min(guess_misses) else "corrected",
    f"one number over all {len(xs)} points, but it measures how badly: it rises with the miss "
    f"(line {guesses[best]} misses by {guess_misses[best]:.2f} and costs {guess_costs[best]:.2f}, "
    f"line {guesses[worst]} misses by {guess_misses[worst]:.2f} and costs {guess_costs[worst]:.2f}); "
    "lower is better, 0 is perfect",
    notes=(5,),
)

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
for name, g in (("w", w.grad), ("b", b.grad)):
    way = "lowers" if g < 0 else "raises"
    print(
        f"  dcost/d{name} is {'negative' if g < 0 else 'positive'}: increasing {name} {way} the cost"
    )
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


# For the line, this loop is `descend_line` in tinygrad_edu/scalar.py: its step,
# `gradient_descent_step` there, builds the line's cost from Values, calls backward()
# and moves w and b against their slopes.
(w_end, b_end), costs = descend_line(xs, ys, lr=0.1, steps=STEPS)
for step in [0, 1, 2, 5, 10, 20, 50, STEPS - 1]:
    print(f"step {step:3d}: cost {costs[step]:.5f}")
mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
w_best = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum(
    (x - mean_x) ** 2 for x in xs
)
b_best = mean_y - w_best * mean_x
print(f"gradient descent ends at w={w_end:.4f}, b={b_end:.4f}")
print(f"least squares says       w={w_best:.4f}, b={b_best:.4f}")
print(f"  the two differ by {max(abs(w_end - w_best), abs(b_end - b_best)):.1e}")

# %% [markdown]
# **Belief 3: gradient descent is computed by backpropagation.** Descent needs *a*
# gradient; backpropagation is one way to get it. Another is to nudge each parameter by a
# tiny h both ways and measure the slope, (cost(p + h) - cost(p - h)) / 2h: finite
# differences (lesson 3). Run the same descent with that gradient instead:


# %%
def finite_difference_descent(f, start, lr, steps, h=1e-6):
    """Gradient descent whose gradient comes from nudging each parameter (no backward())."""
    point, evaluations = list(start), 0
    for _ in range(steps):
        grad = []
        for k in range(len(point)):
            up, down = list(point), list(point)
            up[k] += h
            down[k] -= h
            grad.append((f(*map(Value, up)).data - f(*map(Value, down)).data) / (2 * h))
            evaluations += 2
        point = [p - lr * g for p, g in zip(point, grad)]
    return point, evaluations


(w_fd, b_fd), n_evals = finite_difference_descent(line_cost, [0.0, 0.0], lr=0.1, steps=STEPS)
apart = max(abs(w_fd - w_end), abs(b_fd - b_end))
print(f"descent with finite differences ends at w={w_fd:.4f}, b={b_fd:.4f} "
      f"({apart:.1e} from the descent with backward()), after {n_evals} cost evaluations")  # fmt: skip
print(
    f"backward() needed {STEPS} forward and {STEPS} backward passes; for lesson 1's digit network"
)
print(f"finite differences would need 2 x 13,002 = {2 * 13_002:,} forward passes for every step")
lesson.belief(
    "descent_needs_backprop",
    "The way to compute gradient descent is backpropagation.",
    "partly" if apart < 1e-4 else "confirmed",
    f"descent with a finite-difference gradient reached the same line ({apart:.0e} apart, "
    f"{n_evals} cost evaluations): descent is the step, backprop is the fast way to get its "
    "gradient (2 passes instead of 2 per parameter)",
    notes=(7,),
)

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
n_valleys = len({round(e, 1) for e in ends})
n_global = sum(abs(e - lowest) < 0.05 for e in ends)
print(f"{n_valleys} different valleys from {len(starts)} starts; {n_global} reached the global one")

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

# %% [markdown]
# **Does the negative gradient point at the minimum?** At each start, compare the
# direction of the first step (the negative gradient) with the straight line to the
# bottom of the valley that run ended in:

# %%
angles = []
for start, end in paths.items():
    px, py = Value(start[0]), Value(start[1])
    surface(px, py).backward()
    step = (-px.grad, -py.grad)  # the direction of steepest descent
    to_bottom = (end[0] - start[0], end[1] - start[1])
    cos = (step[0] * to_bottom[0] + step[1] * to_bottom[1]) / (
        math.hypot(*step) * math.hypot(*to_bottom)
    )
    angles.append(math.degrees(math.acos(max(-1.0, min(1.0, cos)))))
    print(f"start ({start[0]:5.2f}, {start[1]:5.2f}): the first step is {angles[-1]:4.1f} degrees "
          "off the line to the bottom")  # fmt: skip
lesson.belief(
    "gradient_points_at_the_minimum",
    "The negative gradient points at the minimum.",
    "corrected" if max(angles) > 20 else ("partly" if max(angles) > 5 else "confirmed"),
    f"from 4 starts the first step was {min(angles):.0f}-{max(angles):.0f} degrees off the line "
    "to the bottom it reached: it points downhill, steepest here, and the path bends on the way",
)

# %% [markdown]
# **A pass between the valleys: a saddle.** Between the two valleys, on the line y = 0,
# the surface has a point where the gradient is zero but which is no minimum: downhill
# both ways along x, uphill along y, like a mountain pass. Start a hair's breadth
# (0.000001) from it and count how many steps descent needs for the first 10% of its way
# down, against the starts above:

# %%
x_pass = 0.0
for _ in range(50):  # Newton's method on d/dx = 4x(x^2 - 1) + 0.3 = 0, near x = 0
    x_pass -= (4 * x_pass**3 - 4 * x_pass + 0.3) / (12 * x_pass**2 - 4)


def first_tenth(start: tuple[float, float], steps: int = 300) -> tuple[int, list[float]]:
    """Steps until the cost has made 10% of its total drop, and the costs."""
    _, costs = gradient_descent(surface, list(start), lr=0.05, steps=steps)
    drop = costs[0] - costs[-1]
    return next(i for i, c in enumerate(costs) if costs[0] - c > 0.1 * drop), costs


saddle_steps, saddle_costs = first_tenth((x_pass + 1e-6, 0.0))
plain_steps = max(first_tenth(start)[0] for start in paths)
print(f"the pass: x = {x_pass:.4f}, y = 0, cost {surface(Value(x_pass), Value(0.0)).data:.3f}")
print(f"from 0.000001 beside it: {saddle_steps} steps for the first 10% of the descent")
print(f"from the four starts above: at most {plain_steps} steps")
lesson.verdict(
    "saddle_crawls",
    saddle_steps > 10 * max(plain_steps, 1),
    f"near the saddle the gradient is almost zero: descent crawled for {saddle_steps} steps "
    f"before it got going, against {plain_steps} from an ordinary start",
    f"the saddle held descent back only {saddle_steps} steps (ordinary starts: {plain_steps})",
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
    _, costs = descend_line(xs, ys, lr=lr, steps=30)
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

# %% [markdown]
# **Belief 2: it is always easy to find a local minimum.** Gather what sections 4-6
# measured: how many starts found the lowest valley, how long the saddle held descent
# back, and what a too-large step did.

# %%
slopes = []
for e in ends:
    v = Value(e)
    bumpy(v).backward()
    slopes.append(abs(v.grad))
at_a_minimum = max(slopes) < 1e-3
diverged = big > lr_costs[0.33][0]
if not at_a_minimum:
    outcome = "corrected"
elif n_global == len(starts) and saddle_steps <= 10 * max(plain_steps, 1) and not diverged:
    outcome = "confirmed"
else:
    outcome = "partly"
lesson.belief(
    "local_minimum_is_easy",
    "It is always easy to find a local minimum of a function.",
    outcome,
    f"with a good step every run stopped where the slope is flat (largest |slope| {max(slopes):.0e}), "
    f"but only {n_global} of {len(starts)} starts reached the lowest valley, a start beside a saddle "
    f"crawled {saddle_steps} steps (ordinary starts: {plain_steps}), and learning rate 0.33 "
    f"{'diverged' if diverged else 'converged'} (cost {lr_costs[0.33][0]:.1f} -> {big:.3g})",
    notes=(6,),
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
# ## What the run said about the beliefs

# %%
lesson.summary()

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
