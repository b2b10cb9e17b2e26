"""Compilation of graphs into callables: ``function``, modes, the linker."""
from ..graph import set_compiler
from . import debugmode  # noqa: F401  (registers the DEBUG and NANGUARD modes)
from .function import Function, MissingInputError, UnusedInputError, function
from .mode import Mode, get_mode

set_compiler(function)

__all__ = ["function", "Function", "Mode", "get_mode", "MissingInputError", "UnusedInputError"]
