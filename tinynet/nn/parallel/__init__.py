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
from .distributed import DistributedDataParallel
from .pipeline import Pipeline
from .sync_batchnorm import SyncBatchNorm
from .tensor_parallel import (ColumnParallelLinear, CopyToTensorParallelRegion, GatherFromTensorParallelRegion,
                              ReduceFromTensorParallelRegion, RowParallelLinear, ScatterToTensorParallelRegion,
                              copy_to_tensor_parallel_region, gather_from_tensor_parallel_region,
                              reduce_from_tensor_parallel_region, scatter_to_tensor_parallel_region)
from .tensor_parallel_blocks import (TensorParallelDecoderBlock, TensorParallelMLP, TensorParallelSelfAttention,
                                     parallelize_tensor)

__all__ = ["DistributedDataParallel", "SyncBatchNorm", "Pipeline", "ColumnParallelLinear", "RowParallelLinear",
           "TensorParallelSelfAttention", "TensorParallelMLP", "TensorParallelDecoderBlock", "parallelize_tensor",
           "CopyToTensorParallelRegion", "ReduceFromTensorParallelRegion", "ScatterToTensorParallelRegion",
           "GatherFromTensorParallelRegion", "copy_to_tensor_parallel_region", "reduce_from_tensor_parallel_region",
           "scatter_to_tensor_parallel_region", "gather_from_tensor_parallel_region"]
