"""Data-parallel training steps on MPI: 1 process (2 BLAS threads) against 2 ranks (1 each).

For the MNIST MLP and CNN of examples/mnist (global batch 128, float32, Adam, dropout on),
the script times training steps in three set-ups, interleaved round by round (A/B/C/A/B/C)
so a burst of load from other users hits all of them (each set-up is a fresh process:
compile, 3 warm-up steps, then the timed steps):

* ``1 proc``: one process, ``OMP_NUM_THREADS=2``, the ordinary step (no MPI at all);
  ``1 proc, 1 thread`` the same with one BLAS thread (what each rank gets);
* ``2 ranks``: ``mpiexec -n 2``, 1 thread each, 64 images per rank, the gradients
  averaged by nnthe.distributed's ``Allreduce`` (one flat buffer);
* ``2 ranks, 4 buckets``: the same, the buffer cut at tensor boundaries once a bucket
  holds a quarter of the bytes (3 calls for the MLP, 2 for the CNN, whose dense layer
  holds 83 % of the parameters).

It reports the median ms per step, the epoch time that makes (469 steps of 128: the
training loop's own overhead is not included), the ms per step spent inside
``Allreduce`` (which includes waiting for the slower rank), and the time of a bare
``Allreduce`` of the same bytes with no training around it (the transfer itself).

Then it prints the ring all-reduce paper estimate ``2 (N-1)/N x gradient bytes / link
bandwidth`` for N nodes, for the MNIST CNN and for a 100M-parameter model.

Usage (from the repository root)::

    /work/venv/bin/python benchmarks/bench_distributed.py [--steps 40] [--repeat 3]
    /work/venv/bin/python benchmarks/bench_distributed.py --estimate-only
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GLOBAL_BATCH = 128
STEPS_PER_EPOCH = math.ceil(60000 / GLOBAL_BATCH)


# -- the worker: one set-up, run as its own process (or under mpiexec) -----------------------

def worker(model_name: str, steps: int, quarter_buckets: bool) -> None:
    sys.path.insert(0, ROOT)
    sys.path.insert(0, os.path.join(ROOT, "examples", "mnist"))
    import numpy as np

    import nnthe
    import nnthe.tensor as T
    from nnthe import losses, optim

    import models

    dist = os.environ.get("NNTHE_BENCH_MPI") == "1"
    rank, size = 0, 1
    if dist:
        from nnthe import distributed
        distributed.init()
        rank, size = distributed.rank(), distributed.size()
    nnthe.random.seed(0)
    model = models.build(model_name)
    X = T.tensor4("X", shape=(None, 1, 28, 28))
    y = T.ivector("y")
    loss = losses.softmax_cross_entropy(model(X, training=True), y).mean()
    params = model.trainable_params
    opt = optim.Adam(learning_rate=1e-3)
    grads = nnthe.grad(loss, params)
    if dist:
        nbytes = sum(p.get_value(borrow=True).nbytes for p in params)
        bucket_mb = nbytes / 4 / 2**20 if quarter_buckets else None
        grads = distributed.allreduce_gradients(grads, weight=X.shape[0], bucket_mb=bucket_mb)
        distributed.broadcast_shared(model.params)
    step = nnthe.function([X, y], loss, updates=opt.updates(grads, params))
    rng = np.random.default_rng(rank)
    local = GLOBAL_BATCH // size
    xb = rng.random((local, 1, 28, 28), dtype=np.float32)
    yb = rng.integers(0, 10, local).astype(np.int32)
    for _ in range(3):
        step(xb, yb)
    times = []
    if dist:
        distributed.barrier()
        distributed.reset_allreduce_stats()
    for _ in range(steps):
        t0 = time.perf_counter()
        step(xb, yb)
        times.append(time.perf_counter() - t0)
    result = {"step_ms": 1e3 * statistics.median(times),
              "n_params": int(sum(p.get_value(borrow=True).size for p in params))}
    if dist:
        st = distributed.allreduce_stats()
        result["allreduce_ms"] = 1e3 * st["seconds"] / steps
        result["calls_per_step"] = st["calls"] / steps
        result["bytes"] = st["bytes"] / steps
        # The bare transfer: the same bytes, no training around it, so no waiting for a
        # rank that is still computing.
        from mpi4py import MPI
        buf = np.zeros(int(st["bytes"] / steps) // 4, dtype=np.float32)
        c = distributed.comm()
        bare = []
        for _ in range(30):
            c.Barrier()
            t0 = time.perf_counter()
            c.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            bare.append(time.perf_counter() - t0)
        result["bare_allreduce_ms"] = 1e3 * statistics.median(bare)
        # A step is as slow as its slowest rank: report the maximum over ranks.
        result["step_ms"] = c.allreduce(result["step_ms"], op=MPI.MAX)
    if rank == 0:
        print("RESULT " + json.dumps(result), flush=True)


# -- the driver --------------------------------------------------------------------------------

def _mpiexec() -> str:
    exe = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return exe if os.access(exe, os.X_OK) else "mpiexec"


def run_setup(setup: str, model: str, steps: int) -> dict:
    env = dict(os.environ, PYTHONPATH=ROOT)
    me = os.path.abspath(__file__)
    if setup.startswith("1 proc"):
        threads = "1" if "1 thread" in setup else "2"
        cmd = [sys.executable, me, "--worker", model, str(steps)]
    else:
        threads = "1"
        env["NNTHE_BENCH_MPI"] = "1"
        cmd = [_mpiexec(), "-n", "2", sys.executable, "-m", "mpi4py", me, "--worker", model,
               str(steps)]
        if "bucket" in setup:
            cmd += ["--quarter-buckets"]
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = threads
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    line = next((l for l in res.stdout.splitlines() if l.startswith("RESULT ")), None)
    if res.returncode != 0 or line is None:
        raise RuntimeError(f"{setup} {model} failed:\n{res.stderr[-3000:]}")
    return json.loads(line[len("RESULT "):])


def ring_estimate(n_params: int) -> list[str]:
    lines = []
    nbytes = 4 * n_params
    links = {"1 Gb/s": 1e9 / 8, "10 Gb/s": 10e9 / 8, "100 Gb/s": 100e9 / 8}
    lines.append("| N | " + " | ".join(links) + " |")
    lines.append("|---|" + "---|" * len(links))
    for n in (2, 4, 8, 16, 64):
        cells = []
        for bw in links.values():
            t = 2 * (n - 1) / n * nbytes / bw
            cells.append(f"{t * 1e3:.3g} ms")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=40, help="timed steps per set-up and round")
    p.add_argument("--repeat", type=int, default=3, help="rounds (set-ups interleaved)")
    p.add_argument("--models", default="mlp,cnn")
    p.add_argument("--estimate-only", action="store_true")
    p.add_argument("--worker", nargs=2, metavar=("MODEL", "STEPS"), help=argparse.SUPPRESS)
    p.add_argument("--quarter-buckets", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]), args.quarter_buckets)
        return
    n_cnn = 32 * 25 + 32 + 64 * 32 * 25 + 64 + 1024 * 256 + 256 + 256 * 10 + 10
    if not args.estimate_only:
        print(f"load before: {os.getloadavg()[0]:.2f} (1-min average, {os.cpu_count()} cores)")
        setups = ["1 proc", "1 proc, 1 thread", "2 ranks", "2 ranks, 4 buckets"]
        for model in args.models.split(","):
            results: dict[str, list[dict]] = {s: [] for s in setups}
            for _ in range(args.repeat):
                for s in setups:
                    results[s].append(run_setup(s, model, args.steps))
            print(f"\n{model} (global batch {GLOBAL_BATCH}, {results[setups[0]][0]['n_params']:,} "
                  f"parameters), median of {args.repeat} rounds x {args.steps} steps "
                  f"[min-max of the rounds' medians]:")
            print("| set-up | ms/step | epoch (469 steps) | in Allreduce ms/step | bare Allreduce ms |")
            print("|---|---|---|---|---|")
            for s in setups:
                steps = [r["step_ms"] for r in results[s]]
                med = statistics.median(steps)
                cells = [f"{med:.1f} [{min(steps):.1f}-{max(steps):.1f}]",
                         f"{med * STEPS_PER_EPOCH / 1e3:.1f} s"]
                if "allreduce_ms" in results[s][0]:
                    ar = [r["allreduce_ms"] for r in results[s]]
                    bare = [r["bare_allreduce_ms"] for r in results[s]]
                    calls = results[s][0]["calls_per_step"]
                    cells += [f"{statistics.median(ar):.2f} [{min(ar):.2f}-{max(ar):.2f}] "
                              f"({calls:.0f} call{'s' if calls > 1 else ''}, "
                              f"{results[s][0]['bytes'] / 2**20:.2f} MB)",
                              f"{statistics.median(bare):.2f}"]
                else:
                    cells += ["-", "-"]
                print(f"| {s} | " + " | ".join(cells) + " |")
        print(f"\nload after: {os.getloadavg()[0]:.2f}")
    print(f"\nRing all-reduce estimate 2(N-1)/N x bytes / bandwidth, MNIST CNN "
          f"({n_cnn:,} float32 parameters, {4 * n_cnn / 1e6:.2f} MB):")
    print("\n".join(ring_estimate(n_cnn)))
    print("\nThe same for a 100M-parameter model (400 MB of float32 gradients):")
    print("\n".join(ring_estimate(100_000_000)))


if __name__ == "__main__":
    main()
