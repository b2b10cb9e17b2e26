"""The :class:`Distributed` callback: :meth:`nnthe.train.Trainer.fit` on several MPI ranks.

``fit(..., callbacks=[Distributed()])``, launched with ``mpiexec -n N python -m mpi4py
script.py``. It must come after a :class:`~nnthe.train.Resume` and before
:class:`~nnthe.train.ModelCheckpoint` and :class:`~nnthe.train.HistoryLogger` (fit's
``resume=``, ``checkpoint_dir=`` and ``history_path=`` shorthands put them there). With
it, on every rank:

- the training step averages the gradients over the ranks (weighted by the local batch
  sizes, so an uneven last batch is still exact) between ``grad`` and the updates;
- the run starts from rank 0's parameters and optimizer state (broadcast in
  ``on_train_begin``);
- ``batch_size`` is the batch *of each rank*, as in Horovod and PyTorch's DDP: every
  global batch of ``size x batch_size`` consecutive indices of the epoch's shuffled
  order (the same on every rank, from ``seed``) is cut in ``size`` contiguous shards
  (``epoch_indices``), so N ranks with ``batch_size=B`` train exactly like one process
  with ``batch_size=N*B``. (When the last global batch holds fewer examples than there
  are ranks it is left out of that epoch: every rank must make the same number of steps.)
- the epoch's losses and metrics (``on_epoch_steps_end``) and validation results are
  sums over the ranks' examples divided by the global count (validation data is
  sharded too), ``samples_per_s`` is the sum of the ranks' rates, and the progress bar
  shows rank 0's running values;
- rank 0 alone prints and writes files (``trainer.state.chief``); its checkpoints also
  hold every rank's random states, BatchNorm statistics and running sums (gathered in
  ``on_checkpoint``), so every rank loads the same file on resume and gets its own state
  back: a resumed run is exact, even mid-epoch;
- Ctrl-C (``mpiexec`` forwards it to every rank) stops all ranks after the same step:
  they agree on it with a one-number ``Allreduce`` per step, then rank 0 saves and every
  rank, once the file is written (``teardown``), raises
  :class:`~nnthe.train.TrainingInterrupted` naming it. An exception on one rank ends
  the job through ``python -m mpi4py`` (``MPI_Abort``).

Random streams: rank 0 keeps its Dropout keys, rank ``r`` derives its own from them and
``r`` (a SeedSequence hash), so masks differ per rank by construction.
BatchNorm: each rank normalises with its local batch statistics (no communication in the
forward pass); the running averages, and any other non-trainable parameter, are averaged
over the ranks at the end of every epoch, before validation and checkpoints.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..train.callbacks import Callback
from . import communicator as _comm
from .ops import allreduce_gradients

__all__ = ["Distributed"]


class Distributed(Callback):
    """Synchronous data-parallel :meth:`~nnthe.train.Trainer.fit` over the MPI ranks.

    Parameters
    ----------
    bucket_mb : float, optional
        Cut the gradient ``Allreduce`` into calls of about this many MB (default one).
    communicator : mpi4py communicator, optional
        Default ``MPI.COMM_WORLD``.

    Examples
    --------
    >>> history = train.fit(model, (X, y), epochs=3, batch_size=64,
    ...                     callbacks=[distributed.Distributed()])      # doctest: +SKIP

    launched with ``mpiexec -n 2 python -m mpi4py script.py``: 2 x 64 images per step.
    """

    #: Marks the callback that fit asks to prepare the trainer before compiling.
    distributed = True

    def __init__(self, bucket_mb: float | None = None, communicator: Any = None) -> None:
        self.bucket_mb = bucket_mb
        self.comm = _comm.init(communicator) if communicator is not None else _comm.comm()
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self._saved: list | None = None     # every rank's state, on rank 0, for the checkpoint
        self._mine: dict | None = None      # this rank's state from a checkpoint, to apply

    # -- compiling ---------------------------------------------------------------------
    def setup(self, trainer: Any) -> None:
        """Make ``trainer`` compile a distributed step (fit calls this before compiling)."""
        if trainer.train_step is not None and getattr(trainer, "_grad_hook", None) is None:
            raise ValueError("Distributed: this Trainer's train_step was compiled without "
                             "the gradient all-reduce; use a new Trainer (or fit(...)) with "
                             "distributed=True")
        order = [type(cb).__name__ for cb in trainer.callbacks]
        me = next(i for i, cb in enumerate(trainer.callbacks) if cb is self)
        if "Resume" in order[me:]:
            raise ValueError(f"Distributed must come after Resume in the callbacks (got "
                             f"{order}): it completes what Resume restores")
        late = [n for n in ("ModelCheckpoint", "HistoryLogger") if n in order[:me]]
        if late:
            raise ValueError(f"Distributed must come before {' and '.join(late)} in the "
                             f"callbacks (got {order}): it gathers what they write")
        trainer._grad_hook = self.average_gradients
        trainer._dist = self
        if trainer.state is not None:
            trainer.state.chief = self.rank == 0   # before Resume says anything

    def teardown(self, trainer: Any) -> None:
        """Hold every rank until rank 0 has written its files (fit calls this after the
        last hook, also after Ctrl-C), and give every rank the path of the last checkpoint.

        Without it a rank that leaves fit first could end the job while rank 0 still
        saves: ``python -m mpi4py`` turns a non-zero exit (130 after Ctrl-C) into
        ``MPI_Abort``, which kills the other ranks.
        """
        state = trainer.state
        state.checkpoint = self.comm.bcast(state.checkpoint, root=0)
        self.comm.Barrier()

    def average_gradients(self, grads: list, X: Any) -> list:
        """The gradients averaged over the ranks, weighted by the local batch size."""
        return allreduce_gradients(grads, weight=X.shape[0], bucket_mb=self.bucket_mb)

    # -- the start --------------------------------------------------------------------
    def on_train_begin(self, trainer: Any) -> None:
        state, model, opt = trainer.state, trainer.model, trainer.optimizer
        state.chief = self.rank == 0
        resume = next((cb for cb in trainer.callbacks if hasattr(cb, "path")
                       and type(cb).__name__ == "Resume"), None)
        if resume is not None:  # e.g. a checkpoint folder that is not on a shared disk
            _comm.check_same([resume.path], "checkpoints resumed from")
        resumed = self._mine is not None
        # Every rank starts from rank 0's values. After a resume every rank loaded the same
        # file and broadcasting again checks the ranks built the same model; the
        # non-trainable parameters are each rank's own then (restored below).
        _comm.broadcast_shared(model.trainable_params if resumed else model.params,
                               what="model parameters")
        opt_state = list(getattr(opt, "state", {}).values()) + \
            list(getattr(opt, "hyperparams", {}).values())
        _comm.broadcast_shared(opt_state, what="optimizer states")
        if resumed:
            self._apply(trainer, self._mine)
            self._mine = None
        else:
            self._decorrelate_random_states(model)

    def _decorrelate_random_states(self, model: Any) -> None:
        states = list(_random_states(model).values())
        _comm.broadcast_shared(states, what="random states")
        if self.rank == 0:
            return
        for k, var in enumerate(states):
            value = var.get_value()
            seq = np.random.SeedSequence([int(value[0]), int(value[1]), self.rank, k])
            value[:2] = seq.generate_state(2, dtype=np.uint64)
            var.set_value(value)

    # -- data -------------------------------------------------------------------------
    def shard(self, indices: np.ndarray) -> np.ndarray:
        """This rank's contiguous part of ``indices`` (sizes differ by one at most)."""
        n = len(indices)
        return indices[self.rank * n // self.size:(self.rank + 1) * n // self.size]

    def shard_epoch(self, indices: np.ndarray, batch_size: int) -> np.ndarray:
        """This rank's indices of an epoch: its shard of every global batch of
        ``size x batch_size`` consecutive ``indices``, concatenated (so that batches of
        ``batch_size`` of the result are this rank's parts of the global batches)."""
        group = batch_size * self.size
        n = len(indices)
        if n % group and n % group < self.size:
            n -= n % group  # a last global batch smaller than the number of ranks
        if n == 0:
            raise ValueError(f"fit (distributed): {len(indices)} training samples cannot "
                             f"give each of the {self.size} ranks at least one")
        return np.concatenate([self.shard(indices[s:min(s + group, n)])
                               for s in range(0, n, group)])

    def epoch_indices(self, trainer: Any, epoch: int, indices: np.ndarray) -> np.ndarray:
        return self.shard_epoch(indices, trainer.state.batch_size)

    def sum_over_ranks(self, values: Sequence[float]) -> list[float]:
        """Element-wise sums over the ranks (float64)."""
        return [float(v) for v in _comm.allreduce_sum(list(values))]

    def any_rank(self, flag: bool) -> bool:
        """True on every rank if ``flag`` is true on any."""
        return bool(_comm.allreduce_sum([1.0 if flag else 0.0])[0] > 0)

    # -- steps and epochs ----------------------------------------------------------------
    def on_batch_end(self, trainer: Any, step: int, logs: dict) -> None:
        # Ctrl-C reaches the ranks at different steps: stop all after the same one.
        if self.any_rank(trainer.stop_requested == "step"):
            trainer.request_stop("step")

    def on_epoch_steps_end(self, trainer: Any, epoch: int, logs: dict) -> None:
        state = trainer.state
        keys = list(state.sums)
        totals = self.sum_over_ranks([state.sums[k] for k in keys] + [state.seen])
        logs.update({k: s / totals[-1] for k, s in zip(keys, totals)})
        self.sync_state(trainer.model)  # BatchNorm averages, before validation and saving

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict) -> None:
        if "samples_per_s" in logs:  # the ranks run in step: their rates add up
            logs["samples_per_s"] = self.sum_over_ranks([logs["samples_per_s"]])[0]

    def sync_state(self, model: Any) -> None:
        """Average the non-trainable parameters (BatchNorm running statistics) over ranks."""
        others = list(_local_state(model).values())
        if not others or self.size == 1:
            return
        for p in others:
            v = p.get_value(borrow=True)
            p.set_value((_comm.allreduce_sum(v) / self.size).astype(v.dtype))

    # -- checkpoints --------------------------------------------------------------------
    def on_checkpoint(self, trainer: Any, interrupted: bool) -> None:
        if not interrupted and self.any_rank(trainer.stop_requested == "step"):
            trainer.request_stop("step")   # a Ctrl-C during validation reached some ranks
        state, model = trainer.state, trainer.model
        mine = {"sums": state.sums, "seen": state.seen,
                # float32 -> float64 -> JSON is exact, so a mid-epoch resume is too.
                "local": {k: p.get_value().tolist() for k, p in _local_state(model).items()},
                "random": {k: v.get_value().tolist() for k, v in _random_states(model).items()}}
        self._saved = self.comm.gather(mine, root=0)

    def state_dict(self) -> dict:
        # ModelCheckpoint (after this callback) asks rank 0 only, after on_checkpoint.
        return {"size": self.size, "ranks": self._saved}

    def load_state_dict(self, state: dict) -> None:
        if state.get("size") != self.size or not state.get("ranks"):
            raise ValueError(f"fit(resume=True, distributed=True): the checkpoint was written "
                             f"by {state.get('size')} ranks, this job has {self.size}; resume "
                             f"with mpiexec -n {state.get('size')} (the data order and every "
                             f"rank's random state depend on it)")
        self._mine = state["ranks"][self.rank]

    def _apply(self, trainer: Any, mine: dict) -> None:
        model, state = trainer.model, trainer.state
        for k, p in _local_state(model).items():
            p.set_value(np.asarray(mine["local"][k], dtype=p.type.dtype))
        for k, v in _random_states(model).items():
            v.set_value(np.asarray(mine["random"][k], dtype=np.uint64))
        state.sums, state.seen = dict(mine["sums"]), mine["seen"]


def _local_state(model: Any) -> dict:
    """The non-trainable parameters (BatchNorm running statistics) by name: they differ
    between ranks during an epoch."""
    trainable = {id(p) for p in model.trainable_params}
    return {k: p for k, p in model.named_params().items() if id(p) not in trainable}


def _random_states(model: Any) -> dict:
    return dict(model.named_random_states()) if hasattr(model, "named_random_states") else {}
