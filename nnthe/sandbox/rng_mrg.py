"""Theano's ``theano.sandbox.rng_mrg``: ``MRG_RandomStreams``.

nnthe has one generator (Philox, see :mod:`nnthe.random`); ``MRG_RandomStreams`` is
:class:`~nnthe.random.RandomStreams` with the MRG class's default seed and its
``multinomial`` / ``choice`` conventions (one row of probabilities per draw). The
numbers differ from Theano's MRG31k3p; the distributions are the same.
"""
from __future__ import annotations

from typing import Any

from ..core.types import is_float_dtype, normalize_dtype
from ..core.variable import as_tensor_variable
from ..random import RandomStreams, RandomVariable, _theano_extras


class MRG_RandomStreams(RandomStreams):
    """Theano's MRG random streams (seed 12345 by default).

    Examples
    --------
    >>> srng = MRG_RandomStreams(seed=1234)
    >>> mask = srng.binomial(size=(3, 4), n=1, p=0.8, dtype='float32')
    >>> pick = srng.multinomial(pvals=T.nnet.softmax(T.matrix('z')))   # one-hot rows
    """

    def __init__(self, seed: int = 12345, name: str = "mrg") -> None:
        super().__init__(seed, name)

    def multinomial(self, size: Any = None, n: Any = 1, pvals: Any = None, ndim: int | None = None,
                    dtype: Any = "int64", **kwargs: Any) -> RandomVariable:
        """Counts of ``n`` draws per row of the matrix ``pvals``: the result has
        ``pvals``'s shape (one-hot rows for ``n=1``)."""
        _theano_extras("multinomial", kwargs)
        if pvals is None:
            raise TypeError("multinomial: pvals (a matrix of probabilities per row) is required")
        pv = as_tensor_variable(pvals)
        if pv.type.ndim != 2:
            raise TypeError(f"multinomial: pvals must be a matrix (one row per draw), got {pv.type}")
        if size is not None:
            raise NotImplementedError("MRG multinomial: size must be None (the shape is pvals')")
        return super().multinomial((), n, pv, ndim, dtype)

    def choice(self, size: Any = 1, a: Any = None, replace: bool = True, p: Any = None,
               ndim: int | None = None, dtype: Any = "int64", **kwargs: Any) -> RandomVariable:
        """For each row of the matrix ``p``, ``size`` indices drawn with probabilities
        ``p[i]`` (``a`` must be None, as in Theano): the result has shape
        ``(p.shape[0], size)``."""
        _theano_extras("choice", kwargs)
        if a is not None:
            raise TypeError("MRG choice: a must be None (indices into p's columns are drawn)")
        if p is None:
            raise TypeError("MRG choice: p (a matrix of probabilities per row) is required")
        pv = as_tensor_variable(p)
        if pv.type.ndim != 2 or not is_float_dtype(pv.type.dtype):
            raise TypeError(f"MRG choice: p must be a float matrix, got {pv.type}")
        if not isinstance(size, int) or size < 1:
            raise TypeError(f"MRG choice: size must be a positive int, got {size!r}")
        out = self._draw("choice_rows", normalize_dtype(dtype), [pv.shape[0], size], (pv,),
                         replace=replace, static=(pv.type.shape[0], size))
        return self._mark(out, ndim, "choice")


__all__ = ["MRG_RandomStreams"]
