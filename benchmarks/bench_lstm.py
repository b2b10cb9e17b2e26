"""LSTM benchmark: an nnthe training step against torch.nn.LSTM (CPU, eager), the
per-step overhead of scan, and the compile time of a 2-layer LSTM training function.

    python benchmarks/bench_lstm.py [--repeats N] [--write]

The step: batch 64, 100 time steps, 128 inputs, 256 hidden units, loss = mean square of
a dense layer on the last hidden state, forward + backward + an Adam update. Both
frameworks run in this process with the same threads; the measurements are
interleaved (nnthe, torch, nnthe, torch, ...) and the medians compared. ``--write``
replaces the "LSTM" section of ``benchmarks/RESULTS.md``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from peers import common  # noqa: E402  (pins threads before numpy loads)

import numpy as np  # noqa: E402

import nnthe  # noqa: E402
import nnthe.tensor as T  # noqa: E402
from nnthe import layers, optim  # noqa: E402

BATCH, STEPS, N_IN, HIDDEN = 64, 100, 128, 256


NOTES = """What dominates: the per-step matrix products (forward h @ W_hh; backward
dz @ W_hh.T, with the W_hh gradient summed outside the loop as one product) and the
elementwise gate arithmetic of the reverse step (about 60 small NumPy calls per step on
(64, 256) arrays, where torch runs fused kernels). The forward loop saves its matrix
products and sigmoid/tanh outputs for the reverse loop, so nothing is recomputed. With
2 BLAS threads on a machine loaded beyond its 2 cores, OpenBLAS's spinning threads slow
both frameworks 5-10x; run with NNTHE_BENCH_THREADS=1 on a busy machine."""


def nnthe_step(n_layers: int = 1):
    x = T.tensor3("x", shape=(None, STEPS, N_IN))
    y = T.matrix("y", shape=(None, 1))
    stack = [layers.LSTM(HIDDEN, return_sequences=(k < n_layers - 1)) for k in range(n_layers)]
    model = layers.Sequential(stack + [layers.Dense(1)])
    loss = ((model(x, training=True) - y) ** 2).mean()
    opt = optim.Adam(learning_rate=1e-3)
    t = time.perf_counter()
    f = nnthe.function([x, y], loss, updates=opt.updates(loss, model.trainable_params))
    return f, time.perf_counter() - t


def torch_step():
    import torch

    torch.set_num_threads(common.THREADS)
    lstm = torch.nn.LSTM(N_IN, HIDDEN, batch_first=True)
    dense = torch.nn.Linear(HIDDEN, 1)
    params = list(lstm.parameters()) + list(dense.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)

    def step(xv, yv):
        opt.zero_grad(set_to_none=True)
        out, _ = lstm(xv)
        loss = ((dense(out[:, -1]) - yv) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    return step


def scan_overhead_us(n: int = 20000) -> float:
    """µs per step of a scan whose step is one scalar addition."""
    v = T.vector("v")
    out, _ = nnthe.scan(lambda e, acc: acc + e, sequences=v, outputs_info=T.constant(np.float32(0)))
    f = nnthe.function([v], out[-1])
    f.trust_input = True
    data = np.ones(n, "float32")
    return common.median_seconds(lambda: f(data), repeats=7) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    import torch

    rng = np.random.default_rng(0)
    xv = rng.normal(size=(BATCH, STEPS, N_IN)).astype("float32")
    yv = rng.normal(size=(BATCH, 1)).astype("float32")
    xt, yt = torch.from_numpy(xv), torch.from_numpy(yv)

    load_before = os.getloadavg()
    f1, compile1 = nnthe_step(1)
    f2, compile2 = nnthe_step(2)
    f1.trust_input = True
    tstep = torch_step()
    f1(xv, yv); tstep(xt, yt)
    ours, theirs = [], []
    for _ in range(args.repeats):
        t = time.perf_counter(); f1(xv, yv); ours.append(time.perf_counter() - t)
        t = time.perf_counter(); tstep(xt, yt); theirs.append(time.perf_counter() - t)
    overhead = scan_overhead_us()
    load_after = os.getloadavg()
    m_ours, m_theirs = statistics.median(ours), statistics.median(theirs)
    rows = [
        ("LSTM step (64x100x128 -> 256, fwd+bwd+Adam), nnthe", f"{m_ours * 1e3:.1f} ms"),
        ("same, torch.nn.LSTM eager CPU", f"{m_theirs * 1e3:.1f} ms"),
        ("ratio nnthe / torch", f"{m_ours / m_theirs:.2f}x"),
        ("scan overhead per step (scalar add step)", f"{overhead:.2f} µs"),
        ("compile, 1-layer LSTM training function", f"{compile1:.2f} s"),
        ("compile, 2-layer LSTM training function", f"{compile2:.2f} s"),
        ("load average before / after", f"{load_before[0]:.1f} / {load_after[0]:.1f}"),
    ]
    table = "| measurement | value |\n|---|---|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows)
    print(table)
    if args.write:
        path = ROOT / "benchmarks" / "RESULTS.md"
        text = path.read_text() if path.exists() else ""
        section = ("## LSTM\n\n`python benchmarks/bench_lstm.py` "
                   f"({common.THREADS} threads, {args.repeats} interleaved repeats, medians)\n\n"
                   + table + "\n\n" + NOTES + "\n")
        start = text.find("## LSTM\n")
        if start >= 0:
            end = text.find("\n## ", start + 1)
            text = text[:start] + section + (text[end + 1:] if end >= 0 else "")
        else:
            text = text.rstrip("\n") + "\n\n" + section
        path.write_text(text)


if __name__ == "__main__":
    main()
