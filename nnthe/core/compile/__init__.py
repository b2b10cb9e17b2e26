"""Compilation of graphs into callables: ``function``, modes, the linker."""
from .function import Function, MissingInputError, UnusedInputError, function
from .mode import Mode, get_mode

__all__ = ["function", "Function", "Mode", "get_mode", "MissingInputError", "UnusedInputError"]
