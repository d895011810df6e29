"""Eager-mode quantization: ``prepare`` → calibrate → ``convert``, ``prepare_qat`` → train →
``convert``, and ``quantize_dynamic`` (PyTorch's ``torch.ao.quantization`` eager flow).

**Static post-training quantization**::

    model.eval()
    model = fuse_modules(model, [["conv", "relu"], ["fc", "relu"]])   # optional, recommended
    model.qconfig = get_default_qconfig("x86")
    prepared = prepare(model)             # observers on the layers' outputs
    for x, _ in calibration_batches:      # a few hundred samples are enough
        prepared(x)
    qmodel = convert(prepared)            # int8 layers with the observed scales

The model's ``forward`` must mark where tensors are quantized (``QuantStub``) and
dequantized (``DeQuantStub``), or be wrapped: ``QuantWrapper(model)``.
:func:`quantize_model` does all of this for models whose layers sit in ``Sequential``
containers (tinynet's MLP and LeNet CNN).

What ``prepare`` does: hands each module its ``qconfig`` (:func:`propagate_qconfig_`), then
gives every quantizable leaf (QuantStub, Linear, Conv2d, their fused and QAT forms) an
``activation_post_process`` -- ``qconfig.activation()`` -- run by a forward hook on the
layer's output. What ``convert`` does: replaces each such layer by its quantized version
(``from_float``: weight quantized with ``qconfig.weight()``, output qparams from the
observer), ReLU/MaxPool2d/Flatten/Dropout by versions that work on quantized tensors, and
removes the observers. A leaf left float that then receives a quantized tensor raises an
error naming it (for example a BatchNorm2d that was not fused into its convolution).

**Quantization-aware training**: ``prepare_qat`` swaps Linear/Conv2d (and fused forms)
for ``qat`` layers that fake-quantize their weights, with FakeQuantize on the outputs;
train as usual, then ``convert(model.eval())``.

**Dynamic quantization**: ``quantize_dynamic(model, {nn.Linear, nn.LSTM})`` quantizes those
layers' weights to int8 now and their inputs on each call; no calibration.
"""
from __future__ import annotations

import copy
import warnings

from ..autograd.grad_mode import no_grad
from ..backend.errors import ArgumentError, DTypeError
from ..nn.activation import ReLU
from ..nn.containers import Sequential
from ..nn.conv import Conv2d
from ..nn.dropout import Dropout
from ..nn.linear import Flatten, Identity, Linear
from ..nn.module import Module
from ..nn.normalization import BatchNorm1d, BatchNorm2d
from ..nn.pooling import MaxPool2d
from ..nn.rnn import LSTM
from ..tensor.tensor import Tensor
from .fake_quantize import FakeQuantizeBase
from .fuse import fuse_modules
from .nn import dynamic as nnqd
from .nn import intrinsic as nni
from .nn import qat as nnqat
from .nn import quantized as nnq
from .observer import ObserverBase
from .qconfig import QConfig, default_dynamic_qconfig, get_default_qat_qconfig, get_default_qconfig
from .qtensor import QTensor, qint8
from .stubs import DeQuantStub, QuantStub, QuantWrapper

__all__ = [
    "prepare", "convert", "prepare_qat", "quantize", "quantize_qat", "quantize_dynamic", "propagate_qconfig_",
    "swap_module", "add_observer_", "quantize_model", "prepare_qat_model", "fusable_groups", "unsupported_layers",
    "get_default_static_quant_module_mappings", "get_default_qat_module_mappings",
    "get_default_dynamic_quant_module_mappings",
]

DEFAULT_STATIC_QUANT_MODULE_MAPPINGS = {
    QuantStub: nnq.Quantize, DeQuantStub: nnq.DeQuantize,
    Linear: nnq.Linear, Conv2d: nnq.Conv2d, nni.LinearReLU: nnq.LinearReLU, nni.ConvReLU2d: nnq.ConvReLU2d,
    nnqat.Linear: nnq.Linear, nnqat.Conv2d: nnq.Conv2d, nnqat.LinearReLU: nnq.LinearReLU,
    nnqat.ConvReLU2d: nnq.ConvReLU2d,
    ReLU: nnq.ReLU, MaxPool2d: nnq.MaxPool2d, Flatten: nnq.Flatten, Dropout: nnq.Dropout,
}
DEFAULT_QAT_MODULE_MAPPINGS = {
    Linear: nnqat.Linear, Conv2d: nnqat.Conv2d, nni.LinearReLU: nnqat.LinearReLU, nni.ConvReLU2d: nnqat.ConvReLU2d,
}
DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS = {Linear: nnqd.Linear, LSTM: nnqd.LSTM}

# leaves that get an activation observer in prepare (their outputs are requantized)
_OBSERVED = (QuantStub, Linear, Conv2d, nni.LinearReLU, nni.ConvReLU2d, nnqat.Linear, nnqat.Conv2d,
             nnqat.LinearReLU, nnqat.ConvReLU2d)
# leaves that compute on the integers and keep their input's qparams (no observer)
_PASSTHROUGH = (ReLU, MaxPool2d, Flatten, Dropout)
# leaves that are fine with any input
_TRANSPARENT = (Identity, DeQuantStub, nnq.DeQuantize, nnq.Quantize)


def get_default_static_quant_module_mappings():
    return dict(DEFAULT_STATIC_QUANT_MODULE_MAPPINGS)


def get_default_qat_module_mappings():
    return dict(DEFAULT_QAT_MODULE_MAPPINGS)


def get_default_dynamic_quant_module_mappings():
    return dict(DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS)


def _label(mod, name):
    return f"{type(mod).__name__} '{name}'" if name else type(mod).__name__


# --- qconfig propagation --------------------------------------------------------------------------
def propagate_qconfig_(module, qconfig_dict=None, prepare_custom_config_dict=None):
    """Give every submodule a ``qconfig`` attribute: its own if set, else the entry of
    ``qconfig_dict`` for its name or type (names win), else its parent's (None: stays float)."""
    qconfig_dict = qconfig_dict or {}

    def walk(mod, parent_qconfig, prefix):
        qc = qconfig_dict.get(type(mod), parent_qconfig)
        qc = qconfig_dict.get(prefix, qc)
        own = mod.__dict__.get("qconfig", _MISSING)
        qc = own if own is not _MISSING else qc
        if qc is not None and not isinstance(qc, QConfig):
            raise TypeError(f"propagate_qconfig_: the qconfig of {_label(mod, prefix)} must be a QConfig or None, got "
                            f"{type(qc).__name__}")
        object.__setattr__(mod, "qconfig", qc)
        object.__setattr__(mod, "_q_name", prefix)
        for name, child in mod.named_children():
            walk(child, qc, f"{prefix}.{name}" if prefix else name)

    walk(module, qconfig_dict.get("", None), "")


_MISSING = object()


def _qconfig(mod):
    return mod.__dict__.get("qconfig")


# --- observers --------------------------------------------------------------------------------------
def _observer_forward_hook(self, input, output):
    """Forward hook of a prepared layer: observe (or fake-quantize) its output."""
    return self.activation_post_process(output)


def _is_observer_hook(hook):
    return hook is _observer_forward_hook


def _insert_activation_post_process(mod):
    mod.activation_post_process = _qconfig(mod).activation()
    mod.register_forward_hook(_observer_forward_hook)


def add_observer_(module, qconfig_propagation_list=None, non_leaf_module_list=None, device=None,
                  custom_module_class_mapping=None):
    """Attach ``qconfig.activation()`` observers to the quantizable leaves of ``module`` that have
    a qconfig (see the module docstring)."""
    observed = tuple(qconfig_propagation_list) if qconfig_propagation_list else _OBSERVED

    def needs(mod):
        return _qconfig(mod) is not None and type(mod) in observed and "activation_post_process" not in mod._modules

    def walk(mod):
        for child in mod.children():
            if isinstance(child, (ObserverBase, FakeQuantizeBase)):
                continue
            if isinstance(child, nni._FusedModule) or type(child) in observed:
                if needs(child):
                    _insert_activation_post_process(child)
                continue
            walk(child)

    if needs(module):
        _insert_activation_post_process(module)
    else:
        walk(module)


def _remove_observers(module):
    for mod in module.modules():
        if "activation_post_process" in mod._modules:
            del mod._modules["activation_post_process"]
        for hid, hook in list(mod._forward_hooks.items()):
            if _is_observer_hook(hook):
                del mod._forward_hooks[hid]
        mod._refresh_hooks()


def _has_observers(module):
    return any("activation_post_process" in m._modules or isinstance(m, (nnqat.Linear, nnqat.Conv2d))
               for m in module.modules())


def _check_any_qconfig(model, fn):
    if not any(_qconfig(m) is not None for m in model.modules()):
        raise RuntimeError(
            f"{fn}: no qconfig: none of the modules of {type(model).__name__} has a qconfig, so nothing would be "
            f"quantized; set one first, e.g. model.qconfig = tinynet.quantization.get_default_"
            f"{'qat_' if fn == 'prepare_qat' else ''}qconfig('x86')")


def prepare(model, inplace=False, allow_list=None, observer_non_leaf_module_list=None,
            prepare_custom_config_dict=None):
    """Insert observers (see the module docstring); returns the prepared model (a copy unless
    ``inplace``). Raises when no module has a qconfig or the model is already prepared."""
    if not isinstance(model, Module):
        raise TypeError(f"prepare: expected a Module, got {type(model).__name__}")
    for name, m in model.named_modules():
        if "activation_post_process" in m._modules:
            raise RuntimeError(f"prepare: {_label(m, name)} already has an observer: the model is already prepared "
                               "(calibrate it and call convert)")
    if not inplace:
        model = copy.deepcopy(model)
    propagate_qconfig_(model)
    _check_any_qconfig(model, "prepare")
    add_observer_(model, allow_list)
    return model


# --- swapping modules ---------------------------------------------------------------------------------
def swap_module(mod, mapping, custom_module_class_mapping=None, use_precomputed_fake_quant=False):
    """``mapping[type(mod)].from_float(mod)`` when ``mod`` has a qconfig (stubs always) and its type
    is in ``mapping``; else ``mod`` itself."""
    target = mapping.get(type(mod))
    if target is None:
        return mod
    if _qconfig(mod) is None and not isinstance(mod, (QuantStub, DeQuantStub)):
        return mod
    if isinstance(mod, QuantStub) and "activation_post_process" not in mod._modules:
        return mod
    new = target.from_float(mod)
    object.__setattr__(new, "_q_name", mod.__dict__.get("_q_name", ""))
    return new


def _swap_children(module, mapping):
    for name, child in list(module._modules.items()):
        if child is None or isinstance(child, (ObserverBase, FakeQuantizeBase)):
            continue
        if not isinstance(child, nni._FusedModule) and type(child) not in mapping:
            _swap_children(child, mapping)
        new = swap_module(child, mapping)
        if new is not child:
            module._modules[name] = new


def _uncalibrated(model):
    """Labels of the layers whose output observers (or QAT weight fake-quantizers) saw no data."""
    bad = []
    for name, m in model.named_modules():
        if isinstance(m, (ObserverBase, FakeQuantizeBase)):
            continue
        for slot in ("activation_post_process", "weight_fake_quant"):
            obs = m._modules.get(slot)
            if obs is None:
                continue
            inner = obs._modules.get("activation_post_process", obs)
            if hasattr(inner, "has_observed") and not inner.has_observed():
                bad.append(_label(m, name))
                break
    return bad


def _guard_hook(name):
    def hook(mod, args):
        if any(isinstance(a, QTensor) for a in args):
            hint = ("fuse it into the layer before it (fuse_modules in eval mode) before prepare"
                    if isinstance(mod, (BatchNorm1d, BatchNorm2d)) else
                    "put a DeQuantStub before it (and a QuantStub after it if quantized layers follow)")
            raise TypeError(f"{_label(mod, name)} received a quantized tensor, but it has no quantized version: {hint}")
        return None
    return hook


def _install_guards(model):
    for name, m in model.named_modules():
        if m._modules or isinstance(m, _TRANSPARENT):
            continue
        if isinstance(m, (nnq.Linear, nnq.Conv2d, nnq._IntPassthrough, nnqd.LSTM, ObserverBase, FakeQuantizeBase)):
            continue
        m.register_forward_pre_hook(_guard_hook(name))


def _strip_qconfig(model):
    for m in model.modules():
        m.__dict__.pop("qconfig", None)
        m.__dict__.pop("_q_name", None)


def convert(module, mapping=None, inplace=False, remove_qconfig=True, is_reference=False,
            convert_custom_config_dict=None, use_precomputed_fake_quant=False):
    """Replace the prepared, calibrated layers by quantized ones (see the module docstring);
    returns the converted model (a copy unless ``inplace``). Raises when the model was not
    prepared, or when observers saw no data (naming the layers)."""
    if not isinstance(module, Module):
        raise TypeError(f"convert: expected a Module, got {type(module).__name__}")
    if is_reference:
        raise NotImplementedError("convert: reference quantized models (is_reference=True) are not available in "
                                  "tinynet; convert gives the int8 modules")
    if mapping is None:
        mapping = DEFAULT_STATIC_QUANT_MODULE_MAPPINGS
        if not _has_observers(module):
            raise RuntimeError(f"convert: {type(module).__name__} has no observers: convert before prepare. Call "
                               "tinynet.quantization.prepare(model) (or prepare_qat), run calibration batches through "
                               "it, then convert")
        bad = _uncalibrated(module)
        if bad:
            more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
            raise RuntimeError(f"convert: the observers of {', '.join(bad[:5])}{more} saw no data: calibrate first: "
                               "run forward passes after prepare")
    if not inplace:
        module = copy.deepcopy(module)
    for name, m in module.named_modules():
        object.__setattr__(m, "_q_name", name)
    root = swap_module(module, mapping)
    if root is not module:
        return root
    _swap_children(module, mapping)
    _remove_observers(module)
    if mapping is DEFAULT_STATIC_QUANT_MODULE_MAPPINGS:
        _install_guards(module)
    if remove_qconfig:
        _strip_qconfig(module)
    return module


def prepare_qat(model, mapping=None, inplace=False):
    """Swap Linear/Conv2d (and fused forms) for fake-quantizing QAT layers and add FakeQuantize on
    their outputs; the model must be in training mode. Returns the prepared model (a copy
    unless ``inplace``)."""
    if not isinstance(model, Module):
        raise TypeError(f"prepare_qat: expected a Module, got {type(model).__name__}")
    if not model.training:
        raise RuntimeError("prepare_qat only works on models in training mode: call model.train() first")
    if not inplace:
        model = copy.deepcopy(model)
    propagate_qconfig_(model)
    _check_any_qconfig(model, "prepare_qat")
    _swap_children(model, mapping or DEFAULT_QAT_MODULE_MAPPINGS)
    add_observer_(model)
    return model


def quantize(model, run_fn, run_args, mapping=None, inplace=False):
    """Static quantization in one call: ``eval``, :func:`prepare`, ``run_fn(model, *run_args)``
    (the calibration), :func:`convert`."""
    if not inplace:
        model = copy.deepcopy(model)
    model.eval()
    prepare(model, inplace=True)
    run_fn(model, *run_args)
    return convert(model, mapping, inplace=True)


def quantize_qat(model, run_fn, run_args, inplace=False):
    """Quantization-aware training in one call: ``train``, :func:`prepare_qat`,
    ``run_fn(model, *run_args)`` (the training), ``eval``, :func:`convert`."""
    if not inplace:
        model = copy.deepcopy(model)
    model.train()
    prepare_qat(model, inplace=True)
    run_fn(model, *run_args)
    model.eval()
    return convert(model, inplace=True)


def quantize_dynamic(model, qconfig_spec=None, dtype=qint8, mapping=None, inplace=False):
    """Dynamic quantization: the weights of the layers named by ``qconfig_spec`` become int8 now,
    their inputs are quantized on each call (see the module docstring).

    ``qconfig_spec``: a set of layer types (``{nn.Linear, nn.LSTM}``, the default) or a dict
    of type or submodule name -> QConfig. Only ``dtype=qint8`` is supported.
    """
    if dtype is not qint8:
        raise DTypeError(f"quantize_dynamic: only dtype=tn.qint8 is supported (int8 weights), got {dtype!r}")
    mapping = dict(DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS if mapping is None else mapping)
    if qconfig_spec is None:
        qconfig_spec = {Linear: default_dynamic_qconfig, LSTM: default_dynamic_qconfig}
    elif isinstance(qconfig_spec, (set, frozenset, list, tuple)):
        spec = {}
        for t in qconfig_spec:
            if not isinstance(t, type):
                raise TypeError(f"quantize_dynamic: a set qconfig_spec holds layer types (nn.Linear, nn.LSTM), got "
                                f"{t!r}")
            spec[t] = default_dynamic_qconfig
        qconfig_spec = spec
    elif not isinstance(qconfig_spec, dict):
        raise TypeError(f"quantize_dynamic: qconfig_spec must be a set of layer types or a dict, got "
                        f"{type(qconfig_spec).__name__}")
    for key in qconfig_spec:
        if isinstance(key, type) and key not in mapping:
            layers = [n for n, m in model.named_modules() if type(m) is key]
            where = f" (layers {', '.join(repr(n) for n in layers[:5])})" if layers else ""
            raise ArgumentError(f"quantize_dynamic: {key.__name__}{where} has no dynamically quantized version; "
                                f"supported: {', '.join(t.__name__ for t in mapping)}")
    if not inplace:
        model = copy.deepcopy(model)
    propagate_qconfig_(model, qconfig_spec)
    for name, m in model.named_modules():
        if _qconfig(m) is not None and not m._modules and type(m) not in mapping and name in qconfig_spec:
            raise ArgumentError(f"quantize_dynamic: {_label(m, name)} has no dynamically quantized version; "
                                f"supported: {', '.join(t.__name__ for t in mapping)}")
    before = sum(1 for m in model.modules() if type(m) in mapping and _qconfig(m) is not None)
    if before == 0:
        warnings.warn(f"quantize_dynamic: {type(model).__name__} has no layer of the types to quantize "
                      f"({', '.join(k.__name__ if isinstance(k, type) else repr(k) for k in qconfig_spec)}); "
                      "nothing was quantized", stacklevel=2)
    out = convert(model, mapping=mapping, inplace=True)
    return out


# --- conveniences for tinynet's own models -----------------------------------------------------------
_FUSION_PATTERNS = ((Conv2d, BatchNorm2d, ReLU), (Conv2d, BatchNorm2d), (Conv2d, ReLU), (Linear, BatchNorm1d),
                    (Linear, ReLU))


def fusable_groups(model):
    """The chains of :func:`fuse_modules` patterns found inside ``Sequential`` containers (whose
    order is the forward order), as lists of dotted names, longest patterns first."""
    groups = []
    for prefix, mod in model.named_modules():
        if not isinstance(mod, Sequential) or isinstance(mod, nni._FusedModule):
            continue
        items = list(mod._modules.items())
        i = 0
        while i < len(items):
            for pat in _FUSION_PATTERNS:
                window = items[i:i + len(pat)]
                if len(window) == len(pat) and all(type(m) is t for (_, m), t in zip(window, pat)):
                    groups.append([f"{prefix}.{n}" if prefix else n for n, _ in window])
                    i += len(pat)
                    break
            else:
                i += 1
    return groups


_SUPPORTED_LEAVES = tuple(DEFAULT_STATIC_QUANT_MODULE_MAPPINGS) + (Identity,)


def unsupported_layers(model):
    """``[(name, type name)]`` of the leaves of ``model`` that static quantization cannot run on
    quantized tensors (after fusion; anything but Linear, Conv2d, ReLU, MaxPool2d, Flatten,
    Dropout, Identity and the fused/stub modules)."""
    out = []
    for name, m in model.named_modules():
        if isinstance(m, nni._FusedModule) or m._modules and not isinstance(m, _SUPPORTED_LEAVES):
            continue
        if type(m) not in _SUPPORTED_LEAVES:
            out.append((name, type(m).__name__))
    return out


def _resolve_qconfig(qconfig, qat):
    if qconfig is None:
        qconfig = "x86"
    if isinstance(qconfig, str):
        return get_default_qat_qconfig(qconfig) if qat else get_default_qconfig(qconfig)
    if isinstance(qconfig, QConfig):
        return qconfig
    raise TypeError(f"qconfig must be a QConfig or a backend name ('x86', 'fbgemm', 'qnnpack'), got {qconfig!r}")


def _fuse_and_check(model, fuse, fn):
    was_training = model.training
    model.eval()
    if fuse:
        groups = fusable_groups(model)
        if groups:
            fuse_modules(model, groups, inplace=True)
    bad = unsupported_layers(model)
    if bad:
        listed = ", ".join(f"{n or '<root>'} ({t})" for n, t in bad[:8])
        raise ArgumentError(f"{fn}: {type(model).__name__} has layers static int8 quantization does not support: "
                            f"{listed}{' ...' if len(bad) > 8 else ''}. Supported: Linear, Conv2d (with BatchNorm "
                            "folded in), ReLU, MaxPool2d, Flatten, Dropout; use quantize_dynamic for Linear/LSTM "
                            "weights only")
    if not any(isinstance(m, (Linear, Conv2d)) for m in model.modules()):
        raise ArgumentError(f"{fn}: {type(model).__name__} has no Linear or Conv2d layer: nothing to quantize")
    model.train(was_training)
    return model


def _batches(data):
    for batch in data:
        if isinstance(batch, (tuple, list)):
            if not batch:
                continue
            batch = batch[0]
        if not isinstance(batch, Tensor):
            raise TypeError(f"calibration data must give Tensors or (inputs, targets) pairs, got "
                            f"{type(batch).__name__}")
        yield batch


def quantize_model(model, calibration_data, qconfig="x86", fuse=True, inplace=False):
    """Static int8 quantization of a model whose forward has no stubs (tinynet's MLP, LeNet CNN):
    fuse Conv/Linear + BatchNorm + ReLU chains found in ``Sequential`` containers (batch norms
    folded, eval mode), wrap it in :class:`QuantWrapper` (inputs quantized on entry, outputs
    dequantized on exit), :func:`prepare` with ``qconfig`` (a QConfig or a backend name),
    run ``calibration_data`` (an iterable of input Tensors or ``(inputs, targets)`` batches, e.g.
    a DataLoader) through it, :func:`convert`. Returns the quantized QuantWrapper (eval mode).

    Raises when the model has layers that cannot run quantized (naming them), no Linear/Conv2d,
    or when ``calibration_data`` gives no batch."""
    qconfig = _resolve_qconfig(qconfig, qat=False)
    if not inplace:
        model = copy.deepcopy(model)
    _fuse_and_check(model, fuse, "quantize_model")
    wrapped = QuantWrapper(model)
    wrapped.eval()
    wrapped.qconfig = qconfig
    prepare(wrapped, inplace=True)
    seen = 0
    with no_grad():
        for x in _batches(calibration_data):
            wrapped(x)
            seen += x.shape[0] if x.ndim else 1
    if seen == 0:
        raise RuntimeError("quantize_model: calibration_data gave no samples: calibrate first: static quantization "
                           "needs forward passes over representative inputs to measure the activation ranges")
    return convert(wrapped, inplace=True)


def prepare_qat_model(model, qconfig="x86", fuse=True, inplace=False):
    """The QAT counterpart of :func:`quantize_model`'s first half: fuse (batch norms folded in eval
    mode), wrap in :class:`QuantWrapper`, :func:`prepare_qat` with ``qconfig`` (a QConfig or a
    backend name for ``get_default_qat_qconfig``). Train the returned model (train mode), then
    ``convert(model.eval())``."""
    qconfig = _resolve_qconfig(qconfig, qat=True)
    if not inplace:
        model = copy.deepcopy(model)
    _fuse_and_check(model, fuse, "prepare_qat_model")
    wrapped = QuantWrapper(model)
    wrapped.qconfig = qconfig
    wrapped.train()
    return prepare_qat(wrapped, inplace=True)

