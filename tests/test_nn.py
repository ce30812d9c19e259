"""nn: Module bookkeeping, the layers, and a network that learns the digits."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import nn, optim
from tinygrad_edu.data import DataLoader, load_digits
from tinygrad_edu.nn import functional as F


class Block(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.scale = nn.Parameter(np.ones(n, dtype=np.float32))  # own parameter first
        self.fc = nn.Linear(n, n)
        self.ln = nn.LayerNorm(n)
        self.drop = nn.Dropout(0.5)
        self.register_buffer("mask", np.tril(np.ones((n, n), dtype=np.float32)))
        self.register_buffer("cache", np.zeros(n, dtype=np.float32), persistent=False)
        self.note = "not a parameter"
        self.plain_list = [nn.Linear(n, n)]  # a plain list is NOT registered

    def forward(self, x):
        return self.drop(self.ln(self.fc(x) * self.scale))


class Net(nn.Module):
    def __init__(self, n=4, vocab=7):
        super().__init__()
        self.wte = nn.Embedding(vocab, n)
        self.h = nn.ModuleList([Block(n) for _ in range(2)])
        self.head = nn.Linear(n, vocab, bias=False)
        self.head.weight = self.wte.weight  # weight tying, as GPT does

    def forward(self, idx):
        x = self.wte(idx)
        for block in self.h:
            x = block(x)
        return self.head(x)


NET_NAMES = [
    "wte.weight",
    "h.0.scale", "h.0.fc.weight", "h.0.fc.bias", "h.0.ln.weight", "h.0.ln.bias",
    "h.1.scale", "h.1.fc.weight", "h.1.fc.bias", "h.1.ln.weight", "h.1.ln.bias",
]  # fmt: skip


def test_registration_names_and_tying():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == NET_NAMES
    params = list(net.parameters())
    assert len(params) == len(NET_NAMES) and len({id(p) for p in params}) == len(params)
    sd = net.state_dict()
    # PyTorch's order (a module's own parameters, its buffers, then its children); a tied
    # parameter appears under both names; non-persistent buffers are not saved
    assert list(sd) == [
        "wte.weight",
        *[f"h.{i}.{k}" for i in range(2)
          for k in ("scale", "mask", "fc.weight", "fc.bias", "ln.weight", "ln.bias")],
        "head.weight",
    ]  # fmt: skip
    np.testing.assert_array_equal(sd["head.weight"], sd["wte.weight"])
    assert [n for n, _ in net.named_buffers()] == ["h.0.mask", "h.0.cache", "h.1.mask", "h.1.cache"]
    assert net.num_parameters() == 7 * 4 + 2 * (4 + 16 + 4 + 4 + 4)
    assert [type(m).__name__ for m in net.modules()] == [
        "Net", "Embedding", "ModuleList", "Block", "Linear", "LayerNorm", "Dropout",
        "Block", "Linear", "LayerNorm", "Dropout", "Linear",
    ]  # fmt: skip
    assert [n for n, _ in net.named_children()] == ["wte", "h", "head"]


def test_names_match_pytorch_for_the_same_structure():
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Sequential(nn.Linear(4, 4), nn.GELU()))
    theirs = torch.nn.Sequential(
        torch.nn.Linear(3, 4),
        torch.nn.ReLU(),
        torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.GELU()),
    )
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]


def test_repr_like_pytorch():
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(
        nn.Linear(784, 16), nn.Sigmoid(), nn.Linear(16, 10, bias=False), nn.ReLU(), nn.Tanh(),
        nn.GELU(approximate="tanh"), nn.LayerNorm(10), nn.Embedding(5, 3), nn.Identity(),
        nn.Flatten(),
    )  # fmt: skip
    theirs = torch.nn.Sequential(
        torch.nn.Linear(784, 16), torch.nn.Sigmoid(), torch.nn.Linear(16, 10, bias=False),
        torch.nn.ReLU(), torch.nn.Tanh(), torch.nn.GELU(approximate="tanh"),
        torch.nn.LayerNorm(10), torch.nn.Embedding(5, 3), torch.nn.Identity(), torch.nn.Flatten(),
    )  # fmt: skip
    assert repr(ours) == repr(theirs)


def test_state_dict_is_a_copy_and_round_trips():
    tg.manual_seed(0)
    a = Net()
    sd = a.state_dict()
    assert all(isinstance(v, np.ndarray) for v in sd.values())
    sd["h.0.fc.weight"][...] = 123.0
    assert not (a.h[0].fc.weight.numpy() == 123.0).any()
    tg.manual_seed(1)
    b = Net()
    assert not np.array_equal(b.wte.weight.numpy(), a.wte.weight.numpy())
    w_before = b.h[1].fc.weight
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert b.h[1].fc.weight is w_before  # loaded in place: the optimizer's references stay valid
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[k], v, err_msg=k)
    assert b.head.weight is b.wte.weight  # still tied


def test_load_state_dict_errors_name_the_key():
    net = Net()
    good = net.state_dict()
    before = net.state_dict()
    missing = {k: v for k, v in good.items() if k != "h.1.fc.bias"}
    with pytest.raises(KeyError, match=r"missing key\(s\) 'h.1.fc.bias'"):
        net.load_state_dict(missing)
    extra = dict(good, **{"h.2.fc.weight": np.zeros((4, 4))})
    with pytest.raises(KeyError, match=r"unexpected key\(s\) 'h.2.fc.weight'"):
        net.load_state_dict(extra)
    bad = dict(good)
    bad["h.0.fc.weight"] = np.zeros((4, 5), dtype=np.float32)
    bad["h.0.scale"] = np.full(4, 9.0, dtype=np.float32)  # would be written before the bad key
    with pytest.raises(ValueError, match=r"'h.0.fc.weight' has shape \(4, 5\)"):
        net.load_state_dict(bad)
    with pytest.raises(ValueError, match="'h.0.fc.weight'"):
        net.load_state_dict(bad, strict=False)  # shapes are checked even when not strict
    for k, v in net.state_dict().items():  # nothing was changed by the failed loads
        np.testing.assert_array_equal(v, before[k], err_msg=k)
    res = net.load_state_dict(extra | {"h.0.scale": tg.Tensor(np.full(4, 2.0))}, strict=False)
    assert res.unexpected_keys == ["h.2.fc.weight"] and res.missing_keys == []
    # float64 values (and a Tensor) were cast to the parameter's float32
    assert net.h[0].scale.dtype == np.float32
    np.testing.assert_array_equal(net.h[0].scale.numpy(), np.full(4, 2.0, dtype=np.float32))
    res = net.load_state_dict(missing, strict=False)
    assert res.missing_keys == ["h.1.fc.bias"]


def test_train_eval_flags_propagate():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.h.train()
    assert not net.training and all(m.training for m in net.h.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_forward_hooks_see_input_and_output_and_come_off():
    layer = nn.Linear(3, 2)
    x = tg.Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    seen = []
    handle = layer.register_forward_hook(lambda m, args, out: seen.append((m, args, out)))
    y = layer(x)
    assert len(seen) == 1 and seen[0][0] is layer and seen[0][1][0] is x and seen[0][2] is y
    doubled = layer.register_forward_hook(lambda m, args, out: out * 2.0)  # replaces the output
    np.testing.assert_allclose(layer(x).data, 2.0 * y.data)
    assert len(seen) == 2
    handle.remove()
    doubled.remove()
    handle.remove()  # a second remove is harmless
    np.testing.assert_array_equal(layer(x).data, y.data)
    assert len(seen) == 2 and not layer._forward_hooks
    assert not nn.Linear(3, 2)._forward_hooks  # hooks are per module, never shared
    with pytest.raises(TypeError, match="callable"):
        layer.register_forward_hook("not a function")


def test_dropout_train_and_eval():
    tg.manual_seed(3)
    drop = nn.Dropout(0.25)
    x = tg.Tensor(np.ones((400, 500), dtype=np.float32), requires_grad=True)
    y = drop(x).numpy()
    kept = y != 0
    n = kept.size
    # keep rate 0.75 within 5 standard deviations of a binomial
    assert abs(kept.mean() - 0.75) < 5 * np.sqrt(0.75 * 0.25 / n)
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)  # survivors scaled by 1/(1-p)
    out = drop(x)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), out.numpy())  # the same mask gates the gradient
    drop.eval()
    assert drop(x) is x  # the identity in evaluation
    with pytest.raises(ValueError, match="probability"):
        nn.Dropout(1.5)


def test_zero_grad_apply_and_containers():
    net = Net()
    idx = np.array([[0, 1, 2], [3, 4, 6]])
    net(idx).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    visited = []
    net.apply(lambda m: visited.append(type(m).__name__))
    assert visited[-1] == "Net" and visited[0] == "Embedding"  # children first, then self
    assert len(net.h) == 2 and isinstance(net.h[-1], Block) and len(net.h[0:1]) == 1
    with pytest.raises(IndexError):
        net.h[2]
    d = nn.ModuleDict({"a": nn.Linear(2, 2), "b": nn.ReLU()})
    assert (
        list(d) == ["a", "b"]
        and "a" in d
        and [n for n, _ in d.named_parameters()] == ["a.weight", "a.bias"]
    )
    with pytest.raises(KeyError, match="would hide"):
        d["train"] = nn.ReLU()
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    assert isinstance(seq[0], nn.Linear) and len(seq) == 2
    with pytest.raises(NotImplementedError):
        nn.Module()(1)


def test_linear_init_is_pytorch_s_and_seeded():
    tg.manual_seed(5)
    a = nn.Linear(400, 300)
    bound = 1 / np.sqrt(400)
    w = a.weight.numpy()
    assert w.shape == (300, 400) and w.dtype == np.float32 and a.weight.requires_grad
    assert w.min() >= -bound and w.max() <= bound and w.max() > 0.99 * bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.01 * bound  # uniform: std = bound / sqrt(3)
    assert np.abs(a.bias.numpy()).max() <= bound
    tg.manual_seed(5)
    b = nn.Linear(400, 300)
    np.testing.assert_array_equal(b.weight.numpy(), w)
    np.testing.assert_array_equal(b.bias.numpy(), a.bias.numpy())
    assert nn.Linear(3, 2, dtype=np.float64).weight.dtype == np.float64
    assert nn.Linear(3, 2, bias=False).bias is None
    e = nn.Embedding(1000, 64).weight.numpy()
    assert abs(e.mean()) < 0.01 and abs(e.std() - 1) < 0.01  # N(0, 1)


def test_layers_match_torch_forward_and_backward():
    torch = pytest.importorskip("torch")
    tg.manual_seed(0)
    ours = nn.Sequential(
        nn.Linear(784, 16, dtype=np.float64), nn.Sigmoid(),
        nn.Linear(16, 16, dtype=np.float64), nn.Sigmoid(),
        nn.Linear(16, 10, dtype=np.float64),
    )  # fmt: skip
    assert ours.num_parameters() == 13_002  # lecture 1's count
    theirs = torch.nn.Sequential(
        torch.nn.Linear(784, 16), torch.nn.Sigmoid(), torch.nn.Linear(16, 16),
        torch.nn.Sigmoid(), torch.nn.Linear(16, 10),
    ).double()  # fmt: skip
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(0)
    x, y = rng.random((32, 784)), rng.integers(0, 10, 32)
    loss = F.cross_entropy(ours(tg.Tensor(x)), y)
    tloss = torch.nn.functional.cross_entropy(theirs(torch.from_numpy(x)), torch.from_numpy(y))
    loss.backward()
    tloss.backward()
    assert loss.item() == pytest.approx(tloss.item(), rel=1e-12)
    tgrads = {n: p.grad.numpy() for n, p in theirs.named_parameters()}
    for n, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tgrads[n], rtol=1e-9, atol=1e-14, err_msg=n)
    ln, tln = nn.LayerNorm(16, dtype=np.float64), torch.nn.LayerNorm(16).double()
    h = rng.standard_normal((5, 16))
    np.testing.assert_allclose(
        ln(tg.Tensor(h)).numpy(), tln(torch.from_numpy(h)).detach().numpy(), rtol=1e-10, atol=1e-12
    )
    for approx in ("none", "tanh"):
        np.testing.assert_allclose(
            nn.GELU(approx)(tg.Tensor(h)).numpy(),
            torch.nn.GELU(approximate=approx)(torch.from_numpy(h)).numpy(),
            rtol=1e-6, atol=1e-7,
        )  # fmt: skip


def test_module_to_dtype_and_freezing():
    net = nn.Sequential(nn.Linear(3, 2))
    w = net[0].weight
    net.double()
    assert net[0].weight is w and w.dtype == np.float64
    net.requires_grad_(False)
    assert net.num_parameters(trainable_only=True) == 0 and net.num_parameters() == 8


def test_mlp_learns_the_digits():
    """A few hundred steps of mini-batch SGD take the cost from chance to low."""
    X, y = load_digits("train")
    Xt, yt = load_digits("test")
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))
    opt = optim.Adam(model.parameters(), lr=3e-3)
    loader = DataLoader(X, y, batch_size=32, shuffle=True, seed=0)
    with tg.no_grad():
        first = F.cross_entropy(model(tg.Tensor(X)), y).item()
    assert first == pytest.approx(np.log(10), abs=0.15)  # guessing: -log(1/10)
    for _ in range(2):  # 2 epochs = 250 steps
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with tg.no_grad():
        final = F.cross_entropy(model(tg.Tensor(X)), y).item()
        accuracy = (model(tg.Tensor(Xt)).argmax(1).numpy() == yt).mean()
    assert final < 0.35 * first
    assert accuracy > 0.85


def test_train_mnist_command(tmp_path, capsys):
    from tinygrad_edu.checkpoint import load
    from tinygrad_edu.cli import main

    out = tmp_path / "run"
    assert main(["train-mnist", "--epochs", "1", "--hidden", "16", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "784-16-10 relu, adam lr 0.001" in printed and "checkpoint:" in printed
    accuracy = float(printed.splitlines()[2].split()[2])
    assert accuracy > 0.75  # one epoch of Adam on the digits
    weights = load(out / "model.safetensors")
    assert {k: v.shape for k, v in weights.items()} == {
        "0.weight": (16, 784), "0.bias": (16,), "2.weight": (10, 16), "2.bias": (10,),
    }  # fmt: skip
    model = nn.Sequential(nn.Linear(784, 16), nn.ReLU(), nn.Linear(16, 10))
    model.load_state_dict(weights)
    Xt, yt = load_digits("test")
    with tg.no_grad():
        assert (model(tg.Tensor(Xt)).argmax(1).numpy() == yt).mean() == pytest.approx(accuracy)
