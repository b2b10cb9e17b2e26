"""Global configuration of nnthe.

Only a few settings exist, and each one can be changed at run time::

    import nnthe
    nnthe.config.floatX = 'float64'

``floatX`` is the dtype of the untyped constructors (``T.scalar``, ``T.matrix``, ...), of
Python floats in expressions with integer tensors, and of ``nnthe.shared(0.5)``. It
defaults to ``float32`` and can be overridden by the environment variable
``NNTHE_FLOATX``.
"""
from __future__ import annotations

import os

_FLOAT_DTYPES = ("float16", "float32", "float64")


class Config:
    """The settings object behind ``nnthe.config``."""

    def __init__(self) -> None:
        self._floatX = "float32"
        self.floatX = os.environ.get("NNTHE_FLOATX", "float32")
        #: Warn when an expression silently upcasts float32 values to float64.
        self.warn_float64 = True

    @property
    def floatX(self) -> str:
        """The default float dtype (``'float32'`` unless changed)."""
        return self._floatX

    @floatX.setter
    def floatX(self, value: str) -> None:
        value = str(value)
        if value not in _FLOAT_DTYPES:
            raise ValueError(
                f"config.floatX must be one of {_FLOAT_DTYPES}, got {value!r}"
            )
        self._floatX = value

    def __repr__(self) -> str:
        return f"Config(floatX={self.floatX!r}, warn_float64={self.warn_float64})"


config = Config()
