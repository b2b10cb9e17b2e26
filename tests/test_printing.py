"""nnthe.printing: pp, debugprint, to_dot, pydotprint."""
from __future__ import annotations

import io
import re
import shutil

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe.printing import GraphvizNotFoundError, debugprint, pp, pydotprint, to_dot


def test_pp_seed_expression():
    x = T.scalar("x")
    assert nnthe.pp(x ** 2 + 3 * x + 1) == "((x ** 2) + (3 * x)) + 1"


def test_pp_other_forms():
    x, y = T.vector("x"), T.vector("y")
    assert pp(-x) == "-x"
    assert pp(T.exp(x) / y) == "exp(x) / y"
    assert pp(T.dot(x, y)) == "dot(x, y)"
    assert pp(x * 0.5) == "x * 0.5"
    assert pp([x + y, x - y]) == "x + y\nx - y"
    assert "Sum" in pp(x.sum())


def test_debugprint_variable():
    x = T.vector("x")
    h = T.exp(x)
    y = h + h * 2
    buf = io.StringIO()
    text = debugprint(y, file=buf)
    assert buf.getvalue() == text
    lines = text.splitlines()
    assert lines[0].startswith("add [id A] float32(?,)")
    assert any(l.startswith(" | |exp") or l.startswith(" |exp") for l in lines)
    # the shared subexpression is printed once, then referenced with "..."
    assert sum("exp [id" in l for l in lines) == 2 and any(l.endswith("...") for l in lines)
    assert " x float32(?,)" in text or "|x float32(?,)" in text
    plain = debugprint(y, file=io.StringIO(), print_type=False, ids=False)
    assert "[id" not in plain and "float32" not in plain


def test_debugprint_compiled_function():
    x = T.vector("x")
    f = nnthe.function([x], T.exp(x).sum(), name="f")
    text = debugprint(f, file=io.StringIO())
    assert "Sum" in text and "exp" in text


def test_debugprint_multi_output_and_errors():
    a, b = T.split(T.vector("v"), [1, 2])
    text = debugprint([a, b], file=io.StringIO())
    assert "Split" in text and ".0" in text and ".1" in text
    with pytest.raises(TypeError, match="expected a Variable"):
        debugprint(42, file=io.StringIO())


def test_to_dot():
    x = T.matrix("x")
    w = nnthe.shared(np.zeros((3, 2), dtype="float32"), name="W")
    y = T.tanh(T.dot(x, w) + 1.0)
    dot = to_dot(y, name="net")
    assert dot.startswith('digraph "net" {') and dot.rstrip().endswith("}")
    assert dot.count("{") == dot.count("}")
    assert re.search(r'v\d+ \[label="x\\nfloat32\(\?, \?\)", shape=box\];', dot)
    assert 'label="W\\nfloat32(3, 2)"' in dot
    assert "fillcolor" in dot   # the constant 1.0
    assert re.search(r"v\d+ -> op\d+ \[label=\"0\"\];", dot)
    assert re.search(r"op\d+ -> v\d+;", dot)
    for line in dot.splitlines()[2:-1]:
        assert line.endswith(";"), line
    f = nnthe.function([x], y)
    assert to_dot(f).startswith("digraph")


def _compiled_net():
    """A fused update chain, and a lone elementwise op (fusion needs two) made in place."""
    x = T.matrix("x", shape=(None, 3))
    w = nnthe.shared(np.ones((3, 2), dtype="float32"), name="W")
    v = nnthe.shared(np.ones((520, 520), dtype="float32"), name="V")
    return nnthe.function([x], T.dot(x, w) * 2.0,
                          updates={v: v * 0.9 + 0.1 * T.tanh(v)})


def test_to_dot_marks_fused_and_inplace_nodes():
    f = _compiled_net()
    dot = to_dot(f)
    fused = [line for line in dot.splitlines() if "Fused{" in line]
    assert fused and all('fillcolor="#ffd27f"' in line for line in fused)
    assert "tanh" in fused[0]
    inplace = [line for line in dot.splitlines() if "inplace=" in line and "op" in line.split()[0]]
    assert inplace and all('fillcolor="#ffb3b3"' in line for line in inplace)
    plain = [line for line in dot.splitlines() if "label=\"Dot\"" in line]
    assert plain and "fillcolor" not in plain[0]


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
@pytest.mark.parametrize("ext,magic", [("svg", b"<?xml"), ("png", b"\x89PNG"), ("pdf", b"%PDF")])
def test_pydotprint_renders(tmp_path, ext, magic):
    out = pydotprint(_compiled_net(), tmp_path / f"g.{ext}")
    data = open(out, "rb").read()
    assert data.startswith(magic)
    if ext == "svg":
        assert b"Fused{" in data and b"W" in data
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"g.{ext}"]


def test_pydotprint_dot_text_and_errors(tmp_path, monkeypatch):
    x = T.vector("x")
    out = pydotprint(x * 2, tmp_path / "g.dot")
    assert open(out).read() == to_dot(x * 2)
    with pytest.raises(ValueError, match="format must be one of"):
        pydotprint(x, tmp_path / "g.jpeg")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GraphvizNotFoundError, match="apt-get install graphviz"):
        pydotprint(x, tmp_path / "g.svg")
    assert not (tmp_path / "g.svg").exists()
    with pytest.raises(GraphvizNotFoundError, match="/no/such/dot"):
        pydotprint(x, tmp_path / "g.png", dot="/no/such/dot")
