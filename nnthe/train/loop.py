"""The training loop: :class:`Trainer` compiles a model's training and evaluation functions
once; :meth:`Trainer.fit` runs epochs with progress output, validation, callbacks,
checkpoints, exact resume and clean Ctrl-C handling."""
from __future__ import annotations

import json
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import losses as _losses
from .. import metrics as _metrics
from ..config import config
from ..core.compile import function
from .callbacks import Callback
from .history import History
from .progress import Progress, resolve_verbose
from .resolve import check_kwargs, resolve_loss, resolve_metrics

__all__ = ["Trainer", "TrainingInterrupted", "fit", "evaluate"]

_FIT_ARGS = ("epochs", "batch_size", "validation_data", "callbacks", "checkpoint_dir", "keep",
             "keep_best", "resume", "seed", "history_path", "verbose", "eval_batch_size",
             "checkpoint_meta")


class TrainingInterrupted(KeyboardInterrupt):
    """Raised by :meth:`Trainer.fit` after Ctrl-C: the step in progress was finished and a
    checkpoint saved (when fit had a ``checkpoint_dir``).

    It is a ``KeyboardInterrupt``, so an uncaught one ends Python with the usual status of
    Ctrl-C (130 in a shell).

    Attributes
    ----------
    checkpoint : str or None
        The checkpoint written, None without ``checkpoint_dir``.
    history : History
        The epochs finished before the interruption.
    epoch, step : int
        The epoch in progress (1-based) and the steps done in it.
    """

    def __init__(self, message: str, checkpoint: str | None, history: History, epoch: int,
                 step: int) -> None:
        super().__init__(message)
        self.checkpoint, self.history, self.epoch, self.step = checkpoint, history, epoch, step

    def __str__(self) -> str:
        return str(self.args[0])


def _as_data(X: Any, y: Any, dtype: str, what: str) -> tuple[np.ndarray, np.ndarray]:
    if X is None or y is None:
        raise TypeError(f"{what}: expected arrays X and y, got {type(X).__name__} and "
                        f"{type(y).__name__}")
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise TypeError(f"{what}: X and y need samples along axis 0, got shapes {X.shape} and {y.shape}")
    if len(X) != len(y):
        raise ValueError(f"{what}: X and y must have the same number of samples, got "
                         f"{len(X)} (X {X.shape}) and {len(y)} (y {y.shape})")
    if len(X) == 0:
        raise ValueError(f"{what}: no samples (X has shape {X.shape})")
    if X.dtype != dtype:
        if X.dtype.kind not in "fiub":
            raise TypeError(f"{what}: X must be numeric, got dtype {X.dtype}")
        X = X.astype(dtype)  # once for the whole set, not per batch
    if y.dtype.kind in "iub":
        y = y.astype(np.int32, copy=False)
    elif y.dtype.kind == "f":
        y = y.astype(config.floatX, copy=False)
    else:
        raise TypeError(f"{what}: y must be integer labels or float targets, got dtype {y.dtype}")
    return X, y


def _split_pair(data: Any, what: str) -> tuple[Any, Any]:
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"{what} must be a pair (X, y), got {type(data).__name__}"
                        + (f" of length {len(data)}" if isinstance(data, (tuple, list)) else ""))
    return data[0], data[1]


class Trainer:
    """A model with its loss, optimizer and metrics, compiled into three functions.

    The functions are ordinary :func:`nnthe.function` objects, built on the first call of
    :meth:`compile` (or :meth:`fit` / :meth:`evaluate`, from the data's shape):

    * ``train_step(Xb, yb) -> [loss, *metrics]`` applies one optimizer step (the model in
      training mode: dropout on, batch statistics);
    * ``eval_step(Xb, yb) -> [loss, *metrics]`` in inference mode, no updates;
    * ``predict(Xb) -> outputs`` in inference mode.

    Parameters
    ----------
    model : nnthe.layers.Layer
        Any layer or model (``model(x, training=...)``, ``trainable_params``).
    loss : str or callable, default 'softmax_cross_entropy'
        The name of a loss in :mod:`nnthe.losses`, or ``f(outputs, targets)`` returning a
        symbolic scalar or per-example losses (averaged over the batch).
    optimizer : nnthe.optim.Optimizer, optional
        Default ``Adam(learning_rate=1e-3)``. Not needed to only evaluate.
    metrics : sequence of str or callable, default ('accuracy',)
        Names in :mod:`nnthe.metrics` or ``f(outputs, targets)`` returning a scalar.
    input_shape : tuple, optional
        The shape of one sample; by default taken from the data on first use.
    input_dtype : str, optional
        Default ``nnthe.config.floatX``.

    Attributes
    ----------
    X, y : TensorVariable
        The symbolic inputs, ``T.tensor(input_dtype, shape=(None,) + input_shape)`` and
        int32 labels (or float targets).
    loss_expr, outputs : TensorVariable
        The training loss and the inference-mode outputs, for inspection
        (``nnthe.debugprint(trainer.loss_expr)``).
    train_step, eval_step, predict : nnthe.Function
    stop_training : bool
        Set by a callback to end fit after the current epoch.

    Examples
    --------
    >>> trainer = Trainer(model, 'softmax_cross_entropy', optim.Adam(1e-3))  # doctest: +SKIP
    >>> history = trainer.fit(X, y, epochs=3, validation_data=(Xv, yv))      # doctest: +SKIP
    >>> trainer.train_step(X[:128], y[:128])      # the compiled function    # doctest: +SKIP
    """

    def __init__(self, model: Any, loss: str | Callable = "softmax_cross_entropy",
                 optimizer: Any = None, metrics: Sequence[str | Callable] = ("accuracy",),
                 input_shape: Sequence[int] | None = None, input_dtype: str | None = None,
                 **kwargs: Any) -> None:
        check_kwargs(kwargs, ("model", "loss", "optimizer", "metrics", "input_shape",
                              "input_dtype"), "Trainer")
        if not callable(model) or not hasattr(model, "trainable_params"):
            raise TypeError(f"Trainer: model must be an nnthe layer or model, got {type(model).__name__}")
        self.model = model
        self.loss_name, self._loss_fn = resolve_loss(loss, _losses)
        self.metric_names, self._metric_fns = resolve_metrics(metrics, _metrics)
        self.optimizer = optimizer
        self.input_dtype = str(np.dtype(input_dtype or config.floatX))
        self.input_shape = None if input_shape is None else tuple(input_shape)
        self.train_step: Any = None
        self.eval_step: Any = None
        self.predict: Any = None
        self.stop_training = False
        self._target: tuple[str, tuple] | None = None
        self._interrupted = False

    # -- compiling ---------------------------------------------------------------------------
    def _objective(self, outputs: Any, y: Any) -> tuple[Any, list]:
        loss = self._loss_fn(outputs, y)
        if loss.type.ndim > 0:
            loss = loss.mean()
        return loss, [fn(outputs, y) for fn in self._metric_fns]

    def compile(self, input_shape: Sequence[int] | None = None, target_dtype: str = "int32",
                target_shape: Sequence[int] = ()) -> "Trainer":
        """Build the symbolic graph and compile ``train_step``, ``eval_step`` and ``predict``.

        Parameters
        ----------
        input_shape : tuple of int, optional
            The shape of one sample (without the batch axis); default the constructor's.
        target_dtype : str, default 'int32'
        target_shape : tuple of int, default ()
            The shape of one target (``()`` for class labels).

        Returns
        -------
        Trainer
            ``self``, compiled (calling again with the same shapes does nothing).
        """
        import nnthe.tensor as T

        shape = tuple(input_shape) if input_shape is not None else self.input_shape
        if shape is None:
            raise ValueError("Trainer.compile: the input shape is unknown; pass input_shape= "
                             "(the shape of one sample) or call fit/evaluate with data")
        target = (str(np.dtype(target_dtype)), tuple(target_shape))
        if self.predict is not None:
            if shape != self.input_shape or target != self._target:
                raise ValueError(f"Trainer: compiled for samples of shape {self.input_shape} and "
                                 f"targets {self._target}, got {shape} and {target}; build a new "
                                 f"Trainer for other shapes")
            if self.train_step is not None or self.optimizer is None:
                return self
        if self.predict is None:
            self.input_shape, self._target = shape, target
            self.X = T.tensor(self.input_dtype, shape=(None,) + shape, name="X")
            self.y = T.tensor(target[0], shape=(None,) + target[1], name="y")
        if self.optimizer is not None and self.train_step is None:
            train_out = self.model(self.X, training=True)
            self.loss_expr, train_metrics = self._objective(train_out, self.y)
            updates = self.optimizer.updates(self.loss_expr, self.model.trainable_params)
            self.train_step = function([self.X, self.y], [self.loss_expr] + train_metrics,
                                       updates=updates, name="train_step")
        if self.predict is None:
            self.outputs = self.model(self.X, training=False)
            eval_loss, eval_metrics = self._objective(self.outputs, self.y)
            self.eval_step = function([self.X, self.y], [eval_loss] + eval_metrics, name="eval_step")
            self.predict = function([self.X], self.outputs, name="predict")
        return self

    def _compile_for(self, X: np.ndarray, y: np.ndarray, need_train: bool) -> None:
        if need_train and self.optimizer is None:
            from ..optim import Adam
            self.optimizer = Adam(learning_rate=1e-3)
        self.compile(X.shape[1:], str(y.dtype), y.shape[1:])

    # -- evaluating ---------------------------------------------------------------------------
    def evaluate(self, X: Any, y: Any, batch_size: int = 256) -> dict[str, float]:
        """The loss and metrics on ``(X, y)`` in inference mode, averaged over all samples.

        Returns
        -------
        dict
            ``{'loss': ..., '<metric>': ...}`` as Python floats.
        """
        X, y = _as_data(X, y, self.input_dtype, "Trainer.evaluate")
        batch_size = _positive_int(batch_size, "batch_size", "Trainer.evaluate")
        self._compile_for(X, y, need_train=False)
        keys = ["loss"] + self.metric_names
        sums = dict.fromkeys(keys, 0.0)
        for start in range(0, len(X), batch_size):
            values = self.eval_step(X[start:start + batch_size], y[start:start + batch_size])
            nb = min(batch_size, len(X) - start)
            for k, v in zip(keys, values):
                sums[k] += float(v) * nb
        return {k: s / len(X) for k, s in sums.items()}

    def predict_batches(self, X: Any, batch_size: int = 256) -> np.ndarray:
        """``predict`` over all of ``X`` in batches, concatenated."""
        X = np.asarray(X, dtype=self.input_dtype)
        batch_size = _positive_int(batch_size, "batch_size", "Trainer.predict_batches")
        if self.predict is None:
            self.compile(X.shape[1:])
        return np.concatenate([self.predict(X[s:s + batch_size])
                               for s in range(0, len(X), batch_size)])

    # -- fitting --------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any, epochs: int = 1, batch_size: int = 128,
            validation_data: tuple[Any, Any] | None = None,
            callbacks: Sequence[Callback] = (), checkpoint_dir: str | os.PathLike | None = None,
            keep: int | None = 3, keep_best: str | None = None, resume: bool = False,
            seed: int = 0, history_path: str | os.PathLike | None = None,
            verbose: int | str = "auto", eval_batch_size: int | None = None,
            checkpoint_meta: dict | None = None, **kwargs: Any) -> History:
        """Train for ``epochs`` epochs; see :func:`fit` for the parameters."""
        check_kwargs(kwargs, _FIT_ARGS, "fit")
        return _Run(self, X, y, epochs, batch_size, validation_data, callbacks, checkpoint_dir,
                    keep, keep_best, resume, seed, history_path, verbose, eval_batch_size,
                    checkpoint_meta).run()


def _positive_int(v: Any, name: str, what: str, minimum: int = 1) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{what}: {name} must be an int, got {v!r}")
    if v < minimum:
        raise ValueError(f"{what}: {name} must be >= {minimum}, got {v}")
    return int(v)


class _Run:
    """One call of fit: the state of the loop and what a checkpoint must hold to resume it."""

    def __init__(self, trainer: Trainer, X: Any, y: Any, epochs: int, batch_size: int,
                 validation_data: Any, callbacks: Sequence[Callback], checkpoint_dir: Any,
                 keep: int | None, keep_best: str | None, resume: bool, seed: int,
                 history_path: Any, verbose: Any, eval_batch_size: int | None,
                 checkpoint_meta: dict | None) -> None:
        what = "fit"
        self.t = trainer
        self.X, self.y = _as_data(X, y, trainer.input_dtype, what)
        self.epochs = _positive_int(epochs, "epochs", what, 0)
        self.batch_size = _positive_int(batch_size, "batch_size", what)
        self.eval_batch_size = _positive_int(eval_batch_size or max(batch_size, 256),
                                             "eval_batch_size", what)
        self.seed = _positive_int(seed, "seed", what, 0)
        self.val = None
        if validation_data is not None:
            Xv, yv = _split_pair(validation_data, "fit: validation_data")
            self.val = _as_data(Xv, yv, trainer.input_dtype, "fit: validation_data")
            if self.val[0].shape[1:] != self.X.shape[1:]:
                raise ValueError(f"fit: validation samples have shape {self.val[0].shape[1:]}, "
                                 f"training samples {self.X.shape[1:]}")
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"fit: callbacks must be nnthe.train.Callback instances, got "
                                f"{type(cb).__name__}")
        if not isinstance(resume, (bool, np.bool_)):
            raise TypeError(f"fit: resume must be a bool, got {resume!r}")
        if resume and checkpoint_dir is None:
            raise ValueError("fit: resume=True needs checkpoint_dir= (the folder of the run to resume)")
        self.resume = bool(resume)
        self.keep_best = keep_best or ("val_loss" if self.val is not None else "loss")
        self.manager = None
        if checkpoint_dir is not None:
            from ..checkpoint import CheckpointManager
            mode = "max" if "acc" in self.keep_best else "min"
            self.manager = CheckpointManager(checkpoint_dir, keep=keep, keep_best=self.keep_best,
                                             mode=mode)
        self.history_path = history_path
        if history_path is not None:
            ext = os.path.splitext(os.fspath(history_path))[1].lower()
            if ext not in (".csv", ".json", ".jsonl"):
                raise ValueError(f"fit: history_path must end in .csv, .json or .jsonl, got "
                                 f"{os.fspath(history_path)!r}")
        self.verbose = resolve_verbose(verbose)
        self.meta = dict(checkpoint_meta or {})
        self.history = History()
        self.n_batches = math.ceil(len(self.X) / self.batch_size)
        # The position in the run: epochs finished, steps done in the next epoch, and that
        # epoch's running sums (kept in checkpoints so a mid-epoch resume is exact).
        self.epoch, self.batch, self.global_step = 0, 0, 0
        self.sums: dict[str, float] = {}
        self.seen = 0
        self.stopped = False

    # -- checkpoints ---------------------------------------------------------------------------
    def _state(self, interrupted: bool) -> dict:
        return {"history": self.history.epochs, "sums": self.sums, "seen": self.seen,
                "stopped": self.stopped, "interrupted": interrupted,
                "callbacks": [{"class": type(cb).__name__, "state": cb.state_dict()}
                              for cb in self.callbacks]}

    def _save(self, metric: float, interrupted: bool = False) -> str | None:
        if self.manager is None:
            return None
        meta = dict(self.meta)
        meta.update(epoch=self.epoch, batch=self.batch, global_step=self.global_step,
                    seed=self.seed, batch_size=self.batch_size, n_train=len(self.X),
                    epochs=self.epochs, loss_name=self.t.loss_name,
                    # A JSON string of its own: exact floats, and inf/nan survive.
                    trainer_state=json.dumps(self._state(interrupted)))
        return self.manager.save(self.global_step, model=self.t.model, optimizer=self.t.optimizer,
                                 meta=meta, metric=metric)

    def _restore(self) -> None:
        assert self.manager is not None
        path = self.manager.latest()
        if path is None:
            self._say(f"resume: no checkpoint in {self.manager.directory} yet; starting afresh")
            return
        from ..checkpoint import load_checkpoint
        meta = load_checkpoint(path)  # read the run's position before changing anything
        for key, mine in (("seed", self.seed), ("batch_size", self.batch_size),
                          ("n_train", len(self.X))):
            if key in meta and meta[key] != mine:
                raise ValueError(f"fit(resume=True): the checkpoint {path} was written with "
                                 f"{key}={meta[key]}, this call has {key}={mine}; use the same "
                                 f"value so the data order continues exactly")
        state = json.loads(meta["trainer_state"])
        saved_cbs = state["callbacks"]
        names = [type(cb).__name__ for cb in self.callbacks]
        if [c["class"] for c in saved_cbs] != names:
            raise ValueError(f"fit(resume=True): the checkpoint {path} was written with callbacks "
                             f"{[c['class'] for c in saved_cbs]}, this call has {names}")
        load_checkpoint(path, model=self.t.model, optimizer=self.t.optimizer)
        for cb, saved in zip(self.callbacks, saved_cbs):
            cb.load_state_dict(saved["state"])
        self.epoch, self.batch, self.global_step = meta["epoch"], meta["batch"], meta["global_step"]
        self.history = History(state["history"])
        self.sums, self.seen, self.stopped = state["sums"], state["seen"], state["stopped"]
        where = (f"epoch {self.epoch + 1}, step {self.batch}/{self.n_batches}" if self.batch
                 else f"the end of epoch {self.epoch}")
        self._say(f"resumed from {path} at {where}")

    # -- the loop -------------------------------------------------------------------------------
    def _say(self, msg: str) -> None:
        if self.verbose:
            print(msg, flush=True)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        if self.t._interrupted:
            raise KeyboardInterrupt  # a second Ctrl-C: stop at once
        self.t._interrupted = True
        print("\nCtrl-C: finishing this step, then saving a checkpoint "
              "(press Ctrl-C again to abort at once)", file=sys.stderr, flush=True)

    def run(self) -> History:
        t = self.t
        t._compile_for(self.X, self.y, need_train=True)
        if self.val is not None:
            t.compile(self.val[0].shape[1:], str(self.val[1].dtype), self.val[1].shape[1:])
        if self.resume:
            self._restore()
        t.stop_training, t._interrupted = False, False
        main = threading.current_thread() is threading.main_thread()
        old = signal.signal(signal.SIGINT, self._on_sigint) if main else None
        try:
            for cb in self.callbacks:
                cb.on_train_begin(t)
            while self.epoch < self.epochs and not self.stopped:
                self._run_epoch()
            for cb in self.callbacks:
                cb.on_train_end(t)
        finally:
            if main:
                signal.signal(signal.SIGINT, old)
        self.history.stopped_early = self.stopped
        return self.history

    def _run_epoch(self) -> None:
        t, epoch = self.t, self.epoch + 1
        keys = ["loss"] + t.metric_names
        if self.batch == 0:
            self.sums, self.seen = dict.fromkeys(keys, 0.0), 0
            for cb in self.callbacks:
                cb.on_epoch_begin(t, epoch)
        lr = _lr(t.optimizer)
        # The order of epoch e depends on (seed, e) only: a resumed run sees the same batches.
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.X))
        bar = Progress(self.verbose, epoch, self.epochs, self.n_batches, self.batch)
        start, seen_here = time.perf_counter(), 0
        for b in range(self.batch, self.n_batches):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            values = t.train_step(self.X[idx], self.y[idx])
            nb = len(idx)
            for k, v in zip(keys, values):
                self.sums[k] += float(v) * nb
            self.seen += nb
            seen_here += nb
            self.batch, self.global_step = b + 1, self.global_step + 1
            logs = {k: float(v) for k, v in zip(keys, values)}
            for cb in self.callbacks:
                cb.on_batch_end(t, self.global_step, logs)
            bar.update({k: s / self.seen for k, s in self.sums.items()},
                       seen_here / max(time.perf_counter() - start, 1e-9))
            if t._interrupted:
                bar.close()
                self._interrupt(epoch)
        seconds = time.perf_counter() - start
        logs = {"epoch": epoch}
        logs.update({k: s / self.seen for k, s in self.sums.items()})
        if self.val is not None:
            logs.update({f"val_{k}": v for k, v in
                         t.evaluate(*self.val, batch_size=self.eval_batch_size).items()})
        logs.update(lr=lr, seconds=seconds, samples_per_s=seen_here / max(seconds, 1e-9))
        for cb in self.callbacks:
            cb.on_epoch_end(t, epoch, logs)
        self.stopped = bool(t.stop_training)
        self.history.append(logs)
        self.epoch, self.batch = epoch, 0
        bar.finish(logs)
        path = self._save(float(logs.get(self.keep_best, math.nan)))
        if self.history_path is not None:
            self.history.save(self.history_path)
        if t._interrupted:
            self._interrupt(epoch, path)

    def _interrupt(self, epoch: int, path: str | None = None) -> None:
        if path is None:
            path = self._save(math.nan, interrupted=True)
        where = (f"epoch {epoch}, after step {self.batch} of {self.n_batches}" if self.batch
                 else f"the end of epoch {epoch}")
        if path is not None:
            msg = (f"Training interrupted at {where}. Checkpoint saved to {path}. "
                   f"To resume, run fit again with checkpoint_dir={self.manager.directory!r} "
                   f"and resume=True.")
        else:
            msg = (f"Training interrupted at {where}. No checkpoint was saved (fit had no "
                   f"checkpoint_dir); pass checkpoint_dir= to make a run resumable.")
        raise TrainingInterrupted(msg, path, self.history, epoch, self.batch)


def _lr(optimizer: Any) -> float:
    try:
        return float(optimizer.lr)
    except (AttributeError, KeyError, TypeError):
        return math.nan


def fit(model: Any, data: tuple[Any, Any], loss: str | Callable = "softmax_cross_entropy",
        optimizer: Any = None, epochs: int = 1, batch_size: int = 128,
        validation_data: tuple[Any, Any] | None = None,
        metrics: Sequence[str | Callable] = ("accuracy",), callbacks: Sequence[Callback] = (),
        checkpoint_dir: str | os.PathLike | None = None, keep: int | None = 3,
        keep_best: str | None = None, resume: bool = False, seed: int = 0,
        history_path: str | os.PathLike | None = None, verbose: int | str = "auto",
        eval_batch_size: int | None = None, checkpoint_meta: dict | None = None,
        **kwargs: Any) -> History:
    """Train ``model`` on ``data`` and return the :class:`History` of its epochs.

    Compiles the training and evaluation functions once (a :class:`Trainer`, whose
    ``train_step``/``eval_step``/``predict`` are plain :func:`nnthe.function` objects),
    then runs epochs over shuffled mini-batches, validates after each epoch, calls the
    callbacks, saves a checkpoint and writes the history.

    Parameters
    ----------
    model : nnthe.layers.Layer
    data : (X, y)
        Training samples along axis 0 and their int labels (or float targets).
    loss : str or callable, default 'softmax_cross_entropy'
        A name in :mod:`nnthe.losses` or ``f(outputs, targets)``.
    optimizer : nnthe.optim.Optimizer, optional
        Default ``Adam(learning_rate=1e-3)``.
    epochs : int
        The total number of epochs (a resumed run continues up to it).
    batch_size : int, default 128
    validation_data : (X, y), optional
        Evaluated after every epoch; its results are ``val_loss``, ``val_<metric>``.
    metrics : sequence of str or callable, default ('accuracy',)
    callbacks : sequence of Callback
        E.g. :class:`LearningRateScheduler`, :class:`EarlyStopping`.
    checkpoint_dir : str or path-like, optional
        Save a checkpoint (model, optimizer, random states, schedule and loop state)
        after every epoch through a :class:`nnthe.checkpoint.CheckpointManager`, and on
        Ctrl-C.
    keep : int or None, default 3
        Keep the last ``keep`` checkpoints, plus the best.
    keep_best : str, optional
        The metric that picks the best checkpoint: default ``'val_loss'`` with validation
        data, else ``'loss'`` (names with ``acc`` count higher as better).
    resume : bool, default False
        Continue from the latest checkpoint in ``checkpoint_dir`` exactly where it stopped,
        even mid-epoch: the same batches, the same dropout masks, the same optimizer and
        schedule state, so the losses equal those of an uninterrupted run bit for bit.
        Needs the same data, ``seed``, ``batch_size`` and callbacks.
    seed : int, default 0
        The data order of epoch ``e`` is the permutation drawn by
        ``numpy.random.default_rng([seed, e])``. (Initial weights and dropout come from
        ``nnthe.random.seed`` before the model is built.)
    history_path : str or path-like, optional
        Rewritten after every epoch: CSV for ``.csv``, JSON lines for ``.json``/``.jsonl``.
    verbose : 'auto', 0, 1 or 2
        0 silent, 1 a tqdm progress bar per epoch (running loss, metrics, samples/s), 2 one
        plain line per epoch. ``'auto'``: 1 when stdout is a terminal, else 2.
    eval_batch_size : int, optional
        Batch size for validation; default ``max(batch_size, 256)``.
    checkpoint_meta : dict, optional
        Extra JSON-able metadata stored in every checkpoint (e.g. the architecture name).

    Returns
    -------
    History

    Raises
    ------
    TrainingInterrupted
        After Ctrl-C (a ``KeyboardInterrupt``): the current step was finished and a
        checkpoint saved; the message says how to resume.
    TypeError, ValueError
        For arguments of the wrong type or value (an unknown loss name gets a "did you
        mean" hint; X and y of different lengths are named).

    Examples
    --------
    >>> history = nnthe.train.fit(model, (X, y), optimizer=optim.Adam(1e-3), epochs=12,
    ...                           validation_data=(Xv, yv), checkpoint_dir='runs/cnn',
    ...                           resume=True)                           # doctest: +SKIP
    >>> history['val_accuracy'][-1]                                      # doctest: +SKIP
    0.9921
    """
    check_kwargs(kwargs, ("model", "data", "loss", "optimizer", "metrics") + _FIT_ARGS, "fit")
    X, y = _split_pair(data, "fit: data")
    trainer = Trainer(model, loss=loss, optimizer=optimizer, metrics=metrics)
    return trainer.fit(X, y, epochs=epochs, batch_size=batch_size,
                       validation_data=validation_data, callbacks=callbacks,
                       checkpoint_dir=checkpoint_dir, keep=keep, keep_best=keep_best,
                       resume=resume, seed=seed, history_path=history_path, verbose=verbose,
                       eval_batch_size=eval_batch_size, checkpoint_meta=checkpoint_meta)


def evaluate(model: Any, X: Any, y: Any, batch_size: int = 256,
             loss: str | Callable = "softmax_cross_entropy",
             metrics: Sequence[str | Callable] = ("accuracy",)) -> dict[str, float]:
    """The loss and metrics of ``model`` (inference mode) on ``(X, y)``.

    Returns
    -------
    dict
        ``{'loss': ..., 'accuracy': ...}`` averaged over all samples.

    Examples
    --------
    >>> nnthe.train.evaluate(model, X_test, y_test)          # doctest: +SKIP
    {'loss': 0.0251, 'accuracy': 0.9925}
    """
    return Trainer(model, loss=loss, metrics=metrics).evaluate(X, y, batch_size=batch_size)
