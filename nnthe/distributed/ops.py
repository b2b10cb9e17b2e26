"""The all-reduce op: gradients averaged over the ranks, inside the compiled graph.

:class:`AllreduceGradients` takes the local gradients (and optionally a local weight,
the number of examples on this rank) and returns, on every rank, the same averaged
gradients. It sits between ``grad`` and the optimizer's rules, so
``nnthe.function(..., updates=opt.updates(allreduce_gradients(grads), params))``
compiles one distributed training step (Horovod's design for TensorFlow).

At run time the op packs its inputs into one flat buffer per dtype, calls mpi4py's
``Allreduce(MPI.IN_PLACE, ...)`` over it (or over a few buckets of it) and returns
views of that buffer: one copy in, no copy out, no pickling. Every rank compiles the
same graph, so every rank calls ``Allreduce`` in the same order with the same sizes;
the rewrites keep that true: merging two equal nodes merges them on every rank, and
constant folding (a node whose gradients are all constants) would run the call at
compile time, on every rank alike.
"""
from __future__ import annotations

from time import perf_counter
from typing import Any, Callable, Sequence

import numpy as np

from ..core.graph import Apply, Op
from ..core.ops.alloc import zeros_like
from ..core.ops.elemwise import cast
from ..core.types import TensorType, grad_not_implemented, is_disconnected, is_float_dtype
from ..core.variable import TensorVariable, as_tensor_variable
from ..optim.base import check_params, collect_grads
from . import communicator as _comm

__all__ = ["AllreduceGradients", "allreduce_gradients", "DistributedOptimizer",
           "allreduce_stats", "reset_allreduce_stats"]

#: Time spent in ``Allreduce`` calls by every AllreduceGradients node of this process
#: (including the time waiting for slower ranks), their number and bytes.
_STATS = {"calls": 0, "seconds": 0.0, "bytes": 0}


def allreduce_stats() -> dict:
    """``{'calls', 'seconds', 'bytes'}`` of the gradient ``Allreduce`` calls so far in this
    process (the seconds include waiting for slower ranks)."""
    return dict(_STATS)


def reset_allreduce_stats() -> None:
    """Set the counters of :func:`allreduce_stats` to zero."""
    _STATS.update(calls=0, seconds=0.0, bytes=0)


def _buckets(sizes: list[int], itemsize: int, bucket_bytes: int | None) -> list[tuple[int, int]]:
    """``(start, stop)`` element ranges of the flat buffer, cut at tensor boundaries
    once a bucket holds at least ``bucket_bytes`` (one bucket when None)."""
    total = sum(sizes)
    if bucket_bytes is None:
        return [(0, total)] if total else []
    out, start, pos = [], 0, 0
    for n in sizes:
        pos += n
        if (pos - start) * itemsize >= bucket_bytes:
            out.append((start, pos))
            start = pos
    if pos > start:
        out.append((start, pos))
    return out


class AllreduceGradients(Op):
    """Average (or sum) ``n`` float tensors over the MPI ranks.

    Parameters
    ----------
    n : int
        The number of tensors.
    average : bool
        Divide the sum by the number of ranks (or by the summed weights, when
        ``weighted``); False gives the plain sum.
    weighted : bool
        The node has one more input, a scalar weight (this rank's number of examples):
        the result is ``sum_r w_r g_r / sum_r w_r``, the exact gradient of the global
        mean loss when the ranks hold different numbers of examples. A rank with
        weight 0 contributes nothing (even if its gradients are NaN, as the mean of an
        empty batch is).
    bucket_bytes : int or None
        Cut each flat buffer into ``Allreduce`` calls of about this many bytes (None:
        one call per dtype).
    """

    __props__ = ("n", "average", "weighted", "bucket_bytes")

    def __init__(self, n: int, average: bool = True, weighted: bool = False,
                 bucket_bytes: int | None = None) -> None:
        self.n = int(n)
        self.average = bool(average)
        self.weighted = bool(weighted)
        self.bucket_bytes = None if bucket_bytes is None else int(bucket_bytes)

    def make_node(self, *inputs: Any) -> Apply:
        expected = self.n + self.weighted
        if len(inputs) != expected:
            raise TypeError(f"{self}: expected {expected} inputs ({self.n} gradients"
                            f"{' and a weight' if self.weighted else ''}), got {len(inputs)}")
        inputs = [as_tensor_variable(x) for x in inputs]
        for i, g in enumerate(inputs[:self.n]):
            if not is_float_dtype(g.type.dtype):
                raise TypeError(f"allreduce_gradients: input {i} ({g!r}) has dtype "
                                f"{g.type.dtype}; only float tensors can be averaged")
        if self.weighted:
            w = inputs[-1]
            if w.type.ndim != 0:
                raise TypeError(f"allreduce_gradients: the weight must be a scalar, got {w.type}")
            if w.type.dtype != "float64":
                inputs[-1] = cast(w, "float64")
        outs = [TensorType(g.type.dtype, g.type.shape) for g in inputs[:self.n]]
        return Apply(self, inputs, outs)

    def make_thunk(self, node: Apply) -> Callable[..., Any]:
        c = _comm.comm()
        MPI = _comm._mpi()
        n_ranks = c.Get_size()
        n, weighted, average, bucket_bytes = self.n, self.weighted, self.average, self.bucket_bytes
        dtypes = [np.dtype(o.type.dtype) for o in node.outputs]
        order = sorted(set(dtypes), key=lambda d: d.str)   # the same on every rank
        groups = [[i for i in range(n) if dtypes[i] == d] for d in order]
        stats = _STATS

        def allreduce(*values: np.ndarray) -> tuple[np.ndarray, ...]:
            w = float(values[n]) if weighted else 1.0
            out: list[Any] = [None] * n
            for gi, (dtype, idx) in enumerate(zip(order, groups)):
                sizes = [values[i].size for i in idx]
                # The first buffer carries the weight in one extra element, so the sum of
                # weights travels with the gradients rather than in a second call.
                extra = 1 if (weighted and gi == 0) else 0
                buf = np.empty(sum(sizes) + extra, dtype=dtype)
                pos = 0
                for i, k in zip(idx, sizes):
                    np.copyto(buf[pos:pos + k].reshape(values[i].shape), values[i])
                    pos += k
                if weighted:
                    if w == 0:
                        buf[:pos] = 0
                    elif w != 1:
                        buf[:pos] *= dtype.type(w)
                    if extra:
                        buf[pos] = w
                if n_ranks > 1:
                    itemsize = dtype.itemsize
                    ranges = _buckets(sizes, itemsize, bucket_bytes)
                    if extra:
                        ranges = ranges[:-1] + [(ranges[-1][0] if ranges else 0, pos + 1)]
                    t0 = perf_counter()
                    for a, b in ranges:
                        c.Allreduce(MPI.IN_PLACE, buf[a:b], op=MPI.SUM)
                    stats["seconds"] += perf_counter() - t0
                    stats["calls"] += len(ranges)
                    stats["bytes"] += buf.nbytes
                if gi == 0:
                    if weighted:
                        total = float(buf[pos])
                        scale = 1.0 / total if (average and total) else (0.0 if average else 1.0)
                    else:
                        scale = 1.0 / n_ranks if average else 1.0
                if scale != 1.0:
                    buf[:pos] *= dtype.type(scale)
                pos = 0
                for i, k in zip(idx, sizes):
                    out[i] = buf[pos:pos + k].reshape(values[i].shape)
                    pos += k
            return out[0] if n == 1 else tuple(out)

        return allreduce

    def perform(self, node: Apply, *inputs: Any) -> Any:
        return self.make_thunk(node)(*inputs)

    def infer_shape(self, node: Apply, input_shapes: list[tuple]) -> list[tuple]:
        return list(input_shapes[:self.n])

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        pattern = [[i == j for j in range(self.n)] for i in range(self.n)]
        if self.weighted:
            pattern.append([True] * self.n)
        return pattern

    def L_op(self, node: Apply, inputs: list, outputs: list, output_grads: list) -> list:
        if self.weighted:
            return ([grad_not_implemented(self, i, x) for i, x in enumerate(inputs[:self.n])]
                    + [grad_not_implemented(self, self.n, inputs[-1])])
        # Every rank's output is (1/N) sum_r g_r, so the derivative of the sum over ranks
        # of a scalar of the outputs, with respect to this rank's g, is the same average
        # of the ranks' output gradients: the op is its own adjoint.
        gs = [zeros_like(o) if is_disconnected(g) else g for o, g in zip(outputs, output_grads)]
        res = self.__class__(self.n, self.average, False, self.bucket_bytes)(*gs)
        return list(res) if self.n > 1 else [res]


def allreduce_gradients(grads: Sequence[Any], weight: Any = None, average: bool = True,
                        bucket_mb: float | None = None) -> list[TensorVariable]:
    """Symbolic gradients averaged over the MPI ranks (one ``Allreduce`` per dtype).

    Parameters
    ----------
    grads : list of float tensors
        This rank's gradients (``nnthe.grad(loss, params)``).
    weight : scalar tensor or number, optional
        This rank's number of examples (``X.shape[0]``). With a weight, the result is
        the weighted mean ``sum_r w_r g_r / sum_r w_r``: the gradient of the mean loss over
        the whole global batch even when the ranks' shards differ in size. Without, the
        plain mean over ranks (exact when every shard has the same size).
    average : bool
        False sums instead: the right choice when the loss is a *sum* over examples,
        since the gradient of a global sum is the sum of the local gradients.
    bucket_mb : float, optional
        Split the buffer into ``Allreduce`` calls of about this many MB.

    Returns
    -------
    list of TensorVariable
        The averaged gradients, same types as ``grads``; identical on every rank, so
        optimizer rules applied to them keep parameters and optimizer state identical.

    Raises
    ------
    TypeError
        If a gradient is not a float tensor or the weight not a scalar.
    ValueError
        If ``grads`` is empty or ``bucket_mb`` not positive.
    MPIUnavailableError
        Without mpi4py (``pip install 'nnthe[mpi]'``).

    Examples
    --------
    >>> grads = nnthe.grad(loss, params)
    >>> avg = distributed.allreduce_gradients(grads, weight=X.shape[0])
    >>> step = nnthe.function([X, y], loss, updates=opt.updates(avg, params))
    """
    _comm._mpi()  # fail when the graph is built, not at the first step
    grads = [as_tensor_variable(g) for g in grads]
    if not grads:
        raise ValueError("allreduce_gradients: got no gradients")
    if bucket_mb is not None and not (isinstance(bucket_mb, (int, float)) and bucket_mb > 0):
        raise ValueError(f"allreduce_gradients: bucket_mb must be a positive number, got {bucket_mb!r}")
    bucket_bytes = None if bucket_mb is None else int(bucket_mb * 2**20)
    inputs = list(grads)
    if weight is not None:
        inputs.append(as_tensor_variable(weight))
    op = AllreduceGradients(len(grads), average=average, weighted=weight is not None,
                            bucket_bytes=bucket_bytes)
    out = op(*inputs)
    return list(out) if len(grads) > 1 else [out]


class DistributedOptimizer:
    """An optimizer whose :meth:`updates` average the gradients over the ranks first
    (Horovod's ``DistributedOptimizer``); everything else is the wrapped optimizer's.

    Parameters
    ----------
    optimizer : nnthe.optim.Optimizer
    weight, average, bucket_mb
        As in :func:`allreduce_gradients`.

    Examples
    --------
    >>> opt = distributed.DistributedOptimizer(optim.Adam(1e-3), weight=X.shape[0])
    >>> step = nnthe.function([X, y], loss, updates=opt.updates(loss, params))
    >>> nnthe.save_checkpoint(path, model=model, optimizer=opt.optimizer)
    """

    def __init__(self, optimizer: Any, weight: Any = None, average: bool = True,
                 bucket_mb: float | None = None) -> None:
        if not hasattr(optimizer, "updates"):
            raise TypeError(f"DistributedOptimizer: expected an nnthe optimizer, got "
                            f"{type(optimizer).__name__}")
        self.optimizer = optimizer
        self.weight, self.average, self.bucket_mb = weight, average, bucket_mb

    def updates(self, loss_or_grads: Any, params: Sequence[Any]) -> Any:
        """The wrapped optimizer's updates, from gradients averaged over the ranks."""
        what = f"DistributedOptimizer({type(self.optimizer).__name__}).updates"
        params = check_params(params, what)
        grads = collect_grads(loss_or_grads, params, what)
        avg = allreduce_gradients(grads, self.weight, self.average, self.bucket_mb)
        return self.optimizer.updates(avg, params)

    @property
    def lr(self) -> float:
        """The wrapped optimizer's learning rate; assigning sets it."""
        return self.optimizer.lr

    @lr.setter
    def lr(self, value: float) -> None:
        self.optimizer.lr = value

    def __getattr__(self, name: str) -> Any:
        # Only called for names not found on the wrapper: state, hyperparams, lr, ...
        if name == "optimizer":  # not set yet (copying, unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.optimizer, name)

    def __repr__(self) -> str:
        return f"DistributedOptimizer({self.optimizer!r})"
