"""The tensor ops, in import order: elementwise (with casts and broadcasting), shapes,
indexing, allocation, reductions, joining, linear algebra, and the ops that change only
the gradient.

Importing the package installs the functions behind :class:`TensorVariable`'s
operators and methods (``x + y``, ``x.sum()``, ``x[i]``), which the lower modules
cannot import.
"""
from ..variable import set_tensor_operators
from . import alloc, elemwise, gradops, join, linalg, reduce, shape, subtensor

set_tensor_operators(
    # arithmetic, comparison and logic
    add=elemwise.add, sub=elemwise.sub, mul=elemwise.mul, true_div=elemwise.true_div,
    int_div=elemwise.int_div, mod=elemwise.mod, pow=elemwise.pow, neg=elemwise.neg,
    abs=elemwise.abs, lt=elemwise.lt, le=elemwise.le, gt=elemwise.gt, ge=elemwise.ge,
    neq=elemwise.neq, logical_not=elemwise.logical_not, logical_and=elemwise.logical_and,
    logical_or=elemwise.logical_or, logical_xor=elemwise.logical_xor, cast=elemwise.cast,
    clip=elemwise.clip,
    # shapes and indexing
    shape=shape.shape, reshape=shape.reshape, flatten=shape.flatten,
    dimshuffle=shape.dimshuffle, transpose=shape.transpose, squeeze=shape.squeeze,
    getitem=subtensor.getitem, zeros_like=alloc.zeros_like, ones_like=alloc.ones_like,
    # reductions
    sum=reduce.sum, mean=reduce.mean, prod=reduce.prod, max=reduce.max, min=reduce.min,
    argmax=reduce.argmax, argmin=reduce.argmin, var=reduce.var, std=reduce.std,
    all=reduce.all, any=reduce.any,
    # joining and linear algebra
    stack=join.stack, repeat=join.repeat, dot=linalg.dot, matmul=linalg.matmul,
)

__all__ = ["alloc", "elemwise", "gradops", "join", "linalg", "reduce", "shape", "subtensor"]
