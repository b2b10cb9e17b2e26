"""Input checking for compiled functions: a cheap inline test, and the full conversion
(with an error that names the input) only when the cheap test fails."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..types import TensorType


def make_input_check(ttype: TensorType, label: str,
                     allow_downcast: bool | None = False) -> tuple[str, Callable[[Any], np.ndarray]]:
    """Return (condition template, converter) for one input.

    The condition (formatted with ``x`` and ``dt`` names) is true when the value needs
    the converter: it is not an ndarray of exactly the right dtype, rank and static
    shape. The converter either returns a valid array or raises TypeError/ValueError
    naming ``label``.
    """
    parts = ["{x}.__class__ is not ndarray", "{x}.dtype is not {dt}", f"{{x}}.ndim != {ttype.ndim}"]
    for d, s in enumerate(ttype.shape):
        if s is not None:
            parts.append(f"{{x}}.shape[{d}] != {s}")
    cond = " or ".join(parts)

    np_dtype = ttype.numpy_dtype
    array = np.array

    if ttype.ndim == 0:
        def convert(value: Any) -> np.ndarray:
            # The common case f(2) or f(0.5): a Python number that fits exactly.
            if type(value) is int or type(value) is float:
                try:
                    arr = array(value, dtype=np_dtype)
                except OverflowError:
                    arr = None
                # .item() compares in Python precision: 2.1 is not float32(2.1).
                if arr is not None and (allow_downcast or arr.item() == value):
                    return arr
            return ttype.filter(value, allow_downcast=allow_downcast, name=label)
    else:
        def convert(value: Any) -> np.ndarray:
            return ttype.filter(value, allow_downcast=allow_downcast, name=label)

    return cond, convert

