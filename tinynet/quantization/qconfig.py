"""Quantization configurations (PyTorch's ``torch.ao.quantization.qconfig``).

A :class:`QConfig` says how to observe a layer: ``activation`` builds the observer (or
FakeQuantize) of the layer's *output*, ``weight`` the one of its weight. Both are factories
(classes or ``with_args`` results): every layer gets its own observers. Set it on a model or a
submodule (``model.qconfig = get_default_qconfig("x86")``); :func:`prepare` hands it down to
the children that have none of their own, and ``qconfig = None`` on a child leaves it float.

Presets, PyTorch's:

* ``default_qconfig``: activations MinMax quint8 0..127, weights MinMax qint8 symmetric.
* ``get_default_qconfig("x86"|"fbgemm")``: activations HistogramObserver with
  ``reduce_range``, weights per-channel symmetric qint8; ``"qnnpack"``: activations
  HistogramObserver full range, weights per-tensor symmetric.
* ``default_qat_qconfig`` / ``get_default_qat_qconfig(backend)``: FakeQuantize on a moving
  average observer (PyTorch's x86/qnnpack QAT presets use a fused FakeQuantize with the same
  arithmetic; tinynet uses :class:`FakeQuantize`).
* ``default_dynamic_qconfig`` / ``per_channel_dynamic_qconfig``: weights only (the
  activations' range is measured per call at run time).
"""
from __future__ import annotations

from collections import namedtuple

from ..nn.module import Module
from .fake_quantize import FakeQuantize, default_fake_quant, default_weight_fake_quant
from .observer import HistogramObserver, MovingAverageMinMaxObserver, MovingAveragePerChannelMinMaxObserver, \
    default_dynamic_quant_observer, default_observer, default_per_channel_weight_observer, default_weight_observer
from .qtensor import per_channel_symmetric, per_tensor_symmetric, qint8

__all__ = [
    "QConfig", "QConfigDynamic", "default_qconfig", "default_per_channel_qconfig", "default_qat_qconfig",
    "default_dynamic_qconfig", "per_channel_dynamic_qconfig", "get_default_qconfig", "get_default_qat_qconfig",
    "qconfig_equals",
]

_BACKENDS = ("x86", "fbgemm", "qnnpack", "onednn")


class QConfig(namedtuple("QConfig", ["activation", "weight"])):
    """``QConfig(activation=factory, weight=factory)`` (see the module docstring). The fields must
    be factories (a class or ``Observer.with_args(...)``), not observer instances: one observer
    is built per layer."""

    __slots__ = ()

    def __new__(cls, activation, weight):
        for name, f in (("activation", activation), ("weight", weight)):
            if isinstance(f, Module):
                raise ValueError(f"QConfig received observer instance for {name}, please pass observer class "
                                 f"instead. Use MyObserver.with_args(x=1) to override arguments to constructor "
                                 f"if needed (got {type(f).__name__} instance)")
            if not callable(f):
                raise TypeError(f"QConfig: {name} must be an observer class or factory, got {type(f).__name__}")
        return super().__new__(cls, activation, weight)


QConfigDynamic = QConfig

default_qconfig = QConfig(activation=default_observer, weight=default_weight_observer)
default_per_channel_qconfig = QConfig(activation=default_observer, weight=default_per_channel_weight_observer)
default_qat_qconfig = QConfig(activation=default_fake_quant, weight=default_weight_fake_quant)
default_dynamic_qconfig = QConfig(activation=default_dynamic_quant_observer, weight=default_weight_observer)
per_channel_dynamic_qconfig = QConfig(activation=default_dynamic_quant_observer,
                                      weight=default_per_channel_weight_observer)


def _check_backend(backend, fn):
    if backend not in _BACKENDS:
        raise ValueError(f"{fn}: backend must be one of {', '.join(repr(b) for b in _BACKENDS)}, got {backend!r}")


def get_default_qconfig(backend: str = "x86", version: int = 0):
    """The post-training (static) preset of ``backend`` (see the module docstring)."""
    _check_backend(backend, "get_default_qconfig")
    if version != 0:
        raise ValueError(f"get_default_qconfig: version must be 0, got {version}")
    if backend in ("x86", "fbgemm", "onednn"):
        return QConfig(activation=HistogramObserver.with_args(reduce_range=backend != "onednn"),
                       weight=default_per_channel_weight_observer)
    return QConfig(activation=HistogramObserver.with_args(reduce_range=False), weight=default_weight_observer)


def get_default_qat_qconfig(backend: str = "x86", version: int = 1):
    """The quantization-aware-training preset of ``backend``: FakeQuantize on moving-average
    observers; per-channel weights for x86/fbgemm, per-tensor for qnnpack. ``version=0`` gives
    :data:`default_qat_qconfig`'s weights (per tensor) with the backend's activations."""
    _check_backend(backend, "get_default_qat_qconfig")
    if version not in (0, 1):
        raise ValueError(f"get_default_qat_qconfig: version must be 0 or 1, got {version}")
    reduce = backend in ("x86", "fbgemm")
    act = FakeQuantize.with_args(observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255,
                                 reduce_range=reduce)
    if backend == "qnnpack" or version == 0:
        weight = FakeQuantize.with_args(observer=MovingAverageMinMaxObserver, quant_min=-128, quant_max=127,
                                        dtype=qint8, qscheme=per_tensor_symmetric)
        if version == 0 and backend != "qnnpack":
            weight = default_weight_fake_quant
    else:
        weight = FakeQuantize.with_args(observer=MovingAveragePerChannelMinMaxObserver, quant_min=-128,
                                        quant_max=127, dtype=qint8, qscheme=per_channel_symmetric)
    return QConfig(activation=act, weight=weight)


def qconfig_equals(q1, q2) -> bool:
    """True when two QConfigs build the same observers (same classes and arguments)."""
    if q1 is None or q2 is None:
        return q1 is q2

    def key(f):
        p = getattr(f, "p", None)
        return (p.func, tuple(sorted(p.keywords.items(), key=lambda kv: kv[0]))) if p is not None else (f, ())
    try:
        return key(q1.activation) == key(q2.activation) and key(q1.weight) == key(q2.weight)
    except TypeError:
        return q1 == q2
