"""Compilation modes: FAST_COMPILE, DEBUG and NANGUARD."""
import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe.core.compile.debugmode import DebugMode, DebugModeError, NanGuardError, NanGuardMode
from nnthe.core.compile.mode import Mode, get_mode
from nnthe.core.graph import Apply, Op


def test_get_mode_names_and_errors():
    assert get_mode(None).name == "FAST_RUN"
    assert get_mode("FAST_COMPILE").rewrites is False
    assert isinstance(get_mode("DEBUG"), DebugMode)
    assert isinstance(get_mode("NANGUARD"), NanGuardMode)
    with pytest.raises(ValueError, match="unknown mode"):
        get_mode("FASTEST")
    with pytest.raises(TypeError):
        get_mode(3)


def test_nanguard_names_the_first_op_and_its_line():
    x = T.vector("x")
    y = T.exp(T.log(x) * 2)  # log(-1) is the first NaN
    f = nnthe.function([x], y, mode="NANGUARD")
    np.testing.assert_allclose(f(np.array([2.0], "float32")), [4.0], rtol=1e-6)
    with pytest.raises(NanGuardError) as info:
        with np.errstate(invalid="ignore"):
            f(np.array([-1.0], "float32"))
    msg = str(info.value)
    assert "log" in msg and "NaN" in msg and "test_modes.py" in msg


def test_nanguard_inf():
    x = T.vector("x")
    f = nnthe.function([x], 1 / x, mode=NanGuardMode(nan_is_error=False))
    with pytest.raises(NanGuardError, match="Inf"):
        with np.errstate(divide="ignore"):
            f(np.array([0.0], "float32"))


class WrongDtype(Op):
    """A buggy op: declares float32 but returns float64."""

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type])

    def perform(self, node, x):
        return x.astype("float64")


def test_debugmode_catches_an_op_returning_the_wrong_dtype():
    x = T.vector("x")
    f = nnthe.function([x], WrongDtype()(x), mode="DEBUG")
    with pytest.raises(DebugModeError, match="declares float32"):
        f(np.ones(2, "float32"))


def test_debugmode_runs_clean_graphs_and_updates():
    x = T.vector("x")
    s = nnthe.shared(np.zeros(2, "float32"))
    f = nnthe.function([x], T.log(1 + T.exp(x)).sum(), updates={s: s + x}, mode="DEBUG")
    out = f(np.array([1.0, 2.0], "float32"))
    np.testing.assert_allclose(out, np.log1p(np.exp([1.0, 2.0])).sum(), rtol=1e-6)
    np.testing.assert_array_equal(s.get_value(), [1, 2])


def test_mode_including_and_excluding():
    m = Mode().excluding("inplace").including("fast_run")
    assert "inplace" in m.exclude and "fast_run" in m.include


class LyingShape(Op):
    """A buggy op: infer_shape claims the input's shape, perform drops an element."""

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [T.TensorType(x.type.dtype, (None,))])

    def perform(self, node, x):
        return x[1:]

    def infer_shape(self, node, input_shapes):
        return input_shapes


def test_debugmode_checks_infer_shape_against_the_values():
    x = T.vector("x")
    f = nnthe.function([x], LyingShape()(x) * 2, mode="DEBUG")
    with pytest.raises(DebugModeError, match="infer_shape gives"):
        f(np.ones(3, "float32"))
    # honest ops with symbolic infer_shape pass (Elemwise broadcasting, dot, reductions)
    m = T.matrix("m")
    g = nnthe.function([m, x], [T.dot(m, x) + x[:1], (m * x).sum(axis=0)], mode="DEBUG")
    g(np.ones((2, 3), "float32"), np.ones(3, "float32"))


def test_debugmode_infer_shape_of_a_node_with_a_shared_input():
    # The conv input gradient's shape reads its (H, W) input, and the node also reads the
    # shared filters: only what the shape reads is fed to the check.
    W = nnthe.shared(np.ones((2, 3, 3, 3), "float32"))
    X = T.tensor4("X", shape=(None, 3, 6, 6))
    f = nnthe.function([X], nnthe.grad((T.nnet.conv2d(X, W) ** 2).sum(), X),
                       mode=DebugMode(kernels="numpy"))
    assert f(np.ones((1, 3, 6, 6), "float32")).shape == (1, 3, 6, 6)


def test_including_and_excluding_keep_the_mode_class_and_settings():
    m = NanGuardMode(nan_is_error=False).excluding("inplace")
    assert isinstance(m, NanGuardMode) and m.nan_is_error is False and m.exclude == ("inplace",)
    d = DebugMode(rtol=1e-2).including("fusion")
    assert isinstance(d, DebugMode) and d.rtol == 1e-2 and d.include == ("fusion",)
    x = T.vector("x")
    f = nnthe.function([x], 1 / x, mode=m)
    with pytest.raises(NanGuardError, match="Inf"):
        with np.errstate(divide="ignore"):
            f(np.array([0.0], "float32"))
