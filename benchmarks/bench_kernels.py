"""The numba kernels against the NumPy path they replace, and what they cost to compile.

    /work/venv/bin/python benchmarks/bench_kernels.py            # everything, ~1-2 min
    /work/venv/bin/python benchmarks/bench_kernels.py --compile  # cold/warm compile only

- **compile**: the MLP train function of bench_core (784-800-800-10, Adam) built,
  compiled and run for one step in a fresh process, with an empty kernel cache (cold)
  and again with the cache that run left (warm), pairs interleaved; prints the kernel
  compile report of each.
- **adam**: the fused Adam update of one 800x800 parameter: NumPy blocks, the kernel
  with 1 thread and with 2 (``parallel=True``), and in place as in a training step
  (outputs written into m, v and p), interleaved.
- **pool**: max-pool forward and gradient of the MNIST CNN's two pools (batch 128),
  NumPy ``perform`` against the kernels.

Numbers are medians of interleaved repetitions; the 1-minute load average is printed
with each, since the machine is shared.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402

_CHILD = """
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {root!r}); sys.path.insert(0, {root!r} + '/benchmarks')
import numpy as np
from bench_core import build_mlp
rng = np.random.default_rng(0)
train, params, compile_s = build_mlp(rng)
X = rng.normal(size=(128, 784)).astype('float32'); y = rng.integers(0, 10, 128).astype('int32')
t1 = time.perf_counter()
train(X, y)
t2 = time.perf_counter()
rep = train.kernel_report
print(json.dumps(dict(total=t2 - t0, compile=compile_s, first_step=t2 - t1,
                      kernels=len(rep.entries), hits=rep.cache_hits, kernel_s=rep.compile_time)))
"""


def load() -> float:
    return os.getloadavg()[0]


def bench_compile(pairs: int = 3) -> list[dict]:
    """Cold and warm compile + first step of the MLP, each in a fresh process."""
    out = []
    for _ in range(pairs):
        with tempfile.TemporaryDirectory() as cache:
            for kind in ("cold", "warm"):
                env = dict(os.environ, NNTHE_CACHE_DIR=cache, NNTHE_KERNELS="numba")
                la = load()
                p = subprocess.run([sys.executable, "-c", _CHILD.format(root=str(ROOT))],
                                   capture_output=True, text=True, env=env, timeout=600)
                if p.returncode:
                    raise RuntimeError(p.stderr)
                r = json.loads(p.stdout.strip().splitlines()[-1])
                r.update(kind=kind, load=la)
                out.append(r)
                print(f"{kind}: import+build+compile+first step {r['total']:.2f} s (nnthe.function "
                      f"{r['compile']:.2f} s, first step {r['first_step']:.3f} s; {r['kernels']} "
                      f"kernels, {r['hits']} from the disk cache, {r['kernel_s']:.2f} s) load {la:.1f}",
                      flush=True)
    return out


def _interleave(cands: dict, reps: int = 7, calls: int = 10) -> dict:
    res: dict = {k: [] for k in cands}
    for _ in range(reps):
        for k, fn in cands.items():
            ts = []
            for _ in range(calls):
                t = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - t)
            res[k].append(np.median(ts))
    return {k: float(np.median(v)) for k, v in res.items()}


def bench_adam() -> dict:
    import nnthe
    import nnthe.tensor as T
    from nnthe import optim
    from nnthe.core.kernels import KernelContext, KernelReport, kernel_thunk, set_num_threads
    from nnthe.core.rewrite.fusion import FusedElemwise

    W = nnthe.shared(np.ones((800, 800), "float32"), name="W")
    x = T.matrix("x", shape=(None, 800))
    loss = (T.dot(x, W) ** 2).mean()
    f = nnthe.function([x], loss, updates=optim.Adam().updates(loss, [W]),
                       mode=nnthe.Mode(kernels="numpy"))
    node = next(n for n in f.fgraph.toposort() if isinstance(n.op, FusedElemwise) and len(n.outputs) == 3)
    rng = np.random.default_rng(0)
    args = [np.asarray(rng.random(i.type.shape if None not in i.type.shape else ()), i.type.dtype)
            for i in node.inputs]
    set_num_threads(1)
    k1 = kernel_thunk(node, KernelContext(KernelReport()))
    # In a training step the linker lets the three outputs overwrite m, v and p: the
    # kernel then writes through the inputs' own parameters (see kernels/fused.py).
    names = [getattr(i, "name", None) or "" for i in node.inputs]
    destroy = {0: next(i for i, n in enumerate(names) if n.endswith("/m")),
               1: next(i for i, n in enumerate(names) if n.endswith("/v")),
               2: names.index("W")}
    k_inplace = kernel_thunk(node, KernelContext(KernelReport(), destroy))
    set_num_threads(2)
    k2 = kernel_thunk(node, KernelContext(KernelReport()))
    set_num_threads(None)
    ref = node.op.make_thunk(node)
    la = load()
    r = _interleave({"numpy blocks": lambda: ref(*args), "kernel 1 thread": lambda: k1(*args),
                     "kernel 2 threads": lambda: k2(*args),
                     "kernel 1 thread, in place": lambda: k_inplace(*args)}, calls=20)
    print(f"adam 800x800 (load {la:.1f}): " + ", ".join(f"{k} {v * 1e3:.3f} ms" for k, v in r.items()))
    return r


def bench_pool() -> dict:
    import nnthe.tensor as T
    from nnthe.core.kernels import KernelContext, KernelReport, kernel_thunk
    from nnthe.core.nnet.pool import MaxPoolGrad, Pool

    rng = np.random.default_rng(0)
    out = {}
    for shape in [(128, 32, 24, 24), (128, 32, 8, 8)]:
        x = np.maximum(rng.normal(size=shape).astype("float32"), 0)
        v = T.tensor("float32", shape=(None,) + shape[1:])
        node = Pool((2, 2)).make_node(v)
        gnode = MaxPoolGrad((2, 2)).make_node(v, node.outputs[0])
        y = node.op.perform(node, x)
        gy = rng.normal(size=y.shape).astype("float32")
        kf = kernel_thunk(node, KernelContext(KernelReport()))
        kg = kernel_thunk(gnode, KernelContext(KernelReport()))
        la = load()
        r = _interleave({"fwd numpy": lambda: node.op.perform(node, x), "fwd kernel": lambda: kf(x),
                         "grad numpy": lambda: gnode.op.perform(gnode, x, gy),
                         "grad kernel": lambda: kg(x, gy)}, reps=5, calls=5)
        print(f"pool {shape} (load {la:.1f}): " + ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in r.items()))
        out[str(shape)] = r
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--compile", action="store_true", help="only the cold/warm compile times")
    args = ap.parse_args()
    bench_compile()
    if not args.compile:
        bench_adam()
        bench_pool()
    return 0


if __name__ == "__main__":
    sys.exit(main())
