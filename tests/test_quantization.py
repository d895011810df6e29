"""Observers, fake quantization and QConfigs (tinynet.quantization) against NumPy references.

The references restate the formulas: qparams from a range (widened to include 0; affine:
``scale = (max - min) / (qmax - qmin)``, ``zero_point = qmin - round(min / scale)``;
symmetric: ``scale = max(|min|, max) / ((qmax - qmin) / 2)``), round half to even, clamping,
the straight-through gradient. PyTorch parity lives in test_quantization_torch_parity.py.
"""
import numpy as np
import pytest

import tinynet as tn
import tinynet.quantization as tq
from tinynet.backend.errors import ArgumentError, DTypeError, ShapeError

F32 = np.float32


def ref_qparams(lo, hi, qmin, qmax, symmetric=False, zp_sym=0):
    lo, hi = F32(min(lo, 0.0)), F32(max(hi, 0.0))
    eps = np.finfo(F32).eps
    if symmetric:
        scale = max(F32(max(-lo, hi) / F32((qmax - qmin) / 2)), eps)
        return F32(scale), zp_sym
    scale = max(F32((hi - lo) / F32(qmax - qmin)), eps)
    zp = int(np.clip(qmin - np.round(lo / F32(scale)), qmin, qmax))
    return F32(scale), zp


def batches(seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((6, 5)) * s + o).astype(F32) for s, o in [(1, 0), (2, 1), (0.5, -3)]]


def test_minmax_observer_tracks_the_running_range_and_returns_its_input(device):
    obs = tq.MinMaxObserver().to(device)
    xs = batches()
    for x in xs:
        t = tn.tensor(x, device=device)
        assert obs(t) is t
    lo, hi = min(x.min() for x in xs), max(x.max() for x in xs)
    assert float(obs.min_val.item()) == lo and float(obs.max_val.item()) == hi
    scale, zp = obs.calculate_qparams()
    assert scale.shape == (1,) and zp.shape == (1,) and zp.dtype == tn.int64
    rs, rz = ref_qparams(lo, hi, 0, 255)
    assert scale.numpy()[0] == rs and zp.numpy()[0] == rz


@pytest.mark.parametrize("dtype,qscheme,reduce,qmin,qmax,zp_sym", [
    (tq.quint8, tq.per_tensor_affine, False, 0, 255, 0),
    (tq.quint8, tq.per_tensor_affine, True, 0, 127, 0),
    (tq.qint8, tq.per_tensor_affine, False, -128, 127, 0),
    (tq.qint8, tq.per_tensor_affine, True, -64, 63, 0),
    (tq.qint8, tq.per_tensor_symmetric, False, -128, 127, 0),
    (tq.quint8, tq.per_tensor_symmetric, False, 0, 255, 128),
])
def test_minmax_qparams_match_the_formula(dtype, qscheme, reduce, qmin, qmax, zp_sym):
    obs = tq.MinMaxObserver(dtype=dtype, qscheme=qscheme, reduce_range=reduce)
    assert (obs.quant_min, obs.quant_max) == (qmin, qmax)
    for x in batches(3):
        obs(tn.tensor(x))
    lo, hi = float(obs.min_val.item()), float(obs.max_val.item())
    s, z = obs.calculate_qparams()
    rs, rz = ref_qparams(lo, hi, qmin, qmax, qscheme == tq.per_tensor_symmetric, zp_sym)
    assert s.numpy()[0] == rs and z.numpy()[0] == rz


def test_range_always_includes_zero_and_a_constant_zero_tensor_gets_eps_scale():
    obs = tq.MinMaxObserver()
    obs(tn.tensor(np.full((3, 3), 2.0, F32)))           # all positive: range [0, 2]
    s, z = obs.calculate_qparams()
    assert z.item() == 0 and s.item() == pytest.approx(2.0 / 255)
    zero = tq.MinMaxObserver()
    zero(tn.zeros(4))
    s, z = zero.calculate_qparams()
    assert s.item() == np.finfo(F32).eps and z.item() == 0


def test_custom_quant_range_and_its_checks():
    obs = tq.MinMaxObserver(quant_min=0, quant_max=15)
    obs(tn.tensor([-1.0, 2.0]))
    s, z = obs.calculate_qparams()
    assert s.item() == pytest.approx(3.0 / 15) and z.item() == 5
    with pytest.raises(ArgumentError, match="include 0"):
        tq.MinMaxObserver(quant_min=1, quant_max=15)
    with pytest.raises(ArgumentError, match="does not fit"):
        tq.MinMaxObserver(dtype=tq.qint8, quant_min=-1, quant_max=200)
    with pytest.raises(NotImplementedError, match="reduce range"):
        tq.MinMaxObserver(qscheme=tq.per_tensor_symmetric, reduce_range=True)
    with pytest.raises(DTypeError):
        tq.MinMaxObserver(dtype=tn.float32)
    with pytest.raises(DTypeError, match="floating"):
        tq.MinMaxObserver()(tn.tensor([1, 2]))


def test_moving_average_observer_follows_the_ema():
    obs = tq.MovingAverageMinMaxObserver(averaging_constant=0.25)
    xs = batches(1)
    lo, hi = F32(xs[0].min()), F32(xs[0].max())
    for k, x in enumerate(xs):
        obs(tn.tensor(x))
        if k:
            lo = lo + F32(0.25) * (F32(x.min()) - lo)
            hi = hi + F32(0.25) * (F32(x.max()) - hi)
    assert obs.min_val.item() == lo and obs.max_val.item() == hi
    with pytest.raises(ArgumentError):
        tq.MovingAverageMinMaxObserver(averaging_constant=0)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_per_channel_observer(axis, device):
    obs = tq.PerChannelMinMaxObserver(ch_axis=axis, dtype=tq.qint8, qscheme=tq.per_channel_symmetric).to(device)
    xs = batches(2)
    for x in xs:
        obs(tn.tensor(x, device=device))
    stack = np.stack(xs)
    red = tuple(i for i in range(3) if i != (axis % 2) + 1)
    lo, hi = stack.min(axis=red), stack.max(axis=red)
    np.testing.assert_array_equal(obs.min_val.numpy(), lo)
    s, z = obs.calculate_qparams()
    assert s.shape == lo.shape
    for c in range(lo.shape[0]):
        rs, _ = ref_qparams(lo[c], hi[c], -128, 127, symmetric=True)
        assert s.numpy()[c] == rs
    assert not z.numpy().any()
    with pytest.raises(ArgumentError, match="channels"):
        obs(tn.zeros(2, 9))
    with pytest.raises(NotImplementedError):
        tq.PerChannelMinMaxObserver(qscheme=tq.per_tensor_affine)


def test_moving_average_per_channel_observer():
    obs = tq.MovingAveragePerChannelMinMaxObserver(averaging_constant=0.5, ch_axis=1)
    a, b = batches(4)[:2]
    obs(tn.tensor(a))
    obs(tn.tensor(b))
    want = a.min(0) + F32(0.5) * (b.min(0) - a.min(0))
    np.testing.assert_allclose(obs.min_val.numpy(), want, rtol=1e-6)


def hist_error_ref(hist, lo, hi, start, end, dst_nbins=256):
    """Expected squared quantization error of the histogram on [start, end] bins, by brute force:
    every bin's mass spread uniformly, each point mapped to its nearest of dst_nbins levels."""
    bins = len(hist)
    width = (hi - lo) / bins
    dst = width * (end - start + 1) / dst_nbins
    err = 0.0
    for i, count in enumerate(hist):
        if not count:
            continue
        pts = (i - start) * width + (np.arange(2000) + 0.5) / 2000 * width
        k = np.clip(np.floor(pts / dst), 0, dst_nbins - 1)
        err += count / 2000 * np.sum((pts - (k + 0.5) * dst) ** 2) / width * width
    return err


def test_histogram_observer_histogram_and_error_model():
    obs = tq.HistogramObserver(bins=32)
    x = np.linspace(-1, 3, 400).astype(F32)
    obs(tn.tensor(x))
    hist = obs.histogram.numpy()
    np.testing.assert_array_equal(hist, np.histogram(x, bins=32, range=(-1, 3))[0])
    # a wider batch re-bins the old histogram onto the new range; the total mass is kept
    obs(tn.tensor(np.array([-3.0, 5.0], F32)))
    assert obs.histogram.numpy().sum() == pytest.approx(402)
    assert obs.min_val.item() == -3 and obs.max_val.item() == 5
    # the L2 error the search minimises matches a brute-force integral
    h = np.histogram(x, bins=32, range=(-1, 3))[0].astype(np.float64)
    got = obs._compute_quantization_error(h, -1.0, 3.0, 4, 27)
    assert got == pytest.approx(hist_error_ref(h, -1.0, 3.0, 4, 27), rel=2e-3)


def test_histogram_observer_range_search_lowers_the_l2_error():
    """On long-tailed data the searched range is narrower than min..max and quantizes with less
    squared error (the search stops as soon as the error grows, as PyTorch's, so it trims little)."""
    x = np.random.default_rng(0).standard_t(2, 20000).astype(F32)
    hist_obs, mm = tq.HistogramObserver(), tq.MinMaxObserver()
    hist_obs(tn.tensor(x))
    mm(tn.tensor(x))

    def l2(obs):
        s, z = (v.item() for v in obs.calculate_qparams())
        q = np.clip(np.rint(x / s) + z, 0, 255)
        return np.mean(((q - z) * s - x) ** 2), s
    (err_h, s_h), (err_m, s_m) = l2(hist_obs), l2(mm)
    assert s_h < s_m and err_h < err_m


def test_uncalibrated_observer_says_calibrate_first():
    for obs in (tq.MinMaxObserver(), tq.PerChannelMinMaxObserver(), tq.HistogramObserver()):
        with pytest.raises(RuntimeError, match="calibrate first"):
            obs.calculate_qparams()


def test_with_args_builds_fresh_observers():
    factory = tq.MinMaxObserver.with_args(dtype=tq.qint8, qscheme=tq.per_tensor_symmetric)
    a, b = factory(), factory()
    assert a is not b and a.dtype is tq.qint8 and a.qscheme is tq.per_tensor_symmetric
    assert factory.with_args(reduce_range=True)().quant_min == -64
    assert "MinMaxObserver.with_args(" in repr(factory)


def test_observer_state_dict_round_trip():
    obs = tq.MinMaxObserver()
    obs(tn.tensor([-1.0, 4.0]))
    other = tq.MinMaxObserver()
    other.load_state_dict(obs.state_dict())
    assert other.calculate_qparams()[0].item() == obs.calculate_qparams()[0].item()
    # per-channel statistics and fake-quant qparams take the saved number of channels
    fq = tq.default_per_channel_weight_fake_quant()
    fq(tn.randn(5, 3))
    fresh = tq.default_per_channel_weight_fake_quant()
    fresh.load_state_dict(fq.state_dict())
    np.testing.assert_array_equal(fresh.scale.numpy(), fq.scale.numpy())
    np.testing.assert_array_equal(fresh.calculate_qparams()[0].numpy(), fq.calculate_qparams()[0].numpy())


# --- fake quantization -----------------------------------------------------------------------------
def ref_fake_quant(x, scale, zp, qmin, qmax):
    inv = F32(1.0) / F32(scale)
    q = np.rint(x * inv) + zp
    out = (np.clip(q, qmin, qmax) - zp) * F32(scale)
    return out.astype(F32), ((q >= qmin) & (q <= qmax)).astype(F32)


@pytest.mark.parametrize("scale,zp,qmin,qmax", [(0.1, 3, 0, 255), (0.1, 0, -128, 127), (0.05, 7, 0, 15)])
def test_fake_quantize_per_tensor_values_and_straight_through_gradient(scale, zp, qmin, qmax, device):
    x = (np.random.default_rng(0).standard_normal((5, 7)) * 3).astype(F32)
    x[0, :4] = [0.05, 0.15, -0.25, 0.35]                     # exact halves: round half to even
    t = tn.tensor(x, device=device, requires_grad=True)
    y = tq.fake_quantize_per_tensor_affine(t, scale, zp, qmin, qmax)
    ref, mask = ref_fake_quant(x, scale, zp, qmin, qmax)
    np.testing.assert_array_equal(y.detach().numpy(), ref)
    g = np.random.default_rng(1).standard_normal(x.shape).astype(F32)
    y.backward(tn.tensor(g, device=device))
    np.testing.assert_array_equal(t.grad.numpy(), g * mask)
    assert 0 < mask.sum() < mask.size or qmax - qmin > 200


def test_fake_quantize_per_channel(device):
    x = (np.random.default_rng(2).standard_normal((4, 3, 2)) * 2).astype(F32)
    s = np.array([0.1, 0.3, 0.02], F32)
    z = np.array([0, -2, 5], np.int64)
    t = tn.tensor(x, device=device, requires_grad=True)
    y = tq.fake_quantize_per_channel_affine(t, tn.tensor(s), tn.tensor(z), 1, -8, 7)
    ref, mask = ref_fake_quant(x, s.reshape(1, 3, 1), z.reshape(1, 3, 1), -8, 7)
    np.testing.assert_array_equal(y.detach().numpy(), ref)
    y.sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), mask)


def test_fake_quantize_gradients_are_differentiable_again():
    x = tn.tensor(np.linspace(-2, 2, 9), dtype=tn.float64, requires_grad=True)
    y = tq.fake_quantize_per_tensor_affine(x, 0.1, 0, -10, 10)
    (g,) = tn.autograd.grad(y.sum(), [x], create_graph=True)
    np.testing.assert_array_equal(g.detach().numpy(), (np.abs(np.rint(np.linspace(-2, 2, 9) / 0.1)) <= 10) * 1.0)


def test_fake_quantize_errors():
    x = tn.randn(3, 4)
    with pytest.raises(ArgumentError, match="quant_min"):
        tq.fake_quantize_per_tensor_affine(x, 0.1, 0, 10, 0)
    with pytest.raises(ArgumentError, match="zero_point"):
        tq.fake_quantize_per_tensor_affine(x, 0.1, 300, 0, 255)
    with pytest.raises(ArgumentError, match="scale"):
        tq.fake_quantize_per_tensor_affine(x, 0.0, 0, 0, 255)
    with pytest.raises(DTypeError):
        tq.fake_quantize_per_tensor_affine(tn.tensor([1, 2]), 0.1, 0, 0, 255)
    with pytest.raises(ShapeError, match="4 values"):
        tq.fake_quantize_per_channel_affine(x, tn.ones(3), tn.zeros(3, dtype=tn.int64), 1, 0, 255)
    with pytest.raises(ArgumentError, match="axis"):
        tq.fake_quantize_per_channel_affine(x, tn.ones(4), tn.zeros(4, dtype=tn.int64), 2, 0, 255)


def test_fake_quantize_module_switches():
    fq = tq.FakeQuantize(observer=tq.MovingAverageMinMaxObserver, quant_min=0, quant_max=255)
    x = tn.tensor(np.linspace(-1, 1, 11, dtype=F32))
    y = fq(x)
    s, z = fq.scale.item(), fq.zero_point.item()
    assert (s, z) == tuple(v.item() for v in fq.calculate_qparams())
    np.testing.assert_array_equal(y.numpy(), ref_fake_quant(x.numpy(), s, z, 0, 255)[0])
    fq.disable_observer()
    fq(tn.tensor([-10.0, 10.0]))                             # frozen: qparams unchanged
    assert fq.scale.item() == s
    fq.disable_fake_quant()
    assert fq(x) is x
    model = tn.nn.Sequential(tq.FakeQuantize())
    model.apply(tq.disable_fake_quant)
    assert not model[0].fake_quant_enabled.item()
    model.apply(tq.enable_observer)
    assert model[0].observer_enabled.item() == 1
    with pytest.raises(ArgumentError):
        tq.FakeQuantize(quant_min=0, quant_max=300)


def test_per_channel_fake_quantize_module():
    fq = tq.default_per_channel_weight_fake_quant()
    w = tn.tensor(np.random.default_rng(0).standard_normal((3, 4)).astype(F32))
    y = fq(w)
    assert fq.scale.shape == (3,) and fq.is_per_channel
    ref = ref_fake_quant(w.numpy(), fq.scale.numpy().reshape(3, 1), 0, -128, 127)[0]
    np.testing.assert_array_equal(y.numpy(), ref)


# --- configurations ----------------------------------------------------------------------------------
def test_qconfig_presets():
    for backend in ("x86", "fbgemm"):
        qc = tq.get_default_qconfig(backend)
        act, w = qc.activation(), qc.weight()
        assert isinstance(act, tq.HistogramObserver) and act.reduce_range
        assert isinstance(w, tq.PerChannelMinMaxObserver) and w.qscheme is tq.per_channel_symmetric
    qn = tq.get_default_qconfig("qnnpack")
    assert not qn.activation().reduce_range and isinstance(qn.weight(), tq.MinMaxObserver)
    qat = tq.get_default_qat_qconfig("x86")
    assert isinstance(qat.activation(), tq.FakeQuantize) and qat.weight().is_per_channel
    assert not tq.get_default_qat_qconfig("qnnpack").weight().is_per_channel
    assert tq.default_qconfig.activation().quant_max == 127
    assert isinstance(tq.default_dynamic_qconfig.activation(), tq.PlaceholderObserver)
    assert tq.qconfig_equals(tq.default_qconfig, tq.QConfig(tq.default_observer, tq.default_weight_observer))
    with pytest.raises(ValueError, match="backend"):
        tq.get_default_qconfig("arm")
    with pytest.raises(ValueError, match="observer instance"):
        tq.QConfig(activation=tq.MinMaxObserver(), weight=tq.default_weight_observer)
