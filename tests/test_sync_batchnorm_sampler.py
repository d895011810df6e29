"""nn.SyncBatchNorm and data.DistributedSampler.

The sampler is checked in this process (``num_replicas``/``rank`` given explicitly): the
shards cover the dataset exactly once per epoch (plus PyTorch's padding), have equal
lengths, agree on the order across ranks, change it with ``set_epoch``, and equal
``torch.utils.data.DistributedSampler``'s shards when not shuffling.

SyncBatchNorm is checked here without a process group (it must then be a plain BatchNorm)
and in real MPI jobs of 2 and 3 processes with uneven per-rank batches
(tests/distributed/syncbn_check.py): outputs, input gradients, summed weight/bias
gradients and running statistics equal BatchNorm on the concatenated batch to 1e-10.
"""
from __future__ import annotations

import shutil

import numpy as np
import pytest

import tinynet as tn
import tinynet.distributed as dist
import tinynet.nn as nn
from tinynet.data import DataLoader, DistributedSampler, TensorDataset

needs_mpi = pytest.mark.skipif(shutil.which("mpiexec") is None or not dist.is_available(),
                               reason="needs the distributed extra (pip install \"tinynet[distributed]\")")


# --- DistributedSampler -----------------------------------------------------------------------------
def shards(n, replicas, **kw):
    return [list(DistributedSampler(range(n), num_replicas=replicas, rank=r, **kw)) for r in range(replicas)]


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("n,replicas", [(10, 3), (12, 4), (7, 2), (2, 5), (1, 3), (5, 1), (3, 7)])
def test_shards_cover_the_dataset_with_padding(n, replicas, shuffle):
    parts = shards(n, replicas, shuffle=shuffle, seed=4)
    per = -(-n // replicas)
    assert [len(p) for p in parts] == [per] * replicas
    assert all(len(DistributedSampler(range(n), replicas, r)) == per for r in range(replicas))
    # Interleaving the shards back gives the padded index list: a permutation of 0..n-1 followed
    # by its own start repeated (as many times over as needed) up to ceil(n / replicas) * replicas.
    padded = [parts[i % replicas][i // replicas] for i in range(per * replicas)]
    head = padded[:n]
    assert sorted(head) == list(range(n))
    assert padded == (head * (per * replicas // n + 1))[:per * replicas]
    if not shuffle:
        assert head == list(range(n))


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("n,replicas", [(10, 3), (12, 4), (7, 2), (2, 5), (5, 1)])
def test_drop_last_truncates_to_disjoint_equal_shards(n, replicas, shuffle):
    parts = shards(n, replicas, shuffle=shuffle, drop_last=True, seed=1)
    per = n // replicas
    assert [len(p) for p in parts] == [per] * replicas
    seen = [i for p in parts for i in p]
    assert len(set(seen)) == len(seen) == per * replicas  # each sample at most once
    assert set(seen) <= set(range(n))
    if not shuffle:
        assert sorted(seen) == list(range(per * replicas))


def test_the_order_depends_on_seed_and_epoch_and_is_shared_by_the_ranks():
    n, replicas = 50, 3
    samplers = [DistributedSampler(range(n), replicas, r, seed=7) for r in range(replicas)]

    def epoch_order(epoch):
        for s in samplers:
            s.set_epoch(epoch)
        parts = [list(s) for s in samplers]
        # every rank built the same permutation: together the shards hold each index once (+ padding)
        assert sorted({i for p in parts for i in p}) == list(range(n))
        return parts

    e0, e0_again, e1 = epoch_order(0), epoch_order(0), epoch_order(1)
    assert e0 == e0_again  # the same epoch gives the same order (a rerun, or a resumed run)
    assert e0 != e1        # another epoch, another order
    assert e0[0] != list(range(0, n, replicas))  # really shuffled
    other_seed = DistributedSampler(range(n), replicas, 0, seed=8)
    assert list(other_seed) != e0[0]
    assert samplers[0].epoch == 1
    assert list(DistributedSampler(range(n), replicas, 0, seed=-3))  # negative seeds work, as in PyTorch


def test_non_shuffled_shards_equal_pytorchs():
    torch_data = pytest.importorskip("torch.utils.data")
    for n in (0, 1, 2, 5, 10, 11, 16):
        for replicas in (1, 2, 3, 4, 7):
            for drop_last in (False, True):
                for rank in range(replicas):
                    ours = DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
                    theirs = torch_data.DistributedSampler(range(n), replicas, rank, shuffle=False,
                                                           drop_last=drop_last)
                    assert list(ours) == list(theirs), (n, replicas, rank, drop_last)
                    assert (len(ours), ours.num_samples, ours.total_size) == \
                           (len(theirs), theirs.num_samples, theirs.total_size)
                    shuffled = DistributedSampler(range(n), replicas, rank, drop_last=drop_last)
                    theirs_shuffled = torch_data.DistributedSampler(range(n), replicas, rank, drop_last=drop_last)
                    assert len(list(shuffled)) == len(list(theirs_shuffled)) == len(theirs_shuffled)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_dataloader_takes_the_sampler(num_workers):
    ds = TensorDataset(tn.arange(23, dtype=tn.float32), tn.arange(23) * 10)
    got = []
    for rank in range(3):
        sampler = DistributedSampler(ds, num_replicas=3, rank=rank, seed=2)
        sampler.set_epoch(5)
        loader = DataLoader(ds, batch_size=4, sampler=sampler, num_workers=num_workers)
        assert len(loader) == 2  # 8 samples per rank in batches of 4
        xs = [x for x, y in loader for x in x.numpy().astype(int).tolist()]
        ys = [y for x, y in loader for y in y.numpy().tolist()]
        assert xs == list(sampler) and ys == [10 * i for i in xs]
        got += xs
    assert sorted(set(got)) == list(range(23)) and len(got) == 24


def test_sampler_errors():
    with pytest.raises(RuntimeError, match=r"num_replicas and rank not given.*init_process_group"):
        DistributedSampler(range(4))
    with pytest.raises(RuntimeError, match=r"rank not given.*num_replicas= and rank="):
        DistributedSampler(range(4), num_replicas=2)
    with pytest.raises(ValueError, match=r"invalid rank 2; rank should be in the interval \[0, 1\]"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match=r"invalid rank -1"):
        DistributedSampler(range(4), num_replicas=2, rank=-1)
    with pytest.raises(ValueError, match="num_replicas must be a positive int, got 0"):
        DistributedSampler(range(4), num_replicas=0, rank=0)
    with pytest.raises(TypeError, match="num_replicas must be an int, got float"):
        DistributedSampler(range(4), num_replicas=2.0, rank=0)
    with pytest.raises(TypeError, match="seed must be an int"):
        DistributedSampler(range(4), num_replicas=2, rank=0, seed=None)
    with pytest.raises(TypeError, match="shuffle must be a bool"):
        DistributedSampler(range(4), num_replicas=2, rank=0, shuffle="yes")
    with pytest.raises(TypeError, match=r"has no len\(\)"):
        DistributedSampler(iter(range(4)), num_replicas=2, rank=0)
    s = DistributedSampler(range(4), num_replicas=2, rank=0)
    with pytest.raises(TypeError, match="set_epoch: epoch must be an int"):
        s.set_epoch(1.5)
    data = list(range(6))
    s = DistributedSampler(data, num_replicas=2, rank=0)
    data.append(6)
    with pytest.raises(RuntimeError, match="had 6 samples when the sampler was built but has 7 now"):
        list(s)


def test_sampler_is_exported_like_pytorchs():
    import tinynet.utils.data as tud

    assert tud.DistributedSampler is tn.data.DistributedSampler is DistributedSampler
    assert "DistributedSampler" in tn.data.__all__ and "DistributedSampler" in tud.__all__
    assert issubclass(DistributedSampler, tn.data.Sampler)


# --- SyncBatchNorm without a process group: a BatchNorm ------------------------------------------
def _pair(cls, c, **kw):
    tn.manual_seed(0)
    ref, sync = cls(c, dtype=tn.float64, **kw), nn.SyncBatchNorm(c, dtype=tn.float64, **kw)
    if ref.affine:
        rng = np.random.default_rng(3)
        w, b = rng.normal(size=c), rng.normal(size=c)
        for m in (ref, sync):
            m.weight.array[...] = w
            m.bias.array[...] = b
    return ref, sync


@pytest.mark.parametrize("cls,shape,kw", [(nn.BatchNorm2d, (4, 3, 2, 2), {}), (nn.BatchNorm1d, (5, 3), {}),
                                          (nn.BatchNorm1d, (4, 3, 6), {"momentum": None}),
                                          (nn.BatchNorm3d, (2, 3, 2, 2, 2), {"affine": False})])
def test_without_a_process_group_it_is_batchnorm(cls, shape, kw):
    assert not dist.is_initialized()
    ref, sync = _pair(cls, shape[1], **kw)
    rng = np.random.default_rng(0)
    for train in (True, True, False):
        for m in (ref, sync):
            m.train(train)
            m.zero_grad()
        X, G = rng.normal(1.0, 2.0, size=shape), rng.normal(size=shape)
        x_ref, x = tn.tensor(X, requires_grad=True), tn.tensor(X, requires_grad=True)
        y_ref, y = ref(x_ref), sync(x)
        (y_ref * tn.tensor(G)).sum().backward()
        (y * tn.tensor(G)).sum().backward()
        np.testing.assert_allclose(y.detach().numpy(), y_ref.detach().numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(x.grad.numpy(), x_ref.grad.numpy(), rtol=1e-12, atol=1e-12)
        if ref.affine:
            np.testing.assert_allclose(sync.weight.grad.numpy(), ref.weight.grad.numpy(), rtol=1e-12)
            np.testing.assert_allclose(sync.bias.grad.numpy(), ref.bias.grad.numpy(), rtol=1e-12)
        np.testing.assert_allclose(sync.running_mean.numpy(), ref.running_mean.numpy(), rtol=1e-12)
        np.testing.assert_allclose(sync.running_var.numpy(), ref.running_var.numpy(), rtol=1e-12)
        assert sync.num_batches_tracked.item() == ref.num_batches_tracked.item()


def test_any_number_of_axes_matches_pytorch():
    torch = pytest.importorskip("torch")
    shape = (3, 2, 2, 1, 2, 3)  # 6-D: beyond BatchNorm3d
    rng = np.random.default_rng(1)
    ours = nn.SyncBatchNorm(2, momentum=0.2, dtype=tn.float64)
    theirs = torch.nn.SyncBatchNorm(2, momentum=0.2, dtype=torch.float64)
    w, b = rng.normal(size=2), rng.normal(size=2)
    ours.weight.array[...], ours.bias.array[...] = w, b
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(w))
        theirs.bias.copy_(torch.tensor(b))
    for train in (True, True, False):
        ours.train(train)
        theirs.train(train)
        X, G = rng.normal(size=shape), rng.normal(size=shape)
        x, xt = tn.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
        y, yt = ours(x), theirs(xt)
        assert y.shape == tuple(yt.shape)
        (y * tn.tensor(G)).sum().backward()
        (yt * torch.tensor(G)).sum().backward()
        np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.running_mean.numpy(), theirs.running_mean.numpy(), rtol=1e-12)


def test_sync_batchnorm_errors():
    m = nn.SyncBatchNorm(3)
    with pytest.raises(ValueError, match=r"SyncBatchNorm\(3\): expected an input of at least 2 axes.*\(3,\)"):
        m(tn.ones(3))
    with pytest.raises(ValueError, match=r"SyncBatchNorm\(3\): expected input with 3 channels.*\(2, 4\)"):
        m(tn.ones(2, 4))
    with pytest.raises(TypeError, match=r"SyncBatchNorm\(3\): needs a floating input, got tinynet.int64"):
        m(tn.ones(2, 3, dtype=tn.int64))
    with pytest.raises(TypeError, match="expected a Tensor input, got list"):
        m([[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="process_group=.* is not supported.*pass process_group=None"):
        nn.SyncBatchNorm(3, process_group="group-1")
    with pytest.raises(ValueError, match="momentum must be in"):
        nn.SyncBatchNorm(3, momentum=2.0)
    with pytest.raises(TypeError, match="expected an nn.Module, got int"):
        nn.SyncBatchNorm.convert_sync_batchnorm(3)
    with pytest.raises(ValueError, match="LazyBatchNorm2d has not seen an input yet.*run one forward pass"):
        nn.SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(nn.LazyBatchNorm2d()))
    with pytest.raises(ValueError, match="more than 1 value per channel"):  # single process: BatchNorm's check
        nn.SyncBatchNorm(3)(tn.ones(1, 3))


def test_convert_sync_batchnorm_replaces_every_batchnorm():
    tn.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2, eps=1e-3, momentum=None), nn.ReLU(),
                          nn.Sequential(nn.Flatten(), nn.Linear(8, 4), nn.BatchNorm1d(4, affine=False)),
                          nn.InstanceNorm2d(2), nn.BatchNorm3d(3, track_running_stats=False))
    model[1].weight.requires_grad_(False)
    model[1].running_mean.array[...] = [0.5, -1.0]
    model[3][2].eval()
    before = [(name, p) for name, p in model.named_parameters()]
    keys = list(model.state_dict().keys())
    old_bn = model[1]
    out = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert out is model
    assert [type(m).__name__ for m in model.modules()].count("SyncBatchNorm") == 3
    assert type(model[4]) is nn.InstanceNorm2d  # an instance norm keeps per-sample statistics: left alone
    new_bn = model[1]
    assert type(new_bn) is nn.SyncBatchNorm and new_bn is not old_bn
    assert (new_bn.eps, new_bn.momentum, new_bn.affine) == (1e-3, None, True)
    assert new_bn.weight is old_bn.weight and not new_bn.weight.requires_grad
    assert new_bn.running_mean is old_bn.running_mean and new_bn.running_mean.tolist() == [0.5, -1.0]
    assert not model[3][2].training and model[3][2].weight is None and model[3][2].running_var is not None
    assert model[5].running_mean is None and not model[5].track_running_stats
    assert [(n, p) for n, p in model.named_parameters()] == before  # same objects, same order
    assert list(model.state_dict().keys()) == keys
    root = nn.BatchNorm1d(3)
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(root)
    assert type(converted) is nn.SyncBatchNorm and converted.weight is root.weight
    assert repr(converted) .startswith("SyncBatchNorm(3, eps=1e-05, momentum=0.1, affine=True")


def test_convert_sync_batchnorm_structure_matches_pytorch():
    torch = pytest.importorskip("torch")
    ours = nn.SyncBatchNorm.convert_sync_batchnorm(
        nn.Sequential(nn.BatchNorm1d(2), nn.Sequential(nn.BatchNorm2d(3), nn.InstanceNorm1d(2)), nn.Linear(2, 2)))
    theirs = torch.nn.SyncBatchNorm.convert_sync_batchnorm(
        torch.nn.Sequential(torch.nn.BatchNorm1d(2), torch.nn.Sequential(torch.nn.BatchNorm2d(3),
                                                                         torch.nn.InstanceNorm1d(2)),
                            torch.nn.Linear(2, 2)))
    assert [type(m).__name__ for m in ours.modules()] == [type(m).__name__ for m in theirs.modules()]
    assert list(ours.state_dict().keys()) == list(theirs.state_dict().keys())


def test_exports():
    from tinynet.nn.parallel import SyncBatchNorm

    assert nn.SyncBatchNorm is SyncBatchNorm
    assert issubclass(SyncBatchNorm, nn.Module)


# --- SyncBatchNorm across real processes ------------------------------------------------------------
@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_sync_batchnorm_equals_batchnorm_on_the_whole_batch(mpirun, n):
    proc = mpirun(n, "syncbn_check.py", timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    for line in ("SyncBatchNorm equals BatchNorm on the whole batch", "an empty share works",
                 "eval mode uses the running statistics", "too small a global batch raises on every rank",
                 "different channel counts across ranks raise", "float32 inputs far from 0 are normalised accurately",
                 "DistributedSampler + DataLoader cover the dataset",
                 "convert_sync_batchnorm on a CNN trains as BatchNorm on the whole batch", "syncbn checks passed"):
        assert proc.stdout.count(line) == n, (line, out)
