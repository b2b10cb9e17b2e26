"""Helpers shared by the tests of the symbolic core (imported as a plain module)."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

import nnthe
import nnthe.tensor as T
from nnthe.gradient import verify_grad


def sym_like(a: np.ndarray, name: str | None = None, static: bool = False):
    """A symbolic input with ``a``'s dtype and ndim (and shape when ``static``)."""
    a = np.asarray(a)
    shape = a.shape if static else (None,) * a.ndim
    return T.tensor(a.dtype.name, shape=shape, name=name)


def run(fun: Callable[..., Any], *arrays: Any, static: bool = False) -> Any:
    """Build ``fun`` on symbolic inputs shaped like ``arrays``, compile and call it."""
    arrays = [np.asarray(a) for a in arrays]
    xs = [sym_like(a, f"x{k}", static) for k, a in enumerate(arrays)]
    out = fun(*xs)
    f = nnthe.function(xs, out, on_unused_input="ignore")
    return f(*arrays)


def check_grad(fun: Callable[..., Any], pt: Sequence[np.ndarray], **kw: Any) -> None:
    """verify_grad in float64 (the inputs are converted)."""
    verify_grad(fun, [np.asarray(p, dtype="float64") for p in pt],
                rng=np.random.default_rng(0), **kw)


def assert_close(got: Any, want: Any, dtype: str | None = None, rtol: float = 1e-5,
                 atol: float = 1e-6) -> None:
    got = np.asarray(got)
    want = np.asarray(want)
    if dtype is not None:
        assert got.dtype == np.dtype(dtype), (got.dtype, dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
