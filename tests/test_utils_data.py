"""``tinynet.utils.data``: torch.utils.data's names and semantics, with real worker processes."""
from __future__ import annotations

import os
import random as pyrandom
import time

import numpy as np
import pytest

import tinynet as tn
from tinynet.utils.data import (BatchSampler, DataLoader, Dataset, IterableDataset, RandomSampler,
                                SequentialSampler, SubsetRandomSampler, TensorDataset, WeightedRandomSampler,
                                default_collate, get_worker_info, random_split)


class Squares(Dataset):
    def __init__(self, n=10):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.float32(i), i * i


class Stream(IterableDataset):
    """Splits its range between workers, as PyTorch's docs show."""

    def __init__(self, n=7):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        ids = range(self.n) if info is None else range(info.id, self.n, info.num_workers)
        for i in ids:
            yield tn.tensor([float(i)])


class WhoLoads(Dataset):
    """Each sample reports the worker that made it, its seed and draws from every generator."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        return (info.id, info.seed, float(tn.rand(1).item()), float(np.random.rand()), pyrandom.random(),
                os.getpid())


def _rows(loader):
    return [(x.tolist(), y.tolist()) for x, y in loader]


@pytest.mark.parametrize("workers", [0, 2])
def test_map_style_batches_in_order(workers):
    got = _rows(DataLoader(Squares(), batch_size=3, num_workers=workers))
    assert got == [([0.0, 1.0, 2.0], [0, 1, 4]), ([3.0, 4.0, 5.0], [9, 16, 25]),
                   ([6.0, 7.0, 8.0], [36, 49, 64]), ([9.0], [81])]
    assert len(DataLoader(Squares(), batch_size=3, drop_last=True, num_workers=workers)) == 3


def test_workers_are_processes_with_distinct_reproducible_seeds():
    def run():
        return [s for batch in DataLoader(WhoLoads(), batch_size=2, num_workers=2, seed=3, collate_fn=list)
                for s in batch]

    first, second = run(), run()
    assert [s[:5] for s in first] == [s[:5] for s in second]  # a seeded loader reproduces the workers
    assert {s[0] for s in first} == {0, 1}
    assert {s[5] for s in first}.isdisjoint({os.getpid()})  # loaded in other processes
    seeds = {s[0]: s[1] for s in first}
    assert seeds[1] == seeds[0] + 1  # base_seed + worker_id
    by_worker = {w: [s[2] for s in first if s[0] == w] for w in (0, 1)}
    assert by_worker[0] != by_worker[1]  # tinynet's generator is seeded per worker
    assert len({s[3] for s in first}) == len(first) and len({s[4] for s in first}) == len(first)


def test_worker_init_fn_runs_in_each_worker():
    class Tagged(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return os.environ.get("TN_TEST_WORKER_TAG", "unset")

    def init(worker_id):
        os.environ["TN_TEST_WORKER_TAG"] = f"w{worker_id}"

    tags = [t for b in DataLoader(Tagged(), batch_size=1, num_workers=2, worker_init_fn=init) for t in b]
    assert sorted(tags) == ["w0", "w0", "w1", "w1"]
    assert "TN_TEST_WORKER_TAG" not in os.environ


@pytest.mark.parametrize("workers", [0, 2])
def test_iterable_dataset(workers):
    got = [b.tolist() for b in DataLoader(Stream(), batch_size=2, num_workers=workers)]
    if workers == 0:
        assert got == [[[0.0], [1.0]], [[2.0], [3.0]], [[4.0], [5.0]], [[6.0]]]
    else:  # PyTorch's order: the workers' batches in turn
        assert got == [[[0.0], [2.0]], [[1.0], [3.0]], [[4.0], [6.0]], [[5.0]]]
    with pytest.raises(ValueError, match="IterableDataset"):
        DataLoader(Stream(), shuffle=True)


def test_worker_errors_are_reraised_with_the_worker_traceback():
    class Bad(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            if i == 2:
                raise KeyError("sample 2 is missing")
            return i

    with pytest.raises(KeyError, match=r"(?s)Caught KeyError in DataLoader worker process \d.*sample 2 is missing"):
        list(DataLoader(Bad(), batch_size=1, num_workers=2))

    def bad_init(worker_id):
        raise ValueError("init failed")

    with pytest.raises(ValueError, match="init failed"):
        list(DataLoader(Squares(), batch_size=2, num_workers=2, worker_init_fn=bad_init))


def test_dead_worker_and_timeout_are_errors_not_hangs():
    class Dies(Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            os._exit(3)

    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        list(DataLoader(Dies(), batch_size=1, num_workers=1))

    class Slow(Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            time.sleep(5)
            return i

    with pytest.raises(RuntimeError, match="timed out"):
        list(DataLoader(Slow(), batch_size=1, num_workers=1, timeout=0.5))


def test_persistent_workers_reuse_processes_and_reshuffle():
    ds = TensorDataset(tn.arange(6).float(), tn.arange(6))
    loader = DataLoader(ds, batch_size=4, shuffle=True, num_workers=2, persistent_workers=True, seed=0)
    epoch1 = [y.tolist() for _, y in loader]
    pids = [p.pid for p in loader._workers.workers]
    epoch2 = [y.tolist() for _, y in loader]
    assert [p.pid for p in loader._workers.workers] == pids
    assert epoch1 != epoch2 and sorted(sum(epoch1, [])) == list(range(6))
    same = DataLoader(ds, batch_size=4, shuffle=True, seed=0)  # workers don't change the order
    assert [y.tolist() for _, y in same] == epoch1
    loader._workers.shutdown()


def test_samplers():
    tn.manual_seed(0)
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    perm = list(RandomSampler(range(6)))
    assert sorted(perm) == list(range(6))
    with_repl = list(RandomSampler(range(3), replacement=True, num_samples=10))
    assert len(with_repl) == 10 and set(with_repl) <= {0, 1, 2}
    assert len(list(RandomSampler(range(3), num_samples=7))) == 7  # cycles permutations
    assert sorted(SubsetRandomSampler([5, 7, 9])) == [5, 7, 9]
    drawn = list(WeightedRandomSampler([0.0, 0.0, 1.0, 3.0], 400))
    assert set(drawn) <= {2, 3} and 0.65 < drawn.count(3) / 400 < 0.85
    no_repl = list(WeightedRandomSampler([1, 1, 1, 0], 3, replacement=False))
    assert sorted(no_repl) == [0, 1, 2]
    assert list(BatchSampler(range(5), 2, drop_last=False)) == [[0, 1], [2, 3], [4]]
    assert list(BatchSampler(range(5), 2, drop_last=True)) == [[0, 1], [2, 3]]
    g = tn.Generator().manual_seed(5)
    a = list(RandomSampler(range(8), generator=g))
    assert a == list(RandomSampler(range(8), generator=tn.Generator().manual_seed(5)))
    with pytest.raises(ValueError, match="not all zero"):
        WeightedRandomSampler([0, 0], 2)
    with pytest.raises(ValueError, match="without replacement"):
        WeightedRandomSampler([1, 0], 2, replacement=False)


def test_loader_with_sampler_batch_sampler_and_collate():
    ds = Squares(6)
    got = [y.tolist() for _, y in DataLoader(ds, batch_size=2, sampler=[5, 4, 3, 2, 1, 0])]
    assert got == [[25, 16], [9, 4], [1, 0]]
    got = [y.tolist() for _, y in DataLoader(ds, batch_sampler=[[0, 5], [1]])]
    assert got == [[0, 25], [1]]
    assert [b for b in DataLoader(ds, batch_size=3, collate_fn=lambda s: len(s))] == [3, 3]
    unbatched = list(DataLoader(ds, batch_size=None))
    assert len(unbatched) == 6 and unbatched[2] == (np.float32(2.0), 4)
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(ds, sampler=[0], shuffle=True)
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(ds, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="need num_workers"):
        DataLoader(ds, persistent_workers=True)


def test_random_split_with_generator_and_default_collate():
    a, b = random_split(range(10), [0.7, 0.3], generator=tn.Generator().manual_seed(42))
    c, d = random_split(range(10), [0.7, 0.3], generator=tn.Generator().manual_seed(42))
    assert list(a) == list(c) and len(a) == 7 and sorted(list(a) + list(b)) == list(range(10))
    batch = default_collate([{"x": np.ones(2, np.float32), "y": 1}, {"x": np.zeros(2, np.float32), "y": 0}])
    assert batch["x"].shape == (2, 2) and batch["y"].tolist() == [1, 0]


def test_tensors_pickle_for_transport():
    import pickle

    t = tn.tensor([[1.5, 2.0]], dtype=tn.float64, requires_grad=True)
    back = pickle.loads(pickle.dumps(t))
    assert back.tolist() == t.tolist() and back.dtype == tn.float64 and back.requires_grad
    with pytest.raises(RuntimeError, match="part of a graph"):
        pickle.dumps(t * 2)
