"""Recurrent layers over a whole sequence as single ops: RNN (tanh/relu), LSTM, GRU.

Gate order and formulas are PyTorch's, so its weights load unchanged:

* RNN:  ``h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)``
* LSTM: ``[i, f, g, o] = x W_ih^T + b_ih + h W_hh^T + b_hh``;
  ``c' = σ(f) c + σ(i) tanh(g)``, ``h' = σ(o) tanh(c')``
* GRU:  ``[r, z] = σ(x W_i^T + b_i + h W_h^T + b_h)`` (first two blocks);
  ``n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn))``, ``h' = (1 - z) n + z h``

Why one op per layer rather than one per time step: the input projection of every step
is one big GEMM up front (``x`` is (N, T, I)), then the device's recurrent kernels
(``recurrent_forward`` / ``recurrent_backward``, ``kernels/*/lstm.py``) run the time loop:
per step one (N, H) x (H, G·H) GEMM plus the gate arithmetic (``kernels/lstm_unit.py``),
forward and backward through time, on the cpu inside one compiled call per layer and
direction (per step the work is too small to pay for a Python iteration). The weight
gradients are gathered in one GEMM each at the end. A graph of T steps of small ops would
pay Python and allocation overhead per node and, worse, slicing step t out of a (N, T, ·)
tensor gives a full-size zero gradient per step.

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
from ..backend.errors import ArgumentError
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


# --- the layer ops ---------------------------------------------------------------------------
def _steps(T, reverse):
    return range(T - 1, -1, -1) if reverse else range(T)


class _Recurrent(Op):
    """Shared plumbing of the layer ops: inputs ``(x, h0[, c0], w_ih, w_hh, b_ih, b_hh)``;
    params ``reverse`` (and the RNN's ``nonlinearity``); ``cell`` names the device kernels' cell.

    Forward: every step's input projection ``x_t W_ih^T + b_ih`` in one GEMM (time-major),
    then the device's ``recurrent_forward`` kernel runs the recurrence over all steps (on the
    cpu one compiled call: per step the GEMM ``h W_hh^T`` and the gate math). Backward
    (``backward_array``): ``recurrent_backward`` runs backpropagation through time and returns
    the pre-activation gradients of every step, from which dx, dW_ih, dW_hh and the biases
    come in one GEMM each.
    """

    saves_output = False  # the backward reads the states saved by forward, not the output

    def _run(self, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        """hs, time-major (T, N, H); keeps what the backward needs."""
        xg = self._input_proj(x, w_ih, b_ih)
        self.saved = self.kernels.recurrent_forward(self.cell, xg, h0, c0, w_hh, b_hh, self.reverse)
        return self.saved[0]

    def _input_proj(self, x, w_ih, b):
        """Every step's input projection in one GEMM, time-major (T, N, G) so step t is contiguous."""
        n, t, i = x.shape
        xt = self.xp.ascontiguousarray(x.transpose(1, 0, 2)).reshape(t * n, i)
        out = xt @ w_ih.T
        out += b
        return out.reshape(t, n, -1)

    def _batch_first(self, hs):
        """(T, N, H) -> a C-contiguous (N, T, H)."""
        return self.xp.ascontiguousarray(hs.transpose(1, 0, 2))

    def _gradients(self, gh, dc_last):
        """(dx, dh0, dc0, dW_ih, dW_hh, db_ih, db_hh) from the output gradients ``gh`` (N, T, H)
        of the hidden states and ``dc_last`` of the final cell state (LSTM, else None).

        The big GEMMs run only for the inputs that need a gradient (None for the others).
        """
        x, h0 = self.inputs[0].array, self.inputs[1].array
        c0 = self.inputs[2].array if self.cell == "lstm" else None
        w_ih, w_hh = (t.array for t in self.inputs[-4:-2])
        need_x, need_w_ih, need_w_hh = (t._requires_grad for t in (self.inputs[0], *self.inputs[-4:-2]))
        hs, cs, acts, aux = self.saved
        dxg, dhg, dh0, dc0 = self.kernels.recurrent_backward(
            self.cell, gh.transpose(1, 0, 2), dc_last, h0, c0, w_hh, hs, cs, acts, aux, self.reverse)
        T, n, G = dxg.shape
        dg = dxg.reshape(T * n, G)             # time-major rows: only the (small) input is transposed
        dx = (dg @ w_ih).reshape(T, n, -1).transpose(1, 0, 2) if need_x else None
        dw_ih = dg.T @ self.xp.ascontiguousarray(x.transpose(1, 0, 2)).reshape(T * n, -1) if need_w_ih else None
        dhg_flat = dhg.reshape(T * n, G)
        dw_hh = dhg_flat.T @ self._previous_hidden(hs, h0).reshape(T * n, -1) if need_w_hh else None
        db_ih = dg.sum(axis=0)
        db_hh = db_ih.copy() if dhg is dxg else dhg_flat.sum(axis=0)
        return dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh

    def _previous_hidden(self, hs, h0):
        """The hidden state each step started from, in time order (T, N, H)."""
        T = hs.shape[0]
        hprev = self.xp.empty_like(hs)
        if T:
            if self.reverse:
                hprev[T - 1] = h0
                hprev[:T - 1] = hs[1:]
            else:
                hprev[0] = h0
                hprev[1:] = hs[:-1]
        return hprev

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

    @property
    def cell(self):
        return "rnn_" + self.nonlinearity

    def forward(self, x, h0, w_ih, w_hh, b_ih, b_hh):
        return self._batch_first(self._run(x, h0, None, w_ih, w_hh, b_ih, b_hh))

    def backward_array(self, g):
        dx, dh0, _, dw_ih, dw_hh, db_ih, db_hh = self._gradients(g, None)
        return self._wanted(dx, dh0, dw_ih, dw_hh, db_ih, db_hh)

    def unrolled(self, x, h0, w_ih, w_hh, b_ih, b_hh):
        h, hs = h0, []
        for t in _steps(x.shape[1], self.reverse):
            h = rnn_cell(x[:, t], h, w_ih, w_hh, b_ih, b_hh, self.nonlinearity)
            hs.append(h)
        return self._stack_time(hs, self.reverse)


class LSTMLayer(_Recurrent):
    """LSTM over (N, T, I) -> (N, T + 1, H): hidden states, then the final cell state."""

    name = "lstm_layer"
    cell = "lstm"

    def forward(self, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        hs = self._run(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
        T, n, H = hs.shape
        cs = self.saved[1]
        out = self.xp.empty((n, T + 1, H), dtype=hs.dtype)
        out[:, :T] = hs.transpose(1, 0, 2)
        out[:, T] = (cs[0] if self.reverse else cs[T - 1]) if T else c0  # the last step run
        return out

    def backward_array(self, g):
        T = g.shape[1] - 1
        dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh = self._gradients(g[:, :T], g[:, T])
        return self._wanted(dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh)

    def unrolled(self, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        h, c, hs = h0, c0, []
        for t in _steps(x.shape[1], self.reverse):
            h, c = lstm_cell(x[:, t], h, c, w_ih, w_hh, b_ih, b_hh)
            hs.append(h)
        return cat([self._stack_time(hs, self.reverse), c.unsqueeze(1)], axis=1)


class GRULayer(_Recurrent):
    """GRU over (N, T, I) -> hidden states (N, T, H)."""

    name = "gru_layer"
    cell = "gru"

    def forward(self, x, h0, w_ih, w_hh, b_ih, b_hh):
        return self._batch_first(self._run(x, h0, None, w_ih, w_hh, b_ih, b_hh))

    def backward_array(self, g):
        dx, dh0, _, dw_ih, dw_hh, db_ih, db_hh = self._gradients(g, None)
        return self._wanted(dx, dh0, dw_ih, dw_hh, db_ih, db_hh)

    def unrolled(self, x, h0, w_ih, w_hh, b_ih, b_hh):
        h, hs = h0, []
        for t in _steps(x.shape[1], self.reverse):
            h = gru_cell(x[:, t], h, w_ih, w_hh, b_ih, b_hh)
            hs.append(h)
        return self._stack_time(hs, self.reverse)


def rnn_layer(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity: str = "tanh", reverse: bool = False):
    """One RNN layer over a batch-first sequence; returns hidden states (N, T, H)."""
    if nonlinearity not in ("tanh", "relu"):
        raise ArgumentError(f"rnn_layer: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    return RNNLayer.apply(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity=nonlinearity, reverse=reverse)


def lstm_layer(x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse: bool = False):
    """One LSTM layer; returns (N, T + 1, H): hidden states then the final cell state."""
    return LSTMLayer.apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse=reverse)


def gru_layer(x, h0, w_ih, w_hh, b_ih, b_hh, reverse: bool = False):
    """One GRU layer; returns hidden states (N, T, H)."""
    return GRULayer.apply(x, h0, w_ih, w_hh, b_ih, b_hh, reverse=reverse)
