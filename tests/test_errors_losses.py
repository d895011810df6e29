"""Error paths of the activations and losses: each raises the documented type with a
message naming the op, the shapes/dtypes/values involved and the fix."""
import pytest

import tinynet as tn
import tinynet.functional as F


def _logits(*shape, device="cpu"):
    return tn.randn(*shape, device=device, requires_grad=True)


def test_float_class_targets_raise_type_error_naming_the_fix(device):
    x = _logits(4, 3, device=device)
    t = tn.tensor([0.0, 1.0, 2.0, 1.0], device=device)
    with pytest.raises(TypeError, match=r"cross_entropy.*float32.*target\.long\(\)"):
        F.cross_entropy(x, t)
    with pytest.raises(TypeError, match=r"nll_loss.*class indices must be integers.*target\.long\(\)"):
        F.nll_loss(x, t)


@pytest.mark.parametrize("bad", [3, 7, -1, -5])
def test_out_of_range_class_target_raises_index_error(device, bad):
    x = _logits(4, 3, device=device)
    t = tn.tensor([0, bad, 2, 1], device=device)
    with pytest.raises(IndexError, match=rf"cross_entropy: target value {bad} is out of range for 3 classes"):
        F.cross_entropy(x, t)
    with pytest.raises(IndexError, match=rf"nll_loss: target value {bad} is out of range for 3 classes"):
        F.nll_loss(x, t)


def test_out_of_range_in_spatial_targets(device):
    x = _logits(2, 3, 2, device=device)
    t = tn.tensor([[0, 1], [2, 3]], device=device)
    with pytest.raises(IndexError, match=r"target value 3 .*3 classes \(valid: 0 to 2"):
        F.cross_entropy(x, t)


def test_ignore_index_value_is_not_out_of_range(device):
    x = _logits(3, 3, device=device)
    F.cross_entropy(x, tn.tensor([0, -100, 2], device=device)).backward()
    F.cross_entropy(x, tn.tensor([0, 9, 2], device=device), ignore_index=9)
    with pytest.raises(IndexError, match="target value -100"):
        F.cross_entropy(x, tn.tensor([0, -100, 2], device=device), ignore_index=9)


@pytest.mark.parametrize("tshape", [(3,), (4, 1), (2, 2)])
def test_class_target_shape_mismatch(device, tshape):
    x = _logits(4, 3, device=device)
    t = tn.zeros(*tshape, dtype=tn.int64, device=device)
    with pytest.raises(ValueError, match=r"cross_entropy: input of shape \(4, 3\) needs a target of shape \(4,\)"):
        F.cross_entropy(x, t)
    with pytest.raises(ValueError, match=r"nll_loss: input of shape \(4, 3\) needs a target of shape \(4,\).*"
                                         + str(tshape).replace("(", r"\(").replace(")", r"\)")):
        F.nll_loss(x, t)


def test_probability_target_shape_mismatch(device):
    x = _logits(4, 3, device=device)
    with pytest.raises(ValueError, match=r"cross_entropy: target of shape \(4, 2\) \((tinynet\.)?float32\) fits neither form: "
                                         r"class probabilities need the input's shape \(4, 3\)"):
        F.cross_entropy(x, tn.rand(4, 2, device=device))
    with pytest.raises(TypeError, match=r"nll_loss: target must be an integer tensor of class indices"):
        F.nll_loss(x, tn.rand(4, 2, device=device))


@pytest.mark.parametrize("loss", [F.mse_loss, F.l1_loss, F.binary_cross_entropy, F.binary_cross_entropy_with_logits])
def test_elementwise_loss_shape_mismatch(device, loss):
    a = tn.rand(3, 4, device=device)
    b = tn.rand(4, 3, device=device)
    with pytest.raises(ValueError, match=rf"{loss.__name__}: input has shape \(3, 4\) but target has shape \(4, 3\)"):
        loss(a, b)


@pytest.mark.parametrize("call", [
    lambda x, t, q: F.mse_loss(x, q, reduction="avg"),
    lambda x, t, q: F.l1_loss(x, q, reduction="Mean"),
    lambda x, t, q: F.binary_cross_entropy(F.sigmoid(x), q, reduction=None),
    lambda x, t, q: F.binary_cross_entropy_with_logits(x, q, reduction="elementwise_mean"),
    lambda x, t, q: F.cross_entropy(x, t, reduction="batchmean"),
    lambda x, t, q: F.nll_loss(x, t, reduction=""),
])
def test_bad_reduction(device, call):
    x = _logits(4, 3, device=device)
    t = tn.tensor([0, 1, 2, 0], device=device)
    q = tn.rand(4, 3, device=device)
    with pytest.raises(ValueError, match=r"reduction must be 'mean', 'sum' or 'none'"):
        call(x, t, q)


def test_weight_of_wrong_length(device):
    x = _logits(4, 3, device=device)
    t = tn.tensor([0, 1, 2, 0], device=device)
    with pytest.raises(ValueError, match=r"cross_entropy: weight must have shape \(3,\).*\(4,\)"):
        F.cross_entropy(x, t, weight=tn.ones(4, device=device))
    with pytest.raises(ValueError, match=r"nll_loss: weight must have shape \(3,\)"):
        F.nll_loss(x, t, weight=tn.ones(2, device=device))


def test_label_smoothing_out_of_range():
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\], got 1.5"):
        F.cross_entropy(_logits(2, 3), tn.tensor([0, 1]), label_smoothing=1.5)


def test_zero_dim_input_to_class_loss():
    with pytest.raises(ValueError, match="cross_entropy: input must have a class axis"):
        F.cross_entropy(tn.tensor(1.0), tn.tensor(0))


def test_integer_input_to_losses_and_activations():
    with pytest.raises(TypeError, match=r"cross_entropy: input must be floating point.*int64"):
        F.cross_entropy(tn.tensor([[1, 2]]), tn.tensor([0]))
    with pytest.raises(TypeError, match=r"softmax: expected a floating-point tensor, got (tinynet\.)?int64"):
        F.softmax(tn.tensor([1, 2, 3]), dim=0)
    assert F.sigmoid(tn.tensor([1, 2])).dtype == tn.float32  # as torch.sigmoid: the default float


def test_bce_needs_probabilities():
    with pytest.raises(ValueError, match=r"binary_cross_entropy: input must hold probabilities in \[0, 1\].*"
                                         r"binary_cross_entropy_with_logits"):
        F.binary_cross_entropy(tn.tensor([0.5, 1.5]), tn.tensor([1.0, 0.0]))


def test_softmax_axis_out_of_range():
    with pytest.raises(IndexError, match=r"softmax: axis 2 is out of range for a tensor of 2 dimension"):
        F.softmax(tn.randn(2, 3), dim=2)
    with pytest.raises(TypeError, match=r"log_softmax: give either axis= or dim=, not both"):
        F.log_softmax(tn.randn(2, 3), dim=0, axis=1)


def test_gelu_bad_approximate():
    with pytest.raises(ValueError, match=r"gelu: approximate must be 'none' or 'tanh', got 'fast'"):
        F.gelu(tn.randn(3), approximate="fast")


def test_hardtanh_bad_bounds():
    with pytest.raises(ValueError, match=r"hardtanh: min_val \(1.0\) must not exceed max_val \(-1.0\)"):
        F.hardtanh(tn.randn(3), min_val=1.0, max_val=-1.0)


def test_target_on_another_device():
    if "cuda" not in tn.backend.available_devices():
        pytest.skip("needs a second device")
    x = _logits(2, 3, device="cuda")
    with pytest.raises(RuntimeError, match=r"cross_entropy: input is on cuda but target is on cpu.*\.to\('cuda'\)"):
        F.cross_entropy(x, tn.tensor([0, 1]))
    with pytest.raises(RuntimeError, match=r"mse_loss: input is on cuda but target is on cpu"):
        F.mse_loss(tn.randn(3, device="cuda"), tn.randn(3))
