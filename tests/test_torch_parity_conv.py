"""Parity with PyTorch (float64): conv2d, conv_transpose2d, max/avg/adaptive pooling and batch norm on NCHW.

Hypothesis draws the geometry (batch, channels, groups, image size, kernel, stride,
padding, dilation); each case runs the op on tinynet and on torch tensors made from the
same data, backpropagates the same random weighting of the output, and compares the
output and every input gradient.
"""
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
TF = torch.nn.functional

import tinynet as tn  # noqa: E402
import tinynet.nn as nn  # noqa: E402
import tinynet.nn.functional as F  # noqa: E402

EXAMPLES = settings(max_examples=20)


def _compare(tn_fn, torch_fn, arrays, seed=0, atol=1e-10):
    rng = np.random.default_rng(seed)
    ts = [tn.tensor(a, dtype=tn.float64, requires_grad=True) for a in arrays]
    ps = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out_t, out_p = tn_fn(*ts), torch_fn(*ps)
    assert tuple(out_t.shape) == tuple(out_p.shape)
    np.testing.assert_allclose(out_t.detach().numpy(), out_p.detach().numpy(), rtol=1e-10, atol=atol)
    w = rng.standard_normal(tuple(out_p.shape))
    (out_t * tn.tensor(w, dtype=tn.float64)).sum().backward()
    (out_p * torch.tensor(w)).sum().backward()
    for t, p in zip(ts, ps):
        np.testing.assert_allclose(t.grad.numpy(), p.grad.numpy(), rtol=1e-9, atol=atol)


pair = st.tuples(st.integers(1, 3), st.integers(1, 3))


@st.composite
def conv_case(draw):
    groups = draw(st.integers(1, 3))
    cin = groups * draw(st.integers(1, 2))
    cout = groups * draw(st.integers(1, 2))
    kh, kw = draw(pair)
    sh, sw = draw(st.tuples(st.integers(1, 3), st.integers(1, 3)))
    dh, dw = draw(st.tuples(st.integers(1, 2), st.integers(1, 2)))
    ph, pw = draw(st.tuples(st.integers(0, 2), st.integers(0, 2)))
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    assume(h + 2 * ph >= dh * (kh - 1) + 1 and w + 2 * pw >= dw * (kw - 1) + 1)
    n = draw(st.integers(1, 3))
    bias = draw(st.booleans())
    return n, cin, cout, groups, (h, w), (kh, kw), (sh, sw), (ph, pw), (dh, dw), bias


@EXAMPLES
@given(conv_case(), st.integers(0, 2**16))
def test_conv2d_matches_torch(case, seed):
    n, cin, cout, groups, (h, w), k, stride, padding, dilation, bias = case
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((n, cin, h, w)), rng.standard_normal((cout, cin // groups) + k)]
    if bias:
        arrays.append(rng.standard_normal(cout))
    _compare(lambda *a: F.conv2d(*a, stride=stride, padding=padding, dilation=dilation, groups=groups),
             lambda *a: TF.conv2d(*a, stride=stride, padding=padding, dilation=dilation, groups=groups),
             arrays, seed)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@EXAMPLES
@given(st.integers(1, 3), st.integers(1, 2), pair, st.tuples(st.integers(1, 2), st.integers(1, 2)),
       st.integers(3, 7), st.integers(0, 2**16))
def test_conv2d_same_padding_matches_torch(cin, cout, k, dilation, size, seed):
    assume(size >= dilation[0] * (k[0] - 1) + 1 and size >= dilation[1] * (k[1] - 1) + 1)
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((2, cin, size, size + 1)), rng.standard_normal((cout, cin) + k)]
    _compare(lambda x, wt: F.conv2d(x, wt, padding="same", dilation=dilation),
             lambda x, wt: TF.conv2d(x, wt, padding="same", dilation=dilation), arrays, seed)


@EXAMPLES
@given(conv_case(), st.integers(0, 2**16))
def test_conv_transpose2d_matches_torch(case, seed):
    n, cin, cout, groups, (h, w), k, stride, padding, dilation, bias = case
    out_pad = (stride[0] - 1 if stride[0] > 1 else 0, 0)
    oh = (h - 1) * stride[0] - 2 * padding[0] + dilation[0] * (k[0] - 1) + out_pad[0] + 1
    ow = (w - 1) * stride[1] - 2 * padding[1] + dilation[1] * (k[1] - 1) + 1
    assume(oh > 0 and ow > 0)
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((n, cin, h, w)), rng.standard_normal((cin, cout // groups) + k)]
    _compare(lambda x, wt: F.conv_transpose2d(x, wt, stride=stride, padding=padding, output_padding=out_pad,
                                              groups=groups, dilation=dilation),
             lambda x, wt: TF.conv_transpose2d(x, wt, stride=stride, padding=padding, output_padding=out_pad,
                                               groups=groups, dilation=dilation), arrays, seed)


@st.composite
def pool_case(draw, dilated=True):
    kh, kw = draw(st.tuples(st.integers(1, 3), st.integers(1, 3)))
    stride = draw(st.tuples(st.integers(1, 3), st.integers(1, 3)))
    padding = (draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2)))
    dilation = draw(st.tuples(st.integers(1, 2), st.integers(1, 2))) if dilated else (1, 1)
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    ceil_mode = draw(st.booleans())
    assume(h + 2 * padding[0] >= dilation[0] * (kh - 1) + 1 and w + 2 * padding[1] >= dilation[1] * (kw - 1) + 1)
    return (h, w), (kh, kw), stride, padding, dilation, ceil_mode


@EXAMPLES
@given(pool_case(), st.integers(0, 2**16))
def test_max_pool2d_matches_torch(case, seed):
    (h, w), k, stride, padding, dilation, ceil_mode = case
    rng = np.random.default_rng(seed)
    x = rng.permutation(2 * 3 * h * w).reshape(2, 3, h, w) * 0.1   # distinct values: no ties
    xt = torch.tensor(x)
    out = TF.max_pool2d(xt, k, stride, padding, dilation, ceil_mode)
    assume(torch.isfinite(out).all())      # a window entirely in padding is -inf in both; skip those
    _compare(lambda t: F.max_pool2d(t, k, stride, padding, dilation, ceil_mode),
             lambda t: TF.max_pool2d(t, k, stride, padding, dilation, ceil_mode), [x], seed)
    _, idx = F.max_pool2d(tn.tensor(x), k, stride, padding, dilation, ceil_mode, return_indices=True)
    _, pidx = TF.max_pool2d(xt, k, stride, padding, dilation, ceil_mode, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), pidx.numpy())


@EXAMPLES
@given(pool_case(dilated=False), st.booleans(), st.sampled_from([None, 1, 5]), st.integers(0, 2**16))
def test_avg_pool2d_matches_torch(case, count_include_pad, divisor_override, seed):
    (h, w), k, stride, padding, _, ceil_mode = case
    x = np.random.default_rng(seed).standard_normal((2, 2, h, w))
    _compare(lambda t: F.avg_pool2d(t, k, stride, padding, ceil_mode, count_include_pad, divisor_override),
             lambda t: TF.avg_pool2d(t, k, stride, padding, ceil_mode, count_include_pad, divisor_override),
             [x], seed)


@EXAMPLES
@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 5), st.integers(1, 5), st.integers(0, 2**16))
def test_adaptive_avg_pool2d_matches_torch(h, w, oh, ow, seed):
    x = np.random.default_rng(seed).standard_normal((2, 2, h, w))
    _compare(lambda t: F.adaptive_avg_pool2d(t, (oh, ow)), lambda t: TF.adaptive_avg_pool2d(t, (oh, ow)), [x], seed)


@EXAMPLES
@given(st.integers(2, 4), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.booleans(), st.integers(0, 2**16))
def test_batch_norm_nchw_training_matches_torch(n, c, h, w, affine, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((n, c, h, w)) * 2 + 1]
    if affine:
        arrays += [rng.standard_normal(c), rng.standard_normal(c)]
    rm_t, rv_t = tn.zeros(c, dtype=tn.float64), tn.ones(c, dtype=tn.float64)
    rm_p, rv_p = torch.zeros(c, dtype=torch.float64), torch.ones(c, dtype=torch.float64)
    _compare(lambda x, *wb: F.batch_norm(x, rm_t, rv_t, *wb, training=True, momentum=0.3),
             lambda x, *wb: TF.batch_norm(x, rm_p, rv_p, *wb, training=True, momentum=0.3), arrays, seed, atol=1e-9)
    np.testing.assert_allclose(rm_t.numpy(), rm_p.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(rv_t.numpy(), rv_p.numpy(), rtol=1e-10, atol=1e-12)


def test_batch_norm2d_module_train_then_eval_matches_torch(rng):
    x = rng.standard_normal((4, 3, 5, 5)) * 3 - 1
    ours, theirs = nn.BatchNorm2d(3).to(tn.float64), torch.nn.BatchNorm2d(3).double()
    for _ in range(3):
        ours(tn.tensor(x, dtype=tn.float64))
        theirs(torch.tensor(x))
    ours.eval()
    theirs.eval()
    _compare(lambda t: ours(t), lambda t: theirs(t), [x])


def test_conv2d_layer_init_matches_torch_bounds():
    """PyTorch's default init: weight and bias within +-1/sqrt(fan_in), roughly uniform."""
    tn.manual_seed(0)
    layer = nn.Conv2d(8, 16, 3, groups=2)
    bound = 1 / np.sqrt(4 * 9)
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound      # 576 draws reach the bound
    assert np.abs(b).max() <= bound
    assert abs(layer.weight.detach().numpy().std() - bound / np.sqrt(3)) < 0.1 * bound
    ref = torch.nn.Conv2d(8, 16, 3, groups=2)
    assert tuple(ref.weight.shape) == tuple(layer.weight.shape)


def test_layers_match_torch_with_copied_weights(rng):
    """nn.Conv2d (reflect padding), ConvTranspose2d, Conv1d and pools as modules, weights copied from torch."""
    x = rng.standard_normal((2, 4, 7, 6))
    pairs = [
        (nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2, padding_mode="reflect"),
         torch.nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2, padding_mode="reflect")),
        (nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1),
         torch.nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1)),
    ]
    for ours, theirs in pairs:
        ours.to(tn.float64)
        theirs.double()
        ours.weight.array[...] = theirs.weight.detach().numpy()
        ours.bias.array[...] = theirs.bias.detach().numpy()
        _compare(lambda t: ours(t), lambda t: theirs(t), [x])
    seq = rng.standard_normal((2, 4, 9))
    c1, t1 = nn.Conv1d(4, 3, 3, padding="same", dilation=2).to(tn.float64), torch.nn.Conv1d(4, 3, 3, padding="same", dilation=2).double()
    c1.weight.array[...] = t1.weight.detach().numpy()
    c1.bias.array[...] = t1.bias.detach().numpy()
    _compare(lambda t: c1(t), lambda t: t1(t), [seq])
    _compare(lambda t: nn.MaxPool2d(3, 2, 1)(t), lambda t: torch.nn.MaxPool2d(3, 2, 1)(t), [x])
    _compare(lambda t: nn.AvgPool2d(2)(t), lambda t: torch.nn.AvgPool2d(2)(t), [x])
    _compare(lambda t: nn.AdaptiveAvgPool2d((3, 2))(t), lambda t: torch.nn.AdaptiveAvgPool2d((3, 2))(t), [x])


def test_dropout2d_statistics_and_eval():
    tn.manual_seed(0)
    x = tn.ones(64, 32, 3, 3)
    y = F.dropout2d(x, p=0.25).numpy()
    per_channel = y.reshape(64, 32, -1)
    assert np.all(per_channel.min(-1) == per_channel.max(-1))     # whole channels kept or dropped
    assert set(np.unique(y)) <= {np.float32(0.0), np.float32(1 / 0.75)}
    assert abs((y == 0).mean() - 0.25) < 0.03
    layer = nn.Dropout2d(0.5)
    layer.eval()
    assert layer(x) is x
