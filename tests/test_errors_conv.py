"""Bad input to convolution, pooling and channel dropout: each a clear error naming the op or layer."""
import numpy as np
import pytest

import tinynet as tn
import tinynet.nn as nn
import tinynet.nn.functional as F


def _x(*shape, dtype=tn.float32):
    return tn.randn(*shape, dtype=dtype)


# --- layers: rank and channel count -------------------------------------------------------------
def test_conv2d_layer_wrong_rank_names_layer_expected_and_actual():
    conv = nn.Conv2d(1, 16, 3)
    with pytest.raises(ValueError) as e:
        conv(_x(28, 28))
    msg = str(e.value)
    assert "Conv2d(1→16, k=3)" in msg and "(N, C=1, H, W)" in msg and "(28, 28)" in msg


def test_conv2d_layer_wrong_channels():
    conv = nn.Conv2d(1, 16, 3)
    with pytest.raises(ValueError) as e:
        conv(_x(8, 3, 28, 28))
    msg = str(e.value)
    assert "Conv2d(1→16, k=3)" in msg and "(N, C=1, H, W)" in msg and "(8, 3, 28, 28)" in msg


def test_conv2d_layer_non_square_kernel_label():
    conv = nn.Conv2d(2, 4, (3, 5))
    with pytest.raises(ValueError, match=r"Conv2d\(2→4, k=3x5\)"):
        conv(_x(1, 3, 9, 9))


def test_conv1d_layer_wrong_rank_and_channels():
    conv = nn.Conv1d(4, 8, 3)
    with pytest.raises(ValueError, match=r"Conv1d\(4→8, k=3\).*\(N, C=4, L\).*\(2, 4, 5, 5\)"):
        conv(_x(2, 4, 5, 5))
    with pytest.raises(ValueError, match=r"\(N, C=4, L\).*\(2, 3, 10\)"):
        conv(_x(2, 3, 10))


def test_conv_layer_non_tensor_input():
    with pytest.raises(TypeError, match=r"Conv2d\(1→2, k=3\).*Tensor"):
        nn.Conv2d(1, 2, 3)(np.zeros((1, 1, 5, 5), np.float32))


# --- kernel larger than the padded input ------------------------------------------------------
def test_kernel_larger_than_padded_input_layer():
    conv = nn.Conv2d(1, 2, 5, padding=1)
    with pytest.raises(ValueError) as e:
        conv(_x(1, 1, 2, 2))
    msg = str(e.value)
    assert "Conv2d(1→2, k=5)" in msg and "kernel size 5x5" in msg and "padded input 4x4" in msg


def test_kernel_larger_than_padded_input_dilated_functional():
    with pytest.raises(ValueError, match=r"conv2d: kernel size 3x3 \(dilated to 5x5\).*4x4"):
        F.conv2d(_x(1, 1, 4, 4), _x(1, 1, 3, 3), dilation=2)


def test_pool_window_larger_than_input():
    with pytest.raises(ValueError, match=r"MaxPool2d\(kernel_size=3\).*larger than the padded input 2x2"):
        nn.MaxPool2d(3)(_x(1, 1, 2, 2))
    with pytest.raises(ValueError, match=r"avg_pool2d: kernel size 4x4 is larger"):
        F.avg_pool2d(_x(1, 1, 3, 3), 4)


# --- stride, padding, dilation ----------------------------------------------------------------
@pytest.mark.parametrize("kwargs,pattern", [
    ({"stride": 0}, r"stride must be positive"),
    ({"stride": (1, -2)}, r"stride must be positive"),
    ({"padding": -1}, r"padding must be non-negative"),
    ({"dilation": 0}, r"dilation must be positive"),
    ({"padding": "same", "stride": 2}, r"padding='same' needs stride 1"),
    ({"padding": "full"}, r"padding must be"),
])
def test_conv2d_bad_geometry_functional(kwargs, pattern):
    with pytest.raises(ValueError, match="conv2d: " + pattern):
        F.conv2d(_x(1, 2, 6, 6), _x(3, 2, 3, 3), **kwargs)


@pytest.mark.parametrize("kwargs,pattern", [
    ({"stride": 0}, r"stride must be positive"),
    ({"padding": -1}, r"padding must be non-negative"),
    ({"dilation": 0}, r"dilation must be positive"),
    ({"kernel_size": 0}, r"kernel_size must be positive"),
    ({"padding": "same", "stride": 2}, r"padding='same' needs stride 1"),
    ({"padding_mode": "mirror"}, r"padding_mode must be one of"),
])
def test_conv2d_layer_bad_arguments(kwargs, pattern):
    args = {"kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=pattern):
        nn.Conv2d(2, 4, **args)


def test_conv_type_errors_for_non_int_arguments():
    with pytest.raises(TypeError, match=r"conv2d: stride must be an int or a tuple of 2 ints"):
        F.conv2d(_x(1, 1, 5, 5), _x(1, 1, 3, 3), stride=1.5)
    with pytest.raises(ValueError, match=r"in_channels must be a positive int"):
        nn.Conv2d(0, 4, 3)


@pytest.mark.parametrize("kwargs,pattern", [
    ({"kernel_size": 2, "stride": 0}, r"max_pool2d: stride must be positive"),
    ({"kernel_size": 2, "padding": 2}, r"max_pool2d: padding \(2, 2\) must be at most half the kernel size"),
    ({"kernel_size": 2, "padding": -1}, r"max_pool2d: padding must be non-negative"),
    ({"kernel_size": 0}, r"max_pool2d: kernel_size must be positive"),
    ({"kernel_size": 2, "dilation": 0}, r"max_pool2d: dilation must be positive"),
])
def test_max_pool_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        F.max_pool2d(_x(1, 1, 6, 6), **kwargs)


def test_avg_pool_bad_arguments():
    with pytest.raises(ValueError, match=r"avg_pool2d: padding \(2, 2\) must be at most half"):
        F.avg_pool2d(_x(1, 1, 6, 6), 3, padding=2)
    with pytest.raises(ValueError, match=r"avg_pool2d: divisor_override must be a positive int"):
        F.avg_pool2d(_x(1, 1, 6, 6), 2, divisor_override=0)


def test_pool_wrong_rank():
    with pytest.raises(ValueError, match=r"AvgPool2d\(kernel_size=2\): expected input of shape \(N, C, H, W\).*\(4, 4\)"):
        nn.AvgPool2d(2)(_x(4, 4))
    with pytest.raises(ValueError, match=r"adaptive_avg_pool2d: expected input of shape"):
        F.adaptive_avg_pool2d(_x(2, 3, 4, 4, 4), 1)


def test_adaptive_pool_bad_output_size():
    with pytest.raises(ValueError, match=r"output_size must be positive"):
        F.adaptive_avg_pool2d(_x(1, 1, 4, 4), (0, 2))


# --- groups, weights, bias, dtypes, devices ------------------------------------------------------
def test_groups_must_divide_channels_layer():
    with pytest.raises(ValueError, match=r"Conv2d\(4→6, k=3\): groups=4 must divide both in_channels \(4\) and out_channels \(6\)"):
        nn.Conv2d(4, 6, 3, groups=4)


def test_groups_must_divide_channels_functional():
    with pytest.raises(ValueError, match=r"conv2d: groups=2 must divide both in_channels \(4\) and out_channels \(3\)"):
        F.conv2d(_x(1, 4, 5, 5), _x(3, 2, 3, 3), groups=2)
    with pytest.raises(ValueError, match=r"conv2d: groups must be a positive int"):
        F.conv2d(_x(1, 4, 5, 5), _x(4, 4, 3, 3), groups=0)


def test_functional_channel_mismatch_mentions_weight_and_groups():
    with pytest.raises(ValueError, match=r"conv2d: expected input of shape \(N, C=4, H, W\), got \(1, 3, 5, 5\).*groups=2"):
        F.conv2d(_x(1, 3, 5, 5), _x(4, 2, 3, 3), groups=2)


def test_bad_weight_and_bias_shapes():
    with pytest.raises(ValueError, match=r"conv2d: weight must be 4-D"):
        F.conv2d(_x(1, 1, 5, 5), _x(1, 3, 3))
    with pytest.raises(ValueError, match=r"conv2d: bias must have shape \(3,\)"):
        F.conv2d(_x(1, 1, 5, 5), _x(3, 1, 3, 3), _x(4))


def test_dtype_mismatch_is_a_type_error():
    with pytest.raises(TypeError, match=r"conv2d: input is (tinynet\.)?float64 but weight is (tinynet\.)?float32"):
        F.conv2d(_x(1, 1, 5, 5, dtype=tn.float64), _x(2, 1, 3, 3))
    conv = nn.Conv2d(1, 2, 3)
    with pytest.raises(TypeError, match=r"Conv2d\(1→2, k=3\): input is (tinynet\.)?float64"):
        conv(_x(1, 1, 5, 5, dtype=tn.float64))
    with pytest.raises(TypeError, match=r"conv2d: input must be a floating tensor"):
        F.conv2d(tn.zeros(1, 1, 5, 5, dtype=tn.int64), _x(2, 1, 3, 3))


def test_device_mismatch_names_both_devices():
    if "cuda" not in tn.backend.available_devices():
        pytest.skip("no cuda device (real or simulated)")
    with pytest.raises(RuntimeError, match=r"conv2d: input is on cuda but weight is on cpu.*\.to\('cpu'\)"):
        F.conv2d(_x(1, 1, 5, 5).to("cuda"), _x(2, 1, 3, 3))
    conv = nn.Conv2d(1, 2, 3)
    with pytest.raises(RuntimeError, match=r"Conv2d\(1→2, k=3\): input is on cuda"):
        conv(_x(1, 1, 5, 5).to("cuda"))


def test_conv_transpose_bad_output_padding():
    with pytest.raises(ValueError, match=r"conv_transpose2d: output_padding \(2, 2\) must be smaller than stride"):
        F.conv_transpose2d(_x(1, 2, 3, 3), _x(2, 1, 3, 3), stride=2, output_padding=2)


def test_dropout2d_bad_arguments():
    with pytest.raises(ValueError, match=r"dropout2d: dropout probability has to be between 0 and 1"):
        F.dropout2d(_x(1, 2, 3, 3), p=1.5)
    with pytest.raises(ValueError, match=r"dropout2d: expected input of shape \(N, C, H, W\) or \(C, H, W\), got shape \(2, 3\)"):
        F.dropout2d(_x(2, 3))
    with pytest.raises(ValueError, match=r"Dropout2d: dropout probability"):
        nn.Dropout2d(-0.1)


def test_models_reject_wrong_images():
    from tinynet.models import LeNet, ResNetSmall

    with pytest.raises(ValueError, match=r"LeNet: expected images of shape \(N, C=1, H=8, W=8\), got \(2, 1, 28, 28\)"):
        LeNet(input_size=8)(_x(2, 1, 28, 28))
    with pytest.raises(ValueError, match=r"LeNet: input_size must be at least 4x4"):
        LeNet(input_size=3)
    with pytest.raises(ValueError, match=r"ResNetSmall: expected images of shape \(N, C=3, H, W\)"):
        ResNetSmall(in_channels=3)(_x(2, 1, 8, 8))
