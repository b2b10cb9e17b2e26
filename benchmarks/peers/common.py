"""Shared pieces of the peer benchmarks: threads, MNIST, timing, memory, initial weights.

Importing this module pins every library to the same number of threads (2 by default,
``NNTHE_BENCH_THREADS`` overrides it). It must therefore be imported *before* numpy,
torch, jax or pytensor; every peer module imports it first.

Nothing here is a dependency of nnthe: the benchmark venv is separate (see
``benchmarks/README.md``).
"""

from __future__ import annotations

import os

THREADS = int(os.environ.get("NNTHE_BENCH_THREADS", "2"))

# Set before numpy/torch/jax are imported: BLAS and OpenMP read these once at load time.
# OPENBLAS_CORETYPE (set on some machines here) is deliberately left alone.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = str(THREADS)
# The first flag keeps XLA's Eigen thread pool on; the second token is the classic
# TensorFlow-style spelling that XLA accepts (ignores) without error. XLA's CPU pool
# is sized by the core count, which is 2 on the benchmark machine.
os.environ["XLA_FLAGS"] = (
    f"--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={THREADS}"
)
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import gzip  # noqa: E402
import hashlib  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402

__all__ = [
    "THREADS", "BATCH", "TEST_BATCH", "PeerUnavailable", "load_mnist", "find_mnist",
    "median_seconds", "call_latency_us", "peak_rss_mb", "threadpool_info",
    "init_mlp_params", "init_cnn_params", "epoch_order", "n_batches", "Timer",
]

BATCH = 128          # training batch size of every workload
TEST_BATCH = 500     # batch size of inference / test accuracy
LEARNING_RATE = 1e-3
ADAM_B1, ADAM_B2, ADAM_EPS = 0.9, 0.999, 1e-8

REPO_ROOT = Path(__file__).resolve().parents[2]

_MNIST_FILES = {
    "train_images": ("train-images-idx3-ubyte.gz", "6bbc9ace898e44ae57da46a324031adb"),
    "train_labels": ("train-labels-idx1-ubyte.gz", "a25bea736e30d166cdddb491f175f624"),
    "test_images": ("t10k-images-idx3-ubyte.gz", "2646ac647ad5339dbf082846283269ea"),
    "test_labels": ("t10k-labels-idx1-ubyte.gz", "27ae3e4e09519cfbb04c329615203637"),
}


class PeerUnavailable(ImportError):
    """A peer framework is not installed (or not usable) in this interpreter."""


# --------------------------------------------------------------------------- MNIST

def find_mnist(data: str | os.PathLike | None = None) -> Path:
    """Return the folder holding the four MNIST ``*.gz`` IDX files.

    Looks at ``data`` (if given), ``$NNTHE_MNIST``, ``<repo>/../shared/data/mnist`` and
    ``/work/shared/data/mnist``, in that order.
    """
    candidates = []
    if data:
        candidates.append(Path(data))
    if os.environ.get("NNTHE_MNIST"):
        candidates.append(Path(os.environ["NNTHE_MNIST"]))
    candidates += [REPO_ROOT.parent / "shared" / "data" / "mnist",
                   Path("/work/shared/data/mnist")]
    for c in candidates:
        if all((c / name).is_file() for name, _ in _MNIST_FILES.values()):
            return c
    raise FileNotFoundError(
        "MNIST IDX files not found; looked in: " + ", ".join(str(c) for c in candidates)
        + ". Pass --data DIR (a folder with train-images-idx3-ubyte.gz etc.).")


def _read_idx(path: Path, md5: str | None) -> np.ndarray:
    raw = gzip.open(path, "rb").read()
    if md5 is not None and hashlib.md5(raw).hexdigest() != md5:
        raise ValueError(f"{path}: md5 of the uncompressed bytes is not {md5}")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    shape = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_mnist(data: str | os.PathLike | None = None, verify: bool = True) -> dict:
    """Load MNIST as float32 in [0, 1].

    Returns a dict with ``X_train`` (60000, 784) float32, ``y_train`` (60000,) int64,
    ``X_test`` (10000, 784) float32, ``y_test`` (10000,) int64 and ``path``. CNN code
    reshapes ``X`` to (N, 1, 28, 28) (a view).
    """
    folder = find_mnist(data)
    arr = {k: _read_idx(folder / name, md5 if verify else None)
           for k, (name, md5) in _MNIST_FILES.items()}
    return {
        "X_train": (arr["train_images"].reshape(-1, 784).astype(np.float32) / 255.0),
        "y_train": arr["train_labels"].astype(np.int64),
        "X_test": (arr["test_images"].reshape(-1, 784).astype(np.float32) / 255.0),
        "y_test": arr["test_labels"].astype(np.int64),
        "path": str(folder),
    }


def n_batches(n_examples: int = 60000, batch: int = BATCH) -> int:
    """Full batches in an epoch (the last partial batch is dropped)."""
    return n_examples // batch


def epoch_order(data: dict, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The training set in one fixed shuffled order, the same for every peer.

    The gather is done here, outside any timed region, so an epoch is a walk over
    contiguous slices ``X[i*B:(i+1)*B]``.
    """
    perm = np.random.default_rng(seed).permutation(len(data["y_train"]))
    return (np.ascontiguousarray(data["X_train"][perm]),
            np.ascontiguousarray(data["y_train"][perm]))


# --------------------------------------------------------------------------- params

def _he(rng, shape, fan_in):
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)


def init_mlp_params(seed: int = 0) -> dict:
    """784-800-800-10 MLP; dense weights are (in, out). Same values for every peer."""
    rng = np.random.default_rng(seed)
    sizes = [784, 800, 800, 10]
    p = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        p[f"W{i}"] = _he(rng, (a, b), a)
        p[f"b{i}"] = np.zeros(b, np.float32)
    return p


def init_cnn_params(seed: int = 0) -> dict:
    """CNN weights: conv (out, in, kh, kw) cross-correlation, dense (in, out)."""
    rng = np.random.default_rng(seed)
    return {
        "c1W": _he(rng, (32, 1, 5, 5), 25), "c1b": np.zeros(32, np.float32),
        "c2W": _he(rng, (32, 32, 5, 5), 800), "c2b": np.zeros(32, np.float32),
        "d1W": _he(rng, (512, 256), 512), "d1b": np.zeros(256, np.float32),
        "d2W": _he(rng, (256, 10), 256), "d2b": np.zeros(10, np.float32),
    }


CNN_PARAM_ORDER = ["c1W", "c1b", "c2W", "c2b", "d1W", "d1b", "d2W", "d2b"]
MLP_PARAM_ORDER = ["W1", "b1", "W2", "b2", "W3", "b3"]


# --------------------------------------------------------------------------- timing

class Timer:
    """``with Timer() as t: ...`` then ``t.seconds`` (time.perf_counter)."""

    def __enter__(self):
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._t0
        return False


def median_seconds(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs, after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def call_latency_us(fn: Callable[[], object], n_calls: int = 20000,
                    n_groups: int = 20, warmup: int = 200) -> float:
    """Median over ``n_groups`` groups of the mean latency of one call, in µs.

    ``n_calls`` calls in all are split into ``n_groups`` groups; each group is timed
    as a whole (so the timer's own cost is amortised) and the median group mean is
    returned, which shrugs off a noisy neighbour stealing a core for a moment.
    """
    for _ in range(warmup):
        fn()
    per = max(1, n_calls // n_groups)
    means = []
    for _ in range(n_groups):
        t0 = time.perf_counter()
        for _ in range(per):
            fn()
        means.append((time.perf_counter() - t0) / per)
    return statistics.median(means) * 1e6


# --------------------------------------------------------------------------- memory

def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (getrusage ru_maxrss).

    It never decreases, so run one workload per process to attribute it (run_peers.py
    does).
    """
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == "darwin":  # bytes there, KiB on Linux
        kb /= 1024
    return kb / 1024.0


def threadpool_info() -> list:
    """threadpoolctl's view of the loaded BLAS/OpenMP pools (empty if not installed)."""
    try:
        from threadpoolctl import threadpool_info as _info
    except ImportError:
        return []
    keep = ("user_api", "internal_api", "prefix", "version", "num_threads",
            "architecture", "threading_layer")
    return [{k: d.get(k) for k in keep} for d in _info()]


def environment() -> dict:
    """Thread-related environment as the benchmark saw it (recorded, never changed)."""
    keys = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "XLA_FLAGS",
            "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    return {k: os.environ.get(k) for k in keys}


def accuracy(pred_fn: Callable[[np.ndarray], np.ndarray], X: np.ndarray,
             y: np.ndarray, batch: int = TEST_BATCH) -> float:
    """Fraction of ``y`` matched by ``pred_fn`` (returns class ids) over batches."""
    correct = 0
    for i in range(0, len(y), batch):
        correct += int((np.asarray(pred_fn(X[i:i + batch])) == y[i:i + batch]).sum())
    return correct / len(y)


def limit_batches(max_batches: int | None, full: int) -> int:
    """Number of batches to run: ``full`` or a smaller ``max_batches`` (quick mode)."""
    if max_batches is None or max_batches >= full:
        return full
    if max_batches < 1:
        raise ValueError(f"max_batches must be >= 1, got {max_batches}")
    return max_batches


def epoch_result(compile_s: float, step_times: list, full: int,
                 losses: list, acc: float, **extra) -> dict:
    """Assemble the dict returned by ``mlp_epoch`` / ``cnn_epoch``.

    ``step_times`` are the wall times of the timed steps (each ends with its loss on
    the host). ``epoch_s`` is their sum, scaled to a full epoch when only some of the
    ``full`` batches ran; ``epoch_median_s`` is the median step times ``full``, which a
    noisy neighbour disturbs far less (run_peers.py takes its ratios from it).
    ``final_loss`` is the mean loss of the last (up to) 20 batches.
    """
    done = len(step_times)
    run_s = sum(step_times)
    med = statistics.median(step_times)
    tail = [float(v) for v in losses[-20:]]
    out = {
        "compile_s": compile_s,
        "epoch_s": run_s * full / done,
        "epoch_median_s": med * full,
        "measured_s": run_s,
        "batches": done,
        "batches_per_epoch": full,
        "scaled": done != full,
        "step_ms": med * 1e3,
        "final_loss": sum(tail) / len(tail),
        "test_acc": acc,
        "peak_rss_mb": peak_rss_mb(),
    }
    out.update(extra)
    return out


def mlp_epochs(train: Callable, forward: Callable, data: dict, epochs: int = 1,
               max_batches: int | None = None) -> dict:
    """The MLP workload through a peer's ``train(forward, init, data, image_shape,
    max_batches)``: ``epochs`` fresh runs from the common initial weights, reporting the
    last run with its ``epoch_s`` replaced by the median over runs."""
    runs = [train(forward, init_mlp_params(), data, (784,), max_batches)
            for _ in range(max(1, epochs))]
    out = runs[-1]
    out["epoch_s"] = float(statistics.median([r["epoch_s"] for r in runs]))
    return out


def cnn_epochs(train: Callable, forward: Callable, data: dict,
               max_batches: int | None = None) -> dict:
    """The CNN workload through a peer's ``train`` (see :func:`mlp_epochs`)."""
    return train(forward, init_cnn_params(), data, (1, 28, 28), max_batches)


def training_batches(data: dict, image_shape: tuple, max_batches: int | None = None):
    """The shuffled training set shaped ``(-1,) + image_shape``, the batch size, the
    batches in a full epoch and the number to run: ``(X, y, B, full, todo)``."""
    X, y = epoch_order(data)
    X = X.reshape((-1,) + image_shape)
    full = n_batches(len(y), BATCH)
    return X, y, BATCH, full, limit_batches(max_batches, full)

