"""Parameter initializers: objects that turn a shape into an array of initial values.

Every initializer is called as ``init(shape, dtype=None, rng=None)`` and returns a NumPy
array of ``dtype`` (default ``config.floatX``). Random initializers draw from ``rng``
when given, else from the generator they were built with (``rng=`` / ``seed=``), else
from nnthe's default generator (``nnthe.random.default_rng()``), so that
``nnthe.random.seed(n)`` makes a whole model reproducible.

Fan-in and fan-out follow the weight layouts of :mod:`nnthe.layers`: a dense weight is
``(in, out)``; a convolution kernel is ``(out, in, kh, kw, ...)``, whose fan-in is
``in * kh * kw`` and fan-out ``out * kh * kw``.

Examples
--------
>>> from nnthe import init
>>> W = init.GlorotUniform()((784, 800))
>>> W.dtype, W.shape
(dtype('float32'), (784, 800))
>>> init.get('he_normal')
HeNormal(gain=1.0)
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .config import config
from .core.hints import did_you_mean

_fallback_rng: np.random.Generator | None = None


def default_rng() -> np.random.Generator:
    """nnthe's default generator (``nnthe.random.default_rng()`` when available)."""
    global _fallback_rng
    try:
        from . import random as _random

        return _random.default_rng()
    except (ImportError, AttributeError):
        # nnthe.random not available: keep a module-level generator.
        if _fallback_rng is None:
            _fallback_rng = np.random.default_rng()
        return _fallback_rng


def compute_fans(shape: Sequence[int]) -> tuple[int, int]:
    """Fan-in and fan-out of a weight of ``shape``.

    ``(n,)`` -> ``(n, n)``; ``(in, out)`` -> ``(in, out)``; ``(out, in, *kernel)`` ->
    ``(in * prod(kernel), out * prod(kernel))``.

    Examples
    --------
    >>> compute_fans((32, 3, 5, 5))
    (75, 800)
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[2:]))
    return shape[1] * receptive, shape[0] * receptive


class Initializer:
    """Base class: subclasses implement :meth:`sample` (float64 or any dtype is fine;
    the result is cast to the requested dtype)."""

    def __init__(self, rng: np.random.Generator | int | None = None,
                 seed: int | None = None) -> None:
        if rng is not None and seed is not None:
            raise ValueError(f"{type(self).__name__}: give rng= or seed=, not both")
        if seed is not None:
            rng = np.random.default_rng(seed)
        elif isinstance(rng, (int, np.integer)):
            rng = np.random.default_rng(int(rng))
        elif rng is not None and not isinstance(rng, np.random.Generator):
            raise TypeError(f"{type(self).__name__}: rng must be a numpy Generator or an int "
                            f"seed, got {type(rng).__name__}")
        self.rng = rng

    def __call__(self, shape: Sequence[int], dtype: Any = None,
                 rng: np.random.Generator | None = None) -> np.ndarray:
        """Return an array of ``shape`` and ``dtype`` (default ``config.floatX``).

        Raises
        ------
        ValueError
            If ``shape`` has unknown (None) or negative entries.
        """
        if isinstance(shape, (int, np.integer)):
            shape = (int(shape),)
        shape = tuple(shape)
        for s in shape:
            if s is None or not isinstance(s, (int, np.integer)) or s < 0:
                raise ValueError(f"{type(self).__name__}: cannot initialize an array of shape "
                                 f"{shape}; every dimension must be a known non-negative int")
        dtype = np.dtype(config.floatX if dtype is None or dtype == "floatX" else dtype)
        rng = rng if rng is not None else (self.rng if self.rng is not None else default_rng())
        return np.asarray(self.sample(shape, rng)).astype(dtype, copy=False)

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def config(self) -> dict:
        """A JSON-serializable description: ``{'class': name, **hyper-parameters}``."""
        return {"class": type(self).__name__, **self._hyper()}

    def _hyper(self) -> dict:
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._hyper().items())
        return f"{type(self).__name__}({args})"


class Constant(Initializer):
    """All entries equal to ``value``."""

    def __init__(self, value: float = 0.0) -> None:
        super().__init__()
        self.value = float(value)

    def sample(self, shape, rng):
        return np.full(shape, self.value)

    def _hyper(self):
        return {"value": self.value}


class Zeros(Constant):
    """All zeros."""

    def __init__(self) -> None:
        super().__init__(0.0)

    def _hyper(self):
        return {}


class Ones(Constant):
    """All ones."""

    def __init__(self) -> None:
        super().__init__(1.0)

    def _hyper(self):
        return {}


class Normal(Initializer):
    """Samples of N(mean, std**2)."""

    def __init__(self, std: float = 0.01, mean: float = 0.0,
                 rng: np.random.Generator | int | None = None, seed: int | None = None) -> None:
        super().__init__(rng, seed)
        if std < 0:
            raise ValueError(f"Normal: std must be >= 0, got {std}")
        self.std, self.mean = float(std), float(mean)

    def sample(self, shape, rng):
        return rng.normal(self.mean, self.std, size=shape)

    def _hyper(self):
        return {"std": self.std, "mean": self.mean}


class Uniform(Initializer):
    """Samples of U(low, high); ``Uniform(a)`` means U(-a, a)."""

    def __init__(self, low: float = -0.05, high: float | None = None,
                 rng: np.random.Generator | int | None = None, seed: int | None = None) -> None:
        super().__init__(rng, seed)
        if high is None:
            low, high = -abs(low), abs(low)
        if high < low:
            raise ValueError(f"Uniform: high ({high}) must be >= low ({low})")
        self.low, self.high = float(low), float(high)

    def sample(self, shape, rng):
        return rng.uniform(self.low, self.high, size=shape)

    def _hyper(self):
        return {"low": self.low, "high": self.high}


class _FanScaled(Initializer):
    """Normal or uniform samples scaled by ``gain * sqrt(scale / fan)``."""

    distribution = "normal"

    def __init__(self, gain: float = 1.0, rng: np.random.Generator | int | None = None,
                 seed: int | None = None) -> None:
        super().__init__(rng, seed)
        if gain <= 0:
            raise ValueError(f"{type(self).__name__}: gain must be > 0, got {gain}")
        self.gain = float(gain)

    def std(self, shape: tuple[int, ...]) -> float:
        """The standard deviation of the samples for a weight of ``shape``."""
        raise NotImplementedError

    def sample(self, shape, rng):
        std = self.std(shape)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0) * std  # U(-a, a) has std a / sqrt(3)
            return rng.uniform(-limit, limit, size=shape)
        return rng.normal(0.0, std, size=shape)

    def _hyper(self):
        return {"gain": self.gain}


class GlorotUniform(_FanScaled):
    """Glorot & Bengio (2010): U(-a, a), ``a = gain * sqrt(6 / (fan_in + fan_out))``."""

    distribution = "uniform"

    def std(self, shape):
        fan_in, fan_out = compute_fans(shape)
        return self.gain * math.sqrt(2.0 / max(1, fan_in + fan_out))


class GlorotNormal(GlorotUniform):
    """Glorot & Bengio (2010): N(0, s²), ``s = gain * sqrt(2 / (fan_in + fan_out))``."""

    distribution = "normal"


class HeUniform(_FanScaled):
    """He et al. (2015): U(-a, a), ``a = gain * sqrt(6 / fan_in)`` (for ReLU networks)."""

    distribution = "uniform"

    def std(self, shape):
        return self.gain * math.sqrt(2.0 / max(1, compute_fans(shape)[0]))


class HeNormal(HeUniform):
    """He et al. (2015): N(0, s²), ``s = gain * sqrt(2 / fan_in)``."""

    distribution = "normal"


class LeCunNormal(_FanScaled):
    """LeCun et al. (1998): N(0, s²), ``s = gain * sqrt(1 / fan_in)`` (for SELU networks)."""

    def std(self, shape):
        return self.gain * math.sqrt(1.0 / max(1, compute_fans(shape)[0]))


class Orthogonal(Initializer):
    """Saxe et al. (2014): a (semi-)orthogonal matrix times ``gain``.

    For more than two dimensions the array is viewed as ``(shape[0], prod(shape[1:]))``.
    """

    def __init__(self, gain: float = 1.0, rng: np.random.Generator | int | None = None,
                 seed: int | None = None) -> None:
        super().__init__(rng, seed)
        self.gain = float(gain)

    def sample(self, shape, rng):
        if len(shape) < 2:
            raise ValueError(f"Orthogonal needs a shape of at least 2 dimensions, got {shape}")
        rows, cols = shape[0], int(np.prod(shape[1:]))
        a = rng.normal(0.0, 1.0, size=(max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))  # makes the distribution uniform (Mezzadri 2007)
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)

    def _hyper(self):
        return {"gain": self.gain}


_BY_NAME: dict[str, type] = {
    "constant": Constant, "zeros": Zeros, "zero": Zeros, "ones": Ones, "one": Ones,
    "normal": Normal, "uniform": Uniform,
    "glorot_uniform": GlorotUniform, "xavier_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal, "xavier_normal": GlorotNormal,
    "he_uniform": HeUniform, "kaiming_uniform": HeUniform,
    "he_normal": HeNormal, "kaiming_normal": HeNormal,
    "lecun_normal": LeCunNormal, "orthogonal": Orthogonal,
}


def get(init: Any) -> Initializer:
    """Resolve an initializer given by name, class, instance, number or array.

    A number gives :class:`Constant`; an array gives an initializer that returns a copy
    of it (the shape must then match).

    Raises
    ------
    ValueError
        For an unknown name (with a "did you mean" hint).
    TypeError
        For anything else that is not an initializer.

    Examples
    --------
    >>> get('glorot_uniform')
    GlorotUniform(gain=1.0)
    """
    if isinstance(init, Initializer):
        return init
    if isinstance(init, type) and issubclass(init, Initializer):
        return init()
    if isinstance(init, str):
        key = init.lower()
        if key not in _BY_NAME:
            raise ValueError(f"unknown initializer {init!r}{did_you_mean(key, _BY_NAME)}"
                             f" Known names: {sorted(_BY_NAME)}")
        return _BY_NAME[key]()
    if isinstance(init, (int, float, np.number)) and not isinstance(init, bool):
        return Constant(float(init))
    if isinstance(init, np.ndarray):
        return FromArray(init)
    if callable(init):
        return FromCallable(init)
    raise TypeError(f"expected an initializer (name, Initializer, number, array or callable "
                    f"shape -> array), got {type(init).__name__}: {init!r}")


class FromArray(Initializer):
    """Returns a copy of a given array (whose shape must match the request)."""

    def __init__(self, value: np.ndarray) -> None:
        super().__init__()
        self.value = np.asarray(value)

    def sample(self, shape, rng):
        if self.value.shape != tuple(shape):
            raise ValueError(f"initial value has shape {self.value.shape}, but the parameter "
                             f"needs shape {tuple(shape)}")
        return self.value.copy()

    def config(self) -> dict:
        return {"class": "FromArray", "shape": list(self.value.shape)}

    def __repr__(self) -> str:
        return f"FromArray(shape={self.value.shape})"


class FromCallable(Initializer):
    """Wraps a function ``shape -> array``."""

    def __init__(self, fn: Any) -> None:
        super().__init__()
        self.fn = fn

    def sample(self, shape, rng):
        return self.fn(shape)

    def config(self) -> dict:
        return {"class": "FromCallable", "fn": getattr(self.fn, "__name__", repr(self.fn))}

    def __repr__(self) -> str:
        return f"FromCallable({getattr(self.fn, '__name__', self.fn)!r})"


__all__ = ["Initializer", "Constant", "Zeros", "Ones", "Normal", "Uniform", "GlorotUniform",
           "GlorotNormal", "HeUniform", "HeNormal", "LeCunNormal", "Orthogonal", "FromArray",
           "FromCallable", "compute_fans", "default_rng", "get"]
