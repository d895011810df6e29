"""Registry entries of PyTorch-ordered indexing, index writes, masking and the scatter family
(tinynet/functional/indexing.py and scatter.py). Integer and bool arrays become constant
tensors; the NumPy references spell out PyTorch's semantics (``np.add.at`` and friends for
repeated positions)."""
import numpy as np

import tinynet as tn

from . import OpEntry, _apart, _n

_I0 = np.array([[0, 2, 2, 1], [1, 0, 0, 0]])   # scatter index along dim 0 of a (3, 4): repeats
_I1 = np.array([[3, 0, 3], [1, 1, 1], [0, 2, 2]])  # along dim 1 (shape 3 x 3): repeats
_SEL = np.array([2, 0, 2])                      # index_* ops: slice 2 twice
_MASK = np.array([[True, False, True, True], [False, False, False, True], [True, True, False, False]])


def _setitem_ref(a, v):
    out = (a * 2).copy()
    out[1:, [0, 2]] = v
    return out


def _setitem_fn(a, v):
    y = a * 2
    y[1:, [0, 2]] = v
    return y


def _put_ref(a, v):
    out = a.copy()
    out[0][:, [3, 1]] = v  # PyTorch's order for a[0, :, idx]
    return out


def _put_fn(a, v):
    y = a * 1
    y[0, :, tn.tensor([3, 1], device=a.device)] = v
    return y


def _add_at(a, key, v):
    out = a.copy()
    np.add.at(out, key, v)
    return out


def _scatter_ref(a, idx, src, dim, reduce=None, include_self=True):
    out = a.copy()
    n = idx.shape
    grid = list(np.indices(n))
    grid[dim] = idx
    key = tuple(grid)
    vals = src[tuple(slice(0, k) for k in n)]
    if reduce is None:
        out[key] = vals
        return out
    if not include_self:
        out[key] = {"sum": 0, "mean": 0, "prod": 1, "amax": -np.inf, "amin": np.inf}[reduce]
    if reduce in ("sum", "mean"):
        np.add.at(out, key, vals)
        if reduce == "mean":
            cnt = np.zeros(a.shape)
            np.add.at(cnt, key, 1.0)
            out = out / np.maximum(cnt + (1 if include_self else 0), 1)
    elif reduce == "prod":
        np.multiply.at(out, key, vals)
    else:
        (np.maximum if reduce == "amax" else np.minimum).at(out, key, vals)
    return out


def _index_ref(a, idx, src, dim, reduce, include_self=True):
    """index_add/copy/reduce: source slice j goes to slice idx[j] along ``dim``."""
    shape = list(a.shape)
    shape[dim] = len(idx)
    full = np.broadcast_to(idx.reshape([-1 if ax == dim else 1 for ax in range(a.ndim)]), shape)
    return _scatter_ref(a, full, src, dim, reduce, include_self)


ENTRIES = [
    # --- reading with PyTorch's order -----------------------------------------------------------------
    OpEntry("getitem_int_slice_tensor", lambda a, i: a[0, :, i], lambda r: [_n(r, 2, 3, 4), np.array([3, 0, 3])],
            lambda a, i: a[0][:, i]),
    OpEntry("getitem_0d_tensor_and_list", lambda a, i: a[i, 1:, [2, 0]], lambda r: [_n(r, 2, 3, 4), np.array(1)],
            lambda a, i: a[1][1:, [2, 0]]),
    OpEntry("getitem_bool_flag_and_mask", lambda a, m: a[True, 1, m],
            lambda r: [_n(r, 2, 3, 4), np.array([True, False, True])],
            lambda a, m: a[1][m]),
    # --- writing -------------------------------------------------------------------------------------
    OpEntry("setitem_nonleaf", _setitem_fn, lambda r: [_n(r, 3, 4), _n(r, 2, 2)], _setitem_ref),
    OpEntry("setitem_torch_order", _put_fn, lambda r: [_n(r, 2, 3, 4), _n(r, 1)], _put_ref),
    OpEntry("index_put", lambda a, v, i: tn.index_put(a, (i,), v), lambda r: [_n(r, 3, 4), _n(r, 4), np.array([2, 0])],
            lambda a, v, i: np.where(np.isin(np.arange(3), i)[:, None], v, a)),
    OpEntry("index_put_accumulate", lambda a, v, i, j: a.index_put((i, j), v, accumulate=True),
            lambda r: [_n(r, 3, 4), _n(r, 5), np.array([0, 2, 0, 0, 1]), np.array([1, 3, 1, 1, 0])],
            lambda a, v, i, j: _add_at(a, (i, j), v)),
    OpEntry("index_put__inplace", lambda a, v, i: (a * 1).index_put_((i,), v, accumulate=True),
            lambda r: [_n(r, 3, 4), _n(r, 2, 4), np.array([1, 1])],
            lambda a, v, i: a + np.array([0, 1, 0])[:, None] * v.sum(0)),
    OpEntry("masked_fill_tensor_value", lambda a, v, m: a.masked_fill(m, v.sum()),
            lambda r: [_n(r, 3, 4), _n(r, 2), _MASK], lambda a, v, m: np.where(m, v.sum(), a)),
    OpEntry("masked_fill__inplace", lambda a, m: (a * 1).masked_fill_(m, 0.5), lambda r: [_n(r, 3, 4), _MASK[0]],
            lambda a, m: np.where(m, 0.5, a)),
    OpEntry("masked_scatter", lambda a, s, m: a.masked_scatter(m, s), lambda r: [_n(r, 3, 4), _n(r, 2, 5), _MASK],
            lambda a, s, m: (lambda o: (o.__setitem__(m, s.reshape(-1)[:m.sum()]), o)[1])(a.copy())),
    OpEntry("masked_scatter_broadcast", lambda a, s, m: tn.masked_scatter(a, m, s),
            lambda r: [_n(r, 3, 1), _n(r, 7), _MASK[2]],
            lambda a, s, m: (lambda o, mb: (o.__setitem__(mb, s[:mb.sum()]), o)[1])(
                np.broadcast_to(a, (3, 4)).copy(), np.broadcast_to(m, (3, 4)))),
    OpEntry("index_fill_tensor_value", lambda a, v, i: a.index_fill(1, i, v[0]),
            lambda r: [_n(r, 3, 4), _n(r, 2), np.array([3, 0, 3])],
            lambda a, v, i: np.where(np.isin(np.arange(4), i)[None, :], v[0], a)),
    OpEntry("index_fill__inplace", lambda a, i: (a * 1).index_fill_(0, i, -1.0), lambda r: [_n(r, 3, 4), np.array([1])],
            lambda a, i: np.where((np.arange(3) == 1)[:, None], -1.0, a)),
    # --- selecting ------------------------------------------------------------------------------------
    OpEntry("masked_select", lambda a, m: tn.masked_select(a, m), lambda r: [_n(r, 3, 4), _MASK], lambda a, m: a[m]),
    OpEntry("masked_select_broadcast", lambda a, m: a.masked_select(m), lambda r: [_n(r, 3, 1), _MASK],
            lambda a, m: np.broadcast_to(a, (3, 4))[m]),
    OpEntry("tril", lambda a: tn.tril(a), lambda r: [_n(r, 2, 3, 4)], lambda a: np.tril(a)),
    OpEntry("triu_diagonal", lambda a: a.triu(diagonal=1), lambda r: [_n(r, 4, 3)], lambda a: np.triu(a, 1)),
    OpEntry("tril__inplace", lambda a: (a * 1).tril_(-1), lambda r: [_n(r, 3, 3)], lambda a: np.tril(a, -1)),
    OpEntry("triu__inplace", lambda a: (a * 1).triu_(), lambda r: [_n(r, 2, 3, 3)], lambda a: np.triu(a)),
    OpEntry("take_along_dim", lambda a, i: tn.take_along_dim(a, i, dim=1), lambda r: [_n(r, 3, 4), np.array([[0, 3]])],
            lambda a, i: np.take_along_axis(a, np.broadcast_to(i, (3, 2)), 1)),
    OpEntry("take_along_dim_none", lambda a, i: a.take_along_dim(i),
            lambda r: [_n(r, 3, 4), np.array([[0, 11], [5, 5]])],
            lambda a, i: a.reshape(-1)[i.reshape(-1)]),
    OpEntry("gather_dim0_repeats", lambda a, i: a.gather(0, i, sparse_grad=True), lambda r: [_n(r, 3, 4), _I0],
            lambda a, i: np.take_along_axis(a, i, 0)),
    # --- scatter ---------------------------------------------------------------------------------------
    OpEntry("scatter_src", lambda a, s, i: a.scatter(0, i, s), lambda r: [_n(r, 3, 4), _n(r, 3, 4),
                                                                         np.array([[0, 2, 1, 1], [1, 0, 0, 2]])],
            lambda a, s, i: _scatter_ref(a, i, s, 0)),
    OpEntry("scatter_value", lambda a, i: tn.scatter(a, 1, i, value=2.5), lambda r: [_n(r, 3, 4), _I1],
            lambda a, i: _scatter_ref(a, i, np.full(i.shape, 2.5), 1)),
    OpEntry("scatter_reduce_add", lambda a, s, i: a.scatter(0, i, s, reduce="add"),
            lambda r: [_n(r, 3, 4), _n(r, 2, 4), _I0],
            lambda a, s, i: _scatter_ref(a, i, s, 0, "sum")),
    OpEntry("scatter_reduce_multiply", lambda a, s, i: a.scatter(0, i, s, reduce="multiply"),
            lambda r: [_apart(r, 3, 4), _apart(r, 2, 4), _I0], lambda a, s, i: _scatter_ref(a, i, s, 0, "prod")),
    OpEntry("scatter__inplace", lambda a, s, i: (a * 1).scatter_(1, i, s),
            lambda r: [_n(r, 3, 4), _n(r, 3, 3), np.array([[3, 0, 1], [1, 2, 0], [0, 2, 3]])],
            lambda a, s, i: _scatter_ref(a, i, s, 1)),
    OpEntry("scatter_add", lambda a, s, i: tn.scatter_add(a, 0, i, s), lambda r: [_n(r, 3, 4), _n(r, 2, 5), _I0],
            lambda a, s, i: _scatter_ref(a, i, s, 0, "sum")),
    OpEntry("scatter_add__inplace", lambda a, s, i: (a * 1).scatter_add_(1, i, s),
            lambda r: [_n(r, 3, 4), _n(r, 3, 3), _I1],
            lambda a, s, i: _scatter_ref(a, i, s, 1, "sum")),
    OpEntry("index_add", lambda a, s, i: a.index_add(0, i, s, alpha=2.0), lambda r: [_n(r, 3, 4), _n(r, 3, 4), _SEL],
            lambda a, s, i: _index_ref(a, i, 2.0 * s, 0, "sum")),
    OpEntry("index_add__inplace", lambda a, s, i: (a * 1).index_add_(1, i, s),
            lambda r: [_n(r, 4, 3), _n(r, 4, 3), _SEL],
            lambda a, s, i: _index_ref(a, i, s, 1, "sum")),
    OpEntry("index_copy", lambda a, s, i: tn.index_copy(a, 1, i, s),
            lambda r: [_n(r, 3, 4), _n(r, 3, 2), np.array([3, 0])],
            lambda a, s, i: _index_ref(a, i, s, 1, None)),
    OpEntry("index_copy__inplace", lambda a, s, i: (a * 1).index_copy_(0, i, s),
            lambda r: [_n(r, 3, 4), _n(r, 1, 4), np.array([1])],
            lambda a, s, i: _index_ref(a, i, s, 0, None)),
]

for _red in ("sum", "prod", "mean", "amax", "amin"):
    for _inc in (True, False):
        ENTRIES.append(OpEntry(
            f"scatter_reduce_{_red}" + ("" if _inc else "_exclude_self"),
            (lambda red, inc: lambda a, s, i: a.scatter_reduce(0, i, s, red, include_self=inc))(_red, _inc),
            lambda r: [_apart(r, 3, 4), _apart(r, 2, 4) + 0.05, _I0],   # no ties, no zeros (prod, amax/amin)
            (lambda red, inc: lambda a, s, i: _scatter_ref(a, i, s, 0, red, inc))(_red, _inc)))
for _red in ("prod", "mean", "amax", "amin"):
    for _inc in (True, False):
        ENTRIES.append(OpEntry(
            f"index_reduce_{_red}" + ("" if _inc else "_exclude_self"),
            (lambda red, inc: lambda a, s, i: tn.index_reduce(a, 1, i, s, red, include_self=inc))(_red, _inc),
            lambda r: [_apart(r, 2, 4), _apart(r, 2, 3) + 0.05, _SEL],
            (lambda red, inc: lambda a, s, i: _index_ref(a, i, s, 1, red, inc))(_red, _inc)))
ENTRIES.append(OpEntry("scatter_reduce__inplace", lambda a, s, i: (a * 1).scatter_reduce_(0, i, s, "amax"),
                       lambda r: [_apart(r, 3, 4), _apart(r, 2, 4) + 0.05, _I0],
                       lambda a, s, i: _scatter_ref(a, i, s, 0, "amax")))
ENTRIES.append(OpEntry("index_reduce__inplace", lambda a, s, i: (a * 1).index_reduce_(0, i, s, "prod"),
                       lambda r: [_apart(r, 3, 2), _apart(r, 3, 2) + 0.05, _SEL],
                       lambda a, s, i: _index_ref(a, i, s, 0, "prod")))
