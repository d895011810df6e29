"""Op: one differentiable op, a node of the graph.

The design is Chainer's FunctionNode:

* ``forward(*arrays)`` computes on raw arrays of the device's array module (``self.xp``)
  and may keep whatever arrays its backward needs as attributes (explicit saved values);
* ``backward(grad_output)`` receives the output's gradient as a *Tensor* and returns one
  gradient Tensor (or None) per input, written with tinynet ops. Because the backward is
  itself made of differentiable ops, running it with graph recording on
  (``create_graph=True``) yields gradients of gradients for free;
* ``backward_array(grad_array)`` (optional) is the same derivative on raw arrays, often a
  fused kernel: the engine's fast path for a plain ``backward()``. An op has exactly one
  formula of each form, and the two give the same values, dtype and shape. An op whose
  only backward is a fused kernel defines ``backward_array`` alone; then ``backward``
  (this base class's) raises a clear error under ``create_graph=True``;
* non-tensor arguments (axis, stride, padding, ...) live on the instance, passed to
  ``apply`` as keywords.

An Op produces exactly one output tensor. Calling ``Op.apply(a, b, axis=1)``
checks devices, runs ``forward`` and, when any input requires grad and recording is on,
links the output to this node (``out.grad_fn``) and remembers the inputs' version
counters so an in-place change behind the graph's back is caught at backward time.
"""
from __future__ import annotations

from numpy import generic as _NumPyScalar  # (a type check, not math)

from ..backend.errors import DeviceError
from .grad_mode import STATE


#: The active tracer of an exporter (tinynet.onnx), or None: set only by autograd/tracing.py.
#: A module global, so the per-op check in ``Op.apply`` is one global load and compare.
_TRACER = None


class GraphFreedError(RuntimeError):
    """Raised by a second backward through a graph that was already freed."""


def _device_error(op: str, inputs) -> DeviceError:
    desc = ", ".join(f"{tuple(t.shape)} {t.dtype} on {t.device.type}" for t in inputs)
    devices = sorted({t.device.type for t in inputs})
    return DeviceError(
        f"{op}: expected all tensors on one device, but got tensors on {' and '.join(devices)} "
        f"({desc}). Move them first, e.g. `x.to('{devices[0]}')`."
    )


class Op:
    """Base class of every differentiable op (see the module docstring)."""

    #: True for ops whose output may share memory with input 0 (reshape, transpose, ...):
    #: the output then shares the input's version counter, so writing through either is seen.
    is_view = False
    #: False for ops whose backward reads no input or output *values* (only shapes, axes):
    #: nothing saved can go stale, so ``apply`` skips the in-place version bookkeeping
    #: (PyTorch likewise lets you modify the inputs of ``a + b`` before backward).
    saves_values = True
    #: False for ops whose backward never reads their output (``self.out`` / ``self.output()``):
    #: then only the inputs are watched, so changing the output in place afterwards (e.g.
    #: ``relu(linear(x), inplace=True)``) is allowed, as in PyTorch.
    saves_output = True
    #: Optional fast path: the same gradient formula as ``backward``, on raw arrays
    #: (``backward_array(grad_array)`` returns one array or None per input, with the same
    #: values, dtype and shape as ``backward``). The engine uses it when no graph of the
    #: backward is recorded (``create_graph=False``).
    backward_array = None
    #: Set on instances by ``Tensor.retain_grad`` (a weak reference to the output).
    _retained = None
    #: Set on instances by ``Tensor.register_hook`` on the output: ``{id: hook}``.
    _hooks = None
    #: Version counters watched by ``check_versions`` (None: nothing to watch).
    _counters = None

    # --- running the op ------------------------------------------------------------
    @classmethod
    def apply(cls, *inputs, **params):
        """Run the op on Tensors; record the graph when needed; return the output Tensor."""
        if _TRACER is not None:  # an exporter is tracing (tinynet.onnx); see autograd/tracing.py
            return _TRACER.trace_op(cls, inputs, params)
        first = inputs[0]
        device = first.device
        fn = cls.__new__(cls)
        if params:
            fn.__dict__.update(params)
        fn.device = device
        if len(inputs) == 1:  # unary and binary ops skip the generic loops (per-op overhead)
            out = fn.forward(first.array)
        elif len(inputs) == 2:
            second = inputs[1]
            if second.device is not device:
                raise _device_error(cls.op_name(), inputs)
            out = fn.forward(first.array, second.array)
        else:
            for t in inputs:
                if t.device is not device:
                    raise _device_error(cls.op_name(), inputs)
            out = fn.forward(*[t.array for t in inputs])
        if isinstance(out, _NumPyScalar):  # NumPy reductions give scalars: keep tensors on arrays
            out = device.xp.asarray(out)
        make = first._make
        if STATE.enabled:
            for t in inputs:
                if t._requires_grad:
                    break
            else:
                return make(out, device, False, None, inputs[0]._version if cls.is_view else None)
            fn.inputs = inputs
            fn.out = out
            result = make(out, device, True, fn, inputs[0]._version if cls.is_view else None)
            if cls.saves_values:
                counters = [t._version for t in inputs]
                if cls.saves_output:
                    counters.append(result._version)
                fn._counters = counters
                fn._versions = [c[0] for c in counters]
            return result
        return make(out, device, False, None, inputs[0]._version if cls.is_view else None)

    def forward(self, *arrays):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must define forward(*arrays)")

    def backward(self, grad):
        """The Tensor formula. Not defined by an op whose backward is only a fused kernel."""
        if self.backward_array is not None:
            raise RuntimeError(
                f"{self.op_name()}: its backward is a fused kernel on arrays (backward_array), not made of "
                "differentiable ops, so higher-order gradients (create_graph=True) are not supported through it"
            )
        raise NotImplementedError(f"{type(self).__name__} must define backward(grad)")  # pragma: no cover

    # --- helpers for forward/backward ----------------------------------------------
    @property
    def xp(self):
        """The array module of this op's device (numpy or cupy)."""
        return self.device.xp

    @property
    def kernels(self):
        """The named kernels of this op's device."""
        return self.device.kernels

    def output(self):
        """The op's output as a Tensor that is part of the graph (for backward formulas).

        Rebuilt from the saved output array and linked to this node, so using it in a
        backward that records a graph differentiates through this op again, and no
        reference cycle (output -> node -> output) is created.
        """
        return self.inputs[0]._make(self.out, self.device, True, self, None)

    def constant(self, array):
        """Wrap an array of this device as a Tensor that does not require grad."""
        return self.inputs[0]._make(array, self.device, False, None, None)

    @classmethod
    def op_name(cls) -> str:
        """The op's user-facing name, used in error messages."""
        return getattr(cls, "name", None) or cls.__name__.lower()

    # --- graph bookkeeping ----------------------------------------------------------
    def check_versions(self):
        """Raise if a tensor this node saved was changed in place since the forward."""
        if self._counters is None:
            return
        for idx, (counter, seen) in enumerate(zip(self._counters, self._versions)):
            if counter[0] != seen:
                what = "its output" if idx == len(self.inputs) else f"input {idx}"
                raise RuntimeError(
                    f"{self.op_name()}: {what} was modified in place after the forward pass "
                    f"(version {seen} -> {counter[0]}), so the saved values its backward needs "
                    "are gone. Clone the tensor before changing it (`x = x.clone()`), or change "
                    "it out of place."
                )

    def release(self):
        """Free saved arrays and inputs (called after backward unless retain_graph)."""
        self.__dict__.clear()
        self.freed = True

    freed = False
