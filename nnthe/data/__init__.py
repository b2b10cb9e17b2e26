"""Data sets, the IDX file format and mini-batch helpers.

This package needs only NumPy, tqdm and the standard library, so ``import nnthe.data``
works without the symbolic core.

* :func:`read_idx` / :func:`write_idx` read and write IDX files (the format of MNIST),
  gzip-compressed or raw.
* :func:`load_mnist` finds MNIST on disk, downloads it when allowed, verifies the md5 of
  every file and falls back to a small subset shipped with nnthe when offline.
* :func:`batches` and :func:`train_val_split` cut arrays into mini-batches and splits.

Examples
--------
>>> from nnthe.data import load_mnist, batches
>>> (X, y), (X_test, y_test) = load_mnist()                  # doctest: +SKIP
>>> for Xb, yb in batches(X, y, batch_size=128, rng=0):     # doctest: +SKIP
...     loss = train_step(Xb, yb)
"""

from .batching import batches, train_val_split
from .idx import IDXFormatError, read_idx, write_idx
from .mnist import (MNIST_FILES, MNIST_MIRRORS, MNIST_SUBSET_DIR, ChecksumError, DownloadError,
                    MNISTSubsetWarning, find_mnist, load_mnist, mnist_cache_dir)

__all__ = [
    "ChecksumError", "DownloadError", "IDXFormatError", "MNISTSubsetWarning",
    "MNIST_FILES", "MNIST_MIRRORS", "MNIST_SUBSET_DIR",
    "batches", "find_mnist", "load_mnist", "mnist_cache_dir", "read_idx",
    "train_val_split", "write_idx",
]
