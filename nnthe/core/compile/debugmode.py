"""Checking modes: ``'DEBUG'`` and ``'NANGUARD'``.

``DebugMode`` checks every op's output against the static type its node declared (dtype,
rank, static shape) and against ``infer_shape`` where the op has one (evaluated on the
actual input shapes), and compares the
rewritten function's results with those of the unrewritten graph on the same inputs.
Where the linker chose a compiled kernel (:mod:`nnthe.core.kernels`), DebugMode also
runs the op's NumPy ``perform`` on copies of the same inputs and compares: bit for bit
when the kernel says it is exact (+ - * / sqrt, comparisons, max/min without fastmath),
to ``rtol``/``atol`` otherwise (transcendental functions, sums in another order).
Outputs a kernel lists in ``nnthe_placeholders`` (a cache for another op that the kernel
does not fill, such as Conv2d's im2col matrix) are exempt from these checks.
``NanGuardMode`` stops at the first op that produces a NaN or an infinity and names it,
with the line where it was created.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..graph import Apply, Constant, Op, Variable, ancestors, format_site
from ..shared import SharedVariable
from ..types import TensorType
from .function import function
from .mode import CheckFailed, Mode, register_mode


class DebugModeError(CheckFailed, AssertionError):
    """An op produced a value that contradicts its declared type, or rewriting changed
    a result."""


class NanGuardError(CheckFailed, FloatingPointError):
    """An op produced NaN or Inf under ``NanGuardMode``."""


def _describe(node: Apply) -> str:
    return f"{node.op} (created at {format_site(node.site)})"


def _checked(node: Apply, thunk: Callable, check: Callable[[tuple, tuple], None]) -> Callable:
    """``thunk`` followed by ``check(input values, output values)``."""
    several = len(node.outputs) > 1

    def checked(*args: Any) -> Any:
        result = thunk(*args)
        check(args, result if several else (result,))
        return result
    return checked


def _nonfinite(arr: np.ndarray, nan: bool = True, inf: bool = True) -> list[str]:
    """Which of "NaN" / "Inf" a float array contains (among those asked for)."""
    if arr.dtype.kind not in "fc" or arr.size == 0:
        return []
    return (["NaN"] if nan and np.isnan(arr).any() else []) + \
        (["Inf"] if inf and np.isinf(arr).any() else [])


def _describe_value(var: Variable, value: Any) -> str:
    arr = np.asarray(value)
    flags = [f"has {b}" for b in _nonfinite(arr)]
    return f"{var!r}: {arr.dtype}{arr.shape}" + (f" ({', '.join(flags)})" if flags else "")


def _check_infer_shape(node: Apply, args: tuple, values: tuple, skip: frozenset = frozenset()) -> None:
    """Compare the op's ``infer_shape`` (given the actual input shapes) with the shapes
    of the values it returned (but those of the outputs in ``skip``)."""
    if type(node.op).infer_shape is Op.infer_shape:
        return  # the op does not implement it
    in_shapes = [tuple(int(d) for d in np.shape(a)) for a in args]
    try:
        inferred = node.op.infer_shape(node, in_shapes)
    except NotImplementedError:
        return
    # A symbolic dimension may read the node's inputs (a gradient op's shape argument):
    # evaluate it on the values this call gave them.
    fed = {i: a for i, a in zip(node.inputs, args) if not isinstance(i, Constant)}
    for k, (o, v, shape) in enumerate(zip(node.outputs, values, inferred)):
        if k in skip:
            continue
        dims = []
        for d in shape:
            if isinstance(d, Variable):
                # Only the inputs the dimension reads: another input may hold a value its
                # type does not describe (a kernel's placeholder), and a shared variable
                # cannot be an explicit input (the function reads its current value).
                read = {id(a) for a in ancestors([d])}
                feed = {i: a for i, a in fed.items() if id(i) in read and not isinstance(i, SharedVariable)}
                d = function(list(feed), d, mode="FAST_COMPILE", on_unused_input="ignore")(*feed.values())
            dims.append(int(d))
        if tuple(dims) != np.shape(v):
            raise DebugModeError(
                f"{_describe(node)}: infer_shape gives {tuple(dims)} for output {o!r} but the "
                f"op returned shape {np.shape(v)}")


def _compare_kernel(node: Apply, expected: tuple, got: tuple, exact: bool, rtol: float,
                    atol: float, skip: frozenset = frozenset()) -> None:
    """Raise DebugModeError if a kernel's outputs (but those in ``skip``) differ from the
    op's ``perform``."""
    for k, (o, e, g) in enumerate(zip(node.outputs, expected, got)):
        if k in skip:
            continue
        e, g = np.asarray(e), np.asarray(g)
        if e.shape != g.shape or e.dtype != g.dtype:
            raise DebugModeError(f"{_describe(node)}: its kernel returned {g.dtype}{g.shape} for "
                                 f"{o!r} but perform returns {e.dtype}{e.shape}")
        if exact:
            # Bitwise, NaN payloads aside: NaN where NumPy has NaN, and equal elsewhere.
            same = (e == g) | (np.isnan(e) & np.isnan(g)) if e.dtype.kind in "fc" else (e == g)
            ok = bool(np.all(same)) and (e.dtype.kind not in "fc" or
                                          np.array_equal(np.signbit(e), np.signbit(g)))
        else:
            ok = bool(np.allclose(e, g, rtol=rtol, atol=atol, equal_nan=True))
        if not ok:
            diff = np.abs(e.astype("float64") - g.astype("float64"))
            raise DebugModeError(
                f"{_describe(node)}: its compiled kernel differs from perform for {o!r} "
                f"({'bitwise' if exact else f'rtol={rtol}, atol={atol}'}; max abs difference "
                f"{np.nanmax(diff) if diff.size else 0})")


def _kernel_checked(node: Apply, thunk: Callable, rtol: float, atol: float) -> Callable:
    """``thunk`` (a kernel) checked against ``node.op.perform`` on copies of its inputs
    (the kernel may overwrite them)."""
    several = len(node.outputs) > 1
    exact = bool(getattr(thunk, "nnthe_exact", False))
    skip = frozenset(getattr(thunk, "nnthe_placeholders", ()))

    def kernel_checked(*args: Any) -> Any:
        copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        expected = node.op.perform(node, *copies)
        result = thunk(*args)
        _compare_kernel(node, expected if several else (expected,),
                        result if several else (result,), exact, rtol, atol, skip)
        return result
    return kernel_checked


class DebugMode(Mode):
    """Compile with every rewrite, then check each op and the rewrites' correctness."""

    def __init__(self, rtol: float = 1e-4, atol: float = 1e-5, **kwargs: Any) -> None:
        kwargs.setdefault("name", "DEBUG")
        super().__init__(**kwargs)
        self.rtol = rtol
        self.atol = atol

    def thunk_wrapper(self, node: Apply, thunk: Callable) -> Callable:
        skip = frozenset(getattr(thunk, "nnthe_placeholders", ()))
        if getattr(thunk, "nnthe_kernel", None):
            thunk = _kernel_checked(node, thunk, self.rtol, self.atol)

        def check(args: tuple, values: tuple) -> None:
            for k, (o, v) in enumerate(zip(node.outputs, values)):
                if not isinstance(o.type, TensorType) or k in skip:
                    continue
                arr = np.asarray(v)
                if arr.dtype != o.type.numpy_dtype or arr.ndim != o.type.ndim \
                        or not o.type.shape_matches(arr.shape):
                    raise DebugModeError(
                        f"{_describe(node)} returned {arr.dtype}{arr.shape} but its node "
                        f"declares {o.type}")
            _check_infer_shape(node, args, values, skip)
        return _checked(node, thunk, check)

    def wrap_function(self, fn: Any, inputs: list, outputs: list, updates: list) -> Any:

        reference = function(inputs, list(outputs) + [u for _, u in updates], mode="FAST_COMPILE",
                             on_unused_input="ignore")
        rtol, atol = self.rtol, self.atol
        n_out = len(outputs)
        shared_vars = [s for s, _ in updates]

        class Checked:
            def __init__(self) -> None:
                self.__dict__["_fn"] = fn

            def __getattr__(self, name: str) -> Any:
                return getattr(fn, name)

            def __setattr__(self, name: str, value: Any) -> None:
                setattr(fn, name, value)

            def __call__(self, *args: Any) -> Any:
                expected = reference(*args)
                got = fn(*args)
                got_list = [got] if fn._single else list(got)
                for k, (e, g) in enumerate(zip(expected[:n_out], got_list)):
                    if not np.allclose(e, g, rtol=rtol, atol=atol, equal_nan=True):
                        raise DebugModeError(
                            f"rewriting changed output {k} ({outputs[k]!r}): max abs difference "
                            f"{np.max(np.abs(np.asarray(e, 'float64') - np.asarray(g, 'float64')))}")
                for s, e in zip(shared_vars, expected[n_out:]):
                    if not np.allclose(e, s.get_value(borrow=True), rtol=rtol, atol=atol, equal_nan=True):
                        raise DebugModeError(f"rewriting changed the update of {s!r}")
                return got

        return Checked()


class NanGuardMode(Mode):
    """Raise :class:`NanGuardError` at the first op producing NaN or Inf.

    Parameters
    ----------
    nan_is_error, inf_is_error : bool
        Which values to stop at.
    """

    def __init__(self, nan_is_error: bool = True, inf_is_error: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("name", "NANGUARD")
        super().__init__(**kwargs)
        self.nan_is_error = nan_is_error
        self.inf_is_error = inf_is_error
        nan, inf = nan_is_error, inf_is_error

        def guard(node: Apply, thunk: Callable) -> Callable:
            def check(args: tuple, values: tuple) -> None:
                for o, v in zip(node.outputs, values):
                    arr = np.asarray(v)
                    bad = _nonfinite(arr, nan, inf)
                    if bad:
                        ins = "; ".join(_describe_value(i, a) for i, a in zip(node.inputs, args))
                        raise NanGuardError(
                            f"NanGuardMode: {_describe(node)} produced {' and '.join(bad)} in its "
                            f"output {o!r}; inputs: {ins}")
            return _checked(node, thunk, check)

        self.thunk_wrapper = guard


register_mode("DEBUG", DebugMode)
register_mode("DebugMode", DebugMode)
register_mode("NANGUARD", NanGuardMode)
register_mode("NanGuardMode", NanGuardMode)
