"""The training loop for the common case, with the symbolic core in plain view.

:func:`fit` builds a :class:`Trainer`, which compiles ``train_step``, ``eval_step`` and
``predict`` once with :func:`nnthe.function` (attributes you can call and inspect), then
runs epochs with a progress bar and validation. Everything else is a callback (see
:mod:`nnthe.train.callbacks` for the hooks): :class:`ModelCheckpoint` (keep the last N and
the best), :class:`Resume` (continue exactly, even mid-epoch, from the newest checkpoint
that loads), :class:`HistoryLogger` (CSV or JSON lines), :class:`LearningRateScheduler`,
:class:`EarlyStopping`, :class:`LambdaCallback`. ``checkpoint_dir=``, ``resume=`` and
``history_path=`` are shorthands that add the first three::

    from nnthe import layers, optim, train
    history = train.fit(model, (X, y), loss='softmax_cross_entropy',
                        optimizer=optim.Adam(1e-3), epochs=12, batch_size=128,
                        validation_data=(Xv, yv), metrics=['accuracy'],
                        callbacks=[train.EarlyStopping('val_loss', patience=3)],
                        checkpoint_dir='runs/cnn', resume=True, history_path='runs/cnn.csv')
    train.evaluate(model, X_test, y_test)     # {'loss': ..., 'accuracy': ...}

    # the same with the callbacks spelled out:
    history = train.fit(model, (X, y), optimizer=optim.Adam(1e-3), epochs=12,
                        validation_data=(Xv, yv),
                        callbacks=[train.Resume('runs/cnn'),
                                   train.EarlyStopping('val_loss', patience=3),
                                   train.ModelCheckpoint('runs/cnn', keep=3),
                                   train.HistoryLogger('runs/cnn.csv')])
"""
from .callbacks import (Callback, CallbackList, EarlyStopping, LambdaCallback,
                        LearningRateScheduler)
from .checkpointing import ModelCheckpoint, Resume, ResumeError
from .history import History, HistoryLogger
from .loop import Trainer, TrainingInterrupted, evaluate, fit
from .plot import plot_history
from .state import FitState
from .tensorboard import TensorBoard

__all__ = ["fit", "evaluate", "Trainer", "TrainingInterrupted", "History", "FitState",
           "Callback", "CallbackList", "LearningRateScheduler", "EarlyStopping",
           "LambdaCallback", "ModelCheckpoint", "Resume", "ResumeError", "HistoryLogger",
           "TensorBoard", "plot_history"]
