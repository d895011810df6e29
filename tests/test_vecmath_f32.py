"""The float32 vectorisable math of the cpu kernels (``kernels/cpu/_vecmath.py``: exp32,
erfc32) in ulps against float64 libm over the whole float32 range, and the float32 kernels
that use it (GELU; softmax, log-softmax and cross-entropy rows, which in float32 also
carry their maximum, by ``maxnum``, and their sums in float32), directly and through the
public ops against PyTorch in float32.

Ulp of a float64 reference value w: the spacing of float32 numbers at float32(w), and
2^-149 (the smallest denormal) for denormal results. Bounds asserted (measured maxima in
brackets):

* exp32, float32 or float64 argument, also compiled with the softmax rows' fast-math flags:
  1.5 ulp (1.0; 1.25 with ``reassoc``), denormal results 1 ulp (0.8; 1.5 (1.05) from a
  float64 argument).
* erfc32: 3.2 ulp (3.13 over every 97th float32; 3.45 with ``reassoc``), denormal results
  2 ulp (1.8).
* GELU float32 kernels, where the gate (Phi(v), or the sigmoid of the tanh form) is a
  normal float32 (v > -12.9 exact, v > -10 tanh): GELU 4.2 ulp (4.0), GELU' 4 ulp of
  max(|GELU'|, gate) (3.9); GELU' crosses 0 near v = -0.75, where no float32 formula
  keeps relative digits. Beyond, the denormal gate carries fewer digits: normal GELU
  results within 8 ulp (6.5), and every result within 2^-126 absolute.
"""
import math

import numpy as np
import pytest
from numba import njit

import tinynet as tn
import tinynet.functional as F
from tinynet.kernels.cpu import gelu as kgelu
from tinynet.kernels.cpu import softmax as ksoftmax
from tinynet.kernels.cpu._vecmath import erfc32, exp32, exp_nonpos, maxnum
from tinynet.kernels.policy import CPU_PARALLEL_MIN_ELEMENTS

SOFTMAX_FLAGS = {"reassoc", "contract", "nsz"}  # kernels/cpu/softmax.py's row flags
TINY = 2.0 ** -126  # smallest normal float32
DENORM = 2.0 ** -149  # smallest denormal float32


@njit(cache=True, error_model="numpy")
def _exp_loop(x, y):
    for i in range(x.size):
        y[i] = exp32(x[i])


@njit(cache=True, error_model="numpy", fastmath=SOFTMAX_FLAGS)
def _exp_loop_reassoc(x, y):
    for i in range(x.size):
        y[i] = exp32(x[i])


@njit(cache=True, error_model="numpy")
def _erfc_loop(x, y):
    for i in range(x.size):
        y[i] = erfc32(x[i])


@njit(cache=True, error_model="numpy", fastmath=SOFTMAX_FLAGS)
def _erfc_loop_reassoc(x, y):
    for i in range(x.size):
        y[i] = erfc32(x[i])


@njit(cache=True, error_model="numpy")
def _exp_nonpos_loop(x, y):
    for i in range(x.size):
        y[i] = exp_nonpos(x[i])


def _run(loop, x):
    y = np.empty(x.shape, np.float32)
    loop(x, y)
    return y


def _ulps(got, want):
    """|got - want| in float32 ulps of want (2^-149 for denormal results); inf where one
    side is inf or NaN and the other is not the same."""
    with np.errstate(over="ignore"):
        want32 = want.astype(np.float32)
    spacing = np.maximum(np.spacing(np.abs(want32)).astype(np.float64), DENORM)
    same = (got == want32) | (np.isnan(got) & np.isnan(want32))
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(got.astype(np.float64) - want) / spacing
    return np.where(same, 0.0, np.where(np.isfinite(err), err, np.inf))


def _every_97th_float32():
    """Every 97th float32 bit pattern: 44 million numbers covering all exponents and signs."""
    bits = np.arange(0, 2 ** 32, 97, dtype=np.uint64).astype(np.uint32)
    return bits.view(np.float32)


_erfc64 = np.vectorize(math.erfc, otypes=[np.float64])


def _exp64(x):
    with np.errstate(over="ignore"):
        return np.exp(x.astype(np.float64))


# --- exp32 -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sweep():
    x = _every_97th_float32()
    finite = x[np.isfinite(x)]
    # dense near the overflow and underflow edges and near 0
    edges = np.concatenate([np.linspace(88.5, 89.0, 20001), np.linspace(-104.0, -87.0, 200001),
                            np.linspace(-1e-3, 1e-3, 20001)]).astype(np.float32)
    return np.concatenate([finite, edges])


@pytest.mark.parametrize("loop", [_exp_loop, _exp_loop_reassoc], ids=["plain", "reassoc"])
def test_exp32_float32_arguments_whole_range(sweep, loop):
    y = _run(loop, sweep)
    want = _exp64(sweep)
    u = _ulps(y, want)
    normal = want >= TINY
    assert u[normal].max() <= 1.5, sweep[normal][u[normal].argmax()]
    assert u[~normal].max() <= 1.0
    # overflow exactly where the rounded result overflows float32
    with np.errstate(over="ignore"):
        assert np.array_equal(np.isinf(y), np.isinf(want.astype(np.float32)))


def test_exp32_float64_arguments_keep_their_digits():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-104, 89, 1_000_000), rng.uniform(-1, 1, 100_000)])
    for loop in (_exp_loop, _exp_loop_reassoc):
        y = _run(loop, x)
        want = np.exp(x)
        u = _ulps(y, want)
        normal = (want >= TINY) & (want < 3.4e38)
        assert u[normal].max() <= 1.5
        assert u[want < TINY].max() <= 1.5
    # the same values rounded to float32 first lose ~|x| / 2 ulp: the float64 digits count
    x = np.array([-80.123456789, -50.987654321, 70.5555555555])
    assert (_ulps(_run(_exp_loop, x), np.exp(x)) <= 1.5).all()
    assert _ulps(_run(_exp_loop, x.astype(np.float32)), np.exp(x)).max() > 3


@pytest.mark.parametrize("loop", [_exp_loop, _exp_loop_reassoc], ids=["plain", "reassoc"])
def test_exp32_special_values(loop):
    x = np.array([np.inf, -np.inf, np.nan, -0.0, 0.0, 1.4e-45, -1.4e-45, 1e-30, 88.72283172607422,
                  88.72283935546875, -103.97, -103.98, -1e30, 1e30, -104.0, 89.0], np.float32)
    y = _run(loop, x)
    want = np.array([np.inf, 0.0, np.nan, 1.0, 1.0, 1.0, 1.0, 1.0, 3.4027e38, np.inf, 1.4e-45, 0.0, 0.0, np.inf,
                     0.0, np.inf], np.float32)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(want))
    np.testing.assert_allclose(y[~np.isnan(y)], want[~np.isnan(want)], rtol=1e-4, atol=0)
    assert y[3] == 1.0 and y[4] == 1.0  # exactly
    assert 0 < y[10] < TINY  # a denormal result


def test_exp_nonpos_keeps_its_float64_contract():
    """exp_nonpos (float64, a <= 0) stays for the kernels that bind it."""
    x = np.concatenate([np.linspace(-103, 0, 100001), [-np.inf, -1e4]])
    y = np.empty_like(x)
    _exp_nonpos_loop(x, y)
    np.testing.assert_allclose(y[:-2], np.exp(x[:-2]), rtol=1e-11, atol=0)
    assert (y[-2:] == 0).all()


@njit(cache=True, fastmath=SOFTMAX_FLAGS)
def _row_maxima(x, out):
    for i in range(x.shape[0]):
        m = x[i, 0]
        for j in range(1, x.shape[1]):
            m = maxnum(m, x[i, j])
        out[i] = m


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_maxnum_row_maxima(dtype):
    x = np.random.default_rng(6).standard_normal((5, 1001)).astype(dtype)
    x[1, 500] = 7.0
    x[2, :] = -np.inf
    x[3, 17] = np.inf
    x[4, 0] = np.nan  # maxnum passes over NaN (softmax rows turn NaN through exp)
    out = np.empty(5, dtype)
    _row_maxima(x, out)
    np.testing.assert_array_equal(out[:4], x[:4].max(axis=1))
    assert out[4] == np.nanmax(x[4])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_rows_with_nan_or_inf_come_out_as_before(dtype):
    """The row maximum by maxnum: a NaN anywhere in a row makes the whole row NaN (as with
    Python's max, through exp(NaN - max)); other rows are untouched."""
    x = (np.random.default_rng(7).standard_normal((4, 300)) * 3).astype(dtype)
    x[1, 150] = np.nan
    x[2, 0] = np.nan
    x[3, :] = -np.inf
    t = np.zeros(4, np.int64)
    with np.errstate(invalid="ignore"):
        ref = np.exp(x[0] - x[0].max())
        for out in (ksoftmax.softmax_forward(x), np.exp(ksoftmax.log_softmax_forward(x))):
            np.testing.assert_allclose(out[0], ref / ref.sum(), rtol=1e-5)
            assert np.isnan(out[1:]).all()
        loss, lse = ksoftmax.cross_entropy_forward(x, t, -100, 0.0)
    assert np.isfinite(loss[0]) and np.isnan(loss[1:]).all()


def test_softmax_float32_rows_accuracy():
    """float32 rows (exp32, float64 max and sums: kernels/cpu/softmax.py): within 5e-6
    relative of float64 on rows of 10^4 (PyTorch float32: 4.5e-6).
    Logits near 1e4: x - max is exact and the saved log-sum-exp stays float64, so the
    cross-entropy gradient exp(x - lse) keeps float32 accuracy."""
    rng = np.random.default_rng(8)
    x = (rng.standard_normal((30, 10000)) * 3).astype(np.float32)
    x64 = x.astype(np.float64)
    ref = ksoftmax.softmax_forward(x64)
    np.testing.assert_allclose(ksoftmax.softmax_forward(x), ref, rtol=5e-6, atol=0)
    np.testing.assert_allclose(ksoftmax.log_softmax_forward(x), ksoftmax.log_softmax_forward(x64), rtol=0, atol=5e-6)
    big = (1e4 + rng.standard_normal((30, 1000)) * 3).astype(np.float32)
    t = rng.integers(0, 1000, 30)
    sc = np.ones(30, np.float32)
    loss, lse = ksoftmax.cross_entropy_forward(big, t, -100, 0.1)
    loss64, lse64 = ksoftmax.cross_entropy_forward(big.astype(np.float64), t, -100, 0.1)
    assert lse.dtype == np.float64
    np.testing.assert_allclose(lse, lse64, rtol=0, atol=2e-5)  # float32 would be off by ~5e-4
    np.testing.assert_allclose(loss, loss64, rtol=1e-5, atol=1e-5)
    dx = ksoftmax.cross_entropy_backward(big, lse, t, sc, -100, 0.1)
    dx64 = ksoftmax.cross_entropy_backward(big.astype(np.float64), lse64, t, sc.astype(np.float64), -100, 0.1)
    np.testing.assert_allclose(dx, dx64, rtol=2e-5, atol=1e-7)


# --- erfc32 ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def erfc_points():
    x = _every_97th_float32()[::8]  # every 776th: math.erfc is a Python call per point
    x = x[np.isfinite(x) & (np.abs(x) < 11)]  # beyond: 0 or 2 exactly (special-values test)
    dense = np.concatenate([np.linspace(-1e-3, 1e-3, 20001), np.linspace(-11, 11, 400001),
                            np.linspace(8.5, 10.1, 100001)]).astype(np.float32)
    x = np.concatenate([x, dense])
    return x, _erfc64(x.astype(np.float64))


@pytest.mark.parametrize("loop, bound", [(_erfc_loop, 3.2), (_erfc_loop_reassoc, 3.5)], ids=["plain", "reassoc"])
def test_erfc32_whole_range(erfc_points, loop, bound):
    x, want = erfc_points
    u = _ulps(_run(loop, x), want)
    normal = want >= TINY
    assert u[normal].max() <= bound, x[normal][u[normal].argmax()]
    assert u[~normal].max() <= 2.0
    assert (want[~normal] > 0).any()  # the sweep reaches the denormal tail


def test_erfc32_float64_arguments():
    """GELU passes -v / sqrt 2 in float64: erfc32 uses its digits in the tail."""
    x = np.random.default_rng(1).uniform(-10.1, 10.1, 400_000)
    want = _erfc64(x)
    u = _ulps(_run(_erfc_loop, x), want)
    assert u[want >= TINY].max() <= 3.2
    assert u[want < TINY].max() <= 2.0


def test_erfc32_special_values():
    x = np.array([np.inf, -np.inf, np.nan, -0.0, 0.0, 1.4e-45, -1.4e-45, 10.06, -10.06, 1e30, -1e30,
                  3.4e38, -3.4e38], np.float32)
    y = _run(_erfc_loop, x)
    want = np.array([0, 2, np.nan, 1, 1, 1, 1, 0, 2, 0, 2, 0, 2], np.float32)
    near_zero = np.abs(x) < 1e-30  # erfc = 1: within 1 ulp of 1 (2 ulp of the floats below 1)
    np.testing.assert_allclose(y[near_zero], 1.0, rtol=0, atol=1.2e-7)
    np.testing.assert_array_equal(y[~near_zero], want[~near_zero])  # NaN positions compare equal too


# --- the float32 GELU kernels (kernels/cpu/gelu.py) ---------------------------------------
@pytest.fixture(scope="module")
def gelu_points():
    x = _every_97th_float32()[::16]  # the float64 reference is a scalar libm call per point
    x = x[np.isfinite(x)]
    return np.concatenate([x, np.linspace(-16, 16, 1_000_001, dtype=np.float32)])


@pytest.mark.parametrize("approx", [False, True], ids=["exact", "tanh"])
def test_gelu_float32_kernels_in_ulps(gelu_points, approx):
    x = gelu_points
    y, d = kgelu.gelu_forward(x, approx, True)
    y64, d64 = kgelu.gelu_forward(x.astype(np.float64), approx, True)
    np.testing.assert_array_equal(kgelu.gelu_forward(x, approx), y)
    np.testing.assert_array_equal(kgelu.gelu_backward(x, np.ones_like(x), approx), d)
    with np.errstate(invalid="ignore", divide="ignore"):
        gate = np.where(x == 0, 0.5, y64 / x.astype(np.float64))
    normal_gate = gate >= TINY
    u = _ulps(y, y64)
    assert u[normal_gate].max() <= 4.2, x[normal_gate][u[normal_gate].argmax()]
    scale = np.maximum(np.abs(d64), gate)
    scale_ulp = np.maximum(np.spacing(scale.astype(np.float32)).astype(np.float64), DENORM)
    ud = np.abs(d.astype(np.float64) - d64) / scale_ulp
    assert ud[normal_gate].max() <= 4.0, x[normal_gate][ud[normal_gate].argmax()]
    # beyond: the gate is a float32 denormal
    tail = ~normal_gate
    assert x[tail].max() < (-10 if approx else -12.9)
    assert u[tail & (np.abs(y64) >= TINY)].max() <= 8
    assert np.abs(y[tail] - y64[tail]).max() <= TINY and np.abs(d[tail] - d64[tail]).max() <= TINY


@pytest.mark.parametrize("approx", [False, True], ids=["exact", "tanh"])
def test_gelu_float32_special_values_match_float64(approx):
    x = np.array([np.inf, -np.inf, np.nan, -0.0, 0.0, 1.4e-45, -1.4e-45, 1e-30, -1e-30, 1e30, -1e30, 3.4e38,
                  -3.4e38, -20.0, 20.0], np.float32)
    y, d = kgelu.gelu_forward(x, approx, True)
    y64, d64 = kgelu.gelu_forward(x.astype(np.float64), approx, True)
    for got, want in ((y, y64), (d, d64)):
        assert (_ulps(got, want) <= 1).all(), (x, got, want)  # NaN and inf where float64 has them


# --- public ops in float32 against PyTorch in float32 ---------------------------------------
torch = pytest.importorskip("torch")
TF = torch.nn.functional
TOL = dict(rtol=2e-5, atol=2e-6)


def _pair(a):
    return tn.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


@pytest.mark.parametrize("approx", ["none", "tanh"])
@pytest.mark.parametrize("n", [1000, CPU_PARALLEL_MIN_ELEMENTS["gelu"] + 7], ids=["serial", "parallel"])
def test_public_gelu_float32_vs_torch_and_float64(approx, n):
    """PyTorch's float32 GELU forms 1 + erf (or 1 + tanh) and loses digits in the negative
    tail (GELU'(-5.07) = 2.4e-6 comes out 0 in the tanh form), hence its atol here; the
    float64 path of the same op checks tinynet's float32 digits closely."""
    x = (np.random.default_rng(0).standard_normal(n) * 4).astype(np.float32)
    w = np.random.default_rng(1).standard_normal(n).astype(np.float32)
    a, b = _pair(x)
    ours, theirs = F.gelu(a, approximate=approx), TF.gelu(b, approximate=approx)
    assert ours.dtype == tn.float32
    ours.backward(tn.tensor(w))
    theirs.backward(torch.tensor(w))
    ref = tn.tensor(x.astype(np.float64), requires_grad=True)
    exact = F.gelu(ref, approximate=approx)
    exact.backward(tn.tensor(w.astype(np.float64)))
    loose = dict(rtol=2e-5, atol=3e-6)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), **loose)
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **loose)
    np.testing.assert_allclose(ours.detach().numpy(), exact.detach().numpy(), rtol=5e-7, atol=1e-37)
    np.testing.assert_allclose(a.grad.numpy(), ref.grad.numpy(), rtol=1e-6, atol=5e-7)
    with tn.no_grad():  # the forward without the derivative
        np.testing.assert_array_equal(F.gelu(tn.tensor(x), approximate=approx).numpy(), ours.detach().numpy())


@pytest.mark.parametrize("shape", [(64, 65), (40, 10000)])
def test_public_softmax_family_float32_vs_torch(shape):
    """Forward and gradients against PyTorch in float32 and the same op in float64 (the
    gradients of 10000-wide rows sum 10000 terms: float32 sums differ by ~1e-5 there)."""
    rng = np.random.default_rng(2)
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    w = rng.standard_normal(shape).astype(np.float32)
    t = rng.integers(0, shape[1], shape[0])
    cases = [(lambda a: F.softmax(a, dim=1), lambda b: torch.softmax(b, dim=1)),
             (lambda a: F.log_softmax(a, dim=1), lambda b: torch.log_softmax(b, dim=1))]
    for smoothing in (0.0, 0.1):
        cases.append((lambda a, s=smoothing: F.cross_entropy(a, tn.tensor(t), label_smoothing=s),
                      lambda b, s=smoothing: TF.cross_entropy(b, torch.tensor(t), label_smoothing=s)))
    for ours_fn, theirs_fn in cases:
        a, b = _pair(x)
        ref = tn.tensor(x.astype(np.float64), requires_grad=True)
        ours, theirs, exact = ours_fn(a), theirs_fn(b), ours_fn(ref)
        assert ours.dtype == tn.float32
        for out, arr, dtype in ((ours, a, tn.float32), (exact, ref, tn.float64)):
            out.backward(tn.tensor(w if out.ndim else 1.0, dtype=dtype))
        theirs.backward(torch.tensor(w) if theirs.ndim else None)
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), **TOL)
        np.testing.assert_allclose(ours.detach().numpy(), exact.detach().numpy(), **TOL)
        assert a.grad.dtype == tn.float32
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=2e-5, atol=2e-5)
        np.testing.assert_allclose(a.grad.numpy(), ref.grad.numpy(), **TOL)


@pytest.mark.parametrize("shape", [(64, 128), (2048, 128)])
def test_public_layer_norm_float32_vs_torch(shape):
    rng = np.random.default_rng(4)
    x = (rng.standard_normal(shape) * 3 + 5).astype(np.float32)
    w = rng.standard_normal(shape[1]).astype(np.float32)
    bias = rng.standard_normal(shape[1]).astype(np.float32)
    pairs = [_pair(x), _pair(w), _pair(bias)]
    ours = F.layer_norm(pairs[0][0], (shape[1],), pairs[1][0], pairs[2][0], eps=1e-5)
    theirs = TF.layer_norm(pairs[0][1], (shape[1],), pairs[1][1], pairs[2][1], eps=1e-5)
    assert ours.dtype == tn.float32
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), **TOL)
    w_out = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
    ours.backward(tn.tensor(w_out))
    theirs.backward(torch.tensor(w_out))
    for (a, b), tol in zip(pairs, (TOL, dict(rtol=1e-4, atol=1e-3), dict(rtol=1e-4, atol=1e-3))):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **tol)  # dw, db: sums over rows
