"""The eager-mode quantization flow: fuse_modules, prepare → calibrate → convert, prepare_qat →
train → convert, quantize_dynamic, quantized layers against NumPy references of their integer
math, quantized checkpoints, and the error paths (each naming the layer)."""
import io

import numpy as np
import pytest

import tinynet as tn
import tinynet.nn as nn
import tinynet.quantization as tq
from tinynet.backend.errors import ArgumentError, DTypeError
from tinynet.models.cnn import LeNet, ResNetSmall
from tinynet.quantization.nn import dynamic as nnqd
from tinynet.quantization.nn import intrinsic as nni
from tinynet.quantization.nn import qat as nnqat
from tinynet.quantization.nn import quantized as nnq

F32 = np.float32


def small_cnn():
    tn.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(4 * 4 * 4, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 3))


def images(n=32, seed=0):
    return tn.tensor(np.random.default_rng(seed).standard_normal((n, 1, 8, 8)).astype(F32))


class Stubbed(nn.Module):
    """A model whose forward marks the quantized region itself (PyTorch's eager style)."""

    def __init__(self):
        super().__init__()
        self.quant, self.dequant = tq.QuantStub(), tq.DeQuantStub()
        self.fc1, self.relu, self.fc2 = nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)

    def forward(self, x):
        return self.dequant(self.fc2(self.relu(self.fc1(self.quant(x)))))


# --- quantized layers vs NumPy references -----------------------------------------------------------
def ref_requant(y, scale, zp):
    return np.clip(np.rint(y / scale) + zp, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("per_channel", [False, True])
def test_quantized_linear_from_float_matches_the_integer_reference(per_channel):
    tn.manual_seed(1)
    lin = nn.Linear(5, 4)
    lin.qconfig = tq.QConfig(tq.MinMaxObserver, tq.default_per_channel_weight_observer if per_channel
                             else tq.default_weight_observer)
    x = tn.tensor(np.random.default_rng(0).standard_normal((7, 5)).astype(F32))
    prepared = tq.prepare(lin)
    prepared(x)
    q = tq.convert(prepared)
    assert isinstance(q, nnq.Linear) and q.per_channel == per_channel
    w = lin.weight.detach().numpy()
    if per_channel:
        s_w = np.maximum(np.abs(w).max(1) / F32(127.5), np.finfo(F32).eps).astype(F32)
    else:
        s_w = np.full(4, max(np.abs(w).max() / F32(127.5), np.finfo(F32).eps), F32)
    np.testing.assert_allclose(q.weight_scale.numpy(), s_w if per_channel else s_w[:1], rtol=1e-7)
    w_q = np.clip(np.rint(w * (F32(1) / s_w[:, None])), -128, 127).astype(np.int8)
    np.testing.assert_array_equal(q.qweight.numpy(), w_q)
    lo, hi = min(x.numpy().min(), 0), max(x.numpy().max(), 0)
    # the input, quantized by hand, through the integer math
    s_x = F32((hi - lo) / 255)
    z_x = int(np.clip(-np.round(lo / s_x), 0, 255))
    xq = tn.quantize_per_tensor(x, float(s_x), z_x, tq.quint8) if hasattr(tn, "quantize_per_tensor") else \
        tq.quantize_per_tensor(x, float(s_x), z_x, tq.quint8)
    acc = (xq.int_repr().numpy().astype(np.int64) - z_x) @ w_q.astype(np.int64).T
    y = acc * (np.float64(s_x) * q.weight_scale.numpy()) + lin.bias.detach().numpy()
    out = q(xq)
    np.testing.assert_array_equal(out.int_repr().numpy(), ref_requant(y, q.scale.item(), q.zero_point.item()))
    assert out.q_scale() == pytest.approx(q.scale.item()) and out.q_zero_point() == q.zero_point.item()


def test_passthrough_layers_compute_on_the_integers():
    x = tq.quantize_per_tensor(tn.tensor(np.random.default_rng(0).standard_normal((2, 3, 4, 4)).astype(F32)),
                               0.05, 100, tq.quint8)
    ints = x.int_repr().numpy()
    relu = nnq.ReLU.from_float(nn.ReLU())
    np.testing.assert_array_equal(relu(x).int_repr().numpy(), np.maximum(ints, 100))
    pool = nnq.MaxPool2d.from_float(nn.MaxPool2d(2))
    want = ints.reshape(2, 3, 2, 2, 2, 2).max(axis=(3, 5))
    np.testing.assert_array_equal(pool(x).int_repr().numpy(), want)
    flat = nnq.Flatten.from_float(nn.Flatten())(x)
    assert flat.shape == (2, 48) and flat.q_scale() == 0.05 and flat.q_zero_point() == 100
    assert nnq.Dropout.from_float(nn.Dropout(0.5))(x) is x
    # float inputs: the float layer
    f = tn.tensor([[-1.0, 2.0]])
    np.testing.assert_array_equal(relu(f).numpy(), [[0.0, 2.0]])


# --- fuse_modules --------------------------------------------------------------------------------------
def test_fuse_conv_bn_relu_folds_the_batch_norm():
    tn.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(12, 4), nn.ReLU())
    m.train()
    m(tn.randn(8, 2, 4, 4))                                     # running statistics
    m.eval()
    x = tn.randn(5, 2, 4, 4)
    ref = m(x).detach().numpy()
    fused = tq.fuse_modules(m, [["0", "1", "2"], ["4", "5"]])
    assert [type(c).__name__ for c in fused] == ["ConvReLU2d", "Identity", "Identity", "Flatten", "LinearReLU",
                                                 "Identity"]
    assert isinstance(fused[0], nni.ConvReLU2d) and isinstance(fused[4], nni.LinearReLU)
    assert type(m[0]) is nn.Conv2d                               # not inplace: the original is kept
    np.testing.assert_allclose(fused(x).detach().numpy(), ref, rtol=1e-5, atol=1e-6)
    assert tq.fusable_groups(m) == [["0", "1", "2"], ["4", "5"]]


def test_fuse_errors():
    m = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    with pytest.raises(RuntimeError, match="eval"):
        tq.fuse_modules(m.train(), ["0", "1"])
    with pytest.raises(NotImplementedError, match=r"\[BatchNorm2d, Conv2d\]"):
        tq.fuse_modules(nn.Sequential(nn.BatchNorm2d(2), nn.Conv2d(2, 2, 1)).eval(), ["0", "1"])
    with pytest.raises(AttributeError, match="'7'"):
        tq.fuse_modules(m.eval(), ["0", "7"])


# --- prepare / convert ---------------------------------------------------------------------------------
def test_prepare_inserts_observers_on_the_quantizable_leaves_only():
    m = tq.fuse_modules(small_cnn().eval(), [["0", "1"], ["4", "5"]])
    w = tq.QuantWrapper(m)
    w.qconfig = tq.default_qconfig
    p = tq.prepare(w)
    observed = sorted(n.rsplit(".", 1)[0] for n, mod in p.named_modules() if isinstance(mod, tq.ObserverBase))
    assert observed == ["module.0", "module.4", "module.7", "quant"]
    x = images(4)
    np.testing.assert_array_equal(p(x).detach().numpy(), m(x).detach().numpy())   # observers are identities
    assert "activation_post_process" not in dict(w.named_modules()).get("quant")._modules  # copy


def test_qconfig_none_keeps_a_layer_float():
    model = Stubbed()
    model.qconfig = tq.default_qconfig
    model.fc2.qconfig = None
    p = tq.prepare(model)
    p(tn.randn(4, 6))
    q = tq.convert(p)
    assert isinstance(q.fc1, nnq.Linear) and type(q.fc2) is nn.Linear
    with pytest.raises(TypeError, match="Linear 'fc2' received a quantized tensor"):
        q(tn.randn(2, 6))


def test_end_to_end_static_quantization_is_within_a_few_steps_of_float():
    m = small_cnn().eval()
    x = images(64)
    q = tq.quantize_model(m, [(x[:32], None), (x[32:], None)])
    assert isinstance(q.module[0], nnq.ConvReLU2d) and isinstance(q.module[4], nnq.LinearReLU)
    assert isinstance(q.module[7], nnq.Linear) and isinstance(q.quant, nnq.Quantize)
    yf, yq = m(x).detach().numpy(), q(x).numpy()
    step = q.module[7].scale.item()
    assert np.abs(yq - yf).max() <= 4 * step
    assert not any(isinstance(mod, tq.ObserverBase) for mod in q.modules())
    w = q.module[0].weight()
    assert w.dtype is tq.qint8 and w.qscheme() is tq.per_channel_symmetric and w.q_per_channel_axis() == 0
    assert not w.q_per_channel_zero_points().numpy().any()


def test_stubbed_model_flow_and_torch_style_quantize():
    model = Stubbed().eval()
    model.qconfig = tq.get_default_qconfig("qnnpack")
    x = tn.randn(16, 6)

    def calibrate(mod, data):
        mod(data)
    q = tq.quantize(model, calibrate, [x])
    assert isinstance(q.quant, nnq.Quantize) and isinstance(q.dequant, nnq.DeQuantize)
    assert isinstance(q.relu, nnq.ReLU)
    yf, yq = model(x).detach().numpy(), q(x).numpy()
    assert np.abs(yq - yf).max() <= 4 * q.fc2.scale.item()


def test_lenet_quantizes_and_resnet_is_refused_with_its_layers():
    tn.manual_seed(0)
    lenet = LeNet(1, 10, 8, channels=(4, 8), hidden=16, dropout=0.25).eval()
    x = images(32)
    q = tq.quantize_model(lenet, [x])
    assert np.abs(q(x).numpy() - lenet(x).detach().numpy()).max() <= 4 * q.module.classifier[4].scale.item()
    with pytest.raises(ArgumentError, match=r"stem\.1 \(BatchNorm2d\)|layers\.0\.bn1 \(BatchNorm2d\)"):
        tq.quantize_model(ResNetSmall(1, 10, (4, 8)), [x])


def test_convert_before_prepare_and_without_calibration():
    model = Stubbed()
    with pytest.raises(RuntimeError, match="convert before prepare"):
        tq.convert(model)
    model.qconfig = tq.default_qconfig
    p = tq.prepare(model)
    with pytest.raises(RuntimeError, match=r"QuantStub 'quant'.*calibrate first"):
        tq.convert(p)
    with pytest.raises(RuntimeError, match="calibrate first"):
        tq.quantize_model(small_cnn(), [])
    qat = tq.prepare_qat_model(nn.Sequential(nn.Linear(3, 2)))
    with pytest.raises(RuntimeError, match=r"QuantStub 'quant', Linear 'module.0'.*saw no data"):
        tq.convert(qat.eval())


def test_prepare_errors():
    with pytest.raises(RuntimeError, match="no qconfig"):
        tq.prepare(Stubbed())
    m = Stubbed()
    m.qconfig = tq.default_qconfig
    p = tq.prepare(m)
    with pytest.raises(RuntimeError, match="already prepared"):
        tq.prepare(p)
    with pytest.raises(RuntimeError, match="training mode"):
        tq.prepare_qat(Stubbed().eval())


def test_unfused_batch_norm_in_the_quantized_region_is_named():
    class ConvBN(nn.Module):
        def __init__(self):
            super().__init__()
            self.quant, self.dequant = tq.QuantStub(), tq.DeQuantStub()
            self.conv, self.bn = nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)

        def forward(self, x):
            return self.dequant(self.bn(self.conv(self.quant(x))))
    m = ConvBN().eval()
    m.qconfig = tq.default_qconfig
    p = tq.prepare(m)
    p(images(4))
    q = tq.convert(p)
    with pytest.raises(TypeError, match="BatchNorm2d 'bn' received a quantized tensor.*fuse"):
        q(images(2))


# --- quantization-aware training -------------------------------------------------------------------------
def blobs(n=256, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = rng.standard_normal((3, 6)) * 2
    x = centres[y] + rng.standard_normal((n, 6))
    return tn.tensor(x.astype(F32)), tn.tensor(y)


def test_qat_trains_and_converts():
    tn.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    # qnnpack: the activations use the full 0..255 range, so the converted model's outputs (clamped to
    # 0..255 by the kernels) and the fake-quantized ones (clamped to the observer's range) agree
    qat = tq.prepare_qat_model(model, "qnnpack")
    assert isinstance(qat.module[0], nnqat.LinearReLU) and isinstance(qat.module[2], nnqat.Linear)
    assert isinstance(qat.module[0].weight_fake_quant, tq.FakeQuantize)
    assert tq.prepare_qat_model(model, "x86").module[0].weight_fake_quant.is_per_channel
    x, y = blobs()
    opt = tn.optim.SGD(qat.parameters(), lr=0.1)
    losses = []
    for _ in range(40):
        loss = tn.nn.functional.cross_entropy(qat(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    # the weights were trained through the fake quantization (straight-through gradients)
    assert qat.module[0].weight.grad is not None and np.abs(qat.module[0].weight.grad.numpy()).sum() > 0
    qat.eval()
    ref = qat(x).detach().numpy()
    q = tq.convert(qat)
    assert isinstance(q.module[0], nnq.LinearReLU)
    out = q(x).numpy()
    # the converted model computes what the fake-quantized one simulated, up to rounding steps
    assert np.abs(out - ref).max() <= 3 * q.module[2].scale.item()
    assert (out.argmax(1) == ref.argmax(1)).mean() > 0.97


def test_qat_conv_layers_fake_quantize_their_weights():
    m = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU())
    m.qconfig = tq.get_default_qat_qconfig("qnnpack")
    p = tq.prepare_qat(tq.fuse_modules_qat(m.train(), ["0", "1"]))
    conv = p[0]
    assert isinstance(conv, nnqat.ConvReLU2d)
    x = images(3)
    out = p(x)
    wq = conv.weight_fake_quant(conv.weight).detach()
    ref = tn.nn.functional.relu(tn.nn.functional.conv2d(x, wq, conv.bias, padding=1))
    ref = conv.activation_post_process(ref)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), atol=1e-6)
    assert len(np.unique(wq.numpy())) <= 256


# --- dynamic quantization ----------------------------------------------------------------------------------
def test_quantize_dynamic_linear():
    tn.manual_seed(0)
    m = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    q = tq.quantize_dynamic(m, {nn.Linear}, dtype=tq.qint8)
    assert isinstance(q[0], nnqd.Linear) and isinstance(q[2], nnqd.Linear) and type(q[1]) is nn.ReLU
    assert type(m[0]) is nn.Linear
    x = tn.randn(10, 6)
    yf, yq = m(x).detach().numpy(), q(x).numpy()
    assert yq.dtype == np.float32
    np.testing.assert_allclose(yq, yf, atol=0.05 * np.abs(yf).max())
    pc = tq.quantize_dynamic(m, {nn.Linear: tq.per_channel_dynamic_qconfig})
    assert pc[0].per_channel


@pytest.mark.parametrize("bidirectional,batch_first", [(False, True), (True, False)])
def test_quantize_dynamic_lstm(bidirectional, batch_first):
    tn.manual_seed(0)
    lstm = nn.LSTM(4, 5, num_layers=2, bidirectional=bidirectional, batch_first=batch_first)
    q = tq.quantize_dynamic(lstm, {nn.LSTM})
    assert isinstance(q, nnqd.LSTM)
    x = tn.randn(3, 6, 4)
    (yf, (hf, cf)), (yq, (hq, cq)) = lstm(x), q(x)
    assert yq.shape == yf.shape and hq.shape == hf.shape and cq.shape == cf.shape
    np.testing.assert_allclose(yq.numpy(), yf.detach().numpy(), atol=0.03)
    np.testing.assert_allclose(cq.numpy(), cf.detach().numpy(), atol=0.05)


def test_quantize_dynamic_errors():
    with pytest.raises(ArgumentError, match=r"Conv2d \(layers '0'\) has no dynamically quantized version"):
        tq.quantize_dynamic(nn.Sequential(nn.Conv2d(1, 1, 1)), {nn.Conv2d})
    with pytest.raises(DTypeError, match="qint8"):
        tq.quantize_dynamic(nn.Linear(2, 2), dtype=tq.quint8)
    with pytest.warns(UserWarning, match="nothing was quantized"):
        tq.quantize_dynamic(nn.Sequential(nn.ReLU()), {nn.Linear})


# --- checkpoints -----------------------------------------------------------------------------------------
def test_quantized_checkpoint_is_small_and_loads_back_exactly(tmp_path):
    tn.manual_seed(0)
    lenet = LeNet(1, 10, 8, channels=(32, 64), hidden=128).eval()      # the digits CNN recipe's sizes
    x = images(32)
    q = tq.quantize_model(lenet, [x])
    sd = q.state_dict()
    assert sd["module.classifier.1.qweight"].dtype == tn.int8
    assert sd["module.features.0.weight_scale"].shape == (32,)            # per channel (x86 preset)
    fp, qp = tmp_path / "float.safetensors", tmp_path / "int8.safetensors"
    tn.save({"model": lenet.state_dict()}, fp)
    tq.save_quantized(q, qp, config={"model": "cnn"})
    assert sd["module.features.0.weight_scale"].dtype == tn.float32 and "module.features.0.weight_zero_point" not in sd
    # one byte per weight; the float biases, per-channel scales and the file's JSON header are the rest
    ratio = fp.stat().st_size / qp.stat().st_size
    assert ratio >= 3.5
    fresh = LeNet(1, 10, 8, channels=(32, 64), hidden=128)
    loaded = tq.load_quantized(qp, fresh)
    np.testing.assert_array_equal(loaded(x).numpy(), q(x).numpy())
    for k, v in q.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[k].numpy(), v.numpy())
    assert type(fresh.features[0]) is nn.Conv2d                            # the float model is untouched
    ck = tn.load(qp)
    assert ck["config"] == {"model": "cnn"} and tq.is_quantized_checkpoint(ck)
    with pytest.raises(tq.QuantizedCheckpointError, match="int8-quantized.*load_quantized"):
        tq.load_float_state_dict(fresh, ck)
    with pytest.raises(RuntimeError, match="qweight"):
        fresh.load_state_dict(ck["model"])                                # the generic error still refuses
    with pytest.raises(tq.QuantizedCheckpointError, match="not a quantized checkpoint"):
        tq.load_quantized(tn.load(fp), fresh)
    other = LeNet(1, 10, 8, channels=(32, 64), hidden=64)
    with pytest.raises(RuntimeError, match=r"module.classifier.1.qweight: shape mismatch: checkpoint has "
                                           r"\(128, 256\), model has \(64, 256\)"):
        tq.load_quantized(ck, other)                                      # another architecture: named
    with pytest.raises(tq.QuantizedCheckpointError, match=r"'module.features.0' was quantized from a Conv2d, but "
                                                          r"the float model has Linear"):
        tq.load_quantized(ck, _with_first_layer_linear(LeNet(1, 10, 8, channels=(32, 64), hidden=128)))


def _with_first_layer_linear(model):
    model.features[0] = nn.Linear(2, 2)
    return model


def test_dynamic_checkpoint_round_trip():
    tn.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    q = tq.quantize_dynamic(model)
    buf = io.BytesIO()
    tq.save_quantized(q, buf)
    buf.seek(0)
    loaded = tq.load_quantized(buf, nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)))
    x = tn.randn(3, 4)
    np.testing.assert_array_equal(loaded(x).numpy(), q(x).numpy())


def test_quantized_model_runs_on_every_device(device):
    tn.manual_seed(0)
    m = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    x = tn.randn(4, 6)
    q = tq.quantize_model(m, [x])
    ref = q(x).numpy()
    q.to(device)
    out = q(x.to(device))
    assert out.device.type == device.split(":")[0]
    np.testing.assert_array_equal(out.numpy(), ref)


def test_quantized_layer_errors():
    q = tq.quantize_model(nn.Sequential(nn.Linear(4, 3)), [tn.randn(8, 4)])
    lin = q.module[0]
    with pytest.raises(TypeError, match=r"QuantizedLinear\(4→3\): expected a quantized input.*QuantStub"):
        lin(tn.randn(2, 4))
    with pytest.raises(TypeError, match="already quantized"):
        q.quant(q.quant(tn.randn(2, 4)))
    with pytest.raises(DTypeError, match="qint8 QTensor"):
        lin.set_weight_bias(tn.randn(3, 4), None)
    w = tq.quantize_per_tensor(tn.randn(3, 4), 0.1, 0, tq.qint8)
    with pytest.raises(ArgumentError, match="shape"):
        lin.set_weight_bias(tq.quantize_per_tensor(tn.randn(2, 4), 0.1, 0, tq.qint8), None)
    lin.set_weight_bias(w, tn.zeros(3))
    np.testing.assert_array_equal(lin.weight().int_repr().numpy(), w.int_repr().numpy())
    with pytest.raises(ArgumentError, match="padding_mode"):
        nnq.Conv2d(1, 1, 3, padding_mode="reflect")


def test_nothing_to_quantize_and_unsupported_options():
    with pytest.raises(ArgumentError, match="nothing to quantize"):
        tq.quantize_model(nn.Sequential(nn.ReLU()), [tn.randn(2, 3)])
    with pytest.raises(ArgumentError, match="proj_size"):
        tq.quantize_dynamic(nn.LSTM(3, 4, proj_size=2), {nn.LSTM})
    with pytest.raises(NotImplementedError, match="fold the batch norm"):
        tq.fuse_modules_qat(nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)), ["0", "1"])
    m = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect"))
    m.qconfig = tq.default_qconfig
    p = tq.prepare(tq.QuantWrapper(m))
    p(images(2))
    with pytest.raises(ArgumentError, match="padding_mode='reflect'"):
        tq.convert(p)


def test_a_quantized_state_dict_into_a_float_model_says_so():
    """``float_model.load_state_dict(quantized_sd)``: the error names the quantized layer and
    the way to load it (not only the mismatched keys)."""
    float_model = nn.Sequential(nn.Linear(4, 3))
    quantized = tq.quantize_model(nn.Sequential(nn.Linear(4, 3)), [tn.randn(8, 4)])
    with pytest.raises(RuntimeError, match=r"int8-quantized state dict \(layer 'module.0' holds 'qweight'\).*"
                                            r"tinynet.quantization.load_quantized"):
        float_model.load_state_dict(quantized.state_dict())


def test_dynamic_quantization_of_the_language_models_runs_and_generates():
    """The LSTM LM and GPT-mini find their device from the embedding, not from the head
    (a dynamic int8 Linear's ``weight`` is a method): both run and sample after quantize_dynamic."""
    from tinynet.models.gpt import GPTMini
    from tinynet.models.lstm_lm import LSTMLanguageModel

    ids = tn.tensor(np.arange(12).reshape(2, 6) % 11)
    for model in (LSTMLanguageModel(11, embed_dim=8, hidden_size=16), GPTMini(11, context=8, d_model=16, n_heads=2,
                                                                              n_layers=1)):
        model.eval()
        ref = model(ids).detach().numpy()
        q = tq.quantize_dynamic(model, {nn.Linear, nn.LSTM}, dtype=tq.qint8)
        out = q(ids).detach().numpy()
        assert out.shape == ref.shape and np.abs(out - ref).max() < 0.1 * (np.abs(ref).max() + 1)
        assert q.generate(ids[:1, :3], 4, temperature=0).shape == (1, 7)
