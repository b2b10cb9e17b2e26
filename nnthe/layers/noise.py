"""Random layers: :class:`Dropout`."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..core.shared import SharedVariable
from ..core.variable import TensorVariable
from .base import Layer, Shape


def _make_stream(seed: int | None, rng: Any) -> Any:
    from .. import random as _random

    if seed is not None and rng is not None:
        raise ValueError("give seed= or rng=, not both")
    if rng is not None:
        if isinstance(rng, _random.RandomStream):
            return rng
        if isinstance(rng, np.random.Generator):
            return _random.RandomStream(int(rng.integers(2 ** 31 - 1)), name="dropout")
        raise TypeError(f"rng must be a nnthe.random.RandomStream or a numpy Generator, got "
                        f"{type(rng).__name__}")
    if seed is None:
        seed = int(_random.default_rng().integers(2 ** 31 - 1))
    return _random.RandomStream(int(seed), name="dropout")


class Dropout(Layer):
    """Inverted dropout: with ``training=True`` each element is zeroed with probability
    ``rate`` and the others are scaled by ``1 / (1 - rate)``; the identity otherwise.

    Parameters
    ----------
    rate : float
        The probability of dropping an element, in [0, 1).
    seed : int, optional
        Seed of the layer's own :class:`nnthe.random.RandomStream`. By default it is
        drawn from ``nnthe.random.default_rng()``, so ``nnthe.random.seed(n)`` before
        building a model makes its masks reproducible.
    rng : RandomStream or numpy Generator, optional
        A stream to share, or a generator to draw the seed from.
    noise_shape : tuple, optional
        Shape of the mask, with 1 where it is broadcast (``(None, None, 1, 1)`` drops
        whole channels); None entries follow the input.
    name : str, optional

    Examples
    --------
    >>> drop = layers.Dropout(0.5)
    >>> y_train = drop(x, training=True); y_test = drop(x)   # y_test is x
    """

    def __init__(self, rate: float = 0.5, seed: int | None = None, rng: Any = None,
                 noise_shape: Any = None, name: str | None = None) -> None:
        super().__init__(name=name)
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.floating)) \
                or not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout: rate must be a float in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self._stream = _make_stream(seed, rng)

    @property
    def stream(self) -> Any:
        """The layer's :class:`nnthe.random.RandomStream`."""
        return self._stream

    def random_state_variables(self) -> list[SharedVariable]:
        return list(self._stream.state_variables().values())

    def call(self, x: TensorVariable, training: bool = False) -> TensorVariable:
        if not training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        if self.noise_shape is None:
            size: Any = x.shape
        else:
            if len(self.noise_shape) != x.type.ndim:
                raise ValueError(f"{self!r}: noise_shape {self.noise_shape} does not have the "
                                 f"{x.type.ndim} dimensions of the input")
            from ..core.ops.join import stack
            from ..core.ops.shape import shape_i

            size = stack([shape_i(x, i) if s is None else s for i, s in enumerate(self.noise_shape)])
        mask = self._stream.bernoulli(size, p=keep, dtype=x.type.dtype)
        return x * mask * (1.0 / keep)
