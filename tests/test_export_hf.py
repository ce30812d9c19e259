"""`tinygrad-edu export --format hf`: transformers loads our GPT with our logits, and our
tokenizers as PreTrainedTokenizerFast with our ids. Skipped without transformers (and torch);
the folder checks that need neither run always."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from tinygrad_edu.cli import main as cli_main
from tinygrad_edu.models.export_hf import RECORD, export_hf, hf_state
from tinygrad_edu.models.gpt import GPT, GPTConfig
from tinygrad_edu.tokenizer import BPETokenizer, CharTokenizer, GPT2Tokenizer

TEXT = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\n"
    "All:\nSpeak, speak.  It's 1,234 o'clock -- isn't it?\t_under_score_ 42nd\n"
)
# the edges where Python's `re` and Hugging Face's regex engine could split differently
HARD = [
    TEXT,
    "naïve café — 東京 2024年 ½ ² Ⅻ x\u0301 \x1c\x1d sep\u00a0nbsp  \u2003em",
    "emoji 🙂🙃 and   many   spaces\n\n\nnewlines\r\nwindows",
    "don't we'll they've I'm you're IT'S 'quoted' __init__ a_b_c 9_000",
    "",
    " ",
]


def _model_folder(tmp_path, tok, bias, activation, name="run"):
    folder = tmp_path / name
    model = GPT(
        GPTConfig(
            block_size=16, vocab_size=tok.vocab_size, n_layer=2, n_head=2, n_embd=16,
            bias=bias, activation=activation,
        )
    )  # fmt: skip
    g = np.random.default_rng(0)
    for p in model.parameters():  # biases and LayerNorms away from 0 and 1: a real test
        p.data[...] = g.normal(0.0, 0.3, p.shape)
    model.save_pretrained(str(folder))
    tok.save(str(folder / "tokenizer.json"))
    return folder, model


def _ours_logits(model, ids):
    logits, _ = model(np.array([ids]))
    return logits.data[0]


def test_state_gets_conv1d_layout_and_zero_biases():
    model = GPT(GPTConfig(block_size=8, vocab_size=10, n_layer=1, n_head=2, n_embd=8, bias=False))
    config = model.config.to_dict()
    state = hf_state(config, model.state_dict())
    w = model.transformer.h[0].attn.c_attn.weight.data  # (3C, C)
    assert state["transformer.h.0.attn.c_attn.weight"].shape == (8, 24)
    np.testing.assert_array_equal(state["transformer.h.0.attn.c_attn.weight"], w.T)
    assert state["transformer.h.0.mlp.c_fc.bias"].shape == (32,)
    assert not state["transformer.h.0.mlp.c_fc.bias"].any()
    assert "lm_head.weight" not in state  # tied to wte


def test_folder_round_trips_into_our_loader(tmp_path):
    tok = CharTokenizer.from_text(TEXT)
    run, model = _model_folder(tmp_path, tok, bias=False, activation="gelu_tanh")
    export_hf(str(run), str(tmp_path / "hf"))
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["model_type"] == "gpt2" and config["n_positions"] == 16
    assert config["activation_function"] == "gelu_new"
    back = GPT.from_pretrained(str(tmp_path / "hf"))  # our reader of GPT-2 folders
    ids = tok.encode(TEXT[:16])
    np.testing.assert_allclose(_ours_logits(back, ids), _ours_logits(model, ids), atol=1e-5)


def test_never_overwrites_a_folder_that_is_not_an_export(tmp_path):
    tok = CharTokenizer.from_text(TEXT)
    run, _ = _model_folder(tmp_path, tok, bias=True, activation="gelu")
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "config.json").write_text("mine")
    with pytest.raises(ValueError, match="not an export of ours"):
        export_hf(str(run), str(theirs))
    assert (theirs / "config.json").read_text() == "mine"
    # the CLI says so in one line, exit 2
    assert cli_main(["export", "--format", "hf", "--ckpt", str(run), "--out", str(theirs)]) == 2
    # an earlier export of ours is replaced
    out = tmp_path / "ours"
    assert cli_main(["export", "--format", "hf", "--ckpt", str(run), "--out", str(out)]) == 0
    export_hf(str(run), str(out))
    assert json.loads((out / RECORD).read_text())["format"] == "hf"
    # a link in place of one of the files is not written through
    target = tmp_path / "elsewhere.json"
    target.write_text("keep")
    os.remove(out / "tokenizer.json")
    os.symlink(target, out / "tokenizer.json")
    with pytest.raises(ValueError, match="symbolic link"):
        export_hf(str(run), str(out))
    assert target.read_text() == "keep"


# --- with transformers ----------------------------------------------------------------------


@pytest.mark.parametrize(("bias", "activation"), [(False, "gelu"), (True, "gelu_tanh")])
def test_transformers_loads_the_model_with_our_logits(tmp_path, bias, activation):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    tok = CharTokenizer.from_text(TEXT)
    run, model = _model_folder(tmp_path, tok, bias=bias, activation=activation)
    out = tmp_path / "hf"
    export_hf(str(run), str(out))
    hf = transformers.GPT2LMHeadModel.from_pretrained(str(out)).eval()
    assert hf.config.n_positions == 16
    ids = tok.encode(TEXT[:16])  # a full block: every position embedding in use
    with torch.no_grad():
        theirs = hf(torch.tensor([ids])).logits[0].numpy()
    ours = _ours_logits(model, ids)
    assert theirs.shape == ours.shape
    # float32 rounding: the same sums in another order
    np.testing.assert_allclose(theirs, ours, rtol=1e-4, atol=1e-4)
    # and a wrong GELU would not pass: the test can fail
    cfg = json.loads((out / "config.json").read_text())
    cfg["activation_function"] = "gelu" if activation == "gelu_tanh" else "gelu_new"
    (out / "config.json").write_text(json.dumps(cfg))
    wrong = transformers.GPT2LMHeadModel.from_pretrained(str(out)).eval()
    with torch.no_grad():
        off = wrong(torch.tensor([ids])).logits[0].numpy()
    assert np.abs(off - ours).max() > 1e-4


def _hf_ids(folder, text):
    transformers = pytest.importorskip("transformers")
    fast = transformers.PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"))
    return fast, fast.encode(text, add_special_tokens=False)


def _export_tokenizer(tmp_path, tok):
    pytest.importorskip("transformers")
    run, _ = _model_folder(tmp_path, tok, bias=False, activation="gelu")
    out = tmp_path / "hf"
    export_hf(str(run), str(out))
    return out


def test_char_tokenizer_same_ids(tmp_path):
    tok = CharTokenizer.from_text(TEXT)
    out = _export_tokenizer(tmp_path, tok)
    fast, ids = _hf_ids(out, TEXT)
    assert ids == tok.encode(TEXT)
    assert fast.decode(ids) == TEXT
    # from the folder, as a user would
    transformers = pytest.importorskip("transformers")
    auto = transformers.AutoTokenizer.from_pretrained(str(out))
    assert auto.encode(TEXT, add_special_tokens=False) == tok.encode(TEXT)


def test_bpe_tokenizer_same_ids(tmp_path):
    tok = BPETokenizer().train(TEXT * 3 + HARD[1] + HARD[3], vocab_size=300)
    out = _export_tokenizer(tmp_path, tok)
    for text in HARD:
        fast, ids = _hf_ids(out, text)
        assert ids == tok.encode(text), text
        assert fast.decode(ids) == text


def test_gpt2_tokenizer_same_ids(tmp_path):
    tok = GPT2Tokenizer.from_bundled()
    pytest.importorskip("transformers")
    from tinygrad_edu.models.export_hf import hf_tokenizer

    out = tmp_path / "tok"
    out.mkdir()
    (out / "tokenizer.json").write_text(json.dumps(hf_tokenizer(tok)))
    for text in HARD:
        fast, ids = _hf_ids(out, text)
        assert ids == tok.encode(text), text
        assert fast.decode(ids) == text
    fast, ids = _hf_ids(out, "the end<|endoftext|>")  # the special token: one id, 50256
    assert ids[-1] == 50256 == tok.encode("the end<|endoftext|>", allowed_special=True)[-1]


def test_a_train_gpt_run_goes_out_whole(tmp_path, capsys):
    """A real run folder (published checkpoints, a BPE tokenizer) -> export -> transformers."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    run = tmp_path / "run"
    args = ["train-gpt", "--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--block-size",
            "16", "--batch-size", "2", "--max-iters", "3", "--eval-interval", "3", "--eval-iters",
            "1", "--tokenizer", "bpe", "--bpe-vocab-size", "300", "--no-progress",
            "--out", str(run)]  # fmt: skip
    assert cli_main(args) == 0
    out = tmp_path / "hf"
    assert cli_main(["export", "--format", "hf", "--ckpt", str(run), "--out", str(out)]) == 0
    assert "from_pretrained" in capsys.readouterr().out
    ours = GPT.from_pretrained(str(run))
    from tinygrad_edu.tokenizer import load_tokenizer

    tok = load_tokenizer(str(run))
    fast = transformers.AutoTokenizer.from_pretrained(str(out))
    ids = fast.encode(TEXT, add_special_tokens=False)
    assert ids == tok.encode(TEXT)
    hf = transformers.GPT2LMHeadModel.from_pretrained(str(out)).eval()
    with torch.no_grad():
        theirs = hf(torch.tensor([ids[:16]])).logits[0].numpy()
    np.testing.assert_allclose(theirs, _ours_logits(ours, ids[:16]), rtol=1e-4, atol=1e-4)
