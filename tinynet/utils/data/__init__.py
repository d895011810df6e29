"""``tinynet.utils.data``: the same names as ``torch.utils.data`` (they live in ``tinynet.data``).

``from tinynet.utils.data import DataLoader, Dataset, TensorDataset, random_split`` works as
the PyTorch import does.
"""
from ...data.dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset,
                            random_split)
from ...data.loader import DataLoader, default_collate, default_convert
from ...data.sampler import (BatchSampler, DistributedSampler, RandomSampler, Sampler, SequentialSampler,
                            SubsetRandomSampler, WeightedRandomSampler)
from ...data.worker import WorkerInfo, get_worker_info
from . import distributed  # noqa: F401  (tinynet.utils.data.distributed.DistributedSampler)

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "ChainDataset", "random_split",
           "DataLoader", "default_collate", "default_convert", "Sampler", "SequentialSampler", "RandomSampler",
           "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler", "DistributedSampler", "get_worker_info",
           "WorkerInfo"]
