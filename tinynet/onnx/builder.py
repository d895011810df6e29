"""GraphBuilder: collects ONNX nodes and initializers, hands out unique value names, and
builds shape tensors that keep batch-dependent dimensions dynamic.

A dimension is *dynamic* when its size differs between the two traces of an export (the
example batch and a larger one). Each one is expressed as ``k * (size of a dynamic axis of
a graph input)``, read at run time with ``Shape`` + ``Gather``; e.g. the target of
``x.reshape(N, -1)`` becomes ``Concat(Gather(Shape(input), 0), [-1])``, and a lone dynamic
dimension of a reshape is simply written ``-1``. So nothing in the graph bakes in the
example's batch size.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .errors import OnnxExporterError

INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min


def host_array(arr) -> np.ndarray:
    """A NumPy copy-or-view of a NumPy or CuPy array (CuPy arrays have ``.get()``)."""
    return arr.get() if not isinstance(arr, np.ndarray) and hasattr(arr, "get") else np.asarray(arr)


class GraphBuilder:
    """Accumulates one ONNX graph (see the module docstring)."""

    def __init__(self, opset: int):
        self.opset = opset
        self.nodes = []
        self.initializers = []
        self.taken: set[str] = set()
        self.symbols = []        # (graph input name, axis, size in trace A, size in trace B)
        self._shapes = {}        # graph input name -> its Shape node output
        self._dims = {}          # (input name, axis) -> 1-element int64 tensor of that size
        self._consts = {}        # cache of small int64 constants

    # --- names ------------------------------------------------------------------------------
    def fresh(self, hint: str) -> str:
        """A value name not used yet, derived from ``hint``."""
        base = hint.replace("/", ".") or "v"
        name, i = base, 1
        while name in self.taken:
            name = f"{base}_{i}"
            i += 1
        self.taken.add(name)
        return name

    def reserve(self, name: str) -> str:
        if name in self.taken:
            raise ValueError(f"tinynet.onnx.export: the name {name!r} is used twice in the graph; "
                             "give distinct input_names/output_names (and not the name of a parameter)")
        self.taken.add(name)
        return name

    # --- nodes and constants ----------------------------------------------------------------
    def op(self, op_type: str, inputs, outputs: int = 1, hint: str | None = None, **attrs):
        """Add a node; return its output name (or a list of names when ``outputs > 1``)."""
        outs = [self.fresh(f"{hint or op_type}") for _ in range(outputs)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=self.fresh(f"n.{op_type}"), **attrs))
        return outs[0] if outputs == 1 else outs

    def const(self, array, hint: str = "const") -> str:
        """An initializer holding ``array`` (a NumPy array); returns its name."""
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def named_initializer(self, name: str, array) -> str:
        self.reserve(name)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def ints(self, values) -> str:
        """A cached 1-D int64 constant."""
        key = tuple(int(v) for v in values)
        if key not in self._consts:
            self._consts[key] = self.const(np.array(key, dtype=np.int64), "ints")
        return self._consts[key]

    def scalar(self, value, dtype) -> str:
        """A 0-d constant of ``dtype`` (for arithmetic with a traced value)."""
        return self.const(np.array(value, dtype=dtype), "scalar")

    # --- dynamic dimensions -----------------------------------------------------------------
    def add_symbol(self, input_name: str, axis: int, size_a: int, size_b: int):
        self.symbols.append((input_name, axis, int(size_a), int(size_b)))

    def _input_dim(self, name, axis) -> str:
        key = (name, axis)
        if key not in self._dims:
            if name not in self._shapes:
                self._shapes[name] = self.op("Shape", [name], hint=f"{name}.shape")
            self._dims[key] = self.op("Gather", [self._shapes[name], self.ints([axis])], hint=f"{name}.dim{axis}")
        return self._dims[key]

    def dim(self, a: int, b: int, what: str) -> str:
        """A 1-element int64 tensor for a dimension of size ``a`` in trace A and ``b`` in trace B."""
        if a == b:
            return self.ints([a])
        for name, axis, na, nb in self.symbols:
            if na and nb and a % na == 0 and b % nb == 0 and a // na == b // nb:
                size = self._input_dim(name, axis)
                k = a // na
                return size if k == 1 else self.op("Mul", [size, self.ints([k])], hint="dim")
        raise OnnxExporterError(
            f"tinynet.onnx.export: {what} has a dimension of size {a} with the example inputs and {b} with a "
            "larger batch, which is not a multiple of any dynamic input axis; the graph cannot express it. "
            "Make the size follow the batch (e.g. reshape(x.shape[0], -1)) or export without dynamic_axes"
        )

    def shape(self, dims_a, dims_b=None, what: str = "a shape", allow_minus_one: bool = True) -> str:
        """An int64 shape tensor for target ``dims_a`` (trace A) / ``dims_b`` (trace B).

        Static when both agree; one dynamic entry (and no -1) becomes -1 when
        ``allow_minus_one``; otherwise the dynamic entries are read from the inputs' shapes."""
        dims_a = [int(d) for d in dims_a]
        dims_b = dims_a if dims_b is None else [int(d) for d in dims_b]
        if len(dims_a) != len(dims_b):
            raise OnnxExporterError(f"tinynet.onnx.export: {what} changes rank with the batch size "
                                    f"({tuple(dims_a)} vs {tuple(dims_b)})")
        dyn = [i for i, (a, b) in enumerate(zip(dims_a, dims_b)) if a != b]
        if not dyn:
            return self.ints(dims_a)
        if allow_minus_one and len(dyn) == 1 and -1 not in dims_a:
            return self.ints([-1 if i == dyn[0] else d for i, d in enumerate(dims_a)])
        parts = [self.dim(a, b, what) for a, b in zip(dims_a, dims_b)]
        return self.op("Concat", parts, hint="shape", axis=0)

    # --- the model --------------------------------------------------------------------------
    def model(self, inputs, outputs, graph_name="tinynet", producer_version="0.1.0"):
        graph = helper.make_graph(self.nodes, graph_name, inputs, outputs, initializer=self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)],
                                  producer_name="tinynet", producer_version=producer_version)
        model.ir_version = min(onnx.IR_VERSION, 10 if self.opset <= 21 else onnx.IR_VERSION)
        return model
