"""Parity with PyTorch's torch.ao.quantization: observers' qparams (bit for bit), fake
quantization (values and straight-through gradients, bit for bit), FakeQuantize, and the
static / QAT / dynamic flows on the same weights and calibration data."""
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tq_t = pytest.importorskip("torch.ao.quantization")

import tinynet as tn  # noqa: E402
import tinynet.nn as nn  # noqa: E402
import tinynet.quantization as tq  # noqa: E402

F32 = np.float32
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")


def batches(seed=0, shape=(8, 5)):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(shape) * s + o).astype(F32) for s, o in [(1, 0), (2, 1), (0.5, -3), (3, 0.2)]]


OBSERVERS = [
    ("MinMaxObserver", {}, {}),
    ("MinMaxObserver", {"reduce_range": True}, {"reduce_range": True}),
    ("MinMaxObserver", {"dtype": "qint8", "qscheme": "per_tensor_symmetric"}, None),
    ("MinMaxObserver", {"dtype": "quint8", "qscheme": "per_tensor_symmetric"}, None),
    ("MinMaxObserver", {"dtype": "qint8", "quant_min": -8, "quant_max": 7}, None),
    ("MovingAverageMinMaxObserver", {"averaging_constant": 0.3}, None),
    ("PerChannelMinMaxObserver", {"ch_axis": 1, "dtype": "qint8", "qscheme": "per_channel_symmetric"}, None),
    ("PerChannelMinMaxObserver", {"ch_axis": 0}, None),
    ("MovingAveragePerChannelMinMaxObserver", {"ch_axis": 1, "averaging_constant": 0.2}, None),
    ("HistogramObserver", {"bins": 256}, None),
    ("HistogramObserver", {"reduce_range": True}, None),
    ("HistogramObserver", {"dtype": "qint8", "qscheme": "per_tensor_symmetric"}, None),
]


def _kw(kw, lib):
    out = {}
    for k, v in kw.items():
        out[k] = getattr(lib, v) if isinstance(v, str) else v
    return out


@pytest.mark.parametrize("name,kw,_", OBSERVERS)
def test_observer_qparams_equal_torch(name, kw, _):
    ot = getattr(tq_t, name)(**_kw(kw, torch))
    on = getattr(tq, name)(**_kw(kw, tq))
    for x in batches(1):
        ot(torch.from_numpy(x))
        on(tn.tensor(x))
    st, zt = ot.calculate_qparams()
    sn, zn = on.calculate_qparams()
    np.testing.assert_array_equal(sn.numpy(), st.numpy())
    np.testing.assert_array_equal(zn.numpy(), zt.numpy())
    if name == "HistogramObserver":
        np.testing.assert_allclose(on.histogram.numpy(), ot.histogram.numpy(), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("scale,zp,lo,hi", [(0.1, 3, 0, 255), (0.1, 0, -128, 127), (0.037, 10, 0, 15)])
def test_fake_quantize_per_tensor_equals_torch(scale, zp, lo, hi):
    x = (np.random.default_rng(1).standard_normal((6, 7)) * 3).astype(F32)
    x[0, :3] = [0.05, 0.15, -0.25]
    g = np.random.default_rng(2).standard_normal(x.shape).astype(F32)
    xt, xn = torch.from_numpy(x).requires_grad_(), tn.tensor(x, requires_grad=True)
    yt = torch.fake_quantize_per_tensor_affine(xt, scale, zp, lo, hi)
    yn = tq.fake_quantize_per_tensor_affine(xn, scale, zp, lo, hi)
    yt.backward(torch.from_numpy(g))
    yn.backward(tn.tensor(g))
    np.testing.assert_array_equal(yn.detach().numpy(), yt.detach().numpy())
    np.testing.assert_array_equal(xn.grad.numpy(), xt.grad.numpy())


def test_fake_quantize_per_channel_equals_torch():
    x = (np.random.default_rng(3).standard_normal((6, 7)) * 3).astype(F32)
    sc = np.array([0.1, 0.2, 0.05, 0.3, 0.07, 0.5, 0.11], F32)
    zp = np.arange(7, dtype=np.int32)
    g = np.random.default_rng(4).standard_normal(x.shape).astype(F32)
    xt, xn = torch.from_numpy(x).requires_grad_(), tn.tensor(x, requires_grad=True)
    yt = torch.fake_quantize_per_channel_affine(xt, torch.from_numpy(sc), torch.from_numpy(zp), 1, -8, 7)
    yn = tq.fake_quantize_per_channel_affine(xn, tn.tensor(sc), tn.tensor(zp), 1, -8, 7)
    yt.backward(torch.from_numpy(g))
    yn.backward(tn.tensor(g))
    np.testing.assert_array_equal(yn.detach().numpy(), yt.detach().numpy())
    np.testing.assert_array_equal(xn.grad.numpy(), xt.grad.numpy())


def test_fake_quantize_module_equals_torch():
    ft, fn = tq_t.FakeQuantize(), tq.FakeQuantize()
    wt, wn = tq_t.default_per_channel_weight_fake_quant(), tq.default_per_channel_weight_fake_quant()
    for x in batches(5, (4, 6)):
        np.testing.assert_array_equal(fn(tn.tensor(x)).numpy(), ft(torch.from_numpy(x)).numpy())
        np.testing.assert_array_equal(wn(tn.tensor(x)).numpy(), wt(torch.from_numpy(x)).numpy())
    for a, b in ((fn, ft), (wn, wt)):
        np.testing.assert_array_equal(a.scale.numpy(), b.scale.numpy())
        np.testing.assert_array_equal(a.zero_point.numpy(), b.zero_point.numpy())
    assert set(fn.state_dict()) <= set(ft.state_dict())


def _twin_models(seed=0):
    """The same small CNN in torch and tinynet (identical weights)."""
    torch.manual_seed(seed)
    tm = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                             torch.nn.Flatten(), torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 5))
    nm = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 16),
                       nn.ReLU(), nn.Linear(16, 5))
    nm.load_state_dict({k: tn.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return tm.eval(), nm.eval()


@pytest.mark.parametrize("backend", ["x86", "qnnpack"])
def test_static_quantization_matches_torch(backend):
    tm, nm = _twin_models()
    x = np.random.default_rng(0).standard_normal((48, 1, 8, 8)).astype(F32)
    groups = [["0", "1"], ["4", "5"]]
    tw = tq_t.QuantWrapper(tq_t.fuse_modules(tm, groups))
    tw.qconfig = tq_t.get_default_qconfig(backend)
    old = torch.backends.quantized.engine
    torch.backends.quantized.engine = backend
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tp = tq_t.prepare(tw.eval())
            tp(torch.from_numpy(x))
            tq_model = tq_t.convert(tp)
            yt = tq_model(torch.from_numpy(x)).numpy()
    finally:
        torch.backends.quantized.engine = old
    nq = tq.quantize_model(nm, [tn.tensor(x)], qconfig=backend)
    # activation qparams: the calibration saw the same float values (up to float rounding)
    assert nq.quant.scale.item() == pytest.approx(float(tq_model.quant.scale), rel=1e-6)
    assert nq.quant.zero_point.item() == int(tq_model.quant.zero_point)
    for name in ("0", "4", "6"):
        a, b = nq.module.get_submodule(name), tq_model.module.get_submodule(name)
        assert a.scale.item() == pytest.approx(float(b.scale), rel=1e-4)
        assert abs(a.zero_point.item() - int(b.zero_point)) <= 1
        wt = b.weight()
        np.testing.assert_array_equal(a.qweight.numpy(), wt.int_repr().numpy())
    yn = nq(tn.tensor(x)).numpy()
    step = float(tq_model.module[6].scale)
    assert np.abs(yn - yt).max() <= 2 * step + 1e-6


def test_qat_forward_matches_torch():
    tm, nm = _twin_models(1)
    x = np.random.default_rng(1).standard_normal((16, 1, 8, 8)).astype(F32)
    groups = [["0", "1"], ["4", "5"]]
    tw = tq_t.QuantWrapper(tq_t.fuse_modules_qat(tm.train(), groups))
    tw.qconfig = tq_t.QConfig(activation=tq_t.default_fake_quant, weight=tq_t.default_per_channel_weight_fake_quant)
    tp = tq_t.prepare_qat(tw.train())
    nw = tq.QuantWrapper(tq.fuse_modules_qat(nm.train(), groups))
    nw.qconfig = tq.QConfig(activation=tq.default_fake_quant, weight=tq.default_per_channel_weight_fake_quant)
    npp = tq.prepare_qat(nw.train())
    yt = tp(torch.from_numpy(x))
    yn = npp(tn.tensor(x))
    step = float(tp.module[6].activation_post_process.scale)
    assert np.abs(yn.detach().numpy() - yt.detach().numpy()).max() <= step + 1e-6
    g = np.random.default_rng(2).standard_normal(yt.shape).astype(F32)
    yt.backward(torch.from_numpy(g))
    yn.backward(tn.tensor(g))
    gt, gn = tp.module[4].weight.grad.numpy(), npp.module[4].weight.grad.numpy()
    np.testing.assert_allclose(gn, gt, atol=0.05 * np.abs(gt).max())


def test_dynamic_linear_matches_torch():
    torch.manual_seed(0)
    tl = torch.nn.Sequential(torch.nn.Linear(12, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4))
    nl = nn.Sequential(nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 4))
    nl.load_state_dict({k: tn.tensor(v.detach().numpy()) for k, v in tl.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 12)).astype(F32)
    torch.backends.quantized.engine = "x86"
    yt = tq_t.quantize_dynamic(tl, {torch.nn.Linear}, dtype=torch.qint8)(torch.from_numpy(x)).numpy()
    qn = tq.quantize_dynamic(nl, {nn.Linear}, dtype=tq.qint8)
    np.testing.assert_array_equal(qn[0].qweight.numpy(),
                                  tq_t.quantize_dynamic(tl, {torch.nn.Linear})[0].weight().int_repr().numpy())
    yn = qn(tn.tensor(x)).numpy()
    np.testing.assert_allclose(yn, yt, atol=1e-3 * max(1.0, np.abs(yt).max()))
