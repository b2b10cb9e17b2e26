"""Load many damaged copies of a checkpoint, each under a timeout, in a worker process.

A load that hangs inside HDF5 cannot be interrupted from Python (HDF5 holds the GIL and
ignores Ctrl-C), so loads run in a separate, long-lived process (one start-up for all the
cases); a case that does not answer within ``timeout`` seconds is a hang: the worker is
killed and a new one started.
"""
from __future__ import annotations

import collections
import os
import selectors
import subprocess
import sys

from ckpt_helpers import child_env

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz_worker.py")


class Worker:
    def __init__(self, intact: str, sizes: tuple[int, ...]) -> None:
        self.args = [sys.executable, WORKER, intact, ",".join(map(str, sizes))]
        self.env = child_env()
        self._start()

    def _start(self) -> None:
        self.proc = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, env=self.env)
        first = self._answer(120)
        assert first == "ready", f"the fuzz worker did not start: {first!r}"

    def _answer(self, timeout: float) -> str | None:
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            if not sel.select(timeout):
                return None
        finally:
            sel.close()
        return self.proc.stdout.readline().strip()

    def load(self, path: str, timeout: float) -> str:
        self.proc.stdin.write(path + "\n")
        self.proc.stdin.flush()
        answer = self._answer(timeout)
        if answer is None or answer == "":
            died = answer == ""
            self.close()
            self._start()
            return "died" if died else "hang"
        return answer

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass


def run_cases(intact: str, sizes: tuple[int, ...], mutants, workdir: str,
              timeout: float = 10.0) -> tuple[collections.Counter, list]:
    """Load each mutant (an iterable of (label, bytes)); count the outcomes.

    Returns the counts of ``same``/``clear``/``wrong``/``unnamed``/``raw``/``hang``/``died``
    and the (label, answer) of every case that is not ``same`` or ``clear``.
    """
    counts: collections.Counter = collections.Counter()
    bad = []
    path = os.path.join(workdir, "mutant.h5")
    worker = Worker(intact, sizes)
    try:
        for label, data in mutants:
            with open(path, "wb") as fh:
                fh.write(data)
            answer = worker.load(path, timeout)
            kind = answer.split(" ", 1)[0]
            counts[kind] += 1
            if kind not in ("same", "clear"):
                bad.append((label, answer))
    finally:
        worker.close()
    return counts, bad
