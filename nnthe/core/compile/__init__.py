"""Compilation of graphs into callables: ``function``, modes, the linker."""
from ..graph import set_compiler
from . import debugmode  # noqa: F401  (registers the DEBUG and NANGUARD modes)
from .function import Function, FunctionMaker, MissingInputError, UnusedInputError, function
from .io import In, Out
from .mode import Mode, get_mode
from .monitormode import MonitorMode

set_compiler(function)

__all__ = ["function", "Function", "FunctionMaker", "In", "Out", "Mode", "MonitorMode", "get_mode",
           "MissingInputError", "UnusedInputError"]
