"""The memory-sharing rules (nnthe.core.aliasing) that in-place, fusion and the linker share."""
import numpy as np

import nnthe
import nnthe.tensor as T
from nnthe.core.aliasing import alias_chain, aliases_given_memory, escaping, memory_root, owns_memory
from nnthe.core.rewrite.inplace import InplaceElemwise


def test_a_view_is_not_owned_and_leads_to_its_root():
    x = T.matrix("x")
    e = T.exp(x)
    v = e.reshape((-1,))
    assert memory_root(v) is e
    assert alias_chain(v) == [v, e]
    assert owns_memory(e) and not owns_memory(v)
    assert not owns_memory(x) and aliases_given_memory(x)
    assert not aliases_given_memory(e)
    assert aliases_given_memory(x.reshape((-1,)))


def test_in_place_writes_keep_ownership_and_chain_to_the_allocation():
    x = T.vector("x")
    e = T.exp(x)
    op = InplaceElemwise((e * 2).owner.op.scalar_op, 0, False)
    w = op(e, T.constant(np.float32(2)))
    assert memory_root(w) is e and owns_memory(w)
    # written into a view: not owned
    v = e.reshape((-1,))
    assert not owns_memory(op(v, T.constant(np.float32(2))))
    # written into the caller's array: not owned, and it aliases given memory
    assert not owns_memory(op(x, T.constant(np.float32(2))))
    assert aliases_given_memory(op(x, T.constant(np.float32(2))))


def test_the_cache_gives_the_same_answers():
    x = T.vector("x")
    h = T.exp(x)
    chain = [h]
    op = InplaceElemwise((h * 2).owner.op.scalar_op, 0, False)
    for _ in range(50):
        chain.append(op(chain[-1], T.constant(np.float32(1))))
    cache = {}
    assert all(owns_memory(v, cache) == owns_memory(v) for v in reversed(chain))
    assert len(cache) == len(chain)


def test_escaping_follows_views_and_writes():
    x = T.vector("x")
    e = T.exp(x)
    v = e[1:]
    assert escaping([v]) == {id(v), id(e)}
    assert id(x) not in escaping([T.exp(x)])


def test_an_output_viewing_an_input_is_copied():
    x = T.vector("x")
    f = nnthe.function([x], x[1:])
    a = np.arange(4, dtype="float32")
    out = f(a)
    out[:] = -1
    np.testing.assert_array_equal(a, [0, 1, 2, 3])
