"""Checking gradients: ``verify_grad`` compares an expression's symbolic gradient with
finite differences. It compiles functions, so it sits above the compiler rather than in
:mod:`.gradient`."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .compile.function import function
from .gradient import grad
from .ops.reduce import sum as _sum
from .types import TensorType, is_float_dtype
from .variable import TensorVariable, as_tensor_variable


class GradientError(AssertionError):
    """``verify_grad`` found a symbolic gradient that disagrees with finite differences."""


def verify_grad(fun: Callable[..., Any], pt: Sequence[Any], n_tests: int = 2,
                rng: np.random.Generator | int | None = None, eps: float | None = None,
                abs_tol: float | None = None, rel_tol: float | None = None,
                mode: Any = None) -> None:
    """Check the symbolic gradient of ``fun`` against finite differences.

    ``fun`` takes symbolic tensors shaped like the arrays in ``pt`` and returns a
    tensor. The check projects the output on a random direction (so the cost is scalar)
    and compares the gradient of that projection with central differences along a
    random direction of the inputs.

    Raises
    ------
    GradientError
        With the analytic and numeric values, when they disagree beyond the tolerances.
    """
    rng = np.random.default_rng(rng)
    pt = [np.asarray(p) for p in pt]
    if not pt:
        raise ValueError("verify_grad needs at least one input point")
    for i, p in enumerate(pt):
        if not is_float_dtype(p.dtype.name):
            raise TypeError(f"verify_grad: input {i} has dtype {p.dtype}; only float inputs can be checked")
    dtype = np.result_type(*pt)
    low_precision = dtype in (np.float32, np.float16)
    eps = eps if eps is not None else (1e-3 if low_precision else 1e-6)
    abs_tol = abs_tol if abs_tol is not None else (1e-2 if low_precision else 1e-6)
    rel_tol = rel_tol if rel_tol is not None else (1e-2 if low_precision else 1e-5)

    inputs = [TensorVariable(TensorType(p.dtype, p.shape), name=f"input{i}") for i, p in enumerate(pt)]
    out = fun(*inputs)
    out = as_tensor_variable(out)
    f_out = function(inputs, out, mode=mode, on_unused_input="ignore")
    out_val = np.asarray(f_out(*pt))
    # The projection is an input, so the cost and its gradient compile once for all tests.
    proj_v = TensorVariable(TensorType(out.type.dtype, out_val.shape), name="projection")
    cost = _sum(out * proj_v)
    f_cost = function(inputs + [proj_v], cost, mode=mode, on_unused_input="ignore")
    g_syms = grad(cost, inputs, disconnected_inputs="ignore")
    f_grad = function(inputs + [proj_v], g_syms, mode=mode, on_unused_input="ignore")
    for _ in range(n_tests):
        proj = rng.uniform(-1, 1, size=out_val.shape).astype(out.type.dtype)
        analytic = [np.asarray(g, dtype="float64") for g in f_grad(*pt, proj)]
        direction = [rng.uniform(-1, 1, size=p.shape) for p in pt]
        plus = [(p + eps * d).astype(p.dtype) for p, d in zip(pt, direction)]
        minus = [(p - eps * d).astype(p.dtype) for p, d in zip(pt, direction)]
        numeric = (float(f_cost(*plus, proj)) - float(f_cost(*minus, proj))) / (2 * eps)
        projected = float(sum(np.sum(a * d) for a, d in zip(analytic, direction)))
        err = abs(numeric - projected)
        if err > abs_tol + rel_tol * max(abs(numeric), abs(projected)):
            raise GradientError(
                f"verify_grad: the symbolic gradient disagrees with finite differences: "
                f"directional derivative {projected!r} (symbolic) vs {numeric!r} (numeric), "
                f"abs error {err:.3g}, tolerances abs {abs_tol:g} / rel {rel_tol:g}, eps {eps:g}")


__all__ = ["verify_grad", "GradientError"]
