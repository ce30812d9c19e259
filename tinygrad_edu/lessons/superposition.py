"""MLPs and superposition (lecture 8): where facts may live, and how a network can hold
more features than it has neurons or dimensions.

    FactMemory           the GPT's MLP block (nn.MLP) used as a memory, subject -> attributes
    pairwise_cosines     cos(angle) between every pair of directions, and
    angles_degrees       the same as angles in degrees (each pair once)
    welch_bound          how close to 90 degrees n directions in d dimensions can all be
    welch_max_directions          so at most how many fit within 90 +- k degrees
    random_directions_guarantee   and how many surely fit (random ones, with luck)
    spread_directions    gradient descent on the sphere: push every pair towards 90 degrees
    most_directions      how many fit within 90 +- k degrees, as found by that descent
    ToySuperposition     n sparse features squeezed into m < n dimensions and read back

tutorials/08_mlp_and_superposition.py runs all of them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import nn, optim
from ..tensor import Tensor

# --- the MLP block as a memory -------------------------------------------------------------------


class FactMemory(nn.Module):
    """Facts "subject -> attribute" stored in an MLP block, the way a GPT might store them.

        x = subject_vectors[s]              (B, d)  fixed: the subject's vector, as the
                                                    attention layers might deliver it
        x = x + mlp(x)                      (B, d)  the MLP block (nn.MLP, the GPT's own:
                                                    Linear -> GELU -> Linear) adds what it knows
        logits = x @ value_vectors.T        (B, n_values)  fixed unembedding: one
                                                    direction per attribute value

    Only the MLP learns: the subject and value vectors are random and frozen, so the
    facts can only be stored in the MLP's weights. Without the MLP, x alone points at
    no particular value, and recall is at chance.
    """

    def __init__(self, n_subjects: int, n_values: int, d: int, hidden: int, seed: int = 0) -> None:
        super().__init__()
        g = np.random.default_rng(seed)
        self.register_buffer("subject_vectors", _unit_rows(g.standard_normal((n_subjects, d))))
        self.register_buffer("value_vectors", _unit_rows(g.standard_normal((n_values, d))))
        self.mlp = nn.MLP(d, hidden)

    def forward(self, subjects: Any, use_mlp: bool = True) -> tuple[Tensor, Tensor | None]:
        """subject ids (B,) -> (logits (B, n_values), hidden activations (B, hidden) or None)."""
        x = self.subject_vectors[np.asarray(subjects)]  # (B, d)
        h = None
        if use_mlp:
            # the MLP's neurons are what its c_proj reads: a forward hook hands them over
            seen: list[Tensor] = []
            hook = self.mlp.c_proj.register_forward_hook(lambda m, args, y: seen.append(args[0]))
            try:
                delta = self.mlp(x)
            finally:
                hook.remove()
            h = seen[0]  # (B, hidden), after GELU
            x = x + delta  # the residual stream: the MLP adds to x, it does not replace it
        return x @ self.value_vectors.T, h  # (B, n_values)


def _unit_rows(a: np.ndarray) -> np.ndarray:
    return (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)


# --- the geometry of nearly perpendicular directions -------------------------------------------------


def pairwise_cosines(vectors: np.ndarray) -> np.ndarray:
    """cos(angle) for each pair i < j of rows (made unit length first): (n (n - 1) / 2,)."""
    v = np.asarray(vectors, dtype=np.float64)
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    i, j = np.triu_indices(len(v), k=1)
    return np.clip((v @ v.T)[i, j], -1.0, 1.0)


def angles_degrees(vectors: np.ndarray) -> np.ndarray:
    """The angle between each pair of rows, in degrees (90 = perpendicular)."""
    return np.degrees(np.arccos(pairwise_cosines(vectors)))


def welch_bound(n: int, d: int) -> float:
    """The smallest possible largest |cos| among n unit vectors in d dimensions (n > d).

    Stack the vectors as the rows of V (n, d); the Gram matrix G = V V^T holds every
    cos. G has trace n (the diagonal is 1) and rank at most d, so by Cauchy-Schwarz on
    its at most d non-zero eigenvalues, sum(G^2) >= n^2 / d. Take away the diagonal's n
    ones and share the rest among the n (n - 1) ordered pairs:

        mean over pairs of cos^2 >= (n - d) / (d (n - 1))

    and the largest cos^2 is at least the mean. So sqrt of that bounds both the RMS
    and the max |cos| (L. Welch, 1974). For n >> d it is about 1/sqrt(d): in 100
    dimensions, some pair of 10,000 directions is at least 5.7 degrees off 90.
    """
    if n <= d:
        return 0.0  # n <= d: an orthonormal set, every angle exactly 90 degrees
    return math.sqrt((n - d) / (d * (n - 1)))


def welch_max_directions(d: int, tolerance_deg: float) -> float:
    """The most directions the Welch bound allows within 90 +- tolerance_deg (inf if unbounded).

    Solve welch_bound(n, d) <= eps = sin(tolerance) for n: n <= d (1 - eps^2) / (1 - d eps^2)
    when d eps^2 < 1; for larger tolerances this bound allows any n (others then bind).
    """
    eps2 = math.sin(math.radians(tolerance_deg)) ** 2
    if d * eps2 >= 1.0:
        return math.inf
    return d * (1.0 - eps2) / (1.0 - d * eps2)


def random_directions_guarantee(d: int, tolerance_deg: float) -> float:
    """A proven lower bound on how many directions fit within 90 +- tolerance_deg: e^(d eps^2 / 4).

    Draw n directions at random. For one pair, P(|cos| > eps) <= 2 e^(-d eps^2 / 2)
    (a random direction concentrates near the "equator" of any other). With fewer than
    n^2 / 2 pairs, the expected number of bad pairs is below n^2 e^(-d eps^2 / 2), which
    is < 1 when n < e^(d eps^2 / 4); so some draw has no bad pair at all. Loose in small
    dimensions, but it grows exponentially with d.
    """
    eps = math.sin(math.radians(tolerance_deg))
    return math.exp(d * eps * eps / 4.0)


def spread_directions(
    n: int,
    d: int,
    tolerance_deg: float,
    steps: int = 500,
    lr: float = 0.05,
    seed: int = 0,
    vectors: np.ndarray | None = None,
) -> tuple[np.ndarray, list[float]]:
    """Gradient descent on the sphere: move n unit vectors in d dimensions until every
    pair is within 90 +- tolerance_deg, or `steps` run out.

    The cost of a pair is how far |cos| exceeds eps = sin(tolerance), squared:

        cost = sum over pairs i < j of relu(|cos_ij| - eps)^2,   cos = V V^T (n, n)

    so pairs already close enough to perpendicular cost nothing and only the worst
    pairs are pushed apart (eps is aimed at 2% inside the tolerance, since the pull on a
    pair fades as it nears the target). After each step the rows are scaled back to length 1
    (projected gradient descent: step, then return to the sphere). Returns the vectors
    (n, d) and the largest deviation from 90 degrees after each step.
    """
    if vectors is None:
        vectors = np.random.default_rng(seed).standard_normal((n, d))
    V = Tensor(_unit_rows(np.asarray(vectors)), requires_grad=True)  # (n, d)
    eps = math.sin(math.radians(tolerance_deg))
    target = 0.98 * eps  # aim a little inside: the cost's pull fades as a pair nears eps
    diagonal = np.eye(n, dtype=bool)  # cos(v_i, v_i) = 1 is not a pair
    opt = optim.SGD([V], lr=lr)
    worst: list[float] = []
    for _ in range(steps):
        G = V @ V.T  # (n, n): every cos at once, one matrix product
        excess = (G.abs() - target).relu().masked_fill(diagonal, 0.0)
        off = np.abs(G.data)
        np.fill_diagonal(off, 0.0)
        worst_cos = float(off.max())
        worst.append(math.degrees(math.asin(min(worst_cos, 1.0))))
        if worst_cos <= eps:
            break  # every pair is within the tolerance
        cost = (excess * excess).sum() * 0.5  # each pair appears twice in G
        opt.zero_grad()
        cost.backward()
        opt.step()
        V.data /= np.linalg.norm(V.data, axis=1, keepdims=True)  # back onto the sphere
    return V.data.copy(), worst


def most_directions(
    d: int, tolerance_deg: float, steps: int = 300, n_max: int = 4096, seed: int = 0
) -> tuple[int, int | None]:
    """How many directions in d dimensions can all be within 90 +- tolerance_deg?

    Doubles n from d while spread_directions succeeds, then bisects between the last
    success and the first failure (to within 5%). Returns (largest n that fitted,
    smallest n that did not, or None if n_max fitted). This is what *our optimiser*
    finds in `steps` steps: a lower bound on the true maximum, not the maximum itself.
    """

    def fits(n: int) -> bool:
        return (
            spread_directions(n, d, tolerance_deg, steps=steps, seed=seed)[1][-1] <= tolerance_deg
        )

    lo, hi = 0, None
    n = d
    while n <= n_max:
        if not fits(n):
            hi = n
            break
        lo, n = n, 2 * n
    if hi is None:
        return lo, None
    while hi - lo > max(1, lo // 20):
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo, hi


# --- the toy model of superposition ---------------------------------------------------------------------


class ToySuperposition(nn.Module):
    """n features squeezed into m < n dimensions and read back (after Elhage et al.,
    "Toy Models of Superposition", 2022):

        h = W x              (m,)   each feature i is written along its direction W[:, i]
        x' = ReLU(W^T h + b) (n,)   and read back by the same directions

    If only m features could be stored, m directions would be perpendicular and the
    rest zero. When features are rarely active at the same time (sparse), the model
    can give many more than m of them a direction: their interference (the cos
    between directions) only costs something in the rare moments two are active
    together, and the ReLU and the negative bias b clip small interference away.
    """

    def __init__(self, n_features: int, m_dims: int) -> None:
        super().__init__()
        self.W = nn.Parameter(np.empty((m_dims, n_features), dtype=np.float32))
        nn.init.normal_(self.W, std=1.0 / math.sqrt(m_dims))
        self.b = nn.Parameter(np.zeros(n_features, dtype=np.float32))

    def forward(self, x: Tensor) -> Tensor:
        h = x @ self.W.T  # (B, m): compress
        return (h @ self.W + self.b).relu()  # (B, n): read back

    def feature_norms(self) -> np.ndarray:
        """|W[:, i]| per feature: about 1 if the feature is stored, about 0 if dropped."""
        return np.linalg.norm(self.W.data, axis=0)


def sparse_features(
    batch: int, n_features: int, p_active: float, rng: np.random.Generator
) -> np.ndarray:
    """(batch, n) inputs: each feature is active with probability p_active, at a value
    uniform in [0, 1), and 0 otherwise."""
    on = rng.random((batch, n_features)) < p_active
    return (on * rng.random((batch, n_features))).astype(np.float32)
