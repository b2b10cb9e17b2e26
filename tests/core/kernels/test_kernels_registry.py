"""The kernel registry: several factories per op class, asked in registration order."""
import nnthe.tensor as T
from nnthe.core.graph import Apply, Op
from nnthe.core.kernels import (KernelContext, KernelReport, conv_epilogue, direct_conv, has_kernel,
                                kernel_thunk, registry)
from nnthe.core.nnet.conv import Conv2d


class _Twice(Op):
    __props__ = ()

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type])

    def perform(self, node, x):
        return 2 * x


def test_the_first_factory_with_a_thunk_wins_in_registration_order(monkeypatch):
    monkeypatch.setattr(registry, "_FACTORIES", {})
    node = _Twice().make_node(T.dvector("x"))
    assert not has_kernel(node) and kernel_thunk(node, KernelContext(KernelReport())) is None
    asked = []

    def first(node, context):
        asked.append("first")
        return None  # no kernel for this node: the next factory is asked

    def second(node, context):
        asked.append("second")
        return "second's thunk"

    def third(node, context):
        asked.append("third")
        return "third's thunk"

    for factory in (first, second, third):
        registry.register_kernel(_Twice)(factory)
    assert has_kernel(node)
    assert kernel_thunk(node, KernelContext(KernelReport())) == "second's thunk"
    assert asked == ["first", "second"]


def test_conv2d_asks_the_direct_kernels_before_the_gemm_epilogue():
    assert registry._FACTORIES[Conv2d] == [direct_conv.conv2d_kernel, conv_epilogue.gemm_epilogue_thunk]
