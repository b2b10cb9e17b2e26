"""Synchronous data-parallel training on MPI (mpi4py), from one machine's cores to a cluster.

Launch N copies of the same script; each is a *rank*::

    mpiexec -n 2 python -m mpi4py train.py          # one machine, 2 processes
    mpiexec -f hosts -n 8 python -m mpi4py train.py # several machines

(``python -m mpi4py`` matters: an uncaught exception on any rank then calls
``MPI_Abort`` and ends every rank, instead of leaving the others waiting forever.)

How it fits the symbolic design
-------------------------------
The gradient averaging is an op in the graph, placed between ``grad`` and the
optimizer's update rules, as Horovod does in TensorFlow::

    from nnthe import distributed
    distributed.init()
    loss = losses.softmax_cross_entropy(model(X, training=True), y).mean()
    grads = distributed.allreduce_gradients(nnthe.grad(loss, params), weight=X.shape[0])
    step = nnthe.function([X, y], loss, updates=opt.updates(grads, params))
    distributed.broadcast_shared(params + list(opt.state.values()))   # rank 0's start

``opt.updates`` already accepts gradients instead of a loss, so every optimizer, every
clipping option and every schedule works unchanged, and the compiled step stays one
straight-line function: forward, backward, one in-place ``Allreduce`` over a flat buffer
of all gradients (:class:`~nnthe.distributed.ops.AllreduceGradients`), then the updates.
The other way, a step split into a "gradients" function and an "apply" function, would
return every gradient to Python and copy it back in, and would lose the rewrites that
see the whole step (in-place updates, fusion of the update rules).
:class:`DistributedOptimizer` wraps an optimizer so that ``opt.updates(loss, params)``
inserts the op itself.

Because every rank applies the same rule to the same averaged gradients from the same
starting values, parameters *and* optimizer state (moments, step counts) stay identical
on every rank without ever being sent again (the tests check this bit for bit).

Sum or mean. With a loss that is a *mean* over the local batch, averaging the ranks'
gradients gives the gradient of the mean over the global batch when every rank holds
the same number of examples; pass ``weight=X.shape[0]`` to make it exact when they do
not (the last batch of an epoch). With a loss that is a *sum*, pass ``average=False``.

Training loop. ``fit(..., callbacks=[Distributed()])``
(:class:`~nnthe.distributed.training.Distributed`) does all of the above for
:func:`nnthe.train.fit`, with ``batch_size`` per rank: sharding, sums of metrics and
validation over ranks, rank 0 printing and writing checkpoints, exact resume, Ctrl-C on
all ranks at once.

Random numbers and BatchNorm. Rank 0 keeps its Dropout keys and rank ``r`` derives its
own from them and ``r``, so dropout masks differ per rank as they would between the
examples of one big batch. BatchNorm normalises with *local* (per-rank) batch
statistics, as PyTorch's DDP does without SyncBatchNorm: it costs no communication in
the forward pass; the running averages are averaged over the ranks at the end of every
epoch, before validation and checkpoints, so every rank evaluates and saves the same
model.

mpi4py is imported on first use only, never by ``import nnthe``; without it, the first
call raises :class:`MPIUnavailableError` (an ImportError) saying
``pip install 'nnthe[mpi]'``.
"""
from __future__ import annotations

from .communicator import (MPIUnavailableError, abort, allreduce_sum, barrier, broadcast_arrays,
                   broadcast_shared, check_same, comm, init, is_root, rank, size)
from .ops import (AllreduceGradients, DistributedOptimizer, allreduce_gradients,
                  allreduce_stats, reset_allreduce_stats)
from .training import Distributed

__all__ = ["init", "rank", "size", "is_root", "comm", "barrier", "broadcast_arrays",
           "broadcast_shared", "allreduce_sum", "check_same", "abort", "MPIUnavailableError",
           "AllreduceGradients", "allreduce_gradients", "DistributedOptimizer",
           "allreduce_stats", "reset_allreduce_stats", "Distributed"]
