"""The package as a user meets it: info, the command line, backends, threads, fallback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import tinygrad_edu as tg
from tinygrad_edu import kernels

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(code: str, **env) -> subprocess.CompletedProcess:
    full_env = {
        **os.environ,
        "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=full_env, timeout=120
    )


def test_info_has_the_documented_keys():
    info = tg.info()
    for key in ("version", "backend", "num_threads", "simd", "openmp", "numpy"):
        assert key in info
    assert info["backend"] in ("compiled", "reference")
    assert info["version"] == tg.__version__
    if kernels.compiled is not None:
        assert info["simd"] in ("base", "avx2", "avx512")


def test_cli_info_prints_backend(capsys):
    from tinygrad_edu.cli import main

    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "backend" in out and tg.info()["backend"] in out


def test_python_dash_m_info():
    res = subprocess.run(
        [sys.executable, "-m", "tinygrad_edu", "info"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": ROOT},
        timeout=120,
    )
    assert res.returncode == 0 and "simd" in res.stdout


def test_backend_forced_by_environment():
    res = _run(
        "import tinygrad_edu as tg, json; print(json.dumps(tg.info()))",
        TINYGRAD_EDU_BACKEND="reference",
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.strip().splitlines()[-1])["backend"] == "reference"
    res = _run("import tinygrad_edu", TINYGRAD_EDU_BACKEND="fastest")
    assert res.returncode != 0 and "TINYGRAD_EDU_BACKEND" in res.stderr


def test_missing_extension_falls_back_with_one_warning():
    code = (
        "import sys, warnings\n"
        "sys.modules['tinygrad_edu.kernels._core'] = None  # as if the build had failed\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    import tinygrad_edu as tg\n"
        "    x = tg.Tensor([[1.0, 2.0]], requires_grad=True)\n"
        "    (x @ x.T).sum().backward()\n"
        "print(len(w), tg.info()['backend'], x.grad.numpy().tolist())\n"
        "print(w[0].message)\n"
    )
    res = _run(code)
    assert res.returncode == 0, res.stderr
    first, message = res.stdout.strip().splitlines()[:2]
    assert first == "1 reference [[2.0, 4.0]]"
    assert "reference" in message and "pip install -e ." in message
    res = _run(code, TINYGRAD_EDU_BACKEND="compiled")  # asked for, but missing: an error
    assert res.returncode != 0 and "pip install -e ." in res.stderr


def test_threads_setting():
    old = tg.get_num_threads()
    try:
        tg.set_num_threads(1)
        assert tg.get_num_threads() == 1 and tg.info()["num_threads"] == 1
        with pytest.raises(ValueError):
            tg.set_num_threads(0)
        with pytest.raises(TypeError):
            tg.set_num_threads(1.5)
    finally:
        tg.set_num_threads(old)
    res = _run("import tinygrad_edu as tg; print(tg.get_num_threads())", OMP_NUM_THREADS="3")
    assert res.stdout.strip() == "3"


def test_simd_level_can_be_lowered():
    if kernels.compiled is None:
        pytest.skip("compiled kernels not built")
    res = _run("import tinygrad_edu as tg; print(tg.info()['simd'])", TINYGRAD_EDU_SIMD="base")
    assert res.stdout.strip() == "base"
    with pytest.raises(ValueError, match="SIMD level"):
        kernels.config.set_isa("sse9")


def test_public_names_from_the_api_page():
    for name in (
        "Tensor",
        "Value",
        "nn",
        "optim",
        "no_grad",
        "manual_seed",
        "set_num_threads",
        "get_num_threads",
        "info",
        "cat",
        "stack",
        "where",
    ):
        assert hasattr(tg, name), name
    from tinygrad_edu.models.gpt import GPT, GPTConfig  # noqa: F401
    from tinygrad_edu.nn import functional as F

    for name in (
        "relu",
        "gelu",
        "sigmoid",
        "softmax",
        "log_softmax",
        "cross_entropy",
        "mse_loss",
        "layer_norm",
        "embedding",
        "dropout",
        "scaled_dot_product_attention",
    ):
        assert callable(getattr(F, name)), name
    for name in (
        "Module",
        "Linear",
        "Embedding",
        "LayerNorm",
        "Dropout",
        "Sequential",
        "ReLU",
        "GELU",
        "Sigmoid",
        "Tanh",
    ):
        assert hasattr(tg.nn, name), name
    for name in ("SGD", "Adam", "AdamW"):
        assert hasattr(tg.optim, name), name
    assert callable(tg.nn.utils.clip_grad_norm_)


HOT_KERNELS = [
    "dot",
    "add",
    "sum_squares",
    "scale_",
    "colsum",
    "sum_to_shape",
    "gemm",
    "matmul",
    "softmax",
    "softmax_backward",
    "log_softmax",
    "log_softmax_backward",
    "cross_entropy",
    "cross_entropy_backward",
    "gelu",
    "gelu_backward",
    "layer_norm",
    "layer_norm_backward",
    "embedding_backward",
    "attention_forward",
    "attention_backward",
    "multi_head_attention_forward",
    "multi_head_attention_backward",
    "sgd_update",
    "adam_update",
    "adamw_update",
]


@pytest.mark.parametrize("name", HOT_KERNELS)
def test_every_hot_kernel_is_compiled_not_the_inherited_twin(name):
    """compiled.py starts from `from .reference import *`; each hot loop must be replaced."""
    if kernels.compiled is None:
        pytest.skip("compiled kernels not built")
    ours = getattr(kernels.compiled, name)
    assert ours is not getattr(kernels.reference, name), f"compiled.{name} is still the NumPy twin"
    assert ours.__module__ == "tinygrad_edu.kernels.compiled"
