"""The training loop: :class:`Trainer` compiles a model's training and evaluation functions
once; :meth:`Trainer.fit` runs the epochs and calls the callbacks' hooks, which do
everything else (checkpoints, resume, history, schedules, early stopping)."""
from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import losses as _losses
from .. import metrics as _metrics
from ..config import config
from ..core.compile import function
from ..optim.base import collect_grads
from .callbacks import Callback, CallbackList
from .checkpointing import ModelCheckpoint, Resume
from .history import History, HistoryLogger, check_history_path
from .progress import resolve_verbose
from .resolve import check_kwargs, resolve_loss, resolve_metrics
from .run import Loop, TrainingInterrupted
from .state import FitState

__all__ = ["Trainer", "TrainingInterrupted", "fit", "evaluate"]


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
    state : FitState or None
        Where the last (or current) :meth:`fit` is; None before the first.
    callbacks : CallbackList
        The callbacks of the last (or current) :meth:`fit`.

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
        self.state: FitState | None = None
        self.callbacks = CallbackList()
        self._target: tuple[str, tuple] | None = None
        self._stop: str | None = None
        # Set by nnthe.distributed.Distributed: a transform of the gradients (the
        # all-reduce) and the callback that shards evaluation data.
        self._grad_hook: Callable | None = None
        self._dist: Any = None

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
            params = self.model.trainable_params
            loss_or_grads: Any = self.loss_expr
            if self._grad_hook is not None:
                loss_or_grads = self._grad_hook(
                    collect_grads(self.loss_expr, params, "Trainer.compile"), self.X)
            updates = self.optimizer.updates(loss_or_grads, params)
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
        n = len(X)
        if self._dist is not None:  # each rank its contiguous part, then sums over ranks
            part = self._dist.shard(np.arange(n))
            lo, hi = (int(part[0]), int(part[-1]) + 1) if len(part) else (0, 0)
            X, y = X[lo:hi], y[lo:hi]
        for start in range(0, len(X), batch_size):
            values = self.eval_step(X[start:start + batch_size], y[start:start + batch_size])
            nb = min(batch_size, len(X) - start)
            for k, v in zip(keys, values):
                sums[k] += float(v) * nb
        if self._dist is not None:
            sums = dict(zip(keys, self._dist.sum_over_ranks([sums[k] for k in keys])))
        return {k: s / n for k, s in sums.items()}

    def predict_batches(self, X: Any, batch_size: int = 256) -> np.ndarray:
        """``predict`` over all of ``X`` in batches, concatenated."""
        X = np.asarray(X, dtype=self.input_dtype)
        batch_size = _positive_int(batch_size, "batch_size", "Trainer.predict_batches")
        if self.predict is None:
            self.compile(X.shape[1:])
        return np.concatenate([self.predict(X[s:s + batch_size])
                               for s in range(0, len(X), batch_size)])

    # -- stopping -------------------------------------------------------------------------------
    def request_stop(self, when: str = "epoch") -> None:
        """Ask the running :meth:`fit` to stop.

        Parameters
        ----------
        when : {'epoch', 'step'}
            ``'epoch'``: after the current epoch, as a finished run (early stopping; a
            resumed run stops too). ``'step'``: after the current step, as an interrupted
            run: the checkpoint callbacks save, and fit raises :class:`TrainingInterrupted`
            (what Ctrl-C does).
        """
        if when not in ("epoch", "step"):
            raise ValueError(f"Trainer.request_stop: when must be 'epoch' or 'step', got {when!r}")
        if when == "step" or self._stop is None:
            self._stop = when

    @property
    def stop_requested(self) -> str | None:
        """``'epoch'`` or ``'step'`` when a stop was requested in this fit, else None."""
        return self._stop

    def metric_mode(self, name: str) -> str | None:
        """``'min'`` if a lower value of the epoch log ``name`` is better, ``'max'`` if a
        higher one, None if unknown.

        The loss (``'loss'``, ``'val_loss'``) is ``'min'``; a metric (``'accuracy'``,
        ``'val_accuracy'``) has the ``direction`` its function declares
        (:func:`nnthe.metrics.direction`).
        """
        base = name[4:] if name.startswith("val_") else name
        if base == "loss":
            return "min"
        for metric, fn in zip(self.metric_names, self._metric_fns):
            if metric == base:
                found = getattr(fn, "direction", None)
                return found if found in ("min", "max") else None
        return None

    # -- fitting --------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any, epochs: int = 1, batch_size: int = 128,
            validation_data: tuple[Any, Any] | None = None,
            callbacks: Sequence[Callback] = (), seed: int = 0, verbose: int | str = "auto",
            eval_batch_size: int | None = None, checkpoint_dir: str | os.PathLike | None = None,
            resume: bool = False, history_path: str | os.PathLike | None = None,
            **kwargs: Any) -> History:
        """Train for ``epochs`` epochs over shuffled mini-batches; return the :class:`History`.

        The loop runs the steps, validates after each epoch and calls the callbacks'
        hooks (:mod:`nnthe.train.callbacks`); checkpoints, resume and the history file are
        callbacks, which ``checkpoint_dir``, ``resume`` and ``history_path`` add.

        Parameters
        ----------
        X, y : array
            Training samples along axis 0 and their int labels (or float targets).
        epochs : int
            The total number of epochs (a resumed run continues up to it).
        batch_size : int, default 128
        validation_data : (X, y), optional
            Evaluated after every epoch; its results are ``val_loss``, ``val_<metric>``.
        callbacks : sequence of Callback
            E.g. :class:`LearningRateScheduler`, :class:`EarlyStopping`,
            :class:`ModelCheckpoint`, :class:`Resume`, :class:`HistoryLogger`.
        seed : int, default 0
            The data order of epoch ``e`` is the permutation drawn by
            ``numpy.random.default_rng([seed, e])``. (Initial weights and dropout come from
            ``nnthe.random.seed`` before the model is built.)
        verbose : 'auto', 0, 1 or 2
            0 silent, 1 a tqdm progress bar per epoch (running loss, metrics, samples/s), 2
            one plain line per epoch. ``'auto'``: 1 when stdout is a terminal, else 2.
        eval_batch_size : int, optional
            Batch size for validation; default ``max(batch_size, 256)``.
        checkpoint_dir : str or path-like, optional
            Shorthand: adds ``ModelCheckpoint(checkpoint_dir)`` after the callbacks (a
            checkpoint after every epoch and on Ctrl-C, keeping the last 3 and the best by
            ``val_loss``, else ``loss``). For other settings pass a :class:`ModelCheckpoint`.
        resume : bool, default False
            Shorthand (needs ``checkpoint_dir``): adds ``Resume(checkpoint_dir)`` before the
            callbacks, which continues from the newest checkpoint there that loads, exactly
            where it stopped, even mid-epoch: the same batches, dropout masks, optimizer and
            schedule state, so the losses equal those of an uninterrupted run bit for bit.
            Needs the same data, ``seed``, ``batch_size`` and stateful callbacks.
        history_path : str or path-like, optional
            Shorthand: adds ``HistoryLogger(history_path)`` last (rewritten after every
            epoch: CSV for ``.csv``, JSON lines for ``.json``/``.jsonl``).

        Returns
        -------
        History

        Raises
        ------
        TrainingInterrupted
            After Ctrl-C (a ``KeyboardInterrupt``): the current step was finished and a
            checkpoint saved; the message says how to resume.
        ResumeError
            With ``resume``: no checkpoint in the folder loads, or the newest that loads
            does not fit this call (each skipped file and its reason are listed).
        TypeError, ValueError
            For arguments of the wrong type or value (an unknown keyword gets a "did you
            mean" hint; X and y of different lengths are named).
        """
        _check_fit_kwargs(kwargs, _FIT_PARAMS)
        what = "fit"
        X, y = _as_data(X, y, self.input_dtype, what)
        epochs = _positive_int(epochs, "epochs", what, 0)
        batch_size = _positive_int(batch_size, "batch_size", what)
        eval_batch_size = _positive_int(eval_batch_size or max(batch_size, 256),
                                        "eval_batch_size", what)
        seed = _positive_int(seed, "seed", what, 0)
        val = None
        if validation_data is not None:
            Xv, yv = _split_pair(validation_data, "fit: validation_data")
            val = _as_data(Xv, yv, self.input_dtype, "fit: validation_data")
            if val[0].shape[1:] != X.shape[1:]:
                raise ValueError(f"fit: validation samples have shape {val[0].shape[1:]}, "
                                 f"training samples {X.shape[1:]}")
        if not isinstance(resume, (bool, np.bool_)):
            raise TypeError(f"fit: resume must be a bool, got {resume!r}")
        if resume and checkpoint_dir is None:
            raise ValueError("fit: resume=True needs checkpoint_dir= (the folder of the run to "
                             "resume), or pass a Resume(folder) callback")
        cbs = list(CallbackList(callbacks))  # checks the types
        if history_path is not None:
            cbs.append(HistoryLogger(check_history_path(history_path, what)))
        if checkpoint_dir is not None:
            cbs.append(ModelCheckpoint(checkpoint_dir))
            if resume:
                cbs.insert(0, Resume(checkpoint_dir))
        state = FitState(epochs, batch_size, seed, len(X), resolve_verbose(verbose),
                         has_validation=val is not None)
        return Loop(self, state, CallbackList(cbs), X, y, val, eval_batch_size).run()


# The parameters of fit, from its signature (said once, there).
_FIT_PARAMS = tuple(inspect.signature(Trainer.fit).parameters)[3:-1]
_TRAINER_PARAMS = ("loss", "optimizer", "metrics")
# Former keywords of fit that are options of a callback now.
_MOVED = {"keep": "ModelCheckpoint(directory, keep=...)",
          "keep_best": "ModelCheckpoint(directory, keep_best=...)",
          "checkpoint_meta": "ModelCheckpoint(directory, meta=...)"}


def _check_fit_kwargs(kwargs: dict, allowed: Sequence[str]) -> None:
    for key in kwargs:
        if key in _MOVED:
            raise TypeError(f"fit() got an unexpected keyword argument {key!r}: pass "
                            f"callbacks=[{_MOVED[key]}] instead of checkpoint_dir=")
    check_kwargs({k: v for k, v in kwargs.items() if k not in allowed}, allowed, "fit")


def _positive_int(v: Any, name: str, what: str, minimum: int = 1) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{what}: {name} must be an int, got {v!r}")
    if v < minimum:
        raise ValueError(f"{what}: {name} must be >= {minimum}, got {v}")
    return int(v)


def fit(model: Any, data: tuple[Any, Any], loss: str | Callable = "softmax_cross_entropy",
        optimizer: Any = None, metrics: Sequence[str | Callable] = ("accuracy",),
        **fit_args: Any) -> History:
    """Train ``model`` on ``data`` and return the :class:`History` of its epochs.

    ``Trainer(model, loss, optimizer, metrics).fit(X, y, **fit_args)``: compiles the
    training and evaluation functions once (``trainer.train_step``/``eval_step``/
    ``predict`` are plain :func:`nnthe.function` objects), then runs the epochs.

    Parameters
    ----------
    model : nnthe.layers.Layer
    data : (X, y)
        Training samples along axis 0 and their int labels (or float targets).
    loss : str or callable, default 'softmax_cross_entropy'
        A name in :mod:`nnthe.losses` or ``f(outputs, targets)``.
    optimizer : nnthe.optim.Optimizer, optional
        Default ``Adam(learning_rate=1e-3)``.
    metrics : sequence of str or callable, default ('accuracy',)
    **fit_args
        The parameters of :meth:`Trainer.fit`: ``epochs``, ``batch_size``,
        ``validation_data``, ``callbacks``, ``seed``, ``verbose``, ``eval_batch_size``,
        ``checkpoint_dir``, ``resume``, ``history_path``.

    Returns
    -------
    History

    Raises
    ------
    TrainingInterrupted, ResumeError, TypeError, ValueError
        As :meth:`Trainer.fit`.

    Examples
    --------
    >>> history = nnthe.train.fit(model, (X, y), optimizer=optim.Adam(1e-3), epochs=12,
    ...                           validation_data=(Xv, yv), checkpoint_dir='runs/cnn',
    ...                           resume=True)                           # doctest: +SKIP
    >>> history['val_accuracy'][-1]                                      # doctest: +SKIP
    0.9921
    """
    _check_fit_kwargs(fit_args, ("model", "data") + _TRAINER_PARAMS + _FIT_PARAMS)
    X, y = _split_pair(data, "fit: data")
    trainer = Trainer(model, loss=loss, optimizer=optimizer, metrics=metrics)
    return trainer.fit(X, y, **fit_args)


def _fit_signature() -> inspect.Signature:
    # help(fit) and IDEs show the whole signature: fit's own parameters, then Trainer.fit's.
    own = list(inspect.signature(fit).parameters.values())[:-1]
    rest = list(inspect.signature(Trainer.fit).parameters.values())[3:-1]
    return inspect.Signature(own + [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in rest],
                             return_annotation=History)


fit.__signature__ = _fit_signature()  # type: ignore[attr-defined]


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
