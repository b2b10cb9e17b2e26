"""ONNX export of inference graphs (the optional extra ``pip install 'nnthe[onnx]'``).

``import nnthe.onnx`` does not import onnx: the package is needed only when a model is
exported, and its absence then raises an ImportError naming the extra.

>>> import nnthe.onnx
>>> nnthe.onnx.export(X, logits, 'model.onnx')                 # doctest: +SKIP
>>> nnthe.onnx.export_model(model, (1, 28, 28), 'mnist.onnx')  # doctest: +SKIP

Op translations live in :mod:`nnthe.onnx.converters`, one small function per op class,
registered with :func:`register`; :mod:`nnthe.onnx.export` explains why the graph as
written (not the rewritten one) is exported, and the opset (:data:`OPSET`, 17).
"""
from .export import OPSET, build_model, export, export_function, export_model
from .registry import UnsupportedOpError, register

__all__ = ["export", "export_function", "export_model", "build_model", "OPSET",
           "UnsupportedOpError", "register"]
