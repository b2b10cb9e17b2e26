"""nnthe.distributed: the all-reduce op on one process, and on 2 MPI ranks launched with
mpiexec (equivalence with one process on the global batch, identical optimizer state on
every rank, a failing rank ending the job)."""
from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from mpi_helpers import run_mpi

mpi4py = pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install 'nnthe[mpi]')")
from nnthe import distributed  # noqa: E402
from nnthe.gradient import verify_grad  # noqa: E402


# -- one process (size 1): the op's value, gradient and errors ------------------------------

def test_single_process_is_identity(rng):
    a, b = T.matrix("a"), T.vector("b", dtype="float64")
    out = distributed.allreduce_gradients([a, b])
    f = nnthe.function([a, b], out)
    av, bv = rng.standard_normal((3, 4)).astype("float32"), rng.standard_normal(5)
    ra, rb = f(av, bv)
    assert ra.dtype == np.float32 and rb.dtype == np.float64
    np.testing.assert_array_equal(ra, av)
    np.testing.assert_array_equal(rb, bv)
    assert distributed.size() == 1 and distributed.rank() == 0 and distributed.is_root()


def test_sum_and_weight_on_one_process(rng):
    a = T.matrix("a")
    w = T.scalar("w")
    av = rng.standard_normal((2, 3)).astype("float32")
    f = nnthe.function([a], distributed.allreduce_gradients([a], average=False)[0])
    np.testing.assert_array_equal(f(av), av)
    g = nnthe.function([a, w], distributed.allreduce_gradients([a], weight=w)[0])
    np.testing.assert_allclose(g(av, 3.0), av, rtol=1e-6)
    # An empty shard (weight 0) contributes nothing, not NaN; alone it gives zeros.
    np.testing.assert_array_equal(g(np.full((2, 3), np.nan, "float32"), 0.0), np.zeros((2, 3)))


def test_buckets_cut_at_tensor_boundaries():
    from nnthe.distributed.ops import _buckets

    assert _buckets([3, 5, 2], 4, None) == [(0, 10)]
    assert _buckets([3, 5, 2], 4, 12) == [(0, 3), (3, 8), (8, 10)]
    assert _buckets([3, 5, 2], 4, 30) == [(0, 8), (8, 10)]
    assert _buckets([], 4, 30) == []


def test_grad_through_the_op():
    def fun(x, y):
        gx, gy = distributed.allreduce_gradients([x, y])
        return (gx * gy).sum()

    verify_grad(fun, [np.linspace(-1, 1, 6).reshape(2, 3), np.linspace(0.5, 2, 6).reshape(2, 3)])


def test_one_node_for_equal_calls():
    # Merged like any op (on every rank alike): one Allreduce, both outputs right.
    x = T.vector("x")
    a, b = distributed.allreduce_gradients([x]), distributed.allreduce_gradients([x])
    f = nnthe.function([x], [a[0] * 2, b[0] * 3])
    ops = [type(n.op).__name__ for n in f._program.nodes]
    assert ops.count("AllreduceGradients") == 1, ops
    ra, rb = f(np.ones(3, "float32"))
    np.testing.assert_array_equal(ra, 2)
    np.testing.assert_array_equal(rb, 3)


def test_errors():
    with pytest.raises(TypeError, match="only float tensors"):
        distributed.allreduce_gradients([T.ivector("i")])
    with pytest.raises(ValueError, match="no gradients"):
        distributed.allreduce_gradients([])
    with pytest.raises(ValueError, match="bucket_mb"):
        distributed.allreduce_gradients([T.vector("v")], bucket_mb=0)
    with pytest.raises(TypeError, match="scalar"):
        distributed.allreduce_gradients([T.vector("v")], weight=T.vector("w"))
    with pytest.raises(TypeError, match="Intracomm"):
        distributed.init("not a communicator")
    with pytest.raises(TypeError, match="optimizer"):
        distributed.DistributedOptimizer(object())


def test_distributed_optimizer_delegates():
    from nnthe import optim

    w = nnthe.shared(np.ones(3, "float32"), name="w")
    opt = distributed.DistributedOptimizer(optim.Adam(learning_rate=0.1))
    step = nnthe.function([], [], updates=opt.updates((w ** 2).sum(), [w]))
    step()
    assert opt.lr == pytest.approx(0.1) and int(opt.state["step"].get_value()) == 1
    opt.lr = 0.5
    assert opt.optimizer.lr == pytest.approx(0.5)
    np.testing.assert_allclose(w.get_value(), 0.9, rtol=1e-5)


def test_missing_mpi4py_says_what_to_install():
    code = ("import sys; sys.modules['mpi4py'] = None\n"
            "import nnthe, nnthe.distributed as d\n"
            "try:\n    d.rank()\nexcept ImportError as e:\n    print(type(e).__name__, e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "MPIUnavailableError" in out.stdout and "pip install 'nnthe[mpi]'" in out.stdout, out


def test_import_nnthe_does_not_import_mpi4py():
    code = ("import sys, nnthe, nnthe.distributed, nnthe.train\n"
            "print('mpi4py' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out


# -- 2 ranks ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@pytest.mark.parametrize("mode,rule", [("plain", "adam"), ("weighted", "sgd"), ("sum", "sgd"),
                                       ("bucketed", "adam")])
def test_two_ranks_match_one_process_on_the_global_batch(kind, mode, rule):
    res = run_mpi("equivalence_script.py", kind, 20, 8, mode, rule)
    assert res.returncode == 0, res.stderr[-3000:]
    assert f"OK {kind} ranks=2 steps=20 B=8 mode={mode} rule={rule}" in res.stdout, res.stdout


def test_a_failing_rank_ends_the_job():
    start = time.monotonic()
    res = run_mpi("failing_script.py", timeout=60)
    elapsed = time.monotonic() - start
    assert res.returncode != 0
    assert "ValueError: boom on rank 1" in res.stderr
    assert "got past the barrier" not in res.stdout
    assert elapsed < 30, f"the job took {elapsed:.0f} s to end"


def test_different_models_are_refused_on_every_rank():
    res = run_mpi("mismatch_script.py")
    assert res.returncode == 0, res.stderr[-3000:]
    lines = sorted(line for line in res.stdout.splitlines() if line.startswith("rank "))
    assert len(lines) == 2, res.stdout
    for line in lines:
        assert "differ between ranks" in line and "0/W" in line and "(3, 4)" in line
