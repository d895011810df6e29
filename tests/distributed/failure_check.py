"""Run by tests/test_distributed.py under ``mpiexec -n 2`` to check failure behaviour.

``raise``: rank 1 raises before a collective; the job must end (non-zero) rather than hang.
``late``: rank 1 never joins an all_reduce; rank 0 must raise its timeout error.
"""
import sys
import time

import tinynet as tn
import tinynet.distributed as dist


def main(mode):
    dist.init_process_group("mpi", timeout=3)
    rank = dist.get_rank()
    if mode == "raise" and rank == 1:
        raise ValueError("rank 1 failed on purpose")
    if mode == "late" and rank == 1:
        time.sleep(5)
        return 0
    try:
        dist.all_reduce(tn.ones(4))
    except RuntimeError as exc:
        print(f"rank {rank}: {exc}", flush=True)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
