"""The memory pool (csrc/mempool.c): reuse, zeroing, realloc, threads, the cap, on/off."""

from __future__ import annotations

import contextvars
import gc
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from tinygrad_edu.kernels import mempool

pytestmark = pytest.mark.skipif(not mempool.available(), reason="compiled memory pool not built")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N = 50_000  # float64 elements: 400 KB, well above the pool's 64 KiB threshold


def _handler_name() -> str:
    core = getattr(np, "_core", None) or np.core  # NumPy 2 renamed numpy.core
    return core.multiarray.get_handler_name()


@pytest.fixture
def pool():
    """The pool on with a clean cache and counters; restored as it was afterwards."""
    was_on = mempool.is_enabled()
    old_limit = mempool.stats()["limit_bytes"]
    mempool.enable()
    gc.collect()  # arrays other tests left for the collector die now, not during this test
    mempool.trim()
    mempool._mempool.reset_counters()
    yield mempool
    mempool.set_limit(old_limit)
    mempool.trim()
    if not was_on:
        mempool.disable()


def test_the_package_turns_it_on():
    assert mempool.is_enabled() == (os.environ.get("TINYGRAD_EDU_MEMPOOL", "1") != "0")
    assert _handler_name() == (
        "tinygrad_edu_mempool" if mempool.is_enabled() else "default_allocator"
    )


def test_freed_blocks_are_reused(pool):
    in_use = pool.stats()["in_use_bytes"]  # arrays that other tests keep alive
    for _ in range(10):
        a = np.empty(N)
        a[:] = 1.0
        del a
    s = pool.stats()
    assert s["misses"] == 1 and s["hits"] == 9
    assert s["cached_blocks"] == 1 and s["in_use_bytes"] == in_use


def test_nearby_sizes_share_a_page_rounded_class(pool):
    a = np.empty(N)
    address = a.ctypes.data
    del a
    b = np.empty(N + 100)  # 800 bytes more: the same number of 4 KiB pages
    assert b.ctypes.data == address and pool.stats()["hits"] == 1
    assert b.ctypes.data % 64 == 0  # pooled data is cache-line aligned


def test_small_arrays_bypass_the_pool(pool):
    for _ in range(10):
        np.ones(100)  # made and freed at once
    s = pool.stats()
    assert s["hits"] == 0 and s["misses"] == 0 and s["cached_blocks"] == 0


def test_calloc_zeroes_a_dirty_reused_block(pool):
    a = np.full(N, 7.0)
    del a
    z = np.zeros(N)
    assert pool.stats()["hits"] == 1  # it really got the dirty block back
    assert not z.any()


@pytest.mark.parametrize("new_n", [N * 3, N + 10, N // 2, 1000, 5])
def test_ndarray_resize_keeps_the_data(pool, new_n):
    """ndarray.resize reallocates in place: growing, same class, shrinking, to small."""
    a = np.arange(N, dtype=np.float64)
    a.resize(new_n, refcheck=False)
    keep = min(N, new_n)
    np.testing.assert_array_equal(a[:keep], np.arange(keep, dtype=np.float64))
    if new_n > N:
        assert not a[N:].any()  # resize zero-fills what it grew
    a.resize(2 * N, refcheck=False)  # and back up again, from wherever it is now
    np.testing.assert_array_equal(a[:keep], np.arange(keep, dtype=np.float64))


def test_small_array_grows_into_the_pool(pool):
    a = np.arange(10.0)
    a.resize(N, refcheck=False)
    np.testing.assert_array_equal(a[:10], np.arange(10.0))
    assert not a[10:].any()


def test_np_resize_function(pool):
    a = np.arange(N, dtype=np.float32)
    b = np.resize(a, 3 * N + 7)  # repeats the data
    np.testing.assert_array_equal(b[: 3 * N], np.tile(a, 3))
    np.testing.assert_array_equal(np.resize(a, 999), a[:999])


def test_many_threads_allocating_and_freeing(pool):
    """Threads churn pooled arrays (each thread enables the pool in its own context)."""
    errors = []
    in_use = pool.stats()["in_use_bytes"]
    shared = [np.full(N, float(i)) for i in range(8)]  # made here, freed in the threads

    def work(seed: int) -> None:
        try:
            mempool.enable()
            rng = np.random.default_rng(seed)
            for i in range(300):
                n = int(rng.integers(N // 2, 2 * N))
                a = np.full(n, float(seed))
                b = np.zeros(n)
                assert a[0] == a[-1] == seed and not b.any()
                if i == 0 and shared:
                    del shared[-1]
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    s = pool.stats()
    assert s["hits"] > 0 and s["in_use_bytes"] <= in_use
    assert s["cached_bytes"] <= s["limit_bytes"]


def test_the_cache_never_exceeds_its_limit(pool):
    limit = 2 * 2**20
    pool.set_limit(limit)
    rng = np.random.default_rng(0)
    for _ in range(200):
        arrays = [np.empty(int(rng.integers(10_000, 200_000))) for _ in range(5)]
        del arrays
        s = pool.stats()
        assert s["cached_bytes"] <= limit
    assert s["evictions"] > 0
    pool.set_limit(256 * 2**10)  # lowering the cap evicts at once
    assert pool.stats()["cached_bytes"] <= 256 * 2**10
    pool.set_limit(0)  # nothing is kept at all
    np.empty(N)
    assert pool.stats()["cached_bytes"] == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_rss_stays_bounded_by_the_limit_while_sizes_change(pool):
    """Ever-new sizes: the cache evicts old blocks instead of growing without end."""
    pool.set_limit(8 * 2**20)
    rng = np.random.default_rng(1)

    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    before = rss()
    for _ in range(3000):
        a = np.ones(int(rng.integers(10_000, 400_000)))  # up to 3.2 MB, ~800 size classes
        del a
    grown = rss() - before
    assert pool.stats()["cached_bytes"] <= 8 * 2**20
    assert grown < 16 * 2**20, f"RSS grew by {grown / 2**20:.1f} MiB"


def test_bad_limits_raise():
    with pytest.raises(ValueError):
        mempool.set_limit(-1)
    with pytest.raises(TypeError):
        mempool.set_limit(1.5)


def test_trim_frees_the_cache(pool):
    blocks = [np.empty(N + i * 1000) for i in range(5)]
    del blocks
    assert pool.stats()["cached_blocks"] == 5
    pool.trim()
    assert pool.stats()["cached_bytes"] == 0


def test_disable_enable_round_trip_and_freeing_after_disable(pool):
    in_use = pool.stats()["in_use_bytes"]
    alive = np.arange(N, dtype=np.float64)  # allocated by the pool
    small = np.arange(10.0)
    pool.disable()
    assert not pool.is_enabled() and _handler_name() == "default_allocator"
    assert pool.stats()["cached_bytes"] == 0 and not pool.stats()["caching"]
    other = np.empty(N)  # from NumPy's own allocator now
    alive.resize(2 * N, refcheck=False)  # still reallocated by the handler that owns it
    np.testing.assert_array_equal(alive[:N], np.arange(N, dtype=np.float64))
    del alive, small, other  # the pool's free: straight back to malloc, nothing cached
    assert pool.stats()["cached_bytes"] == 0 and pool.stats()["in_use_bytes"] <= in_use
    pool.enable()
    pool.enable()  # twice is harmless: disable() still restores NumPy's default
    assert _handler_name() == "tinygrad_edu_mempool"
    del_me = np.empty(N)
    del del_me
    assert pool.stats()["cached_blocks"] == 1
    pool.disable()
    assert _handler_name() == "default_allocator"
    pool.enable()


def test_the_handler_is_scoped_to_a_context(pool):
    def inside() -> str:
        mempool.disable()
        return _handler_name()

    assert contextvars.copy_context().run(inside) == "default_allocator"
    assert _handler_name() == "tinygrad_edu_mempool"  # this context kept it
    mempool.enable()  # the disable() above also switched caching off for everyone


def test_environment_opts_out_and_info_reports_it():
    code = "import tinygrad_edu as tg; print(tg.info()['mempool'])"
    env = {**os.environ, "PYTHONPATH": ROOT}
    for value, expected in (("0", "False"), ("1", "True"), ("off", "False")):
        res = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env={**env, "TINYGRAD_EDU_MEMPOOL": value},
            timeout=120,
        )
        assert res.returncode == 0, res.stderr
        assert res.stdout.strip() == expected


def test_a_forked_child_can_still_allocate(pool):
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    code = (
        "import os, numpy as np, tinygrad_edu\n"
        "a = np.ones(100_000); del a\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    b = np.ones(100_000); del b\n"
        "    os._exit(0 if np.zeros(100_000).sum() == 0 else 1)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "print(os.waitstatus_to_exitcode(status))\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": ROOT},
        timeout=120,
    )
    assert res.returncode == 0 and res.stdout.strip() == "0", res.stderr


def test_lesson_10_measures_what_the_pool_saves():
    """bench.memory_pool_effect (lesson 10) runs the GPT step both ways and leaves the
    pool as it found it; with the pool the step takes (almost) no page faults."""
    from tinygrad_edu.lessons import bench

    was_on = mempool.is_enabled()
    rows = bench.memory_pool_effect(quick=True, fresh_process=False)
    assert mempool.is_enabled() == was_on
    assert [r["allocator"] for r in rows] == ["NumPy's allocator (malloc/free)", "memory pool"]
    assert all(r["ms_per_step"] > 0 for r in rows)
    if rows[1]["faults_per_step"] is not None:  # POSIX
        assert rows[1]["faults_per_step"] <= rows[0]["faults_per_step"]
        assert rows[1]["faults_per_step"] < 20


def test_lesson_10_measures_in_a_fresh_process():
    from tinygrad_edu.lessons import bench

    rows = bench.memory_pool_effect(quick=True)  # a child process: its own glibc state
    assert [r["allocator"] for r in rows] == ["NumPy's allocator (malloc/free)", "memory pool"]
    if rows[1]["faults_per_step"] is not None:
        # how often NumPy's allocator faults depends on glibc's heuristics (1,200-2,700
        # per step here, sometimes 0 when its thresholds have adapted); the pool's is ~0
        assert rows[1]["faults_per_step"] <= rows[0]["faults_per_step"]
        assert rows[1]["faults_per_step"] < 20
