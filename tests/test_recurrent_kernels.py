"""The whole-layer recurrent kernels (``recurrent_forward`` / ``recurrent_backward``) and
the layer ops built on them (``F.lstm_layer``, ``F.gru_layer``, ``F.rnn_layer``).

References: the same layer unrolled into differentiable cell ops (``F.lstm_cell`` & co.,
differentiated by the autograd engine) and PyTorch (bidirectional stacks).
Every cell, float32 and float64, both directions, batch of 1, T = 1, non-contiguous inputs,
on cpu and (simulated) cuda; tiny shapes, as the CUDA simulator is slow. Also the pieces:
the float32 activations built on the vectorisable exp, and the BLAS calls from compiled code.
"""
import numpy as np
import pytest

import tinynet as tn
import tinynet.functional as F
import tinynet.nn as nn
from tinynet.backend.errors import ArgumentError
from tinynet.kernels.cpu import _blas
from tinynet.kernels.cpu import lstm as cpu_lstm

from conftest import DEVICES

CELLS = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}
TOL = {"float64": dict(rtol=1e-9, atol=1e-11), "float32": dict(rtol=2e-5, atol=2e-6)}


def _tn(a, device, dtype, grad=True):
    return tn.tensor(a, dtype=getattr(tn, dtype), device=device, requires_grad=grad)


def _host(t):
    return np.asarray(t.detach().to("cpu").numpy(), dtype=np.float64)


def _layer(cell, reverse):
    """(x, h0, c0, w_ih, w_hh, b_ih, b_hh) -> the layer's output through the fused op."""
    if cell == "lstm":
        return lambda x, h, c, *w: F.lstm_layer(x, h, c, *w, reverse=reverse)
    if cell == "gru":
        return lambda x, h, c, *w: F.gru_layer(x, h, *w, reverse=reverse)
    return lambda x, h, c, *w: F.rnn_layer(x, h, *w, nonlinearity=cell[4:], reverse=reverse)


def _unrolled(cell, reverse):
    """The same layer as a graph of cell ops, one per step (what the fused op must equal)."""
    def run(x, h, c, w_ih, w_hh, b_ih, b_hh):
        T = x.shape[1]
        hs = [None] * T
        for t in (range(T - 1, -1, -1) if reverse else range(T)):
            if cell == "lstm":
                h, c = F.lstm_cell(x[:, t], h, c, w_ih, w_hh, b_ih, b_hh)
            elif cell == "gru":
                h = F.gru_cell(x[:, t], h, w_ih, w_hh, b_ih, b_hh)
            else:
                h = F.rnn_cell(x[:, t], h, w_ih, w_hh, b_ih, b_hh, nonlinearity=cell[4:])
            hs[t] = h
        out = F.stack(hs, axis=1)
        return F.cat([out, c.unsqueeze(1)], axis=1) if cell == "lstm" else out
    return run


def _arrays(rng, cell, N, T, I, H):
    G = CELLS[cell] * H
    return [rng.standard_normal((N, T, I)), rng.standard_normal((N, H)), rng.standard_normal((N, H)),
            rng.standard_normal((G, I)) * 0.6, rng.standard_normal((G, H)) * 0.6,
            rng.standard_normal(G) * 0.3, rng.standard_normal(G) * 0.3]


def _value_and_grads(fn, arrays, device, dtype, g, strided=False):
    """fn's output and the gradients of <output, g> for every input (None where unused).

    ``strided``: each input reaches ``fn`` as a non-contiguous view, every other element of
    a leaf twice as wide (the gradients returned are those of the viewed elements).
    """
    if strided:
        leaves = []
        for a in arrays:
            base = np.zeros(a.shape[:-1] + (2 * a.shape[-1],))
            base[..., ::2] = a
            leaves.append(_tn(base, device, dtype))
        ins = [leaf[..., ::2] for leaf in leaves]
    else:
        leaves = ins = [_tn(a, device, dtype) for a in arrays]
    out = fn(*ins)
    grads = tn.autograd.grad([out], leaves, grad_outputs=[_tn(g, device, dtype, grad=False)], allow_unused=True)
    return _host(out), [None if d is None else _host(d)[..., ::2] if strided else _host(d) for d in grads]


def _compare(got, want, dtype, what):
    (out, grads), (out_ref, grads_ref) = got, want
    np.testing.assert_allclose(out, out_ref, **TOL[dtype], err_msg=f"{what}: output")
    names = ["x", "h0", "c0", "w_ih", "w_hh", "b_ih", "b_hh"]
    for name, a, b in zip(names, grads, grads_ref):
        if b is None:
            assert a is None or not np.any(a), f"{what}: d{name} should be absent"
            continue
        np.testing.assert_allclose(a, b, **TOL[dtype], err_msg=f"{what}: d{name}")


# --- the fused op against the unrolled cells ---------------------------------------------------
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("cell", list(CELLS))
def test_layer_matches_unrolled_cells(device, cell, dtype, reverse):
    rng = np.random.default_rng(1)
    N, T, I, H = 2, 3, 3, 4
    arrays = _arrays(rng, cell, N, T, I, H)
    g = rng.standard_normal((N, T + 1 if cell == "lstm" else T, H))
    got = _value_and_grads(_layer(cell, reverse), arrays, device, dtype, g)
    want = _value_and_grads(_unrolled(cell, reverse), arrays, device, dtype, g)
    _compare(got, want, dtype, f"{cell} {dtype} reverse={reverse} on {device}")


@pytest.mark.parametrize("shape", [(1, 4, 2, 3), (3, 1, 2, 3), (1, 1, 1, 1)], ids=["batch1", "T1", "all1"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_relu"])
def test_edge_shapes_and_strided_inputs(device, cell, shape):
    """Batch of 1, a single step, one unit; every input a non-contiguous view."""
    rng = np.random.default_rng(2)
    N, T, I, H = shape
    arrays = _arrays(rng, cell, N, T, I, H)
    g = rng.standard_normal((N, T + 1 if cell == "lstm" else T, H))
    for dtype in ("float64", "float32"):
        got = _value_and_grads(_layer(cell, True), arrays, device, dtype, g, strided=True)
        want = _value_and_grads(_unrolled(cell, True), arrays, device, dtype, g)
        _compare(got, want, dtype, f"{cell} {shape} strided {dtype} on {device}")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_inputs_without_grad_get_none_and_the_rest_stay_right(device, cell):
    """x and W_ih frozen: their GEMMs are skipped, the other gradients still match."""
    rng = np.random.default_rng(8)
    arrays = _arrays(rng, cell, 2, 3, 3, 2)
    g = rng.standard_normal((2, 4 if cell == "lstm" else 3, 2))
    grads = []
    for fn in (_layer(cell, False), _unrolled(cell, False)):
        ins = [_tn(a, device, "float64", grad=i not in (0, 3)) for i, a in enumerate(arrays)]
        out = fn(*ins)
        out.backward(_tn(g, device, "float64", grad=False))
        assert ins[0].grad is None and ins[3].grad is None
        grads.append([None if t.grad is None else _host(t.grad) for t in ins])
    for a, b in zip(*grads):
        if b is None:
            assert a is None
        else:
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_create_graph_path_gives_the_same_gradients(device):
    """``create_graph=True`` differentiates the unrolled cells (``backward``), a plain
    backward runs the kernels (``backward_array``): the two agree, and the first supports
    a second derivative."""
    rng = np.random.default_rng(3)
    arrays = _arrays(rng, "lstm", 2, 3, 3, 2)
    ins = [_tn(a, device, "float64") for a in arrays]
    out = F.lstm_layer(*ins)
    g = _tn(rng.standard_normal(out.shape), device, "float64", grad=False)
    fast = tn.autograd.grad([out], ins, grad_outputs=[g], retain_graph=True)
    slow = tn.autograd.grad([out], ins, grad_outputs=[g], create_graph=True)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(_host(a), _host(b), rtol=1e-10, atol=1e-12)
    (slow[4] ** 2).sum().backward()  # through the recorded graph of the backward
    assert ins[4].grad is not None and np.all(np.isfinite(_host(ins[4].grad)))


def test_kernels_refuse_an_unknown_cell(device):
    k = tn.device(device).kernels
    dev = tn.device(device)
    z = dev.from_host(np.zeros((1, 1, 2)))
    with pytest.raises(ValueError, match="recurrent_forward: unknown cell 'lstmm'"):
        k.recurrent_forward("lstmm", z, z[0], z[0], z[0].T, z[0, 0], False)
    with pytest.raises(ValueError, match="recurrent_backward: unknown cell 'rnn'"):
        k.recurrent_backward("rnn", z, None, z[0], None, z[0], z, z, z, z, False)


def test_rnn_layer_refuses_an_unknown_nonlinearity():
    x, h = tn.zeros((1, 2, 3)), tn.zeros((1, 2))
    with pytest.raises(ArgumentError, match="rnn_layer: nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"):
        F.rnn_layer(x, h, tn.zeros((2, 3)), tn.zeros((2, 2)), tn.zeros(2), tn.zeros(2), nonlinearity="sigmoid")


# --- bidirectional stacks against PyTorch ---------------------------------------------------------
@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
def test_bidirectional_stack_matches_torch(device, mode):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    kw = dict(num_layers=2, bidirectional=True, batch_first=True)
    tmod = getattr(torch.nn, mode)(3, 4, **kw).double()
    mod = getattr(nn, mode)(3, 4, **kw).to(tn.float64)
    mod.load_state_dict({k: tn.tensor(v.detach().numpy(), dtype=tn.float64) for k, v in tmod.state_dict().items()})
    mod.to(device)
    x = rng.standard_normal((2, 5, 3))
    xt = torch.tensor(x, requires_grad=True)
    xn = _tn(x, device, "float64")
    out_t, _ = tmod(xt)
    out_n, _ = mod(xn)
    np.testing.assert_allclose(_host(out_n), out_t.detach().numpy(), rtol=1e-9, atol=1e-11)
    g = rng.standard_normal(out_t.shape)
    out_t.backward(torch.tensor(g))
    out_n.backward(_tn(g, device, "float64", grad=False))
    np.testing.assert_allclose(_host(xn.grad), xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    for name, p in tmod.named_parameters():
        np.testing.assert_allclose(_host(getattr(mod, name).grad), p.grad.numpy(), rtol=1e-9, atol=1e-11,
                                   err_msg=name)


# --- the pieces: float32 activations and BLAS from compiled code ----------------------------------
def test_vector_exp_activations_are_accurate():
    """sigmoid and tanh as the float32 loops compile them (exp bound to _vecmath.exp_nonpos,
    float64 arithmetic: tanh near 0 keeps its relative accuracy)."""
    units = cpu_lstm._UNITS_VECTOR_EXP
    a = np.concatenate([np.linspace(-40, 40, 2001), [-1e-30, 0.0, 1e-30, 1e-7, -200.0, 200.0, -np.inf, np.inf]])
    sig = np.array([units.sigmoid(v) for v in a])
    th = np.array([units.tanh(v) for v in a])
    with np.errstate(over="ignore"):
        sig_ref = 1.0 / (1.0 + np.exp(-a))
    np.testing.assert_allclose(sig, sig_ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(th, np.tanh(a), rtol=1e-9, atol=1e-12)
    assert np.isnan(units.sigmoid(np.nan)) and np.isnan(units.tanh(np.nan))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_blas_calls_from_compiled_code(dtype):
    """gemm_* (NumPy's BLAS where found) and their np.dot fallbacks against NumPy, with
    empty and single-row shapes."""
    rng = np.random.default_rng(6)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for m, k, n in ((3, 5, 4), (1, 7, 2), (0, 3, 2), (2, 0, 3)):
        a = rng.standard_normal((m, k)).astype(dtype)
        bt, b = rng.standard_normal((n, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
        for nt, nn_ in ((_blas.gemm_nt, _blas.gemm_nn), (_blas.dot_nt, _blas.dot_nn)):
            out = np.full((m, n), np.nan, dtype)
            nt(a, bt, out)
            np.testing.assert_allclose(out, a @ bt.T, **tol)
            out = np.full((m, n), np.nan, dtype)
            nn_(a, b, out)
            np.testing.assert_allclose(out, a @ b, **tol)


def test_each_compiled_loop_has_its_own_cache_name():
    """Numba's disk cache keys entries by function name and argument types only: every
    (cell, exp binding, direction) loop must be its own function name."""
    names = [fn.py_func.__qualname__ for pair in cpu_lstm._LOOPS.values() for fn in pair]
    assert len(names) == len(set(names)) == 2 * len(cpu_lstm._LOOPS) == 16


@pytest.mark.skipif("cuda" not in DEVICES, reason="no cuda device, real or simulated")
def test_cuda_twin_never_aliases_a_written_argument():
    """The simulator copies every argument back after a launch, so passing one array twice
    (a written one and a stand-in) would lose writes; GRU and RNN pass stand-ins. Checked
    against the cpu for every cell, both directions."""
    cpu, gpu = tn.device("cpu"), tn.device("cuda")
    rng = np.random.default_rng(7)
    T, N, H = 3, 2, 3
    for cell, G in CELLS.items():
        for reverse in (False, True):
            args = [rng.standard_normal(s) for s in ((T, N, G * H), (N, H), (N, H), (G * H, H), (G * H,))]
            a = cpu.kernels.recurrent_forward(cell, *args, reverse)
            b = gpu.kernels.recurrent_forward(cell, *(gpu.from_host(x) for x in args), reverse)
            for x, y in zip(a, b):
                np.testing.assert_allclose(x, gpu.to_host(y), rtol=1e-12, atol=1e-13)
            gh, dc = rng.standard_normal((T, N, H)), rng.standard_normal((N, H))
            da = cpu.kernels.recurrent_backward(cell, gh, dc, args[1], args[2], args[3], *a, reverse)
            db = gpu.kernels.recurrent_backward(cell, *(gpu.from_host(x) for x in (gh, dc, args[1], args[2], args[3])),
                                                *b, reverse)
            for x, y in zip(da, db):
                np.testing.assert_allclose(x, gpu.to_host(y), rtol=1e-12, atol=1e-13, err_msg=f"{cell} {reverse}")
