"""Run by tests/test_sync_batchnorm_sampler.py under ``mpiexec -n N``: SyncBatchNorm against BatchNorm.

Rank r holds rows ``SIZES[r]`` of a global batch (uneven shares, e.g. 3, 2, 4 samples);
every rank also runs the plain ``nn.BatchNorm1d/2d/3d`` on the whole (concatenated) batch in
this one process, in float64. The loss is ``Σ y · G`` with a fixed random G, so the global
loss is the sum of the ranks' losses and:

* each rank's output and input gradient equal the reference's rows of that rank;
* the weight/bias gradients, summed over the ranks, equal the reference's (they are local,
  as in PyTorch; DDP's all-reduce combines them);
* the running statistics (and num_batches_tracked) equal the reference's on every rank.

Everything is compared with ``allclose(rtol=1e-10, atol=1e-10)``. Also checked: one
all-reduce per forward and one per backward (none in backward when the input needs no
gradient, none in eval mode), momentum=None, affine=False, track_running_stats=False, an
empty share, the "one value per channel" error raised on every rank, layers of different
widths on different ranks, float32 data far from 0, a DataLoader with a DistributedSampler
taking its replicas and rank from the process group, and convert_sync_batchnorm on a small
CNN (three SGD steps). Any mismatch raises (the rank exits non-zero); each passed group prints a line.
"""
import copy
import re
import sys

import numpy as np

import tinynet as tn
import tinynet.distributed as dist
import tinynet.nn as nn
import tinynet.nn.parallel.sync_batchnorm as sbn_module
from tinynet.data import DataLoader, DistributedSampler, TensorDataset

TOL = dict(rtol=1e-10, atol=1e-10)
CALLS = []
_real_all_reduce = sbn_module.all_reduce


def counting_all_reduce(tensor, *args, **kwargs):
    CALLS.append(tuple(tensor.shape))
    return _real_all_reduce(tensor, *args, **kwargs)


sbn_module.all_reduce = counting_all_reduce  # count SyncBatchNorm's collectives


def close(got, want, what):
    got = got.detach().numpy() if hasattr(got, "numpy") else np.asarray(got)
    want = want.detach().numpy() if hasattr(want, "numpy") else np.asarray(want)
    if got.shape != want.shape or not np.allclose(got, want, **TOL):
        err = np.abs(got - want).max() if got.shape == want.shape else "shape"
        raise AssertionError(f"rank {dist.get_rank()}: {what}: got {got.shape}, want {want.shape}; max error {err}")


def summed(t):
    """``t`` summed over the ranks (a copy)."""
    s = t.detach().clone()
    dist.all_reduce(s)
    return s


def compare(ref_cls, shape_tail, sizes, steps=3, seed=0, train=True, **kw):
    """SyncBatchNorm on this rank's share vs ``ref_cls`` on the whole batch, ``steps`` times."""
    rank = dist.get_rank()
    c = shape_tail[0]
    tn.manual_seed(seed)
    ref = ref_cls(c, dtype=tn.float64, **kw)
    sync = nn.SyncBatchNorm(c, dtype=tn.float64, **kw)
    rng = np.random.default_rng(seed)
    if ref.affine:  # non-trivial, identical parameters
        w, b = rng.normal(size=c), rng.normal(size=c)
        for m in (ref, sync):
            m.weight.array[...] = w
            m.bias.array[...] = b
    if not train:
        for m in (ref, sync):
            m.eval()
    lo, hi = sum(sizes[:rank]), sum(sizes[:rank + 1])
    total = sum(sizes)
    for step in range(steps):
        X = rng.normal(loc=3.0, scale=2.0, size=(total,) + tuple(shape_tail))
        G = rng.normal(size=X.shape)
        x_ref = tn.tensor(X, requires_grad=True)
        x = tn.tensor(X[lo:hi], requires_grad=True)
        for m in (ref, sync):
            m.zero_grad()
        y_ref = ref(x_ref)
        (y_ref * tn.tensor(G)).sum().backward()
        CALLS.clear()
        y = sync(x)
        forward_calls = len(CALLS)
        (y * tn.tensor(G[lo:hi])).sum().backward()
        backward_calls = len(CALLS) - forward_calls
        synced = train and dist.get_world_size() > 1
        if forward_calls != int(synced) or backward_calls != int(synced):
            raise AssertionError(f"rank {rank}: {forward_calls} all-reduce(s) in forward and {backward_calls} in "
                                 f"backward, expected {int(synced)} and {int(synced)}")
        if synced and CALLS != [(3, c), (2, c)]:
            raise AssertionError(f"rank {rank}: all-reduced buffers {CALLS}, expected [(3, {c}), (2, {c})]")
        what = f"{ref_cls.__name__}{tuple(shape_tail)} {kw} sizes={sizes} train={train} step {step}"
        close(y, y_ref.detach()[lo:hi], f"{what}: output")
        close(x.grad, x_ref.grad[lo:hi], f"{what}: input gradient")
        if ref.affine:
            close(summed(sync.weight.grad) if synced else sync.weight.grad, ref.weight.grad, f"{what}: weight grad")
            close(summed(sync.bias.grad) if synced else sync.bias.grad, ref.bias.grad, f"{what}: bias grad")
        if ref.track_running_stats:
            close(sync.running_mean, ref.running_mean, f"{what}: running_mean")
            close(sync.running_var, ref.running_var, f"{what}: running_var")
            assert sync.num_batches_tracked.item() == ref.num_batches_tracked.item(), what
    return ref, sync


def check_layers(n):
    sizes = [3, 2, 4, 1][:n]
    compare(nn.BatchNorm2d, (4, 3, 2), sizes)
    compare(nn.BatchNorm1d, (5,), sizes)                      # (N, C)
    compare(nn.BatchNorm1d, (3, 4), sizes)                    # (N, C, L)
    compare(nn.BatchNorm3d, (2, 2, 3, 2), sizes)
    compare(nn.BatchNorm2d, (3, 2, 2), sizes, momentum=None)  # cumulative average
    compare(nn.BatchNorm2d, (3, 2, 2), sizes, affine=False, momentum=0.3)
    compare(nn.BatchNorm1d, (3, 4), sizes, track_running_stats=False)
    print(f"rank {dist.get_rank()}: SyncBatchNorm equals BatchNorm on the whole batch")

    # An input that needs no gradient (e.g. the first layer): the backward only forms the
    # local weight/bias gradients, without a collective.
    rank = dist.get_rank()
    lo, hi = sum(sizes[:rank]), sum(sizes[:rank + 1])
    X = np.random.default_rng(5).normal(size=(sum(sizes), 3, 2))
    ref, sync = nn.BatchNorm1d(3, dtype=tn.float64), nn.SyncBatchNorm(3, dtype=tn.float64)
    ref(tn.tensor(X)).pow(2).sum().backward()
    CALLS.clear()
    sync(tn.tensor(X[lo:hi])).pow(2).sum().backward()
    assert CALLS == [(3, 3)], CALLS
    close(summed(sync.weight.grad), ref.weight.grad, "weight grad with an input that needs none")
    close(summed(sync.bias.grad), ref.bias.grad, "bias grad with an input that needs none")

    # An empty share: rank 1 holds no sample (the others still have the whole batch's statistics).
    compare(nn.BatchNorm1d, (4,), [3, 0, 4, 2][:n])
    print(f"rank {dist.get_rank()}: an empty share works")

    # Evaluation: the running statistics (trained above, synchronised), no communication.
    ref, sync = compare(nn.BatchNorm2d, (3, 2, 2), sizes, steps=2)
    ref.eval()
    sync.eval()
    ref_eval = _eval_check(ref, sync, sizes)
    print(f"rank {dist.get_rank()}: eval mode uses the running statistics ({ref_eval} values)")


def _eval_check(ref, sync, sizes):
    rank = dist.get_rank()
    lo, hi = sum(sizes[:rank]), sum(sizes[:rank + 1])
    X = np.random.default_rng(7).normal(size=(sum(sizes), 3, 2, 2))
    CALLS.clear()
    x = tn.tensor(X[lo:hi], requires_grad=True)
    x_ref = tn.tensor(X, requires_grad=True)
    y, y_ref = sync(x), ref(x_ref)
    y.sum().backward()
    y_ref.sum().backward()
    assert CALLS == [], f"eval mode communicated: {CALLS}"
    close(y, y_ref.detach()[lo:hi], "eval output")
    close(x.grad, x_ref.grad[lo:hi], "eval input gradient")
    # Eval without running statistics: each rank normalises its own batch, unsynchronised (PyTorch's rule).
    local_ref = nn.BatchNorm2d(3, track_running_stats=False, dtype=tn.float64).eval()
    local = nn.SyncBatchNorm(3, track_running_stats=False, dtype=tn.float64).eval()
    part = tn.tensor(np.random.default_rng(8 + rank).normal(size=(3, 3, 2, 2)))
    close(local(part), local_ref(part), "eval without running stats")
    assert CALLS == [], f"eval mode communicated: {CALLS}"
    return y.numel()


def check_errors(n):
    rank = dist.get_rank()
    layer = nn.SyncBatchNorm(2, dtype=tn.float64)
    share = tn.ones(1 if rank == 0 else 0, 2, dtype=tn.float64)  # one value per channel over all ranks
    try:
        layer(share)
    except ValueError as exc:
        msg = str(exc)
        assert "SyncBatchNorm(2)" in msg and "more than 1 value per channel" in msg and f"{n} ranks" in msg, msg
    else:
        raise AssertionError(f"rank {rank}: one value per channel over all ranks did not raise")
    dist.barrier()  # every rank raised and went on: nobody hangs
    print(f"rank {rank}: too small a global batch raises on every rank")
    layer = nn.SyncBatchNorm(2 + rank, dtype=tn.float64)  # a different model on every rank
    try:
        layer(tn.ones(3, 2 + rank, dtype=tn.float64))
    except ValueError as exc:
        msg = str(exc)
        assert f"SyncBatchNorm({2 + rank}): the ranks' layers disagree on the number of channels" in msg, msg
        named = set(re.findall(r"\(3, (\d)\)", msg))
        assert str(2 + rank) in named and len(named) == 2, msg  # this rank's buffer and another rank's
    else:
        raise AssertionError(f"rank {rank}: layers of different widths did not raise")
    dist.barrier()
    print(f"rank {rank}: different channel counts across ranks raise")


def check_float32(n):
    """float32 data far from 0 (mean 1000, std 1): the float64 sums keep σ² accurate."""
    rank = dist.get_rank()
    sizes = [3, 2, 4, 1][:n]
    lo, hi = sum(sizes[:rank]), sum(sizes[:rank + 1])
    X = np.random.default_rng(11).normal(loc=1000.0, scale=1.0, size=(sum(sizes), 3, 4, 4))
    ref = nn.BatchNorm2d(3, dtype=tn.float64)
    sync = nn.SyncBatchNorm(3)  # float32
    y_ref = ref(tn.tensor(X))
    x = tn.tensor(X[lo:hi], dtype=tn.float32, requires_grad=True)
    y = sync(x)
    y.sum().backward()
    assert y.dtype == tn.float32 and x.grad.dtype == tn.float32 and sync.running_var.dtype == tn.float32
    np.testing.assert_allclose(y.detach().numpy(), y_ref.detach().numpy()[lo:hi], rtol=0, atol=2e-3)
    np.testing.assert_allclose(sync.running_var.numpy(), ref.running_var.numpy(), rtol=1e-4)
    np.testing.assert_allclose(sync.running_mean.numpy(), ref.running_mean.numpy(), rtol=1e-6)
    print(f"rank {rank}: float32 inputs far from 0 are normalised accurately")


def check_sampler_with_loader(n):
    rank = dist.get_rank()
    ds = TensorDataset(tn.arange(11, dtype=tn.float64))
    sampler = DistributedSampler(ds, seed=3)  # num_replicas and rank from the process group
    assert (sampler.num_replicas, sampler.rank) == (n, rank)
    loader = DataLoader(ds, batch_size=2, sampler=sampler)
    for epoch in range(2):
        sampler.set_epoch(epoch)
        mine = np.concatenate([b[0].numpy() for b in loader]).astype(np.int64)
        assert len(mine) == len(sampler) == -(-11 // n)
        everyone = [tn.zeros(len(mine), dtype=tn.int64) for _ in range(n)]
        dist.all_gather(everyone, tn.tensor(mine))
        seen = np.concatenate([e.numpy() for e in everyone])
        assert sorted(set(seen.tolist())) == list(range(11)), seen      # every sample, this epoch
        assert len(seen) == sampler.total_size  # the padding repeats a few samples
    print(f"rank {rank}: DistributedSampler + DataLoader cover the dataset")


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                                      nn.Conv2d(4, 3, 3), nn.BatchNorm2d(3, momentum=None), nn.ReLU())
        self.flat = nn.Flatten()
        self.fc = nn.Linear(3 * 2 * 2, 5)
        self.bn = nn.BatchNorm1d(5)
        self.inorm = nn.InstanceNorm2d(2)  # not a BatchNorm: left alone

    def forward(self, x):
        return self.bn(self.fc(self.flat(self.features(self.inorm(x)))))


def check_convert(n):
    rank = dist.get_rank()
    sizes = [3, 2, 4, 1][:n]
    lo, hi = sum(sizes[:rank]), sum(sizes[:rank + 1])
    tn.manual_seed(0)
    ref = SmallCNN().double()
    rng = np.random.default_rng(1)
    ref.features[1].running_mean.array[...] = rng.normal(size=4)  # buffers that must be carried over
    ref.features[1].running_var.array[...] = rng.uniform(0.5, 2.0, size=4)
    ref.features[1].num_batches_tracked.array[...] = 5
    ref.features[4].weight.requires_grad_(False)
    model = copy.deepcopy(ref)
    old = dict(model.named_modules())
    model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    new = dict(model.named_modules())
    for name in ("features.1", "features.4", "bn"):
        assert type(new[name]) is nn.SyncBatchNorm, (name, type(new[name]))
        assert new[name].weight is old[name].weight and new[name].running_mean is old[name].running_mean
        assert new[name].num_batches_tracked is old[name].num_batches_tracked
        assert new[name].momentum == old[name].momentum and new[name].eps == old[name].eps
    assert type(new["inorm"]) is nn.InstanceNorm2d and type(new["features.0"]) is nn.Conv2d
    assert not new["features.4"].weight.requires_grad
    assert model.state_dict().keys() == ref.state_dict().keys()
    for step in range(3):
        X = rng.normal(size=(sum(sizes), 2, 4, 4))
        G = rng.normal(size=(sum(sizes), 5))
        ref.zero_grad()
        model.zero_grad()
        out_ref = ref(tn.tensor(X))
        (out_ref * tn.tensor(G)).sum().backward()
        out = model(tn.tensor(X[lo:hi]))
        (out * tn.tensor(G[lo:hi])).sum().backward()
        close(out, out_ref.detach()[lo:hi], f"convert step {step}: output")
        for (name, p), (_, p_ref) in zip(model.named_parameters(), ref.named_parameters()):
            if p_ref.grad is None:
                assert p.grad is None, name
                continue
            close(summed(p.grad), p_ref.grad, f"convert step {step}: grad of {name}")
        for (name, b), (_, b_ref) in zip(model.named_buffers(), ref.named_buffers()):
            close(b, b_ref, f"convert step {step}: buffer {name}")
        with tn.no_grad():  # one identical SGD step on both (grads of the model: summed over ranks)
            for p, p_ref in zip(model.parameters(), ref.parameters()):
                if p_ref.grad is not None:
                    p.array[...] -= 0.05 * summed(p.grad).array
                    p_ref.array[...] -= 0.05 * p_ref.grad.array
    # The converted model in eval mode: the reference's outputs, rows of this rank.
    model.eval()
    ref.eval()
    X = rng.normal(size=(sum(sizes), 2, 4, 4))
    close(model(tn.tensor(X[lo:hi])), ref(tn.tensor(X)).detach()[lo:hi], "converted model in eval mode")
    print(f"rank {rank}: convert_sync_batchnorm on a CNN trains as BatchNorm on the whole batch")


def main():
    dist.init_process_group("mpi", timeout=60)
    n = dist.get_world_size()
    check_layers(n)
    check_errors(n)
    check_float32(n)
    check_sampler_with_loader(n)
    check_convert(n)
    print(f"rank {dist.get_rank()}: syncbn checks passed")
    dist.destroy_process_group()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
