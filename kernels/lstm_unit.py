"""The LSTM cell's math for one (row r, hidden unit j), written once as plain Python.

``kernels/cuda/lstm.py`` compiles both with ``numba.cuda.jit(device=True)`` (one GPU
thread per unit) and ``kernels/cpu/lstm.py`` compiles ``unit_backward`` with
``numba.njit`` (inlined into its row loop), so the devices cannot drift apart; the cpu
forward runs the same formulas as NumPy ufuncs over whole blocks, and the tests check it
against ``unit_forward``. Gate pre-activations ``a`` (N, 4H) hold ``[a_i, a_f, a_g, a_o]``
side by side::

    forward   i, f, o = sigmoid(a_i, a_f, a_o);  g = tanh(a_g)
              c = f * c_prev + i * g;  h = o * tanh(c)
    backward  dc_t = dc + dh * o * (1 - tanh(c)^2)
              da_i = dc_t g i (1 - i);  da_f = dc_t c_prev f (1 - f)
              da_g = dc_t i (1 - g^2);  da_o = dh tanh(c) o (1 - o);  dc_prev = dc_t f

The forward overwrites ``a`` with the activations (i, f, g, o), which the backward reads.
"""
import math


def unit_forward(a, c_prev, c, tc, h, r, j, H):
    i = 1.0 / (1.0 + math.exp(-a[r, j]))
    f = 1.0 / (1.0 + math.exp(-a[r, H + j]))
    g = math.tanh(a[r, 2 * H + j])
    o = 1.0 / (1.0 + math.exp(-a[r, 3 * H + j]))
    a[r, j] = i
    a[r, H + j] = f
    a[r, 2 * H + j] = g
    a[r, 3 * H + j] = o
    cc = f * c_prev[r, j] + i * g
    t = math.tanh(cc)
    c[r, j] = cc
    tc[r, j] = t
    h[r, j] = o * t


def unit_backward(acts, tc, c_prev, dh, dc, dgates, r, j, H):
    i = acts[r, j]
    f = acts[r, H + j]
    g = acts[r, 2 * H + j]
    o = acts[r, 3 * H + j]
    t = tc[r, j]
    d = dh[r, j]
    dct = dc[r, j] + d * o * (1.0 - t * t)
    dgates[r, j] = dct * g * i * (1.0 - i)
    dgates[r, H + j] = dct * c_prev[r, j] * f * (1.0 - f)
    dgates[r, 2 * H + j] = dct * i * (1.0 - g * g)
    dgates[r, 3 * H + j] = d * t * o * (1.0 - o)
    dc[r, j] = dct * f
