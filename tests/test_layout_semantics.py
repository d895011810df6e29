"""Layout, shape and linear-algebra ops: semantics the op registry does not cover (views,
non-differentiable results, PyTorch's signatures and defaults) and every error path, on
every device (cpu and simulated or real cuda through the ``device`` fixture)."""
import math

import numpy as np
import pytest

import tinynet as tn
from tinynet.backend.errors import DeviceError, ShapeError


def _t(a, device, dtype=tn.float64, requires_grad=False):
    return tn.tensor(np.asarray(a), dtype=dtype, device=device, requires_grad=requires_grad)


def _np(t):
    return np.asarray(t.detach().numpy())


# --- shape signatures -------------------------------------------------------------------------
def test_reshape_view_permute_expand_signatures(device):
    x = tn.arange(24.0, device=device).reshape(2, 3, 4)
    assert x.reshape(4, 6).shape == x.reshape((4, 6)).shape == x.view(4, -1).shape == x.view([4, 6]).shape == (4, 6)
    assert x.permute(2, 0, 1).shape == x.permute((2, 0, 1)).shape == (4, 2, 3)
    assert x.permute(-1, 0, 1).shape == (4, 2, 3)
    assert x.transpose(0, 2).shape == x.swapdims(0, 2).shape == tn.swapdims(x, 2, 0).shape == (4, 3, 2)
    y = tn.zeros(3, 1, device=device)
    assert y.expand(2, -1, 4).shape == y.expand((2, 3, 4)).shape == (2, 3, 4)
    assert tn.zeros(1, 3, 1, 2).squeeze((0, 2)).shape == (3, 2)
    assert tn.zeros(1, 3).squeeze(1).shape == (1, 3)  # a dim that is not 1 is left alone (PyTorch)
    assert x.flatten(1, 2).shape == (2, 12) and x.flatten().shape == (24,)
    assert x.unsqueeze(-1).shape == (2, 3, 4, 1)


def test_permute_errors():
    x = tn.zeros(2, 3, 4)
    for bad in ((0, 1, 5), (0, 0, 1), (0, 1), (0, 1, 2, 3)):
        with pytest.raises(ShapeError, match="permutation"):
            x.permute(*bad)


def test_expand_minus_one_on_new_axis_is_an_error():
    with pytest.raises(ShapeError, match="-1 is not allowed"):
        tn.zeros(3).expand(-1, 3)


def test_view_dtype_reinterprets_bytes_and_shares_memory(device):
    x = _t([[1.0, 2.0], [3.0, -4.0]], device, dtype=tn.float32, requires_grad=True)
    v = x.view(tn.int32)
    expected = np.array([[1.0, 2.0], [3.0, -4.0]], dtype=np.float32).view(np.int32)
    assert v.dtype == tn.int32 and np.array_equal(_np(v), expected)
    assert not v.requires_grad and v.grad_fn is None  # reinterpreting bits has no gradient
    assert x.view(tn.int8).shape == (2, 8) and x.view(tn.float16).shape == (2, 4)
    assert x.view(tn.float64).shape == (2, 1)
    with tn.no_grad():
        x.view(tn.int32)[0, 0] = np.array(2.5, dtype=np.float32).view(np.int32)
    assert x[0, 0].item() == 2.5  # shares memory


def test_view_dtype_errors():
    with pytest.raises(ShapeError, match="0-d"):
        tn.tensor(1.0).view(tn.float64)
    with pytest.raises(ShapeError, match="multiple"):
        tn.zeros(2, 3).view(tn.float64)
    with pytest.raises(ShapeError, match="contiguous"):
        tn.zeros(4, 4).T.view(tn.float64)
    with pytest.raises(TypeError, match="unknown dtype"):
        tn.zeros(2).view("not-a-dtype")


# --- join ---------------------------------------------------------------------------------------
def test_split_chunk_tensor_split_sizes(device):
    x = tn.arange(7.0, device=device)
    assert [p.shape[0] for p in x.split(3)] == [3, 3, 1]
    assert [p.shape[0] for p in x.split([2, 5])] == [2, 5]
    assert [p.shape[0] for p in x.chunk(4)] == [2, 2, 2, 1]
    assert [p.shape[0] for p in tn.arange(5.0).chunk(4)] == [2, 2, 1]  # fewer chunks, as in PyTorch
    assert [p.shape[0] for p in x.tensor_split(3)] == [3, 2, 2]
    assert [p.tolist() for p in tn.tensor_split(x, [1, 4])] == [[0.0], [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert [p.shape[0] for p in tn.tensor_split(x, tn.tensor([5, 2]))] == [5, 0, 5]
    assert [p.shape[0] for p in tn.tensor_split(tn.arange(2.0), 4)] == [1, 1, 0, 0]


def test_stack_family_shapes(device):
    a, b = tn.arange(3.0, device=device), tn.arange(3.0, device=device)
    assert tn.hstack([a, b]).shape == (6,)
    assert tn.vstack([a, b]).shape == (2, 3)
    assert tn.dstack([a, b]).shape == (1, 3, 2)
    assert tn.column_stack([a, b]).shape == (3, 2)
    assert tn.column_stack([tn.tensor(1.0), tn.tensor(2.0)]).shape == (1, 2)
    assert tn.concat([a.reshape(1, 3), b.reshape(1, 3)], dim=0).shape == (2, 3)


def test_join_errors():
    with pytest.raises(ValueError, match="positive"):
        tn.tensor_split(tn.zeros(3), 0)
    with pytest.raises(TypeError, match="integer"):
        tn.tensor_split(tn.zeros(3), tn.tensor([1.0]))
    with pytest.raises(ShapeError, match="0-d"):
        tn.tensor_split(tn.tensor(1.0), 2)
    with pytest.raises(TypeError, match="list or tuple"):
        tn.hstack(tn.zeros(3))


# --- layout ops: values and views ------------------------------------------------------------
def test_narrow_select_unbind_are_views(device):
    x = tn.arange(12.0, device=device).reshape(3, 4)
    n = x.narrow(1, 1, 2)
    s = x.select(0, -1)
    u = x.unbind(1)
    with tn.no_grad():
        x.mul_(2)
    assert n.tolist() == [[2.0, 4.0], [10.0, 12.0], [18.0, 20.0]]
    assert s.tolist() == [16.0, 18.0, 20.0, 22.0]
    assert len(u) == 4 and u[3].tolist() == [6.0, 14.0, 22.0]


def test_repeat_interleave_forms(device):
    reps = tn.tensor([1, 0, 2], device=device)
    assert tn.repeat_interleave(reps).tolist() == [0, 2, 2]
    x = tn.tensor([[1, 2], [3, 4]], device=device)
    assert x.repeat_interleave(2).tolist() == [1, 1, 2, 2, 3, 3, 4, 4]
    assert x.repeat_interleave(tn.tensor([2]), dim=0).tolist() == [[1, 2], [1, 2], [3, 4], [3, 4]]
    assert x.repeat_interleave(tn.tensor([1, 2]), dim=1, output_size=3).tolist() == [[1, 2, 2], [3, 4, 4]]


def test_flip_roll_rot90_values(device):
    x = tn.arange(6.0, device=device).reshape(2, 3)
    assert x.flip(0).tolist() == [[3.0, 4.0, 5.0], [0.0, 1.0, 2.0]]
    assert tn.fliplr(x).tolist() == [[2.0, 1.0, 0.0], [5.0, 4.0, 3.0]]
    assert tn.flipud(x).tolist() == x.flip(0).tolist()
    assert x.roll(1).tolist() == [[5.0, 0.0, 1.0], [2.0, 3.0, 4.0]]
    assert x.roll(-1, 1).tolist() == [[1.0, 2.0, 0.0], [4.0, 5.0, 3.0]]
    assert x.rot90().tolist() == [[2.0, 5.0], [1.0, 4.0], [0.0, 3.0]]
    assert x.rot90(4).tolist() == x.tolist() and x.rot90(-1).tolist() == x.rot90(3).tolist()


def test_diag_and_diagonal_values(device):
    v = tn.tensor([1.0, 2.0], device=device)
    assert tn.diag(v).tolist() == [[1.0, 0.0], [0.0, 2.0]]
    assert tn.diag(v, -1).tolist() == [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 2.0, 0.0]]
    m = tn.arange(6.0, device=device).reshape(2, 3)
    assert m.diag().tolist() == [0.0, 4.0] and m.diag(1).tolist() == [1.0, 5.0]
    assert m.diagonal(5).shape == (0,)  # beyond the matrix: empty
    assert tn.diag_embed(tn.ones(2, 3)).shape == (2, 3, 3)


def test_meshgrid_and_cartesian_prod(device):
    a, b = tn.tensor([1, 2], device=device), tn.tensor([3, 4, 5], device=device)
    gi, gj = tn.meshgrid(a, b, indexing="ij")
    assert gi.shape == (2, 3) and gi.tolist() == [[1, 1, 1], [2, 2, 2]]
    gx, gy = tn.meshgrid([a, b], indexing="xy")
    assert gx.shape == (3, 2) and gy.tolist() == [[3, 3], [4, 4], [5, 5]]
    assert tn.cartesian_prod(a, b).tolist() == [[1, 3], [1, 4], [1, 5], [2, 3], [2, 4], [2, 5]]
    assert tn.cartesian_prod(a) is a


def test_pytorch_conveniences(device):
    x = tn.arange(6.0, device=device, dtype=tn.float64).reshape(2, 3)
    assert x.t().shape == (3, 2) and tn.t(tn.arange(3.0)).shape == (3,)
    assert x.view_as(tn.zeros(3, 2)).shape == (3, 2) and x.reshape_as(tn.zeros(6)).shape == (6,)
    assert tn.ones(3).expand_as(x[:, :]).shape == (2, 3)
    assert x.type_as(tn.zeros(1, dtype=tn.int64)).dtype == tn.int64
    z = x.new_zeros(2, 2)
    assert z.dtype == tn.float64 and z.device == x.device and z.tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert x.new_ones((1, 2), dtype=tn.float32).dtype == tn.float32
    assert x.new_full((2,), 7).tolist() == [7.0, 7.0] and x.new_full((2,), 7).dtype == tn.float64
    assert x.new_empty(3).shape == (3,)
    src = [1, 2]
    n = x.new_tensor(src)
    assert n.dtype == tn.float64 and n.device == x.device and n.tolist() == [1.0, 2.0]
    t = tn.tensor([1.0, 2.0], requires_grad=True)
    copy = t.new_tensor(t)
    assert copy.grad_fn is None and not copy.requires_grad
    with tn.no_grad():
        t.mul_(3)
    assert copy.tolist() == [1.0, 2.0]  # new_tensor copies


def test_clone_memory_format(device):
    x = tn.arange(24.0, device=device).reshape(1, 2, 3, 4)
    c = x.clone(memory_format=tn.channels_last)
    assert np.array_equal(_np(c), _np(x))
    assert c.array.strides[1] == c.array.itemsize  # channels are adjacent in memory (NHWC)
    assert tn.clone(x, memory_format=tn.contiguous_format).array.flags.c_contiguous
    assert x.clone(memory_format=tn.preserve_format).tolist() == x.tolist()


# --- layout errors ------------------------------------------------------------------------------
@pytest.mark.parametrize("call, exc, match", [
    (lambda x: x.repeat(2), ShapeError, "can't be smaller"),
    (lambda x: x.repeat(2, -1), ValueError, "non-negative"),
    (lambda x: x.repeat_interleave(tn.tensor([1, 2, 3]), dim=0), ShapeError, "one count per slice"),
    (lambda x: x.repeat_interleave(tn.tensor([1, -1]), dim=0), ValueError, "non-negative"),
    (lambda x: x.repeat_interleave(-1), ValueError, "non-negative"),
    (lambda x: x.repeat_interleave(2, dim=0, output_size=3), ShapeError, "output_size"),
    (lambda x: x.repeat_interleave(tn.tensor([1.0, 2.0]), dim=0), TypeError, "integer"),
    (lambda x: tn.repeat_interleave(tn.tensor([1.0])), TypeError, "integer tensor"),
    (lambda x: x.flip((0, 0)), ShapeError, "repeat"),
    (lambda x: tn.fliplr(x[0]), ShapeError, "at least 2"),
    (lambda x: tn.flipud(x[0, 0]), ShapeError, "at least 1"),
    (lambda x: x.roll((1, 2), 0), ShapeError, "same length"),
    (lambda x: x.roll((1, 2)), ShapeError, "single int"),
    (lambda x: x.rot90(1, (0,)), ShapeError, "exactly two"),
    (lambda x: x.rot90(1, (1, 1)), ShapeError, "differ"),
    (lambda x: x[0].rot90(), ShapeError, "at least 2"),
    (lambda x: x.movedim((0, 1), 0), ShapeError, "same number"),
    (lambda x: x.movedim((0, 0), (1, 0)), ShapeError, "repeated"),
    (lambda x: x.unflatten(1, (2, 2)), ShapeError, "multiply"),
    (lambda x: x.unflatten(1, (-1, -1)), ShapeError, "multiply"),
    (lambda x: x.narrow(1, 4, 1), IndexError, "out of range"),
    (lambda x: x.narrow(1, 1, 3), IndexError, "exceeds"),
    (lambda x: x.select(1, 3), IndexError, "out of range"),
    (lambda x: x[0, 0].select(0, 0), IndexError, "0-d"),
    (lambda x: x[0, 0].unbind(), IndexError, "0-d"),
    (lambda x: x[0].diagonal(), ShapeError, "at least 2"),
    (lambda x: x.diagonal(0, 1, 1), ShapeError, "different"),
    (lambda x: tn.diag_embed(x[0, 0]), ShapeError, "0-d"),
    (lambda x: tn.diag_embed(x, 0, 1, 1), ShapeError, "different"),
    (lambda x: tn.diag(x.reshape(1, 2, 3)), ShapeError, "1-D or 2-D"),
    (lambda x: tn.meshgrid(x, x), ShapeError, "0-D or 1-D"),
    (lambda x: tn.meshgrid(x[0], x[0], indexing="ji"), ValueError, "indexing"),
    (lambda x: tn.meshgrid(x[0], x[0].to(tn.float32)), TypeError, "same dtype"),
    (lambda x: tn.cartesian_prod(x), ShapeError, "1-D"),
    (lambda x: tn.cartesian_prod(), ValueError, "at least one"),
    (lambda x: x.reshape(1, 2, 3).t(), ShapeError, "at most 2"),
    (lambda x: x.clone(memory_format="nhwc"), ValueError, "memory_format"),
    (lambda x: x.clone(memory_format=tn.channels_last), ShapeError, "4-D"),
    (lambda x: x.view_as([1, 2]), TypeError, "Tensor"),
])
def test_layout_errors(call, exc, match, device):
    x = tn.arange(6.0, device=device, dtype=tn.float64).reshape(2, 3)
    with pytest.raises(exc, match=match):
        call(x)


# --- linear algebra: semantics ------------------------------------------------------------------
def test_norm_gradient_at_zero_is_zero(device):
    x = tn.zeros(3, dtype=tn.float64, device=device, requires_grad=True)
    tn.norm(x).backward()
    assert _np(x.grad).tolist() == [0.0, 0.0, 0.0]
    y = tn.zeros(2, 3, dtype=tn.float64, device=device, requires_grad=True)
    tn.linalg.vector_norm(y, 3, dim=1).sum().backward()
    assert not np.isnan(_np(y.grad)).any() and np.all(_np(y.grad) == 0)


def test_cdist_gradient_at_zero_distance(device):
    a = _t([[1.0, 2.0], [3.0, 4.0]], device, requires_grad=True)
    b = _t([[1.0, 2.0]], device, requires_grad=True)
    d = tn.cdist(a, b)
    assert _np(d)[0, 0] == 0.0
    d.sum().backward()
    ga, gb = _np(a.grad), _np(b.grad)
    assert np.isfinite(ga).all() and np.isfinite(gb).all()
    assert ga[0].tolist() == [0.0, 0.0]  # the zero distance contributes 0, not NaN
    for mode in ("use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist"):
        a.grad = b.grad = None
        dm = tn.cdist(a, b, compute_mode=mode)
        assert np.allclose(_np(dm), _np(d))
        dm.sum().backward()
        assert np.allclose(_np(a.grad), ga) and np.allclose(_np(b.grad), gb)
    assert type(tn.cdist(a, b, compute_mode="use_mm_for_euclid_dist").grad_fn).__name__ == "EuclidCdistMM"
    big = tn.zeros(26, 2, requires_grad=True)
    assert type(tn.cdist(big, tn.zeros(3, 2)).grad_fn).__name__ == "EuclidCdistMM"  # > 25 rows: mm
    assert type(tn.cdist(a, b).grad_fn).__name__ == "PNorm"  # small: exact differences


def test_norm_values(device):
    x = _t([[3.0, -4.0], [0.0, 0.0]], device)
    assert tn.norm(x).item() == 5.0
    assert tn.norm(x, 1).item() == 7.0 and tn.norm(x, 0).item() == 2.0
    assert tn.norm(x, math.inf).item() == 4.0 and tn.norm(x, -math.inf).item() == 0.0
    assert tn.norm(x, dim=1).tolist() == [5.0, 0.0]
    assert tn.norm(x, dim=1, keepdim=True).shape == (2, 1)
    assert x.norm(2, 0).tolist() == [3.0, 4.0]
    assert tn.linalg.norm(x).item() == 5.0
    assert tn.linalg.norm(x, 1).item() == 4.0  # matrix 1-norm: largest column sum
    assert tn.linalg.norm(x, math.inf).item() == 7.0  # largest row sum
    assert tn.linalg.vector_norm(x, keepdim=True).shape == (1, 1)
    assert tn.linalg.vector_norm(tn.tensor([3, 4]), dtype=tn.float64).item() == 5.0
    assert tn.linalg.matrix_norm(x, "nuc").item() == pytest.approx(5.0)


def test_products_and_inplace_forms(device):
    c = tn.ones(2, 2, dtype=tn.float64, device=device)
    a = tn.eye(2, dtype=tn.float64, device=device) * 2
    c.addmm_(a, a, beta=0.5, alpha=1)
    assert c.tolist() == [[4.5, 0.5], [0.5, 4.5]]
    b = tn.zeros(1, 2, 2, dtype=tn.float64, device=device)
    b.baddbmm_(a.unsqueeze(0), a.unsqueeze(0))
    assert b.tolist() == [[[4.0, 0.0], [0.0, 4.0]]]
    nan = tn.full((2, 2), float("nan"), dtype=tn.float64, device=device)
    assert not tn.addmm(nan, a, a, beta=0).isnan().any().item()  # beta=0 ignores the input
    assert tn.outer(tn.arange(2.0), tn.arange(3.0)).shape == (2, 3)
    assert tn.kron(tn.eye(2), tn.ones(2, 2)).tolist() == [[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0],
                                                          [0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]]


def test_einsum_forms_and_second_order(device):
    a = _t([[1.0, 2.0], [3.0, 4.0]], device, requires_grad=True)
    assert tn.einsum("ii", a).item() == 5.0
    assert tn.einsum("ij->ji", [a]).tolist() == [[1.0, 3.0], [2.0, 4.0]]
    assert tn.einsum("ij", a).tolist() == a.tolist()
    assert tn.einsum("ba", a).tolist() == [[1.0, 3.0], [2.0, 4.0]]  # implicit output: letters sorted
    assert tn.einsum(" i j , j k -> i k ", a, a).tolist() == [[7.0, 10.0], [15.0, 22.0]]
    # d/da sum(a @ a) twice: the gradient of an einsum is an einsum, so create_graph works
    y = tn.einsum("ij,jk->", a, a)
    (g,) = tn.autograd.grad([y], [a], create_graph=True)
    (gg,) = tn.autograd.grad([g.sum()], [a])
    assert np.allclose(_np(gg), 4.0)  # d/da_ij sum_kl (sum_m a_km + sum_m a_ml) = 2 + 2


@pytest.mark.parametrize("call, exc, match", [
    (lambda a: tn.einsum("ij,jk", a), ValueError, "operand subscripts"),
    (lambda a: tn.einsum("i1", a), ValueError, "invalid subscript"),
    (lambda a: tn.einsum("ijk", a), ShapeError, "name 3 dimensions"),
    (lambda a: tn.einsum("ij,ij", a, a[:, :2]), ShapeError, "size"),
    (lambda a: tn.einsum("ij->k", a), ValueError, "does not appear"),
    (lambda a: tn.einsum("ij->ii", a), ValueError, "repeat"),
    (lambda a: tn.einsum("ij->i->j", a), ValueError, "more than one"),
    (lambda a: tn.einsum("ij,jk", a, a.to(tn.float32)), TypeError, "one dtype"),
    (lambda a: tn.einsum("ij", [1, 2]), TypeError, "not a Tensor"),
    (lambda a: tn.einsum(3, a), TypeError, "string"),
    (lambda a: tn.einsum("ii", a), ShapeError, "sizes 2 and 3"),
    (lambda a: tn.einsum("ii", a[:1]), ShapeError, "different sizes"),
])
def test_einsum_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call(tn.zeros(2, 3, dtype=tn.float64))


@pytest.mark.parametrize("call, exc, match", [
    (lambda: tn.mm(tn.zeros(2, 3), tn.zeros(2, 3)), ShapeError, "cannot be multiplied"),
    (lambda: tn.mm(tn.zeros(3), tn.zeros(3, 2)), ShapeError, "2-D"),
    (lambda: tn.bmm(tn.zeros(2, 2, 3), tn.zeros(3, 3, 2)), ShapeError, r"\(b, n, m\)"),
    (lambda: tn.mv(tn.zeros(2, 3), tn.zeros(2)), ShapeError, "don't match"),
    (lambda: tn.dot(tn.zeros(2, 2), tn.zeros(2)), ShapeError, "1-D"),
    (lambda: tn.dot(tn.zeros(2), tn.zeros(3)), ShapeError, "different lengths"),
    (lambda: tn.vdot(tn.zeros(2), tn.zeros(3)), ShapeError, "different lengths"),
    (lambda: tn.outer(tn.zeros(2, 2), tn.zeros(2)), ShapeError, "1-D"),
    (lambda: tn.inner(tn.zeros(2), tn.zeros(3)), ShapeError, "last dimensions"),
    (lambda: tn.addmm(tn.zeros(3), tn.zeros(2, 2), tn.zeros(2, 2)), ShapeError, "can't be broadcast"),
    (lambda: tn.addmm([1.0], tn.zeros(2, 2), tn.zeros(2, 2)), TypeError, "Tensor"),
    (lambda: tn.tensordot(tn.zeros(2, 3), tn.zeros(2, 3), 1), ShapeError, "same size"),
    (lambda: tn.tensordot(tn.zeros(2, 3), tn.zeros(2, 3), 3), ShapeError, "out of range"),
    (lambda: tn.tensordot(tn.zeros(2, 3), tn.zeros(2, 3), ([0, 1], [0])), ShapeError, "same number"),
    (lambda: tn.tensordot(tn.zeros(2, 3), tn.zeros(2, 3), "x"), TypeError, "pair"),
    (lambda: tn.trace(tn.zeros(2, 2, 2)), ShapeError, "matrix"),
    (lambda: tn.linalg.vector_norm(tn.tensor([1, 2])), TypeError, "floating-point"),
    (lambda: tn.linalg.vector_norm(tn.zeros(2), "fro"), TypeError, "real number"),
    (lambda: tn.linalg.vector_norm(tn.zeros(0), math.inf), ShapeError, "empty"),
    (lambda: tn.linalg.vector_norm(tn.zeros(2, 2), dim=(0, 0)), ShapeError, "repeats"),
    (lambda: tn.linalg.matrix_norm(tn.zeros(3)), ShapeError, "at least 2"),
    (lambda: tn.linalg.matrix_norm(tn.zeros(2, 2), 3), ValueError, "unsupported ord"),
    (lambda: tn.linalg.matrix_norm(tn.zeros(2, 2), dim=(1, 1)), ShapeError, "differ"),
    (lambda: tn.linalg.matrix_norm(tn.zeros(2, 2), dim=0), ShapeError, "pair"),
    (lambda: tn.norm(tn.zeros(2), "abc"), ValueError, "unknown p"),
    (lambda: tn.norm(tn.zeros(2), out=tn.zeros(())), TypeError, "out="),
    (lambda: tn.norm(tn.zeros(2, 2, 2), "nuc"), ShapeError, "2-D"),
    (lambda: tn.norm(tn.zeros(2, 2, 2), "fro", dim=(0, 1, 2)), ShapeError, "at most two"),
    (lambda: tn.linalg.norm(tn.zeros(2, 2, 2), 2), ShapeError, "give dim"),
    (lambda: tn.linalg.norm(tn.zeros(2), "fro"), ValueError, "matrix norm"),
    (lambda: tn.linalg.norm(tn.zeros(2, 2, 2), dim=(0, 1, 2)), ShapeError, "pair"),
    (lambda: tn.cdist(tn.zeros(3), tn.zeros(2, 3)), ShapeError, "at least 2"),
    (lambda: tn.cdist(tn.zeros(2, 3), tn.zeros(2, 4)), ShapeError, "features"),
    (lambda: tn.cdist(tn.zeros(2, 3), tn.zeros(2, 3), compute_mode="fast"), ValueError, "compute_mode"),
    (lambda: tn.cdist(tn.zeros(2, 3), tn.zeros(2, 3), p=-1), ValueError, "non-negative"),
    (lambda: tn.linalg.inv(tn.zeros(2, 3)), ShapeError, "square"),
    (lambda: tn.linalg.inv(tn.zeros(2, 2)), ValueError, "singular"),
    (lambda: tn.linalg.inv(tn.zeros(2, 2, dtype=tn.int64)), TypeError, "floating"),
    (lambda: tn.linalg.cholesky(-tn.eye(2)), ValueError, "positive-definite"),
    (lambda: tn.linalg.solve(tn.eye(2), tn.zeros(3)), ShapeError, "rows"),
    (lambda: tn.linalg.solve(tn.eye(2), tn.zeros(2), left=False), ShapeError, "left=False"),
    (lambda: tn.linalg.solve(tn.eye(2), tn.zeros(2, dtype=tn.float64)), TypeError, "one dtype"),
    (lambda: tn.linalg.svdvals(tn.zeros(3)), ShapeError, "matrices"),
    (lambda: tn.linalg.multi_dot([tn.zeros(2, 2)]), ValueError, "two"),
    (lambda: tn.linalg.multi_dot([tn.zeros(2, 2), tn.zeros(2), tn.zeros(2, 2)]), ShapeError, "2-D"),
    (lambda: tn.linalg.matrix_power(tn.zeros(2, 3), 2), ShapeError, "square"),
])
def test_linalg_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_shape_and_device_errors_are_runtime_errors_too():
    with pytest.raises(RuntimeError):
        tn.mm(tn.zeros(2, 3), tn.zeros(2, 3))
    assert issubclass(DeviceError, RuntimeError)


def test_mixed_devices_are_refused():
    if "cuda" not in tn.backend.available_devices():
        pytest.skip("no cuda device")
    with pytest.raises(DeviceError, match="device"):
        tn.einsum("ij,jk", tn.zeros(2, 2), tn.zeros(2, 2, device="cuda"))


def test_svdvals_gradients_both_forms():
    a = tn.tensor([[2.0, 0.0], [0.0, 1.0]], dtype=tn.float64, requires_grad=True)
    (g,) = tn.autograd.grad([tn.linalg.svdvals(a).sum()], [a])
    assert np.allclose(_np(g), np.eye(2))
    (g2,) = tn.autograd.grad([tn.linalg.svdvals(a).sum()], [a], create_graph=True)
    assert np.allclose(_np(g2), np.eye(2)) and g2.requires_grad
    # repeated singular values (the identity): the plain backward stays finite
    b = tn.eye(2, dtype=tn.float64, requires_grad=True)
    tn.linalg.matrix_norm(b, "nuc").backward()
    assert np.allclose(_np(b.grad), np.eye(2))


def test_tn_linalg_is_the_linalg_namespace():
    assert tn.linalg.__name__ == "tinynet.linalg"
    for name in ("norm", "vector_norm", "matrix_norm", "matmul", "inv", "det", "solve", "cholesky", "svdvals"):
        assert callable(getattr(tn.linalg, name))


def test_decompositions_reconstruct(device):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, 4, 3))
    A = _t(a, device)
    U, S, Vh = tn.linalg.svd(A, full_matrices=False)
    assert np.allclose(_np(U @ tn.diag_embed(S) @ Vh), a)
    U, S, Vh = tn.linalg.svd(A)
    assert U.shape == (2, 4, 4) and Vh.shape == (2, 3, 3)
    Q, R = tn.linalg.qr(A)
    assert np.allclose(_np(Q @ R), a) and np.allclose(np.tril(_np(R), -1), 0)
    s = a[0].T @ a[0]
    w, V = tn.linalg.eigh(_t(s, device))
    assert np.allclose(_np(V @ tn.diag_embed(w) @ V.mT), s) and np.all(np.diff(_np(w)) > 0)
    L = tn.linalg.cholesky(_t(s, device))
    assert np.allclose(_np(L @ L.mT), s)
    assert np.allclose(_np(tn.linalg.cholesky(_t(s, device), upper=True)), _np(L).T)


def test_decomposition_gradients_that_are_not_defined_are_refused():
    a = tn.tensor(np.random.default_rng(1).standard_normal((4, 3)), dtype=tn.float64, requires_grad=True)
    U, S, Vh = tn.linalg.svd(a)  # full_matrices=True: U's last column is not unique
    with pytest.raises(RuntimeError, match="full_matrices"):
        U[:, 3].sum().backward()
    U, S, Vh = tn.linalg.svd(a)
    (S.sum() + U[:, :3].sum()).backward()  # the unique part is fine
    Q, R = tn.linalg.qr(a, mode="complete")
    with pytest.raises(RuntimeError, match="complete"):
        Q.sum().backward()


@pytest.mark.parametrize("call, exc, match", [
    (lambda: tn.linalg.eigh(tn.zeros(2, 3)), ShapeError, "square"),
    (lambda: tn.linalg.eigh(tn.eye(2), UPLO="X"), ValueError, "UPLO"),
    (lambda: tn.linalg.svd(tn.zeros(3)), ShapeError, "matrices"),
    (lambda: tn.linalg.svd(tn.zeros(2, 2, dtype=tn.int64)), TypeError, "floating"),
    (lambda: tn.linalg.qr(tn.zeros(3)), ShapeError, "matrices"),
    (lambda: tn.linalg.qr(tn.zeros(2, 2), mode="full"), ValueError, "mode"),
    (lambda: tn.linalg.qr(tn.zeros(2, 2, dtype=tn.int64)), TypeError, "floating"),
])
def test_decomposition_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_split_directions_atleast_and_block_diag(device):
    x = tn.arange(12.0, device=device).reshape(2, 6)
    assert [p.shape for p in x.hsplit(3)] == [(2, 2)] * 3
    assert [p.shape for p in tn.vsplit(x, [1])] == [(1, 6), (1, 6)]
    assert [p.shape for p in tn.dsplit(x.reshape(1, 2, 6), 2)] == [(1, 2, 3)] * 2
    assert [p.shape for p in tn.hsplit(tn.arange(4.0), 2)] == [(2,), (2,)]
    assert tn.atleast_1d(tn.tensor(1.0)).shape == (1,)
    assert tn.atleast_2d(tn.arange(3.0)).shape == (1, 3)
    assert [t.shape for t in tn.atleast_3d(tn.tensor(1.0), x)] == [(1, 1, 1), (2, 6, 1)]
    assert isinstance(tn.atleast_1d([tn.tensor(1.0)]), tuple)
    assert x.ravel().shape == (12,)
    c = x.narrow_copy(1, 0, 2)
    with tn.no_grad():
        x.mul_(0)
    assert c.tolist() == [[0.0, 1.0], [6.0, 7.0]]  # narrow_copy owns its memory
    assert tn.block_diag(tn.ones(1, 1, device=device), tn.tensor([2.0, 3.0], device=device)).tolist() == \
        [[1.0, 0.0, 0.0], [0.0, 2.0, 3.0]]


def test_roll_and_rot90_by_zero_return_new_tensors():
    x = tn.arange(4.0).reshape(2, 2)
    r, q = x.roll(0, 0), x.rot90(4)
    with tn.no_grad():
        x.mul_(0)
    assert r.tolist() == [[0.0, 1.0], [2.0, 3.0]] and q.tolist() == r.tolist()


def test_cross_and_logdet_and_einsum_sublist(device):
    a = _t([[1.0, 0.0, 0.0]], device)
    b = _t([[0.0, 1.0, 0.0]], device)
    assert tn.cross(a, b).tolist() == [[0.0, 0.0, 1.0]]
    assert tn.linalg.cross(b, a).tolist() == [[0.0, 0.0, -1.0]]
    assert tn.logdet(_t(np.eye(2) * 2, device)).item() == pytest.approx(math.log(4.0))
    assert math.isnan(tn.logdet(_t([[0.0, 1.0], [1.0, 0.0]], device)).item())  # det -1: NaN, as in PyTorch
    m = _t([[1.0, 2.0], [3.0, 4.0]], device)
    assert tn.einsum(m, [0, 1], m, [1, 2], [0, 2]).tolist() == [[7.0, 10.0], [15.0, 22.0]]
    assert tn.einsum(m, [Ellipsis, 0]).tolist() == m.tolist()


@pytest.mark.parametrize("call, exc, match", [
    (lambda: tn.hsplit(tn.zeros(2, 5), 2), ShapeError, "equal parts"),
    (lambda: tn.vsplit(tn.zeros(4), 2), ShapeError, "at least 2"),
    (lambda: tn.dsplit(tn.zeros(2, 2), 2), ShapeError, "at least 3"),
    (lambda: tn.atleast_2d(3), TypeError, "Tensor"),
    (lambda: tn.block_diag(tn.zeros(1, 1, 1)), ShapeError, "0-D, 1-D or 2-D"),
    (lambda: tn.block_diag(), ValueError, "at least one"),
    (lambda: tn.block_diag(tn.zeros(1), tn.zeros(1, dtype=tn.float64)), TypeError, "one dtype"),
    (lambda: tn.cross(tn.zeros(2, 2), tn.zeros(2, 2)), ShapeError, "size 3"),
    (lambda: tn.cross(tn.zeros(3, 2), tn.zeros(3, 2), dim=1), ShapeError, "size 3"),
    (lambda: tn.cross(tn.zeros(3), tn.zeros(1, 3)), ShapeError, "same number"),
    (lambda: tn.einsum(tn.zeros(2), [60]), ValueError, "sublist labels"),
    (lambda: tn.einsum(tn.zeros(2), [0], [0], [0]), TypeError, "alternate"),
])
def test_more_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("call, exc, match", [
    (lambda: tn.linalg.matrix_rank(tn.zeros(3)), ShapeError, "matrices"),
    (lambda: tn.linalg.matrix_rank(tn.zeros(2, 2, dtype=tn.int64)), TypeError, "floating"),
    (lambda: tn.linalg.vander(tn.tensor(1.0)), ShapeError, "at least 1"),
    (lambda: tn.linalg.vander(tn.zeros(3), N=0), ValueError, "positive"),
    (lambda: tn.linalg.solve_triangular(tn.eye(2), tn.zeros(2), upper=True), ShapeError, "matrices"),
    (lambda: tn.linalg.solve_triangular(tn.zeros(2, 3), tn.zeros(2, 2), upper=True), ShapeError, "square"),
    (lambda: tn.linalg.pinv(tn.zeros(3)), ShapeError, "matrices"),
    (lambda: tn.linalg.matrix_exp(tn.zeros(2, 3)), ShapeError, "square"),
    (lambda: tn.linalg.pinv(tn.zeros(2, 2, dtype=tn.int64)), TypeError, "floating"),
    (lambda: tn.repeat_interleave(tn.zeros(2), [1, 2]), TypeError, "repeats must be"),
])
def test_rank_vander_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_edge_shapes_match_pytorch(device):
    assert [p.shape for p in tn.zeros(0, 2, device=device).chunk(3)] == [(0, 2)] * 3
    assert tn.tensor(3.0, device=device).flip(()).shape == ()
    assert tn.tensor(3.0, device=device).movedim(0, -1).shape == ()
    assert tn.zeros(0, 3, device=device).roll(1, 0).shape == (0, 3)
    assert tn.linalg.det(tn.zeros(0, 0, device=device)).item() == 1.0
    assert tn.einsum("ij,jk->ik", tn.zeros(2, 0, device=device), tn.zeros(0, 3, device=device)).tolist() == [[0.0] * 3] * 2
