"""The generated loop of a fused elementwise program against the op's NumPy evaluation."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from kernel_testutil import assert_bitwise, thunk_of, var

import nnthe
import nnthe.tensor as T
from nnthe import optim
from nnthe.core.compile.debugmode import DebugMode, DebugModeError
from nnthe.core.compile.mode import Mode
from nnthe.core.kernels import KernelReport, cache, fused, registry
from nnthe.core.rewrite.fusion import FusedElemwise

# out0 = sqrt(x*y + s) / (y - x); out1 = maximum(x, y); out2 = minimum(out0, y);
# out3 = (x > y); out4 = g * out3 (a float times a bool mask); out5 = -abs(x) * x.
PROGRAM = (
    ("multiply", (("in", 0), ("in", 1)), ("t", 0)),
    ("add", (("t", 0), ("in", 2)), ("t", 0)),
    ("sqrt", (("t", 0),), ("t", 0)),
    ("subtract", (("in", 1), ("in", 0)), ("t", 1)),
    ("divide", (("t", 0), ("t", 1)), ("out", 0)),
    ("maximum", (("in", 0), ("in", 1)), ("out", 1)),
    ("minimum", (("out", 0), ("in", 1)), ("out", 2)),
    ("greater", (("in", 0), ("in", 1)), ("out", 3)),
    ("multiply", (("in", 3), ("out", 3)), ("out", 4)),
    ("absolute", (("in", 0),), ("t", 0)),
    ("negative", (("t", 0),), ("t", 0)),
    ("multiply", (("t", 0), ("in", 0)), ("out", 5)),
)


def program_node(dtype, shape, bias=False):
    """The node of PROGRAM on x, y (or a bias of the last dimension), s, g."""
    x = var(dtype, shape, "x")
    y = var(dtype, (shape[-1],) if bias else shape, "y")
    s = var(dtype, (), "s")
    g = var(dtype, shape, "g")
    op = FusedElemwise(PROGRAM, (dtype, dtype), (dtype, dtype, dtype, "bool", dtype, dtype), shape)
    return op.make_node(x, y, s, g)


special = st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-38, 3.0, -2.5])


def arrays(dtype, shape):
    return hnp.arrays(dtype, shape, elements=st.one_of(
        special, st.floats(-1e3, 1e3, width=32 if dtype == "float32" else 64)))


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(["float32", "float64"]), st.integers(2, 9), st.integers(2, 17),
       st.booleans(), st.data())
def test_program_matches_perform_bitwise(dtype, n, c, bias, data):
    node = program_node(dtype, (n, c), bias)
    x = data.draw(arrays(dtype, (n, c)))
    y = data.draw(arrays(dtype, (c,) if bias else (n, c)))
    s = np.asarray(data.draw(special), dtype)
    g = data.draw(arrays(dtype, (n, c)))
    with np.errstate(all="ignore"):
        expected = node.op.perform(node, x, y, s, g)
        got = thunk_of(node)(x, y, s, g)
    for e, r in zip(expected, got):
        assert_bitwise(e, r)


def test_non_contiguous_inputs_and_a_runtime_shape_mismatch_fall_back_correctly():
    node = program_node("float32", (6, 8))
    rng = np.random.default_rng(0)
    big = rng.normal(size=(12, 16)).astype("float32")
    x, y = big[::2, ::2], np.asfortranarray(rng.normal(size=(6, 8)).astype("float32"))
    s, g = np.float32(0.5), big[1::2, 1::2]
    thunk = thunk_of(node)
    with np.errstate(all="ignore"):
        for e, r in zip(node.op.perform(node, x, y, s, g), thunk(x, y, s, g)):
            assert_bitwise(e, r)


def test_outputs_overwrite_the_inputs_they_destroy_only_when_that_is_possible():
    node = program_node("float64", (4, 5))
    rng = np.random.default_rng(1)
    x, y, g = (rng.normal(size=(4, 5)) for _ in range(3))
    s = np.float64(2.0)
    with np.errstate(all="ignore"):
        expected = node.op.perform(node, x.copy(), y.copy(), s, g.copy())
    thunk = thunk_of(node, destroy={5: 0})
    with np.errstate(all="ignore"):
        got = thunk(x, y, s, g)
    assert got[5] is x  # written in place
    assert_bitwise(expected[5], x)
    # The in-place output is stored through the input's own parameter (one array under
    # two parameters would keep LLVM from vectorizing the loop).
    source, _ = fused.kernel_source(node, inplace={5: 0})
    assert "a0[i0] = " in source and "o5" not in source and "o4" in source
    # An input that cannot be written (not contiguous, read-only): the result goes to a
    # copy, and the caller's array is left as it was.
    x2 = rng.normal(size=(4, 10))[:, ::2]
    x3 = x.copy()
    x3.flags.writeable = False
    for arg in (x2, x3):
        before = arg.copy()
        with np.errstate(all="ignore"):
            expected = node.op.perform(node, before.copy(), y, s, g)
            got = thunk(arg, y, s, g)
        assert got[5] is not arg
        np.testing.assert_array_equal(arg, before)
        for e, r in zip(expected, got):
            assert_bitwise(e, r)


def test_broadcast_inputs_along_inner_dimensions():
    # (N, C, H, W) with a (1, C, 1, 1) bias and a scalar: a 3-level loop nest.
    program = (("add", (("in", 0), ("in", 1)), ("t", 0)),
               ("maximum", (("t", 0), ("in", 2)), ("out", 0)))
    x, b, z = var("float32", (3, 4, 5, 6)), var("float32", (1, 4, 1, 1)), var("float32", ())
    node = FusedElemwise(program, ("float32",), ("float32",), (3, 4, 5, 6)).make_node(x, b, z)
    rng = np.random.default_rng(2)
    xv, bv = rng.normal(size=(3, 4, 5, 6)).astype("float32"), rng.normal(size=(1, 4, 1, 1)).astype("float32")
    xv[0, 0, 0, :3] = [np.nan, np.inf, -0.0]
    assert_bitwise(node.op.perform(node, xv, bv, np.float32(0)), thunk_of(node)(xv, bv, np.float32(0)))


def test_unsupported_instruction_or_inexact_function_has_no_kernel(monkeypatch):
    x = var("float32", (4, 4))
    exp_node = FusedElemwise((("exp", (("in", 0),), ("t", 0)), ("add", (("t", 0), ("in", 0)), ("out", 0))),
                             ("float32",), ("float32",), (4, 4)).make_node(x)
    monkeypatch.delenv("NNTHE_KERNELS_INEXACT", raising=False)
    assert registry.kernel_thunk(exp_node, registry.KernelContext(KernelReport())) is None
    monkeypatch.setenv("NNTHE_KERNELS_INEXACT", "1")
    thunk = thunk_of(exp_node)
    assert thunk.nnthe_exact is False
    v = np.linspace(-3, 3, 16, dtype="float32").reshape(4, 4)
    np.testing.assert_allclose(thunk(v), node_perform(exp_node, v), rtol=1e-6)
    h = var("float16", (4, 4))
    half = FusedElemwise((("add", (("in", 0), ("in", 0)), ("t", 0)), ("multiply", (("t", 0), ("in", 0)), ("out", 0))),
                         ("float16",), ("float16",), (4, 4)).make_node(h)
    assert registry.kernel_thunk(half, registry.KernelContext(KernelReport())) is None  # numba has no float16
    i = var("int32", (4, 4))
    div = FusedElemwise((("floor_divide", (("in", 0), ("in", 0)), ("out", 0)),), (), ("int32",), (4, 4))
    assert fused.kernel_source(div.make_node(i)) is None


def node_perform(node, *args):
    return node.op.perform(node, *args)


def adam_mlp(mode, steps=3):
    rng = np.random.default_rng(0)
    W = nnthe.shared(rng.normal(size=(30, 20)).astype("float32"), name="W")
    b = nnthe.shared(np.zeros(20, "float32"), name="b")
    X = T.matrix("X", shape=(None, 30))
    loss = (T.nnet.relu(T.dot(X, W) + b) ** 2).mean()
    f = nnthe.function([X], loss, updates=optim.Adam(1e-2).updates(loss, [W, b]), mode=mode)
    x = rng.normal(size=(8, 30)).astype("float32")
    buffer = W.get_value(borrow=True)
    losses = [f(x) for _ in range(steps)]
    return f, losses, W.get_value(), buffer is W.get_value(borrow=True)


def test_adam_with_kernels_is_bitwise_equal_to_numpy_and_updates_in_place():
    f, l1, w1, same_buffer = adam_mlp(Mode(kernels="numba"))
    _, l2, w2, _ = adam_mlp(Mode(kernels="numpy"))
    np.testing.assert_array_equal(l1, l2)
    np.testing.assert_array_equal(w1, w2)
    assert any(registry.kernel_thunk(n, registry.KernelContext(KernelReport())) is not None
               for n in f.fgraph.toposort() if isinstance(n.op, FusedElemwise)), "no kernel was linked"
    assert f.kernel_report.entries or f.kernel_report.reused  # compiled here or earlier
    assert same_buffer  # the parameter's own buffer was written


def test_debugmode_compares_kernels_and_catches_a_wrong_one(monkeypatch):
    adam_mlp(DebugMode(kernels="numba"))  # every kernel agrees with perform

    def broken(node, context):
        def wrong(*args):
            out = node.op.perform(node, *args)
            out = list(out) if isinstance(out, tuple) else [out]
            out[0] = out[0] + 1
            return tuple(out) if len(out) > 1 else out[0]
        wrong.nnthe_kernel, wrong.nnthe_exact = "broken", True
        return wrong

    monkeypatch.setitem(registry._FACTORIES, FusedElemwise, [broken])
    with pytest.raises(DebugModeError, match="kernel differs from perform"):
        adam_mlp(DebugMode(kernels="numba"))


def test_a_second_function_reports_the_kernels_it_reuses():
    # The same program compiled twice in one process: the second link costs nothing,
    # and its report says so instead of showing no kernels at all.
    adam_mlp(Mode(kernels="numba"), steps=0)
    f = adam_mlp(Mode(kernels="numba"), steps=0)[0]
    report = f.kernel_report
    assert report.reused and not report.entries and report.compile_time == 0
    assert f"{len(report.reused)} already loaded" in report.summary()


def test_compile_report_and_disk_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NNTHE_CACHE_DIR", str(tmp_path))
    f = adam_mlp(Mode(kernels="numba"), steps=1)[0]
    files = list((tmp_path / "kernels").glob("fused_*.py"))
    assert files and f.kernel_report.compile_time > 0
    assert "kernel(s)" in f.kernel_report.summary()
    source = files[0].read_text()
    assert cache.load_module(source, "fused") is cache.load_module(source, "fused")
    mtime = files[0].stat().st_mtime_ns
    cache.forget_loaded()
    cache.load_module(source, "fused")  # same content: the file is not rewritten
    assert files[0].stat().st_mtime_ns == mtime
    v = T.vector("v")
    prof = nnthe.function([v], T.sqrt(v) * 2 + 1, mode=Mode(kernels="numba"), profile=True).profile
    with open(os.devnull, "w") as devnull:
        text = prof.summary(file=devnull)
    assert "Kernels (part of link): 1 kernel(s)" in text


def test_cache_dir_that_cannot_be_written_names_it(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("NNTHE_CACHE_DIR", str(blocker))
    with pytest.raises(OSError, match="NNTHE_CACHE_DIR"):
        cache.load_module("x = 1\n", "test")


def test_two_processes_compiling_the_same_kernel_at_once(tmp_path):
    script = textwrap.dedent("""
        import numpy as np, nnthe, nnthe.tensor as T
        from nnthe import optim
        from nnthe.core.compile.mode import Mode
        W = nnthe.shared(np.ones((7, 3), 'float32'))
        X = T.matrix('X', shape=(None, 7))
        loss = (T.dot(X, W) ** 2).mean()
        f = nnthe.function([X], loss, updates=optim.Adam(0.1).updates(loss, [W]), mode=Mode(kernels='numba'))
        f(np.ones((2, 7), 'float32'))
        print(W.get_value().sum())
    """)
    env = dict(os.environ, NNTHE_CACHE_DIR=str(tmp_path))
    cwd = os.path.dirname(os.path.dirname(nnthe.__file__))
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env, cwd=cwd, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    assert outs[0][0] == outs[1][0]
    assert not list((tmp_path / "kernels").glob("*.tmp"))
