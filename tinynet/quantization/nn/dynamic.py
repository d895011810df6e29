"""Dynamically quantized layers (PyTorch's ``torch.ao.nn.quantized.dynamic``): int8 weights,
float activations in and out.

Post-training *dynamic* quantization needs no calibration data: the weights are quantized
once (``qconfig.weight``, symmetric qint8), and each call quantizes its float input to quint8
from the input's own range, runs the int8 × int8 product with int32 accumulation, and
scales the result back to float (``tinynet.quantization.functional.linear_dynamic``). It
suits layers whose cost is the weights -- Linear and LSTM layers of small-batch or
recurrent models -- and leaves everything else float. ``quantize_dynamic`` builds these.

``reduce_range=True`` (PyTorch's default for its x86 kernels) quantizes the inputs to
0..127; tinynet's int32 kernels do not need it but keep it for parity.
"""
from __future__ import annotations

import numpy as _np

from ... import functional as F
from ...backend.errors import ArgumentError, DTypeError, ShapeError
from ...nn.module import Module
from ...nn.rnn import LSTM as _FloatLSTM
from ...nn.utils.rnn import PackedSequence
from ...tensor.tensor import Tensor
from .. import functional as qF
from ..qconfig import default_dynamic_qconfig
from ..qtensor import qint8
from . import quantized as nnq

__all__ = ["Linear", "LSTM"]


def _weight_observer(mod, label):
    qconfig = getattr(mod, "qconfig", None) or default_dynamic_qconfig
    obs = qconfig.weight()
    if getattr(obs, "dtype", qint8) is not qint8:
        raise DTypeError(f"quantize_dynamic: {label}: only qint8 weights are supported, the qconfig's weight "
                         f"observer has dtype {obs.dtype}")
    return obs


class Linear(nnq.Linear):
    """Dynamically quantized ``y = x W^T + b``: float32 ``x``, int8 ``W`` (see the module docstring)."""

    def __init__(self, in_features, out_features, bias_=True, dtype=qint8, *, per_channel=False, reduce_range=True,
                 device=None):
        super().__init__(in_features, out_features, bias_, dtype, per_channel=per_channel, device=device)
        self.reduce_range = bool(reduce_range)

    def _label(self):
        return f"DynamicQuantizedLinear({self.in_features}→{self.out_features})"

    def forward(self, x):
        if not isinstance(x, Tensor):
            raise TypeError(f"{self._label()}: expected a float Tensor, got {type(x).__name__} (a dynamically "
                            "quantized layer takes and returns float tensors)")
        return qF.linear_dynamic(x, self.weight(), self.float_bias, reduce_range=self.reduce_range)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        """The dynamic layer for a float ``nn.Linear`` (weights observed and quantized now)."""
        label = f"Linear({mod.in_features}→{mod.out_features}) {getattr(mod, '_q_name', '')}".strip()
        obs = _weight_observer(mod, label)
        obs(mod.weight.detach())
        qw = nnq.quantize_weight(mod.weight, obs, label)
        new = cls(mod.in_features, mod.out_features, mod.bias is not None, per_channel=qw.qscheme().per_channel,
                  device=mod.weight.device)
        new.set_weight_bias(qw, mod.bias)
        return new

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"qscheme={'per_channel' if self.per_channel else 'per_tensor'}, reduce_range={self.reduce_range}")


class LSTM(Module):
    """Dynamically quantized LSTM: PyTorch's gates ``[i, f, g, o]`` with int8 weight matrices.

    Per layer and direction, the input projection ``x_t W_ih^T + b_ih`` of the whole sequence
    is one dynamic quantized linear (one quantization range for the sequence), and the
    recurrent projection ``h_{t-1} W_hh^T + b_hh`` one per step; then, in float,
    ``c_t = σ(f) c_{t-1} + σ(i) tanh(g)``, ``h_t = σ(o) tanh(c_t)``. The projections are
    submodules ``ih_l{k}[_reverse]``/``hh_l{k}[_reverse]`` (dynamic :class:`Linear`).
    ``forward(input, (h0, c0)=None) -> (output, (h_n, c_n))`` as ``nn.LSTM`` (``batch_first``,
    ``bidirectional``, ``num_layers``); no ``proj_size``, no PackedSequence. Inference only
    (no dropout between layers).
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, dtype=qint8, *, per_channel=False, reduce_range=True, device=None):
        super().__init__()
        if dtype is not qint8:
            raise DTypeError(f"dynamic quantized LSTM: weights are qint8, got dtype={dtype!r}")
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.bias, self.batch_first, self.bidirectional = bool(bias), bool(batch_first), bool(bidirectional)
        self.dropout = float(dropout)
        dirs = 2 if bidirectional else 1
        g = 4 * self.hidden_size
        for layer in range(self.num_layers):
            in_size = self.input_size if layer == 0 else self.hidden_size * dirs
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                self.add_module("ih" + sfx, Linear(in_size, g, self.bias, per_channel=per_channel,
                                                   reduce_range=reduce_range, device=device))
                self.add_module("hh" + sfx, Linear(self.hidden_size, g, self.bias, per_channel=per_channel,
                                                   reduce_range=reduce_range, device=device))

    def _label(self):
        return f"DynamicQuantizedLSTM({self.input_size}, {self.hidden_size})"

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        """The dynamic LSTM for a float ``nn.LSTM`` (each weight matrix observed and quantized on
        its own)."""
        label = f"LSTM({mod.input_size}, {mod.hidden_size}) {getattr(mod, '_q_name', '')}".strip()
        if not isinstance(mod, _FloatLSTM):
            raise TypeError(f"quantize_dynamic: {label}: expected an nn.LSTM, got {type(mod).__name__}")
        if mod.proj_size:
            raise ArgumentError(f"quantize_dynamic: {label}: proj_size={mod.proj_size} is not supported by the "
                                "dynamic quantized LSTM")
        probe = _weight_observer(mod, label)
        per_channel = getattr(probe, "qscheme", None) is not None and probe.qscheme.per_channel
        new = cls(mod.input_size, mod.hidden_size, mod.num_layers, mod.bias, mod.batch_first, mod.dropout,
                  mod.bidirectional, per_channel=per_channel, device=next(iter(mod.parameters())).device)
        dirs = 2 if mod.bidirectional else 1
        for layer in range(mod.num_layers):
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                for part in ("ih", "hh"):
                    w = getattr(mod, f"weight_{part}{sfx}")
                    b = getattr(mod, f"bias_{part}{sfx}") if mod.bias else None
                    obs = _weight_observer(mod, label)
                    obs(w.detach())
                    qw = nnq.quantize_weight(w, obs, f"{label} weight_{part}{sfx}")
                    getattr(new, part + sfx).set_weight_bias(qw, b)
        return new

    def _run_direction(self, x, h, c, ih, hh, reverse):
        T = x.shape[1]
        gates_x = ih(x)                                       # (N, T, 4H): the whole sequence at once
        H = self.hidden_size
        outs = [None] * T
        steps = range(T - 1, -1, -1) if reverse else range(T)
        for t in steps:
            gates = gates_x[:, t] + hh(h)
            i = F.sigmoid(gates[:, 0:H])
            f = F.sigmoid(gates[:, H:2 * H])
            g = F.tanh(gates[:, 2 * H:3 * H])
            o = F.sigmoid(gates[:, 3 * H:4 * H])
            c = f * c + i * g
            h = o * F.tanh(c)
            outs[t] = h
        return F.stack(outs, axis=1), h, c

    def forward(self, input, hx=None):
        label = self._label()
        if isinstance(input, PackedSequence):
            raise TypeError(f"{label}: PackedSequence inputs are not supported; pad the batch instead")
        if not isinstance(input, Tensor) or input.ndim not in (2, 3) or input.shape[-1] != self.input_size:
            got = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
            layout = "(batch, time, input_size)" if self.batch_first else "(time, batch, input_size)"
            raise ShapeError(f"{label}: expected input {layout} with input_size={self.input_size}, got {got}")
        if input.dtype.kind != "f":
            raise DTypeError(f"{label}: the input must be floating point, got {input.dtype}")
        unbatched = input.ndim == 2
        x = input.unsqueeze(0 if self.batch_first else 1) if unbatched else input
        if not self.batch_first:
            x = x.swapaxes(0, 1)
        x = x.float()
        n = x.shape[0]
        dirs = 2 if self.bidirectional else 1
        want = (self.num_layers * dirs, n, self.hidden_size)
        if hx is not None:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"{label}: the initial state of an LSTM is a tuple (h0, c0)")
            h0, c0 = (t.unsqueeze(1) if unbatched else t for t in hx)
            for name, t in (("h0", h0), ("c0", c0)):
                if tuple(t.shape) != want:
                    raise ShapeError(f"{label}: {name} must have shape {want} (num_layers * directions, batch, "
                                     f"hidden_size), got {tuple(t.shape)}")
        xp = x.device.xp
        zeros = Tensor._make(xp.zeros((n, self.hidden_size), dtype=_np.float32), x.device)
        h_n, c_n = [], []
        layer_in = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                k = layer * dirs + d
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                h = zeros if hx is None else h0[k].float()
                c = zeros if hx is None else c0[k].float()
                seq, h, c = self._run_direction(layer_in, h, c, getattr(self, "ih" + sfx), getattr(self, "hh" + sfx),
                                                bool(d))
                outs.append(seq)
                h_n.append(h)
                c_n.append(c)
            layer_in = outs[0] if dirs == 1 else F.cat(outs, axis=-1)
        out = layer_in if self.batch_first else layer_in.swapaxes(0, 1)
        h_n, c_n = F.stack(h_n, axis=0), F.stack(c_n, axis=0)
        if unbatched:
            out = out.squeeze(0 if self.batch_first else 1)
            h_n, c_n = h_n.squeeze(1), c_n.squeeze(1)
        return out, (h_n, c_n)

    def extra_repr(self):
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, batch_first={self.batch_first}, "
                f"bidirectional={self.bidirectional}")
