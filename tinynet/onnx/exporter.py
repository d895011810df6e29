"""``tinynet.onnx.export``: PyTorch's ``torch.onnx.export`` signature, by tracing.

How it works:

1. The model is put in eval mode (dropout off, batch norm on running statistics) and run
   once on the example ``args`` with a tracer in the autograd hook slot (``tracer.py``):
   every op becomes a node, parameters and buffers become initializers named as in
   ``state_dict``, the ``args`` become graph inputs and any other tensor a constant.
2. It is run a second time on altered inputs: rows rolled along axis 0 (so a value computed
   from the inputs' raw arrays shows up as a constant that changed) and, for each axis named
   in ``dynamic_axes``, one more entry (so every batch-dependent size shows up as a
   dimension that changed). The two traces are matched op by op. Sizes that follow the batch
   are written with ``-1`` or read from the inputs' shapes at run time (``builder.py``); a
   value the graph could not reproduce stops the export with an error instead of being
   baked in.
3. Each node is mapped by the op table (``ops.py``) or a composite emitter (``modules.py``),
   the ONNX model is checked and written to ``f``. The model's previous mode is restored.
"""
from __future__ import annotations

import os

import numpy as np

try:
    import onnx
    from onnx import helper
except ImportError:  # the optional extra: pip install tinynet[onnx]
    onnx = helper = None

from ..nn.module import Module
from ..tensor.tensor import Tensor
from .errors import OnnxExporterError

if onnx is not None:
    from . import modules as _modules
    from . import ops as _ops
    from .builder import GraphBuilder, host_array
    from .tracer import trace

MIN_OPSET, MAX_OPSET = 17, 21  # LayerNormalization needs 17; 21 is the newest this exporter writes


def is_available() -> bool:
    """True when the ``onnx`` package is installed (``pip install tinynet[onnx]``)."""
    return onnx is not None


def _need_onnx():
    if onnx is None:
        raise ImportError("tinynet.onnx.export needs the onnx package: pip install tinynet[onnx] (or pip install onnx)")


def supported_ops() -> list[str]:
    """Names of the tinynet ops with an ONNX mapping (plus the layers exported whole)."""
    _need_onnx()
    return _ops.supported_ops() + sorted(c.__name__ for c in _modules.COMPOSITES)


# --- argument checks ----------------------------------------------------------------------
def _as_args(args):
    if isinstance(args, Tensor):
        return (args,)
    if isinstance(args, (tuple, list)) and args and all(isinstance(a, Tensor) for a in args):
        return tuple(args)
    got = type(args).__name__ if not isinstance(args, (tuple, list)) else \
        f"{type(args).__name__} of ({', '.join(type(a).__name__ for a in args)})"
    raise TypeError(f"tinynet.onnx.export: args must be a Tensor or a non-empty tuple of Tensors (the example "
                    f"inputs of model(*args)), got {got}")


def _names(names, count, default, what):
    if names is None:
        return [default] if count == 1 else [f"{default}_{i}" for i in range(count)]
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) and n for n in names):
        raise TypeError(f"tinynet.onnx.export: {what} must be a list of non-empty strings, got {names!r}")
    if len(names) != count or len(set(names)) != len(names):
        raise ValueError(f"tinynet.onnx.export: {what} has {len(names)} names {list(names)} but the model has "
                         f"{count} {what.split('_')[0]}s; give one distinct name each")
    return list(names)


def _dynamic_axes(dynamic_axes, ranks: dict):
    """Normalise ``{name: [axes]}`` / ``{name: {axis: label}}`` to ``{name: {axis: label}}``."""
    if dynamic_axes is None:
        return {}
    if not isinstance(dynamic_axes, dict):
        raise TypeError(f"tinynet.onnx.export: dynamic_axes must be a dict {{name: [axes]}} or "
                        f"{{name: {{axis: label}}}}, got {type(dynamic_axes).__name__}")
    out = {}
    for name, axes in dynamic_axes.items():
        if name not in ranks:
            raise ValueError(f"tinynet.onnx.export: dynamic_axes names {name!r}, which is not an input or output "
                             f"name; the names are {sorted(ranks)}")
        if isinstance(axes, dict):
            pairs = list(axes.items())
        elif isinstance(axes, (list, tuple)):
            pairs = [(a, f"{name}_dynamic_axes_{i + 1}") for i, a in enumerate(axes)]
        else:
            raise TypeError(f"tinynet.onnx.export: dynamic_axes[{name!r}] must be a list of axes or a dict "
                            f"{{axis: label}}, got {type(axes).__name__}")
        norm = {}
        for a, label in pairs:
            if not isinstance(a, int) or isinstance(a, bool) or not -ranks[name] <= a < ranks[name]:
                raise ValueError(f"tinynet.onnx.export: dynamic_axes[{name!r}] has axis {a!r}, but {name!r} has "
                                 f"{ranks[name]} axes")
            norm[a % ranks[name]] = str(label)
        out[name] = norm
    return out


# --- the second trace ---------------------------------------------------------------------
def _altered(t, axes):
    """``t`` with rows rolled along axis 0 and one more entry along each axis of ``axes``."""
    host = t.device.to_host(t.array)
    if host.ndim:
        n = host.shape[0]
        host = np.take(host, (np.arange(n) + 1) % n, axis=0)
    for a in sorted(axes):
        n = host.shape[a]
        host = np.take(host, np.concatenate([np.arange(n), [0]]), axis=a)
    return Tensor._make(t.device.from_host(np.ascontiguousarray(host)), t.device)


def _same(a, b) -> bool:
    if hasattr(a, "shape") and hasattr(a, "dtype") and not isinstance(a, Tensor):
        if not (hasattr(b, "shape") and tuple(a.shape) == tuple(b.shape)):
            return False
        a, b = host_array(a), host_array(b)
        return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, (tuple, list)):
        return isinstance(b, (tuple, list)) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - an object without a clear ==: treat as different
        return a is b


def _mismatch(why):
    return OnnxExporterError(
        f"tinynet.onnx.export: the forward pass ran differently with another batch of inputs ({why}); the "
        "exporter traces one run, so the model's ops must not depend on the input values (no Python "
        "control flow on tensor values)"
    )


def _link(va, vb, where):
    if va.twin is None:
        if va.kind != vb.kind or len(va.shape) != len(vb.shape):
            raise _mismatch(f"a {va.kind} value became a {vb.kind} value at {where}")
        va.twin = vb
    elif va.twin is not vb:
        raise _mismatch(f"values used at {where} differ")


def _pair(ta, outs_a, tb, outs_b):
    """Match trace B to trace A op by op; set ``twin`` on nodes and values."""
    if len(ta.nodes) != len(tb.nodes):
        raise _mismatch(f"{len(ta.nodes)} ops vs {len(tb.nodes)}")
    first_use = {}
    for na, nb in zip(ta.nodes, tb.nodes):
        if na.kind != nb.kind or na.tensor_params.keys() != nb.tensor_params.keys():
            raise _mismatch(f"op '{na.name}' at {na.where} vs '{nb.name}'")
        na.twin = nb
        for va, vb in zip(na.inputs, nb.inputs):
            _link(va, vb, na.where)
            first_use.setdefault(id(va), na)
        for k in na.tensor_params:
            _link(na.tensor_params[k], nb.tensor_params[k], na.where)
            first_use.setdefault(id(na.tensor_params[k]), na)
        _link(na.output, nb.output, na.where)
    if len(outs_a) != len(outs_b):
        raise _mismatch(f"{len(outs_a)} outputs vs {len(outs_b)}")
    for va, vb in zip(outs_a, outs_b):
        _link(va, vb, "the model's outputs")
    return first_use


#: Ops whose params may follow the batch (their emitters build the shape from the inputs).
_DYNAMIC_PARAMS = {"reshape": {"shape"}, "expand": {"shape"}}
#: Params that are not inputs but lists an op fills (attention probabilities for callers).
_OUTPUT_CHANNELS = {"sink"}


def _check_params(nodes):
    for node in nodes:
        twin = node.twin
        allowed = _DYNAMIC_PARAMS.get(node.name, set()) if node.module is None else set()
        for k, v in node.params.items():
            if k in allowed or k in _OUTPUT_CHANNELS or _same(v, twin.params.get(k)):
                continue
            raise OnnxExporterError(
                f"tinynet.onnx.export: op '{node.name}' (called from {node.where}) has an argument {k!r} that "
                f"changes with the inputs ({_short(v)} vs {_short(twin.params.get(k))}): it was computed from the "
                "inputs' values or batch size outside tinynet's ops (raw arrays, Python numbers), so the graph "
                "would bake in the example's value. Compute it with tensor ops, or export without dynamic_axes "
                "if only the batch size matters"
            )


def _short(v):
    if hasattr(v, "shape") and hasattr(v, "dtype"):
        return f"array{tuple(v.shape)} {v.dtype}"
    s = repr(v)
    return s if len(s) < 60 else s[:57] + "..."


def _uniform(arr):
    flat = np.asarray(arr).ravel()
    return flat.size > 0 and bool(np.all(flat == flat[0]))


def _check_const(v, first_use):
    """A constant that changed between the traces: a fill (zeros of the batch size) is fine."""
    b = v.twin
    if b is None or (v.shape == b.shape and _same(v.array, b.array)):
        return False
    if _uniform(v.array) and _uniform(b.array) and _same(v.array.ravel()[:1], b.array.ravel()[:1]):
        return True  # a batch-sized fill: ConstantOfShape
    node = first_use.get(id(v))
    where = f"op '{node.name}' called from {node.where}" if node is not None else "the model's outputs"
    raise OnnxExporterError(
        f"tinynet.onnx.export: a tensor made outside tinynet's ops (used by {where}) changes with the inputs "
        f"(shape {v.shape} vs {b.shape}): it was computed from raw arrays (e.g. `ids.array == 0` or "
        "`Tensor._make(xp...)`), so the graph would bake in the example's values. Compute it with tensor ops "
        "(e.g. `ids == 0`) so the exporter can trace it"
        + ("; a tensor sized from a non-batch dynamic axis (e.g. `tn.arange(seq_len)`) cannot follow it: keep "
           "that axis out of dynamic_axes" if v.shape != b.shape else "")
    )


# --- the export ---------------------------------------------------------------------------
def export(model, args, f, input_names=None, output_names=None, dynamic_axes=None, opset_version: int = 17,
           do_constant_folding: bool = True, export_params: bool = True, verbose: bool = False):
    """Export ``model`` to ONNX by tracing ``model(*args)`` (``torch.onnx.export``'s signature).

    Args:
        model: an ``nn.Module``; exported in eval mode, its previous mode restored after.
        args: the example input: a Tensor, or a tuple of Tensors for ``model(*args)``.
        f: a path (str or ``os.PathLike``) or a binary file object to write the model to.
        input_names / output_names: graph names (default ``input``/``output``, or
            ``input_0, input_1, ...`` when there are several).
        dynamic_axes: ``{name: [axes]}`` or ``{name: {axis: label}}``: axes left symbolic,
            e.g. ``{"input": {0: "batch"}, "output": {0: "batch"}}``; the example's batch size
            is then not baked in anywhere. Without it every shape is fixed.
        opset_version: 17 to 21.
        do_constant_folding: evaluate ops whose inputs are all constants at export time.
        export_params: must be True (parameters are always stored in the file).
        verbose: print the graph (``onnx.helper.printable_graph``).

    Returns the ``onnx.ModelProto`` (PyTorch returns None; the file is the same).
    Raises ``UnsupportedOperatorError`` naming an op without an ONNX mapping and
    ``OnnxExporterError`` when a traced value cannot be expressed in the graph.
    """
    _need_onnx()
    if not isinstance(model, Module):
        raise TypeError(f"tinynet.onnx.export: model must be a tinynet nn.Module, got {type(model).__name__}")
    args = _as_args(args)
    if not (isinstance(f, (str, os.PathLike)) or hasattr(f, "write")):
        raise TypeError(f"tinynet.onnx.export: f must be a file path or a binary file object, got {type(f).__name__}")
    if isinstance(opset_version, bool) or not isinstance(opset_version, int) or \
            not MIN_OPSET <= opset_version <= MAX_OPSET:
        raise ValueError(f"tinynet.onnx.export: opset_version must be an int from {MIN_OPSET} to {MAX_OPSET} "
                         f"(LayerNormalization needs 17), got {opset_version!r}")
    if not export_params:
        raise ValueError("tinynet.onnx.export: export_params=False is not supported; parameters are always stored")
    in_names = _names(input_names, len(args), "input", "input_names")

    modes = [(m, m.training) for m in model.modules()]  # restored exactly, submodule by submodule
    model.eval()
    try:
        ta, outs_a = trace(model, args, _modules.COMPOSITES)
        out_names = _names(output_names, len(outs_a), "output", "output_names")
        ranks = {n: t.ndim for n, t in zip(in_names, args)}
        ranks.update({n: len(v.shape) for n, v in zip(out_names, outs_a)})
        dyn = _dynamic_axes(dynamic_axes, ranks)
        args_b = tuple(_altered(t, dyn.get(n, {})) for n, t in zip(in_names, args))
        tb, outs_b = trace(model, args_b, _modules.COMPOSITES)
    finally:
        for m, training in modes:
            m.training = training
    first_use = _pair(ta, outs_a, tb, outs_b)
    _check_params(ta.nodes)
    proto = _build(ta, outs_a, in_names, out_names, dyn, opset_version, do_constant_folding, first_use)
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    if hasattr(f, "write"):
        f.write(data)
    else:
        with open(f, "wb") as fh:
            fh.write(data)
    if verbose:
        print(helper.printable_graph(proto.graph))
    return proto


def _build(ta, outs, in_names, out_names, dyn, opset, fold, first_use):
    g = GraphBuilder(opset)
    labels = {}  # (size in trace A, size in trace B) of a dynamic input axis -> its label
    graph_inputs = []
    for v, name in zip(ta.inputs, in_names):
        v.name = g.reserve(name)
        axes = dyn.get(name, {})
        dims = []
        for a, size in enumerate(v.shape):
            if a in axes:
                dims.append(axes[a])
                g.add_symbol(name, a, size, v.twin.shape[a])
                labels[(size, v.twin.shape[a])] = axes[a]
            else:
                dims.append(int(size))
        graph_inputs.append(helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(v.dtype), dims))
    for name in out_names:
        g.reserve(name)
    fills = set()
    for c in ta.consts:
        if _check_const(c, first_use):
            fills.add(id(c))

    def name_of(v):
        if v.name is not None:
            return v.name
        if v.dropped:
            raise OnnxExporterError(f"tinynet.onnx.export: a value of shape {v.shape} is used, but {v.dropped}; "
                                    "the graph has no such value")
        if v.kind == "param":
            v.name = g.named_initializer(v.param_name, v.array)
        elif v.kind == "const" and id(v) in fills:
            shape = g.shape(v.shape, v.twin.shape, "a constant filled to the batch size", allow_minus_one=False)
            value = onnx.numpy_helper.from_array(v.array.ravel()[:1].copy())
            v.name = g.op("ConstantOfShape", [shape], hint="fill", value=value)
        elif v.kind == "const":
            v.name = g.const(v.array, "const")
        else:
            raise OnnxExporterError(f"tinynet.onnx.export: internal error: value of shape {v.shape} used before "
                                    "the op that makes it")
        return v.name

    for node in ta.nodes:
        if fold and _foldable(node, fills):
            node.output.kind = "const"
            continue
        if node.module is not None:
            node.output.name = _modules.emit(g, node, name_of)
        else:
            node.output.name = _ops.emit(g, node, name_of)

    graph_outputs = []
    for v, name in zip(outs, out_names):
        g.nodes.append(helper.make_node("Identity", [name_of(v)], [name], name=g.fresh("n.output")))
        axes = dyn.get(name, {})
        dims = []
        for a, size in enumerate(v.shape):
            other = v.twin.shape[a] if v.twin is not None else size
            if a in axes:
                dims.append(axes[a])
            elif other != size:
                dims.append(labels.get((size, other), f"{name}_dim{a}"))
            else:
                dims.append(int(size))
        graph_outputs.append(helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(v.dtype), dims))
    return g.model(graph_inputs, graph_outputs)


def _foldable(node, fills) -> bool:
    """Constant folding: an op (not a whole layer) whose inputs are all fixed constants and
    whose output did not change between the traces is replaced by its traced value."""
    if node.module is not None:
        return False
    values = list(node.inputs) + list(node.tensor_params.values())
    if not values or any(v.kind != "const" or id(v) in fills for v in values):
        return False
    out = node.output
    if out.array is None:
        return False
    return out.twin is None or (out.shape == out.twin.shape and _same(out.array, out.twin.array))
