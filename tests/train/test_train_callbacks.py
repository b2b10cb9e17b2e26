"""nnthe.train callbacks: learning-rate schedules, early stopping, lambda callbacks."""
from __future__ import annotations

import numpy as np
import pytest

from nnthe import optim, train
from train_helpers import data, tiny_model


def test_schedule_per_epoch_sets_the_rate_of_each_epoch():
    opt = optim.SGD(learning_rate=0.1)
    sched = train.LearningRateScheduler(optim.ExponentialLR(opt, gamma=0.5))
    h = train.fit(tiny_model(), data(), optimizer=opt, epochs=3, callbacks=[sched], verbose=0)
    expected = [float(np.float32(0.1 * 0.5 ** e)) for e in range(3)]
    assert h["lr"] == pytest.approx(expected, rel=1e-6)
    assert opt.lr == pytest.approx(0.1 * 0.5 ** 3, rel=1e-6)


def test_schedule_per_step():
    opt = optim.SGD(learning_rate=0.1)
    sched = train.LearningRateScheduler(optim.StepLR(opt, step_size=4, gamma=0.1), per="step")
    train.fit(tiny_model(), data(), optimizer=opt, epochs=1, batch_size=10, callbacks=[sched],
              verbose=0)  # 9 steps
    assert opt.lr == pytest.approx(0.1 * 0.1 ** 2, rel=1e-5)


def test_reduce_on_plateau_reads_the_monitored_value():
    opt = optim.SGD(learning_rate=0.1)
    plateau = optim.ReduceLROnPlateau(opt, patience=0, factor=0.5)

    def constant(trainer, epoch, logs):
        logs["flat"] = 1.0

    cbs = [train.LambdaCallback(on_epoch_end=constant),
           train.LearningRateScheduler(plateau, monitor="flat")]
    train.fit(tiny_model(), data(), optimizer=opt, epochs=3, callbacks=cbs, verbose=0)
    assert opt.lr == pytest.approx(0.025, rel=1e-6)  # reduced after epochs 2 and 3


def test_early_stopping_stops_after_patience():
    stop = train.EarlyStopping(monitor="loss", patience=1, min_delta=1e9)
    h = train.fit(tiny_model(), data(), epochs=10, callbacks=[stop], verbose=0)
    assert len(h) == 3 and h.stopped_early  # epoch 1 is the best; 2 and 3 do not improve
    assert stop.best_epoch == 1 and stop.stopped_epoch == 3


def test_early_stopping_on_validation_accuracy_is_max_mode():
    accs = [0.5, 0.7, 0.6, 0.65, 0.9, 0.9]

    def fake(trainer, epoch, logs):
        logs["val_accuracy"] = accs[epoch - 1]

    stop = train.EarlyStopping(monitor="val_accuracy", patience=1)
    assert stop.mode == "auto"  # decided by the metric's declared direction when fit starts
    h = train.fit(tiny_model(), data(), epochs=6, validation_data=data(20, seed=2),
                  callbacks=[train.LambdaCallback(on_epoch_end=fake), stop], verbose=0)
    assert stop.mode == "max"
    assert len(h) == 4 and h.stopped_early and stop.best == 0.7 and stop.best_epoch == 2


def test_early_stopping_state_survives_resume(tmp_path):
    stop = train.EarlyStopping(monitor="loss", patience=1, min_delta=1e9)
    train.fit(tiny_model(), data(), epochs=2, callbacks=[stop], checkpoint_dir=tmp_path, verbose=0)
    stop2 = train.EarlyStopping(monitor="loss", patience=1, min_delta=1e9)
    h = train.fit(tiny_model(), data(), epochs=10, callbacks=[stop2], checkpoint_dir=tmp_path,
                  resume=True, verbose=0)
    assert len(h) == 3 and h.stopped_early and stop2.wait == 2


def test_callback_errors():
    with pytest.raises(ValueError, match="patience must be >= 0"):
        train.EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="mode must be"):
        train.EarlyStopping(mode="best")
    with pytest.raises(TypeError, match="expected a schedule"):
        train.LearningRateScheduler(0.1)
    with pytest.raises(ValueError, match="per must be"):
        train.LearningRateScheduler(optim.ExponentialLR(optim.SGD(learning_rate=0.1), 0.5),
                                    per="batch")
    with pytest.raises(TypeError, match="did you mean 'on_epoch_end'"):
        train.LambdaCallback(on_epoch_ends=print)
    stop = train.EarlyStopping(monitor="val_loss")
    with pytest.raises(KeyError, match="needs validation_data|need validation_data"):
        train.fit(tiny_model(), data(), epochs=1, callbacks=[stop], verbose=0)


def test_resume_with_other_stateful_callbacks_is_refused(tmp_path):
    cbs = [train.EarlyStopping(monitor="loss")]
    train.fit(tiny_model(), data(), epochs=1, callbacks=cbs, checkpoint_dir=tmp_path, verbose=0)
    model = tiny_model(seed=4)
    trainer = train.Trainer(model, optimizer=optim.Adam(learning_rate=1e-3))
    before = trainer.compile((8,)).predict(data()[0])
    with pytest.raises(train.ResumeError, match=r"stateful callbacks \['EarlyStopping'\], "
                                                r"this call has \[\]"):
        trainer.fit(*data(), epochs=2, checkpoint_dir=tmp_path, resume=True, verbose=0)
    # Refused after reading the file once: the model was put back as it was.
    np.testing.assert_array_equal(trainer.predict(data()[0]), before)
    # Stateless callbacks (LambdaCallback) may come and go.
    h = train.fit(tiny_model(), data(), epochs=2, checkpoint_dir=tmp_path, resume=True,
                  callbacks=[train.LambdaCallback(), train.EarlyStopping(monitor="loss")],
                  verbose=0)
    assert len(h) == 2
