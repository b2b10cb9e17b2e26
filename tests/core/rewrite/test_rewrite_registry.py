"""The rewrite machinery: registry, mode selection, the driver's guarantees."""
import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe.core.fgraph import FunctionGraph
from nnthe.core.compile.mode import Mode
from nnthe.core.rewrite import apply_rewrites, registered_rewrites, select
from nnthe.core.rewrite.registry import PHASES


def ops_of(f):
    """Op names in order; a fused node counts as the functions of its program."""
    names = []
    for n in (f.fgraph if hasattr(f, "fgraph") else f).toposort():
        program = getattr(n.op, "program", None)
        names += [ins[0] for ins in program] if program else [str(n.op).split("{")[0]]
    return names


def test_every_rewrite_has_a_phase_a_doc_and_fast_run():
    rws = registered_rewrites()
    assert len(rws) >= 10
    for r in rws.values():
        assert r.phase in PHASES
        assert r.doc, f"rewrite {r.name} has no docstring"
        assert "fast_run" in r.tags and r.name in r.tags


def test_exclude_by_name_switches_one_rewrite_off():
    x = T.vector("x")
    y = T.log(1 + x)
    on = nnthe.function([x], y)
    off = nnthe.function([x], y, mode=Mode(exclude=["local_log1p"]))
    assert "log1p" in ops_of(on)
    assert "log1p" not in ops_of(off) and "log" in ops_of(off)
    v = np.array([1e-3, 0.5], "float32")
    np.testing.assert_allclose(on(v), np.log1p(v), rtol=1e-6)
    np.testing.assert_allclose(off(v), np.log1p(v), rtol=1e-3)


def test_exclude_by_tag_and_fast_compile():
    x = T.vector("x")
    y = T.log(1 + x)
    f = nnthe.function([x], y, mode=Mode(exclude=["stabilize"]))
    assert "log1p" not in ops_of(f)
    g = nnthe.function([x], y, mode="FAST_COMPILE")
    assert "log1p" not in ops_of(g)


def test_unknown_rewrite_name_is_refused_with_a_hint():
    with pytest.raises(ValueError, match="did you mean 'local_log1p'"):
        select(exclude=["local_log1pp"])
    with pytest.raises(ValueError, match="unknown mode"):
        nnthe.function([T.scalar()], T.scalar() * 0, mode="FAST")


def test_rewrites_do_not_touch_the_users_graph():
    x = T.scalar("x")
    y = T.log(1 + x) * 1
    before = nnthe.pp(y)
    nnthe.function([x], y)
    assert nnthe.pp(y) == before


def _tanh_chain(n):
    x = T.vector("x")
    h = x
    for _ in range(n):
        h = T.tanh(h * 1 + 0)
    return x, h


def test_rewriting_a_deep_graph_is_iterative():
    # 4,000 levels: a recursive rewrite or toposort would exceed Python's recursion limit.
    x, h = _tanh_chain(4000)
    f = nnthe.function([x], h)
    # x * 1 + 0 vanish; the tanh chain stays (fused into one node).
    assert ops_of(f) == ["tanh"] * 4000
    np.testing.assert_allclose(f(np.zeros(3, "float32")), np.zeros(3))


@pytest.mark.slow
def test_rewriting_a_deep_graph_is_linear():
    # Wall-clock, so only in the slow run: 4x the nodes must not cost 16x the time
    # (the bound allows noise on a shared machine: < 8x, plus half a second).
    import time

    times = []
    for n in (1000, 4000):
        x, h = _tanh_chain(n)
        t = time.perf_counter()
        nnthe.function([x], h)
        times.append(time.perf_counter() - t)
    assert times[1] < 8 * times[0] + 0.5


def test_replace_refuses_a_different_type():
    x = T.vector("x")
    y = T.exp(x)
    fg = FunctionGraph([x], [y])
    with pytest.raises(TypeError, match="same dtype and shape"):
        fg.replace(y, T.matrix("m"), reason="test")


def test_apply_rewrites_on_fgraph_keeps_values():
    x = T.vector("x")
    y = (T.exp(x) - 1) * 1 + T.log(1 + x)
    fg = FunctionGraph([x], [y])
    apply_rewrites(fg)
    names = set(ops_of(fg))
    assert {"expm1", "log1p"} <= names


def test_the_registry_is_complete_in_a_fresh_interpreter():
    # Before any compile: select must know every rewrite (it used to be empty).
    import subprocess
    import sys

    code = ("from nnthe.core.rewrite import registered_rewrites, select\n"
            "n = len(registered_rewrites())\n"
            "assert n >= 15, n\n"
            "assert len(select(exclude=['local_log1p'])) == len(select()) - 1\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
