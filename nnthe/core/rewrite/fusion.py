"""Fusion of elementwise chains into one op evaluated block by block through ``out=``.

An optimizer update such as Adam's is a chain of a dozen elementwise operations over
each parameter. Evaluated op by op, every operation streams the whole parameter through
memory; for a 800x800 float32 matrix (2.5 MB) that is a trip to L3 or DRAM each time.
:class:`FusedElemwise` evaluates the whole chain on one cache-sized block of elements
at a time, writing every intermediate into a small reused buffer (``ufunc(..., out=)``),
so the chain reads its inputs and writes its outputs once. Measured on Adam's update of
one 800x800 parameter: 1.55 ms against 2.16 ms op by op. The results are bitwise equal:
the same ufuncs run on the same values in the same order.

The rewrite fuses connected Elemwise nodes (NumPy ufuncs only) whose results all have
the same fully known static shape, whose other inputs are that shape or 0-d, and whose
intermediates are read only inside the group (or are function outputs / update values,
which become outputs of the fused node).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph import Apply, Op, Variable
from ..ops.elemwise import Elemwise
from ..types import TensorType
from .registry import register

#: Elements per block: 64k float32 = 256 KB per buffer, so a chain's few live buffers
#: stay in L2. Fewer, larger blocks cost less Python per element (measured best of 8k,
#: 16k, 64k on Adam's chain).
BLOCK = 65536
#: Smaller arrays are cheaper op by op than through the block loop.
MIN_SIZE = 4 * BLOCK


class FusedElemwise(Op):
    """Several elementwise ufuncs evaluated together, block by block.

    ``program`` is a tuple of instructions ``(ufunc name, args, dest)`` where each arg is
    ``('in', i)`` (input ``i``), ``('t', k)`` (temporary ``k``) or ``('out', j)`` (output
    ``j``, also readable once written), and ``dest`` is ``('t', k)`` or ``('out', j)``.
    ``temp_dtypes`` and the output types describe the buffers.
    """

    __props__ = ("program", "temp_dtypes", "out_dtypes", "shape")

    def __init__(self, program: tuple, temp_dtypes: tuple, out_dtypes: tuple, shape: tuple) -> None:
        self.program = program
        self.temp_dtypes = temp_dtypes
        self.out_dtypes = out_dtypes
        self.shape = shape

    def __str__(self) -> str:
        return "Fused{" + ",".join(ins[0] for ins in self.program) + "}"

    def make_node(self, *inputs: Variable) -> Apply:
        return Apply(self, list(inputs), [TensorType(dt, self.shape) for dt in self.out_dtypes])

    def make_thunk(self, node: Apply):
        """Generate the block loop as straight-line Python (one ufunc call per
        instruction per block)."""
        n_in = len(node.inputs)
        size = int(np.prod(self.shape, dtype=np.int64))
        scalar = [inp.type.ndim == 0 or all(s == 1 for s in inp.type.shape) for inp in node.inputs]
        env: dict[str, Any] = {"np": np, "empty": np.empty, "ravel": np.ravel}
        lines = [f"def fused({', '.join(f'x{i}' for i in range(n_in))}):"]
        for i in range(n_in):
            if not scalar[i]:
                lines.append(f"    x{i} = ravel(x{i})")
            else:
                lines.append(f"    x{i} = x{i}.reshape(())")
        for j, dt in enumerate(self.out_dtypes):
            env[f"D{j}"] = np.dtype(dt)
            lines.append(f"    o{j} = empty({size}, D{j})")
        for k, dt in enumerate(self.temp_dtypes):
            env[f"TD{k}"] = np.dtype(dt)
            lines.append(f"    t{k} = empty({min(BLOCK, size)}, TD{k})")
        lines.append(f"    for s in range(0, {size}, {BLOCK}):")
        lines.append(f"        e = s + {BLOCK}")
        lines.append(f"        if e > {size}:")
        lines.append(f"            e = {size}")
        tail = size % BLOCK
        # Block views: inputs and outputs sliced; temporaries cut to the block length.
        for i in range(n_in):
            if not scalar[i]:
                lines.append(f"        a{i} = x{i}[s:e]")
        for j in range(len(self.out_dtypes)):
            lines.append(f"        b{j} = o{j}[s:e]")
        for k in range(len(self.temp_dtypes)):
            if tail:
                lines.append(f"        u{k} = t{k}[:e - s]")
            else:
                lines.append(f"        u{k} = t{k}")

        def ref(r: tuple) -> str:
            kind, idx = r
            if kind == "in":
                return f"x{idx}" if scalar[idx] else f"a{idx}"
            return f"u{idx}" if kind == "t" else f"b{idx}"

        for name, args, dest in self.program:
            env[f"f_{name}"] = getattr(np, name)
            lines.append(f"        f_{name}({', '.join(ref(a) for a in args)}, out={ref(dest)})")
        reshape = ", ".join(f"o{j}.reshape({self.shape!r})" for j in range(len(self.out_dtypes)))
        lines.append(f"    return ({reshape},)" if len(self.out_dtypes) == 1 else f"    return ({reshape})")
        src = "\n".join(lines) + "\n"
        exec(compile(src, "<nnthe-fused>", "exec"), env)
        fn = env["fused"]
        if len(self.out_dtypes) == 1:
            return lambda *xs: fn(*xs)[0]
        return fn

    def perform(self, node: Apply, *inputs: Any) -> Any:
        return self.make_thunk(node)(*inputs)


def _fusable(node: Apply, shape: tuple | None = None) -> bool:
    op = node.op
    if not isinstance(op, Elemwise) or not isinstance(op.scalar_op.impl, np.ufunc):
        return False
    out = node.outputs[0]
    if not isinstance(out.type, TensorType) or None in out.type.shape:
        return False
    if shape is not None and out.type.shape != shape:
        return False
    if not hasattr(np, op.scalar_op.impl.__name__) or getattr(np, op.scalar_op.impl.__name__) is not op.scalar_op.impl:
        return False
    for x in node.inputs:
        if x.type.shape != out.type.shape and not all(s == 1 for s in x.type.shape):
            return False
        if x.type.ndim not in (0, out.type.ndim):
            return False
    return True


@register("fusion", "fusion", name="elemwise_fusion", is_global=True)
def elemwise_fusion(fgraph: Any) -> int:
    """Fuse chains of same-shaped elementwise ufuncs into :class:`FusedElemwise` nodes."""
    order = fgraph.toposort()
    position = {node: k for k, node in enumerate(order)}
    taken: set = set()
    changes = 0
    for node in reversed(order):
        if node in taken or not _fusable(node):
            continue
        shape = node.outputs[0].type.shape
        if int(np.prod(shape, dtype=np.int64)) < MIN_SIZE:
            continue
        cluster = {node}
        stack = [node]
        while stack:
            n = stack.pop()
            for x in n.inputs:
                m = x.owner
                if m is None or m in cluster or m in taken or not _fusable(m, shape):
                    continue
                # Every reader of m's result must be in the group or be a function
                # output: a reader outside could not run before the fused node.
                if fgraph.read_only_within(m.outputs[0], cluster | {m}):
                    cluster.add(m)
                    stack.append(m)
        if len(cluster) < 2:
            continue
        taken |= cluster
        nodes = sorted(cluster, key=position.__getitem__)
        _replace_cluster(fgraph, nodes, shape)
        changes += 1
    return changes


def _replace_cluster(fgraph: Any, nodes: list, shape: tuple) -> None:
    cluster = set(nodes)
    produced = {n.outputs[0] for n in nodes}
    inputs: list[Variable] = []
    in_index: dict[int, int] = {}
    outputs: list[Variable] = []
    out_index: dict[int, int] = {}
    for n in nodes:
        v = n.outputs[0]
        if fgraph.is_output(v) or not fgraph.read_only_within(v, cluster):
            out_index[id(v)] = len(outputs)
            outputs.append(v)
    # Temporaries: reuse a buffer once its last reader in the program has run.
    last_read: dict[int, int] = {}
    for k, n in enumerate(nodes):
        for x in n.inputs:
            last_read[id(x)] = k
    temp_of: dict[int, int] = {}
    temp_dtypes: list[str] = []
    free: dict[str, list[int]] = {}
    program = []
    for k, n in enumerate(nodes):
        args = []
        for x in n.inputs:
            if x in produced:
                args.append(("out", out_index[id(x)]) if id(x) in out_index else ("t", temp_of[id(x)]))
            else:
                if id(x) not in in_index:
                    in_index[id(x)] = len(inputs)
                    inputs.append(x)
                args.append(("in", in_index[id(x)]))
        # Buffers whose value was read for the last time here can be this node's dest.
        for x in n.inputs:
            if x in produced and id(x) not in out_index and last_read.get(id(x)) == k:
                t = temp_of[id(x)]
                if t not in free.setdefault(x.type.dtype, []):
                    free[x.type.dtype].append(t)
        v = n.outputs[0]
        if id(v) in out_index:
            dest = ("out", out_index[id(v)])
        else:
            pool = free.setdefault(v.type.dtype, [])
            if pool:
                t = pool.pop()
            else:
                t = len(temp_dtypes)
                temp_dtypes.append(v.type.dtype)
            temp_of[id(v)] = t
            dest = ("t", t)
        program.append((n.op.scalar_op.impl.__name__, tuple(args), dest))
    op = FusedElemwise(tuple(program), tuple(temp_dtypes), tuple(o.type.dtype for o in outputs), shape)
    new = op.make_node(*inputs)
    for old, rep in zip(outputs, new.outputs):
        fgraph.replace(old, rep, reason="elemwise_fusion")
