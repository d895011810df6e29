"""Quantized tensors: integers plus the affine map back to real numbers.

A quantized tensor stores small integers ``q`` and the parameters of one affine map
(per tensor) or of one map per slice along an axis (per channel)::

    x ~ (q - zero_point) * scale                                   (dequantize)
    q = clamp(round_half_to_even(x / scale) + zero_point, qmin, qmax)   (quantize)

``scale`` is the real step between two neighbouring integers and ``zero_point`` is the
integer that stands for the real number 0 (so zero, and with it zero padding and ReLU's
floor, is represented exactly). With 8-bit integers a tensor takes a quarter of the
memory of float32, and products of 8-bit integers accumulated in 32-bit integers run
the matrix products of linear and convolution layers (``tinynet.quantization.functional``).

Three integer types, PyTorch's:

* ``qint8``: int8 storage, ``-128..127`` (weights; symmetric: zero point 0);
* ``quint8``: uint8 storage, ``0..255`` (activations; affine: any zero point);
* ``qint32``: int32 storage (biases and accumulators in other libraries).

Rounding follows PyTorch's CPU kernels bit for bit, which matters because a value half
way between two integers can go either way: PyTorch multiplies by the float32 reciprocal
of the scale (``inv = 1.0f / float(scale)``) and rounds half to even after adding the
zero point, ``q = nearbyint(zero_point + x * inv)``. Per tensor it forms
``zero_point + x * inv`` with one rounding (a fused multiply-add), per channel with two
(the product is rounded to float32 first). Dequantizing computes
``float(q - zero_point) * float(scale)`` in float32 per tensor, and per channel the
product with the float64 scale rounded once to float32. ``tests/test_quantized_tensor.py``
checks these bit for bit against ``torch.quantize_per_tensor``/``quantize_per_channel``.

A :class:`QTensor` is not an autograd :class:`~tinynet.Tensor`: it carries no gradient and
supports no arithmetic. Quantized layers compute with it through the functional ops, and
``dequantize()`` turns it back into a float32 Tensor. The functions here are also
reachable as ``tn.quantize_per_tensor``, ``tn.quantize_per_channel``, ``tn.dequantize``.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..backend import get_device
from ..backend.errors import ArgumentError, DTypeError, ShapeError
from ..tensor import Tensor

__all__ = ["qdtype", "qint8", "quint8", "qint32", "qscheme", "per_tensor_affine", "per_channel_affine",
           "per_tensor_symmetric", "per_channel_symmetric", "QTensor", "quantize_per_tensor",
           "quantize_per_channel", "dequantize", "_make_per_tensor_quantized_tensor",
           "_make_per_channel_quantized_tensor"]


class qdtype:
    """A quantized data type: the integer storage type and its range ``[qmin, qmax]``.

    Printed as PyTorch's (``tinynet.qint8``). ``storage`` is the NumPy dtype of the
    integers (``int8`` for ``qint8``), ``qmin``/``qmax`` their range.
    """

    __slots__ = ("name", "storage", "qmin", "qmax")

    def __init__(self, name: str, storage: str):
        info = np.iinfo(storage)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "storage", np.dtype(storage))
        object.__setattr__(self, "qmin", int(info.min))
        object.__setattr__(self, "qmax", int(info.max))

    def __setattr__(self, name, value):
        raise AttributeError("tinynet quantized dtypes are immutable")

    def __repr__(self):
        return f"tinynet.{self.name}"

    __str__ = __repr__

    def __reduce__(self):
        return (_qdtype_by_name, (self.name,))

    @property
    def is_floating_point(self) -> bool:
        return False

    @property
    def is_complex(self) -> bool:
        return False

    @property
    def is_signed(self) -> bool:
        return self.qmin < 0

    @property
    def itemsize(self) -> int:
        return self.storage.itemsize


qint8 = qdtype("qint8", "int8")
quint8 = qdtype("quint8", "uint8")
qint32 = qdtype("qint32", "int32")
_QDTYPES = {"qint8": qint8, "quint8": quint8, "qint32": qint32}


def _qdtype_by_name(name):
    return _QDTYPES[name]


class qscheme:
    """How a tensor was quantized (PyTorch's ``torch.qscheme``): one map or one per channel,
    affine (any zero point) or symmetric (zero point in the middle of the range)."""

    __slots__ = ("name", "per_channel", "symmetric")

    def __init__(self, name: str):
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "per_channel", name.startswith("per_channel"))
        object.__setattr__(self, "symmetric", name.endswith("symmetric"))

    def __setattr__(self, name, value):
        raise AttributeError("tinynet qschemes are immutable")

    def __repr__(self):
        return f"tinynet.{self.name}"

    __str__ = __repr__

    def __reduce__(self):
        return (_qscheme_by_name, (self.name,))


per_tensor_affine = qscheme("per_tensor_affine")
per_channel_affine = qscheme("per_channel_affine")
per_tensor_symmetric = qscheme("per_tensor_symmetric")
per_channel_symmetric = qscheme("per_channel_symmetric")
_QSCHEMES = {s.name: s for s in (per_tensor_affine, per_channel_affine, per_tensor_symmetric,
                                 per_channel_symmetric)}


def _qscheme_by_name(name):
    return _QSCHEMES[name]


def _symmetric_zero_point(dtype: qdtype) -> int:
    """The zero point of a symmetric scheme: the middle of the range (0 for qint8, 128 for quint8)."""
    return 0 if dtype.qmin < 0 else (dtype.qmin + dtype.qmax + 1) // 2


def _check_qdtype(op: str, dtype) -> qdtype:
    if isinstance(dtype, qdtype):
        return dtype
    if isinstance(dtype, str) and dtype in _QDTYPES:
        return _QDTYPES[dtype]
    raise DTypeError(f"{op}: dtype must be tinynet.qint8, tinynet.quint8 or tinynet.qint32, got {dtype!r}")


def _float_input(op: str, x) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a float Tensor to quantize, got {type(x).__name__}"
                        + ("; it is already quantized (call .dequantize() first)" if isinstance(x, QTensor) else ""))
    if x.array.dtype.kind != "f":
        raise DTypeError(f"{op}: expected a floating tensor (float16/float32/float64), got {x.dtype} of shape "
                         f"{tuple(x.shape)}; convert it with .float()")
    return x


def _check_scale(op: str, scale) -> float:
    if type(scale) is float and 1e-37 < scale < 1e37:  # the common case, checked in 100 ns (quantized ops call this)
        return scale
    if isinstance(scale, Tensor):
        if scale.array.size != 1:
            raise ShapeError(f"{op}: scale must be one number, got a tensor of shape {tuple(scale.shape)}; "
                             "use quantize_per_channel for one scale per channel")
        scale = scale.item()
    if not isinstance(scale, numbers.Real) or isinstance(scale, bool):
        raise TypeError(f"{op}: scale must be a positive float, got {type(scale).__name__}")
    scale = float(scale)
    # PyTorch computes with float(scale): a scale that is 0 or inf in float32 maps everything to one value.
    if not np.isfinite(scale) or not scale > 0 or not 0 < np.float32(scale) < np.inf:
        raise ArgumentError(f"{op}: scale must be a positive, finite float32 number, got {scale!r}")
    return scale


def _check_zero_point(op: str, zero_point, dtype: qdtype) -> int:
    if isinstance(zero_point, Tensor):
        if zero_point.array.size != 1:
            raise ShapeError(f"{op}: zero_point must be one integer, got a tensor of shape {tuple(zero_point.shape)}")
        zero_point = zero_point.item()
    if isinstance(zero_point, float) and float(zero_point).is_integer():
        zero_point = int(zero_point)
    if not isinstance(zero_point, numbers.Integral) or isinstance(zero_point, bool):
        raise TypeError(f"{op}: zero_point must be an integer, got {zero_point!r}")
    zero_point = int(zero_point)
    if not dtype.qmin <= zero_point <= dtype.qmax:
        raise ArgumentError(f"{op}: zero_point {zero_point} is outside the range of {dtype} "
                            f"[{dtype.qmin}, {dtype.qmax}]")
    return zero_point


def _host_vector(op: str, name: str, values, np_dtype) -> np.ndarray:
    """Per-channel parameters as a 1-D host array (they are few: one per channel)."""
    if isinstance(values, Tensor):
        values = values.device.to_host(values.array)
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ShapeError(f"{op}: {name} must be a 1-D tensor (one value per channel), got shape {arr.shape}")
    if np_dtype == np.int64:
        if arr.dtype.kind == "f" and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        if arr.dtype.kind not in "iu":
            raise DTypeError(f"{op}: {name} must be integers, got dtype {arr.dtype}")
    elif arr.dtype.kind not in "fiu":
        raise DTypeError(f"{op}: {name} must be real numbers, got dtype {arr.dtype}")
    return np.array(arr, dtype=np_dtype, copy=True)


def _check_qscheme(op, requested, per_channel, dtype, zero_points):
    """The qscheme to record: affine unless ``requested`` says symmetric (checked against the zero points)."""
    default = per_channel_affine if per_channel else per_tensor_affine
    if requested is None:
        return default
    if not isinstance(requested, qscheme):
        raise TypeError(f"{op}: qscheme must be one of tinynet.per_tensor_affine, per_channel_affine, "
                        f"per_tensor_symmetric, per_channel_symmetric; got {requested!r}")
    if requested.per_channel != per_channel:
        raise ArgumentError(f"{op}: qscheme {requested} does not fit a "
                            f"{'per-channel' if per_channel else 'per-tensor'} quantization")
    if requested.symmetric:
        zp = _symmetric_zero_point(dtype)
        if np.any(np.asarray(zero_points) != zp):
            raise ArgumentError(f"{op}: a symmetric {dtype} tensor has zero point {zp}, got {zero_points!r}")
    return requested


# --- the rounding, written once for every caller ----------------------------------------------------
#: ``(qmin, qmax)`` of the 8-bit types as float32 scalars (made once: the quantize path runs per call).
_BOUNDS32 = {d.name: (np.float32(d.qmin), np.float32(d.qmax)) for d in (qint8, quint8)}


def _quantize_array(xp, x, inv_scale, zero_point, dtype: qdtype, fused: bool):
    """``clamp(nearbyint(zero_point + x * inv_scale), qmin, qmax)`` as ``dtype.storage``.

    ``inv_scale`` is float32 (scalar or broadcastable array), ``zero_point`` an integer
    (or array). ``fused=True`` rounds ``zero_point + x * inv_scale`` once (PyTorch's
    per-tensor kernel uses a fused multiply-add): the product of two float32 numbers is
    exact in float64, so the sum computed in float64 and rounded to float32 is the fused
    result. ``fused=False`` rounds the product to float32 first (PyTorch's per-channel
    kernel). ``nearbyint`` rounds half to even (NumPy's ``rint``). NaN maps to the zero
    point's neighbourhood as in PyTorch's cast: here to ``zero_point`` (documented, and
    NaN inputs are a user error anyway).
    """
    x32 = x.astype(np.float32, copy=False)
    if fused and xp is np and dtype.storage.itemsize == 1 and type(inv_scale) is np.float32:
        # The same arithmetic with in-place steps and scalar operands (a quantized model's
        # input is quantized per call; the general form below costs 2-3x more on small
        # tensors). The clamp comes before the NaN fix-up here: NaN passes both bounds
        # untouched, and the zero point it then becomes lies inside [qmin, qmax].
        v = x32.astype(np.float64)
        v *= float(inv_scale)
        v += float(zero_point)
        v32 = v.astype(np.float32)
        np.rint(v32, out=v32)
        lo, hi = _BOUNDS32[dtype.name]
        np.maximum(v32, lo, out=v32)
        np.minimum(v32, hi, out=v32)
        if np.isnan(np.add.reduce(v32, axis=None)):  # the values are at most 255 in size: a NaN sum means a NaN
            v32[np.isnan(v32)] = zero_point
        return v32.astype(dtype.storage)
    if fused:
        v = (x32.astype(np.float64) * xp.asarray(inv_scale, dtype=np.float64)
             + xp.asarray(zero_point, dtype=np.float64)).astype(np.float32)
    else:
        v = (x32 * xp.asarray(inv_scale, dtype=np.float32)) + xp.asarray(zero_point, dtype=np.float32)
    if dtype.storage.itemsize == 4:
        # qint32: float32 cannot hold every int32; clamp in float64 before the cast.
        v = v.astype(np.float64)
    v = xp.rint(v)
    v = xp.where(xp.isnan(v), xp.asarray(zero_point, dtype=v.dtype), v)
    return xp.clip(v, dtype.qmin, dtype.qmax).astype(dtype.storage)


def _dequantize_array(xp, q, scale, zero_point, per_channel=False):
    """``float32(q - zero_point) * float32(scale)`` per tensor; per channel PyTorch multiplies
    by the float64 scale and rounds the product to float32 once."""
    if not per_channel and q.dtype.itemsize == 1:
        # 8-bit integers and their zero point are exact in float32, and so is their difference
        # (at most 255 in size): the same values as the int64 route below, in fewer steps.
        out = q.astype(np.float32)
        out -= np.float32(zero_point)
        out *= np.float32(scale)
        return out
    centred = q.astype(np.int64) - xp.asarray(zero_point, dtype=np.int64)
    if per_channel:
        return (centred * xp.asarray(scale, dtype=np.float64)).astype(np.float32)
    return centred.astype(np.float32) * xp.asarray(scale, dtype=np.float32)


def _inv_scale(scale):
    """PyTorch's ``1.0f / float(scale)``: the reciprocal computed in float32."""
    return np.float32(1.0) / np.asarray(scale, dtype=np.float32)


# --- the quantized tensor ---------------------------------------------------------------------------
class QTensor:
    """A quantized tensor (PyTorch's quantized ``Tensor``): integer storage on a device plus
    a scale and zero point (per tensor) or one of each per slice along ``axis`` (per channel).

    Made by :func:`quantize_per_tensor`, :func:`quantize_per_channel` or the quantized
    layers. ``dequantize()`` gives the float32 values ``(q - zero_point) * scale``;
    ``int_repr()`` gives the stored integers as an ordinary tensor.
    """

    __slots__ = ("_int", "device", "_dtype", "_qscheme", "_scale", "_zero_point", "_axis", "_cache",
                 "__weakref__")
    is_quantized = True
    requires_grad = False
    grad = None

    def __init__(self, int_array, device, dtype: qdtype, qscheme_: qscheme, scale, zero_point, axis=None):
        self._int = int_array
        self.device = device
        self._dtype = dtype
        self._qscheme = qscheme_
        self._scale = scale
        self._zero_point = zero_point
        self._axis = axis
        # Derived forms of the integers that the kernels reuse (a packed weight, its row
        # sums): computed once per QTensor, which is immutable from the outside.
        self._cache = {}

    # --- properties, as PyTorch's -------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return tuple(self._int.shape)

    @property
    def ndim(self) -> int:
        return self._int.ndim

    @property
    def dtype(self) -> qdtype:
        return self._dtype

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def size(self, dim=None):
        if dim is None:
            return self.shape
        return self.shape[dim]

    def dim(self) -> int:
        return self._int.ndim

    def numel(self) -> int:
        return int(self._int.size)

    def element_size(self) -> int:
        return self._dtype.itemsize

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d quantized tensor")
        return self.shape[0]

    def qscheme(self) -> qscheme:
        return self._qscheme

    def q_scale(self) -> float:
        self._per_tensor_only("q_scale", "q_per_channel_scales")
        return self._scale

    def q_zero_point(self) -> int:
        self._per_tensor_only("q_zero_point", "q_per_channel_zero_points")
        return self._zero_point

    def q_per_channel_scales(self) -> Tensor:
        self._per_channel_only("q_per_channel_scales", "q_scale")
        return Tensor._make(self._scale.copy(), get_device("cpu"))

    def q_per_channel_zero_points(self) -> Tensor:
        self._per_channel_only("q_per_channel_zero_points", "q_zero_point")
        return Tensor._make(self._zero_point.copy(), get_device("cpu"))

    def q_per_channel_axis(self) -> int:
        self._per_channel_only("q_per_channel_axis", "q_scale")
        return self._axis

    def _per_tensor_only(self, name, other):
        if self._qscheme.per_channel:
            raise ArgumentError(f"QTensor.{name}(): this tensor is quantized {self._qscheme.name} "
                                f"(axis {self._axis}); use {other}()")

    def _per_channel_only(self, name, other):
        if not self._qscheme.per_channel:
            raise ArgumentError(f"QTensor.{name}(): this tensor is quantized {self._qscheme.name}; use {other}()")

    # --- conversions ----------------------------------------------------------------------------
    def int_repr(self) -> Tensor:
        """The stored integers as a Tensor (uint8 for quint8, int8 for qint8, int32 for qint32), a copy."""
        return Tensor._make(self._int.copy(), self.device)

    def dequantize(self) -> Tensor:
        """The float32 tensor ``(q - zero_point) * scale`` (per channel: the scale and zero
        point of each element's slice along ``axis``)."""
        xp = self.device.xp
        if self._qscheme.per_channel:
            scale, zp = self._channel_params(xp)
            out = _dequantize_array(xp, self._int, scale, zp, per_channel=True)
        else:
            out = _dequantize_array(xp, self._int, self._scale, self._zero_point)
        return Tensor._make(out, self.device)

    def _channel_params(self, xp, dtype=np.float64):
        """Scales and zero points on this device, shaped to broadcast along ``axis``."""
        shape = [1] * self._int.ndim
        shape[self._axis] = -1
        scale = xp.asarray(self._scale.astype(dtype)).reshape(shape)
        zp = xp.asarray(self._zero_point).reshape(shape)
        return scale, zp

    def to(self, device) -> "QTensor":
        """This tensor on ``device`` (``"cpu"``/``"cuda"``); itself when already there."""
        dev = get_device(device)
        if dev is self.device:
            return self
        host = self.device.to_host(self._int)
        return QTensor(dev.from_host(np.ascontiguousarray(host)), dev, self._dtype, self._qscheme,
                       self._scale if not self._qscheme.per_channel else self._scale.copy(),
                       self._zero_point if not self._qscheme.per_channel else self._zero_point.copy(), self._axis)

    def cpu(self) -> "QTensor":
        return self.to("cpu")

    def cuda(self) -> "QTensor":
        return self.to("cuda")

    def clone(self) -> "QTensor":
        return QTensor(self._int.copy(), self.device, self._dtype, self._qscheme,
                       self._scale if not self._qscheme.per_channel else self._scale.copy(),
                       self._zero_point if not self._qscheme.per_channel else self._zero_point.copy(), self._axis)

    def contiguous(self) -> "QTensor":
        return self

    def detach(self) -> "QTensor":
        return self

    def numpy(self):
        raise TypeError("QTensor.numpy(): a quantized tensor has no NumPy form; use .int_repr().numpy() for the "
                        "integers or .dequantize().numpy() for the values")

    def __repr__(self):
        values = np.array2string(self.device.to_host(self.dequantize().array), separator=", ", precision=4,
                                 threshold=200, prefix="tensor(")
        dev = f", device='{self.device.type}'" if self.device.type != "cpu" else ""
        if self._qscheme.per_channel:
            params = (f"scale={np.array2string(self._scale, separator=', ', threshold=20)}, "
                      f"zero_point={np.array2string(self._zero_point, separator=', ', threshold=20)}, "
                      f"axis={self._axis}")
        else:
            params = f"scale={self._scale}, zero_point={self._zero_point}"
        return (f"tensor({values}, size={self.shape}, dtype={self._dtype}{dev},\n"
                f"       quantization_scheme={self._qscheme}, {params})")


# --- making quantized tensors -----------------------------------------------------------------------
def quantize_per_tensor(input: Tensor, scale, zero_point, dtype, *, qscheme=None) -> QTensor:
    """Quantize a float tensor with one scale and zero point (``torch.quantize_per_tensor``)::

        q = clamp(round_half_to_even(zero_point + x * (1/scale)), qmin, qmax)

    with ``1/scale`` in float32 and the rounding as PyTorch's (see the module docstring).
    float16 and float64 inputs are rounded to float32 first (PyTorch quantizes float32).
    ``qscheme`` (keyword only, a tinynet extension) records ``per_tensor_symmetric`` for a
    tensor whose zero point is the middle of the range; the default is ``per_tensor_affine``.
    """
    op = "quantize_per_tensor"
    x = _float_input(op, input)
    dtype = _check_qdtype(op, dtype)
    scale = _check_scale(op, scale)
    zero_point = _check_zero_point(op, zero_point, dtype)
    scheme = _check_qscheme(op, qscheme, False, dtype, zero_point)
    q = _quantize_array(x.device.xp, x.array, _inv_scale(scale), zero_point, dtype, fused=True)
    return QTensor(q, x.device, dtype, scheme, scale, zero_point)


def _check_axis(op: str, axis, ndim: int) -> int:
    if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
        raise TypeError(f"{op}: axis must be an integer, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ArgumentError(f"{op}: axis {axis} is out of range for a {ndim}-d tensor")
    return int(axis) % ndim


def _check_channel_params(op, scales, zero_points, axis, shape, dtype):
    scales = _host_vector(op, "scales", scales, np.float64)
    zero_points = _host_vector(op, "zero_points", zero_points, np.int64)
    channels = shape[axis]
    if scales.shape[0] != channels or zero_points.shape[0] != channels:
        raise ShapeError(f"{op}: axis {axis} of the input (shape {tuple(shape)}) has {channels} channels, but got "
                         f"{scales.shape[0]} scales and {zero_points.shape[0]} zero points; pass one per channel")
    s32 = scales.astype(np.float32)
    if not (np.all(np.isfinite(scales)) and np.all(scales > 0) and np.all(s32 > 0) and np.all(np.isfinite(s32))):
        raise ArgumentError(f"{op}: every scale must be a positive, finite float32 number, got {scales}")
    if np.any(zero_points < dtype.qmin) or np.any(zero_points > dtype.qmax):
        raise ArgumentError(f"{op}: zero points {zero_points} fall outside the range of {dtype} "
                            f"[{dtype.qmin}, {dtype.qmax}]")
    return scales, zero_points


def quantize_per_channel(input: Tensor, scales, zero_points, axis: int, dtype, *, qscheme=None) -> QTensor:
    """Quantize with one scale and zero point per slice along ``axis``
    (``torch.quantize_per_channel``)::

        q[..., c, ...] = clamp(round_half_to_even(zp[c] + x[..., c, ...] * (1/scales[c])), qmin, qmax)

    ``scales`` (float64) and ``zero_points`` (int64): 1-D tensors (or arrays, lists) with one
    value per channel. Weights of linear and conv layers use ``axis=0`` (one scale per
    output channel). ``qscheme`` as in :func:`quantize_per_tensor` (``per_channel_symmetric``).
    """
    op = "quantize_per_channel"
    x = _float_input(op, input)
    dtype = _check_qdtype(op, dtype)
    if x.ndim == 0:
        raise ShapeError(f"{op}: a 0-d tensor has no channels; use quantize_per_tensor")
    axis = _check_axis(op, axis, x.ndim)
    scales, zero_points = _check_channel_params(op, scales, zero_points, axis, x.shape, dtype)
    scheme = _check_qscheme(op, qscheme, True, dtype, zero_points)
    xp = x.device.xp
    shape = [1] * x.ndim
    shape[axis] = -1
    inv = xp.asarray(_inv_scale(scales)).reshape(shape)
    zp = xp.asarray(zero_points).reshape(shape)
    q = _quantize_array(xp, x.array, inv, zp, dtype, fused=False)
    return QTensor(q, x.device, dtype, scheme, scales, zero_points, axis)


def dequantize(input) -> Tensor:
    """``input.dequantize()`` for a QTensor (float32 ``(q - zero_point) * scale``); a list or
    tuple of QTensors gives a list (``torch.dequantize``); a float Tensor comes back as is."""
    if isinstance(input, QTensor):
        return input.dequantize()
    if isinstance(input, (list, tuple)):
        return [dequantize(t) for t in input]
    if isinstance(input, Tensor) and input.array.dtype.kind == "f":
        return input
    raise TypeError(f"dequantize: expected a quantized tensor, got {type(input).__name__}"
                    + (f" of dtype {input.dtype}" if isinstance(input, Tensor) else ""))


def _int_input(op, int_repr, dtype):
    if not isinstance(int_repr, Tensor):
        raise TypeError(f"{op}: expected a Tensor of integers, got {type(int_repr).__name__}")
    kinds = {np.dtype("int8"): qint8, np.dtype("uint8"): quint8, np.dtype("int32"): qint32}
    found = kinds.get(int_repr.array.dtype)
    if found is None:
        raise DTypeError(f"{op}: expected int8, uint8 or int32 integers, got {int_repr.dtype}")
    if dtype is not None and _check_qdtype(op, dtype) is not found:
        raise DTypeError(f"{op}: integers of dtype {int_repr.dtype} do not store {dtype}")
    return found


def _make_per_tensor_quantized_tensor(int_repr: Tensor, scale, zero_point, *, qscheme=None) -> QTensor:
    """A QTensor from stored integers (``torch._make_per_tensor_quantized_tensor``): int8
    gives qint8, uint8 quint8, int32 qint32. The integers are copied. Loading a quantized
    checkpoint goes this way."""
    op = "_make_per_tensor_quantized_tensor"
    dtype = _int_input(op, int_repr, None)
    scale = _check_scale(op, scale)
    zero_point = _check_zero_point(op, zero_point, dtype)
    scheme = _check_qscheme(op, qscheme, False, dtype, zero_point)
    return QTensor(int_repr.array.copy(), int_repr.device, dtype, scheme, scale, zero_point)


def _make_per_channel_quantized_tensor(int_repr: Tensor, scales, zero_points, axis: int, *,
                                       qscheme=None) -> QTensor:
    """A per-channel QTensor from stored integers (``torch._make_per_channel_quantized_tensor``)."""
    op = "_make_per_channel_quantized_tensor"
    dtype = _int_input(op, int_repr, None)
    if int_repr.ndim == 0:
        raise ShapeError(f"{op}: a 0-d tensor has no channels")
    axis = _check_axis(op, axis, int_repr.ndim)
    scales, zero_points = _check_channel_params(op, scales, zero_points, axis, int_repr.shape, dtype)
    scheme = _check_qscheme(op, qscheme, True, dtype, zero_points)
    return QTensor(int_repr.array.copy(), int_repr.device, dtype, scheme, scales, zero_points, axis)
