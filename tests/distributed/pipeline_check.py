"""Run by tests/test_pipeline.py under ``mpiexec -n N`` (N = 1, 2, 3): nn.parallel.Pipeline
against the unsplit nn.Sequential on one process, in float64.

Every rank builds the same model (same seed) twice: one copy is split into the pipeline,
the other runs whole on every rank as the reference. Checked for several balances,
``chunks`` = 1, 2, 4, an uneven batch and a batch smaller than ``chunks``: the pipeline's
output (on every rank), the loss (on every rank) and every local stage parameter's
gradient equal the reference (allclose 1e-10); a few SGD steps stay equal; integer inputs
(Embedding) and targets (cross_entropy), a gradient for the input itself, a stage without
parameters, reduction="sum", BatchNorm (exact with chunks=1; per-micro-batch statistics
with chunks=2), train_step under no_grad, cuda tensors (real or simulated GPU); and the
argument errors. Any
mismatch raises, which ends the job with a non-zero status and fails the test.
"""
import functools
import sys

import numpy as np

import tinynet as tn
import tinynet.distributed as dist
import tinynet.nn as nn
import tinynet.nn.functional as F
import tinynet.optim as optim
from tinynet.nn.parallel import Pipeline

TOL = dict(rtol=1e-10, atol=1e-12)


def mlp():
    tn.manual_seed(1)
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 5),
                         nn.Linear(5, 3)).to(tn.float64)


def balances(n, length):
    """A few ways to cut ``length`` layers into ``n`` non-empty stages."""
    if n == 1:
        return [[length]]
    if n == 2:
        return [[3, 3], [1, length - 1], [length - 1, 1]]
    return [[2, 1, 3], [1, 1, length - 2], [3, 2, 1]]


def batch(n, seed=0, d=6, out=3):
    rng = np.random.default_rng(seed)
    return (tn.tensor(rng.standard_normal((n, d)), dtype=tn.float64),
            tn.tensor(rng.standard_normal((n, out)), dtype=tn.float64))


def reference(model, x, y, loss_fn):
    model.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    return float(loss.item()), {k: p.grad.numpy().copy() for k, p in model.named_parameters()}


def check_grads(pipe, ref_grads, what):
    """Every local parameter's gradient equals the reference; across the ranks, every
    parameter of the model is checked exactly once (a collective: all ranks call it)."""
    checked = 0
    for k, p in pipe.named_parameters():
        assert p.grad is not None, f"{what}: {k} has no gradient"
        np.testing.assert_allclose(p.grad.to("cpu").numpy(), ref_grads[k], **TOL, err_msg=f"{what}: grad {k}")
        checked += 1
    total = tn.tensor([checked], dtype=tn.int64)
    dist.all_reduce(total)
    assert total.item() == len(ref_grads), (what, total.item(), len(ref_grads))


def main():
    dist.init_process_group("mpi", timeout=60)
    rank, n = dist.get_rank(), dist.get_world_size()
    first, last = rank == 0, rank == n - 1

    # --- outputs, loss and gradients against the unsplit model -------------------------
    for balance in balances(n, 6):
        for chunks, size in ((1, 8), (2, 8), (4, 8), (3, 7), (4, 10), (4, 3)):
            what = f"balance={balance} chunks={chunks} batch={size}"
            ref = mlp()
            pipe = Pipeline(mlp(), balance, chunks=chunks)
            start = sum(balance[:rank])
            assert [k for k, _ in pipe.named_parameters()] == [
                k for k, _ in ref.named_parameters() if start <= int(k.split(".")[0]) < start + balance[rank]]
            x, y = batch(size, seed=chunks + size)
            ref_loss, ref_grads = reference(ref, x, y, nn.MSELoss())
            with tn.no_grad():
                want = ref(x).numpy()
            out = pipe(x if first else None)
            assert not out.requires_grad and out.grad_fn is None, what
            np.testing.assert_allclose(out.numpy(), want, **TOL, err_msg=what)
            pipe.zero_grad()
            loss = pipe.train_step(x if first else None, y if last else None, nn.MSELoss())
            assert loss.dtype == tn.float64 and loss.shape == (), what
            np.testing.assert_allclose(loss.item(), ref_loss, **TOL, err_msg=what)
            check_grads(pipe, ref_grads, what)
            # a second step accumulates, as backward() does
            loss = pipe.train_step(x, y, nn.MSELoss())
            for k, p in pipe.named_parameters():
                np.testing.assert_allclose(p.grad.numpy(), 2 * ref_grads[k], **TOL, err_msg=what + " (accumulated)")

    # --- a few SGD steps stay equal; the input's own gradient ---------------------------
    balance = balances(n, 6)[0]
    ref, pipe = mlp(), Pipeline(mlp(), balance, chunks=3)
    opt_ref = optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    opt = optim.SGD(pipe.parameters(), lr=0.1, momentum=0.9)
    for step in range(4):
        x, y = batch(10, seed=100 + step)
        xr = x.detach().requires_grad_()
        opt_ref.zero_grad()
        ref_loss = nn.MSELoss()(ref(xr), y)
        ref_loss.backward()
        opt_ref.step()
        xp = x.detach().requires_grad_()
        opt.zero_grad()
        loss = pipe.train_step(xp, y, F.mse_loss)
        opt.step()
        np.testing.assert_allclose(loss.item(), ref_loss.item(), **TOL)
        if first:
            np.testing.assert_allclose(xp.grad.numpy(), xr.grad.numpy(), **TOL, err_msg="input gradient")
    want = dict(ref.named_parameters())
    for k, p in pipe.named_parameters():
        np.testing.assert_allclose(p.detach().numpy(), want[k].detach().numpy(), **TOL, err_msg=f"after SGD steps: {k}")
    # the union of every rank's state dict is the unsplit model's
    keys = pipe.state_dict().keys()
    assert set(keys) <= set(ref.state_dict().keys())
    for k in keys:
        np.testing.assert_allclose(pipe.state_dict()[k].detach().numpy(), ref.state_dict()[k].detach().numpy(), **TOL)
    counts = tn.tensor([len(keys)], dtype=tn.int64)
    dist.all_reduce(counts)
    assert counts.item() == len(ref.state_dict()), (counts.item(), len(ref.state_dict()))

    # --- integer input (Embedding on stage 0), integer targets, reduction="sum" ------------
    def embed_model():
        tn.manual_seed(2)
        return nn.Sequential(nn.Embedding(11, 4), nn.Flatten(), nn.Linear(12, 7), nn.GELU(), nn.Linear(7, 5),
                             nn.Tanh(), nn.Linear(5, 5)).to(tn.float64)
    rng = np.random.default_rng(7)
    tokens = tn.tensor(rng.integers(0, 11, size=(9, 3)), dtype=tn.int64)
    labels = tn.tensor(rng.integers(0, 5, size=(9,)), dtype=tn.int64)
    cuts = {1: [7], 2: [2, 5], 3: [3, 1, 3]}[n]
    for loss_fn in (F.cross_entropy, nn.CrossEntropyLoss(reduction="sum"),
                    functools.partial(F.cross_entropy, reduction="sum")):
        ref, pipe = embed_model(), Pipeline(embed_model(), cuts, chunks=4)
        ref_loss, ref_grads = reference(ref, tokens, labels, loss_fn)
        loss = pipe.train_step(tokens if first else None, labels if last else None, loss_fn)
        np.testing.assert_allclose(loss.item(), ref_loss, **TOL)
        check_grads(pipe, ref_grads, f"embedding model, {loss_fn}")
    with tn.no_grad():
        np.testing.assert_allclose(pipe(tokens).numpy(), ref(tokens).numpy(), **TOL)

    # --- BatchNorm inside a stage: exact with chunks=1 (per-micro-batch statistics) ------
    def bn_model():
        tn.manual_seed(3)
        return nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 3)).to(tn.float64)
    ref, pipe = bn_model(), Pipeline(bn_model(), {1: [4], 2: [2, 2], 3: [1, 2, 1]}[n], chunks=1)
    x, y = batch(8, seed=5)
    ref_loss, ref_grads = reference(ref, x, y, nn.MSELoss())
    loss = pipe.train_step(x, y, nn.MSELoss())
    np.testing.assert_allclose(loss.item(), ref_loss, **TOL)
    check_grads(pipe, ref_grads, "batchnorm")
    for k, b in pipe.named_buffers():
        np.testing.assert_allclose(b.numpy(), dict(ref.named_buffers())[k].numpy(), **TOL, err_msg=k)
    pipe.eval(), ref.eval()
    np.testing.assert_allclose(pipe(x).numpy(), ref(x).detach().numpy(), **TOL)

    # --- BatchNorm with chunks=2: each micro-batch normalized with its own statistics ----
    ref, pipe = bn_model(), Pipeline(bn_model(), {1: [4], 2: [2, 2], 3: [1, 2, 1]}[n], chunks=2)
    x, y = batch(7, seed=6)
    ref.zero_grad()
    ref_loss = 0.0
    for a, b in ((0, 4), (4, 7)):  # torch.tensor_split sizes: 4, 3
        part = nn.MSELoss()(ref(x[a:b]), y[a:b]) * ((b - a) / 7)
        part.backward()
        ref_loss += part.item()
    loss = pipe.train_step(x, y, nn.MSELoss())
    np.testing.assert_allclose(loss.item(), ref_loss, **TOL)
    check_grads(pipe, {k: p.grad.numpy() for k, p in ref.named_parameters()}, "batchnorm, 2 micro-batches")
    for k, b in pipe.named_buffers():
        np.testing.assert_allclose(b.numpy(), dict(ref.named_buffers())[k].numpy(), **TOL, err_msg=k)
    whole = bn_model()
    whole_loss = nn.MSELoss()(whole(x), y).item()
    assert abs(whole_loss - loss.item()) > 1e-6, "micro-batch statistics should differ from whole-batch ones"
    # this rank holds only its own layers
    assert len(list(pipe.children())) == pipe.balance[rank] and pipe.stage == rank and pipe.num_stages == n
    assert len(pipe.partition) == pipe.balance[rank] and pipe.chunks == 2

    # --- the GPipe order on every rank: all forwards, then backwards in reverse order ----
    pipe = Pipeline(mlp(), balances(n, 6)[0], chunks=4)
    events = []

    def record(module, inputs, output):
        i = sum(1 for e in events if e[0] == "F")
        events.append(("F", i))
        output.register_hook(lambda g: events.append(("B", i)))
    list(pipe.children())[-1].register_forward_hook(record)
    x, y = batch(10, seed=12)
    pipe.train_step(x, y, nn.MSELoss())
    assert events == [("F", i) for i in range(4)] + [("B", i) for i in reversed(range(4))], events

    # --- train_step computes gradients even under no_grad ------------------------------
    ref, pipe = mlp(), Pipeline(mlp(), balances(n, 6)[-1], chunks=2)
    x, y = batch(5, seed=9)
    ref_loss, ref_grads = reference(ref, x, y, nn.MSELoss())
    with tn.no_grad():
        loss = pipe.train_step(x, y, nn.MSELoss())
    np.testing.assert_allclose(loss.item(), ref_loss, **TOL)
    check_grads(pipe, ref_grads, "under no_grad")

    # --- cuda tensors (the real GPU, or the simulated one in CI) -----------------------
    if "cuda" in tn.backend.available_devices():
        cut = {1: [6], 2: [1, 5], 3: [1, 1, 4]}[n]  # with 3 ranks, stage 1 (Tanh) has no parameters
        ref, pipe = mlp().to("cuda"), Pipeline(mlp().to("cuda"), cut, chunks=3)
        x, y = batch(7, seed=11)
        x, y = x.to("cuda"), y.to("cuda")
        ref.zero_grad()
        ref_loss = nn.MSELoss()(ref(x), y)
        ref_loss.backward()
        loss = pipe.train_step(x, y, nn.MSELoss())
        assert loss.device.type == "cuda", loss.device
        np.testing.assert_allclose(loss.item(), ref_loss.item(), **TOL)
        check_grads(pipe, {k: p.grad.to("cpu").numpy() for k, p in ref.named_parameters()}, "cuda")
        out = pipe(x)
        assert out.device.type == "cuda", out.device
        np.testing.assert_allclose(out.to("cpu").numpy(), ref(x).detach().to("cpu").numpy(), **TOL)

    # --- errors (raised on every rank, before any message) -----------------------------
    def expect(kind, fragment, fn):
        try:
            fn()
        except kind as exc:
            assert fragment in str(exc), f"{fragment!r} not in {exc}"
        else:
            raise AssertionError(f"no {kind.__name__} ({fragment})")
    expect(ValueError, f"has {n + 1} stages but the process group has {n} ranks",
           lambda: Pipeline(mlp(), [1] * (n + 1)))
    expect(ValueError, "sum(balance) must equal len(module)", lambda: Pipeline(mlp(), [1] * n))
    expect(ValueError, "chunks must be an int >= 1", lambda: Pipeline(mlp(), balances(n, 6)[0], chunks=0))
    expect(ValueError, "at least one layer", lambda: Pipeline(mlp(), [0] * (n - 1) + [6]) if n > 1 else
           Pipeline(mlp(), [0]))
    expect(TypeError, "must be an nn.Sequential", lambda: Pipeline(nn.Linear(2, 2), [1] * n))
    if n > 1:
        expect(ValueError, "the ranks disagree",
               lambda: Pipeline(mlp(), balances(n, 6)[0], chunks=1 + (rank == n - 1)))
    pipe = Pipeline(mlp(), balances(n, 6)[0], chunks=2)
    expect(ValueError, "reduction must be 'mean' or 'sum'",
           lambda: pipe.train_step(None, None, nn.MSELoss(reduction="none")))
    expect(ValueError, "leave reduction=None", lambda: pipe.train_step(None, None, nn.MSELoss(), reduction="sum"))
    expect(TypeError, "loss_fn must be callable", lambda: pipe.train_step(None, None, "mse"))
    if first:
        expect(TypeError, "needs the input batch as a Tensor", lambda: pipe(None))
    if n == 1:  # errors found by one rank alone (with several ranks, the others wait for it)
        x, y = batch(8)
        expect(ValueError, "target has shape (3, 3) but the input batch has 8 samples",
               lambda: pipe.train_step(x, y[:3], nn.MSELoss()))
        expect(TypeError, "needs target as a Tensor", lambda: pipe.train_step(x, None, nn.MSELoss()))
        expect(ValueError, "needs a non-empty batch dimension", lambda: pipe(x[:0]))
        expect(ValueError, "one number per micro-batch",
               lambda: pipe.train_step(x, y, lambda out, t: (out - t) ** 2))
        tuple_out = Pipeline(nn.Sequential(nn.Linear(6, 4), nn.LSTM(4, 3)).to(tn.float64), [2], chunks=2)
        expect(TypeError, "a stage must return one Tensor", lambda: tuple_out(x.reshape(8, 1, 6)))
    dist.barrier()
    print(f"rank {rank}: pipeline checks passed")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
    sys.stdout.flush()
