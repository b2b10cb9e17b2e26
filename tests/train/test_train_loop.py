"""nnthe.train: fit, Trainer, evaluate, exact resume, history files, output, errors."""
from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest

import nnthe
from nnthe import optim, train
from train_helpers import K, data, losses_of, tiny_model


def _fit(model, epochs, **kw):
    X, y = data()
    opt = kw.pop("optimizer", None) or optim.Adam(learning_rate=1e-2)
    cbs = kw.pop("callbacks", None)
    kw.setdefault("verbose", 0)
    if cbs is None:
        cbs = [train.LearningRateScheduler(optim.ExponentialLR(opt, 0.9), per="step")]
    return train.fit(model, (X, y), optimizer=opt, epochs=epochs, batch_size=16,
                     validation_data=data(30, seed=1), callbacks=cbs, **kw)


def test_fit_learns_and_exposes_compiled_functions():
    X, y = data()
    trainer = train.Trainer(tiny_model(), optimizer=optim.Adam(learning_rate=1e-2))
    history = trainer.fit(X, y, epochs=5, batch_size=16, verbose=0)
    assert isinstance(trainer.train_step, nnthe.Function)
    assert isinstance(trainer.eval_step, nnthe.Function)
    assert history["loss"][-1] < history["loss"][0]
    assert history.keys()[:3] == ["epoch", "loss", "accuracy"]
    loss, acc = trainer.eval_step(X, y)
    assert loss.dtype == np.float32 and 0 <= acc <= 1
    assert trainer.predict(X).shape == (len(X), K)
    assert trainer.X.type.shape == (None, X.shape[1])


def test_evaluate_matches_numpy_reference():
    X, y = data(37)
    model = tiny_model()
    trainer = train.Trainer(model).compile(X.shape[1:])
    logits = trainer.predict(X).astype(np.float64)
    logp = logits - logits.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    ref_loss = -logp[np.arange(len(y)), y].mean()
    ref_acc = np.mean(np.argmax(logits, 1) == y)
    got = train.evaluate(model, X, y, batch_size=10)  # 37 = 3 full batches + 7
    assert got["accuracy"] == pytest.approx(ref_acc, abs=1e-6)
    assert got["loss"] == pytest.approx(ref_loss, rel=1e-5)


def test_resume_equals_uninterrupted_bit_for_bit(tmp_path):
    full = _fit(tiny_model(seed=0), 4)
    first = _fit(tiny_model(seed=0), 2, checkpoint_dir=tmp_path)
    assert losses_of(first) == losses_of(full)[:2]
    # A differently initialized model: everything must come from the checkpoint.
    resumed = _fit(tiny_model(seed=7), 4, checkpoint_dir=tmp_path, resume=True)
    assert len(resumed) == 4
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
        assert resumed[key] == full[key], key


def test_resume_mid_epoch_equals_uninterrupted(tmp_path, capsys):
    full = _fit(tiny_model(seed=0), 3)

    def stop_at_step(trainer, step, logs):
        if step == 9:  # mid-epoch 2 (6 steps per epoch)
            trainer.request_stop("step")  # what the SIGINT handler does

    opt = optim.Adam(learning_rate=1e-2)
    cbs = [train.LearningRateScheduler(optim.ExponentialLR(opt, 0.9), per="step"),
           train.LambdaCallback(on_batch_end=stop_at_step)]
    with pytest.raises(train.TrainingInterrupted, match="resume=True") as info:
        _fit(tiny_model(seed=0), 3, optimizer=opt, callbacks=cbs, checkpoint_dir=tmp_path)
    assert info.value.epoch == 2 and info.value.step == 3
    assert os.path.exists(info.value.checkpoint)
    opt = optim.Adam(learning_rate=1e-2)
    cbs = [train.LearningRateScheduler(optim.ExponentialLR(opt, 0.9), per="step"),
           train.LambdaCallback()]
    resumed = _fit(tiny_model(seed=3), 3, optimizer=opt, callbacks=cbs,
                   checkpoint_dir=tmp_path, resume=True, verbose=2)
    assert f"resumed from {info.value.checkpoint} at epoch 2, step 3/6\n" in capsys.readouterr().out
    assert losses_of(resumed) == losses_of(full)
    assert resumed["val_loss"] == full["val_loss"]


def test_resume_with_other_seed_or_batch_size_is_refused(tmp_path):
    _fit(tiny_model(), 1, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="seed=0, this call has seed=5"):
        _fit(tiny_model(), 2, checkpoint_dir=tmp_path, resume=True, seed=5)


def test_resume_without_checkpoint_starts_afresh(tmp_path, capsys):
    h = train.fit(tiny_model(), data(), epochs=1, checkpoint_dir=tmp_path / "new", resume=True,
                  verbose=2)
    assert len(h) == 1
    assert "starting afresh" in capsys.readouterr().out


def test_history_csv_and_json_lines(tmp_path):
    h = _fit(tiny_model(), 3, history_path=tmp_path / "h.csv")
    with open(tmp_path / "h.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert [float(r["loss"]) for r in rows] == h["loss"]  # exact: floats written by repr
    assert set(rows[0]) >= {"val_loss", "val_accuracy", "lr", "seconds", "samples_per_s"}
    h.save(tmp_path / "h.jsonl")
    lines = (tmp_path / "h.jsonl").read_text().splitlines()
    assert [json.loads(line)["val_loss"] for line in lines] == h["val_loss"]
    _fit(tiny_model(), 1, history_path=tmp_path / "h.json")
    assert len((tmp_path / "h.json").read_text().splitlines()) == 1
    with pytest.raises(ValueError, match=r"\.csv, \.json or \.jsonl"):
        h.save(tmp_path / "h.txt")
    with pytest.raises(KeyError, match="no column 'nope'"):
        h["nope"]


def test_non_tty_output_is_one_plain_line_per_epoch(capsys):
    _fit(tiny_model(), 2, verbose="auto")  # pytest's captured stdout is not a terminal
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert len(lines) == 2 and "\r" not in out
    assert lines[0].startswith("epoch 1/2: loss ") and "val_acc" in lines[0]
    assert "samples/s" in lines[1]


def test_progress_bar_output(capsys):
    _fit(tiny_model(), 1, verbose=1)
    out = capsys.readouterr().out
    assert "epoch 1/1" in out and "samples/s" in out and "loss=" in out


def test_silent(capsys):
    _fit(tiny_model(), 1, verbose=0)
    assert capsys.readouterr().out == ""


def test_checkpoint_keeps_last_n_and_best(tmp_path):
    scores = [5.0, 1.0, 3.0, 4.0, 6.0]

    def score(trainer, epoch, logs):
        logs["score"] = scores[epoch - 1]

    # ModelCheckpoint first: it saves in on_checkpoint, after every on_epoch_end, so it
    # sees the score the callback after it adds.
    _fit(tiny_model(), 5, callbacks=[
        train.ModelCheckpoint(tmp_path, keep=2, keep_best="score", mode="min"),
        train.LambdaCallback(on_epoch_end=score)])
    mgr = nnthe.checkpoint.CheckpointManager(tmp_path, keep=2, keep_best="score")
    steps = [s for s, _ in mgr.checkpoints()]
    assert steps == [12, 24, 30]  # epoch 2 (best), epochs 4 and 5 (last two); 6 steps/epoch
    meta = nnthe.load_checkpoint(mgr.best())
    assert meta["epoch"] == 2 and meta["score"] == 1.0


def test_checkpoint_loads_into_fresh_model(tmp_path):
    model = tiny_model()
    _fit(model, 1, callbacks=[train.ModelCheckpoint(tmp_path, meta={"arch": "tiny"})])
    fresh = tiny_model(seed=9)
    t = train.Trainer(fresh).compile((8,))
    path = nnthe.checkpoint.CheckpointManager(tmp_path).latest()
    meta = nnthe.load_checkpoint(path, params=fresh.named_params())
    assert meta["arch"] == "tiny" and meta["epoch"] == 1
    X, _ = data()
    np.testing.assert_array_equal(t.predict(X), train.Trainer(model).compile((8,)).predict(X))


def test_custom_loss_and_metric_functions():
    def my_loss(out, y):
        return nnthe.losses.softmax_cross_entropy(out, y)  # per-example: averaged by fit

    def top2(out, y):
        return nnthe.metrics.top_k_accuracy(out, y, k=2)

    h = _fit(tiny_model(), 1, loss=my_loss, metrics=["acc", top2])
    assert {"loss", "accuracy", "top2", "val_top2"} <= set(h.keys())
    assert h["top2"][0] >= h["accuracy"][0]


def test_float_targets_and_regression_loss():
    X, _ = data()
    target = X[:, :K] * 2
    h = train.fit(tiny_model(), (X, target.astype("float64")), loss="squared_error",
                  metrics=[], optimizer=optim.Adam(learning_rate=1e-2), epochs=3, verbose=0)
    assert h["loss"][-1] < h["loss"][0]


# -- error paths ---------------------------------------------------------------------------
def test_unknown_loss_name_suggests_the_right_one():
    with pytest.raises(ValueError, match="did you mean 'softmax_cross_entropy'"):
        train.fit(tiny_model(), data(), loss="softmax_crossentropy")


def test_unknown_metric_and_bad_types():
    with pytest.raises(ValueError, match="did you mean 'accuracy'"):
        train.Trainer(tiny_model(), metrics=["acuracy"])
    with pytest.raises(TypeError, match="loss must be a name"):
        train.Trainer(tiny_model(), loss=3)
    with pytest.raises(TypeError, match="model must be an nnthe layer"):
        train.Trainer(object())
    with pytest.raises(TypeError, match="callbacks must be"):
        train.fit(tiny_model(), data(), callbacks=[print])


def test_mismatched_lengths_are_named():
    X, y = data()
    with pytest.raises(ValueError, match=r"same number of samples, got 90 .* and 89"):
        train.fit(tiny_model(), (X, y[:-1]))
    with pytest.raises(ValueError, match="same number of samples"):
        train.fit(tiny_model(), (X, y), validation_data=(X[:5], y[:4]))
    with pytest.raises(TypeError, match="data must be a pair"):
        train.fit(tiny_model(), X)


def test_unknown_keyword_and_bad_values():
    with pytest.raises(TypeError, match="did you mean 'batch_size'"):
        train.fit(tiny_model(), data(), batchsize=3)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        train.fit(tiny_model(), data(), batch_size=0)
    with pytest.raises(ValueError, match="resume=True needs checkpoint_dir"):
        train.fit(tiny_model(), data(), resume=True)
    with pytest.raises(ValueError, match="verbose must be"):
        train.fit(tiny_model(), data(), verbose=5)
    with pytest.raises(ValueError, match="history_path must end"):
        train.fit(tiny_model(), data(), history_path="h.txt")
    with pytest.raises(ValueError, match="input shape is unknown"):
        train.Trainer(tiny_model()).compile()
