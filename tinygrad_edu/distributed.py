"""Data parallelism: many copies of one model, each on its own slice of the batch.

Every large model is trained this way. N processes (ranks 0 .. N-1) each hold a full
copy of the weights. Each step:

  1. every rank takes its own slice of the global batch;
  2. forward and backward on that slice give the rank its own gradient;
  3. the ranks average their gradients (an *all-reduce*: everyone ends with the sum);
  4. every rank takes the same optimizer step, so the copies stay identical.

Why 3 gives the right answer: the cost is a mean over the batch, C = (1/B) sum_i c_i.
Split the B examples into N equal shards of B/N; rank r's cost is the mean over its
shard, C_r = (N/B) sum_{i in r} c_i, so (1/N) sum_r grad C_r = (1/B) sum_i grad c_i =
grad C. The average of the shards' gradients IS the full batch's gradient
(tutorials/11_data_parallel.py checks this numerically).

The processes talk through MPI, a standard that runs on one laptop or on thousands of
machines. Start them with `mpiexec -n 2 tinygrad-edu train-gpt ...`; `pip install -e
".[mpi]"` brings mpi4py and an MPI (MPICH). Without mpiexec (or without mpi4py) there is
one process, and every function here does the one-process thing.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

import numpy as np

from .tensor import Tensor

# Variables that mpiexec sets in each process it starts (MPICH/Hydra, Open MPI, Slurm's PMI).
_LAUNCHER_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS")


@dataclass(frozen=True)
class World:
    """Who this process is: its rank among size processes (comm is mpi4py's, or None)."""

    rank: int = 0
    size: int = 1
    comm: object = None

    @property
    def is_main(self) -> bool:
        """Rank 0 writes checkpoints, metrics and the progress bar; the others only compute."""
        return self.rank == 0


_world: World | None = None


def _launched_by_mpiexec() -> int:
    """The number of processes mpiexec started (1 if it did not start us)."""
    for var in _LAUNCHER_SIZE_VARS:
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return 1


def world() -> World:
    """This process's place in the job, found once.

    MPI is used only when mpiexec started more than one process: a plain `python`
    run never imports mpi4py (whose start-up costs time, and may not be installed).
    """
    global _world
    if _world is None:
        n = _launched_by_mpiexec()
        if n <= 1:
            _world = World()
        else:
            try:
                from mpi4py import MPI
            except ImportError as exc:
                raise RuntimeError(
                    f"mpiexec started {n} processes, but mpi4py cannot be imported ({exc}): "
                    'pip install -e ".[mpi]"'
                ) from None
            comm = MPI.COMM_WORLD
            _world = World(comm.Get_rank(), comm.Get_size(), comm)
            _abort_all_on_uncaught_error(comm)
    return _world


def _abort_all_on_uncaught_error(comm) -> None:
    """If one rank dies of an exception, stop every rank (not let them wait forever in
    the next all-reduce for a partner who will never come)."""
    previous = sys.excepthook

    def hook(kind, value, tb):
        previous(kind, value, tb)
        abort_all(1)

    sys.excepthook = hook


def abort_all(code: int, w: World | None = None, why: str = "stopped with an error") -> None:
    """Stop every rank with exit code `code` (under mpiexec; one process: nothing happens).

    A rank that stops on an error it handled itself (the CLI prints it and returns a code),
    or on a Ctrl-C, must use this too: a plain exit would leave the others waiting for it
    forever.
    """
    w = w or world()
    if w.size == 1:
        return
    sys.stdout.flush()
    print(f"rank {w.rank} {why}: stopping every rank", file=sys.stderr, flush=True)
    # Abort ends every rank at once, and the launcher may end before it has forwarded what
    # this rank just wrote (seen on a busy machine: the traceback and this line were lost).
    # A moment's wait lets the lines that say why reach the user's terminal first.
    time.sleep(0.5)
    w.comm.Abort(code)


# --- the batch: each rank its own slice -------------------------------------------------


def local_batch_size(global_batch: int, w: World | None = None) -> int:
    """How many of the global batch's examples this rank takes (global_batch / size)."""
    w = w or world()
    if global_batch % w.size:
        raise ValueError(
            f"the global batch size {global_batch} does not divide among {w.size} processes: "
            f"use a --batch-size that is a multiple of {w.size}"
        )
    return global_batch // w.size


def shard(batch: np.ndarray, w: World | None = None) -> np.ndarray:
    """Rank r's rows of a global batch (B, ...): rows r*B/N .. (r+1)*B/N - 1.

    Every rank draws the SAME global batch (same seed, same random stream), then keeps
    its own slice: so N ranks see exactly the examples one process would.
    """
    w = w or world()
    b = local_batch_size(len(batch), w)
    return batch[w.rank * b : (w.rank + 1) * b]


# --- the all-reduce: averaging gradients -------------------------------------------------

BUCKET_BYTES = 4 << 20  # gradients travel in flat buffers of about 4 MB (fewer, larger messages)


def _buckets(arrays: list[np.ndarray], bucket_bytes: int) -> list[list[int]]:
    """Consecutive groups of array indices, each about bucket_bytes long, in a fixed order
    (every rank must pack the same arrays into the same buffer)."""
    groups, current, size = [], [], 0
    for i, a in enumerate(arrays):
        if current and size + a.nbytes > bucket_bytes:
            groups.append(current)
            current, size = [], 0
        current.append(i)
        size += a.nbytes
    if current:
        groups.append(current)
    return groups


def allreduce_mean_(arrays: list[np.ndarray], w: World | None = None,
                    bucket_bytes: int = BUCKET_BYTES) -> None:  # fmt: skip
    """Replace every array by its average over the ranks, in place.

    Bucketed: the arrays of one dtype are copied into one flat buffer (about
    bucket_bytes), summed across ranks with one MPI Allreduce, divided by the number of
    ranks, and copied back. One message per bucket instead of one per array: each
    message costs a fixed latency (alpha) on top of its bytes (n * beta).
    """
    w = w or world()
    if w.size == 1 or not arrays:
        return
    from mpi4py import MPI

    for dtype in sorted({a.dtype for a in arrays}, key=str):
        same = [a for a in arrays if a.dtype == dtype]
        for group in _buckets(same, bucket_bytes):
            flat = np.concatenate([same[i].reshape(-1) for i in group])
            w.comm.Allreduce(MPI.IN_PLACE, flat, op=MPI.SUM)
            flat /= w.size
            start = 0
            for i in group:
                a = same[i]
                a[...] = flat[start : start + a.size].reshape(a.shape)
                start += a.size


def average_gradients(params, w: World | None = None) -> None:
    """After backward: every parameter's .grad becomes the mean over the ranks.

    A parameter that got no gradient on this rank counts as zeros (every rank must send
    the same buffers, or the all-reduce would pair the wrong numbers).
    """
    w = w or world()
    if w.size == 1:
        return
    params = list(params)
    for p in params:
        if p.grad is None:
            p.grad = Tensor(np.zeros_like(p.data))
    allreduce_mean_([p.grad.data for p in params], w)


def mean(value: float, w: World | None = None) -> float:
    """The average of one number over the ranks (a loss): every rank gets the same."""
    w = w or world()
    if w.size == 1:
        return float(value)
    buf = np.array([value], dtype=np.float64)
    allreduce_mean_([buf], w)
    return float(buf[0])


def broadcast(obj, w: World | None = None, root: int = 0):
    """Rank root's Python object (a path, a decision), on every rank."""
    w = w or world()
    return obj if w.size == 1 else w.comm.bcast(obj, root=root)


def broadcast_parameters(params, w: World | None = None, root: int = 0) -> None:
    """Copy rank root's weights to every rank, so all copies start identical (each rank
    initialised its own model from its own random state)."""
    w = w or world()
    if w.size == 1:
        return
    for p in params:
        w.comm.Bcast(p.data, root=root)


def allreduce_time(nbytes: int, repeats: int = 20, w: World | None = None) -> float:
    """Seconds one all-reduce of nbytes (float32) takes here, the median of `repeats`."""
    w = w or world()
    if w.size == 1:
        return 0.0
    import time

    from mpi4py import MPI

    buf = np.ones(max(1, nbytes // 4), dtype=np.float32)
    times = []
    for _ in range(repeats):
        w.comm.Barrier()
        t0 = time.perf_counter()
        w.comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        times.append(time.perf_counter() - t0)
    # every rank reports rank 0's view: the slowest rank decides a step's time
    return float(w.comm.bcast(float(np.median(times)), root=0))
