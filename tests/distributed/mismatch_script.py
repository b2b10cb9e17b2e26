"""Run under mpiexec: the ranks build models of different sizes; broadcast_shared must
refuse on every rank, naming the parameter. Rank 0 prints every rank's message (one
writer, so the lines cannot interleave)."""
import nnthe.tensor as T
from nnthe import distributed, layers

distributed.init()
model = layers.Sequential([layers.Dense(4 + distributed.rank())])
model(T.matrix("X", shape=(None, 3)))
message = "no error"
try:
    distributed.broadcast_shared(model.params, what="parameters")
except ValueError as exc:
    message = str(exc)
messages = distributed.comm().gather(message, root=0)
if distributed.is_root():
    for r, m in enumerate(messages):
        print(f"rank {r}: {m}", flush=True)
