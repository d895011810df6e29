"""The Tensor's user-facing surface: creation, dtypes, properties, conversion, operators, DLPack, seeds."""
import math

import numpy as np
import pytest

import tinynet as tn


# --- creation ------------------------------------------------------------------------------
def test_tensor_from_python_data_infers_default_dtypes(device):
    assert tn.tensor([[1.0, 2.0]], device=device).dtype == tn.float32
    assert tn.tensor([1, 2], device=device).dtype == tn.int64
    assert tn.tensor([True, False], device=device).dtype == tn.bool
    assert tn.tensor(3.5, device=device).shape == ()
    assert tn.tensor(np.zeros(2, dtype=np.float64), device=device).dtype == tn.float64  # arrays keep floats
    assert tn.tensor(np.zeros(2, dtype=np.int32), device=device).dtype == tn.int32  # NumPy dtypes kept, as torch
    assert tn.tensor([1, 2], dtype=tn.float64, device=device).dtype == tn.float64


def test_tensor_copies_its_data():
    a = np.ones(3, dtype=np.float32)
    t = tn.tensor(a)
    a[0] = 7
    assert t.tolist() == [1.0, 1.0, 1.0]


def test_filled_creation_functions(device):
    z = tn.zeros(2, 3, device=device)
    assert z.shape == (2, 3) and z.dtype == tn.float32 and z.device == device
    assert tn.zeros((2, 3)).shape == (2, 3)
    assert tn.ones(4, dtype=tn.float64, device=device).tolist() == [1.0] * 4
    f = tn.full((2, 2), 7, device=device)
    assert f.dtype == tn.int64 and f.tolist() == [[7, 7], [7, 7]]
    assert tn.full((2,), 0.5).dtype == tn.float32
    assert tn.full((1,), True).dtype == tn.bool
    assert tn.eye(3, device=device).numpy().tolist() == np.eye(3).tolist()
    assert tn.eye(2, 3).shape == (2, 3)
    assert tn.empty(0, 4).shape == (0, 4)


def test_arange_dtypes_and_values(device):
    a = tn.arange(5, device=device)
    assert a.dtype == tn.int64 and a.tolist() == [0, 1, 2, 3, 4]
    b = tn.arange(1.0, 2.0, 0.25)
    assert b.dtype == tn.float32 and b.tolist() == [1.0, 1.25, 1.5, 1.75]
    assert tn.arange(2, 8, 3).tolist() == [2, 5]
    assert tn.linspace(0, 1, 5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_like_functions_follow_the_template(device):
    t = tn.zeros(2, 3, dtype=tn.float64, device=device)
    for fn in (tn.zeros_like, tn.ones_like, tn.rand_like, tn.randn_like, tn.empty_like):
        out = fn(t)
        assert out.shape == (2, 3) and out.dtype == tn.float64 and out.device == device
    assert tn.full_like(t, 3.0).tolist() == [[3.0] * 3] * 2
    assert tn.ones_like(t, dtype=tn.int64).dtype == tn.int64


def test_random_creation_ranges_and_dtypes(device):
    u = tn.rand(1000, device=device).numpy()
    assert u.dtype == np.float32 and 0.0 <= u.min() and u.max() < 1.0
    n = tn.randn(4000).numpy()
    assert abs(n.mean()) < 0.1 and abs(n.std() - 1) < 0.1
    r = tn.randint(3, 7, size=(500,), device=device)
    assert r.dtype == tn.int64 and set(r.tolist()) == {3, 4, 5, 6}
    assert sorted(tn.randperm(6).tolist()) == list(range(6))


def test_manual_seed_makes_draws_reproducible(device):
    tn.manual_seed(123)
    a = [tn.randn(3, device=device).tolist(), tn.rand(2).tolist(), tn.randint(0, 100, size=(4,)).tolist()]
    tn.manual_seed(123)
    b = [tn.randn(3, device=device).tolist(), tn.rand(2).tolist(), tn.randint(0, 100, size=(4,)).tolist()]
    assert a == b
    tn.manual_seed(124)
    assert tn.randn(3).tolist() != a[0]


def test_same_seed_gives_same_numbers_on_cpu_and_cuda():
    if "cuda" not in tn.backend.available_devices():
        pytest.skip("no cuda device")
    tn.manual_seed(5)
    a = tn.randn(4).tolist()
    tn.manual_seed(5)
    assert tn.randn(4, device="cuda").tolist() == a


def test_bad_sizes_raise():
    with pytest.raises(ValueError, match="non-negative"):
        tn.zeros(-1, 2)
    with pytest.raises(TypeError, match="dtype"):
        tn.zeros(2, dtype="not-a-dtype")


# --- properties and conversion -----------------------------------------------------------
def test_shape_ndim_size_dtype_device(device):
    t = tn.zeros(2, 3, 4, device=device)
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.dim() == 3
    assert t.size() == (2, 3, 4) and t.size(1) == 3 and t.size(-1) == 4 and t.numel() == 24
    assert t.dtype == tn.float32 and t.device == device and str(t.device) == device
    assert len(t) == 2
    assert t.is_cuda == (device == "cuda")


def test_numpy_item_tolist(device):
    t = tn.tensor([[1.5, 2.0], [3.0, 4.0]], device=device)
    arr = t.numpy()
    assert isinstance(arr, np.ndarray) and arr.dtype == np.float32
    np.testing.assert_array_equal(arr, [[1.5, 2.0], [3.0, 4.0]])
    assert t.tolist() == [[1.5, 2.0], [3.0, 4.0]]
    assert tn.tensor([[2.5]], device=device).item() == 2.5
    assert isinstance(tn.tensor(3, device=device).item(), int)
    assert float(tn.tensor(1.5)) == 1.5 and int(tn.tensor(4)) == 4
    with pytest.raises(ValueError, match="one-element"):
        t.item()


def test_numpy_of_cpu_tensor_shares_memory():
    t = tn.zeros(3)
    t.numpy()[0] = 5
    assert t.tolist()[0] == 5


def test_numpy_refuses_a_tensor_that_requires_grad():
    t = tn.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"detach\(\)"):
        t.numpy()
    assert t.detach().numpy().tolist() == [1.0, 1.0]


def test_to_dtype_and_device(device):
    t = tn.tensor([1.7, -2.2], device=device)
    assert t.to(tn.float64).dtype == tn.float64
    assert t.to(tn.int64).tolist() == [1, -2]
    assert t.double().dtype == tn.float64 and t.long().dtype == tn.int64 and t.float().dtype == tn.float32
    assert t.to(tn.float32) is t  # no-op
    other = "cpu" if device == "cuda" else ("cuda" if "cuda" in tn.backend.available_devices() else "cpu")
    moved = t.to(other)
    assert moved.device == other and moved.tolist() == t.tolist()
    both = t.to(other, tn.float64)
    assert both.device == other and both.dtype == tn.float64
    assert t.to(tn.zeros(1, dtype=tn.float64)).dtype == tn.float64
    assert t.cpu().device == "cpu"


def test_to_device_is_differentiable():
    if "cuda" not in tn.backend.available_devices():
        pytest.skip("no cuda device")
    x = tn.tensor([1.0, 2.0], requires_grad=True)
    y = (x.to("cuda") * 3).sum()
    y.backward()
    assert x.grad.device == "cpu" and x.grad.tolist() == [3.0, 3.0]


def test_detach_shares_data_and_leaves_the_graph():
    x = tn.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    assert np.shares_memory(d.array, y.array)


def test_requires_grad_rules():
    x = tn.tensor([1.0])
    assert not x.requires_grad and x.grad is None and x.is_leaf
    x.requires_grad_()
    assert x.requires_grad
    x.requires_grad = False
    assert not x.requires_grad
    y = tn.tensor([1.0], requires_grad=True) * 2
    assert y.requires_grad and not y.is_leaf
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)
    for dt in (tn.int64, tn.bool):
        with pytest.raises(RuntimeError, match="floating-point"):
            tn.tensor([1], dtype=dt, requires_grad=True)
        with pytest.raises(RuntimeError, match="floating-point"):
            tn.zeros(2, dtype=dt).requires_grad_()
    with pytest.raises(RuntimeError, match="floating-point"):
        tn.ones(2, dtype=tn.int64, requires_grad=True)


def test_results_of_int_ops_do_not_require_grad():
    x = tn.tensor([1.0, 2.0], requires_grad=True)
    assert not (x > 1).requires_grad
    assert not x.argmax().requires_grad


# --- repr ------------------------------------------------------------------------------------
def test_repr_is_readable(device):
    assert repr(tn.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(tn.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(tn.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    assert "dtype=tn.float64" in repr(tn.zeros(2, dtype=tn.float64))
    assert "grad_fn=<Mul>" in repr(tn.tensor([1.0], requires_grad=True) * 2)
    if device == "cuda":
        assert "device='cuda'" in repr(tn.zeros(2, device=device))
    big = repr(tn.zeros(1000))
    assert "..." in big and len(big) < 400


# --- operators -------------------------------------------------------------------------------
def test_python_operators_match_numpy(device):
    a_np = np.array([[1.0, -2.0, 3.0], [0.5, 4.0, -1.0]])
    b_np = np.array([2.0, 0.5, -3.0])
    a, b = tn.tensor(a_np, device=device), tn.tensor(b_np, device=device)
    cases = {
        "+": (a + b, a_np + b_np), "-": (a - b, a_np - b_np), "*": (a * b, a_np * b_np),
        "/": (a / b, a_np / b_np), "**": (abs(a) ** b, np.abs(a_np) ** b_np), "neg": (-a, -a_np),
        "r+": (1 + a, 1 + a_np), "r-": (1 - a, 1 - a_np), "r*": (2 * a, 2 * a_np), "r/": (1 / b, 1 / b_np),
        "r**": (2 ** a, 2 ** a_np), "@": (a @ b, a_np @ b_np), "abs": (abs(a), np.abs(a_np)), "pos": (+a, a_np),
    }
    for name, (got, want) in cases.items():
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, err_msg=name)
    assert (a > 1).tolist() == (a_np > 1).tolist()
    assert (a <= b).tolist() == (a_np <= b_np).tolist()
    assert (a == a).all().item() and not (a != a).any().item()
    m = (a > 0) & (a < 3)
    assert m.tolist() == ((a_np > 0) & (a_np < 3)).tolist()
    assert (~m).tolist() == (~((a_np > 0) & (a_np < 3))).tolist()
    assert ((a > 3) | (a < -1)).tolist() == ((a_np > 3) | (a_np < -1)).tolist()


def test_numpy_array_on_the_left_calls_the_tensor_operator():
    t = tn.tensor([1.0, 2.0])
    out = np.array([1.0, 1.0], dtype=np.float32) + t
    assert isinstance(out, tn.Tensor) and out.tolist() == [2.0, 3.0]


def test_scalar_promotion_follows_pytorch(device):
    f32 = tn.ones(2, device=device)
    i64 = tn.tensor([1, 2], device=device)
    assert (f32 * 2).dtype == tn.float32 and (f32 + 2.5).dtype == tn.float32
    assert (i64 * 2).dtype == tn.int64
    assert (i64 + 1.5).dtype == tn.float32  # int tensor + Python float -> default float
    assert (i64 + f32).dtype == tn.float32  # NumPy would give float64
    assert (i64 / i64).dtype == tn.float32
    assert (f32 + tn.ones(2, dtype=tn.float64, device=device)).dtype == tn.float64


def test_in_place_ops_and_bool_conversion(device):
    t = tn.zeros(3, device=device)
    t += 1
    t *= 3
    t -= tn.ones(3, device=device)
    t /= 2
    assert t.tolist() == [1.0, 1.0, 1.0]
    t[1] = 5
    assert t.tolist() == [1.0, 5.0, 1.0]
    t.zero_()
    assert t.tolist() == [0.0] * 3
    assert bool(tn.tensor([1.0])) and not bool(tn.tensor(0))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(tn.zeros(2))


def test_iteration_yields_rows(device):
    t = tn.arange(6, device=device).reshape(3, 2)
    assert [r.tolist() for r in t] == [[0, 1], [2, 3], [4, 5]]


# --- DLPack --------------------------------------------------------------------------------------
def test_dlpack_export_to_numpy_is_zero_copy():
    t = tn.arange(6.0).reshape(2, 3)
    a = np.from_dlpack(t)
    assert np.shares_memory(a, t.array)
    t.array[0, 0] = 42
    assert a[0, 0] == 42


def test_dlpack_import_from_numpy_is_zero_copy():
    a = np.arange(4.0)
    t = tn.from_dlpack(a)
    assert t.dtype == tn.float64 and np.shares_memory(t.array, a)
    a[1] = -1
    assert t.tolist()[1] == -1


def test_dlpack_round_trip_with_torch_is_zero_copy():
    torch = pytest.importorskip("torch")
    t = tn.arange(6.0).reshape(2, 3)
    tt = torch.from_dlpack(t)
    assert tt.shape == (2, 3) and tt.dtype == torch.float32
    tt[0, 0] = 100.0
    assert t.tolist()[0][0] == 100.0
    src = torch.arange(5, dtype=torch.float64)
    back = tn.from_dlpack(src)
    assert back.dtype == tn.float64 and back.device == "cpu"
    src[0] = -7.0
    assert back.tolist()[0] == -7.0
    assert tn.from_dlpack(torch.tensor([1, 2])).dtype == tn.int64


def test_dlpack_of_a_tensor_that_requires_grad_exports_its_data():
    x = tn.tensor([1.0, 2.0], requires_grad=True)
    assert np.from_dlpack(x).tolist() == [1.0, 2.0]


# --- the top-level namespace ---------------------------------------------------------------------
def test_public_names_exist():
    for name in ["tensor", "zeros", "ones", "full", "arange", "eye", "rand", "randn", "randint", "zeros_like",
                 "ones_like", "manual_seed", "float32", "float64", "int64", "bool", "no_grad", "gradcheck",
                 "gradgradcheck", "from_dlpack", "sum", "mean", "max", "min", "var", "std", "logsumexp",
                 "argmax", "argmin", "cat", "concatenate", "stack", "split", "chunk", "pad", "one_hot",
                 "reshape", "transpose", "permute", "squeeze", "unsqueeze", "where", "maximum", "matmul",
                 "gather", "index_select", "masked_fill"]:
        assert hasattr(tn, name), name
    assert callable(tn.autograd.grad) and callable(tn.cuda.is_available)
    assert math.isclose(tn.tensor(2.0).exp().item(), math.e ** 2, rel_tol=1e-6)


# --- semantics of reductions, indexing and joining that a reader might not guess -------------------
def test_max_dim_returns_values_and_indices_and_max_of_two_tensors_is_elementwise(device):
    x = tn.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]], device=device)
    values, indices = x.max(dim=1)  # PyTorch's named tuple (values, indices)
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    assert x.amax(dim=1).tolist() == [5.0, 7.0]  # values only
    assert x.argmax(dim=1).tolist() == [1, 0]  # first occurrence on ties
    assert tn.max(x).item() == 7.0 and x.min().item() == 0.0
    assert tn.max(x, tn.full((3,), 4.0, device=device)).tolist() == [[4.0, 5.0, 4.0], [7.0, 4.0, 7.0]]
    assert tn.max(x, dim=0, keepdim=True).values.shape == (1, 3)


def test_max_splits_the_gradient_evenly_among_ties():
    x = tn.tensor([3.0, 1.0, 3.0, 3.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1 / 3, 0.0, 1 / 3, 1 / 3])


def test_all_any(device):
    m = tn.tensor([[True, False], [True, True]], device=device)
    assert m.all().item() is False and m.any().item() is True
    assert m.all(dim=1).tolist() == [False, True] and tn.any(m, 0, keepdims=True).tolist() == [[True, True]]
    assert tn.tensor([0.0, 2.0], device=device).any().item() is True
    assert tn.all(tn.zeros(0, device=device)).item() is True


def test_var_std_conventions():
    x = tn.tensor([1.0, 2.0, 3.0, 6.0], dtype=tn.float64)
    assert x.var().item() == pytest.approx(np.var([1, 2, 3, 6], ddof=1))  # unbiased by default, like torch
    assert x.var(correction=0).item() == pytest.approx(np.var([1, 2, 3, 6]))
    assert x.var(unbiased=False).item() == x.var(ddof=0).item()
    assert x.std().item() == pytest.approx(np.std([1, 2, 3, 6], ddof=1))
    with np.errstate(invalid="ignore"):
        assert math.isnan(tn.tensor([2.0]).var().item())  # 0 / 0 with one sample, as in torch


def test_basic_indexing_returns_a_view_and_advanced_a_copy(device):
    x = tn.zeros(4, device=device)
    v = x[1:3]
    v.add_(1)
    assert x.tolist() == [0.0, 1.0, 1.0, 0.0]
    c = x[[1, 2]]
    c.add_(5)
    assert x.tolist() == [0.0, 1.0, 1.0, 0.0]
    a, b = tn.split(x, 2)
    b.fill_(9)
    assert x.tolist() == [0.0, 1.0, 9.0, 9.0]


def test_index_forms(device):
    x = tn.arange(12, device=device).reshape(3, 4)
    assert x[1].tolist() == [4, 5, 6, 7] and x[-1, -1].item() == 11 and x[1, 2].shape == ()
    assert x[True].shape == (1, 3, 4) and x[None, :, None].shape == (1, 3, 1, 4)
    assert x[..., 1].tolist() == [1, 5, 9] and x[::-1, ::2].tolist() == [[8, 10], [4, 6], [0, 2]]
    assert x[tn.tensor(2, device=device)].tolist() == [8, 9, 10, 11]
    assert x[[0, 0], [1, 3]].tolist() == [1, 3]
    assert x[x > 9].tolist() == [10, 11]
    assert x[[]].shape == (0, 4)
    assert tn.take(x, tn.tensor([[0, 11]], device=device)).tolist() == [[0, 11]]


def test_one_hot_shape_and_dtype(device):
    y = tn.tensor([[1, 0], [2, 1]], device=device)
    oh = tn.one_hot(y)
    assert oh.shape == (2, 2, 3) and oh.dtype == tn.int64 and oh.device == device
    assert oh.sum(-1).tolist() == [[1, 1], [1, 1]]
    assert tn.one_hot(tn.zeros(0, dtype=tn.int64), 4).shape == (0, 4)


def test_split_chunk_cat_stack_pad_shapes(device):
    x = tn.zeros(5, 6, device=device)
    assert [p.shape for p in tn.split(x, 2)] == [(2, 6), (2, 6), (1, 6)]
    assert [p.shape for p in x.split([1, 5], dim=1)] == [(5, 1), (5, 5)]
    assert [p.shape for p in x.chunk(4, dim=1)] == [(5, 2), (5, 2), (5, 2)]  # ceil(6/4)=2, so 3 chunks
    assert tn.cat([x, x], dim=-1).shape == (5, 12) and tn.concatenate([x, x]).shape == (10, 6)
    assert tn.stack([x, x, x], dim=1).shape == (5, 3, 6)
    assert tn.pad(x, (1, 2)).shape == (5, 9)  # PyTorch order: last axis first
    assert tn.pad(x, (1, 2, 3, 4)).shape == (12, 9)
    assert tn.pad(x, ((1, 2), (0, 0))).shape == (8, 6)  # NumPy pad_width: first axis first
    assert tn.pad(x, (1, 1), value=7.0).sum().item() == 70.0
