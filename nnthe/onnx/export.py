"""Walk an nnthe graph and write it as an ONNX model.

Which graph is exported
-----------------------
The user's graph, as written (``fn.inputs`` -> ``fn.outputs`` for a compiled function),
not the graph ``nnthe.function`` rewrote. The rewrites make nnthe's own interpreter fast:
fused elementwise programs, in-place variants that overwrite dead buffers, the fused
softmax-cross-entropy op. None of these has an ONNX operator, and each would have to be
taken apart again; an ONNX runtime does its own fusion and memory planning anyway. The
numerically important rewrites (``log(softmax)`` -> ``log_softmax``, ``log(sigmoid)``
-> ``-softplus``) are applied by nnthe when the expression is *built*, so they are
already in the user's graph. Exporting it also keeps the error for an op without an ONNX
form pointing at the line that created it.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..core.graph import Constant, Variable, toposort
from ..core.shared import SharedVariable
from . import converters as _converters  # noqa: F401  (registers the converters)
from .registry import ExportContext, UnsupportedOpError, converter_for

#: The ONNX opset the converters target. 17 is supported by onnxruntime >= 1.13 and most
#: other runtimes, has the per-axis ``Softmax``/``LogSoftmax`` (opset 13+) that match
#: nnthe's, and still takes ``axes`` as an attribute of ReduceMax/Min/Prod (an input from
#: opset 18).
OPSET = 17


def _import_onnx() -> Any:
    try:
        import onnx  # an optional extra: imported only when an export is asked for
    except ImportError:
        raise ImportError("nnthe.onnx needs the onnx package: pip install 'nnthe[onnx]'") from None
    return onnx


def _as_list(v: Any, what: str) -> list[Variable]:
    items = list(v) if isinstance(v, (list, tuple)) else [v]
    for i in items:
        if not isinstance(i, Variable):
            raise TypeError(f"nnthe.onnx.export: {what} must be symbolic variables, got {i!r}")
    return items


def _value_info(ctx: ExportContext, name: str, var: Variable, dim_prefix: str) -> Any:
    dims: list = []
    for k, s in enumerate(var.type.shape):
        # Unknown dimensions become named symbolic dimensions: the batch axis "batch",
        # others "<name>_dim<k>". A runtime then accepts any size there.
        dims.append(s if s is not None else ("batch" if k == 0 else f"{dim_prefix}_dim{k}"))
    return ctx.helper.make_tensor_value_info(name, ctx.tensor_dtype(var.type.dtype), dims)


def build_model(inputs: Sequence[Variable], outputs: Sequence[Variable], opset: int = OPSET,
                graph_name: str = "nnthe", doc: str = "") -> Any:
    """The ``onnx.ModelProto`` computing ``outputs`` from ``inputs`` (nothing is written).

    See :func:`export` for the parameters.
    """
    onnx = _import_onnx()
    inputs = _as_list(inputs, "inputs")
    outputs = _as_list(outputs, "outputs")
    ctx = ExportContext(onnx, opset)
    names: dict[int, str] = {}
    graph_inputs = []
    for k, v in enumerate(inputs):
        if v.owner is not None or isinstance(v, (Constant, SharedVariable)):
            raise TypeError(f"nnthe.onnx.export: input {k} ({v.describe()}) must be a symbolic "
                            f"input such as T.matrix('x'), not a computed, constant or shared value")
        if id(v) in names:
            raise ValueError(f"nnthe.onnx.export: input {v!r} is given twice")
        name = ctx.fresh(v.name or f"input{k}")
        names[id(v)] = name
        graph_inputs.append(_value_info(ctx, name, v, name))

    def name_of_root(v: Variable) -> str:
        if id(v) in names:
            return names[id(v)]
        if isinstance(v, SharedVariable):
            # Shared variables (parameters, running statistics) become initializers
            # under their (hierarchical) names: '0/W', '2/b'.
            name = ctx.fresh(v.name or "shared")
            ctx.add_initializer(name, np.asarray(v.get_value(borrow=True)))
        elif isinstance(v, Constant):
            name = ctx.const(np.asarray(v.data, dtype=v.type.numpy_dtype), hint=v.name or "const")
        else:
            raise ValueError(
                f"nnthe.onnx.export: the outputs depend on the symbolic input {v.describe()}, "
                f"which is not among the inputs {[repr(i) for i in inputs]}")
        names[id(v)] = name
        return name

    nodes = toposort(outputs, blockers=inputs)
    converters, needed = _live_nodes(nodes, outputs)
    for node in nodes:
        if id(node) not in converters:
            continue
        convert, flags = converters[id(node)]
        in_names = []
        for i, flag in zip(node.inputs, flags):
            if not flag:
                in_names.append(None)
                continue
            if id(i) not in names:
                if i.owner is not None:
                    raise UnsupportedOpError(node, f"its input {i!r} comes from an output that "
                                                   "has no ONNX form")
                name_of_root(i)
            in_names.append(names[id(i)])
        out_names = list(convert(ctx, node, in_names))
        if len(out_names) != len(node.outputs):
            raise RuntimeError(f"the ONNX converter of {node.op} returned {len(out_names)} "
                               f"outputs for a node with {len(node.outputs)}")
        for o, n in zip(node.outputs, out_names):
            if n is not None:
                names[id(o)] = n

    graph_outputs = []
    for k, o in enumerate(outputs):
        src = names.get(id(o))
        if src is None:
            src = name_of_root(o)
        # Each graph output gets its own named Identity, so that outputs that are
        # inputs, initializers or the same value twice are all valid ONNX.
        out_name = ctx.fresh(o.name if o.name and o.owner is not None else f"output{k}")
        ctx.nodes.append(ctx.helper.make_node("Identity", [src], [out_name],
                                              name=ctx.fresh("node_output")))
        graph_outputs.append(_value_info(ctx, out_name, o, out_name))

    graph = ctx.helper.make_graph(ctx.nodes, graph_name, graph_inputs, graph_outputs,
                                  initializer=ctx.initializers, doc_string=doc)
    model = ctx.helper.make_model(graph, producer_name="nnthe",
                                  opset_imports=[ctx.helper.make_opsetid("", opset)])
    # IR version 8 is the one that onnxruntime >= 1.13 reads for opset 17.
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _live_nodes(nodes: list, outputs: list) -> tuple[dict, set]:
    """The converter and read-input flags of each node whose outputs are needed.

    A backward pass over the toposorted nodes: a node is needed when one of its outputs
    is a graph output or read by a needed node's converter. Ops without a converter are
    refused here, before anything is built, and only when they are needed.
    """
    live: set[int] = {id(o) for o in outputs}
    result: dict[int, tuple] = {}
    for node in reversed(nodes):
        if not any(id(o) in live for o in node.outputs):
            continue
        convert = converter_for(node.op)
        if convert is None:
            raise UnsupportedOpError(node)
        chooser = getattr(convert, "needed_inputs", None)
        flags = [True] * len(node.inputs) if chooser is None else list(chooser(node))
        result[id(node)] = (convert, flags)
        for i, flag in zip(node.inputs, flags):
            if flag:
                live.add(id(i))
    return result, live


def export(inputs: Any, outputs: Any = None, path: Any = None, *, opset: int = OPSET,
           graph_name: str = "nnthe", doc: str = "") -> Any:
    """Write the inference graph ``inputs -> outputs`` as an ONNX model.

    Parameters
    ----------
    inputs : Variable or list of Variables, or a compiled :class:`~nnthe.function` result
        The graph's inputs. Their unknown (None) dimensions become symbolic ONNX
        dimensions (``'batch'`` for axis 0), so the model accepts any batch size.
        Given a compiled function, its own inputs and outputs (as written, before
        rewrites) are exported and the second argument is the path.
    outputs : Variable or list of Variables
    path : str or path-like, optional
        Where to write the ``.onnx`` file; with None, nothing is written.
    opset : int
        The ONNX opset (default :data:`OPSET`, 17).
    graph_name, doc : str
        The graph's name and doc string in the file.

    Returns
    -------
    onnx.ModelProto
        Checked with ``onnx.checker.check_model``.

    Raises
    ------
    UnsupportedOpError
        For an op without an ONNX form (e.g. a random draw: export the graph built with
        ``training=False``), naming the op and where it was created.
    ImportError
        When onnx is not installed (``pip install 'nnthe[onnx]'``).

    Examples
    --------
    >>> X = T.tensor4('X', shape=(None, 1, 28, 28))
    >>> nnthe.onnx.export(X, T.nnet.softmax(model(X)), 'mnist.onnx')   # doctest: +SKIP
    """
    from ..core.compile.function import Function

    if isinstance(inputs, Function):
        if path is not None:
            raise TypeError("nnthe.onnx.export(fn, path): a compiled function takes the path "
                            "as its second argument")
        return export_function(inputs, outputs, opset=opset, graph_name=graph_name, doc=doc)
    if outputs is None:
        raise TypeError("nnthe.onnx.export: give the outputs: export(inputs, outputs, path)")
    model = build_model(inputs, outputs, opset=opset, graph_name=graph_name, doc=doc)
    if path is not None:
        _save(model, path)
    return model


def export_function(fn: Any, path: Any = None, **kwargs: Any) -> Any:
    """Export a compiled function's graph as written (its updates are ignored).

    ``givens`` given to ``nnthe.function`` are not applied: the function's inputs must
    be the roots of its outputs.
    """
    model = build_model(fn.inputs, fn.outputs, **kwargs)
    if path is not None:
        _save(model, path)
    return model


def export_model(model: Any, input_shape: Sequence[int | None], path: Any = None, *,
                 dtype: str | None = None, output: str = "logits", **kwargs: Any) -> Any:
    """Export a layer (model) applied in inference mode (``training=False``).

    Parameters
    ----------
    model : nnthe.layers.Layer
    input_shape : tuple
        The shape of one example, without the batch axis (``(1, 28, 28)``): the batch
        axis is dynamic.
    path : optional
        Where to write the file.
    dtype : str, optional
        The input's dtype (default ``config.floatX``).
    output : {'logits', 'probabilities', 'classes'}
        Export the model's output as is, its softmax, or its argmax along the last axis.
    """
    from .. import tensor as T
    from ..config import config

    x = T.tensor(dtype=dtype or config.floatX, shape=(None,) + tuple(input_shape), name="input")
    y = model(x, training=False)
    if output == "probabilities":
        y = T.nnet.softmax(y)
    elif output == "classes":
        y = T.argmax(y, axis=-1)
    elif output != "logits":
        raise ValueError(f"export_model: output must be 'logits', 'probabilities' or "
                         f"'classes', got {output!r}")
    y.name = output
    onnx_model = build_model([x], [y], **kwargs)
    if path is not None:
        _save(onnx_model, path)
    return onnx_model


def _save(model: Any, path: Any) -> None:
    import os

    onnx = _import_onnx()
    path = os.fspath(path)
    tmp = path + ".tmp"
    # Written beside and renamed, so an interrupted export leaves no half file.
    onnx.save(model, tmp)
    os.replace(tmp, path)


__all__ = ["export", "export_function", "export_model", "build_model", "OPSET"]
