"""Tests of nnthe.random: RandomStream draws, reproducibility, state save/restore,
gradients through reparameterized draws, the module-level generator."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe.core.gradient import NullTypeGradError
from nnthe.random import RandomStream, default_rng, default_stream, seed


def _draws(stream):
    x = T.matrix("x")
    outs = [stream.uniform(x.shape), stream.normal((2, 3), 1.0, 2.0), stream.bernoulli((50,), 0.3),
            stream.binomial((4,), 5, 0.5), stream.integers(3, 7, (5,)), stream.permutation(6),
            stream.choice((3,), 5, replace=False)]
    return nnthe.function([x], outs)


def test_shapes_dtypes_and_ranges():
    f = _draws(RandomStream(0))
    u, n, b, bi, i, p, c = f(np.zeros((3, 4), "float32"))
    assert u.shape == (3, 4) and u.dtype == np.float32 and (0 <= u).all() and (u < 1).all()
    assert n.shape == (2, 3) and n.dtype == np.float32
    assert b.dtype == np.float32 and set(np.unique(b)) <= {0.0, 1.0}
    assert bi.dtype == np.int64 and ((0 <= bi) & (bi <= 5)).all()
    assert ((3 <= i) & (i < 7)).all()
    assert sorted(p) == list(range(6))
    assert len(set(c)) == 3 and ((0 <= c) & (c < 5)).all()


def test_static_shapes():
    s = RandomStream(0)
    assert s.uniform((2, 3)).type.shape == (2, 3)
    assert s.uniform(T.matrix().shape).type.shape == (None, None)
    assert s.permutation(5).type.shape == (5,)


def test_new_numbers_each_call_and_same_seed_same_numbers():
    x = np.zeros((3, 4), "float32")
    f1, f2 = _draws(RandomStream(7)), _draws(RandomStream(7))
    a, b = f1(x), f1(x)
    assert not np.array_equal(a[0], b[0])
    c = f2(x)
    for p, q in zip(a, c):
        np.testing.assert_array_equal(p, q)
    d = _draws(RandomStream(8))(x)
    assert not np.array_equal(a[0], d[0])


def test_two_functions_share_the_state():
    s = RandomStream(3)
    u = s.uniform((5,))
    f, g = nnthe.function([], u), nnthe.function([], u * 2)
    r = RandomStream(3)
    ref = nnthe.function([], r.uniform((5,)))
    np.testing.assert_array_equal(f(), ref())
    np.testing.assert_allclose(g(), 2 * ref())  # g continues where f left off


def test_state_save_restore_and_names():
    s = RandomStream(5, name="drop")
    f = nnthe.function([], [s.normal((3,)), s.uniform((2,))])
    f()
    names = list(s.state_variables())
    assert names == ["drop/0", "drop/1"]
    saved = s.get_state()
    assert all(v.dtype == np.uint64 and v.shape == (6,) for v in saved.values())
    a = f()
    s.set_state(saved)
    b = f()
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p, q)
    s.seed(5)
    fresh = RandomStream(5, name="drop")
    g = nnthe.function([], [fresh.normal((3,)), fresh.uniform((2,))])
    for p, q in zip(f(), g()):
        np.testing.assert_array_equal(p, q)


def test_set_state_is_strict():
    s = RandomStream(1)
    s.uniform((2,))
    good = s.get_state()
    with pytest.raises(ValueError, match="missing"):
        s.set_state({})
    with pytest.raises(ValueError, match="unexpected"):
        s.set_state({**good, "random/9": good["random/0"]})
    with pytest.raises(ValueError, match="uint64"):
        s.set_state({"random/0": np.zeros(6, "int64")})
    with pytest.raises(TypeError, match="dict"):
        s.set_state([1, 2])


def test_gradients_reparameterized_and_undefined():
    s = RandomStream(2)
    mu, sd = T.scalar("mu"), T.scalar("sd")
    y = s.normal((1000,), mu, sd)
    gmu, gsd = nnthe.grad((y ** 2).mean(), [mu, sd])
    f = nnthe.function([mu, sd], [y, gmu, gsd])
    yv, a, b = f(1.0, 2.0)
    eps = (yv - 1.0) / 2.0
    np.testing.assert_allclose(a, (2 * yv).mean(), rtol=1e-5)
    np.testing.assert_allclose(b, (2 * yv * eps).mean(), rtol=1e-5)
    lo, hi = T.scalar("lo"), T.scalar("hi")
    u = s.uniform((10,), lo, hi)
    assert nnthe.grad(u.sum(), lo).type.dtype == "float32"
    p = T.scalar("p")
    with pytest.raises(NullTypeGradError, match="not differentiable"):
        nnthe.grad(s.binomial((3,), 1, p, dtype="float32").sum(), p)


def test_errors():
    with pytest.raises(TypeError, match="seed"):
        RandomStream(-1)
    with pytest.raises(TypeError, match="name"):
        RandomStream(0, name="")
    s = RandomStream(0)
    with pytest.raises(TypeError, match="dtype"):
        s.uniform((2,), dtype="int32")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        s.bernoulli((2,), p=1.5)
    with pytest.raises(TypeError, match="integer"):
        s.integers(0.5, 2.0)
    with pytest.raises(TypeError, match="seed"):
        seed(1.5)


def test_module_level_seed():
    seed(11)
    a = default_rng().standard_normal(3)
    u = default_stream().uniform((4,))
    f = nnthe.function([], u)
    x1 = f()
    seed(11)
    np.testing.assert_array_equal(default_rng().standard_normal(3), a)
    np.testing.assert_array_equal(f(), x1)
    assert isinstance(default_rng(), np.random.Generator)
    assert nnthe.random.default_stream() is default_stream()
