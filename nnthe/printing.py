"""Printing graphs: ``pp`` (infix; Theano's ``pprint``), ``debugprint`` (indented tree),
``to_dot`` (Graphviz text) and ``pydotprint`` (a picture drawn by Graphviz's ``dot``
program); and Theano's :class:`Print` op, which prints a value while a function runs.

All of them walk graphs iteratively, so they work on graphs of any depth.
"""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from typing import Any, TextIO

import numpy as np

from .core.graph import Apply, Constant, Op, Variable, toposort
from .core.variable import as_tensor_variable


def _outputs_of(obj: Any) -> list[Variable]:
    from .core.compile.function import Function

    if isinstance(obj, Function):
        return list(obj.fgraph.outputs)
    if isinstance(obj, Variable):
        return [obj]
    if isinstance(obj, (list, tuple)):
        out = []
        for o in obj:
            out.extend(_outputs_of(o))
        return out
    raise TypeError(f"expected a Variable, a list of Variables or a compiled Function, got {obj!r}")


def pp(var: Any) -> str:
    """A readable infix rendering of the expression ``var``.

    >>> nnthe.pp(x ** 2 + 3 * x + 1)
    '((x ** 2) + (3 * x)) + 1'
    """
    outs = _outputs_of(var)
    text: dict[int, str] = {}

    def show(v: Variable) -> str:
        if id(v) in text:
            return text[id(v)]
        if v.name is not None:
            return v.name
        if isinstance(v, Constant):
            data = v.data
            if getattr(data, "ndim", 1) == 0:
                value = data.item()
                # 2.0 made from the Python int 2 prints as the user wrote it.
                if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
                    return str(int(value))
                return str(value)
            return repr(v)
        return f"<{v.type}>"

    for node in toposort(outs):
        args = [show(i) for i in node.inputs]
        rendered = node.op.pretty(args)
        if rendered is None:
            rendered = f"{node.op}({', '.join(args)})"
        for k, o in enumerate(node.outputs):
            text[id(o)] = rendered if len(node.outputs) == 1 else f"{rendered}[{k}]"
    results = [_strip_outer(show(o)) for o in outs]
    return results[0] if len(results) == 1 else "\n".join(results)


def _strip_outer(s: str) -> str:
    """Drop one pair of parentheses enclosing the whole expression."""
    if not (s.startswith("(") and s.endswith(")")):
        return s
    depth = 0
    for k, ch in enumerate(s):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and k < len(s) - 1:
            return s
    return s[1:-1]


def _type_str(v: Variable) -> str:
    return str(v.type)


def debugprint(obj: Any, file: TextIO | None = None, print_type: bool = True, ids: bool = True) -> str:
    """Print (and return) the graph as an indented tree, one line per variable.

    Each line shows the op (or the variable's name), an id that marks shared
    subexpressions (repeated subtrees are printed once and then referenced), and the
    dtype with the static shape. Works on Variables and compiled Functions (then it
    shows the rewritten graph).
    """
    outs = _outputs_of(obj)
    buf = io.StringIO()
    ident: dict[int, str] = {}
    printed: set[int] = set()

    def label(v: Variable) -> str:
        if id(v) not in ident:
            ident[id(v)] = chr(65 + len(ident) % 26) + (str(len(ident) // 26) if len(ident) >= 26 else "")
        return ident[id(v)]

    for out in outs:
        stack: list[tuple[Variable, int]] = [(out, 0)]
        while stack:
            v, depth = stack.pop()
            pad = " |" * depth
            typ = f" {_type_str(v)}" if print_type else ""
            if v.owner is None:
                name = v.name if v.name is not None else repr(v)
                buf.write(f"{pad}{name}{typ}\n")
                continue
            node = v.owner
            tag = f" [id {label(v)}]" if ids else ""
            suffix = f".{v.index}" if len(node.outputs) > 1 else ""
            if id(v) in printed:
                buf.write(f"{pad}{node.op}{suffix}{tag}{typ} ...\n")
                continue
            printed.add(id(v))
            name = f" '{v.name}'" if v.name else ""
            buf.write(f"{pad}{node.op}{suffix}{tag}{name}{typ}\n")
            for inp in reversed(node.inputs):
                stack.append((inp, depth + 1))
    text = buf.getvalue()
    (file or sys.stdout).write(text)
    return text


def to_dot(obj: Any, name: str = "nnthe") -> str:
    """The graph in Graphviz's dot language (render with ``dot -Tpng``).

    Variables are ellipses (boxes for inputs, shared variables and constants), ops are
    rectangles; edges go from inputs to ops to outputs. For a compiled function the
    graph after rewrites is drawn: fused elementwise nodes are filled orange and list
    their ufuncs (``Fused{multiply,add,tanh}``), in-place nodes are filled red.
    """
    outs = _outputs_of(obj)
    lines = [f'digraph "{name}" {{', "  rankdir=TB;"]
    vid: dict[int, str] = {}

    def var_node(v: Variable) -> str:
        if id(v) in vid:
            return vid[id(v)]
        n = f"v{len(vid)}"
        vid[id(v)] = n
        label = (v.name or (repr(v) if v.owner is None else "")) + f"\\n{v.type}"
        shape = "box" if v.owner is None else "ellipse"
        style = ', style=filled, fillcolor="#eeeeee"' if isinstance(v, Constant) else ""
        lines.append(f'  {n} [label="{_esc(label)}", shape={shape}{style}];')
        return n

    for k, node in enumerate(toposort(outs)):
        op_id = f"op{k}"
        lines.append(f'  {op_id} [label="{_esc(str(node.op))}", shape=rectangle{_op_style(node.op)}];')
        for pos, i in enumerate(node.inputs):
            lines.append(f'  {var_node(i)} -> {op_id} [label="{pos}"];')
        for o in node.outputs:
            lines.append(f"  {op_id} -> {var_node(o)};")
    for o in outs:
        var_node(o)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _op_style(op: Any) -> str:
    if type(op).__name__.startswith("Fused"):
        return ', style="bold,filled", fillcolor="#ffd27f"'
    if getattr(op, "destroy_map", None):
        return ', style="bold,filled", fillcolor="#ffb3b3"'
    return ", style=bold"


class GraphvizNotFoundError(RuntimeError):
    """Graphviz's ``dot`` program, which :func:`pydotprint` runs, is not installed."""


_FORMATS = ("svg", "png", "pdf", "dot")


def pydotprint(obj: Any, path: str | os.PathLike, format: str | None = None,
               name: str = "nnthe", dot: str | None = None, timeout: float = 60.0) -> str:
    """Draw the graph of ``obj`` into an SVG, PNG or PDF file with Graphviz.

    Parameters
    ----------
    obj : Variable, list of Variables, or compiled Function
        A compiled function is drawn after its rewrites (fused and in-place nodes are
        highlighted, see :func:`to_dot`); a variable as written.
    path : str or path-like
        The file to write (replaced atomically).
    format : {'svg', 'png', 'pdf', 'dot'}, optional
        Default: from the file's extension. ``'dot'`` writes the Graphviz text and
        needs no Graphviz.
    name : str
        The graph's name.
    dot : str, optional
        The ``dot`` program to run (default: ``dot`` on the PATH).
    timeout : float
        Seconds to wait for Graphviz before giving up.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    GraphvizNotFoundError
        When ``dot`` is not on the PATH (install the graphviz package: ``apt-get install
        graphviz``, ``brew install graphviz`` or ``conda install graphviz``).

    Examples
    --------
    >>> nnthe.printing.pydotprint(train_step, 'train_step.svg')   # doctest: +SKIP
    """
    path = os.fspath(path)
    fmt = (format or os.path.splitext(path)[1].lstrip(".")).lower()
    if fmt not in _FORMATS:
        raise ValueError(f"pydotprint: format must be one of {', '.join(_FORMATS)} (or given by "
                         f"the file's extension), got {fmt or path!r}")
    text = to_dot(obj, name=name)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        if fmt == "dot":
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)
        else:
            program = dot or shutil.which("dot")
            if program is None or not os.path.exists(program):
                raise GraphvizNotFoundError(
                    f"pydotprint needs Graphviz's 'dot' program{'' if dot is None else f' ({dot})'}, "
                    f"which is not on the PATH: install the graphviz package (apt-get install "
                    f"graphviz, brew install graphviz or conda install graphviz), or write the "
                    f"text with format='dot'")
            try:
                done = subprocess.run([program, f"-T{fmt}", "-o", tmp], input=text.encode(),
                                      capture_output=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                raise RuntimeError(f"pydotprint: Graphviz did not finish within {timeout} s "
                                   f"for a graph of {text.count(' -> ')} edges") from None
            if done.returncode != 0:
                raise RuntimeError(f"pydotprint: {program} -T{fmt} failed (exit "
                                   f"{done.returncode}): {done.stderr.decode(errors='replace').strip()}")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\\\\n", "\\n")


#: Theano's name of :func:`pp`.
pprint = pp


class Print(Op):
    """Theano's ``Print``: an identity that prints its value each time a compiled
    function computes it.

    ``Print('label')(x)`` prints ``label __str__ = <value>``; ``attrs`` names the
    attributes of the value to print (``('shape', '__str__')``), ``global_fn(op, value)``
    replaces the printing. The gradient passes through.

    Examples
    --------
    >>> x = T.vector('x')
    >>> f = nnthe.function([x], Print('x is')(x) * 2)
    >>> f([1, 2])     # prints: x is __str__ = [1. 2.]
    """

    __props__ = ("message", "attrs", "global_fn")
    view_map = {0: [0]}

    def __init__(self, message: str = "", attrs: tuple = ("__str__",), global_fn: Any = None) -> None:
        self.message = str(message)
        self.attrs = tuple(attrs)
        self.global_fn = global_fn

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type])

    def perform(self, node: Apply, x: Any) -> Any:
        if self.global_fn is not None:
            self.global_fn(self, x)
            return x
        for attr in self.attrs:
            value = getattr(x, attr)
            if callable(value):
                value = value()
            print(self.message, attr, "=", value)
        return x

    def L_op(self, node, inputs, outputs, output_grads):
        return [output_grads[0]]

    def infer_shape(self, node, input_shapes):
        return [input_shapes[0]]

    def __str__(self) -> str:
        return f"Print{{{self.message}}}"
