"""One converter per nnthe op: the ONNX nodes (opset 17) that compute the same values.

Each converter is registered with :func:`~nnthe.onnx.registry.register` and refuses
the forms it cannot translate exactly with :class:`UnsupportedOpError` (the error names
the node and the user's line). Conventions that differ between nnthe and ONNX:

- ``conv2d`` is a cross-correlation, as ONNX ``Conv``; ``filter_flip=True`` (Theano's
  true convolution) reverses the kernel's spatial axes with a ``Slice`` first.
  ``border_mode`` 'full' and 'half' become explicit symmetric ``pads``. A Conv2d with
  an epilogue is ``Conv`` with its bias input ``B`` (and a ``Relu`` for 'bias_relu').
- ``pool_2d(ignore_border=False)`` keeps partial windows at the bottom/right edge
  (Theano's rule). ONNX's ``ceil_mode`` does not count windows the same way, so the
  export pads the end explicitly by the amount the NumPy kernel pads; this needs the
  spatial sizes to be static. Averages with ``average_inc_pad`` count the symmetric
  padding but not the end padding, which is reproduced by an explicit zero ``Pad``.
- NumPy's ``mod`` and ``floor_divide`` round towards minus infinity; ONNX ``Mod``
  (``fmod=0``) does so only for integers, so floats use ``x - floor(x / y) * y``.
- Mixed dtypes that NumPy converts inside a ufunc (a bool mask times float32) get an
  explicit ``Cast``, since ONNX operators take one element type.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..core.ops.gradops import DisconnectedGrad, GradClip, ZeroGrad
from ..core.nnet.conv import Conv2d
from ..core.nnet.conv_epilogue import has_relu
from ..core.nnet.pool import Pool
from ..core.nnet.softmax import LogSoftmax, Softmax, SoftmaxCrossEntropyWithLogits
from ..core.ops.alloc import Alloc
from ..core.ops.elemwise import Cast, Elemwise
from ..core.ops.join import Concatenate
from ..core.ops.linalg import Dot, MatMul
from ..core.ops.reduce import ArgReduce, CAReduce
from ..core.ops.shape import DimShuffle, MakeVector, Reshape, Shape, SpecifyShape
from ..core.ops.subtensor import Subtensor
from ..core.types import is_float_dtype
from .registry import ExportContext, UnsupportedOpError, register

_INT64_MAX = np.iinfo(np.int64).max

# ---------------------------------------------------------------------------------------
# Elementwise
# ---------------------------------------------------------------------------------------

#: Scalar ops that are one ONNX operator with the same inputs.
_DIRECT = {
    "neg": "Neg", "abs": "Abs", "sign": "Sign", "floor": "Floor", "ceil": "Ceil",
    "round": "Round", "exp": "Exp", "log": "Log", "sqrt": "Sqrt", "reciprocal": "Reciprocal",
    "sin": "Sin", "cos": "Cos", "tan": "Tan", "arcsin": "Asin", "arccos": "Acos",
    "arctan": "Atan", "sinh": "Sinh", "cosh": "Cosh", "tanh": "Tanh", "sigmoid": "Sigmoid",
    "softplus": "Softplus", "erf": "Erf", "relu": "Relu",
    "add": "Add", "sub": "Sub", "mul": "Mul", "true_div": "Div", "pow": "Pow",
    "maximum": "Max", "minimum": "Min",
    "eq": "Equal", "lt": "Less", "le": "LessOrEqual", "gt": "Greater", "ge": "GreaterOrEqual",
    "logical_and": "And", "logical_or": "Or", "logical_xor": "Xor", "logical_not": "Not",
    "isnan": "IsNaN", "isinf": "IsInf", "switch": "Where",
}


def _scalar(ctx: ExportContext, value: float, dtype: Any) -> str:
    return ctx.const(np.asarray(value, dtype=dtype), hint="c")


def _composite(ctx: ExportContext, name: str, x: list[str], dtype: str) -> str | None:
    """Scalar ops that take a few ONNX nodes; None when ``name`` is not one of them."""
    if name == "sqr":
        return ctx.add("Mul", [x[0], x[0]])
    if name == "exp2":
        return ctx.add("Pow", [_scalar(ctx, 2.0, dtype), x[0]])
    if name in ("log2", "log10"):
        base = 2.0 if name == "log2" else 10.0
        return ctx.add("Div", [ctx.add("Log", x), _scalar(ctx, np.log(base), dtype)])
    if name == "log1p":
        return ctx.add("Log", [ctx.add("Add", [x[0], _scalar(ctx, 1.0, dtype)])])
    if name == "expm1":
        return ctx.add("Sub", [ctx.add("Exp", x), _scalar(ctx, 1.0, dtype)])
    if name == "trunc":
        neg = ctx.add("Less", [x[0], _scalar(ctx, 0, dtype)])
        return ctx.add("Where", [neg, ctx.add("Ceil", x), ctx.add("Floor", x)])
    if name == "neq":
        return ctx.add("Not", [ctx.add("Equal", x)])
    if name == "isfinite":
        return ctx.add("Not", [ctx.add("Or", [ctx.add("IsNaN", x), ctx.add("IsInf", x)])])
    if name == "clip":
        # np.clip(x, lo, hi) is min(max(x, lo), hi), with any broadcastable bounds.
        return ctx.add("Min", [ctx.add("Max", [x[0], x[1]]), x[2]])
    if name == "int_div":
        if is_float_dtype(dtype):
            return ctx.add("Floor", [ctx.add("Div", x)])
        return None
    if name == "mod":
        if is_float_dtype(dtype):
            q = ctx.add("Floor", [ctx.add("Div", x)])
            return ctx.add("Sub", [x[0], ctx.add("Mul", [q, x[1]])])
        return ctx.add("Mod", x, fmod=0)
    return None


@register(Elemwise)
def _elemwise(ctx: ExportContext, node, inputs):
    so = node.op.scalar_op
    out_dtype = node.outputs[0].type.dtype
    if so.name in ("isnan", "isinf", "isfinite"):
        compute = node.inputs[0].type.dtype
    elif so.kind == "logical":
        compute = "bool"  # NumPy's logical functions read any dtype as truth values
    elif so.kind == "compare":
        compute = np.result_type(*[i.type.numpy_dtype for i in node.inputs]).name
    else:
        compute = out_dtype
    names = []
    for k, (var, name) in enumerate(zip(node.inputs, inputs)):
        want = "bool" if (so.kind == "switch" and k == 0) else compute
        names.append(ctx.cast(name, var.type.dtype, want))
    if so.name == "int_div" and not is_float_dtype(compute):
        raise UnsupportedOpError(node, "integer floor division rounds differently in ONNX "
                                       "(Div truncates); cast to float first")
    op_type = _DIRECT.get(so.name)
    if op_type is not None:
        return [ctx.add(op_type, names)]
    out = _composite(ctx, so.name, names, compute)
    if out is None:
        raise UnsupportedOpError(node, f"the elementwise function {so.name!r} has no ONNX form")
    return [out]


@register(Cast)
def _cast(ctx, node, inputs):
    return [ctx.add("Cast", inputs, to=ctx.tensor_dtype(node.op.dtype))]


@register(DisconnectedGrad, ZeroGrad, GradClip, SpecifyShape)
def _identity(ctx, node, inputs):
    # disconnected_grad, zero_grad, grad_clip change gradients only; specify_shape is a
    # check. In an inference graph each is the identity.
    return [ctx.add("Identity", inputs[:1])]


# ---------------------------------------------------------------------------------------
# Linear algebra
# ---------------------------------------------------------------------------------------

@register(Dot)
def _dot(ctx, node, inputs):
    x, y = node.inputs
    if x.type.ndim == 0 or y.type.ndim == 0:
        return [ctx.add("Mul", inputs)]
    if y.type.ndim > 2:
        raise UnsupportedOpError(node, "np.dot with a second operand of more than 2 "
                                       "dimensions is not a matrix product; use T.matmul")
    return [_matmul_2d(ctx, node, inputs)]


def _matmul_2d(ctx, node, inputs) -> str:
    """MatMul with 1-d operands made 2-d explicitly and the added axis removed after.

    onnxruntime 1.32 computes ``MatMul(Transpose(A), v)`` with a 1-d ``v`` on the
    untransposed buffer (its Transpose-into-MatMul fusion gets the 1-d case wrong), so
    the exported graph never hands it a 1-d MatMul operand.
    """
    x, y = node.inputs
    a, b = inputs
    squeeze = []
    if x.type.ndim == 1:
        a = ctx.add("Unsqueeze", [a, ctx.axes([0])])
        squeeze.append(-2)
    if y.type.ndim == 1:
        b = ctx.add("Unsqueeze", [b, ctx.axes([1])])
        squeeze.append(-1)
    out = ctx.add("MatMul", [a, b])
    if squeeze:
        out = ctx.add("Squeeze", [out, ctx.axes(squeeze)])
    return out


@register(MatMul)
def _matmul(ctx, node, inputs):
    return [_matmul_2d(ctx, node, inputs)]


# ---------------------------------------------------------------------------------------
# Shapes
# ---------------------------------------------------------------------------------------

@register(Shape)
def _shape(ctx, node, inputs):
    return [ctx.add("Shape", inputs)]


@register(MakeVector)
def _make_vector(ctx, node, inputs):
    parts = [ctx.add("Unsqueeze", [ctx.cast(n, v.type.dtype, "int64"), ctx.axes([0])])
             for n, v in zip(inputs, node.inputs)]
    return [ctx.add("Concat", parts, axis=0)]


def _reshape_static(node) -> bool:
    return node.outputs[0].type.shape.count(None) <= 1


@register(Reshape, needed_inputs=lambda node: [True, not _reshape_static(node)])
def _reshape(ctx, node, inputs):
    static = node.outputs[0].type.shape
    if _reshape_static(node):
        # The static output shape with -1 for the one unknown (batch) dimension: the
        # exported graph then needs no shape arithmetic.
        shp = ctx.const(np.asarray([-1 if s is None else s for s in static], dtype=np.int64),
                        hint="shape")
    else:
        shp = inputs[1]
    # allowzero=0 would read a 0 as "copy this dimension", which nnthe's reshape never means.
    return [ctx.add("Reshape", [inputs[0], shp], allowzero=1)]


@register(DimShuffle)
def _dimshuffle(ctx, node, inputs):
    op = node.op
    out = inputs[0]
    if op.perm != tuple(range(op.input_ndim)):
        out = ctx.add("Transpose", [out], perm=list(op.perm))
    kept = len(op.perm) - len(op.dropped)
    if op.dropped:
        out = ctx.add("Squeeze", [out, ctx.axes(range(kept, op.input_ndim))])
    new_axes = [k for k, p in enumerate(op.pattern) if p == "x"]
    if new_axes:
        out = ctx.add("Unsqueeze", [out, ctx.axes(new_axes)])
    if out is inputs[0]:
        out = ctx.add("Identity", [out])
    return [out]


@register(Subtensor)
def _subtensor(ctx, node, inputs):
    spec = node.op.index_spec
    if len(node.inputs) > 1:
        raise UnsupportedOpError(node, "indices given as symbolic scalars are not exported; "
                                       "use Python ints")
    out = inputs[0]
    starts, ends, axes, steps, ints, new = [], [], [], [], [], []
    axis = 0      # the input axis an entry refers to
    position = 0  # its position in the result, for newaxis entries
    for e in spec:
        if e[0] == "newaxis":
            new.append(position)
            position += 1
            continue
        if e[0] == "int":
            ints.append(axis)
            starts.append(e[1])
            ends.append(e[1] + 1 if e[1] != -1 else _INT64_MAX)
            axes.append(axis)
            steps.append(1)
        else:
            _, start, stop, step = e
            step = 1 if step is None else step
            if (start, stop, step) != (None, None, 1):
                if start is None:
                    start = 0 if step > 0 else _INT64_MAX
                if stop is None:
                    stop = _INT64_MAX if step > 0 else -_INT64_MAX
                starts.append(start)
                ends.append(stop)
                axes.append(axis)
                steps.append(step)
            position += 1
        axis += 1
    if axes:
        i64 = np.int64
        out = ctx.add("Slice", [out, ctx.const(np.asarray(starts, i64), hint="starts"),
                                ctx.const(np.asarray(ends, i64), hint="ends"),
                                ctx.axes(axes), ctx.const(np.asarray(steps, i64), hint="steps")])
    if ints:
        out = ctx.add("Squeeze", [out, ctx.axes(ints)])
    if new:
        out = ctx.add("Unsqueeze", [out, ctx.axes(new)])
    if out is inputs[0]:
        out = ctx.add("Identity", [out])
    return [out]


@register(Alloc)
def _alloc(ctx, node, inputs):
    return [ctx.add("Expand", inputs)]


@register(Concatenate)
def _concatenate(ctx, node, inputs):
    dtype = node.outputs[0].type.dtype
    names = [ctx.cast(n, v.type.dtype, dtype) for n, v in zip(inputs, node.inputs)]
    return [ctx.add("Concat", names, axis=int(node.op.axis))]


# ---------------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------------

@register(CAReduce)
def _careduce(ctx, node, inputs):
    op = node.op
    x = node.inputs[0]
    out_dtype = node.outputs[0].type.dtype
    if not op.axes:
        return [ctx.cast(ctx.add("Identity", inputs), x.type.dtype, out_dtype)]
    keep = int(op.keepdims)
    if op.kind in ("all", "any"):
        as_int = ctx.cast(inputs[0], x.type.dtype, "int32")
        kind = "ReduceMin" if op.kind == "all" else "ReduceMax"
        red = ctx.add(kind, [as_int], axes=list(op.axes), keepdims=keep)
        return [ctx.cast(red, "int32", "bool")]
    src = ctx.cast(inputs[0], x.type.dtype, out_dtype)
    if op.kind == "sum":
        # ReduceSum takes its axes as an input from opset 13, the others from opset 18.
        return [ctx.add("ReduceSum", [src, ctx.axes(op.axes)], keepdims=keep)]
    kind = {"prod": "ReduceProd", "max": "ReduceMax", "min": "ReduceMin"}[op.kind]
    return [ctx.add(kind, [src], axes=list(op.axes), keepdims=keep)]


@register(ArgReduce)
def _argreduce(ctx, node, inputs):
    op = node.op
    kind = "ArgMax" if op.kind == "argmax" else "ArgMin"
    if op.axis is not None:
        return [ctx.add(kind, inputs, axis=int(op.axis), keepdims=int(op.keepdims),
                        select_last_index=0)]
    flat = ctx.add("Reshape", [inputs[0], ctx.const(np.asarray([-1], np.int64), hint="shape")])
    idx = ctx.add(kind, [flat], axis=0, keepdims=0, select_last_index=0)
    if op.keepdims:
        ndim = node.inputs[0].type.ndim
        idx = ctx.add("Reshape", [idx, ctx.const(np.ones(ndim, np.int64), hint="shape")])
    return [idx]


# ---------------------------------------------------------------------------------------
# Neural-network ops
# ---------------------------------------------------------------------------------------

@register(Softmax)
def _softmax(ctx, node, inputs):
    return [ctx.add("Softmax", inputs, axis=int(node.op.axis))]


@register(LogSoftmax)
def _log_softmax(ctx, node, inputs):
    return [ctx.add("LogSoftmax", inputs, axis=int(node.op.axis))]


@register(SoftmaxCrossEntropyWithLogits)
def _softmax_cross_entropy(ctx, node, inputs):
    # -sum(target * log_softmax(z)) per row; integer labels pick one column.
    z, labels = inputs
    ls = ctx.add("LogSoftmax", [z], axis=1)
    if is_float_dtype(node.inputs[1].type.dtype):
        total = ctx.add("ReduceSum", [ctx.add("Mul", [labels, ls]), ctx.axes([1])], keepdims=0)
        return [ctx.add("Neg", [total])]
    idx = ctx.add("Unsqueeze", [ctx.cast(labels, node.inputs[1].type.dtype, "int64"), ctx.axes([1])])
    picked = ctx.add("GatherElements", [ls, idx], axis=1)
    return [ctx.add("Neg", [ctx.add("Squeeze", [picked, ctx.axes([1])])])]


@register(Conv2d)
def _conv2d(ctx, node, inputs):
    op = node.op
    # With an epilogue, the third input is the bias: ONNX Conv's optional B.
    x_name, w_name, bias = inputs[0], inputs[1], inputs[2:]
    kh, kw = node.inputs[1].type.shape[2:]
    if isinstance(op.border_mode, str) and (kh is None or kw is None):
        raise UnsupportedOpError(node, f"border_mode={op.border_mode!r} needs the kernel's "
                                       "static size to compute the padding")
    ph, pw = op._pads(kh, kw)
    if op.filter_flip:
        # True convolution = cross-correlation with the kernel reversed in space.
        i64 = np.int64
        w_name = ctx.add("Slice", [w_name, ctx.const(np.asarray([-1, -1], i64), hint="starts"),
                                   ctx.const(np.asarray([-_INT64_MAX, -_INT64_MAX], i64), hint="ends"),
                                   ctx.axes([2, 3]), ctx.const(np.asarray([-1, -1], i64), hint="steps")],
                         hint="flipped_filters")
    y = ctx.add("Conv", [x_name, w_name] + bias, pads=[ph, pw, ph, pw], strides=list(op.subsample),
                dilations=list(op.filter_dilation), group=op.num_groups)
    if has_relu(op.epilogue):
        y = ctx.add("Relu", [y])
    # Output 1 (the im2col matrix kept for the weight gradient) has no ONNX counterpart.
    return [y, None]


@register(Pool)
def _pool(ctx, node, inputs):
    op = node.op
    x = node.inputs[0]
    if x.type.ndim != 4:
        raise UnsupportedOpError(node, f"only 4-d (N, C, H, W) inputs are exported, got {x.type}")
    ph, pw = op.pad
    eh = ew = 0
    if not op.ignore_border:
        h, w = x.type.shape[2:]
        if h is None or w is None:
            raise UnsupportedOpError(node, "ignore_border=False needs the static spatial size "
                                           "of the input to reproduce the partial windows")
        _, _, eh, ew = op._geometry(h, w)
    attrs = dict(kernel_shape=list(op.ws), strides=list(op.stride))
    src = inputs[0]
    if op.mode == "max":
        return [ctx.add("MaxPool", [src], pads=[ph, pw, ph + eh, pw + ew], **attrs)]
    if op.mode == "average_exc_pad":
        return [ctx.add("AveragePool", [src], pads=[ph, pw, ph + eh, pw + ew],
                        count_include_pad=0, **attrs)]
    # average_inc_pad: the symmetric padding counts, the end padding does not.
    if not (eh or ew):
        return [ctx.add("AveragePool", [src], pads=[ph, pw, ph, pw], count_include_pad=1, **attrs)]
    if ph or pw:
        src = ctx.add("Pad", [src, ctx.const(np.asarray([0, 0, ph, pw, 0, 0, ph, pw], np.int64),
                                             hint="pads")], mode="constant")
    return [ctx.add("AveragePool", [src], pads=[0, 0, eh, ew], count_include_pad=0, **attrs)]
