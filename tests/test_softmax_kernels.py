"""The fused softmax / log-softmax / cross-entropy / GELU kernels, called directly, for
what the op registry does not check.

The registry (tests/test_op_registry.py) runs softmax, log_softmax, cross_entropy, gelu
and erf in float32 and float64, on contiguous and non-contiguous inputs, through the
NumPy fallback and the serial and parallel kernel loops, on cpu and (simulated) cuda;
tests/test_kernel_contract.py checks that every kernel gives the same numbers on both
devices and for strided views. Here: the cross-entropy kernels' own outputs (the saved
logsumexp, the per-row scale, exactly-zero ignored rows) over two cuda blocks (130 rows:
one thread per row in blocks of at most 128), extreme and -inf logits, GELU's backward
kernel and float32 tails, and float16.
"""
import math

import numpy as np
import pytest

import tinynet as tn

DTYPES = [np.float32, np.float64]


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


def test_gelu_parallel_driver_derivative_matches_backward():
    """At parallel sizes the GELU forward that also returns GELU'(x) gives bitwise the
    values of the plain forward and of gelu_backward (the same math in every driver)."""
    from tinynet.kernels.cpu import gelu as kg
    from tinynet.kernels.policy import CPU_PARALLEL_MIN_ELEMENTS as parallel_min

    for dtype in (np.float32, np.float64):
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


def test_float16_uses_the_numpy_path():
    import tinynet.functional as F

    x = tn.tensor([[1.0, 2.0, 3.0]], dtype=tn.float16, requires_grad=True)
    y = F.softmax(x, dim=1)
    assert y.dtype == tn.float16
    np.testing.assert_allclose(y.detach().numpy().astype(np.float64), ref_softmax(np.array([[1.0, 2.0, 3.0]])),
                               rtol=2e-3)
