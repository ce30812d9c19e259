"""Reading GPT checkpoint folders: ours, and the Hugging Face GPT-2 layout.

A folder holds `config.json` and `model.safetensors`. No torch or transformers is
needed: safetensors is a JSON header followed by raw little-endian arrays.

GPT-2 differences handled here:
  * config names: n_positions -> block_size, activation_function "gelu_new" (the
    tanh approximation of GELU), layer_norm_epsilon;
  * its Linear layers are "Conv1D" modules storing the weight as (in, out), so
    c_attn, c_proj and c_fc weights are transposed into PyTorch's (out, in);
  * keys come as `transformer.h.0.attn...` (transformers today) or `h.0.attn...`
    (the original files), the latter with `attn.bias`/`attn.masked_bias` causal-mask
    buffers that are not parameters; `lm_head.weight` may be missing (it is tied).
"""

from __future__ import annotations

import json
import os

import numpy as np

CONV1D_WEIGHTS = (
    "attn.c_attn.weight",
    "attn.c_proj.weight",
    "mlp.c_fc.weight",
    "mlp.c_proj.weight",
)


def _read_config(folder: str) -> tuple[dict, bool]:
    """(GPTConfig's fields as a dict, whether the folder is in GPT-2's layout).

    A dict, not a GPTConfig: models/gpt.py imports this page, so it cannot import
    gpt.py back (the package has no import cycles)."""
    path = os.path.join(folder, "config.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint folder {folder!r} has no config.json")
    try:
        with open(path, encoding="utf-8") as f:
            cfg = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from exc
    except RecursionError:
        raise ValueError(f"{path}: its JSON is nested too deep") from None
    if not isinstance(cfg, dict):
        raise ValueError(f"{path} must hold a JSON object")
    if cfg.get("model_type") == "gpt2" or "n_positions" in cfg:
        act = cfg.get("activation_function", "gelu_new")
        if act not in ("gelu_new", "gelu_pytorch_tanh", "gelu"):
            raise ValueError(f"{path}: unsupported activation_function {act!r}")
        missing = [
            k for k in ("n_positions", "vocab_size", "n_layer", "n_head", "n_embd") if k not in cfg
        ]
        if missing:
            raise ValueError(f"{path}: a GPT-2 config needs {', '.join(missing)}")
        config = dict(
            block_size=cfg["n_positions"],
            vocab_size=cfg["vocab_size"],
            n_layer=cfg["n_layer"],
            n_head=cfg["n_head"],
            n_embd=cfg["n_embd"],
            bias=True,
            activation="gelu" if act == "gelu" else "gelu_tanh",
            layer_norm_eps=cfg.get("layer_norm_epsilon", 1e-5),
        )
        return config, True
    return cfg, False


def load_gpt_folder(folder: str) -> tuple[dict, dict[str, np.ndarray]]:
    """(GPTConfig's fields, state dict with nanoGPT names and PyTorch layouts) from a folder."""
    from ..checkpoint import check_finite, check_gpt_weights, load, resolve_model_folder

    folder = resolve_model_folder(folder)  # a training run's folder: its published checkpoint
    config, is_hf = _read_config(folder)
    path = os.path.join(folder, "model.safetensors")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint folder {folder!r} has no model.safetensors")
    # float weights whose shapes are the config's, judged from the file's header alone
    check_gpt_weights(path, config, os.path.join(folder, "config.json"))
    raw = load(path)
    state: dict[str, np.ndarray] = {}
    for key, value in raw.items():
        if key.endswith((".attn.bias", ".attn.masked_bias")) or key in (
            "attn.bias",
            "attn.masked_bias",
        ):
            continue  # GPT-2's causal-mask buffers (not c_attn.bias!), not parameters
        name = key if key.startswith(("transformer.", "lm_head.")) else "transformer." + key
        if is_hf and name.endswith(CONV1D_WEIGHTS):
            value = np.ascontiguousarray(value.T)  # Conv1D (in, out) -> Linear (out, in)
        state[name] = value.astype(np.float32) if value.dtype != np.float64 else value
    check_finite(state, path)  # a diverged run's NaN weights are not a model
    if "lm_head.weight" not in state and "transformer.wte.weight" in state:
        state["lm_head.weight"] = state["transformer.wte.weight"]  # tied
    return config, state


def generate_until(model, ids: list[int], max_new_tokens: int, stop_id=None, chunk=64, **sampling):
    """`model.generate` for one sequence, stopping once `stop_id` is sampled (included).

    GPT-2 ends a document with <|endoftext|>: whatever it samples after that belongs to a
    new, unrelated text. `generate` has no stop condition, so we ask it for `chunk` tokens
    at a time and look for stop_id in each: at most chunk - 1 tokens are wasted.
    Returns the prompt's ids followed by the new ones, a list of ints.
    """
    ids = list(ids)
    end = len(ids) + max_new_tokens
    while len(ids) < end:
        step = end - len(ids) if stop_id is None else min(chunk, end - len(ids))
        new = model.generate([ids], step, **sampling)[0].tolist()[len(ids) :]
        if stop_id is not None and stop_id in new:
            return ids + new[: new.index(stop_id) + 1]
        ids += new
    return ids
