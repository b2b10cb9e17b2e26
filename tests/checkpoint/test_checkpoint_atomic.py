"""Atomic saving: a failure or a SIGKILL at any moment leaves one complete checkpoint."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import h5py
import numpy as np
import pytest

import nnthe
from nnthe.checkpoint import load_checkpoint, save_checkpoint
from ckpt_helpers import child_env

N_PARAMS, SIZE = 4, 1 << 20   # 16 MB per checkpoint: a save takes tens of milliseconds

CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    import nnthe
    from nnthe.checkpoint import save_checkpoint

    path, n, size, start = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    params = [nnthe.shared(np.zeros(size, dtype="float32"), name=f"layer{i}/W") for i in range(n)]
    step = start
    while True:
        step += 1
        for p in params:
            p.get_value(borrow=True)[...] = step
        save_checkpoint(path, params=params, meta={"step": step})
        print(step, flush=True)
""")


def _params():
    return [nnthe.shared(np.zeros(SIZE, dtype="float32"), name=f"layer{i}/W") for i in range(N_PARAMS)]


def _check_complete(path, params):
    meta = load_checkpoint(path, params=params)
    step = meta["step"]
    for p in params:
        v = p.get_value(borrow=True)
        assert v[0] == step and v[-1] == step and (v == step).all(), (p.name, step)
    return step


def _kill_rounds(tmp_path, rounds, seed):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    path = tmp_path / "ck.h5"
    params = _params()
    save_checkpoint(path, params=params, meta={"step": 0})
    rnd = random.Random(seed)
    step = 0
    for _ in range(rounds):
        child = subprocess.Popen([sys.executable, str(script), str(path), str(N_PARAMS), str(SIZE),
                                  str(step)], stdout=subprocess.PIPE, text=True, env=child_env())
        try:
            # Wait for one complete save, so the kill lands in the saving loop, not in imports.
            first = child.stdout.readline()
            assert first, "the child died before saving"
            time.sleep(rnd.uniform(0.0, 0.25))
            os.kill(child.pid, signal.SIGKILL)
            rest = child.stdout.read()
        finally:
            if child.poll() is None:
                child.kill()
            child.wait()
        done = [int(s) for s in (first + rest).split()]
        got = _check_complete(path, params)
        # The file holds the last save reported, or the next one if the kill came
        # between its rename and its print.
        assert done[-1] <= got <= done[-1] + 1, (done, got)
        assert got > step
        step = got
    return path


def test_sigkill_during_saves_quick(tmp_path):
    _kill_rounds(tmp_path, rounds=3, seed=1)


@pytest.mark.slow
def test_sigkill_during_saves_many_rounds(tmp_path):
    path = _kill_rounds(tmp_path, rounds=30, seed=2)
    # Saves killed half-way leave temporary files (most rounds do: the kills land in
    # saves); they are recognised and removed as their processes are dead.
    from nnthe.checkpoint.atomic import remove_stale_temp_files

    leftovers = [f for f in os.listdir(path.parent) if f.endswith(".tmp")]
    assert remove_stale_temp_files(str(path.parent), "ck.h5") and len(leftovers) > 0
    assert [f for f in os.listdir(path.parent) if f.endswith(".tmp")] == []


def test_exception_mid_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ck.h5"
    a = nnthe.shared(np.ones(3, dtype="float32"), name="a")
    b = nnthe.shared(np.ones(3, dtype="float32"), name="b")
    save_checkpoint(path, params=[a, b], meta={"step": 1})
    calls = []
    real = h5py.Group.create_dataset

    def failing(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # anything, even an interrupt, between two datasets
        return real(self, *args, **kwargs)

    monkeypatch.setattr(h5py.Group, "create_dataset", failing)
    a.set_value(np.full(3, 2, dtype="float32"))
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, params=[a, b], meta={"step": 2})
    assert os.listdir(tmp_path) == ["ck.h5"]
    assert load_checkpoint(path, params=[a, b])["step"] == 1
    assert a.get_value()[0] == 1
