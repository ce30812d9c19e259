"""Data parallelism (tinygrad_edu/distributed.py): one process without MPI, and two
processes under mpiexec (skipped when mpi4py or mpiexec is missing)."""

from __future__ import annotations

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
