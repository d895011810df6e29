"""The fused softmax / log-softmax / cross-entropy / GELU kernels, called directly.

Each kernel of ``kernels/cpu`` and its ``kernels/cuda`` twin (run in Numba's CUDA
simulator without a GPU) is compared with a NumPy float64 reference, for float32 and
float64, for non-contiguous inputs, and for 130 rows: the cuda kernels use one thread
per row in blocks of at most 128, so 130 rows need two blocks, the second one partial.
"""
import math

import numpy as np
import pytest

import tinynet as tn

DTYPES = [np.float32, np.float64]
SHAPES = [(3, 5), (130, 3), (1, 1)]


def _k(device):
    return tn.device(device).kernels


def _dev(device, a):
    return tn.device(device).from_host(np.asarray(a))


def _host(device, a):
    return np.asarray(tn.device(device).to_host(a))


def _tol(dtype):
    return dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)


def ref_softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def ref_log_softmax(x):
    s = x - x.max(axis=1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=1, keepdims=True))


def ref_ce(x, t, ignore_index, eps):
    C = x.shape[1]
    logp = ref_log_softmax(x)
    valid = t != ignore_index
    safe = np.where(valid, t, 0)
    loss = -(1 - eps) * logp[np.arange(len(t)), safe] - eps / C * logp.sum(1)
    q = (1 - eps) * np.eye(C)[safe] + eps / C
    grad = (np.exp(logp) - q) * valid[:, None]
    return loss * valid, grad


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * 3).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_softmax_and_log_softmax_forward(device, dtype, shape):
    x = _data(shape, dtype)
    k = _k(device)
    y = _host(device, k.softmax_forward(_dev(device, x)))
    ly = _host(device, k.log_softmax_forward(_dev(device, x)))
    assert y.dtype == dtype and ly.dtype == dtype and y.shape == shape
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(y, ref_softmax(x64), **_tol(dtype))
    np.testing.assert_allclose(ly, ref_log_softmax(x64), **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_softmax_and_log_softmax_backward(device, dtype, shape):
    x = _data(shape, dtype)
    g = _data(shape, dtype, seed=1)
    k = _k(device)
    y64 = ref_softmax(x.astype(np.float64))
    ly64 = ref_log_softmax(x.astype(np.float64))
    g64 = g.astype(np.float64)
    dx = _host(device, k.softmax_backward(_dev(device, y64.astype(dtype)), _dev(device, g)))
    dlx = _host(device, k.log_softmax_backward(_dev(device, ly64.astype(dtype)), _dev(device, g)))
    assert dx.dtype == dtype and dlx.dtype == dtype
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else _tol(dtype)
    np.testing.assert_allclose(dx, y64 * (g64 - (g64 * y64).sum(1, keepdims=True)), **tol)
    np.testing.assert_allclose(dlx, g64 - np.exp(ly64) * g64.sum(1, keepdims=True), **tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("eps", [0.0, 0.25])
def test_cross_entropy_forward_backward(device, dtype, eps):
    rows, C = 130, 4
    x = _data((rows, C), dtype)
    rng = np.random.default_rng(2)
    t = rng.integers(0, C, rows)
    t[[0, 77, 129]] = -100  # ignored rows, one in the partial last block
    k = _k(device)
    loss, lse = k.cross_entropy_forward(_dev(device, x), _dev(device, t), -100, eps)
    loss, lse = _host(device, loss), _host(device, lse)
    want_loss, want_grad = ref_ce(x.astype(np.float64), t, -100, eps)
    assert loss.dtype == dtype and loss.shape == (rows,)
    np.testing.assert_allclose(loss, want_loss, **_tol(dtype))
    valid = t != -100
    np.testing.assert_allclose(lse[valid], np.log(np.exp(x.astype(np.float64)).sum(1))[valid], **_tol(dtype))
    scale = np.linspace(0.5, 2.0, rows).astype(dtype)
    dx = _host(device, k.cross_entropy_backward(_dev(device, x), _dev(device, lse), _dev(device, t),
                                                _dev(device, scale), -100, eps))
    assert dx.dtype == dtype
    np.testing.assert_allclose(dx, want_grad * scale[:, None], **_tol(dtype))
    assert not dx[~valid].any()


def test_kernels_accept_non_contiguous_input(device):
    base = _data((6, 10), np.float64)
    x = base[:, ::2]  # strided columns: (6, 5), not C-contiguous
    xt = base.T[:5]  # a transposed view: (5, 6)
    k = _k(device)
    for view in (x, xt):
        dev_view = _dev(device, view)
        if tn.device(device).xp is np:
            dev_view = view  # keep it a real non-contiguous view on NumPy arrays
            assert not dev_view.flags.c_contiguous
        np.testing.assert_allclose(_host(device, k.softmax_forward(dev_view)), ref_softmax(view), rtol=1e-12)
        np.testing.assert_allclose(_host(device, k.log_softmax_forward(dev_view)), ref_log_softmax(view), rtol=1e-12)
    t = np.array([0, 4, 2, 1, 3, 0])
    loss, _ = k.cross_entropy_forward(x if tn.device(device).xp is np else _dev(device, x), _dev(device, t), -100, 0.0)
    np.testing.assert_allclose(_host(device, loss), ref_ce(x, t, -100, 0.0)[0], rtol=1e-12)


def test_extreme_logits_stay_finite(device):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [3e4, 3e4, -3e4]], dtype=np.float32)
    k = _k(device)
    with np.errstate(all="raise"):
        y = _host(device, k.softmax_forward(_dev(device, x)))
        ly = _host(device, k.log_softmax_forward(_dev(device, x)))
    np.testing.assert_allclose(y, [[1, 0, 0], [1 / 3] * 3, [0.5, 0.5, 0]], atol=1e-7)
    assert np.isfinite(y).all() and np.isfinite(ly).all()
    np.testing.assert_allclose(ly[0], [0, -2e4, -1e4], rtol=1e-6)


_erf = np.vectorize(math.erf)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("approx", [False, True])
def test_gelu_and_erf_kernels(device, dtype, approx):
    x = _data((5, 27), dtype)[:, ::2]  # 135 elements (two blocks on cuda), non-contiguous
    g = _data((5, 14), dtype, seed=3)
    k = _k(device)
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    src = x if tn.device(device).xp is np else _dev(device, x)
    if approx:
        u = math.sqrt(2 / math.pi) * (x64 + 0.044715 * x64 ** 3)
        want = 0.5 * x64 * (1 + np.tanh(u))
        du = math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x64 ** 2)
        dwant = g64 * (0.5 * (1 + np.tanh(u)) + 0.5 * x64 * (1 - np.tanh(u) ** 2) * du)
    else:
        want = 0.5 * x64 * (1 + _erf(x64 / math.sqrt(2)))
        dwant = g64 * (0.5 * (1 + _erf(x64 / math.sqrt(2))) + x64 * np.exp(-x64 ** 2 / 2) / math.sqrt(2 * math.pi))
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    y = _host(device, k.gelu_forward(src, approx))
    dx = _host(device, k.gelu_backward(src, _dev(device, g), approx))
    assert y.dtype == dtype and y.shape == x.shape and dx.dtype == dtype
    np.testing.assert_allclose(y, want, **tol)
    np.testing.assert_allclose(dx, dwant, **tol)
    np.testing.assert_allclose(_host(device, k.erf(src)), _erf(x64), **tol)
    # The training forward returns GELU'(x) from the same pass; backward is then g * dy/dx.
    y2, d2 = (_host(device, a) for a in k.gelu_forward(src, approx, True))
    assert y2.dtype == dtype and d2.dtype == dtype and d2.shape == x.shape
    np.testing.assert_allclose(y2, want, **tol)
    np.testing.assert_allclose(g64 * d2, dwant, **tol)


def test_cpu_kernels_parallel_driver_matches_serial():
    """Large inputs take the prange driver; it must agree with the serial one."""
    from tinynet.kernels.cpu import softmax as ks

    from tinynet.kernels.policy import CPU_PARALLEL_MIN_ELEMENTS as parallel_min

    x = _data((parallel_min["softmax"] // 4 + 3, 4), np.float64)
    assert x.size >= parallel_min["softmax"]
    np.testing.assert_allclose(ks.softmax_forward(x), ref_softmax(x), rtol=1e-12)
    t = np.random.default_rng(0).integers(0, 4, x.shape[0])
    loss, _ = ks.cross_entropy_forward(x, t, -100, 0.0)
    np.testing.assert_allclose(loss, ref_ce(x, t, -100, 0.0)[0], rtol=1e-12, atol=1e-12)
    from tinynet.kernels.cpu import gelu as kg

    for dtype in (np.float32, np.float64):  # GELU with its derivative, parallel vs serial drivers
        xg = _data((parallel_min["gelu"] + 5,), dtype)
        y, d = kg.gelu_forward(xg, False, True)
        np.testing.assert_array_equal(y, kg.gelu_forward(xg, False))
        np.testing.assert_array_equal(d, kg.gelu_backward(xg, np.ones_like(xg), False))


@pytest.mark.parametrize("approx", [False, True])
def test_gelu_float32_matches_float64_to_float32_precision(device, approx):
    """The cpu float32 path uses its own vectorisable erfc/exp (kernels/cpu/gelu.py); it
    must agree with the float64 (libm) path to float32 precision, tails included."""
    x64 = np.concatenate([np.linspace(-20, 20, 4001), [-1e4, -50.0, -1e-30, 0.0, 1e-30, 50.0, 1e4]])
    x32 = x64.astype(np.float32)
    g64 = np.linspace(-2, 2, x64.size)
    k = _k(device)
    y32 = _host(device, k.gelu_forward(_dev(device, x32), approx))
    y64 = _host(device, k.gelu_forward(_dev(device, x32.astype(np.float64)), approx))
    d32 = _host(device, k.gelu_backward(_dev(device, x32), _dev(device, g64.astype(np.float32)), approx))
    d64 = _host(device, k.gelu_backward(_dev(device, x32.astype(np.float64)),
                                        _dev(device, g64.astype(np.float32).astype(np.float64)), approx))
    y32b, dydx32 = (_host(device, a) for a in k.gelu_forward(_dev(device, x32), approx, True))
    np.testing.assert_array_equal(y32b, y32)
    assert np.isfinite(dydx32).all()
    np.testing.assert_allclose(g64.astype(np.float32) * dydx32, d64, rtol=1e-6, atol=5e-7)
    assert np.isfinite(y32).all() and np.isfinite(d32).all()
    # The CUDA simulator evaluates float32 kernels with NumPy float32 scalars, rounding
    # intermediates such as x / sqrt(2) to float32 (a real GPU keeps them in float64):
    # in the far tail erfc amplifies that rounding, hence the looser simulator tolerance.
    rtol = 5e-5 if tn.device(device).simulated else 5e-7
    np.testing.assert_allclose(y32, y64, rtol=rtol, atol=1e-38)
    np.testing.assert_allclose(d32, d64, rtol=1e-6, atol=5e-7)
    if not approx:  # far tail: relative accuracy survives (Phi from erfc, not 1 + erf)
        i = np.argmin(np.abs(x64 + 8.0))
        assert y32[i] == pytest.approx(-8.0 * 0.5 * math.erfc(8.0 / math.sqrt(2)), rel=max(rtol, 1e-6))


@pytest.mark.parametrize("dtype", DTYPES)
def test_masked_minus_inf_entries_get_exactly_zero(device, dtype):
    """Causal attention masks scores with -inf: their probabilities must be exactly 0."""
    x = np.array([[0.5, -np.inf, 1.0, -np.inf], [-np.inf, 2.0, -np.inf, -np.inf]], dtype=dtype)
    k = _k(device)
    y = _host(device, k.softmax_forward(_dev(device, x)))
    ly = _host(device, k.log_softmax_forward(_dev(device, x)))
    assert (y[x == -np.inf] == 0).all() and (ly[x == -np.inf] == -np.inf).all()
    np.testing.assert_allclose(y.sum(1), 1, rtol=1e-6)
    np.testing.assert_allclose(y[0, [0, 2]], ref_softmax(np.array([[0.5, 1.0]]))[0], rtol=1e-6)


def test_numpy_fallback_matches_kernels(monkeypatch):
    """The functional ops' NumPy branches (used where no kernel serves, e.g. float16) give
    the kernels' values and gradients, and second derivatives through them work."""
    import tinynet.functional as F
    import tinynet.functional.activation as act

    rng = np.random.default_rng(0)
    data = rng.standard_normal((6, 5, 3))
    t = rng.integers(0, 5, (6, 3))
    t[0, 1] = -100
    cases = [
        lambda x: F.softmax(x, dim=1),
        lambda x: F.log_softmax(x, dim=-1),
        lambda x: F.softmax(x, dim=0),
        lambda x: F.cross_entropy(x, tn.tensor(t), label_smoothing=0.1),
        lambda x: F.cross_entropy(x, tn.tensor(t), reduction="none"),
        lambda x: F.cross_entropy(x, tn.tensor(t), reduction="sum"),
    ]

    def run(fn):
        x = tn.tensor(data, dtype=tn.float64, requires_grad=True)
        out = fn(x)
        w = tn.tensor(np.linspace(-1, 1, out.numel()).reshape(out.shape), dtype=tn.float64)
        (out * w).sum().backward()
        return out.detach().numpy(), x.grad.numpy()

    with_kernels = [run(fn) for fn in cases]
    monkeypatch.setitem(tn.device("cpu").kernels.KERNEL_MIN_ELEMENTS, "softmax", 1 << 62)
    assert not act.use_row_kernels(tn.device("cpu"), np.zeros((3, 5)), 5)
    for fn, (out_k, grad_k) in zip(cases, with_kernels):
        out_n, grad_n = run(fn)
        np.testing.assert_allclose(out_n, out_k, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(grad_n, grad_k, rtol=1e-12, atol=1e-14)
    x = tn.tensor(data[:2, :, :1], dtype=tn.float64, requires_grad=True)
    assert tn.gradgradcheck(lambda a: F.log_softmax(a, dim=1), (x,))
    assert tn.gradgradcheck(lambda a: F.cross_entropy(a, tn.tensor(t[:2, :1]), label_smoothing=0.2), (x,))


def test_float16_uses_the_numpy_path():
    import tinynet.functional as F

    x = tn.tensor([[1.0, 2.0, 3.0]], dtype=tn.float16, requires_grad=True)
    y = F.softmax(x, dim=1)
    assert y.dtype == tn.float16
    np.testing.assert_allclose(y.detach().numpy().astype(np.float64), ref_softmax(np.array([[1.0, 2.0, 3.0]])),
                               rtol=2e-3)
