"""A trained GPT out to Hugging Face: `tinygrad-edu export --format hf --ckpt RUN --out DIR`.

`export_hf(run, out)` writes a folder that `transformers.GPT2LMHeadModel.from_pretrained`
loads, with the same logits as ours, and a `tokenizer.json` that
`transformers.PreTrainedTokenizerFast` loads, giving the same ids. Neither torch nor
transformers is needed to write it: the weights are safetensors, the rest JSON.

What changes on the way out (the reverse of models/hf.py, which reads GPT-2 in):
  * names: ours are nanoGPT's, which are GPT-2's (`transformer.h.0.attn.c_attn.weight`);
  * layout: GPT-2's Linear layers are "Conv1D" modules holding the weight as (in, out),
    ours as PyTorch's Linear does, (out, in): c_attn, c_proj and c_fc are transposed;
  * biases: GPT-2 always has them. A model trained without (nanoGPT's CPU recipe) gets
    zeros, which add nothing: the same function;
  * config.json: `model_type: gpt2`, `n_positions` from our block size, and the GELU we
    trained with by its transformers name ("gelu" exact, "gelu_new" the tanh form);
  * the tokenizer: our character tokenizer as a WordLevel model that splits every
    character; our BPE and GPT-2's as byte-level BPE, with the pre-tokenizer's pattern
    written out as explicit character ranges, so that its engine (Oniguruma) splits text
    exactly where Python's `re` does (their \\w, \\d and \\s differ at the edges).

The folder keeps a record of what it wrote (`tinygrad_edu_export.json`): an export may
replace an earlier export of ours, never a folder of someone else's.
"""

from __future__ import annotations

import json
import os
import re
import sys
import unicodedata
from typing import Any, Callable

import numpy as np

from ..checkpoint import save, write_text_atomic
from ..tokenizer import (
    ENDOFTEXT,
    GPT2_LIKE_PATTERN,
    WHITE_SPACE,
    BPETokenizer,
    CharTokenizer,
    GPT2Tokenizer,
    Tokenizer,
    bytes_to_unicode,
    load_tokenizer,
)
from .hf import CONV1D_WEIGHTS, load_gpt_folder

RECORD = "tinygrad_edu_export.json"
FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")
ACTIVATIONS = {"gelu": "gelu", "gelu_tanh": "gelu_new"}  # ours -> transformers' name


# --- the model ------------------------------------------------------------------------------


def hf_config(config: dict) -> dict:
    """Our GPTConfig's fields -> a transformers GPT2Config dict."""
    return {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": config["vocab_size"],
        "n_positions": config["block_size"],  # the position table's length
        "n_ctx": config["block_size"],
        "n_embd": config["n_embd"],
        "n_layer": config["n_layer"],
        "n_head": config["n_head"],
        "n_inner": None,  # 4 * n_embd, as our MLP
        "activation_function": ACTIVATIONS[config.get("activation", "gelu")],
        "layer_norm_epsilon": config.get("layer_norm_eps", 1e-5),
        "resid_pdrop": 0.0,  # dropout is for training; an exported model is for use
        "embd_pdrop": 0.0,
        "attn_pdrop": 0.0,
        "scale_attn_weights": True,  # scores / sqrt(head_size), as ours
        "scale_attn_by_inverse_layer_idx": False,
        "reorder_and_upcast_attn": False,
        "tie_word_embeddings": True,  # lm_head is wte, as ours
        "use_cache": True,
        "torch_dtype": "float32",
    }


def hf_state(config: dict, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Our state dict (nanoGPT names, Linear (out, in)) -> GPT-2's (Conv1D (in, out)),
    every bias present (zeros where we had none), lm_head left out (tied to wte)."""
    C, L = config["n_embd"], config["n_layer"]
    shapes = {"ln_1": C, "ln_2": C, "attn.c_attn": 3 * C, "attn.c_proj": C}
    shapes.update({"mlp.c_fc": 4 * C, "mlp.c_proj": C})
    out: dict[str, np.ndarray] = {}
    for name, value in state.items():
        if name == "lm_head.weight":
            continue  # tied
        value = np.asarray(value, dtype=np.float32)
        if name.endswith(CONV1D_WEIGHTS):
            value = value.T  # Linear (out, in) -> Conv1D (in, out)
        out[name] = np.ascontiguousarray(value)
    for i in range(L):
        for part, size in shapes.items():
            out.setdefault(f"transformer.h.{i}.{part}.bias", np.zeros(size, np.float32))
    out.setdefault("transformer.ln_f.bias", np.zeros(C, np.float32))  # zero adds nothing
    return out


# --- the tokenizer --------------------------------------------------------------------------


def _onig_class(is_in: Callable[[str], bool]) -> str:
    """Every code point c with is_in(chr(c)), as an Oniguruma character-class body:
    ranges `\\x{41}-\\x{5a}` (the JSON file stays ASCII)."""
    parts, start = [], None
    for c in range(sys.maxunicode + 2):
        inside = c <= sys.maxunicode and is_in(chr(c))
        if inside and start is None:
            start = c
        elif not inside and start is not None:
            parts.append(f"\\x{{{start:x}}}-\\x{{{c - 1:x}}}")
            start = None
    return "".join(parts)


def _matches(pattern: str) -> Callable[[str], bool]:
    compiled = re.compile(pattern)
    return lambda ch: compiled.fullmatch(ch) is not None


def split_pattern(kind: str) -> str:
    """The pre-tokenizer's pattern for Hugging Face's engine, with each class Python's
    `re` uses written out as ranges: `GPT2_LIKE_PATTERN` (our BPE) or GPT-2's
    (`gpt2_regex` in tokenizer/gpt2.py). Both have the same five alternatives; only the classes differ."""
    if kind == "bpe":
        L = _onig_class(_matches(r"[^\W\d_]"))  # letters, as Python's re sees them
        N = _onig_class(_matches(r"\d"))
        P = _onig_class(_matches(r"[^\s\w]|_"))  # neither space nor word, or "_"
        S = _onig_class(_matches(r"\s"))
        return rf"'(?:[sdmt]|ll|ve|re)| ?[{L}]+| ?[{N}]+| ?[{P}]+|[{S}]+(?![^{S}])|[{S}]+"
    if kind == "gpt2":  # the classes gpt2_regex() spells out for `re`, from the same definitions
        L = _onig_class(str.isalpha)  # \p{L}
        N = _onig_class(lambda ch: unicodedata.category(ch)[0] == "N")  # \p{N}
        S = _onig_class(_matches(f"[{WHITE_SPACE}]"))  # Unicode's White_Space
        return rf"'(?:[sdmt]|ll|ve|re)| ?[{L}]+| ?[{N}]+| ?[^{S}{L}{N}]+|[{S}]+(?![^{S}])|[{S}]+"
    raise ValueError(f"no split pattern for a {kind!r} tokenizer")


def _byte_level_bpe(vocab: dict[str, int], merges: list[str], pattern: str) -> dict:
    return {
        "normalizer": None,
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {
                    "type": "Split",
                    "pattern": {"Regex": pattern},
                    "behavior": "Isolated",
                    "invert": False,
                },
                # bytes -> GPT-2's printable characters, no second split
                {
                    "type": "ByteLevel",
                    "add_prefix_space": False,
                    "trim_offsets": True,
                    "use_regex": False,
                },
            ],
        },  # fmt: skip
        "post_processor": None,
        "decoder": {
            "type": "ByteLevel",
            "add_prefix_space": False,
            "trim_offsets": True,
            "use_regex": False,
        },
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,  # merges in rank order, as ours: no whole-word lookup
            "vocab": vocab,
            "merges": merges,
        },
    }


def hf_tokenizer(tok: Tokenizer) -> dict:
    """Our tokenizer -> a Hugging Face tokenizer.json (a dict)."""
    added: list[dict] = []
    if isinstance(tok, CharTokenizer):
        body = {
            "normalizer": None,
            # every character is a piece of its own ([\s\S]: any character, newline too)
            "pre_tokenizer": {
                "type": "Split",
                "pattern": {"Regex": r"[\s\S]"},
                "behavior": "Isolated",
                "invert": False,
            },
            "post_processor": None,
            "decoder": {"type": "Fuse"},  # join the characters with nothing between
            "model": {
                "type": "WordLevel",
                "vocab": {c: i for i, c in enumerate(tok.chars)},
                # a character not in the vocabulary is an error, as in ours
                "unk_token": "<unk>" if "<unk>" not in tok.stoi else "<unk-not-in-vocab>",
            },
        }
    elif isinstance(tok, BPETokenizer):
        if tok.pattern != GPT2_LIKE_PATTERN:
            raise ValueError(
                "only a BPETokenizer with the default pattern (GPT2_LIKE_PATTERN) can be "
                f"exported, this one has {tok.pattern!r}"
            )
        byte_char = bytes_to_unicode()
        texts = ["".join(byte_char[b] for b in token) for token in tok.vocab]
        if len(set(texts)) != len(texts):
            dup = next(t for t in texts if texts.count(t) > 1)
            raise ValueError(
                f"two merges make the same bytes {dup!r}: a Hugging Face vocabulary needs "
                "one id per token text"
            )
        merges = [f"{texts[a]} {texts[b]}" for a, b in tok.merges]
        body = _byte_level_bpe({t: i for i, t in enumerate(texts)}, merges, split_pattern("bpe"))
    elif isinstance(tok, GPT2Tokenizer):
        merges = [f"{a} {b}" for a, b in tok.merges]
        body = _byte_level_bpe(dict(tok.encoder), merges, split_pattern("gpt2"))
        for text, i in tok.special_tokens.items():
            added.append(
                {"id": i, "content": text, "single_word": False, "lstrip": False,
                 "rstrip": False, "normalized": False, "special": True}
            )  # fmt: skip
    else:
        raise ValueError(f"cannot export a {type(tok).__name__} to Hugging Face")
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added, **body}


def hf_tokenizer_config(tok: Tokenizer, block_size: int) -> dict:
    config: dict[str, Any] = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": block_size,
        "clean_up_tokenization_spaces": False,
    }
    if isinstance(tok, GPT2Tokenizer) and ENDOFTEXT in tok.special_tokens:
        config.update(bos_token=ENDOFTEXT, eos_token=ENDOFTEXT, unk_token=ENDOFTEXT)
    return config


# --- the folder -----------------------------------------------------------------------------


def _check_out(out: str) -> None:
    """out may be new, empty, or an earlier export of ours: nothing else is overwritten."""
    if os.path.islink(out):
        raise ValueError(f"{out} is a symbolic link: give the real folder")
    if not os.path.exists(out):
        return
    if not os.path.isdir(out):
        raise ValueError(f"{out} exists and is not a folder")
    entries = os.listdir(out)
    if entries and RECORD not in entries:
        raise ValueError(
            f"{out} is not empty and is not an export of ours (no {RECORD}): "
            "give a new or empty folder"
        )
    for name in FILES:
        if os.path.islink(os.path.join(out, name)):
            raise ValueError(f"{os.path.join(out, name)} is a symbolic link: not replaced")


def export_hf(run: str, out: str, tokenizer: Tokenizer | None = None) -> list[str]:
    """Write the GPT of `run` (a train-gpt folder or a model folder) to `out` in Hugging
    Face's GPT-2 layout, with its tokenizer. Returns the files written."""
    run = os.fspath(run)
    out = os.fspath(out)
    if not os.path.isdir(run):
        raise FileNotFoundError(f"no checkpoint folder {run!r}")
    _check_out(out)
    config, state = load_gpt_folder(run)  # a run's published checkpoint, or the folder itself
    tok = tokenizer if tokenizer is not None else load_tokenizer(run)  # the same checkpoint's
    if tok.vocab_size != config["vocab_size"]:
        raise ValueError(
            f"the tokenizer has {tok.vocab_size} tokens, the model {config['vocab_size']}"
        )
    tokenizer_json = json.dumps(hf_tokenizer(tok), ensure_ascii=True)
    tokenizer_config = hf_tokenizer_config(tok, config["block_size"])
    os.makedirs(out, exist_ok=True)
    # the record first: a folder left half-written by a crash is still known to be ours
    write_text_atomic(
        os.path.join(out, RECORD),
        json.dumps({"format": "hf", "source": os.path.abspath(run), "files": list(FILES)}),
    )
    write_text_atomic(
        os.path.join(out, "config.json"), json.dumps(hf_config(config), indent=2) + "\n"
    )
    save(hf_state(config, state), os.path.join(out, "model.safetensors"), {"format": "pt"})
    write_text_atomic(os.path.join(out, "tokenizer.json"), tokenizer_json)
    write_text_atomic(
        os.path.join(out, "tokenizer_config.json"), json.dumps(tokenizer_config, indent=2) + "\n"
    )
    return [os.path.join(out, name) for name in FILES]
