"""Global configuration of nnthe.

nnthe's own settings can be changed at run time::

    import nnthe
    nnthe.config.floatX = 'float64'

``floatX`` is the dtype of the untyped constructors (``T.scalar``, ``T.matrix``, ...), of
Python floats in expressions with integer tensors, and of ``nnthe.shared(0.5)``. It
defaults to ``float32`` and can be overridden by the environment variable
``NNTHE_FLOATX``. ``compute_test_value`` (``'off'``, ``'ignore'``, ``'warn'``,
``'raise'``) computes ``x.tag.test_value`` of every node as the graph is built, as in
Theano.

The other attributes Theano programs read or set (``config.device``,
``config.optimizer``, ``config.warn.round``, ``config.exception_verbosity``, ...) exist
with Theano's defaults; nnthe does not act on them (it has one CPU backend), so setting
them is accepted and changes nothing. An unknown name raises AttributeError with a
"did you mean".
"""
from __future__ import annotations

import difflib
import os
from typing import Any

_FLOAT_DTYPES = ("float16", "float32", "float64")
_TEST_VALUE_MODES = ("off", "ignore", "warn", "raise", "pdb")


def _hint(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class ConfigSection:
    """A group of Theano settings (``config.warn``, ``config.blas``, ...) that nnthe
    keeps for programs that read or set them, without acting on them."""

    def __init__(self, path: str, values: dict[str, Any]) -> None:
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        raise AttributeError(f"{self._path} has no setting {name!r}{_hint(name, list(values))}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._values:
            raise AttributeError(f"{self._path} has no setting {name!r}"
                                 f"{_hint(name, list(self._values))}")
        self._values[name] = value

    def __dir__(self) -> list[str]:
        return sorted(self._values)

    def __repr__(self) -> str:
        return f"<{self._path}: {', '.join(f'{k}={v!r}' for k, v in self._values.items())}>"


# Theano 1.0's settings that programs read, with its defaults (CPU, no compiler).
_THEANO_SETTINGS: dict[str, Any] = {
    "device": "cpu", "init_gpu_device": "", "force_device": False, "mode": "FAST_RUN",
    "optimizer": "fast_run", "linker": "py", "allow_gc": True, "openmp": False,
    "openmp_elemwise_minsize": 200000, "cast_policy": "custom", "int_division": "int",
    "deterministic": "default", "on_opt_error": "warn", "exception_verbosity": "low",
    "compute_test_value_opt": "off", "print_test_value": False, "profile": False,
    "profile_memory": False, "profile_optimizer": False,
    "compiledir": "", "base_compiledir": "", "cxx": "", "optimizer_excluding": "",
    "optimizer_including": "", "optimizer_requiring": "", "optimizer_verbose": False,
    "on_unused_input": "raise", "check_input": True, "nocleanup": False,
    "assert_no_cpu_op": "ignore", "reoptimize_unpickled_function": False,
    "unpickle_function": True, "gcc": None, "cmodule": None, "DebugMode": None,
    "NanGuardMode": None, "numpy": None, "lib": None, "tensor": None, "scan": None,
    "traceback": None, "blas": None, "dnn": None, "gpuarray": None, "cuda": None,
    "magma": None, "metaopt": None, "warn": None, "experimental": None, "pycuda": None,
}
_SECTIONS: dict[str, dict[str, Any]] = {
    "warn": {"ignore_bug_before": "0.9", "argmax_pushdown_bug": False, "gpusum_01_011_0111_bug": False,
             "sum_sum_bug": False, "sum_div_dimshuffle_bug": False, "subtensor_merge_bug": False,
             "gpu_set_subtensor1": False, "vm_gc_bug": False, "signal_conv2d_interface": False,
             "reduce_join": False, "inc_set_subtensor1": False, "round": False,
             "identify_1pexp_bug": False, "inc_subtensor1_opt": False},
    "traceback": {"limit": 8, "compile_limit": 0},
    "blas": {"ldflags": "", "check_openmp": True},
    "gcc": {"cxxflags": ""},
    "cmodule": {"warn_no_version": False, "remove_gxx_opt": False, "compilation_warning": False,
                "preload_cache": False, "age_thresh_use": 2073600, "debug": False},
    "DebugMode": {"check_c": False, "check_py": True, "check_finite": True, "check_strides": 0,
                  "check_preallocated_output": "", "warn_only": False, "patience": 10},
    "NanGuardMode": {"nan_is_error": True, "inf_is_error": True, "big_is_error": True,
                     "action": "raise"},
    "numpy": {"seterr_all": "ignore", "seterr_divide": "None", "seterr_over": "None",
              "seterr_under": "None", "seterr_invalid": "None"},
    "lib": {"amdlibm": False, "cnmem": 0.0},
    "tensor": {"cmp_sloppy": 0, "local_elemwise_fusion": True, "insert_inplace_optimizer_validate_nb": -1},
    "scan": {"allow_gc": False, "allow_output_prealloc": True, "debug": False},
    "dnn": {"enabled": "False", "conv": None, "include_path": "", "library_path": ""},
    "gpuarray": {"preallocate": 0.0, "sched": "default", "single_stream": True},
    "cuda": {"root": "", "enabled": False},
    "magma": {"enabled": False, "include_path": "", "library_path": ""},
    "metaopt": {"verbose": 0, "optimizer_excluding": "", "optimizer_including": ""},
    "experimental": {"local_alloc_elemwise": True, "unpickle_gpu_on_cpu": False},
    "pycuda": {"init": False},
}
_SECTIONS["dnn"]["conv"] = ConfigSection("config.dnn.conv", {"algo_fwd": "small", "algo_bwd_data": "none",
                                                             "algo_bwd_filter": "none", "precision": "as_input_f32"})


class Config:
    """The settings object behind ``nnthe.config``.

    nnthe's settings: ``floatX``, ``warn_float64`` (warn when an expression silently
    upcasts float32 to float64) and ``compute_test_value``. Theano's other settings are
    kept (see the module docstring).
    """

    def __init__(self) -> None:
        d = self.__dict__
        d["_floatX"] = "float32"
        self.floatX = os.environ.get("NNTHE_FLOATX", "float32")
        #: Warn when an expression silently upcasts float32 values to float64.
        d["warn_float64"] = True
        # A plain attribute: Op.__call__ reads it for every node it builds.
        d["compute_test_value"] = "off"
        theano = {}
        for k, v in _THEANO_SETTINGS.items():
            theano[k] = ConfigSection(f"config.{k}", _SECTIONS[k]) if v is None else v
        d["_theano"] = theano

    @property
    def floatX(self) -> str:
        """The default float dtype (``'float32'`` unless changed)."""
        return self._floatX

    @floatX.setter
    def floatX(self, value: str) -> None:
        value = str(value)
        if value not in _FLOAT_DTYPES:
            raise ValueError(
                f"config.floatX must be one of {_FLOAT_DTYPES}, got {value!r}"
            )
        self.__dict__["_floatX"] = value

    def __getattr__(self, name: str) -> Any:
        # Called only for names that are not nnthe's own settings.
        theano = self.__dict__.get("_theano", {})
        if name in theano:
            return theano[name]
        raise AttributeError(f"config has no setting {name!r}{_hint(name, self._known())}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "floatX":
            object.__setattr__(self, name, value)  # the property's checks
        elif name == "compute_test_value":
            if value not in _TEST_VALUE_MODES:
                raise ValueError(f"config.compute_test_value must be one of {_TEST_VALUE_MODES}, "
                                 f"got {value!r}")
            self.__dict__[name] = value
        elif name == "warn_float64":
            self.__dict__[name] = value
        elif name in self._theano:
            if isinstance(self._theano[name], ConfigSection):
                raise AttributeError(f"config.{name} is a group of settings; set its members "
                                     f"(config.{name}.{next(iter(dir(self._theano[name])))} = ...)")
            self._theano[name] = value
        else:
            raise AttributeError(f"config has no setting {name!r}{_hint(name, self._known())}")

    def _known(self) -> list[str]:
        return ["floatX", "warn_float64", "compute_test_value"] + list(self._theano)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._known()))

    def __repr__(self) -> str:
        return (f"Config(floatX={self.floatX!r}, warn_float64={self.warn_float64}, "
                f"compute_test_value={self.compute_test_value!r})")


config = Config()
