"""Lesson 5: turning text into tokens, the numbers a GPT reads and predicts.

A GPT never sees letters. It sees a sequence of integers, *token ids*, each in
`[0, vocab_size)`, and it learns to predict the next token from the tokens before it
(lecture 5). The embedding matrix has one row per token id, the unembedding one score
per token id, so `vocab_size` is baked into the model's shape. A tokenizer is the fixed
dictionary between text and ids:

    encode: str -> list[int]      every id in [0, vocab_size)
    decode: list[int] -> str      decode(encode(s)) == s

One file per idea; read them in this order:

1. base.py   `Tokenizer`: the interface every tokenizer has, and its JSON file.
2. char.py   `CharTokenizer`: one token per character (nanoGPT's shakespeare_char).
3. bpe.py    `BPETokenizer`: byte-level Byte Pair Encoding, trained on a text: why bytes,
             why merging frequent pairs, the trainer and the encoder, each plain and fast.
4. gpt2.py   `GPT2Tokenizer`: the same byte-level BPE with GPT-2's real vocabulary
             (50,257 tokens, shipped in the package: `GPT2Tokenizer.from_bundled()`),
             giving exactly GPT-2's ids, and the three forms its files are published in.
5. here      `load_tokenizer`: whichever of those a file or a model folder holds, so that
             a model is always decoded with the dictionary it was trained with.

A tokenizer file may come from anywhere, so loading trusts nothing in it: anything
malformed (a wrong type, an id missing, JSON nested too deep, a file too big, tokens
whose bytes would fill the memory, a split pattern we do not know) is a ValueError
naming it, found before any large allocation; a model folder's tokenizer must have the
model's vocabulary size. `save` writes through fileio.py: atomically, never through a
link. Only the Python standard library (and fileio.py, for writing) is used.
"""

from __future__ import annotations

import os

from .base import ACCEPTED, FORMAT_VERSION, MAX_FILE_BYTES, MAX_VOCAB_BYTES, Tokenizer, _read_json
from .bpe import (
    GPT2_LIKE_PATTERN,
    KNOWN_PATTERNS,
    BPETokenizer,
    encode_chunks,
    merge_by_rank,
    merge_naive,
    merge_pair,
    pre_tokenize,
)
from .bpe import _learn_merges as _learn_merges  # the trainers: plain, and incremental
from .bpe import _learn_merges_naive as _learn_merges_naive
from .char import CharTokenizer
from .gpt2 import (
    ENDOFTEXT,
    GPT2_PATTERN,
    GPT2_SHA256,
    WHITE_SPACE,
    GPT2Tokenizer,
    bytes_to_unicode,
    gpt2_regex,
)

__all__ = [
    "Tokenizer",
    "CharTokenizer",
    "BPETokenizer",
    "GPT2Tokenizer",
    "GPT2_LIKE_PATTERN",
    "GPT2_PATTERN",
    "gpt2_regex",
    "bytes_to_unicode",
    "pre_tokenize",
    "merge_pair",
    "merge_by_rank",
    "merge_naive",
    "encode_chunks",
    "load_tokenizer",
    "ACCEPTED",
    "ENDOFTEXT",
    "FORMAT_VERSION",
    "GPT2_SHA256",
    "KNOWN_PATTERNS",
    "MAX_FILE_BYTES",
    "MAX_VOCAB_BYTES",
    "WHITE_SPACE",
]


# What `load_tokenizer` accepts: a file of ours or Hugging Face's, or a folder holding one of:
TOKENIZER_FILE_SETS = (
    ("tokenizer.json",),  # ours ("type": "char"/"bpe"/"gpt2") or Hugging Face's BPE kind
    ("vocab.json", "merges.txt"),  # GPT-2 as Hugging Face writes it
    ("encoder.json", "vocab.bpe"),  # GPT-2 as OpenAI published it
)


def load_tokenizer(path: str | os.PathLike) -> Tokenizer:
    """Load a tokenizer from a file or a checkpoint folder, whichever format it is in.

    A folder: the first of tokenizer.json / vocab.json + merges.txt / encoder.json +
    vocab.bpe that it holds; of a train-gpt run folder, its published checkpoint's (the
    one GPT.from_pretrained reads, whatever a kill left at the top level). A .json file:
    ours (a "type" field), or Hugging Face's (a "model" field). encoder.json or
    vocab.json: with its merges file beside it.

    A folder's tokenizer must have as many tokens as its model (config.json's
    "vocab_size"): with fewer, a token the model emits would have no text; with more,
    a prompt could give ids the model has no row for.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        from ..checkpoint import resolve_model_folder

        path = resolve_model_folder(path)  # a training run's folder: its published checkpoint
        for names in TOKENIZER_FILE_SETS:
            files = [os.path.join(path, name) for name in names]
            if all(os.path.isfile(f) for f in files):
                tok = load_tokenizer(files[0])
                _check_fits_model(tok, files[0], os.path.join(path, "config.json"))
                return tok
        raise FileNotFoundError(f"folder {path!r} holds no tokenizer; accepted: {ACCEPTED}")
    folder, name = os.path.split(path)
    for vocab_name, merges_name in TOKENIZER_FILE_SETS[1:]:
        if name in (vocab_name, merges_name):
            return GPT2Tokenizer.from_files(
                os.path.join(folder, vocab_name), os.path.join(folder, merges_name)
            )
    return Tokenizer.load(path)


def _check_fits_model(tok: Tokenizer, tokenizer_path: str, config_path: str) -> None:
    """ValueError unless the model beside the tokenizer has its vocabulary size (a folder
    without a readable config.json is left to the model loader to refuse)."""
    try:
        config = _read_json(config_path)
    except (OSError, ValueError):
        return
    model_vocab = config.get("vocab_size") if isinstance(config, dict) else None
    if isinstance(model_vocab, int) and not isinstance(model_vocab, bool):
        if model_vocab != tok.vocab_size:
            raise ValueError(
                f"{tokenizer_path!r} has {tok.vocab_size} tokens, the model in "
                f"{config_path!r} {model_vocab}: they do not belong together"
            )
