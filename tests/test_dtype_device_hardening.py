"""Hardening of devices and dtypes.

* Device strings: "cuda:N" for a GPU that does not exist raises (naming the GPUs that do)
  instead of silently using GPU 0; malformed strings and unknown device types raise a
  DeviceError (both ValueError and RuntimeError, as the project's error rules ask of device errors).
* float16: a model moved to float16 runs every layer forward and backward (the Numba
  kernels compute in float32 and round back), outputs and gradients stay float16, and
  values match the float32 computation within float16 tolerance; optimizers step.
* Layer sizes accept any integral type (np.int64, np.int32, __index__ objects) and store
  plain ints; bools and floats are refused with a TypeError naming layer and argument.
* Error messages suggest fixes that work (never ``model.to(tn.int64)``).
"""
import copy

import numpy as np
import pytest

import tinynet as tn
import tinynet.nn as nn
import tinynet.nn.functional as F
import tinynet.optim as optim
from tinynet.backend import DeviceError, registry

HAS_CUDA = "cuda" in tn.backend.available_devices()


# --- devices -------------------------------------------------------------------------------------
def test_device_error_is_value_and_runtime_error():
    assert issubclass(DeviceError, ValueError) and issubclass(DeviceError, RuntimeError)


BAD_SPECS = [
    ("cuda:x", r"invalid device string 'cuda:x'"),
    ("cuda:", r"invalid device string 'cuda:'.*ordinal after ':' is missing"),
    ("cuda:-1", r"invalid device 'cuda:-1'.*must be non-negative"),
    ("cuda:01", r"invalid device string 'cuda:01'"),
    ("cuda:0:1", r"invalid device string 'cuda:0:1'"),
    ("cuda: 1", r"invalid device string 'cuda: 1'"),
    ("cpu:-1", r"invalid device 'cpu:-1'.*must be non-negative"),
    ("cpu:", r"invalid device string 'cpu:'"),
    ("cpu:x", r"invalid device string 'cpu:x'"),
    ("tpu", r"unknown device 'tpu'"),
    ("mps:0", r"unknown device 'mps:0'"),
    ("", r"invalid device string ''"),
]


WHERE = ["device", "tensor", "zeros", "Tensor.to", "Module.to", "Linear"]


def _device_user(where, spec):
    """A call that resolves the device string ``spec`` through the API named by ``where``."""
    return {
        "device": lambda: tn.device(spec),
        "tensor": lambda: tn.tensor([1.0], device=spec),
        "zeros": lambda: tn.zeros(2, device=spec),
        "Tensor.to": lambda: tn.ones(2).to(spec),
        "Module.to": lambda: nn.Linear(2, 2).to(spec),
        "Linear": lambda: nn.Linear(2, 2, device=spec),
    }[where]


@pytest.mark.parametrize("spec,message", BAD_SPECS)
@pytest.mark.parametrize("where", WHERE)
def test_malformed_and_unknown_device_strings_raise(spec, message, where):
    make = _device_user(where, spec)
    with pytest.raises(DeviceError, match=message) as err:
        make()
    assert isinstance(err.value, ValueError) and isinstance(err.value, RuntimeError)


def test_module_left_unchanged_by_a_bad_device():
    lin = nn.Linear(2, 2)
    with pytest.raises(DeviceError):
        lin.to("cuda:x")
    assert lin.weight.device == "cpu"


@pytest.mark.parametrize("spec", ["cpu", "cpu:0", "cpu:1", "CPU"])
def test_cpu_spellings(spec):
    # As in PyTorch, "cpu:N" names the (one) CPU: torch.zeros(1, device="cpu:1").device is cpu.
    assert tn.device(spec) is tn.device("cpu")
    assert tn.zeros(2, device=spec).device == "cpu"


def test_non_string_device_is_a_type_error():
    with pytest.raises(TypeError, match="device must be a string"):
        tn.device(7.0)
    with pytest.raises(TypeError, match="device must be a string"):
        tn.device([0])


def test_integer_device_is_that_cuda_ordinal():
    """PyTorch: ``device=0`` means ``cuda:0``; an ordinal that doesn't exist is refused."""
    with pytest.raises(tn.backend.DeviceError, match="cuda:7"):
        tn.device(7)
    if HAS_CUDA:
        assert tn.device(0) is tn.device("cuda")


def _cuda_count():
    return registry.cuda_device_count()


@pytest.mark.skipif(not HAS_CUDA, reason="no cuda device (real or simulated)")
@pytest.mark.parametrize("spec", ["cuda", "cuda:0", "gpu", "gpu:0"])
def test_cuda_zero_resolves(spec):
    dev = tn.device(spec)
    assert dev is tn.device("cuda") and dev.index == 0
    assert tn.tensor([1.0], device=spec).device is dev


@pytest.mark.skipif(not HAS_CUDA, reason="no cuda device (real or simulated)")
@pytest.mark.parametrize("where", WHERE)
def test_cuda_ordinal_beyond_the_machine_raises(where):
    count = _cuda_count()
    spec = "cuda:7" if count <= 7 else f"cuda:{count}"
    make = _device_user(where, spec)
    expected = "1 CUDA device: cuda:0" if count == 1 else f"{count} CUDA devices: cuda:0, cuda:1"
    with pytest.raises(DeviceError, match=rf"{spec}: no such GPU; this machine has {expected}") as err:
        make()
    assert isinstance(err.value, RuntimeError)


@pytest.mark.skipif(not HAS_CUDA or not tn.cuda.is_simulated(), reason="the simulated GPU has one device")
def test_simulator_has_exactly_cuda_0():
    assert _cuda_count() == 1
    with pytest.raises(DeviceError, match=r"cuda:1: no such GPU; this machine has 1 CUDA device: cuda:0"):
        tn.device("cuda:1")


@pytest.mark.skipif(not HAS_CUDA, reason="no cuda device (real or simulated)")
def test_several_gpus_higher_ordinals_are_refused_not_mapped_to_gpu_0(monkeypatch):
    """tinynet computes on cuda:0; on a 4-GPU machine cuda:2 is refused with the way to use it."""
    monkeypatch.setattr(registry, "cuda_device_count", lambda: 4)
    assert tn.device("cuda:0") is tn.device("cuda")
    with pytest.raises(DeviceError, match=r"cuda:2: tinynet computes on one GPU, cuda:0 \(4 CUDA devices: "
                                          r"cuda:0, cuda:1, cuda:2, cuda:3 here\).*CUDA_VISIBLE_DEVICES=2"):
        tn.ones(2).to("cuda:2")
    with pytest.raises(DeviceError, match=r"cuda:4: no such GPU; this machine has 4 CUDA devices"):
        tn.device("cuda:4")


def test_cuda_ordinal_without_any_gpu(monkeypatch):
    monkeypatch.setattr(registry, "_CUDA", None)
    monkeypatch.setattr(registry, "_CUDA_ERROR", "ImportError: no CuPy (test)")
    with pytest.raises(DeviceError, match=r"device 'cuda:7' is not available \(ImportError: no CuPy \(test\)\)"):
        tn.zeros(2, device="cuda:7")
    with pytest.raises(DeviceError, match="invalid device string 'cuda:x'"):  # malformed is said first
        tn.device("cuda:x")


@pytest.mark.skipif(not HAS_CUDA, reason="no cuda device (real or simulated)")
def test_device_equality_respects_the_ordinal():
    dev = tn.device("cuda")
    assert dev == "cuda" and dev == "cuda:0"
    assert dev != "cuda:7" and dev != "cpu" and dev != "cuda:x"
    assert tn.device("cpu") == "cpu" and tn.device("cpu") != "cuda:0"


# --- float16: every layer forward and backward ------------------------------------------------------
class _Call(nn.Module):
    """A module around a functional op (so every case is "a model" that can be .half()-ed)."""

    def __init__(self, fn, *children):
        super().__init__()
        self.fn = fn
        self.kids = nn.ModuleList(list(children))

    def forward(self, x):
        return self.fn(self, x)


def _first(out):
    return out[0] if isinstance(out, tuple) else out


def _target(x):
    return tn.tensor(np.arange(x.shape[0]) % x.shape[1], device=x.device)


LAYERS = {
    "linear": (lambda: nn.Linear(6, 5), (4, 6)),
    "linear_relu_ce": (lambda: _Call(lambda m, x: F.cross_entropy(F.relu(m.kids[0](x)), _target(x)),
                                     nn.Linear(6, 5)), (4, 6)),
    "conv2d": (lambda: nn.Conv2d(2, 3, 3, padding=1), (2, 2, 5, 5)),
    "conv2d_strided_dilated": (lambda: nn.Conv2d(2, 4, 3, stride=2, padding=2, dilation=2, groups=2), (1, 2, 7, 7)),
    "max_pool2d": (lambda: nn.MaxPool2d(2), (2, 3, 4, 4)),
    "max_pool2d_3x3": (lambda: nn.MaxPool2d(3, stride=2, padding=1), (1, 2, 5, 5)),
    "avg_pool2d": (lambda: nn.AvgPool2d(2), (2, 3, 4, 4)),
    "adaptive_avg_pool2d": (lambda: nn.AdaptiveAvgPool2d((2, 3)), (1, 2, 5, 7)),
    "layer_norm": (lambda: nn.LayerNorm(6), (3, 6)),
    "batch_norm1d": (lambda: nn.BatchNorm1d(4), (5, 4)),
    "batch_norm2d": (lambda: nn.BatchNorm2d(3), (2, 3, 3, 3)),
    "sdpa": (lambda: _Call(lambda m, x: F.scaled_dot_product_attention(x, x * 0.5, x, is_causal=True)), (1, 2, 3, 4)),
    "multihead_attention": (lambda: _Call(lambda m, x: m.kids[0](x, x, x)[0], nn.MultiheadAttention(4, 2)), (2, 3, 4)),
    "transformer_encoder_layer": (lambda: nn.TransformerEncoderLayer(4, 2, dim_feedforward=8, dropout=0.0,
                                                                     activation="gelu"), (2, 3, 4)),
    "embedding": (lambda: nn.Embedding(7, 4, padding_idx=0), None),
    "lstm": (lambda: nn.LSTM(4, 3), (2, 3, 4)),
    "gru": (lambda: nn.GRU(4, 3), (2, 3, 4)),
    "rnn": (lambda: nn.RNN(4, 3), (2, 3, 4)),
    "lstm_cell": (lambda: _Call(lambda m, x: m.kids[0](x)[0], nn.LSTMCell(4, 3)), (2, 4)),
    "dropout": (lambda: nn.Dropout(0.3), (4, 5)),
    "gelu": (lambda: nn.GELU(), (4, 5)),
    "gelu_tanh": (lambda: nn.GELU(approximate="tanh"), (4, 5)),
    "relu_large": (lambda: nn.ReLU(), (64, 80)),  # large enough for the fused relu kernel
    "softmax": (lambda: nn.Softmax(dim=-1), (3, 5)),
    "log_softmax": (lambda: _Call(lambda m, x: F.log_softmax(x, dim=1)), (3, 5)),
    "cross_entropy": (lambda: _Call(lambda m, x: F.cross_entropy(x, _target(x))), (4, 5)),
}


def _run(model, x, device, seed=1):
    """Forward (dropout masks drawn from the same seed), a weighted-sum backward; returns
    output, input gradient and parameter gradients."""
    tn.manual_seed(seed)
    y = _first(model(x))
    w = tn.tensor(np.linspace(-1.0, 1.0, y.numel()).reshape(y.shape), dtype=y.dtype, device=device)
    (y * w).sum().backward()
    return y, x.grad, {n: p.grad for n, p in model.named_parameters()}


def _close(a16, a32, what):
    a, b = a16.detach().numpy().astype(np.float64), a32.detach().numpy().astype(np.float64)
    scale = max(1.0, float(np.abs(b).max())) if b.size else 1.0
    np.testing.assert_allclose(a, b, rtol=2e-2, atol=2e-2 * scale, err_msg=what)


@pytest.mark.parametrize("name", list(LAYERS))
def test_float16_layers_forward_and_backward(name, device):
    build, shape = LAYERS[name]
    tn.manual_seed(0)
    m16 = build().to(device).half()
    m32 = copy.deepcopy(m16).float()  # the same (float16-representable) weights, computed in float32
    for p in m16.parameters():
        assert p.dtype == tn.float16
    if shape is None:  # embedding: integer ids in, no input gradient
        ids = tn.tensor([[1, 2, 0], [6, 2, 3]], device=device)
        x16, x32 = ids, ids
    else:
        x16 = tn.randn(*shape, device=device).half().requires_grad_()
        x32 = x16.detach().float().requires_grad_()
    y16, gx16, g16 = _run(m16, x16, device)
    y32, gx32, g32 = _run(m32, x32, device)
    assert y16.dtype == tn.float16 and y16.shape == y32.shape
    _close(y16, y32, f"{name}: forward")
    if shape is not None:
        assert gx16 is not None and gx16.dtype == tn.float16 and gx16.shape == x16.shape
        _close(gx16, gx32, f"{name}: input gradient")
    for pname, g in g16.items():
        assert g is not None, f"{name}: {pname} got no gradient"
        assert g.dtype == tn.float16 and g.shape == dict(m16.named_parameters())[pname].shape, pname
        _close(g, g32[pname], f"{name}: gradient of {pname}")
    for bname, b in m16.named_buffers():
        if b.dtype.kind == "f":
            assert b.dtype == tn.float16, bname  # running statistics stay in the model's dtype


def test_float16_small_cnn_trains(device):
    """A small conv model (conv, relu, pool, linear, cross-entropy) in float16: loss and grads
    are float16 and match float32, and an SGD step lowers the loss."""
    tn.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(3 * 3 * 3, 4)).to(device).half()
    ref = copy.deepcopy(net).float()
    x = tn.randn(4, 1, 6, 6, device=device)
    y = tn.tensor([0, 1, 2, 3], device=device)
    losses = []
    for model, xx in ((net, x.half()), (ref, x.half().float())):
        loss = F.cross_entropy(model(xx), y)
        loss.backward()
        losses.append(loss)
    assert losses[0].dtype == tn.float16
    _close(losses[0], losses[1], "loss")
    for (n, p16), p32 in zip(net.named_parameters(), ref.parameters()):
        assert p16.grad.dtype == tn.float16
        _close(p16.grad, p32.grad, n)
    opt = optim.SGD(net.parameters(), lr=0.5)
    opt.step()
    after = F.cross_entropy(net(x.half()), y)
    assert after.dtype == tn.float16 and float(after.item()) < float(losses[0].item())


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", {"lr": 0.1}), ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.01}), ("Adam", {"lr": 0.01, "amsgrad": True}), ("AdamW", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5}), ("Adagrad", {"lr": 0.1}),
])
def test_float16_optimizer_steps(name, kwargs, device):
    """Optimizer steps on float16 parameters run (the fused kernels compute in float32) and
    agree with the same steps in float32 within float16 rounding."""
    tn.manual_seed(0)
    m16 = nn.Linear(6, 3).to(device).half()
    m32 = copy.deepcopy(m16).float()
    x = tn.randn(5, 6, device=device).half()
    opts = [getattr(optim, name)(m.parameters(), **kwargs) for m in (m16, m32)]
    start = m16.weight.detach().numpy().copy()
    for _ in range(2):
        for m, o, xx in ((m16, opts[0], x), (m32, opts[1], x.float())):
            o.zero_grad()
            (m(xx) ** 2).sum().backward()
            o.step()
    for p16, p32 in zip(m16.parameters(), m32.parameters()):
        assert p16.dtype == tn.float16
        np.testing.assert_allclose(p16.detach().numpy().astype(np.float64), p32.detach().numpy().astype(np.float64),
                                   rtol=1e-2, atol=5e-3)
    assert not np.array_equal(m16.weight.detach().numpy(), start)
    state = [v for per_param in opts[0].state.values() for v in per_param.values() if isinstance(v, tn.Tensor)]
    assert state or (name == "SGD" and "momentum" not in kwargs)
    assert all(v.dtype == tn.float16 for v in state if v.numel())  # state keeps the parameter's dtype


def test_float16_kernel_dispatch_handles_read_only_and_in_place_arguments():
    """The float16 path of the kernel table: read-only inputs are not written, arguments the
    kernel updates in place (here an SGD step) get the new values, int arrays pass through."""
    k = tn.device("cpu").kernels
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, -1.0]], dtype=np.float16)
    x.flags.writeable = False
    y = k.softmax_forward(x)
    assert y.dtype == np.float16
    e = np.exp(x.astype(np.float64) - x.astype(np.float64).max(1, keepdims=True))
    np.testing.assert_allclose(y.astype(np.float64), e / e.sum(1, keepdims=True), rtol=1e-3)
    p = np.ones(4, dtype=np.float16)
    g = np.full(4, 0.5, dtype=np.float16)
    buf = np.empty(0, dtype=np.float16)
    k.sgd_step(p, g, buf, 0.1, 0.0, 0.0, 0.0, False, False, True)
    np.testing.assert_array_equal(p, np.full(4, np.float16(0.95)))
    out, idx = k.max_pool2d_forward(np.arange(16, dtype=np.float16).reshape(1, 1, 4, 4), 2, 2, 2, 2, 0, 0, 1, 1, 2, 2)
    assert out.dtype == np.float16 and idx.dtype.kind == "i"
    np.testing.assert_array_equal(out.reshape(-1), [5, 7, 13, 15])


def test_half_and_to_float16():
    lin = nn.Linear(2, 3)
    assert lin.half() is lin and lin.weight.dtype == tn.float16
    assert lin.to(tn.float32).weight.dtype == tn.float32
    assert tn.ones(2).half().dtype == tn.float16


@pytest.mark.parametrize("dtype", [tn.int64, tn.int32, tn.bool, tn.uint8])
def test_model_to_integer_dtype_says_what_works(dtype):
    lin = nn.Linear(2, 3)
    with pytest.raises(TypeError, match=r"floating: tn.float32 \(default\), tn.float64 or tn.float16.*x.float\(\)"):
        lin.to(dtype)
    assert lin.weight.dtype == tn.float32  # unchanged


@pytest.mark.skipif(np.dtype(np.longdouble).itemsize <= 8, reason="longdouble is float64 here")
def test_model_to_longdouble_is_refused_up_front():
    lin = nn.Linear(2, 3)
    with pytest.raises(TypeError, match="do not run in"):
        lin.to(np.longdouble)
    assert lin.weight.dtype == tn.float32


def test_bfloat16_is_a_clear_error():
    assert not hasattr(tn, "bfloat16")
    with pytest.raises(AttributeError, match="NumPy has no bfloat16"):
        tn.bfloat16  # noqa: B018
    with pytest.raises(TypeError, match="bfloat16 is not supported.*tn.float16"):
        tn.zeros(2, dtype="bfloat16")
    with pytest.raises(TypeError, match="bfloat16 is not supported"):
        nn.Linear(2, 2).to(dtype="bfloat16")


# --- error messages suggest fixes that work ----------------------------------------------------------
@pytest.mark.parametrize("dtype", [tn.int64, tn.int32, tn.bool])
def test_integer_input_to_linear_suggests_converting_the_input(dtype):
    lin = nn.Linear(3, 2)
    x = tn.tensor([[1, 0, 1]], dtype=dtype)
    for call in (lambda: lin(x), lambda: F.linear(x, lin.weight, lin.bias)):
        with pytest.raises(TypeError) as err:
            call()
        msg = str(err.value)
        assert "x.float()" in msg and f"model.to(tn.{x.dtype})" not in msg and "model.to(tn.int" not in msg
    assert lin(x.float()).dtype == tn.float32  # the suggested fix works


def test_integer_input_to_float64_linear_and_conv_suggest_working_fixes():
    lin = nn.Linear(3, 2).double()
    x = tn.tensor([[1, 2, 3]])
    with pytest.raises(TypeError, match=r"convert the input: `x.to\(tn.float64\)`") as err:
        lin(x)
    assert "model.to(tn.int64)" not in str(err.value)
    assert lin(x.to(tn.float64)).dtype == tn.float64
    conv = nn.Conv2d(1, 2, 3)
    img = tn.zeros(1, 1, 4, 4, dtype=tn.uint8)
    with pytest.raises(TypeError, match=r"convert the input: `x.float\(\)`") as err:
        conv(img)
    assert "model.to(tn.uint8)" not in str(err.value)
    assert conv(img.float()).shape == (1, 2, 2, 2)


def test_float_dtype_mismatch_offers_both_working_fixes():
    lin = nn.Linear(3, 2)
    x = tn.randn(2, 3, dtype=tn.float64)
    with pytest.raises(TypeError, match=r"`x.to\(tn.float32\)`.*`model.to\(tn.float64\)`"):
        lin(x)
    assert lin(x.to(tn.float32)).dtype == tn.float32
    assert copy.deepcopy(lin).to(tn.float64)(x).dtype == tn.float64


def test_layer_norm_dtype_mismatch_is_a_type_error():
    ln = nn.LayerNorm(4).half()
    with pytest.raises(TypeError, match=r"layer_norm: input is (tinynet\.)?float32 but weight is (tinynet\.)?float16"):
        ln(tn.randn(2, 4))


# --- integral layer sizes ------------------------------------------------------------------------------
class Idx:
    """An integer-like object (``__index__``), as PyTorch accepts for sizes."""

    def __init__(self, v):
        self.v = v

    def __index__(self):
        return self.v

    def __repr__(self):
        return f"Idx({self.v})"


INT_KINDS = {"np.int64": np.int64, "np.int32": np.int32, "np.uint8": np.uint8, "__index__": Idx}


def _layers(i):
    """Every layer constructor, sizes given through ``i`` (an integral type)."""
    return {
        "Linear": (lambda: nn.Linear(i(3), i(4)), (2, 3)),
        "Conv2d": (lambda: nn.Conv2d(i(2), i(4), kernel_size=(i(3), i(1)), stride=(i(1), i(2)),
                                     padding=(i(1), i(0)), dilation=i(1), groups=i(2)), (1, 2, 5, 5)),
        "Conv2d_int": (lambda: nn.Conv2d(i(2), i(3), i(3), stride=i(1), padding=i(1)), (1, 2, 4, 4)),
        "Conv1d": (lambda: nn.Conv1d(i(2), i(3), i(3), padding=i(1)), (1, 2, 5)),
        "MaxPool2d": (lambda: nn.MaxPool2d(i(2), stride=i(2), padding=i(0), dilation=i(1)), (1, 1, 4, 4)),
        "MaxPool2d_tuple": (lambda: nn.MaxPool2d((i(2), i(1))), (1, 1, 4, 4)),
        "AvgPool2d": (lambda: nn.AvgPool2d(i(2), stride=(i(1), i(2)), divisor_override=i(3)), (1, 1, 4, 4)),
        "AdaptiveAvgPool2d": (lambda: nn.AdaptiveAvgPool2d((i(2), i(3))), (1, 1, 4, 6)),
        "AdaptiveAvgPool2d_int": (lambda: nn.AdaptiveAvgPool2d(i(1)), (1, 1, 4, 6)),
        "BatchNorm1d": (lambda: nn.BatchNorm1d(i(3)), (4, 3)),
        "BatchNorm2d": (lambda: nn.BatchNorm2d(i(2)), (2, 2, 3, 3)),
        "LayerNorm": (lambda: nn.LayerNorm(i(4)), (2, 4)),
        "LayerNorm_tuple": (lambda: nn.LayerNorm((i(2), i(4))), (3, 2, 4)),
        "Embedding": (lambda: nn.Embedding(i(6), i(3), padding_idx=i(0)), None),
        "MultiheadAttention": (lambda: nn.MultiheadAttention(i(4), i(2)), "attention"),
        "TransformerEncoderLayer": (lambda: nn.TransformerEncoderLayer(i(4), i(2), dim_feedforward=i(8),
                                                                       dropout=0.0), (2, 3, 4)),
        "TransformerEncoder": (lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 8, 0.0), i(2)),
                               (2, 3, 4)),
        "RNN": (lambda: nn.RNN(i(4), i(3), num_layers=i(2)), (2, 3, 4)),
        "LSTM": (lambda: nn.LSTM(i(4), i(3)), (2, 3, 4)),
        "GRU": (lambda: nn.GRU(i(4), i(3), num_layers=i(1), bidirectional=True), (2, 3, 4)),
        "RNNCell": (lambda: nn.RNNCell(i(4), i(3)), (2, 4)),
        "LSTMCell": (lambda: nn.LSTMCell(i(4), i(3)), (2, 4)),
        "GRUCell": (lambda: nn.GRUCell(i(4), i(3)), (2, 4)),
        "Flatten": (lambda: nn.Flatten(i(1)), (2, 3, 4)),
        "Unflatten": (lambda: nn.Unflatten(i(1), (i(2), i(3))), (2, 6)),
        "Softmax": (lambda: nn.Softmax(dim=i(1)), (2, 3)),
        "CrossEntropyLoss": (lambda: nn.CrossEntropyLoss(ignore_index=i(2)), "loss"),
    }


def _plain(value, path):
    """Assert ``value`` holds no NumPy scalar or foreign int-like (recursing into tuples/lists)."""
    if isinstance(value, (tuple, list)):
        for j, v in enumerate(value):
            _plain(v, f"{path}[{j}]")
        return
    assert not isinstance(value, (np.generic, Idx)), f"{path} is {type(value).__name__} {value!r}, not a plain int"


@pytest.mark.parametrize("kind", list(INT_KINDS))
@pytest.mark.parametrize("layer", list(_layers(int)))
def test_layer_sizes_accept_any_integral_type(layer, kind):
    build, shape = _layers(INT_KINDS[kind])[layer]
    m = build()
    for name, mod in m.named_modules():
        for attr, value in vars(mod).items():
            if not attr.startswith("_"):
                _plain(value, f"{layer}.{name + '.' if name else ''}{attr}")
    text = repr(m)
    assert "np." not in text and "Idx(" not in text and "int64" not in text, text
    for key, t in m.state_dict().items():
        assert all(type(s) is int for s in t.shape), key
    # and the layer is the same as the one built from plain ints
    ref = _layers(int)[layer][0]()
    assert repr(ref) == text
    assert {k: tuple(v.shape) for k, v in ref.state_dict().items()} == {k: tuple(v.shape) for k, v in m.state_dict().items()}
    if shape == "loss":
        out = m(tn.randn(3, 4), tn.tensor([0, 2, 1]))
    elif shape == "attention":
        x = tn.randn(2, 3, 4)
        out = m(x, x, x)[0]
    elif shape is None:
        out = m(tn.tensor([[1, 2], [0, 5]]))
    else:
        out = _first(m(tn.randn(*shape)))
    assert np.isfinite(out.detach().numpy()).all()


@pytest.mark.parametrize("p", [np.float64(0.25), np.float32(0.25), 0.25])
def test_dropout_rates_are_stored_as_plain_floats(p):
    for m in (nn.Dropout(p), nn.Dropout2d(p), nn.MultiheadAttention(4, 2, dropout=p)):
        value = m.p if hasattr(m, "p") else m.dropout
        assert type(value) is float and value == pytest.approx(0.25)
        assert "np." not in repr(m)
    bn = nn.BatchNorm1d(3, eps=np.float32(1e-3), momentum=np.float64(0.2))
    assert type(bn.eps) is float and type(bn.momentum) is float and "np." not in repr(bn)
    assert type(nn.LayerNorm(3, eps=np.float64(1e-6)).eps) is float


BAD_SIZES = [
    (lambda: nn.Linear(3.0, 4), r"Linear: in_features must be an int, got float 3.0"),
    (lambda: nn.Linear(3, True), r"Linear: out_features must be an int, got bool True"),
    (lambda: nn.Linear(np.float64(3.0), 4), r"Linear: in_features must be an int, got float64"),
    (lambda: nn.Linear(np.True_, 4), r"Linear: in_features must be an int, got bool"),
    (lambda: nn.Linear("3", 4), r"Linear: in_features must be an int, got str '3'"),
    (lambda: nn.Conv2d(2.0, 4, 3), r"Conv2d: in_channels must be an int"),
    (lambda: nn.Conv2d(2, 4, 3.0), r"Conv2d: kernel_size must be an int or a tuple of 2 ints, got 3.0"),
    (lambda: nn.Conv2d(2, 4, (3, True)), r"Conv2d: kernel_size must be an int or a tuple of 2 ints"),
    (lambda: nn.Conv2d(2, 4, 3, stride=1.5), r"Conv2d: stride must be an int or a tuple of 2 ints"),
    (lambda: nn.Conv2d(2, 4, 3, padding=(1, 1.0)), r"Conv2d: padding must be an int or a tuple of 2 ints"),
    (lambda: nn.Conv2d(2, 4, 3, dilation=True), r"Conv2d: dilation must be an int or a tuple of 2 ints"),
    (lambda: nn.Conv2d(2, 4, 3, groups=2.0), r"Conv2d: groups must be an int, got float 2.0"),
    (lambda: nn.MaxPool2d(2.0), r"MaxPool2d: kernel_size must be an int or a tuple of 2 ints"),
    (lambda: nn.MaxPool2d(2, stride=True), r"MaxPool2d: stride must be an int or a tuple of 2 ints"),
    (lambda: nn.AvgPool2d(2, padding=0.5), r"AvgPool2d: padding must be an int or a tuple of 2 ints"),
    (lambda: nn.AdaptiveAvgPool2d(1.0), r"AdaptiveAvgPool2d: output_size must be an int, got float"),
    (lambda: nn.BatchNorm1d(4.0), r"BatchNorm1d: num_features must be an int, got float 4.0"),
    (lambda: nn.BatchNorm2d(True), r"BatchNorm2d: num_features must be an int, got bool"),
    (lambda: nn.LayerNorm(4.0), r"LayerNorm: normalized_shape must be an int or a sequence of ints"),
    (lambda: nn.LayerNorm((2, 4.0)), r"LayerNorm: normalized_shape must be an int, got float 4.0"),
    (lambda: nn.LayerNorm(True), r"LayerNorm: normalized_shape must be an int, got bool"),
    (lambda: nn.Embedding(5.0, 3), r"Embedding: num_embeddings must be an int, got float"),
    (lambda: nn.Embedding(5, 3, padding_idx=1.0), r"Embedding: padding_idx must be an int"),
    (lambda: nn.MultiheadAttention(4.0, 2), r"MultiheadAttention: embed_dim must be an int"),
    (lambda: nn.MultiheadAttention(4, True), r"MultiheadAttention: num_heads must be an int, got bool"),
    (lambda: nn.TransformerEncoderLayer(4, 2, dim_feedforward=8.0), r"TransformerEncoderLayer: dim_feedforward must be an int"),
    (lambda: nn.TransformerEncoderLayer(4.0, 2), r"TransformerEncoderLayer: d_model must be an int"),
    (lambda: nn.LSTM(4.0, 3), r"LSTM: input_size must be an int, got float"),
    (lambda: nn.GRU(4, True), r"GRU: hidden_size must be an int, got bool"),
    (lambda: nn.RNN(4, 3, num_layers=2.0), r"RNN: num_layers must be an int"),
    (lambda: nn.LSTMCell(4, 3.0), r"LSTMCell: hidden_size must be an int"),
    (lambda: nn.GRUCell(True, 3), r"GRUCell: input_size must be an int, got bool"),
    (lambda: nn.Flatten(1.0), r"Flatten: start_dim must be an int"),
    (lambda: nn.Unflatten(1, (2, 3.0)), r"Unflatten: unflattened_size must be an int"),
    (lambda: nn.Softmax(dim=1.0), r"Softmax: dim must be an int"),
]


@pytest.mark.parametrize("case", range(len(BAD_SIZES)))
def test_bool_and_float_sizes_are_type_errors(case):
    build, message = BAD_SIZES[case]
    with pytest.raises(TypeError, match=message):
        build()


@pytest.mark.parametrize("build,message", [
    (lambda: nn.Linear(-1, 3), r"Linear: in_features must be a non-negative int, got -1"),
    (lambda: nn.Conv2d(0, 3, 2), r"Conv2d: in_channels must be a positive int, got 0"),
    (lambda: nn.LSTM(4, np.int64(0)), r"LSTM: hidden_size must be a positive int, got 0"),
    (lambda: nn.Embedding(Idx(0), 3), r"Embedding: num_embeddings must be a positive int, got 0"),
])
def test_out_of_range_sizes_are_value_errors(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_functional_ops_take_integral_arguments():
    x = tn.randn(1, 2, 6, 6)
    w = tn.randn(4, 1, 3, 3)
    ref = F.conv2d(x, w, stride=2, padding=1, groups=2)
    out = F.conv2d(x, w, stride=np.int64(2), padding=(Idx(1), np.int32(1)), groups=np.int64(2))
    np.testing.assert_array_equal(out.numpy(), ref.numpy())
    np.testing.assert_array_equal(F.max_pool2d(x, np.int64(2)).numpy(), F.max_pool2d(x, 2).numpy())
    np.testing.assert_array_equal(F.avg_pool2d(x, Idx(3), divisor_override=np.int32(4)).numpy(),
                                  F.avg_pool2d(x, 3, divisor_override=4).numpy())
    np.testing.assert_array_equal(F.layer_norm(x, (np.int64(6),)).numpy(), F.layer_norm(x, (6,)).numpy())
    with pytest.raises(TypeError, match=r"conv2d: groups must be an int, got float"):
        F.conv2d(x, w, groups=2.0)
    with pytest.raises(TypeError, match=r"layer_norm: normalized_shape must be an int, got float"):
        F.layer_norm(x, (6.0,))


def test_ml_dtypes_registered_in_numpy_are_still_refused():
    """onnx imports ml_dtypes, which teaches NumPy "bfloat16" and "float8_*" (opaque kind-V
    types): tinynet still refuses them with its own message instead of making such arrays."""
    pytest.importorskip("ml_dtypes")
    import ml_dtypes  # noqa: F401  (registers the names with NumPy)

    with pytest.raises(TypeError, match="bfloat16 is not supported"):
        tn.zeros(2, dtype="bfloat16")
    with pytest.raises(TypeError, match="unknown dtype 'float8_e4m3fn'"):
        tn.ones(2, dtype="float8_e4m3fn")
