"""``tn.special``: special functions under PyTorch's ``torch.special`` names.

The ops live in :mod:`tinynet.functional.special` and :mod:`tinynet.functional.pointwise`
(with their gradients); this module is their ``torch.special``-shaped face, including its
aliases (``expit`` = sigmoid, ``gammaln`` = lgamma, ``psi`` = digamma, ``multigammaln`` =
mvlgamma) and its keyword-only ``dtype=`` of ``softmax``/``log_softmax``.
"""
from __future__ import annotations

from .functional import activation as _activation
from .functional import special as _special
from .functional.activation import erf
from .functional.pointwise import erfc, erfinv, exp2, expm1, log1p, round, sinc, xlogy
from .functional.reduction import logsumexp
from .functional.special import (digamma, entr, erfcx, expit, i0, i0e, i1, i1e, log_ndtr, logit, ndtr, ndtri,
                                 polygamma, xlog1py, zeta)

__all__ = ["digamma", "entr", "erf", "erfc", "erfcx", "erfinv", "exp2", "expit", "expm1", "gammaln", "i0", "i0e",
           "i1", "i1e", "log1p", "log_ndtr", "log_softmax", "logit", "logsumexp", "multigammaln", "ndtr", "ndtri",
           "polygamma", "psi", "round", "sinc", "softmax", "xlog1py", "xlogy", "zeta"]

gammaln = _special.lgamma
psi = digamma


def multigammaln(input, p):
    """The log of the multivariate gamma function (``torch.special.multigammaln``; :func:`tn.mvlgamma`)."""
    return _special.mvlgamma(input, p)


def softmax(input, dim, *, dtype=None):
    """softmax along ``dim`` (``torch.special.softmax``); ``dtype`` converts the input first."""
    return _activation.softmax(input.to(dtype) if dtype is not None else input, dim)


def log_softmax(input, dim, *, dtype=None):
    """log softmax along ``dim`` (``torch.special.log_softmax``); ``dtype`` converts the input first."""
    return _activation.log_softmax(input.to(dtype) if dtype is not None else input, dim)
