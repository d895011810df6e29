"""Registry entries for reductions (max/min/var/std/logsumexp/prod), indexing, joining and padding."""
import numpy as np

import tinynet as tn
from tinynet.functional.indexing import IndexBackward

from . import OpEntry, _n, _apart


def _lse(a, axis=None, keepdims=False):
    m = np.max(a, axis=axis, keepdims=True)
    out = np.log(np.exp(a - m).sum(axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis) if axis is not None else out.reshape(())


def _scatter(shape, key, g):
    out = np.zeros(shape)
    np.add.at(out, key, g)
    return out


def _np_pad(a, widths, mode):
    return np.pad(a, widths, mode={"replicate": "edge", "circular": "wrap"}.get(mode, mode))


_IDX = np.array([2, 0, 2, 1, 2])  # repeats: the gradient must add them up

ENTRIES = [
    # --- max / min ---------------------------------------------------------------------------
    OpEntry("max_all", tn.max, lambda r: [_apart(r, 3, 4)], np.max),
    OpEntry("max_dim", lambda a: a.max(dim=1).values, lambda r: [_apart(r, 3, 4, 2)], lambda a: a.max(axis=1)),
    OpEntry("max_tuple_keepdims", lambda a: tn.amax(a, axis=(0, 2), keepdims=True), lambda r: [_apart(r, 3, 4, 2)],
            lambda a: a.max(axis=(0, 2), keepdims=True)),
    OpEntry("min_axis", lambda a: tn.min(a, -1).values, lambda r: [_apart(r, 2, 5)], lambda a: a.min(axis=-1)),
    OpEntry("amax_amin", lambda a: tn.amax(a, 0) - tn.amin(a, dim=0, keepdim=False), lambda r: [_apart(r, 4, 3)],
            lambda a: a.max(0) - a.min(0)),
    OpEntry("max_two_tensors", lambda a, b: tn.max(a, b), lambda r: [_apart(r, 3, 4), _apart(r, 4) + 0.01], np.maximum),
    # --- var / std / logsumexp / prod --------------------------------------------------------
    OpEntry("var_all", tn.var, lambda r: [_n(r, 3, 4)], lambda a: a.var(ddof=1)),
    OpEntry("var_dim_biased", lambda a: a.var(dim=(0, 2), correction=0, keepdim=True), lambda r: [_n(r, 3, 4, 2)],
            lambda a: a.var(axis=(0, 2), keepdims=True)),
    OpEntry("std_axis", lambda a: tn.std(a, 1), lambda r: [_n(r, 3, 5)], lambda a: a.std(axis=1, ddof=1)),
    OpEntry("std_unbiased_false", lambda a: a.std(0, unbiased=False), lambda r: [_n(r, 4, 3)], lambda a: a.std(axis=0)),
    OpEntry("logsumexp_axis", lambda a: tn.logsumexp(a, 1), lambda r: [_n(r, 3, 5)], lambda a: _lse(a, 1)),
    OpEntry("logsumexp_large_keepdim", lambda a: a.logsumexp(dim=-1, keepdim=True), lambda r: [_n(r, 2, 4) * 3 + 800.0],
            lambda a: _lse(a, -1, True), fwd_atol=1e-9),
    OpEntry("logsumexp_all", tn.logsumexp, lambda r: [_n(r, 2, 3)], lambda a: _lse(a)),
    OpEntry("prod_axis", lambda a: tn.prod(a, 1), lambda r: [_n(r, 3, 5)], lambda a: a.prod(axis=1)),
    OpEntry("prod_with_zero", lambda a: a.prod(), lambda r: [np.array([1.5, 0.0, -2.0, 0.7])], np.prod),
    OpEntry("prod_tuple_keepdims", lambda a: a.prod(dim=(0, 2), keepdim=True), lambda r: [_n(r, 2, 3, 3)],
            lambda a: a.prod(axis=(0, 2), keepdims=True)),
    # --- indexing ------------------------------------------------------------------------------
    OpEntry("getitem_int", lambda a: a[1], lambda r: [_n(r, 3, 4)], lambda a: a[1]),
    OpEntry("getitem_scalar", lambda a: a[1, -1] * a[0, 0], lambda r: [_n(r, 3, 4)], lambda a: a[1, -1] * a[0, 0]),
    OpEntry("getitem_slices", lambda a: a[::-2, 1:3], lambda r: [_n(r, 5, 4)], lambda a: a[::-2, 1:3]),
    OpEntry("getitem_none_ellipsis", lambda a: a[None, ..., 1:, None], lambda r: [_n(r, 2, 3, 4)],
            lambda a: a[None, ..., 1:, None]),
    OpEntry("getitem_int_array_repeats", lambda a: a[_IDX], lambda r: [_n(r, 3, 2)], lambda a: a[_IDX]),
    OpEntry("getitem_int_tensor_mixed", lambda a, i: a[1:, i], lambda r: [_n(r, 3, 4), np.array([[3, 0], [3, 3]])],
            lambda a, i: a[1:, i]),
    OpEntry("getitem_two_arrays", lambda a: a[[0, 2, 0], [1, 1, 1]], lambda r: [_n(r, 3, 4)],
            lambda a: a[[0, 2, 0], [1, 1, 1]]),
    OpEntry("getitem_bool_mask", lambda a, m: a[m], lambda r: [_n(r, 3, 4), r.random((3, 4)) > 0.4],
            lambda a, m: a[m]),
    OpEntry("getitem_bool_rows", lambda a: a[a.detach().sum(1) > 0], lambda r: [np.array([[1.0, 2.0], [-3.0, 1.0], [0.5, 0.1]])],
            lambda a: a[a.sum(1) > 0]),
    OpEntry("index_backward_advanced", lambda g: IndexBackward.apply(g, key=(_IDX,), shape=(3, 2), advanced=True),
            lambda r: [_n(r, 5, 2)], lambda g: _scatter((3, 2), (_IDX,), g)),
    OpEntry("index_backward_basic", lambda g: IndexBackward.apply(g, key=(slice(None, None, -2),), shape=(5, 2), advanced=False),
            lambda r: [_n(r, 3, 2)], lambda g: _scatter((5, 2), (slice(None, None, -2),), g)),
    OpEntry("gather", lambda a, i: tn.gather(a, 1, i), lambda r: [_n(r, 3, 4), np.array([[0, 0], [3, 1], [2, 2]])],
            lambda a, i: np.take_along_axis(a, i, 1)),
    OpEntry("index_select", lambda a, i: a.index_select(0, i), lambda r: [_n(r, 3, 2), np.array([2, 2, 0])],
            lambda a, i: a[i]),
    OpEntry("masked_fill", lambda a, m: a.masked_fill(m, -1.5), lambda r: [_n(r, 3, 4), r.random((4,)) > 0.5],
            lambda a, m: np.where(m, -1.5, a)),
    OpEntry("take", lambda a: tn.take(a, [[5, 0], [5, 11]]), lambda r: [_n(r, 3, 4)],
            lambda a: a.reshape(-1)[np.array([[5, 0], [5, 11]])]),
    # --- join / split / pad --------------------------------------------------------------------
    OpEntry("cat", lambda a, b, c: tn.cat([a, b, c], dim=1), lambda r: [_n(r, 2, 1), _n(r, 2, 3), _n(r, 2, 2)],
            lambda a, b, c: np.concatenate([a, b, c], axis=1)),
    OpEntry("cat_constant_input", lambda a, b: tn.concatenate((a, b), axis=-1), lambda r: [_n(r, 2, 2), _n(r, 2, 3)],
            lambda a, b: np.concatenate([a, b], axis=-1), no_grad=(1,)),
    OpEntry("stack", lambda a, b: tn.stack([a, b], dim=-1), lambda r: [_n(r, 2, 3), _n(r, 2, 3)],
            lambda a, b: np.stack([a, b], axis=-1)),
    OpEntry("split_sizes", lambda a: tn.cat([p * (i + 1) for i, p in enumerate(tn.split(a, [1, 3, 2], dim=1))], 1),
            lambda r: [_n(r, 2, 6)], lambda a: a * np.array([1, 2, 2, 2, 3, 3])),
    OpEntry("chunk", lambda a: tn.cat([p * (i + 1) for i, p in enumerate(a.chunk(3))], 0),
            lambda r: [_n(r, 5, 2)], lambda a: a * np.array([1, 1, 2, 2, 3])[:, None]),
    OpEntry("pad_torch_order", lambda a: tn.pad(a, (1, 2, 0, 1), value=0.5), lambda r: [_n(r, 2, 3, 2)],
            lambda a: np.pad(a, ((0, 0), (0, 1), (1, 2)), constant_values=0.5)),
    OpEntry("pad_numpy_width", lambda a: tn.pad(a, ((2, 0), (1, 1))), lambda r: [_n(r, 2, 3)],
            lambda a: np.pad(a, ((2, 0), (1, 1)))),
    OpEntry("pad_reflect", lambda a: tn.pad(a, (2, 1), mode="reflect"), lambda r: [_n(r, 2, 4)],
            lambda a: _np_pad(a, ((0, 0), (2, 1)), "reflect")),
    OpEntry("pad_replicate", lambda a: tn.pad(a, (1, 3, 2, 0), mode="replicate"), lambda r: [_n(r, 2, 3)],
            lambda a: _np_pad(a, ((2, 0), (1, 3)), "replicate")),
    OpEntry("pad_circular", lambda a: tn.pad(a, (3, 1), mode="circular"), lambda r: [_n(r, 2, 3)],
            lambda a: _np_pad(a, ((0, 0), (3, 1)), "circular")),
    OpEntry("one_hot_weights", lambda a, y: (a * tn.one_hot(y, 4)).sum(1), lambda r: [_n(r, 3, 4), np.array([3, 0, 3])],
            lambda a, y: a[np.arange(3), y]),
]
