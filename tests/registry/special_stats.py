"""Registry entries for the special functions (tinynet/functional/special.py), the differentiable
odds-and-ends of tinynet/functional/introspection.py and the statistics
(tinynet/functional/statistics.py).

References are float64 NumPy, with SciPy's special functions where it is installed (it comes
with scikit-learn); without SciPy those entries check gradients only (ref None)."""
import math

import numpy as np

import tinynet as tn

from . import ELEMENTWISE, OpEntry, _apart, _n

try:
    from scipy import special as _sp
except ImportError:  # pragma: no cover - scipy ships with scikit-learn, a dependency
    _sp = None


def _sci(name, *args):
    """A SciPy reference ``scipy.special.<name>`` (None without SciPy)."""
    if _sp is None:
        return None
    f = getattr(_sp, name)
    return (lambda a: f(*args, a)) if args else f


def _pos(rng, *shape):
    return rng.uniform(0.6, 3.0, size=shape)


def _prob(rng, *shape):
    return rng.uniform(0.1, 0.9, size=shape)


_lgamma = np.vectorize(math.lgamma, otypes=[float])

ENTRIES = [
    OpEntry("lgamma", tn.lgamma, lambda r: [_pos(r, 3, 4) * np.where(r.random((3, 4)) < 0.3, -1, 1) + 0.05],
            _lgamma, layouts=ELEMENTWISE),
    OpEntry("digamma", tn.digamma, lambda r: [_pos(r, 3, 4)], _sci("digamma"), layouts=ELEMENTWISE),
    OpEntry("digamma_negative", tn.digamma, lambda r: [-_pos(r, 2, 3) + 0.05], _sci("digamma")),
    OpEntry("polygamma1", lambda a: tn.polygamma(1, a), lambda r: [_pos(r, 3, 4)], _sci("polygamma", 1),
            layouts=ELEMENTWISE),
    OpEntry("polygamma2_big", lambda a: tn.polygamma(2, a), lambda r: [_pos(r, 2, 3) * 6], _sci("polygamma", 2)),
    OpEntry("mvlgamma", lambda a: tn.mvlgamma(a, 3), lambda r: [_pos(r, 2, 3) + 1.5],
            (lambda a: _sp.multigammaln(a, 3) if a.ndim == 0 else np.vectorize(lambda v: _sp.multigammaln(v, 3))(a))
            if _sp is not None else None),
    OpEntry("i0", tn.i0, lambda r: [_n(r, 3, 4) * 4], _sci("i0"), layouts=ELEMENTWISE),
    OpEntry("i0e", tn.special.i0e, lambda r: [_apart(r, 3, 4) * 8], _sci("i0e"), layouts=ELEMENTWISE),
    OpEntry("i1", tn.special.i1, lambda r: [_n(r, 3, 4) * 4], _sci("i1"), layouts=ELEMENTWISE),
    OpEntry("i1e", tn.special.i1e, lambda r: [_apart(r, 3, 4) * 8], _sci("i1e"), layouts=ELEMENTWISE),
    OpEntry("i0_large", tn.i0, lambda r: [r.uniform(16, 30, size=(2, 3))], _sci("i0")),
    OpEntry("erfcx", tn.special.erfcx, lambda r: [r.uniform(-2, 12, size=(3, 4))], _sci("erfcx"),
            layouts=ELEMENTWISE, kernel_families=("gelu",)),  # erfc through the GELU kernel; x >= 8: asymptotic
    OpEntry("ndtr", tn.special.ndtr, lambda r: [_n(r, 3, 4) * 2], _sci("ndtr"), layouts=ELEMENTWISE,
            kernel_families=("gelu",)),
    OpEntry("ndtri", tn.special.ndtri, lambda r: [_prob(r, 3, 4)], _sci("ndtri"), layouts=ELEMENTWISE,
            kernel_families=("gelu",), fwd_atol=1e-6),  # erfinv's float64 accuracy times sqrt 2
    OpEntry("log_ndtr", tn.special.log_ndtr, lambda r: [_n(r, 3, 4) * 6], _sci("log_ndtr"), layouts=ELEMENTWISE,
            kernel_families=("gelu",)),
    OpEntry("logit", tn.logit, lambda r: [_prob(r, 3, 4)], lambda a: np.log(a / (1 - a)), layouts=ELEMENTWISE),
    OpEntry("logit_eps", lambda a: tn.logit(a, eps=0.2), lambda r: [_prob(r, 3, 4)],
            lambda a: (lambda c: np.log(c / (1 - c)))(np.clip(a, 0.2, 0.8))),
    OpEntry("xlog1py", tn.special.xlog1py, lambda r: [_n(r, 3, 4), _pos(r, 4)], lambda a, b: a * np.log1p(b),
            broadcast=(0,), layouts=("noncontig",)),
    OpEntry("entr", tn.special.entr, lambda r: [_pos(r, 3, 4)], lambda a: -a * np.log(a), layouts=ELEMENTWISE),
    OpEntry("fmax", tn.fmax, lambda r: [_apart(r, 3, 4), _apart(r, 3, 4)[::-1].copy() + 0.1], np.fmax,
            broadcast=(1,)),
    OpEntry("fmin", tn.fmin, lambda r: [_apart(r, 3, 4), _apart(r, 3, 4)[::-1].copy() + 0.1], np.fmin,
            broadcast=(1,)),
    OpEntry("ldexp", tn.ldexp, lambda r: [_n(r, 3, 4), _n(r, 3, 4)], lambda a, b: a * 2.0 ** b),
    # introspection.py
    OpEntry("broadcast_tensors", lambda a, b: tn.broadcast_tensors(a, b)[0] * tn.broadcast_tensors(a, b)[1],
            lambda r: [_n(r, 3, 1), _n(r, 4)], lambda a, b: a * b),
    OpEntry("combinations", lambda a: tn.combinations(a, 2), lambda r: [_n(r, 4)],
            lambda a: np.array([[a[i], a[j]] for i in range(4) for j in range(i + 1, 4)])),
    OpEntry("combinations_replacement", lambda a: tn.combinations(a, 3, with_replacement=True),
            lambda r: [_n(r, 3)],
            lambda a: np.array([[a[i], a[j], a[k]] for i in range(3) for j in range(i, 3) for k in range(j, 3)])),
    OpEntry("diagflat", lambda a: tn.diagflat(a, 1), lambda r: [_n(r, 2, 2)], lambda a: np.diagflat(a, 1)),
    OpEntry("rsub", lambda a, b: tn.rsub(a, b, alpha=2), lambda r: [_n(r, 3, 4), _n(r, 4)], lambda a, b: b - 2 * a),
    OpEntry("put_accumulate", lambda a, s: a.put(tn.tensor([0, 5, 5, -1], device=a.device), s, accumulate=True),
            lambda r: [_n(r, 2, 3), _n(r, 4)],
            lambda a, s: (lambda f: (np.add.at(f, [0, 5, 5, -1], s), f.reshape(2, 3))[1])(a.reshape(-1).copy())),
    OpEntry("put", lambda a, s: a.put(tn.tensor([1, 4], device=a.device), s), lambda r: [_n(r, 2, 3), _n(r, 2)],
            lambda a, s: (lambda f: (f.__setitem__([1, 4], s), f.reshape(2, 3))[1])(a.reshape(-1).copy())),
    OpEntry("sum_to_size", lambda a: a.sum_to_size(1, 4), lambda r: [_n(r, 3, 4)],
            lambda a: a.sum(0, keepdims=True)),
    # statistics.py
    OpEntry("diff", lambda a: tn.diff(a, n=2, dim=0), lambda r: [_n(r, 4, 3)], lambda a: np.diff(a, n=2, axis=0)),
    OpEntry("diff_prepend_append", lambda a, p, q: tn.diff(a, dim=1, prepend=p, append=q),
            lambda r: [_n(r, 2, 3), _n(r, 2, 1), _n(r, 2, 2)],
            lambda a, p, q: np.diff(a, axis=1, prepend=p, append=q)),
    OpEntry("quantile_linear", lambda a: tn.quantile(a, tn.tensor([0.2, 0.75], dtype=a.dtype, device=a.device),
                                                    dim=1, keepdim=True),
            lambda r: [_apart(r, 3, 5)], lambda a: np.quantile(a, [0.2, 0.75], axis=1, keepdims=True)),
    OpEntry("quantile_all", lambda a: tn.quantile(a, 0.4), lambda r: [_apart(r, 3, 4)],
            lambda a: np.quantile(a, 0.4)),
    OpEntry("quantile_midpoint", lambda a: tn.quantile(a, 0.3, dim=0, interpolation="midpoint"),
            lambda r: [_apart(r, 4, 3)], lambda a: np.quantile(a, 0.3, axis=0, method="midpoint")),
    OpEntry("nanquantile", lambda a: tn.nanquantile(a, 0.6, dim=1), lambda r: [_apart(r, 3, 5)],
            lambda a: np.nanquantile(a, 0.6, axis=1)),
    OpEntry("cov", tn.cov, lambda r: [_n(r, 3, 5)], np.cov),
    OpEntry("cov_weights", lambda a, w: tn.cov(a, correction=0, fweights=tn.tensor([1, 2, 1, 3, 1], device=a.device),
                                               aweights=w),
            lambda r: [_n(r, 2, 5), _pos(r, 5)],
            lambda a, w: np.cov(a, ddof=0, fweights=[1, 2, 1, 3, 1], aweights=w)),
    OpEntry("cov_1d", tn.cov, lambda r: [_n(r, 6)], lambda a: np.cov(a)),
    OpEntry("corrcoef", tn.corrcoef, lambda r: [_n(r, 3, 6)], np.corrcoef),
    OpEntry("trapezoid_x", lambda y, x: tn.trapezoid(y, x, dim=0), lambda r: [_n(r, 4, 3), np.sort(_n(r, 4))],
            lambda y, x: np.trapezoid(y, x, axis=0)),
    OpEntry("trapezoid_dx", lambda y: tn.trapezoid(y, dx=0.3), lambda r: [_n(r, 3, 4)],
            lambda y: np.trapezoid(y, dx=0.3, axis=-1)),
    OpEntry("cumulative_trapezoid", lambda y, x: tn.cumulative_trapezoid(y, x), lambda r: [_n(r, 2, 5), _n(r, 2, 5)],
            lambda y, x: np.cumsum((y[:, 1:] + y[:, :-1]) / 2 * np.diff(x, axis=1), axis=1)),
    OpEntry("renorm", lambda a: tn.renorm(a, 2, 0, 1.5), lambda r: [_n(r, 3, 4)],
            lambda a: a * np.where((n := np.sqrt((a * a).sum(1, keepdims=True))) > 1.5, 1.5 / (n + 1e-7), 1.0)),
]
