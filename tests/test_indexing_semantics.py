"""Indexing, index writes, masking and scatter: semantics, in-place behaviour and every error path
(tinynet/functional/indexing.py and scatter.py). Values and gradients against PyTorch are in
test_torch_parity_indexing.py; gradchecks in the op registry (tests/registry/indexing_more.py)."""
import warnings

import numpy as np
import pytest

import tinynet as tn
from tinynet.backend.errors import DeviceError, ShapeError


def _t(a, device, **kw):
    return tn.tensor(np.asarray(a), device=device, **kw)


# --- reading: PyTorch's order and key forms ------------------------------------------------------------
def test_int_then_tensor_keeps_pytorch_order(device):
    x = tn.arange(24.0, device=device).reshape(2, 3, 4)
    a = np.arange(24.0).reshape(2, 3, 4)
    # NumPy would give (2, 3) here: it counts the 0 as an advanced index separated from [0, 1]
    assert x[0, :, [0, 1]].shape == (3, 2)
    np.testing.assert_array_equal(x[0, :, [0, 1]].numpy(), a[0][:, [0, 1]])
    assert x[tn.tensor(1, device=device), :, [3]].shape == (3, 1)  # a 0-d integer tensor is an int
    assert x[[0, 1], :, 0].shape == (2, 3)                           # separated: advanced axis first
    assert x[:, [0, 2], [1, 3]].shape == (2, 2)                      # adjacent: stays in place


def test_lists_and_tuples_in_keys(device):
    x = tn.arange(12, device=device).reshape(3, 4)
    assert x[(0, 1)].item() == 1                       # a tuple is the key itself
    assert x[[0, 2]].tolist() == [[0, 1, 2, 3], [8, 9, 10, 11]]
    assert x[(0, 2), :].shape == (2, 4)                # a tuple inside a key is an index tensor
    with pytest.warns(UserWarning, match="non-tuple sequence"):
        assert x[[[0, 1], [1, 0]]].tolist() == [1, 4]  # read as x[[0, 1], [1, 0]], as torch 2.13 does
    assert x[[True, False, True]].shape == (2, 4)      # a list of bools is a mask
    assert x[[]].shape == (0, 4)
    assert x[np.array([2])].tolist() == [[8, 9, 10, 11]]
    assert x[list(range(3)) * 11].shape == (33, 4)     # 32 or more items: always an index tensor


def test_bool_scalars_and_masks(device):
    x = tn.arange(6.0, device=device).reshape(2, 3)
    assert x[True].shape == (1, 2, 3) and x[False].shape == (0, 2, 3)
    assert x[tn.tensor(True, device=device)].shape == (1, 2, 3)
    m = x > 2
    assert x[m].tolist() == [3.0, 4.0, 5.0]
    assert x[:, tn.tensor([True, False, True], device=device)].shape == (2, 2)
    with pytest.warns(UserWarning, match="uint8"):
        assert x[tn.tensor([1, 0], dtype=tn.uint8, device=device)].shape == (1, 3)


def test_index_tensor_dtypes_and_devices(device):
    x = tn.arange(6.0, device=device)
    assert x[tn.tensor([1, 2], dtype=tn.int32, device=device)].tolist() == [1.0, 2.0]
    assert x[tn.tensor([5, 0])].tolist() == [5.0, 0.0]  # a cpu index works for any device
    with pytest.raises(IndexError, match="long .*int.* or bool"):
        x[tn.tensor([1, 2], dtype=tn.int16, device=device)]
    with pytest.raises(IndexError, match="long .*int.* or bool"):
        x[tn.tensor([1.0], device=device)]
    with pytest.raises(IndexError, match="float"):
        x[1.0]
    with pytest.raises(IndexError, match="valid indices"):
        x["a"]


def test_getitem_errors_name_shape_and_fix(device):
    x = tn.zeros(2, 3, device=device)
    with pytest.raises(IndexError, match=r"index 5 is out of range for axis 1 of size 3 .*\(2, 3\)"):
        x[0, 5]
    with pytest.raises(IndexError, match="out of range for axis 0 of size 2"):
        x[tn.tensor([0, -3], device=device)]
    with pytest.raises(IndexError, match=r"too many indices for a tensor of shape \(2, 3\)"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match="mask"):
        x[tn.tensor([True, False, True], device=device)]
    with pytest.raises(IndexError, match="single ellipsis"):
        x[..., ...]
    with pytest.raises(ValueError, match="step cannot be zero"):
        x[::0]


def test_gradient_of_repeated_picks_accumulates(device):
    x = tn.zeros(4, dtype=tn.float64, device=device, requires_grad=True)
    x[[1, 1, 3, 1]].sum().backward()
    assert x.grad.tolist() == [0.0, 3.0, 0.0, 1.0]
    y = tn.zeros(2, 3, dtype=tn.float64, device=device, requires_grad=True)
    (y[1, [0, 0]] * tn.tensor([2.0, 5.0], dtype=tn.float64, device=device)).sum().backward()
    assert y.grad.tolist() == [[0.0, 0.0, 0.0], [7.0, 0.0, 0.0]]


# --- writing ----------------------------------------------------------------------------------------
def test_setitem_without_graph_writes_into_the_array(device):
    x = tn.zeros(3, 4, device=device)
    row = x[1]
    x[1, [0, 2]] = 5
    x[0] = tn.tensor([1.0, 2.0, 3.0, 4.0], device=device)
    assert row.tolist() == [5.0, 0.0, 5.0, 0.0]      # views see the write
    assert x[0].tolist() == [1.0, 2.0, 3.0, 4.0]
    p = tn.ones(2, device=device, requires_grad=True)
    with tn.no_grad():
        p[0] = 3.0                                    # parameters change under no_grad
    assert p.tolist() == [3.0, 1.0] and p.grad_fn is None
    x[x > 4] = -1.0
    assert x[1].tolist() == [-1.0, 0.0, -1.0, 0.0]


def test_setitem_casts_and_bumps_version(device):
    i = tn.zeros(3, dtype=tn.int64, device=device)
    i[0] = 1.7                                        # PyTorch truncates into integer tensors
    assert i.tolist() == [1, 0, 0] and i.dtype == tn.int64
    v0 = i._version[0]
    i[1:] = tn.tensor([4, 5], device=device)
    assert i._version[0] == v0 + 1 and i.tolist() == [1, 4, 5]


def test_setitem_in_graph_rebases_and_differentiates(device):
    x = tn.ones(2, 3, dtype=tn.float64, device=device, requires_grad=True)
    v = tn.tensor([10.0, 20.0], dtype=tn.float64, device=device, requires_grad=True)
    y = x * 2
    y[0, [0, 2]] = v
    assert y.grad_fn is not None
    (y * tn.arange(6.0, dtype=tn.float64, device=device).reshape(2, 3)).sum().backward()
    assert x.grad.tolist() == [[0.0, 2.0, 0.0], [6.0, 8.0, 10.0]]
    assert v.grad.tolist() == [0.0, 2.0]
    c = tn.zeros(3, dtype=tn.float64, device=device)   # a constant takes a value that requires grad
    c[1] = v[1] * 3
    c.sum().backward()
    assert v.grad.tolist() == [0.0, 5.0]


def test_setitem_refuses_a_leaf_that_requires_grad(device):
    p = tn.ones(3, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        p[0] = 2.0


def test_setitem_value_shape_error(device):
    x = tn.zeros(3, 4, device=device)
    with pytest.raises(ShapeError, match=r"value tensor of shape \(3,\) cannot be broadcast .*\(4,\)"):
        x[0] = tn.ones(3, device=device)
    g = tn.zeros(3, 4, device=device, requires_grad=True) * 1
    with pytest.raises(ShapeError, match="cannot be broadcast"):
        g[0] = tn.ones(3, device=device)
    x[0] = tn.ones(1, 1, 4, device=device)           # leading 1s are dropped, as in PyTorch
    assert x[0].tolist() == [1.0] * 4


def test_index_put_and_inplace(device):
    x = tn.zeros(3, device=device)
    idx = (tn.tensor([0, 0, 2], device=device),)
    vals = tn.tensor([1.0, 2.0, 5.0], device=device)
    assert x.index_put(idx, vals, accumulate=True).tolist() == [3.0, 0.0, 5.0]
    assert x.tolist() == [0.0, 0.0, 0.0]
    assert x.index_put_(idx, vals, accumulate=True) is x and x.tolist() == [3.0, 0.0, 5.0]
    with pytest.raises(TypeError, match="dtypes match"):
        x.index_put(idx, vals.double())
    with pytest.raises(TypeError, match="tuple"):
        x.index_put(idx[0], vals)
    b = tn.zeros(3, dtype=tn.bool, device=device)
    assert b.index_put(idx, tn.tensor([True, True, False], device=device), accumulate=True).tolist() == [True, False,
                                                                                                      False]


def test_masked_fill_scatter_and_index_fill(device):
    x = tn.arange(6.0, device=device).reshape(2, 3)
    m = tn.tensor([True, False, True], device=device)
    assert x.masked_fill(m, -1).tolist() == [[-1.0, 1.0, -1.0], [-1.0, 4.0, -1.0]]
    y = x.clone()
    assert y.masked_fill_(m, 0) is y and y.tolist() == [[0.0, 1.0, 0.0], [0.0, 4.0, 0.0]]
    src = tn.tensor([10.0, 20.0, 30.0, 40.0, 50.0], device=device)
    assert x.masked_scatter(m, src).tolist() == [[10.0, 1.0, 20.0], [30.0, 4.0, 40.0]]
    z = x.clone()
    z.masked_scatter_(x > 3, src)
    assert z.tolist() == [[0.0, 1.0, 2.0], [3.0, 10.0, 20.0]]
    assert x.index_fill(1, tn.tensor([2, 0], device=device), 7).tolist() == [[7.0, 1.0, 7.0], [7.0, 4.0, 7.0]]
    w = x.clone()
    w.index_fill_(0, tn.tensor(1, device=device), 0.5)
    assert w.tolist() == [[0.0, 1.0, 2.0], [0.5, 0.5, 0.5]]


def test_masking_errors(device):
    x = tn.zeros(2, 3, device=device)
    with pytest.raises(TypeError, match="must be a bool tensor"):
        x.masked_fill(tn.tensor([1, 0, 1], device=device), 1.0)
    with pytest.raises(ShapeError, match="0-dimensional value"):
        x.masked_fill(x > 0, tn.ones(2, device=device))
    with pytest.raises(ShapeError, match=r"can't be broadcast"):
        x.masked_select(tn.tensor([True, False], device=device))
    with pytest.raises(ShapeError, match="number of ones in mask"):
        x.masked_scatter(x == 0, tn.ones(5, device=device))
    with pytest.raises(TypeError, match="dtype"):
        x.masked_scatter(x == 0, tn.ones(6, dtype=tn.float64, device=device))
    with pytest.raises(ShapeError, match="vector or a scalar"):
        x.index_fill(0, tn.tensor([[0]], device=device), 1.0)
    with pytest.raises(IndexError, match="out of range for axis 1 of size 3"):
        x.index_fill(1, tn.tensor([3], device=device), 1.0)
    with pytest.raises(TypeError, match="int64 index"):
        x.index_fill(1, tn.tensor([0.0], device=device), 1.0)


def test_masked_inplace_on_a_parameter_refused_in_grad_mode(device):
    p = tn.zeros(3, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor"):
        p.masked_fill_(p == 0, 1.0)


# --- selecting ---------------------------------------------------------------------------------------
def test_nonzero_forms(device):
    x = tn.tensor([[0, 3], [4, 0]], device=device)
    assert x.nonzero().tolist() == [[0, 1], [1, 0]] and x.nonzero().dtype == tn.int64
    rows, cols = tn.nonzero(x, as_tuple=True)
    assert rows.tolist() == [0, 1] and cols.tolist() == [1, 0]
    assert tn.argwhere(x).tolist() == [[0, 1], [1, 0]]
    assert tn.nonzero(tn.tensor(5.0, device=device)).shape == (1, 0)
    assert tn.nonzero(tn.tensor(0.0, device=device)).shape == (0, 0)
    assert [t.tolist() for t in tn.nonzero(tn.tensor(5.0, device=device), as_tuple=True)] == [[0]]


def test_tril_triu(device):
    x = tn.ones(2, 3, 3, device=device)
    assert x.tril()[1].tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    assert x.triu(1)[0].tolist() == [[0, 1, 1], [0, 0, 1], [0, 0, 0]]
    i = tn.ones(2, 2, dtype=tn.int64, device=device)
    assert i.tril().dtype == tn.int64 and tn.triu(i > 0).dtype == tn.bool
    y = tn.ones(3, 3, device=device)
    assert y.triu_(-1) is y and y.tolist() == [[1, 1, 1], [1, 1, 1], [0, 1, 1]]
    with pytest.raises(ShapeError, match="at least 2 dimensions"):
        tn.tril(tn.ones(3, device=device))


def test_tri_indices_arguments(device):
    t = tn.tril_indices(3, 3, device=device, dtype=tn.int32)
    assert t.dtype == tn.int32 and t.tolist() == [[0, 1, 1, 2, 2, 2], [0, 0, 1, 0, 1, 2]]
    assert str(tn.triu_indices(2, 3, 1, device=device).device) == str(tn.tril_indices(1, 1, device=device).device)
    assert tn.triu_indices(2, 3, 1).tolist() == [[0, 0, 1], [1, 2, 2]]
    with pytest.raises(TypeError, match="integer"):
        tn.tril_indices(3, 3, dtype=tn.float32)
    with pytest.raises(ValueError, match="row must be a non-negative"):
        tn.tril_indices(-1, 3)
    with pytest.raises(ValueError, match="strided"):
        tn.tril_indices(3, 3, layout="sparse_coo")


def test_take_along_dim_and_gather(device):
    x = tn.arange(12.0, device=device).reshape(3, 4)
    assert tn.take_along_dim(x, tn.tensor([[0], [3], [1]], device=device), dim=1).tolist() == [[0.0], [7.0], [9.0]]
    assert x.take_along_dim(tn.tensor([11, 0], device=device)).tolist() == [11.0, 0.0]
    with pytest.raises(ShapeError, match="same number of dimensions"):
        tn.take_along_dim(x, tn.tensor([0], device=device), dim=1)
    with pytest.raises(ShapeError, match="broadcast"):
        tn.take_along_dim(x, tn.zeros(2, 1, dtype=tn.int64, device=device), dim=1)
    with pytest.raises(IndexError, match="out of range for axis"):
        tn.take_along_dim(x, tn.tensor([12], device=device))
    idx = tn.tensor([[0, 2], [1, 1]], device=device)
    assert x.gather(0, idx).tolist() == [[0.0, 9.0], [4.0, 5.0]]
    assert x.gather(1, idx, sparse_grad=True).tolist() == [[0.0, 2.0], [5.0, 5.0]]
    with pytest.raises(ShapeError, match="same number of dimensions"):
        x.gather(0, tn.tensor([0], device=device))
    with pytest.raises(ShapeError, match="no larger than input"):
        x.gather(0, tn.zeros(2, 5, dtype=tn.int64, device=device))
    with pytest.raises(IndexError, match="index 4 is out of range for axis 0 of size 3"):
        x.gather(0, idx + 2)
    with pytest.raises(TypeError, match="int64 index"):
        x.gather(0, idx.float())


def test_isin_forms(device):
    e = tn.tensor([[1, 2], [3, 4]], device=device)
    assert tn.isin(e, tn.tensor([4, 1], device=device)).tolist() == [[True, False], [False, True]]
    assert tn.isin(e, 2, invert=True).tolist() == [[True, False], [True, True]]
    assert tn.isin(3, e).item() is True
    with pytest.raises(TypeError, match="must be a Tensor"):
        tn.isin(1, 2)


def test_where_method(device):
    x = tn.tensor([1.0, -2.0, 3.0], device=device)
    assert x.where(x > 0, 0.0).tolist() == [1.0, 0.0, 3.0]
    assert x.where(x > 0, tn.tensor([9.0, 9.0, 9.0], device=device)).tolist() == [1.0, 9.0, 3.0]


# --- scatter family -----------------------------------------------------------------------------------
def test_scatter_forms(device):
    x = tn.zeros(2, 3, device=device)
    idx = tn.tensor([[2, 0]], device=device)
    src = tn.tensor([[1.0, 2.0, 3.0]], device=device)
    assert x.scatter(1, idx, src).tolist() == [[2.0, 0.0, 1.0], [0.0, 0.0, 0.0]]
    assert x.scatter(1, idx, 4.0).tolist() == [[4.0, 0.0, 4.0], [0.0, 0.0, 0.0]]
    assert x.scatter(1, idx, value=4.0).tolist() == [[4.0, 0.0, 4.0], [0.0, 0.0, 0.0]]
    ones = tn.ones(2, 3, device=device)
    assert ones.scatter(1, tn.tensor([[1, 1]], device=device), src, reduce="add").tolist() == [[1, 4, 1], [1, 1, 1]]
    assert ones.scatter(1, tn.tensor([[1, 1]], device=device), src * 2, reduce="multiply").tolist() == [[1, 8, 1],
                                                                                                   [1, 1, 1]]
    y = x.clone()
    assert y.scatter_(1, idx, src) is y and y[0].tolist() == [2.0, 0.0, 1.0]
    z = x.clone()
    z.scatter_add_(0, tn.tensor([[1, 1, 1]], device=device), src)
    assert z.tolist() == [[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]]


def test_scatter_reduce_and_index_ops(device):
    x = tn.tensor([1.0, 2.0, 3.0], device=device)
    i = tn.tensor([0, 0, 2, 2], device=device)
    s = tn.tensor([5.0, -1.0, 2.0, 4.0], device=device)
    assert x.scatter_reduce(0, i, s, "sum").tolist() == [5.0, 2.0, 9.0]
    assert x.scatter_reduce(0, i, s, "prod", include_self=False).tolist() == [-5.0, 2.0, 8.0]
    assert x.scatter_reduce(0, i, s, "mean").tolist() == pytest.approx([5.0 / 3, 2.0, 3.0])
    assert x.scatter_reduce(0, i, s, "amax").tolist() == [5.0, 2.0, 4.0]
    assert x.scatter_reduce(0, i, s, "amin", include_self=False).tolist() == [-1.0, 2.0, 2.0]
    m = tn.zeros(2, 2, device=device)
    src = tn.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], device=device)
    j = tn.tensor([1, 0, 1], device=device)
    assert m.index_add(0, j, src, alpha=2).tolist() == [[6.0, 8.0], [12.0, 16.0]]
    assert m.index_copy(0, tn.tensor([1, 0], device=device), src[:2]).tolist() == [[3.0, 4.0], [1.0, 2.0]]
    assert m.index_reduce(0, j, src, "amax", include_self=False).tolist() == [[3.0, 4.0], [5.0, 6.0]]
    assert (m + 1).index_reduce(0, j, src, "prod").tolist() == [[3.0, 4.0], [5.0, 12.0]]
    n = m.clone()
    k = tn.tensor([[1, 0], [0, 0], [1, 1]], device=device)
    for name, args in (("index_add_", (0, j, src)), ("index_copy_", (0, j[:2], src[:2])),
                       ("index_reduce_", (0, j, src, "mean")), ("scatter_reduce_", (0, k, src, "sum"))):
        assert getattr(n, name)(*args) is n


def test_scatter_gradients_masked_and_split(device):
    x = tn.tensor([3.0, 1.0], dtype=tn.float64, device=device, requires_grad=True)
    s = tn.tensor([3.0, 3.0, 0.5], dtype=tn.float64, device=device, requires_grad=True)
    i = tn.tensor([0, 0, 1], device=device)
    x.scatter_reduce(0, i, s, "amax").sum().backward()
    assert x.grad.tolist() == [1 / 3, 1.0] and s.grad.tolist() == [1 / 3, 1 / 3, 0.0]  # ties split evenly
    x.grad = s.grad = None
    x.scatter(0, i[:2], s[:2]).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0] and s.grad.tolist() == [1.0, 1.0, 0.0]


def test_scatter_errors(device):
    x = tn.zeros(2, 3, device=device)
    idx = tn.tensor([[0, 1]], device=device)
    src = tn.ones(1, 2, device=device)
    with pytest.raises(TypeError, match="int64 index"):
        x.scatter(1, idx.float(), src)
    with pytest.raises(ShapeError, match="same number of dimensions as self"):
        x.scatter(1, tn.tensor([0], device=device), src)
    with pytest.raises(ShapeError, match="same number of dimensions as src"):
        x.scatter_add(1, idx, tn.ones(2, device=device))
    with pytest.raises(ShapeError, match="no larger than self"):
        x.scatter(1, tn.zeros(3, 1, dtype=tn.int64, device=device), tn.ones(3, 1, device=device))
    with pytest.raises(ShapeError, match="no larger than src"):
        x.scatter(1, tn.zeros(1, 3, dtype=tn.int64, device=device), src)
    with pytest.raises(IndexError, match="index 3 is out of range for axis 1 of size 3"):
        x.scatter(1, idx + 2, src)
    with pytest.raises(IndexError, match="out of range for axis"):
        x.scatter_reduce(0, idx - 4, src, "sum")
    with pytest.raises(TypeError, match="src.dtype"):
        x.scatter(1, idx, src.double())
    with pytest.raises(TypeError, match="exactly one of src"):
        x.scatter(1, idx)
    with pytest.raises(ValueError, match="'add' or 'multiply'"):
        x.scatter(1, idx, src, reduce="sum")
    with pytest.raises(ValueError, match="reduce argument must be one of"):
        x.scatter_reduce(1, idx, src, "max")
    with pytest.raises(ValueError, match="reduce argument must be one of"):
        x.index_reduce(0, tn.tensor([0], device=device), tn.ones(1, 3, device=device), "sum")
    with pytest.raises(ShapeError, match=r"expected \(2, 3\)"):
        x.index_add(1, tn.tensor([0, 1, 2], device=device), tn.ones(2, 2, device=device))
    with pytest.raises(ShapeError, match="1 dimension"):
        x.index_copy(0, tn.tensor([[0]], device=device), tn.ones(1, 3, device=device))
    with pytest.raises(IndexError, match="out of range for axis 0 of size 2"):
        x.index_add(0, tn.tensor([2], device=device), tn.ones(1, 3, device=device))
    with pytest.raises(TypeError, match="same scalar type"):
        x.index_add(0, tn.tensor([1], device=device), tn.ones(1, 3, dtype=tn.float64, device=device))
    with pytest.raises(TypeError, match="float alpha"):
        tn.zeros(2, dtype=tn.int64, device=device).index_add(0, tn.tensor([1], device=device),
                                                             tn.ones(1, dtype=tn.int64, device=device), alpha=0.5)


def test_device_mismatch_is_a_device_error():
    if "cuda" not in tn.backend.available_devices():
        pytest.skip("needs the (simulated) cuda device")
    x = tn.zeros(2, 3, device="cuda")
    with pytest.raises(DeviceError, match="cpu"):
        x.scatter_add(1, tn.tensor([[0]], device="cuda"), tn.ones(1, 1))
    with pytest.raises(DeviceError, match="cpu"):
        x.masked_fill(tn.tensor([True, False, True]), 0.0)
    with pytest.raises(DeviceError, match="cpu"):
        x[0] = tn.ones(3, requires_grad=True)


def test_integer_scatter_keeps_dtype(device):
    x = tn.tensor([1, 2, 3], device=device)
    out = x.scatter_add(0, tn.tensor([0, 0], device=device), tn.tensor([10, 20], device=device))
    assert out.dtype == tn.int64 and out.tolist() == [31, 2, 3]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = x.scatter_reduce(0, tn.tensor([2], device=device), tn.tensor([7], device=device), "amax")
        assert out.tolist() == [1, 2, 7]


def test_setitem_in_graph_keeps_memory_shared_with_views(device):
    base = tn.zeros(2, 3, dtype=tn.float64, device=device)
    row = base[1]                                    # a view of a constant
    v = tn.tensor(4.0, dtype=tn.float64, device=device, requires_grad=True)
    row[2] = v * 2                                   # recorded (v requires grad): row is rebased ...
    assert base.tolist() == [[0.0, 0.0, 0.0], [0.0, 0.0, 8.0]]  # ... and the base sees the value
    row.sum().backward()
    assert v.grad.item() == 2.0


def test_setitem_refusals_in_graph(device):
    x = tn.ones(2, 3, device=device, requires_grad=True)
    y = x * 1
    with pytest.raises(RuntimeError, match=r"view .*x\[i, j\] = v"):
        y[0][1] = 5.0                                # would hide the write from y's gradient
    y[0, 1] = 5.0                                    # the one-step form works
    assert y[0].tolist() == [1.0, 5.0, 1.0]
    e = tn.zeros(3, device=device).expand(2, 3)
    if e.device.type == "cpu" or tn.cuda.is_simulated():
        with pytest.raises(RuntimeError, match="can't be written"):
            e[0, 0] = 1.0


def test_old_value_saved_by_the_graph_is_protected(device):
    x = tn.ones(3, dtype=tn.float64, device=device, requires_grad=True)
    y = x.exp()                                      # exp saves its output
    z = y * 1
    y2 = z.sin()                                     # sin saves its input z
    z[0] = 0.0
    with pytest.raises(RuntimeError, match="modified in place"):
        y2.sum().backward()
