"""Parity with PyTorch for the spatial ops: F.pad (every mode, cropping), F.interpolate (every mode,
many sizes and scale factors, up and down, float64 and float32), conv_transpose1d/2d, unfold/fold,
pixel (un)shuffle, Tensor.unfold, the 1-d / adaptive / unpool / power-average pools and the layers.

Each case runs tinynet and torch on the same data, backpropagates the same random weighting of the
output and compares the output, every input gradient and any integer indices.
"""
import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")
TF = torch.nn.functional

import tinynet as tn  # noqa: E402
import tinynet.nn as nn  # noqa: E402
import tinynet.nn.functional as F  # noqa: E402
from tinynet.functional.folding import tensor_unfold  # noqa: E402


def _compare(tn_fn, torch_fn, arrays, seed=0, atol=1e-12, rtol=1e-10):
    """Outputs (values; integer outputs exactly) and float64 input gradients agree."""
    rng = np.random.default_rng(seed)
    ts = [tn.tensor(a, dtype=tn.float64, requires_grad=True) for a in arrays]
    ps = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out_t, out_p = tn_fn(*ts), torch_fn(*ps)
    if isinstance(out_p, tuple):
        for extra_t, extra_p in zip(out_t[1:], out_p[1:]):
            np.testing.assert_array_equal(extra_t.numpy(), extra_p.numpy())
        out_t, out_p = out_t[0], out_p[0]
    assert tuple(out_t.shape) == tuple(out_p.shape)
    np.testing.assert_allclose(out_t.detach().numpy(), out_p.detach().numpy(), rtol=rtol, atol=atol)
    w = rng.standard_normal(tuple(out_p.shape))
    (out_t * tn.tensor(w, dtype=tn.float64)).sum().backward()
    (out_p * torch.tensor(w)).sum().backward()
    for t, p in zip(ts, ps):
        np.testing.assert_allclose(t.grad.numpy(), p.grad.numpy(), rtol=rtol, atol=atol)


def _randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# --- F.pad ----------------------------------------------------------------------------------------
PADS = [(1, 2), (-1, 2), (2, -1), (-2, -1), (1, -1, -1, 2), (2, 1, 1, 2), (0, 0, -1, 1), (3, -2, 2, -1),
        (1, 1, 1, 1, 1, 1)]


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("pad", PADS)
def test_pad_parity(mode, pad):
    shape = {2: (2, 3, 5), 4: (2, 3, 4, 5), 6: (1, 2, 3, 4, 5)}[len(pad)]   # what PyTorch's modes accept
    x = _randn(*shape)
    try:
        TF.pad(torch.tensor(x), pad, mode=mode)
    except RuntimeError:
        with pytest.raises(RuntimeError):    # tinynet refuses what PyTorch refuses (ShapeError is one)
            F.pad(tn.tensor(x), pad, mode=mode)
        return
    if mode == "circular" and any(p > s for p, s in zip(pad[::2], shape[::-1])):
        pytest.skip("PyTorch reads uninitialised memory here; tinynet raises")
    _compare(lambda a: F.pad(a, pad, mode=mode), lambda a: TF.pad(a, pad, mode=mode), [x])


def test_pad_constant_value_parity():
    x = _randn(2, 3, 4)
    _compare(lambda a: F.pad(a, (1, -2, 0, 3, 1, 0), value=-1.5), lambda a: TF.pad(a, (1, -2, 0, 3, 1, 0), value=-1.5),
             [x])


@pytest.mark.parametrize("cls,n", [("ReflectionPad", 1), ("ReflectionPad", 2), ("ReplicationPad", 2),
                                   ("ReplicationPad", 3), ("CircularPad", 1), ("CircularPad", 2), ("ZeroPad", 2),
                                   ("ConstantPad", 1)])
def test_padding_layer_parity(cls, n):
    widths = (2, 1, 1, 0, 1, 1)[:2 * n]
    args = (widths, 0.5) if cls == "ConstantPad" else (widths,)
    t_layer, p_layer = getattr(nn, f"{cls}{n}d")(*args), getattr(torch.nn, f"{cls}{n}d")(*args)
    _compare(t_layer, p_layer, [_randn(*(2, 2, 3, 4, 5)[:n + 2])])
    assert repr(t_layer) == repr(p_layer)


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [1, (2, 1), "same", "valid"])
def test_conv2d_layer_padding_mode_parity(padding_mode, padding):
    torch.manual_seed(0)
    p_layer = torch.nn.Conv2d(2, 3, (3, 2), padding=padding, padding_mode=padding_mode).double()
    t_layer = nn.Conv2d(2, 3, (3, 2), padding=padding, padding_mode=padding_mode, dtype=tn.float64)
    t_layer.weight.array[...] = p_layer.weight.detach().numpy()
    t_layer.bias.array[...] = p_layer.bias.detach().numpy()
    _compare(t_layer, p_layer, [_randn(2, 2, 5, 6)], atol=1e-11)


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [2, "same", "valid"])
def test_conv1d_layer_padding_mode_parity(padding_mode, padding):
    torch.manual_seed(0)
    p_layer = torch.nn.Conv1d(2, 3, 4, padding=padding, padding_mode=padding_mode, dilation=1).double()
    t_layer = nn.Conv1d(2, 3, 4, padding=padding, padding_mode=padding_mode, dtype=tn.float64)
    t_layer.weight.array[...] = p_layer.weight.detach().numpy()
    t_layer.bias.array[...] = p_layer.bias.detach().numpy()
    _compare(t_layer, p_layer, [_randn(2, 2, 7)], atol=1e-11)


# --- F.interpolate ----------------------------------------------------------------------------------
SIZES = [1, 2, 3, 6, 8, 13]
SCALES = [0.3, 0.5, 0.7, 1.0, 1.3333, 1.5, 1.7, 2.0, 2.1, 2.5, 3.0]


def _interp_cases():
    for mode in ["nearest", "nearest-exact", "linear", "bilinear", "bicubic", "area", "trilinear"]:
        dims = {"linear": [1], "bilinear": [2], "bicubic": [2], "trilinear": [3]}.get(mode, [1, 2])
        for nsp, n_in in itertools.product(dims, [1, 3, 4, 7]):
            if nsp == 3 and n_in == 7:
                continue
            aligns = [None, True] if mode in ("linear", "bilinear", "bicubic", "trilinear") else [None]
            for align in aligns:
                for size in SIZES:
                    yield mode, nsp, n_in, align, dict(size=size)
                for scale in SCALES:
                    yield mode, nsp, n_in, align, dict(scale_factor=scale)
                yield mode, nsp, n_in, align, dict(scale_factor=1.7, recompute_scale_factor=True)


def _interp_shape(nsp, n_in):
    return {1: (2, 2, n_in), 2: (1, 2, n_in, n_in + 1), 3: (1, 1, n_in, 2, n_in + 1)}[nsp]


def test_interpolate_parity_values_float64_and_float32():
    """Every mode x many sizes and scale factors, up and down: values in float64 (to rounding) and
    float32 (PyTorch computes coordinates in float32 there; so does tinynet)."""
    checked = 0
    for mode, nsp, n_in, align, kw in _interp_cases():
        x = _randn(*_interp_shape(nsp, n_in), seed=n_in)
        try:
            expected = TF.interpolate(torch.tensor(x), mode=mode, align_corners=align, **kw)
        except RuntimeError:
            continue  # e.g. an output size of 0
        for dt, tdt, tol in [(tn.float64, torch.float64, 1e-12), (tn.float32, torch.float32, 3e-6)]:
            got = F.interpolate(tn.tensor(x, dtype=dt), mode=mode, align_corners=align, **kw)
            want = TF.interpolate(torch.tensor(x, dtype=tdt), mode=mode, align_corners=align, **kw)
            assert tuple(got.shape) == tuple(want.shape) == tuple(expected.shape), (mode, nsp, n_in, align, kw)
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=tol, atol=tol,
                                       err_msg=f"{mode} {nsp}-d in={n_in} align={align} {kw} {dt}")
            checked += 1
    assert checked > 500


def test_interpolate_antialias_parity_values():
    """antialias=True (bilinear, bicubic) against PyTorch over sizes and scales, up and down.

    Outputs one pixel wide are left out: PyTorch 2.x's CPU kernel repeats the first row there
    (e.g. (7, 1) -> (2, 1) gives two equal rows, while (7, 2) -> (2, 2) gives the right ones);
    tinynet's value for that case is checked against the definition in test_spatial_more.py.
    """
    rng = np.random.default_rng(0)
    checked = 0
    for mode, hw, align in itertools.product(["bilinear", "bicubic"], [(1, 2), (3, 4), (7, 5), (16, 13), (30, 9)],
                                             [False, True]):
        for kw in [dict(size=s) for s in [(2, 3), (5, 4), (8, 8), (31, 2), (3, 40)]] + \
                  [dict(scale_factor=f) for f in [0.1, 0.25, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.3]]:
            x = rng.standard_normal((1, 2) + hw)
            try:
                want = TF.interpolate(torch.tensor(x), mode=mode, antialias=True, align_corners=align, **kw)
            except RuntimeError:
                continue
            if want.shape[-1] == 1:
                continue
            for dt, tdt, tol in [(tn.float64, torch.float64, 1e-12), (tn.float32, torch.float32, 5e-6)]:
                got = F.interpolate(tn.tensor(x, dtype=dt), mode=mode, antialias=True, align_corners=align, **kw)
                want = TF.interpolate(torch.tensor(x, dtype=tdt), mode=mode, antialias=True, align_corners=align, **kw)
                np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=tol, atol=tol,
                                           err_msg=f"{mode} {hw} align={align} {kw} {dt}")
                checked += 1
    assert checked > 250


@pytest.mark.parametrize("mode,shape,kw", [
    ("nearest", (2, 2, 5), dict(scale_factor=1.7)),
    ("nearest", (1, 2, 3, 4), dict(size=(7, 3))),
    ("nearest-exact", (1, 2, 5, 4), dict(scale_factor=0.6)),
    ("linear", (2, 2, 5), dict(size=8)),
    ("linear", (2, 2, 5), dict(scale_factor=0.45, align_corners=True)),
    ("bilinear", (1, 2, 4, 5), dict(scale_factor=(1.5, 0.7))),
    ("bilinear", (1, 2, 4, 5), dict(size=(7, 2), align_corners=True)),
    ("bicubic", (1, 2, 4, 5), dict(size=(6, 3))),
    ("bicubic", (1, 1, 3, 3), dict(scale_factor=2.5, align_corners=True)),
    ("trilinear", (1, 1, 2, 3, 3), dict(size=(3, 4, 2))),
    ("area", (1, 2, 7, 5), dict(size=(3, 2))),
    ("area", (2, 2, 7), dict(scale_factor=0.5)),
    ("bilinear", (1, 2, 9, 7), dict(size=(4, 2), antialias=True)),
    ("bicubic", (1, 2, 9, 7), dict(scale_factor=(0.4, 1.6), antialias=True)),
])
def test_interpolate_parity_gradients(mode, shape, kw):
    _compare(lambda a: F.interpolate(a, mode=mode, **kw), lambda a: TF.interpolate(a, mode=mode, **kw),
             [_randn(*shape)])


@pytest.mark.parametrize("make", [
    lambda m: m.Upsample(scale_factor=2, mode="bilinear"),
    lambda m: m.Upsample(size=(5, 7), mode="bicubic", align_corners=True),
    lambda m: m.Upsample(scale_factor=1.5),
    lambda m: m.UpsamplingNearest2d(size=(5, 2)),
    lambda m: m.UpsamplingBilinear2d(scale_factor=2),
])
def test_upsampling_layer_parity(make):
    _compare(make(nn), make(torch.nn), [_randn(1, 2, 3, 4)])


# --- transposed convolutions --------------------------------------------------------------------------
CT_GEOMETRIES = [  # (cin, cout, k, stride, padding, output_padding, groups, dilation, L)
    (2, 4, 3, 2, 1, 1, 2, 1, 5), (3, 3, 2, 3, 0, 2, 1, 1, 4), (2, 2, 3, 1, 1, 0, 1, 2, 6), (4, 2, 2, 2, 0, 1, 2, 2, 3),
    (1, 3, 4, 3, 2, 1, 1, 1, 3),
]


@pytest.mark.parametrize("geometry", CT_GEOMETRIES)
def test_conv_transpose1d_parity(geometry):
    cin, cout, k, s, p, op, g, d, length = geometry
    _compare(lambda x, w, b: F.conv_transpose1d(x, w, b, s, p, op, g, d),
             lambda x, w, b: TF.conv_transpose1d(x, w, b, s, p, op, g, d),
             [_randn(2, cin, length), _randn(cin, cout // g, k, seed=1), _randn(cout, seed=2)], atol=1e-11)


@pytest.mark.parametrize("geometry", CT_GEOMETRIES)
def test_conv_transpose2d_output_padding_parity(geometry):
    cin, cout, k, s, p, op, g, d, length = geometry
    stride, padding, out_pad, dil = (s, 1), (p, 0), (op, 0), (d, 1)
    _compare(lambda x, w, b: F.conv_transpose2d(x, w, b, stride, padding, out_pad, g, dil),
             lambda x, w, b: TF.conv_transpose2d(x, w, b, stride, padding, out_pad, g, dil),
             [_randn(2, cin, length, 3), _randn(cin, cout // g, k, 2, seed=1), _randn(cout, seed=2)], atol=1e-11)


@pytest.mark.parametrize("n", [1, 2])
def test_conv_transpose_layer_output_size_parity(n):
    torch.manual_seed(0)
    cls = "ConvTranspose1d" if n == 1 else "ConvTranspose2d"
    p_layer = getattr(torch.nn, cls)(2, 3, 3, stride=2, padding=1, output_padding=0).double()
    t_layer = getattr(nn, cls)(2, 3, 3, stride=2, padding=1, output_padding=0, dtype=tn.float64)
    t_layer.weight.array[...] = p_layer.weight.detach().numpy()
    t_layer.bias.array[...] = p_layer.bias.detach().numpy()
    size = (6,) * n
    _compare(lambda x: t_layer(x, output_size=size), lambda x: p_layer(x, output_size=size),
             [_randn(*(1, 2) + (3,) * n)], atol=1e-11)


# --- unfold / fold / pixel shuffle / Tensor.unfold ----------------------------------------------------
UNFOLD_ARGS = [dict(kernel_size=2), dict(kernel_size=(2, 3), stride=(2, 1), padding=(1, 0), dilation=(1, 2)),
               dict(kernel_size=3, padding=1, stride=2), dict(kernel_size=(1, 2), dilation=2, stride=(1, 3))]


@pytest.mark.parametrize("kw", UNFOLD_ARGS)
def test_unfold_and_fold_parity(kw):
    x = _randn(2, 3, 5, 6)
    _compare(lambda a: F.unfold(a, **kw), lambda a: TF.unfold(a, **kw), [x])
    cols = TF.unfold(torch.tensor(x), **kw).numpy()
    _compare(lambda c: F.fold(c, (5, 6), **kw), lambda c: TF.fold(c, (5, 6), **kw), [_randn(*cols.shape, seed=3)])
    _compare(nn.Unfold(**kw), torch.nn.Unfold(**kw), [x])
    _compare(nn.Fold((5, 6), **kw), torch.nn.Fold((5, 6), **kw), [_randn(*cols.shape, seed=3)])


@pytest.mark.parametrize("r,shape", [(2, (2, 8, 2, 3)), (3, (1, 9, 2, 2)), (2, (2, 1, 4, 2, 3))])
def test_pixel_shuffle_parity(r, shape):
    _compare(lambda a: F.pixel_shuffle(a, r), lambda a: TF.pixel_shuffle(a, r), [_randn(*shape)])
    shuffled = TF.pixel_shuffle(torch.tensor(_randn(*shape)), r).numpy()
    _compare(lambda a: F.pixel_unshuffle(a, r), lambda a: TF.pixel_unshuffle(a, r), [shuffled])
    _compare(nn.PixelShuffle(r), torch.nn.PixelShuffle(r), [_randn(*shape)])
    _compare(nn.PixelUnshuffle(r), torch.nn.PixelUnshuffle(r), [shuffled])


@pytest.mark.parametrize("dim,size,step", [(1, 3, 2), (0, 2, 1), (-1, 1, 1), (1, 7, 3), (2, 2, 2), (1, 2, 5)])
def test_tensor_unfold_parity(dim, size, step):
    _compare(lambda a: tensor_unfold(a, dim, size, step), lambda a: a.unfold(dim, size, step), [_randn(3, 7, 2)])


# --- pools ------------------------------------------------------------------------------------------
def _distinct(*shape, seed=0):
    n = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(n) * 0.37 - n * 0.1).reshape(shape)


@pytest.mark.parametrize("args", [(3, 2, 1, 1, True), (2, 1, 0, 2, False), (4, None, 2, 1, True), (1, 3, 0, 1, False),
                                  (3, 3, 1, 2, True)])
def test_max_pool1d_parity_with_indices(args):
    k, s, p, d, ceil = args
    _compare(lambda a: F.max_pool1d(a, k, s, p, d, ceil, True), lambda a: TF.max_pool1d(a, k, s, p, d, ceil, True),
             [_distinct(2, 3, 9)])
    _compare(nn.MaxPool1d(k, s, p, d, ceil_mode=ceil), torch.nn.MaxPool1d(k, s, p, d, ceil_mode=ceil),
             [_distinct(3, 10)])


@pytest.mark.parametrize("args", [(3, 2, 1, True, False), (2, None, 0, False, True), (4, 3, 2, True, True),
                                  (3, 1, 1, False, False)])
def test_avg_pool1d_parity(args):
    k, s, p, ceil, cip = args
    _compare(lambda a: F.avg_pool1d(a, k, s, p, ceil, cip), lambda a: TF.avg_pool1d(a, k, s, p, ceil, cip),
             [_randn(2, 3, 9)])
    _compare(nn.AvgPool1d(k, s, p, ceil, cip), torch.nn.AvgPool1d(k, s, p, ceil, cip), [_randn(3, 10)])


@pytest.mark.parametrize("args", [(3, 2, 1, 1, True), ((2, 3), (1, 2), (1, 0), (2, 1), False),
                                  (3, None, 1, 1, True), ((3, 2), (2, 3), (1, 1), 1, True)])
def test_max_pool2d_arguments_parity(args):
    k, s, p, d, ceil = args
    _compare(lambda a: F.max_pool2d(a, k, s, p, d, ceil, True), lambda a: TF.max_pool2d(a, k, s, p, d, ceil, True),
             [_distinct(2, 2, 7, 8)])


@pytest.mark.parametrize("args", [(3, 2, 1, True, False, None), ((3, 2), (2, 3), (1, 1), True, True, 5),
                                  (2, None, 0, False, True, 3), (3, 1, 1, False, False, None)])
def test_avg_pool2d_arguments_parity(args):
    k, s, p, ceil, cip, div = args
    _compare(lambda a: F.avg_pool2d(a, k, s, p, ceil, cip, div), lambda a: TF.avg_pool2d(a, k, s, p, ceil, cip, div),
             [_randn(2, 2, 7, 8)])


@pytest.mark.parametrize("out", [1, 3, 4, 5, 9])
def test_adaptive_pools_1d_parity(out):
    x = _distinct(2, 3, 7)
    _compare(lambda a: F.adaptive_avg_pool1d(a, out), lambda a: TF.adaptive_avg_pool1d(a, out), [x])
    _compare(lambda a: F.adaptive_max_pool1d(a, out, True), lambda a: TF.adaptive_max_pool1d(a, out, True), [x])
    _compare(nn.AdaptiveAvgPool1d(out), torch.nn.AdaptiveAvgPool1d(out), [x])
    _compare(nn.AdaptiveMaxPool1d(out, True), torch.nn.AdaptiveMaxPool1d(out, True), [x])


@pytest.mark.parametrize("out", [1, (2, 3), (3, None), (None, 2), (8, 10), (4, 5)])
def test_adaptive_max_pool2d_parity(out):
    x = _distinct(2, 2, 7, 9)
    _compare(lambda a: F.adaptive_max_pool2d(a, out, True), lambda a: TF.adaptive_max_pool2d(a, out, True), [x])
    _compare(nn.AdaptiveMaxPool2d(out), torch.nn.AdaptiveMaxPool2d(out), [x])


@pytest.mark.parametrize("k,s,p,size,hw", [(2, 2, 0, None, (6, 8)), (3, 2, 1, None, (5, 7)), (2, 2, 0, (7, 9), (7, 9)),
                                           (3, 3, 1, (1, 2, 8, 9), (8, 9))])
def test_max_unpool2d_parity(k, s, p, size, hw):
    x = torch.tensor(_distinct(1, 2, *hw))
    y, idx = TF.max_pool2d(x, k, s, p, return_indices=True)
    tidx = tn.tensor(idx.numpy())
    _compare(lambda a: F.max_unpool2d(a, tidx, k, s, p, size), lambda a: TF.max_unpool2d(a, idx, k, s, p, size),
             [y.numpy()])
    _compare(lambda a: nn.MaxUnpool2d(k, s, p)(a, tidx, size), lambda a: torch.nn.MaxUnpool2d(k, s, p)(a, idx, size),
             [y.numpy()])


@pytest.mark.parametrize("k,s,p,size,length", [(2, 2, 0, None, 8), (3, 2, 1, None, 7), (2, 2, 0, (9,), 9),
                                               (3, 3, 1, (1, 2, 9), 9)])
def test_max_unpool1d_parity(k, s, p, size, length):
    x = torch.tensor(_distinct(1, 2, length))
    y, idx = TF.max_pool1d(x, k, s, p, return_indices=True)
    tidx = tn.tensor(idx.numpy())
    _compare(lambda a: F.max_unpool1d(a, tidx, k, s, p, size), lambda a: TF.max_unpool1d(a, idx, k, s, p, size),
             [y.numpy()])
    _compare(lambda a: nn.MaxUnpool1d(k, s, p)(a, tidx, size), lambda a: torch.nn.MaxUnpool1d(k, s, p)(a, idx, size),
             [y.numpy()])


@pytest.mark.parametrize("p,k,s,ceil", [(2, 2, None, False), (3, (2, 3), (1, 2), False), (1.5, 3, 2, True),
                                        (1, 2, 1, False)])
def test_lp_pool_parity(p, k, s, ceil):
    x2 = np.abs(_randn(2, 2, 6, 7)) + 0.1
    _compare(lambda a: F.lp_pool2d(a, p, k, s, ceil), lambda a: TF.lp_pool2d(a, p, k, s, ceil), [x2], atol=1e-11)
    _compare(nn.LPPool2d(p, k, s, ceil), torch.nn.LPPool2d(p, k, s, ceil), [x2], atol=1e-11)
    k1 = k if isinstance(k, int) else k[0]
    s1 = s if s is None or isinstance(s, int) else s[1]
    x1 = np.abs(_randn(2, 3, 8)) + 0.1
    _compare(lambda a: F.lp_pool1d(a, p, k1, s1, ceil), lambda a: TF.lp_pool1d(a, p, k1, s1, ceil), [x1], atol=1e-11)
    _compare(nn.LPPool1d(p, k1, s1, ceil), torch.nn.LPPool1d(p, k1, s1, ceil), [x1], atol=1e-11)


@pytest.mark.parametrize("make", [
    lambda m: m.Upsample(scale_factor=2, mode="bilinear"), lambda m: m.Upsample(size=(5, 6)),
    lambda m: m.UpsamplingBilinear2d(scale_factor=2), lambda m: m.UpsamplingNearest2d(size=3),
    lambda m: m.MaxPool1d(3, 2), lambda m: m.AvgPool1d(3), lambda m: m.AdaptiveMaxPool2d((3, None)),
    lambda m: m.AdaptiveAvgPool1d(3), lambda m: m.AdaptiveMaxPool1d(2), lambda m: m.MaxUnpool2d(2),
    lambda m: m.MaxUnpool1d(2, 1), lambda m: m.LPPool2d(2, 3), lambda m: m.LPPool1d(1.5, 2, 1),
    lambda m: m.Fold(4, 2), lambda m: m.Unfold((2, 3), stride=2), lambda m: m.PixelShuffle(2),
    lambda m: m.PixelUnshuffle(3), lambda m: m.ReflectionPad2d(1), lambda m: m.ConstantPad3d(1, 2.0),
    lambda m: m.ZeroPad1d((1, 2)), lambda m: m.CircularPad2d((1, 0, 2, 1)),
])
def test_layer_reprs_match_torch(make):
    assert repr(make(nn)) == repr(make(torch.nn))
