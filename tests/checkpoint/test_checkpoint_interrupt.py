"""Ctrl-C during saves: a save finishes or raises KeyboardInterrupt, never eats the signal."""
from __future__ import annotations

import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import nnthe
from nnthe.checkpoint import load_checkpoint, save_checkpoint
from nnthe.checkpoint.atomic import deferred_sigint
from ckpt_helpers import child_env

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sigint_child.py")


class _Lines:
    """The child's stdout lines, read by a thread: select() on a buffered pipe would miss
    lines that arrived together (already in the buffer)."""

    def __init__(self, stream):
        self.queue = queue.Queue()
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream):
        with stream:  # the reader owns the pipe: closed at its end, not by the GC
            for line in stream:
                self.queue.put(line.strip())
        self.queue.put("")  # end of file

    def next(self, timeout):
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None


@pytest.fixture
def request_cleanup():
    folders = []
    yield folders
    for f in folders:
        shutil.rmtree(f, ignore_errors=True)


def _interrupt_rounds(tmp_path, rounds, seed, request_cleanup):
    """Send SIGINT at random moments of a save loop; return (rounds, stopped, lost, stderr)."""
    env = child_env()
    # Each save fsyncs; on a busy shared disk one fsync can take seconds, which is not
    # what is tested here: use memory (tmpfs) when there is one.
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        folder = tempfile.mkdtemp(prefix="nnthe-sigint-", dir="/dev/shm")
        request_cleanup.append(folder)
        path = Path(folder) / "ck.h5"
    else:
        path = tmp_path / "ck.h5"
    proc = subprocess.Popen([sys.executable, CHILD, str(path), str(rounds)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    rnd = random.Random(seed)
    lines = _Lines(proc.stdout)
    stopped = lost = 0
    try:
        for i in range(rounds):
            line = lines.next(60)
            if line != "saving":  # the child died of an interrupt it should have caught
                proc.kill()
                err = proc.stderr.read()
                raise AssertionError(f"round {i}: expected 'saving', got {line!r} "
                                     f"({stopped} stopped, {lost} lost so far); stderr: {err[-1500:]}")
            time.sleep(rnd.uniform(0.0, 0.03))   # anywhere in a save (one takes ~2-5 ms)
            proc.send_signal(signal.SIGINT)
            answer = lines.next(5.0)
            while answer is None:      # lost: the loop carries on saving
                lost += 1
                proc.send_signal(signal.SIGINT)
                answer = lines.next(5.0)
                if lost > rounds:
                    break
            if answer == "interrupted":
                stopped += 1
        assert lines.next(30) == "done"
        err = proc.stderr.read()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
        lines.thread.join(timeout=30)  # the child is gone: its stdout ends
    return stopped, lost, err, path


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT to a child process")
def test_ctrl_c_during_a_save_loop_is_never_lost(tmp_path, request_cleanup):
    stopped, lost, err, path = _interrupt_rounds(tmp_path, rounds=80, seed=0, request_cleanup=request_cleanup)
    assert "Exception ignored" not in err, err[-2000:]
    assert (stopped, lost) == (80, 0), err[-2000:]
    # And the file is a complete checkpoint of some step.
    params = [nnthe.shared(np.zeros(16, dtype="float32"), name=f"layer{i}/W") for i in range(8)]
    assert load_checkpoint(path, params=params)["step"] > 0


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT to a child process")
def test_ctrl_c_during_a_save_loop_many_rounds(tmp_path, request_cleanup):
    stopped, lost, err, _ = _interrupt_rounds(tmp_path, rounds=400, seed=1, request_cleanup=request_cleanup)
    assert "Exception ignored" not in err and (stopped, lost) == (400, 0), err[-2000:]


@pytest.fixture
def python_sigint():
    # Python's own Ctrl-C handler, even where the test run started with SIGINT ignored
    # (a background job).
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def test_interrupt_between_datasets_raises_and_keeps_the_old_file(tmp_path, monkeypatch,
                                                                   python_sigint):
    import h5py

    path = tmp_path / "ck.h5"
    ps = [nnthe.shared(np.full(3, 1, dtype="float32"), name=f"p{i}") for i in range(3)]
    save_checkpoint(path, params=ps, meta={"step": 1})
    real = h5py.Group.create_dataset
    calls = []

    def writing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGINT)  # a Ctrl-C in the middle of the save
        return real(*args, **kwargs)

    monkeypatch.setattr(h5py.Group, "create_dataset", writing)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, params=ps, meta={"step": 2})
    assert sorted(os.listdir(tmp_path)) == ["ck.h5"]
    assert load_checkpoint(path, params=ps)["step"] == 1
    # The handler is Python's again: a Ctrl-C now is an ordinary KeyboardInterrupt.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_deferred_sigint_outside_the_main_thread_does_nothing():
    import threading

    seen = []

    def run():
        with deferred_sigint() as d:
            seen.append(d._active)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    assert seen == [False]
