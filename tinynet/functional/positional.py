"""Sinusoidal position encoding (Vaswani et al., 2017, section 3.5).

    PE[pos, 2i]   = sin(pos / 10000^(2i / d))
    PE[pos, 2i+1] = cos(pos / 10000^(2i / d))

Each pair of channels is a rotation at its own frequency, so a fixed offset between
positions is a linear map of the encoding; the table has no parameters.
"""
from __future__ import annotations

import numpy as _np

from ..backend.errors import ShapeError
from ..backend import get_device
from ..tensor import dtypes as _dt
from ..tensor.tensor import Tensor

__all__ = ["sinusoidal_position_encoding"]  # the public ops: tinynet.functional and tn.<name> export these


def sinusoidal_position_encoding(length: int, d_model: int, base: float = 10000.0, dtype=None,
                                 device=None) -> Tensor:
    """The (length, d_model) table of sine/cosine position codes (odd ``d_model`` allowed)."""
    if length < 0 or d_model <= 0:
        raise ShapeError(f"sinusoidal_position_encoding: need length >= 0 and d_model > 0, got {length} and {d_model}")
    pos = _np.arange(length, dtype=_np.float64)[:, None]
    i = _np.arange(0, d_model, 2, dtype=_np.float64)
    angle = pos / base ** (i / d_model)
    table = _np.zeros((length, d_model))
    table[:, 0::2] = _np.sin(angle)
    table[:, 1::2] = _np.cos(angle[:, : d_model // 2])
    dev = get_device(device)
    dt = _dt.to_dtype(dtype) or _dt.get_default_dtype()
    return Tensor._make(dev.from_host(table.astype(dt)), dev)
