"""Hints in three levels: `tinygrad-edu exercises hint NAME [--level 1|2|3]`.

    level 1  the concept: the template's `Idea:` (what the function is for)
    level 2  the shapes: the template's `Math:` and `Shapes:` (what goes in and out)
    level 3  near-code: the template's `Hint:` and a skeleton with the blanks (___) left
             for the learner; close to the answer, but not the answer

Ask for the next level only after trying with the one before: each gives more away.
"""

from __future__ import annotations

import ast

from .catalog import get
from .workspace import template_text

LEVELS = (1, 2, 3)
TITLES = {1: "the concept", 2: "the shapes", 3: "near-code"}

# The skeleton of each answer, with the blanks (___) the learner fills in.
NEAR_CODE: dict = {
    "neuron_output": """\
z = bias + sum(___ for w, a in zip(weights, inputs))
return max(0.0, z) if activation == "relu" else 1.0 / (1.0 + math.exp(___))
# the sigmoid of a very negative z overflows exp(-z): use exp(z) / (1 + exp(z)) there""",
    "sigmoid": """\
if x >= 0:
    return 1.0 / (1.0 + math.exp(___))
e = math.exp(___)  # x < 0: this exp cannot overflow
return e / (1.0 + e)
# sigmoid_prime: s = sigmoid(x); return s * ___""",
    "mse_cost": """\
diff = np.asarray(predictions) - np.asarray(targets)
return float(np.___(diff * diff))   # the MEAN, not the sum""",
    "gradient_descent_step": """\
dw = sum(2 * (w * x + b - y) * ___ for x, y in zip(xs, ys)) / len(xs)
db = sum(2 * (w * x + b - y) for x, y in zip(xs, ys)) / ___
return w - lr * dw, b - lr * db      # both gradients taken at the OLD (w, b)""",
    "mul_backward": """\
a.grad += ___ * out.grad   # d(a*b)/da = b
b.grad += ___ * out.grad   # += : a Value used twice gets both shares""",
    "tanh_backward": """\
t = out.data               # tanh(x), already computed
x.grad += (1 - ___) * out.grad""",
    "topological_sort": """\
topo, visited, stack = [], set(), [(root, False)]
while stack:
    node, children_done = stack.pop()
    if children_done:
        topo.append(node); continue
    if node in visited: continue
    visited.add(node)
    stack.append((node, ___))          # come back after the children
    stack.extend((child, False) for child in node._prev if child not in visited)
return topo""",
    "minibatches": """\
order = np.random.default_rng(seed).___(n)      # any shuffle made from the seed
count = n // batch_size if drop_last else -(-n // batch_size)
return [order[i * batch_size : ___] for i in range(count)]""",
    "cross_entropy_grad": """\
shifted = logits - logits.max(axis=1, keepdims=True)   # (N, C): exp cannot overflow
log_sum = np.log(np.exp(shifted).sum(axis=1))           # (N,)
loss = np.mean(log_sum - shifted[np.arange(N), targets])
p = np.exp(shifted - log_sum[:, None])                  # softmax, (N, C)
p[np.arange(N), targets] -= ___
return loss, p / ___""",
    "adam_step": """\
m = beta1 * m + (1 - beta1) * g
v = beta2 * v + (1 - beta2) * ___
m_hat, v_hat = m / (1 - beta1**step), v / (1 - ___)   # the bias correction
return p - lr * m_hat / (np.sqrt(v_hat) + eps), m, v""",
    "bpe_merge_step": """\
counts = Counter(zip(ids, ids[1:]))
pair = min(counts, key=lambda p: (-counts[p], ___))    # the commonest; ties: the smallest
# then walk ids left to right: at pair, append new_id and skip ___ places""",
    "top_p_filter": """\
order = np.argsort(-probs, axis=-1)                     # likeliest first
sorted_p = np.take_along_axis(probs, order, axis=-1)
before = np.cumsum(sorted_p, axis=-1) - sorted_p        # what the likelier tokens hold
keep_sorted = before ___ top_p                          # < or <= ? think of an exact tie
# put keep_sorted back in the original order (np.put_along_axis), zero the rest, rescale""",
    "softmax": """\
e = np.exp(x - x.max(axis=___, keepdims=True))
return e / e.sum(axis=___, keepdims=True)""",
    "layer_norm_backward": """\
mean, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
xhat = (x - mean) / np.sqrt(var + eps)
dbias, dweight = dy.sum(axis=0), (dy * ___).sum(axis=0)
dxhat = dy * weight
dx = (dxhat - dxhat.mean(axis=1, keepdims=True) - xhat * (dxhat * ___).mean(axis=1, keepdims=True))
dx = dx / np.sqrt(var + eps)""",
    "causal_attention": """\
scores = q @ k.T / ___                                  # (T, T)
future = np.triu(np.ones((T, T), dtype=bool), k=___)
scores = np.where(future, -np.inf, scores)              # BEFORE the softmax
weights = softmax(scores) over axis=___                 # each row sums to 1
return weights @ v""",
    "split_merge_heads": """\
# split: (B, T, C) -> (B, T, n_head, D) -> swap the T and head axes
x.reshape(B, T, n_head, C // n_head).transpose(___)
# merge: the reverse transpose, then reshape to (B, T, n_head * D)""",
    "kv_cache_step": """\
cache["k"] = k if "k" not in cache else np.concatenate([cache["k"], k], axis=___)
S = cache["k"].shape[2]                                 # all the keys so far
scores = q @ cache["k"].swapaxes(-1, -2) / np.sqrt(D)   # (B, H, T, S)
# new query i sits at position S - T + i: it may see keys 0 .. S - T + i
future = np.triu(np.ones((T, S), dtype=bool), k=___)""",
    "mlp_block": """\
h = x @ w_fc.T + b_fc                                   # (B, T, hidden)
h = 0.5 * h * (1 + erf(h / ___))                        # exact GELU (math.erf per entry)
return h @ w_proj.___ + b_proj""",
    "dpo_loss": """\
chosen = policy_chosen - ref_chosen                     # how much more likely than before
rejected = policy_rejected - ___
margin = beta * (chosen - rejected)
return mean(-log_sigmoid(margin))   # log_sigmoid(z) = -log(1 + e^-z), stably: np.logaddexp""",
    "matmul_loops": """\
n, k, m = len(a), len(b), len(b[0])    # a: n x k, b: k x m; check len(a[0]) == k
c = [[0.0] * m for _ in range(n)]
for i in range(n):
    for j in range(m):
        c[i][j] = sum(a[i][p] * b[___][___] for p in range(k))""",
    "shard_batch": """\
if len(batch) % size: raise ValueError(...)
b = len(batch) // size
return batch[rank * b : ___]""",
    "micro_engine": """\
def __mul__(self, other):
    other = other if isinstance(other, Value) else Value(other)
    out = Value(self.data * other.data, (self, other))
    def _backward():
        self.grad += ___ * out.grad
        other.grad += ___ * out.grad
    out._backward = _backward
    return out
# backward(): order = topological sort of the graph; self.grad = 1.0;
#             for node in reversed(order): node._backward()""",
}


def _sections(name: str) -> dict:
    """The template docstring's paragraphs by their label: Idea, Math, Shapes, Hint."""
    doc = ast.get_docstring(ast.parse(template_text(get(name)))) or ""
    sections: dict = {}
    label = None
    for line in doc.splitlines()[1:]:
        head = line.split(":", 1)[0]
        if head in ("Idea", "Math", "Shapes", "Hint", "Answer", "Check"):
            label = head
            line = line.split(":", 1)[1].strip()
        if label:
            sections.setdefault(label, []).append(line)
    # (a template's pointer to this command is left out of what the command shows)
    return {
        k: "\n".join(line for line in v if "exercises hint" not in line).strip()
        for k, v in sections.items()
    }


def hint(name: str, level: int = 1) -> str:
    """The hint of exercise `name` at `level` (1, 2 or 3), as text to print."""
    ex = get(name)
    if level not in LEVELS:
        raise ValueError(f"the hint level is 1, 2 or 3, got {level!r}")
    parts = _sections(ex.name)
    if level == 1:
        body = parts.get("Idea", "")
    elif level == 2:
        body = f"Math: {parts.get('Math', '')}\n\nShapes: {parts.get('Shapes', '')}"
    else:
        code = "\n".join("    " + line for line in NEAR_CODE[ex.name].splitlines())
        body = f"{parts.get('Hint', '')}\n\n{code}"
    more = f"\n\n(more: --level {level + 1})" if level < 3 else ""
    return f"{ex.name}, hint {level} of 3 ({TITLES[level]}):\n\n{body}{more}"
