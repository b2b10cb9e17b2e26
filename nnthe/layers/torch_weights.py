"""Loading a PyTorch ``state_dict`` (e.g. from :func:`nnthe.checkpoint.load_safetensors`)
into an nnthe model: names and layouts.

The name mapping
----------------
A parameter's PyTorch name is its nnthe path with ``/`` read as ``.`` and the local
name translated: nnthe's ``2/W`` of a :class:`~nnthe.layers.Dense` is PyTorch's
``2.weight`` of the ``nn.Linear`` at index 2 of an ``nn.Sequential``. So a PyTorch model
written with the same structure (the same indices or attribute names, Flatten and Dropout
included) loads as it is; otherwise pass ``prefix`` or ``rename``.

========================  ===================  =======================================
nnthe layer               PyTorch module       weights
========================  ===================  =======================================
Dense ``W`` (in, out)     Linear ``weight``    (out, in), transposed on load
Dense ``b``               Linear ``bias``      as is
Conv2D ``W``              Conv2d ``weight``    (out, in / groups, kh, kw), as is (both
                                               are cross-correlations)
Conv2D ``b``              Conv2d ``bias``      as is
BatchNorm ``gamma/beta``  BatchNorm ``weight`` as is; ``running_mean`` and
                          / ``bias``           ``running_var`` as is;
                                               ``num_batches_tracked`` is ignored
LayerNorm ``gamma/beta``  LayerNorm ``weight`` as is
                          / ``bias``
Embedding ``W``           Embedding ``weight`` as is
========================  ===================  =======================================

A layer's own mapping (the hook)
--------------------------------
A layer class may define ``torch_param_map(self)`` returning ``{torch local name:
(nnthe local parameter name, transform)}`` where ``transform(array) -> array`` turns the
PyTorch layout into nnthe's (None: as is). Its entries are then checked and loaded with
all the others, strictly, in one pass. A layer that instead defines
``load_torch_weights(self, state_dict)`` (recurrent layers, whose PyTorch gates are
stacked in one matrix) is given its own entries with the prefix removed
(``weight_ih_l0``, ...) and does its own checking; it runs after everything else was
verified and before anything else is set, so a failure there changes nothing elsewhere.
"""
from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Any, Callable, Mapping

import numpy as np

from ..checkpoint.format import CheckpointMismatchError
from ..checkpoint.load import CheckpointWarning
from ..checkpoint.matching import LoadReport

Transform = Callable[[np.ndarray], np.ndarray]

#: torch keys that carry no nnthe state and are never "unexpected".
IGNORED_SUFFIXES = ("num_batches_tracked",)


def _transpose(a: np.ndarray) -> np.ndarray:
    return a.T


_transpose.__name__ = "transposed (out, in) -> (in, out)"

#: ``{layer class name: {torch local name: (nnthe local name, transform)}}``.
DEFAULT_MAPS: dict[str, dict[str, tuple[str, Transform | None]]] = {
    "Dense": {"weight": ("W", _transpose), "bias": ("b", None)},
    "Conv2D": {"weight": ("W", None), "bias": ("b", None)},
    "BatchNorm": {"weight": ("gamma", None), "bias": ("beta", None),
                  "running_mean": ("running_mean", None), "running_var": ("running_var", None)},
    "LayerNorm": {"weight": ("gamma", None), "bias": ("beta", None)},
    "Embedding": {"weight": ("W", None)},
}


def _as_numpy(value: Any, key: str) -> np.ndarray:
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        # A torch tensor: reading it needs no import of torch here.
        value = value.detach().cpu().numpy()
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"load_torch_state_dict: {key!r} has dtype {arr.dtype}; only numeric "
                        f"arrays can be loaded")
    return arr


def _param_map(layer: Any) -> dict[str, tuple[str, Transform | None]] | None:
    own = getattr(layer, "torch_param_map", None)
    if callable(own):
        return dict(own())
    for cls in type(layer).__mro__:
        if cls.__name__ in DEFAULT_MAPS:
            return DEFAULT_MAPS[cls.__name__]
    return None


def torch_names(model: Any) -> OrderedDict[str, str]:
    """``{torch key: nnthe parameter name}`` that :func:`load_torch_state_dict` expects.

    Layers with a ``load_torch_weights`` hook are not listed (they name their own keys).
    """
    return OrderedDict((k, name) for k, (name, _, _) in _expected(model)[0].items())


def _expected(model: Any) -> tuple[OrderedDict, list]:
    """(``{torch key: (nnthe name, variable, transform)}``, ``[(prefix, layer)]`` with hooks)."""
    expected: OrderedDict[str, tuple] = OrderedDict()
    hooked: list[tuple[str, Any]] = []
    for path, layer in model._walk():
        if not layer._params:
            continue
        prefix = path.replace("/", ".") + "." if path else ""
        mapping = _param_map(layer)
        if mapping is None:
            if callable(getattr(layer, "load_torch_weights", None)):
                hooked.append((prefix, layer))
                continue
            raise TypeError(
                f"load_torch_state_dict: no PyTorch mapping for {layer!r} at "
                f"{path or '<model>'} (parameters {list(layer._params)}); give the layer "
                f"class a torch_param_map() method (see nnthe.layers.torch_weights)")
        for torch_local, (local, transform) in mapping.items():
            if local not in layer._params:
                continue  # e.g. use_bias=False, BatchNorm(scale=False)
            var = layer._params[local]
            expected[prefix + torch_local] = (var.name or local, var, transform)
    return expected, hooked


def load_torch_state_dict(model: Any, state_dict: Mapping[str, Any], strict: bool = True,
                          prefix: str = "", rename: Mapping[str, str] | Callable[[str], str] | None = None,
                          cast: bool = True) -> LoadReport:
    """Set the parameters of ``model`` from a PyTorch state dict (see the module docstring).

    Parameters
    ----------
    model : nnthe.layers.Layer
        Built (called once on a symbolic input), so its parameters exist.
    state_dict : mapping str -> array
        NumPy arrays (from :func:`nnthe.checkpoint.load_safetensors`) or torch tensors.
    strict : bool
        True: every difference (missing, unexpected, wrong shape or dtype) is listed in
        one :class:`~nnthe.checkpoint.CheckpointMismatchError` and nothing changes.
        False: load what fits and report the rest.
    prefix : str
        Stripped from the state dict's keys (``'model.'`` for a wrapped module); keys
        without it are unexpected.
    rename : dict or callable, optional
        Applied to each key (after ``prefix``) to give the name nnthe expects.
    cast : bool
        Convert floating-point arrays to the parameter's float dtype (float16 or float64
        files into a float32 model). With False, a dtype difference is a mismatch.

    Returns
    -------
    LoadReport
        Names in it are PyTorch keys.
    """
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"load_torch_state_dict: expected a dict name -> array, got "
                        f"{type(state_dict).__name__}")
    if not getattr(model, "built", True) or not model.params:
        raise ValueError(f"load_torch_state_dict: {model!r} has no parameters yet; call it "
                         f"once on a symbolic input (model(X)) so that it builds them")
    expected, hooked = _expected(model)
    arrays: OrderedDict[str, np.ndarray] = OrderedDict()
    report = LoadReport()
    for key, value in state_dict.items():
        if not isinstance(key, str):
            raise TypeError(f"load_torch_state_dict: keys must be str, got {key!r}")
        if prefix:
            if not key.startswith(prefix):
                report.unexpected.append(key)
                continue
            key = key[len(prefix):]
        if rename is not None:
            key = rename(key) if callable(rename) else rename.get(key, key)
        arrays[key] = _as_numpy(value, key)

    hooked_entries: list[tuple[str, Any, dict]] = []
    for hp, layer in hooked:
        own = {k[len(hp):]: arrays.pop(k) for k in list(arrays) if k.startswith(hp)}
        hooked_entries.append((hp, layer, own))

    ready: list[tuple[str, Any, np.ndarray]] = []
    for key, (name, var, transform) in expected.items():
        if key not in arrays:
            report.missing.append(key)
            continue
        arr = arrays.pop(key)
        value = transform(arr) if transform is not None else arr
        good = True
        if not var.type.shape_matches(tuple(value.shape)):
            how = f" after {transform.__name__}" if transform is not None else ""
            report.wrong_shape.append((f"{key} (nnthe {name}{how})", tuple(value.shape),
                                       var.type.shape))
            good = False
        want = var.type.numpy_dtype
        if value.dtype != want:
            if cast and value.dtype.kind == "f" and want.kind == "f":
                value = value.astype(want)
            else:
                report.wrong_dtype.append((key, value.dtype.name, want.name))
                good = False
        if good:
            ready.append((key, var, value))
    report.unexpected += [k for k in arrays if not k.endswith(IGNORED_SUFFIXES)]

    if not report.ok:
        text = report.describe()
        if strict:
            raise CheckpointMismatchError(
                f"load_torch_state_dict: the state dict does not fit {type(model).__name__}; "
                f"nothing was loaded. {report.n_differences} difference(s):\n{text}\n"
                f"(expected keys: {', '.join(expected) or 'none'}; load what matches with "
                f"strict=False, or map names with prefix= / rename=)", report)
        warnings.warn(f"load_torch_state_dict (strict=False) left {report.n_differences} "
                      f"difference(s) unloaded:\n{text}", CheckpointWarning, stacklevel=3)
    for hp, layer, own in hooked_entries:
        layer.load_torch_weights(own)
        report.loaded += [hp + k for k in own]
    for key, var, value in ready:
        # A copy in nnthe's layout (C-contiguous, so BLAS sees plain arrays).
        var.set_value(np.array(value, order="C", copy=True), borrow=True)
        report.loaded.append(key)
    return report


__all__ = ["load_torch_state_dict", "torch_names", "DEFAULT_MAPS", "IGNORED_SUFFIXES"]
