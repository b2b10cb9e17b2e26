"""The symbolic core of nnthe: graph, types, ops, gradients, compilation.

Nothing here knows about layers, optimizers or checkpoints.
"""
from .graph import Apply, Constant, Op, Type, Variable, ancestors, clone_graph, graph_inputs, toposort
from .types import DisconnectedType, NullType, TensorType, UpcastWarning
from .variable import TensorConstant, TensorVariable, as_tensor_variable, constant
from .shared import SharedVariable, shared
from .gradient import grad
from .compile import Function, Mode, function
# Loops; importing them also gives jacobian/hessian for sizes known only at run time.
from .scan import foldl, foldr, map, reduce, scan
from .ifelse import ifelse

__all__ = ["Apply", "Constant", "Op", "Type", "Variable", "ancestors", "clone_graph",
           "graph_inputs", "toposort", "DisconnectedType", "NullType", "TensorType",
           "UpcastWarning", "TensorConstant", "TensorVariable", "as_tensor_variable",
           "constant", "SharedVariable", "shared", "grad", "Function", "Mode", "function", "scan",
           "map", "reduce", "foldl", "foldr", "ifelse"]
