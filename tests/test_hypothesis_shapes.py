"""Property tests over drawn shapes (MiniTorch-style): broadcasting pairs with size-0 and size-1
axes, non-contiguous inputs (transposed, strided and reversed views), matmul, reductions and
indexing. Forward values are checked against NumPy float64; gradients against analytic formulas
evaluated in NumPy, or against finite differences (``tn.gradcheck``)."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import tinynet as tn
from conftest import DEVICES

dims = st.integers(0, 3)
seeds = st.integers(0, 2**31 - 1)


# --- strategies ----------------------------------------------------------------------------------
@st.composite
def shapes(draw, min_dims=0, max_dims=4, min_side=0):
    return tuple(draw(st.lists(st.integers(min_side, 3), min_size=min_dims, max_size=max_dims)))


@st.composite
def broadcast_pairs(draw):
    """Two shapes that broadcast: b drops some leading axes of a and sets some axes to 1 (or a does)."""
    out = draw(shapes(min_dims=0, max_dims=4))
    lead = draw(st.integers(0, len(out)))
    a = list(out)
    b = [1 if draw(st.booleans()) else n for n in out[lead:]]
    a = [1 if draw(st.integers(0, 3)) == 0 else n for n in a]
    if draw(st.booleans()):
        a, b = b, a
    return tuple(a), tuple(b)


@st.composite
def layouts(draw):
    """How to lay an input out in memory: contiguous, transposed, strided or reversed."""
    return draw(st.sampled_from(["contiguous", "transposed", "strided", "reversed"]))


def make_input(values, layout, device, requires_grad=True):
    """A float64 tensor equal to ``values`` whose data is (for most layouts) a non-contiguous view.

    The view is made by tinynet ops on a leaf ``base``, so gradients flow back through the
    view op too; returns (leaf, view).
    """
    if layout == "transposed" and values.ndim >= 2:
        base = tn.tensor(np.ascontiguousarray(np.swapaxes(values, 0, -1)), dtype=tn.float64, device=device,
                         requires_grad=requires_grad)
        view = base.swapaxes(0, -1)
    elif layout == "strided" and values.ndim >= 1:
        big = np.zeros((values.shape[0] * 2,) + values.shape[1:])
        big[::2] = values
        base = tn.tensor(big, dtype=tn.float64, device=device, requires_grad=requires_grad)
        view = base[::2]
    elif layout == "reversed" and values.ndim >= 1:
        base = tn.tensor(np.ascontiguousarray(values[..., ::-1]), dtype=tn.float64, device=device,
                         requires_grad=requires_grad)
        view = base[..., ::-1]
    else:
        base = tn.tensor(values, dtype=tn.float64, device=device, requires_grad=requires_grad)
        view = base
    assert view.shape == values.shape
    return base, view


def sum_to_shape(g, shape):
    """NumPy reference of unbroadcast: sum ``g`` down to ``shape``."""
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead))) if lead else g
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


def leaf_grad(base, view_grad, layout):
    """Map the gradient w.r.t. the view back to the leaf's layout (the inverse of make_input)."""
    if layout == "transposed" and view_grad.ndim >= 2:
        return np.swapaxes(view_grad, 0, -1)
    if layout == "strided" and view_grad.ndim >= 1:
        full = np.zeros(base.shape)
        full[::2] = view_grad
        return full
    if layout == "reversed" and view_grad.ndim >= 1:
        return view_grad[..., ::-1]
    return view_grad


def grad_of(t):
    return t.grad.numpy() if t.grad is not None else np.zeros(t.shape)


# --- elementwise binary ops with broadcasting ------------------------------------------------------
BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b, lambda a, b: (np.ones_like(a), np.ones_like(b))),
    "sub": (lambda a, b: a - b, lambda a, b: a - b, lambda a, b: (np.ones_like(a), -np.ones_like(b))),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, lambda a, b: (b, a)),
    "div": (lambda a, b: a / b, lambda a, b: a / b, lambda a, b: (1 / b, -a / b ** 2)),
    "maximum": (tn.maximum, np.maximum, lambda a, b: ((a > b).astype(float), (b > a).astype(float))),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", list(BINARY))
@given(pair=broadcast_pairs(), la=layouts(), lb=layouts(), seed=seeds)
def test_broadcast_binary_ops(op, device, pair, la, lb, seed):
    fn, ref, dref = BINARY[op]
    rng = np.random.default_rng(seed)
    sa, sb = pair
    a = rng.standard_normal(sa)
    b = rng.uniform(0.5, 2.0, sb) * rng.choice([-1, 1], sb)  # away from 0 for div, no ties for maximum
    base_a, ta = make_input(a, la, device)
    base_b, tb = make_input(b, lb, device)
    out = fn(ta, tb)
    want = ref(a, b)
    assert out.shape == want.shape and out.dtype == tn.float64 and out.device == device
    np.testing.assert_allclose(out.detach().numpy(), want, rtol=1e-12, atol=1e-12)
    w = rng.standard_normal(want.shape)
    (out * tn.tensor(w, dtype=tn.float64, device=device)).sum().backward()
    da, db = dref(*np.broadcast_arrays(a, b))
    np.testing.assert_allclose(grad_of(base_a), leaf_grad(base_a, sum_to_shape(w * da, sa), la), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad_of(base_b), leaf_grad(base_b, sum_to_shape(w * db, sb), lb), rtol=1e-10, atol=1e-12)
    assert base_a.grad is None or base_a.grad.shape == base_a.shape


@pytest.mark.parametrize("device", DEVICES)
@given(shape=shapes(), layout=layouts(), seed=seeds)
def test_unary_ops_on_views(device, shape, layout, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.3, 2.0, shape)
    base, t = make_input(x, layout, device)
    out = tn.exp(t) + tn.log(t) * tn.sqrt(t) - abs(-t) ** 2
    want = np.exp(x) + np.log(x) * np.sqrt(x) - x ** 2
    np.testing.assert_allclose(out.detach().numpy(), want, rtol=1e-12)
    out.sum().backward()
    dx = np.exp(x) + (np.sqrt(x) / x + np.log(x) / (2 * np.sqrt(x))) - 2 * x
    np.testing.assert_allclose(grad_of(base), leaf_grad(base, dx, layout), rtol=1e-10)


# --- matmul -----------------------------------------------------------------------------------------
@st.composite
def matmul_shapes(draw):
    m, k, n = draw(dims), draw(dims), draw(dims)
    batch_a, batch_b = draw(broadcast_pairs())
    batch_a, batch_b = batch_a[:2], batch_b[:2]
    kind = draw(st.sampled_from(["mm", "vec_left", "vec_right", "vec_vec"]))
    if kind == "vec_vec":
        return (k,), (k,)
    if kind == "vec_left":
        return (k,), batch_b + (k, n)
    if kind == "vec_right":
        return batch_a + (m, k), (k,)
    return batch_a + (m, k), batch_b + (k, n)


@pytest.mark.parametrize("device", DEVICES)
@given(sh=matmul_shapes(), la=layouts(), lb=layouts(), seed=seeds)
def test_matmul_shapes_and_gradients(device, sh, la, lb, seed):
    sa, sb = sh
    try:
        np.broadcast_shapes(sa[:-2], sb[:-2])
    except ValueError:
        assume(False)
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    base_a, ta = make_input(a, la, device)
    base_b, tb = make_input(b, lb, device)
    out = ta @ tb
    want = a @ b
    assert out.shape == want.shape
    np.testing.assert_allclose(out.detach().numpy(), want, rtol=1e-10, atol=1e-12)
    # analytic gradients: promote 1-D operands to matrices, use dA = G B^T, dB = A^T G, sum to shape
    w = rng.standard_normal(want.shape)
    (out * tn.tensor(w, dtype=tn.float64, device=device)).sum().backward()
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    g2 = w.reshape(np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]) + (a2.shape[-2], b2.shape[-1]))
    da = sum_to_shape(g2 @ np.swapaxes(b2, -1, -2), a2.shape).reshape(sa)
    db = sum_to_shape(np.swapaxes(a2, -1, -2) @ g2, b2.shape).reshape(sb)
    np.testing.assert_allclose(grad_of(base_a), leaf_grad(base_a, da, la), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(grad_of(base_b), leaf_grad(base_b, db, lb), rtol=1e-9, atol=1e-12)


# --- reductions ---------------------------------------------------------------------------------------
@st.composite
def reduce_cases(draw, min_side=0):
    shape = draw(shapes(min_dims=0, max_dims=4, min_side=min_side))
    nd = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"])) if nd else "none"
    if kind == "none":
        axis = None
    elif kind == "int":
        axis = draw(st.integers(-nd, nd - 1))
    else:
        axis = tuple(draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True)))
    return shape, axis, draw(st.booleans())


def _count(shape, axis):
    if axis is None:
        return int(np.prod(shape))
    axes = (axis,) if isinstance(axis, int) else axis
    return int(np.prod([shape[a] for a in axes]))


def _spread(rng, shape):
    """Distinct values (no ties, so max/min gradients are unambiguous)."""
    n = int(np.prod(shape))
    return ((rng.permutation(n) - n / 2) * 0.37 + rng.uniform(-0.1, 0.1, n)).reshape(shape)


def _lse(x, axis, keepdims):
    m = np.max(x, axis=axis, keepdims=True) if x.size else np.zeros([1] * x.ndim)
    with np.errstate(divide="ignore"):
        s = np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m
    if keepdims:
        return s
    return s.reshape(np.sum(x, axis=axis).shape)


REDUCTIONS = {
    "sum": (lambda t, ax, kd: t.sum(axis=ax, keepdims=kd), lambda x, ax, kd: x.sum(axis=ax, keepdims=kd)),
    "mean": (lambda t, ax, kd: t.mean(axis=ax, keepdims=kd), lambda x, ax, kd: x.mean(axis=ax, keepdims=kd)),
    "max": (lambda t, ax, kd: t.amax(axis=ax, keepdims=kd), lambda x, ax, kd: x.max(axis=ax, keepdims=kd)),
    "min": (lambda t, ax, kd: tn.amin(t, ax, kd), lambda x, ax, kd: x.min(axis=ax, keepdims=kd)),
    "var": (lambda t, ax, kd: t.var(axis=ax, keepdims=kd), lambda x, ax, kd: x.var(axis=ax, keepdims=kd, ddof=1)),
    "logsumexp": (lambda t, ax, kd: tn.logsumexp(t, ax, kd), _lse),
    "prod": (lambda t, ax, kd: t.prod(axis=ax, keepdims=kd), lambda x, ax, kd: x.prod(axis=ax, keepdims=kd)),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", list(REDUCTIONS))
@given(case=reduce_cases(), layout=layouts(), seed=seeds)
def test_reductions_forward_and_gradcheck(op, device, case, layout, seed):
    shape, axis, keepdims = case
    n = _count(shape, axis)
    if op in ("max", "min"):
        assume(n > 0)
    if op == "var":
        assume(n >= 2)
    if op == "mean":
        assume(n > 0)  # the mean of nothing is nan (as in NumPy and PyTorch)
    rng = np.random.default_rng(seed)
    x = _spread(rng, shape)
    fn, ref = REDUCTIONS[op]
    base, t = make_input(x, layout, device)
    out = fn(t, axis, keepdims)
    want = ref(x, axis, keepdims)
    assert out.shape == np.shape(want), (out.shape, np.shape(want))
    np.testing.assert_allclose(out.detach().numpy(), want, rtol=1e-10, atol=1e-12)
    if n == 0 and op == "logsumexp":
        assert np.all(out.detach().numpy() == -np.inf)  # log(0): no gradient to check
        return
    assert tn.gradcheck(lambda b: fn(make_view(b, layout), axis, keepdims), (base,), mode="random", n_directions=2)


def make_view(base, layout):
    """Re-apply make_input's view to the leaf (for gradcheck, which perturbs the leaf)."""
    if layout == "transposed" and base.ndim >= 2:
        return base.swapaxes(0, -1)
    if layout == "strided" and base.ndim >= 1:
        return base[::2]
    if layout == "reversed" and base.ndim >= 1:
        return base[..., ::-1]
    return base


@pytest.mark.parametrize("device", DEVICES)
@given(case=reduce_cases(), seed=seeds)
def test_sum_and_mean_gradients_are_broadcast_copies(device, case, seed):
    shape, axis, keepdims = case
    rng = np.random.default_rng(seed)
    x = tn.tensor(rng.standard_normal(shape), dtype=tn.float64, device=device, requires_grad=True)
    n = _count(shape, axis)
    out = x.sum(axis=axis, keepdims=keepdims) + x.mean(axis=axis, keepdims=keepdims) if n else x.sum(axis=axis, keepdims=keepdims)
    out.backward(tn.ones(out.shape, dtype=tn.float64, device=device))
    expect = 1.0 + (1.0 / n if n else 0.0)
    np.testing.assert_allclose(x.grad.numpy(), np.full(shape, expect))
    assert x.grad.shape == shape


@pytest.mark.parametrize("device", DEVICES)
@given(case=reduce_cases(min_side=1), seed=seeds)
def test_argmax_argmin_match_numpy(device, case, seed):
    shape, axis, keepdims = case
    assume(not isinstance(axis, tuple))
    x = _spread(np.random.default_rng(seed), shape)
    t = tn.tensor(x, device=device)
    assert t.argmax(axis, keepdims).tolist() == np.argmax(x, axis=axis, keepdims=keepdims).tolist()
    assert tn.argmin(t, dim=axis, keepdim=keepdims).tolist() == np.argmin(x, axis=axis, keepdims=keepdims).tolist()
    assert t.argmax(axis).dtype == tn.int64


# --- indexing -------------------------------------------------------------------------------------------
@st.composite
def index_cases(draw):
    shape = draw(shapes(min_dims=1, max_dims=3, min_side=1))
    key = []
    advanced_used = False
    for n in shape:
        if draw(st.integers(0, 4)) == 0:
            key.append(None)
        choice = draw(st.sampled_from(["int", "slice", "array", "full"]))
        if choice == "int":
            key.append(draw(st.integers(-n, n - 1)))
        elif choice == "slice":
            start = draw(st.none() | st.integers(-n - 1, n + 1))
            stop = draw(st.none() | st.integers(-n - 1, n + 1))
            step = draw(st.none() | st.sampled_from([1, 2, -1, -2, 3]))
            key.append(slice(start, stop, step))
        elif choice == "array" and not advanced_used:
            advanced_used = True
            key.append(np.array(draw(st.lists(st.integers(-n, n - 1), min_size=0, max_size=5)), dtype=np.int64))
        else:
            key.append(slice(None))
    if draw(st.booleans()) and len(key) > 1 and not any(isinstance(k, np.ndarray) for k in key):
        key = [Ellipsis] + key[len(key) // 2 + 1:]
    return shape, tuple(key)


@pytest.mark.parametrize("device", DEVICES)
@given(case=index_cases(), layout=layouts(), seed=seeds)
def test_getitem_forward_and_scatter_add_gradient(device, case, layout, seed):
    shape, key = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    base, t = make_input(x, layout, device)
    tkey = tuple(tn.tensor(k, device=device) if isinstance(k, np.ndarray) and seed % 2 else k for k in key)
    out = t[tkey]
    want = x[key]
    assert out.shape == np.shape(want)
    np.testing.assert_array_equal(out.detach().numpy(), want)
    w = rng.standard_normal(np.shape(want))
    (out * tn.tensor(w, dtype=tn.float64, device=device)).sum().backward()
    dx = np.zeros(shape)
    np.add.at(dx, key, w)  # repeated indices add up
    np.testing.assert_allclose(grad_of(base), leaf_grad(base, dx, layout), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
@given(shape=shapes(min_dims=1, max_dims=3), seed=seeds, layout=layouts())
def test_boolean_mask_indexing(device, shape, seed, layout):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    lead = rng.integers(1, len(shape) + 1)
    mask = rng.random(shape[:lead]) > 0.5
    base, t = make_input(x, layout, device)
    out = t[tn.tensor(mask, device=device)]
    np.testing.assert_array_equal(out.detach().numpy(), x[mask])
    out.sum().backward()
    expect = np.zeros(shape)
    expect[mask] = 1.0
    np.testing.assert_array_equal(grad_of(base), leaf_grad(base, expect, layout))


@pytest.mark.parametrize("device", DEVICES)
@given(sizes=st.lists(dims, min_size=1, max_size=3), other=dims, axis=st.integers(0, 1), seed=seeds)
def test_cat_split_round_trip(device, sizes, other, axis, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((n, other) if axis == 0 else (other, n)) for n in sizes]
    ts = [tn.tensor(a, dtype=tn.float64, device=device, requires_grad=True) for a in arrays]
    joined = tn.cat(ts, axis)
    np.testing.assert_array_equal(joined.detach().numpy(), np.concatenate(arrays, axis))
    pieces = tn.split(joined, sizes, dim=axis)
    assert len(pieces) == len(sizes)
    for p, a in zip(pieces, arrays):
        np.testing.assert_array_equal(p.detach().numpy(), a)
    sum((p * (i + 1)).sum() for i, p in enumerate(pieces)).backward()
    for i, t in enumerate(ts):
        np.testing.assert_array_equal(grad_of(t), np.full(t.shape, i + 1.0))


@given(shape=shapes(min_dims=2, max_dims=3, min_side=1), seed=seeds, kind=st.sampled_from(["T", "step", "flip"]))
def test_leaf_with_non_contiguous_data_matches_a_contiguous_copy(shape, seed, kind):
    """A leaf whose array is itself a strided NumPy view (tn.from_numpy shares it) behaves like a copy."""
    rng = np.random.default_rng(seed)
    big = rng.standard_normal(tuple(2 * max(shape) for _ in shape))  # every axis long enough for each view
    swapped = (shape[-1],) + tuple(shape[1:-1]) + (shape[0],)
    view = {"T": np.swapaxes(big[tuple(slice(0, n) for n in swapped)], 0, -1),
            "step": big[tuple(slice(None, 2 * n, 2) for n in shape)],
            "flip": big[tuple(slice(n - 1, None, -1) for n in shape)][tuple(slice(0, n) for n in shape)]}[kind]
    a = tn.from_numpy(view).requires_grad_()
    b = tn.tensor(np.ascontiguousarray(view), dtype=tn.float64, requires_grad=True)
    w = tn.tensor(rng.standard_normal((shape[-1], 2)), dtype=tn.float64)

    def f(t):
        return (tn.logsumexp(t @ w, -1) + t.max(-1).values * t[..., :1].sum(-1) + t.var(-1, correction=0)).sum()

    ya, yb = f(a), f(b)
    np.testing.assert_allclose(ya.item(), yb.item(), rtol=1e-12)
    ya.backward()
    yb.backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)
