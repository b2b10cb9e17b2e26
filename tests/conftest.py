"""Shared fixtures for the whole test suite."""
from __future__ import annotations

import numpy as np
import pytest


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
