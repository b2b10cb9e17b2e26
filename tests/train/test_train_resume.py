"""Resume: the newest checkpoint that loads is used; damaged newer ones are skipped and said;
nothing loads -> a clear refusal; a file that does not fit this call -> refused, unchanged."""
from __future__ import annotations

import os

import h5py
import numpy as np
import pytest

import nnthe
from nnthe import optim, train
from nnthe.train import checkpointing
from train_helpers import data, losses_of, tiny_model


def _fit(model, epochs, **kw):
    opt = optim.Adam(learning_rate=1e-2)
    cbs = [train.LearningRateScheduler(optim.ExponentialLR(opt, 0.9), per="step")]
    kw.setdefault("verbose", 0)
    return train.fit(model, data(), optimizer=opt, epochs=epochs, batch_size=16,
                     validation_data=data(30, seed=1), callbacks=cbs, **kw)


def _ckpts(folder):
    return sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".h5"))


def _truncate(path):
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)


def _empty(path):
    open(path, "wb").close()


def _foreign(path):  # an HDF5 file, but not an nnthe checkpoint
    os.unlink(path)
    with h5py.File(path, "w") as f:
        f["weights"] = np.zeros(3)


def _not_from_fit(path):  # an nnthe checkpoint of this model, without fit's loop state
    model = tiny_model(seed=5)
    train.Trainer(model).compile((8,))
    os.unlink(path)
    nnthe.save_checkpoint(path, model=model)


@pytest.fixture(scope="module")
def full_run():
    return _fit(tiny_model(seed=0), 4)


@pytest.mark.parametrize("damage", [_truncate, _empty, _foreign, _not_from_fit])
def test_resume_falls_back_to_the_newest_checkpoint_that_loads(tmp_path, capsys, full_run,
                                                               damage):
    _fit(tiny_model(seed=0), 3, checkpoint_dir=tmp_path)
    files = _ckpts(tmp_path)
    assert len(files) == 3
    damage(files[-1])
    capsys.readouterr()
    resumed = _fit(tiny_model(seed=7), 4, checkpoint_dir=tmp_path, resume=True, verbose=2)
    out = capsys.readouterr().out
    # The run continues from epoch 2's checkpoint exactly as if never stopped.
    assert losses_of(resumed) == losses_of(full_run)
    assert resumed["val_loss"] == full_run["val_loss"]
    name = os.path.basename(files[-1])
    assert f"resume: skipped {name}: " in out
    assert f"resumed from {files[1]} at the end of epoch 2 (the newer {name} could not be " \
           f"loaded" in out
    assert "epoch 3/4" in out and "epoch 2/4" not in out


def test_resume_callback_reports_what_it_used(tmp_path):
    _fit(tiny_model(seed=0), 2, checkpoint_dir=tmp_path)
    files = _ckpts(tmp_path)
    _empty(files[-1])
    resume = train.Resume(tmp_path)
    opt = optim.Adam(learning_rate=1e-2)
    train.fit(tiny_model(seed=0), data(), optimizer=opt, epochs=2, batch_size=16, verbose=0,
              callbacks=[resume, train.LearningRateScheduler(optim.ExponentialLR(opt, 0.9),
                                                             per="step")])
    assert resume.path == files[0] and resume.meta["epoch"] == 1
    assert [p for p, _ in resume.skipped] == [files[-1]]
    assert "truncated, corrupt or another format" in resume.skipped[0][1]


def test_resume_refuses_when_no_checkpoint_loads(tmp_path):
    _fit(tiny_model(seed=0), 2, checkpoint_dir=tmp_path)
    first, second = _ckpts(tmp_path)
    _truncate(first)
    _foreign(second)
    model = tiny_model(seed=3)
    t = train.Trainer(model).compile((8,))
    before = t.predict(data()[0])
    with pytest.raises(train.ResumeError, match="none of the 2 checkpoint") as info:
        _fit(model, 3, checkpoint_dir=tmp_path, resume=True)
    msg = str(info.value)
    assert os.path.basename(first) in msg and os.path.basename(second) in msg
    assert "not an nnthe checkpoint" in msg and "Move them away" in msg
    assert isinstance(info.value, nnthe.checkpoint.CheckpointError)
    np.testing.assert_array_equal(t.predict(data()[0]), before)  # nothing changed


def test_a_checkpoint_of_another_model_is_refused_not_skipped(tmp_path):
    _fit(tiny_model(seed=0), 2, checkpoint_dir=tmp_path)
    other = nnthe.layers.Sequential([nnthe.layers.Dense(5), nnthe.layers.Dense(3)])
    with pytest.raises(train.ResumeError, match="does not fit") as info:
        _fit(other, 3, checkpoint_dir=tmp_path, resume=True)
    assert os.path.basename(_ckpts(tmp_path)[-1]) in str(info.value)


def test_other_seed_is_refused_and_the_model_is_unchanged(tmp_path):
    _fit(tiny_model(seed=0), 1, checkpoint_dir=tmp_path)
    model = tiny_model(seed=3)
    t = train.Trainer(model).compile((8,))
    before = t.predict(data()[0])
    with pytest.raises(ValueError, match="seed=0, this call has seed=5"):
        _fit(model, 2, checkpoint_dir=tmp_path, resume=True, seed=5)
    np.testing.assert_array_equal(t.predict(data()[0]), before)


def test_resume_reads_the_checkpoint_once(tmp_path, monkeypatch):
    _fit(tiny_model(seed=0), 2, checkpoint_dir=tmp_path)
    calls = []
    real = checkpointing.load_checkpoint

    def counting(path, *args, **kw):
        calls.append(os.path.basename(path))
        return real(path, *args, **kw)

    monkeypatch.setattr(checkpointing, "load_checkpoint", counting)
    _fit(tiny_model(seed=0), 3, checkpoint_dir=tmp_path, resume=True)
    assert calls == ["ckpt-00000012.h5"]


def test_resume_needs_a_directory_and_starts_afresh_in_an_empty_one(tmp_path, capsys):
    with pytest.raises(TypeError, match="directory must be"):
        train.Resume(3)
    h = train.fit(tiny_model(), data(), epochs=1, callbacks=[train.Resume(tmp_path / "new")],
                  verbose=2)
    assert len(h) == 1 and "starting afresh" in capsys.readouterr().out
