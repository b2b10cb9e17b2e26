#!/usr/bin/env python
"""Make the MNIST subset bundled with nnthe (``nnthe/datasets/mnist_subset/``).

The subset is the fallback of :func:`nnthe.data.load_mnist` on a machine that has neither
the full files nor network access. It is made reproducibly from the original files:

* per class, the same number of images (stratified): ``n_train / 10`` from the training
  set and ``n_test / 10`` from the test set;
* within a class, images at evenly spaced positions of that class's occurrences in the
  original file (no random numbers, so no dependence on NumPy's generators). Spreading the
  picks over the whole file matters for the test set, whose first half is the easier one;
* the picked images keep their original relative order;
* stored as gzipped IDX files (gzip level 9, zero timestamp, so equal data give equal
  bytes for a given zlib) with ``checksums.json``: the md5 of every uncompressed file, which
  ``load_mnist`` verifies, and how the subset was made.

Usage::

    python scripts/make_mnist_subset.py [--src DIR] [--out DIR] [--n-train N] [--n-test N]

``--src`` defaults to ``$NNTHE_DATA/mnist`` when set, else ``../shared/data/mnist`` next
to the repository.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from anywhere without installing nnthe

from nnthe.data.idx import read_idx, write_idx  # noqa: E402
from nnthe.data.mnist import MNIST_FILES  # noqa: E402

DEFAULT_OUT = REPO / "nnthe" / "datasets" / "mnist_subset"


def default_src() -> Path:
    """The directory of the original MNIST files: ``$NNTHE_DATA/mnist`` or the shared copy."""
    env = os.environ.get("NNTHE_DATA")
    return Path(env) / "mnist" if env else REPO.parent / "shared" / "data" / "mnist"


def read_original(src: Path, key: str) -> np.ndarray:
    """Read one original MNIST file (gzipped or raw) and verify its md5."""
    base, md5 = MNIST_FILES[key]
    path = next((p for p in (src / f"{base}.gz", src / base) if p.is_file()), None)
    if path is None:
        raise SystemExit(f"error: {base}(.gz) not found in {src}")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        import gzip
        raw = gzip.decompress(raw)
    actual = hashlib.md5(raw).hexdigest()
    if actual != md5:
        raise SystemExit(f"error: {path}: md5 {actual}, expected {md5}: not the original file")
    return read_idx(io.BytesIO(raw))


def stratified_indices(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Indices of ``per_class`` samples of every class, evenly spaced within each class."""
    picks = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) < per_class:
            raise SystemExit(f"error: class {c} has only {len(members)} samples, "
                             f"{per_class} requested")
        # Rounded linspace positions are distinct because per_class <= len(members).
        positions = np.round(np.linspace(0, len(members) - 1, per_class)).astype(np.intp)
        picks.append(members[positions])
    return np.sort(np.concatenate(picks))


def make_subset(src: Path, out: Path, n_train: int = 10_000, n_test: int = 2_000) -> dict:
    """Write the subset into ``out`` and return the content of its ``checksums.json``."""
    out.mkdir(parents=True, exist_ok=True)
    meta: dict = {
        "description": "Stratified subset of MNIST bundled with nnthe; made by "
                       "scripts/make_mnist_subset.py from the original files. Licence of "
                       "MNIST: CC BY-SA 3.0 (LeCun, Cortes, Burges).",
        "selection": "per class, n/10 images at evenly spaced positions among that class's "
                     "occurrences in the original file "
                     "(round(linspace(0, count-1, n/10))), kept in original order",
        "source_md5_uncompressed": {base + ".gz": md5 for base, md5 in MNIST_FILES.values()},
        "files": {},
    }
    for split, n in (("train", n_train), ("test", n_test)):
        if n % 10:
            raise SystemExit(f"error: --n-{split} must be a multiple of 10, got {n}")
        images = read_original(src, f"{split}_images")
        labels = read_original(src, f"{split}_labels")
        idx = stratified_indices(labels, n // 10)
        for key, arr in ((f"{split}_images", images[idx]), (f"{split}_labels", labels[idx])):
            name = MNIST_FILES[key][0] + ".gz"
            write_idx(out / name, arr, compress=True)
            buf = io.BytesIO()
            write_idx(buf, arr, compress=False)
            meta["files"][name] = {
                "md5_uncompressed": hashlib.md5(buf.getvalue()).hexdigest(),
                "shape": list(arr.shape),
                "bytes": (out / name).stat().st_size,
            }
        meta[f"{split}_source_indices_md5"] = hashlib.md5(idx.astype("<i8").tobytes()).hexdigest()
    with open(out / "checksums.json", "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write("\n")
    return meta


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", type=Path, default=default_src(),
                        help="directory of the original MNIST files (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="output directory (default: %(default)s)")
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument("--n-test", type=int, default=2_000)
    args = parser.parse_args(argv)
    meta = make_subset(args.src, args.out, args.n_train, args.n_test)
    total = sum(f["bytes"] for f in meta["files"].values())
    for name, f in sorted(meta["files"].items()):
        print(f"{name:32s} {str(tuple(f['shape'])):18s} {f['bytes']:>9,d} bytes  "
              f"md5 {f['md5_uncompressed']}")
    print(f"total {total:,d} bytes in {args.out}")


if __name__ == "__main__":
    main()
