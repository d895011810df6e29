"""Recurrent layers over a whole sequence as single ops: RNN (tanh/relu), LSTM, GRU.

Gate order and formulas are PyTorch's, so its weights load unchanged:

* RNN:  ``h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)``
* LSTM: ``[i, f, g, o] = x W_ih^T + b_ih + h W_hh^T + b_hh``;
  ``c' = σ(f) c + σ(i) tanh(g)``, ``h' = σ(o) tanh(c')``
* GRU:  ``[r, z] = σ(x W_i^T + b_i + h W_h^T + b_h)`` (first two blocks);
  ``n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn))``, ``h' = (1 - z) n + z h``

Why one op per layer rather than one per time step: the input projection of every step
is one big GEMM up front (``x`` is (N, T, I)), each step is one (N, H) x (H, G·H) GEMM plus
the gate arithmetic, and backpropagation through time runs as a hand-written loop over
arrays with the weight gradients gathered in one GEMM at the end. A graph of T steps of
small ops would pay Python and allocation overhead per node and, worse, slicing step t
out of a (N, T, ·) tensor gives a full-size zero gradient per step.

Each op has one output: the hidden states in time order (N, T, H); the LSTM appends its
final cell state as an extra row, (N, T + 1, H), which the layer slices off.

That hand-written loop is each op's ``backward_array`` (a plain ``backward()``). Its
``backward`` (used when a graph of the backward is recorded, ``create_graph=True``)
instead unrolls the same recurrence with differentiable tinynet ops (the cell functions
below) and differentiates that, so gradients of gradients work.
"""
from __future__ import annotations

from ..autograd.engine import grad
from ..autograd.op import Op
from .activation import relu, sigmoid, tanh
from .join import cat, chunk, stack
from .linear import linear

__all__ = [  # the public ops: tinynet.functional and tn.<name> export these
    "gru_cell", "gru_layer", "lstm_cell", "lstm_layer", "rnn_cell", "rnn_layer"
]


# --- cells as differentiable tinynet ops (nn.*Cell and the create_graph path) --------------
def rnn_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity: str = "tanh"):
    """One Elman RNN step: returns h'."""
    a = linear(x, w_ih, b_ih) + linear(h, w_hh, b_hh)
    return tanh(a) if nonlinearity == "tanh" else relu(a)


def lstm_cell(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step: returns (h', c')."""
    gates = linear(x, w_ih, b_ih) + linear(h, w_hh, b_hh)
    i, f, g, o = chunk(gates, 4, axis=-1)
    c2 = sigmoid(f) * c + sigmoid(i) * tanh(g)
    return sigmoid(o) * tanh(c2), c2


def gru_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step: returns h'."""
    xr, xz, xn = chunk(linear(x, w_ih, b_ih), 3, axis=-1)
    hr, hz, hn = chunk(linear(h, w_hh, b_hh), 3, axis=-1)
    r = sigmoid(xr + hr)
    z = sigmoid(xz + hz)
    n = tanh(xn + r * hn)
    return (1 - z) * n + z * h


# --- array helpers ---------------------------------------------------------------------------
def _sigmoid(xp, a, out=None):
    """1 / (1 + exp(-a)) computed in place-friendly steps (no overflow warnings matter)."""
    out = xp.negative(a, out=out)
    xp.exp(out, out=out)
    out += 1
    return xp.reciprocal(out, out=out)


def _steps(T, reverse):
    return range(T - 1, -1, -1) if reverse else range(T)


class _Recurrent(Op):
    """Shared plumbing: inputs ``(x, h0[, c0], w_ih, w_hh, b_ih, b_hh)``; params ``reverse``."""

    def _input_proj(self, x, w_ih, b):
        """Every step's input projection in one GEMM, time-major (T, N, G) so step t is contiguous."""
        n, t, i = x.shape
        xt = self.xp.ascontiguousarray(x.transpose(1, 0, 2)).reshape(t * n, i)
        out = xt @ w_ih.T
        out += b
        return out.reshape(t, n, -1)

    def _finish(self, x, w_ih, dg_time):
        """dx, dW_ih and db from the per-step gate gradients in time order (T, N, G).

        Works time-major: only the (small) input is transposed, never the gate gradients;
        dx comes back as a (N, T, I) view of a time-major array.
        """
        xp = self.xp
        t, n, g = dg_time.shape
        dg = dg_time.reshape(t * n, g)
        dx = (dg @ w_ih).reshape(t, n, -1).transpose(1, 0, 2)
        xt = xp.ascontiguousarray(x.transpose(1, 0, 2)).reshape(t * n, -1)
        dw_ih = dg.T @ xt
        return dx, dw_ih, dg.sum(axis=0)

    def backward(self, g):
        """The Tensor formula: unroll the layer with differentiable cells and differentiate that."""
        wanted = [t for t in self.inputs if t._requires_grad]
        y = self.unrolled(*self.inputs)
        grads = grad([y], wanted, grad_outputs=[g], create_graph=True, allow_unused=True)
        it = iter(grads)
        return tuple(next(it) if t._requires_grad else None for t in self.inputs)

    def _wanted(self, *grads):
        """One gradient per input, None for the inputs that need none (as ``backward`` gives)."""
        return tuple(gi if t._requires_grad else None for t, gi in zip(self.inputs, grads))

    def _stack_time(self, hs, reverse):
        seq = hs[::-1] if reverse else hs
        return stack(seq, axis=1)


class RNNLayer(_Recurrent):
    """Elman RNN over (N, T, I) -> hidden states (N, T, H). Params: nonlinearity, reverse."""

    name = "rnn_layer"

    def forward(self, x, h0, w_ih, w_hh, b_ih, b_hh):
        xp = self.xp
        n, T, _ = x.shape
        H = h0.shape[-1]
        xg = self._input_proj(x, w_ih, b_ih + b_hh)
        out = xp.empty((n, T, H), dtype=x.dtype)
        h = h0
        for t in _steps(T, self.reverse):
            a = xg[t] + h @ w_hh.T
            h = xp.tanh(a) if self.nonlinearity == "tanh" else xp.maximum(a, 0)
            out[:, t] = h
        self.hs = out
        return out

    def backward_array(self, g):
        x, h0, w_ih, w_hh, b_ih, b_hh = (t.array for t in self.inputs)
        xp = self.xp
        n, T, H = self.hs.shape
        G = g
        da_all = xp.empty((T, n, H), dtype=x.dtype)
        hprev = xp.empty((T, n, H), dtype=x.dtype)
        dh = xp.zeros((n, H), dtype=x.dtype)
        order = list(_steps(T, self.reverse))
        for s in range(T - 1, -1, -1):
            t = order[s]
            h = self.hs[:, t]
            hprev[t] = h0 if s == 0 else self.hs[:, order[s - 1]]
            dh = dh + G[:, t]
            da = dh * (1 - h * h) if self.nonlinearity == "tanh" else dh * (h > 0)
            da_all[t] = da
            dh = da @ w_hh
        dx, dw_ih, db = self._finish(x, w_ih, da_all)
        dw_hh = da_all.reshape(T * n, H).T @ hprev.reshape(T * n, H)
        return self._wanted(dx, dh, dw_ih, dw_hh, db, db.copy())

    def unrolled(self, x, h0, w_ih, w_hh, b_ih, b_hh):
        h, hs = h0, []
        for t in _steps(x.shape[1], self.reverse):
            h = rnn_cell(x[:, t], h, w_ih, w_hh, b_ih, b_hh, self.nonlinearity)
            hs.append(h)
        return self._stack_time(hs, self.reverse)


class LSTMLayer(_Recurrent):
    """LSTM over (N, T, I) -> (N, T + 1, H): hidden states, then the final cell state.

    Per step: one GEMM ``h W_hh^T`` into the gate buffer, then the device's fused gate
    kernel (``kernels.lstm_gates_forward``: sigmoids, tanh, cell and hidden update in one
    pass); backward per step: the fused ``lstm_gates_backward`` and one GEMM for dh.
    """

    name = "lstm_layer"
    saves_output = False  # the backward reads its own saved gates and states, not the output

    def forward(self, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        xp, k = self.xp, self.kernels
        n, T, _ = x.shape
        H = h0.shape[-1]
        xg = self._input_proj(x, w_ih, b_ih + b_hh)
        acts = xp.empty((T, n, 4 * H), dtype=x.dtype)   # activated gates i, f, g, o (by time)
        cs = xp.empty((T, n, H), dtype=x.dtype)          # cell states c_t
        tcs = xp.empty((T, n, H), dtype=x.dtype)         # tanh(c_t)
        hs = xp.empty((T, n, H), dtype=x.dtype)          # hidden states h_t
        whh_t = w_hh.T
        h, c = h0, xp.ascontiguousarray(c0)
        for t in _steps(T, self.reverse):
            a = acts[t]
            xp.matmul(h, whh_t, out=a)
            a += xg[t]
            k.lstm_gates_forward(a, c, cs[t], tcs[t], hs[t])
            h, c = hs[t], cs[t]
        out = xp.empty((n, T + 1, H), dtype=x.dtype)
        out[:, :T] = hs.transpose(1, 0, 2)
        out[:, T] = c
        self.acts, self.cs, self.tcs, self.hs = acts, cs, tcs, hs
        return out

    def backward_array(self, g):
        x, h0, c0, w_ih, w_hh, b_ih, b_hh = (t.array for t in self.inputs)
        xp, k = self.xp, self.kernels
        n, T1, H = g.shape
        T = T1 - 1
        G = g
        dgates = xp.empty((T, n, 4 * H), dtype=x.dtype)
        hprev = xp.empty((T, n, H), dtype=x.dtype)    # the h each step started from
        if self.reverse:
            hprev[T - 1] = h0
            hprev[:T - 1] = self.hs[1:]
        else:
            hprev[0] = h0
            hprev[1:] = self.hs[:-1]
        c0 = xp.ascontiguousarray(c0)
        dh = xp.zeros((n, H), dtype=x.dtype)
        dc = xp.ascontiguousarray(G[:, T])
        order = list(_steps(T, self.reverse))
        for s in range(T - 1, -1, -1):
            t = order[s]
            c_prev = c0 if s == 0 else self.cs[order[s - 1]]
            dh = dh + G[:, t]
            k.lstm_gates_backward(self.acts[t], self.tcs[t], c_prev, dh, dc, dgates[t])
            dh = dgates[t] @ w_hh
        dx, dw_ih, db = self._finish(x, w_ih, dgates)
        dw_hh = dgates.reshape(T * n, 4 * H).T @ hprev.reshape(T * n, H)
        return self._wanted(dx, dh, dc, dw_ih, dw_hh, db, db.copy())

    def unrolled(self, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        h, c, hs = h0, c0, []
        for t in _steps(x.shape[1], self.reverse):
            h, c = lstm_cell(x[:, t], h, c, w_ih, w_hh, b_ih, b_hh)
            hs.append(h)
        return cat([self._stack_time(hs, self.reverse), c.unsqueeze(1)], axis=1)


class GRULayer(_Recurrent):
    """GRU over (N, T, I) -> hidden states (N, T, H)."""

    name = "gru_layer"

    def forward(self, x, h0, w_ih, w_hh, b_ih, b_hh):
        xp = self.xp
        n, T, _ = x.shape
        H = h0.shape[-1]
        xg = self._input_proj(x, w_ih, b_ih)
        rz = xp.empty((T, n, 2 * H), dtype=x.dtype)
        ns = xp.empty((T, n, H), dtype=x.dtype)
        hns = xp.empty((T, n, H), dtype=x.dtype)  # h W_hn^T + b_hn (needed for dr)
        out = xp.empty((n, T, H), dtype=x.dtype)
        h = h0
        for t in _steps(T, self.reverse):
            hg = h @ w_hh.T + b_hh
            rz_t = rz[t]
            xp.add(xg[t, :, :2 * H], hg[:, :2 * H], out=rz_t)
            _sigmoid(xp, rz_t, out=rz_t)
            hns[t] = hg[:, 2 * H:]
            cand = xp.tanh(xg[t, :, 2 * H:] + rz_t[:, :H] * hg[:, 2 * H:], out=ns[t])
            z = rz_t[:, H:]
            h = cand + z * (h - cand)
            out[:, t] = h
        self.rz, self.ns, self.hns = rz, ns, hns
        return out

    def backward_array(self, g):
        x, h0, w_ih, w_hh, b_ih, b_hh = (t.array for t in self.inputs)
        xp = self.xp
        n, T, H = g.shape
        G = g
        dxg = xp.empty((T, n, 3 * H), dtype=x.dtype)
        dhg = xp.empty((T, n, 3 * H), dtype=x.dtype)
        hprev = xp.empty((T, n, H), dtype=x.dtype)
        dh = xp.zeros((n, H), dtype=x.dtype)
        order = list(_steps(T, self.reverse))
        for s in range(T - 1, -1, -1):
            t = order[s]
            prev = order[s - 1] if s else None
            hp = h0 if prev is None else self.out[:, prev]
            hprev[t] = hp
            r, z = self.rz[t][:, :H], self.rz[t][:, H:]
            cand = self.ns[t]
            dh = dh + G[:, t]
            dn = dh * (1 - z)
            dan = dn * (1 - cand * cand)
            dar = dan * self.hns[t] * r * (1 - r)
            daz = dh * (hp - cand) * z * (1 - z)
            dxt, dht = dxg[t], dhg[t]
            dxt[:, :H] = dar
            dxt[:, H:2 * H] = daz
            dxt[:, 2 * H:] = dan
            dht[:, :2 * H] = dxt[:, :2 * H]
            dht[:, 2 * H:] = dan * r
            dh = dh * z + dht @ w_hh
        dx, dw_ih, db_ih = self._finish(x, w_ih, dxg)
        flat = dhg.reshape(T * n, 3 * H)
        dw_hh = flat.T @ hprev.reshape(T * n, H)
        return self._wanted(dx, dh, dw_ih, dw_hh, db_ih, flat.sum(axis=0))

    def unrolled(self, x, h0, w_ih, w_hh, b_ih, b_hh):
        h, hs = h0, []
        for t in _steps(x.shape[1], self.reverse):
            h = gru_cell(x[:, t], h, w_ih, w_hh, b_ih, b_hh)
            hs.append(h)
        return self._stack_time(hs, self.reverse)


def rnn_layer(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity: str = "tanh", reverse: bool = False):
    """One RNN layer over a batch-first sequence; returns hidden states (N, T, H)."""
    return RNNLayer.apply(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity=nonlinearity, reverse=reverse)


def lstm_layer(x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse: bool = False):
    """One LSTM layer; returns (N, T + 1, H): hidden states then the final cell state."""
    return LSTMLayer.apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse=reverse)


def gru_layer(x, h0, w_ih, w_hh, b_ih, b_hh, reverse: bool = False):
    """One GRU layer; returns hidden states (N, T, H)."""
    return GRULayer.apply(x, h0, w_ih, w_hh, b_ih, b_hh, reverse=reverse)
