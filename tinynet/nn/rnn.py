"""Recurrent layers: nn.RNN, nn.LSTM, nn.GRU and their single-step cells.

Parameter names, shapes, gate order and initialisation (``U(-1/sqrt(H), 1/sqrt(H))``)
are PyTorch's: ``weight_ih_l{k}`` (G·H, in), ``weight_hh_l{k}`` (G·H, H), ``bias_ih_l{k}``,
``bias_hh_l{k}``, with a ``_reverse`` suffix for the backward direction, so PyTorch
weights load as they are (G = 1 for RNN, 4 for LSTM [i, f, g, o], 3 for GRU [r, z, n]).

``batch_first=False`` is the default, as in PyTorch: inputs are sequence-first
(time, batch, features). Pass ``batch_first=True`` for (batch, time, features), which is
what tinynet's own models do. Each layer and direction runs as one fused op
(``F.lstm_layer`` etc.: one input GEMM, one small GEMM per step, hand-written backward
through time).

Each layer also takes a :class:`nn.utils.rnn.PackedSequence` (variable-length sequences,
``nn.utils.rnn.pack_padded_sequence``) and then returns one, as PyTorch: every sequence runs
for its own length, its final hidden state is the one after its last real step (the reverse
direction starts there), and ``h0``/``h_n`` are in the caller's batch order. That path steps
the cell ops (``F.lstm_cell`` & co.) over the shrinking batch, one step at a time.
"""
from __future__ import annotations

import math

from ..backend.errors import DTypeError, ShapeError
from .. import functional as F
from ..backend import get_device
from ..functional._args import as_float, as_int
from ..tensor import dtypes as _dt
from ..tensor.tensor import Tensor
from . import init
from .module import Module
from .parameter import Parameter
from .utils.rnn import PackedSequence

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell", "RNNBase"]


_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


class RNNBase(Module):
    """Multi-layer, optionally bidirectional recurrent layer (see the module docstring)."""

    mode = "RNN_TANH"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device=None, dtype=None, _mode: str | None = None):
        super().__init__()
        if _mode is not None:
            self.mode = _mode
        label = type(self).__name__
        input_size = as_int(input_size, "input_size", label, minimum=1)
        hidden_size = as_int(hidden_size, "hidden_size", label, minimum=1)
        num_layers = as_int(num_layers, "num_layers", label, minimum=1)
        dropout = as_float(dropout, "dropout", label)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{label}: dropout must be in [0, 1), got {dropout}")
        proj_size = as_int(proj_size, "proj_size", label, minimum=0)
        if proj_size and self.mode != "LSTM":
            raise ValueError(f"{label}: proj_size is only supported by LSTM (as in PyTorch), got proj_size={proj_size}")
        if proj_size >= hidden_size:
            raise ValueError(f"{label}: proj_size must be smaller than hidden_size={hidden_size}, got {proj_size}")
        self.proj_size = proj_size
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        dev = get_device(device)
        dt = _dt.to_dtype(dtype) or _dt.get_default_dtype()
        g = _GATES[self.mode] * hidden_size
        dirs = 2 if bidirectional else 1
        out_size = proj_size or hidden_size  # the size of h (the projected one with proj_size)
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else out_size * dirs
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                shapes = [("weight_ih", (g, in_size)), ("weight_hh", (g, out_size))]
                if bias:
                    shapes += [("bias_ih", (g,)), ("bias_hh", (g,))]
                if proj_size:
                    shapes += [("weight_hr", (proj_size, hidden_size))]
                for name, shape in shapes:
                    setattr(self, name + sfx, Parameter(Tensor._make(dev.xp.empty(shape, dtype=dt), dev)))
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _label(self):
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size})"

    def _weights(self, layer, d):
        sfx = f"_l{layer}" + ("_reverse" if d else "")
        w_ih, w_hh = getattr(self, "weight_ih" + sfx), getattr(self, "weight_hh" + sfx)
        if self.bias:
            return w_ih, w_hh, getattr(self, "bias_ih" + sfx), getattr(self, "bias_hh" + sfx)
        xp = w_ih.device.xp
        zero = Tensor._make(xp.zeros(w_ih.shape[0], dtype=w_ih.dtype), w_ih.device)
        return w_ih, w_hh, zero, zero

    def _check_input(self, x):
        label = self._label()
        if not isinstance(x, Tensor) or x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            layout = "(batch, time, input_size)" if self.batch_first else "(time, batch, input_size)"
            raise ShapeError(f"{label}: expected input {layout} with input_size={self.input_size}, got {got}")
        if x.dtype.kind != "f":
            raise DTypeError(f"{label}: the input must be floating point, got {x.dtype}; embed token ids first (nn.Embedding)")

    def _state(self, hx, n, what="h0"):
        dirs = 2 if self.bidirectional else 1
        size = self.proj_size if (self.proj_size and what == "h0") else self.hidden_size
        want = (self.num_layers * dirs, n, size)
        if hx is None:
            return None
        if tuple(hx.shape) != want:
            axis = "proj_size" if size == self.proj_size else "hidden_size"
            raise ShapeError(f"{self._label()}: {what} must have shape {want} (num_layers * directions, batch, "
                             f"{axis}), got {tuple(hx.shape)}")
        return hx

    def forward(self, input, hx=None):
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        self._check_input(input)
        unbatched = input.ndim == 2
        x = input.unsqueeze(0 if self.batch_first else 1) if unbatched else input
        if not self.batch_first:
            x = x.swapaxes(0, 1)
        n = x.shape[0]
        is_lstm = self.mode == "LSTM"
        if unbatched and hx is not None:
            hx = tuple(h.unsqueeze(1) for h in hx) if is_lstm else hx.unsqueeze(1)
        if is_lstm:
            if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
                raise TypeError(f"{self._label()}: the initial state of an LSTM is a tuple (h0, c0)")
            h0 = self._state(hx[0] if hx is not None else None, n)
            c0 = self._state(hx[1] if hx is not None else None, n, "c0")
        else:
            h0 = self._state(hx, n)
        xp = x.device.xp
        zeros = Tensor._make(xp.zeros((n, self.hidden_size), dtype=x.dtype), x.device)
        h_zeros = zeros if not self.proj_size else Tensor._make(xp.zeros((n, self.proj_size), dtype=x.dtype), x.device)
        dirs = 2 if self.bidirectional else 1
        h_n, c_n = [], []
        layer_in = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                k = layer * dirs + d
                h_init = h_zeros if h0 is None else h0[k]
                w_ih, w_hh, b_ih, b_hh = self._weights(layer, d)
                if is_lstm and self.proj_size:
                    c_init = zeros if c0 is None else c0[k]
                    seq, c_last = self._projected_lstm(layer_in, h_init, c_init, layer, d, w_ih, w_hh, b_ih, b_hh)
                    c_n.append(c_last)
                elif is_lstm:
                    c_init = zeros if c0 is None else c0[k]
                    y = F.lstm_layer(layer_in, h_init, c_init, w_ih, w_hh, b_ih, b_hh, reverse=bool(d))
                    T = y.shape[1] - 1
                    seq = y[:, :T]
                    c_n.append(y[:, T])
                elif self.mode == "GRU":
                    seq = F.gru_layer(layer_in, h_init, w_ih, w_hh, b_ih, b_hh, reverse=bool(d))
                else:
                    nl = "tanh" if self.mode == "RNN_TANH" else "relu"
                    seq = F.rnn_layer(layer_in, h_init, w_ih, w_hh, b_ih, b_hh, nonlinearity=nl, reverse=bool(d))
                h_n.append(seq[:, 0] if d else seq[:, -1])
                outs.append(seq)
            layer_in = outs[0] if dirs == 1 else F.cat(outs, axis=-1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, True)
        out = layer_in if self.batch_first else layer_in.swapaxes(0, 1)
        h_n = F.stack(h_n, axis=0)
        if unbatched:
            out = out.squeeze(0 if self.batch_first else 1)
            h_n = h_n.squeeze(1)
        if is_lstm:
            c_n = F.stack(c_n, axis=0)
            return out, (h_n, c_n.squeeze(1) if unbatched else c_n)
        return out, h_n

    def _forward_packed(self, packed, hx):
        """The layer on a :class:`PackedSequence` (``nn.utils.rnn``): each sequence runs for its own
        length. Step ``t`` updates the first ``batch_sizes[t]`` (sorted) sequences with the cell
        ops (``F.rnn_cell``/``lstm_cell``/``gru_cell``); the others keep their state, so a
        sequence's final state is the one after its last real step, and the reverse direction
        starts each sequence at its own last step from its initial state. ``hx`` and the
        returned states are in the caller's batch order (permuted by ``sorted_indices`` as
        PyTorch does); the output is a PackedSequence with the input's batch sizes and indices."""
        label = self._label()
        data = packed.data
        if not isinstance(data, Tensor) or data.ndim != 2 or data.shape[-1] != self.input_size:
            got = tuple(data.shape) if isinstance(data, Tensor) else type(data).__name__
            raise ShapeError(f"{label}: expected a PackedSequence whose data is (sum of lengths, input_size="
                             f"{self.input_size}), got data of shape {got}")
        if data.dtype.kind != "f":
            raise DTypeError(f"{label}: the input must be floating point, got {data.dtype}; embed token ids first "
                             "(nn.Embedding)")
        bs = [int(b) for b in packed.batch_sizes.tolist()]
        n = bs[0] if bs else 0
        offsets = [0]
        for b in bs:
            offsets.append(offsets[-1] + b)
        si = packed.sorted_indices
        is_lstm = self.mode == "LSTM"

        def to_sorted(h):
            return h if (h is None or si is None) else h[:, si.to(h.device).array]

        if is_lstm:
            if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
                raise TypeError(f"{label}: the initial state of an LSTM is a tuple (h0, c0)")
            h0 = to_sorted(self._state(hx[0] if hx is not None else None, n))
            c0 = to_sorted(self._state(hx[1] if hx is not None else None, n, "c0"))
        else:
            h0 = to_sorted(self._state(hx, n))
            c0 = None
        xp = data.device.xp
        zeros = Tensor._make(xp.zeros((n, self.hidden_size), dtype=data.dtype), data.device)
        h_zeros = zeros if not self.proj_size else Tensor._make(xp.zeros((n, self.proj_size), dtype=data.dtype),
                                                                data.device)
        dirs = 2 if self.bidirectional else 1
        h_n, c_n = [], []
        layer_in = data
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                k = layer * dirs + d
                h = h_zeros if h0 is None else h0[k]
                c = (zeros if c0 is None else c0[k]) if is_lstm else None
                w_ih, w_hh, b_ih, b_hh = self._weights(layer, d)
                w_hr = getattr(self, f"weight_hr_l{layer}" + ("_reverse" if d else "")) if self.proj_size else None
                steps = [None] * len(bs)
                for t in (range(len(bs) - 1, -1, -1) if d else range(len(bs))):
                    b = bs[t]
                    x_t = layer_in[offsets[t]:offsets[t + 1]]
                    h_b = h[:b] if b < n else h
                    if is_lstm:
                        c_b = c[:b] if b < n else c
                        h_new, c_new = F.lstm_cell(x_t, h_b, c_b, w_ih, w_hh, b_ih, b_hh)
                        if w_hr is not None:
                            h_new = F.linear(h_new, w_hr)
                        c = c_new if b == n else F.cat([c_new, c[b:]], axis=0)
                    elif self.mode == "GRU":
                        h_new = F.gru_cell(x_t, h_b, w_ih, w_hh, b_ih, b_hh)
                    else:
                        nl = "tanh" if self.mode == "RNN_TANH" else "relu"
                        h_new = F.rnn_cell(x_t, h_b, w_ih, w_hh, b_ih, b_hh, nl)
                    h = h_new if b == n else F.cat([h_new, h[b:]], axis=0)
                    steps[t] = h_new
                h_n.append(h)
                if is_lstm:
                    c_n.append(c)
                outs.append(F.cat(steps, axis=0))
            layer_in = outs[0] if dirs == 1 else F.cat(outs, axis=-1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, True)
        out = PackedSequence(layer_in, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
        ui = packed.unsorted_indices

        def to_caller(hs):
            h = F.stack(hs, axis=0)
            return h if ui is None else h[:, ui.to(h.device).array]

        if is_lstm:
            return out, (to_caller(h_n), to_caller(c_n))
        return out, to_caller(h_n)

    def _projected_lstm(self, x, h, c, layer, d, w_ih, w_hh, b_ih, b_hh):
        """An LSTM direction with a projection (``proj_size``, Sak et al. 2014, PyTorch's form):
        ``h_t = W_hr (o_t * tanh(c_t))``, stepped with ``F.lstm_cell`` (no fused kernel for it)."""
        w_hr = getattr(self, f"weight_hr_l{layer}" + ("_reverse" if d else ""))
        T = x.shape[1]
        outs = [None] * T
        for t in (range(T - 1, -1, -1) if d else range(T)):
            h_full, c = F.lstm_cell(x[:, t], h, c, w_ih, w_hh, b_ih, b_hh)
            h = F.linear(h_full, w_hr)
            outs[t] = h
        return F.stack(outs, axis=1), c

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        s += f", batch_first={self.batch_first}"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        return s


class RNN(RNNBase):
    """Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (or relu).

    ``forward(input, h0=None)`` returns ``(output, h_n)``: output (T, N, D·H) ((N, T, D·H) with ``batch_first=True``) holds the last
    layer's hidden state at every step, h_n (num_layers·D, N, H) every layer's last one.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity: str = "tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype, _mode="RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU")
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory (Hochreiter & Schmidhuber, 1997), PyTorch's formulation.

    The cell state ``c`` is updated additively (``c_t = f c_{t-1} + i g``), so gradients
    flow across many steps without vanishing as fast as in a plain RNN.
    ``forward(input, (h0, c0)=None)`` returns ``(output, (h_n, c_n))``. With ``proj_size > 0``
    the hidden state is projected to ``proj_size`` features (``weight_hr_l{k}``), as PyTorch.
    """

    mode = "LSTM"


class GRU(RNNBase):
    """Gated recurrent unit (Cho et al., 2014), PyTorch's formulation.

    ``forward(input, h0=None)`` returns ``(output, h_n)``.
    """

    mode = "GRU"


class _CellBase(Module):
    gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        label = type(self).__name__
        self.input_size = input_size = as_int(input_size, "input_size", label, minimum=1)
        self.hidden_size = hidden_size = as_int(hidden_size, "hidden_size", label, minimum=1)
        dev = get_device(device)
        dt = _dt.to_dtype(dtype) or _dt.get_default_dtype()
        g = self.gates * hidden_size
        self.weight_ih = Parameter(Tensor._make(dev.xp.empty((g, input_size), dtype=dt), dev))
        self.weight_hh = Parameter(Tensor._make(dev.xp.empty((g, hidden_size), dtype=dt), dev))
        if bias:
            self.bias_ih = Parameter(Tensor._make(dev.xp.empty(g, dtype=dt), dev))
            self.bias_hh = Parameter(Tensor._make(dev.xp.empty(g, dtype=dt), dev))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        bound = 1.0 / math.sqrt(hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _prep(self, x):
        if not isinstance(x, Tensor) or x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ShapeError(f"{type(self).__name__}({self.input_size}, {self.hidden_size}): expected input "
                             f"(batch, {self.input_size}), got {got}")
        unbatched = x.ndim == 1
        if unbatched:
            x = x.unsqueeze(0)
        zeros = Tensor._make(x.device.xp.zeros((x.shape[0], self.hidden_size), dtype=x.dtype), x.device)
        return x, unbatched, zeros

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias_ih is not None}"


class RNNCell(_CellBase):
    """One Elman step: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)``; returns h'."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity: str = "tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x, unbatched, zeros = self._prep(input)
        h = zeros if hx is None else (hx.unsqueeze(0) if unbatched else hx)
        out = F.rnn_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, self.nonlinearity)
        return out.squeeze(0) if unbatched else out


class LSTMCell(_CellBase):
    """One LSTM step; ``forward(input, (h, c)=None)`` returns ``(h', c')``."""

    gates = 4

    def forward(self, input, hx=None):
        x, unbatched, zeros = self._prep(input)
        if hx is None:
            h, c = zeros, zeros
        else:
            h, c = (t.unsqueeze(0) for t in hx) if unbatched else hx
        h2, c2 = F.lstm_cell(x, h, c, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return (h2.squeeze(0), c2.squeeze(0)) if unbatched else (h2, c2)


class GRUCell(_CellBase):
    """One GRU step; returns h'."""

    gates = 3

    def forward(self, input, hx=None):
        x, unbatched, zeros = self._prep(input)
        h = zeros if hx is None else (hx.unsqueeze(0) if unbatched else hx)
        out = F.gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return out.squeeze(0) if unbatched else out
