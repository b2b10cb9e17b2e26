"""The allocator tuning (nnthe/core/compile/malloc.py): off at ``import nnthe``, on from
the first compile under glibc, kept off by ``NNTHE_MALLOC_TUNING=0``.

Each check runs in a fresh interpreter (the tuning is process-wide and one-way) and looks
at the allocator's behaviour, not only at nnthe's flag: a 48 MB NumPy array is above
glibc's largest default mmap threshold (32 MB), so with the defaults it gets its own
``mmap`` (``mallinfo2().hblks`` grows by one); with the tuning (64 MB) it comes from the
heap.
"""
import os
import platform
import subprocess
import sys

import pytest

import nnthe.core.compile.malloc as M

glibc = pytest.mark.skipif(
    not (sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"),
    reason="the tuning applies to glibc only")

PROBE = """
import ctypes, sys
import numpy as np
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
import nnthe, nnthe.core.compile.malloc as M
import nnthe.tensor as T
if sys.argv[1] == "compile":
    x = T.vector("x")
    nnthe.function([x], 2 * x)
before = libc.mallinfo2().hblks
block = np.empty(48 << 20, dtype=np.uint8)
print(M.tuned, libc.mallinfo2().hblks - before)
"""


def _probe(step: str, **env: str) -> str:
    out = subprocess.run([sys.executable, "-c", PROBE, step], env=dict(os.environ, **env),
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


@glibc
def test_import_leaves_the_allocator_alone():
    env = {k: v for k, v in os.environ.items() if k != "NNTHE_MALLOC_TUNING"}
    out = subprocess.run([sys.executable, "-c", PROBE, "import"], env=env,
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False 1"  # not tuned: the big block was mmapped


@glibc
def test_first_compile_turns_the_tuning_on():
    assert _probe("compile", NNTHE_MALLOC_TUNING="1") == "True 0"  # from the heap


@glibc
def test_the_environment_keeps_it_off():
    assert _probe("compile", NNTHE_MALLOC_TUNING="0") == "False 1"


def test_tune_malloc_decides_once(monkeypatch):
    # In this process: whatever the first call decided, later calls return the same.
    first = M.tune_malloc()
    monkeypatch.setenv("NNTHE_MALLOC_TUNING", "1" if not first else "0")
    assert M.tune_malloc() is first
