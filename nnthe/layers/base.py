"""The :class:`Layer` base class: a callable on symbolic tensors that owns parameters.

A layer is built on its first call: it reads the static shape (and float dtype) of its
input, creates its parameters as :class:`~nnthe.core.shared.SharedVariable` objects and
then computes its output. Parameters carry the tags ``trainable`` and ``regularizable``
in their ``.tag`` dict. Layers assigned as attributes of a layer (or in lists/tuples of
layers) become its children, which is how containers name their parameters
hierarchically (``block1/conv/W``).

Every constructor refuses unknown keyword arguments with a "did you mean" hint, and
records its arguments so that :meth:`Layer.config` can describe the architecture.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import threading
from collections import OrderedDict
from typing import Any, Iterator, Sequence

import numpy as np

from .. import init as _init
from ..config import config
from ..core.hints import keyword_names, refuse_unknown_kwargs
from ..core.shared import SharedVariable, shared
from ..core.types import TensorType, fmt_shape, is_float_dtype
from ..core.variable import TensorVariable, as_tensor_variable
from . import activations as _activations

Shape = tuple  # of int or None


def to_jsonable(value: Any) -> Any:
    """``value`` as JSON-serializable data (layers and initializers by their config)."""
    if isinstance(value, Layer):
        return value.config()
    if isinstance(value, _init.Initializer):
        return value.config()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, np.ndarray):
        return {"array_shape": list(value.shape), "dtype": value.dtype.name}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if callable(value):
        return _activations.name_of(value)
    return repr(value)


class Layer:
    """Base class of all layers.

    Subclasses implement :meth:`build` (create parameters from the input shape, with
    :meth:`add_param`) and :meth:`call` (the symbolic computation); :meth:`output_shape`
    traces :meth:`call`, so the static shapes follow from the ops.

    Parameters
    ----------
    name : str, optional
        The layer's key in its container (instead of its index or attribute name).
    dtype : str, optional
        The dtype of the parameters; by default the input's float dtype (float32 for a
        float32 input, float64 for float64), or ``config.floatX`` for integer inputs.

    Examples
    --------
    >>> dense = layers.Dense(10)
    >>> y = dense(T.matrix('x', shape=(None, 784)))   # creates dense.W (784, 10), dense.b
    >>> dense.output_shape((None, 784))
    (None, 10)
    """

    #: True for layers that take a list of tensors (Concatenate, Add).
    multi_input = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" not in cls.__dict__:
            return
        original = cls.__dict__["__init__"]
        sig = inspect.signature(original)
        # The constructor keeps its real signature (functools.wraps); unknown keywords get
        # the same "did you mean" TypeError as functions decorated with suggest_keywords.
        names = keyword_names(original)
        allowed = frozenset(names or ())

        @functools.wraps(original)
        def __init__(self, *args: Any, **kw: Any) -> None:
            if names is not None and not allowed.issuperset(kw):
                refuse_unknown_kwargs(type(self).__name__ if type(self) is cls else cls.__name__,
                                      kw, names)
            if "_init_args" not in self.__dict__:
                # The most derived constructor records the arguments (for config()).
                try:
                    bound = sig.bind(self, *args, **kw)
                except TypeError as exc:
                    raise TypeError(f"{cls.__name__}(): {exc}") from None
                given = [k for k in bound.arguments if k != "self"]
                bound.apply_defaults()
                recorded = OrderedDict((k, v) for k, v in bound.arguments.items()
                                       if k != "self" and sig.parameters[k].kind not in
                                       (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD))
                object.__setattr__(self, "_init_args", recorded)
                object.__setattr__(self, "_init_given", given)
            original(self, *args, **kw)

        cls.__init__ = __init__  # type: ignore[method-assign]

    def __init__(self, name: str | None = None, dtype: Any = None) -> None:
        if name is not None and (not isinstance(name, str) or not name or "/" in name):
            raise ValueError(f"{type(self).__name__}: name must be a non-empty string without "
                             f"'/', got {name!r}")
        object.__setattr__(self, "_children", OrderedDict())
        self.name = name
        self.dtype = None if dtype is None else np.dtype(dtype).name
        self.built = False
        self._params: OrderedDict[str, SharedVariable] = OrderedDict()
        self._input_shape: Shape | None = None
        self._output_shape: Any = None

    # -- children --------------------------------------------------------------------
    def __setattr__(self, key: str, value: Any) -> None:
        children = self.__dict__.get("_children")
        if children is not None and not key.startswith("_"):
            if isinstance(value, Layer):
                children[key] = value
            elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Layer) for v in value):
                children[key] = list(value)
            else:
                children.pop(key, None)
        object.__setattr__(self, key, value)

    def named_children(self) -> Iterator[tuple[str, "Layer"]]:
        """The direct sub-layers with their keys (attribute name, ``attr/i`` for lists)."""
        for key, value in self.__dict__.get("_children", {}).items():
            if isinstance(value, list):
                for i, v in enumerate(value):
                    yield f"{key}/{v.name or i}", v
            else:
                yield key, value

    # -- parameters ------------------------------------------------------------------
    def add_param(self, name: str, shape: Sequence[int], initializer: Any,
                  trainable: bool = True, regularizable: bool = True,
                  dtype: Any = None) -> SharedVariable:
        """Create a parameter of ``shape`` owned by this layer.

        Parameters
        ----------
        name : str
            The local name (``'W'``); containers prefix it with the layer's path.
        shape : tuple of int
        initializer : str, Initializer, number, array or callable
            See :func:`nnthe.init.get`.
        trainable, regularizable : bool
            Tags stored in the variable's ``.tag`` dict; optimizers use the first
            (``model.trainable_params``), penalties the second.
        dtype : str, optional
            Default: the layer's parameter dtype (see the class docstring).
        """
        if name in self._params:
            raise ValueError(f"{self!r} already has a parameter named {name!r}")
        dtype = dtype or self.param_dtype
        if getattr(_tracing, "depth", 0):
            # output_shape() of an unbuilt layer: a zero-cost stand-in of the right type,
            # so asking for a shape draws no random numbers (the model's initial values
            # do not depend on it) and allocates nothing.
            value = np.broadcast_to(np.zeros((), dtype=dtype), tuple(int(d) for d in shape))
        else:
            value = _init.get(initializer)(tuple(shape), dtype=dtype)
        var = shared(value, name=name, borrow=True)
        var.tag["trainable"] = bool(trainable)
        var.tag["regularizable"] = bool(regularizable)
        var.tag["layer"] = type(self).__name__
        self._params[name] = var
        return var

    @property
    def param_dtype(self) -> str:
        """The dtype of this layer's parameters."""
        return self.dtype or self.__dict__.get("_input_dtype") or config.floatX

    def named_params(self, trainable: bool | None = None) -> "OrderedDict[str, SharedVariable]":
        """All persistent parameters by relative name (``'0/W'``, ``'block1/conv/b'``).

        A parameter reached twice (a layer shared by two branches) is listed once, under
        its first name. ``trainable=True``/``False`` keeps only parameters with that tag.
        Non-trainable state (BatchNorm running averages) is included unless filtered.
        """
        out: OrderedDict[str, SharedVariable] = OrderedDict()
        seen: set[int] = set()
        for path, layer in self._walk():
            for local, var in layer._params.items():
                if id(var) in seen:
                    continue
                seen.add(id(var))
                if trainable is not None and bool(var.tag.get("trainable", True)) != trainable:
                    continue
                out[f"{path}/{local}" if path else local] = var
        return out

    @property
    def params(self) -> list[SharedVariable]:
        """All parameters (:meth:`named_params` order)."""
        return list(self.named_params().values())

    @property
    def trainable_params(self) -> list[SharedVariable]:
        """Parameters tagged trainable (:meth:`named_params` order)."""
        return list(self.named_params(trainable=True).values())

    def random_state_variables(self) -> list[SharedVariable]:
        """This layer's own RNG state variables (overridden by random layers)."""
        return []

    def named_random_states(self) -> "OrderedDict[str, SharedVariable]":
        """The RNG state variables of random layers (Dropout) by name (``'2/rng/0'``)."""
        out: OrderedDict[str, SharedVariable] = OrderedDict()
        seen: set[int] = set()
        for path, layer in self._walk():
            for i, var in enumerate(layer.random_state_variables()):
                if id(var) not in seen:
                    seen.add(id(var))
                    out[f"{path}/rng/{i}" if path else f"rng/{i}"] = var
        return out

    def _walk(self) -> Iterator[tuple[str, "Layer"]]:
        """(path, layer) for this layer and every descendant, depth first, each once."""
        seen: set[int] = set()
        stack: list[tuple[str, Layer]] = [("", self)]
        while stack:
            path, layer = stack.pop()
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            yield path, layer
            kids = [(f"{path}/{k}" if path else k, c) for k, c in layer.named_children()]
            stack.extend(reversed(kids))

    def _name_params(self) -> None:
        # Parameter names are relative to the outermost container that was called, so
        # two models built by the same code have the same names.
        for name, var in self.named_params().items():
            var.name = name

    def load_torch_state_dict(self, state_dict: Any, strict: bool = True, prefix: str = "",
                              rename: Any = None, cast: bool = True) -> Any:
        """Set the parameters from a PyTorch ``state_dict`` (names and layouts mapped).

        Linear weights are transposed to (in, out), conv weights taken as they are,
        BatchNorm running statistics loaded; a layer may supply its own mapping. See
        :func:`nnthe.layers.torch_weights.load_torch_state_dict` for the parameters
        and the table of names.

        Examples
        --------
        >>> sd = nnthe.checkpoint.load_safetensors('model.safetensors')  # doctest: +SKIP
        >>> model.load_torch_state_dict(sd)                               # doctest: +SKIP
        """
        from .torch_weights import load_torch_state_dict

        return load_torch_state_dict(self, state_dict, strict=strict, prefix=prefix,
                                     rename=rename, cast=cast)

    def count_params(self) -> int:
        """The number of scalar parameters (trainable or not)."""
        return int(sum(int(np.prod(v.container[0].shape)) for v in self.params))

    # -- calling ---------------------------------------------------------------------
    def __call__(self, x: Any, training: bool = False) -> TensorVariable:
        """Apply the layer to a symbolic tensor (or list of tensors for merge layers).

        Parameters
        ----------
        x : TensorVariable (or list of them)
        training : bool
            True for the training graph (Dropout active, BatchNorm on batch statistics
            and updating its running averages).
        """
        if not isinstance(training, (bool, np.bool_)):
            raise TypeError(f"{self!r}: training must be True or False, got {training!r}")
        if self.multi_input:
            if not isinstance(x, (list, tuple)) or not x:
                raise TypeError(f"{self!r} takes a non-empty list of tensors, got {x!r}")
            x = [as_tensor_variable(t) for t in x]
            shape: Any = [t.type.shape for t in x]
            dtypes = [t.type.dtype for t in x]
        else:
            if isinstance(x, (list, tuple)):
                raise TypeError(f"{self!r} takes one tensor, got a {type(x).__name__} of "
                                f"{len(x)}; use a merge layer (Concatenate, Add) for several")
            x = as_tensor_variable(x)
            shape, dtypes = x.type.shape, [x.type.dtype]
        if not self.built:
            floats = [d for d in dtypes if is_float_dtype(d)]
            object.__setattr__(self, "_input_dtype", floats[0] if floats else None)
            self._input_shape = shape
            self.build(shape)
            self.built = True
        out = self.call(x, training=bool(training))
        self._output_shape = out.type.shape if isinstance(out, TensorVariable) else None
        if self.__dict__.get("_children"):
            self._name_params()
        return out

    def build(self, input_shape: Any) -> None:
        """Create the parameters for inputs of static shape ``input_shape``."""

    def call(self, x: Any, training: bool = False) -> TensorVariable:
        """The symbolic computation (called by ``layer(x, training)``)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement call()")

    #: The dtype of the symbolic input :meth:`output_shape` traces with, when the layer
    #: was not built (default ``config.floatX``); Embedding takes integer ids.
    trace_dtype: str | None = None

    def output_shape(self, input_shape: Any) -> Shape:
        """The static output shape for inputs of static shape ``input_shape`` (a list of
        shapes for merge layers).

        The layer is traced: :meth:`call` runs on a symbolic input of that shape, so the
        answer (and any error) is the ops' own; the shape rules live in the ops only.
        Asking changes nothing: an unbuilt layer stays unbuilt (its parameters are
        zero-cost stand-ins during the trace, and no random numbers are drawn), a built
        one keeps its state and parameter names. Override it only for a layer whose
        ``call`` cannot run on a symbolic input.

        Raises
        ------
        TypeError, ValueError
            Naming the layer, for inputs the layer does not accept.
        """
        dtype = self.trace_dtype or self.dtype or self.__dict__.get("_input_dtype") \
            or config.floatX
        x = _symbolic_input(input_shape, dtype)
        try:
            with _untouched(self):
                out = self(x)
        except (TypeError, ValueError) as exc:
            if type(exc) in (TypeError, ValueError) and repr(self) not in str(exc):
                raise type(exc)(f"{self!r}: {exc}") from exc
            raise
        return _static_shape(out)

    # -- helpers for subclasses --------------------------------------------------------
    def _require(self, input_shape: Shape, axes: Sequence[int], what: str) -> list[int]:
        """The sizes of ``input_shape`` at ``axes``, or a ValueError naming the layer."""
        out = []
        for a in axes:
            s = input_shape[a]
            if s is None:
                raise ValueError(
                    f"{self!r} needs to know {what} (dimension {a % len(input_shape)} of the "
                    f"input) to create its parameters, but the input's static shape is "
                    f"{fmt_shape(input_shape)}; give the input a static shape, e.g. "
                    f"T.tensor(shape=(None, 784))")
            out.append(int(s))
        return out

    def _check_ndim(self, input_shape: Shape, ndims: Sequence[int] | int, what: str = "") -> None:
        ndims = (ndims,) if isinstance(ndims, int) else tuple(ndims)
        if len(input_shape) not in ndims:
            expected = " or ".join(str(n) for n in ndims)
            raise TypeError(f"{self!r} expects a {expected}-d input{what}, got shape "
                            f"{fmt_shape(input_shape)} ({len(input_shape)}-d)")

    # -- description -----------------------------------------------------------------
    def config(self) -> dict:
        """A JSON-serializable description of the architecture (class and arguments)."""
        args = self.__dict__.get("_init_args", {})
        out: dict = {"class": type(self).__name__,
                     "config": {k: to_jsonable(v) for k, v in args.items()}}
        kids = [(k, c) for k, c in self.named_children()
                if not any(c is v for v in _flatten_layers(args.values()))]
        if kids:
            out["children"] = {k: c.config() for k, c in kids}
        return out

    def extra_repr(self) -> str:
        """The arguments shown by ``repr`` (those that differ from the defaults)."""
        args = self.__dict__.get("_init_args", {})
        given = self.__dict__.get("_init_given", ())
        return ", ".join(f"{k}={_short(v)}" for k, v in args.items() if k in given and k != "layers")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


#: ``depth > 0`` while output_shape() traces in this thread (add_param makes stand-ins);
#: per thread, so a model built in another thread meanwhile gets real parameters.
_tracing = threading.local()


@contextlib.contextmanager
def _untouched(root: Layer) -> Iterator[None]:
    """Run a shape trace of ``root`` and leave it and its descendants as they were:
    attributes (built, parameters, children, recorded shapes) and parameter names."""
    layers = [layer for _, layer in root._walk()]
    saved = [dict(layer.__dict__) for layer in layers]
    names = [(v, v.name) for layer in layers for v in layer._params.values()]
    for layer in layers:
        # The trace fills copies; the originals come back below.
        object.__setattr__(layer, "_params", OrderedDict(layer._params))
        kids = layer.__dict__.get("_children")
        if kids is not None:
            object.__setattr__(layer, "_children", OrderedDict(
                (k, list(v) if isinstance(v, list) else v) for k, v in kids.items()))
    _tracing.depth = getattr(_tracing, "depth", 0) + 1
    try:
        yield
    finally:
        _tracing.depth -= 1
        for layer, state in zip(layers, saved):
            layer.__dict__.clear()
            layer.__dict__.update(state)
        for var, name in names:
            var.name = name


def _symbolic_input(input_shape: Any, dtype: str) -> Any:
    """A symbolic tensor of static shape ``input_shape`` (a list of them for a list of
    shapes), to trace a layer on."""
    if isinstance(input_shape, list):
        return [TensorVariable(TensorType(dtype, tuple(s))) for s in input_shape]
    return TensorVariable(TensorType(dtype, tuple(input_shape)))


def _static_shape(x: Any) -> Any:
    """The static shape of a tensor, or a list of them for several outputs."""
    if isinstance(x, TensorVariable):
        return x.type.shape
    if isinstance(x, (list, tuple)):
        return [_static_shape(v) for v in x]
    return None


def _flatten_layers(values: Any) -> list:
    out = []
    for v in values:
        if isinstance(v, Layer):
            out.append(v)
        elif isinstance(v, (list, tuple)):
            out.extend(_flatten_layers(v))
    return out


def _short(v: Any) -> str:
    if callable(v) and not isinstance(v, (Layer, _init.Initializer, type)):
        return _activations.name_of(v)
    return repr(v)


__all__ = ["Layer", "to_jsonable"]
