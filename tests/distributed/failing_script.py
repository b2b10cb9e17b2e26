"""Run under mpiexec: rank 1 raises while rank 0 waits in a collective call.

Without ``python -m mpi4py`` (or nnthe's abort) rank 0 would wait forever."""
import sys

from nnthe import distributed

distributed.init()
if distributed.rank() == 1:
    raise ValueError("boom on rank 1")
distributed.barrier()
print("rank 0 got past the barrier", flush=True)
sys.exit(0)
