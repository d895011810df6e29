"""Every bad input of the core (issue 2) gets a clear error: the op, the shapes/dtypes/devices, the fix."""
import re

import numpy as np
import pytest

import tinynet as tn
from tinynet.autograd import GraphFreedError


def _needs_cuda():
    if "cuda" not in tn.backend.available_devices():
        pytest.skip("no cuda device (real or simulated)")


# --- broadcasting and matmul ------------------------------------------------------------------
@pytest.mark.parametrize("op,fn", [
    ("add", lambda a, b: a + b), ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b), ("pow", lambda a, b: a ** b), ("maximum", tn.maximum),
    ("minimum", tn.minimum), ("gt", lambda a, b: a > b), ("eq", lambda a, b: a == b),
])
def test_broadcast_mismatch_names_the_op_and_both_shapes(op, fn, device):
    a, b = tn.ones(2, 3, device=device), tn.ones(4, device=device)
    with pytest.raises(ValueError, match=rf"^{op}: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        fn(a, b)


def test_where_broadcast_mismatch_names_all_shapes(device):
    with pytest.raises(ValueError, match=r"where: condition \(2, 2\), x \(3,\) and y \(3,\)"):
        tn.where(tn.ones(2, 2, device=device) > 0, tn.ones(3, device=device), tn.zeros(3, device=device))


@pytest.mark.parametrize("sa,sb", [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3), (2,)), ((5, 2, 3), (4, 2))])
def test_matmul_mismatch_names_both_shapes(sa, sb, device):
    a, b = tn.ones(*sa, device=device), tn.ones(*sb, device=device)
    with pytest.raises(ValueError, match=rf"matmul: shapes {re.escape(str(sa))} and {re.escape(str(sb))} are not aligned"):
        a @ b


def test_matmul_batch_mismatch_and_scalars(device):
    with pytest.raises(ValueError, match=r"matmul: batch axes of \(2, 3, 4\) and \(3, 4, 5\)"):
        tn.ones(2, 3, 4, device=device) @ tn.ones(3, 4, 5, device=device)
    with pytest.raises(ValueError, match="at least 1 dimension"):
        tn.matmul(tn.tensor(2.0, device=device), tn.ones(2, device=device))


# --- backward ----------------------------------------------------------------------------------
def test_non_scalar_backward_without_gradient(device):
    y = tn.ones(2, 3, device=device, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"one-element output.*shape \(2, 3\).*loss.sum\(\)"):
        y.backward()


def test_backward_gradient_of_the_wrong_shape(device):
    y = tn.ones(3, device=device, requires_grad=True) * 2
    with pytest.raises(ValueError, match=r"gradient has shape \(2,\) but the tensor has shape \(3,\)"):
        y.backward(tn.ones(2, device=device))


def test_second_backward_through_a_freed_graph(device):
    x = tn.ones(2, device=device, requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(GraphFreedError, match=r"second time.*retain_graph=True"):
        loss.backward()
    assert issubclass(GraphFreedError, RuntimeError)


def test_backward_on_a_tensor_without_grad(device):
    with pytest.raises(RuntimeError, match="does not require grad"):
        tn.ones(1, device=device).backward()


@pytest.mark.parametrize("dtype", [tn.int64, tn.bool, tn.int32])
def test_requires_grad_on_an_integer_tensor(dtype, device):
    with pytest.raises(RuntimeError, match=rf"only floating-point tensors can require gradients.*{dtype}.*to\(tn.float32\)"):
        tn.zeros(2, dtype=dtype, device=device, requires_grad=True)


def test_in_place_on_a_leaf_that_requires_grad(device):
    w = tn.ones(2, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"add_: a leaf tensor that requires grad.*no_grad"):
        w.add_(1)


# --- devices -----------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [
    lambda a, b: a + b, lambda a, b: a @ b, lambda a, b: tn.maximum(a, b), lambda a, b: tn.cat([a, b]),
    lambda a, b: tn.stack([a, b]), lambda a, b: tn.where(a > 0, a, b),
])
def test_an_op_mixing_cpu_and_cuda_names_both_devices_and_the_fix(fn):
    _needs_cuda()
    a = tn.ones(2, 2, device="cpu", requires_grad=True)
    b = tn.ones(2, 2, device="cuda")
    with pytest.raises(RuntimeError, match=r"cpu and cuda.*\.to\("):
        fn(a, b)


def test_comparisons_and_in_place_ops_across_devices():
    _needs_cuda()
    a, b = tn.ones(2), tn.ones(2, device="cuda")
    with pytest.raises(RuntimeError, match=r"cpu and cuda.*\.to\("):
        a < b
    with pytest.raises(RuntimeError, match=r"cuda.*cpu.*\.to\('cpu'\)"):
        a.add_(b)


# --- shapes ----------------------------------------------------------------------------------
def test_reshape_errors(device):
    x = tn.ones(3, 4, device=device)
    with pytest.raises(ValueError, match=r"reshape: cannot reshape a tensor of shape \(3, 4\) \(12 elements\) into shape \(5, 3\) \(15 elements\)"):
        x.reshape(5, 3)
    with pytest.raises(ValueError, match=r"reshape: cannot reshape a tensor of shape \(3, 4\)"):
        x.view(-1, -1)
    with pytest.raises(ValueError, match=r"reshape: .* into shape \(5, -1\)"):
        x.reshape(5, -1)


def test_shape_op_errors(device):
    x = tn.ones(2, 3, device=device)
    with pytest.raises(ValueError, match=r"permute: \(0, 0\) is not a permutation"):
        x.permute(0, 0)
    with pytest.raises(ValueError, match=r"expand: cannot broadcast shape \(2, 3\) to \(2, 4\)"):
        x.expand(2, 4)
    with pytest.raises(IndexError, match="unsqueeze: axis 5"):
        x.unsqueeze(5)
    with pytest.raises(ValueError, match="flatten: start_dim 1 comes after end_dim 0"):
        x.flatten(1, 0)


@pytest.mark.parametrize("fn,op", [
    (lambda x: x.sum(axis=2), "sum"), (lambda x: x.mean(dim=-3), "mean"), (lambda x: x.max(dim=5), "max"),
    (lambda x: tn.var(x, 2), "var"), (lambda x: x.argmax(2), "argmax"), (lambda x: tn.logsumexp(x, 7), "logsumexp"),
    (lambda x: x.swapaxes(0, 2), "swapaxes"), (lambda x: tn.cat([x, x], 2), "cat"), (lambda x: tn.split(x, 1, 3), "split"),
])
def test_bad_axis_names_the_op_and_the_rank(fn, op, device):
    with pytest.raises(IndexError, match=rf"{op}: axis -?\d is out of range for a tensor of 2 dimension"):
        fn(tn.ones(2, 3, device=device))


def test_repeated_axis(device):
    with pytest.raises(ValueError, match=r"sum: repeated axis in \(1, 1\)"):
        tn.ones(2, 3, device=device).sum(axis=(1, -1))


def test_reductions_with_no_identity_on_empty_tensors(device):
    with pytest.raises(ValueError, match=r"max: cannot reduce over the whole tensor of a tensor of shape \(0, 3\)"):
        tn.zeros(0, 3, device=device).max()
    with pytest.raises(ValueError, match=r"argmin: cannot reduce over axis 0"):
        tn.zeros(0, 3, device=device).argmin(0)
    assert tn.zeros(0, 3, device=device).max(dim=1).values.shape == (0,)  # reducing a non-empty axis is fine


def test_reduction_type_errors(device):
    i = tn.tensor([1, 2], device=device)
    with pytest.raises(TypeError, match=r"mean: needs a floating tensor, got int64.*\.float\(\)"):
        i.mean()
    with pytest.raises(TypeError, match="var: needs a floating tensor"):
        i.var()
    with pytest.raises(TypeError, match="argmax: axis must be a single int"):
        tn.ones(2, 2, device=device).argmax(axis=(0, 1))
    with pytest.raises(TypeError, match="only one of correction"):
        tn.ones(3, device=device).var(correction=0, unbiased=True)


# --- indexing --------------------------------------------------------------------------------
def test_index_out_of_range_names_shape_and_index(device):
    x = tn.ones(3, 4, device=device)
    with pytest.raises(IndexError, match=r"index 3 is out of range for axis 0 of size 3 \(tensor shape \(3, 4\)"):
        x[3]
    with pytest.raises(IndexError, match=r"index -5 is out of range for axis 1 of size 4"):
        x[0, -5]
    with pytest.raises(IndexError, match=r"index 7 is out of range for axis 1 of size 4 \(tensor shape \(3, 4\), key \[:, <int64 array"):
        x[:, tn.tensor([0, 7], device=device)]
    with pytest.raises(IndexError, match=r"index 9 is out of range for axis 0"):
        x[[1, 9]]


def test_bad_index_kinds(device):
    x = tn.ones(3, 4, device=device)
    with pytest.raises(IndexError, match=r"too many indices for a tensor of shape \(3, 4\)"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match=r"boolean mask of shape \(2,\) does not match the tensor's shape \(3, 4\)"):
        x[tn.tensor([True, False], device=device)]
    with pytest.raises(IndexError, match="tensors used as indices must be integer or bool, got float32"):
        x[tn.tensor([0.0, 1.0], device=device)]
    with pytest.raises(IndexError, match="a float .* cannot be an index"):
        x[1.5]
    with pytest.raises(IndexError, match=r"single ellipsis"):
        x[..., 0, ...]
    with pytest.raises(IndexError, match="unsupported index 'a' of type str"):
        x["a"]


def test_setitem_errors(device):
    x = tn.zeros(3, device=device)
    with pytest.raises(IndexError, match=r"__setitem__: index out of range for shape \(3,\)"):
        x[5] = 1.0


def test_gather_and_index_select_errors(device):
    x = tn.ones(3, 4, device=device)
    with pytest.raises(ValueError, match=r"gather: index has 1 dims but the input has 2"):
        tn.gather(x, 1, tn.tensor([0, 1], device=device))
    with pytest.raises(IndexError, match="out of range for axis 1 of size 4"):
        tn.gather(x, 1, tn.tensor([[0], [4], [1]], device=device))
    with pytest.raises(ValueError, match=r"index_select: index must be 1-D"):
        x.index_select(0, tn.tensor([[0]], device=device))
    with pytest.raises(TypeError, match="masked_fill: mask must be a bool tensor"):
        x.masked_fill(tn.ones(4, device=device), 0.0)


# --- join / split / pad ----------------------------------------------------------------------
def test_cat_stack_split_errors(device):
    a, b = tn.ones(2, 3, device=device), tn.ones(2, 4, device=device)
    with pytest.raises(ValueError, match=r"cat: tensors must have the same shape except along axis 0, but tensor 1 has shape \(2, 4\) and tensor 0 has \(2, 3\)"):
        tn.cat([a, b])
    with pytest.raises(ValueError, match=r"stack: expects every tensor to have the same shape, but tensor 0 has \(2, 3\) and tensor 1 has \(2, 4\)"):
        tn.stack([a, b])
    with pytest.raises(TypeError, match="cat: expected a list or tuple of tensors"):
        tn.cat(a)
    with pytest.raises(ValueError, match="cat: expected a non-empty list"):
        tn.cat([])
    with pytest.raises(ValueError, match="zero-dimensional"):
        tn.cat([tn.tensor(1.0), tn.tensor(2.0)])
    with pytest.raises(ValueError, match=r"split: section sizes \[1, 1\] must be non-negative and add up to 3"):
        tn.split(a, [1, 1], dim=1)
    with pytest.raises(ValueError, match="split: split_size must be a positive int"):
        tn.split(a, 0)
    with pytest.raises(ValueError, match="chunk: chunks must be a positive int"):
        tn.chunk(a, 0)


def test_pad_errors(device):
    x = tn.ones(2, 3, device=device)
    with pytest.raises(ValueError, match="pad: the flat pad tuple must have an even length"):
        tn.pad(x, (1, 2, 3))
    with pytest.raises(ValueError, match=r"pad: \(1, 1, 1, 1, 1, 1\) pads 3 axes but the tensor has only 2"):
        tn.pad(x, (1, 1, 1, 1, 1, 1))
    with pytest.raises(ValueError, match="pad: unknown mode 'wrap'"):
        tn.pad(x, (1, 1), mode="wrap")
    with pytest.raises(ValueError, match=r"pad: reflect padding of \(3, 0\) is too large for axis 1 of size 3"):
        tn.pad(x, (3, 0), mode="reflect")
    assert tuple(tn.pad(x, (-1, 0)).shape) == (2, 2)  # negative padding crops, as in PyTorch
    with pytest.raises(ValueError, match="pad_width has 3 pairs for a tensor of 2 dimensions"):
        tn.pad(x, ((1, 1), (1, 1), (0, 0)))


# --- one_hot -------------------------------------------------------------------------------------
def test_one_hot_label_errors(device):
    with pytest.raises(IndexError, match=r"one_hot: label 3 is out of range for num_classes=3 \(labels must lie in \[0, 2\]\)"):
        tn.one_hot(tn.tensor([0, 3], device=device), 3)
    with pytest.raises(ValueError, match="one_hot: label 5 is out of range"):
        tn.one_hot(tn.tensor([5], device=device), 2)
    with pytest.raises(ValueError, match="class labels must be non-negative, got -1"):
        tn.one_hot(tn.tensor([1, -1], device=device), 3)
    with pytest.raises(TypeError, match=r"one_hot: labels must be an integer tensor.*float32.*\.long\(\)"):
        tn.one_hot(tn.tensor([1.0], device=device), 3)
    with pytest.raises(ValueError, match="cannot infer num_classes from an empty tensor"):
        tn.one_hot(tn.zeros(0, dtype=tn.int64, device=device))


# --- creation ------------------------------------------------------------------------------------
def test_creation_errors():
    with pytest.raises(ValueError, match="rectangular"):
        tn.tensor([[1.0, 2.0], [3.0]])
    with pytest.raises(TypeError, match="complex"):
        tn.tensor(np.array([1j]))
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        tn.zeros(2, device="tpu")
    with pytest.raises(TypeError, match="manual_seed: expected an int seed"):
        tn.manual_seed(1.5)
    with pytest.raises(ValueError, match=r"item\(\): only one-element tensors"):
        tn.ones(2).item()


@pytest.mark.parametrize("make", [
    lambda: tn.nn.Linear(3, 2)(tn.ones(4, 5)),
    lambda: tn.ones(2, 3) + tn.ones(4, 5),
    lambda: tn.ones(2, 3) @ tn.ones(4, 5),
    lambda: tn.nn.functional.cross_entropy(tn.ones(3, 4), tn.tensor([0, 1])),
    lambda: tn.nn.Conv2d(3, 4, 3)(tn.ones(1, 2, 5, 5)),
    lambda: tn.cat([tn.ones(2, 3), tn.ones(2, 4)], dim=0),
    lambda: tn.ones(6).reshape(4, 2),
    lambda: tn.nn.LayerNorm(4)(tn.ones(2, 3)),
], ids=["linear", "broadcast", "matmul", "cross_entropy", "conv2d", "cat", "reshape", "layer_norm"])
def test_shape_errors_are_both_value_and_runtime_errors(make):
    """PyTorch raises RuntimeError for these, NumPy-minded code catches ValueError: both work."""
    from tinynet.backend.errors import ShapeError

    with pytest.raises(ShapeError) as info:
        make()
    assert isinstance(info.value, ValueError) and isinstance(info.value, RuntimeError)


def test_mixing_devices_is_a_device_error_naming_both():
    from tinynet.backend.errors import DeviceError

    if not (tn.cuda.is_available() or tn.cuda.is_simulated()):
        pytest.skip("no cuda device, not even simulated")
    for make in (lambda: tn.ones(2, device="cuda") + tn.ones(2), lambda: tn.ones(2, 2, device="cuda") @ tn.ones(2, 2)):
        with pytest.raises(DeviceError, match="cpu") as info:
            make()
        assert "cuda" in str(info.value) and isinstance(info.value, RuntimeError)


def test_softsign_promotes_integer_input_and_matches_torch():
    torch = pytest.importorskip("torch")
    out = tn.softsign(tn.tensor([1, 2]))  # as torch: the default float dtype
    assert out.dtype == tn.float32 and torch.nn.functional.softsign(torch.tensor([1, 2])).dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), [0.5, 2 / 3], rtol=1e-6)
    x = np.linspace(-3, 3, 7)
    t = torch.tensor(x, requires_grad=True)
    torch.nn.functional.softsign(t).sum().backward()
    a = tn.tensor(x, requires_grad=True)
    tn.nn.functional.softsign(a).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-12)

