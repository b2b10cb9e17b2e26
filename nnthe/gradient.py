"""``nnthe.gradient``: symbolic differentiation, as Theano's ``theano.gradient``.

``grad``, ``jacobian``, ``hessian``, ``Rop``, ``Lop`` and ``verify_grad``, plus the
gradient-altering ops ``disconnected_grad``, ``zero_grad`` and ``grad_clip``. They live in
:mod:`nnthe.core.gradient`; this module is the public name.
"""
from .core.gradient import (DisconnectedInputError, Lop, NullTypeGradError, Rop, disconnected_grad,
                            disconnected_type, grad, grad_clip, grad_not_implemented,
                            grad_undefined, hessian, is_disconnected, jacobian, stop_gradient,
                            zero_grad)
from .core.testing import GradientError, verify_grad

__all__ = ["grad", "jacobian", "hessian", "Lop", "Rop", "verify_grad", "disconnected_grad",
           "stop_gradient", "zero_grad", "grad_clip", "DisconnectedInputError",
           "NullTypeGradError", "GradientError", "disconnected_type", "grad_undefined",
           "grad_not_implemented", "is_disconnected"]
