"""Compiled kernels: faster thunks for some ops, chosen when a function is linked.

Every op's NumPy ``perform`` stays its reference and always works; a kernel is another
implementation of the same op that the linker may use instead (see :mod:`.registry`).
The backend is chosen by ``NNTHE_KERNELS={auto,numpy,numba}`` or ``Mode(kernels=...)``
(:mod:`.backend`); numba is an optional extra (``pip install 'nnthe[fast]'``), imported
only when a function that uses a kernel is linked. Kernels:

- :mod:`.fused`: one generated loop per fused elementwise program, cached on disk
  (:mod:`.cache`);
- :mod:`.pool`: max pooling and its gradient;
- :mod:`.conv`: the input gradient of a convolution (one GEMM and a compiled col2im);
- :mod:`.direct_conv`: direct convolution and filter gradient for few input channels,
  with the bias and ReLU epilogue in the store; :mod:`.conv_epilogue`: that epilogue as
  one compiled pass after perform's GEMM elsewhere.
"""
from .backend import (BACKENDS, get_num_threads, numba_available, resolve_backend,
                      set_num_threads)
from .cache import cache_dir
from .registry import KernelContext, KernelReport, has_kernel, kernel_thunk, register_kernel
# Register their kernels; for Conv2d the direct kernels first, then the GEMM epilogue's.
from . import conv, direct_conv, conv_epilogue, fused, pool  # noqa: F401

__all__ = ["BACKENDS", "KernelContext", "KernelReport", "cache_dir", "get_num_threads",
           "has_kernel", "kernel_thunk", "numba_available", "register_kernel", "resolve_backend",
           "set_num_threads"]
