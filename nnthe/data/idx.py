"""Reading and writing IDX files, the array format of MNIST (gzip-compressed or raw)."""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import os
import secrets
import sys
import zlib
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np

__all__ = ["IDXFormatError", "read_idx", "write_idx"]

PathLike = Union[str, "os.PathLike[str]"]


class IDXFormatError(ValueError):
    """An IDX file is malformed: bad magic number, truncated, corrupt gzip data, ..."""


# IDX stores big-endian data; the type byte selects the element type.
_IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}
# Keyed by (kind, itemsize) so that arrays of either byte order map to their code.
_IDX_CODES = {(dt.kind, dt.itemsize): code for code, dt in _IDX_TYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"


def _source_name(source: object) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    name = getattr(source, "name", None)
    return str(name) if isinstance(name, (str, os.PathLike)) else f"<{type(source).__name__}>"


def _open_decompressed(f: BinaryIO, name: str) -> BinaryIO:
    """Return a stream of ``f``'s uncompressed bytes; gzip is recognised by its magic bytes
    rather than the file name, so renamed or suffix-less files still work."""
    if f.seekable():
        pos = f.tell()
        head = f.read(2)
        f.seek(pos)
    else:  # cannot peek and rewind: buffer the whole stream once
        data = f.read()
        head, f = data[:2], io.BytesIO(data)
    if not isinstance(head, bytes):
        raise TypeError(f"read_idx: {name} must be opened in binary mode ('rb'), "
                        f"got a stream returning {type(head).__name__}")
    return gzip.GzipFile(fileobj=f, mode="rb") if head == _GZIP_MAGIC else f


def _read_exact(stream: BinaryIO, n: int, name: str, what: str) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise IDXFormatError(f"{name}: truncated IDX file: expected {n} bytes of {what}, "
                             f"got {len(data)}")
    return data


def _truncated(name: str, shape: tuple, dtype: np.dtype, nbytes: int, got: int) -> IDXFormatError:
    return IDXFormatError(f"{name}: truncated IDX file: the header declares shape {shape} of "
                          f"{dtype.name} ({nbytes} data bytes) but only {got} bytes follow")


def _read_idx_stream(f: BinaryIO, name: str, want_md5: bool) -> tuple[np.ndarray, str | None]:
    stream = _open_decompressed(f, name)
    try:
        magic = _read_exact(stream, 4, name, "magic number")
        if magic[:2] != b"\0\0" or magic[2] not in _IDX_TYPES:
            raise IDXFormatError(
                f"{name}: not an IDX file: magic bytes {magic.hex(' ')}, expected 00 00 <type> "
                f"<ndim> with type one of {', '.join(hex(c) for c in _IDX_TYPES)}")
        dtype, ndim = _IDX_TYPES[magic[2]], magic[3]
        if ndim > 64:  # NumPy's limit; a larger value means a damaged header
            raise IDXFormatError(f"{name}: IDX header declares {ndim} dimensions (at most 64)")
        dims_raw = _read_exact(stream, 4 * ndim, name, "dimensions")
        shape = tuple(int(d) for d in np.frombuffer(dims_raw, ">u4"))
        nbytes = math.prod(shape) * dtype.itemsize  # Python ints: a damaged header cannot overflow
        if stream is f and f.seekable():
            # Check the size before allocating: a damaged header could ask for terabytes.
            pos = f.tell()
            available = f.seek(0, io.SEEK_END) - pos
            f.seek(pos)
            if available < nbytes:
                raise _truncated(name, shape, dtype, nbytes, available)
        try:
            buf = np.empty(nbytes, np.uint8)
        except (MemoryError, ValueError) as exc:
            raise IDXFormatError(f"{name}: IDX header declares shape {shape} of "
                                 f"{dtype.name} ({nbytes} bytes): {exc}") from exc
        # readinto fills a buffer we own: no intermediate bytes object, and the result
        # is writable (np.frombuffer over bytes would be read-only).
        view, got = memoryview(buf), 0
        while got < nbytes:
            k = stream.readinto(view[got:])
            if not k:
                break
            got += k
        if got != nbytes:
            raise _truncated(name, shape, dtype, nbytes, got)
        # Reading past the end also makes GzipFile check the CRC of the last member.
        extra = stream.read(1)
        if extra:
            raise IDXFormatError(f"{name}: unexpected bytes after the data of the IDX "
                                 f"array of shape {shape}")
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise IDXFormatError(f"{name}: corrupt or truncated gzip data ({exc})") from exc
    finally:
        if stream is not f:
            stream.close()
    digest = None
    if want_md5:
        h = hashlib.md5(magic + dims_raw)
        h.update(buf)
        digest = h.hexdigest()
    arr = buf.view(dtype)
    if dtype.itemsize > 1 and sys.byteorder == "little":
        arr.byteswap(inplace=True)  # in place, so no second copy of a large array
    return arr.view(dtype.newbyteorder("=")).reshape(shape), digest


def _read_idx(source: object, want_md5: bool = False) -> tuple[np.ndarray, str | None]:
    name = _source_name(source)
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            return _read_idx_stream(f, name, want_md5)
    if not callable(getattr(source, "read", None)):
        raise TypeError("read_idx: expected a path (str or os.PathLike) or a binary file "
                        f"object, got {type(source).__name__}")
    return _read_idx_stream(source, name, want_md5)  # type: ignore[arg-type]


def read_idx(source: PathLike | BinaryIO) -> np.ndarray:
    """Read an array from an IDX file, gzip-compressed or raw.

    Parameters
    ----------
    source : str, os.PathLike or binary file object
        The file to read. Compression is detected from the gzip magic bytes, not from the
        name. A file object is read from its current position to its end.

    Returns
    -------
    numpy.ndarray
        A writable, C-contiguous array in native byte order, of dtype uint8, int8, int16,
        int32, float32 or float64 (IDX type codes 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E) and
        of the shape stored in the header.

    Raises
    ------
    IDXFormatError
        (a ``ValueError``) for a bad magic number, an unknown type code, a truncated file,
        trailing bytes or corrupt gzip data; the message names the file.
    TypeError
        If ``source`` is neither a path nor a binary file object.

    Examples
    --------
    >>> labels = read_idx('train-labels-idx1-ubyte.gz')      # doctest: +SKIP
    >>> labels.shape, labels.dtype                           # doctest: +SKIP
    ((60000,), dtype('uint8'))
    """
    return _read_idx(source)[0]


def write_idx(path: PathLike | BinaryIO, array: np.ndarray, compress: bool | None = None) -> None:
    """Write an array to an IDX file.

    Parameters
    ----------
    path : str, os.PathLike or binary file object
        Destination. A path is written atomically (temporary file in the same directory,
        then ``os.replace``), so readers never see a half-written file.
    array : array_like
        Data of dtype uint8, int8, int16, int32, float32 or float64, at most 255 dimensions
        each smaller than 2**32.
    compress : bool or None, optional
        Gzip the file. ``None`` (default) compresses when ``path`` ends in ``.gz`` (never for
        a file object). Gzip output has a zero timestamp, so equal arrays give equal bytes.

    Raises
    ------
    TypeError
        For an unsupported dtype or a ``compress`` that is not a bool or None.
    ValueError
        For a dimension too large for the format.

    Examples
    --------
    >>> write_idx('labels-idx1-ubyte.gz', np.array([3, 1, 4], np.uint8))   # doctest: +SKIP
    """
    arr = np.asarray(array)
    code = _IDX_CODES.get((arr.dtype.kind, arr.dtype.itemsize))
    if code is None or arr.dtype.kind not in "uif":
        raise TypeError(f"write_idx: dtype {arr.dtype} has no IDX type code; expected one of "
                        "uint8, int8, int16, int32, float32, float64 (convert with .astype)")
    if compress is not None and not isinstance(compress, (bool, np.bool_)):
        raise TypeError(f"write_idx: compress must be a bool or None, "
                        f"got {type(compress).__name__}")
    if any(d >= 2**32 for d in arr.shape):
        raise ValueError(f"write_idx: IDX dimensions must be < 2**32, got shape {arr.shape}")
    is_path = isinstance(path, (str, os.PathLike))
    if not is_path and not callable(getattr(path, "write", None)):
        raise TypeError("write_idx: expected a path (str or os.PathLike) or a binary file "
                        f"object, got {type(path).__name__}")
    if compress is None:
        compress = is_path and os.fspath(path).endswith(".gz")
    header = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, ">u4").tobytes()
    data = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder(">")).reshape(-1).view(np.uint8)

    def emit(f: BinaryIO) -> None:
        # mtime=0 and no file name in the gzip header keep the bytes reproducible;
        # level 9 is gzip's own default.
        out = (gzip.GzipFile(filename="", fileobj=f, mode="wb", compresslevel=9, mtime=0)
               if compress else f)
        try:
            out.write(header)
            out.write(data)
        finally:
            if out is not f:
                out.close()  # writes the gzip trailer, leaves f open

    if not is_path:
        emit(path)  # type: ignore[arg-type]
        return
    target = Path(path)
    f, tmp = _create_temp(target.parent, target.name, ".tmp")
    try:
        with f:
            emit(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        _remove_quietly(tmp)
        raise


def _create_temp(directory: Path, name: str, suffix: str) -> tuple[BinaryIO, Path]:
    """Create a new file next to its final place, so that ``os.replace`` is atomic.

    Unlike ``tempfile.mkstemp`` (always mode 0600) this honours the umask, so the file
    gets the same permissions as one written directly."""
    for _ in range(100):
        tmp = directory / f".{name}.{secrets.token_hex(4)}{suffix}"
        try:
            return open(tmp, "xb"), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file for {name} in {directory}")


def _remove_quietly(path: PathLike) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
