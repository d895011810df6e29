"""The ReLU kernels (kernels/cpu/relu.py and their kernels/cuda twins) against NumPy, and
the ReLU op taking the kernel path for large arrays."""
import numpy as np
import pytest

import tinynet as tn
import tinynet.nn.functional as F


def _special(n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n).astype(dtype)
    x[:6] = [np.nan, 0.0, -0.0, np.inf, -np.inf, 1e-30]
    return x


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # inf * 0 (simulator threads)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_kernels_match_numpy(device, dtype):
    dev = tn.device(device)
    n = 300 if dev.simulated else 200_003  # simulated: 3 blocks, the last partial
    x = _special(n, dtype)
    g = np.random.default_rng(1).standard_normal(n).astype(dtype)
    g[10:12] = [np.inf, np.nan]
    y = dev.to_host(dev.kernels.relu_forward(dev.from_host(x[::1].reshape(-1, 1))))
    dx = dev.to_host(dev.kernels.relu_backward(dev.from_host(x), dev.from_host(g)))
    assert y.shape == (n, 1) and y.dtype == dtype and dx.dtype == dtype
    np.testing.assert_array_equal(y.reshape(-1), np.maximum(x, 0))  # NaN stays NaN
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(dx, g * (x > 0))


def test_relu_kernel_serial_and_parallel_loops_agree():
    from tinynet.kernels.cpu import relu as k

    x = _special(tn.device("cpu").kernels.KERNEL_MIN_ELEMENTS["relu"] + 7, np.float32)
    g = np.ones_like(x)
    for variant in (0, 1):
        y = np.empty_like(x)
        k._relu[variant](x, y)
        np.testing.assert_array_equal(y, np.maximum(x, 0))
        dx = np.empty_like(x)
        k._relu_backward[variant](x, g, dx)
        np.testing.assert_array_equal(dx, (x > 0).astype(np.float32))


def test_relu_op_takes_the_kernel_path_for_large_inputs(monkeypatch):
    """Large cpu inputs go through the kernels (and give NumPy's answers); a non-contiguous
    view is converted, never misread."""
    from tinynet.kernels import cpu as kcpu

    calls = []
    real_fwd, real_bwd = kcpu.relu_forward, kcpu.relu_backward
    monkeypatch.setattr(tn.device("cpu").kernels, "relu_forward", lambda x: calls.append("f") or real_fwd(x))
    monkeypatch.setattr(tn.device("cpu").kernels, "relu_backward", lambda x, g: calls.append("b") or real_bwd(x, g))
    base = np.random.default_rng(2).standard_normal((600, 300)).astype(np.float32)
    x = tn.tensor(base, requires_grad=True)
    view = x.transpose(0, 1)[::2]  # (150, 600), non-contiguous, 90,000 elements
    y = F.relu(view)
    y.backward(tn.ones_like(y))
    assert calls == ["f", "b"]
    np.testing.assert_array_equal(y.detach().numpy(), np.maximum(base.T[::2], 0))
    want = np.zeros_like(base)
    want.T[::2] = base.T[::2] > 0
    np.testing.assert_array_equal(x.grad.numpy(), want)
