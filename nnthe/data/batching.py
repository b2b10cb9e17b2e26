"""Mini-batches and train/validation splits of in-memory arrays."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Union

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["batches", "train_val_split"]

RNGLike = Union[None, int, np.integer, np.random.Generator, np.random.SeedSequence]


def _as_generator(rng: RNGLike, fname: str) -> np.random.Generator:
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, np.random.Generator):
        return rng  # used as is, so successive calls (epochs) draw different orders
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, (bool, np.bool_)):
        if rng < 0:
            raise ValueError(f"{fname}: rng seed must be >= 0, got {rng}")
        return np.random.default_rng(int(rng))
    if isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    raise TypeError(f"{fname}: rng must be None, an int seed or a numpy.random.Generator, "
                    f"got {type(rng).__name__}")


def _as_samples(a: ArrayLike, name: str, fname: str) -> np.ndarray:
    if a is None or isinstance(a, (str, bytes, dict, set)):
        raise TypeError(f"{fname}: {name} must be an array with samples along axis 0, "
                        f"got {type(a).__name__}")
    arr = np.asarray(a)  # no copy for an ndarray (or np.memmap)
    if arr.ndim == 0:
        raise TypeError(f"{fname}: {name} must have at least 1 dimension (samples along "
                        f"axis 0), got a 0-d array")
    return arr


def _check_int(value: object, name: str, fname: str, minimum: int) -> int:
    # bool is an int subclass, but batch_size=True is surely a mistake.
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{fname}: {name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{fname}: {name} must be >= {minimum}, got {value}")
    return int(value)


def _check_bool(value: object, name: str, fname: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{fname}: {name} must be a bool, got {type(value).__name__}")
    return bool(value)


def _check_pair(X: ArrayLike, y: ArrayLike | None, fname: str
                ) -> tuple[np.ndarray, np.ndarray | None]:
    X = _as_samples(X, "X", fname)
    if y is None:
        return X, None
    y = _as_samples(y, "y", fname)
    if len(y) != len(X):
        raise ValueError(f"{fname}: X and y must have the same number of samples (axis 0), "
                         f"got {len(X)} and {len(y)}")
    return X, y


def batches(X: ArrayLike, y: ArrayLike | None = None, batch_size: int = 128,
            shuffle: bool = True, rng: RNGLike = None, drop_last: bool = False
            ) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """Iterate over mini-batches of ``X`` (and ``y``) along axis 0.

    Arguments are checked when ``batches`` is called, not at the first ``next()``.

    Parameters
    ----------
    X : array_like
        Samples along axis 0.
    y : array_like, optional
        Targets, with as many entries along axis 0 as ``X``.
    batch_size : int, default 128
        Samples per batch; the last batch is smaller unless ``drop_last``.
    shuffle : bool, default True
        Visit the samples in a random order: one permutation drawn per call. Without it the
        batches are slices, i.e. views of ``X`` and ``y`` (no copy).
    rng : None, int or numpy.random.Generator, optional
        Source of the permutation. An int seed gives the same order on every call; a
        Generator is advanced, so that each call (epoch) differs but the whole run is
        reproducible; None draws fresh entropy.
    drop_last : bool, default False
        Skip the last batch when it has fewer than ``batch_size`` samples.

    Yields
    ------
    Xb : numpy.ndarray
        A batch of ``X``.
    yb : numpy.ndarray or None
        The matching batch of ``y``; None when ``y`` is None, so that
        ``for Xb, yb in batches(...)`` works either way.

    Raises
    ------
    TypeError
        For arguments of the wrong type (e.g. a float ``batch_size``, 0-d ``X``).
    ValueError
        For ``batch_size < 1``, a negative seed, or ``X`` and ``y`` of different lengths.

    Examples
    --------
    >>> X, y = np.arange(10).reshape(5, 2), np.arange(5)
    >>> [yb.tolist() for _, yb in batches(X, y, batch_size=2, shuffle=False)]
    [[0, 1], [2, 3], [4]]
    >>> rng = np.random.default_rng(0)
    >>> for epoch in range(2):                                # doctest: +SKIP
    ...     for Xb, yb in batches(X, y, batch_size=2, rng=rng):
    ...         train_step(Xb, yb)
    """
    fname = "batches"
    X, y = _check_pair(X, y, fname)
    batch_size = _check_int(batch_size, "batch_size", fname, 1)
    shuffle = _check_bool(shuffle, "shuffle", fname)
    drop_last = _check_bool(drop_last, "drop_last", fname)
    gen = _as_generator(rng, fname)
    n = len(X)
    order = gen.permutation(n) if shuffle else None
    stop = n - n % batch_size if drop_last else n
    return _iter_batches(X, y, order, batch_size, stop)


def _iter_batches(X: np.ndarray, y: np.ndarray | None, order: np.ndarray | None,
                  batch_size: int, stop: int) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    for start in range(0, stop, batch_size):
        end = min(start + batch_size, stop)
        idx = slice(start, end) if order is None else order[start:end]
        yield X[idx], (None if y is None else y[idx])


def train_val_split(X: ArrayLike, y: ArrayLike, *, val_fraction: float | None = None,
                    val_size: int | None = None, shuffle: bool = True, rng: RNGLike = None,
                    stratify: bool = False
                    ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Split ``X`` and ``y`` into a training and a validation part.

    Parameters
    ----------
    X, y : array_like
        Samples and targets along axis 0, of the same length.
    val_fraction : float, optional
        Fraction of the samples for validation, in (0, 1); rounded to the nearest count,
        at least 1. Default 0.1 when ``val_size`` is not given.
    val_size : int, optional
        Number of validation samples, in [1, len(X) - 1]. Give this or ``val_fraction``.
    shuffle : bool, default True
        Pick the validation samples at random and return both parts in random order.
        Without it the validation part is the tail of the data (per class when
        stratified) and both parts keep the original order.
    rng : None, int or numpy.random.Generator, optional
        Source of randomness, as in :func:`batches`.
    stratify : bool, default False
        Keep the class proportions of ``y`` (1-D labels) in both parts, as closely as
        whole numbers allow (largest-remainder rounding).

    Returns
    -------
    (X_train, y_train), (X_val, y_val) : tuple of tuples of numpy.ndarray
        New arrays (copies), together holding every sample exactly once.

    Raises
    ------
    TypeError
        For arguments of the wrong type, or ``stratify`` with ``y`` that is not 1-D.
    ValueError
        For both or impossible sizes, or ``X`` and ``y`` of different lengths.

    Examples
    --------
    >>> X, y = np.arange(20).reshape(10, 2), np.arange(10) % 2
    >>> (Xt, yt), (Xv, yv) = train_val_split(X, y, val_size=2, shuffle=False)
    >>> Xv.tolist(), yv.tolist()
    ([[16, 17], [18, 19]], [0, 1])
    """
    fname = "train_val_split"
    X, y = _check_pair(X, y, fname)
    if y is None:
        raise TypeError(f"{fname}: y must be an array, got None")
    shuffle = _check_bool(shuffle, "shuffle", fname)
    stratify = _check_bool(stratify, "stratify", fname)
    gen = _as_generator(rng, fname)
    n = len(X)
    if val_size is not None and val_fraction is not None:
        raise ValueError(f"{fname}: give val_fraction or val_size, not both "
                         f"(got {val_fraction} and {val_size})")
    if val_size is not None:
        n_val = _check_int(val_size, "val_size", fname, 1)
    else:
        frac = 0.1 if val_fraction is None else val_fraction
        if (not isinstance(frac, (float, int, np.floating, np.integer))
                or isinstance(frac, (bool, np.bool_))):
            raise TypeError(f"{fname}: val_fraction must be a float, got {type(frac).__name__}")
        if not 0 < frac < 1:
            raise ValueError(f"{fname}: val_fraction must be in (0, 1), got {frac}")
        n_val = max(1, round(frac * n))
    if n_val >= n:
        raise ValueError(f"{fname}: a validation set of {n_val} samples leaves no training "
                         f"samples out of {n}")
    if stratify:
        if y.ndim != 1:
            raise TypeError(f"{fname}: stratify needs 1-D class labels y, got shape {y.shape}")
        _, inverse = np.unique(y, return_inverse=True)
        members = np.argsort(inverse, kind="stable")  # sample indices grouped by class
        counts = np.bincount(inverse)
        quota = n_val * counts / n
        take = np.floor(quota).astype(np.intp)
        # Largest remainder: hand the leftover samples to the classes rounded down most.
        take[np.argsort(take - quota, kind="stable")[: n_val - take.sum()]] += 1
        val_parts = []
        for group, k in zip(np.split(members, np.cumsum(counts)[:-1]), take):
            if shuffle:
                group = gen.permutation(group)
            val_parts.append(group[len(group) - k:])
        val_idx = np.concatenate(val_parts)
        is_val = np.zeros(n, bool)
        is_val[val_idx] = True
        train_idx = np.flatnonzero(~is_val)
        val_idx = gen.permutation(val_idx) if shuffle else np.sort(val_idx)
        if shuffle:
            train_idx = gen.permutation(train_idx)
    else:
        order = gen.permutation(n) if shuffle else np.arange(n)
        train_idx, val_idx = order[: n - n_val], order[n - n_val:]
    return (X[train_idx], y[train_idx]), (X[val_idx], y[val_idx])
