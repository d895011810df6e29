"""Registry entries for sorting/selection by rank (sort, topk, kthvalue, median, mode),
scans (cumsum, cumprod, cummax, cummin, logcumsumexp) and the reductions with dtype= /
NaN-skipping / (values, indices) forms. Inputs have no ties (``_apart``), so the picked
positions, and the gradients through them, are unambiguous."""
import numpy as np

import tinynet as tn
from tinynet.functional import scan

from . import ELEMENTWISE, OpEntry, _apart, _n


def _pick(a, idx, axis):
    return np.take_along_axis(a, idx, axis=axis)


def _lower_median(a, axis=None, keepdims=False):
    if axis is None:
        s = np.sort(a.reshape(-1))
        return s[(s.size - 1) // 2]
    s = np.sort(a, axis=axis)
    out = np.take(s, [(a.shape[axis] - 1) // 2], axis=axis)
    return out if keepdims else np.squeeze(out, axis=axis)


def _running(a, axis, fn):
    return fn.accumulate(a, axis=axis)


def _logcumsumexp(a, axis):
    return np.logaddexp.accumulate(a, axis=axis)


def _combine(pair):
    """Both outputs of a pair-returning op in one tensor (the suite checks one output)."""
    first, second = pair
    return first + 3 * second


def _lcse_in_blocks_of_3(a):
    """logcumsumexp through its blocked path (blocks of 3 chained by a carry) on a small input."""
    old = scan.LOGCUMSUMEXP_BLOCK
    scan.LOGCUMSUMEXP_BLOCK = 3
    try:
        return tn.logcumsumexp(a, 1)
    finally:
        scan.LOGCUMSUMEXP_BLOCK = old


def _with_zeros(r):
    a = _n(r, 3, 5)
    a[0, 1] = 0.0
    a[2, 0] = 0.0
    a[2, 3] = 0.0  # two zeros in one row: the gradient there is not y / x
    return [a]


ENTRIES = [
    # --- sort / topk / kthvalue / median / mode: values picked at indices ---------------------
    OpEntry("sort_values", lambda a: tn.sort(a, -1).values, lambda r: [_apart(r, 3, 5)],
            lambda a: np.sort(a, axis=-1) if a.ndim else a, layouts=ELEMENTWISE),
    OpEntry("sort_descending_dim0", lambda a: a.sort(dim=0, descending=True, stable=True)[0],
            lambda r: [_apart(r, 4, 3)], lambda a: -np.sort(-a, axis=0)),
    OpEntry("msort", tn.msort, lambda r: [_apart(r, 4, 2)], lambda a: np.sort(a, axis=0)),
    OpEntry("topk_largest", lambda a: tn.topk(a, 2).values, lambda r: [_apart(r, 3, 5)],
            lambda a: -np.sort(-a, axis=-1)[:, :2]),
    OpEntry("topk_smallest_dim0", lambda a: a.topk(3, dim=0, largest=False).values, lambda r: [_apart(r, 4, 2)],
            lambda a: np.sort(a, axis=0)[:3]),
    OpEntry("kthvalue_keepdim", lambda a: tn.kthvalue(a, 2, 1, keepdim=True).values, lambda r: [_apart(r, 3, 4)],
            lambda a: np.sort(a, axis=1)[:, 1:2]),
    OpEntry("median_all", tn.median, lambda r: [_apart(r, 3, 4)], _lower_median),
    OpEntry("median_dim", lambda a: a.median(dim=0).values, lambda r: [_apart(r, 4, 3)],
            lambda a: _lower_median(a, 0)),
    OpEntry("nanmedian_dim_keepdim", lambda a: tn.nanmedian(a, 1, keepdim=True).values, lambda r: [_apart(r, 2, 5)],
            lambda a: _lower_median(a, 1, keepdims=True)),
    OpEntry("mode_distinct", lambda a: tn.mode(a, 1).values, lambda r: [_apart(r, 3, 4)],
            lambda a: a.min(axis=1)),  # all values distinct: each is as frequent, the smallest wins
    # --- max/min with a dim (values, indices), aminmax, reductions with dtype= ------------------
    OpEntry("max_dim_keepdim", lambda a: tn.max(a, 0, True).values, lambda r: [_apart(r, 3, 4)],
            lambda a: a.max(axis=0, keepdims=True)),
    OpEntry("min_dim_values", lambda a: a.min(dim=-1)[0], lambda r: [_apart(r, 2, 3, 4)], lambda a: a.min(axis=-1)),
    OpEntry("aminmax_dim", lambda a: _combine(tn.aminmax(a, dim=1)), lambda r: [_apart(r, 3, 4)],
            lambda a: a.min(axis=1) + 3 * a.max(axis=1)),
    OpEntry("sum_dtype_float64", lambda a: a.sum(1, dtype=tn.float64), lambda r: [_n(r, 3, 4)],
            lambda a: a.sum(axis=1), keeps_dtype=False),
    OpEntry("mean_dtype_float64", lambda a: tn.mean(a, (0, 1), dtype=tn.float64), lambda r: [_n(r, 3, 4)],
            lambda a: a.mean(), keeps_dtype=False),
    OpEntry("prod_dtype_keepdim", lambda a: a.prod(0, keepdim=True, dtype=tn.float64), lambda r: [_n(r, 3, 4)],
            lambda a: a.prod(axis=0, keepdims=True), keeps_dtype=False),
    OpEntry("nansum", lambda a: tn.nansum(a, -1), lambda r: [_n(r, 3, 4)],
            lambda a: np.nansum(a, axis=-1) if a.ndim else a, layouts=ELEMENTWISE),
    OpEntry("nanmean_keepdim", lambda a: a.nanmean(dim=0, keepdim=True), lambda r: [_n(r, 3, 4)],
            lambda a: np.nanmean(a, axis=0, keepdims=True)),
    OpEntry("var_mean", lambda a: _combine(tn.var_mean(a, 1)), lambda r: [_n(r, 3, 5)],
            lambda a: a.var(axis=1, ddof=1) + 3 * a.mean(axis=1)),
    OpEntry("std_mean_correction0", lambda a: _combine(tn.std_mean(a, dim=(0, 1), correction=0, keepdim=True)),
            lambda r: [_n(r, 3, 4)], lambda a: a.std(keepdims=True) + 3 * a.mean(keepdims=True)),
    # --- scans ---------------------------------------------------------------------------------
    OpEntry("cumsum_last", lambda a: tn.cumsum(a, -1), lambda r: [_n(r, 3, 5)],
            lambda a: np.cumsum(a, axis=-1) if a.ndim else a, layouts=ELEMENTWISE),
    OpEntry("cumsum_dim0_method", lambda a: a.cumsum(dim=0), lambda r: [_n(r, 4, 2, 3)],
            lambda a: np.cumsum(a, axis=0)),
    OpEntry("cumprod_last", lambda a: tn.cumprod(a, -1), lambda r: [_n(r, 3, 5)],
            lambda a: np.cumprod(a, axis=-1) if a.ndim else a, layouts=ELEMENTWISE),
    OpEntry("cumprod_zeros", lambda a: a.cumprod(-1), _with_zeros, lambda a: np.cumprod(a, axis=-1)),
    OpEntry("cumprod_dim0_long", lambda a: tn.cumprod(a, dim=0), lambda r: [1 + 0.3 * _n(r, 7, 2)],
            lambda a: np.cumprod(a, axis=0)),
    OpEntry("cummax_values", lambda a: tn.cummax(a, 1).values, lambda r: [_apart(r, 3, 6)],
            lambda a: _running(a, 1, np.maximum)),
    OpEntry("cummin_values_dim0", lambda a: a.cummin(0)[0], lambda r: [_apart(r, 5, 2)],
            lambda a: _running(a, 0, np.minimum)),
    OpEntry("logcumsumexp", lambda a: tn.logcumsumexp(a, 1), lambda r: [_n(r, 3, 5)],
            lambda a: _logcumsumexp(a, 1)),
    OpEntry("logcumsumexp_dim0_wide_range", lambda a: a.logcumsumexp(0), lambda r: [30 * _n(r, 5, 2)],
            lambda a: _logcumsumexp(a, 0)),
    OpEntry("logcumsumexp_blocks", _lcse_in_blocks_of_3, lambda r: [3 * _n(r, 2, 8)],
            lambda a: _logcumsumexp(a, 1)),
]
