"""Benchmarks of the symbolic core: call overhead, an MLP training step against its GEMM
bound, and compile-time scaling on deep graphs.

    python benchmarks/bench_core.py [--data DIR] [--steps N] [--write]

Everything is measured in one process on one machine, with BLAS limited to 2 threads;
ratios are what to compare across runs (the machines are shared and noisy). ``--write``
replaces the "Core" section of ``benchmarks/RESULTS.md`` with this run's table.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

# The peers' helpers: thread pinning (set before NumPy loads), timing, the GEMM bound.
from peers import common, gemm_bound  # noqa: E402

import numpy as np  # noqa: E402

import nnthe  # noqa: E402
import nnthe.tensor as T  # noqa: E402


def bench_seed() -> dict:
    t = time.perf_counter()
    x = T.scalar("x")
    y = x ** 2 + 3 * x + 1
    f = nnthe.function([x], nnthe.grad(y, x))
    compile_s = time.perf_counter() - t
    assert f(2) == 7
    return {"compile_s": compile_s, "call_us": common.call_latency_us(lambda: f(2), 140000, 7)}


def build_mlp(rng: np.random.Generator, profile: bool = False):
    """The MLP 784-800-800-10 training function (ReLU, fused softmax CE, Adam 1e-3)."""
    from nnthe import optim

    X = T.matrix("X", shape=(None, 784))
    y = T.ivector("y")

    def glorot(n_in, n_out):
        lim = np.sqrt(6 / (n_in + n_out))
        return nnthe.shared(rng.uniform(-lim, lim, (n_in, n_out)).astype("float32"))

    sizes = [784, 800, 800, 10]
    params = []
    h = X
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        W, bias = glorot(a, b), nnthe.shared(np.zeros(b, "float32"))
        W.name, bias.name = f"W{k}", f"b{k}"
        params += [W, bias]
        h = T.dot(h, W) + bias
        if k < len(sizes) - 2:
            h = T.nnet.relu(h)
    loss = T.nnet.softmax_cross_entropy_with_logits(h, y).mean()
    opt = optim.Adam(learning_rate=1e-3)
    t = time.perf_counter()
    train = nnthe.function([X, y], loss, updates=opt.updates(loss, params), name="mlp_train",
                           profile=profile)
    compile_s = time.perf_counter() - t
    return train, params, compile_s


def gemm_bound_mlp() -> float:
    """Seconds for the 8 matrix products of one MLP training step, in plain NumPy
    (``benchmarks/peers/gemm_bound.py``, the bound compare.py uses too)."""
    return gemm_bound.mlp_epoch(repeats=7)["batch_s"]


def bench_mlp(data_dir: str | None, steps: int) -> dict:
    from nnthe.data import load_mnist

    (X_train, y_train), _ = load_mnist(data_dir, download=False)
    X_train = X_train.reshape(len(X_train), 784)
    rng = np.random.default_rng(0)
    train, params, compile_s = build_mlp(rng)
    train.trust_input = True
    batch = 128
    xb = [np.ascontiguousarray(X_train[i * batch:(i + 1) * batch]) for i in range(steps)]
    yb = [y_train[i * batch:(i + 1) * batch] for i in range(steps)]
    for i in range(3):
        train(xb[i], yb[i])
    # Interleave the step and the bound so both see the same machine load.
    step_times, bound_times = [], []
    for rep in range(3):
        t = time.perf_counter()
        for i in range(steps):
            train(xb[i], yb[i])
        step_times.append((time.perf_counter() - t) / steps)
        bound_times.append(gemm_bound_mlp())
    step = statistics.median(step_times)
    bound = statistics.median(bound_times)
    return {"compile_s": compile_s, "step_ms": step * 1e3, "gemm_ms": bound * 1e3,
            "ratio": step / bound, "rss_mb": common.peak_rss_mb(), "profile": profile_mlp(xb[0], yb[0])}


def profile_mlp(xb, yb) -> str:
    """The per-op profile of 20 MLP training steps, as text."""
    import io

    f, _, _ = build_mlp(np.random.default_rng(0), profile=True)
    for _ in range(20):
        f(xb, yb)
    buf = io.StringIO()
    f.profile.summary(file=buf, n_nodes=8)
    return buf.getvalue()


def bench_deep(widths=(500, 1000, 2000)) -> list[dict]:
    rows = []
    for n in widths:
        rng = np.random.default_rng(0)
        t0 = time.perf_counter()
        x = T.matrix("x", shape=(None, 8))
        h = x
        params = []
        for _ in range(n):
            W = nnthe.shared(rng.normal(0, 0.3, (8, 8)).astype("float32"))
            params.append(W)
            h = T.tanh(T.dot(h, W))
        cost = h.sum()
        t1 = time.perf_counter()
        grads = nnthe.grad(cost, params)
        t2 = time.perf_counter()
        f = nnthe.function([x], [cost] + grads)
        t3 = time.perf_counter()
        f(np.ones((4, 8), "float32"))
        rows.append({"layers": n, "build_s": t1 - t0, "grad_s": t2 - t1, "compile_s": t3 - t2,
                     "nodes": len(f.fgraph.toposort())})
    return rows


def table(seed: dict, mlp: dict | None, deep: list[dict]) -> str:
    lines = [
        f"Run {time.strftime('%Y-%m-%d %H:%M')} on {platform.machine()} ({os.cpu_count()} cores), "
        f"Python {platform.python_version()}, NumPy {np.__version__}, nnthe {nnthe.__version__}, "
        "BLAS threads 2.",
        "",
        "| workload | measured | target |",
        "| --- | --- | --- |",
        f"| seed program: build + compile | {seed['compile_s'] * 1e3:.1f} ms | |",
        f"| seed program: call `f(2)` (median) | {seed['call_us']:.2f} µs | ≤ 3 µs |",
    ]
    if mlp:
        lines += [
            f"| MLP 784-800-800-10 Adam: compile train fn | {mlp['compile_s'] * 1e3:.0f} ms | ≤ 100 ms |",
            f"| MLP step, batch 128 (median) | {mlp['step_ms']:.2f} ms | |",
            f"| GEMM bound of that step (same run) | {mlp['gemm_ms']:.2f} ms | |",
            f"| step / GEMM bound | {mlp['ratio']:.2f}× | ≤ 1.5× |",
            f"| peak RSS with MNIST loaded | {mlp['rss_mb']:.0f} MB | ≤ 300 MB |",
        ]
    lines += ["", "Deep chain of dense tanh layers of width 8 (build / grad / compile):", "",
              "| layers | nodes compiled | build | grad | compile |", "| --- | --- | --- | --- | --- |"]
    for r in deep:
        lines.append(f"| {r['layers']} | {r['nodes']} | {r['build_s']:.2f} s | {r['grad_s']:.2f} s | "
                     f"{r['compile_s']:.2f} s |")
    return "\n".join(lines) + "\n"


def write_section(text: str, title: str = "## Core (bench_core.py)") -> None:
    path = Path(__file__).with_name("RESULTS.md")
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    start = old.find(title)
    section = f"{title}\n\n{text}\n"
    if start == -1:
        new = old.rstrip() + "\n\n" + section
    else:
        end = old.find("\n## ", start + len(title))
        new = old[:start] + section + (old[end + 1:] if end != -1 else "")
    path.write_text(new)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("NNTHE_DATA", str(ROOT.parent / "shared/data/mnist")))
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--no-mlp", action="store_true")
    ap.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = ap.parse_args()
    seed = bench_seed()
    mlp = None if args.no_mlp else bench_mlp(args.data, args.steps)
    deep = bench_deep()
    text = table(seed, mlp, deep)
    print(text)
    if mlp:
        print(mlp["profile"])
    if args.write:
        write_section(text + ("\nProfile of the MLP training step (20 calls):\n\n```\n" + mlp["profile"] + "```\n"
                              if mlp else ""))


if __name__ == "__main__":
    main()
