"""NumPy broadcasting rules, property-tested with hypothesis against NumPy: values and
gradients for random broadcastable shapes with partially known static shapes, and
build-time errors for shapes that cannot broadcast."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nnthe
import nnthe.tensor as T

from core_testutil import assert_close

OPS = {"add": (lambda a, b: a + b, np.add, lambda a, b: (np.ones_like(a * b), np.ones_like(a * b))),
       "mul": (lambda a, b: a * b, np.multiply, lambda a, b: (b + 0 * a, a + 0 * b)),
       "sub": (lambda a, b: a - b, np.subtract, lambda a, b: (np.ones_like(a * b), -np.ones_like(a * b))),
       "maximum": (T.maximum, np.maximum, lambda a, b: ((a >= b) + 0.0 * b, (a < b) + 0.0 * a))}


def _unbroadcast(g, shape):
    """Sum ``g`` down to ``shape`` (the reference for gradients of broadcast operands)."""
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead)))
    axes = tuple(d for d, s in enumerate(shape) if s == 1 and g.shape[d] != 1)
    return g.sum(axis=axes, keepdims=True)


@st.composite
def broadcastable_pair(draw):
    """Two shapes that broadcast, and static shapes with some entries hidden (None)."""
    ndim = draw(st.integers(0, 4))
    out = draw(st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim))
    shapes = []
    for _ in range(2):
        nd = draw(st.integers(0, ndim))
        shp = tuple(1 if draw(st.booleans()) else s for s in out[ndim - nd:])
        shapes.append(shp)
    statics = [tuple(None if draw(st.booleans()) else s for s in shp) for shp in shapes]
    op = draw(st.sampled_from(sorted(OPS)))
    return shapes, statics, op


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(broadcastable_pair(), st.integers(0, 2 ** 31 - 1))
def test_broadcast_values_and_grads_match_numpy(case, seed):
    (sa, sb), (ta, tb), op = case
    fn, ref, ref_grad = OPS[op]
    rng = np.random.default_rng(seed)
    a = rng.normal(size=sa)
    b = rng.normal(size=sb)
    va, vb = T.tensor("float64", shape=ta, name="a"), T.tensor("float64", shape=tb, name="b")
    out = fn(va, vb)
    want = ref(a, b)
    # the static shape never contradicts the run-time shape
    assert out.ndim == want.ndim
    assert all(s is None or s == w for s, w in zip(out.static_shape, want.shape))
    ga, gb = nnthe.grad(out.sum(), [va, vb])
    f = nnthe.function([va, vb], [out, ga, gb])
    got, gav, gbv = f(a, b)
    assert_close(got, want, atol=0, rtol=0)
    da, db = ref_grad(a, b)
    assert gav.shape == a.shape and gbv.shape == b.shape
    assert_close(gav, _unbroadcast(np.broadcast_to(da, want.shape), sa), rtol=1e-12)
    assert_close(gbv, _unbroadcast(np.broadcast_to(db, want.shape), sb), rtol=1e-12)


@st.composite
def incompatible_pair(draw):
    ndim = draw(st.integers(1, 3))
    a = draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim))
    b = list(a)
    d = draw(st.integers(0, ndim - 1))
    a[d] = draw(st.integers(2, 4))
    b[d] = draw(st.sampled_from([s for s in range(2, 6) if s != a[d]]))
    # hide some other dims: the error must still be found from the known ones
    ta = tuple(None if k != d and draw(st.booleans()) else s for k, s in enumerate(a))
    tb = tuple(None if k != d and draw(st.booleans()) else s for k, s in enumerate(b))
    lead = draw(st.lists(st.integers(1, 3), max_size=2))
    return tuple(lead) + ta, tb, d + len(lead)


@settings(max_examples=40, deadline=None)
@given(incompatible_pair(), st.sampled_from(sorted(OPS)))
def test_incompatible_static_shapes_raise_when_built(case, op):
    ta, tb, dim = case
    a = T.tensor("float32", shape=ta, name="a")
    b = T.tensor("float32", shape=tb, name="b")
    with pytest.raises(ValueError, match=rf"cannot be broadcast.*a: .*b: .*dimension {dim}"):
        OPS[op][0](a, b)


def test_broadcast_error_message():
    a = T.tensor("float32", shape=(None, 3), name="a")
    b = T.tensor("float32", shape=(4,), name="b")
    with pytest.raises(ValueError, match=r"add: shapes cannot be broadcast together \(a: \(None, 3\), "
                                         r"b: \(4,\)\); dimension 1 has sizes \[3, 4\]"):
        a + b


def test_incompatible_runtime_shapes_raise_naming_the_op():
    a, b = T.dvector("a"), T.dvector("b")
    f = nnthe.function([a, b], a * b)
    with pytest.raises(ValueError, match=r"mul.*float64\(2,\).*float64\(3,\)"):
        f(np.ones(2), np.ones(3))


def test_unknown_dim_that_is_one_at_runtime_three_operands():
    a, b, c = T.dmatrix("a"), T.dmatrix("b"), T.dvector("c")
    y = T.clip(a, b, c)
    ga, gb, gc = nnthe.grad((y * 1.5).sum(), [a, b, c])
    f = nnthe.function([a, b, c], [ga, gb, gc])
    av = np.zeros((1, 3))
    bv = np.full((4, 1), -1.0)
    cv = np.array([-2.0, 1.0, 1.0])
    va, vb, vc = f(av, bv, cv)
    assert va.shape == (1, 3) and vb.shape == (4, 1) and vc.shape == (3,)
    # clip(0, -1, c): c < lower at index 0 -> grad to c there; else to a
    assert_close(va, [[0.0, 6.0, 6.0]])
    assert_close(vc, [6.0, 0.0, 0.0])
    assert_close(vb, np.zeros((4, 1)))
