"""Graph rewrites: replace a graph with an equivalent one that is faster or stabler.

Rewrites are small named functions registered in phases (see :mod:`.registry`):
merge (common subexpressions), useless (identities such as ``x * 1``), canonicalize,
stabilize (``log(1 + x)`` -> ``log1p(x)``, ...), specialize (``x ** 2`` -> ``sqr(x)``; a
ReLU-style mask of a max pool's input applied at the pooled size; a convolution's bias
and ReLU folded into it), constant folding,
fusion of elementwise chains evaluated block by block, and in-place elementwise
operations on dead buffers.
Switch one off by name: ``nnthe.function(..., mode=Mode(exclude=['local_log1p']))``.
"""
from .registry import PHASES, Rewrite, apply_rewrites, register, registered_rewrites, select

# Importing a module registers its rewrites: the registry is complete once this package
# is imported, before anything is compiled.
from . import basic, conv, fusion, inplace, merge, pooling, specialize, stabilize  # noqa: E402,F401

__all__ = ["PHASES", "Rewrite", "apply_rewrites", "register", "registered_rewrites", "select"]
