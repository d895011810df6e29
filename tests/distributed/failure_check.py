"""Run by tests/test_distributed.py under ``mpiexec -n 2`` to check failure behaviour.

``raise``: rank 1 raises before a collective; the job must end (non-zero) rather than hang.
``late``: rank 1 never joins an all_reduce; rank 0 must raise its timeout error.
``kill``: rank 1 is killed outright (SIGKILL: no Python code runs, as with the out-of-memory
killer) while rank 0 waits in an all_reduce; the job must end at once, not at the timeout.
"""
import os
import signal
import sys
import time

import tinynet as tn
import tinynet.distributed as dist


def main(mode):
    dist.init_process_group("mpi", timeout=60 if mode == "kill" else 3)
    rank = dist.get_rank()
    if mode == "raise" and rank == 1:
        raise ValueError("rank 1 failed on purpose")
    if mode == "late" and rank == 1:
        time.sleep(5)
        return 0
    if mode == "kill":
        dist.barrier()  # init_process_group has written the rank -> pid file on rank 0
        if rank == 1:
            time.sleep(0.5)  # rank 0 is inside its all_reduce by now
            os.kill(os.getpid(), signal.SIGKILL)
    try:
        dist.all_reduce(tn.ones(4))
    except RuntimeError as exc:
        print(f"rank {rank}: {exc}", flush=True)
        return 3
    print(f"rank {rank}: all_reduce returned", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
