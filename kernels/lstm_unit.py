"""The recurrent cells' math for one (row r, hidden unit j), written once as plain Python.

The LSTM's unit math gave this module its name; the GRU and the Elman RNN (tanh/relu)
live here too because all three share ``sigmoid`` and ``tanh`` below, and a math module
is compiled as one unit (``kernels/_math_module.compile_math``: calls between its
functions reach their compiled twins). ``kernels/cpu/lstm.py`` compiles it with
``numba.njit`` into whole-layer loops (every time step in one compiled call);
``kernels/cuda/lstm.py`` with ``numba.cuda.jit(device=True)``, one GPU thread per unit and
a launch per step.

Gate pre-activations hold their blocks side by side in PyTorch's order: ``[i, f, g, o]``
(LSTM, 4H wide), ``[r, z, n]`` (GRU, 3H), one block (RNN). With ``x_t W_ih^T + b_ih``
given as ``xg`` and ``h_{t-1} W_hh^T`` as ``hg`` (the caller's two GEMMs)::

    LSTM  [i, f, g, o] = xg + hg + b_hh;  i, f, o = sigmoid(.);  g = tanh(.)
          c = f * c_prev + i * g;  h = o * tanh(c)
    GRU   r = sigmoid(xg_r + hg_r + b_hr);  z = sigmoid(xg_z + hg_z + b_hz)
          hn = hg_n + b_hn;  n = tanh(xg_n + r * hn);  h = (1 - z) n + z h_prev
    RNN   h = act(xg + hg + b_hh), act = tanh or relu

Backward of one step, with ``d = dh + gh`` (the carried hidden gradient plus the output's
gradient at this step)::

    LSTM  dc_t = dc + d o (1 - tanh(c)^2)
          da_i = dc_t g i (1 - i);  da_f = dc_t c_prev f (1 - f)
          da_g = dc_t i (1 - g^2);  da_o = d tanh(c) o (1 - o);  dc_prev = dc_t f
    GRU   da_n = d (1 - z) (1 - n^2);  da_r = da_n hn r (1 - r)
          da_z = d (h_prev - n) z (1 - z);  the hg side of n gets da_n r
          dh_prev = d z + (hg-side gradients) W_hh
    RNN   da = d (1 - h^2) (tanh) or d [h > 0] (relu)

and for LSTM and RNN ``dh_prev = da W_hh`` (the xg and hg sides get the same gradient).

``exp`` (below) is the one name a device may bind differently: every argument it gets
here is <= 0, so the cpu float32 loops bind ``kernels/cpu/_vecmath.exp_nonpos``, an exp
valid only there that LLVM can vectorise (libm's cannot), computed in float64: near 0,
``tanh(a) = 2 sigmoid(2a) - 1`` (so both activations cost one exp) subtracts nearly equal
numbers, and an exp accurate only to float32 would leave tanh(1e-3) a 1e-4 relative error.
Float64 and the GPU keep ``math.exp``.

One interface for every cell, run by the layer kernels of both devices, with ``<cell>``
one of ``lstm``, ``gru``, ``rnn_tanh``, ``rnn_relu`` (all arrays the (N, .) slices of step t)::

      <cell>_gate(xg, hg, bh, r, k, b) -> acts[r, k]        k = b H + j: unit j of block b
          the activated gate (LSTM i, f, g, o; GRU r, z and hn = hg_n + b_hn; RNN h)
      <cell>_update(xg, acts, h_prev, c_prev, c, aux, h, r, j, H)
          writes h (and the LSTM's c, aux = tanh(c); the GRU's aux = n)
      <cell>_step_backward(acts, aux, h_prev, c_prev, h, gh, dh, dc, dxg, dhg, r, j, H)
          writes the xg-side gradients dxg and (GRU only) the hg-side ones dhg (for the
          other cells the caller passes dhg = dxg); leaves in dh the part of dh_prev that
          does not go through W_hh (GRU d z, others 0) and in dc the LSTM's dc_prev.

The gates are a pass of their own, one element at a time, and the update reads them: a
loop that wrote a gate and read another block of the same row could not be vectorised (the
compiler cannot tell the blocks apart), and the cpu runs each as its own loop.
"""
import math

#: The exponential of an argument <= 0 (a device may bind a faster one valid only there).
exp = math.exp


def sigmoid(a):
    """1 / (1 + exp(-a)), as e / (1 + e) with e = exp(a) for a < 0: exp only sees -|a|."""
    e = exp(-abs(a))
    s = 1.0 / (1.0 + e)
    return s if a >= 0 else e * s


def tanh(a):
    """2 sigmoid(2a) - 1."""
    return 2.0 * sigmoid(2.0 * a) - 1.0


# --- LSTM ------------------------------------------------------------------------------------
def lstm_activation(v, b):
    """Gate block b's activation: tanh for g (b = 2), sigmoid for i, f, o."""
    return tanh(v) if b == 2 else sigmoid(v)


def lstm_cell_update(acts, c_prev, c, tc, h, r, j, H):
    i = acts[r, j]
    f = acts[r, H + j]
    g = acts[r, 2 * H + j]
    o = acts[r, 3 * H + j]
    cc = f * c_prev[r, j] + i * g
    t = tanh(cc)
    c[r, j] = cc
    tc[r, j] = t
    h[r, j] = o * t


def unit_backward(acts, tc, c_prev, dh, dc, dgates, r, j, H):
    """One LSTM unit's backward (the formulas above) from the activated gates ``acts``."""
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


def lstm_gate(xg, hg, bh, r, k, b):
    return lstm_activation(xg[r, k] + hg[r, k] + bh[k], b)


def lstm_update(xg, acts, h_prev, c_prev, c, aux, h, r, j, H):
    lstm_cell_update(acts, c_prev, c, aux, h, r, j, H)


def lstm_step_backward(acts, aux, h_prev, c_prev, h, gh, dh, dc, dxg, dhg, r, j, H):
    dh[r, j] += gh[r, j]
    unit_backward(acts, aux, c_prev, dh, dc, dxg, r, j, H)
    dh[r, j] = 0.0


# --- GRU -------------------------------------------------------------------------------------
def gru_gate(xg, hg, bh, r, k, b):
    """r and z: sigmoid(xg + hg + bh); block n: hn = hg_n + b_hn (the update needs it)."""
    return hg[r, k] + bh[k] if b == 2 else sigmoid(xg[r, k] + hg[r, k] + bh[k])


def gru_update(xg, acts, h_prev, c_prev, c, aux, h, r, j, H):
    z = acts[r, H + j]
    n = tanh(xg[r, 2 * H + j] + acts[r, j] * acts[r, 2 * H + j])
    aux[r, j] = n
    h[r, j] = n + z * (h_prev[r, j] - n)


def gru_step_backward(acts, aux, h_prev, c_prev, h, gh, dh, dc, dxg, dhg, r, j, H):
    rr = acts[r, j]
    z = acts[r, H + j]
    hn = acts[r, 2 * H + j]
    n = aux[r, j]
    d = dh[r, j] + gh[r, j]
    dan = d * (1.0 - z) * (1.0 - n * n)
    dar = dan * hn * rr * (1.0 - rr)
    daz = d * (h_prev[r, j] - n) * z * (1.0 - z)
    dxg[r, j] = dar
    dxg[r, H + j] = daz
    dxg[r, 2 * H + j] = dan
    dhg[r, j] = dar
    dhg[r, H + j] = daz
    dhg[r, 2 * H + j] = dan * rr
    dh[r, j] = d * z


# --- Elman RNN: the gate pass computes h itself ------------------------------------------------
def rnn_update(acts, h, r, j):
    h[r, j] = acts[r, j]


def rnn_step_backward(h, gh, dh, dxg, r, j, relu):
    d = dh[r, j] + gh[r, j]
    y = h[r, j]
    dxg[r, j] = (d if y > 0 else 0.0) if relu else d * (1.0 - y * y)
    dh[r, j] = 0.0


def rnn_tanh_gate(xg, hg, bh, r, k, b):
    return tanh(xg[r, k] + hg[r, k] + bh[k])


def rnn_tanh_update(xg, acts, h_prev, c_prev, c, aux, h, r, j, H):
    rnn_update(acts, h, r, j)


def rnn_tanh_step_backward(acts, aux, h_prev, c_prev, h, gh, dh, dc, dxg, dhg, r, j, H):
    rnn_step_backward(h, gh, dh, dxg, r, j, False)


def rnn_relu_gate(xg, hg, bh, r, k, b):
    v = xg[r, k] + hg[r, k] + bh[k]
    return v if v > 0 or v != v else 0.0  # NaN stays NaN, as in relu


def rnn_relu_update(xg, acts, h_prev, c_prev, c, aux, h, r, j, H):
    rnn_update(acts, h, r, j)


def rnn_relu_step_backward(acts, aux, h_prev, c_prev, h, gh, dh, dc, dxg, dhg, r, j, H):
    rnn_step_backward(h, gh, dh, dxg, r, j, True)
