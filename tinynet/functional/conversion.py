"""Moving tensors between dtypes and devices, and copying them, with gradients.

The gradient of a dtype cast is the incoming gradient cast back; the gradient of a
device move is the incoming gradient moved back; the gradient of a copy is itself.
"""
from __future__ import annotations

from ..autograd.op import Op
from ..backend import Device, get_device
from ..tensor import dtypes as _dt
from ..tensor.tensor import Tensor

__all__ = [  # the public ops: tinynet.functional and tn.<name> export these
    "contiguous", "cpu", "to", "to_cpu", "to_cuda"
]


class Cast(Op):
    saves_values = False  # the backward reads no values (a dtype, a device, or nothing)
    name = "to"

    def forward(self, x):
        self.in_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, g):
        return g.to(self.in_dtype)


class ToDevice(Op):
    saves_values = False  # the backward reads no values (a dtype, a device, or nothing)
    name = "to"

    def forward(self, x):
        self.source = self.device
        return self.target.from_host(self.source.to_host(x))

    @classmethod
    def move(cls, x, target):
        out = cls.apply(x, target=target)
        out.device = target
        return out

    def backward(self, g):
        return ToDevice.move(g, self.source)


class Clone(Op):
    saves_values = False  # the backward reads no values (a dtype, a device, or nothing)
    name = "clone"

    def forward(self, x):
        return x.copy()

    def backward(self, g):
        return g


def clone(x):
    """A copy with its own memory (differentiable)."""
    return Clone.apply(x)


def to(x, *args, dtype=None, device=None, copy=False, non_blocking=False, memory_format=None):
    """``x.to("cuda")``, ``x.to(tn.float64)``, ``x.to(other_tensor)``, ``x.to(device, dtype)``.

    ``non_blocking`` is PyTorch's hint that the copy may overlap other work: tinynet copies
    synchronously, which is always a correct way to honour it. ``memory_format`` is accepted
    (tensors are row-major).
    """
    for a in args:
        if isinstance(a, Tensor):
            device, dtype = a.device, a.dtype
        elif isinstance(a, (str, Device)) or (isinstance(a, int) and not isinstance(a, bool)):
            device = a
        else:
            dtype = a
    out = x
    if device is not None:
        target = get_device(device)
        if target is not out.device:
            out = ToDevice.move(out, target)
    if dtype is not None:
        dt = _dt.to_dtype(dtype)
        if dt != out.dtype:
            if out._requires_grad and dt.kind != "f":
                out = out.detach()
            out = Cast.apply(out, dtype=dt)
    if copy and out is x:
        out = clone(x)
    return out


def to_cpu(x):
    """``x`` on the cpu device (``x.cpu()``); ``x`` itself when it is there already."""
    return to(x, device="cpu")


def to_cuda(x):
    """``x`` on the cuda device (``x.cuda()``); ``x`` itself when it is there already.

    Named ``to_cuda`` rather than ``cuda`` so that ``tn.cuda`` is only ever the module
    (``tn.cuda.is_available()``); the Tensor method keeps PyTorch's name, ``x.cuda()``.
    """
    return to(x, device="cuda")


cpu = to_cpu  # tn.cpu(x) / F.cpu(x), as before (no module of that name to clash with)


def contiguous(x, memory_format=None):
    """``x`` itself when its elements are already in row-major order without gaps, else a
    row-major copy (differentiable), as PyTorch."""
    return x if x.array.flags.c_contiguous else clone(x)


#: PyTorch's legacy tensor-type names (``x.type()``), by dtype name.
_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor", "int8": "CharTensor",
               "uint8": "ByteTensor", "bool": "BoolTensor"}


def type_(x, dtype=None, non_blocking=False):
    """``x.type()``: the type name (``'tinynet.FloatTensor'``, ``'tinynet.cuda.FloatTensor'``);
    ``x.type(dtype)``: ``x`` converted to ``dtype`` (a dtype or such a name)."""
    if dtype is None:
        where = "cuda." if x.device.type == "cuda" else ""
        return f"tinynet.{where}{_TYPE_NAMES.get(x.dtype.name, x.dtype.name)}"
    if isinstance(dtype, str) and dtype.endswith("Tensor"):
        names = {v: k for k, v in _TYPE_NAMES.items()}
        short = dtype.rsplit(".", 1)[-1]
        if short not in names:
            raise TypeError(f"type(): unknown tensor type {dtype!r}; use one of {sorted(names)} or a dtype")
        return to(x, dtype=names[short], device="cuda" if ".cuda." in dtype else None)
    return to(x, dtype=dtype)
