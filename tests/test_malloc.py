"""The allocator tuning done at import (nnthe/_malloc.py)."""
import os
import subprocess
import sys

import nnthe._malloc as M


def test_tuning_is_on_by_default_on_linux_glibc():
    if sys.platform.startswith("linux"):
        assert M.tune_malloc() in (True, False)  # False only on a non-glibc libc
        assert M.tune_malloc() == M.tuned


def test_tuning_can_be_switched_off_by_the_environment():
    code = "import nnthe, nnthe._malloc as M; print(M.tuned)"
    env = dict(os.environ, NNTHE_MALLOC_TUNING="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
