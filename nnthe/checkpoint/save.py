"""Writing checkpoints."""
from __future__ import annotations

import datetime
import os
from typing import Any, Mapping

import h5py
import numpy as np

from .atomic import atomic_path
from .format import (FORMAT_NAME, SECTIONS, collect_sections, encode_json, encode_meta,
                     format_version_string)
from .matching import reject_unknown

_COMPRESSIONS = ("gzip", "lzf")


def _check_compression(compression: Any) -> tuple[str | None, int | None]:
    if compression is None or compression is False:
        return None, None
    if compression is True:
        return "gzip", 4
    if isinstance(compression, int) and not isinstance(compression, bool):
        if not 0 <= compression <= 9:
            raise ValueError(f"compression: a gzip level is 0..9, got {compression}")
        return "gzip", compression
    if compression in _COMPRESSIONS:
        return compression, (4 if compression == "gzip" else None)
    raise ValueError(
        f"compression must be None, 'gzip', 'lzf', True (gzip level 4) or a gzip level "
        f"0..9, got {compression!r}"
    )


def save_checkpoint(path: str | os.PathLike, model: Any = None, optimizer: Any = None,
                    params: Any = None, rng: Any = None, meta: Mapping[str, Any] | None = None,
                    compression: Any = None, **kwargs: Any) -> str:
    """Save parameters, optimizer state and random state to an HDF5 file, atomically.

    The file is written to a temporary file next to ``path``, synced to disk and
    renamed over ``path``: if the process dies at any moment, ``path`` holds either the
    previous checkpoint or the new one, never a mix.

    Parameters
    ----------
    path : str or path-like
        The checkpoint file (conventionally ``.h5``). Its folder must exist.
    model : object, optional
        Anything with ``named_params()`` (and optionally ``named_random_states()`` and
        ``config()``, whose JSON-serializable result is stored as the architecture).
    optimizer : object, optional
        Anything with ``.state`` and ``.hyperparams`` (OrderedDict[str, SharedVariable]).
    params : dict or list, optional
        Extra shared variables: a dict name -> variable or a list of uniquely named
        variables. Saved with the model's parameters.
    rng : RandomStream, dict or list, optional
        A random stream (its ``state_variables()``) or its state variables.
    meta : dict, optional
        JSON-serializable metadata (epoch, step, metrics...), returned by
        :func:`load_checkpoint`. NumPy scalars are stored as Python numbers.
    compression : None, 'gzip', 'lzf', True or int, optional
        Compress the datasets (an int is a gzip level). Off by default: parameters
        compress poorly and it slows saving.

    Returns
    -------
    str
        The absolute path written.

    Raises
    ------
    TypeError
        If ``meta`` (or ``model.config()``) is not JSON-serializable, or an object lacks
        the methods above. Nothing is written then.

    Examples
    --------
    >>> nnthe.save_checkpoint('run.h5', model=model, optimizer=opt,
    ...                       meta={'epoch': 3, 'val_loss': 0.21})   # doctest: +SKIP

    Any HDF5 tool shows the parameters by name (``h5ls -r run.h5``: ``/params/0/W``...).
    """
    reject_unknown(kwargs, ("model", "optimizer", "params", "rng", "meta", "compression"),
                   "save_checkpoint")
    # Everything that can be refused is checked before the file is created.
    meta_json = encode_meta(meta)
    comp, level = _check_compression(compression)
    sections = collect_sections(model=model, optimizer=optimizer, params=params, rng=rng)
    if not sections:
        raise TypeError("save_checkpoint: nothing to save; pass model=, optimizer=, params= or rng=")
    config_json = None
    if model is not None and callable(getattr(model, "config", None)):
        config_json = encode_json(model.config(), "model.config()")
    path = os.path.abspath(os.fspath(path))
    from .. import __version__

    with atomic_path(path) as tmp:
        # track_order keeps the model's order, so h5ls lists layers as the model has them.
        with h5py.File(tmp, "w", track_order=True) as f:
            f.attrs["nnthe_format"] = FORMAT_NAME
            f.attrs["format_version"] = format_version_string()
            f.attrs["nnthe_version"] = __version__
            f.attrs["created"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
            f.attrs["meta"] = meta_json
            if config_json is not None:
                f.attrs["model_config"] = config_json
            for section in SECTIONS:
                if section not in sections:
                    continue
                group = f.create_group(section, track_order=True)
                for name, var in sections[section].items():
                    _write(group, name, var.get_value(borrow=True), comp, level)
            f.flush()
    return path


def _write(group: h5py.Group, name: str, value: np.ndarray, comp: str | None,
           level: int | None) -> None:
    *parents, leaf = name.split("/")
    for part in parents:
        # Explicit, so nested groups keep the model's order too.
        group = group[part] if part in group else group.create_group(part, track_order=True)
    value = np.asarray(value)
    if comp is None or value.ndim == 0 or value.size == 0:
        group.create_dataset(leaf, data=value)
    else:
        group.create_dataset(leaf, data=value, compression=comp, compression_opts=level,
                             shuffle=value.dtype.itemsize > 1)
