"""Run by tests/test_tensor_parallel.py under ``mpiexec -n N``: tensor parallelism against the unsplit layers.

In float64, every split layer is compared with its unsplit twin (built from the same seed or
the same module): outputs, the input's gradient, and each parameter's gradient against the
matching slice of the full gradient. The communication is counted by wrapping
``tinynet.distributed.all_reduce`` / ``all_gather_into_tensor`` (the layers look them up at
call time). Any mismatch raises, so this rank exits non-zero and the test fails.
"""
import copy

import numpy as np

import tinynet as tn
import tinynet.distributed as dist
import tinynet.nn as nn
import tinynet.nn.functional as F
import tinynet.nn.parallel as P
import tinynet.optim as optim
from tinynet.backend.errors import ArgumentError, DTypeError, ShapeError
from tinynet.models.gpt import GPTMini

F64 = tn.float64
RANK = WORLD = None


def close(a, b, what, tol=1e-10):
    a = a.detach().numpy() if hasattr(a, "numpy") else np.asarray(a)
    b = b.detach().numpy() if hasattr(b, "numpy") else np.asarray(b)
    assert a.shape == b.shape, f"rank {RANK}: {what}: shape {a.shape} != {b.shape}"
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=f"rank {RANK}: {what}")


def rows(a, part=None):
    """This rank's block of dim 0 (a NumPy array)."""
    part = part or a.shape[0] // WORLD
    return a[RANK * part:(RANK + 1) * part]


def cols(a):
    part = a.shape[-1] // WORLD
    return a[..., RANK * part:(RANK + 1) * part]


def raises(kind, words, fn):
    try:
        fn()
    except kind as e:
        for w in words:
            assert w in str(e), f"rank {RANK}: {kind.__name__} message {str(e)!r} lacks {w!r}"
        return
    raise AssertionError(f"rank {RANK}: expected {kind.__name__} containing {words}")


class Counter:
    """Wraps a collective of tinynet.distributed and counts the calls."""

    def __init__(self, name):
        self.name, self.real, self.calls = name, getattr(dist, name), 0
        setattr(dist, name, self)

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.real(*args, **kwargs)

    def take(self):
        n, self.calls = self.calls, 0
        return n


def comm_counts(forward, grad):
    """``((all-reduces, all-gathers) in forward, (...) in backward)`` of ``forward()``."""
    reduce, gather = Counter("all_reduce"), Counter("all_gather_into_tensor")
    try:
        y = forward()
        fwd = (reduce.take(), gather.take())
        y.backward(grad)
        return fwd, (reduce.take(), gather.take())
    finally:
        dist.all_reduce, dist.all_gather_into_tensor = reduce.real, gather.real


def check_functions(rng):
    x = rng.standard_normal((3, 4 * WORLD))
    g = rng.standard_normal((3, 4 * WORLD))
    everyone = [np.full((2, 3), float(r + 1)) for r in range(WORLD)]
    # copy: identity forward, all-reduce backward
    t = tn.tensor(x, requires_grad=True)
    y = P.copy_to_tensor_parallel_region(t)
    close(y, x, "copy forward")
    (y * tn.tensor(g)).sum().backward()
    close(t.grad, g * WORLD, "copy backward = sum of the ranks' (equal) gradients")
    # reduce: all-reduce forward, identity backward; the input is left unchanged
    t = tn.tensor(everyone[RANK], requires_grad=True)
    y = P.reduce_from_tensor_parallel_region(t)
    close(y, sum(everyone), "reduce forward")
    close(t, everyone[RANK], "reduce leaves its input alone")
    y.backward(tn.tensor(np.ones((2, 3))))
    close(t.grad, np.ones((2, 3)), "reduce backward")
    # scatter: keep this rank's last-dim block; backward all-gathers
    t = tn.tensor(x, requires_grad=True)
    y = P.scatter_to_tensor_parallel_region(t)
    close(y, cols(x), "scatter forward")
    y.backward(tn.tensor(cols(g)))
    close(t.grad, g, "scatter backward = gathered gradient")
    # gather: all-gather along the last dim (rank order); backward keeps this rank's block
    parts = [rng.standard_normal((2, 3, 2)) + r for r in range(WORLD)]
    mine = tn.tensor(parts[RANK], requires_grad=True)
    y = P.gather_from_tensor_parallel_region(mine)
    close(y, np.concatenate(parts, axis=-1), "gather forward")
    gg = rng.standard_normal((2, 3, 2 * WORLD))
    y.backward(tn.tensor(gg))
    close(mine.grad, cols(gg), "gather backward")
    if WORLD > 1:
        raises(ShapeError, ["scatter_to_tensor_parallel_region", f"(2, {2 * WORLD + 1})", f"world size {WORLD}"],
               lambda: P.scatter_to_tensor_parallel_region(tn.ones(2, 2 * WORLD + 1)))
    raises(TypeError, ["copy_to_tensor_parallel_region"], lambda: P.copy_to_tensor_parallel_region(np.ones(3)))


def check_linears(rng):
    d_in, d_out = 3 * WORLD, 2 * WORLD
    x = rng.standard_normal((4, 2, d_in))
    g = rng.standard_normal((4, 2, d_out))
    for bias in (True, False):
        tn.manual_seed(3)
        full = nn.Linear(d_in, d_out, bias=bias, dtype=F64)
        xf = tn.tensor(x, requires_grad=True)
        full(xf).backward(tn.tensor(g))
        for gather in (True, False):
            tn.manual_seed(3)  # same seed -> the same values as nn.Linear
            col = P.ColumnParallelLinear(d_in, d_out, bias=bias, gather_output=gather, dtype=F64)
            assert tuple(col.weight.shape) == (d_out // WORLD, d_in)
            close(col.weight, rows(full.weight.detach().numpy()), "ColumnParallelLinear init = nn.Linear shard")
            xt = tn.tensor(x, requires_grad=True)
            y = col(xt)
            close(y, full(tn.tensor(x)).detach().numpy() if gather else cols(full(tn.tensor(x)).detach().numpy()),
                  f"column forward gather={gather}")
            y.backward(tn.tensor(g if gather else cols(g)))
            close(xt.grad, xf.grad, f"column input grad gather={gather}")
            close(col.weight.grad, rows(full.weight.grad.detach().numpy()), f"column weight grad gather={gather}")
            if bias:
                close(col.bias.grad, rows(full.bias.grad.detach().numpy()), "column bias grad")
            back = col.to_linear()
            close(back.weight, full.weight, "ColumnParallelLinear.to_linear")
        for parallel_in in (False, True):
            row = P.RowParallelLinear.from_linear(full, input_is_parallel=parallel_in)
            assert tuple(row.weight.shape) == (d_out, d_in // WORLD)
            close(row.weight, cols(full.weight.detach().numpy()), "RowParallelLinear.from_linear shard")
            xt = tn.tensor(cols(x) if parallel_in else x, requires_grad=True)
            y = row(xt)
            close(y, full(tn.tensor(x)), f"row forward input_is_parallel={parallel_in}")
            y.backward(tn.tensor(g))
            close(xt.grad, cols(xf.grad.detach().numpy()) if parallel_in else xf.grad,
                  f"row input grad input_is_parallel={parallel_in}")
            close(row.weight.grad, cols(full.weight.grad.detach().numpy()), "row weight grad")
            if bias:
                close(row.bias.grad, full.bias.grad, "row bias grad (added once, after the all-reduce)")
            close(row.to_linear().weight, full.weight, "RowParallelLinear.to_linear")
        tn.manual_seed(3)
        row = P.RowParallelLinear(d_in, d_out, bias=bias, dtype=F64)
        close(row.weight, cols(full.weight.detach().numpy()), "RowParallelLinear init = nn.Linear shard")
        if bias:
            close(row.bias, full.bias, "RowParallelLinear bias init")
    # the communication of each mode: gather_output=True all-gathers in forward; the input's
    # gradient is all-reduced; a row split all-reduces in forward and, fed the full input,
    # all-gathers the input's gradient in backward
    xs = tn.tensor(x, requires_grad=True)
    for layer, grad, want in (
            (P.ColumnParallelLinear(d_in, d_out, gather_output=True, dtype=F64), g, ((0, 1), (1, 0))),
            (P.ColumnParallelLinear(d_in, d_out, gather_output=False, dtype=F64), cols(g), ((0, 0), (1, 0))),
            (P.RowParallelLinear(d_in, d_out, input_is_parallel=False, dtype=F64), g, ((1, 0), (0, 1)))):
        got = comm_counts(lambda: layer(xs), tn.tensor(grad))
        assert got == want, f"rank {RANK}: {layer._label()} made (all-reduce, all-gather) {got}, want {want}"
    # gradcheck / gradgradcheck through all four region Functions (their backward is the partner's
    # forward, so a second derivative works too); every rank perturbs in lockstep
    tn.manual_seed(9)
    col = P.ColumnParallelLinear(d_in, 2 * WORLD, gather_output=False, dtype=F64)
    row = P.RowParallelLinear(2 * WORLD, 3, input_is_parallel=True, dtype=F64)
    col_g = P.ColumnParallelLinear(d_in, 2 * WORLD, gather_output=True, dtype=F64)
    row_s = P.RowParallelLinear(2 * WORLD, 3, input_is_parallel=False, dtype=F64)
    xg = tn.tensor(rng.standard_normal((2, d_in)), requires_grad=True)
    for fn in (lambda t: row(F.tanh(col(t))), lambda t: row_s(F.tanh(col_g(t)))):
        assert tn.gradcheck(fn, (xg,)) and tn.gradgradcheck(fn, (xg,))
    # a column-split layer feeding a row-split one: one all-reduce forward, one backward
    reduce, gather = Counter("all_reduce"), Counter("all_gather_into_tensor")
    try:
        tn.manual_seed(4)
        fc, proj = nn.Linear(d_in, 4 * WORLD, dtype=F64), nn.Linear(4 * WORLD, d_in, dtype=F64)
        mlp = P.TensorParallelMLP.from_linears(fc, proj, activation="relu")
        reduce.take(), gather.take()
        xt = tn.tensor(x, requires_grad=True)
        y = mlp(xt)
        assert (reduce.take(), gather.take()) == (1, 0), "MLP forward: one all-reduce, no all-gather"
        y.backward(tn.tensor(x))
        assert (reduce.take(), gather.take()) == (1, 0), "MLP backward: one all-reduce, no all-gather"
        xf = tn.tensor(x, requires_grad=True)
        yf = proj(F.relu(fc(xf)))
        yf.backward(tn.tensor(x))
        close(y, yf, "TensorParallelMLP forward")
        close(xt.grad, xf.grad, "TensorParallelMLP input grad")
        close(mlp.fc.weight.grad, rows(fc.weight.grad.detach().numpy()), "TensorParallelMLP fc weight grad")
    finally:
        dist.all_reduce, dist.all_gather_into_tensor = reduce.real, gather.real
    # errors
    col = P.ColumnParallelLinear(d_in, d_out, dtype=F64)
    raises(ShapeError, ["ColumnParallelLinear", f"{d_in} features", "(2, 5)"], lambda: col(tn.ones(2, 5, dtype=F64)))
    raises(DTypeError, ["ColumnParallelLinear", "float32", "float64"], lambda: col(tn.ones(2, d_in)))
    row = P.RowParallelLinear(d_in, d_out, input_is_parallel=True, dtype=F64)
    raises(ShapeError, ["RowParallelLinear", "input_is_parallel=True", f"{d_in // WORLD} features"],
           lambda: row(tn.ones(2, d_in + 1, dtype=F64)))
    raises(TypeError, ["from_linear", "nn.Linear", "Conv2d"], lambda: P.RowParallelLinear.from_linear(nn.Conv2d(1, 1, 1)))
    if WORLD > 1:
        raises(ShapeError, ["ColumnParallelLinear(4\u2192" + f"{2 * WORLD + 1})", f"out_features={2 * WORLD + 1}",
                            f"world size {WORLD}"], lambda: P.ColumnParallelLinear(4, 2 * WORLD + 1))
        raises(ShapeError, ["RowParallelLinear", f"in_features={2 * WORLD + 1}", f"world size {WORLD}"],
               lambda: P.RowParallelLinear(2 * WORLD + 1, 4))


def block_grads_match(tp, full, what):
    """Every parameter gradient of the split block = the matching slice of the full block's."""
    E = full.attn.embed_dim
    part = E // WORLD
    gw, gb = full.attn.in_proj_weight.grad.detach().numpy(), full.attn.in_proj_bias.grad.detach().numpy()
    mine = [slice(k * E + RANK * part, k * E + (RANK + 1) * part) for k in range(3)]  # q_r, k_r, v_r
    close(tp.attn.qkv.weight.grad, np.concatenate([gw[s] for s in mine]), f"{what}: qkv weight grad")
    close(tp.attn.qkv.bias.grad, np.concatenate([gb[s] for s in mine]), f"{what}: qkv bias grad")
    close(tp.attn.out_proj.weight.grad, cols(full.attn.out_proj.weight.grad.detach().numpy()), f"{what}: out_proj weight grad")
    close(tp.attn.out_proj.bias.grad, full.attn.out_proj.bias.grad, f"{what}: out_proj bias grad")
    close(tp.mlp.fc.weight.grad, rows(full.fc.weight.grad.detach().numpy()), f"{what}: fc weight grad")
    close(tp.mlp.fc.bias.grad, rows(full.fc.bias.grad.detach().numpy()), f"{what}: fc bias grad")
    close(tp.mlp.proj.weight.grad, cols(full.proj.weight.grad.detach().numpy()), f"{what}: proj weight grad")
    close(tp.mlp.proj.bias.grad, full.proj.bias.grad, f"{what}: proj bias grad")
    for ln in ("ln_1", "ln_2"):
        for p in ("weight", "bias"):
            close(getattr(getattr(tp, ln), p).grad, getattr(getattr(full, ln), p).grad, f"{what}: {ln}.{p} grad")


def check_block(rng):
    E, H = 4 * WORLD, 2 * WORLD
    x = rng.standard_normal((3, 5, E))
    g = rng.standard_normal((3, 5, E))
    pad = np.zeros((3, 5), dtype=bool)
    pad[1, 3:] = True
    for batch_first, kpm in ((True, None), (True, pad), (False, None)):
        tn.manual_seed(5)
        full = nn.TransformerDecoderBlock(E, H, batch_first=batch_first, dtype=F64)
        with tn.no_grad():
            for p in full.parameters():  # non-zero biases and layer-norm affines: every slice is tested
                p.add_(tn.tensor(rng.standard_normal(p.shape) * 0.1))
        tp = P.TensorParallelDecoderBlock.from_block(full)
        xin = x if batch_first else x.swapaxes(0, 1)
        gin = g if batch_first else g.swapaxes(0, 1)
        mask = None if kpm is None else tn.tensor(kpm)
        xf, xt = tn.tensor(xin, requires_grad=True), tn.tensor(xin, requires_grad=True)
        yf = full(xf, key_padding_mask=mask)
        reduce, gather = Counter("all_reduce"), Counter("all_gather_into_tensor")
        try:
            yt = tp(xt, key_padding_mask=mask)
            counts_fwd = (reduce.take(), gather.take())
            yt.backward(tn.tensor(gin))
            counts_bwd = (reduce.take(), gather.take())
        finally:
            dist.all_reduce, dist.all_gather_into_tensor = reduce.real, gather.real
        assert counts_fwd == (2, 0), f"rank {RANK}: block forward made {counts_fwd} all-reduces/all-gathers, want (2, 0)"
        assert counts_bwd == (2, 0), f"rank {RANK}: block backward made {counts_bwd} all-reduces/all-gathers, want (2, 0)"
        yf.backward(tn.tensor(gin))
        what = f"block batch_first={batch_first} key_padding_mask={kpm is not None}"
        close(yt, yf, f"{what}: output")
        close(xt.grad, xf.grad, f"{what}: input grad")
        block_grads_match(tp, full, what)
    # the constructor draws what TransformerDecoderBlock draws
    tn.manual_seed(6)
    full = nn.TransformerDecoderBlock(E, H, dim_feedforward=4 * WORLD, batch_first=True, dtype=F64)
    tn.manual_seed(6)
    tp = P.TensorParallelDecoderBlock(E, H, dim_feedforward=4 * WORLD, batch_first=True, dtype=F64)
    close(tp(tn.tensor(x)), full(tn.tensor(x)), "TensorParallelDecoderBlock(...) = TransformerDecoderBlock(...)")
    # a float attn_mask per (batch, head) that wants its gradient: each rank uses its heads' part
    attn = P.TensorParallelSelfAttention.from_mha(full.attn)
    m = rng.standard_normal((3 * H, 5, 5))
    mf, mt = tn.tensor(m, requires_grad=True), tn.tensor(m, requires_grad=True)
    hx = tn.tensor(x)
    ref, _ = full.attn(hx, hx, hx, attn_mask=mf, need_weights=False)
    out = attn(hx, attn_mask=mt)
    close(out, ref, "attention with a per-head float attn_mask")
    ref.sum().backward()
    out.sum().backward()
    mine = mt.grad.detach().numpy().reshape(3, H, 5, 5)[:, RANK * (H // WORLD):(RANK + 1) * (H // WORLD)]
    close(mine, mf.grad.detach().numpy().reshape(3, H, 5, 5)[:, RANK * (H // WORLD):(RANK + 1) * (H // WORLD)],
          "attn_mask grad of this rank's heads")
    # dropout: seeded alike, every rank draws the same residual masks -> replicated output
    tn.manual_seed(7)
    drop = P.TensorParallelDecoderBlock(E, H, dropout=0.3, batch_first=True, dtype=F64)
    y = drop(tn.tensor(x))
    everyone = tn.zeros(WORLD * 3, 5, E, dtype=F64)
    dist.all_gather_into_tensor(everyone, y.detach())
    for r in range(WORLD):
        close(everyone.detach().numpy()[3 * r:3 * r + 3], y, "dropout output is the same on every rank")
    # errors
    raises(TypeError, ["from_block", "TransformerDecoderBlock", "Linear"],
           lambda: P.TensorParallelDecoderBlock.from_block(nn.Linear(2, 2)))
    raises(ArgumentError, ["from_mha", "kdim"],
           lambda: P.TensorParallelSelfAttention.from_mha(nn.MultiheadAttention(4, 2, kdim=3)))
    raises(ShapeError, ["TensorParallelSelfAttention", f"E={E}", f"(3, 5, {E + 1})"], lambda: attn(tn.ones(3, 5, E + 1, dtype=F64)))
    raises(ArgumentError, ["parallelize_tensor", "Sequential", "no nn.TransformerDecoderBlock"],
           lambda: P.parallelize_tensor(nn.Sequential(nn.Linear(2, 2))))
    if WORLD > 1:
        raises(ShapeError, ["TensorParallelDecoderBlock", f"nhead={WORLD + 1}", f"world size {WORLD}"],
               lambda: P.TensorParallelDecoderBlock(4 * (WORLD + 1), WORLD + 1, dim_feedforward=4 * WORLD))
        raises(ShapeError, ["TensorParallelDecoderBlock", f"dim_feedforward={2 * WORLD + 1}"],
               lambda: P.TensorParallelDecoderBlock(2 * WORLD, WORLD, dim_feedforward=2 * WORLD + 1))


def check_gpt(rng):
    V, T, D, H = 13, 6, 4 * WORLD, 2 * WORLD
    tn.manual_seed(8)
    full = GPTMini(V, context=T, d_model=D, n_heads=H, n_layers=2, dtype=F64)
    tp = copy.deepcopy(full)
    assert tp.parallelize_tensor() is tp
    assert all(isinstance(b, P.TensorParallelDecoderBlock) for b in tp.blocks)
    idx = tn.tensor(rng.integers(0, V, size=(3, T)))
    tgt = tn.tensor(rng.integers(0, V, size=(3 * T,)))
    opt_f = optim.SGD(full.parameters(), lr=0.5, momentum=0.9)
    opt_t = optim.SGD(tp.parameters(), lr=0.5, momentum=0.9)
    for step in range(4):
        opt_f.zero_grad()
        opt_t.zero_grad()
        lf, lt = full(idx), tp(idx)
        close(lt, lf, f"GPT logits, step {step}")
        loss_f = F.cross_entropy(lf.reshape(-1, V), tgt)
        loss_t = F.cross_entropy(lt.reshape(-1, V), tgt)
        close(loss_t, loss_f, f"GPT loss, step {step}")
        loss_f.backward()
        loss_t.backward()
        for name in ("tok_emb.weight", "pos_emb.weight", "ln_f.weight", "ln_f.bias", "head.weight"):
            close(dict(tp.named_parameters())[name].grad, dict(full.named_parameters())[name].grad,
                  f"GPT {name} grad, step {step}")
        for bt, bf in zip(tp.blocks, full.blocks):
            block_grads_match(bt, bf, f"GPT block, step {step}")
        opt_f.step()
        opt_t.step()
    assert float(loss_t.item()) < 2.6, "the SGD steps lowered the loss"  # ln(13) = 2.565 at the start
    # GPT with 2 blocks: 2 all-reduces per block each way, nothing else communicates
    got = comm_counts(lambda: F.cross_entropy(tp(idx).reshape(-1, V), tgt), None)
    assert got == ((4, 0), (4, 0)), f"rank {RANK}: GPT (2 blocks) made {got} (all-reduce, all-gather)"
    # after the steps, every shard still equals its slice of the unsplit model
    for bt, bf in zip(tp.blocks, full.blocks):
        close(bt.mlp.fc.weight, rows(bf.fc.weight.detach().numpy()), "GPT fc weight after SGD")
        close(bt.attn.out_proj.weight, cols(bf.attn.out_proj.weight.detach().numpy()), "GPT out_proj weight after SGD")
    # gathering the shards back gives the unsplit blocks, without moving the generator
    state = tn.get_rng_state()
    for bt, bf in zip(tp.blocks, full.blocks):
        want = bf.state_dict()
        got = bt.to_block().state_dict()
        assert sorted(got) == sorted(want), f"rank {RANK}: to_block keys {sorted(got)}"
        for key in want:
            close(got[key], want[key], f"to_block {key}")
    assert tn.get_rng_state() == state, "to_block left the generator as it was"
    close(tp.generate(idx[:, :2], 3, temperature=0), full.generate(idx[:, :2], 3, temperature=0), "GPT generate")
    raises(RuntimeError, ["already tensor-parallel"], tp.parallelize_tensor)
    if WORLD > 1:
        bad = GPTMini(V, context=T, d_model=3 * (WORLD + 1), n_heads=WORLD + 1, n_layers=1)
        raises(ShapeError, ["GPTMini.parallelize_tensor", f"n_heads={WORLD + 1}", f"world size {WORLD}"],
               bad.parallelize_tensor)


def main():
    global RANK, WORLD
    dist.init_process_group("mpi", timeout=60)
    RANK, WORLD = dist.get_rank(), dist.get_world_size()
    rng = np.random.default_rng(0)  # the same draws on every rank: replicated inputs
    check_functions(rng)
    check_linears(rng)
    check_block(rng)
    check_gpt(rng)
    dist.barrier()
    print(f"rank {RANK}: tensor parallel checks passed", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
