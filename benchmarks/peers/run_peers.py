"""Run every available peer benchmark and print one markdown table.

Usage (from the repository root, with the benchmark venv, see benchmarks/README.md)::

    /work/benchvenv/bin/python benchmarks/peers/run_peers.py --quick      # smoke test
    /work/benchvenv/bin/python benchmarks/peers/run_peers.py --json out.json

Each (peer, workload) pair runs in its own subprocess, so that peak RSS is that
workload's alone and one framework's thread pools never share a process with another's.
Workloads are interleaved (all peers on one workload, then the next), so a noisy
neighbour hits every column alike; compare the ratios of one run, not numbers across
runs. ``--quick`` trains on a few batches and scales the time to a full epoch (marked
with ``*``); its losses and accuracies are those of an unfinished epoch.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if __package__:
    PKG = __package__
else:  # run as a script: make the ``peers`` package importable
    sys.path.insert(0, str(HERE.parent))
    PKG = HERE.name
common = importlib.import_module(PKG + ".common")  # before numpy: pins the threads

PEERS = ["nnthe", "nnthe-numpy", "torch", "jax", "pytensor"]
#: Peers that are nnthe with a kernel backend forced (``NNTHE_KERNELS``); "nnthe" itself
#: runs with the default (``auto``: numba when installed).
NNTHE_BACKENDS = {"nnthe-numpy": "numpy"}
WORKLOADS = ["seed", "mlp", "cnn", "infer"]
QUICK_BATCHES = 40


def _module(peer: str):
    if peer in NNTHE_BACKENDS:
        peer = "nnthe"
    return importlib.import_module(f"{PKG}.{'gemm_bound' if peer == 'gemm' else peer + '_peer'}")


def _worker(peer: str, workload: str, data_dir, quick: bool) -> dict:
    """Run one workload of one peer in this process; return its dict."""
    try:
        mod = _module(peer)
        out = {"version": mod.version()}
        if workload == "seed":
            if peer == "gemm":
                out.update(mod.sgemm_peak())
            else:
                out.update(mod.seed_program(n_calls=2000 if quick else 20000))
            return out
        data = None if peer == "gemm" else common.load_mnist(data_dir)
        mb = QUICK_BATCHES if quick else None
        if workload == "mlp":
            out.update(mod.mlp_epoch(data, max_batches=mb) if peer != "gemm"
                       else mod.mlp_epoch(data))
        elif workload == "cnn":
            out.update(mod.cnn_epoch(data, max_batches=mb) if peer != "gemm"
                       else mod.cnn_epoch(data))
        elif workload == "infer":
            out.update(mod.cnn_inference(data, passes=1 if quick else 3) if peer != "gemm"
                       else mod.cnn_inference(data))
        return out
    except common.PeerUnavailable as e:
        return {"unavailable": str(e)}


def cpu_busy(interval: float = 1.0) -> float | None:
    """Fraction of all cores busy over ``interval`` seconds (/proc/stat), or None."""
    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + (v[4] if len(v) > 4 else 0)  # total, idle + iowait
    try:
        t0, i0 = snap()
        time.sleep(interval)
        t1, i1 = snap()
    except (OSError, ValueError, IndexError):
        return None
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


def wait_idle(max_wait: float, threshold: float = 0.25) -> float | None:
    """Wait (up to ``max_wait`` s) until other processes keep under ``threshold`` of the
    cores busy; return the last busy fraction seen (None where /proc/stat is missing)."""
    deadline = time.monotonic() + max_wait
    busy = cpu_busy()
    while busy is not None and busy > threshold and time.monotonic() < deadline:
        busy = cpu_busy(2.0)
    return busy


def _run_sub(peer, workload, args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        cmd = [sys.executable, str(HERE / "run_peers.py"), "--worker", peer, workload,
               "--out", str(out)]
        if args.data:
            cmd += ["--data", args.data]
        if args.quick:
            cmd.append("--quick")
        busy = wait_idle(args.wait_idle)
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        try:
            env = dict(os.environ)
            if peer in NNTHE_BACKENDS:
                env["NNTHE_KERNELS"] = NNTHE_BACKENDS[peer]
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, env=env)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {args.timeout} s"}
        wall = time.perf_counter() - t0
        if p.returncode != 0 or not out.exists():
            tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
            return {"error": f"exit {p.returncode}: " + " | ".join(tail)}
        res = json.loads(out.read_text())
        res["process_wall_s"] = wall
        res["loadavg_1min_before"] = load
        res["cpu_busy_before"] = busy
        return res


# --------------------------------------------------------------------------- table

def _get(results, peer, workload, key):
    r = results.get(workload, {}).get(peer, {})
    return r.get(key) if isinstance(r, dict) else None


def _fmt(v, digits=3, star=False):
    if v is None:
        return "–"
    if isinstance(v, float):
        if abs(v) >= 1000:
            s = f"{v:,.0f}"
        elif abs(v) >= 100:
            s = f"{v:.0f}"
        elif abs(v) >= 10:
            s = f"{v:.1f}"
        else:
            s = f"{v:.{digits}g}" if abs(v) < 1 else f"{v:.2f}"
    else:
        s = str(v)
    return s + ("*" if star else "")


def make_table(results: dict, peers: list[str]) -> str:
    cols = peers + ["gemm"]
    for w in results.values():
        for r in w.values():
            if isinstance(r, dict) and "loadavg_1min_before" in r:
                b = r.get("cpu_busy_before")
                r["_busy"] = (f"{100 * b:.0f}" if b is not None else "?") + \
                    f" ({r['loadavg_1min_before']:.1f})"

    def label(c):
        if c == "gemm":
            return "NumPy GEMM bound"
        mode = next((r.get("version", {}).get("mode") for w in results.values()
                     for p, r in w.items() if p == c and isinstance(r.get("version"), dict)
                     and r["version"].get("mode")), None)
        return f"{c} ({mode})" if mode else c

    head = "| workload | metric | " + " | ".join(label(c) for c in cols) + " |"
    lines = [head, "|" + "---|" * (len(cols) + 2)]

    def row(workload, label, key, per_peer=True, gemm_key=None, digits=3):
        cells = []
        for c in cols:
            if c == "gemm":
                v = _get(results, c, workload, gemm_key) if gemm_key else None
                cells.append(_fmt(v, digits))
                continue
            r = results.get(workload, {}).get(c, {})
            if "unavailable" in r:
                cells.append("n/a")
            elif "error" in r:
                cells.append("error")
            else:
                cells.append(_fmt(r.get(key), digits, star=bool(r.get("scaled"))
                                  and key in ("epoch_s", "epoch_median_s")))
        lines.append(f"| {workload} | {label} | " + " | ".join(cells) + " |")

    def ratio_row(workload, label, key, ref, invert=False):
        cells = []
        base = _get(results, ref, workload, key)
        for c in cols:
            v = _get(results, c, workload, key)
            if v is None or not base:
                cells.append("–")
            else:
                cells.append(f"{(base / v if invert else v / base):.2f}×")
        lines.append(f"| {workload} | {label} | " + " | ".join(cells) + " |")

    for w in results.values():
        for r in w.values():
            values = next((v for k, v in r.items() if k.startswith("rounds_")), None) \
                if isinstance(r, dict) else None
            if values and len(values) > 1:
                r["_rounds"] = " / ".join(_fmt(v) for v in values)
    round_label = {"call_us": "call µs", "epoch_median_s": "epoch s (median step × 468)",
                   "images_per_s": "images/s"}
    busy = ("cores busy before, % (1-min load)", "_busy")
    vs_nnthe = "nnthe" in cols
    groups = {
        "seed": [("build+compile s", "compile_s"), ("call µs (median)", "call_us"),
                 ("large sgemm GFLOP/s", "gflops", "gflops")]
                + ([("ratio", "call time / nnthe", "call_us", "nnthe", False)] if vs_nnthe else []),
        "mlp": None, "cnn": None,
        "infer": [("CNN images/s (batch 500)", "images_per_s", "images_per_s"),
                  ("ratio", "GEMM bound / peer", "images_per_s", "gemm", True)]
                 + ([("ratio", "images/s / nnthe", "images_per_s", "nnthe", False)] if vs_nnthe else [])
                 + [("peak RSS MiB", "peak_rss_mb")],
    }
    train = [("compile s (incl. 1st step)", "compile_s"),
             ("epoch s (wall)", "epoch_s", "epoch_s"),
             ("epoch s (median step × 468)", "epoch_median_s", "epoch_median_s"),
             ("ratio", "epoch / GEMM bound (median)", "epoch_median_s", "gemm", False),
             ("ratio", "epoch / torch (median)", "epoch_median_s", "torch", False)]
    if vs_nnthe:
        train.append(("ratio", "epoch / nnthe (median)", "epoch_median_s", "nnthe", False))
    train += [
             ("final loss (last 20 steps)", "final_loss"),
             ("test accuracy", "test_acc", None, 4),
             ("peak RSS MiB", "peak_rss_mb")]
    for w, spec in groups.items():
        if w not in results:
            continue
        extra = ([(f"{round_label[ROUND_KEY[w]]}, each round (the median one is shown)", "_rounds")]
                 if any("_rounds" in r for r in results[w].values()) else [])
        for item in (spec or train) + extra + [busy + ("_busy",)]:
            if item[0] == "ratio":
                ratio_row(w, *item[1:])
            else:
                label_, key = item[0], item[1]
                gk = item[2] if len(item) > 2 else None
                row(w, label_, key, gemm_key=gk, digits=item[3] if len(item) > 3 else 3)
    return "\n".join(lines)


def machine_info() -> dict:
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numpy as np  # after common
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpu": cpu, "cores": os.cpu_count(), "threads": common.THREADS,
            "numpy": np.__version__, "env": common.environment(),
            "threadpools": common.threadpool_info(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %z")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help=f"{QUICK_BATCHES} training batches scaled to an epoch, "
                         "1 inference pass, 2k seed calls")
    ap.add_argument("--json", metavar="OUT", help="also write all numbers to this file")
    ap.add_argument("--data", help="folder with the MNIST *.gz IDX files")
    ap.add_argument("--peers", default=",".join(PEERS),
                    help="comma-separated subset of " + ",".join(PEERS))
    ap.add_argument("--workloads", default=",".join(WORKLOADS),
                    help="comma-separated subset of " + ",".join(WORKLOADS))
    ap.add_argument("--timeout", type=float, default=600, help="seconds per subprocess")
    ap.add_argument("--wait-idle", type=float, default=0, metavar="S",
                    help="before each subprocess wait up to S seconds for the other "
                         "processes to leave the cores under 25%% busy (default 0)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="run each (peer, workload) this many times, interleaved, and "
                         "report the median round (default 1)")
    ap.add_argument("--worker", nargs=2, metavar=("PEER", "WORKLOAD"),
                    help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        res = _worker(*args.worker, args.data, args.quick)
        Path(args.out).write_text(json.dumps(res, default=str))
        return 0

    peers = [p for p in args.peers.split(",") if p]
    workloads = [w for w in args.workloads.split(",") if w]
    for name, given, known in (("peer", peers, PEERS), ("workload", workloads, WORKLOADS)):
        bad = [g for g in given if g not in known]
        if bad:
            ap.error(f"unknown {name}(s) {bad}; choose from {known}")
    common.find_mnist(args.data)  # fail early, with the places looked at

    results, versions, info, wall = run_all(args, peers, workloads)
    print(f"\nPeers, {'QUICK (scaled, *) ' if args.quick else ''}run of {info['date']} on "
          f"{info['cpu']} ({info['cores']} cores, {info['threads']} threads each), "
          f"Python {info['python']}, NumPy {info['numpy']}\n")
    print(make_table(results, peers))
    print()
    print(footnotes(versions, info, wall))
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"quick": args.quick, "machine": info, "versions": versions,
             "results": results}, indent=2, default=str))
    return 0


def footnotes(versions: dict, info: dict, wall: float) -> str:
    """Versions, BLAS and wall time of a run, as markdown list lines."""
    lines = [f"- {p}: " + ", ".join(f"{k}={val}" for k, val in v.items())
             for p, v in versions.items() if p != "gemm"]
    pools = "; ".join(f"{d.get('internal_api')} {d.get('version')} "
                      f"{d.get('architecture') or ''} x{d.get('num_threads')}"
                      for d in info["threadpools"])
    lines.append(f"- NumPy BLAS: {pools or 'threadpoolctl not installed'}")
    lines.append(f"- OPENBLAS_CORETYPE={info['env'].get('OPENBLAS_CORETYPE')}")
    lines.append(f"- total wall time {wall:.0f} s")
    return "\n".join(lines)


#: The number each workload's rounds are ranked by (the median round is reported).
ROUND_KEY = {"seed": "call_us", "mlp": "epoch_median_s", "cnn": "epoch_median_s",
             "infer": "images_per_s"}


def median_round(rounds: list[dict], key: str) -> dict:
    """The round whose ``key`` is the median of the successful rounds (the lower middle
    one for an even count), with every round's value in ``rounds_<key>``; the first
    failure when no round succeeded."""
    ok = [r for r in rounds if isinstance(r.get(key), (int, float))]
    if not ok:
        return rounds[0]
    ranked = sorted(ok, key=lambda r: r[key])
    best = dict(ranked[(len(ranked) - 1) // 2])
    best["rounds_" + key] = [r.get(key) for r in rounds]
    return best


def run_all(args, peers: list[str], workloads: list[str]) -> tuple[dict, dict, dict, float]:
    """Run every (workload, peer) pair in its own subprocess, ``args.rounds`` times,
    interleaved (all peers of a workload, round after round, then the next workload);
    keep each pair's median round. Return (results, versions, machine info, wall seconds).

    Why rounds: on this shared machine a process sometimes runs its 2-thread GEMMs at
    half speed for its whole life (a noisy neighbour, it seems: pure NumPy shows it
    too, e.g. 13 calls of (640, 32) @ (32, 800) in 8.8 ms instead of 3.0). One such
    process used to decide a ratio; the median of interleaved rounds does not let it.
    """
    t_start = time.perf_counter()
    results: dict = {}
    rounds = max(1, getattr(args, "rounds", 1))
    for w in workloads:
        runs: dict = {p: [] for p in peers + ["gemm"]}
        for k in range(rounds):
            for p in peers + ["gemm"]:
                if runs[p] and "unavailable" in runs[p][0]:
                    continue  # not installed: one message is enough
                t0 = time.perf_counter()
                r = _run_sub(p, w, args)
                runs[p].append(r)
                status = ("n/a: " + r["unavailable"]) if "unavailable" in r else \
                    ("ERROR: " + r["error"]) if "error" in r else \
                    f"ok {ROUND_KEY[w]}={r.get(ROUND_KEY[w])}"
                print(f"[{time.perf_counter() - t_start:6.1f}s] {w:5s} {p:11s} round {k + 1}/{rounds} "
                      f"{time.perf_counter() - t0:6.1f}s busy before "
                      f"{r.get('cpu_busy_before') or 0:.2f} load {os.getloadavg()[0]:.2f} {status}",
                      file=sys.stderr, flush=True)
        results[w] = {p: median_round(rs, ROUND_KEY[w]) for p, rs in runs.items()}

    versions = {}
    for w in workloads:
        for p, r in results[w].items():
            if "version" in r:
                versions.setdefault(p, r["version"])
    return results, versions, machine_info(), time.perf_counter() - t_start


if __name__ == "__main__":
    sys.exit(main())
