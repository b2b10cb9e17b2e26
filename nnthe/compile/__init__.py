"""Theano's ``theano.compile`` namespace: ``function``, ``Mode``, the compile errors.

A shim over :mod:`nnthe.core.compile` so that Theano programs' imports
(``from theano.compile import ...``) run with ``theano`` mapped to ``nnthe``.
"""
from ..core.compile import (Function, In, MissingInputError, Mode, MonitorMode, Out,
                            UnusedInputError, function, get_mode)
from ..core.compile.debugmode import DebugMode, NanGuardMode
from ..core.shared import SharedVariable, shared

__all__ = ["function", "Function", "In", "Out", "Mode", "MonitorMode", "DebugMode", "NanGuardMode",
           "get_mode", "MissingInputError", "UnusedInputError", "SharedVariable", "shared"]
