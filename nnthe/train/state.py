"""Where a call of fit is: the position a checkpoint holds so that a resumed run is exact."""
from __future__ import annotations

import json
from typing import Any

from .history import History

__all__ = ["FitState"]


class FitState:
    """The position of one :meth:`Trainer.fit <nnthe.train.Trainer.fit>` call.

    ``trainer.state`` during (and after) fit. Callbacks read it; only
    :class:`~nnthe.train.Resume` replaces it (:meth:`load_meta`), and a distributed
    callback may set ``chief``.

    Attributes
    ----------
    epochs, batch_size, seed, n_train : int
        The run's settings (a resumed run must have the same ``batch_size``, ``seed`` and
        ``n_train``).
    epoch : int
        Epochs finished.
    step : int
        Steps done in the current epoch (``epoch + 1``); 0 between epochs.
    global_step : int
        Steps done since the start of the run.
    n_batches : int
        Steps in the current epoch (set at its start).
    history : History
        The finished epochs.
    stopped : bool
        A stop was requested at an epoch's end (early stopping): a resumed run ends too.
    chief : bool
        True when this process writes files and output (False on the ranks other than
        0 of a distributed run).
    verbose : int
        0, 1 or 2, as given to fit.
    has_validation : bool
        Whether fit validates after each epoch (``val_*`` logs).
    checkpoint : str or None
        The last checkpoint written in this run (set by ModelCheckpoint).
    sums, seen
        The running sums of the current epoch's losses and metrics (weighted by batch
        size) and the samples they cover: kept so that a mid-epoch resume is exact.
    """

    def __init__(self, epochs: int, batch_size: int, seed: int, n_train: int,
                 verbose: int = 0, has_validation: bool = False) -> None:
        self.epochs, self.batch_size, self.seed, self.n_train = epochs, batch_size, seed, n_train
        self.verbose, self.has_validation = verbose, has_validation
        self.epoch, self.step, self.global_step, self.n_batches = 0, 0, 0, 0
        self.sums: dict[str, float] = {}
        self.seen = 0
        self.history = History()
        self.stopped = False
        self.chief = True
        self.checkpoint: str | None = None

    def say(self, msg: str) -> None:
        """Print ``msg`` unless fit is silent or this process is not the chief."""
        if self.verbose and self.chief:
            print(msg, flush=True)

    def where(self) -> str:
        """``'epoch 3, step 4/9'`` mid-epoch, ``'the end of epoch 2'`` between epochs."""
        if self.step:
            return f"epoch {self.epoch + 1}, step {self.step}/{self.n_batches or '?'}"
        return f"the end of epoch {self.epoch}"

    # -- checkpoint metadata ------------------------------------------------------------------
    def to_meta(self, callback_states: list[dict], interrupted: bool, **extra: Any) -> dict:
        """The checkpoint metadata that lets :meth:`load_meta` continue this run."""
        meta = dict(extra)
        meta.update(epoch=self.epoch, batch=self.step, global_step=self.global_step,
                    n_batches=self.n_batches, seed=self.seed, batch_size=self.batch_size, n_train=self.n_train,
                    epochs=self.epochs,
                    # A JSON string of its own: exact floats, and inf/nan survive.
                    trainer_state=json.dumps({
                        "history": self.history.epochs, "sums": self.sums, "seen": self.seen,
                        "stopped": self.stopped, "interrupted": interrupted,
                        "callbacks": callback_states}))
        return meta

    @staticmethod
    def parse_meta(meta: Any, where: str) -> dict:
        """The loop state in checkpoint metadata; ValueError if it has none."""
        text = meta.get("trainer_state") if isinstance(meta, dict) else None
        missing = [k for k in ("epoch", "batch", "global_step") if k not in meta] if text else []
        if not isinstance(text, str) or missing:
            raise ValueError(f"{where} holds no state of a fit run (was it written by "
                             f"nnthe.train.fit / ModelCheckpoint?)")
        try:
            state = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"{where}: its fit state is not valid JSON: {exc}") from None
        if not isinstance(state, dict) or not {"history", "sums", "seen", "stopped"} <= set(state):
            raise ValueError(f"{where}: its fit state lacks the loop position")
        return state

    def check_meta(self, meta: Any, where: str) -> None:
        """ValueError unless the run in ``meta`` can continue as this call."""
        for key in ("seed", "batch_size", "n_train"):
            mine = getattr(self, key)
            if key in meta and meta[key] != mine:
                raise ValueError(f"fit(resume=True): {where} was written with {key}={meta[key]}, "
                                 f"this call has {key}={mine}; use the same value so the data "
                                 f"order continues exactly")

    def load_meta(self, meta: Any, state: dict) -> None:
        """Continue from checkpoint metadata (:meth:`to_meta`, parsed by :meth:`parse_meta`)."""
        self.epoch, self.step, self.global_step = meta["epoch"], meta["batch"], meta["global_step"]
        # (Checkpoints before n_batches was stored: the count without epoch_indices.)
        self.n_batches = meta.get("n_batches", -(-self.n_train // self.batch_size))
        self.history = History(state["history"])
        self.sums, self.seen, self.stopped = state["sums"], state["seen"], state["stopped"]
