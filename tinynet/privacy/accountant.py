r"""Rényi-DP accountant for DP-SGD (the Poisson-subsampled Gaussian mechanism).

**Rényi differential privacy** (Mironov 2017). A mechanism M is (alpha, rho)-RDP when for all
neighbouring datasets D, D' the Rényi divergence of order alpha > 1 satisfies
``D_alpha(M(D) || M(D')) <= rho``. RDP composes additively: T steps at (alpha, rho) give
(alpha, T * rho), so the accountant keeps one rho per order and sums.

**One DP-SGD step** adds N(0, sigma^2 C^2) noise to the sum of per-sample gradients clipped to norm
C, over a batch where each example is included independently with probability q (Poisson sampling).
Mironov, Talwar & Zhang (2019), "Rényi Differential Privacy of the Sampled Gaussian Mechanism",
reduce its RDP to the divergence between the mixture ``(1-q) N(0, sigma^2) + q N(1, sigma^2)`` and
``N(0, sigma^2)``: ``rho(alpha) = log(A_alpha) / (alpha - 1)`` with

* integer alpha (binomial expansion, their Sec. 3.3):
  ``A_alpha = sum_{k=0}^{alpha} binom(alpha, k) (1-q)^(alpha-k) q^k exp((k^2 - k) / (2 sigma^2))``;
* fractional alpha (the two-sided series, same section): with ``z0 = sigma^2 log(1/q - 1) + 1/2``,
  ``A_alpha = sum_{k>=0} binom(alpha, k) [ q^k (1-q)^(alpha-k) exp((k^2-k)/(2 sigma^2)) E0_k
  + q^(alpha-k) (1-q)^k exp(((alpha-k)^2-(alpha-k))/(2 sigma^2)) E1_k ]``,
  ``E0_k = erfc((k - z0) / (sqrt(2) sigma)) / 2``, ``E1_k = erfc((z0 - (alpha-k)) / (sqrt(2) sigma)) / 2``,
  summed until both terms decrease and fall 30 nats below the total.

Special cases: q = 0 -> rho = 0; sigma = 0 -> rho = inf; q = 1 (full batch) -> the plain Gaussian
mechanism, ``rho = alpha / (2 sigma^2)``. Everything runs in log space (``log_add``) to avoid overflow.

**RDP -> (epsilon, delta)**. The classic conversion (Mironov 2017, Prop. 3) is
``eps = rho - log(delta) / (alpha - 1)``; we use the tighter one of Balle et al. 2020 ("Hypothesis
testing interpretations and Rényi DP", Prop. 12) / Canonne, Kamath & Steinke 2020:
``eps = rho + log1p(-1/alpha) - log(delta * alpha) / (alpha - 1)`` (used for alpha > 1.01), or eps = 0
when ``delta^2 + expm1(-rho) > 0`` (then delta already bounds the KL-based distance), minimised over the
orders. This is what Google's ``dp_accounting.rdp.RdpAccountant`` and Opacus compute.
"""
from __future__ import annotations

import math

__all__ = ["RDPAccountant", "DEFAULT_ALPHAS", "compute_rdp", "get_privacy_spent"]

#: the RDP orders Opacus uses by default
DEFAULT_ALPHAS = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))

_MAX_SERIES_TERMS = 1000


def _log_add(logx, logy):
    """log(exp(logx) + exp(logy)) without overflow."""
    a, b = min(logx, logy), max(logx, logy)
    if a == -math.inf:
        return b
    return math.log1p(math.exp(a - b)) + b


def _log_comb(n, k):
    """log binom(n, k) for real n >= k >= 0 via log-gamma."""
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _log_erfc(x):
    """log(erfc(x)), accurate also where erfc underflows (asymptotic series for large x)."""
    r = math.erfc(x)
    if r > 1e-300:
        return math.log(r)
    # erfc(x) ~ exp(-x^2) / (x sqrt(pi)) * exp(-1/(2x^2) + 5/(8x^4) - ...)  (Laurent series at infinity)
    return (-math.log(math.pi) / 2 - math.log(x) - x ** 2 - 0.5 * x ** -2 + 0.625 * x ** -4
            - 37.0 / 24.0 * x ** -6 + 353.0 / 64.0 * x ** -8)


def _log_a_int(q, sigma, alpha):
    """log A_alpha for integer alpha (binomial expansion)."""
    log_a = -math.inf
    log1mq = math.log1p(-q)
    for k in range(alpha + 1):
        term = _log_comb(alpha, k) + k * math.log(q) + (alpha - k) * log1mq + (k * k - k) / (2 * sigma ** 2)
        log_a = _log_add(log_a, term)
    return log_a


def _log_a_frac(q, sigma, alpha):
    """log A_alpha for fractional alpha (two-sided series); inf if it does not converge."""
    log_a0 = log_a1 = -math.inf
    z0 = sigma ** 2 * math.log(1 / q - 1) + 0.5
    log1mq = math.log1p(-q)
    last0 = last1 = -math.inf
    for k in range(_MAX_SERIES_TERMS):
        coef = _log_comb(alpha, k)
        j = alpha - k
        log_t0 = coef + k * math.log(q) + j * log1mq
        log_t1 = coef + j * math.log(q) + k * log1mq
        log_e0 = math.log(0.5) + _log_erfc((k - z0) / (math.sqrt(2) * sigma))
        log_e1 = math.log(0.5) + _log_erfc((z0 - j) / (math.sqrt(2) * sigma))
        log_s0 = log_t0 + (k * k - k) / (2 * sigma ** 2) + log_e0
        log_s1 = log_t1 + (j * j - j) / (2 * sigma ** 2) + log_e1
        log_a0 = _log_add(log_a0, log_s0)
        log_a1 = _log_add(log_a1, log_s1)
        total = _log_add(log_a0, log_a1)
        if log_s0 < last0 and log_s1 < last1 and max(log_s0, log_s1) < total - 30:
            return total
        last0, last1 = log_s0, log_s1
    return math.inf


def _rdp_one_order(q, sigma, alpha):
    if q == 0:
        return 0.0
    if sigma == 0 or math.isinf(alpha):
        return math.inf
    if q == 1.0:
        return alpha / (2 * sigma ** 2)
    log_a = _log_a_int(q, sigma, int(alpha)) if float(alpha).is_integer() else _log_a_frac(q, sigma, alpha)
    return log_a / (alpha - 1)


def _check_sigma_q(noise_multiplier, sample_rate, op):
    for name, v in (("noise_multiplier", noise_multiplier), ("sample_rate", sample_rate)):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError(f"{op}: {name} must be a real number, got {type(v).__name__}")
        if math.isnan(v):
            raise ValueError(f"{op}: {name} must not be NaN")
    if noise_multiplier < 0:
        raise ValueError(f"{op}: noise_multiplier must be >= 0, got {noise_multiplier}")
    if not 0 <= sample_rate <= 1:
        raise ValueError(f"{op}: sample_rate must be in [0, 1], got {sample_rate}; it is batch_size / dataset_size")


def compute_rdp(noise_multiplier, sample_rate, steps, orders=None):
    """RDP ``rho(alpha)`` (list, one per order) of ``steps`` DP-SGD steps with noise multiplier
    sigma and Poisson sampling rate q (Opacus' ``privacy_analysis.compute_rdp``)."""
    _check_sigma_q(noise_multiplier, sample_rate, "compute_rdp")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"compute_rdp: steps must be a non-negative int, got {steps!r}")
    orders = DEFAULT_ALPHAS if orders is None else list(orders)
    return [_rdp_one_order(float(sample_rate), float(noise_multiplier), a) * steps for a in orders]


def get_privacy_spent(orders, rdp, delta):
    """(epsilon, best order) from RDP values via the improved conversion (see module docstring)."""
    if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not 0 < delta < 1:
        raise ValueError(f"get_privacy_spent: delta must be a number in (0, 1), got {delta!r}; "
                         "a common choice is 1 / dataset_size or smaller")
    orders = list(orders)
    if len(orders) != len(rdp):
        raise ValueError(f"get_privacy_spent: {len(orders)} orders but {len(rdp)} RDP values")
    best, best_order = math.inf, orders[0] if orders else None
    for a, r in zip(orders, rdp):
        if a < 1:
            raise ValueError(f"get_privacy_spent: RDP orders must be >= 1, got {a}")
        if r < 0 or delta ** 2 + math.expm1(-r) > 0:
            eps = 0.0
        elif a > 1.01:
            eps = r + math.log1p(-1 / a) - math.log(delta * a) / (a - 1)
        else:
            eps = math.inf
        if eps < best:
            best, best_order = eps, a
    return max(0.0, best), best_order


class RDPAccountant:
    """Opacus' ``RDPAccountant``: record DP-SGD steps, then ask for epsilon at a given delta.

    ``acc.step(noise_multiplier=1.0, sample_rate=0.01)`` once per optimizer step; consecutive steps
    with the same (sigma, q) are merged in ``history`` as ``(sigma, q, steps)``.
    ``acc.get_epsilon(delta=1e-5)`` sums the RDP of the history over ``orders`` and converts.
    """

    def __init__(self, orders=None):
        self.orders = list(DEFAULT_ALPHAS if orders is None else orders)
        if not self.orders or any(a <= 1 for a in self.orders):
            raise ValueError("RDPAccountant: orders must be a non-empty list of numbers > 1")
        self.history = []

    def step(self, *, noise_multiplier, sample_rate):
        """Record one step of the sampled Gaussian mechanism."""
        _check_sigma_q(noise_multiplier, sample_rate, "RDPAccountant.step")
        if self.history and self.history[-1][:2] == (noise_multiplier, sample_rate):
            sigma, q, n = self.history[-1]
            self.history[-1] = (sigma, q, n + 1)
        else:
            self.history.append((noise_multiplier, sample_rate, 1))

    def __len__(self):
        """Number of recorded steps."""
        return sum(n for _, _, n in self.history)

    def get_privacy_spent(self, *, delta, alphas=None):
        """(epsilon, best order) for the recorded history."""
        orders = self.orders if alphas is None else list(alphas)
        total = [0.0] * len(orders)
        for sigma, q, n in self.history:
            total = [t + r for t, r in zip(total, compute_rdp(sigma, q, n, orders))]
        return get_privacy_spent(orders, total, delta)

    def get_epsilon(self, delta, alphas=None):
        """Epsilon of (epsilon, delta)-DP spent so far."""
        return self.get_privacy_spent(delta=delta, alphas=alphas)[0]
