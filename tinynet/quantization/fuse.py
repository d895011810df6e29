"""``fuse_modules``: merge chains of layers into one before quantization (PyTorch's
``torch.ao.quantization.fuse_modules``).

Supported chains (names of submodules, in forward order):

=============================  ================================================
``[conv, bn]``                 the Conv2d with the BatchNorm2d folded in
``[conv, bn, relu]``           ``ConvReLU2d(folded conv, relu)``
``[conv, relu]``               ``ConvReLU2d(conv, relu)``
``[linear, relu]``             ``LinearReLU(linear, relu)``
``[linear, bn]``               the Linear with the BatchNorm1d folded in
=============================  ================================================

Folding a batch norm needs eval mode (``model.eval()``): it uses the running statistics,
``W' = W·γ/√(σ²+ε)``, ``b' = (b − μ)·γ/√(σ²+ε) + β`` (``nn.utils.fusion``). The first module of
a chain is replaced by the fused module and the others by ``nn.Identity``, so the model's
forward, which still calls them in order, computes the same function with fewer layers.
"""
from __future__ import annotations

import copy

from ..nn.activation import ReLU
from ..nn.conv import Conv2d
from ..nn.linear import Identity, Linear
from ..nn.normalization import BatchNorm1d, BatchNorm2d
from ..nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval
from .nn.intrinsic import ConvReLU2d, LinearReLU

__all__ = ["fuse_modules", "fuse_modules_qat", "fuse_known_modules", "get_fuser_method"]


def _fuse_conv_bn(is_qat, conv, bn):
    if is_qat:
        raise NotImplementedError(
            "fuse_modules_qat: Conv2d + BatchNorm2d fusion for quantization-aware training (ConvBn2d, which keeps "
            "training the batch norm) is not available in tinynet; fold the batch norm first in eval mode: "
            "model.eval(); fuse_modules(model, [[conv, bn, ...]]); model.train(); then prepare_qat")
    if conv.training or bn.training:
        raise RuntimeError("fuse_modules: Fusion only for eval! Folding a BatchNorm uses its running statistics: "
                           "call model.eval() first")
    return fuse_conv_bn_eval(conv, bn)


def _fuse_conv_bn_relu(is_qat, conv, bn, relu):
    return ConvReLU2d(_fuse_conv_bn(is_qat, conv, bn), relu)


def _fuse_linear_bn(is_qat, linear, bn):
    if is_qat:
        raise NotImplementedError("fuse_modules_qat: Linear + BatchNorm1d fusion for quantization-aware training is "
                                  "not available in tinynet; fold it in eval mode with fuse_modules first")
    if linear.training or bn.training:
        raise RuntimeError("fuse_modules: Fusion only for eval! Folding a BatchNorm uses its running statistics: "
                           "call model.eval() first")
    return fuse_linear_bn_eval(linear, bn)


_FUSER_METHODS = {
    (Conv2d, BatchNorm2d): _fuse_conv_bn,
    (Conv2d, BatchNorm2d, ReLU): _fuse_conv_bn_relu,
    (Conv2d, ReLU): lambda is_qat, conv, relu: ConvReLU2d(conv, relu),
    (Linear, ReLU): lambda is_qat, linear, relu: LinearReLU(linear, relu),
    (Linear, BatchNorm1d): _fuse_linear_bn,
}


def get_fuser_method(op_list, additional_fuser_method_mapping=None):
    """The function fusing modules of the types ``op_list`` (a tuple of classes)."""
    table = dict(_FUSER_METHODS)
    table.update(additional_fuser_method_mapping or {})
    method = table.get(tuple(op_list))
    if method is None:
        supported = "; ".join("[" + ", ".join(t.__name__ for t in k) + "]" for k in _FUSER_METHODS)
        raise NotImplementedError(f"fuse_modules: did not find a fuser method for the pattern "
                                  f"[{', '.join(t.__name__ for t in op_list)}]; supported: {supported}")
    return method


def fuse_known_modules(mod_list, is_qat=False, additional_fuser_method_mapping=None):
    """Fuse the modules of ``mod_list``: ``[fused, Identity(), ...]`` (same length)."""
    types = tuple(type(m) for m in mod_list)
    fused = get_fuser_method(types, additional_fuser_method_mapping)(is_qat, *mod_list)
    return [fused] + [Identity() for _ in mod_list[1:]]


def _fuse_group(model, names, is_qat, fuser_func, mapping):
    mods = []
    for name in names:
        try:
            mods.append(model.get_submodule(name))
        except (AttributeError, KeyError, ValueError) as e:
            raise AttributeError(f"fuse_modules: {type(model).__name__} has no submodule {name!r} ({e})") from None
    new = fuser_func(mods, is_qat, mapping) if fuser_func is fuse_known_modules else fuser_func(mods, is_qat)
    for name, m in zip(names, new):
        m.train(mods[0].training)
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        parent._modules[attr] = m      # in place: a Sequential keeps its order


def _fuse(model, modules_to_fuse, is_qat, inplace, fuser_func, fuse_custom_config_dict):
    if not inplace:
        model = copy.deepcopy(model)
    if not isinstance(modules_to_fuse, (list, tuple)) or not modules_to_fuse:
        raise TypeError("fuse_modules: modules_to_fuse must be a list of submodule names (one chain) or a list of "
                        f"such lists, got {modules_to_fuse!r}")
    mapping = (fuse_custom_config_dict or {}).get("additional_fuser_method_mapping")
    groups = [modules_to_fuse] if all(isinstance(n, str) for n in modules_to_fuse) else modules_to_fuse
    for g in groups:
        if not isinstance(g, (list, tuple)) or len(g) < 2 or not all(isinstance(n, str) for n in g):
            raise TypeError(f"fuse_modules: each chain must be a list of at least two submodule names, got {g!r}")
        _fuse_group(model, list(g), is_qat, fuser_func, mapping)
    return model


def fuse_modules(model, modules_to_fuse, inplace=False, fuser_func=fuse_known_modules, fuse_custom_config_dict=None):
    """Fuse each chain of submodules named in ``modules_to_fuse`` (``["conv", "relu"]`` or
    ``[["features.0", "features.1"], ["classifier.1", "classifier.2"]]``); see the module
    docstring. Returns the fused model (a copy unless ``inplace``)."""
    return _fuse(model, modules_to_fuse, False, inplace, fuser_func, fuse_custom_config_dict)


def fuse_modules_qat(model, modules_to_fuse, inplace=False, fuser_func=fuse_known_modules,
                     fuse_custom_config_dict=None):
    """:func:`fuse_modules` for quantization-aware training (the model may be in train mode;
    conv/linear + ReLU chains only: batch-norm folding needs eval mode and ``fuse_modules``)."""
    return _fuse(model, modules_to_fuse, True, inplace, fuser_func, fuse_custom_config_dict)
