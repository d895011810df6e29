"""``tn.data``: datasets, the DataLoader, transforms and offline datasets.

    from tinynet.data import DataLoader, load_digits
    train = load_digits("train")
    for x, y in DataLoader(train, batch_size=64, shuffle=True, seed=0):
        ...
"""
from . import datasets, transforms
from .dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset,
                      random_split)
from .datasets import (load_digits, make_blobs, make_moons, make_regression, make_separable,
                       make_spirals)
from .loader import DataLoader, default_collate, default_convert
from .sampler import (BatchSampler, DistributedSampler, RandomSampler, Sampler, SequentialSampler,
                      SubsetRandomSampler, WeightedRandomSampler)
from .worker import WorkerInfo, get_worker_info
from .mnist import load_mnist, load_mnist_csv, load_mnist_idx, read_idx
from .docstrings import (DEFAULT_CLASSES, BaselineResult, DocstringRecord, DocstringTask, bag_of_words_baseline,
                         docstring_task, pretraining_documents, stdlib_docstrings)
from .wordpiece import WordPieceTokenizer

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "ChainDataset",
           "random_split", "DataLoader", "default_collate", "default_convert", "Sampler", "SequentialSampler",
           "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler", "DistributedSampler",
           "get_worker_info", "WorkerInfo", "transforms", "datasets", "load_digits", "make_moons", "make_spirals",
           "make_regression", "make_blobs", "make_separable", "load_mnist", "load_mnist_idx",
           "load_mnist_csv", "read_idx"]
