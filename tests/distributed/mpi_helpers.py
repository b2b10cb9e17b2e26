"""Launching a script on several MPI ranks from a test."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def mpiexec() -> str:
    """The ``mpiexec`` next to this Python (the mpich wheel's), else on PATH; skips the
    test when mpi4py or mpiexec is missing."""
    pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install 'nnthe[mpi]')")
    exe = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if not os.access(exe, os.X_OK):
        exe = shutil.which("mpiexec")
    if exe is None:
        pytest.skip("no mpiexec found (pip install 'nnthe[mpi]' installs MPICH's)")
    return exe


def run_mpi(script: str, *args: str, n: int = 2, timeout: float = 120,
            env: dict | None = None) -> subprocess.CompletedProcess:
    """``mpiexec -n N python -m mpi4py script args...`` with this checkout's nnthe."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = ROOT + os.pathsep + full_env.get("PYTHONPATH", "")
    # One BLAS thread per rank: the ranks already use the cores.
    full_env.setdefault("OMP_NUM_THREADS", "1")
    full_env.setdefault("OPENBLAS_NUM_THREADS", "1")
    full_env.update(env or {})
    cmd = [mpiexec(), "-n", str(n), sys.executable, "-m", "mpi4py",
           os.path.join(HERE, script), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env)
