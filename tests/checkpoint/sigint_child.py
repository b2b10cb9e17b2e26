"""Save checkpoints in a loop until interrupted, round after round (test_checkpoint_interrupt).

argv: the checkpoint path and the number of rounds. Each round saves in a loop; it prints
"saving" after its first save, and "interrupted" when a KeyboardInterrupt stops it. A
Ctrl-C that is lost (printed as "Exception ignored in ...") leaves the loop saving, and
the test sees no "interrupted".
"""
from __future__ import annotations

import signal
import sys

import numpy as np

import nnthe
from nnthe.checkpoint import save_checkpoint

# A child of a background job starts with SIGINT ignored; Ctrl-C is what is tested here.
signal.signal(signal.SIGINT, signal.default_int_handler)
path, rounds = sys.argv[1], int(sys.argv[2])
params = [nnthe.shared(np.zeros(16, dtype="float32"), name=f"layer{i}/W") for i in range(8)]
step = 0
for _ in range(rounds):
    try:
        first = True
        while True:
            step += 1
            save_checkpoint(path, params=params, meta={"step": step})
            if first:
                print("saving", flush=True)
                first = False
    except KeyboardInterrupt:
        print("interrupted", flush=True)
print("done", flush=True)
