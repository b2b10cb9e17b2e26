"""Shared fixtures for the whole test suite."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

# Test scripts run in subprocesses (examples, kill-and-resume children) must import the
# nnthe under test, not whichever one is installed in the environment: put this tree
# first on the path they inherit.
_ROOT = str(Path(__file__).resolve().parent.parent)
os.environ["PYTHONPATH"] = os.pathsep.join(
    [_ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != _ROOT])


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, seeded generator per test, so failures reproduce."""
    return np.random.default_rng(1234)


@pytest.fixture
def floatX_64():
    """Run a test with ``config.floatX = 'float64'`` and restore it afterwards."""
    from nnthe.config import config

    old = config.floatX
    config.floatX = "float64"
    yield
    config.floatX = old


@pytest.fixture(scope="session", autouse=True)
def _kernel_cache_dir(tmp_path_factory):
    """Generated kernels go to one temporary cache for the whole run (never the user's
    ~/.cache/nnthe); tests share the kernels compiled there."""
    import os

    old = os.environ.get("NNTHE_CACHE_DIR")
    os.environ["NNTHE_CACHE_DIR"] = str(tmp_path_factory.mktemp("nnthe-cache"))
    yield
    if old is None:
        os.environ.pop("NNTHE_CACHE_DIR", None)
    else:
        os.environ["NNTHE_CACHE_DIR"] = old
