"""conv2d's tiled path (one image's columns at a time) against the batch-wide im2col path and PyTorch.

``kernels/policy.py`` sends a convolution whose batch-wide columns matrix (C*kh*kw x
N*OH*OW) has at least ``KERNEL_MIN_ELEMENTS["im2col"]`` entries, and at least two images,
through the kernels ``conv2d_tiled`` / ``conv2d_input_grad_tiled`` /
``conv2d_weight_grad_tiled``; smaller ones through im2col + one GEMM. Each test forces a
path by moving that threshold (the cpu tiles run on one thread and on two) and
compares forward, dx, dW and db with the other path and with torch (float64 references).
The geometry grid covers stride, padding (also "same"), dilation, groups, 1x1 and 5x5
kernels, one input channel, a batch of one and non-contiguous inputs; the cuda twins run
in the simulator on tiny shapes.
"""
import multiprocessing
import os
import threading

import numba
import numpy as np
import pytest
from threadpoolctl import ThreadpoolController

import tinynet as tn
from tinynet.kernels.cpu import conv as cpu_conv

from conftest import DEVICES

torch = pytest.importorskip("torch")
TF = torch.nn.functional

HUGE = 1 << 62
TILED = ("conv2d_tiled", "conv2d_input_grad_tiled", "conv2d_weight_grad_tiled")

#: name -> (N, C, H, W, O, kh, kw, stride, padding, dilation, groups)
CASES = {
    "3x3-pad1": (3, 4, 7, 6, 5, 3, 3, 1, 1, 1, 1),
    "valid": (2, 3, 8, 8, 4, 3, 3, 1, 0, 1, 1),
    "stride2": (3, 2, 9, 7, 4, 3, 3, 2, 1, 1, 1),
    "dilation": (2, 3, 9, 8, 2, 3, 2, (1, 2), (2, 1), (2, 1), 1),
    "groups": (3, 4, 6, 6, 6, 3, 3, 1, 1, 1, 2),
    "groups-valid-dilated": (2, 4, 9, 8, 6, 3, 3, 1, 0, (2, 1), 2),   # output rows padded to the input's width
    "1x1": (2, 5, 4, 5, 3, 1, 1, 1, 0, 1, 1),
    "5x5": (2, 2, 9, 9, 3, 5, 5, 1, 2, 1, 1),
    "cin1": (4, 1, 8, 8, 4, 3, 3, 1, 1, 1, 1),
    "same-even-kernel": (2, 2, 5, 6, 3, 2, 2, 1, "same", 1, 1),
}


def _data(case, seed=0):
    n, c, h, w, o, kh, kw, stride, padding, dilation, groups = case
    r = np.random.default_rng(seed)
    x = r.standard_normal((n, c, h, w))
    wt = r.standard_normal((o, c // groups, kh, kw)) * 0.3
    b = r.standard_normal(o)
    y = TF.conv2d(torch.tensor(x), torch.tensor(wt), torch.tensor(b), stride, padding, dilation, groups)
    g = r.standard_normal(tuple(y.shape))
    return x, wt, b, g, dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


def _torch(x, wt, b, g, kw):
    ts = [torch.tensor(a, requires_grad=True) for a in (x, wt, b)]
    y = TF.conv2d(*ts, **kw)
    y.backward(torch.tensor(g))
    return [y.detach().numpy()] + [t.grad.numpy() for t in ts]


def _tinynet(x, wt, b, g, kw, dtype, device="cpu", x_view=None):
    """(y, dx, dW, db) as float64 host arrays; ``x_view`` maps the input tensor to the view
    that is convolved (non-contiguous inputs)."""
    ts = [tn.tensor(a, dtype=dtype, device=device, requires_grad=True) for a in (x, wt, b)]
    xin = ts[0] if x_view is None else x_view(ts[0])
    y = tn.conv2d(xin, ts[1], ts[2], **kw)
    y.backward(tn.tensor(g, dtype=dtype, device=device))
    return [np.asarray(a.detach().to("cpu").numpy(), np.float64) for a in [y] + [t.grad for t in ts]]


def _close(got, want, dtype, what):
    tol = 1e-10 if dtype == "float64" else 2e-5
    for name, a, b in zip(("y", "dx", "dW", "db"), got, want):
        scale = max(1.0, float(np.abs(b).max()))
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * scale, err_msg=f"{what}: {name}")


def _force(monkeypatch, device, tiled):
    monkeypatch.setitem(tn.device(device).kernels.KERNEL_MIN_ELEMENTS, "im2col", 0 if tiled else HUGE)


@pytest.fixture
def threads():
    """``threads(n)`` sets Numba's thread count (the threads the cpu tiles run on) for the test."""
    before = numba.get_num_threads()
    yield lambda n: numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(before)


def _spy(monkeypatch, device, names=TILED + ("im2col",)):
    """Count the calls of the named kernels of ``device``."""
    calls = {name: 0 for name in names}
    table = tn.device(device).kernels
    for name in names:
        real = getattr(table, name)

        def call(*a, _name=name, _real=real, **k):
            calls[_name] += 1
            return _real(*a, **k)
        monkeypatch.setattr(table, name, call)
    return calls


# --- the tiled path against the im2col path and torch ---------------------------------------------
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")  # torch's note on its copy
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(CASES))
def test_tiled_matches_im2col_path_and_torch(monkeypatch, threads, name, dtype):
    x, wt, b, g, kw = _data(CASES[name])
    want = _torch(x, wt, b, g, kw)
    _force(monkeypatch, "cpu", tiled=False)
    old = _tinynet(x, wt, b, g, kw, dtype)
    _force(monkeypatch, "cpu", tiled=True)
    for n_threads in (1, 2):
        threads(n_threads)
        calls = _spy(monkeypatch, "cpu")
        new = _tinynet(x, wt, b, g, kw, dtype)
        assert calls == {"conv2d_tiled": 1, "conv2d_input_grad_tiled": 1, "conv2d_weight_grad_tiled": 1, "im2col": 0}
        _close(new, want, dtype, f"{name} tiled ({n_threads} threads) vs torch")
        _close(new, old, dtype, f"{name} tiled ({n_threads} threads) vs im2col path")
    _close(old, want, dtype, f"{name} im2col path vs torch")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_non_contiguous_input(monkeypatch, dtype):
    """A strided view (every other column of a wider image) convolves like its copy."""
    x, wt, b, g, kw = _data((3, 2, 6, 5, 4, 3, 3, 1, 1, 1, 1))
    wide = np.repeat(x, 2, axis=3)
    wide[..., 1::2] = 7.0                       # the skipped columns must not leak in
    want = _torch(x, wt, b, g, kw)
    _force(monkeypatch, "cpu", tiled=True)
    got = _tinynet(wide, wt, b, g, kw, dtype, x_view=lambda t: t[:, :, :, ::2])
    got[1] = got[1][..., ::2]                   # dx of the view's elements
    _close(got, want, dtype, "non-contiguous input")


def test_inf_at_the_right_edge_stays_out_of_other_taps(monkeypatch):
    """An unpadded stride-1 layer runs with output rows padded to the input's width (the flat
    im2col copy); the padding columns must not bring an inf at the input's right edge into
    the weight gradient of taps that never read it (0 * inf would be NaN)."""
    x, wt, b, g, kw = _data((2, 2, 6, 7, 3, 3, 3, 1, 0, 1, 1))
    x[1, 0, 2, -1] = np.inf
    g = np.abs(g) + 0.1
    _force(monkeypatch, "cpu", tiled=True)
    got = _tinynet(x, wt, b, g, kw, "float64")
    want = _torch(x, wt, b, g, kw)
    assert np.isfinite(got[2][:, :, :, :2]).all() and np.isinf(got[2][:, 0, :, 2]).any()
    for a, ref in zip(got, want):
        np.testing.assert_allclose(a, ref, rtol=1e-10, atol=1e-10)


def test_batch_of_one_keeps_the_batch_wide_gemm(monkeypatch):
    """One image cannot be shared over threads: the im2col path runs even with the threshold at 0."""
    x, wt, b, g, kw = _data((1, 3, 6, 6, 4, 3, 3, 1, 1, 1, 1))
    _force(monkeypatch, "cpu", tiled=True)
    calls = _spy(monkeypatch, "cpu")
    got = _tinynet(x, wt, b, g, kw, "float64")
    assert calls["im2col"] == 1 and sum(calls[k] for k in TILED) == 0
    _close(got, _torch(x, wt, b, g, kw), "float64", "batch of one")


@pytest.mark.parametrize("side", ["below", "at"])
def test_threshold_both_sides(monkeypatch, side):
    """The path flips exactly at KERNEL_MIN_ELEMENTS["im2col"] = C*kh*kw * N*OH*OW."""
    case = (2, 3, 6, 5, 4, 3, 3, 1, 1, 1, 1)
    x, wt, b, g, kw = _data(case)
    size = 3 * 9 * 2 * 6 * 5
    monkeypatch.setitem(tn.device("cpu").kernels.KERNEL_MIN_ELEMENTS, "im2col", size + (1 if side == "below" else 0))
    calls = _spy(monkeypatch, "cpu")
    got = _tinynet(x, wt, b, g, kw, "float64")
    tiled = side == "at"
    assert calls["conv2d_tiled"] == calls["conv2d_input_grad_tiled"] == calls["conv2d_weight_grad_tiled"] == int(tiled)
    assert calls["im2col"] == (0 if tiled else 1)  # the im2col path reuses the forward's columns
    _close(got, _torch(x, wt, b, g, kw), "float64", f"{side} the threshold")


# --- the ops that share the kernels: conv_transpose2d, conv1d, higher orders ----------------------
@pytest.mark.parametrize("tiled", [False, True])
def test_conv_transpose2d_and_conv1d_through_both_paths(monkeypatch, tiled):
    _force(monkeypatch, "cpu", tiled=tiled)
    r = np.random.default_rng(1)
    x, wt, b = r.standard_normal((3, 4, 5, 4)), r.standard_normal((4, 3, 3, 2)), r.standard_normal(3)
    kw = dict(stride=2, padding=1, output_padding=1, dilation=1)
    ts = [tn.tensor(a, requires_grad=True) for a in (x, wt, b)]
    ps = [torch.tensor(a, requires_grad=True) for a in (x, wt, b)]
    y, p = tn.conv_transpose2d(*ts, **kw), TF.conv_transpose2d(*ps, **kw)
    gy = r.standard_normal(tuple(p.shape))
    y.backward(tn.tensor(gy))
    p.backward(torch.tensor(gy))
    np.testing.assert_allclose(y.detach().numpy(), p.detach().numpy(), rtol=1e-10, atol=1e-10)
    for t, q in zip(ts, ps):
        np.testing.assert_allclose(t.grad.numpy(), q.grad.numpy(), rtol=1e-10, atol=1e-10)

    x1, w1 = r.standard_normal((3, 2, 11)), r.standard_normal((5, 2, 3))
    t1, q1 = tn.tensor(x1, requires_grad=True), torch.tensor(x1, requires_grad=True)
    tw, qw = tn.tensor(w1, requires_grad=True), torch.tensor(w1, requires_grad=True)
    y1, p1 = tn.conv1d(t1, tw, stride=2, padding=2, dilation=2), TF.conv1d(q1, qw, stride=2, padding=2, dilation=2)
    y1.sum().backward()
    p1.sum().backward()
    np.testing.assert_allclose(y1.detach().numpy(), p1.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(t1.grad.numpy(), q1.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(tw.grad.numpy(), qw.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_second_order_gradients_on_the_tiled_path(monkeypatch):
    """create_graph=True: the backward's ops (input- and weight-gradient convolutions) run tiled too."""
    _force(monkeypatch, "cpu", tiled=True)
    calls = _spy(monkeypatch, "cpu")
    r = np.random.default_rng(2)
    x = tn.tensor(r.standard_normal((2, 2, 4, 4)), requires_grad=True)
    w = tn.tensor(r.standard_normal((4, 1, 2, 2)), requires_grad=True)
    assert tn.gradgradcheck(lambda a, b: tn.conv2d(a, b, stride=1, padding=1, groups=2), (x, w))
    assert all(calls[k] > 0 for k in TILED)


# --- the cpu kernels themselves: chunks, reproducibility, errors ---------------------------------
def test_chunks_cover_every_image_once_and_sum_reproducibly(threads):
    assert cpu_conv._chunks(0) == []
    assert cpu_conv._chunks(3) == [(0, 1), (1, 2), (2, 3)]
    assert cpu_conv._chunks(64) == [(4 * k, 4 * k + 4) for k in range(16)]
    assert cpu_conv._chunks(33) == [(3 * k, min(3 * k + 3, 33)) for k in range(11)]
    r = np.random.default_rng(3)
    x, g = r.standard_normal((37, 3, 6, 6)).astype(np.float32), r.standard_normal((37, 4, 6, 6)).astype(np.float32)
    args = (3, 3, 1, 1, 1, 1, 1, 1, 1)
    results = []
    for n_threads in (1, 2, 2, 2):
        threads(n_threads)
        seen, lock = [], threading.Lock()

        def work(chunks):
            for chunk in chunks:
                with lock:
                    seen.append((threading.get_ident(), chunk))
        cpu_conv._for_each_chunk(37, work)
        assert sorted(c for _, c in seen) == cpu_conv._chunks(37)
        assert len({t for t, _ in seen}) <= numba.get_num_threads()
        results.append(cpu_conv.conv2d_weight_grad_tiled(x, g, *args))
    for res in results[1:]:
        assert np.array_equal(res, results[0])   # bit for bit, whichever thread summed which chunk


def test_a_failing_chunk_raises_and_gives_blas_its_threads_back(threads):
    threads(2)
    blas = ThreadpoolController().select(user_api="blas")
    before = [lib["num_threads"] for lib in blas.info()]

    def work(chunks):
        for lo, hi in chunks:
            if lo == 3:  # the last chunk, whichever thread takes it
                raise ValueError("chunk failed")

    with pytest.raises(ValueError, match="chunk failed"):
        cpu_conv._for_each_chunk(4, work)
    assert [lib["num_threads"] for lib in ThreadpoolController().select(user_api="blas").info()] == before


# --- simulated (or real) cuda: the twins ------------------------------------------------------------
@pytest.mark.skipif("cuda" not in DEVICES, reason="no cuda device, real or simulated")
@pytest.mark.parametrize("name", ["stride-groups", "dilation-pad"])
def test_cuda_twins_match_the_im2col_path_and_cpu(monkeypatch, name):
    case = {"stride-groups": (2, 2, 5, 4, 4, 2, 3, 2, 1, 1, 2),
            "dilation-pad": (2, 1, 5, 5, 2, 2, 2, 1, 1, 2, 1)}[name]
    x, wt, b, g, kw = _data(case)
    want = _torch(x, wt, b, g, kw)
    _force(monkeypatch, "cuda", tiled=False)
    old = _tinynet(x, wt, b, g, kw, "float64", device="cuda")
    _force(monkeypatch, "cuda", tiled=True)
    calls = _spy(monkeypatch, "cuda")
    new = _tinynet(x, wt, b, g, kw, "float64", device="cuda")
    assert all(calls[k] == 1 for k in TILED)
    _close(new, old, "float64", "cuda tiled vs cuda im2col path")
    _close(new, want, "float64", "cuda tiled vs torch")
    _force(monkeypatch, "cpu", tiled=True)
    _close(_tinynet(x, wt, b, g, kw, "float64"), new, "float64", "cpu tiled vs cuda tiled")


def _conv_in_child(queue, x, w):
    queue.put(cpu_conv.conv2d_tiled(x, w, None, 1, 1, 0, 0, 1, 1, 4, 4, 1))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_its_own_helper_threads(threads):
    """Helper threads do not survive fork (a DataLoader worker, say): the child must start
    its own instead of queueing chunks for threads that do not exist (a hang)."""
    threads(2)
    r = np.random.default_rng(4)
    x, w = r.standard_normal((4, 2, 6, 6)), r.standard_normal((3, 2, 3, 3))
    want = cpu_conv.conv2d_tiled(x, w, None, 1, 1, 0, 0, 1, 1, 4, 4, 1)   # the parent's pool exists now
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_conv_in_child, args=(queue, x, w))
    child.start()
    try:
        got = queue.get(timeout=60)
    finally:
        child.join(10)
        if child.is_alive():
            child.kill()
    np.testing.assert_array_equal(got, want)
