"""Optimizers and learning-rate schedules against PyTorch, on the same initial weights."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import kernels, nn, optim
from tinygrad_edu.nn import functional as F
from tinygrad_edu.optim import lr_scheduler


def _models(torch, dtype):
    """The same small network in both libraries, with identical weights."""
    tg.manual_seed(0)
    ours = nn.Sequential(nn.Linear(6, 8, dtype=dtype), nn.Tanh(), nn.Linear(8, 3, dtype=dtype))
    theirs = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    theirs = theirs.to(torch.float64 if dtype == np.float64 else torch.float32)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    return ours, theirs


def _batches(dtype, n=6):
    rng = np.random.default_rng(7)
    return [
        (rng.standard_normal((16, 6)).astype(dtype), rng.integers(0, 3, 16).astype(np.int64))
        for _ in range(n)
    ]


def _groups(params, spec):
    """spec None -> all params; else two groups: weights and biases with their options."""
    params = list(params)
    if spec is None:
        return params
    return [{"params": params[0::2], **spec[0]}, {"params": params[1::2], **spec[1]}]


def _train_both(torch, dtype, make_ours, make_theirs, groups=None, clip=None, steps=6):
    ours, theirs = _models(torch, dtype)
    opt = make_ours(_groups(ours.parameters(), groups))
    topt = make_theirs(_groups(theirs.parameters(), groups))
    norms = []
    for x, y in _batches(dtype, steps):
        opt.zero_grad()
        F.cross_entropy(ours(tg.Tensor(x)), y).backward()
        topt.zero_grad()
        torch.nn.functional.cross_entropy(
            theirs(torch.from_numpy(x)), torch.from_numpy(y)
        ).backward()
        if clip is not None:
            a = nn.utils.clip_grad_norm_(ours.parameters(), clip)
            b = torch.nn.utils.clip_grad_norm_(theirs.parameters(), clip)
            assert isinstance(a, float)
            norms.append((a, float(b)))
        opt.step()
        topt.step()
    return ours, theirs, norms


def _assert_same(ours, theirs, dtype):
    tol = 1e-11 if dtype == np.float64 else 2e-5
    want = theirs.state_dict()
    got = ours.state_dict()
    assert list(got) == list(want)
    for k in got:
        np.testing.assert_allclose(got[k], want[k].detach().numpy(), rtol=tol, atol=tol, err_msg=k)


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.02)),
    ("Adam", dict(lr=1e-2)),
    ("Adam", dict(lr=1e-2, weight_decay=0.1)),
    ("Adam", dict(lr=3e-3, betas=(0.8, 0.99), eps=1e-6)),
    ("AdamW", dict(lr=1e-2)),
    ("AdamW", dict(lr=1e-2, weight_decay=0.1, betas=(0.9, 0.99))),
]


@pytest.mark.parametrize("steps", [1, 6])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, kwargs", CASES)
def test_matches_torch(backend, dtype, name, kwargs, steps):
    torch = pytest.importorskip("torch")
    ours, theirs, _ = _train_both(
        torch,
        dtype,
        lambda p: getattr(optim, name)(p, **kwargs),
        lambda p: getattr(torch.optim, name)(p, **kwargs),
        steps=steps,
    )
    _assert_same(ours, theirs, dtype)


@pytest.mark.parametrize("name", ["SGD", "AdamW", "Adam"])
def test_parameter_groups_and_clipping_match_torch(backend, name):
    torch = pytest.importorskip("torch")
    base = dict(lr=0.05, momentum=0.9) if name == "SGD" else dict(lr=1e-2)
    groups = ({"lr": 0.02, "weight_decay": 0.1}, {"weight_decay": 0.0})
    ours, theirs, norms = _train_both(
        torch,
        np.float64,
        lambda p: getattr(optim, name)(p, **base),
        lambda p: getattr(torch.optim, name)(p, **base),
        groups=groups,
        clip=0.3,
    )
    _assert_same(ours, theirs, np.float64)
    a, b = zip(*norms)
    np.testing.assert_allclose(a, b, rtol=1e-12)
    assert max(a) > 0.3 > min(a)  # clipping was active on some steps, not all


def test_clip_grad_norm_semantics():
    ps = [tg.Tensor(np.zeros(3), requires_grad=True), tg.Tensor(np.zeros(4), requires_grad=True)]
    ps[0].grad = tg.Tensor(np.array([3.0, 0.0, 0.0]))
    ps[1].grad = tg.Tensor(np.array([0.0, 4.0, 0.0, 0.0]))
    total = nn.utils.clip_grad_norm_(ps, max_norm=1.0)
    assert total == pytest.approx(5.0, rel=1e-15)
    np.testing.assert_allclose(ps[0].grad.numpy(), [3.0 / (5 + 1e-6), 0, 0], rtol=1e-12)
    np.testing.assert_allclose(ps[1].grad.numpy(), [0, 4.0 / (5 + 1e-6), 0, 0], rtol=1e-12)
    # below the limit nothing changes, and the norm is still returned
    before = ps[1].grad.numpy().copy()
    assert nn.utils.clip_grad_norm_(ps, max_norm=10.0) == pytest.approx(1.0, rel=1e-6)
    np.testing.assert_array_equal(ps[1].grad.numpy(), before)
    # parameters without gradients are ignored
    assert nn.utils.clip_grad_norm_([tg.Tensor(np.zeros(2), requires_grad=True)], 1.0) == 0.0
    ps[0].grad = tg.Tensor(np.array([np.inf, 0.0, 0.0]))
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)


def test_parameters_without_grad_are_skipped():
    a = nn.Parameter(np.ones(3, dtype=np.float32))
    b = nn.Parameter(np.ones(3, dtype=np.float32))
    for opt in (optim.SGD([a, b], lr=0.1, momentum=0.9), optim.AdamW([a, b], lr=0.1)):
        a.grad = tg.Tensor(np.ones(3, dtype=np.float32))
        b.grad = None
        opt.step()
        np.testing.assert_array_equal(b.numpy(), np.ones(3, dtype=np.float32))
        assert b not in opt.state and a in opt.state
        assert (a.numpy() < 1).all()
        opt.zero_grad()
        assert a.grad is None


def test_sgd_is_w_minus_lr_times_grad_and_lr_is_mutable():
    w = nn.Parameter(np.array([1.0, -2.0]))
    opt = optim.SGD([w], lr=0.5)
    w.grad = tg.Tensor(np.array([0.2, 0.4]))
    opt.step()
    np.testing.assert_array_equal(w.numpy(), [0.9, -2.2])
    opt.param_groups[0]["lr"] = 0.0  # what a scheduler does
    opt.step()
    np.testing.assert_array_equal(w.numpy(), [0.9, -2.2])


def test_state_dict_round_trip_continues_identically():
    rng = np.random.default_rng(0)

    def model_and_opt(state=None):
        tg.manual_seed(1)
        m = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2))
        groups = [{"params": [m[0].weight, m[2].weight], "weight_decay": 0.1},
                  {"params": [m[0].bias, m[2].bias], "weight_decay": 0.0, "lr": 3e-3}]  # fmt: skip
        o = optim.AdamW(groups, lr=1e-2)
        if state is not None:
            m.load_state_dict(state[0])
            o.load_state_dict(state[1])
        return m, o

    def step(m, o, x, y):
        o.zero_grad()
        F.cross_entropy(m(tg.Tensor(x)), y).backward()
        o.step()

    data = [
        (rng.standard_normal((8, 4)).astype(np.float32), rng.integers(0, 2, 8)) for _ in range(5)
    ]
    m1, o1 = model_and_opt()
    for x, y in data[:3]:
        step(m1, o1, x, y)
    sd = o1.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert sd["param_groups"][0]["params"] == [0, 1] and sd["param_groups"][1]["params"] == [2, 3]
    assert sd["param_groups"][1]["lr"] == 3e-3 and sd["param_groups"][0]["weight_decay"] == 0.1
    assert sd["state"][0]["step"] == 3 and sd["state"][0]["exp_avg"].shape == (5, 4)
    m2, o2 = model_and_opt((m1.state_dict(), sd))
    sd["state"][0]["exp_avg"][...] = 1e9  # the state dict is a copy: this changes nothing
    for x, y in data[3:]:
        step(m1, o1, x, y)
        step(m2, o2, x, y)
    for k, v in m1.state_dict().items():
        np.testing.assert_array_equal(v, m2.state_dict()[k], err_msg=k)


def test_load_state_dict_errors():
    a, b = nn.Parameter(np.zeros(3)), nn.Parameter(np.zeros((2, 2)))
    opt = optim.Adam([a, b])
    a.grad, b.grad = tg.Tensor(np.ones(3)), tg.Tensor(np.ones((2, 2)))
    opt.step()
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="1 parameters, the state dict's has 2"):
        optim.Adam([a]).load_state_dict(sd)
    with pytest.raises(ValueError, match="1 parameter groups, the optimizer 2"):
        optim.Adam([{"params": [a]}, {"params": [b]}]).load_state_dict(sd)
    sd["state"][1]["exp_avg"] = np.zeros(4)
    with pytest.raises(ValueError, match=r"'exp_avg' of parameter 1 has shape \(4,\)"):
        optim.Adam([a, b]).load_state_dict(sd)


def test_loads_a_torch_optimizer_state():
    torch = pytest.importorskip("torch")
    ours, theirs = _models(torch, np.float64)
    topt = torch.optim.Adam(theirs.parameters(), lr=1e-2)
    data = _batches(np.float64, 5)
    for x, y in data[:3]:
        topt.zero_grad()
        torch.nn.functional.cross_entropy(
            theirs(torch.from_numpy(x)), torch.from_numpy(y)
        ).backward()
        topt.step()
    tsd = topt.state_dict()
    state = {i: {k: v.numpy() for k, v in s.items()} for i, s in tsd["state"].items()}
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    opt = optim.Adam(ours.parameters(), lr=1e-2)
    opt.load_state_dict({"state": state, "param_groups": tsd["param_groups"]})
    assert opt.state[ours[0].weight]["step"] == 3
    for x, y in data[3:]:
        opt.zero_grad()
        F.cross_entropy(ours(tg.Tensor(x)), y).backward()
        opt.step()
        topt.zero_grad()
        torch.nn.functional.cross_entropy(
            theirs(torch.from_numpy(x)), torch.from_numpy(y)
        ).backward()
        topt.step()
    _assert_same(ours, theirs, np.float64)


def test_bad_arguments():
    p = nn.Parameter(np.zeros(2, dtype=np.float32))
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD([p], lr=-1.0)
    with pytest.raises(ValueError, match="beta parameter at index 1"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(TypeError, match="floating-point"):
        optim.SGD([tg.Tensor(np.zeros(2, dtype=np.int64))], lr=0.1)
    with pytest.raises(TypeError, match="iterable of Tensors"):
        optim.SGD(p, lr=0.1)
    # a parameter listed twice in one group is updated once
    opt = optim.SGD([p, p], lr=1.0)
    assert len(opt.param_groups[0]["params"]) == 1


# --- learning-rate schedules -------------------------------------------------------------------


def _lrs(scheduler, opt, n):
    out = []
    for _ in range(n):
        out.append([g["lr"] for g in opt.param_groups])
        opt.step()
        scheduler.step()
    return np.array(out)


@pytest.mark.parametrize(
    "name, kwargs",
    [("StepLR", dict(step_size=3, gamma=0.5)), ("CosineAnnealingLR", dict(T_max=10, eta_min=0.01))],
)
def test_schedulers_match_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    ours = [nn.Parameter(np.zeros(1)), nn.Parameter(np.zeros(1))]
    theirs = [torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)]
    opt = optim.SGD([{"params": ours[:1]}, {"params": ours[1:], "lr": 0.3}], lr=0.1)
    topt = torch.optim.SGD([{"params": theirs[:1]}, {"params": theirs[1:], "lr": 0.3}], lr=0.1)
    got = _lrs(getattr(lr_scheduler, name)(opt, **kwargs), opt, 11)
    want = _lrs(getattr(torch.optim.lr_scheduler, name)(topt, **kwargs), topt, 11)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_lambda_lr_and_get_last_lr():
    torch = pytest.importorskip("torch")
    opt = optim.SGD([nn.Parameter(np.zeros(1))], lr=0.2)
    topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.2)
    s = lr_scheduler.LambdaLR(opt, lambda e: 0.9**e)
    t = torch.optim.lr_scheduler.LambdaLR(topt, lambda e: 0.9**e)
    np.testing.assert_allclose(_lrs(s, opt, 6), _lrs(t, topt, 6), rtol=1e-14)
    assert s.get_last_lr() == pytest.approx(t.get_last_lr(), rel=1e-14)


def test_warmup_cosine_closed_form():
    lr_max, lr_min, warmup, max_steps = 1e-3, 1e-4, 100, 2000
    f = lambda step: optim.warmup_cosine(step, warmup, max_steps, lr_max, lr_min)  # noqa: E731
    assert f(0) == pytest.approx(lr_max / 101, rel=1e-15)  # nanoGPT: lr * (it + 1) / (warmup + 1)
    assert f(99) == pytest.approx(lr_max * 100 / 101, rel=1e-15)
    assert f(100) == pytest.approx(lr_max, rel=1e-15)  # the peak
    assert f(1050) == pytest.approx((lr_max + lr_min) / 2, rel=1e-12)  # halfway down the cosine
    assert f(2000) == pytest.approx(lr_min, rel=1e-12)
    assert f(5000) == lr_min
    quarter = lr_min + 0.5 * (1 + math.cos(math.pi / 4)) * (lr_max - lr_min)
    assert f(100 + 1900 // 4) == pytest.approx(quarter, rel=1e-12)
    values = [f(s) for s in range(2001)]
    assert all(a < b for a, b in zip(values[:100], values[1:101]))  # rises during warm-up
    assert all(a >= b for a, b in zip(values[100:], values[101:]))  # then only falls


def test_warmup_cosine_scheduler_drives_the_optimizer():
    p = nn.Parameter(np.zeros(1))
    opt = optim.AdamW(
        [{"params": [p]}, {"params": [nn.Parameter(np.zeros(1))], "lr": 2e-3}], lr=1e-3
    )
    sched = lr_scheduler.WarmupCosineLR(opt, warmup=10, max_steps=100, lr_min=1e-4)
    seen = [[g["lr"] for g in opt.param_groups]]
    for _ in range(120):
        sched.step()
        seen.append([g["lr"] for g in opt.param_groups])
    for step in (0, 5, 10, 55, 100, 119):
        assert seen[step][0] == pytest.approx(optim.warmup_cosine(step, 10, 100, 1e-3, 1e-4))
        assert seen[step][1] == pytest.approx(optim.warmup_cosine(step, 10, 100, 2e-3, 1e-4))
    # resuming from a state dict continues the same schedule
    sd = sched.state_dict()
    assert sd["last_epoch"] == 120 and "optimizer" not in sd
    sched2 = lr_scheduler.WarmupCosineLR(opt, warmup=10, max_steps=100, lr_min=1e-4)
    sched2.load_state_dict(sd)
    assert sched2.last_epoch == 120 and sched2.base_lrs == [1e-3, 2e-3]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, kwargs", CASES)
def test_one_step_runs_on_the_kernel_and_on_its_twin(dtype, name, kwargs):
    # The same weights and the same gradients, 8 steps, through the same optimizer page
    # on each backend: the compiled kernel and its NumPy twin (kernels/reference.py).
    # SGD's twin does the kernel's operations in the kernel's order: bit for bit. Adam's
    # twin rounds in a few other places than the kernel (the kernel fuses the loop): a
    # few ulps.
    if kernels.compiled is None:
        pytest.skip("compiled kernels not built")
    rng = np.random.default_rng(3)
    shapes = [(5, 7), (7,), (3, 2, 4)]
    start = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(8)]
    results = []
    old = kernels.backend_name()
    try:
        for backend in ("compiled", "reference"):
            kernels.use_backend(backend)
            params = [nn.Parameter(w.copy()) for w in start]
            opt = getattr(optim, name)(params, **kwargs)
            for step_grads in grads:
                for p, g in zip(params, step_grads):
                    p.grad = tg.Tensor(g.copy())
                opt.step()
            results.append(([p.data for p in params], opt.state_dict()["state"]))
    finally:
        kernels.use_backend(old)
    (w_kernel, st_kernel), (w_twin, st_twin) = results
    assert not np.allclose(w_kernel[0], start[0])  # the weights moved
    tol = 0 if name == "SGD" else (1e-13 if dtype == np.float64 else 1e-5)
    for a, b in zip(w_kernel, w_twin):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_allclose(b, a, rtol=tol, atol=tol)
    for i in st_kernel:  # the same state, so a checkpoint loads on either backend
        assert st_kernel[i].keys() == st_twin[i].keys()
        for k, v in st_kernel[i].items():
            np.testing.assert_allclose(st_twin[i][k], v, rtol=tol, atol=tol)


def test_adamw_is_adam_with_decoupled_decay():
    # AdamW's step = shrink w by (1 - lr * wd), then Adam's step without decay
    rng = np.random.default_rng(4)
    w0, g = rng.standard_normal(6), rng.standard_normal(6)
    a, b = nn.Parameter(w0.copy()), nn.Parameter(w0 * (1 - 0.1 * 0.5))
    adamw = optim.AdamW([a], lr=0.1, weight_decay=0.5)
    adam = optim.Adam([b], lr=0.1)
    assert optim.AdamW([a]).param_groups[0]["weight_decay"] == 0.01  # PyTorch's default
    a.grad, b.grad = tg.Tensor(g.copy()), tg.Tensor(g.copy())
    adamw.step()
    adam.step()
    np.testing.assert_allclose(a.data, b.data, rtol=1e-14)
    l2 = nn.Parameter(w0.copy())  # Adam's own weight decay is L2 instead: another step
    l2.grad = tg.Tensor(g.copy())
    optim.Adam([l2], lr=0.1, weight_decay=0.5).step()
    assert not np.allclose(l2.data, a.data)
