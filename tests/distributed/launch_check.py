"""Run by tests/test_distributed_cli.py through ``python -m tinynet.distributed.run`` and ``launch()``.

Every rank joins the process group, checks that it sees the job's size and the arguments
it was given, that its thread variables were set by the launcher, and that the ranks really
talk (an all_reduce of the ranks); then it exits with the status given as the first
argument on rank 1 (0 elsewhere), or, with ``sleep``, sleeps so the launcher's timeout fires.
"""
import os
import sys
import time

import tinynet as tn
import tinynet.distributed as dist


def main(argv):
    dist.init_process_group("mpi", timeout=60)
    rank, n = dist.get_rank(), dist.get_world_size()
    t = tn.tensor([float(rank)], dtype=tn.float64)
    dist.all_reduce(t)
    assert t.item() == n * (n - 1) / 2, (t.item(), n)
    threads = os.environ.get("OMP_NUM_THREADS")
    print(f"rank {rank} of {n}: args {argv[1:]} ranks sum {int(t.item())} threads {threads}", flush=True)
    if argv[0] == "sleep":
        time.sleep(60)
    dist.destroy_process_group()
    return int(argv[0]) if rank == 1 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
