"""Tokenizer files from anywhere: malformed ones refused with a ValueError naming the fault,
cheaply; a model folder's tokenizer checked against its model; saves atomic, never
through a link."""

from __future__ import annotations

import gzip
import hashlib
import json
import os

import pytest

from tinygrad_edu import fileio
from tinygrad_edu import tokenizer as tk
from tinygrad_edu.tokenizer import BPETokenizer, CharTokenizer, load_tokenizer

BYTES = tk.bytes_to_unicode()
ENCODER = {c: b for b, c in BYTES.items()}  # the 256 byte tokens, ids 0..255
ENCODER["ab"] = 256


def _hf(**changes) -> dict:
    """A small Hugging Face tokenizer.json of GPT-2's kind, with `changes` at the top or,
    for keys starting `model.`, in its model."""
    d = {
        "added_tokens": [{"id": 257, "content": "<|endoftext|>", "special": True}],
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True},
        "model": {"type": "BPE", "vocab": dict(ENCODER), "merges": ["a b"]},
    }
    for key, value in changes.items():
        if key.startswith("model."):
            d["model"][key[len("model.") :]] = value
        else:
            d[key] = value
    return d


def _gpt2(**changes) -> dict:
    return {"type": "gpt2", "version": 1, "encoder": dict(ENCODER), "merges": ["a b"], **changes}


BAD_GPT2_FILES = {
    "added_token_without_id": (_hf(added_tokens=[{"content": "x"}]), r"added_tokens\[0\] must"),
    "added_token_not_object": (_hf(added_tokens=[7]), r"added_tokens\[0\] must be an object"),
    "added_tokens_not_list": (_hf(added_tokens={"a": 1}), '"added_tokens" must be a list'),
    "pre_tokenizer_list": (_hf(pre_tokenizer=["ByteLevel"]), '"pre_tokenizer" must be an object'),
    "vocab_list": (_hf(**{"model.vocab": ["a"]}), '"model.vocab" must be an object'),
    "merges_number": (_hf(**{"model.merges": 3}), '"model.merges" must be a list'),
    "merge_number": (_hf(**{"model.merges": [3]}), "merge 0 must be two tokens, got 3"),
    "merge_of_lists": (_hf(**{"model.merges": [[["a"], "b"]]}), "merge 0 must be two tokens"),
    "kind_unhashable": (_hf(**{"model.type": ["BPE"]}), r"of kind \['BPE'\]"),
    "id_missing": (_hf(**{"model.vocab": {**ENCODER, "ab": 300}}), "0..257, each once; id 256 is"),
    "id_twice": (_hf(**{"model.vocab": {**ENCODER, "ab": 255}}), "id 255 appears twice"),
    "id_negative": (_hf(**{"model.vocab": {**ENCODER, "ab": -1}}), "id -1 is negative"),
    "ours_merges_number": (_gpt2(merges=5), '"merges" must be a list'),
    "ours_special_nested": (_gpt2(special_tokens=[["ab"]]), r"special token \['ab'\] is not"),
    "ours_special_string": (_gpt2(special_tokens="ab"), "special tokens must be a list"),
    "ours_vocab_value_list": (_gpt2(encoder={**ENCODER, "ab": [256]}), "is not str -> int"),
}


@pytest.mark.parametrize("name", sorted(BAD_GPT2_FILES))
def test_malformed_gpt2_files_are_one_value_error(tmp_path, name):
    content, message = BAD_GPT2_FILES[name]
    path = tmp_path / f"bad_{name}.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    with pytest.raises(ValueError, match=message) as info:
        load_tokenizer(path)
    assert f"bad_{name}.json" in str(info.value) and "\n" not in str(info.value)


def test_the_good_small_files_load(tmp_path):
    """The tables above change one thing each in files that load."""
    for name, d in {"hf": _hf(), "ours": _gpt2()}.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(d), encoding="utf-8")
        tok = load_tokenizer(path)
        assert tok.encode("ab") == [256] and tok.decode([256, 97]) == "aba"


def test_special_tokens_regex_is_made_only_when_used():
    """200,000 special tokens (their regex takes seconds to compile): loading and plain
    encoding, all `sample` does, never build it."""
    encoder = dict(ENCODER)
    encoder.update({f"<s{i}>": 257 + i for i in range(200_000)})
    tok = tk.GPT2Tokenizer(encoder, [("a", "b")])
    assert len(tok.special_tokens) == 200_000 and tok._special_regex is None
    assert tok.encode("ab<s7>") == tok.encode("ab") + tok.encode("<s7>")
    assert tok._special_regex is None
    small = tk.GPT2Tokenizer({**ENCODER, "<s>": 257, "<s>>": 258}, [("a", "b")])
    assert small.encode("ab<s>><s>", allowed_special=True) == [256, 258, 257]


def test_big_and_broken_gzip_files(tmp_path, monkeypatch):
    monkeypatch.setattr(tk.base, "MAX_FILE_BYTES", 1000)
    big = tmp_path / "encoder.json.gz"  # a gzip bomb in small: 10 kB of spaces from 40 bytes
    big.write_bytes(gzip.compress(b" " * 10_000))
    merges = tmp_path / "vocab.bpe.gz"
    merges.write_bytes(gzip.compress(b"#version: 0.2\n"))
    with pytest.raises(ValueError, match="larger than 0 MiB"):
        tk.GPT2Tokenizer.from_files(big, merges)
    big.write_bytes(gzip.compress(b"{}")[:-6])  # cut short
    with pytest.raises(ValueError, match="not a whole gzip file"):
        tk.GPT2Tokenizer.from_files(big, merges)
    plain = tmp_path / "tokenizer.json"
    plain.write_bytes(b" " * 1001)
    with pytest.raises(ValueError, match="larger than"):
        load_tokenizer(plain)


# --- a model folder: the tokenizer must be the model's ----------------------------------------


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny trained run (a character tokenizer), the folder `sample` reads."""
    pytest.importorskip("safetensors")
    from tinygrad_edu.models.train_gpt import TrainConfig, train

    out = tmp_path_factory.mktemp("tok") / "run"
    cfg = TrainConfig(
        out=str(out), max_iters=1, eval_interval=1, eval_iters=1, block_size=8, batch_size=2,
        n_layer=1, n_head=1, n_embd=8, warmup_iters=0, progress=False,
    )  # fmt: skip
    train(cfg)
    return out


def _replace_tokenizer(run_folder, tok) -> str:
    """Put `tok` in the run's checkpoint, its manifest updated: a folder that passes its
    sha256 checks, only the tokenizer does not fit the model."""
    ckpt = os.path.join(run_folder, json.loads((run_folder / "checkpoint.json").read_text())["dir"])
    path = os.path.join(ckpt, "tokenizer.json")
    os.remove(path)
    tok.save(path)
    manifest_path = os.path.join(ckpt, "manifest.json")
    with open(manifest_path, encoding="utf-8") as f:
        manifest = json.load(f)
    with open(path, "rb") as f:
        manifest["files"]["tokenizer.json"] = hashlib.sha256(f.read()).hexdigest()
    os.remove(manifest_path)
    fileio.write_text_atomic(manifest_path, json.dumps(manifest))
    return path


@pytest.mark.parametrize("change", [-5, +5])
def test_a_tokenizer_that_does_not_fit_the_model_is_one_line(tmp_path, run, change, capsys):
    import shutil

    from tinygrad_edu.cli import main

    folder = tmp_path / "run"
    shutil.copytree(run, folder, symlinks=True)
    chars = load_tokenizer(folder).chars
    chars = chars[:change] if change < 0 else chars + [chr(0x4E00 + i) for i in range(change)]
    _replace_tokenizer(folder, CharTokenizer(chars))
    with pytest.raises(ValueError, match="do not belong together"):
        load_tokenizer(folder)
    capsys.readouterr()
    # (before: with 5 tokens fewer, an IndexError traceback as soon as the model emitted one)
    code = main(["sample", "--ckpt", str(folder), "--max-new-tokens", "50", "--seed", "1"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "do not belong together" in err, err


# --- saving -----------------------------------------------------------------------------------


def test_save_replaces_a_link_never_writing_through_it(tmp_path):
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("the user's file\n")
    link = tmp_path / "tokenizer.json"
    link.symlink_to(elsewhere)
    tok = BPETokenizer().train("the the then they", 258)
    tok.save(link)
    assert elsewhere.read_text() == "the user's file\n"
    assert not link.is_symlink() and load_tokenizer(link).merges == tok.merges
    dangling = tmp_path / "dangling.json"  # a link to a file that does not exist
    dangling.symlink_to(tmp_path / "nowhere" / "made.json")
    tok.save(dangling)
    assert not (tmp_path / "nowhere").exists() and not dangling.is_symlink()


def test_an_interrupted_save_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "tokenizer.json"
    old = CharTokenizer.from_text("abc")
    old.save(path)
    before = path.read_bytes()

    def power_cut(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(fileio.os, "fsync", power_cut)
    with pytest.raises(KeyboardInterrupt):
        BPETokenizer().train("the the then they", 258).save(path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["tokenizer.json"]
