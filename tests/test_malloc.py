"""The allocator tuning done at import (nnthe/_malloc.py)."""
import os
import platform
import subprocess
import sys

import pytest

import nnthe  # noqa: F401  (the import applies the tuning)
import nnthe._malloc as M


def test_tuning_is_on_by_default_on_linux_glibc():
    if not (sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"):
        pytest.skip("the tuning applies to glibc only")
    assert M.tuned is True  # set when nnthe was imported
    assert M.tune_malloc() is True  # and idempotent


def test_tuning_can_be_switched_off_by_the_environment():
    code = "import nnthe, nnthe._malloc as M; print(M.tuned)"
    env = dict(os.environ, NNTHE_MALLOC_TUNING="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
