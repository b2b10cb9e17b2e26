"""The import graph of nnthe/core: imports point one way (graph/types -> ops -> gradient
-> rewrite -> compile), no circle of more than one module, no imports hidden in
functions, and core never imports the libraries built on it."""
import ast
import pathlib

import pytest

CORE = pathlib.Path(__file__).resolve().parents[2] / "nnthe" / "core"

#: Each layer may import only itself and the layers before it.
LAYERS = [
    {"nnthe.core.hints"},
    {"nnthe.core.graph"},
    {"nnthe.core.types", "nnthe.core.aliasing"},
    {"nnthe.core.variable", "nnthe.core.shared", "nnthe.core.fgraph"},
    {"ops"},
    {"nnet"},
    {"nnthe.core.gradient"},
    {"rewrite"},
    {"kernels"},
    {"compile"},
    {"scan", "nnthe.core.ifelse"},
    {"nnthe.core.testing", "nnthe.core"},
]


def _modules():
    mods = {}
    for path in CORE.rglob("*.py"):
        name = ".".join(path.relative_to(CORE.parents[1]).with_suffix("").parts)
        mods[name.removesuffix(".__init__")] = path
    return mods


def _layer(mod):
    for k, layer in enumerate(LAYERS):
        if mod in layer or any(mod.startswith(f"nnthe.core.{pkg}") for pkg in layer if "." not in pkg):
            return k
    raise AssertionError(f"{mod} is in no layer of the test")


def _imports(mods):
    """module -> set of (imported nnthe module, inside a function?)."""
    out = {}
    for mod, path in mods.items():
        tree = ast.parse(path.read_text())
        in_fn = {id(s) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                 for s in ast.walk(f)}
        package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[:len(base) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                names = [target] + [f"{target}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for n in names:
                if n.startswith("nnthe") and n != mod and (n in mods or not n.startswith("nnthe.core")):
                    found.add((n, id(node) in in_fn))
        out[mod] = found
    return out


MODS = _modules()
IMPORTS = _imports(MODS)


@pytest.mark.parametrize("mod", sorted(MODS))
def test_imports_point_down_and_stay_in_core(mod):
    for target, _ in IMPORTS[mod]:
        if target.startswith("nnthe.config"):  # the settings module sits below everything
            continue
        assert target.startswith("nnthe.core"), f"{mod} imports {target}: core knows nothing above it"
        # A package importing its own modules (its __init__) is not a dependency upward.
        if mod != "nnthe.core" and not (MODS[mod].name == "__init__.py" and target.startswith(mod + ".")):
            assert _layer(target) <= _layer(mod), f"{mod} (layer {_layer(mod)}) imports {target} (layer {_layer(target)})"


def test_no_import_circle_and_no_import_inside_functions():
    local = [(m, t) for m, ts in IMPORTS.items() for t, in_fn in ts if in_fn]
    assert local == []
    edges = {m: {t for t, _ in ts if t in MODS} for m, ts in IMPORTS.items()}
    # Tarjan's strongly connected components, iteratively.
    index, low, on, stack, sccs, counter = {}, {}, set(), [], [], [0]
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter[0]; counter[0] += 1; stack.append(root); on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        x = stack.pop(); on.discard(x); comp.append(x)
                        if x == v:
                            break
                    sccs.append(comp)
            elif w not in index:
                index[w] = low[w] = counter[0]; counter[0] += 1; stack.append(w); on.add(w)
                work.append((w, iter(sorted(edges[w]))))
            elif w in on:
                low[v] = min(low[v], index[w])
    assert max(len(c) for c in sccs) == 1, [c for c in sccs if len(c) > 1]
