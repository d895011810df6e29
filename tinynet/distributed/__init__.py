"""``tinynet.distributed``: several processes training together (PyTorch's ``torch.distributed`` names).

Processes come from MPI (``mpiexec -n N python script.py``; mpi4py and the mpich wheel are
the ``distributed`` extra: ``pip install "tinynet[distributed]"``)::

    import tinynet as tn
    import tinynet.distributed as dist

    dist.init_process_group("mpi")
    t = tn.tensor([float(dist.get_rank())])
    dist.all_reduce(t)                     # every rank now holds 0 + 1 + ... + (N - 1)

The collectives (:mod:`.collectives`) work on tensors of any device and, with
``async_op=True``, return a :class:`Work` to ``wait()`` on. With ``init_process_group("nccl")``
cuda tensors go GPU to GPU through NVIDIA's NCCL (CuPy's ``cupy.cuda.nccl``, :mod:`.nccl`);
otherwise they go over MPI through a host copy. Every wait is bounded by the group's timeout.
"""
from .collectives import (Work, all_gather, all_gather_into_tensor, all_reduce, barrier, broadcast, gather, irecv,
                          isend, recv, reduce_scatter_tensor, scatter, send)
from .process_group import (ReduceOp, destroy_process_group, get_backend, get_rank, get_world_size,
                            init_process_group, is_available, is_initialized, is_mpi_available, is_nccl_available)
from .launcher import find_mpiexec, launch

__all__ = ["ReduceOp", "Work", "init_process_group", "destroy_process_group", "is_available", "is_initialized",
           "is_mpi_available", "is_nccl_available", "get_backend", "get_rank", "get_world_size", "all_reduce",
           "broadcast", "all_gather", "all_gather_into_tensor", "reduce_scatter_tensor", "send", "recv", "isend",
           "irecv", "gather", "scatter", "barrier", "launch", "find_mpiexec"]
