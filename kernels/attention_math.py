"""Fused (flash-style) attention of one query row against a tile of keys, written once.

``kernels/cpu/attention.py`` compiles these with ``numba.njit`` and ``kernels/cuda/attention.py``
with ``numba.cuda.jit(device=True)`` (both through ``kernels/_math_module.compile_math``).
They never build the (L, S) matrix of probabilities: a query row meets the keys a tile at a
time, and only its output row and its log-sum-exp are kept.

For query row ``i`` of head ``bh`` (``b = bh // H``, ``h = bh % H``) and key ``j``::

    s_ij  = scale * q_i . k_j + M[b, h, i, j]        (M: additive mask; -inf where j > i if causal)
    lse_i = log sum_j exp(s_ij)                       P_ij = exp(s_ij - lse_i)
    Z_ij  = [u(seed, bh, i, j) >= p] / (1 - p)        (dropout; Z = 1 when p = 0)
    o_i   = sum_j P_ij Z_ij v_j

**Forward, online softmax** (Milakov and Gimelshein 2018; FlashAttention, Dao et al. 2022):
keep a running maximum ``m``, a running sum ``l = sum exp(s - m)`` and the unnormalised
output row ``acc``. A new tile of scores with maximum ``m'' = max(m, max_t s_t)`` rescales
what came before by ``alpha = exp(m - m')``::

    l <- l alpha + sum_t exp(s_t - m'),    acc <- acc alpha + sum_t exp(s_t - m') Z_t v_t

and at the end ``o = acc / l``, ``lse = m + log l`` (saved for the backward). A row whose
scores are all -inf (every key masked) has no distribution: its output and lse are NaN, as
PyTorch's ``softmax`` of such a row.

**Backward** recomputes ``P`` from the saved ``lse`` (no (L, S) array is stored) and the
dropout mask from the hash. With ``dO`` the output gradient::

    D_i  = dO_i . o_i                     (= sum_j P_ij dP_ij, since o_i = sum_j P_ij Z_ij v_j)
    dP_ij = Z_ij (dO_i . v_j),            dS_ij = P_ij (dP_ij - D_i)
    dq_i = scale sum_j dS_ij k_j,   dk_j = scale sum_i dS_ij q_i,   dv_j = sum_i P_ij Z_ij dO_i

**Dropout without a stored mask**: ``u(seed, bh, i, j)`` in [0, 1) is a counter-based hash
(murmur3's 32-bit finaliser ``mix32`` chained over seed, head, row and column), so the
forward, the backward and both devices draw the same mask from one seed. The arithmetic
keeps every product below 2**64 (32-bit values times 32-bit constants, masked back to 32
bits), so it is exact in uint64 on every device, the CUDA simulator's NumPy scalars included.

**Tiles and pairs.** A tile is ``n`` (query, key) pairs ``(i0 + t di, j0 + t dj)``, t < n:
a row of keys for one query (``di = 0, dj = 1``: the forward and the query-side backward)
or a column of queries for one key (``di = 1, dj = 0``: the GPU's key-side backward). Scores
come from :func:`dot_tile` against a *transposed* tile (``kt[c, t]``), so the inner loop
runs over contiguous memory (the cpu vectorises it; on the GPU the threads of a warp read
the same shared-memory word). All 2-D arguments are indexed ``[row, column]``.

``exp`` (below) is the one name a device may bind differently. Every argument it gets is
<= 0 or NaN (``m - m'``, ``s - m'`` and ``s - lse``, with ``lse >= max s``), so the cpu
float32 kernels bind ``kernels/cpu/_vecmath.exp_nonpos``; float64 and the GPU keep ``math.exp``.
"""
import math

import numpy as np

#: The exponential of an argument <= 0 (a device may bind a faster one valid only there).
exp = math.exp


# --- dropout: a counter-based hash --------------------------------------------------------
def mix32(h):
    """murmur3's ``fmix32`` of a 32-bit value held in a uint64 (a bijection on 32 bits)."""
    h = h ^ (h >> np.uint64(16))
    h = (h * np.uint64(0x85EBCA6B)) & np.uint64(0xFFFFFFFF)
    h = h ^ (h >> np.uint64(13))
    h = (h * np.uint64(0xC2B2AE35)) & np.uint64(0xFFFFFFFF)
    return h ^ (h >> np.uint64(16))


def uniform(seed, bh, i, j):
    """A uniform number in [0, 1) (24 bits) determined by (seed, bh, i, j) alone."""
    m = np.uint64(0xFFFFFFFF)
    h = mix32(np.uint64(seed) & m)
    h = mix32((h + np.uint64(bh)) & m)
    h = mix32((h + np.uint64(i)) & m)
    h = mix32((h + np.uint64(j)) & m)
    return np.float64(h >> np.uint64(8)) * (1.0 / 16777216.0)


def keep_scale(seed, bh, i, j, p, inv_keep):
    """Dropout's factor Z_ij: ``1 / (1 - p)`` (``inv_keep``) if the pair is kept, else 0."""
    return inv_keep if uniform(seed, bh, i, j) >= p else 0.0


# --- scores ---------------------------------------------------------------------------------
def dot_tile(x, xi, yt, y0, n, d, scale, s):
    """``s[t] = scale * sum_c x[xi, c] * yt[c, y0 + t]`` for t < n, over the first d columns.

    Four columns per pass over ``s``: a pass is a short loop (n is a tile or a row of keys),
    so its fixed cost is paid d/4 times rather than d times."""
    for t in range(n):
        s[t] = 0.0
    c = 0
    while c + 4 <= d:
        a0, a1, a2, a3 = x[xi, c] * scale, x[xi, c + 1] * scale, x[xi, c + 2] * scale, x[xi, c + 3] * scale
        for t in range(n):
            s[t] += a0 * yt[c, y0 + t] + a1 * yt[c + 1, y0 + t] + a2 * yt[c + 2, y0 + t] + a3 * yt[c + 3, y0 + t]
        c += 4
    while c < d:
        a = x[xi, c] * scale
        for t in range(n):
            s[t] += a * yt[c, y0 + t]
        c += 1


def add_mask(s, n, mask, has_mask, causal, b, h, i0, di, j0, dj):
    """Add the additive mask to the scores of the pairs ``(i0 + t di, j0 + t dj)``; with
    ``causal``, -inf where the key comes after the query (j > i, top-left aligned).

    ``mask`` is 4-D with each axis either full or 1 (broadcast), e.g. (N, 1, 1, S) for key
    padding; it is read in place, never expanded to (B, H, L, S)."""
    if has_mask:
        mb = b if mask.shape[0] > 1 else 0
        mh = h if mask.shape[1] > 1 else 0
        full_i = mask.shape[2] > 1
        full_j = mask.shape[3] > 1
        for t in range(n):
            s[t] += mask[mb, mh, i0 + t * di if full_i else 0, j0 + t * dj if full_j else 0]
    if causal:
        for t in range(n):
            if j0 + t * dj > i0 + t * di:
                s[t] = -math.inf


# --- forward: online softmax ------------------------------------------------------------------
def softmax_tile(s, n, m, l, seed, bh, i, j0, p, inv_keep):
    """One online-softmax step for query row ``i`` with the scores ``s[:n]`` of keys j0..j0+n-1.

    Returns ``(m', l', alpha)`` and overwrites ``s[t]`` with the weight ``exp(s_t - m') Z_t``
    of value row t. While every score so far is -inf nothing changes (weights 0, alpha 1):
    ``exp(-inf - (-inf))`` would be NaN."""
    mt = -math.inf
    for t in range(n):
        mt = max(mt, s[t])
    m_new = max(m, mt)
    if m_new == -math.inf:
        for t in range(n):
            s[t] = 0.0
        return m, l, 1.0
    alpha = exp(m - m_new)
    total = 0.0
    for t in range(n):
        e = exp(s[t] - m_new)
        total += e
        s[t] = e
    if p > 0.0:
        for t in range(n):
            s[t] = s[t] * keep_scale(seed, bh, i, j0 + t, p, inv_keep)
    return m_new, l * alpha + total, alpha


def axpy_rows(acc, ai, alpha, w, n, v, v0, d, wscale):
    """``acc[ai, c] = alpha acc[ai, c] + wscale sum_t w[t] v[v0 + t, c]`` for c < d."""
    if alpha != 1.0:
        for c in range(d):
            acc[ai, c] = acc[ai, c] * alpha
    t = 0
    while t + 4 <= n:  # four value rows per pass over acc (as in dot_tile)
        a0, a1, a2, a3 = w[t] * wscale, w[t + 1] * wscale, w[t + 2] * wscale, w[t + 3] * wscale
        for c in range(d):
            acc[ai, c] += a0 * v[v0 + t, c] + a1 * v[v0 + t + 1, c] + a2 * v[v0 + t + 2, c] + a3 * v[v0 + t + 3, c]
        t += 4
    while t < n:
        a = w[t] * wscale
        for c in range(d):
            acc[ai, c] += a * v[v0 + t, c]
        t += 1


def finish_row(acc, ai, d, m, l, out, oi, lse, bh, i):
    """``out[oi, :d] = acc[ai, :d] / l`` and ``lse[bh, i] = m + log l``; NaN for a row with
    every key masked (``m = -inf``)."""
    if m == -math.inf:
        for c in range(d):
            out[oi, c] = math.nan
        lse[bh, i] = math.nan
        return
    inv = 1.0 / l
    for c in range(d):
        out[oi, c] = acc[ai, c] * inv
    lse[bh, i] = m + math.log(l)


# --- backward --------------------------------------------------------------------------------
def row_dot(x, xi, y, yi, d):
    """``sum_c x[xi, c] y[yi, c]`` (as a float64): D_i = dO_i . o_i."""
    total = 0.0
    for c in range(d):
        total += np.float64(x[xi, c]) * y[yi, c]
    return total


def grad_tile(s, dp, n, lse, dlt, bh, i0, di, j0, dj, seed, p, inv_keep):
    """From the scores ``s`` and ``dp[t] = dO_i . v_j`` of the pairs ``(i0 + t di, j0 + t dj)``:
    ``s[t] <- dS = P (Z dp - D_i)`` and ``dp[t] <- P Z``, with ``P = exp(s - lse_i)``
    (``lse``, ``dlt``: (BH, L) arrays of the rows' log-sum-exp and D). A NaN lse (a fully
    masked row) makes its P, and the gradients it reaches, NaN."""
    if p > 0.0:
        for t in range(n):
            i = i0 + t * di
            pr = exp(s[t] - lse[bh, i])
            z = keep_scale(seed, bh, i, j0 + t * dj, p, inv_keep)
            s[t] = pr * (dp[t] * z - dlt[bh, i])
            dp[t] = pr * z
    elif di == 0:  # one query row: its lse and D hoisted, so the loop vectorises
        lse_i, d_i = lse[bh, i0], dlt[bh, i0]
        for t in range(n):
            pr = exp(s[t] - lse_i)
            s[t] = pr * (dp[t] - d_i)
            dp[t] = pr
    else:
        for t in range(n):
            i = i0 + t
            pr = exp(s[t] - lse[bh, i])
            s[t] = pr * (dp[t] - dlt[bh, i])
            dp[t] = pr
