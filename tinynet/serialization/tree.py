"""A saved object as (tensors, JSON tree) and back: the structure inside ``__metadata__``, checked on load."""
from __future__ import annotations

import numpy as _np

from ..backend import get_device
from ..tensor.tensor import Tensor
from .constants import MAX_INT_DIGITS, MAX_NESTING, CODES, DEVICES
from .errors import CheckpointError
from .guarded_json import HugeInt, is_int, json_loads


_INT_LIMIT = 10 ** MAX_INT_DIGITS


def _check_int(value: int, path: str):
    if not -_INT_LIMIT < value < _INT_LIMIT:
        raise ValueError(f"save: the int at {path} has more than {MAX_INT_DIGITS} digits; checkpoints hold ints "
                         f"of at most {MAX_INT_DIGITS} digits (store a huge number as a string)")


def _enter(obj, path: str, ancestors: dict):
    """Record container ``obj`` on the current path, refusing cycles and over-deep nesting."""
    if id(obj) in ancestors:
        raise ValueError(f"save: {path} is {ancestors[id(obj)]} itself (a reference cycle); checkpoints hold "
                         "trees of values - break the cycle (or save a copy) before saving")
    if len(ancestors) >= MAX_NESTING:
        raise ValueError(f"save: {path} nests containers more than {MAX_NESTING} deep; checkpoints hold at most "
                         f"{MAX_NESTING} levels of dicts, lists and tuples - flatten the structure")
    ancestors[id(obj)] = path


def encode_object(obj, prefix, tensors, path, ancestors):
    """Replace tensors/arrays by ``{"__tensor__": name}`` references; collect them in ``tensors``.

    ``ancestors`` maps id() of each container on the current path to its path (cycle and depth checks).
    """
    if isinstance(obj, (Tensor, _np.ndarray)):
        return _encode_tensor(obj, prefix or "tensor", tensors, path)
    if isinstance(obj, dict):
        _enter(obj, path, ancestors)
        items = []
        plain = True
        for k, v in obj.items():
            if isinstance(k, bool) or not isinstance(k, (str, int, _np.integer)):
                raise TypeError(f"save: dict keys must be strings or ints, got {type(k).__name__} at {path}")
            k = k if isinstance(k, str) else int(k)
            if isinstance(k, int):
                _check_int(k, f"{path} (a key)")
            plain = plain and isinstance(k, str) and not k.startswith("__")
            child = f"{prefix}.{k}" if prefix else str(k)
            items.append((k, encode_object(v, child, tensors, f"{path}[{k!r}]", ancestors)))
        del ancestors[id(obj)]
        return dict(items) if plain else {"__dict__": [[k, v] for k, v in items]}
    if isinstance(obj, (list, tuple)):
        _enter(obj, path, ancestors)
        vals = [encode_object(v, f"{prefix}.{i}" if prefix else str(i), tensors, f"{path}[{i}]", ancestors)
                for i, v in enumerate(obj)]
        del ancestors[id(obj)]
        return {"__tuple__": vals} if isinstance(obj, tuple) else vals
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, float, _np.integer, _np.floating, _np.bool_)):
        value = obj.item() if isinstance(obj, _np.generic) else obj
        if is_int(value):
            _check_int(value, path)
        return value
    raise TypeError(
        f"save: can't store {type(obj).__name__} at {path}; checkpoints hold tensors, arrays, numbers, strings, "
        "bools, None, lists, tuples and dicts (no pickle). Save a state_dict() rather than the object."
    )


def _encode_tensor(obj, name, tensors, path):
    if name in tensors:
        raise ValueError(
            f"save: two entries flatten to the same tensor name {name!r} (at {path}); dotted keys such as "
            "{'a.b': x} and {'a': {'b': y}} collide - rename one"
        )
    if name == "__metadata__":
        raise ValueError("save: '__metadata__' is reserved by the safetensors format; rename that key")
    if isinstance(obj, Tensor):
        arr = obj.device.to_host(obj.array)
        ref = {"__tensor__": name, "device": obj.device.type}
        if obj.requires_grad:
            ref["requires_grad"] = True
    else:
        arr, ref = obj, {"__tensor__": name, "ndarray": True}
    if (arr.dtype.kind, arr.dtype.itemsize) not in CODES:
        raise TypeError(f"save: {path} has dtype {arr.dtype}, which safetensors cannot store")
    tensors[name] = arr
    return ref


class _Tree:
    """Checks a parsed tinynet structure against the file's tensors, then rebuilds the object.

    ``dtypes`` maps each tensor name in the file to its NumPy dtype. Every check runs in
    :meth:`check`, before any tensor data is read; :meth:`build` then cannot fail on the file.
    """

    _REF_KEYS = {"__tensor__", "device", "requires_grad"}
    _ARRAY_KEYS = {"__tensor__", "ndarray"}

    def __init__(self, where: str, dtypes: dict):
        self.where, self.dtypes = where, dtypes
        self.used: dict = {}  # tensor name -> path of the reference
        self.devices: set = set()  # device names the tensors are saved on

    def bad(self, path: str, what: str) -> CheckpointError:
        return CheckpointError(f"load: {self.where}: malformed tinynet structure at {path or 'top level'}: {what}")

    def check(self, node, path="", depth=0):
        if isinstance(node, HugeInt):
            raise self.bad(path, f"an integer literal of {node.digits} digits; checkpoints hold ints of at most "
                                 f"{MAX_INT_DIGITS} digits")
        if node is None or isinstance(node, (bool, int, float, str)):
            return
        if isinstance(node, list):
            self._container(path, depth)
            for i, v in enumerate(node):
                self.check(v, f"{path}[{i}]", depth + 1)
        elif isinstance(node, dict):
            self._check_dict(node, path, depth)
        else:  # unreachable for parsed JSON, kept as a guard
            raise self.bad(path, f"unexpected value of type {type(node).__name__}")

    def _container(self, path, depth):
        if depth >= MAX_NESTING:
            raise self.bad(path, f"containers nest more than {MAX_NESTING} deep (tinynet saves at most {MAX_NESTING})")

    def _check_dict(self, node, path, depth):
        if "__tensor__" in node:
            return self._check_ref(node, path)
        for marker in ("__tuple__", "__dict__"):
            if marker in node:
                if set(node) != {marker}:
                    raise self.bad(path, f"a {marker} marker must be the only key, got {sorted(node)}")
                if not isinstance(node[marker], list):
                    raise self.bad(path, f"{marker} must hold a list, got {type(node[marker]).__name__}")
                self._container(path, depth)
                if marker == "__tuple__":
                    for i, v in enumerate(node[marker]):
                        self.check(v, f"{path}[{i}]", depth + 1)
                else:
                    self._check_pairs(node[marker], path, depth)
                return
        unknown = [k for k in node if k.startswith("__")]
        if unknown:
            raise self.bad(path, f"unknown marker key {unknown[0]!r} (tinynet writes __tensor__, __tuple__ "
                                 "and __dict__)")
        self._container(path, depth)
        for k, v in node.items():
            self.check(v, f"{path}[{k!r}]", depth + 1)

    def _check_pairs(self, pairs, path, depth):
        keys = set()
        for i, kv in enumerate(pairs):
            if not (isinstance(kv, list) and len(kv) == 2):
                raise self.bad(path, f"__dict__ item {i} must be a [key, value] pair")
            k = kv[0]
            if isinstance(k, HugeInt):
                raise self.bad(path, f"__dict__ key {i} is an integer literal of {k.digits} digits (at most "
                                     f"{MAX_INT_DIGITS})")
            if not (isinstance(k, str) or is_int(k)):
                raise self.bad(path, f"__dict__ key {k!r} is a {type(k).__name__}; keys must be strings or ints")
            if k in keys:
                raise self.bad(path, f"__dict__ repeats the key {k!r}")
            keys.add(k)
            self.check(kv[1], f"{path}[{k!r}]", depth + 1)

    def _check_ref(self, node, path):
        name = node["__tensor__"]
        if not isinstance(name, str) or name not in self.dtypes:
            raise CheckpointError(f"load: {self.where}: the structure at {path or 'top level'} refers to tensor "
                                  f"{name!r}, which the file lacks")
        if name in self.used:
            raise self.bad(path, f"tensor {name!r} is referenced twice (also at {self.used[name] or 'top level'}); "
                                 "tinynet stores every tensor once")
        self.used[name] = path
        allowed = self._ARRAY_KEYS if "ndarray" in node else self._REF_KEYS
        extra = sorted(set(node) - allowed)
        if extra:
            raise self.bad(path, f"unexpected key {extra[0]!r} in the reference to tensor {name!r}")
        if "ndarray" in node and node["ndarray"] is not True:
            raise self.bad(path, f"'ndarray' of tensor {name!r} must be true, got {node['ndarray']!r}")
        device = node.get("device", "cpu")
        if "ndarray" not in node:
            if device not in DEVICES:
                raise self.bad(path, f"tensor {name!r} has unknown device {device!r}; expected one of {list(DEVICES)}")
            self.devices.add(device)
        grad = node.get("requires_grad", False)
        if not isinstance(grad, bool):
            raise self.bad(path, f"requires_grad of tensor {name!r} must be true or false, got {grad!r}")
        if grad and self.dtypes[name].kind != "f":
            raise self.bad(path, f"tensor {name!r} has dtype {self.dtypes[name]} but requires_grad is set; only "
                                 "floating-point tensors can require gradients")

    def check_all_used(self):
        """Every tensor in the file belongs to the structure (an extra one means the file was edited)."""
        unused = [name for name in self.dtypes if name not in self.used]
        if unused:
            raise CheckpointError(f"load: {self.where}: the file holds tensor {unused[0]!r}, which its tinynet "
                                  "structure never refers to; the file was edited after saving")

    def resolve_devices(self, map_location) -> dict:
        """Device objects for the saved device names (or ``map_location``), before any data is read."""
        out = {}
        for name in sorted(self.devices):
            spec = map_location if map_location is not None else name
            try:
                out[name] = get_device(spec)
            except RuntimeError as exc:  # no GPU here: keep the class (a device error may also be a ValueError)
                message = (f"load: {self.where} holds tensors saved on {name!r}, but {exc} Or pass "
                           "map_location='cpu' to load them on the CPU.")
                try:
                    error = type(exc)(message)
                except Exception:
                    error = RuntimeError(message)
                raise error from None
        return out

    def build(self, node, arrays, devices):
        if isinstance(node, list):
            return [self.build(v, arrays, devices) for v in node]
        if not isinstance(node, dict):
            return node
        if "__tensor__" in node:
            arr = arrays[node["__tensor__"]]
            if node.get("ndarray"):
                return arr
            device = devices[node.get("device", "cpu")]
            t = Tensor._make(arr if device.xp is _np else device.from_host(arr), device)
            if node.get("requires_grad"):
                t.requires_grad_(True)
            return t
        if "__tuple__" in node:
            return tuple(self.build(v, arrays, devices) for v in node["__tuple__"])
        if "__dict__" in node:
            return {k: self.build(v, arrays, devices) for k, v in node["__dict__"]}
        return {k: self.build(v, arrays, devices) for k, v in node.items()}


def foreign_tree(names) -> dict:
    """The structure of a file without tinynet metadata: each tensor at its own name, on the cpu."""
    return {name: {"__tensor__": name, "device": "cpu"} for name in names}


def parse_tree(raw: bytes, where: str, what: str):
    # JSON nesting per saved level: a dict in the {"__dict__": [[k, v]]} form takes 3, plus the tensor reference
    return json_loads(raw, where, what, max_depth=3 * MAX_NESTING + 1, max_digits=MAX_INT_DIGITS)


def rebuild_object(tree, dtypes: dict, read_arrays, where: str, map_location):
    """Validate ``tree`` against the tensors, resolve devices, then read the data and rebuild the object."""
    checker = _Tree(where, dtypes)
    checker.check(tree)
    checker.check_all_used()
    devices = checker.resolve_devices(map_location)
    arrays = read_arrays()
    return checker.build(tree, arrays, devices)
