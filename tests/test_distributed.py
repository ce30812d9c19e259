"""Data parallelism (tinygrad_edu/distributed.py): one process without MPI, and two
processes under mpiexec (skipped when mpi4py or mpiexec is missing)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tinygrad_edu import distributed as dist

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_one_process_without_mpiexec():
    w = dist.world()
    assert (w.rank, w.size, w.is_main) == (0, 1, True)
    batch = np.arange(12).reshape(6, 2)
    assert dist.shard(batch) is not None
    np.testing.assert_array_equal(dist.shard(batch), batch)
    a = np.ones(3, np.float32)
    dist.allreduce_mean_([a])  # nothing to average with: unchanged
    np.testing.assert_array_equal(a, 1)
    assert dist.mean(2.5) == 2.5 and dist.broadcast("run") == "run"
    dist.abort_all(1)  # one process: nothing to stop


def test_each_rank_takes_its_own_slice():
    batch = np.arange(12).reshape(6, 2)
    parts = [dist.shard(batch, dist.World(r, 3)) for r in range(3)]
    np.testing.assert_array_equal(np.concatenate(parts), batch)
    assert [len(p) for p in parts] == [2, 2, 2]


def test_a_batch_that_does_not_divide_is_refused():
    with pytest.raises(ValueError, match="does not divide among 4 processes"):
        dist.local_batch_size(10, dist.World(0, 4))


def test_buckets_keep_order_and_size():
    arrays = [np.zeros(n, np.float32) for n in (10, 10, 30, 5, 100)]
    groups = dist._buckets(arrays, bucket_bytes=100)  # 25 floats per bucket
    assert [i for g in groups for i in g] == list(range(5))  # every array once, in order
    assert groups == [[0, 1], [2], [3], [4]]


def _mpi_ready() -> bool:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return shutil.which("mpiexec") is not None


needs_mpi = pytest.mark.skipif(not _mpi_ready(), reason="mpi4py / mpiexec not installed")


def _mpiexec(n: int, script: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=ROOT)
    return subprocess.run(
        ["mpiexec", "-n", str(n), sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT,
    )  # fmt: skip


@needs_mpi
def test_two_ranks_average_to_the_full_batch_gradient():
    script = """
        import numpy as np
        from tinygrad_edu import Tensor, distributed as dist, nn, rng
        import tinygrad_edu.nn.functional as F
        w = dist.world()
        assert w.size == 2
        rng.manual_seed(100 + w.rank)            # each rank initialises differently...
        model = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3))
        dist.broadcast_parameters(model.parameters())   # ...until rank 0's weights are copied
        x = np.random.default_rng(0).standard_normal((8, 5)).astype(np.float64)
        y = np.arange(8) % 3
        for p in model.parameters():
            p.data = p.data.astype(np.float64)
        loss = F.cross_entropy(model(Tensor(dist.shard(x))), Tensor(dist.shard(y)))
        loss.backward()
        dist.average_gradients(model.parameters())
        mine = [p.grad.numpy().copy() for p in model.parameters()]
        model.zero_grad()
        F.cross_entropy(model(Tensor(x)), Tensor(y)).backward()   # the whole batch at once
        full = [p.grad.numpy() for p in model.parameters()]
        err = max(float(np.abs(a - b).max()) for a, b in zip(mine, full))
        assert err < 1e-12, err
        assert dist.mean(float(w.rank)) == 0.5 and dist.broadcast(f"r{w.rank}") == "r0"
        print(f"rank {w.rank} ok {err:.1e}")
    """
    res = _mpiexec(2, script)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count(" ok ") == 2, res.stdout


@needs_mpi
def test_a_rank_that_dies_stops_the_others():
    script = """
        import numpy as np
        from tinygrad_edu import distributed as dist
        w = dist.world()
        if w.rank == 1:
            raise RuntimeError("rank 1 fails on purpose")
        dist.allreduce_mean_([np.ones(4, np.float32)])   # would wait forever for rank 1
    """
    res = _mpiexec(2, script, timeout=60)
    assert res.returncode != 0
    assert "rank 1 fails on purpose" in res.stderr


# --- train-gpt data parallel: `mpiexec -n 2 tinygrad-edu train-gpt` -----------------------

TINY_GPT = ["--n-layer", "1", "--n-head", "2", "--n-embd", "32", "--block-size", "16",
            "--batch-size", "4", "--eval-interval", "1", "--eval-iters", "2", "--dropout", "0",
            "--warmup-iters", "2", "--learning-rate", "1e-2", "--seed", "7", "--no-progress"]  # fmt: skip


def _train_gpt(n: int, args: list[str], cwd, timeout: float = 60) -> subprocess.CompletedProcess:
    """`tinygrad-edu train-gpt args` as one plain process (n=0) or under mpiexec -n n."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=ROOT)
    cmd = [sys.executable, "-m", "tinygrad_edu", "train-gpt", *args]
    if n:
        cmd = ["mpiexec", "-n", str(n), *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)


def _rows(out) -> list[dict]:
    from tinygrad_edu.checkpoint import read_jsonl

    return read_jsonl(os.path.join(out, "metrics.jsonl"))


@needs_mpi
def test_train_gpt_on_two_ranks_matches_one_process(tmp_path):
    """Same seed, same global batch: every iteration's loss as one process's, to float32
    rounding (the sums run in another order); rank 1 writes nothing."""
    args = TINY_GPT + ["--max-iters", "20", "--out", "run"]
    one = _train_gpt(0, args, cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    # rank 0 starts in r0/, rank 1 in r1/: a file rank 1 wrote to --out run would land in r1/
    rank_dirs = [tmp_path / "r0", tmp_path / "r1"]
    for d in rank_dirs:
        d.mkdir()
    script = f"""
        import os, sys
        from tinygrad_edu import distributed as dist
        from tinygrad_edu.cli import main
        os.chdir({[str(d) for d in rank_dirs]!r}[dist.world().rank])
        sys.exit(main(["train-gpt", *{args!r}]))
    """
    two = _mpiexec(2, script, timeout=60)
    assert two.returncode == 0, two.stdout + two.stderr
    assert os.listdir(rank_dirs[1]) == []
    assert two.stdout.count("done: iter 20") == 1 and two.stdout.count("parameters") == 1
    a, b = _rows(tmp_path / "run"), _rows(rank_dirs[0] / "run")
    assert [r["iter"] for r in a] == [r["iter"] for r in b] == list(range(21))
    for key in ("step_loss", "train_loss", "val_loss"):
        x = np.array([r[key] for r in a[1:]], dtype=np.float64)
        y = np.array([r[key] for r in b[1:]], dtype=np.float64)
        np.testing.assert_allclose(y, x, rtol=1e-4, atol=1e-5, err_msg=key)
    assert a[-1]["step_loss"] < a[1]["step_loss"] - 0.5  # it learned: the test means something
    names = sorted(e for e in os.listdir(tmp_path / "run") if not e.startswith("ckpt-"))
    assert sorted(e for e in os.listdir(rank_dirs[0] / "run") if not e.startswith("ckpt-")) == names


@needs_mpi
def test_train_gpt_on_two_ranks_resumes_exactly(tmp_path):
    from tinygrad_edu import checkpoint

    straight, resumed = str(tmp_path / "a"), str(tmp_path / "b")
    for out, iters in ((straight, 12), (resumed, 6), (resumed, 12)):
        args = ["--max-iters", str(iters), "--lr-decay-iters", "12", "--out", out]
        res = _train_gpt(2, TINY_GPT + args, cwd=tmp_path)  # the same schedule all three times
        assert res.returncode == 0, res.stdout + res.stderr
    assert "resuming from" in res.stdout and res.stdout.count("resuming from") == 1
    keys = ("iter", "step_loss", "train_loss", "val_loss")
    a, b = _rows(straight), _rows(resumed)
    assert [[r[k] for k in keys] for r in a] == [[r[k] for k in keys] for r in b]
    wa = checkpoint.load(os.path.join(straight, "model.safetensors"))
    wb = checkpoint.load(os.path.join(resumed, "model.safetensors"))
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)


@needs_mpi
def test_train_gpt_refuses_a_batch_the_ranks_cannot_share(tmp_path):
    out = tmp_path / "run"
    res = _train_gpt(2, TINY_GPT + ["--batch-size", "5", "--out", str(out)], cwd=tmp_path)
    assert res.returncode != 0
    assert "batch size 5 does not divide among 2 processes" in res.stderr
    assert not out.exists()  # refused before anything was written


@needs_mpi
def test_train_gpt_error_on_rank_0_only_stops_rank_1(tmp_path):
    """Rank 0 alone takes the lock; when it cannot, rank 1 (waiting for rank 0 to say
    which checkpoint to load) must not wait forever."""
    out = tmp_path / "run"
    out.mkdir()
    from tinygrad_edu.checkpoint import _this_process

    lock = json.dumps(_this_process())  # held by a live process: this one
    (out / ".lock").write_text(lock + "\n")
    res = _train_gpt(2, TINY_GPT + ["--max-iters", "2", "--out", str(out)], cwd=tmp_path)
    assert res.returncode != 0
    assert "in use by another training run" in res.stderr


@needs_mpi
def test_ctrl_c_to_mpiexec_stops_every_rank_with_one_message(tmp_path):
    """mpiexec passes Ctrl-C (SIGINT) on to the ranks: rank 0 says which checkpoint is kept,
    every rank stops, exit status 130, no traceback, the lock released."""
    import signal
    import time

    from tinygrad_edu import checkpoint

    out = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=ROOT)
    cmd = ["mpiexec", "-n", "2", sys.executable, "-m", "tinygrad_edu", "train-gpt", *TINY_GPT,
           "--max-iters", "100000", "--lr-decay-iters", "50", "--out", str(out)]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while not (out / "checkpoint.json").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    kept = checkpoint.current_checkpoint(out)
    line = f"the last checkpoint (iteration {kept[0]}, {kept[1]}) is kept"
    said = [x for x in err.splitlines() if x.startswith("train-gpt:")]
    assert len(said) == 1 and line in said[0], f"expected one line naming {kept}; stderr:\n{err}"
    assert not (out / ".lock").exists()
