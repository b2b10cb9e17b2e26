"""Printing graphs: ``pp`` (infix), ``debugprint`` (indented tree), ``to_dot`` (Graphviz).

All three walk graphs iteratively, so they work on graphs of any depth.
"""
from __future__ import annotations

import io
import sys
from typing import Any, TextIO

from .core.graph import Constant, Variable, toposort


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
    rectangles; edges go from inputs to ops to outputs.
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
        lines.append(f'  {op_id} [label="{_esc(str(node.op))}", shape=rectangle, style=bold];')
        for pos, i in enumerate(node.inputs):
            lines.append(f'  {var_node(i)} -> {op_id} [label="{pos}"];')
        for o in node.outputs:
            lines.append(f"  {op_id} -> {var_node(o)};")
    for o in outs:
        var_node(o)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\\\\n", "\\n")
