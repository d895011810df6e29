"""Spatial ops beyond the registry: padding modes and layers, interpolate and the upsampling layers,
transposed 1-d convolution and ``output_size``, unfold/fold, pixel (un)shuffle, ``Tensor.unfold``,
the 1-d/adaptive-max/unpool/power-average pools and their layers: arguments, integer outputs
(indices) on every device, and every error path.
"""
import numpy as np
import pytest

import tinynet as tn
import tinynet.nn as nn
import tinynet.nn.functional as F
from tinynet.backend.errors import ShapeError
from tinynet.functional.folding import tensor_unfold


def _t(a, device, dtype=tn.float64, requires_grad=False):
    return tn.tensor(np.asarray(a, dtype=np.float64), dtype=dtype, device=device, requires_grad=requires_grad)


def _np(t):
    return t.detach().to("cpu").numpy()


# --- F.pad --------------------------------------------------------------------------------------
def test_pad_negative_widths_crop_in_every_mode(device):
    x = _t(np.arange(12.0).reshape(1, 3, 4), device)
    assert _np(F.pad(x, (-1, -2)))[0].tolist() == [[1.0], [5.0], [9.0]]
    assert _np(F.pad(x, (-1, 2), mode="reflect"))[0, 0].tolist() == [1.0, 2.0, 3.0, 2.0, 1.0]
    assert _np(F.pad(x, (1, -1), mode="replicate"))[0, 0].tolist() == [0.0, 0.0, 1.0, 2.0]
    # circular crops first, then wraps around the cropped axis (PyTorch's rule)
    assert _np(F.pad(x, (1, -1), mode="circular"))[0, 0].tolist() == [2.0, 0.0, 1.0, 2.0]
    assert _np(F.pad(x, (-1, 2), mode="circular"))[0, 0].tolist() == [1.0, 2.0, 3.0, 1.0, 2.0]
    assert tuple(F.pad(x, (-4, 0)).shape) == (1, 3, 0)


def test_pad_always_returns_a_new_tensor(device):
    x = _t(np.ones((2, 3)), device)
    for mode in ("constant", "reflect", "replicate", "circular"):
        for widths in ((0, 0), (0, -1)):
            y = F.pad(x, widths, mode=mode)
            assert y is not x
            y.array[...] = 5.0
            assert _np(x).tolist() == np.ones((2, 3)).tolist()


def test_pad_constant_value_and_integer_input(device):
    x = tn.tensor([[1, 2], [3, 4]], device=device)
    y = F.pad(x, (1, 0, 0, 1), value=7)
    assert y.dtype == tn.int64
    assert _np(y).tolist() == [[7, 1, 2], [7, 3, 4], [7, 7, 7]]
    z = F.pad(_t([[1.0, 2.0]], device), (1, 1), mode="constant", value=-0.5)
    assert _np(z).tolist() == [[-0.5, 1.0, 2.0, -0.5]]


def test_pad_reflect_gradient_collects_every_copy(device):
    x = _t([[1.0, 2.0, 3.0]], device, requires_grad=True)
    F.pad(x, (2, 1), mode="reflect").sum().backward()
    # [3, 2 | 1, 2, 3 | 2]: element 1 appears once, element 2 three times, element 3 twice
    assert _np(x.grad).tolist() == [[1.0, 3.0, 2.0]]


def test_pad_any_number_of_axes_in_every_mode(device):
    x = _t(np.arange(6.0).reshape(2, 3), device)
    for mode in ("constant", "reflect", "replicate", "circular"):
        assert tuple(F.pad(x, (1, 1, 1, 1), mode=mode).shape) == (4, 5)


def test_pad_errors(device):
    x = _t(np.ones((1, 2, 3)), device)
    with pytest.raises(ShapeError, match="even length"):
        F.pad(x, (1, 2, 3))
    with pytest.raises(ShapeError, match="pads 4 axes but the tensor has only 3"):
        F.pad(x, (1,) * 8)
    with pytest.raises(NotImplementedError, match="unknown mode 'wrap'"):
        F.pad(x, (1, 1), mode="wrap")
    with pytest.raises(ValueError, match="unknown mode"):
        F.pad(x, (1, 1), mode="wrap")
    with pytest.raises(ValueError, match="doesn't take a value"):
        F.pad(x, (1, 1), mode="reflect", value=2.0)
    with pytest.raises(ShapeError, match=r"reflect padding of \(3, 0\) is too large for axis 2 of size 3"):
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(ShapeError, match="wrap the input around more than once"):
        F.pad(x, (0, 4), mode="circular")
    with pytest.raises(ShapeError, match="removes more than the 3 elements"):
        F.pad(x, (-2, -2))
    with pytest.raises(ShapeError, match="removes more than"):
        F.pad(x, (-2, -2), mode="replicate")
    with pytest.raises(TypeError, match="pad must be a tuple"):
        F.pad(x, 1)
    with pytest.raises(TypeError, match="pad must be an int"):
        F.pad(x, (1.5, 1))
    with pytest.raises(TypeError, match="input must be a Tensor"):
        F.pad(np.ones(3), (1, 1))
    with pytest.raises(ShapeError, match="non-empty axis"):
        F.pad(_t(np.ones((2, 0)), device), (1, 1), mode="replicate")


# --- padding layers -----------------------------------------------------------------------------
@pytest.mark.parametrize("cls,mode,n", [
    (nn.ZeroPad1d, "constant", 1), (nn.ZeroPad2d, "constant", 2), (nn.ZeroPad3d, "constant", 3),
    (nn.ReflectionPad1d, "reflect", 1), (nn.ReflectionPad2d, "reflect", 2), (nn.ReflectionPad3d, "reflect", 3),
    (nn.ReplicationPad1d, "replicate", 1), (nn.ReplicationPad2d, "replicate", 2),
    (nn.ReplicationPad3d, "replicate", 3), (nn.CircularPad1d, "circular", 1), (nn.CircularPad2d, "circular", 2),
    (nn.CircularPad3d, "circular", 3),
])
def test_padding_layers_are_f_pad(cls, mode, n, device):
    x = _t(np.random.default_rng(0).standard_normal((2, 2, 3, 4, 5)[:n + 2]), device)
    widths = (1, 2, 0, 1, 2, -1)[:2 * n]
    layer = cls(widths)
    np.testing.assert_array_equal(_np(layer(x)), _np(F.pad(x, widths, mode=mode)))
    assert layer.padding == widths
    assert tuple(cls(1).padding) == (1,) * (2 * n)
    assert cls.__name__ in repr(layer) and str(widths) in repr(layer)
    unbatched = x[0]
    assert tuple(layer(unbatched).shape) == tuple(layer(x).shape)[1:]
    with pytest.raises(ShapeError, match=f"{cls.__name__}.*expected a {n + 1}-D"):
        layer(_t(np.ones((1,) * (n + 3)), device))
    with pytest.raises(TypeError, match="padding must be an int or a tuple"):
        cls((1, 2, 3))


def test_constant_pad_layers_take_a_value(device):
    x = _t(np.zeros((1, 1, 2, 2)), device)
    y = nn.ConstantPad2d((1, 0, 0, 1), 3.5)(x)
    assert _np(y)[0, 0].tolist() == [[3.5, 0.0, 0.0], [3.5, 0.0, 0.0], [3.5, 3.5, 3.5]]
    assert "value=3.5" in repr(nn.ConstantPad1d(2, 3.5))
    assert tuple(nn.ConstantPad3d(1, 0.0)(_t(np.zeros((1, 1, 1, 1, 1)), device)).shape) == (1, 1, 3, 3, 3)
    with pytest.raises(TypeError):
        nn.ConstantPad1d(2)  # value is required, as in PyTorch


# --- convolution padding modes and string padding -----------------------------------------------
@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [1, (2, 1), "same", "valid"])
def test_conv2d_padding_mode_equals_pad_then_conv(mode, padding, device):
    rng = np.random.default_rng(1)
    conv = nn.Conv2d(2, 3, (3, 2), padding=padding, padding_mode=mode, device=device, dtype=tn.float64)
    x = _t(rng.standard_normal((2, 2, 5, 6)), device)
    if padding == "valid":
        pads = (0, 0, 0, 0)
    elif padding == "same":
        pads = (0, 1, 1, 1)            # kernel (3, 2): total 2 and 1 -> (1, 1) rows, (0, 1) columns
    else:
        ph, pw = (padding, padding) if isinstance(padding, int) else padding
        pads = (pw, pw, ph, ph)
    fmode = "constant" if mode == "zeros" else mode
    expected = F.conv2d(F.pad(x, pads, mode=fmode), conv.weight, conv.bias)
    np.testing.assert_allclose(_np(conv(x)), _np(expected), rtol=1e-12, atol=1e-12)
    if padding == "same":
        assert tuple(conv(x).shape[2:]) == (5, 6)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [2, "same", "valid"])
def test_conv1d_padding_mode_equals_pad_then_conv(mode, padding, device):
    rng = np.random.default_rng(2)
    conv = nn.Conv1d(2, 3, 4, padding=padding, padding_mode=mode, device=device, dtype=tn.float64)
    x = _t(rng.standard_normal((2, 2, 7)), device)
    pads = {2: (2, 2), "same": (1, 2), "valid": (0, 0)}[padding]
    expected = F.conv1d(F.pad(x, pads, mode="constant" if mode == "zeros" else mode), conv.weight, conv.bias)
    np.testing.assert_allclose(_np(conv(x)), _np(expected), rtol=1e-12, atol=1e-12)


def test_functional_convs_take_string_padding(device):
    x = _t(np.ones((1, 1, 5, 4)), device)
    w = _t(np.ones((1, 1, 2, 3)), device)
    assert tuple(F.conv2d(x, w, padding="same").shape) == (1, 1, 5, 4)
    assert tuple(F.conv2d(x, w, padding="valid").shape) == (1, 1, 4, 2)
    assert tuple(F.conv1d(x[0, :, 0], w[:, :, 0], padding="same").shape) == (1, 4)
    assert tuple(F.conv1d(x[0, :, 0], w[:, :, 0], padding="valid").shape) == (1, 2)
    with pytest.raises(ValueError, match="padding='same' needs stride 1"):
        F.conv2d(x, w, padding="same", stride=2)
    with pytest.raises(ValueError, match="'same' or 'valid'"):
        F.conv2d(x, w, padding="full")


# --- interpolate and the upsampling layers ------------------------------------------------------
def test_interpolate_nearest_and_linear_values(device):
    x = _t([[[1.0, 2.0, 4.0]]], device)
    assert _np(F.interpolate(x, scale_factor=2))[0, 0].tolist() == [1, 1, 2, 2, 4, 4]
    assert _np(F.interpolate(x, size=2, mode="nearest-exact"))[0, 0].tolist() == [1.0, 4.0]
    lin = _np(F.interpolate(x, size=5, mode="linear", align_corners=True))[0, 0]
    np.testing.assert_allclose(lin, [1.0, 1.5, 2.0, 3.0, 4.0])
    # align_corners=False: source (j + 0.5) * 3/6 - 0.5, clamped at 0
    half = _np(F.interpolate(x, scale_factor=2, mode="linear"))[0, 0]
    np.testing.assert_allclose(half, [1.0, 1.25, 1.75, 2.5, 3.5, 4.0])


def test_interpolate_nearest_keeps_integer_dtype(device):
    x = tn.tensor([[[[1, 2], [3, 4]]]], device=device)
    y = F.interpolate(x, scale_factor=2)
    assert y.dtype == tn.int64 and _np(y)[0, 0, 0].tolist() == [1, 1, 2, 2]


def test_interpolate_antialias_averages_every_covered_pixel(device):
    """Downsampling 7 rows to 2 with antialias: each output is a triangle-weighted mean of the
    rows within s = 3.5 of its centre s*(j + 0.5), weights normalised (PIL's and PyTorch's rule)."""
    v = np.random.default_rng(12).standard_normal(7)
    x = _t(v.reshape(1, 1, 7, 1), device, requires_grad=True)
    y = F.interpolate(x, size=(2, 1), mode="bilinear", antialias=True)
    s, expected = 3.5, []
    for j in range(2):
        c = s * (j + 0.5)
        lo, hi = max(int(c - s + 0.5), 0), min(int(c + s + 0.5), 7)
        w = np.array([max(0.0, 1 - abs((i - c + 0.5) / s)) for i in range(lo, hi)])
        expected.append((w / w.sum() * v[lo:hi]).sum())
    np.testing.assert_allclose(_np(y).reshape(-1), expected, rtol=1e-12)
    y.sum().backward()
    np.testing.assert_allclose(_np(x.grad).sum(), 2.0)            # each output's weights sum to 1
    plain = F.interpolate(x, size=(2, 1), mode="bilinear")
    assert not np.allclose(_np(plain), _np(y))                    # without antialias only 2 rows are read
    up = F.interpolate(x, size=(9, 1), mode="bicubic", antialias=True)
    assert tuple(up.shape) == (1, 1, 9, 1)


def test_interpolate_same_size_is_a_copy(device):
    x = _t(np.ones((1, 1, 2, 2)), device)
    y = F.interpolate(x, size=(2, 2))
    assert y is not x
    np.testing.assert_array_equal(_np(y), _np(x))


def test_interpolate_area_to_an_empty_size(device):
    x = _t(np.ones((1, 2, 3, 4)), device, requires_grad=True)
    y = F.interpolate(x, size=(0, 2), mode="area")          # PyTorch's adaptive pooling: an empty result
    assert tuple(y.shape) == (1, 2, 0, 2)
    y.sum().backward()
    assert _np(x.grad).tolist() == np.zeros((1, 2, 3, 4)).tolist()


def test_interpolate_float32_stays_float32(device):
    x = tn.randn(1, 2, 3, 3, device=device)
    for mode in ("nearest", "bilinear", "bicubic", "area"):
        assert F.interpolate(x, size=(4, 5), mode=mode).dtype == tn.float32


def test_interpolate_recompute_scale_factor(device):
    x = _t(np.arange(5.0).reshape(1, 1, 5), device)
    a = F.interpolate(x, scale_factor=1.7, mode="linear")                 # coordinates from 1/1.7
    b = F.interpolate(x, scale_factor=1.7, mode="linear", recompute_scale_factor=True)  # from 5/8
    c = F.interpolate(x, size=8, mode="linear")
    np.testing.assert_allclose(_np(b), _np(c))
    assert not np.allclose(_np(a), _np(b))


def test_interpolate_errors(device):
    x = _t(np.ones((1, 1, 3, 3)), device)
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(x, size=4, scale_factor=2)
    with pytest.raises(ValueError, match="align_corners can only be set"):
        F.interpolate(x, size=4, align_corners=True)
    with pytest.raises(NotImplementedError, match="needs a 3-D input"):
        F.interpolate(x, size=4, mode="linear")
    with pytest.raises(NotImplementedError, match="needs a 4-D input"):
        F.interpolate(x[0], size=4, mode="bilinear")
    with pytest.raises(ValueError, match="antialias is restricted"):
        F.interpolate(x, size=2, mode="nearest", antialias=True)
    with pytest.raises(ValueError, match="recompute_scale_factor is not meaningful"):
        F.interpolate(x, size=2, recompute_scale_factor=True)
    with pytest.raises(NotImplementedError, match="unknown mode 'cubic'"):
        F.interpolate(x, size=2, mode="cubic")
    with pytest.raises(ValueError, match=r"size \(2, 2, 2\) must have 2 element"):
        F.interpolate(x, size=(2, 2, 2))
    with pytest.raises(ShapeError, match="should be greater than 0"):
        F.interpolate(x, scale_factor=0.2)
    with pytest.raises(ShapeError, match="3-D"):
        F.interpolate(x[0, 0], size=2)
    with pytest.raises(TypeError, match="needs a floating input"):
        F.interpolate(tn.tensor([[[[1, 2]]]], device=device), size=(2, 3), mode="bilinear")
    with pytest.raises(TypeError, match="size must be an int"):
        F.interpolate(x, size=2.5)
    with pytest.raises(TypeError, match="align_corners must be a bool"):
        F.interpolate(x, size=2, mode="bilinear", align_corners=1)


def test_deprecated_upsample_aliases(device):
    x = _t(np.random.default_rng(11).standard_normal((1, 1, 2, 3)), device)
    np.testing.assert_array_equal(_np(F.upsample(x, scale_factor=2, mode="bilinear")),
                                  _np(F.interpolate(x, scale_factor=2, mode="bilinear")))
    np.testing.assert_array_equal(_np(F.upsample_nearest(x, size=(3, 5))), _np(F.interpolate(x, size=(3, 5))))
    np.testing.assert_array_equal(_np(F.upsample_bilinear(x, scale_factor=2)),
                                  _np(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)))


def test_upsampling_layers(device):
    x = _t(np.random.default_rng(3).standard_normal((1, 2, 3, 4)), device)
    up = nn.Upsample(scale_factor=2, mode="bilinear")
    np.testing.assert_array_equal(_np(up(x)), _np(F.interpolate(x, scale_factor=2.0, mode="bilinear")))
    assert repr(up) == "Upsample(scale_factor=2.0, mode='bilinear')"
    assert repr(nn.Upsample(size=(5, 6))) == "Upsample(size=(5, 6), mode='nearest')"
    np.testing.assert_array_equal(_np(nn.UpsamplingNearest2d(size=(5, 6))(x)), _np(F.interpolate(x, size=(5, 6))))
    bil = nn.UpsamplingBilinear2d(scale_factor=2)(x)
    np.testing.assert_allclose(_np(bil), _np(F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=True)))
    np.testing.assert_allclose(_np(bil)[..., 0, 0], _np(x)[..., 0, 0])      # corners aligned
    np.testing.assert_allclose(_np(bil)[..., -1, -1], _np(x)[..., -1, -1])
    rec = nn.Upsample(scale_factor=1.7, mode="linear", recompute_scale_factor=True)(x[0])
    np.testing.assert_allclose(_np(rec), _np(F.interpolate(x[0], size=6, mode="linear")))
    with pytest.raises(TypeError, match="Upsample: expected a Tensor"):
        up(np.ones((1, 1, 2, 2)))


# --- transposed convolutions --------------------------------------------------------------------
def test_conv_transpose1d_shape_and_unbatched(device):
    x = _t(np.ones((2, 4, 5)), device)
    w = _t(np.ones((4, 3, 3)), device)
    y = F.conv_transpose1d(x, w, stride=3, padding=1, output_padding=2, groups=2, dilation=2)
    assert tuple(y.shape) == (2, 6, (5 - 1) * 3 - 2 + 2 * 2 + 2 + 1)
    np.testing.assert_allclose(_np(F.conv_transpose1d(x[0], w)), _np(F.conv_transpose1d(x, w))[0])
    with pytest.raises(ShapeError, match="weight must be 3-D"):
        F.conv_transpose1d(x, w[0])
    with pytest.raises(ShapeError, match="expected input of shape"):
        F.conv_transpose1d(x[0, 0], w)
    with pytest.raises(ValueError, match="output_padding .* must be smaller than stride or dilation"):
        F.conv_transpose1d(x, w, stride=2, output_padding=2)
    with pytest.raises(ShapeError, match=r"bias must have shape \(3,\)"):
        F.conv_transpose1d(x, w, _t(np.ones(2), device))
    with pytest.raises(TypeError, match="bias is .*float32 but weight is .*float64"):
        F.conv_transpose1d(x, w, tn.ones(3, device=device))


@pytest.mark.parametrize("cls,shape", [(nn.ConvTranspose1d, (1, 2, 3)), (nn.ConvTranspose2d, (1, 2, 3, 3))])
def test_conv_transpose_layers_output_size_and_padding(cls, shape, device):
    layer = cls(2, 4, 3, stride=2, padding=1, device=device, dtype=tn.float64)
    x = _t(np.random.default_rng(4).standard_normal(shape), device)
    n = len(shape) - 2
    base = layer(x)
    assert tuple(base.shape[2:]) == (5,) * n
    bigger = layer(x, output_size=(6,) * n)
    assert tuple(bigger.shape[2:]) == (6,) * n
    with_op = cls(2, 4, 3, stride=2, padding=1, output_padding=1, device=device, dtype=tn.float64)
    with_op.weight, with_op.bias = layer.weight, layer.bias
    np.testing.assert_allclose(_np(bigger), _np(with_op(x)))
    assert tuple(layer(x, output_size=(1, 4) + (6,) * n).shape[2:]) == (6,) * n
    assert "output_padding=" in repr(with_op)
    with pytest.raises(ValueError, match="valid sizes along axis 0 range from 5 to 6"):
        layer(x, output_size=(7,) * n)
    with pytest.raises(ValueError, match="output_size must have"):
        layer(x, output_size=(6,) * (n + 1) if n == 2 else (6, 6, 6, 6))
    with pytest.raises(ValueError, match="only padding_mode='zeros'"):
        cls(2, 4, 3, padding_mode="reflect")


# --- unfold / fold / pixel shuffle / Tensor.unfold -----------------------------------------------
def test_unfold_fold_round_trip(device):
    x = _t(np.random.default_rng(5).standard_normal((2, 3, 4, 6)), device)
    cols = F.unfold(x, (2, 3), stride=(2, 3))            # non-overlapping blocks
    assert tuple(cols.shape) == (2, 3 * 6, 4)
    np.testing.assert_allclose(_np(F.fold(cols, (4, 6), (2, 3), stride=(2, 3))), _np(x))
    # overlapping blocks: fold(unfold(x)) = x times how many blocks cover each pixel
    ones = _t(np.ones((1, 1, 3, 3)), device)
    counts = _np(F.fold(F.unfold(ones, 2), (3, 3), 2))[0, 0]
    assert counts.tolist() == [[1, 2, 1], [2, 4, 2], [1, 2, 1]]
    assert tuple(F.unfold(x[0], 2).shape) == (12, 15)
    assert tuple(F.fold(cols[0], (4, 6), (2, 3), stride=(2, 3)).shape) == (3, 4, 6)


def test_unfold_fold_layers_and_errors(device):
    x = _t(np.random.default_rng(6).standard_normal((1, 2, 5, 5)), device)
    un = nn.Unfold(kernel_size=3, padding=1, stride=2)
    np.testing.assert_array_equal(_np(un(x)), _np(F.unfold(x, 3, padding=1, stride=2)))
    fo = nn.Fold(output_size=5, kernel_size=3, padding=1, stride=2)
    np.testing.assert_array_equal(_np(fo(un(x))), _np(F.fold(un(x), 5, 3, padding=1, stride=2)))
    assert "kernel_size=3" in repr(un) and "output_size=5" in repr(fo)
    with pytest.raises(ShapeError, match="has 3x3 = 9 blocks, but the input has 8"):
        F.fold(_t(np.ones((1, 18, 8)), device), 5, 3, padding=1, stride=2)
    with pytest.raises(ShapeError, match="divisible by the product of kernel_size"):
        F.fold(_t(np.ones((1, 10, 9)), device), 5, 3, padding=1, stride=2)
    with pytest.raises(ShapeError, match="expected a 4-D"):
        F.unfold(x[0, 0], 2)
    with pytest.raises(ShapeError, match="expected a 3-D"):
        F.fold(x, 5, 3)
    with pytest.raises(ShapeError, match="kernel size"):
        F.unfold(x, 6)
    with pytest.raises(TypeError, match="floating"):
        F.unfold(tn.ones(1, 1, 3, 3, dtype=tn.int64, device=device), 2)


def test_pixel_shuffle_round_trip_and_layers(device):
    x = _t(np.arange(2 * 8 * 2 * 3, dtype=np.float64).reshape(2, 8, 2, 3), device)
    y = F.pixel_shuffle(x, 2)
    assert tuple(y.shape) == (2, 2, 4, 6)
    assert _np(y)[0, 0, :2, :2].tolist() == [[0.0, 6.0], [12.0, 18.0]]   # channels 0..3 of pixel (0, 0)
    np.testing.assert_array_equal(_np(F.pixel_unshuffle(y, 2)), _np(x))
    np.testing.assert_array_equal(_np(nn.PixelShuffle(2)(x)), _np(y))
    np.testing.assert_array_equal(_np(nn.PixelUnshuffle(2)(y)), _np(x))
    assert tuple(F.pixel_shuffle(x.reshape(1, 2, 8, 2, 3), 2).shape) == (1, 2, 2, 4, 6)   # extra leading axes
    assert repr(nn.PixelShuffle(3)) == "PixelShuffle(upscale_factor=3)"
    with pytest.raises(ShapeError, match="divisible by upscale_factor squared"):
        F.pixel_shuffle(x, 3)
    with pytest.raises(ShapeError, match="divisible by downscale_factor"):
        F.pixel_unshuffle(x, 2)
    with pytest.raises(ShapeError, match="at least 3 dimensions"):
        F.pixel_shuffle(x[0, 0], 1)
    with pytest.raises(ValueError, match="upscale_factor must be a positive int"):
        F.pixel_shuffle(x, 0)


def test_tensor_unfold_windows(device):
    x = _t(np.arange(10.0).reshape(2, 5), device, requires_grad=True)
    w = tensor_unfold(x, 1, 3, 2)
    assert tuple(w.shape) == (2, 2, 3)
    assert _np(w)[0].tolist() == [[0.0, 1.0, 2.0], [2.0, 3.0, 4.0]]
    w.sum().backward()
    assert _np(x.grad)[0].tolist() == [1.0, 1.0, 2.0, 1.0, 1.0]      # element 2 is in both windows
    assert tuple(tensor_unfold(x, 0, 2, 1).shape) == (1, 5, 2)
    assert tuple(tensor_unfold(x, -1, 0, 1).shape) == (2, 6, 0)
    assert tuple(tensor_unfold(_t(3.0, device), 0, 1, 1).shape) == (1, 1)
    with pytest.raises(ShapeError, match="maximum size for the tensor at dimension 1 is 5 but size is 6"):
        tensor_unfold(x, 1, 6, 1)
    with pytest.raises(ValueError, match="step must be a positive int"):
        tensor_unfold(x, 1, 2, 0)
    with pytest.raises(IndexError):
        tensor_unfold(x, 2, 1, 1)
    if hasattr(tn.Tensor, "unfold"):
        np.testing.assert_array_equal(_np(x.unfold(1, 3, 2)), _np(w))


# --- pools --------------------------------------------------------------------------------------
def test_max_pool1d_indices(device):
    a = np.array([[[3.0, 1.0, 4.0, 1.5, 5.0, 9.0, 2.0]]])
    y, idx = F.max_pool1d(_t(a, device), 3, stride=2, padding=1, return_indices=True)
    assert _np(y).tolist() == [[[3.0, 4.0, 9.0, 9.0]]]                      # windows [-1,1] [1,3] [3,5] [5,7]
    assert idx.dtype == tn.int64 and _np(idx).tolist() == [[[0, 2, 5, 5]]]
    y2, idx2 = F.max_pool1d(_t(a, device), 2, ceil_mode=True, return_indices=True)
    assert _np(idx2).tolist() == [[[0, 2, 5, 6]]]
    y3, idx3 = F.max_pool1d(_t(a[0], device), 3, 1, 0, 2, return_indices=True)   # unbatched, dilated
    assert _np(y3).tolist() == [[5.0, 9.0, 5.0]] and _np(idx3).tolist() == [[4, 5, 4]]


def test_avg_pool1d_arguments(device):
    a = _t([[[1.0, 2.0, 3.0, 4.0, 5.0]]], device)
    assert _np(F.avg_pool1d(a, 2)).tolist() == [[[1.5, 3.5]]]
    assert _np(F.avg_pool1d(a, 2, ceil_mode=True)).tolist() == [[[1.5, 3.5, 5.0]]]
    assert _np(F.avg_pool1d(a, 3, 2, 1)).tolist() == [[[1.0, 3.0, 3.0]]]             # pads counted
    assert _np(F.avg_pool1d(a, 3, 2, 1, count_include_pad=False)).tolist() == [[[1.5, 3.0, 4.5]]]


def test_adaptive_pools_1d_and_max_indices(device):
    a = np.array([[[1.0, 7.0, 3.0, 2.0, 8.0]]])
    np.testing.assert_allclose(_np(F.adaptive_avg_pool1d(_t(a, device), 3)), [[[4.0, 4.0, 5.0]]])
    y, idx = F.adaptive_max_pool1d(_t(a, device), 3, return_indices=True)   # windows [0,2) [1,4) [3,5)
    assert _np(y).tolist() == [[[7.0, 7.0, 8.0]]] and _np(idx).tolist() == [[[1, 1, 4]]]
    b = np.arange(20.0).reshape(1, 1, 4, 5)[..., ::-1].copy()
    y2, idx2 = F.adaptive_max_pool2d(_t(b, device), (2, 2), return_indices=True)
    assert idx2.dtype == tn.int64
    flat = b.reshape(-1)
    np.testing.assert_array_equal(flat[_np(idx2).reshape(-1)], _np(y2).reshape(-1))
    assert tuple(F.adaptive_max_pool2d(_t(b, device), (None, 3)).shape) == (1, 1, 4, 3)
    assert tuple(F.adaptive_max_pool2d(_t(b[0], device), 2).shape) == (1, 2, 2)
    with pytest.raises(ValueError, match="output_size must be a positive int"):
        F.adaptive_max_pool2d(_t(b, device), 0)
    with pytest.raises(TypeError, match="output_size must be an int or a tuple of 2"):
        F.adaptive_max_pool2d(_t(b, device), (1, 2, 3))
    with pytest.raises(TypeError, match="output_size must be an int or a tuple of 1"):
        F.adaptive_max_pool1d(_t(a, device), (1, 2))


def test_max_unpool_inverts_max_pool(device):
    x = _t(np.random.default_rng(7).permutation(32).reshape(1, 2, 4, 4).astype(np.float64), device)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    up = F.max_unpool2d(y, idx, 2)
    assert tuple(up.shape) == (1, 2, 4, 4)
    kept = _np(up) != 0
    np.testing.assert_array_equal(_np(up)[kept], _np(x)[kept])
    assert kept.sum() == 8
    np.testing.assert_array_equal(_np(nn.MaxUnpool2d(2)(y, idx)), _np(up))
    # a 5x5 input pooled by 2 gives 2x2; output_size recovers the 5x5 plane
    x5 = _t(np.random.default_rng(8).permutation(25).reshape(1, 1, 5, 5).astype(np.float64), device)
    y5, i5 = F.max_pool2d(x5, 2, return_indices=True)
    assert tuple(F.max_unpool2d(y5, i5, 2, output_size=(1, 1, 5, 5)).shape) == (1, 1, 5, 5)
    y1, i1 = F.max_pool1d(x5[0, 0], 2, return_indices=True)    # unbatched (C, L)
    assert tuple(nn.MaxUnpool1d(2)(y1, i1, output_size=(5,)).shape) == (5, 5)


def test_max_unpool_errors(device):
    y = _t(np.ones((1, 1, 2, 2)), device)
    idx = tn.tensor([[[[0, 1], [2, 3]]]], device=device)
    with pytest.raises(IndexError, match="invalid max index 16"):
        F.max_unpool2d(y, idx + 13, 2)
    with pytest.raises(IndexError, match="invalid max index -8"):
        F.max_unpool2d(y, idx - 8, 2)
    with pytest.raises(ShapeError, match="indices must have the input's shape"):
        F.max_unpool2d(y, idx[..., :1], 2)
    with pytest.raises(TypeError, match="indices must be an integer tensor"):
        F.max_unpool2d(y, y, 2)
    with pytest.raises(TypeError, match="indices must be an int64 Tensor"):
        F.max_unpool2d(y, [[0]], 2)
    with pytest.raises(ValueError, match="invalid output_size"):
        F.max_unpool2d(y, idx, 2, output_size=(7, 4))
    with pytest.raises(ValueError, match="output_size must have 2"):
        F.max_unpool2d(y, idx, 2, output_size=(4,))
    with pytest.raises(ShapeError, match="expected a 4-D"):
        F.max_unpool2d(y[0, 0], idx[0, 0], 2)


def test_lp_pool_matches_power_mean(device):
    a = np.abs(np.random.default_rng(9).standard_normal((1, 1, 4, 4))) + 0.1
    y = F.lp_pool2d(_t(a, device), 2, 2)
    expected = np.sqrt((a.reshape(1, 1, 2, 2, 2, 2) ** 2).sum(axis=(3, 5)))
    np.testing.assert_allclose(_np(y), expected)
    y1 = F.lp_pool1d(_t(a[0], device), 1, 2, stride=1)
    np.testing.assert_allclose(_np(y1), a[0, :, :, :-1] + a[0, :, :, 1:])
    np.testing.assert_allclose(_np(nn.LPPool2d(2, 2)(_t(a, device))), expected)
    assert "norm_type=2" in repr(nn.LPPool1d(2, 3))
    with pytest.raises(TypeError, match="norm_type must be a number"):
        F.lp_pool2d(_t(a, device), "2", 2)


def test_pool_layers(device):
    x = _t(np.random.default_rng(10).standard_normal((2, 3, 9)), device)
    np.testing.assert_array_equal(_np(nn.MaxPool1d(3, 2, 1)(x)), _np(F.max_pool1d(x, 3, 2, 1)))
    y, i = nn.MaxPool1d(3, return_indices=True)(x)
    assert i.dtype == tn.int64 and tuple(i.shape) == (2, 3, 3)
    np.testing.assert_array_equal(_np(nn.AvgPool1d(2, ceil_mode=True)(x)), _np(F.avg_pool1d(x, 2, ceil_mode=True)))
    assert nn.AvgPool1d(2).kernel_size == (2,)
    np.testing.assert_array_equal(_np(nn.AdaptiveAvgPool1d(4)(x)), _np(F.adaptive_avg_pool1d(x, 4)))
    np.testing.assert_array_equal(_np(nn.AdaptiveMaxPool1d(4)(x)), _np(F.adaptive_max_pool1d(x, 4)))
    v, j = nn.AdaptiveMaxPool1d(4, return_indices=True)(x)
    assert tuple(j.shape) == (2, 3, 4)
    x2 = x.reshape(2, 3, 3, 3)
    np.testing.assert_array_equal(_np(nn.AdaptiveMaxPool2d((2, None))(x2)), _np(F.adaptive_max_pool2d(x2, (2, None))))
    assert repr(nn.AdaptiveMaxPool2d((2, None))) == "AdaptiveMaxPool2d(output_size=(2, None))"
    with pytest.raises(TypeError, match="MaxPool1d.*expected a Tensor"):
        nn.MaxPool1d(2)(np.ones((1, 1, 4)))
    with pytest.raises(ShapeError, match="max_pool1d: expected input of shape \\(N, C, L\\)"):
        nn.MaxPool1d(2)(x.reshape(2, 3, 9, 1))
    with pytest.raises(TypeError, match="kernel_size must be an int or a tuple of 1"):
        nn.MaxPool1d((2, 2))
