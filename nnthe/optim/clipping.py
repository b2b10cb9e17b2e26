"""Gradient transforms: global-norm clipping, clipping by value, per-unit max-norm.

Each takes symbolic tensors and returns new symbolic tensors of the same dtypes, so
they compose with any optimizer::

    grads = nnthe.grad(loss, params)
    grads = optim.total_norm_constraint(grads, max_norm=5.0)
    updates = optim.Adam(1e-3).updates(grads, params)
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..core.graph import Variable
from ..core.ops.elemwise import cast, clip, sqr, sqrt
from ..core.ops.reduce import sum as _sum
from ..core.types import is_float_dtype, upcast
from ..core.variable import TensorVariable, as_tensor_variable

__all__ = ["total_norm_constraint", "clip_by_value", "clip_grads", "norm_constraint"]


def _wide(dtype: str) -> str:
    """float32 for float16 (see :func:`nnthe.optim.base.compute_dtype`), else ``dtype``."""
    return "float32" if dtype == "float16" else dtype


def _positive(value: Any, name: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{what}: {name} must be a number, got {value!r} ({type(value).__name__})")
    if not value > 0:
        raise ValueError(f"{what}: {name} must be positive, got {value!r}")
    return float(value)


def _tensors(tensor_vars: Any, what: str) -> list[TensorVariable]:
    if isinstance(tensor_vars, Variable) or not isinstance(tensor_vars, Sequence) \
            or isinstance(tensor_vars, str):
        raise TypeError(f"{what}: expected a list of tensors, got {type(tensor_vars).__name__}")
    out = [as_tensor_variable(t) for t in tensor_vars]
    if not out:
        raise ValueError(f"{what}: got an empty list of tensors")
    for i, t in enumerate(out):
        if not is_float_dtype(t.type.dtype):
            raise TypeError(f"{what}: tensor {i} ({t!r}) has dtype {t.type.dtype}; expected floats")
    return out


def total_norm_constraint(tensor_vars: Sequence[Any], max_norm: float, epsilon: float = 1e-7,
                          return_norm: bool = False) -> Any:
    """Rescale tensors so that their joint L2 norm is at most ``max_norm``.

    With :math:`n = \\sqrt{\\sum_k \\|t_k\\|^2}`, every tensor becomes
    :math:`t_k \\cdot \\min(n, \\text{max\\_norm}) / (n + \\epsilon)` — Lasagne's
    ``total_norm_constraint``; nearly ``torch.nn.utils.clip_grad_norm_`` (which adds
    1e-6 and never scales up). Typically applied to gradients (Pascanu et al., 2013,
    "On the difficulty of training recurrent neural networks").

    Parameters
    ----------
    tensor_vars : list of tensors
        The tensors (gradients) to rescale together.
    max_norm : float
        The largest joint norm allowed.
    epsilon : float
        Avoids a division by zero for all-zero tensors.
    return_norm : bool
        Also return the joint norm before rescaling.

    Returns
    -------
    list of tensors, or (list, norm)
        The rescaled tensors with their dtypes; the norm is in the widest float dtype
        (float32 for float16 tensors, whose squares overflow past 256).

    Examples
    --------
    >>> grads = optim.total_norm_constraint(nnthe.grad(loss, params), max_norm=1.0)
    """
    what = "total_norm_constraint"
    max_norm = _positive(max_norm, "max_norm", what)
    epsilon = float(epsilon)
    if epsilon < 0:
        raise ValueError(f"{what}: epsilon must be >= 0, got {epsilon!r}")
    tensors = _tensors(tensor_vars, what)
    # Mixed float32/float64 lists: sum in the widest dtype, with explicit casts so no
    # upcast warning fires.
    # float16 squares overflow past 256: their norm is computed in float32.
    dtype = _wide(upcast(*[t.type.dtype for t in tensors]))
    total = None
    for t in tensors:
        term = _sum(sqr(cast(t, _wide(t.type.dtype)) if t.type.dtype == "float16" else t))
        term = term if term.type.dtype == dtype else cast(term, dtype)
        total = term if total is None else total + term
    norm = sqrt(total)
    multiplier = clip(norm, 0.0, max_norm) / (norm + epsilon)
    out = [t * (multiplier if t.type.dtype == dtype else cast(multiplier, t.type.dtype))
           for t in tensors]
    return (out, norm) if return_norm else out


def clip_by_value(tensor_vars: Any, clip_value: float | tuple[float, float]) -> Any:
    """Clip every element to ``[-clip_value, clip_value]`` (or to ``[lo, hi]``).

    As ``torch.nn.utils.clip_grad_value_``.

    Parameters
    ----------
    tensor_vars : tensor or list of tensors
    clip_value : float or (float, float)
        A positive bound (symmetric range), or the pair ``(lo, hi)`` with ``lo <= hi``.

    Returns
    -------
    tensor or list of tensors
        The clipped tensors (a single tensor for a single tensor), same dtypes.

    Examples
    --------
    >>> grads = optim.clip_by_value(nnthe.grad(loss, params), 1.0)
    """
    what = "clip_by_value"
    if isinstance(clip_value, (tuple, list)):
        if len(clip_value) != 2:
            raise ValueError(f"{what}: clip_value must be a number or a pair (lo, hi), got {clip_value!r}")
        lo, hi = (float(v) for v in clip_value)
        if not lo <= hi:
            raise ValueError(f"{what}: lo ({lo}) must not exceed hi ({hi})")
    else:
        hi = _positive(clip_value, "clip_value", what)
        lo = -hi
    if isinstance(tensor_vars, Variable):
        return _tensors([tensor_vars], what)[0].clip(lo, hi)
    return [t.clip(lo, hi) for t in _tensors(tensor_vars, what)]


clip_grads = clip_by_value


def norm_constraint(tensor_var: Any, max_norm: float, norm_axes: Sequence[int] | int | None = None,
                    epsilon: float = 1e-7) -> TensorVariable:
    """Rescale a weight tensor so that each unit's incoming weights have L2 norm at most
    ``max_norm`` (max-norm regularization; Srivastava et al., 2014, "Dropout", sec. 5.1).

    Lasagne semantics: the norm is taken over ``norm_axes``, by default axis 0 for a
    2-d (dense, ``(in, out)``) weight and all axes but the first for a 3-, 4- or 5-d
    (convolution, ``(out, in, ...)``) weight. Each slice becomes
    ``w * min(n, max_norm) / (n + epsilon)``. Use it on an update::

        updates[W] = optim.norm_constraint(updates[W], max_norm=3.0)

    Parameters
    ----------
    tensor_var : tensor
    max_norm : float
    norm_axes : int or sequence of int, optional
        Required for tensors of other dimensionality.
    epsilon : float

    Returns
    -------
    tensor
        Same dtype and shape as ``tensor_var``.

    Raises
    ------
    ValueError
        If ``norm_axes`` is not given for a 0-, 1- or >5-d tensor, or is out of range.
    """
    what = "norm_constraint"
    max_norm = _positive(max_norm, "max_norm", what)
    t = _tensors([tensor_var], what)[0]
    ndim = t.type.ndim
    if norm_axes is not None:
        axes = (norm_axes,) if isinstance(norm_axes, (int, np.integer)) else tuple(norm_axes)
        for a in axes:
            if not -ndim <= a < ndim:
                raise ValueError(f"{what}: axis {a} is out of range for {t!r} with {ndim} dimensions")
    elif ndim == 2:
        axes = (0,)
    elif ndim in (3, 4, 5):
        axes = tuple(range(1, ndim))
    else:
        raise ValueError(f"{what}: cannot choose the norm axes of a {ndim}-d tensor {t!r}; "
                         "pass norm_axes=")
    if t.type.dtype == "float16":
        # float16 squares overflow past 256: scale in float32, round back.
        return cast(norm_constraint(cast(t, _wide(t.type.dtype)), max_norm, axes, epsilon),
                    t.type.dtype)
    norms = sqrt(_sum(sqr(t), axis=axes, keepdims=True))
    return t * (clip(norms, 0.0, max_norm) / (norms + float(epsilon)))
