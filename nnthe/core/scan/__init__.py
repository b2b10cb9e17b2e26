"""Loops: the Scan op, Theano's ``scan`` builder (and ``map``/``reduce``/``foldl``/
``foldr``), and its gradient (back-propagation through time as a reverse scan)."""
from .builder import ScanTypeError, foldl, foldr, map, reduce, scan
from .op import Scan, ScanError

__all__ = ["scan", "map", "reduce", "foldl", "foldr", "Scan", "ScanError", "ScanTypeError"]
