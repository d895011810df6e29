"""Tensor: an array on a device, plus what reverse-mode autograd needs.

A Tensor holds

* ``array``  the raw array (``numpy.ndarray`` on cpu, ``cupy.ndarray`` on cuda); ``data``
  is PyTorch's: a Tensor sharing that array, cut from the graph (``p.data.add_(...)``);
* ``device`` the :class:`~tinynet.backend.Device` that owns it (array module + kernels);
* ``requires_grad``, ``grad`` (a Tensor or None) and ``grad_fn`` (the node that made it);
* a version counter, bumped by every in-place change, so the graph can tell when a
  value it saved for backward was overwritten.

Math methods (``+``, ``x.exp()``, ``x.sum(axis=1)``, ``x[key]``, ...) are differentiable ops
defined in :mod:`tinynet.functional` and bound onto this class once, by
``functional/methods.py`` after every op module is loaded, which keeps imports pointing one
way: functional builds on tensor, never the reverse.
"""
from __future__ import annotations

import weakref

import numpy as _np

from ..backend.errors import DeviceError, ShapeError
from ..autograd.engine import backward as _autograd_backward
from ..autograd.engine import run_backward
from ..autograd.grad_mode import STATE
from ..autograd.hooks import add_hook
from ..backend import get_device
from . import dtypes as _dt


def _as_array(data, dtype, device):
    """Convert Python data, a NumPy/CuPy array or a Tensor to an array on ``device``."""
    dtype = _dt.to_dtype(dtype)
    if isinstance(data, Tensor):
        arr = data.array
        if data.device is not device:
            arr = device.from_host(data.device.to_host(arr))
        return arr.astype(dtype, copy=True) if dtype is not None else arr.copy()
    if hasattr(data, "__cuda_array_interface__") and device.xp.__name__ != "numpy":
        arr = device.xp.asarray(data)
        from_python = False
    else:
        if hasattr(data, "__cuda_array_interface__") and hasattr(data, "get"):
            data = data.get()  # a CuPy array headed for a NumPy device
        from_python = not isinstance(data, (_np.ndarray, _np.generic))
        try:
            arr = _np.asarray(data)
        except ValueError as exc:
            raise ValueError(f"tensor(): could not make a rectangular array from the data ({exc})") from None
        if arr.dtype == object:
            raise TypeError(
                "tensor(): data must be numbers, nested lists of numbers of equal lengths, or arrays; "
                f"got an object array from {type(data).__name__}"
            )
        arr = device.from_host(arr) if device.xp.__name__ != "numpy" else arr
    target = dtype if dtype is not None else _dt.infer_dtype(arr.dtype, from_python)
    if arr.dtype != target:
        arr = arr.astype(target)
    elif arr is data or isinstance(data, (_np.ndarray,)):
        arr = arr.copy()
    return arr


class Tensor:
    """An n-dimensional array with automatic differentiation (see module docstring)."""

    __slots__ = ("array", "device", "_requires_grad", "grad", "grad_fn", "_version", "_hooks", "__weakref__")
    __array_ufunc__ = None  # make `ndarray + Tensor` call Tensor.__radd__
    __hash__ = object.__hash__  # == is elementwise, so hash by identity

    def __init__(self, data, dtype=None, device=None, requires_grad=False):
        dev = get_device(device if device is not None else (data.device if isinstance(data, Tensor) else None))
        self.array = _as_array(data, dtype, dev)
        self.device = dev
        self._requires_grad = False
        self.grad = None
        self.grad_fn = None
        self._version = [0]
        self._hooks = None
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _make(data, device, requires_grad=False, grad_fn=None, version=None):
        """Fast internal constructor: wrap an array already on ``device`` (no checks, no copy)."""
        t = Tensor.__new__(Tensor)
        t.array = data
        t.device = device
        t._requires_grad = requires_grad
        t.grad = None
        t.grad_fn = grad_fn
        t._version = [0] if version is None else version
        t._hooks = None
        return t

    # --- basic properties --------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.array.shape

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def dtype(self):
        """The data type, e.g. ``tinynet.float32`` (equal to NumPy's: ``x.dtype == np.float32``)."""
        return _dt.wrap(self.array.dtype)

    @property
    def data(self):
        """This tensor's values as a new Tensor that shares storage but has no history.

        PyTorch's meaning: ``p.data.add_(u)`` changes ``p`` in place without autograd seeing it
        (and without bumping the version counter that guards saved values, unlike
        :meth:`detach`). The raw NumPy/CuPy array is :attr:`array`.
        """
        return Tensor._make(self.array, self.device, False, None, None)

    @data.setter
    def data(self, value):
        """``p.data = t`` swaps in ``t``'s array (same device), keeping ``p``'s autograd state."""
        if not isinstance(value, Tensor):
            raise TypeError(f"data: expected a Tensor to assign, got {type(value).__name__}")
        if value.device is not self.device:
            raise DeviceError(f"data: the new value is on {value.device.type} but the tensor is on "
                              f"{self.device.type}; move it first with `.to('{self.device.type}')`")
        self.array = value.array

    @property
    def T(self):
        """The tensor with its axes reversed (``x.permute(reversed axes)``)."""
        return self.permute(*reversed(range(self.ndim)))

    @property
    def H(self):
        """Conjugate transpose of a matrix (real tensors: the transpose)."""
        if self.ndim not in (0, 2):
            raise ShapeError(f"H: expected a 0-d or 2-d tensor, got {self.ndim}-d; use .mT for batches of matrices")
        return self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self):
        """Matrix transpose of the last two axes."""
        return self.swapaxes(-1, -2)

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded op (their gradients go to ``.grad``)."""
        return self.grad_fn is None

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool):
        self.requires_grad_(flag)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def itemsize(self) -> int:
        return self.array.itemsize

    @property
    def nbytes(self) -> int:
        return self.array.nbytes

    def size(self, dim=None):
        """The shape (like ``torch.Tensor.size()``), or the length of axis ``dim``."""
        return self.array.shape if dim is None else self.array.shape[dim]

    def numel(self) -> int:
        """Number of elements."""
        return int(self.array.size)

    nelement = numel

    def element_size(self) -> int:
        """Bytes per element (``itemsize``)."""
        return self.array.itemsize

    def ndimension(self) -> int:
        return self.array.ndim

    def stride(self, dim=None):
        """Steps between neighbouring elements along each axis, in elements (PyTorch's unit,
        not NumPy's bytes)."""
        steps = tuple(st // self.array.itemsize for st in self.array.strides)
        return steps if dim is None else steps[dim]

    def is_contiguous(self, memory_format=None) -> bool:
        """True when the elements are laid out in row-major (C) order without gaps."""
        return bool(self.array.flags.c_contiguous)

    def is_floating_point(self) -> bool:
        return self.array.dtype.kind == "f"

    def is_complex(self) -> bool:
        return self.array.dtype.kind == "c"

    def data_ptr(self) -> int:
        """Address of the first element (host memory on cpu, device memory on cuda)."""
        arr = self.array
        return int(arr.ctypes.data) if hasattr(arr, "ctypes") else int(arr.data.ptr)

    def get_device(self) -> int:
        """PyTorch's ordinal: -1 for a cpu tensor, the GPU index for a cuda one."""
        return -1 if self.device.type == "cpu" else int(self.device.index or 0)

    def equal(self, other) -> bool:
        """True when ``other`` has the same shape and the same values (``torch.equal``)."""
        if not isinstance(other, Tensor):
            raise TypeError(f"equal(): expected a Tensor, got {type(other).__name__}")
        if other.device is not self.device:
            raise DeviceError(f"equal(): tensors are on {self.device.type} and {other.device.type}")
        return self.array.shape == other.array.shape and bool((self.array == other.array).all())

    def pin_memory(self, device=None):
        """Page-locked host memory speeds up host-to-GPU copies; tinynet pins inside
        ``DataLoader(pin_memory=True, device="cuda")`` when it copies a batch, so here the tensor
        is returned as it is (a cuda tensor is refused, as in PyTorch)."""
        if self.device.type != "cpu":
            raise RuntimeError("pin_memory(): only cpu tensors can be pinned")
        return self

    def apply_(self, fn):
        """Replace each element ``v`` by ``fn(v)`` (a Python function; cpu only, slow, no autograd)."""
        self._check_inplace("apply_")
        if self.device.type != "cpu":
            raise RuntimeError("apply_(): only works on cpu tensors (it calls a Python function per element)")
        flat = self.array.reshape(-1)
        for i in range(flat.size):
            flat[i] = fn(flat[i].item())
        if not _np.shares_memory(flat, self.array):
            self.array[...] = flat.reshape(self.array.shape)
        return self._bump()

    def dim(self) -> int:
        return self.array.ndim

    def __len__(self):
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def __iter__(self):
        if self.array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.array.shape[0]))

    # --- conversion ----------------------------------------------------------------
    def numpy(self):
        """The data as a NumPy array (shares memory on cpu; copies from a GPU).

        Raises for a tensor that requires grad, as PyTorch does; call ``.detach()`` first.
        """
        if self._requires_grad and STATE.enabled:
            raise RuntimeError(
                "numpy(): can't call numpy() on a tensor that requires grad; "
                "use tensor.detach().numpy()"
            )
        return self.device.to_host(self.array)

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.array.size != 1:
            raise ShapeError(f"item(): only one-element tensors can be converted to a Python number; this one has shape {tuple(self.shape)}")
        return self.device.to_host(self.array).reshape(()).item()

    def tolist(self):
        return self.device.to_host(self.array).tolist()

    def __array__(self, dtype=None, copy=None):
        if self.device.xp.__name__ != "numpy":
            raise TypeError("can't convert a cuda tensor to NumPy implicitly; use .cpu().numpy() or .numpy()")
        return self.array if dtype is None else self.array.astype(dtype)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.dtype.kind not in "iu" or self.array.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())

    def __bool__(self):
        if self.array.size != 1:
            raise ShapeError(
                f"the truth value of a tensor with {self.array.size} elements is ambiguous; use .any() or .all()"
            )
        return bool(self.item())

    def __dlpack__(self, *args, **kwargs):
        """Export through DLPack (zero copy): ``np.from_dlpack(t)``, ``torch.from_dlpack(t)``."""
        return self.detach().array.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self.array.__dlpack_device__()

    def detach(self):
        """A tensor sharing this one's data (and version counter), cut from the graph."""
        return Tensor._make(self.array, self.device, False, None, self._version)

    def detach_(self):
        """Cut this tensor from the graph in place: it becomes a leaf that doesn't require grad."""
        self.grad_fn = None
        self._requires_grad = False
        return self

    def __reduce__(self):
        """Pickling (DataLoader workers send batches this way; ``copy.copy``): the values,
        device type and ``requires_grad`` of a tensor that is not part of a graph."""
        if self.grad_fn is not None:
            raise RuntimeError("can't pickle a tensor that is part of a graph (it has a grad_fn); "
                               "pickle `t.detach()` instead")
        return (_rebuild, (self.device.to_host(self.array), self.device.type, self._requires_grad))

    def __deepcopy__(self, memo):
        """``copy.deepcopy``: new data (and grad), the same Device (devices are singletons)."""
        if self.grad_fn is not None:
            raise RuntimeError("deepcopy: only leaf tensors can be deep-copied; call .detach() first")
        t = Tensor._make(self.array.copy(), self.device, self._requires_grad, None, None)
        memo[id(self)] = t
        if self.grad is not None:
            t.grad = self.grad.__deepcopy__(memo)
        return t

    def requires_grad_(self, requires_grad: bool = True):
        """Set ``requires_grad`` in place; only floating tensors can require gradients."""
        if requires_grad and self.array.dtype.kind != "f":
            raise RuntimeError(
                f"only floating-point tensors can require gradients, but this tensor is {self.dtype}; "
                "convert it first, e.g. `x.to(tn.float32).requires_grad_()`"
            )
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError("requires_grad_(False) is only allowed on leaf tensors; use .detach()")
        self._requires_grad = bool(requires_grad)
        return self

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf tensor after ``backward`` (leaves always keep it)."""
        if self.grad_fn is not None:
            self.grad_fn._retained = weakref.ref(self)
        elif not self._requires_grad:
            raise RuntimeError("retain_grad(): can't retain the grad of a tensor that does not require grad")
        return self

    def register_hook(self, hook):
        """Call ``hook(grad)`` with this tensor's gradient during backward; if it returns a
        Tensor, that replaces the gradient (for everything upstream, and for ``.grad`` of a
        leaf). A leaf's hooks see the gradient summed over all its uses, once. Returns a
        handle whose ``remove()`` unregisters the hook.
        """
        if not self._requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that doesn't require "
                               "gradient; call `x.requires_grad_()` first (or hook a tensor computed from one)")
        owner = self.grad_fn if self.grad_fn is not None else self
        if owner._hooks is None:
            owner._hooks = {}
        return add_hook(owner._hooks, hook)

    # --- autograd -----------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) * gradient into every leaf's ``.grad``.

        ``inputs`` (PyTorch's): accumulate only into these tensors' ``.grad`` (leaves or not).

        ``gradient`` may be omitted only for a one-element tensor (it is then 1). The
        graph is freed afterwards unless ``retain_graph`` (which defaults to
        ``create_graph``); ``create_graph=True`` records the backward itself, so the
        gradients can be differentiated again.
        """
        if not self._requires_grad:
            raise RuntimeError(
                "backward(): this tensor does not require grad and has no grad_fn. Make an input "
                "require gradients (`tn.tensor(..., requires_grad=True)` or `x.requires_grad_()`), "
                "and do not call backward on results computed under tn.no_grad()."
            )
        if gradient is None:
            if self.array.size != 1:
                raise RuntimeError(
                    f"backward(): grad can be created implicitly only for a one-element output, but "
                    f"this tensor has shape {tuple(self.shape)}. Reduce it first (e.g. `loss.sum()` or "
                    "`loss.mean()`) or pass `gradient=` of the same shape."
                )
            gradient = Tensor._make(self.device.xp.ones_like(self.array), self.device)
        else:
            if not isinstance(gradient, Tensor):
                gradient = Tensor(gradient, dtype=self.dtype, device=self.device)
            if tuple(gradient.shape) != tuple(self.shape):
                raise ShapeError(
                    f"backward(): gradient has shape {tuple(gradient.shape)} but the tensor has shape "
                    f"{tuple(self.shape)}; they must match"
                )
            if gradient.device is not self.device:
                raise DeviceError(f"backward(): gradient is on {gradient.device.type} but the tensor is on {self.device.type}")
        if retain_graph is None:
            retain_graph = create_graph
        if inputs is not None:
            _autograd_backward([self], [gradient], retain_graph=retain_graph, create_graph=create_graph,
                               inputs=inputs)
        else:
            run_backward([self], [gradient], retain_graph=retain_graph, create_graph=create_graph)

    # --- in-place updates (no autograd) ---------------------------------------------
    # (the arithmetic in-place ops, add_/sub_/mul_/div_/clamp_/... and the augmented
    # assignments +=, -=, *=, /=, are bound by tinynet/functional/methods.py through
    # tinynet.functional.inplace, which also records them in the graph)
    def _check_inplace(self, op: str):
        if self._requires_grad and STATE.enabled:
            kind = "a leaf tensor that requires grad" if self.grad_fn is None else "a tensor that is part of the graph"
            raise RuntimeError(
                f"{op}: in-place change of {kind} would corrupt the gradient. Wrap parameter updates in "
                "`with tn.no_grad():`, or use the out-of-place op."
            )

    def _bump(self):
        self._version[0] += 1
        return self

    def _operand(self, other):
        if isinstance(other, Tensor):
            if other.device is not self.device:
                raise RuntimeError(
                    f"in-place op: the operand is on {other.device.type} but the tensor is on "
                    f"{self.device.type}; move it with `.to('{self.device.type}')`"
                )
            return other.array
        return other

    def zero_(self):
        self._check_inplace("zero_")
        self.array.fill(0)
        return self._bump()

    def fill_(self, value):
        self._check_inplace("fill_")
        self.array.fill(value.item() if isinstance(value, Tensor) else value)
        return self._bump()

    def copy_(self, src):
        """Copy ``src`` (broadcast) into this tensor, across devices if needed."""
        self._check_inplace("copy_")
        if isinstance(src, Tensor):
            arr = src.array if src.device is self.device else self.device.from_host(src.device.to_host(src.array))
        else:
            arr = self.device.xp.asarray(src)
        try:
            self.array[...] = arr
        except ValueError:
            raise ShapeError(f"copy_: can't copy a source of shape {tuple(arr.shape)} into shape {tuple(self.shape)}") from None
        return self._bump()

    # --- display ---------------------------------------------------------------------
    def __format__(self, spec):
        """``f"{loss:.4f}"``: a 0-d tensor formats as its Python number (as in PyTorch)."""
        if self.array.ndim == 0:
            return format(self.item(), spec)
        if spec:
            raise TypeError(f"unsupported format string {spec!r} for a tensor of shape {tuple(self.shape)}: "
                            "only 0-d tensors format as numbers; use `x.item()` or `x.tolist()`")
        return str(self)

    def __repr__(self):
        host = self.device.to_host(self.array)
        body = _np.array2string(host, separator=", ", prefix="tensor(", precision=4,
                                threshold=200, edgeitems=3)
        extras = []
        if self.device.type != "cpu":
            extras.append(f"device='{self.device.type}'")
        if self.dtype not in (_dt.float32, _dt.int64, _dt.bool_) or self.array.size == 0:
            extras.append(f"dtype=tn.{self.dtype.name}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{type(self.grad_fn).__name__}>")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"


def _rebuild(host_array, device_type, requires_grad):
    """Inverse of :meth:`Tensor.__reduce__`."""
    dev = get_device(device_type)
    arr = dev.from_host(host_array) if dev.xp is not _np else host_array
    return Tensor._make(arr, dev, bool(requires_grad))
