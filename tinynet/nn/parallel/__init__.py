"""``tinynet.nn.parallel``: training one model with several processes (PyTorch's and Megatron-LM's names).

- :class:`DistributedDataParallel` -- data parallelism: every rank holds the whole model,
  sees its share of the batch, and the gradients are averaged across ranks (bucketed
  all-reduces overlapped with the backward pass).
- :class:`SyncBatchNorm` -- batch normalization whose statistics span every rank's batch.
- :class:`ColumnParallelLinear`, :class:`RowParallelLinear` and the tensor-parallel
  attention/MLP blocks -- tensor (model) parallelism: one layer's weight split across ranks.
- :class:`Pipeline` -- pipeline parallelism: consecutive layers on consecutive ranks,
  micro-batches flowing through them on the GPipe schedule.

Every part runs on :mod:`tinynet.distributed` (MPI for cpu tensors, NCCL for cuda tensors).
"""
from .distributed import DistributedDataParallel  # noqa: E402,F401
from .sync_batchnorm import SyncBatchNorm
from .tensor_parallel_blocks import (ColumnParallelLinear, CopyToTensorParallelRegion, GatherFromTensorParallelRegion, ReduceFromTensorParallelRegion, RowParallelLinear, ScatterToTensorParallelRegion, TensorParallelDecoderBlock, TensorParallelMLP, TensorParallelSelfAttention, copy_to_tensor_parallel_region, gather_from_tensor_parallel_region, parallelize_tensor, reduce_from_tensor_parallel_region, scatter_to_tensor_parallel_region)  # noqa: F401,E501
from .pipeline import Pipeline  # noqa: F401
