"""fit(..., callbacks=[Distributed()]) on 2 MPI ranks: the same result as one process on the same
global batches, exact resume (also after Ctrl-C mid-epoch), one output, and a crash on one
rank ending the job."""
from __future__ import annotations

import os
import signal
import sys
import subprocess
import time

import numpy as np

from mpi_helpers import HERE, ROOT, mpiexec, run_mpi


def _params(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def test_two_ranks_fit_like_one_process(tmp_path):
    out = tmp_path / "p.npz"
    res = run_mpi("fit_script.py", out, "-", 3, "reference")
    assert res.returncode == 0, res.stderr[-3000:]
    # Rank 0 alone prints: one line per epoch, one DONE.
    assert res.stdout.count("epoch 1/3") == 1 and res.stdout.count("DONE") == 1, res.stdout


def test_resume_is_exact_with_dropout_and_batchnorm(tmp_path):
    straight, first, resumed = (tmp_path / n for n in ("a.npz", "b.npz", "c.npz"))
    res = run_mpi("fit_script.py", straight, tmp_path / "run_a", 3, "dropout")
    assert res.returncode == 0, res.stderr[-3000:]
    res = run_mpi("fit_script.py", first, tmp_path / "run_b", 1, "dropout")
    assert res.returncode == 0, res.stderr[-3000:]
    files = sorted(os.listdir(tmp_path / "run_b"))
    assert len([f for f in files if f.endswith(".h5")]) == 1, files   # rank 0 wrote one
    res = run_mpi("fit_script.py", resumed, tmp_path / "run_b", 3, "dropout", "resume")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "resumed from" in res.stdout
    a, c = _params(straight), _params(resumed)
    assert a.keys() == c.keys() and any("mean" in k or "var" in k for k in a), a.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], c[k], err_msg=k)
    b = _params(first)
    assert not all(np.array_equal(a[k], b[k]) for k in a)


def test_resume_with_another_number_of_ranks_is_refused(tmp_path):
    res = run_mpi("fit_script.py", tmp_path / "a.npz", tmp_path / "run", 1, "dropout")
    assert res.returncode == 0, res.stderr[-3000:]
    res = run_mpi("fit_script.py", tmp_path / "b.npz", tmp_path / "run", 2, "dropout", "resume",
                  n=1)
    assert res.returncode != 0
    assert "written by 2 ranks, this job has 1" in res.stderr


def test_ctrl_c_stops_every_rank_and_resume_is_exact(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    ckpt = tmp_path / "run"
    cmd = [mpiexec(), "-n", "2", sys.executable, "-m", "mpi4py",
           os.path.join(HERE, "fit_script.py"), str(tmp_path / "x.npz"), str(ckpt), "3",
           "dropout", "slow"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    try:
        deadline = time.monotonic() + 60
        for line in proc.stdout:
            if line.strip() == "step 3" or time.monotonic() > deadline:
                break
        proc.send_signal(signal.SIGINT)   # what Ctrl-C on mpiexec does: it forwards it
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-3000:]
    assert err.count("INTERRUPTED Training interrupted at epoch 1") == 1, err[-3000:]
    assert "Checkpoint saved to" in err and "Traceback" not in err
    res = run_mpi("fit_script.py", tmp_path / "resumed.npz", ckpt, 3, "dropout", "resume")
    assert res.returncode == 0, res.stderr[-3000:]
    res = run_mpi("fit_script.py", tmp_path / "straight.npz", "-", 3, "dropout")
    assert res.returncode == 0, res.stderr[-3000:]
    a, b = _params(tmp_path / "straight.npz"), _params(tmp_path / "resumed.npz")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_a_crash_on_one_rank_ends_the_job(tmp_path):
    start = time.monotonic()
    res = run_mpi("fit_script.py", tmp_path / "x.npz", "-", 3, "crash", timeout=60)
    assert res.returncode != 0
    assert "RuntimeError: rank 1 fails at step 3" in res.stderr
    assert time.monotonic() - start < 30
