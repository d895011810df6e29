"""The small PyTorch conveniences real scripts hit first, each checked against PyTorch's meaning.

``Tensor.data``, custom ``tn.autograd.Function``, ``Tensor.register_hook``, ``randint`` and
``Generator``, integer ``arange``/``linspace``, formatting and printing of tensors and
dtypes, ``inference_mode``, ``set_default_device``, ``tn.cuda`` seeding, ``tn.backends``
flags, and ``tn.save``/``tn.load`` with file objects.
"""
from __future__ import annotations

import io
import pickle

import numpy as np
import pytest

import tinynet as tn
from tinynet.backend import registry

torch = pytest.importorskip("torch")

HAS_CUDA = registry.cuda_available() or registry.simulated_cuda()


# --- Tensor.data ---------------------------------------------------------------------------------
def test_data_is_a_tensor_sharing_storage_without_history():
    p = tn.nn.Parameter(tn.ones(3))
    d = p.data
    assert isinstance(d, tn.Tensor) and not d.requires_grad and d.grad_fn is None
    d.add_(2.0)  # PyTorch idiom: an update autograd does not see
    assert p.tolist() == [3.0, 3.0, 3.0]
    assert p.data.cpu().tolist() == [3.0, 3.0, 3.0]
    assert isinstance(p.array, np.ndarray)  # the raw array has its own name


def test_data_update_is_not_seen_by_the_version_check():
    # as in PyTorch, x.data changes skip the version counter (unlike x.detach())
    x = tn.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    x.data.mul_(1.0)
    y.backward()
    x2 = tn.tensor([1.0, 2.0], requires_grad=True)
    y2 = (x2.exp()).sum()
    x2.detach().mul_(1.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        y2.backward()


def test_data_assignment_swaps_values():
    p = tn.nn.Parameter(tn.zeros(2))
    p.data = tn.tensor([5.0, 6.0])
    assert p.tolist() == [5.0, 6.0] and p.requires_grad
    with pytest.raises(TypeError, match="expected a Tensor"):
        p.data = [1.0, 2.0]


# --- tn.autograd.Function ------------------------------------------------------------------------
class Cube(tn.autograd.Function):
    @staticmethod
    def forward(ctx, x, k=1.0):
        ctx.save_for_backward(x)
        ctx.k = k
        return x ** 3 * k

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x ** 2 * ctx.k, None


def _t(values, grad=True):
    return tn.tensor(values, dtype=tn.float64, requires_grad=grad)


def test_custom_function_matches_torch():
    class TCube(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, k=1.0):
            ctx.save_for_backward(x)
            ctx.k = k
            return x ** 3 * k

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x ** 2 * ctx.k, None

    vals = [[-1.5, 0.3], [2.0, 0.7]]
    x = _t(vals)
    tx = torch.tensor(vals, dtype=torch.float64, requires_grad=True)
    Cube.apply(x, 2.0).sum().backward()
    TCube.apply(tx, 2.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    assert tn.gradcheck(lambda a: Cube.apply(a, 0.5), (_t(vals),))
    assert tn.gradgradcheck(lambda a: Cube.apply(a, 0.5), (_t(vals),))


def test_custom_function_ctx_fields():
    seen = {}

    class Probe(tn.autograd.Function):
        @staticmethod
        def forward(ctx, a, b, n):
            seen["needs"] = ctx.needs_input_grad
            seen["grad_mode"] = tn.is_grad_enabled()
            return a * b * n

        @staticmethod
        def backward(ctx, g):
            return g, None, None

    a, b = _t([1.0, 2.0]), _t([3.0, 4.0], grad=False)
    out = Probe.apply(a, b, 2)
    assert seen == {"needs": (True, False, False), "grad_mode": False}
    assert out.requires_grad and out.grad_fn is not None
    with tn.no_grad():
        assert Probe.apply(a, b, 2).grad_fn is None


def test_custom_function_two_outputs_and_non_differentiable():
    class MaxWithIndex(tn.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            idx = tn.tensor(int(np.argmax(x.numpy())))
            ctx.mark_non_differentiable(idx)
            ctx.save_for_backward(idx)
            ctx.n = x.shape[0]
            return x.max(), idx

        @staticmethod
        def backward(ctx, g, g_idx):
            (idx,) = ctx.saved_tensors
            out = np.zeros(ctx.n)
            out[int(idx.item())] = 1.0
            return g * tn.tensor(out, dtype=tn.float64)

    x = _t([0.5, 3.0, 1.0])
    value, index = MaxWithIndex.apply(x)
    assert not index.requires_grad and index.item() == 1
    value.backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]


def test_custom_function_materialize_grads():
    got = {}

    class Pair(tn.autograd.Function):
        @staticmethod
        def forward(ctx, x, materialize):
            ctx.set_materialize_grads(materialize)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            got["g2"] = g2
            return g1 * 2 + (0 if g2 is None else g2 * 3), None

    for materialize in (True, False):
        x = _t([1.0, 2.0])
        first, _ = Pair.apply(x, materialize)
        first.sum().backward()
        assert x.grad.tolist() == [2.0, 2.0]
        assert (got["g2"] is None) == (not materialize)


def test_once_differentiable_refuses_double_backward():
    class Square(tn.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @tn.autograd.once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 2 * x

    x = _t([1.0, 2.0])
    Square.apply(x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]
    x = _t([1.0])
    (g,) = tn.autograd.grad(Square.apply(x).sum(), [x], create_graph=True)
    assert g.tolist() == [2.0] and not g.requires_grad  # as PyTorch: no graph through it
    with pytest.raises(RuntimeError, match="does not require grad"):
        g.sum().backward()
    seed = _t([1.0])  # a gradient that itself requires grad: refused by name
    with pytest.raises(RuntimeError, match="once_differentiable"):
        tn.autograd.grad(Square.apply(x), [x], grad_outputs=[seed], create_graph=True)


def test_custom_function_bad_backward_is_a_clear_error():
    class TooFew(tn.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g

    class WrongShape(tn.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return tn.ones(5, dtype=tn.float64)

    with pytest.raises(RuntimeError, match="returned 1 gradient"):
        TooFew.apply(_t([1.0]), _t([2.0])).sum().backward()
    with pytest.raises(ValueError, match="shape"):
        WrongShape.apply(_t([1.0, 2.0])).sum().backward()
    with pytest.raises(RuntimeError, match="not instantiated"):
        Cube()


def test_custom_function_broadcast_gradient_is_summed():
    class AddRow(tn.autograd.Function):
        @staticmethod
        def forward(ctx, x, row):
            return x + row

        @staticmethod
        def backward(ctx, g):
            return g, g  # g has x's shape; PyTorch sums it down to row's

    x, row = _t([[1.0, 2.0], [3.0, 4.0]]), _t([10.0, 20.0])
    AddRow.apply(x, row).sum().backward()
    assert row.grad.tolist() == [2.0, 2.0]


def test_custom_function_mark_dirty():
    class AddOneInPlace(tn.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1.0)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    a = _t([1.0, 2.0])
    h = a * 2
    out = AddOneInPlace.apply(h)
    assert out is h and h.tolist() == [3.0, 5.0]
    (h * h).sum().backward()
    assert a.grad.tolist() == [12.0, 20.0]
    with pytest.raises(RuntimeError, match="leaf tensor"):
        AddOneInPlace.apply(_t([1.0]))


# --- Tensor.register_hook ------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
@pytest.mark.parametrize("create_graph", [False, True])
def test_register_hook_matches_torch(create_graph):
    vals = [1.0, -2.0, 3.0]
    x, tx = _t(vals), torch.tensor(vals, dtype=torch.float64, requires_grad=True)
    seen, tseen = [], []
    for lib, t, log in ((tn, x, seen), (torch, tx, tseen)):
        t.register_hook(lambda g, log=log: log.append(g.tolist()))
        t.register_hook(lambda g: g * 10)  # replaces the leaf's gradient
        y = t * 2
        y.register_hook(lambda g: g + 1)  # non-leaf: changes what flows upstream
        z = (y * y).sum() + (t * 3).sum()  # t used twice: its hooks see the sum, once
        z.backward(create_graph=create_graph)
    assert seen == tseen
    np.testing.assert_allclose(x.grad.detach().numpy(), tx.grad.detach().numpy())


def test_register_hook_remove_and_autograd_grad():
    x = _t([1.0, 2.0])
    handle = x.register_hook(lambda g: g * 0)
    (g,) = tn.autograd.grad((x * 3).sum(), [x])
    assert g.tolist() == [0.0, 0.0]
    handle.remove()
    handle.remove()  # idempotent
    (g,) = tn.autograd.grad((x * 3).sum(), [x])
    assert g.tolist() == [3.0, 3.0]
    with pytest.raises(RuntimeError, match="doesn't require"):
        tn.ones(2).register_hook(lambda g: g)
    bad = _t([1.0, 2.0])
    bad.register_hook(lambda g: g.sum())
    with pytest.raises(ValueError, match="keep the gradient's shape"):
        (bad * 2).sum().backward()


# --- random numbers, ranges -----------------------------------------------------------------------
def test_randint_signatures_as_torch():
    tn.manual_seed(0)
    a = tn.randint(10, (3,))
    b = tn.randint(5, 8, (2, 2))
    c = tn.randint(0, 3, size=(4,))
    d = tn.randint(high=4, size=(2,))
    assert a.shape == (3,) and a.dtype == tn.int64 and 0 <= a.min().item() and a.max().item() < 10
    assert b.shape == (2, 2) and 5 <= b.min().item() and b.max().item() < 8
    assert c.shape == (4,) and d.shape == (2,)
    assert tn.randint(0, 2, (1000,)).float().mean().item() == pytest.approx(0.5, abs=0.08)
    with pytest.raises(TypeError, match="size"):
        tn.randint(5)
    with pytest.raises(ValueError, match="low < high"):
        tn.randint(5, 5, (2,))


def test_generator_is_independent_and_reproducible():
    g1 = tn.Generator().manual_seed(42)
    tn.manual_seed(1)
    first = tn.randn(4, generator=g1)
    global_draw = tn.rand(2)
    g2 = tn.Generator().manual_seed(42)
    tn.manual_seed(1)
    assert tn.randn(4, generator=g2).tolist() == first.tolist()
    assert tn.rand(2).tolist() == global_draw.tolist()  # the generator left the global one alone
    assert tn.randperm(5, generator=tn.Generator().manual_seed(0)).tolist() == \
        tn.randperm(5, generator=tn.Generator().manual_seed(0)).tolist()
    with pytest.raises(TypeError, match="tn.Generator"):
        tn.rand(2, generator=3)


@pytest.mark.parametrize("args", [(0.5, 5.5, 1), (0, 5, 1.5), (-3.7, 2, 1), (0, 10, 2.5), (5, 0, -2)])
def test_integer_arange_truncates_like_torch(args):
    assert tn.arange(*args, dtype=tn.int64).tolist() == torch.arange(*args, dtype=torch.int64).tolist()


def test_float_arange_and_integer_linspace_like_torch():
    np.testing.assert_allclose(tn.arange(0, 1, 0.3).numpy(), torch.arange(0, 1, 0.3).numpy(), rtol=1e-6)
    assert tn.arange(0, 1, 0.1).shape == tuple(torch.arange(0, 1, 0.1).shape)
    for start, end, steps in ((-5, 5, 4), (0, 10, 4), (-7.5, 3.2, 6)):
        assert tn.linspace(start, end, steps, dtype=tn.int64).tolist() == \
            torch.linspace(start, end, steps, dtype=torch.int64).tolist()
    with pytest.raises(ValueError, match="nonzero"):
        tn.arange(0, 5, 0.3, dtype=tn.int64)  # the step truncates to 0, as in PyTorch


# --- printing and formatting ----------------------------------------------------------------------
def test_dtype_prints_and_compares_like_torch():
    x = tn.ones(2)
    assert str(x.dtype) == "tinynet.float32" and repr(tn.int64) == "tinynet.int64"
    assert x.dtype == tn.float32 == np.float32 and x.dtype == np.dtype("float32")
    assert x.dtype != tn.float64 and x.dtype.is_floating_point and not tn.int64.is_floating_point
    assert tn.float is tn.float32 and tn.int is tn.int32 and tn.long is tn.int64 and tn.double is tn.float64
    assert pickle.loads(pickle.dumps(tn.float16)) is tn.float16
    assert np.zeros(2, dtype=tn.float64).dtype == np.float64  # NumPy accepts tinynet dtypes
    assert {np.dtype("float32"): "x"}[x.dtype] == "x"
    assert tn.get_default_dtype() is tn.float32
    with pytest.raises(AttributeError, match="bfloat16 is not supported"):
        tn.bfloat16  # noqa: B018


def test_format_of_a_0d_tensor():
    loss = tn.tensor(0.123456)
    assert f"{loss:.4f}" == "0.1235" and "{:.2e}".format(loss) == "1.23e-01"
    assert f"{tn.tensor(3)}" == "3" and f"{tn.ones(2)}" == str(tn.ones(2))  # as PyTorch
    with pytest.raises(TypeError, match="only 0-d"):
        f"{tn.ones(2):.3f}"  # noqa: B018


# --- modes, devices, flags -----------------------------------------------------------------------
def test_inference_mode():
    x = tn.ones(2, requires_grad=True)
    with tn.inference_mode():
        assert tn.is_inference_mode_enabled() and not tn.is_grad_enabled()
        assert (x * 2).grad_fn is None
    assert not tn.is_inference_mode_enabled() and tn.is_grad_enabled()

    @tn.inference_mode()
    def f(t):
        return t * 2

    @tn.inference_mode
    def g(t):
        return t * 3

    assert not f(x).requires_grad and not g(x).requires_grad
    with tn.inference_mode(False):
        assert (x * 2).requires_grad and not tn.is_inference_mode_enabled()


@pytest.mark.skipif(not HAS_CUDA, reason="no cuda device (real or simulated)")
def test_set_default_device():
    try:
        tn.set_default_device("cuda")
        assert tn.get_default_device().type == "cuda"
        assert tn.zeros(2).device.type == "cuda" and tn.tensor([1.0]).device.type == "cuda"
        assert tn.nn.Linear(2, 2).weight.device.type == "cuda"
        assert tn.from_numpy(np.ones(2)).device.type == "cpu"  # shares NumPy memory: stays on cpu
    finally:
        tn.set_default_device(None)
    assert tn.zeros(2).device.type == "cpu"


def test_cuda_seeding_and_backends_flags():
    tn.cuda.manual_seed(7)
    a = tn.rand(3)
    tn.cuda.manual_seed_all(7)
    assert tn.rand(3).tolist() == a.tolist() and tn.cuda.initial_seed() == 7
    tn.backends.cudnn.benchmark = True
    tn.backends.cudnn.deterministic = True
    assert tn.backends.cudnn.benchmark and tn.backends.cudnn.deterministic
    assert not tn.backends.cudnn.is_available() and not tn.backends.mps.is_available()
    tn.backends.cuda.matmul.allow_tf32 = True
    with pytest.raises(AttributeError, match="no flag 'benchmarks'"):
        tn.backends.cudnn.benchmarks = True
    tn.use_deterministic_algorithms(True)
    assert tn.are_deterministic_algorithms_enabled()
    tn.use_deterministic_algorithms(False)
    tn.set_float32_matmul_precision("high")
    assert tn.get_float32_matmul_precision() == "high"
    tn.set_float32_matmul_precision("highest")
    with pytest.raises(ValueError, match="highest"):
        tn.set_float32_matmul_precision("fast")


# --- save / load with file objects ----------------------------------------------------------------
def test_save_load_file_objects(tmp_path):
    model = tn.nn.Linear(3, 2)
    buf = io.BytesIO()
    tn.save({"model": model.state_dict(), "epoch": 3}, buf)
    buf.seek(0)
    back = tn.load(buf, map_location="cpu", weights_only=True)
    assert back["epoch"] == 3
    np.testing.assert_array_equal(back["model"]["weight"].numpy(), model.weight.detach().numpy())
    path = tmp_path / "m.npz"
    with open(path, "wb") as f:
        tn.save({"a": tn.arange(3)}, f)
    assert path.read_bytes().startswith(b"PK")  # the name ends in .npz: an npz archive
    with open(path, "rb") as f:
        assert tn.load(f)["a"].tolist() == [0, 1, 2]
    with pytest.raises(tn.serialization.CheckpointError, match="file object"):
        tn.load(io.BytesIO(b"not a checkpoint at all"))
    with pytest.raises(TypeError, match="binary mode"):
        tn.load(io.StringIO("text"))
    with pytest.raises(TypeError, match="unexpected keyword"):
        tn.save({}, io.BytesIO(), compress=True)


# --- small Tensor methods ---------------------------------------------------------------------------
def test_small_tensor_methods_match_torch():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    x, tx = tn.tensor(a), torch.tensor(a)
    for f in (lambda t: t.stride(), lambda t: t.T.stride(), lambda t: t.stride(1), lambda t: t.element_size(),
              lambda t: t.nelement(), lambda t: t.ndimension(), lambda t: t.is_contiguous(),
              lambda t: t.T.is_contiguous(), lambda t: t.T.contiguous().is_contiguous(),
              lambda t: t.is_floating_point(), lambda t: t.long().is_floating_point(), lambda t: t.get_device(),
              lambda t: t.H.tolist(), lambda t: t.equal(t.clone()), lambda t: t.equal(t + 1),
              lambda t: t.byte().element_size(), lambda t: t.short().element_size(),
              lambda t: t.char().element_size()):
        assert f(x) == f(tx)
    assert x.type() == "tinynet.FloatTensor" and x.long().type() == "tinynet.LongTensor"
    assert x.type("torch.DoubleTensor").dtype == tn.float64 and x.type(tn.int32).dtype == tn.int32
    assert x.data_ptr() == x.array.ctypes.data
    c = tn.ones(3)
    c.apply_(lambda v: v * 5)
    assert c.tolist() == [5.0, 5.0, 5.0]
    y = tn.ones(2, requires_grad=True) * 2
    y.detach_()
    assert y.grad_fn is None and not y.requires_grad
    assert x.to("cpu", non_blocking=True) is x


# --- error types ----------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [
    lambda: tn.nn.functional.softmax(tn.tensor([1, 2]), dim=0),           # float-only op on ints
    lambda: tn.zeros(3).scatter(0, tn.tensor([0]), tn.ones(1, dtype=tn.float64)),  # mixed dtypes
    lambda: -tn.tensor([True]),                                             # negating a mask
    lambda: tn.nn.functional.embedding(tn.ones(2), tn.ones(3, 2)),          # float token ids
    lambda: tn.nn.Linear(2, 2)(tn.ones(1, 2, dtype=tn.float64)),            # layer and input dtypes differ
])
def test_dtype_errors_are_type_and_runtime_errors(bad):
    """PyTorch raises RuntimeError for these; Python code expects TypeError: tinynet's are both."""
    with pytest.raises(TypeError) as info:
        bad()
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, tn.backend.DTypeError)


def test_shape_and_device_errors_are_value_and_runtime_errors():
    with pytest.raises(RuntimeError) as info:
        tn.ones(2, 3) @ tn.ones(2, 3)
    assert isinstance(info.value, ValueError)
    with pytest.raises(IndexError, match="integer or bool"):  # as PyTorch: an IndexError
        tn.ones(3)[tn.tensor([0.5])]


def test_backward_inputs_accumulates_only_into_those():
    a, b = _t([1.0, 2.0]), _t([3.0, 4.0])
    (a * b).sum().backward(inputs=[a])
    assert a.grad.tolist() == [3.0, 4.0] and b.grad is None
    ta, tb = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in ([1.0, 2.0], [3.0, 4.0]))
    (ta * tb).sum().backward(inputs=[ta])
    assert ta.grad.tolist() == a.grad.tolist() and tb.grad is None


def test_reductions_to_0d_are_tensors_that_can_change_in_place():
    s = tn.ones(3).sum()
    s.mul_(2)  # NumPy reduces to a scalar type; tinynet keeps a 0-d array, as a torch tensor is
    assert s.item() == 6.0 and s.shape == ()
    n = tn.ones(4).norm()
    n.add_(1)
    assert n.item() == 3.0


def test_argument_errors_are_value_and_runtime_errors():
    """PyTorch raises RuntimeError for bad argument values of ops: tinynet's are both."""
    F = tn.nn.functional
    for bad in (lambda: tn.ones(2).clip(None, None), lambda: tn.ones(2).div(tn.ones(2), rounding_mode="typo"),
                lambda: tn.arange(8.0).unfold(0, 1, -1), lambda: F.conv2d(tn.ones(1, 1, 4, 4), tn.ones(1, 1, 2, 2),
                                                                          padding=(1, 1, 1)),
                lambda: tn.einsum("ij,jk->kk->", tn.ones(2, 2), tn.ones(2, 2)),
                lambda: F.scaled_dot_product_attention(tn.ones(1, 2, 2), tn.ones(1, 2, 2), tn.ones(1, 2, 2),
                                                       attn_mask=tn.zeros(2, 2), is_causal=True)):
        with pytest.raises(RuntimeError) as info:
            bad()
        assert isinstance(info.value, ValueError), info.value


def test_integer_numpy_arrays_keep_their_dtype_and_int_max_pool():
    arr = np.arange(16, dtype=np.int32).reshape(1, 1, 4, 4)
    assert tn.tensor(arr).dtype == tn.int32 and torch.tensor(arr).dtype == torch.int32
    assert tn.tensor([1, 2]).dtype == tn.int64  # Python ints: int64, as torch
    got = tn.nn.functional.max_pool2d(tn.tensor(arr), 2)
    want = torch.nn.functional.max_pool2d(torch.tensor(arr), 2)
    assert got.dtype == tn.int32 and got.tolist() == want.tolist()
    with pytest.raises(RuntimeError, match="bool"):
        tn.linspace(0, 1, 3, dtype=tn.bool)


def test_integer_max_pool3d_like_torch():
    arr = np.arange(64, dtype=np.int32).reshape(1, 1, 4, 4, 4)
    got = tn.nn.functional.max_pool3d(tn.tensor(arr), 2)
    assert got.dtype == tn.int32 and got.tolist() == torch.nn.functional.max_pool3d(torch.tensor(arr), 2).tolist()
    with pytest.raises(TypeError):  # as torch, which refuses integer 1-d max pooling
        tn.nn.functional.max_pool1d(tn.tensor(arr[0, 0, 0, 0]).reshape(1, 1, 4), 2)
