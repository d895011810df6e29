"""Layer normalisation of one row, written once as plain Python for both devices.

``kernels/cpu/layer_norm.py`` compiles these with ``numba.njit`` and loops over the rows;
``kernels/cuda/layer_norm.py`` compiles them with ``numba.cuda.jit(device=True)`` and runs
one GPU thread per row; both through ``kernels/_math_module.compile_math``. For row ``r``
of ``x`` (rows, n), the normalised axes flattened::

    mu = mean(x);  var = mean((x - mu)^2);  rstd = 1 / sqrt(var + eps)
    xhat = (x - mu) * rstd;  y = xhat * w + b

and for the backward, with ``gx = g * w``::

    dx = rstd * (gx - mean(gx) - xhat * mean(gx * xhat))
    dw = sum over rows of g * xhat;  db = sum over rows of g

``dw`` and ``db`` sum down the rows, which each device organises its own way: the cpu adds
each row's terms into a partial sum per chunk of rows in the same pass as the row's ``dx``
(:func:`backward_row` with ``add_weight_grads``), the GPU sums each column in a thread of
its own (:func:`dw_db_column`), with no atomics and a fixed order. The row sums run in
float64 (``s = 0.0``) for float32 rows too.
"""
import math


def forward_row(x, w, b, eps, y, mean, rstd, r):
    """Normalise row r into ``y``; store its mean and 1/std (for the backward)."""
    n = x.shape[1]
    s = 0.0
    for j in range(n):
        s += x[r, j]
    mu = s / n
    v = 0.0
    for j in range(n):
        d = x[r, j] - mu
        v += d * d
    rs = 1.0 / math.sqrt(v / n + eps)
    mean[r] = mu
    rstd[r] = rs
    for j in range(n):
        y[r, j] = (x[r, j] - mu) * rs * w[j] + b[j]


def backward_row(g, x, w, mean, rstd, dx, r, dw, db, add_weight_grads):
    """Row r of the input gradient. With ``add_weight_grads``, also adds the row's terms of
    ``dw`` and ``db`` into the 1-D ``dw``/``db`` in the same pass over the row (the cpu's
    partial sums per chunk of rows); the GPU sums them per column instead (``dw_db_column``)."""
    n = x.shape[1]
    mu = mean[r]
    rs = rstd[r]
    s1 = 0.0
    s2 = 0.0
    for j in range(n):
        xh = (x[r, j] - mu) * rs
        gx = g[r, j] * w[j]
        s1 += gx
        s2 += gx * xh
        if add_weight_grads:
            dw[j] += g[r, j] * xh
            db[j] += g[r, j]
    m1 = s1 / n
    m2 = s2 / n
    for j in range(n):
        dx[r, j] = rs * (g[r, j] * w[j] - m1 - (x[r, j] - mu) * rs * m2)


def dw_db_column(g, x, mean, rstd, dw, db, j):
    """Column j of ``dw`` and ``db``: sums down the rows (one GPU thread per column)."""
    sw = 0.0
    sb = 0.0
    for r in range(x.shape[0]):
        sw += g[r, j] * (x[r, j] - mean[r]) * rstd[r]
        sb += g[r, j]
    dw[j] = sw
    db[j] = sb
