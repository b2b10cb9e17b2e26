"""Elementwise operations with NumPy broadcasting.

Each elementwise function is a :class:`ScalarOp` — a NumPy implementation, a dtype rule
and a one-line gradient rule — wrapped by the :class:`Elemwise` op, which does what all of
them share: dtype resolution (weak Python scalars, no silent float64), static
broadcasting checks, and undoing broadcasting in the gradient.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from ...config import config
from ..graph import Apply, Op, Variable
from ..types import (DTYPE_ORIGIN, disconnected_type, fmt_shape, is_discrete_dtype,
                     is_float_dtype, normalize_dtype, TensorType, upcast, warn_float64_upcast)
from ..variable import TensorVariable, as_tensor_variable, is_weak, retype_weak

GradRule = Callable[[list, Variable, Variable], list]


class ScalarOp:
    """The per-element part of an elementwise op.

    Parameters
    ----------
    name : str
        The function's name (``'add'``, ``'exp'``, ...).
    nin : int
        Number of inputs.
    impl : callable
        The NumPy implementation (usually a ufunc, called directly by compiled code).
    kind : str
        The dtype rule: ``'same'`` (result has the inputs' common dtype), ``'float'``
        (integers are computed as ``floatX``), ``'compare'`` (common dtype in, bool out),
        ``'logical'`` (any dtype in, bool out), ``'switch'`` (bool condition, then 'same').
    grad : callable
        ``grad(inputs, output, output_grad) -> [input grads]`` building graph nodes, with
        None for an input the output does not depend on differentiably.
    symbol, precedence : str, int
        Infix form for pretty printing.
    """

    def __init__(self, name: str, nin: int, impl: Callable, kind: str, grad: GradRule | None,
                 symbol: str | None = None, precedence: int = 0) -> None:
        self.name = name
        self.nin = nin
        self.impl = impl
        self.kind = kind
        self.grad_rule = grad
        self.symbol = symbol
        self.precedence = precedence

    def __repr__(self) -> str:
        return self.name

    def __reduce__(self):  # scalar ops are module-level singletons
        return (_scalar_op_by_name, (self.name,))


_SCALAR_OPS: dict[str, ScalarOp] = {}


def _scalar_op_by_name(name: str) -> ScalarOp:
    return _SCALAR_OPS[name]


def broadcast_static_shapes(shapes: Sequence[tuple], what: str,
                            inputs: Sequence[Variable] | None = None) -> tuple:
    """The static shape of NumPy-broadcasting ``shapes``; ValueError if they cannot be."""
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for d in range(ndim):
        known: set[int] = set()
        unknown = False
        for s in shapes:
            k = d - (ndim - len(s))
            if k < 0:
                continue
            if s[k] is None:
                unknown = True
            elif s[k] != 1:
                known.add(s[k])
        if len(known) > 1:
            given = ", ".join(
                f"{v!r}: {fmt_shape(s)}" if inputs is not None else fmt_shape(s)
                for v, s in zip(inputs or [None] * len(shapes), shapes))
            raise ValueError(
                f"{what}: shapes cannot be broadcast together ({given}); dimension "
                f"{d} has sizes {sorted(known)}"
            )
        if known:
            out.append(known.pop())
        elif unknown:
            out.append(None)
        else:
            out.append(1)
    return tuple(out)


class Elemwise(Op):
    """Apply a :class:`ScalarOp` elementwise, with NumPy broadcasting."""

    __props__ = ("scalar_op",)

    def __init__(self, scalar_op: ScalarOp) -> None:
        self.scalar_op = scalar_op

    def __str__(self) -> str:
        return self.scalar_op.name

    __repr__ = __str__

    def make_node(self, *inputs: Any) -> Apply:
        so = self.scalar_op
        if len(inputs) != so.nin:
            raise TypeError(f"{so.name} takes {so.nin} inputs, got {len(inputs)}")
        inputs = resolve_dtypes([as_tensor_variable(i) for i in inputs], so.kind, so.name)
        if so.kind in ("compare", "logical"):
            out_dtype = "bool"
        else:
            # resolve_dtypes left only operands that NumPy promotes to the result dtype.
            values = inputs[1:] if so.kind == "switch" else inputs
            out_dtype = np.result_type(*[i.type.numpy_dtype for i in values]).name
        shape = broadcast_static_shapes([i.type.shape for i in inputs], so.name, inputs)
        return Apply(self, inputs, [TensorType(out_dtype, shape)])

    def make_thunk(self, node: Apply) -> Callable:
        return self.scalar_op.impl

    def perform(self, node: Apply, *inputs: Any) -> Any:
        return self.scalar_op.impl(*inputs)

    def L_op(self, node, inputs, outputs, output_grads):
        rule = self.scalar_op.grad_rule
        if rule is None:
            return [disconnected_type() for _ in inputs]
        grads = rule(inputs, outputs[0], output_grads[0])
        result = []
        for x, g in zip(inputs, grads):
            if g is None or is_discrete_dtype(x.type.dtype):
                result.append(disconnected_type())
            else:
                result.append(reduce_grad_to(as_tensor_variable(g), x, inputs))
        return result

    def connection_pattern(self, node):
        if self.scalar_op.kind in ("compare", "logical"):
            return [[False] for _ in node.inputs]
        if self.scalar_op.kind == "switch":
            return [[False], [True], [True]]
        return None

    def infer_shape(self, node, input_shapes):
        out_shape = []
        ndim = node.outputs[0].type.ndim
        for d in range(ndim):
            static = node.outputs[0].type.shape[d]
            if static is not None:
                out_shape.append(static)
                continue
            cands = []
            for inp, shp in zip(node.inputs, input_shapes):
                k = d - (ndim - inp.type.ndim)
                if k >= 0 and inp.type.shape[k] != 1:
                    cands.append(shp[k])
            dim = cands[0]
            for c in cands[1:]:
                dim = maximum(dim, c)
            out_shape.append(dim)
        return [tuple(out_shape)]

    def pretty(self, inputs: list[str]) -> str | None:
        so = self.scalar_op
        if so.symbol is None:
            return None
        if so.nin == 1:
            return f"{so.symbol}{inputs[0]}"
        return f"({inputs[0]} {so.symbol} {inputs[1]})"


#: Ops that NumPy would compute on booleans as logical ones (True + True is True there);
#: nnthe counts instead, as Python and PyTorch do.
_BOOL_ARITHMETIC = frozenset(["add", "sub", "neg", "int_div", "mod", "pow", "sqr"])


def resolve_dtypes(inputs: list[TensorVariable], kind: str, what: str) -> list[TensorVariable]:
    """Cast ``inputs`` to the dtype ``kind`` computes in (see :class:`ScalarOp`).

    Weak constants (Python numbers) take the dtype of the strong operands; integers never
    widen floats; a promotion of float32 to float64 is warned about.
    """
    if kind == "logical":
        return inputs
    if kind == "switch":
        cond = inputs[0]
        if cond.type.dtype != "bool":
            cond = neq(cond, 0) if not is_weak(cond) else retype_weak(cond, "bool")
        return [cond] + resolve_dtypes(inputs[1:], "same", what)
    strong = [i for i in inputs if not is_weak(i)]
    pool = strong or inputs
    dtype = upcast(*[i.type.dtype for i in pool])
    if strong and any(is_float_dtype(i.type.dtype) for i in inputs if is_weak(i)) \
            and not is_float_dtype(dtype):
        dtype = upcast(dtype, config.floatX)
    if kind == "float" and not is_float_dtype(dtype):
        dtype = config.floatX
    elif kind == "same" and dtype == "bool" and what in _BOOL_ARITHMETIC:
        dtype = "int64"
    warn_float64_upcast(strong, dtype, what)
    # When one operand already has the result dtype, NumPy's ufunc loop converts the
    # others itself if they fit losslessly (a bool mask or int8 times float32 computes
    # in float32): an explicit Cast would cost a pass and a buffer for nothing.
    anchored = any(i.type.dtype == dtype for i in inputs)
    out = []
    for i in inputs:
        if i.type.dtype == dtype:
            out.append(i)
        elif is_weak(i):
            out.append(retype_weak(i, dtype))
        elif anchored and kind != "compare" and np.promote_types(i.type.dtype, dtype) == dtype:
            out.append(i)
        else:
            out.append(cast(i, dtype))
    return out


# ---------------------------------------------------------------------------------------
# Cast
# ---------------------------------------------------------------------------------------

class Cast(Op):
    """Convert to another dtype (``x.astype(dtype)``)."""

    __props__ = ("dtype",)

    def __init__(self, dtype: str) -> None:
        self.dtype = normalize_dtype(dtype)
        self._np = np.dtype(self.dtype)

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        return Apply(self, [x], [TensorType(self.dtype, x.type.shape)])

    def perform(self, node, x):
        return np.asarray(x).astype(self._np)

    def make_thunk(self, node):
        dt = self._np
        return lambda x: np.asarray(x).astype(dt)

    def L_op(self, node, inputs, outputs, output_grads):
        x = inputs[0]
        if is_discrete_dtype(x.type.dtype) or is_discrete_dtype(self.dtype):
            return [disconnected_type()]
        return [cast(output_grads[0], x.type.dtype)]

    def connection_pattern(self, node):
        discrete = is_discrete_dtype(node.inputs[0].type.dtype) or is_discrete_dtype(self.dtype)
        return [[not discrete]]

    def infer_shape(self, node, input_shapes):
        return input_shapes

    def __str__(self) -> str:
        return f"Cast{{{self.dtype}}}"


def cast(x: Any, dtype: Any) -> TensorVariable:
    """``x`` converted to ``dtype`` (no node when it already has that dtype)."""
    dtype = normalize_dtype(dtype)
    if isinstance(x, Variable):
        x = as_tensor_variable(x)
        if x.type.dtype == dtype:
            return x
        out = Cast(dtype)(x)
        out.tag[DTYPE_ORIGIN] = "chosen"  # a cast asks for its dtype: no upcast warning
        return out
    return as_tensor_variable(x, dtype=dtype)


# ---------------------------------------------------------------------------------------
# The scalar ops and their gradient rules.
# ---------------------------------------------------------------------------------------

def _erf_impl(x):
    x = np.asarray(x)
    out = _erf_vec(x)
    return out.astype(x.dtype, copy=False)


_erf_vec = np.vectorize(math.erf, otypes=[np.float64])


def _sigmoid_impl(x):
    # With e = exp(-|x|) <= 1 nothing overflows (1 / (1 + exp(-x)) does for x < -88 in
    # float32) and both tails keep their relative accuracy: 1 / (1 + e) for x >= 0,
    # e / (1 + e) below. One exp instead of logaddexp's exp and log1p: 2.8x faster.
    e = np.exp(-np.abs(x))
    r = 1 / (1 + e)
    return np.where(x >= 0, r, e * r)


def _softplus_impl(x):
    return np.logaddexp(0, x)


def _where_impl(c, a, b):
    return np.where(c, a, b)


#: ``{scalar op name: [rule(*args) -> Variable or None]}``: expressions that are built in a
#: stable form when the user writes them, e.g. ``log(sigmoid(x))`` as ``-softplus(-x)``.
#: A compile-time rewrite would come too late for these: ``grad`` differentiates the graph
#: as written, and the gradient of the naive form is already inf/NaN (``g / p``, p = 0).
#: Other op families (softmax in :mod:`nnthe.core.nnet`) add rules with :func:`stable_form`.
STABLE_FORMS: dict[str, list[Callable[..., Any]]] = {}


def stable_form(name: str) -> Callable[[Callable], Callable]:
    """Decorator: register ``rule(*args)`` as a stable form of the elementwise ``name``."""
    def deco(rule: Callable) -> Callable:
        STABLE_FORMS.setdefault(name, []).append(rule)
        return rule
    return deco


def _register(name: str, nin: int, impl: Callable, kind: str, grad: GradRule | None,
              symbol: str | None = None, precedence: int = 0) -> Callable[..., TensorVariable]:
    so = ScalarOp(name, nin, impl, kind, grad, symbol, precedence)
    _SCALAR_OPS[name] = so
    op = Elemwise(so)

    def fn(*args: Any) -> TensorVariable:
        for rule in STABLE_FORMS.get(name, ()):
            stable = rule(*args)
            if stable is not None:
                return stable
        return op(*args)

    fn.__name__ = name
    fn.op = op  # type: ignore[attr-defined]
    fn.__doc__ = f"Elementwise ``{name}`` with NumPy broadcasting."
    return fn


def _zero(x):
    return x.zeros_like()


def _log_pos(x):
    """log(x) where x > 0, else 0: the factor of d(x**y)/dy, which is 0 at x = 0."""
    return log(switch(gt(x, 0), x, 1))


neg = _register("neg", 1, np.negative, "same", lambda i, z, g: [-g], "-", 7)
abs = _register("abs", 1, np.absolute, "same", lambda i, z, g: [g * sign(i[0])])
sign = _register("sign", 1, np.sign, "same", lambda i, z, g: [_zero(i[0])])
floor = _register("floor", 1, np.floor, "same", lambda i, z, g: [_zero(i[0])])
ceil = _register("ceil", 1, np.ceil, "same", lambda i, z, g: [_zero(i[0])])
round = _register("round", 1, np.rint, "same", lambda i, z, g: [_zero(i[0])])
trunc = _register("trunc", 1, np.trunc, "same", lambda i, z, g: [_zero(i[0])])
exp = _register("exp", 1, np.exp, "float", lambda i, z, g: [g * z])
exp2 = _register("exp2", 1, np.exp2, "float", lambda i, z, g: [g * z * math.log(2.0)])
log = _register("log", 1, np.log, "float", lambda i, z, g: [g / i[0]])
log2 = _register("log2", 1, np.log2, "float", lambda i, z, g: [g / (i[0] * math.log(2.0))])
log10 = _register("log10", 1, np.log10, "float", lambda i, z, g: [g / (i[0] * math.log(10.0))])
log1p = _register("log1p", 1, np.log1p, "float", lambda i, z, g: [g / (i[0] + 1)])
expm1 = _register("expm1", 1, np.expm1, "float", lambda i, z, g: [g * (z + 1)])
sqrt = _register("sqrt", 1, np.sqrt, "float", lambda i, z, g: [g * 0.5 / z])
sqr = _register("sqr", 1, np.square, "same", lambda i, z, g: [g * 2 * i[0]])
reciprocal = _register("reciprocal", 1, np.reciprocal, "float", lambda i, z, g: [-g * sqr(z)])
sin = _register("sin", 1, np.sin, "float", lambda i, z, g: [g * cos(i[0])])
cos = _register("cos", 1, np.cos, "float", lambda i, z, g: [-g * sin(i[0])])
tan = _register("tan", 1, np.tan, "float", lambda i, z, g: [g * (1 + sqr(z))])
arcsin = _register("arcsin", 1, np.arcsin, "float", lambda i, z, g: [g / sqrt(1 - sqr(i[0]))])
arccos = _register("arccos", 1, np.arccos, "float", lambda i, z, g: [-g / sqrt(1 - sqr(i[0]))])
arctan = _register("arctan", 1, np.arctan, "float", lambda i, z, g: [g / (1 + sqr(i[0]))])
sinh = _register("sinh", 1, np.sinh, "float", lambda i, z, g: [g * cosh(i[0])])
cosh = _register("cosh", 1, np.cosh, "float", lambda i, z, g: [g * sinh(i[0])])
tanh = _register("tanh", 1, np.tanh, "float", lambda i, z, g: [g * (1 - sqr(z))])
sigmoid = _register("sigmoid", 1, _sigmoid_impl, "float", lambda i, z, g: [g * z * (1 - z)])
softplus = _register("softplus", 1, _softplus_impl, "float", lambda i, z, g: [g * sigmoid(i[0])])
erf = _register("erf", 1, _erf_impl, "float",
                lambda i, z, g: [g * (2.0 / math.sqrt(math.pi)) * exp(-sqr(i[0]))])

add = _register("add", 2, np.add, "same", lambda i, z, g: [g, g], "+", 4)
sub = _register("sub", 2, np.subtract, "same", lambda i, z, g: [g, -g], "-", 4)
mul = _register("mul", 2, np.multiply, "same", lambda i, z, g: [g * i[1], g * i[0]], "*", 5)
true_div = _register("true_div", 2, np.true_divide, "float",
                      lambda i, z, g: [g / i[1], -g * z / i[1]], "/", 5)
int_div = _register("int_div", 2, np.floor_divide, "same",
                    lambda i, z, g: [_zero(i[0]), _zero(i[1])], "//", 5)
mod = _register("mod", 2, np.mod, "same",
                lambda i, z, g: [g, -g * int_div(i[0], i[1])], "%", 5)
pow = _register("pow", 2, np.power, "same",
                lambda i, z, g: [g * i[1] * i[0] ** (i[1] - 1), g * z * _log_pos(i[0])], "**", 6)
maximum = _register("maximum", 2, np.maximum, "same",
                    lambda i, z, g: [g * ge(i[0], i[1]), g * lt(i[0], i[1])])
minimum = _register("minimum", 2, np.minimum, "same",
                    lambda i, z, g: [g * le(i[0], i[1]), g * gt(i[0], i[1])])
arctan2 = _register("arctan2", 2, np.arctan2, "float",
                    lambda i, z, g: [g * i[1] / (sqr(i[0]) + sqr(i[1])),
                                     -g * i[0] / (sqr(i[0]) + sqr(i[1]))])

eq = _register("eq", 2, np.equal, "compare", None, "==", 3)
neq = _register("neq", 2, np.not_equal, "compare", None, "!=", 3)
lt = _register("lt", 2, np.less, "compare", None, "<", 3)
le = _register("le", 2, np.less_equal, "compare", None, "<=", 3)
gt = _register("gt", 2, np.greater, "compare", None, ">", 3)
ge = _register("ge", 2, np.greater_equal, "compare", None, ">=", 3)
logical_and = _register("logical_and", 2, np.logical_and, "logical", None, "&", 2)
logical_or = _register("logical_or", 2, np.logical_or, "logical", None, "|", 1)
logical_xor = _register("logical_xor", 2, np.logical_xor, "logical", None, "^", 1)
logical_not = _register("logical_not", 1, np.logical_not, "logical", None, "~", 7)
isnan = _register("isnan", 1, np.isnan, "logical", None)
isinf = _register("isinf", 1, np.isinf, "logical", None)
isfinite = _register("isfinite", 1, np.isfinite, "logical", None)

switch = _register("switch", 3, _where_impl, "switch",
                   lambda i, z, g: [None, switch(i[0], g, 0), switch(i[0], 0, g)])
where = switch

clip = _register(
    "clip", 3, np.clip, "same",
    lambda i, z, g: [g * logical_and(ge(i[0], i[1]), le(i[0], i[2])),
                     g * lt(i[0], i[1]), g * gt(i[0], i[2])])



# -- stable forms (see STABLE_FORMS) -----------------------------------------------------

def _is_one(v: Any) -> bool:
    """True for the number 1 or a constant whose only element is 1."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v == 1
    data = getattr(v, "data", None)
    return isinstance(v, Variable) and data is not None and np.size(data) == 1 \
        and float(np.asarray(data).reshape(-1)[0]) == 1.0


def _owner_op_is(v: Any, fn: Callable) -> bool:
    return isinstance(v, Variable) and v.owner is not None and v.owner.op == fn.op


@stable_form("log")
def _log_of_sigmoid(x: Any) -> TensorVariable | None:
    """``log(sigmoid(x))`` -> ``-softplus(-x)``; ``log(1 - sigmoid(x))`` -> ``-softplus(x)``."""
    if _owner_op_is(x, sigmoid):
        return neg(softplus(neg(x.owner.inputs[0])))
    if _owner_op_is(x, sub):
        one, s = x.owner.inputs
        if _is_one(one) and _owner_op_is(s, sigmoid) and s.type == x.type:
            return neg(softplus(s.owner.inputs[0]))
    return None


@stable_form("true_div")
def _one_over_one_plus_exp(a: Any, b: Any) -> TensorVariable | None:
    """``1 / (1 + exp(a))`` (the logistic function as the Theano tutorials write it) ->
    ``sigmoid(-a)``, which does not round to exactly 0 or 1."""
    if not _is_one(a) or not _owner_op_is(b, add):
        return None
    one, e = b.owner.inputs
    if not _is_one(one):
        e, one = one, e
    if _is_one(one) and _owner_op_is(e, exp):
        s = sigmoid(neg(e.owner.inputs[0]))
        if s.type == b.type:
            return s
    return None


def true_divide(a: Any, b: Any) -> TensorVariable:
    return true_div(a, b)


def floor_div(a: Any, b: Any) -> TensorVariable:
    return int_div(a, b)


def inv(x: Any) -> TensorVariable:
    return reciprocal(x)


def add_n(*terms: Any) -> TensorVariable:
    """The sum of several tensors (a chain of ``add``)."""
    if not terms:
        raise TypeError("add_n needs at least one term")
    total = terms[0]
    for t in terms[1:]:
        total = add(total, t)
    return as_tensor_variable(total)


__all__ = [n for n in list(globals()) if not n.startswith("_")]


# ---------------------------------------------------------------------------------------
# Undoing broadcasting in gradients.
# ---------------------------------------------------------------------------------------

class SumToShape(Op):
    """Sum ``g`` down to ``shape`` by summing the axes broadcasting added or stretched.

    Used by gradients when static shapes cannot tell whether an input was broadcast:
    a None dimension may be 1 at run time. When no broadcasting happened it returns ``g``
    unchanged, at the cost of one shape comparison.
    """

    __props__ = ("out_shape",)
    view_map = {0: [0]}  # returns g itself when nothing was broadcast

    def __init__(self, out_shape: tuple) -> None:
        self.out_shape = tuple(out_shape)

    def make_node(self, g, shp):
        g = as_tensor_variable(g)
        return Apply(self, [g, shp], [TensorType(g.type.dtype, self.out_shape)])

    def perform(self, node, g, shp):
        target = tuple(shp.tolist())
        gshape = np.shape(g)
        if gshape == target:
            return g
        lead = len(gshape) - len(target)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, s in enumerate(target) if s == 1 and gshape[lead + i] != 1)
        return np.sum(g, axis=axes, keepdims=True).reshape(target)

    def L_op(self, node, inputs, outputs, output_grads):
        # Broadcast the gradient back to g's shape (adding zeros of that shape keeps this
        # module free of the allocation ops, which are built on it).
        return [output_grads[0] + inputs[0].zeros_like(), disconnected_type()]

    def connection_pattern(self, node):
        return [[True], [False]]


def reduce_grad_to(g: TensorVariable, x: TensorVariable, inputs: Sequence[TensorVariable]) -> TensorVariable:
    """Sum the gradient ``g`` (shaped like a broadcast result) down to ``x``'s shape.

    Static shapes decide where they can; a run-time :class:`SumToShape` covers the
    dimensions where ``x`` is None and another input might have stretched it.
    """
    out_ndim = g.type.ndim
    lead = out_ndim - x.type.ndim
    static_axes = list(range(lead))
    runtime = False
    for d, xs in enumerate(x.type.shape):
        od = lead + d
        gs = g.type.shape[od]
        if xs == 1:
            if gs != 1:
                static_axes.append(od)
        elif xs is None:
            for other in inputs:
                if other is x:
                    continue
                k = od - (out_ndim - other.type.ndim)
                if k >= 0 and other.type.shape[k] != 1:
                    runtime = True
    if runtime:
        return SumToShape(x.type.shape)(g, x.shape)
    if static_axes:
        g = g.sum(axis=static_axes, keepdims=True)
        if lead:
            g = g.dimshuffle(list(range(lead, out_ndim)))
    return g


def sum_to(g: Any, x: Any) -> TensorVariable:
    """Sum ``g`` to the shape of ``x`` (undo broadcasting), at run time if needed."""
    g, x = as_tensor_variable(g), as_tensor_variable(x)
    return reduce_grad_to(g, x, [g, x])
