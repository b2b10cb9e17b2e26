"""MNIST: finding, verifying, downloading and loading it, with a bundled subset as fallback."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import sys
import urllib.request
import warnings
import zlib
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .idx import PathLike, _create_temp, _open_decompressed, _read_idx, _remove_quietly

__all__ = [
    "ChecksumError", "DownloadError", "MNISTSubsetWarning", "MNIST_FILES", "MNIST_MIRRORS",
    "MNIST_SUBSET_DIR", "find_mnist", "load_mnist", "mnist_cache_dir",
]


class ChecksumError(ValueError):
    """A data file's md5 differs from the known one.

    Attributes
    ----------
    path : pathlib.Path
        The offending file.
    expected, actual : str
        The known md5 and the md5 of the uncompressed bytes that were read.
    """

    def __init__(self, path: PathLike, expected: str, actual: str, hint: str = "") -> None:
        self.path, self.expected, self.actual = Path(path), expected, actual
        super().__init__(
            f"{path}: md5 of the uncompressed data is {actual}, expected {expected}; "
            f"the file is damaged or not the original.{hint}")


class DownloadError(OSError):
    """A file could not be downloaded from any mirror."""


class MNISTSubsetWarning(UserWarning):
    """:func:`load_mnist` returned the small bundled subset instead of the full set."""


#: The four MNIST files: key -> (file name without ``.gz``, md5 of the uncompressed bytes).
MNIST_FILES: dict[str, tuple[str, str]] = {
    "train_images": ("train-images-idx3-ubyte", "6bbc9ace898e44ae57da46a324031adb"),
    "train_labels": ("train-labels-idx1-ubyte", "a25bea736e30d166cdddb491f175f624"),
    "test_images": ("t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea"),
    "test_labels": ("t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637"),
}
#: Mirrors tried in order; yann.lecun.com is left out because it often refuses downloads.
MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
#: The subset bundled with nnthe, written by ``scripts/make_mnist_subset.py``.
MNIST_SUBSET_DIR: Path = Path(__file__).resolve().parents[1] / "datasets" / "mnist_subset"

_DOWNLOAD_TIMEOUT = 10.0  # seconds per connect/read: an offline machine must fail fast

def mnist_cache_dir() -> Path:
    """Return the directory MNIST is downloaded to.

    Returns
    -------
    pathlib.Path
        ``$XDG_CACHE_HOME/nnthe/mnist`` when that variable is set, else
        ``~/.cache/nnthe/mnist``. The directory may not exist yet.
    """
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nnthe" / "mnist"


def _search_dirs(path: PathLike | None) -> list[Path]:
    dirs = [Path(path)] if path is not None else []
    env = os.environ.get("NNTHE_DATA")
    if env:
        dirs += [Path(env) / "mnist", Path(env)]
    dirs.append(mnist_cache_dir())
    return list(dict.fromkeys(d.expanduser() for d in dirs))  # drop duplicates, keep order


def _mnist_files_in(directory: Path) -> dict[str, Path] | None:
    found = {}
    for key, (base, _) in MNIST_FILES.items():
        # Prefer the raw file: it reads faster than the gzipped one and holds the same bytes.
        hits = [p for p in (directory / base, directory / f"{base}.gz") if p.is_file()]
        if not hits:
            return None
        found[key] = hits[0]
    return found


def find_mnist(path: PathLike | None = None) -> Path | None:
    """Return the first directory that holds all four MNIST files, or None.

    Parameters
    ----------
    path : str or os.PathLike, optional
        Searched first. Then ``$NNTHE_DATA/mnist``, ``$NNTHE_DATA`` (when set) and
        :func:`mnist_cache_dir`. Each file may be gzipped (``.gz``) or raw. Checksums are not
        verified here (:func:`load_mnist` does).

    Returns
    -------
    pathlib.Path or None
    """
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"find_mnist: path must be a str, os.PathLike or None, "
                        f"got {type(path).__name__}")
    for d in _search_dirs(path):
        if _mnist_files_in(d) is not None:
            return d
    return None


def _download_disabled_by_env() -> bool:
    value = os.environ.get("NNTHE_NO_DOWNLOAD", "").strip().lower()
    return value not in ("", "0", "false", "no", "off")


def _md5_uncompressed(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        stream = _open_decompressed(f, str(path))
        try:
            while chunk := stream.read(1 << 20):
                h.update(chunk)
        finally:
            stream.close()
    return h.hexdigest()


def _fetch(url: str, directory: Path, filename: str) -> Path:
    """Download ``url`` into a temporary file in ``directory`` (so that the final
    ``os.replace`` is atomic) and return its path."""
    out, tmp = _create_temp(directory, filename, ".part")
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "nnthe"})
        # Looked up at call time, so tests can serve local bytes by patching urllib.
        with out, urllib.request.urlopen(request, timeout=_DOWNLOAD_TIMEOUT) as resp:
            size = resp.headers.get("Content-Length") if resp.headers else None
            with tqdm(total=int(size) if size else None, unit="B", unit_scale=True,
                      unit_divisor=1024, desc=filename, file=sys.stderr, leave=False) as bar:
                while chunk := resp.read(1 << 16):
                    out.write(chunk)
                    bar.update(len(chunk))
        return tmp
    except BaseException:
        _remove_quietly(tmp)
        raise


def _download(filename: str, md5: str, directory: Path) -> Path:
    errors = []
    for mirror in MNIST_MIRRORS:
        url = mirror + filename
        try:
            tmp = _fetch(url, directory, filename)
        except (OSError, http.client.HTTPException, ValueError) as exc:  # URLError is OSError
            errors.append(f"{url}: {exc}")
            continue
        try:
            actual = _md5_uncompressed(tmp)
        except (OSError, EOFError, zlib.error) as exc:
            actual = f"unreadable ({exc})"
        if actual != md5:  # never let a bad download into the cache
            _remove_quietly(tmp)
            errors.append(f"{url}: md5 of the uncompressed data is {actual}, expected {md5}")
            continue
        target = directory / filename
        os.replace(tmp, target)
        return target
    raise DownloadError(f"could not download {filename}: " + "; ".join(errors))


def _download_mnist(directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    files = {}
    for key, (base, md5) in MNIST_FILES.items():
        have = [p for p in (directory / base, directory / f"{base}.gz") if p.is_file()]
        # A failure raises at once: when the first file fails on every mirror the
        # machine is most likely offline, and trying the others would only add timeouts.
        files[key] = have[0] if have else _download(f"{base}.gz", md5, directory)
    return files


def _load_files(files: dict[str, Path], md5s: dict[str, str], hint: str = ""
                ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    arrays = {}
    for key, p in files.items():
        arr, actual = _read_idx(p, want_md5=True)
        if actual != md5s[key]:
            raise ChecksumError(p, md5s[key], actual, hint)
        arrays[key] = arr
    out = []
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if (images.dtype != np.uint8 or images.shape[1:] != (28, 28) or labels.ndim != 1
                or labels.shape[0] != images.shape[0]):
            raise ValueError(f"{files[split + '_images']}, {files[split + '_labels']}: "
                             f"expected uint8 images (N, 28, 28) and labels (N,), got "
                             f"{images.dtype} {images.shape} and {labels.dtype} {labels.shape}")
        # One conversion pass, then an in-place division: no float64 temporary.
        X = images.astype(np.float32).reshape(-1, 1, 28, 28)
        X /= np.float32(255)
        out.append((X, labels.astype(np.int32)))
    return out[0], out[1]


def _load_subset() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    meta_path = MNIST_SUBSET_DIR / "checksums.json"
    with open(meta_path, encoding="utf-8") as f:
        meta = json.load(f)["files"]
    files, md5s = {}, {}
    for key, (base, _) in MNIST_FILES.items():
        files[key] = MNIST_SUBSET_DIR / f"{base}.gz"
        md5s[key] = meta[f"{base}.gz"]["md5_uncompressed"]
    return _load_files(files, md5s, " Reinstall nnthe to restore the bundled subset.")


def load_mnist(path: PathLike | None = None, download: bool = True, *,
               allow_subset: bool = True
               ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load MNIST as float32 images in [0, 1] and int32 labels.

    The first directory holding the four files (see :func:`find_mnist`) is used: ``path``,
    ``$NNTHE_DATA/mnist``, ``$NNTHE_DATA``, then the cache (:func:`mnist_cache_dir`). Files
    may be gzipped or raw; the md5 of their uncompressed bytes is always verified. When
    none is found and downloading is allowed, the missing files are downloaded into the
    cache from :data:`MNIST_MIRRORS`. Failing that, a subset of 10,000 training and 2,000
    test images bundled with nnthe is returned with a :class:`MNISTSubsetWarning`.

    Parameters
    ----------
    path : str or os.PathLike, optional
        A directory to look in first.
    download : bool, default True
        Allow downloading. The environment variable ``NNTHE_NO_DOWNLOAD=1`` also forbids it.
    allow_subset : bool, default True
        Fall back to the bundled subset. With False, raise ``FileNotFoundError`` instead.

    Returns
    -------
    (X_train, y_train), (X_test, y_test) : tuple of tuples of numpy.ndarray
        Images of shape (N, 1, 28, 28) and dtype float32 in [0, 1]; labels of shape (N,)
        and dtype int32 in 0..9. N is 60,000 / 10,000 for the full set.

    Raises
    ------
    ChecksumError
        (a ``ValueError``) naming the file whose md5 is wrong.
    IDXFormatError
        If a file found is truncated or not an IDX file.
    FileNotFoundError
        If nothing is found, nothing can be downloaded and ``allow_subset`` is False.

    Examples
    --------
    >>> (X, y), (X_test, y_test) = load_mnist()        # doctest: +SKIP
    >>> X.shape, X.dtype, y.dtype                       # doctest: +SKIP
    ((60000, 1, 28, 28), dtype('float32'), dtype('int32'))
    """
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"load_mnist: path must be a str, os.PathLike or None, "
                        f"got {type(path).__name__}")
    for name, flag in (("download", download), ("allow_subset", allow_subset)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"load_mnist: {name} must be a bool, got {type(flag).__name__}")
    md5s = {key: md5 for key, (_, md5) in MNIST_FILES.items()}
    searched = _search_dirs(path)
    for d in searched:
        files = _mnist_files_in(d)
        if files is not None:
            return _load_files(files, md5s, " Delete it to have it downloaded again, or "
                                            "replace it with the original file.")
    if not download:
        reason = "downloading is disabled (download=False)"
    elif _download_disabled_by_env():
        reason = (f"downloading is disabled "
                  f"(NNTHE_NO_DOWNLOAD={os.environ['NNTHE_NO_DOWNLOAD']!r})")
    else:
        try:
            files = _download_mnist(mnist_cache_dir())
        except OSError as exc:  # DownloadError, or a cache directory we cannot write
            reason = f"downloading failed: {exc}"
        else:
            return _load_files(files, md5s, " Delete it to have it downloaded again.")
    where = ", ".join(str(d) for d in searched)
    names = ", ".join(f"{base}.gz" for base, _ in MNIST_FILES.values())
    if not allow_subset:
        raise FileNotFoundError(f"load_mnist: MNIST not found (searched {where}) and {reason}. "
                                f"Put the files {names} into one of these directories.")
    subset = _load_subset()
    warnings.warn(
        f"load_mnist: MNIST not found (searched {where}) and {reason}. Using the SUBSET of MNIST "
        f"bundled with nnthe ({len(subset[0][1]):,} training and {len(subset[1][1]):,} test "
        f"images instead of 60,000 and 10,000): results will not match the full data set. "
        f"To get the full set, allow downloading (download=True, NNTHE_NO_DOWNLOAD unset) "
        f"on a machine with network access, or put the files {names} into "
        f"{mnist_cache_dir()} or $NNTHE_DATA/mnist, or pass path=.",
        MNISTSubsetWarning, stacklevel=2)
    return subset
