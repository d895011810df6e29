"""Flattening parameters to one vector and back (PyTorch's ``torch.nn.utils.convert_parameters``)."""
from __future__ import annotations

from ...autograd.grad_mode import no_grad
from ...backend.errors import DeviceError
from ...functional.join import cat
from ...tensor.tensor import Tensor
from .clip_grad import _param_list

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters):
    """All parameters flattened and joined into one 1-D tensor (as PyTorch, differentiable:
    the result is a ``cat`` of the parameters' flattened views, so a loss of it back-propagates
    into the parameters)."""
    params = _param_list(parameters, "parameters_to_vector")
    if not params:
        raise ValueError("parameters_to_vector: got no parameters")
    dev = params[0].device
    for p in params:
        if p.device is not dev:
            raise DeviceError(f"parameters_to_vector: parameters are on {dev.type} and {p.device.type}; move them to one device")
    return cat([p.reshape(-1) for p in params], axis=0)


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-D tensor ``vec`` into the parameters (in place)."""
    params = _param_list(parameters, "vector_to_parameters")
    if not isinstance(vec, Tensor) or vec.ndim != 1:
        raise TypeError("vector_to_parameters: vec must be a 1-D Tensor")
    total = sum(p.numel() for p in params)
    if vec.numel() != total:
        raise ValueError(f"vector_to_parameters: vec has {vec.numel()} elements but the parameters have {total}")
    offset = 0
    with no_grad():
        for p in params:
            n = p.numel()
            p.array[...] = vec.array[offset:offset + n].reshape(p.shape)
            p._bump()
            offset += n
