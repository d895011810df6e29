"""The nn extras beyond the registry: integer outputs (pool indices) on every device, the random ops
(channel / alpha dropout, gumbel_softmax) and their layers, the lazy layers, the layers' arguments,
and every error path of affine_grid / grid_sample, conv3d / conv_transpose3d, the 3-d pools,
dropout1d/3d, alpha dropouts, rms_norm, channel_shuffle, pdist, gumbel_softmax, ctc_loss and
triplet_margin_with_distance_loss.
"""
import copy

import numpy as np
import pytest

import tinynet as tn
import tinynet.nn as nn
import tinynet.nn.functional as F
from tinynet.backend.errors import DeviceError, ShapeError


def _t(a, device="cpu", dtype=tn.float64, requires_grad=False):
    return tn.tensor(np.asarray(a, dtype=np.float64), dtype=dtype, device=device, requires_grad=requires_grad)


def _np(t):
    return t.detach().to("cpu").numpy()


_X = np.random.default_rng(0).permutation(2 * 2 * 3 * 4 * 5).reshape(2, 2, 3, 4, 5) * 0.1


# --- integer outputs on every device --------------------------------------------------------------
def _brute_max3d(x, k):
    n, c, d, h, w = x.shape
    vals, idx = [], []
    for z in range(d // k):
        for y in range(h // k):
            for q in range(w // k):
                win = x[:, :, z * k:(z + 1) * k, y * k:(y + 1) * k, q * k:(q + 1) * k].reshape(n, c, -1)
                pos = win.argmax(-1)
                dz, rem = np.divmod(pos, k * k)
                dy, dq = np.divmod(rem, k)
                vals.append(win.max(-1))
                idx.append((z * k + dz) * h * w + (y * k + dy) * w + (q * k + dq))
    shape = (n, c, d // k, h // k, w // k)
    return np.stack(vals, -1).reshape(shape), np.stack(idx, -1).reshape(shape)


def test_max_pool3d_indices_on_every_device(device):
    x = _t(_X, device)
    y, idx = F.max_pool3d(x, 2, return_indices=True)
    want_y, want_idx = _brute_max3d(_X, 2)
    assert idx.dtype == tn.int64 and idx.device.type == device
    np.testing.assert_array_equal(_np(idx), want_idx)
    np.testing.assert_allclose(_np(y), want_y)
    back = F.max_unpool3d(y, idx, 2, output_size=_X.shape[2:])
    assert tuple(back.shape) == _X.shape and back.device.type == device
    flat = _np(back).reshape(2, 2, -1)
    np.testing.assert_allclose(np.take_along_axis(flat, want_idx.reshape(2, 2, -1), 2), want_y.reshape(2, 2, -1))
    assert np.count_nonzero(flat) == want_y.size


def test_adaptive_max_pool3d_indices_on_every_device(device):
    y, idx = F.adaptive_max_pool3d_with_indices(_t(_X, device), (1, 2, 5))
    flat = _X.reshape(2, 2, -1)
    np.testing.assert_allclose(_np(y), np.take_along_axis(flat, _np(idx).reshape(2, 2, -1), 2).reshape(y.shape))
    assert idx.dtype == tn.int64 and idx.device.type == device


def test_with_indices_forms_always_return_the_pair(device):
    x = _t(_X[:, :, 0], device)
    for out in (F.max_pool2d_with_indices(x, 2, return_indices=False), F.max_pool1d_with_indices(x[:, :, 0], 2),
                F.adaptive_max_pool2d_with_indices(x, 2), F.adaptive_max_pool1d_with_indices(x[:, :, 0], 2),
                F.max_pool3d_with_indices(_t(_X, device), 2), F.adaptive_max_pool3d_with_indices(_t(_X, device), 2)):
        assert isinstance(out, tuple) and len(out) == 2 and out[1].dtype == tn.int64


def test_grid_sample_identity_grid_reproduces_the_input(device):
    x = _t(_X[:, :, 0], device)
    theta = _t(np.tile(np.eye(2, 3), (2, 1, 1)), device)
    for align in (False, True):
        grid = F.affine_grid(theta, (2, 2, 4, 5), align_corners=align)
        for mode in ("bilinear", "nearest"):
            np.testing.assert_allclose(_np(F.grid_sample(x, grid, mode=mode, align_corners=align)), _X[:, :, 0],
                                       atol=1e-12)
    theta3 = _t(np.tile(np.eye(3, 4), (2, 1, 1)), device)
    grid3 = F.affine_grid(theta3, (2, 2, 3, 4, 5), align_corners=True)
    np.testing.assert_allclose(_np(F.grid_sample(_t(_X, device), grid3, align_corners=True)), _X, atol=1e-12)


def test_grid_sample_gradients_reach_input_and_grid(device):
    x = _t(_X[:, :, 0], device, requires_grad=True)
    theta = _t(np.tile([[0.8, 0.1, 0.05], [0.0, 0.9, -0.1]], (2, 1, 1)), device, requires_grad=True)
    F.grid_sample(x, F.affine_grid(theta, (2, 2, 3, 3), align_corners=False), align_corners=False).square().sum() \
        .backward()
    assert x.grad is not None and theta.grad is not None
    assert np.abs(_np(theta.grad)).sum() > 0


# --- dropouts and gumbel_softmax ------------------------------------------------------------------------
@pytest.mark.parametrize("fn,shape", [(F.dropout1d, (40, 8, 5)), (F.dropout3d, (40, 8, 2, 2, 2)),
                                      (F.dropout1d, (8, 5)), (F.dropout3d, (8, 2, 2, 2))])
def test_channel_dropout_zeroes_whole_channels(fn, shape, device):
    x = _t(np.ones(shape), device)
    y = _np(fn(x, 0.5, True))
    lead = shape[:-1] if fn is F.dropout1d else shape[:-3]
    per_channel = y.reshape(lead + (-1,))
    assert set(np.unique(per_channel)) <= {0.0, 2.0}
    assert (per_channel.min(-1) == per_channel.max(-1)).all()          # a channel is kept or dropped whole
    assert 0.2 < (per_channel[..., 0] == 0).mean() < 0.8
    assert fn(x, 0.5, False) is x and fn(x, 0.0, True) is x
    np.testing.assert_array_equal(_np(fn(x, 1.0, True)), 0)


def test_channel_dropout_inplace_writes_the_input(device):
    x = _t(np.ones((4, 3, 5)), device)
    out = F.dropout1d(x, 0.5, True, inplace=True)
    assert out is x and set(np.unique(_np(x))) <= {0.0, 2.0}


def test_alpha_dropout_keeps_mean_and_variance(device):
    tn.manual_seed(1)
    x = tn.randn(400, 50, dtype=tn.float64, device=device)
    for fn in (F.alpha_dropout, F.feature_alpha_dropout):
        y = _np(fn(x, 0.2, training=True))
        assert abs(y.mean()) < 0.05 and abs(y.var() - 1) < 0.08
    assert F.alpha_dropout(x, 0.2) is x                              # training defaults to False, as torch
    assert F.feature_alpha_dropout(x, 0.2) is x
    np.testing.assert_array_equal(_np(F.alpha_dropout(x, 1.0, True)), 0)


def test_feature_alpha_dropout_draws_per_channel(device):
    x = _t(np.zeros((30, 4, 6)), device)
    y = _np(F.feature_alpha_dropout(x, 0.5, True))
    assert (y.min(-1) == y.max(-1)).all()
    assert len(np.unique(y)) == 2


def test_alpha_dropout_inplace_and_gradient(device):
    x = _t(np.random.default_rng(1).standard_normal((5, 6)), device, requires_grad=True)
    y = F.alpha_dropout(x * 1, 0.4, True, inplace=True)
    y.sum().backward()
    g = _np(x.grad)
    a = 1 / np.sqrt((1.7580993408473766 ** 2 * 0.4 + 1) * 0.6)
    assert set(np.round(np.unique(g), 12)) <= {0.0, round(a, 12)}


@pytest.mark.parametrize("cls,fn", [(nn.Dropout1d, F.dropout1d), (nn.Dropout3d, F.dropout3d),
                                    (nn.AlphaDropout, F.alpha_dropout),
                                    (nn.FeatureAlphaDropout, F.feature_alpha_dropout)])
def test_dropout_layers_follow_training_mode(cls, fn):
    layer = cls(0.3)
    assert repr(layer).startswith(f"{cls.__name__}(p=0.3, inplace=False)")
    x = tn.randn(4, 3, 2, 2, 2) if cls is nn.Dropout3d else tn.randn(4, 3, 5)
    tn.manual_seed(3)
    a = _np(layer(x))
    tn.manual_seed(3)
    np.testing.assert_array_equal(a, _np(fn(x, 0.3, True)))
    layer.eval()
    assert layer(x) is x
    with pytest.raises(ValueError, match="between 0 and 1"):
        cls(1.5)


def test_gumbel_softmax_soft_and_hard(device):
    tn.manual_seed(0)
    logits = _t(np.log([[0.7, 0.2, 0.1]] * 2000), device, requires_grad=True)
    soft = F.gumbel_softmax(logits, tau=0.5)
    np.testing.assert_allclose(_np(soft.sum(-1)), 1.0, atol=1e-12)
    hard = F.gumbel_softmax(logits, tau=0.5, hard=True)
    h = _np(hard)
    assert set(np.unique(h)) == {0.0, 1.0} and (h.sum(-1) == 1).all()
    freq = h.mean(0)
    np.testing.assert_allclose(freq, [0.7, 0.2, 0.1], atol=0.04)      # Gumbel-max samples the distribution
    w = _t(np.random.default_rng(2).standard_normal(h.shape), device)
    tn.manual_seed(5)
    (F.gumbel_softmax(logits, tau=0.5, hard=True) * w).sum().backward()
    g_hard = _np(logits.grad)
    logits.grad = None
    tn.manual_seed(5)
    (F.gumbel_softmax(logits, tau=0.5) * w).sum().backward()           # the same noise, soft
    np.testing.assert_allclose(g_hard, _np(logits.grad), atol=1e-12)   # straight-through: the soft gradient


def test_gumbel_softmax_dim_argument():
    tn.manual_seed(0)
    y = F.gumbel_softmax(tn.randn(3, 4, dtype=tn.float64), dim=0, hard=True)
    np.testing.assert_array_equal(_np(y).sum(0), 1)


# --- normalisation, shuffles, distances ------------------------------------------------------------------
def test_rmsnorm_layer_arguments():
    layer = nn.RMSNorm((2, 3), eps=1e-3)
    assert tuple(layer.weight.shape) == (2, 3) and layer.eps == 1e-3
    assert "elementwise_affine=True" in repr(layer)
    layer.weight.data.fill_(2.0)
    layer.reset_parameters()
    np.testing.assert_array_equal(_np(layer.weight), 1)
    x = tn.randn(4, 2, 3)
    np.testing.assert_allclose(_np(layer(x)), _np(F.rms_norm(x, (2, 3), layer.weight, 1e-3)))


def test_channel_shuffle_layer_and_pdist_values(device):
    x = _t(np.arange(12).reshape(1, 6, 2), device)
    np.testing.assert_array_equal(_np(nn.ChannelShuffle(2)(x))[0, :, 0], [0, 6, 2, 8, 4, 10])
    assert repr(nn.ChannelShuffle(2)).startswith("ChannelShuffle(groups=2)")
    pts = _t([[0, 0], [3, 4], [6, 8]], device)
    np.testing.assert_allclose(_np(F.pdist(pts)), [5, 10, 5])
    np.testing.assert_allclose(_np(F.pdist(pts, 1)), [7, 14, 7])
    assert tuple(F.pdist(pts[:1]).shape) == (0,)


# --- losses ----------------------------------------------------------------------------------------------
def test_ctc_loss_perfect_alignment_and_lengths_as_lists(device):
    # one frame per label with certainty: p(target) = 1, loss 0
    lp = np.full((3, 1, 4), -1e4)
    lp[0, 0, 1] = lp[1, 0, 0] = lp[2, 0, 2] = 0.0
    loss = F.ctc_loss(_t(lp, device), tn.tensor([[1, 2]], device=device), [3], [2], reduction="sum")
    assert abs(float(loss)) < 1e-9


def test_ctc_loss_impossible_gives_inf_or_zero(device):
    lp = _t(np.log(np.full((2, 1, 3), 1 / 3)), device, requires_grad=True)
    inf = F.ctc_loss(lp, tn.tensor([[1, 1]]), [2], [2], reduction="none")
    assert np.isinf(_np(inf)).all()                       # "1 1" needs a blank between: 3 frames
    zero = F.ctc_loss(lp, tn.tensor([[1, 1]]), [2], [2], reduction="sum", zero_infinity=True)
    zero.backward()
    assert float(zero) == 0 and np.all(_np(lp.grad) == 0)


def test_ctc_loss_without_frames_is_certain_only_for_an_empty_target(device):
    lp = F.log_softmax(tn.randn(3, 2, 4, device=device), 2)
    loss = F.ctc_loss(lp, tn.tensor([[1, 2], [1, 0]]), tn.tensor([0, 0]), tn.tensor([2, 0]), reduction="none")
    np.testing.assert_array_equal(_np(loss), [np.inf, 0.0])                    # as PyTorch


def test_ctc_loss_layer_arguments():
    layer = nn.CTCLoss(blank=2, reduction="none", zero_infinity=True)
    assert (layer.blank, layer.reduction, layer.zero_infinity) == (2, "none", True)
    with pytest.raises(ValueError, match="reduction"):
        nn.CTCLoss(reduction="avg")


def test_triplet_with_distance_layer_arguments():
    layer = nn.TripletMarginWithDistanceLoss(margin=0.5, swap=True, reduction="sum")
    a, p, n = tn.randn(4, 3), tn.randn(4, 3), tn.randn(4, 3)
    np.testing.assert_allclose(_np(layer(a, p, n)), _np(F.triplet_margin_with_distance_loss(
        a, p, n, margin=0.5, swap=True, reduction="sum")))
    with pytest.raises(ValueError, match="margin"):
        nn.TripletMarginWithDistanceLoss(margin=0)
    with pytest.raises(TypeError, match="callable"):
        nn.TripletMarginWithDistanceLoss(distance_function=3)


# --- layers of the 3-d ops ------------------------------------------------------------------------------
def test_conv3d_layers_shapes_and_repr(device):
    conv = nn.Conv3d(2, 4, (3, 1, 2), stride=(2, 1, 1), padding=(1, 0, 1), groups=2, bias=False, device=device)
    assert tuple(conv.weight.shape) == (4, 1, 3, 1, 2) and conv.bias is None
    assert tuple(conv(tn.randn(1, 2, 5, 3, 4, device=device)).shape) == (1, 4, 3, 3, 5)
    assert tuple(conv(tn.randn(2, 5, 3, 4, device=device)).shape) == (4, 3, 3, 5)
    up = nn.ConvTranspose3d(2, 3, 2, stride=2, output_padding=(1, 0, 1), device=device)
    assert tuple(up(tn.randn(1, 2, 2, 3, 1, device=device)).shape) == (1, 3, 5, 6, 3)
    with pytest.raises(ShapeError, match=r"Conv3d\(2→4, k=3x1x2\).*\(N, C=2, D, H, W\)"):
        conv(tn.randn(1, 3, 5, 3, 4, device=device))
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv3d(1, 1, 1, padding_mode="mirror")
    with pytest.raises(ValueError, match="only padding_mode='zeros'"):
        nn.ConvTranspose3d(1, 1, 1, padding_mode="reflect")


def test_pool3d_layers_arguments():
    assert nn.MaxPool3d(2).stride == nn.MaxPool3d(2).kernel_size
    y, idx = nn.MaxPool3d(2, return_indices=True)(tn.tensor(_X))
    back = nn.MaxUnpool3d(2)(y, idx, output_size=_X.shape)
    assert tuple(back.shape) == _X.shape
    assert tuple(nn.AvgPool3d(2, divisor_override=1)(tn.tensor(_X)).shape) == (2, 2, 1, 2, 2)
    assert tuple(nn.AdaptiveAvgPool3d((None, 1, 2))(tn.tensor(_X)).shape) == (2, 2, 3, 1, 2)
    assert isinstance(nn.AdaptiveMaxPool3d(2, return_indices=True)(tn.tensor(_X)), tuple)
    assert tuple(nn.LPPool3d(1, 2, stride=1)(tn.tensor(np.abs(_X))).shape) == (2, 2, 2, 3, 4)
    with pytest.raises(TypeError, match="3 ints"):
        nn.AdaptiveAvgPool3d((1, 2))
    with pytest.raises(TypeError, match="expected a Tensor"):
        nn.MaxPool3d(2)(_X)


# --- lazy layers -------------------------------------------------------------------------------------------
def test_lazy_linear_infers_in_features_and_becomes_linear(device):
    layer = nn.LazyLinear(3)
    assert isinstance(layer.weight, nn.UninitializedParameter) and layer.in_features == 0
    assert "in_features=0" in repr(layer)
    sd = layer.state_dict()
    assert all(isinstance(v, nn.UninitializedParameter) for v in sd.values()) and list(sd) == ["weight", "bias"]
    x = tn.randn(2, 5, dtype=tn.float64, device=device)
    w_obj = layer.weight
    y = layer(x)
    assert type(layer) is nn.Linear and layer.in_features == 5
    assert layer.weight is w_obj and type(layer.weight) is nn.Parameter          # materialised in place
    assert layer.weight.dtype == tn.float64 and layer.weight.device.type == device
    assert tuple(y.shape) == (2, 3)
    bound = 1 / np.sqrt(5)
    assert np.abs(_np(layer.weight)).max() <= bound                                # Linear's init


def test_lazy_layer_honours_constructor_device_and_dtype():
    layer = nn.LazyConv2d(2, 3, dtype=tn.float64)
    layer(tn.randn(1, 4, 5, 5, dtype=tn.float64))
    assert layer.weight.dtype == tn.float64 and tuple(layer.weight.shape) == (2, 4, 3, 3)
    bad = nn.LazyLinear(2, dtype=tn.float64)
    with pytest.raises(TypeError):
        bad(tn.randn(3, 4))            # float32 input into the float64 layer it became


def test_optimizer_after_dry_run_trains_a_lazy_model():
    tn.manual_seed(0)
    model = nn.Sequential(nn.LazyConv1d(4, 3, padding=1), nn.LazyBatchNorm1d(), nn.ReLU(), nn.Flatten(),
                          nn.LazyLinear(1))
    x, target = tn.randn(8, 2, 6), tn.randn(8, 1)
    model(x)                                                                        # dry run
    assert [type(m).__name__ for m in model] == ["Conv1d", "BatchNorm1d", "ReLU", "Flatten", "Linear"]
    opt = tn.optim.SGD(model.parameters(), lr=0.05)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = F.mse_loss(model(x), target)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0] * 0.7


def test_lazy_load_state_dict_materialises_from_the_checkpoint():
    src = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    src[1].running_mean.data.fill_(0.5)
    dst = nn.Sequential(nn.LazyConv2d(4, 3), nn.LazyBatchNorm2d())
    dst.load_state_dict(src.state_dict())
    assert type(dst[0]) is nn.Conv2d and dst[0].in_channels == 3
    assert type(dst[1]) is nn.BatchNorm2d and dst[1].num_features == 4
    np.testing.assert_array_equal(_np(dst[0].weight), _np(src[0].weight))
    np.testing.assert_array_equal(_np(dst[1].running_mean), 0.5)
    grouped = nn.LazyConv1d(4, 1, groups=2)
    grouped.load_state_dict(nn.Conv1d(6, 4, 1, groups=2).state_dict())
    assert grouped.in_channels == 6
    tconv = nn.LazyConvTranspose2d(2, 2)
    tconv.load_state_dict(nn.ConvTranspose2d(5, 2, 2).state_dict())
    assert tconv.in_channels == 5


def test_uninitialised_state_dict_errors_clearly_on_an_initialised_layer():
    with pytest.raises(RuntimeError, match="shape mismatch"):
        nn.Linear(2, 3).load_state_dict(nn.LazyLinear(3).state_dict())


def test_lazy_layers_reject_bad_first_inputs_and_deepcopy():
    with pytest.raises(ShapeError, match="LazyConv2d"):
        nn.LazyConv2d(2, 3)(tn.randn(5, 5))
    with pytest.raises(ShapeError, match="LazyBatchNorm2d"):
        nn.LazyBatchNorm2d()(tn.randn(2, 3))
    with pytest.raises(TypeError, match="expected a Tensor"):
        nn.LazyLinear(2)(np.ones((2, 2)))
    clone = copy.deepcopy(nn.LazyLinear(2))
    assert isinstance(clone.weight, nn.UninitializedParameter)
    clone(tn.randn(1, 7))
    assert clone.in_features == 7


def test_lazy_instance_norm_unbatched_and_defaults():
    layer = nn.LazyInstanceNorm2d()
    assert layer.affine and layer.track_running_stats                 # PyTorch's lazy defaults
    layer(tn.randn(3, 4, 4))
    assert layer.num_features == 3 and type(layer) is nn.InstanceNorm2d


# --- error paths ---------------------------------------------------------------------------------------------
def test_affine_grid_and_grid_sample_errors():
    theta = tn.zeros(2, 2, 3)
    with pytest.raises(TypeError, match="affine_grid: theta must be a Tensor"):
        F.affine_grid(np.zeros((2, 2, 3)), (2, 1, 3, 3))
    with pytest.raises(TypeError, match="floating"):
        F.affine_grid(tn.zeros(2, 2, 3, dtype=tn.int64), (2, 1, 3, 3))
    with pytest.raises(ShapeError, match=r"size must be \(N, C, H, W\)"):
        F.affine_grid(theta, (2, 3, 3))
    with pytest.raises(ShapeError, match=r"theta must have shape \(2, 3, 4\)"):
        F.affine_grid(theta, (2, 1, 3, 3, 3))
    with pytest.raises(ShapeError, match="positive"):
        F.affine_grid(theta, (2, 1, 0, 3))
    x, grid = tn.zeros(1, 2, 3, 3), tn.zeros(1, 2, 2, 2)
    with pytest.raises(ValueError, match="mode must be"):
        F.grid_sample(x, grid, mode="area")
    with pytest.raises(ShapeError, match="bicubic.*4-D"):
        F.grid_sample(tn.zeros(1, 2, 2, 2, 2), tn.zeros(1, 1, 1, 1, 3), mode="bicubic")
    with pytest.raises(ValueError, match="padding_mode"):
        F.grid_sample(x, grid, padding_mode="wrap")
    with pytest.raises(ShapeError, match="4-D .* or 5-D"):
        F.grid_sample(tn.zeros(2, 3, 3), grid)
    with pytest.raises(ShapeError, match="grid must have shape"):
        F.grid_sample(x, tn.zeros(1, 2, 2, 3))
    with pytest.raises(ShapeError, match="grid must have shape"):
        F.grid_sample(x, tn.zeros(2, 2, 2, 2))
    with pytest.raises(TypeError, match="grid.to"):
        F.grid_sample(x, grid.double())
    with pytest.raises(ShapeError, match="empty spatial"):
        F.grid_sample(tn.zeros(1, 2, 0, 3), grid)
    with pytest.raises(TypeError, match="grid must be a Tensor"):
        F.grid_sample(x, [[0.0]])


def test_grid_sample_device_mismatch(device):
    if device == "cpu":
        pytest.skip("needs a second device")
    with pytest.raises(DeviceError, match="grid is on cpu"):
        F.grid_sample(tn.zeros(1, 1, 2, 2, device=device), tn.zeros(1, 1, 1, 2))


def test_conv3d_errors():
    x, w = tn.randn(1, 2, 4, 4, 4), tn.randn(3, 2, 2, 2, 2)
    cases = [
        (lambda: F.conv3d(x, tn.randn(3, 2, 2, 2)), ShapeError, "weight must be 5-D"),
        (lambda: F.conv3d(tn.randn(1, 3, 4, 4, 4), w), ShapeError, r"\(N, C=2, D, H, W\).*3 channels"),
        (lambda: F.conv3d(tn.randn(2, 4, 4), w), ShapeError, "5-D, or 4-D"),
        (lambda: F.conv3d(x, w, tn.randn(2)), ShapeError, "bias must have shape"),
        (lambda: F.conv3d(x, w, stride=0), ValueError, "stride must be positive"),
        (lambda: F.conv3d(x, w, dilation=(1, 0, 1)), ValueError, "dilation must be positive"),
        (lambda: F.conv3d(x, w, padding="full"), ValueError, "'same' or 'valid'"),
        (lambda: F.conv3d(x, w, padding="same", stride=2), ValueError, "needs stride 1"),
        (lambda: F.conv3d(x, w, padding=-1), ValueError, "non-negative"),
        (lambda: F.conv3d(tn.randn(0, 2, 4, 4, 4), w), ShapeError, "empty"),
        (lambda: F.conv3d(tn.randn(1, 2, 1, 4, 4), w), ShapeError, "kernel depth 2 is larger"),
        (lambda: F.conv3d(x, tn.randn(3, 1, 2, 2, 2), groups=2), ShapeError, "groups=2 must divide"),
        (lambda: F.conv3d(x, w.double()), TypeError, "float32 but weight is"),
        (lambda: F.conv_transpose3d(x, tn.randn(2, 3, 2, 2)), ShapeError, "weight must be 5-D"),
        (lambda: F.conv_transpose3d(tn.randn(1, 3, 2, 2, 2), tn.randn(2, 3, 2, 2, 2)), ShapeError, "C=2"),
        (lambda: F.conv_transpose3d(x, tn.randn(2, 3, 2, 2, 2), stride=0), ValueError, "positive"),
        (lambda: F.conv_transpose3d(x, tn.randn(2, 3, 2, 2, 2), padding=-1), ValueError, "non-negative"),
        (lambda: F.conv_transpose3d(x, tn.randn(2, 3, 2, 2, 2), output_padding=1), ValueError,
         "output_padding .* smaller"),
        (lambda: F.conv_transpose3d(tn.randn(1, 2, 1, 1, 1), tn.randn(2, 3, 1, 1, 1), padding=1), ValueError,
         "output depth"),
        (lambda: F.conv_transpose3d(x, tn.randn(2, 3, 2, 2, 2), tn.randn(2)), ShapeError, "bias must have shape"),
    ]
    for call, exc, pattern in cases:
        with pytest.raises(exc, match=pattern):
            call()


def test_pool3d_errors():
    x = tn.randn(1, 2, 3, 3, 3)
    cases = [
        (lambda: F.max_pool3d(tn.randn(3, 3, 3), 2), ShapeError, r"\(N, C, D, H, W\)"),
        (lambda: F.max_pool3d(x, 0), ShapeError, "kernel_size must be positive"),
        (lambda: F.max_pool3d(x, 2, stride=0), ValueError, "stride must be positive"),
        (lambda: F.max_pool3d(x, 2, dilation=0), ValueError, "dilation must be positive"),
        (lambda: F.avg_pool3d(x, 2, padding=-1), ValueError, "non-negative"),
        (lambda: F.avg_pool3d(x, 2, padding=2), ShapeError, "at most half"),
        (lambda: F.max_pool3d(x, 4), ShapeError, "larger than the padded input"),
        (lambda: F.avg_pool3d(x, 2, divisor_override=0), ValueError, "divisor_override"),
        (lambda: F.adaptive_avg_pool3d(x, (1, 2)), TypeError, "3 ints"),
        (lambda: F.adaptive_max_pool3d(tn.randn(1, 2, 0, 3, 3), 1), ShapeError, "empty axis"),
        (lambda: F.adaptive_avg_pool3d(x, 0), ValueError, "output_size"),
        (lambda: F.max_unpool3d(x, tn.zeros(1, 2, 3, 3, 3, dtype=tn.int64) + 1000, 2), IndexError, "invalid max index"),
        (lambda: F.lp_pool3d(x, "two", 2), TypeError, "norm_type"),
    ]
    for call, exc, pattern in cases:
        with pytest.raises(exc, match=pattern):
            call()


def test_dropout_and_misc_errors():
    cases = [
        (lambda: F.dropout1d(tn.randn(2, 3, 4, 5), 0.5), ShapeError, r"\(N, C, L\)"),
        (lambda: F.dropout1d(tn.randn(2, 3, 4, 5), 0.5, training=False), ShapeError, r"\(N, C, L\)"),
        (lambda: F.dropout3d(tn.randn(2, 3, 4), 0.5), ShapeError, r"\(N, C, D, H, W\)"),
        (lambda: F.dropout3d(tn.randn(2, 3, 4, 4), 1.5), ValueError, "between 0 and 1"),
        (lambda: F.dropout1d([1.0], 0.5), TypeError, "expected a Tensor"),
        (lambda: F.dropout1d(tn.zeros(2, 3, dtype=tn.int64), 0.5), TypeError, "floating"),
        (lambda: F.alpha_dropout(tn.zeros(3, dtype=tn.int64), 0.5, True), TypeError, "floating"),
        (lambda: F.alpha_dropout(np.zeros(3), 0.5, True), TypeError, "expected a Tensor"),
        (lambda: F.alpha_dropout(tn.zeros(3), -0.1, True), ValueError, "between 0 and 1"),
        (lambda: F.feature_alpha_dropout(tn.zeros(3), 0.5, True), ShapeError, "at least 2"),
        (lambda: F.feature_alpha_dropout(np.zeros(3), 0.5, True), TypeError, "expected a Tensor"),
        (lambda: F.rms_norm(tn.randn(2, 3), (2,)), ShapeError, "normalized_shape"),
        (lambda: F.rms_norm(tn.randn(2, 3), 3, tn.randn(2)), ShapeError, "weight must have the shape"),
        (lambda: F.rms_norm(tn.randn(2, 3), 3, [1.0, 1.0, 1.0]), TypeError, "weight must be a Tensor"),
        (lambda: F.channel_shuffle(tn.randn(2, 6, 2), 4), ShapeError, "divisible"),
        (lambda: F.channel_shuffle(tn.randn(2, 6), 2), ShapeError, "at least 3"),
        (lambda: F.channel_shuffle(np.zeros((2, 6, 2)), 2), TypeError, "must be a Tensor"),
        (lambda: F.channel_shuffle(tn.randn(2, 6, 2), 0), ValueError, "groups"),
        (lambda: F.pdist(tn.randn(2, 3, 4)), ShapeError, "2-D"),
        (lambda: F.pdist(tn.randn(3, 4), -1), ValueError, "non-negative"),
        (lambda: F.gumbel_softmax(tn.randn(3), tau=0), ValueError, "tau must be positive"),
        (lambda: F.gumbel_softmax(tn.zeros(3, dtype=tn.int64)), TypeError, "floating"),
        (lambda: F.gumbel_softmax([1.0, 2.0]), TypeError, "must be a Tensor"),
    ]
    for call, exc, pattern in cases:
        with pytest.raises(exc, match=pattern):
            call()


def test_ctc_and_triplet_errors():
    lp = F.log_softmax(tn.randn(4, 2, 3), 2)
    tg = tn.tensor([[1, 2], [1, 0]])
    cases = [
        (lambda: F.ctc_loss(lp, tg, [4, 4], [2, 1], blank=3), ValueError, "blank must be a class index"),
        (lambda: F.ctc_loss(lp, tg, [4], [2, 1]), ShapeError, "one entry per batch element"),
        (lambda: F.ctc_loss(lp, tg, [5, 4], [2, 1]), ValueError, r"input_lengths must lie in \[0, T=4\]"),
        (lambda: F.ctc_loss(lp, tg, [4, 4], [2, -1]), ValueError, "non-negative"),
        (lambda: F.ctc_loss(lp, tn.tensor([1, 2]), [4, 4], [2, 1]), ShapeError, "sum\\(target_lengths\\) = 3"),
        (lambda: F.ctc_loss(lp, tg, [4, 4], [3, 1]), ShapeError, "exceed the padded"),
        (lambda: F.ctc_loss(lp, tn.tensor([[1, 0], [1, 0]]), [4, 4], [2, 1]), ValueError, "differ from blank"),
        (lambda: F.ctc_loss(lp, tn.tensor([[1, 5], [1, 0]]), [4, 4], [2, 1]), ValueError, r"in \[0, 3\)"),
        (lambda: F.ctc_loss(lp, tn.zeros(3, 2, 2, dtype=tn.int64), [4, 4], [2, 1]), ShapeError, "padded or 1-D"),
        (lambda: F.ctc_loss(lp, tg.float(), [4, 4], [2, 1]), TypeError, "integer"),
        (lambda: F.ctc_loss(lp, tg, [4.0, 4.0], [2, 1]), TypeError, "integers"),
        (lambda: F.ctc_loss(tn.randn(2, 2, 2, 2), tg, [2, 2], [1, 1]), ShapeError, r"\(T, N, C\)"),
        (lambda: F.ctc_loss(lp, tg, [4, 4], [2, 1], reduction="avg"), ValueError, "reduction"),
        (lambda: F.triplet_margin_with_distance_loss(tn.randn(2, 3), tn.randn(3), tn.randn(2, 3)), ShapeError,
         "same number of dimensions"),
        (lambda: F.triplet_margin_with_distance_loss(tn.randn(3), tn.randn(3), tn.randn(3), margin=-1), ValueError,
         "margin"),
        (lambda: F.triplet_margin_with_distance_loss(tn.randn(3), [1.0], tn.randn(3)), TypeError, "positive must be"),
        (lambda: F.triplet_margin_with_distance_loss(tn.randn(3), tn.randn(3), tn.randn(3), distance_function=1),
         TypeError, "callable"),
    ]
    for call, exc, pattern in cases:
        with pytest.raises(exc, match=pattern):
            call()
