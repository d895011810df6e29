"""``python -m tinynet.distributed.run -n N (SCRIPT | -m MODULE) ARGS``: start an MPI job of N processes.

The launcher of tinynet's distributed training, as ``torchrun`` is PyTorch's: it runs
``mpiexec -n N <this python> SCRIPT ARGS`` with the ``mpiexec`` of the MPI installed
alongside this Python (the ``mpich`` wheel of ``pip install "tinynet[distributed]"``; then
``PATH``), gives each process its share of the CPU cores, and exits with the job's status.
In the script, ``tinynet.distributed.init_process_group("mpi")`` joins the job::

    python -m tinynet.distributed.run -n 4 train_ddp.py --epochs 3
    python -m tinynet.distributed.run -n 2 -m tinynet train --model mlp    # a module, as python -m
    python -m tinynet.distributed.run -n 2 --timeout 600 script.py       # stop it after 10 minutes

Options: ``-n/--nproc N`` processes (default 1), ``--threads T`` per process, ``--timeout S``
(exit status 124 when it runs out), ``--mpiexec PATH``. From Python or a notebook use
:func:`tinynet.distributed.launch` (the same job, output streamed into the cell or returned).
The code lives in :mod:`tinynet.distributed.launcher` (this module is only the command, so
``python -m`` runs it without importing it twice).
"""
import sys

from tinynet.distributed.launcher import main

if __name__ == "__main__":
    sys.exit(main())
