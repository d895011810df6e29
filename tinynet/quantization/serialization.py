"""Quantized checkpoints: save a converted model's int8 state and rebuild it later from the
float model's architecture, with no calibration.

A converted model's ``state_dict()`` already holds what inference needs: each quantized
layer's int8 ``qweight``, its float32 ``weight_scale`` (one value, or one per output
channel; symmetric weights have zero point 0), the float32 ``float_bias`` and the output ``scale``/``zero_point``. Saved
with ``tn.save`` (safetensors: int8 tensors take one byte per value) it is about 4x smaller
than the float32 checkpoint.

To load it, the quantized *structure* must exist first: which layers were fused and became
which quantized class with what shape. :func:`save_quantized` therefore writes, next to the
state dict under ``"model"``, a ``"quantization"`` record::

    {"format": "tinynet.quantized", "version": 1, "wrapped": true,
     "modules": {"module.features.0": {"type": "quantized.ConvReLU2d", "args": {...}}, ...}}

(a layer whose construction needs nothing but the float model has no ``"args"``), and
:func:`load_quantized` rebuilds the converted model from a float model of the same
architecture (a fresh ``build_model(...)``), replacing those submodules by empty quantized
layers and then loading the state dict strictly, so the result equals the saved model
exactly.

A float model cannot run int8 weights: :func:`check_float_checkpoint` (and
:func:`load_float_state_dict`) raise :class:`QuantizedCheckpointError` naming the problem
when handed a quantized checkpoint, instead of the generic key/dtype mismatch list.
"""
from __future__ import annotations

import copy

from ..nn import conv as nn_conv, linear as nn_linear
from ..nn.linear import Identity
from ..nn.module import Module
from ..serialization import load as _load, save as _save
from ..tensor.tensor import Tensor
from .nn import dynamic as nnqd
from .nn import quantized as nnq
from .stubs import QuantWrapper

__all__ = ["QuantizedCheckpointError", "FORMAT", "quantization_record", "save_quantized", "load_quantized",
           "rebuild_quantized", "is_quantized_checkpoint", "is_quantized_state_dict", "check_float_checkpoint",
           "load_float_state_dict"]

FORMAT = "tinynet.quantized"
VERSION = 1

_CLASSES = {
    "quantized.Linear": nnq.Linear, "quantized.LinearReLU": nnq.LinearReLU, "quantized.Conv2d": nnq.Conv2d,
    "quantized.ConvReLU2d": nnq.ConvReLU2d, "quantized.Quantize": nnq.Quantize,
    "quantized.DeQuantize": nnq.DeQuantize, "quantized.ReLU": nnq.ReLU, "quantized.MaxPool2d": nnq.MaxPool2d,
    "quantized.Flatten": nnq.Flatten, "quantized.Dropout": nnq.Dropout, "dynamic.Linear": nnqd.Linear,
    "dynamic.LSTM": nnqd.LSTM, "Identity": Identity,
}
_NAMES = {cls: name for name, cls in _CLASSES.items()}


class QuantizedCheckpointError(ValueError):
    """A quantized checkpoint where a float one is needed (or a damaged quantization record)."""


def _args(mod):
    if isinstance(mod, nnqd.LSTM):
        first = mod._modules["ih_l0"]
        return {"input_size": mod.input_size, "hidden_size": mod.hidden_size, "num_layers": mod.num_layers,
                "bias": mod.bias, "batch_first": mod.batch_first, "dropout": mod.dropout,
                "bidirectional": mod.bidirectional, "per_channel": first.per_channel,
                "reduce_range": first.reduce_range}
    if isinstance(mod, nnqd.Linear):
        return {"in_features": mod.in_features, "out_features": mod.out_features,
                "bias": mod.float_bias is not None, "per_channel": mod.per_channel, "reduce_range": mod.reduce_range}
    if isinstance(mod, (nnq.Linear, nnq.Conv2d)):
        # Sizes, stride, padding, ... come from the float model given to load_quantized (its
        # shapes are checked there); only what fusing may have changed is kept: a conv fused
        # with its BatchNorm gains a bias.
        return {"bias": mod.float_bias is not None, "per_channel": mod.per_channel}
    return {}


def quantization_record(model):
    """The ``"quantization"`` record of a converted model (see the module docstring)."""
    if not isinstance(model, Module):
        raise TypeError(f"quantization_record: expected a Module, got {type(model).__name__}")
    modules = {}
    for name, mod in model.named_modules():
        if name and type(mod) in _NAMES and not isinstance(mod, Identity):
            args = _args(mod)
            modules[name] = {"type": _NAMES[type(mod)], "args": args} if args else {"type": _NAMES[type(mod)]}
        elif name and isinstance(mod, Identity):
            modules[name] = {"type": "Identity"}
    if not any(v["type"] != "Identity" for v in modules.values()):
        raise QuantizedCheckpointError(f"quantization_record: {type(model).__name__} has no quantized layer: convert "
                                       "it first (prepare, calibrate, convert; or quantize_dynamic)")
    return {"format": FORMAT, "version": VERSION, "wrapped": isinstance(model, QuantWrapper), "modules": modules}


def save_quantized(model, f, **extra):
    """Write ``{"model": model.state_dict(), "quantization": record, **extra}`` with ``tn.save``
    (safetensors unless ``f`` ends in ``.npz``). ``extra`` values: anything ``tn.save`` stores
    (a config dict, metrics)."""
    for key in ("model", "quantization"):
        if key in extra:
            raise ValueError(f"save_quantized: {key!r} is written by save_quantized itself; pass other extra keys")
    obj = {"model": model.state_dict(), "quantization": quantization_record(model)}
    obj.update(extra)
    _save(obj, f)


def is_quantized_checkpoint(obj) -> bool:
    """True for what :func:`save_quantized` writes (a dict with the ``"quantization"`` record)."""
    return isinstance(obj, dict) and isinstance(obj.get("quantization"), dict) and \
        obj["quantization"].get("format") == FORMAT


def is_quantized_state_dict(state_dict) -> bool:
    """True when a state dict holds quantized layers' entries (``*.qweight`` int8 weights)."""
    return hasattr(state_dict, "items") and any(
        isinstance(k, str) and k.endswith("qweight") and isinstance(v, Tensor) and v.dtype.kind == "i"
        for k, v in state_dict.items())


def check_float_checkpoint(obj, what="this model"):
    """Raise :class:`QuantizedCheckpointError` when ``obj`` (a loaded checkpoint or a state dict)
    is quantized: ``what`` (a float model) cannot load int8 weights."""
    sd = obj.get("model", obj) if isinstance(obj, dict) else obj
    if is_quantized_checkpoint(obj) or is_quantized_state_dict(sd):
        raise QuantizedCheckpointError(
            f"{what} is a float model, but the checkpoint is int8-quantized (tinynet.quantization: int8 qweight, "
            "weight_scale, scale and zero_point entries instead of float weights), so it cannot be loaded into it. Rebuild "
            "the quantized model with tinynet.quantization.load_quantized(checkpoint, float_model), or load the "
            "float checkpoint it was made from")


def load_float_state_dict(model, obj, strict=True):
    """``model.load_state_dict`` that first refuses a quantized checkpoint with a clear error
    (:func:`check_float_checkpoint`). ``obj``: a state dict or a checkpoint dict with ``"model"``."""
    check_float_checkpoint(obj, f"{type(model).__name__}")
    sd = obj["model"] if isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict) else obj
    return model.load_state_dict(sd, strict=strict)


def _check_matches(cls, a, old, name):
    """The float layer at ``name`` must be the kind the quantized layer was made from."""
    if issubclass(cls, nnqd.LSTM):
        sizes = ("input_size", "hidden_size", "num_layers", "bidirectional")
        want, got = {k: a[k] for k in sizes}, {k: getattr(old, k, None) for k in sizes}
        if want == got:
            return
        want, got = f"an LSTM with {want}", f"{type(old).__name__} with {got}"
    elif issubclass(cls, (nnq.Linear, nnq.Conv2d)):
        kind = nn_conv.Conv2d if issubclass(cls, nnq.Conv2d) else nn_linear.Linear
        core = _float_core(old)
        if isinstance(core, kind):
            return
        want, got = f"a {kind.__name__}", type(core).__name__
    else:
        return
    raise QuantizedCheckpointError(
        f"load_quantized: the checkpoint's layer {name!r} was quantized from {want}, but the float model has "
        f"{got} there: build the float model with the architecture (config) the checkpoint was made from")


def _build(kind, info, old, name):
    cls = _CLASSES.get(kind)
    if cls is None:
        raise QuantizedCheckpointError(f"load_quantized: unknown quantized module type {kind!r} for {name!r}")
    a = dict(info.get("args") or {})
    _check_matches(cls, a, old, name)
    if cls is Identity:
        return Identity()
    if cls is nnq.DeQuantize:
        return nnq.DeQuantize()
    if cls is nnq.Quantize:
        return nnq.Quantize(1.0, 0)
    if issubclass(cls, nnq._IntPassthrough):
        return cls.from_float(old)
    if cls is nnqd.LSTM:
        return nnqd.LSTM(a["input_size"], a["hidden_size"], a["num_layers"], a["bias"], a["batch_first"],
                         a["dropout"], a["bidirectional"], per_channel=a["per_channel"],
                         reduce_range=a["reduce_range"])
    if cls is nnqd.Linear:
        return nnqd.Linear(a["in_features"], a["out_features"], a["bias"], per_channel=a["per_channel"],
                           reduce_range=a["reduce_range"])
    f = _float_core(old)
    if issubclass(cls, nnq.Linear):
        return cls(f.in_features, f.out_features, a["bias"], per_channel=a["per_channel"])
    return cls(f.in_channels, f.out_channels, tuple(f.kernel_size), tuple(f.stride), tuple(f.padding),
               tuple(f.dilation), f.groups, a["bias"], per_channel=a["per_channel"])


def _float_core(old):
    """The Linear/Conv2d inside a float layer (a fused ``LinearReLU``/``ConvReLU2d`` holds it first)."""
    if isinstance(old, (nn_linear.Linear, nn_conv.Conv2d)):
        return old
    for child in getattr(old, "_modules", {}).values():
        if isinstance(child, (nn_linear.Linear, nn_conv.Conv2d)):
            return child
    return old


def rebuild_quantized(float_model, record):
    """The converted model's structure (values still empty) built from ``float_model`` (a copy;
    unchanged) and a :func:`quantization_record`."""
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise QuantizedCheckpointError("load_quantized: the checkpoint has no tinynet quantization record; it is not "
                                       "a quantized checkpoint (load float checkpoints with model.load_state_dict)")
    if record.get("version") != VERSION:
        raise QuantizedCheckpointError(f"load_quantized: quantization record version {record.get('version')!r} is not "
                                       f"supported (expected {VERSION})")
    model = copy.deepcopy(float_model)
    model.eval()
    if record.get("wrapped"):
        model = QuantWrapper(model)
        model.eval()
    for name, info in record.get("modules", {}).items():
        parent_name, _, attr = name.rpartition(".")
        try:
            parent = model.get_submodule(parent_name) if parent_name else model
        except Exception:
            parent = None
        if parent is None or attr not in parent._modules:
            raise QuantizedCheckpointError(
                f"load_quantized: the checkpoint has a quantized layer {name!r} but {type(float_model).__name__} "
                "has no such submodule: the float model must have the architecture the checkpoint was made from")
        new = _build(info.get("type"), info, parent._modules[attr], name)
        new.train(False)
        parent._modules[attr] = new
    return model


def load_quantized(f, float_model, strict=True):
    """The quantized model saved by :func:`save_quantized` in ``f`` (a path, a file object, or the
    already loaded checkpoint dict), rebuilt on ``float_model``'s architecture (which is not
    changed) and loaded exactly. Returns it in eval mode."""
    obj = f if isinstance(f, dict) else _load(f)
    if not is_quantized_checkpoint(obj):
        raise QuantizedCheckpointError("load_quantized: not a quantized checkpoint (no 'quantization' record from "
                                       "tinynet.quantization.save_quantized)")
    model = rebuild_quantized(float_model, obj["quantization"])
    model.load_state_dict(obj["model"], strict=strict)
    return model.eval()
