"""Loops: the Scan op, Theano's ``scan`` builder (and ``map``/``reduce``/``foldl``/
``foldr``), and its gradient (back-propagation through time as a reverse scan)."""
from .builder import ScanTypeError, foldl, foldr, map, reduce, scan
from .op import Scan, ScanError
from . import jacobian as _jacobian  # noqa: F401  (installs jacobian for run-time sizes)
from . import rewrite as _rewrite  # noqa: F401  (registers the Scan rewrites)

__all__ = ["scan", "map", "reduce", "foldl", "foldr", "Scan", "ScanError", "ScanTypeError"]
