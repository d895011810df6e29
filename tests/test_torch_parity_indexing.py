"""Parity with PyTorch (float64): indexing, index writes, masking and scatter ops.

Each case runs the same expression on tinynet and on torch tensors made from the same data,
backpropagates the same random weighting of the output and compares values and gradients.
Index tensors are built by each library from the same Python lists.
"""
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinynet as tn  # noqa: E402

SHAPE = (3, 4, 5)


def _lib(kind, device):
    """Index-tensor makers for one library: L (int64), I (int32), B (bool), S (0-d int64)."""
    if kind == "tn":
        return dict(L=lambda v: tn.tensor(v, dtype=tn.int64, device=device),
                    I=lambda v: tn.tensor(v, dtype=tn.int32, device=device),
                    B=lambda v: tn.tensor(v, dtype=tn.bool, device=device),
                    S=lambda v: tn.tensor(v, dtype=tn.int64, device=device))
    return dict(L=lambda v: torch.tensor(v, dtype=torch.int64), I=lambda v: torch.tensor(v, dtype=torch.int32),
                B=lambda v: torch.tensor(v, dtype=torch.bool), S=lambda v: torch.tensor(v, dtype=torch.int64))


_M34 = [[True, False, True, False], [False, False, True, True], [True, True, False, False]]

#: name -> key builder (gets the library's index makers); x has shape (3, 4, 5)
KEYS = {
    "int": lambda k: 1,
    "neg_int": lambda k: -1,
    "int_int": lambda k: (2, -3),
    "slices": lambda k: (slice(1, None), slice(None, 3), slice(0, 5, 2)),
    "none_ellipsis": lambda k: (None, Ellipsis, 1, None),
    "list": lambda k: [0, 2],
    "list_repeats": lambda k: [2, 0, 2, 2],
    "tuple_is_key": lambda k: (0, 1),
    "tuple_inside": lambda k: ((0, 2), slice(None)),
    "int_slice_tensor": lambda k: (0, slice(None), k["L"]([0, 4, 4])),  # PyTorch keeps the tensor's axis in place
    "tensor_slice_int": lambda k: (k["L"]([2, 0]), slice(None), 3),
    "int_tensor_int": lambda k: (1, k["L"]([0, 3, 3]), 2),
    "tensor_int_tensor": lambda k: (k["L"]([0, 2]), 1, k["L"]([4, 0])),
    "slice_tensor_tensor": lambda k: (slice(1, None), k["L"]([0, 1]), k["L"]([2, 3])),
    "tensor_slice_tensor": lambda k: (k["L"]([0, 2]), slice(None), k["L"]([1, 4])),
    "tensor_none_tensor": lambda k: (k["L"]([0, 2]), None, k["L"]([1, 3])),
    "none_tensor_slice_tensor": lambda k: (None, k["L"]([1, 2]), slice(None), k["L"]([0, 1])),
    "tensor_ellipsis_tensor": lambda k: (k["L"]([0, 1]), Ellipsis, k["L"]([0, 4])),
    "broadcast_2d": lambda k: (k["L"]([[0], [2]]), slice(None), k["L"]([[1, 3, 3]])),
    "int32_tensor": lambda k: (slice(None), k["I"]([3, 1])),
    "zero_d_tensor": lambda k: (k["S"](1), slice(None), k["L"]([0, 2])),
    "zero_d_tensor_alone": lambda k: k["S"](-1),
    "bool_mask_2d": lambda k: k["B"](_M34),
    "bool_mask_after_int": lambda k: (2, k["B"]([True, False, False, True])),
    "bool_mask_trailing": lambda k: (slice(None), k["B"](_M34[0]), k["L"]([0, 4])),
    "bool_mask_with_tensor": lambda k: (k["B"]([True, False, True]), slice(None), k["L"]([1, 2])),
    "python_true": lambda k: (True, k["L"]([0, 2])),
    "python_false": lambda k: (False,),
    "zero_d_bool": lambda k: k["B"](True),
    "empty_list": lambda k: [],
    "nested_list_as_tuple": lambda k: [[0, 2], [1, 3]],
    "ellipsis_tensor": lambda k: (Ellipsis, k["L"]([4, 0])),
    "tensor_2d_alone": lambda k: k["L"]([[0, 1], [2, 2]]),
}


def _ids(table):
    return list(table)


@pytest.mark.parametrize("name", _ids(KEYS))
def test_getitem_values_and_grads(name, device):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(SHAPE)
    xt = tn.tensor(a, dtype=tn.float64, device=device, requires_grad=True)
    xp = torch.tensor(a, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ot, op = xt[KEYS[name](_lib("tn", device))], xp[KEYS[name](_lib("torch", device))]
    assert tuple(ot.shape) == tuple(op.shape)
    np.testing.assert_array_equal(ot.detach().numpy(), op.detach().numpy())
    w = rng.standard_normal(tuple(op.shape))
    (ot * tn.tensor(w, dtype=tn.float64, device=device)).sum().backward()
    (op * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), xp.grad.numpy(), atol=1e-12)


#: setitem keys without repeated positions (which value wins at a repeat is unspecified)
SET_KEYS = [n for n in KEYS if n not in ("list_repeats", "int_slice_tensor", "int_tensor_int", "broadcast_2d",
                                         "tensor_2d_alone")]


@pytest.mark.parametrize("name", SET_KEYS)
@pytest.mark.parametrize("value_kind", ["full", "broadcast", "scalar"])
def test_setitem_values_and_grads(name, value_kind, device):
    rng = np.random.default_rng(1)
    a = rng.standard_normal(SHAPE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        target = torch.tensor(a)[KEYS[name](_lib("torch", device))].shape
    vshape = {"full": tuple(target), "broadcast": tuple(target)[-1:] if len(target) else (), "scalar": ()}[value_kind]
    v = rng.standard_normal(vshape)
    xt = tn.tensor(a, dtype=tn.float64, device=device, requires_grad=True)
    vt = tn.tensor(v, dtype=tn.float64, device=device, requires_grad=True)
    xp, vp = torch.tensor(a, requires_grad=True), torch.tensor(v, requires_grad=True)
    yt, yp = xt * 2, xp * 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yt[KEYS[name](_lib("tn", device))] = vt
        yp[KEYS[name](_lib("torch", device))] = vp
    np.testing.assert_allclose(yt.detach().numpy(), yp.detach().numpy(), atol=1e-12)
    w = rng.standard_normal(SHAPE)
    (yt * tn.tensor(w, dtype=tn.float64, device=device)).sum().backward()
    (yp * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), xp.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(vt.grad.numpy(), vp.grad.numpy(), atol=1e-12)


def _run(tn_fn, torch_fn, arrays, ints=(), device="cpu", seed=0):
    """Compare values and gradients (w.r.t. every float array) of the two functions."""
    rng = np.random.default_rng(seed)
    ts = [tn.tensor(a, dtype=tn.float64, device=device, requires_grad=True) for a in arrays]
    ps = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    it = [tn.tensor(i, dtype=tn.int64, device=device) for i in ints]
    ip = [torch.tensor(i, dtype=torch.int64) for i in ints]
    ot, op = tn_fn(*ts, *it), torch_fn(*ps, *ip)
    assert tuple(ot.shape) == tuple(op.shape)
    np.testing.assert_allclose(ot.detach().numpy(), op.detach().numpy(), atol=1e-12, rtol=1e-12)
    w = rng.standard_normal(tuple(op.shape))
    (ot * tn.tensor(w, dtype=tn.float64, device=device)).sum().backward()
    (op * torch.tensor(w)).sum().backward()
    for t, p in zip(ts, ps):
        gp = p.grad.numpy() if p.grad is not None else np.zeros(p.shape)
        gt = t.grad.numpy() if t.grad is not None else np.zeros(t.shape)
        np.testing.assert_allclose(gt, gp, atol=1e-12, rtol=1e-10)


R = np.random.default_rng(5)
X34 = R.standard_normal((3, 4))
IDX = [[0, 2, 2, 1], [1, 0, 0, 0]]          # repeats along dim 0 (shape 2 x 4)
IDX1 = [[3, 0, 3], [1, 1, 1], [0, 2, 2]]    # repeats along dim 1 (shape 3 x 3)
MASK = [[True, False, True, True], [False, False, False, True], [True, True, False, False]]
TIES = np.array([[1.0, 2.0, 2.0, 0.5], [2.0, 1.0, 2.0, 0.5], [1.0, 2.0, 0.0, 0.5]])

OPS = [
    ("gather_dim0", lambda x, i: tn.gather(x, 0, i), lambda x, i: torch.gather(x, 0, i), [X34], [IDX]),
    ("gather_dim1", lambda x, i: x.gather(1, i), lambda x, i: x.gather(1, i), [X34], [IDX1]),
    ("take_along_dim", lambda x, i: tn.take_along_dim(x, i, 1), lambda x, i: torch.take_along_dim(x, i, 1),
     [X34], [[[0, 3]]]),
    ("take_along_dim_none", lambda x, i: tn.take_along_dim(x, i), lambda x, i: torch.take_along_dim(x, i),
     [X34], [[[0, 11], [5, 5]]]),
    ("masked_select", lambda x: tn.masked_select(x, tn.tensor(MASK, device=x.device)),
     lambda x: torch.masked_select(x, torch.tensor(MASK)),
     [X34], []),
    ("masked_select_bcast", lambda x: x.masked_select(tn.tensor(MASK[0], device=x.device)),
     lambda x: x.masked_select(torch.tensor(MASK[0])), [X34], []),
    ("masked_fill", lambda x: x.masked_fill(tn.tensor(MASK, device=x.device), -2.0),
     lambda x: x.masked_fill(torch.tensor(MASK), -2.0),
     [X34], []),
    ("masked_fill_tensor_value", lambda x, v: x.masked_fill(tn.tensor(MASK, device=x.device), v.sum()),
     lambda x, v: x.masked_fill(torch.tensor(MASK), v.sum()), [X34, R.standard_normal(2)], []),
    ("masked_scatter", lambda x, s: x.masked_scatter(tn.tensor(MASK, device=x.device), s),
     lambda x, s: x.masked_scatter(torch.tensor(MASK), s), [X34, R.standard_normal((2, 5))], []),
    ("masked_scatter_bcast", lambda x, s: x.masked_scatter(tn.tensor(MASK[2], device=x.device), s),
     lambda x, s: x.masked_scatter(torch.tensor(MASK[2]), s), [X34, R.standard_normal(7)], []),
    ("index_fill", lambda x, i: x.index_fill(1, i, 3.0), lambda x, i: x.index_fill(1, i, 3.0), [X34], [[3, 0]]),
    ("index_fill_tensor_value_repeats", lambda x, v, i: x.index_fill(1, i, v[0]),
     lambda x, v, i: x.index_fill(1, i, v[0]), [X34, R.standard_normal(2)], [[3, 0, 3]]),
    ("index_put", lambda x, v, i: x.index_put((i,), v), lambda x, v, i: x.index_put((i,), v),
     [X34, R.standard_normal((2, 4))], [[2, 0]]),
    ("index_put_accumulate", lambda x, v, i, j: tn.index_put(x, (i, j), v, accumulate=True),
     lambda x, v, i, j: torch.index_put(x, (i, j), v, accumulate=True),
     [X34, R.standard_normal(5)], [[0, 2, 0, 0, 1], [1, 3, 1, 1, 0]]),
    ("tril", lambda x: tn.tril(x), lambda x: torch.tril(x), [R.standard_normal((2, 3, 4))], []),
    ("triu_diag", lambda x: x.triu(1), lambda x: x.triu(1), [R.standard_normal((2, 4, 3))], []),
    ("tril_neg", lambda x: x.tril(diagonal=-1), lambda x: x.tril(diagonal=-1), [X34], []),
    ("scatter_src", lambda x, s, i: x.scatter(0, i, s), lambda x, s, i: x.scatter(0, i, s),
     [X34, R.standard_normal((2, 4))], [[[0, 2, 1, 1], [1, 0, 0, 2]]]),
    ("scatter_value", lambda x, i: x.scatter(1, i, 2.5), lambda x, i: x.scatter(1, i, 2.5), [X34], [IDX1]),
    ("scatter_add", lambda x, s, i: tn.scatter_add(x, 0, i, s), lambda x, s, i: torch.scatter_add(x, 0, i, s),
     [X34, R.standard_normal((2, 4))], [IDX]),
    ("scatter_add_dim1", lambda x, s, i: x.scatter_add(1, i, s), lambda x, s, i: x.scatter_add(1, i, s),
     [X34, R.standard_normal((3, 3))], [IDX1]),
    ("index_add", lambda x, s, i: x.index_add(0, i, s, alpha=2.0), lambda x, s, i: x.index_add(0, i, s, alpha=2.0),
     [X34, R.standard_normal((3, 4))], [[2, 0, 2]]),
    ("index_copy", lambda x, s, i: x.index_copy(1, i, s), lambda x, s, i: x.index_copy(1, i, s),
     [X34, R.standard_normal((3, 2))], [[3, 0]]),
]
for _red in ("sum", "prod", "mean", "amax", "amin"):
    for _inc in (True, False):
        OPS.append((f"scatter_reduce_{_red}_{_inc}",
                    (lambda r, inc: lambda x, s, i: x.scatter_reduce(0, i, s, r, include_self=inc))(_red, _inc),
                    (lambda r, inc: lambda x, s, i: x.scatter_reduce(0, i, s, r, include_self=inc))(_red, _inc),
                    [X34, R.standard_normal((2, 4))], [IDX]))
        OPS.append((f"scatter_reduce_{_red}_{_inc}_ties",
                    (lambda r, inc: lambda x, s, i: x.scatter_reduce(0, i, s, r, include_self=inc))(_red, _inc),
                    (lambda r, inc: lambda x, s, i: x.scatter_reduce(0, i, s, r, include_self=inc))(_red, _inc),
                    [TIES, TIES[[1, 0]] * np.array([1, 1, 1, 1.0])], [IDX]))
for _red in ("prod", "mean", "amax", "amin"):
    for _inc in (True, False):
        OPS.append((f"index_reduce_{_red}_{_inc}",
                    (lambda r, inc: lambda x, s, i: x.index_reduce(0, i, s, r, include_self=inc))(_red, _inc),
                    (lambda r, inc: lambda x, s, i: x.index_reduce(0, i, s, r, include_self=inc))(_red, _inc),
                    [TIES, TIES[[2, 1, 0, 1]]], [[2, 0, 2, 2]]))


@pytest.mark.parametrize("name,tfn,pfn,arrays,ints", OPS, ids=[o[0] for o in OPS])
def test_ops_values_and_grads(name, tfn, pfn, arrays, ints, device):
    _run(tfn, pfn, arrays, ints, device=device)


def test_prod_with_zeros_matches_torch(device):
    x = np.array([[1.0, 0.0, 2.0], [3.0, 4.0, 0.0]])
    s = np.array([[0.0, 2.0, 0.5], [0.0, 0.0, 3.0]])
    for inc in (True, False):
        _run(lambda a, b, i: a.scatter_reduce(0, i, b, "prod", include_self=inc),
             lambda a, b, i: a.scatter_reduce(0, i, b, "prod", include_self=inc), [x, s], [[[0, 0, 1], [0, 0, 1]]],
             device=device)


@pytest.mark.parametrize("case", [(3, 4, 0), (4, 3, 1), (4, 4, -2), (3, 5, 7), (5, 2, -6), (0, 3, 0)])
def test_tri_indices(case, device):
    r, c, off = case
    for t_fn, p_fn in ((tn.tril_indices, torch.tril_indices), (tn.triu_indices, torch.triu_indices)):
        got = t_fn(r, c, off, device=device)
        want = p_fn(r, c, off)
        assert got.dtype == tn.int64 and tuple(got.shape) == tuple(want.shape)
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert tn.tril_indices(3, 3, dtype=tn.int32).dtype == tn.int32


@pytest.mark.parametrize("arr", [np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]]), np.array([0, 3, 0, 1]),
                                 np.array(2.0), np.array(0.0), np.zeros((2, 0))])
def test_nonzero_argwhere(arr, device):
    t, p = tn.tensor(arr, device=device), torch.tensor(arr)
    np.testing.assert_array_equal(tn.nonzero(t).numpy(), torch.nonzero(p).numpy())
    assert tuple(tn.nonzero(t).shape) == tuple(torch.nonzero(p).shape)
    np.testing.assert_array_equal(t.argwhere().numpy(), torch.argwhere(p).numpy())
    got, want = t.nonzero(as_tuple=True), p.nonzero(as_tuple=True)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == tn.int64
        np.testing.assert_array_equal(g.numpy(), w.numpy())


@pytest.mark.parametrize("invert", [False, True])
@pytest.mark.parametrize("assume_unique", [False, True])
def test_isin(invert, assume_unique, device):
    e, t = [[1, 5, 3], [2, 2, 9]], [9, 1, 4]
    if assume_unique:
        e = [[1, 5, 3], [2, 7, 9]]
    got = tn.isin(tn.tensor(e, device=device), tn.tensor(t, device=device), assume_unique=assume_unique, invert=invert)
    want = torch.isin(torch.tensor(e), torch.tensor(t), assume_unique=assume_unique, invert=invert)
    assert got.dtype == tn.bool
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    np.testing.assert_array_equal(tn.isin(tn.tensor(e, device=device), 2).numpy(),
                                  torch.isin(torch.tensor(e), 2).numpy())
    assert tn.isin(9, tn.tensor(t, device=device)).item() == torch.isin(9, torch.tensor(t)).item()


def test_integer_scatter_mean_floors(device):
    x, s, i = [[7, 2], [1, 1]], [[4, 5], [-3, 2]], [[0, 0], [0, 0]]
    got = tn.tensor(x, device=device).scatter_reduce(0, tn.tensor(i, device=device), tn.tensor(s, device=device),
                                                     "mean")
    want = torch.tensor(x).scatter_reduce(0, torch.tensor(i), torch.tensor(s), "mean")
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def _random_key(rng, shape):
    """A random mix of ints, slices, None, ..., index lists and masks for a tensor of ``shape``
    (the same Python description is turned into each library's key)."""
    parts, d = [], 0
    used_ellipsis = False
    while d < len(shape):
        kind = rng.choice(["int", "slice", "tensor", "none", "mask", "ellipsis", "stop"],
                          p=[0.2, 0.2, 0.3, 0.08, 0.1, 0.05, 0.07])
        n = shape[d]
        if kind == "stop":
            break
        if kind == "int":
            parts.append(("int", int(rng.integers(-n, n))))
            d += 1
        elif kind == "slice":
            a = int(rng.integers(0, n))
            parts.append(("slice", (a, int(rng.integers(a, n + 1)), int(rng.integers(1, 3)))))
            d += 1
        elif kind == "tensor":
            parts.append(("tensor", rng.integers(-n, n, size=(2,)).tolist()))
            d += 1
        elif kind == "none":
            parts.append(("none", None))
        elif kind == "mask":
            parts.append(("mask", (rng.random(n) > 0.4).tolist()))
            d += 1
        elif kind == "ellipsis" and not used_ellipsis:
            used_ellipsis = True
            parts.append(("ellipsis", None))
            d = len(shape) - int(rng.integers(0, len(shape) - d + 1))  # the ellipsis skips some axes
    return parts


def _build(parts, lib, device):
    out = []
    for kind, v in parts:
        if kind == "int":
            out.append(v)
        elif kind == "slice":
            out.append(slice(*v))
        elif kind == "tensor":
            out.append(tn.tensor(v, device=device) if lib == "tn" else torch.tensor(v))
        elif kind == "mask":
            out.append(tn.tensor(v, device=device) if lib == "tn" else torch.tensor(v))
        elif kind == "none":
            out.append(None)
        else:
            out.append(Ellipsis)
    return tuple(out)


@pytest.mark.parametrize("seed", range(150))
def test_random_mixed_keys_match_torch(seed, device):
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in rng.integers(2, 5, size=int(rng.integers(1, 5))))
    a = rng.standard_normal(shape)
    parts = _random_key(rng, shape)
    xp_ = torch.tensor(a, requires_grad=True)
    try:
        want = xp_[_build(parts, "torch", device)]
    except (IndexError, RuntimeError, ValueError):  # torch refuses the key: so must tinynet
        with pytest.raises((IndexError, ValueError)):
            tn.tensor(a, device=device)[_build(parts, "tn", device)]
        return
    xt = tn.tensor(a, dtype=tn.float64, device=device, requires_grad=True)
    got = xt[_build(parts, "tn", device)]
    assert tuple(got.shape) == tuple(want.shape), parts
    np.testing.assert_array_equal(got.detach().numpy(), want.detach().numpy())
    w = rng.standard_normal(tuple(want.shape))
    (got * tn.tensor(w, dtype=tn.float64, device=device)).sum().backward()
    (want * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), xp_.grad.numpy(), atol=1e-12)
