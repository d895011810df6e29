"""Run by tests/test_ddp.py under ``mpiexec -n N``: DistributedDataParallel against one process.

Every rank also trains the same model alone on the whole (concatenated) batch, in float64;
after every step the DDP replica's parameters must equal the single-process ones to 1e-10.
Any mismatch raises, which makes the job exit non-zero and fails the test. Prints one line
per passed check (the test counts them).
"""
import re
import sys

import numpy as np

import tinynet as tn
import tinynet.distributed as dist
import tinynet.nn as nn
import tinynet.nn.functional as F
from tinynet.nn.parallel import DistributedDataParallel as DDP


class Net(nn.Module):
    def __init__(self, with_unused=False, with_bn=False):
        super().__init__()
        self.fc1 = nn.Linear(6, 16)
        self.bn = nn.BatchNorm1d(16) if with_bn else None
        self.fc2 = nn.Linear(16, 16)
        self.fc3 = nn.Linear(16, 3)
        self.spare = nn.Linear(16, 3) if with_unused else None
        self.never = nn.Linear(2, 2) if with_unused else None  # used by no rank

    def forward(self, x, use_spare=False):
        h = self.fc1(x)
        if self.bn is not None:
            h = self.bn(h)
        h = F.tanh(self.fc2(F.tanh(h)))
        return self.spare(h) if use_spare else self.fc3(h)


def build(seed, **kw):
    tn.manual_seed(seed)
    return Net(**kw).double()


def shares(batch, n):
    """Split ``batch`` rows into n contiguous shares (uneven when n does not divide it)."""
    return np.array_split(np.arange(batch), n)


def data(step, batch):
    rng = np.random.default_rng(1000 + step)
    return rng.normal(size=(batch, 6)), rng.integers(0, 3, size=batch)


def check_equal(a, b, what, tol=1e-10):
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        a, b = p.detach().numpy(), q.detach().numpy()
        if not np.allclose(a, b, rtol=tol, atol=tol):
            raise AssertionError(f"{what}: parameter {name} differs by {np.abs(a - b).max():.3g}")


def train_compare(rank, n, opt_name, batch, bucket_cap_mb, steps=20):
    ref = build(7)
    model = DDP(build(rank + 7), bucket_cap_mb=bucket_cap_mb)  # different init: DDP must broadcast rank 0's
    make = (lambda ps: tn.optim.SGD(ps, lr=0.1, momentum=0.9)) if opt_name == "sgd" else \
        (lambda ps: tn.optim.Adam(ps, lr=1e-2))
    opt, opt_ref = make(model.parameters()), make(ref.parameters())
    mine = shares(batch, n)[rank]
    for step in range(steps):
        x, y = data(step, batch)
        opt_ref.zero_grad()
        F.cross_entropy(ref(tn.tensor(x)), tn.tensor(y)).backward()
        opt_ref.step()
        opt.zero_grad()
        # this rank's mean loss, weighted so that the average over ranks is the global mean
        loss = F.cross_entropy(model(tn.tensor(x[mine])), tn.tensor(y[mine])) * (len(mine) * n / batch)
        loss.backward()
        opt.step()
        check_equal(model.module, ref, f"{opt_name} step {step} (bucket_cap_mb={bucket_cap_mb})")
    return model


def main():
    dist.init_process_group("mpi", timeout=60)
    rank, n = dist.get_rank(), dist.get_world_size()

    for opt_name, batch, cap in (("sgd", 12, 25), ("adam", 12, 0.0005), ("sgd", 10, 0.001)):
        model = train_compare(rank, n, opt_name, batch, cap)
        print(f"rank {rank}: {opt_name} batch {batch} buckets {len(model._buckets)} ok", flush=True)
    assert len(model._buckets) > 2  # the tiny cap really made several buckets

    # overlap: when the backward reaches fc1's output, the later layers' buckets are already in flight
    model, seen = DDP(build(1), bucket_cap_mb=0.0005), []

    def watch(mod, args, out):
        out.register_hook(lambda g: seen.append(model._next_launch))
    model.module.fc1.register_forward_hook(watch)
    x, y = data(0, 4)
    F.cross_entropy(model(tn.tensor(x)), tn.tensor(y)).backward()
    assert 1 <= seen[0] < len(model._buckets), (seen, len(model._buckets))
    print(f"rank {rank}: {seen[0]} of {len(model._buckets)} buckets launched before the backward reached fc1",
          flush=True)

    # no_sync: accumulate over two local micro-batches, reduce once = the large batch
    ref, model = build(3), DDP(build(rank + 3), bucket_cap_mb=0.0005)
    x, y = data(99, 8 * n)
    F.cross_entropy(ref(tn.tensor(x)), tn.tensor(y)).backward()
    mine = shares(8 * n, n)[rank]
    halves = np.array_split(mine, 2)
    with model.no_sync():
        (F.cross_entropy(model(tn.tensor(x[halves[0]])), tn.tensor(y[halves[0]])) / 2).backward()
    local = model.module.fc1.weight.grad.numpy().copy()
    (F.cross_entropy(model(tn.tensor(x[halves[1]])), tn.tensor(y[halves[1]])) / 2).backward()
    for p, q in zip(model.module.parameters(), ref.parameters()):
        assert np.allclose(p.grad.array, q.grad.array, rtol=1e-10, atol=1e-12), "no_sync accumulation"
    assert not np.allclose(local, ref.fc1.weight.grad.array)  # before the synced backward: only local
    print(f"rank {rank}: no_sync ok", flush=True)

    # find_unused_parameters: `never` unused on every rank, spare used on rank 0 only
    model = DDP(build(0, with_unused=True), find_unused_parameters=True, bucket_cap_mb=0.0005)
    x, y = data(5, 4)
    out = model(tn.tensor(x), use_spare=(rank == 0))
    F.cross_entropy(out, tn.tensor(y)).backward()
    assert model.module.never.weight.grad is None  # unused everywhere: left alone
    everyone = [tn.zeros(3, 16, dtype=tn.float64) for _ in range(n)]
    grads = tn.tensor(model.module.spare.weight.grad.numpy())
    dist.all_gather(everyone, grads)
    assert all(np.allclose(e.numpy(), grads.numpy()) for e in everyone)  # the same average on every rank
    # recompute rank 0's local gradient and check the average is it / n
    solo = build(0, with_unused=True)
    F.cross_entropy(solo(tn.tensor(x), use_spare=True), tn.tensor(y)).backward()
    assert np.allclose(grads.numpy(), solo.spare.weight.grad.numpy() / n, rtol=1e-10)
    # without find_unused_parameters the same forward is a clear error
    strict = DDP(build(0, with_unused=True))
    try:
        F.cross_entropy(strict(tn.tensor(x)), tn.tensor(y)).backward()
    except RuntimeError as exc:
        assert "received no gradient" in str(exc) and "spare.weight" in str(exc) and \
            "never.weight" in str(exc) and "find_unused_parameters=True" in str(exc), exc
    else:
        raise AssertionError("a parameter without gradient must be an error without find_unused_parameters")
    print(f"rank {rank}: find_unused_parameters ok", flush=True)

    # broadcast_buffers: rank 0's running statistics reach every rank at each training forward
    model = DDP(build(0, with_bn=True))
    x, _ = data(rank, 6)
    model(tn.tensor(x)).sum().backward()
    before = [tn.zeros(16, dtype=tn.float64) for _ in range(n)]
    dist.all_gather(before, tn.tensor(model.module.bn.running_mean.numpy()))
    assert not np.allclose(before[0].numpy(), before[1].numpy())  # each rank updated its own statistics
    model.eval()
    model(tn.tensor(x))  # the broadcast happens before this forward (eval: no update after it)
    after = [tn.zeros(16, dtype=tn.float64) for _ in range(n)]
    dist.all_gather(after, tn.tensor(model.module.bn.running_mean.numpy()))
    assert all(np.array_equal(a.numpy(), before[0].numpy()) for a in after)
    # state_dict has the plain module's keys and loads back
    sd = model.state_dict()
    assert set(sd) == set(model.module.state_dict()) and not any(k.startswith("module.") for k in sd)
    model.load_state_dict({"module." + k: v for k, v in sd.items()})
    print(f"rank {rank}: buffers and state_dict ok", flush=True)

    # cuda tensors (the simulated GPU in CI, a real one where present): buckets live on the device
    if "cuda" in tn.backend.available_devices():
        ref, model = build(2).to("cuda"), DDP(build(rank + 2).to("cuda"), bucket_cap_mb=0.0005)
        opt, opt_ref = tn.optim.SGD(model.parameters(), lr=0.1), tn.optim.SGD(ref.parameters(), lr=0.1)
        mine = shares(6, n)[rank]
        for step in range(3):
            x, y = data(step, 6)
            opt_ref.zero_grad()
            F.cross_entropy(ref(tn.tensor(x, device="cuda")), tn.tensor(y, device="cuda")).backward()
            opt_ref.step()
            opt.zero_grad()
            loss = F.cross_entropy(model(tn.tensor(x[mine], device="cuda")), tn.tensor(y[mine], device="cuda"))
            (loss * (len(mine) * n / 6)).backward()
            opt.step()
            check_equal(model.module, ref, f"cuda step {step}")
        assert model.module.fc1.weight.grad.device.type == "cuda"
        print(f"rank {rank}: cuda ok", flush=True)

    # argument errors, each naming what was expected
    for kwargs, kind, text in (({"bucket_cap_mb": 0}, ValueError, "bucket_cap_mb must be a positive number"),
                               ({"device_ids": [0]}, ValueError, "device_ids=\\[0\\] but the module is on cpu"),
                               ({"output_device": "cuda:1"}, ValueError, "output_device='cuda:1' but the module"),
                               ({"process_group": object()}, ValueError, "only the default process group")):
        try:
            DDP(build(0), **kwargs)
        except kind as exc:
            assert re.search(text, str(exc)), exc
        else:
            raise AssertionError(f"DDP({kwargs}) must be refused")
    DDP(build(0), device_ids=["cpu"], output_device="cpu")  # the module's own device is accepted
    try:
        DDP(nn.Linear(2, 2).requires_grad_(False))
    except ValueError as exc:
        assert "no parameter that requires grad" in str(exc), exc
    else:
        raise AssertionError("a module without trainable parameters must be refused")
    try:
        DDP(lambda x: x)
    except TypeError as exc:
        assert "must be an nn.Module" in str(exc), exc
    else:
        raise AssertionError("a function is not a module")

    # different models on different ranks: a clear error naming both ranks
    try:
        DDP(nn.Linear(4 + (rank > 0), 2).double())
    except ValueError as exc:
        assert "wrap different models" in str(exc), exc
    else:
        raise AssertionError("different models across ranks must be refused")
    print(f"rank {rank}: all DDP checks passed", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
