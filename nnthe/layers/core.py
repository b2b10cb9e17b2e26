"""Layers without parameters that wrap a function: :class:`Activation`, :class:`Lambda`."""
from __future__ import annotations

from typing import Any, Callable

from ..core.variable import TensorVariable
from . import activations as _act
from .base import Layer, Shape


class Activation(Layer):
    """Apply an activation function (a name from :mod:`~nnthe.layers.activations` or a
    callable).

    Examples
    --------
    >>> layers.Activation('relu')
    Activation(activation='relu')
    """

    def __init__(self, activation: Any, name: str | None = None) -> None:
        super().__init__(name=name)
        self.activation = _act.get(activation)

    def call(self, x: TensorVariable, training: bool = False) -> TensorVariable:
        return self.activation(x)



class Lambda(Layer):
    """Wrap a function of symbolic tensors as a layer (no parameters).

    Parameters
    ----------
    fn : callable
        ``fn(x)`` or, when it accepts ``training``, ``fn(x, training=...)``.
    output_shape : callable, optional
        ``input_shape -> output_shape``; without it, :meth:`output_shape` traces ``fn``
        on a symbolic input.
    name : str, optional

    Examples
    --------
    >>> double = layers.Lambda(lambda x: 2 * x)
    """

    def __init__(self, fn: Callable, output_shape: Callable | None = None,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        if not callable(fn):
            raise TypeError(f"Lambda takes a callable, got {type(fn).__name__}: {fn!r}")
        if output_shape is not None and not callable(output_shape):
            raise TypeError("Lambda: output_shape must be a callable input_shape -> output_shape")
        self.fn = fn
        self._shape_fn = output_shape
        import inspect

        try:
            self._takes_training = "training" in inspect.signature(fn).parameters
        except (TypeError, ValueError):
            self._takes_training = False

    def call(self, x: Any, training: bool = False) -> TensorVariable:
        return self.fn(x, training=training) if self._takes_training else self.fn(x)

    def output_shape(self, input_shape: Shape) -> Shape:
        # The user's shape function, when given, is the answer (fn may not trace).
        if self._shape_fn is not None:
            return tuple(self._shape_fn(tuple(input_shape)))
        return super().output_shape(input_shape)
