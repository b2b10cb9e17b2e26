"""Tests of nnthe.data: IDX files, MNIST loading/download/subset, batches and splits.

Nothing here touches the network: an autouse fixture replaces the URL opener with one
that fails the test, and the download tests serve the local MNIST files instead.
MNIST itself is read from ``../shared/data/mnist`` (or ``$NNTHE_DATA``); the tests that
need it are skipped when it is absent.
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import importlib.util
import io
import json
import os
import shutil
import sys
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pytest

import nnthe.data as data
from nnthe.data import (ChecksumError, IDXFormatError, MNISTSubsetWarning, batches,
                        find_mnist, load_mnist, read_idx, train_val_split, write_idx)
from nnthe.data import mnist as mnist_mod

REPO = Path(__file__).resolve().parents[1]
NAMES = [base for base, _ in data.MNIST_FILES.values()]
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _locate_shared_mnist() -> Path | None:
    env = os.environ.get("NNTHE_DATA")
    candidates = [Path(env) / "mnist", Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "data" / "mnist")
    for d in candidates:
        if all((d / n).is_file() or (d / f"{n}.gz").is_file() for n in NAMES):
            return d
    return None


MNIST_DIR = _locate_shared_mnist()  # resolved before the fixtures clear NNTHE_DATA
needs_mnist = pytest.mark.skipif(MNIST_DIR is None, reason="original MNIST files not found "
                                 "(../shared/data/mnist or $NNTHE_DATA)")


def _mnist_file(name: str) -> Path:
    assert MNIST_DIR is not None
    return next(p for p in (MNIST_DIR / f"{name}.gz", MNIST_DIR / name) if p.is_file())


def _no_network(*args, **kwargs):
    raise AssertionError("a test tried to open a URL")


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """An empty HOME, no NNTHE_* variables, and no network, for every test."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("NNTHE_DATA", "XDG_CACHE_HOME", "NNTHE_NO_DOWNLOAD"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    return home


@pytest.fixture(scope="module")
def full():
    if MNIST_DIR is None:
        pytest.skip("original MNIST files not found")
    return load_mnist(MNIST_DIR, download=False)


def _link_mnist(directory: Path, skip: str | None = None) -> Path:
    """Populate ``directory`` with symlinks to the original files (cheap, no copy)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in NAMES:
        if name != skip:
            src = _mnist_file(name)
            (directory / src.name).symlink_to(src)
    return directory


def _write_corrupt(directory: Path, name: str) -> Path:
    """Write a raw (uncompressed) copy of ``name`` with one byte changed."""
    raw = bytearray(gzip.decompress(_mnist_file(name).read_bytes()))
    raw[-1] ^= 0xFF
    path = directory / name
    path.write_bytes(bytes(raw))
    return path


# ------------------------------------------------------------------------------ IDX format

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]
SHAPES = [(0,), (7,), (3, 4), (2, 3, 5), (2, 1, 2, 3)]


def _sample(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        a = rng.standard_normal(shape).astype(dt) * 1e3
        if a.size >= 3:
            a.flat[:3] = [np.inf, -np.inf, np.finfo(dt).tiny]
        return a
    info = np.iinfo(dt)
    a = rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dt)
    if a.size >= 2:
        a.flat[:2] = [info.min, info.max]
    return a


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_idx_round_trip(tmp_path, dtype, shape, compress):
    a = _sample(dtype, shape)
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    write_idx(path, a)  # compression inferred from the suffix
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress
    b = read_idx(path)
    assert b.dtype == a.dtype and b.dtype.isnative and b.shape == a.shape
    assert b.flags.writeable and b.flags.c_contiguous
    np.testing.assert_array_equal(b, a)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
def test_idx_round_trip_file_objects(compress):
    a = _sample(np.int32, (4, 5))
    buf = io.BytesIO()
    write_idx(buf, a, compress=compress)
    np.testing.assert_array_equal(read_idx(io.BytesIO(buf.getvalue())), a)

    class Unseekable(io.RawIOBase):  # e.g. a pipe or socket: cannot peek and rewind
        def __init__(self, payload):
            self._src = io.BytesIO(payload)

        def readable(self):
            return True

        def readinto(self, b):
            return self._src.readinto(b)

    np.testing.assert_array_equal(read_idx(Unseekable(buf.getvalue())), a)


def test_idx_header_bytes_and_byte_order(tmp_path):
    a = np.array([[1, 2, 3], [-4, 5, 256]], dtype="<i2")
    buf = io.BytesIO()
    write_idx(buf, a)
    assert buf.getvalue() == (b"\x00\x00\x0b\x02" + b"\x00\x00\x00\x02\x00\x00\x00\x03"
                              + a.astype(">i2").tobytes())
    # Arrays in either byte order are written the same way.
    buf2 = io.BytesIO()
    write_idx(buf2, a.astype(">i2"))
    assert buf2.getvalue() == buf.getvalue()


def test_idx_gzip_detected_by_magic_not_name(tmp_path):
    a = _sample(np.float64, (3, 2))
    write_idx(tmp_path / "gz_without_suffix", a, compress=True)
    write_idx(tmp_path / "raw_with_suffix.gz", a, compress=False)
    assert (tmp_path / "gz_without_suffix").read_bytes()[:2] == b"\x1f\x8b"
    np.testing.assert_array_equal(read_idx(tmp_path / "gz_without_suffix"), a)
    np.testing.assert_array_equal(read_idx(str(tmp_path / "raw_with_suffix.gz")), a)


def test_write_idx_is_reproducible_and_leaves_no_temp_files(tmp_path):
    tmp_path = tmp_path / "out"  # not the fixture's HOME
    tmp_path.mkdir()
    a = _sample(np.uint8, (50, 28, 28))
    write_idx(tmp_path / "a.gz", a)
    write_idx(tmp_path / "b.gz", a)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()
    write_idx(tmp_path / "a.gz", a[:3])  # overwrite in place
    assert read_idx(tmp_path / "a.gz").shape == (3, 28, 28)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gz", "b.gz"]


@needs_mnist
def test_read_idx_original_mnist_labels():
    labels = read_idx(_mnist_file("train-labels-idx1-ubyte"))
    assert labels.shape == (60000,) and labels.dtype == np.uint8
    assert labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    np.testing.assert_array_equal(np.bincount(labels), TRAIN_COUNTS)


@pytest.mark.parametrize("bad", [np.array([1, 2], np.int64), np.array([True]),
                                 np.array([1j]), np.array(["a"]), [1, 2]],
                         ids=["int64", "bool", "complex", "str", "list-of-int"])
def test_write_idx_rejects_unsupported_dtypes(tmp_path, bad):
    tmp_path = tmp_path / "out"  # not the fixture's HOME
    tmp_path.mkdir()
    with pytest.raises(TypeError, match="no IDX type code.*uint8, int8, int16"):
        write_idx(tmp_path / "x", bad)
    assert not any(tmp_path.iterdir())


def test_write_idx_argument_errors(tmp_path):
    a = np.zeros(3, np.uint8)
    with pytest.raises(TypeError, match="compress must be a bool or None, got str"):
        write_idx(tmp_path / "x", a, compress="yes")
    with pytest.raises(TypeError, match="expected a path .* got int"):
        write_idx(123, a)
    with pytest.raises(FileNotFoundError):
        write_idx(tmp_path / "missing" / "x", a)


def _idx_bytes(a, compress=False):
    buf = io.BytesIO()
    write_idx(buf, a, compress=compress)
    return buf.getvalue()


@pytest.mark.parametrize("content, message", [
    (b"", "truncated IDX file: expected 4 bytes of magic number, got 0"),
    (b"PK\x03\x04rest", "not an IDX file: magic bytes 50 4b 03 04"),
    (b"\x00\x00\x0a\x01\x00\x00\x00\x01\x00", "not an IDX file.*type one of 0x8"),
    (b"\x00\x00\x08\x03\x00\x00\x00\x02", "expected 12 bytes of dimensions, got 4"),
    (b"\x00\x00\x08\x50", "declares 80 dimensions"),
    (_idx_bytes(np.arange(12, dtype=np.int32))[:-5],
     r"truncated IDX file: the header declares shape \(12,\) of int32 \(48 data bytes\) "
     r"but only 43 bytes follow"),
    (_idx_bytes(np.arange(12, dtype=np.int32)) + b"\x00", "unexpected bytes after the data"),
    (_idx_bytes(np.arange(1000, dtype=np.int32), compress=True)[:-40],
     "corrupt or truncated gzip data"),
    (_idx_bytes(np.arange(1000, dtype=np.int32), compress=True)[:-8] + b"\0" * 8,
     "corrupt or truncated gzip data"),
    (b"\x00\x00\x0e\x02\xff\xff\xff\xff\xff\xff\xff\xff", "truncated IDX file"),
], ids=["empty", "bad-magic", "bad-type", "short-dims", "ndim", "truncated-data",
        "trailing", "truncated-gz", "bad-crc", "huge-header"])
def test_read_idx_errors_name_the_file(tmp_path, content, message):
    path = tmp_path / "broken-idx1-ubyte"
    path.write_bytes(content)
    with pytest.raises(IDXFormatError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_read_idx_type_errors(tmp_path):
    with pytest.raises(TypeError, match="expected a path .* got int"):
        read_idx(42)
    path = tmp_path / "x.idx"
    write_idx(path, np.zeros(2, np.uint8))
    with open(path, encoding="latin-1") as f, pytest.raises(TypeError, match="binary mode"):
        read_idx(f)


# ----------------------------------------------------------------------------------- MNIST

@needs_mnist
def test_load_mnist_full(full):
    (X, y), (Xt, yt) = full
    assert X.shape == (60000, 1, 28, 28) and Xt.shape == (10000, 1, 28, 28)
    assert X.dtype == Xt.dtype == np.float32 and y.dtype == yt.dtype == np.int32
    assert X.flags.c_contiguous and X.flags.writeable
    assert X.min() == 0.0 and X.max() == 1.0 and Xt.min() == 0.0 and Xt.max() == 1.0
    np.testing.assert_array_equal(np.bincount(y), TRAIN_COUNTS)
    np.testing.assert_array_equal(np.bincount(yt), TEST_COUNTS)
    # Exactly the original bytes / 255.
    raw = read_idx(_mnist_file("t10k-images-idx3-ubyte"))
    np.testing.assert_array_equal(Xt[:, 0], raw.astype(np.float32) / np.float32(255))


@needs_mnist
@pytest.mark.parametrize("compressed", [False, True], ids=["raw", "gz"])
def test_load_mnist_checksum_error_names_the_file(tmp_path, compressed):
    d = _link_mnist(tmp_path / "m", skip="train-labels-idx1-ubyte")
    bad = _write_corrupt(d, "train-labels-idx1-ubyte")
    if compressed:
        bad = bad.with_suffix(".gz")
        bad.write_bytes(gzip.compress(bad.with_suffix("").read_bytes()))
        bad.with_suffix("").unlink()
    with pytest.raises(ChecksumError) as info:
        load_mnist(d, download=False)
    msg = str(info.value)
    assert str(bad) in msg and "a25bea736e30d166cdddb491f175f624" in msg
    assert info.value.path == bad and isinstance(info.value, ValueError)


@needs_mnist
def test_load_mnist_truncated_file(tmp_path):
    d = _link_mnist(tmp_path / "m", skip="train-labels-idx1-ubyte")
    (d / "train-labels-idx1-ubyte.gz").write_bytes(
        _mnist_file("train-labels-idx1-ubyte").read_bytes()[:-100])
    with pytest.raises(IDXFormatError, match="train-labels-idx1-ubyte.gz"):
        load_mnist(d, download=False)


def test_find_mnist_lookup_order(tmp_path, isolated, monkeypatch):
    def fill(d, gz=True):
        d.mkdir(parents=True, exist_ok=True)
        for i, n in enumerate(NAMES):  # a mix of raw and gzipped names
            (d / (f"{n}.gz" if gz and i % 2 else n)).write_bytes(b"")
        return d

    given, root = fill(tmp_path / "given"), tmp_path / "data"
    sub, direct = fill(root / "mnist"), fill(root)
    cache = fill(isolated / ".cache" / "nnthe" / "mnist", gz=False)
    monkeypatch.setenv("NNTHE_DATA", str(root))
    assert find_mnist(given) == given
    assert find_mnist(str(tmp_path / "nowhere")) == sub
    shutil.rmtree(sub)
    assert find_mnist() == direct
    (direct / NAMES[0]).unlink()  # an incomplete directory does not count
    assert find_mnist() == cache
    monkeypatch.delenv("NNTHE_DATA")
    assert find_mnist() == cache == data.mnist_cache_dir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert find_mnist() is None
    assert find_mnist(cache) == cache
    with pytest.raises(TypeError, match="find_mnist: path must be a str"):
        find_mnist(3)


@needs_mnist
def test_load_mnist_lookup_order(tmp_path, isolated, monkeypatch, full):
    # A corrupted copy in a later place proves that an earlier place was used; a
    # corrupted copy in an earlier place raises rather than being skipped.
    root = tmp_path / "data"
    bad = _link_mnist(root / "mnist", skip="train-labels-idx1-ubyte")
    _write_corrupt(bad, "train-labels-idx1-ubyte")
    _link_mnist(isolated / ".cache" / "nnthe" / "mnist")
    monkeypatch.setenv("NNTHE_DATA", str(root))
    (X, y), _ = load_mnist(_link_mnist(tmp_path / "given"))
    np.testing.assert_array_equal(y, full[0][1])
    with pytest.raises(ChecksumError, match=str(bad / "train-labels-idx1-ubyte")):
        load_mnist()
    monkeypatch.delenv("NNTHE_DATA")
    _, (Xt, yt) = load_mnist()  # from the cache
    np.testing.assert_array_equal(Xt, full[1][0])


def _subset_meta():
    return json.loads((data.MNIST_SUBSET_DIR / "checksums.json").read_text())


def _check_subset(result):
    (X, y), (Xt, yt) = result
    assert X.shape == (10000, 1, 28, 28) and Xt.shape == (2000, 1, 28, 28)
    assert X.dtype == Xt.dtype == np.float32 and y.dtype == yt.dtype == np.int32
    assert 0 <= X.min() and X.max() <= 1 and X.max() > 0.99
    np.testing.assert_array_equal(np.bincount(y), [1000] * 10)
    np.testing.assert_array_equal(np.bincount(yt), [200] * 10)


@pytest.mark.parametrize("how", ["argument", "env"])
def test_subset_fallback_when_download_disabled(how, monkeypatch, isolated):
    kwargs = {"download": False} if how == "argument" else {}
    if how == "env":
        monkeypatch.setenv("NNTHE_NO_DOWNLOAD", "1")
    with pytest.warns(MNISTSubsetWarning) as record:
        result = load_mnist(**kwargs)  # the autouse fixture fails on any URL access
    msg = str(record[0].message)
    assert "SUBSET" in msg and "10,000 training and 2,000 test" in msg
    assert ("download=False" if how == "argument" else "NNTHE_NO_DOWNLOAD='1'") in msg
    assert "NNTHE_DATA" in msg and str(data.mnist_cache_dir()) in msg  # how to get the full set
    _check_subset(result)


def test_no_subset_fallback_when_refused():
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.gz"):
        load_mnist(download=False, allow_subset=False)


def test_subset_files_and_checksums():
    meta = _subset_meta()
    names = {f"{n}.gz" for n in NAMES}
    assert set(meta["files"]) == names
    assert {p.name for p in data.MNIST_SUBSET_DIR.iterdir()} == names | {"checksums.json"}
    total = sum(p.stat().st_size for p in data.MNIST_SUBSET_DIR.iterdir())
    assert total < 3_000_000
    for name, info in meta["files"].items():
        raw = gzip.decompress((data.MNIST_SUBSET_DIR / name).read_bytes())
        assert hashlib.md5(raw).hexdigest() == info["md5_uncompressed"], name
        assert read_idx(io.BytesIO(raw)).shape == tuple(info["shape"])


def test_subset_corruption_is_detected(tmp_path, monkeypatch):
    copy = tmp_path / "subset"
    shutil.copytree(data.MNIST_SUBSET_DIR, copy)
    raw = bytearray(gzip.decompress((copy / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    raw[100] = (raw[100] + 1) % 10
    (copy / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(raw)))
    monkeypatch.setattr(mnist_mod, "MNIST_SUBSET_DIR", copy)
    with pytest.raises(ChecksumError, match="t10k-labels-idx1-ubyte.gz"):
        load_mnist(download=False)


def _load_script():
    spec = importlib.util.spec_from_file_location("make_mnist_subset",
                                                  REPO / "scripts" / "make_mnist_subset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_mnist
def test_subset_is_reproducible_from_the_originals():
    script, meta = _load_script(), _subset_meta()
    for split, n in (("train", 10_000), ("test", 2_000)):
        labels = script.read_original(MNIST_DIR, f"{split}_labels")
        images = script.read_original(MNIST_DIR, f"{split}_images")
        idx = script.stratified_indices(labels, n // 10)
        assert hashlib.md5(idx.astype("<i8").tobytes()).hexdigest() == \
            meta[f"{split}_source_indices_md5"]
        for key, arr in ((f"{split}_images", images[idx]), (f"{split}_labels", labels[idx])):
            name = data.MNIST_FILES[key][0] + ".gz"
            md5 = hashlib.md5(_idx_bytes(arr)).hexdigest()
            assert md5 == meta["files"][name]["md5_uncompressed"], name


class FakeResponse(io.BytesIO):
    def __init__(self, payload: bytes):
        super().__init__(payload)
        self.headers = {"Content-Length": str(len(payload))}


def _serving(plan, calls):
    """An opener that answers each URL per ``plan(mirror_index, filename)``."""
    def opener(request, timeout=None):
        url = request.full_url
        calls.append(url)
        assert timeout is not None and timeout <= 30  # a short timeout is always set
        mirror = next(i for i, m in enumerate(data.MNIST_MIRRORS) if url.startswith(m))
        filename = url[len(data.MNIST_MIRRORS[mirror]):]
        action = plan(mirror, filename)
        if action == "serve":
            return FakeResponse(_mnist_file(filename.removesuffix(".gz")).read_bytes())
        if action == "garbage":
            return FakeResponse(gzip.compress(b"<html>not MNIST</html>"))
        if action == "timeout":
            raise TimeoutError("timed out")
        raise urllib.error.URLError("network is unreachable")
    return opener


@needs_mnist
def test_download_into_cache(monkeypatch, isolated, full):
    calls = []
    # The first mirror fails for some files and serves damaged data for others.
    monkeypatch.setattr(urllib.request, "urlopen", _serving(
        lambda mirror, name: "serve" if mirror else ("fail" if "labels" in name else "garbage"),
        calls))
    with warnings.catch_warnings():
        warnings.simplefilter("error", MNISTSubsetWarning)
        (X, y), (Xt, yt) = load_mnist()
    assert len(calls) == 8
    assert all(c.startswith(data.MNIST_MIRRORS[i % 2]) for i, c in enumerate(calls))
    cache = data.mnist_cache_dir()
    assert cache == isolated / ".cache" / "nnthe" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{n}.gz" for n in NAMES)
    for got, want in zip((X, y, Xt, yt), (*full[0], *full[1])):
        np.testing.assert_array_equal(got, want)
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    assert load_mnist()[1][1].shape == (10000,)  # now from the cache, no download


@pytest.mark.parametrize("failure", ["fail", "timeout", "garbage"])
def test_download_failure_falls_back_to_subset(monkeypatch, failure):
    calls = []
    monkeypatch.setattr(urllib.request, "urlopen", _serving(lambda m, n: failure, calls))
    with pytest.warns(MNISTSubsetWarning, match="downloading failed") as record:
        result = load_mnist()
    msg = str(record[0].message)
    expected = {"fail": "network is unreachable", "timeout": "timed out", "garbage": "md5"}
    assert expected[failure] in msg
    assert data.MNIST_MIRRORS[0] + "train-images-idx3-ubyte.gz" in msg
    assert len(calls) == len(data.MNIST_MIRRORS)  # gave up after the first file
    assert list(data.mnist_cache_dir().iterdir()) == []  # nothing partial left behind
    _check_subset(result)


def test_load_mnist_argument_errors():
    with pytest.raises(TypeError, match="path must be a str, os.PathLike or None, got int"):
        load_mnist(5)
    with pytest.raises(TypeError, match="download must be a bool, got str"):
        load_mnist(download="no")
    with pytest.raises(TypeError, match="allow_subset must be a bool, got int"):
        load_mnist(allow_subset=0)


def test_module_imports_only_numpy_tqdm_and_stdlib():
    allowed = set(sys.stdlib_module_names) | {"numpy", "tqdm", "__future__"}
    for path in (REPO / "nnthe" / "data").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = [node.module.split(".")[0]]
            else:
                continue
            assert set(roots) <= allowed, f"{path.name} imports {roots}"


# -------------------------------------------------------------------------------- batches

def _xy(n=103):
    X = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    return X, np.arange(n)


def test_batches_cover_all_samples_once():
    X, y = _xy()
    seen, sizes = [], []
    for Xb, yb in batches(X, y, batch_size=10, rng=0):
        np.testing.assert_array_equal(Xb, X[yb])  # X and y stay aligned
        seen.append(yb)
        sizes.append(len(yb))
    assert sizes == [10] * 10 + [3]
    order = np.concatenate(seen)
    assert sorted(order) == list(range(103)) and not np.array_equal(order, np.arange(103))


def test_batches_drop_last():
    X, y = _xy()
    assert [len(yb) for _, yb in batches(X, y, batch_size=10, drop_last=True, rng=1)] == [10] * 10
    assert list(batches(X, y, batch_size=200, drop_last=True)) == []
    assert [len(yb) for _, yb in batches(X, y, batch_size=200)] == [103]
    assert [len(yb) for _, yb in batches(X[:100], y[:100], 10, drop_last=True)] == [10] * 10


def test_batches_are_deterministic_with_a_seed():
    X, y = _xy()
    order = lambda rng: np.concatenate([yb for _, yb in batches(X, y, 16, rng=rng)])  # noqa: E731
    np.testing.assert_array_equal(order(7), order(7))
    np.testing.assert_array_equal(order(np.int64(7)), order(7))
    assert not np.array_equal(order(7), order(8))
    gen_a, gen_b = np.random.default_rng(3), np.random.default_rng(3)
    epoch1, epoch2 = order(gen_a), order(gen_a)  # a Generator advances between epochs
    assert not np.array_equal(epoch1, epoch2)
    np.testing.assert_array_equal(epoch1, order(gen_b))
    np.testing.assert_array_equal(epoch2, order(gen_b))


def test_batches_without_shuffle_and_without_y():
    X, y = _xy(25)
    out = list(batches(X, batch_size=10, shuffle=False))
    assert [yb for _, yb in out] == [None, None, None]
    np.testing.assert_array_equal(np.concatenate([Xb for Xb, _ in out]), X)
    assert all(np.shares_memory(Xb, X) for Xb, _ in out)  # views, not copies
    Xl = [[i, i] for i in range(5)]  # plain lists are accepted
    assert [Xb.tolist() for Xb, _ in batches(Xl, batch_size=4, shuffle=False)] == \
        [Xl[:4], Xl[4:]]
    assert list(batches(np.zeros((0, 3)), batch_size=4)) == []


@pytest.mark.parametrize("kwargs, exc, message", [
    ({"batch_size": 0}, ValueError, "batch_size must be >= 1, got 0"),
    ({"batch_size": 2.5}, TypeError, "batch_size must be an int, got float"),
    ({"batch_size": True}, TypeError, "batch_size must be an int, got bool"),
    ({"y": np.arange(5)}, ValueError, "same number of samples .* got 10 and 5"),
    ({"rng": "seed"}, TypeError,
     "rng must be None, an int seed or a numpy.random.Generator, got str"),
    ({"rng": -1}, ValueError, "seed must be >= 0, got -1"),
    ({"rng": np.random.RandomState(0)}, TypeError, "got RandomState"),
    ({"shuffle": "yes"}, TypeError, "shuffle must be a bool, got str"),
    ({"drop_last": None}, TypeError, "drop_last must be a bool, got NoneType"),
    ({"X": np.float32(3)}, TypeError, "X must have at least 1 dimension"),
    ({"X": None}, TypeError, "X must be an array"),
])
def test_batches_errors_are_raised_at_call_time(kwargs, exc, message):
    args = {"X": np.zeros((10, 2)), **kwargs}
    with pytest.raises(exc, match=message):
        batches(**args)  # no next(): checked before iterating


# ------------------------------------------------------------------------ train_val_split

def test_split_sizes_and_coverage():
    X, y = _xy(1000)
    (Xt, yt), (Xv, yv) = train_val_split(X, y, rng=0)
    assert len(yv) == 100 and len(yt) == 900
    assert sorted(np.concatenate([yt, yv])) == list(range(1000))
    np.testing.assert_array_equal(Xv, X[yv])
    assert len(train_val_split(X, y, val_size=37)[1][1]) == 37
    assert len(train_val_split(X, y, val_fraction=0.25)[1][1]) == 250
    assert len(train_val_split(X[:5], y[:5], val_fraction=0.01)[1][1]) == 1  # at least one


def test_split_deterministic_and_unshuffled():
    X, y = _xy(50)
    a, b = train_val_split(X, y, rng=4), train_val_split(X, y, rng=4)
    np.testing.assert_array_equal(a[1][1], b[1][1])
    assert not np.array_equal(a[1][1], train_val_split(X, y, rng=5)[1][1])
    (Xt, yt), (Xv, yv) = train_val_split(X, y, val_size=5, shuffle=False)
    assert yv.tolist() == list(range(45, 50)) and yt.tolist() == list(range(45))


def test_split_stratified():
    y = np.repeat(np.array([2, 0, 1]), [50, 30, 20])
    X = np.arange(100)
    (Xt, yt), (Xv, yv) = train_val_split(X, y, val_fraction=0.2, stratify=True, rng=0)
    assert np.bincount(yv).tolist() == [6, 4, 10] and np.bincount(yt).tolist() == [24, 16, 40]
    np.testing.assert_array_equal(y[Xv], yv)
    assert sorted(np.concatenate([Xt, Xv])) == list(range(100))
    # Largest remainder: quotas 1.5, 0.9, 0.6 for val_size=3 give one of each class.
    y2 = np.array([0] * 5 + [1] * 3 + [2] * 2)
    (_, _), (Xv2, yv2) = train_val_split(np.arange(10), y2, val_size=3, stratify=True,
                                         shuffle=False)
    assert yv2.tolist() == [0, 1, 2] and Xv2.tolist() == [4, 7, 9]  # the tail of each class


@pytest.mark.parametrize("kwargs, exc, message", [
    ({"val_fraction": 0.1, "val_size": 3}, ValueError, "not both"),
    ({"val_fraction": 0.0}, ValueError, r"val_fraction must be in \(0, 1\), got 0.0"),
    ({"val_fraction": 1}, ValueError, r"val_fraction must be in \(0, 1\), got 1"),
    ({"val_fraction": "10%"}, TypeError, "val_fraction must be a float, got str"),
    ({"val_size": 10}, ValueError, "leaves no training samples out of 10"),
    ({"val_size": 0}, ValueError, "val_size must be >= 1, got 0"),
    ({"val_size": 2.0}, TypeError, "val_size must be an int, got float"),
    ({"y": None}, TypeError, "y must be an array, got None"),
    ({"y": np.arange(4)}, ValueError, "got 10 and 4"),
    ({"y": np.zeros((10, 2)), "stratify": True}, TypeError,
     r"1-D class labels y, got shape \(10, 2\)"),
    ({"stratify": 1}, TypeError, "stratify must be a bool, got int"),
    ({"rng": 1.5}, TypeError, "rng must be None, an int seed"),
])
def test_split_errors(kwargs, exc, message):
    args = {"X": np.zeros((10, 2)), "y": np.arange(10), **kwargs}
    with pytest.raises(exc, match=message):
        train_val_split(**args)
