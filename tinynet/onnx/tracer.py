"""Tracing a forward pass: which ops ran, on which tensors, with which non-tensor arguments.

:func:`trace` runs ``model(*args)`` once with a :class:`Tracer` in the autograd hook slot
(:mod:`tinynet.autograd.tracing`). Every tensor the forward touches becomes a
:class:`Value`:

* ``"input"``: one of the example inputs (a graph input);
* ``"param"``: a parameter or buffer of the model (an initializer named as in ``state_dict``);
* ``"const"``: any other tensor made outside a traced op (``tn.arange(t)``, a zeros state);
  its array is kept and becomes a constant of the graph;
* ``"node"``: the output of a recorded :class:`Node`.

A Node is one op: its class (or, for a non-differentiable op, its name such as "equal"),
its input Values, its non-tensor params, and its output. Ops often receive an index or a
condition as a raw array parameter (``Embedding.apply(weight, ids=ids.array)``); when that
array belongs to a traced tensor it becomes a Value in ``node.tensor_params``.

Some modules are recorded whole ("composites"), because what happens inside them runs on
raw arrays the tracer cannot see (``MultiheadAttention`` turns a bool key-padding mask into
an additive one with ``xp.where``) or because ONNX has a single op for them
(``BatchNormalization``). A forward pre-hook marks where the module's ops start; its
forward hook replaces them by one Node whose ``kind`` is the module (see ``modules.py``).
"""
from __future__ import annotations

import inspect
import os
import sys

from ..autograd import tracing as _tracing
from ..autograd.grad_mode import no_grad
from ..tensor.tensor import Tensor

_SKIP_DIRS = tuple(os.path.join("tinynet", d) + os.sep for d in ("functional", "autograd", "tensor", "onnx")) + (
    os.path.join("tinynet", "nn", "module.py"),)


class Value:
    """One traced tensor (see the module docstring). ``twin`` is the same value in the
    second trace (another batch size), used to find batch-dependent dimensions."""

    __slots__ = ("kind", "shape", "dtype", "array", "param_name", "index", "node", "twin", "name", "dropped")

    #: ``dropped``: None, or why the value is not in the graph (made inside a layer exported whole).

    def __init__(self, kind, tensor, param_name=None, index=None, keep_array=True):
        self.kind = kind
        self.shape = tuple(tensor.shape)
        self.dtype = tensor.array.dtype
        # A host copy of the values: parameters and constants go into the file; an op's
        # output only when constant folding may need it (all its inputs are constants).
        self.array = tensor.device.to_host(tensor.array).copy() if kind != "input" and keep_array else None
        self.param_name = param_name
        self.index = index
        self.node = None
        self.twin = None
        self.name = None
        self.dropped = None

    def dyn_dims(self):
        """Axes whose size differs between the two traces (batch-dependent axes)."""
        if self.twin is None:
            return ()
        return tuple(i for i, (a, b) in enumerate(zip(self.shape, self.twin.shape)) if a != b)


class Node:
    """One recorded op (see the module docstring)."""

    __slots__ = ("kind", "name", "inputs", "params", "tensor_params", "output", "where", "module", "twin")

    def __init__(self, kind, name, inputs, params, tensor_params, output, where, module=None):
        self.kind, self.name, self.inputs, self.params = kind, name, inputs, params
        self.tensor_params, self.output, self.where, self.module = tensor_params, output, where, module
        self.twin = None


def _callsite() -> str:
    """The first frame outside the engine (functional/autograd/tensor/onnx): the layer or
    model line that called the op, for error messages."""
    frame = sys._getframe(2)
    while frame is not None:
        path = frame.f_code.co_filename
        if not any(d in path for d in _SKIP_DIRS):
            return f"{path}:{frame.f_lineno} in {frame.f_code.co_name}"
        frame = frame.f_back
    return "<unknown>"


def _is_array(v) -> bool:
    return hasattr(v, "shape") and hasattr(v, "dtype") and hasattr(v, "__array__") and not isinstance(v, Tensor)


class Tracer:
    """Records the ops of one forward (installed in ``tinynet.autograd.tracing``)."""

    def __init__(self, model, composites):
        self.nodes: list[Node] = []
        self.values: dict[int, Value] = {}      # id(tensor) -> Value
        self.arrays: dict[int, Value] = {}      # id(array)  -> Value (for array params)
        self.keep: list = []                    # keeps traced tensors alive (ids stay unique)
        self.consts: list[Value] = []
        self.inputs: list[Value] = []
        self.params = {}
        for name, p in model.named_parameters():
            self.params.setdefault(id(p), name)
        for name, b in model.named_buffers():
            if b is not None:
                self.params.setdefault(id(b), name)
        self.composites = composites            # {module class: emitter with .accepts()}
        self.stack: list = []                   # open composite calls: (module, start, bound args)

    # --- values -----------------------------------------------------------------------------
    def _register(self, tensor, value):
        self.values[id(tensor)] = value
        self.arrays[id(tensor.array)] = value
        self.keep.append(tensor)
        return value

    def add_input(self, tensor):
        v = self._register(tensor, Value("input", tensor, index=len(self.inputs)))
        self.inputs.append(v)
        return v

    def value_of(self, tensor) -> Value:
        v = self.values.get(id(tensor))
        if v is not None:
            return v
        name = self.params.get(id(tensor))
        if name is not None:
            return self._register(tensor, Value("param", tensor, param_name=name))
        v = self._register(tensor, Value("const", tensor, index=len(self.consts)))
        self.consts.append(v)
        return v

    # --- hook slot callbacks ----------------------------------------------------------------
    def trace_op(self, cls, inputs, params):
        with _tracing.suspended():
            out = cls.apply(*inputs, **params)
        self._record(cls, cls.op_name(), inputs, params, out)
        return out

    def trace_plain(self, name, inputs, params, output):
        self._record(name, name, inputs, params, output)

    def _record(self, kind, name, inputs, params, out):
        ins = [self.value_of(t) for t in inputs]
        plain, tparams = {}, {}
        for k, v in params.items():
            if isinstance(v, Tensor):
                tparams[k] = self.value_of(v)
            elif _is_array(v) and id(v) in self.arrays:
                tparams[k] = self.arrays[id(v)]
            else:
                plain[k] = v
        foldable = all(v.kind == "const" or (v.kind == "node" and v.array is not None)
                       for v in ins + list(tparams.values()))
        outv = Value("node", out, keep_array=foldable)
        node = Node(kind, name, ins, plain, tparams, outv, _callsite())
        outv.node = node
        self.nodes.append(node)
        self._register(out, outv)

    # --- composite modules (forward hooks) --------------------------------------------------
    def pre_hook(self, module, args, kwargs):
        try:
            bound = inspect.signature(module.forward).bind(*args, **kwargs)
            bound.apply_defaults()
            bound = dict(bound.arguments)
        except TypeError:
            bound = None
        self.stack.append((module, len(self.nodes), bound))

    def post_hook(self, module, args, kwargs, output):
        _, start, bound = self.stack.pop()
        emitter = self.composites[type(module)]
        if bound is None or not emitter.accepts(module, bound, output):
            return None  # keep the inner ops as they were traced
        out = output[0] if isinstance(output, tuple) else output
        tensors = {k: v for k, v in bound.items() if isinstance(v, Tensor)}
        label = type(module).__name__
        for node in self.nodes[start:]:
            node.output.dropped = f"it is computed inside {label} (called from {node.where}), which is exported whole"
        del self.nodes[start:]
        ins = {k: self.value_of(t) for k, t in tensors.items()}
        for name, p in list(module.named_parameters()) + list(module.named_buffers()):
            if p is not None:
                ins["@" + name] = self.value_of(p)
        outv = Value("node", out, keep_array=False)
        plain = {k: v for k, v in bound.items() if not isinstance(v, Tensor)}
        node = Node(type(module), type(module).__name__, list(ins.values()), plain, ins, outv, _callsite(),
                    module=module)
        outv.node = node
        self.nodes.append(node)
        self._register(out, outv)
        extras = [t for t in (output[1:] if isinstance(output, tuple) else ()) if isinstance(t, Tensor)]
        for i, t in enumerate(extras, 1):  # e.g. attention weights: only the first output is exported
            v = Value("node", t, keep_array=False)
            v.dropped = (f"it is output {i} of {label}, which is exported whole with its first output only "
                         "(for MultiheadAttention pass need_weights=False)")
            self._register(t, v)
        return None


def _flatten(out, what="output"):
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        flat = []
        for o in out:
            flat += _flatten(o, what)
        return flat
    raise TypeError(f"tinynet.onnx.export: the model's {what} must be Tensors or (nested) tuples of Tensors, "
                    f"got {type(out).__name__}")


def trace(model, args, composites):
    """Run ``model(*args)`` under a Tracer; return ``(tracer, output Values)``.

    The caller has put the model in eval mode. Composite modules get hooks for the run only.
    """
    tracer = Tracer(model, composites)
    for t in args:
        tracer.add_input(t)
    handles = []
    for m in model.modules():
        if type(m) in composites:
            handles.append(m.register_forward_pre_hook(tracer.pre_hook, with_kwargs=True))
            handles.append(m.register_forward_hook(tracer.post_hook, with_kwargs=True))
    _tracing.install(tracer)
    try:
        with no_grad():
            out = model(*args)
    finally:
        _tracing.uninstall()
        for h in handles:
            h.remove()
    outs = []
    for t in _flatten(out):
        v = tracer.value_of(t)
        outs.append(v)
    return tracer, outs
