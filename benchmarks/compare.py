"""nnthe head to head with PyTorch (CPU, eager), JAX (jit) and PyTensor (C backend), on
the same machine, in one run, with the NumPy GEMM bound of each workload.

    /work/benchvenv/bin/python benchmarks/compare.py            # full run, ~10 min
    /work/benchvenv/bin/python benchmarks/compare.py --quick    # smoke test, ~1-2 min

Each (framework, workload) pair runs ``--rounds`` times (5), round after round across the
frameworks, and the median round is reported, with every round's figure below it.
Run it with the benchmark venv of benchmarks/README.md (the peers live there, never in
nnthe's dependencies); a peer that is not installed is skipped with a message. Every
(framework, workload) pair runs in its own subprocess with 2 threads, the workloads
interleaved across frameworks. The table goes to stdout and, unless ``--no-write``,
replaces the "Head to head" section of ``benchmarks/RESULTS.md`` (with the date, the
versions and the machine). Quote ratios from one run: the machines are shared and noisy.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from peers import run_peers  # noqa: E402  (sets the thread variables first)

SECTION = "## Head to head (compare.py)"


def write_section(text: str, path: Path = HERE / "RESULTS.md") -> None:
    """Replace (or append) the ``SECTION`` of ``path`` with ``text``."""
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    body = f"{SECTION}\n\n{text.rstrip()}\n\n"
    start = old.find(SECTION)
    if start == -1:
        head, sep, rest = old.partition("\n## ")
        new = head.rstrip() + "\n\n" + body + (("## " + rest) if sep else "")
    else:
        end = old.find("\n## ", start + len(SECTION))
        new = old[:start] + body + (old[end + 1:] if end != -1 else "")
    path.write_text(new)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a few batches scaled to an epoch")
    ap.add_argument("--data", help="folder with the MNIST *.gz files (default: ../shared/data/mnist)")
    ap.add_argument("--peers", default=",".join(run_peers.PEERS))
    ap.add_argument("--workloads", default=",".join(run_peers.WORKLOADS))
    ap.add_argument("--timeout", type=float, default=600, help="seconds per subprocess")
    ap.add_argument("--wait-idle", type=float, default=60, metavar="S",
                    help="wait up to S s for idle cores before each measurement")
    ap.add_argument("--rounds", type=int, default=5,
                    help="runs of each (framework, workload), interleaved; the median is "
                         "reported (default 5)")
    ap.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = ap.parse_args(argv)
    peers = [p for p in args.peers.split(",") if p]
    workloads = [w for w in args.workloads.split(",") if w]
    run_peers.common.find_mnist(args.data)

    results, versions, info, wall = run_peers.run_all(args, peers, workloads)
    missing = [f"{p}: {r['unavailable']}" for w in results.values() for p, r in w.items()
               if "unavailable" in r]
    header = (f"Run of {info['date']}{' (QUICK: epochs scaled from a few batches, *)' if args.quick else ''} "
              f"on {info['cpu']} ({info['cores']} cores, {info['threads']} threads for every "
              f"framework), Python {info['python']}, NumPy {info['numpy']}. Epoch = 468 "
              "batches of 128 of the real MNIST; ratios use the median step time x 468. "
              f"Each cell is the median of {args.rounds} round(s), interleaved across frameworks.")
    text = "\n".join([header, "", run_peers.make_table(results, peers), "",
                      run_peers.footnotes(versions, info, wall)]
                     + ([""] + [f"- skipped: {m}" for m in sorted(set(missing))] if missing else []))
    print(text)
    if not args.no_write:
        write_section(text)
        print(f"\n(written to {HERE / 'RESULTS.md'})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
