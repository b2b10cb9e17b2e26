"""The :class:`Optimizer` base class: hyper-parameters and state as shared variables,
gradient collection and checks, and the stable state names checkpoints rely on."""
from __future__ import annotations

import difflib
import inspect
from collections import OrderedDict
from typing import Any, Callable, Sequence

import numpy as np

from ..config import config
from ..core.gradient import DisconnectedInputError, grad, is_disconnected
from ..core.graph import Variable
from ..core.ops.elemwise import cast
from ..core.shared import SharedVariable
from ..core.types import TensorType, is_float_dtype
from ..core.variable import TensorVariable, as_tensor_variable

__all__ = ["Optimizer", "Hyperparameter", "check_kwargs", "collect_grads", "check_params",
           "compute_dtype"]

#: Names PyTorch or Keras users type, and what nnthe calls them.
_ALIASES = {
    "lr": "learning_rate",
    "eps": "epsilon",
    "betas": "beta1=..., beta2=...",
    "initial_accumulator": "initial_accumulator_value",
    "max_norm": "clip_norm",
    "clipnorm": "clip_norm",
    "clipvalue": "clip_value",
}


class Hyperparameter(SharedVariable):
    """A float scalar shared variable holding a hyper-parameter (learning rate, ...).

    ``set_value`` accepts any real number, Python or NumPy (0-d arrays included), refuses
    non-finite ones, and leaves the rounding to the dtype to
    :meth:`SharedVariable.set_value` (which converts Python numbers).
    """

    __slots__ = ()

    def set_value(self, value: Any, borrow: bool = False) -> None:
        """Set the value, rounding a number to the dtype.

        Raises
        ------
        TypeError
            If ``value`` is not a real number or 0-d array.
        ValueError
            If ``value`` is not finite.
        """
        if isinstance(value, Variable):
            raise TypeError(f"set_value of hyper-parameter {self.name}: expected a number, got "
                            f"the symbolic variable {value!r}")
        arr = np.asarray(value)
        if arr.ndim != 0 or arr.dtype.kind not in "biuf":
            raise TypeError(f"set_value of hyper-parameter {self.name}: expected a real number, "
                            f"got {value!r} ({type(value).__name__})")
        if not np.isfinite(arr):
            raise ValueError(f"set_value of hyper-parameter {self.name}: expected a finite "
                             f"number, got {value!r}")
        super().set_value(arr.item())


def make_hyperparameter(value: Any, name: str) -> SharedVariable:
    """``value`` as a float scalar shared variable (a given one is used as it is)."""
    if isinstance(value, SharedVariable):
        if value.type.ndim != 0 or not is_float_dtype(value.type.dtype):
            raise TypeError(f"hyper-parameter {name}: expected a float scalar shared variable, "
                            f"got {value!r} of type {value.type}")
        return value
    if isinstance(value, Variable):
        raise TypeError(f"hyper-parameter {name}: expected a number or a shared variable, got "
                        f"the symbolic variable {value!r}; use nnthe.shared(...) so it can change")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"hyper-parameter {name}: expected a number, got {value!r} "
                        f"({type(value).__name__})")
    if not np.isfinite(value):
        raise ValueError(f"hyper-parameter {name}: expected a finite number, got {value!r}")
    arr = np.asarray(value, dtype=config.floatX)
    return Hyperparameter(TensorType(arr.dtype.name, ()), arr, name=name)


def check_kwargs(kwargs: dict, func: Callable, what: str) -> None:
    """Refuse unknown keyword arguments with a "did you mean" hint.

    Raises
    ------
    TypeError
        Naming the unknown arguments and the closest known ones.
    """
    if not kwargs:
        return
    known = [p for p, v in inspect.signature(func).parameters.items()
             if v.kind in (v.POSITIONAL_OR_KEYWORD, v.KEYWORD_ONLY) and p != "self"]
    msgs = []
    for key in kwargs:
        if key in _ALIASES and (_ALIASES[key] in known or "=" in _ALIASES[key]):
            hint = f"; did you mean {_ALIASES[key]}?"
        else:
            close = difflib.get_close_matches(key, known, n=2, cutoff=0.5)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
        msgs.append(f"{key!r}{hint}")
    raise TypeError(f"{what} got unexpected keyword argument(s) {', '.join(msgs)} "
                    f"(known: {', '.join(known)})")


def check_params(params: Any, what: str) -> list[SharedVariable]:
    """``params`` as a list of distinct float shared variables.

    Raises
    ------
    TypeError
        If ``params`` is not a sequence, or an entry is not a float SharedVariable.
    ValueError
        If ``params`` is empty or lists a variable twice.
    """
    if isinstance(params, Variable):
        params = [params]
    if isinstance(params, (str, bytes, dict)) or not isinstance(params, Sequence):
        raise TypeError(f"{what}: params must be a list of shared variables, got "
                        f"{type(params).__name__}")
    params = list(params)
    if not params:
        raise ValueError(f"{what}: params is empty; pass the shared variables to train")
    seen: dict[int, int] = {}
    for i, p in enumerate(params):
        if not isinstance(p, SharedVariable):
            raise TypeError(
                f"{what}: params[{i}] ({p!r}, {type(p).__name__}) is not a shared variable; "
                "optimizers update persistent values, create them with nnthe.shared(...)")
        if not is_float_dtype(p.type.dtype):
            raise TypeError(f"{what}: params[{i}] ({p!r}) has dtype {p.type.dtype}; only float "
                            "parameters can be trained")
        if id(p) in seen:
            raise ValueError(f"{what}: params[{seen[id(p)]}] and params[{i}] are the same "
                             f"variable {p!r}; list each parameter once")
        seen[id(p)] = i
    return params


def collect_grads(loss_or_grads: Any, params: list[SharedVariable], what: str) -> list[TensorVariable]:
    """The gradients of ``loss_or_grads`` (a scalar loss, or one gradient per param), each
    with its parameter's dtype and number of dimensions.

    Raises
    ------
    DisconnectedInputError
        If the loss does not depend on some parameters (all are named).
    ValueError
        If the number of gradients differs from the number of parameters, or a static
        shape differs.
    TypeError
        If a gradient's number of dimensions differs from its parameter's.
    """
    if isinstance(loss_or_grads, (list, tuple)):
        if len(loss_or_grads) != len(params):
            raise ValueError(f"{what}: got {len(loss_or_grads)} gradients for {len(params)} "
                             "parameters; pass one gradient per parameter, in the same order")
        grads = []
        for i, (g, p) in enumerate(zip(loss_or_grads, params)):
            g = as_tensor_variable(g)
            if g.type.ndim != p.type.ndim:
                raise TypeError(f"{what}: the gradient of params[{i}] ({p!r}) has {g.type.ndim} "
                                f"dimensions, the parameter {p.type.ndim}")
            for a, b in zip(g.type.shape, p.type.shape):
                if a is not None and b is not None and a != b:
                    raise ValueError(f"{what}: the gradient of params[{i}] ({p!r}) has static "
                                     f"shape {g.type.shape}, the parameter {p.type.shape}")
            grads.append(g)
    else:
        if not isinstance(loss_or_grads, Variable):
            raise TypeError(f"{what}: expected a scalar loss or a list of gradients, got "
                            f"{type(loss_or_grads).__name__}")
        raw = grad(loss_or_grads, params, disconnected_inputs="ignore",
                   return_disconnected="disconnected")
        missing = [f"params[{i}] ({p!r})" for i, (p, g) in enumerate(zip(params, raw))
                   if is_disconnected(g)]
        if missing:
            raise DisconnectedInputError(
                f"{what}: the loss does not depend on {', '.join(missing)}. Leave them out of "
                "params, or pass gradients (nnthe.grad(loss, params, "
                "disconnected_inputs='ignore')) instead of the loss")
        grads = list(raw)
    return [g if g.type.dtype == p.type.dtype else cast(g, p.type.dtype)
            for g, p in zip(grads, params)]


#: Parameter dtypes whose update is computed (and whose state is kept) in a wider dtype.
#: In float16, epsilon = 1e-8 rounds to 0 and g**2 underflows below |g| = 2.4e-4, so
#: Adam's m / (sqrt(v) + eps) is 0/0 or x/0: torch.optim on float16 parameters gives
#: inf and NaN there. The mixed-precision recipe is float32 arithmetic and state with the
#: parameter rounded to float16 after each step.
_COMPUTE_DTYPES = {"float16": "float32"}


def compute_dtype(dtype: str) -> str:
    """The dtype an optimizer computes the update of a ``dtype`` parameter in."""
    return _COMPUTE_DTYPES.get(dtype, dtype)


class Optimizer:
    """Base class of the optimizers: turns a loss and parameters into update rules.

    Subclasses declare their hyper-parameters in ``__init__`` through
    :meth:`_add_hyper` and implement :meth:`_param_updates`. Hyper-parameters are
    float scalar shared variables (:attr:`hyperparams`), so a change
    (``opt.learning_rate.set_value(0.01)``, ``opt.lr = 0.01`` or a schedule) takes
    effect in already compiled functions. float16 parameters are updated in float32
    arithmetic from float32 state, and the new value is rounded to float16 (what mixed
    precision needs: in float16, Adam's epsilon and small squared gradients are 0). The
    state (moments, step count) is shared variables too (:attr:`state`), named ``"<param name>/<slot>"`` (``"0/W/m"``) when
    all parameters have distinct names, else ``"param<i>/<slot>"``; global state is
    ``"step"``.

    Parameters
    ----------
    clip_value : float, optional
        Clip each gradient element to ``[-clip_value, clip_value]`` before the rule.
    clip_norm : float, optional
        Rescale the gradients so their global L2 norm is at most ``clip_norm``
        (:func:`~nnthe.optim.clipping.total_norm_constraint`), after ``clip_value``.
    """

    #: Whether the rule needs the global step counter (state ``"step"``).
    uses_step = False

    def __init__(self, clip_value: float | None = None, clip_norm: float | None = None) -> None:
        self._hyper: OrderedDict[str, SharedVariable] = OrderedDict()
        self._state: OrderedDict[str, SharedVariable] = OrderedDict()
        self._params: list[SharedVariable] | None = None
        self._prefixes: list[str] = []
        for name, v in (("clip_value", clip_value), ("clip_norm", clip_norm)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float, np.number))
                                  or not v > 0):
                raise ValueError(f"{type(self).__name__}: {name} must be a positive number or "
                                 f"None, got {v!r}")
        self.clip_value = clip_value
        self.clip_norm = clip_norm

    # -- hyper-parameters ------------------------------------------------------------
    def _add_hyper(self, name: str, value: Any, minimum: float | None = 0.0,
                   maximum: float | None = None) -> SharedVariable:
        """Register hyper-parameter ``name``; numbers are range-checked."""
        if minimum is not None or maximum is not None:
            if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
                lo_ok = minimum is None or value >= minimum
                hi_ok = maximum is None or value < maximum
                if not (lo_ok and hi_ok):
                    rng = f"[{minimum if minimum is not None else '-inf'}, " \
                          f"{maximum if maximum is not None else 'inf'}" \
                          f"{')' if maximum is not None else ']'}"
                    raise ValueError(f"{type(self).__name__}: {name} must be in {rng}, got {value!r}")
        var = make_hyperparameter(value, name)
        self._hyper[name] = var
        setattr(self, name, var)
        return var

    @property
    def hyperparams(self) -> OrderedDict[str, SharedVariable]:
        """The hyper-parameters by name (``learning_rate``, ``momentum``, ``beta1``, ...)."""
        return OrderedDict(self._hyper)

    @property
    def state(self) -> OrderedDict[str, SharedVariable]:
        """The state shared variables by stable name (empty before :meth:`updates`)."""
        return OrderedDict(self._state)

    @property
    def params(self) -> list[SharedVariable] | None:
        """The parameters the state belongs to (None before :meth:`updates`)."""
        return None if self._params is None else list(self._params)

    @property
    def lr(self) -> float:
        """The current learning rate as a Python float; assigning sets the shared value."""
        return float(self._hyper["learning_rate"].get_value(borrow=True))

    @lr.setter
    def lr(self, value: float) -> None:
        self._hyper["learning_rate"].set_value(value)

    def _dtype(self, p: SharedVariable) -> str:
        """The dtype the update of ``p`` is computed in (see :func:`compute_dtype`)."""
        return compute_dtype(p.type.dtype)

    def _h(self, name: str, dtype: str) -> TensorVariable:
        """Hyper-parameter ``name`` in ``dtype`` (an explicit cast, so no upcast warning)."""
        var = self._hyper[name]
        return var if var.type.dtype == dtype else cast(var, dtype)

    # -- state -----------------------------------------------------------------------
    def _slot(self, index: int, slot: str, fill: float = 0.0) -> SharedVariable:
        """The state variable ``slot`` of parameter ``index`` (created on first use)."""
        key = f"{self._prefixes[index]}/{slot}"
        var = self._state.get(key)
        if var is None:
            p = self._params[index]  # type: ignore[index]
            dtype = self._dtype(p)
            value = np.full(p.get_value(borrow=True).shape, fill, dtype=dtype)
            var = SharedVariable(TensorType(dtype, p.type.shape), value, name=key)
            self._state[key] = var
        return var

    def _step(self) -> SharedVariable:
        var = self._state.get("step")
        if var is None:
            var = SharedVariable(TensorType("int64", ()), np.asarray(0, dtype="int64"), name="step")
            self._state["step"] = var
        return var

    def _bind(self, params: list[SharedVariable]) -> None:
        if self._params is not None:
            if len(params) != len(self._params) or any(a is not b for a, b in zip(params, self._params)):
                raise ValueError(
                    f"{type(self).__name__}.updates: this optimizer's state belongs to "
                    f"{self._params}, got {params}; create one optimizer per parameter list")
            return
        names = [p.name for p in params]
        if all(n is not None for n in names) and len(set(names)) == len(names):
            self._prefixes = list(names)  # type: ignore[arg-type]
        else:
            self._prefixes = [f"param{i}" for i in range(len(params))]
        self._params = params
        if self.uses_step:
            self._step()
        # Create every slot now, so the state's order and names do not depend on which
        # expressions a rule happens to build first.
        for i in range(len(params)):
            for slot, fill in self._slots():
                self._slot(i, slot, fill)

    def _slots(self) -> list[tuple[str, float]]:
        """The per-parameter state slots of this rule, with their initial values."""
        return []

    # -- updates ---------------------------------------------------------------------
    def updates(self, loss_or_grads: Any, params: Sequence[SharedVariable]) -> OrderedDict:
        """The update expressions of one optimization step.

        Parameters
        ----------
        loss_or_grads : scalar Variable or list of Variables
            The loss to minimize, or the gradients of the parameters (in order).
        params : list of SharedVariable
            The parameters to update. A second call must pass the same list (the state
            is reused); use one optimizer per parameter list.

        Returns
        -------
        OrderedDict
            ``{shared variable: new value expression}`` for the parameters and the
            state, to pass to ``nnthe.function(..., updates=...)``.

        Raises
        ------
        TypeError
            If a parameter is not a float shared variable.
        ValueError
            If gradients and parameters differ in number, or the parameter list differs
            from the one of an earlier call.
        DisconnectedInputError
            If the loss does not depend on a parameter.
        """
        what = f"{type(self).__name__}.updates"
        params = check_params(params, what)
        grads = collect_grads(loss_or_grads, params, what)
        self._bind(params)
        grads = [g if g.type.dtype == self._dtype(p) else cast(g, self._dtype(p))
                 for g, p in zip(grads, params)]
        grads = self._transform_grads(grads)
        updates: OrderedDict = OrderedDict()
        t = None
        if self.uses_step:
            step = self._step()
            t = step + 1
            updates[step] = t
        for i, (p, g) in enumerate(zip(params, grads)):
            self._param_updates(i, p, g, updates, t)
            if updates[p].type.dtype != p.type.dtype:
                updates[p] = cast(updates[p], p.type.dtype)  # float32 arithmetic, float16 p
        return updates

    def _transform_grads(self, grads: list[TensorVariable]) -> list[TensorVariable]:
        from .clipping import clip_by_value, total_norm_constraint

        if self.clip_value is not None:
            grads = clip_by_value(grads, self.clip_value)
        if self.clip_norm is not None:
            grads = total_norm_constraint(grads, self.clip_norm)
        return grads

    def _param_updates(self, i: int, p: SharedVariable, g: TensorVariable,
                       updates: OrderedDict, t: TensorVariable | None) -> None:
        """Write the new values of parameter ``i`` and its slots into ``updates``."""
        raise NotImplementedError

    def _coupled_decay(self, p: SharedVariable, g: TensorVariable) -> TensorVariable:
        """``g + weight_decay * p`` (L2 regularization as in torch), when enabled."""
        if self._decay_in_graph:
            return g + self._h("weight_decay", self._dtype(p)) * p
        return g

    def _init_decay(self, weight_decay: Any) -> None:
        self._add_hyper("weight_decay", weight_decay)
        # A literal 0 leaves the term out of the graph (it costs two passes over every
        # parameter per step); a shared variable is always used.
        self._decay_in_graph = isinstance(weight_decay, SharedVariable) or weight_decay != 0

    def __repr__(self) -> str:
        hp = ", ".join(f"{k}={float(v.get_value(borrow=True)):.6g}" for k, v in self._hyper.items())
        return f"{type(self).__name__}({hp})"
