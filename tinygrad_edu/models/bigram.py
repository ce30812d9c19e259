"""A bigram language model: the next token from the one before it, by counting (lesson 5).

The simplest language model there is. Read a long text and count, for every pair of
neighbouring tokens (a, b), how often b came right after a:

    counts[a, b] = number of times token b follows token a         (V, V)

Then the probability of the next token, given only the previous one, is that count
divided by how often anything followed a:

    P(next = b | previous = a) = counts[a, b] / sum_b' counts[a, b']

A row of this table is a probability distribution over the vocabulary, the same kind of
thing a GPT outputs for each position; the GPT just looks at many previous tokens
instead of one. Sampling from the rows again and again generates text.

*Smoothing.* A pair never seen in training would get probability 0, and a single 0 on
the validation text makes its cost infinite (-log 0). Adding a small pseudo-count to
every cell (Laplace smoothing, `smoothing=1.0`) keeps every probability above 0.

*The cost* of a model on a text is the average negative log-likelihood of each next
token, -mean log P(ids[i+1] | ids[i]): the same cross-entropy a GPT is trained to
lower, so the two numbers compare directly. A model that knows nothing (uniform over V
tokens) scores log V; a perfect one scores 0.

(The same table could be learned by gradient descent: an embedding of shape (V, V)
whose row a holds the scores (logits) of the token after a, trained with cross-entropy,
converges to log of these frequencies. Counting gets there in one pass.)
"""

from __future__ import annotations

import numpy as np

from .. import rng

__all__ = ["BigramModel"]


def _token_ids(ids, vocab_size: int, what: str = "ids") -> np.ndarray:
    """ids as a 1-D int64 array, every id in [0, vocab_size); raise naming the problem."""
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be a 1-D sequence of token ids, got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        raise TypeError(f"{what} must hold integer token ids, got {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= vocab_size):
        bad = int(arr.min()) if arr.min() < 0 else int(arr.max())
        raise IndexError(f"token id {bad} in {what} is outside [0, {vocab_size})")
    return arr


class BigramModel:
    """Next-token probabilities from pair counts.

    >>> m = BigramModel(vocab_size=3, smoothing=0.0).fit([0, 1, 0, 2, 0, 1])
    >>> m.counts.tolist()                 # 0 -> 1 twice, 0 -> 2 once, 1 -> 0, 2 -> 0
    [[0, 2, 1], [1, 0, 0], [1, 0, 0]]
    >>> m.next_token_probs(0).round(3).tolist()
    [0.0, 0.667, 0.333]
    """

    def __init__(self, vocab_size: int, smoothing: float = 1.0) -> None:
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, (int, np.integer)):
            raise TypeError(f"vocab_size must be an int, got {type(vocab_size).__name__}")
        if vocab_size < 1:
            raise ValueError(f"vocab_size must be >= 1, got {vocab_size}")
        if not smoothing >= 0:  # also refuses NaN
            raise ValueError(f"smoothing must be >= 0, got {smoothing}")
        self.vocab_size = int(vocab_size)
        self.smoothing = float(smoothing)
        self.counts = np.zeros((self.vocab_size, self.vocab_size), dtype=np.int64)  # (V, V)

    def fit(self, ids) -> BigramModel:
        """Add the pairs of one text (a 1-D sequence of token ids) to the counts."""
        ids = _token_ids(ids, self.vocab_size)
        V = self.vocab_size
        previous, following = ids[:-1], ids[1:]  # pair i is (ids[i], ids[i + 1])
        # Number each pair (a, b) as a * V + b, count the numbers, and fold them back
        # into a (V, V) table: one pass over the text, no Python loop.
        self.counts += np.bincount(previous * V + following, minlength=V * V).reshape(V, V)
        return self

    @property
    def probs(self) -> np.ndarray:
        """(V, V): row a is P(next token | previous token a); every row sums to 1.

        A row with no counts at all (a token never followed by anything, and no
        smoothing) is uniform: the model knows nothing about what comes after it.
        """
        table = self.counts + self.smoothing  # (V, V) pseudo-counts
        totals = table.sum(axis=1, keepdims=True)  # (V, 1)
        uniform = np.full_like(table, 1.0 / self.vocab_size, dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(totals > 0, table / np.where(totals > 0, totals, 1.0), uniform)

    def next_token_probs(self, previous: int) -> np.ndarray:
        """(V,): the distribution of the token after `previous`."""
        (previous,) = _token_ids([previous], self.vocab_size, "previous")
        return self.probs[previous]

    def nll(self, ids) -> float:
        """The cost on a text: mean of -log P(ids[i + 1] | ids[i]) over its pairs (nats).

        Infinite if some pair has probability 0 (possible only with smoothing=0).
        """
        ids = _token_ids(ids, self.vocab_size)
        if len(ids) < 2:
            raise ValueError("the cost needs a text of at least 2 tokens (one pair)")
        p = self.probs[ids[:-1], ids[1:]]  # probability of each actual next token
        with np.errstate(divide="ignore"):
            return float(-np.log(p).mean())

    def sample(self, start: int, num_tokens: int) -> list[int]:
        """Generate: start, then num_tokens tokens, each drawn from the row of the last one.

        Uses the tinygrad_edu random generator (`tg.manual_seed(n)` repeats a sample).
        """
        (start,) = _token_ids([start], self.vocab_size, "start")
        if num_tokens < 0:
            raise ValueError(f"num_tokens must be >= 0, got {num_tokens}")
        probs, gen = self.probs, rng.generator()
        out = [int(start)]
        for _ in range(num_tokens):
            row = probs[out[-1]]
            out.append(int(gen.choice(self.vocab_size, p=row)))  # a random draw, not the max
        return out

    def __repr__(self) -> str:
        return (
            f"BigramModel(vocab_size={self.vocab_size}, smoothing={self.smoothing}, "
            f"pairs counted={int(self.counts.sum()):,})"
        )
