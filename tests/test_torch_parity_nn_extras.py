"""Parity with PyTorch for the nn extras: affine_grid / grid_sample (2-d and 3-d, every mode, padding
mode and align_corners, gradients w.r.t. input AND grid), conv3d / conv_transpose3d and their layers,
the 3-d pools and the ``*_with_indices`` forms, rms_norm / RMSNorm, channel_shuffle, pdist, ctc_loss
(values and gradients through log_softmax), triplet_margin_with_distance_loss, and lazy layers.

Each case runs tinynet and torch on the same data, backpropagates the same random weighting of the
output and compares the output, every input gradient and any integer indices.
"""
import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
TF = torch.nn.functional

import tinynet as tn  # noqa: E402
import tinynet.nn as nn  # noqa: E402
import tinynet.nn.functional as F  # noqa: E402


def _compare(tn_fn, torch_fn, arrays, seed=0, atol=1e-12, rtol=1e-10, grads=None):
    """Outputs (values; integer outputs exactly) and float64 input gradients agree (``grads``: the
    indices of the inputs whose gradients are compared; default all)."""
    rng = np.random.default_rng(seed)
    ts = [tn.tensor(a, dtype=tn.float64, requires_grad=True) for a in arrays]
    ps = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out_t, out_p = tn_fn(*ts), torch_fn(*ps)
    if isinstance(out_p, tuple):
        for extra_t, extra_p in zip(out_t[1:], out_p[1:]):
            assert extra_t.dtype == tn.int64
            np.testing.assert_array_equal(extra_t.numpy(), extra_p.numpy())
        out_t, out_p = out_t[0], out_p[0]
    assert tuple(out_t.shape) == tuple(out_p.shape)
    np.testing.assert_allclose(out_t.detach().numpy(), out_p.detach().numpy(), rtol=rtol, atol=atol)
    w = rng.standard_normal(tuple(out_p.shape))
    (out_t * tn.tensor(w, dtype=tn.float64)).sum().backward()
    (out_p * torch.tensor(w)).sum().backward()
    for i, (t, p) in enumerate(zip(ts, ps)):
        if grads is None or i in grads:
            np.testing.assert_allclose(t.grad.numpy(), p.grad.numpy(), rtol=rtol, atol=atol)


# --- spatial transformers -----------------------------------------------------------------------------
@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("size", [(2, 3, 4, 5), (2, 1, 1, 3), (2, 3, 3, 2, 4), (1, 2, 1, 3, 1)])
def test_affine_grid(size, align):
    rng = np.random.default_rng(1)
    theta = rng.standard_normal((size[0], 2, 3) if len(size) == 4 else (size[0], 3, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)   # torch's note on unit-size grids with align_corners
        _compare(lambda t: F.affine_grid(t, size, align_corners=align),
                 lambda t: TF.affine_grid(t, size, align_corners=align), [theta])


@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("nd", [2, 3])
def test_grid_sample(nd, mode, padding, align):
    if mode == "bicubic" and nd == 3:
        pytest.skip("bicubic is 4-D only (as PyTorch)")
    rng = np.random.default_rng(nd * 7 + len(mode) + len(padding))
    x = rng.standard_normal((2, 3) + ((5, 4) if nd == 2 else (3, 4, 5)))
    grid = rng.uniform(-1.6, 1.6, (2,) + ((3, 6) if nd == 2 else (2, 3, 4)) + (nd,))
    _compare(lambda a, g: F.grid_sample(a, g, mode=mode, padding_mode=padding, align_corners=align),
             lambda a, g: TF.grid_sample(a, g, mode=mode, padding_mode=padding, align_corners=align),
             [x, grid], grads=None if mode != "nearest" else (0,), atol=1e-11)


def test_spatial_transformer_trains_through_affine_grid_and_grid_sample():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 1, 6, 6))
    theta = np.tile(np.array([[0.9, 0.1, 0.05], [-0.1, 1.1, 0.0]]), (2, 1, 1))
    _compare(lambda a, t: F.grid_sample(a, F.affine_grid(t, (2, 1, 4, 5), align_corners=False),
                                        align_corners=False),
             lambda a, t: TF.grid_sample(a, TF.affine_grid(t, (2, 1, 4, 5), align_corners=False),
                                         align_corners=False),
             [x, theta])


# --- 3-d convolutions ------------------------------------------------------------------------------
@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1), dict(stride=(2, 1, 2), padding=(1, 0, 1),
                                                                      dilation=(2, 1, 1)),
                                dict(padding="same", dilation=2), dict(groups=2, padding="valid")])
def test_conv3d(kw):
    rng = np.random.default_rng(4)
    g = kw.get("groups", 1)
    arrays = [rng.standard_normal((2, 4, 5, 6, 5)), rng.standard_normal((6, 4 // g, 3, 2, 3)), rng.standard_normal(6)]
    _compare(lambda x, w, b: F.conv3d(x, w, b, **kw), lambda x, w, b: TF.conv3d(x, w, b, **kw), arrays,
             atol=1e-11)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1, output_padding=1),
                                dict(stride=(2, 1, 3), padding=(1, 0, 1), dilation=(2, 1, 1), output_padding=(1, 0, 2)),
                                dict(groups=2, dilation=2)])
def test_conv_transpose3d(kw):
    rng = np.random.default_rng(5)
    g = kw.get("groups", 1)
    arrays = [rng.standard_normal((2, 4, 3, 4, 3)), rng.standard_normal((4, 6 // g, 3, 2, 3)), rng.standard_normal(6)]
    _compare(lambda x, w, b: F.conv_transpose3d(x, w, b, **kw), lambda x, w, b: TF.conv_transpose3d(x, w, b, **kw),
             arrays, atol=1e-11)


def test_conv3d_unbatched():
    rng = np.random.default_rng(6)
    _compare(lambda x, w: F.conv3d(x, w, padding=1), lambda x, w: TF.conv3d(x, w, padding=1),
             [rng.standard_normal((2, 3, 4, 3)), rng.standard_normal((3, 2, 2, 2, 2))], atol=1e-11)
    _compare(lambda x, w: F.conv_transpose3d(x, w, stride=2), lambda x, w: TF.conv_transpose3d(x, w, stride=2),
             [rng.standard_normal((2, 3, 2, 3)), rng.standard_normal((2, 3, 2, 2, 2))], atol=1e-11)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_conv3d_layer_matches_torch(mode):
    layer = nn.Conv3d(2, 4, (3, 2, 3), padding="same", padding_mode=mode, dtype=tn.float64)
    ref = torch.nn.Conv3d(2, 4, (3, 2, 3), padding="same", padding_mode=mode, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(layer.weight.detach().numpy()))
        ref.bias.copy_(torch.tensor(layer.bias.detach().numpy()))
    x = np.random.default_rng(7).standard_normal((2, 2, 4, 3, 5))
    np.testing.assert_allclose(layer(tn.tensor(x)).detach().numpy(), ref(torch.tensor(x)).detach().numpy(),
                               atol=1e-12)


def test_conv_transpose3d_layer_output_size_matches_torch():
    layer = nn.ConvTranspose3d(3, 2, 3, stride=2, padding=1, dtype=tn.float64)
    ref = torch.nn.ConvTranspose3d(3, 2, 3, stride=2, padding=1, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(layer.weight.detach().numpy()))
        ref.bias.copy_(torch.tensor(layer.bias.detach().numpy()))
    x = np.random.default_rng(8).standard_normal((1, 3, 3, 4, 2))
    got = layer(tn.tensor(x), output_size=(6, 8, 4))
    want = ref(torch.tensor(x), output_size=(6, 8, 4))
    assert tuple(got.shape) == tuple(want.shape) == (1, 2, 6, 8, 4)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), atol=1e-12)


# --- 3-d pools and the *_with_indices forms ---------------------------------------------------------------
_X5 = np.random.default_rng(9).standard_normal((2, 3, 5, 6, 7))


@pytest.mark.parametrize("name,args,kw", [
    ("max_pool3d", (2,), {}),
    ("max_pool3d", (3,), dict(stride=2, padding=1, dilation=(1, 2, 1), ceil_mode=True, return_indices=True)),
    ("max_pool3d_with_indices", ((2, 3, 2),), dict(stride=(1, 2, 3))),
    ("avg_pool3d", (3,), dict(stride=2, padding=1, ceil_mode=True)),
    ("avg_pool3d", (3,), dict(stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ("avg_pool3d", ((2, 3, 2),), dict(divisor_override=5)),
    ("adaptive_avg_pool3d", ((3, 4, None),), {}),
    ("adaptive_avg_pool3d", (1,), {}),
    ("adaptive_max_pool3d", ((3, 4, 5),), dict(return_indices=True)),
    ("adaptive_max_pool3d_with_indices", (2,), {}),
])
def test_pool3d(name, args, kw):
    _compare(lambda x: getattr(F, name)(x, *args, **kw), lambda x: getattr(TF, name)(x, *args, **kw), [_X5])


def test_pool3d_unbatched_and_lp_pool3d():
    x = np.abs(_X5[0]) + 0.5
    _compare(lambda a: F.max_pool3d(a, 2, return_indices=True), lambda a: TF.max_pool3d(a, 2, return_indices=True),
             [x])
    _compare(lambda a: F.lp_pool3d(a, 2.0, 2), lambda a: TF.lp_pool3d(a, 2.0, 2), [x[None]])
    _compare(lambda a: F.lp_pool3d(a, 3, (2, 3, 2), stride=1, ceil_mode=True),
             lambda a: TF.lp_pool3d(a, 3, (2, 3, 2), stride=1, ceil_mode=True), [x[None]])


@pytest.mark.parametrize("name,arr,arg", [
    ("max_pool1d_with_indices", _X5[:, :, 0, 0], 2), ("max_pool2d_with_indices", _X5[:, :, 0], 2),
    ("adaptive_max_pool1d_with_indices", _X5[:, :, 0, 0], 3), ("adaptive_max_pool2d_with_indices", _X5[:, :, 0], 3),
])
def test_with_indices_forms(name, arr, arg):
    _compare(lambda x: getattr(F, name)(x, arg), lambda x: getattr(TF, name)(x, arg), [arr])


def test_max_unpool3d_roundtrip_matches_torch():
    y, i = TF.max_pool3d(torch.tensor(_X5), 2, return_indices=True)
    yt, it = F.max_pool3d(tn.tensor(_X5), 2, return_indices=True)
    size = _X5.shape[2:]
    _compare(lambda v: F.max_unpool3d(v, it, 2, output_size=size), lambda v: TF.max_unpool3d(v, i, 2, output_size=size),
             [y.numpy()])


@pytest.mark.parametrize("cls,kw", [("MaxPool3d", dict(kernel_size=2, stride=1, padding=1)),
                                    ("AvgPool3d", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
                                    ("AdaptiveAvgPool3d", dict(output_size=(2, 3, 4))),
                                    ("AdaptiveMaxPool3d", dict(output_size=2, return_indices=True)),
                                    ("LPPool3d", dict(norm_type=2, kernel_size=2))])
def test_pool3d_layers(cls, kw):
    x = np.abs(_X5) + 0.1
    _compare(lambda a: getattr(nn, cls)(**kw)(a), lambda a: getattr(torch.nn, cls)(**kw)(a), [x])


# --- normalisation, shuffles, distances -------------------------------------------------------------------
def test_rms_norm_with_weight_and_default_eps():
    rng = np.random.default_rng(10)
    _compare(lambda x, w: F.rms_norm(x, (3, 4), w), lambda x, w: TF.rms_norm(x, (3, 4), w),
             [rng.standard_normal((2, 3, 4)), rng.standard_normal((3, 4))], atol=1e-13)
    _compare(lambda x: F.rms_norm(x, [4], eps=0.1), lambda x: TF.rms_norm(x, [4], eps=0.1),
             [rng.standard_normal((2, 3, 4))], atol=1e-13)


def test_rms_norm_float32_default_eps_is_the_dtype_epsilon():
    x = np.full((1, 3), 1e-4, dtype=np.float32)
    got = F.rms_norm(tn.tensor(x), 3).numpy()
    want = TF.rms_norm(torch.tensor(x), (3,)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_rmsnorm_layer_matches_torch():
    layer, ref = nn.RMSNorm([2, 3], dtype=tn.float64), torch.nn.RMSNorm([2, 3], dtype=torch.float64)
    x = np.random.default_rng(11).standard_normal((4, 2, 3))
    np.testing.assert_allclose(layer(tn.tensor(x)).detach().numpy(), ref(torch.tensor(x)).detach().numpy(),
                               atol=1e-13)
    assert nn.RMSNorm(3, elementwise_affine=False).weight is None


def test_channel_shuffle_matches_torch():
    x = np.arange(2 * 6 * 2 * 2, dtype=np.float64).reshape(2, 6, 2, 2)
    _compare(lambda a: F.channel_shuffle(a, 3), lambda a: TF.channel_shuffle(a, 3), [x])
    _compare(lambda a: nn.ChannelShuffle(2)(a), lambda a: torch.nn.ChannelShuffle(2)(a), [x])


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, math.inf, 0.5])
def test_pdist(p):
    _compare(lambda a: F.pdist(a, p), lambda a: TF.pdist(a, p), [np.random.default_rng(12).standard_normal((5, 3))],
             atol=1e-12)


# --- losses ----------------------------------------------------------------------------------------------
_TG = np.array([[1, 2, 2], [3, 1, 2], [4, 0, 0]])


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("case", ["padded", "concatenated", "empty_target", "impossible", "zero_infinity",
                                  "blank_last", "float32"])
def test_ctc_loss_values_and_gradients(case, reduction):
    rng = np.random.default_rng(13)
    t_len, n, c = 6, 3, 5
    dt = np.float32 if case == "float32" else np.float64
    x = rng.standard_normal((t_len, n, c)).astype(dt)
    targets, in_len, tg_len, blank, zi = _TG, [6, 5, 4], [3, 2, 1], 0, False
    if case == "concatenated":
        targets = np.array([1, 2, 2, 3, 1, 4])
    elif case == "empty_target":
        tg_len = [3, 2, 0]
    elif case in ("impossible", "zero_infinity"):
        in_len, tg_len, zi = [6, 2, 4], [3, 3, 1], case == "zero_infinity"
    elif case == "blank_last":
        targets, blank = np.array([[0, 2, 2], [3, 1, 0], [1, 0, 0]]), 4
    px = torch.tensor(x, requires_grad=True)
    want = TF.ctc_loss(TF.log_softmax(px, 2), torch.tensor(targets), torch.tensor(in_len), torch.tensor(tg_len),
                       blank=blank, reduction=reduction, zero_infinity=zi)
    tx = tn.tensor(x, requires_grad=True)
    got = F.ctc_loss(F.log_softmax(tx, 2), tn.tensor(targets), tn.tensor(in_len), tn.tensor(tg_len), blank=blank,
                     reduction=reduction, zero_infinity=zi)
    assert got.dtype == tx.dtype
    tol = dict(rtol=1e-5, atol=1e-5) if dt == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), **tol)
    w = rng.standard_normal(tuple(want.shape)).astype(dt)
    finite = np.isfinite(want.detach().numpy())
    if not finite.all():     # an infinite loss has no gradient to compare: weight only the finite ones
        w = w * finite
    (torch.where(torch.tensor(finite), want, 0.0) * torch.tensor(w)).sum().backward()
    (tn.where(tn.tensor(finite), got, tn.zeros_like(got)) * tn.tensor(w)).sum().backward()
    np.testing.assert_allclose(tx.grad.numpy(), np.nan_to_num(px.grad.numpy()), **tol)


def test_ctc_loss_unbatched_and_layer():
    rng = np.random.default_rng(14)
    x = rng.standard_normal((5, 4))
    lp_t = TF.log_softmax(torch.tensor(x), 1)
    want = TF.ctc_loss(lp_t, torch.tensor([1, 3]), torch.tensor(5), torch.tensor(2), reduction="none")
    got = F.ctc_loss(F.log_softmax(tn.tensor(x), 1), tn.tensor([1, 3]), tn.tensor(5), tn.tensor(2), reduction="none")
    assert tuple(got.shape) == tuple(want.shape) == ()
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)
    x3 = rng.standard_normal((6, 2, 4))
    want = torch.nn.CTCLoss(blank=3, reduction="sum")(TF.log_softmax(torch.tensor(x3), 2),
                                                     torch.tensor([[1, 2], [0, 0]]), [6, 5], [2, 1])
    got = nn.CTCLoss(blank=3, reduction="sum")(F.log_softmax(tn.tensor(x3), 2), tn.tensor([[1, 2], [0, 0]]), [6, 5],
                                               [2, 1])
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)


@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("dist", [None, "l1", "cosine"])
def test_triplet_margin_with_distance_loss(dist, swap):
    rng = np.random.default_rng(15)
    arrays = [rng.standard_normal((5, 3)) for _ in range(3)]
    fns = {None: (None, None), "l1": (lambda a, b: (a - b).abs().sum(-1), lambda a, b: (a - b).abs().sum(-1)),
           "cosine": (lambda a, b: 1 - F.cosine_similarity(a, b), lambda a, b: 1 - TF.cosine_similarity(a, b))}
    ft, fp = fns[dist]
    _compare(lambda a, p, n: F.triplet_margin_with_distance_loss(a, p, n, distance_function=ft, margin=1.5, swap=swap),
             lambda a, p, n: TF.triplet_margin_with_distance_loss(a, p, n, distance_function=fp, margin=1.5, swap=swap),
             arrays)
    _compare(lambda a, p, n: nn.TripletMarginWithDistanceLoss(distance_function=ft, swap=swap,
                                                               reduction="none")(a, p, n),
             lambda a, p, n: torch.nn.TripletMarginWithDistanceLoss(distance_function=fp, swap=swap,
                                                                    reduction="none")(a, p, n), arrays)


# --- alpha dropout: the same affine map as torch for the same mask ---------------------------------------------
def test_alpha_dropout_constants_match_torch():
    """With p such that a mask is all-keep / all-drop, the affine map equals torch's constants."""
    x = np.random.default_rng(16).standard_normal((200, 50))
    p = 0.3
    out = F.alpha_dropout(tn.tensor(x), p, training=True).numpy()
    ref = TF.alpha_dropout(torch.tensor(x), p, training=True).numpy()
    alpha = 1.7580993408473766
    a = 1 / math.sqrt((alpha ** 2 * p + 1) * (1 - p))
    dropped_value = -alpha * a + alpha * a * p
    for y in (out, ref):
        kept = ~np.isclose(y, dropped_value)
        np.testing.assert_allclose(y[kept], a * x[kept] + alpha * a * p, atol=1e-12)
        assert abs((~kept).mean() - p) < 0.03


# --- lazy layers --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,args,shape", [
    ("LazyLinear", (4,), (3, 5)), ("LazyConv1d", (4, 3), (2, 3, 7)), ("LazyConv2d", (4, 3), (2, 3, 5, 5)),
    ("LazyConv3d", (4, 2), (1, 3, 3, 3, 3)), ("LazyConvTranspose1d", (4, 3), (2, 3, 5)),
    ("LazyConvTranspose2d", (4, 3), (2, 3, 4, 4)), ("LazyConvTranspose3d", (4, 2), (1, 3, 2, 2, 2)),
    ("LazyBatchNorm1d", (), (4, 3)), ("LazyBatchNorm2d", (), (2, 3, 2, 2)), ("LazyBatchNorm3d", (), (2, 3, 2, 2, 2)),
    ("LazyInstanceNorm1d", (), (2, 3, 5)), ("LazyInstanceNorm2d", (), (2, 3, 4, 4)),
    ("LazyInstanceNorm3d", (), (2, 3, 2, 2, 2)),
])
def test_lazy_layers_become_the_torch_class_with_the_same_shapes(name, args, shape):
    ours, ref = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    x = np.random.default_rng(17).standard_normal(shape).astype(np.float32)
    y_ours, y_ref = ours(tn.tensor(x)), ref(torch.tensor(x))
    assert type(ours).__name__ == type(ref).__name__ == name[4:]
    assert tuple(y_ours.shape) == tuple(y_ref.shape)
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in ref.state_dict().items()}
