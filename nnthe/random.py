"""Random numbers: symbolic random streams for graphs, and the global generator used by
initializers.

A :class:`RandomStream` creates one state per draw: a shared variable holding a plain
``uint64[6]`` array (a Philox key of 2 words and counter of 4). The draw's op rebuilds a
``np.random.Philox`` from that array, samples, and returns the advanced state, which is
the shared variable's ``default_update``. So every call of a compiled function draws new
numbers, functions sharing a stream advance the same states, the same seed gives the
same numbers, and the state is ordinary array data that a checkpoint stores as is
(:meth:`RandomStream.get_state` / :meth:`RandomStream.set_state`).

``uniform`` and ``normal`` are a standard draw followed by an affine map, so gradients
flow to ``low``/``high`` and ``avg``/``std`` (the reparameterization trick); the other
distributions have an undefined gradient with respect to their parameters.

Examples
--------
>>> srng = nnthe.random.RandomStream(seed=42)
>>> x = T.matrix('x')
>>> mask = srng.bernoulli(x.shape, p=0.5)
>>> f = nnthe.function([x], x * mask)      # a new mask on every call
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Sequence

import numpy as np

from .config import config
from .core.graph import Apply, Op, compute_test_values
from .core.hints import refuse_unknown_kwargs
from .core.ops.shape import as_shape_vector, constant_value
from .core.shared import SharedVariable, shared
from .core.types import (TensorType, disconnected_type, grad_undefined, is_float_dtype,
                         is_int_dtype, normalize_dtype)
from .core.variable import TensorVariable, as_tensor_variable, constant

_STATE_WORDS = 6  # Philox key (2) + counter (4)


def _initial_state(seed: int, index: int) -> np.ndarray:
    """The state of draw ``index`` of a stream seeded with ``seed``: an independent key
    per draw (SeedSequence hashing), counter 0."""
    state = np.zeros(_STATE_WORDS, dtype=np.uint64)
    state[:2] = np.random.SeedSequence([seed, index]).generate_state(2, dtype=np.uint64)
    return state


def _check_seed(seed: Any) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"a seed must be a non-negative int, got {seed!r}")
    return int(seed)


class RandomDraw(Op):
    """Draw from a distribution with a Philox state; outputs ``(new_state, sample)``.

    Inputs: ``state`` (uint64[6]), ``size`` (int64 vector), then the distribution's
    parameters. ``dist`` is one of ``'uniform'`` (standard, [0, 1)), ``'normal'``
    (standard), ``'binomial'`` (n, p), ``'integers'`` (low, high), ``'permutation'`` (n),
    ``'choice'`` (a, [p]), ``'multinomial'`` (n, pvals) and ``'choice_rows'`` (pvals: one
    choice of ``size[1]`` indices per row, Theano's MRG ``choice``).
    """

    __props__ = ("dist", "dtype", "replace")

    def __init__(self, dist: str, dtype: str, replace: bool = True) -> None:
        self.dist = dist
        self.dtype = dtype
        self.replace = bool(replace)

    def make_node(self, state: Any, size: Any, *params: Any, static: tuple = ()) -> Apply:
        state = as_tensor_variable(state)
        if state.type.dtype != "uint64" or state.type.ndim != 1:
            raise TypeError(f"RandomDraw: the state must be a uint64 vector, got {state.type}")
        return Apply(self, [state, size] + [as_tensor_variable(p) for p in params],
                     [state.type, TensorType(self.dtype, static)])

    def make_thunk(self, node):
        dist, dtype, replace = self.dist, np.dtype(self.dtype), self.replace

        def draw(state, size, *params):
            bitgen = np.random.Philox(key=state[:2], counter=state[2:])
            gen = np.random.Generator(bitgen)
            shp = tuple(size.tolist())
            if dist == "uniform":
                sample = gen.random(shp, dtype=dtype)
            elif dist == "normal":
                sample = gen.standard_normal(shp, dtype=dtype)
            elif dist == "binomial":
                sample = gen.binomial(params[0], params[1], shp).astype(dtype, copy=False)
            elif dist == "integers":
                sample = gen.integers(params[0], params[1], shp, dtype=dtype, endpoint=False)
            elif dist == "multinomial":
                # float32 probabilities may sum to 1 + eps, which NumPy refuses.
                pv = np.asarray(params[1], dtype=np.float64)
                pv = pv / pv.sum(axis=-1, keepdims=True)
                sample = gen.multinomial(params[0], pv, shp or None).astype(dtype, copy=False)
            elif dist == "choice_rows":
                # One draw of size[1] indices per row of the probability matrix.
                pv = np.asarray(params[0], dtype=np.float64)
                pv = pv / pv.sum(axis=-1, keepdims=True)
                sample = np.stack([gen.choice(pv.shape[1], shp[1], replace=replace, p=row)
                                   for row in pv]).astype(dtype, copy=False) \
                    if len(pv) else np.empty(shp, dtype=dtype)
            elif dist == "permutation":
                sample = gen.permutation(int(params[0])).astype(dtype, copy=False)
            else:  # choice
                p = params[1] if len(params) > 1 else None
                sample = np.asarray(gen.choice(params[0], shp, replace=replace, p=p)).astype(dtype, copy=False)
            new_state = np.empty(_STATE_WORDS, dtype=np.uint64)
            new_state[:2] = state[:2]
            new_state[2:] = bitgen.state["state"]["counter"]
            return new_state, np.asarray(sample)

        return draw

    def perform(self, node, *inputs):
        return self.make_thunk(node)(*inputs)

    def L_op(self, node, inputs, outputs, output_grads):
        grads = [disconnected_type(), disconnected_type()]
        for k, p in enumerate(inputs[2:]):
            if is_float_dtype(p.type.dtype):
                grads.append(grad_undefined(self, k + 2, p, f"{self.dist} samples are not "
                                            "differentiable with respect to their parameters"))
            else:
                grads.append(disconnected_type())
        return grads

    def connection_pattern(self, node):
        return [[False, False], [False, False]] + [
            [False, is_float_dtype(p.type.dtype)] for p in node.inputs[2:]]

    def __str__(self) -> str:
        return f"RandomDraw{{{self.dist}, {self.dtype}}}"


class RandomStream:
    """A source of symbolic random tensors whose state lives in shared variables.

    Parameters
    ----------
    seed : int, optional
        The seed of every draw's state (draw ``k`` gets its own independent Philox key
        derived from ``(seed, k)``). Default: from :func:`default_rng`.
    name : str
        Prefix of the state variables' names: ``f"{name}/{k}"`` for the k-th draw.

    Examples
    --------
    >>> srng = RandomStream(seed=1)
    >>> u = srng.uniform((2, 3))
    >>> f = nnthe.function([], u)
    >>> f().shape
    (2, 3)
    """

    def __init__(self, seed: int | None = None, name: str = "random") -> None:
        if seed is None:
            seed = int(default_rng().integers(2 ** 63))
        self._seed = _check_seed(seed)
        if not isinstance(name, str) or not name:
            raise TypeError(f"RandomStream: name must be a non-empty string, got {name!r}")
        self.name = name
        self._states: list[SharedVariable] = []

    # -- state -----------------------------------------------------------------------
    def state_variables(self) -> "OrderedDict[str, SharedVariable]":
        """The shared variables holding each draw's state, by stable name, in draw order."""
        return OrderedDict((s.name, s) for s in self._states)

    def get_state(self) -> dict[str, np.ndarray]:
        """A copy of every state array, by name (for checkpoints)."""
        return {s.name: s.get_value() for s in self._states}

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore states saved by :meth:`get_state`.

        Strict: the keys must be exactly this stream's state names and each value a
        uint64 array of shape (6,); nothing changes unless all of them match.
        """
        if not isinstance(state, dict):
            raise TypeError(f"set_state: expected a dict of arrays, got {type(state).__name__}")
        mine = self.state_variables()
        missing, extra = sorted(set(mine) - set(state)), sorted(set(state) - set(mine))
        if missing or extra:
            raise ValueError(f"set_state: the keys do not match stream {self.name!r}: missing "
                             f"{missing}, unexpected {extra}")
        checked = {}
        for k, v in state.items():
            arr = np.asarray(v)
            if arr.shape != (_STATE_WORDS,) or arr.dtype != np.uint64:
                raise ValueError(f"set_state: {k!r} must be a uint64 array of shape "
                                 f"({_STATE_WORDS},), got {arr.dtype} {arr.shape}")
            checked[k] = arr
        for k, arr in checked.items():
            mine[k].set_value(arr)

    def seed(self, seed: int) -> None:
        """Reseed every state of this stream (and the draws made after)."""
        self._seed = _check_seed(seed)
        for k, s in enumerate(self._states):
            s.set_value(_initial_state(self._seed, k))

    def _new_state(self) -> SharedVariable:
        k = len(self._states)
        s = shared(_initial_state(self._seed, k), name=f"{self.name}/{k}")
        s.tag["random_state"] = True
        self._states.append(s)
        return s

    def _draw(self, dist: str, dtype: str, size: Any, params: Sequence[Any],
              replace: bool = True, static: tuple | None = None) -> TensorVariable:
        if size is None:
            size = ()
        if isinstance(size, TensorVariable) and size.type.ndim == 1 and size.type.shape[0] is None:
            raise ValueError(f"{dist}: the length of the size vector {size!r} must be known "
                             "statically")
        size_v, size_static = as_shape_vector(size, dist)
        if static is None:
            static = size_static
        state = self._new_state()
        node = RandomDraw(dist, dtype, replace).make_node(state, size_v, *params, static=static)
        if config.compute_test_value != "off":  # make_node, not __call__: do what it does
            compute_test_values(node, config.compute_test_value)
        new_state, sample = node.outputs
        state.default_update = new_state
        return sample

    # -- distributions ---------------------------------------------------------------
    def uniform(self, size: Any = None, low: Any = 0.0, high: Any = 1.0,
                dtype: Any = None) -> TensorVariable:
        """Uniform samples in ``[low, high)`` of shape ``size`` (a tuple, or ``x.shape``).

        Gradients flow to ``low`` and ``high`` (``low + (high - low) * u``).
        """
        dtype = _float_dtype(dtype, "uniform")
        u = self._draw("uniform", dtype, size, ())
        if _is_number(low, 0.0) and _is_number(high, 1.0):
            return u
        low_v, high_v = _affine_param(low, dtype), _affine_param(high, dtype)
        return low_v + (high_v - low_v) * u

    def normal(self, size: Any = None, avg: Any = 0.0, std: Any = 1.0,
               dtype: Any = None) -> TensorVariable:
        """Normal samples ``avg + std * eps`` of shape ``size``; gradients flow to ``avg``
        and ``std``."""
        dtype = _float_dtype(dtype, "normal")
        eps = self._draw("normal", dtype, size, ())
        if _is_number(avg, 0.0) and _is_number(std, 1.0):
            return eps
        return _affine_param(avg, dtype) + _affine_param(std, dtype) * eps

    def binomial(self, size: Any = None, n: Any = 1, p: Any = 0.5,
                 dtype: Any = "int64") -> TensorVariable:
        """Binomial samples (``n`` trials of probability ``p``) of shape ``size``."""
        dtype = normalize_dtype(dtype)
        return self._draw("binomial", dtype, size, (_int_param(n, "binomial", "n"),
                                                    _prob_param(p, "binomial")))

    def bernoulli(self, size: Any = None, p: Any = 0.5, dtype: Any = None) -> TensorVariable:
        """0/1 samples with probability ``p`` of 1, of dtype ``floatX`` by default (ready
        to multiply as a dropout mask)."""
        return self.binomial(size, 1, p, normalize_dtype(dtype))

    def integers(self, low: Any, high: Any = None, size: Any = None,
                 dtype: Any = "int64") -> TensorVariable:
        """Integers in ``[low, high)`` (``[0, low)`` when ``high`` is None)."""
        if high is None:
            low, high = 0, low
        dtype = normalize_dtype(dtype)
        if not is_int_dtype(dtype):
            raise TypeError(f"integers: dtype must be an integer dtype, got {dtype}")
        return self._draw("integers", dtype, size, (_int_param(low, "integers", "low"),
                                                    _int_param(high, "integers", "high")))

    def permutation(self, n: Any, dtype: Any = "int64") -> TensorVariable:
        """A random permutation of ``range(n)``."""
        n_v = _int_param(n, "permutation", "n")
        if n_v.type.ndim != 0:
            raise TypeError(f"permutation: n must be an integer scalar, got {n_v.type}")
        val = constant_value(n_v)
        return self._draw("permutation", normalize_dtype(dtype), (), (n_v,),
                          static=(None if val is None else int(val),))

    def choice(self, size: Any = None, a: Any = 2, replace: bool = True, p: Any = None,
               dtype: Any = "int64") -> TensorVariable:
        """Samples of shape ``size`` from ``range(a)`` (an int) or the vector ``a``,
        with or without replacement, with probabilities ``p`` (uniform when None)."""
        a_v = as_tensor_variable(a)
        if a_v.type.ndim > 1:
            raise TypeError(f"choice: a must be an int or a vector, got {a_v.type}")
        params = [a_v] if p is None else [a_v, _prob_param(p, "choice")]
        if a_v.type.ndim == 1 and dtype == "int64" and not is_int_dtype(a_v.type.dtype):
            dtype = a_v.type.dtype
        return self._draw("choice", normalize_dtype(dtype), size, params, replace=replace)


def _float_dtype(dtype: Any, what: str) -> str:
    dtype = normalize_dtype(dtype)
    if dtype not in ("float32", "float64"):
        raise TypeError(f"{what}: dtype must be float32 or float64, got {dtype}")
    return dtype


def _is_number(v: Any, target: float) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == target


def _affine_param(v: Any, dtype: str) -> Any:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)  # a weak constant: takes the sample's dtype
    return as_tensor_variable(v)


def _int_param(v: Any, what: str, name: str) -> TensorVariable:
    v = as_tensor_variable(v)
    if not is_int_dtype(v.type.dtype):
        raise TypeError(f"{what}: {name} must be an integer, got {v!r} of dtype {v.type.dtype}")
    return v


def _prob_param(p: Any, what: str) -> TensorVariable:
    if isinstance(p, (int, float)) and not isinstance(p, bool):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{what}: p must be in [0, 1], got {p!r}")
        return constant(np.asarray(p, dtype="float64"))
    v = as_tensor_variable(p)
    if not is_float_dtype(v.type.dtype):
        raise TypeError(f"{what}: p must be a float probability, got dtype {v.type.dtype}")
    return v


# ---------------------------------------------------------------------------------------
# The module-level generator
# ---------------------------------------------------------------------------------------

_rng: np.random.Generator = np.random.default_rng()
_stream: RandomStream | None = None
_seed: int | None = None


def seed(n: int) -> None:
    """Seed nnthe's global randomness: :func:`default_rng` (initializers) and
    :func:`default_stream` (Dropout without a stream), including draws already made."""
    global _rng, _seed
    n = _check_seed(n)
    _seed = n
    _rng = np.random.default_rng(n)
    default_stream().seed(n)


def default_rng() -> np.random.Generator:
    """The global NumPy generator (seeded by :func:`seed`), used by initializers."""
    return _rng


def default_stream() -> RandomStream:
    """The global :class:`RandomStream` (named ``'default'``), seeded by :func:`seed`."""
    global _stream
    if _stream is None:
        # Seeded without drawing from default_rng(), so creating the stream never shifts
        # the numbers initializers get.
        entropy = _seed if _seed is not None else int(np.random.SeedSequence().entropy % 2 ** 63)
        _stream = RandomStream(entropy, name="default")
    return _stream


# ---------------------------------------------------------------------------------------
# Theano's names and signatures
# ---------------------------------------------------------------------------------------

class RandomVariable(TensorVariable):
    """A random tensor drawn by :class:`RandomStreams`; as in Theano, ``.rng`` is the
    shared variable holding its state and ``.update`` the pair ``(rng, new state)``.

    The state is a Philox ``uint64[6]`` array (not a ``numpy.random.RandomState``):
    ``rng.get_value()`` / ``rng.set_value(...)`` copy it between streams.
    """

    __slots__ = ()

    @property
    def rng(self) -> SharedVariable:
        return self.tag["rng"]

    @property
    def update(self) -> tuple[SharedVariable, TensorVariable]:
        rng = self.tag["rng"]
        return rng, rng.default_update


class RandomStreams(RandomStream):
    """Theano's ``RandomStreams`` (``theano.tensor.shared_randomstreams``): the draws of
    :class:`RandomStream` with Theano's signatures (``size`` first, ``ndim=`` accepted),
    ``.rng`` on every result, ``state_updates``, ``updates()`` and ``seed(None)``.

    Examples
    --------
    >>> srng = RandomStreams(seed=234)
    >>> rv_u = srng.uniform((2, 2))
    >>> f = nnthe.function([], rv_u)
    >>> g = nnthe.function([], rv_u, no_default_updates=True)  # the same numbers each call
    """

    def __init__(self, seed: int | None = None, name: str = "random") -> None:
        super().__init__(seed, name)
        self.state_updates: list[tuple[SharedVariable, TensorVariable]] = []

    def updates(self) -> list[tuple[SharedVariable, TensorVariable]]:
        """The ``(state, new state)`` pairs of every draw made so far."""
        return list(self.state_updates)

    def seed(self, seed: int | None = None) -> None:
        """Reseed every draw's state (a fresh random seed when None)."""
        super().seed(int(default_rng().integers(2 ** 63)) if seed is None else seed)

    def _draw(self, dist, dtype, size, params, replace=True, static=None):
        sample = super()._draw(dist, dtype, size, params, replace, static)
        state = self._states[-1]
        self.state_updates.append((state, state.default_update))
        return sample

    def _mark(self, out: TensorVariable, ndim: int | None, what: str) -> RandomVariable:
        if ndim is not None and ndim != out.type.ndim:
            raise ValueError(f"{what}: ndim={ndim} but size gives {out.type.ndim} dimensions")
        out.__class__ = RandomVariable  # same slots: only adds .rng / .update
        out.tag["rng"] = self._states[-1]
        return out

    def uniform(self, size: Any = (), low: Any = 0.0, high: Any = 1.0, ndim: int | None = None,
                dtype: Any = None, **kwargs: Any) -> RandomVariable:
        """Uniform samples in ``[low, high)`` (Theano's signature; ``nstreams`` ignored)."""
        _theano_extras("uniform", kwargs)
        return self._mark(super().uniform(size, low, high, dtype), ndim, "uniform")

    def normal(self, size: Any = (), avg: Any = 0.0, std: Any = 1.0, ndim: int | None = None,
               dtype: Any = None, **kwargs: Any) -> RandomVariable:
        """Normal samples ``avg + std * eps`` (Theano's signature)."""
        _theano_extras("normal", kwargs)
        return self._mark(super().normal(size, avg, std, dtype), ndim, "normal")

    def binomial(self, size: Any = (), n: Any = 1, p: Any = 0.5, ndim: int | None = None,
                 dtype: Any = "int64", prob: Any = None, **kwargs: Any) -> RandomVariable:
        """Binomial samples (``prob`` is Theano's old name of ``p``)."""
        _theano_extras("binomial", kwargs)
        if prob is not None:
            p = prob
        return self._mark(super().binomial(size, n, p, dtype), ndim, "binomial")

    def random_integers(self, size: Any = (), low: Any = 0, high: Any = 1,
                        ndim: int | None = None, dtype: Any = "int64") -> RandomVariable:
        """Integers in ``[low, high]`` (both ends included, as in Theano)."""
        high = high + 1 if isinstance(high, (int, np.integer)) else as_tensor_variable(high) + 1
        return self._mark(self.integers(low, high, size, dtype), ndim, "random_integers")

    def choice(self, size: Any = (), a: Any = 2, replace: bool = True, p: Any = None,
               ndim: int | None = None, dtype: Any = "int64") -> RandomVariable:
        """Samples of shape ``size`` from ``range(a)`` or the vector ``a``."""
        return self._mark(super().choice(size, a, replace, p, dtype), ndim, "choice")

    def permutation(self, size: Any = (), n: Any = 1, ndim: int | None = None,
                    dtype: Any = "int64") -> RandomVariable:
        """A random permutation of ``range(n)`` (``size`` must be ``()``: one permutation)."""
        if size not in ((), None, []):
            raise NotImplementedError("permutation: only size=() (one permutation of range(n)) "
                                      f"is supported, got size={size!r}")
        return self._mark(super().permutation(n, dtype), ndim, "permutation")

    def multinomial(self, size: Any = (), n: Any = 1, pvals: Any = (0.5, 0.5),
                    ndim: int | None = None, dtype: Any = "int64") -> RandomVariable:
        """Counts of ``n`` draws over the categories of ``pvals`` (its last axis); the
        result has shape ``size + (k,)``, or ``pvals``'s shape when ``size`` is ``()``."""
        pv = as_tensor_variable(pvals)
        if pv.type.ndim not in (1, 2) or not is_float_dtype(pv.type.dtype):
            raise TypeError(f"multinomial: pvals must be a float vector or matrix, got {pv.type}")
        size = () if size is None else size
        _, size_static = as_shape_vector(size, "multinomial")
        k = pv.type.shape[-1]
        static = tuple(size_static) + (k,) if size_static else pv.type.shape
        # NumPy's multinomial takes the shape without the category axis.
        out = self._draw("multinomial", normalize_dtype(dtype), size,
                         (_int_param(n, "multinomial", "n"), pv), static=static)
        return self._mark(out, ndim, "multinomial")


def _theano_extras(what: str, kwargs: dict) -> None:
    """Accept (and ignore) the MRG generator's ``nstreams``; refuse anything else."""
    kwargs.pop("nstreams", None)
    if kwargs:
        refuse_unknown_kwargs(what, kwargs, ["size", "low", "high", "avg", "std", "n", "p",
                                             "ndim", "dtype", "nstreams"])


__all__ = ["RandomStream", "RandomStreams", "RandomVariable", "RandomDraw", "seed",
           "default_rng", "default_stream"]
