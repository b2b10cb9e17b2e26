"""Shared variables: persistent values that compiled functions read and update."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..config import config
from .graph import Variable
from .types import DTYPE_ORIGIN, TensorType, fmt_shape
from .variable import TensorVariable, as_tensor_variable, is_weak, retype_weak


#: Lists that collect every shared variable created while they are open: ``scan`` opens
#: one around the step function to find the random states drawn inside it.
creation_observers: list[list] = []


class SharedVariable(TensorVariable):
    """A Variable whose value persists between calls of compiled functions.

    Compiled functions that use it read its current value; an update
    (``nnthe.function(..., updates={s: new})``) or its ``default_update`` writes a new
    value after all outputs of a call are computed.

    Parameters are created with :func:`nnthe.shared`; read and write the value with
    :meth:`get_value` and :meth:`set_value`.
    """

    __slots__ = ("container", "default_update")

    def __init__(self, type: TensorType, value: np.ndarray, name: str | None = None) -> None:
        super().__init__(type, name=name)
        #: A one-element list holding the value; compiled functions keep a reference to
        #: it, so set_value is seen by every function without recompiling.
        self.container: list = [value]
        #: An expression computing this variable's next value, applied by every compiled
        #: function that uses the variable unless its updates say otherwise.
        self.default_update: Variable | None = None

    def get_value(self, borrow: bool = False, return_internal_type: bool = False) -> np.ndarray:
        """The current value; a copy unless ``borrow=True`` (then do not modify it).

        ``return_internal_type`` is Theano's (for GPU arrays); nnthe's values are always
        NumPy arrays, so it changes nothing."""
        value = self.container[0]
        return value if borrow else value.copy()

    def set_value(self, value: Any, borrow: bool = False) -> None:
        """Replace the value after checking it against the variable's type.

        The value is copied unless ``borrow=True``.

        A Python number is converted to the variable's dtype (``lr.set_value(0.01)`` on
        a float32 variable); arrays must convert without loss.

        Raises
        ------
        TypeError
            If an array's dtype cannot be converted without loss or the number of
            dimensions differs.
        ValueError
            If the shape differs from the static shape.
        """
        name = f"set_value of shared variable {self.name or '<unnamed>'}"
        # A Python number is untyped: 0.01 for a float32 variable means float32(0.01).
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        arr = self.type.filter(value, allow_downcast=is_number, name=name)
        if not borrow and arr is value:
            arr = arr.copy()
        self.container[0] = arr

    @property
    def value(self) -> np.ndarray:
        return self.container[0]

    def clone(self) -> "SharedVariable":
        return self

    def __repr__(self) -> str:
        return self.name if self.name is not None else f"<shared {self.type}>"


def shared(value: Any, name: str | None = None, borrow: bool = False,
           shape: Sequence[int | None] | None = None, dtype: Any = None) -> SharedVariable:
    """Create a shared variable holding ``value``.

    Parameters
    ----------
    value : array_like or number
        The initial value. Python floats become ``config.floatX``; arrays keep their
        dtype unless ``dtype`` is given.
    name : str, optional
        A name, used in printing, error messages and checkpoints.
    borrow : bool
        Use ``value`` without copying it (then do not modify it yourself).
    shape : tuple of (int or None), optional
        The static shape. By default it is the shape of ``value``, so expressions are
        shape-checked when written; give None entries for dimensions that
        ``set_value`` may change (a dataset whose length varies, say).
    dtype : str, optional
        Convert the value to this dtype.

    Examples
    --------
    >>> W = nnthe.shared(np.zeros((784, 10), dtype='float32'), name='W')
    >>> W.get_value().shape
    (784, 10)
    """
    if isinstance(value, Variable):
        raise TypeError(f"shared() takes a value, got the symbolic variable {value!r}")
    # Where the dtype comes from (see nnthe.core.types.dtype_origin): floatX for Python
    # floats is a default, dtype= a choice; a NumPy array's dtype is neither.
    origin = None
    if dtype is not None:
        arr = np.asarray(value, dtype=dtype)
        origin = "chosen"
    elif isinstance(value, np.ndarray):
        arr = value
    elif isinstance(value, float) and not isinstance(value, np.generic):
        # A Python float is untyped; a NumPy scalar (np.float64(0)) keeps its dtype.
        arr = np.asarray(value, dtype=config.floatX)
        origin = "default"
    else:
        arr = np.asarray(value)
        if arr.dtype.kind == "f" and not isinstance(value, np.generic):
            arr = arr.astype(config.floatX)
            origin = "default"
    if arr.dtype.kind in "OUSVM":
        raise TypeError(f"shared() needs numeric data, got dtype {arr.dtype}")
    if not borrow and arr is value:
        arr = arr.copy()
    static = arr.shape if shape is None else tuple(shape)
    ttype = TensorType(arr.dtype.name, static)
    if not ttype.shape_matches(arr.shape):
        raise ValueError(f"shared(): value of shape {arr.shape} does not match shape={fmt_shape(static)}")
    var = SharedVariable(ttype, arr, name=name)
    if origin is not None:
        var.tag[DTYPE_ORIGIN] = origin
    for observer in creation_observers:
        observer.append(var)
    return var


def check_update(var: SharedVariable, update: Any) -> TensorVariable:
    """Convert an update expression and check that it fits ``var``'s type."""
    if not isinstance(var, SharedVariable):
        raise TypeError(
            f"updates must be keyed by shared variables, got {var!r} "
            f"({type(var).__name__}); create state with nnthe.shared(...)"
        )
    upd = as_tensor_variable(update)
    if is_weak(upd):
        upd = retype_weak(upd, var.type.dtype)
    if upd.type.dtype != var.type.dtype:
        raise TypeError(
            f"the update of shared variable {var!r} has dtype {upd.type.dtype}, but the "
            f"variable is {var.type.dtype}; cast it: T.cast(update, '{var.type.dtype}')"
        )
    if upd.type.ndim != var.type.ndim:
        raise TypeError(
            f"the update of shared variable {var!r} has {upd.type.ndim} dimensions "
            f"{fmt_shape(upd.type.shape)}, the variable has {var.type.ndim} {fmt_shape(var.type.shape)}"
        )
    for a, b in zip(var.type.shape, upd.type.shape):
        if a is not None and b is not None and a != b:
            raise ValueError(
                f"the update of shared variable {var!r} has static shape "
                f"{fmt_shape(upd.type.shape)}, the variable {fmt_shape(var.type.shape)}"
            )
    return upd
