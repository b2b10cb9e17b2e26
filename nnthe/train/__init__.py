"""The training loop for the common case, with the symbolic core in plain view.

:func:`fit` builds a :class:`Trainer`, which compiles ``train_step``, ``eval_step`` and
``predict`` once with :func:`nnthe.function` (attributes you can call and inspect), then
runs epochs with a progress bar, validation, callbacks, checkpoints, exact resume and
Ctrl-C handling::

    from nnthe import layers, optim, train
    history = train.fit(model, (X, y), loss='softmax_cross_entropy',
                        optimizer=optim.Adam(1e-3), epochs=12, batch_size=128,
                        validation_data=(Xv, yv), metrics=['accuracy'],
                        callbacks=[train.EarlyStopping('val_loss', patience=3)],
                        checkpoint_dir='runs/cnn', resume=True, history_path='runs/cnn.csv')
    train.evaluate(model, X_test, y_test)     # {'loss': ..., 'accuracy': ...}
"""
from .callbacks import Callback, EarlyStopping, LambdaCallback, LearningRateScheduler
from .history import History
from .loop import Trainer, TrainingInterrupted, evaluate, fit
from .plot import plot_history
from .tensorboard import TensorBoard

__all__ = ["fit", "evaluate", "Trainer", "TrainingInterrupted", "History", "Callback",
           "LearningRateScheduler", "EarlyStopping", "LambdaCallback", "plot_history", "TensorBoard"]
