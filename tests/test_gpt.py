"""The GPT: names and shapes, PyTorch twin, KV cache, checkpoints, training and sampling."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.models.gpt import GPT, GPTConfig, sample_next

SMALL = dict(block_size=16, vocab_size=11, n_layer=2, n_head=2, n_embd=8)


def small_gpt(seed: int = 0, **kw) -> GPT:
    tg.manual_seed(seed)
    return GPT(GPTConfig(**{**SMALL, **kw}))


def test_config_validation():
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(n_embd=10, n_head=4)
    with pytest.raises(ValueError, match="block_size"):
        GPTConfig(block_size=0)
    with pytest.raises(ValueError, match="activation"):
        GPTConfig(activation="swish")


def test_parameter_names_are_nanogpts_and_head_is_tied():
    model = small_gpt(bias=True)
    names = [n for n, _ in model.named_parameters()]
    assert names[:2] == ["transformer.wte.weight", "transformer.wpe.weight"]
    for want in (
        "transformer.h.1.ln_1.weight",
        "transformer.h.0.attn.c_attn.weight",
        "transformer.h.0.attn.c_proj.bias",
        "transformer.h.1.mlp.c_fc.weight",
        "transformer.h.1.mlp.c_proj.weight",
        "transformer.ln_f.bias",
    ):
        assert want in names
    assert "lm_head.weight" not in names  # the shared tensor is yielded once
    state = model.state_dict()
    assert "lm_head.weight" in state and "transformer.wte.weight" in state
    np.testing.assert_array_equal(state["lm_head.weight"], state["transformer.wte.weight"])
    assert model.lm_head.weight is model.transformer.wte.weight
    assert state["transformer.h.0.attn.c_attn.weight"].shape == (24, 8)  # PyTorch (out, in)
    params = list(model.parameters())
    assert len(params) == len({id(p) for p in params}) == len(names)


def test_parameter_count_matches_nanogpt_recipe():
    tg.manual_seed(0)
    model = GPT(
        GPTConfig(block_size=64, vocab_size=65, n_layer=4, n_head=4, n_embd=128, bias=False)
    )
    assert round(model.num_parameters() / 1e6, 2) == 0.80  # nanoGPT prints "0.80M"


def test_forward_shapes_with_and_without_targets():
    model = small_gpt()
    idx = np.random.default_rng(0).integers(0, 11, (3, 7))
    logits, loss = model(idx)
    assert logits.shape == (3, 7, 11) and loss is None
    logits, loss = model(idx, idx)
    assert loss.shape == () and 1.5 < loss.item() < 3.5  # about log(11) = 2.4 at init


def test_forwards_take_the_model_inputs_and_generations_cache_only():
    # nanoGPT's forward(idx, targets) plus the KV cache; what lessons look at comes out
    # through hooks (models/gpt_inspect.py), not through flags of the model's classes.
    # The sub-layers also take the residual stream, which their last GEMM adds as it
    # writes (x = x + attn(...) in one pass): an input, not a flag.
    import inspect

    from tinygrad_edu.models.gpt import Block

    def params(f):
        return list(inspect.signature(f).parameters)[1:]

    assert params(GPT.forward) == ["idx", "targets", "cache", "start_pos"]
    assert params(GPT.last_hidden_state) == ["idx", "cache", "start_pos"]
    assert params(Block.forward) == ["x", "cache"]
    assert params(tg.nn.CausalSelfAttention.forward) == ["x", "cache", "residual"]
    assert params(tg.nn.MLP.forward) == ["x", "residual"]
    model = small_gpt()
    idx = np.random.default_rng(1).integers(0, 11, (2, 5))
    out = model(idx, idx)
    assert isinstance(out, tuple) and len(out) == 2
    with tg.no_grad():
        hidden = model.last_hidden_state(idx)
        np.testing.assert_allclose(model.lm_head(hidden).data, out[0].data, rtol=1e-6)


def test_bad_input():
    model = small_gpt()
    with pytest.raises(IndexError, match="11"):
        model(np.array([[1, 11]]))
    with pytest.raises(ValueError, match="block_size"):
        model(np.zeros((1, 17), dtype=np.int64))
    with pytest.raises(TypeError, match="integer"):
        model(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="targets"):
        model(np.zeros((1, 3), dtype=np.int64), np.zeros((1, 4), dtype=np.int64))
    with pytest.raises(IndexError, match="-1"):
        model.generate(np.array([[-1]]), 2)
    with pytest.raises(ValueError, match="temperature"):
        model.generate(np.array([[1]]), 2, temperature=-1)


@pytest.mark.parametrize("bias", [True, False])
def test_matches_pytorch_twin_logits_loss_and_gradients(bias):
    torch = pytest.importorskip("torch")
    import torch_gpt

    model = small_gpt(seed=1, bias=bias)
    twin = torch_gpt.build(model.config)
    twin.load_numpy(model.state_dict())
    r = np.random.default_rng(1)
    idx, tgt = r.integers(0, 11, (2, 9)), r.integers(0, 11, (2, 9))
    logits, loss = model(idx, tgt)
    tlogits, tloss = twin(torch.from_numpy(idx), torch.from_numpy(tgt))
    np.testing.assert_allclose(logits.data, tlogits.detach().numpy(), rtol=1e-4, atol=1e-5)
    assert loss.item() == pytest.approx(tloss.item(), rel=1e-5)
    loss.backward()
    tloss.backward()
    theirs = dict(twin.named_parameters())
    for name, p in model.named_parameters():
        np.testing.assert_allclose(
            p.grad.data, theirs[name].grad.numpy(), rtol=1e-3, atol=1e-5, err_msg=name
        )


@pytest.mark.parametrize(
    "temperature,top_k,top_p",
    [(0.0, None, None), (1.0, None, None), (0.8, 3, None), (1.2, None, 0.9)],
)
def test_kv_cache_gives_the_same_tokens(temperature, top_k, top_p):
    model = small_gpt(seed=2)
    prompt = np.array([[1, 2, 3], [4, 5, 6]])
    outs = []
    for use_cache in (True, False):
        tg.manual_seed(7)
        outs.append(
            model.generate(
                prompt, 20, temperature=temperature, top_k=top_k, top_p=top_p, use_cache=use_cache
            )
        )
    assert outs[0].shape == (2, 23)  # 23 > block_size 16: the context is cropped at the end
    np.testing.assert_array_equal(outs[0], outs[1])


def test_sampling_filters():
    logits = np.log(np.array([[0.5, 0.3, 0.15, 0.05]]))
    assert sample_next(logits, temperature=0).tolist() == [0]
    tg.manual_seed(0)
    draws = np.concatenate([sample_next(logits, top_k=2) for _ in range(400)])
    assert set(draws.tolist()) == {0, 1}
    draws = np.concatenate([sample_next(logits, top_p=0.7) for _ in range(400)])
    assert set(draws.tolist()) == {0, 1}  # 0.5 < 0.7, so the second token is needed too
    draws = np.concatenate([sample_next(logits) for _ in range(4000)])
    np.testing.assert_allclose(
        np.bincount(draws, minlength=4) / 4000, [0.5, 0.3, 0.15, 0.05], atol=0.03
    )


def test_save_and_from_pretrained_round_trip(tmp_path):
    model = small_gpt(seed=3, bias=True)
    model.save_pretrained(str(tmp_path))
    loaded = GPT.from_pretrained(str(tmp_path))
    idx = np.array([[0, 1, 2, 3]])
    np.testing.assert_array_equal(model(idx)[0].data, loaded(idx)[0].data)
    assert loaded.lm_head.weight is loaded.transformer.wte.weight


def _write_hf_folder(model: GPT, folder, original_keys: bool) -> None:
    """A GPT-2 checkpoint as Hugging Face lays it out: Conv1D (in, out) weights."""
    from tinygrad_edu.checkpoint import save

    c = model.config
    cfg = {
        "model_type": "gpt2",
        "n_positions": c.block_size,
        "vocab_size": c.vocab_size,
        "n_layer": c.n_layer,
        "n_head": c.n_head,
        "n_embd": c.n_embd,
        "activation_function": "gelu_new",
        "layer_norm_epsilon": 1e-5,
    }
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f)
    state = {}
    for name, value in model.state_dict().items():
        if name == "lm_head.weight":
            continue
        if name.endswith(("c_attn.weight", "c_proj.weight", "c_fc.weight")):
            value = np.ascontiguousarray(value.T)
        key = name[len("transformer.") :] if original_keys else name
        state[key] = value
    if original_keys:
        for i in range(c.n_layer):
            state[f"h.{i}.attn.bias"] = np.tril(
                np.ones((1, 1, c.block_size, c.block_size), np.float32)
            )
            state[f"h.{i}.attn.masked_bias"] = np.array(-1e4, np.float32)  # a scalar in GPT-2
    save(state, os.path.join(folder, "model.safetensors"))


@pytest.mark.parametrize("original_keys", [False, True])
def test_from_pretrained_reads_hugging_face_gpt2_layout(tmp_path, original_keys):
    model = small_gpt(seed=4, bias=True, activation="gelu_tanh")
    _write_hf_folder(model, str(tmp_path), original_keys)
    loaded = GPT.from_pretrained(str(tmp_path))
    assert loaded.config.activation == "gelu_tanh"
    idx = np.array([[3, 1, 4, 1, 5]])
    np.testing.assert_allclose(loaded(idx)[0].data, model(idx)[0].data, rtol=1e-6, atol=1e-6)


def test_from_pretrained_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        GPT.from_pretrained(str(tmp_path))
    model = small_gpt(seed=5)
    model.save_pretrained(str(tmp_path))
    os.remove(tmp_path / "model.safetensors")
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        GPT.from_pretrained(str(tmp_path))
    model.save_pretrained(str(tmp_path))
    cfg = json.loads((tmp_path / "config.json").read_text())
    cfg["n_embd"] = 16
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises((ValueError, KeyError), match="transformer"):
        GPT.from_pretrained(str(tmp_path))


def _tiny_train_config(tmp_path, **kw):
    from tinygrad_edu.models.train_gpt import TrainConfig

    text = tmp_path / "text.txt"
    text.write_text("hello world, hello tensors. " * 80, encoding="utf-8")
    base = dict(
        data=str(text),
        out=str(tmp_path / "run"),
        block_size=16,
        batch_size=4,
        n_layer=1,
        n_head=2,
        n_embd=16,
        max_iters=30,
        eval_interval=10,
        eval_iters=2,
        warmup_iters=5,
        learning_rate=1e-2,
        progress=False,
    )
    return TrainConfig(**{**base, **kw})


def test_train_writes_checkpoint_metrics_and_resumes(tmp_path):
    from tinygrad_edu.models.train_gpt import train

    cfg = _tiny_train_config(tmp_path)
    metrics = train(cfg, log=lambda *a: None)
    for f in ("model.safetensors", "config.json", "tokenizer.json", "metrics.jsonl"):
        assert os.path.isfile(os.path.join(cfg.out, f)), f
    rows = [json.loads(x) for x in open(os.path.join(cfg.out, "metrics.jsonl"))]
    assert [r["iter"] for r in rows] == [0, 10, 20, 30] and rows == metrics
    for key in ("iter", "train_loss", "val_loss", "elapsed_s", "tokens_per_s"):
        assert key in rows[-1]
    assert rows[-1]["train_loss"] < rows[0]["train_loss"] - 0.5  # it learned something
    cfg2 = _tiny_train_config(tmp_path, max_iters=40)
    metrics2 = train(cfg2, log=lambda *a: None)
    assert [r["iter"] for r in metrics2] == [0, 10, 20, 30, 40]


def test_train_rejects_bad_data_files(tmp_path):
    from tinygrad_edu.models.train_gpt import train

    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty.txt"):
        train(_tiny_train_config(tmp_path, data=str(empty)), log=lambda *a: None)
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9 ".encode("latin-1") * 100)
    with pytest.raises(ValueError, match="latin1.txt"):
        train(_tiny_train_config(tmp_path, data=str(bad)), log=lambda *a: None)


def test_cli_train_and_sample(tmp_path, capsys):
    from tinygrad_edu.cli import main

    cfg = _tiny_train_config(tmp_path)
    assert (
        main(
            [
                "train-gpt",
                "--data",
                cfg.data,
                "--out",
                cfg.out,
                "--max-iters",
                "10",
                "--eval-interval",
                "5",
                "--eval-iters",
                "1",
                "--block-size",
                "16",
                "--batch-size",
                "2",
                "--n-layer",
                "1",
                "--n-head",
                "2",
                "--n-embd",
                "16",
                "--no-progress",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        main(
            [
                "sample",
                "--ckpt",
                cfg.out,
                "--prompt",
                "hello",
                "--max-new-tokens",
                "12",
                "--seed",
                "3",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("hello") and len(out.rstrip("\n")) >= 17


def test_train_with_bpe_tokenizer(tmp_path):
    from tinygrad_edu.models.train_gpt import train
    from tinygrad_edu.tokenizer import load_tokenizer

    cfg = _tiny_train_config(
        tmp_path, tokenizer="bpe", bpe_vocab_size=270, max_iters=10, eval_interval=5
    )
    metrics = train(cfg, log=lambda *a: None)
    tok = load_tokenizer(os.path.join(cfg.out, "tokenizer.json"))
    assert tok.vocab_size == 270 and metrics[-1]["iter"] == 10
    assert GPT.from_pretrained(cfg.out).config.vocab_size == 270
    with pytest.raises(ValueError, match="tokenizer"):
        train(
            _tiny_train_config(tmp_path, tokenizer="words", out=str(tmp_path / "x")),
            log=lambda *a: None,
        )
