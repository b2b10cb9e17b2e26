"""Reading and writing safetensors files (the extra ``pip install 'nnthe[torch-weights]'``).

safetensors is PyTorch's format without pickle: a JSON header (names, dtypes, shapes,
offsets) and the raw bytes. The files are parsed by the safetensors library's NumPy API,
which reads data and never runs code; nothing here calls ``torch.load``. PyTorch writes
them with ``safetensors.torch.save_file(model.state_dict(), path)``; load them into an
nnthe model with :meth:`nnthe.layers.Layer.load_torch_state_dict`.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any, Mapping

import numpy as np

from .atomic import atomic_path
from .format import CheckpointError


def _import() -> Any:
    try:
        import safetensors.numpy  # an optional extra, imported when a file is read
    except ImportError:
        raise ImportError("reading safetensors files needs the safetensors package: "
                          "pip install 'nnthe[torch-weights]'") from None
    return safetensors


def load_safetensors(path: str | os.PathLike) -> "OrderedDict[str, np.ndarray]":
    """The tensors of a ``.safetensors`` file as NumPy arrays, by name, in file order.

    Raises
    ------
    FileNotFoundError, CheckpointError
        No such file, or one that is not a valid safetensors file (truncated, a pickle,
        a dtype NumPy has no type for such as bfloat16: convert those to float32 before
        saving).
    ImportError
        Without the safetensors package (``pip install 'nnthe[torch-weights]'``).

    Examples
    --------
    >>> sd = load_safetensors('resnet.safetensors')        # doctest: +SKIP
    >>> model.load_torch_state_dict(sd)                      # doctest: +SKIP
    """
    st = _import()
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no safetensors file at {path}")
    try:
        with st.safe_open(path, framework="np") as f:
            keys = list(f.keys())
            return OrderedDict((k, f.get_tensor(k)) for k in keys)
    except Exception as exc:  # the library's SafetensorError and its dtype errors
        if isinstance(exc, (MemoryError, KeyboardInterrupt)):
            raise
        raise CheckpointError(f"{path} is not a readable safetensors file: "
                              f"{type(exc).__name__}: {exc}") from None


def save_safetensors(path: str | os.PathLike, tensors: Any,
                     metadata: Mapping[str, str] | None = None) -> str:
    """Write a dict name -> array (or a model's parameters by nnthe name) atomically.

    Returns the path. ``metadata`` is a str -> str dict kept in the header.
    """
    st = _import()
    if hasattr(tensors, "named_params"):
        tensors = {k: v.get_value(borrow=True) for k, v in tensors.named_params().items()}
    if not isinstance(tensors, Mapping):
        raise TypeError(f"save_safetensors: expected a dict name -> array or a model, got "
                        f"{type(tensors).__name__}")
    arrays = {}
    for k, v in tensors.items():
        arr = np.ascontiguousarray(v) if np.ndim(v) else np.array(v)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"save_safetensors: {k!r} has dtype {arr.dtype}; only numeric "
                            f"arrays can be saved")
        arrays[str(k)] = arr
    path = os.path.abspath(os.fspath(path))
    with atomic_path(path) as tmp:
        st.numpy.save_file(arrays, tmp, metadata=dict(metadata) if metadata else None)
    return path


__all__ = ["load_safetensors", "save_safetensors"]
