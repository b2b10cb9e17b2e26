"""A tiny classifier and data set for the training-loop tests (fast: milliseconds per epoch)."""
from __future__ import annotations

import numpy as np

import nnthe
from nnthe import layers

N, D, K = 90, 8, 3


def data(n: int = N, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    r = np.random.default_rng(seed)
    X = r.standard_normal((n, D)).astype("float32")
    y = (np.argmax(X[:, :K], axis=1)).astype("int32")  # learnable
    return X, y


def tiny_model(seed: int = 0) -> layers.Sequential:
    """Dense - Dropout - Dense: dropout makes exact resume depend on the saved RNG state."""
    nnthe.random.seed(seed)
    return layers.Sequential([layers.Dense(16, activation="relu"), layers.Dropout(0.3),
                              layers.Dense(K)])


def losses_of(history) -> list[float]:
    return [row["loss"] for row in history.epochs]
