"""The communicator: rank, size, broadcasts and reductions of NumPy buffers over MPI.

Everything here uses mpi4py's buffer methods (``Bcast``, ``Allreduce`` with
``MPI.IN_PLACE``), which move the arrays' bytes without pickling; the pickling
lowercase methods are used only for small metadata (names, shapes) that is checked
once, when training starts.

mpi4py is imported on first use, never by ``import nnthe``; without it, the first call
raises an ImportError that says ``pip install 'nnthe[mpi]'``.
"""
from __future__ import annotations

import sys
from typing import Any, Sequence

import numpy as np

__all__ = ["init", "rank", "size", "is_root", "comm", "barrier", "broadcast_arrays",
           "broadcast_shared", "allreduce_sum", "check_same", "abort", "MPIUnavailableError"]


class MPIUnavailableError(ImportError):
    """mpi4py (or an MPI library under it) is missing."""


_COMM: Any = None


def _mpi() -> Any:
    """The ``mpi4py.MPI`` module, imported now (importing it initializes MPI)."""
    try:
        # Imported here, not at the top: MPI is an optional extra and importing
        # mpi4py.MPI starts MPI, which a plain ``import nnthe`` must never do.
        from mpi4py import MPI
    except ImportError as exc:
        raise MPIUnavailableError(
            f"nnthe.distributed needs mpi4py and an MPI library ({exc}); install them with "
            "pip install 'nnthe[mpi]' (mpi4py and the MPICH wheel), then launch with "
            "mpiexec -n N python -m mpi4py script.py") from exc
    return MPI


def init(communicator: Any = None) -> Any:
    """Start MPI (if not yet) and choose the communicator nnthe uses.

    Parameters
    ----------
    communicator : mpi4py communicator, optional
        Default ``MPI.COMM_WORLD``. Give a sub-communicator to train several models
        side by side.

    Returns
    -------
    The communicator.

    Raises
    ------
    MPIUnavailableError
        Without mpi4py.
    TypeError
        If ``communicator`` is not an mpi4py intracommunicator.
    """
    global _COMM
    MPI = _mpi()
    if communicator is None:
        communicator = MPI.COMM_WORLD
    if not isinstance(communicator, MPI.Intracomm):
        raise TypeError(f"nnthe.distributed.init: expected an mpi4py Intracomm, got "
                        f"{type(communicator).__name__}")
    _COMM = communicator
    return communicator


def comm() -> Any:
    """The communicator in use (``MPI.COMM_WORLD`` unless :func:`init` chose another)."""
    return _COMM if _COMM is not None else init()


def rank() -> int:
    """This process's rank, 0 ... size-1."""
    return comm().Get_rank()


def size() -> int:
    """The number of processes (1 when the script runs without mpiexec)."""
    return comm().Get_size()


def is_root() -> bool:
    """True on rank 0, the one that prints and writes checkpoints."""
    return rank() == 0


def barrier() -> None:
    """Wait until every rank gets here."""
    comm().Barrier()


def _contiguous(a: np.ndarray) -> np.ndarray:
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _groups(arrays: Sequence[np.ndarray]) -> dict[np.dtype, list[int]]:
    """Indices of ``arrays`` by dtype, in a fixed (sorted) order: every rank must make
    the same calls in the same order."""
    out: dict[np.dtype, list[int]] = {}
    for i, a in enumerate(arrays):
        out.setdefault(a.dtype, []).append(i)
    return dict(sorted(out.items(), key=lambda kv: kv[0].str))


def broadcast_arrays(arrays: Sequence[np.ndarray], root: int = 0) -> list[np.ndarray]:
    """Rank ``root``'s values of ``arrays``, on every rank: one ``Bcast`` per dtype over
    a flat buffer.

    Every rank passes arrays of the same shapes and dtypes (see :func:`check_same`).
    Returns new arrays; the arguments are not modified.
    """
    c = comm()
    arrays = [np.asarray(a) for a in arrays]
    out: list[np.ndarray | None] = [None] * len(arrays)
    for dtype, idx in _groups(arrays).items():
        sizes = [arrays[i].size for i in idx]
        buf = np.empty(sum(sizes), dtype=dtype)
        if c.Get_rank() == root:
            pos = 0
            for i, n in zip(idx, sizes):
                buf[pos:pos + n] = arrays[i].ravel()
                pos += n
        c.Bcast(buf, root=root)
        pos = 0
        for i, n in zip(idx, sizes):
            out[i] = buf[pos:pos + n].reshape(arrays[i].shape)
            pos += n
    return out  # type: ignore[return-value]


def check_same(items: Sequence[Any], what: str) -> None:
    """Check that every rank passes equal ``items`` (names, shapes, dtypes: small
    metadata, gathered with a pickling ``allgather`` once).

    Raises
    ------
    ValueError
        On every rank, naming the first rank and the first item that differ from rank 0.
    """
    c = comm()
    gathered = c.allgather(list(items))
    ref = gathered[0]
    for r, mine in enumerate(gathered[1:], start=1):
        if mine == ref:
            continue
        if len(mine) != len(ref):
            detail = f"rank 0 has {len(ref)}, rank {r} has {len(mine)}"
        else:
            k = next(k for k, (a, b) in enumerate(zip(ref, mine)) if a != b)
            detail = f"item {k}: rank 0 has {ref[k]!r}, rank {r} has {mine[k]!r}"
        raise ValueError(f"nnthe.distributed: the {what} differ between ranks ({detail}); "
                         "every rank must build the same model (same code, same nnthe "
                         "version, same data shapes)")


def broadcast_shared(variables: Sequence[Any], root: int = 0, what: str = "variables") -> None:
    """Set every rank's shared ``variables`` to rank ``root``'s values (parameters,
    optimizer state, BatchNorm averages) after checking names, shapes and dtypes agree.

    Raises
    ------
    ValueError
        If the variables differ between ranks (see :func:`check_same`).
    """
    variables = list(variables)
    values = [v.get_value(borrow=True) for v in variables]
    check_same([(v.name, tuple(a.shape), a.dtype.str) for v, a in zip(variables, values)], what)
    if comm().Get_size() == 1:
        return
    for v, new in zip(variables, broadcast_arrays(values, root)):
        v.set_value(new, borrow=True)


def allreduce_sum(values: Any) -> np.ndarray:
    """The sum over ranks of ``values`` (an array or a sequence of numbers), as float64.

    One in-place ``Allreduce`` over a float64 copy: for metrics and counts, where the
    precision matters more than the bytes.
    """
    buf = np.array(values, dtype=np.float64, copy=True)
    buf = _contiguous(buf)
    if comm().Get_size() > 1:
        comm().Allreduce(_mpi().IN_PLACE, buf, op=_mpi().SUM)
    return buf


def abort(message: str, code: int = 1) -> None:
    """Print ``message`` on stderr with this rank's number, then end every rank
    (``MPI_Abort``): what a failure on one rank must do, since the others would
    otherwise wait for it in their next collective call forever."""
    print(f"[rank {rank()}/{size()}] {message}", file=sys.stderr, flush=True)
    comm().Abort(code)
