"""Theano-style imports: ``from nnthe.scan import scan`` (also ``nnthe.scan(...)``)."""
from .core.scan import Scan, ScanError, ScanTypeError, foldl, foldr, map, reduce, scan

__all__ = ["scan", "map", "reduce", "foldl", "foldr", "Scan", "ScanError", "ScanTypeError"]

from ._callable_module import make_callable as _make_callable

_make_callable(__name__)
