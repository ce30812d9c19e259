"""The exercises, in lesson order: what each asks for, and where the library's answer is.

Each exercise is one small file a learner completes (templates/NAME.py), one check that
runs it against the library's own implementation (checks.py), and one reference
solution for teachers (solutions/NAME.py).
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_TIMEOUT = 5.0  # seconds each exercise's check may take (`check --timeout`)


@dataclass(frozen=True)
class Exercise:
    name: str  # the file is NAME.py, the check is `check DIR NAME`
    lesson: str  # the lesson's file stem: tutorials/LESSON.py
    source: str  # the library file where the answer lives
    answer: str  # the name(s) in `source` that compute it
    functions: tuple  # the function(s) the learner writes
    title: str  # one line for the README

    @property
    def filename(self) -> str:
        return f"{self.name}.py"

    @property
    def lesson_path(self) -> str:
        return f"tutorials/{self.lesson}.py"


EXERCISES: tuple = (
    # lesson 1: a neuron
    Exercise("neuron_output", "01_neuron", "tinygrad_edu/scalar.py", "Neuron.__call__",
             ("neuron_output",), "a neuron's output: activation(w . a + b)"),
    Exercise("sigmoid", "01_neuron", "tinygrad_edu/scalar.py", "Value.sigmoid",
             ("sigmoid", "sigmoid_prime"), "sigmoid and its derivative, without overflow"),
    # lesson 2: the cost, gradient descent
    Exercise("mse_cost", "02_cost_and_gradient_descent", "tinygrad_edu/nn/functional.py",
             "mse_loss", ("mse_cost",), "the mean squared error cost"),
    Exercise("gradient_descent_step", "02_cost_and_gradient_descent", "tinygrad_edu/scalar.py",
             "gradient_descent_step", ("gradient_descent_step",),
             "one gradient-descent step for a line fitted by least squares"),
    # lesson 3: backpropagation
    Exercise("mul_backward", "03_backpropagation", "tinygrad_edu/scalar.py", "Value.__mul__",
             ("mul_backward",), "the chain rule for a * b: each input's gradient"),
    Exercise("tanh_backward", "03_backpropagation", "tinygrad_edu/scalar.py", "Value.tanh",
             ("tanh_backward",), "the chain rule for tanh"),
    Exercise("topological_sort", "03_backpropagation", "tinygrad_edu/scalar.py",
             "Value.backward", ("topological_sort",),
             "the order backpropagation visits the graph in"),
    Exercise("micro_engine", "03_backpropagation", "tinygrad_edu/scalar.py",
             "Value, Value.backward", ("Value",),
             "a micrograd-sized engine (+, *, tanh, relu, backward) that trains a network"),
    # lesson 4: digits
    Exercise("minibatches", "04_digits", "tinygrad_edu/data/loader.py", "DataLoader",
             ("minibatches",), "shuffled mini-batches of example indices"),
    Exercise("cross_entropy_grad", "04_digits", "tinygrad_edu/kernels/reference.py",
             "cross_entropy, cross_entropy_backward", ("cross_entropy_grad",),
             "softmax + cross-entropy: the cost and its gradient"),
    Exercise("adam_step", "04_digits", "tinygrad_edu/kernels/reference.py", "adam_update",
             ("adam_step",), "one Adam update"),
    # lesson 5: the next token
    Exercise("bpe_merge_step", "05_next_token", "tinygrad_edu/tokenizer/bpe.py",
             "merge_pair, _learn_merges_naive", ("bpe_merge_step",),
             "one byte-pair-encoding merge: find the commonest pair, merge it"),
    Exercise("top_p_filter", "05_next_token", "tinygrad_edu/kernels/reference.py",
             "top_p_filter", ("top_p_filter",), "top-p (nucleus) filtering before sampling"),
    # lesson 6: attention, and the vectors around it
    Exercise("softmax", "06_attention", "tinygrad_edu/kernels/reference.py", "softmax",
             ("softmax",), "softmax over the last axis, stable for any logits"),
    Exercise("layer_norm_backward", "06_attention", "tinygrad_edu/kernels/reference.py",
             "layer_norm_backward", ("layer_norm_backward",), "the gradients of LayerNorm"),
    # lesson 7: queries, keys and values
    Exercise("causal_attention", "07_queries_keys_values", "tinygrad_edu/kernels/reference.py",
             "attention_forward", ("causal_attention",),
             "one head of causal attention: scores, mask, softmax, weighted values"),
    Exercise("split_merge_heads", "07_queries_keys_values", "tinygrad_edu/nn/transformer.py",
             "CausalSelfAttention.forward", ("split_heads", "merge_heads"),
             "multi-head attention's reshapes: split into heads, merge back"),
    Exercise("kv_cache_step", "07_queries_keys_values", "tinygrad_edu/nn/transformer.py",
             "CausalSelfAttention.forward", ("kv_cache_step",),
             "one generation step with a KV cache"),
    # lesson 8: the MLP block
    Exercise("mlp_block", "08_mlp_and_superposition", "tinygrad_edu/nn/transformer.py", "MLP",
             ("mlp_block",), "the transformer's MLP block: Linear, GELU, Linear"),
    # lesson 9: RLHF
    Exercise("dpo_loss", "09_rlhf", "tinygrad_edu/rlhf.py", "dpo_loss, log_sigmoid",
             ("dpo_loss",), "the DPO loss on sequence log-probabilities"),
    # lesson 10: the engine room
    Exercise("matmul_loops", "10_engine_room", "tinygrad_edu/kernels/reference.py",
             "matmul_naive", ("matmul_loops",), "matrix multiplication as three loops"),
    # lesson 11: data parallelism
    Exercise("shard_batch", "11_data_parallel", "tinygrad_edu/distributed.py", "shard",
             ("shard_batch",), "each worker's slice of the global batch"),
)  # fmt: skip

BY_NAME: dict = {ex.name: ex for ex in EXERCISES}


def names() -> list:
    return [ex.name for ex in EXERCISES]


def get(name: str) -> Exercise:
    """The exercise called `name`; ValueError listing the names if there is none."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(f"no exercise {name!r}; the exercises are: {', '.join(names())}") from None


def for_lesson(lesson: str) -> list:
    """The exercises of one lesson (its file stem, e.g. "01_neuron"), in order."""
    return [ex for ex in EXERCISES if ex.lesson == lesson]
