"""The callback API of fit: hook order and dispatch, epoch_indices, request_stop, metric
directions, chief, on_save, and the one signature of fit."""
from __future__ import annotations

import inspect
import os

import numpy as np
import pytest

import nnthe
from nnthe import optim, train
from nnthe.train.callbacks import HOOKS
from train_helpers import data, tiny_model


class Recorder(train.Callback):
    def __init__(self):
        self.calls = []

    def on_train_begin(self, trainer):
        self.calls.append("train_begin")

    def epoch_indices(self, trainer, epoch, indices):
        self.calls.append(f"indices {epoch}")
        return indices

    def on_epoch_begin(self, trainer, epoch):
        self.calls.append(f"epoch_begin {epoch}")

    def on_batch_begin(self, trainer, step):
        self.calls.append(f"batch_begin {step}")

    def on_batch_end(self, trainer, step, logs):
        self.calls.append(f"batch_end {step} {sorted(logs)}")

    def on_epoch_steps_end(self, trainer, epoch, logs):
        self.calls.append(f"steps_end {epoch} {sorted(logs)}")

    def on_epoch_end(self, trainer, epoch, logs):
        self.calls.append(f"epoch_end {epoch} {'val_loss' in logs}")

    def on_checkpoint(self, trainer, interrupted):
        self.calls.append(f"checkpoint {interrupted} {trainer.state.epoch} "
                          f"{len(trainer.state.history)}")

    def on_save(self, trainer, path):
        self.calls.append(f"save {os.path.basename(path)}")

    def on_train_end(self, trainer):
        self.calls.append("train_end")


def test_hooks_are_called_in_order(tmp_path):
    rec = Recorder()
    X, y = data(40)
    train.fit(tiny_model(), (X, y), epochs=2, batch_size=20, validation_data=data(10, seed=1),
              callbacks=[rec, train.ModelCheckpoint(tmp_path)], verbose=0)
    steps_keys = "['accuracy', 'epoch', 'loss']"
    batch_keys = "['accuracy', 'loss']"
    assert rec.calls == [
        "train_begin",
        "indices 1", "epoch_begin 1",
        "batch_begin 1", f"batch_end 1 {batch_keys}", "batch_begin 2", f"batch_end 2 {batch_keys}",
        f"steps_end 1 {steps_keys}", "epoch_end 1 True", "checkpoint False 1 1",
        "save ckpt-00000002.h5",
        "indices 2", "epoch_begin 2",
        "batch_begin 3", f"batch_end 3 {batch_keys}", "batch_begin 4", f"batch_end 4 {batch_keys}",
        f"steps_end 2 {steps_keys}", "epoch_end 2 True", "checkpoint False 2 2",
        "save ckpt-00000004.h5",
        "train_end"]
    assert set(HOOKS) == {n for n in dir(train.Callback) if n.startswith("on_")} | {"epoch_indices"}


def test_interrupted_run_ends_with_on_checkpoint(tmp_path):
    rec = Recorder()

    def stop(trainer, step, logs):
        if step == 2:
            assert trainer.stop_requested is None
            trainer.request_stop("step")
            assert trainer.stop_requested == "step"

    with pytest.raises(train.TrainingInterrupted) as info:
        train.fit(tiny_model(), data(40), epochs=2, batch_size=10, verbose=0,
                  callbacks=[train.LambdaCallback(on_batch_end=stop), rec,
                             train.ModelCheckpoint(tmp_path)])
    assert rec.calls[-3:] == ["checkpoint True 0 0", "save ckpt-00000002.h5", "train_end"]
    assert info.value.epoch == 1 and info.value.step == 2
    assert info.value.checkpoint == str(tmp_path / "ckpt-00000002.h5")


def test_only_overriding_callbacks_are_called():
    sched = train.LearningRateScheduler(optim.ExponentialLR(optim.SGD(learning_rate=0.1), 0.5))
    per_step = train.LearningRateScheduler(
        optim.ExponentialLR(optim.SGD(learning_rate=0.1), 0.5), per="step")
    lam = train.LambdaCallback(on_epoch_end=lambda t, e, logs: None)
    cbs = train.CallbackList([sched, per_step, lam, train.Callback()])
    assert cbs.hooks["on_batch_end"] == [per_step.on_batch_end]
    assert cbs.hooks["on_epoch_end"] == [sched.on_epoch_end, lam.on_epoch_end]
    assert cbs.hooks["on_batch_begin"] == [] and cbs.hooks["on_train_begin"] == []
    assert len(cbs) == 4 and list(cbs)[0] is sched
    with pytest.raises(TypeError, match="must be a list"):
        train.CallbackList(sched)


def test_epoch_indices_shards_the_data():
    seen = []

    def half(trainer, epoch, indices):
        return indices[::2]

    def record(trainer, step, logs):
        seen.append(trainer.state.n_batches)

    X, y = data(40)
    t = train.Trainer(tiny_model())
    h = t.fit(X, y, epochs=2, batch_size=8, verbose=0,
              callbacks=[train.LambdaCallback(epoch_indices=half, on_batch_end=record)])
    assert len(seen) == 2 * 3 and set(seen) == {3}  # 20 samples per epoch: 8 + 8 + 4
    assert t.state.global_step == 6 and h["samples_per_s"][0] > 0
    with pytest.raises(TypeError, match="epoch_indices must return a non-empty 1-d integer"):
        train.fit(tiny_model(), data(), verbose=0, callbacks=[
            train.LambdaCallback(epoch_indices=lambda t, e, i: i.astype(float))])


def test_request_stop_after_the_epoch():
    def stop(trainer, step, logs):
        if step == 2:
            trainer.request_stop()

    h = train.fit(tiny_model(), data(40), epochs=5, batch_size=10, verbose=0,
                  callbacks=[train.LambdaCallback(on_batch_end=stop)])
    assert len(h) == 1 and h.stopped_early  # the epoch was finished: 4 steps
    with pytest.raises(ValueError, match="when must be 'epoch' or 'step'"):
        train.Trainer(tiny_model()).request_stop("now")


def test_metric_directions():
    assert nnthe.metrics.accuracy.direction == "max"
    assert nnthe.metrics.top_k_accuracy.direction == "max"

    @nnthe.metrics.direction("min")
    def error_rate(out, y):
        return 1 - nnthe.metrics.accuracy(out, y)

    def plain(out, y):
        return nnthe.metrics.accuracy(out, y)

    t = train.Trainer(tiny_model(), metrics=["accuracy", error_rate, plain])
    assert [t.metric_mode(k) for k in ("loss", "val_loss", "accuracy", "val_accuracy",
                                       "error_rate", "val_error_rate", "plain", "lr")] == \
        ["min", "min", "max", "max", "min", "min", None, None]
    with pytest.raises(ValueError, match="direction: expected 'min' or 'max'"):
        nnthe.metrics.direction("up")
    # A value whose direction nobody declared: no guessing from its name.
    stop = train.EarlyStopping(monitor="val_plain_acc")
    with pytest.raises(ValueError, match="cannot tell whether a higher 'val_plain_acc' is "
                                         "better.*mode='min' or mode='max'"):
        train.fit(tiny_model(), data(), callbacks=[stop], verbose=0)


def test_best_checkpoint_follows_the_metric_direction(tmp_path):
    accs = [0.5, 0.9, 0.7]

    def fake(trainer, epoch, logs):
        logs["val_accuracy"] = accs[epoch - 1]

    train.fit(tiny_model(), data(), epochs=3, batch_size=30, validation_data=data(20, seed=2),
              callbacks=[train.LambdaCallback(on_epoch_end=fake),
                         train.ModelCheckpoint(tmp_path, keep=1, keep_best="val_accuracy")],
              verbose=0)
    mgr = nnthe.checkpoint.CheckpointManager(tmp_path, keep_best="val_accuracy", mode="max")
    assert [s for s, _ in mgr.checkpoints()] == [6, 9]  # the best (epoch 2) and the last
    with pytest.raises(KeyError, match="keep_best='val_loss' is not in the epoch logs"):
        train.fit(tiny_model(), data(), epochs=1, verbose=0,
                  callbacks=[train.ModelCheckpoint(tmp_path / "b", keep_best="val_loss")])


def test_plateau_schedules_are_recognised_by_type_not_name():
    class MyPlateau(optim.ReduceLROnPlateau):
        pass

    opt = optim.SGD(learning_rate=0.1)
    cb = train.LearningRateScheduler(MyPlateau(opt, patience=0, factor=0.5), monitor="loss")
    with pytest.raises(ValueError, match="steps once per epoch"):
        train.LearningRateScheduler(MyPlateau(opt), per="step")
    flat = train.LambdaCallback(on_epoch_end=lambda t, e, logs: logs.update(loss=1.0))
    train.fit(tiny_model(), data(), optimizer=opt, epochs=3, callbacks=[flat, cb], verbose=0)
    assert opt.lr == pytest.approx(0.025, rel=1e-6)


def test_a_process_that_is_not_the_chief_writes_nothing(tmp_path, capsys):
    def not_chief(trainer):
        trainer.state.chief = False

    train.fit(tiny_model(), data(), epochs=2, verbose=2, checkpoint_dir=tmp_path / "c",
              history_path=tmp_path / "h.csv",
              callbacks=[train.LambdaCallback(on_train_begin=not_chief)])
    assert os.listdir(tmp_path / "c") == [] and not (tmp_path / "h.csv").exists()
    assert capsys.readouterr().out == ""


def test_fit_has_one_signature():
    params = inspect.signature(train.fit).parameters
    own = inspect.signature(train.Trainer.fit).parameters
    assert list(params)[:5] == ["model", "data", "loss", "optimizer", "metrics"]
    assert list(params)[5:] == [p for p in own if p not in ("self", "X", "y", "kwargs")]
    assert len(own) - 4 <= 10  # (was 13 + 4 in four places)
    with pytest.raises(TypeError, match=r"'keep'.*ModelCheckpoint\(directory, keep=\.\.\.\)"):
        train.fit(tiny_model(), data(), keep=2)
    with pytest.raises(TypeError, match="did you mean 'optimizer'"):
        train.fit(tiny_model(), data(), optimiser=None)
    with pytest.raises(TypeError, match="did you mean 'epochs'"):
        train.Trainer(tiny_model()).fit(*data(), epoch=3)
