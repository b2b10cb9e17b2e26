"""The converter registry and the state of one export (names, nodes, initializers).

A converter is a small function ``convert(ctx, node, inputs) -> outputs`` registered for
an nnthe Op class with :func:`register`. ``inputs`` are the ONNX value names of the
node's inputs; it returns one ONNX name per output of the node (None for an output that
has no ONNX form and must not be used, like the im2col matrix of ``Conv2d``). It adds
ONNX nodes through :meth:`ExportContext.add` and constants through
:meth:`ExportContext.const`, and knows nothing of files or of the graph walk.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..core.graph import Apply, Op, format_site

Converter = Callable[["ExportContext", Apply, list], Sequence[Any]]

#: ``{Op class: converter}``; looked up along the op's MRO, most derived first.
CONVERTERS: dict[type, Converter] = {}


class UnsupportedOpError(ValueError):
    """An op (or a form of it) has no ONNX translation here.

    The message names the op and where its node was created, so the user knows which
    line of their model to change. ``.node`` is the Apply node.
    """

    def __init__(self, node: Apply, reason: str = "") -> None:
        where = format_site(node.site)
        what = f"the op {node.op} ({type(node.op).__name__})"
        detail = f": {reason}" if reason else " has no ONNX form"
        msg = (f"nnthe.onnx.export: {what}{detail}.\nThe node was created at {where}.\n"
               f"Supported op classes: {', '.join(sorted(c.__name__ for c in CONVERTERS))}.")
        super().__init__(msg)
        self.node = node


def register(*op_classes: type, needed_inputs: Callable[[Apply], Sequence[bool]] | None = None
             ) -> Callable[[Converter], Converter]:
    """Decorator: ``convert(ctx, node, inputs)`` translates nodes of ``op_classes``.

    ``needed_inputs(node)``, when given, says which inputs the converter reads (a flag
    per input); the exporter then skips the nodes that compute only unread inputs, such
    as the shape arithmetic of a reshape whose target shape is known statically. The
    converter gets None for an input it does not read.

    Examples
    --------
    >>> @register(MyOp)
    ... def _my_op(ctx, node, inputs):
    ...     return [ctx.add("Relu", inputs)]
    """
    def deco(fn: Converter) -> Converter:
        fn.needed_inputs = needed_inputs  # type: ignore[attr-defined]
        for cls in op_classes:
            CONVERTERS[cls] = fn
        return fn
    return deco


def converter_for(op: Op) -> Converter | None:
    """The converter registered for ``type(op)`` or its nearest base class."""
    for cls in type(op).__mro__:
        fn = CONVERTERS.get(cls)
        if fn is not None:
            return fn
    return None


class ExportContext:
    """Collects the ONNX nodes and initializers of one export.

    Attributes
    ----------
    nodes : list of onnx.NodeProto
    initializers : list of onnx.TensorProto
    opset : int
    """

    def __init__(self, onnx_module: Any, opset: int) -> None:
        self.onnx = onnx_module
        self.helper = onnx_module.helper
        self.numpy_helper = onnx_module.numpy_helper
        self.opset = opset
        self.nodes: list = []
        self.initializers: list = []
        self._used: set[str] = set()
        self._const_cache: dict[tuple, str] = {}

    def fresh(self, hint: str) -> str:
        """A value name not used yet in this graph, based on ``hint``."""
        base = hint or "v"
        name, k = base, 1
        while name in self._used:
            name = f"{base}_{k}"
            k += 1
        self._used.add(name)
        return name

    def add(self, op_type: str, inputs: Sequence[str], n_outputs: int = 1,
            hint: str | None = None, **attrs: Any) -> Any:
        """Append one ONNX node; returns its output name (a list if ``n_outputs > 1``)."""
        outs = [self.fresh(f"{hint or op_type}") for _ in range(n_outputs)]
        self.nodes.append(self.helper.make_node(op_type, list(inputs), outs,
                                                name=self.fresh(f"node_{op_type}"), **attrs))
        return outs[0] if n_outputs == 1 else outs

    def const(self, value: Any, dtype: Any = None, hint: str = "const") -> str:
        """An initializer holding ``value`` (equal small constants are shared)."""
        arr = np.asarray(value, dtype=dtype)
        key = (arr.dtype.str, arr.shape, arr.tobytes()) if arr.size <= 64 else None
        if key is not None and key in self._const_cache:
            return self._const_cache[key]
        name = self.fresh(hint)
        self.add_initializer(name, arr)
        if key is not None:
            self._const_cache[key] = name
        return name

    def add_initializer(self, name: str, arr: np.ndarray) -> None:
        """Store ``arr`` under the (already reserved) value name ``name``."""
        # Not np.ascontiguousarray: it turns 0-d arrays into 1-d ones.
        arr = np.array(arr, order="C", copy=True)
        self.initializers.append(self.numpy_helper.from_array(arr, name=name))

    def axes(self, axes: Sequence[int]) -> str:
        """An int64 vector initializer for ops that take axes as an input (opset >= 13)."""
        return self.const(np.asarray(list(axes), dtype=np.int64), hint="axes")

    def tensor_dtype(self, dtype: Any) -> int:
        """The ONNX TensorProto element type of a NumPy dtype."""
        return self.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))

    def cast(self, name: str, from_dtype: Any, to_dtype: Any) -> str:
        """``name`` converted to ``to_dtype`` (no node when the dtypes are equal)."""
        if np.dtype(from_dtype) == np.dtype(to_dtype):
            return name
        return self.add("Cast", [name], to=self.tensor_dtype(to_dtype))
