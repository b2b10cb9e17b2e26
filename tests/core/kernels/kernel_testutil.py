"""Helpers for the kernel tests: build a node, get its kernel thunk and its reference."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe.tensor as T
from nnthe.core.kernels import KernelContext, KernelReport, kernel_thunk, registry

numba = pytest.importorskip("numba", reason="the kernel tests need numba (pip install 'nnthe[fast]')")


def thunk_of(node, destroy=None, report=None):
    """The compiled kernel of ``node`` (asserting it has one)."""
    thunk = kernel_thunk(node, KernelContext(report or KernelReport(), destroy or {}))
    assert thunk is not None, f"no kernel for {node.op}"
    return thunk


def assert_bitwise(expected, got):
    """Same dtype, shape, values, NaN positions and signs of zeros."""
    e, g = np.asarray(expected), np.asarray(got)
    assert e.dtype == g.dtype and e.shape == g.shape, (e.dtype, e.shape, g.dtype, g.shape)
    if e.dtype.kind == "f":
        np.testing.assert_array_equal(np.isnan(e), np.isnan(g))
        np.testing.assert_array_equal(np.signbit(e[~np.isnan(e)]), np.signbit(g[~np.isnan(g)]))
    np.testing.assert_array_equal(e, g)


def var(dtype, shape, name=None):
    return T.tensor(dtype, shape=shape, name=name)


def corrupt_kernels(monkeypatch, op_class, corrupt):
    """Make the kernels of ``op_class`` link ``corrupt(thunk)`` instead of ``thunk`` (for
    DebugMode's tests); nodes without a kernel stay without one."""
    real = list(registry._FACTORIES[op_class])

    def factory(node, context):
        thunk = registry.first_thunk(real, node, context)
        return None if thunk is None else corrupt(thunk)
    monkeypatch.setitem(registry._FACTORIES, op_class, [factory])

