"""Theano-style import: ``from nnthe.ifelse import ifelse``."""
from .core.ifelse import IfElse, ifelse

__all__ = ["ifelse", "IfElse"]

from ._callable_module import make_callable as _make_callable

_make_callable(__name__)
