"""``tn.save`` / ``tn.load``: checkpoints as safetensors (or ``.npz``) files, never pickle.

Pickle files can run arbitrary code when loaded. tinynet writes plain data instead:

**safetensors** (the default; any path not ending in ``.npz``), written by hand::

    [8 bytes: N, little-endian uint64][N bytes: JSON header][tensor bytes, little-endian]

The header maps each tensor's name to ``{"dtype": "F32", "shape": [...],
"data_offsets": [begin, end]}`` (offsets into the byte section, which the tensors fill
back to back with no gaps) and may hold ``"__metadata__"``: a string-to-string map. The
``safetensors`` package (and so PyTorch, ``safetensors.torch.load_file``) reads these files.

What gets saved: a (nested) dict of Tensors, NumPy arrays, numbers, strings, bools, None,
lists and tuples -- e.g. ``{"model": model.state_dict(), "optimizer": opt.state_dict(),
"epoch": 3}``. Tensors and arrays go into the tensor section under dotted names
(``model.0.weight``); the structure and every non-tensor value go into
``__metadata__["tinynet"]`` as one JSON string, so ``tn.load`` rebuilds the exact object
(dict keys that are ints stay ints, tuples stay tuples, arrays come back as arrays).

**npz** (path ends in ``.npz``): the same flattened tensors as ``np.savez`` members plus the
JSON structure as a string member; read back with ``allow_pickle=False``.

Writes are atomic: the file is written to a temporary file in the same directory and
moved over the target with ``os.replace``, so a crash never leaves half a checkpoint.
``tn.load`` checks the whole file (header size, JSON, dtypes, shapes, offsets, total
length) and raises ``ValueError`` naming the problem *before* returning anything, so
``model.load_state_dict(tn.load(path))`` cannot half-apply a damaged file.
"""
from __future__ import annotations

import json
import os
import struct
import tempfile
import zipfile

import numpy as _np

from .backend import get_device
from .tensor.tensor import Tensor

FORMAT = "tinynet"
FORMAT_VERSION = 1
MAX_HEADER_BYTES = 100 * 1024 * 1024  # the safetensors package's own limit

# safetensors dtype names <-> NumPy dtypes (stored little-endian)
_DTYPES = {
    "F64": _np.dtype("<f8"), "F32": _np.dtype("<f4"), "F16": _np.dtype("<f2"),
    "I64": _np.dtype("<i8"), "I32": _np.dtype("<i4"), "I16": _np.dtype("<i2"), "I8": _np.dtype("i1"),
    "U64": _np.dtype("<u8"), "U32": _np.dtype("<u4"), "U16": _np.dtype("<u2"), "U8": _np.dtype("u1"),
    "BOOL": _np.dtype("?"),
}
_CODES = {(dt.kind, dt.itemsize): code for code, dt in _DTYPES.items()}


# --- turning an object into (tensors, JSON tree) and back ----------------------------

def _encode(obj, prefix, tensors, path):
    """Replace tensors/arrays by ``{"__tensor__": name}`` references; collect them in ``tensors``."""
    if isinstance(obj, (Tensor, _np.ndarray)):
        name = prefix or "tensor"
        if name in tensors:
            raise ValueError(
                f"save: two entries flatten to the same tensor name {name!r} (at {path}); dotted keys such as "
                "{'a.b': x} and {'a': {'b': y}} collide - rename one"
            )
        if name == "__metadata__":
            raise ValueError("save: '__metadata__' is reserved by the safetensors format; rename that key")
        if isinstance(obj, Tensor):
            arr = obj.device.to_host(obj.data)
            ref = {"__tensor__": name, "device": obj.device.type}
            if obj.requires_grad:
                ref["requires_grad"] = True
        else:
            arr, ref = obj, {"__tensor__": name, "ndarray": True}
        if (arr.dtype.kind, arr.dtype.itemsize) not in _CODES:
            raise TypeError(f"save: {path} has dtype {arr.dtype}, which safetensors cannot store")
        tensors[name] = arr
        return ref
    if isinstance(obj, dict):
        items = []
        plain = True
        for k, v in obj.items():
            if isinstance(k, bool) or not isinstance(k, (str, int, _np.integer)):
                raise TypeError(f"save: dict keys must be strings or ints, got {type(k).__name__} at {path}")
            k = k if isinstance(k, str) else int(k)
            plain = plain and isinstance(k, str) and not k.startswith("__")
            child = f"{prefix}.{k}" if prefix else str(k)
            items.append((k, _encode(v, child, tensors, f"{path}[{k!r}]")))
        return dict(items) if plain else {"__dict__": [[k, v] for k, v in items]}
    if isinstance(obj, (list, tuple)):
        vals = [_encode(v, f"{prefix}.{i}" if prefix else str(i), tensors, f"{path}[{i}]") for i, v in enumerate(obj)]
        return {"__tuple__": vals} if isinstance(obj, tuple) else vals
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, float, _np.integer, _np.floating, _np.bool_)):
        return obj.item() if isinstance(obj, _np.generic) else obj
    raise TypeError(
        f"save: can't store {type(obj).__name__} at {path}; checkpoints hold tensors, arrays, numbers, strings, "
        "bools, None, lists, tuples and dicts (no pickle). Save a state_dict() rather than the object."
    )


def _decode(node, arrays, map_location):
    if isinstance(node, list):
        return [_decode(v, arrays, map_location) for v in node]
    if isinstance(node, dict):
        if "__tensor__" in node:
            arr = arrays[node["__tensor__"]]
            if node.get("ndarray"):
                return arr
            device = get_device(map_location if map_location is not None else node.get("device", "cpu"))
            data = arr if device.xp is _np else device.from_host(arr)
            t = Tensor._make(data, device)
            if node.get("requires_grad"):
                t.requires_grad_(True)
            return t
        if "__tuple__" in node:
            return tuple(_decode(v, arrays, map_location) for v in node["__tuple__"])
        if "__dict__" in node:
            return {k: _decode(v, arrays, map_location) for k, v in node["__dict__"]}
        return {k: _decode(v, arrays, map_location) for k, v in node.items()}
    return node


def _check_tree(node, names, path, where):
    """Validate the JSON structure before decoding: every tensor reference names a tensor in
    the file, and tuple/dict markers hold what they should (a tampered header fails here)."""
    def bad(what):
        return ValueError(f"load: {where}: malformed tinynet structure at {path or 'top level'}: {what}")

    if isinstance(node, list):
        for i, v in enumerate(node):
            _check_tree(v, names, f"{path}[{i}]", where)
    elif isinstance(node, dict):
        if "__tensor__" in node:
            if not isinstance(node["__tensor__"], str) or node["__tensor__"] not in names:
                raise ValueError(f"load: {where}: the structure refers to tensor {node['__tensor__']!r}, which the file lacks")
            if not isinstance(node.get("device", "cpu"), str):
                raise bad("device must be a string")
        elif "__tuple__" in node:
            if not isinstance(node["__tuple__"], list):
                raise bad("__tuple__ must hold a list")
            _check_tree(node["__tuple__"], names, path, where)
        elif "__dict__" in node:
            pairs = node["__dict__"]
            if not isinstance(pairs, list) or not all(
                    isinstance(kv, list) and len(kv) == 2 and isinstance(kv[0], (str, int)) for kv in pairs):
                raise bad("__dict__ must hold [key, value] pairs")
            for k, v in pairs:
                _check_tree(v, names, f"{path}[{k!r}]", where)
        else:
            for k, v in node.items():
                _check_tree(v, names, f"{path}[{k!r}]", where)
    elif not (node is None or isinstance(node, (bool, int, float, str))):
        raise bad(f"unexpected value of type {type(node).__name__}")


# --- atomic writes -------------------------------------------------------------------

def _atomic_write(path, write):
    """Run ``write(fileobj)`` on a temporary file next to ``path``, then rename it into place."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-" + os.path.basename(path) + ".", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# --- safetensors ---------------------------------------------------------------------

def _safetensors_bytes(tensors: dict, tree) -> tuple[bytes, list]:
    header, chunks, offset = {}, [], 0
    for name, arr in tensors.items():
        code = _CODES[(arr.dtype.kind, arr.dtype.itemsize)]
        data = _np.ascontiguousarray(arr, dtype=_DTYPES[code]).tobytes()
        header[name] = {"dtype": code, "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    header["__metadata__"] = {
        "format": FORMAT,
        "tinynet_version": str(FORMAT_VERSION),
        "tinynet": json.dumps(tree, separators=(",", ":")),
    }
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)  # pad to 8 bytes so the tensor section is aligned, as safetensors does
    return struct.pack("<Q", len(raw)) + raw, chunks


def _load_safetensors(path, map_location):
    with open(path, "rb") as f:
        blob = f.read()
    where = os.fspath(path)
    if len(blob) < 8:
        raise ValueError(f"load: {where} is not a checkpoint: {len(blob)} bytes, shorter than the 8-byte header size")
    (n,) = struct.unpack("<Q", blob[:8])
    if n == 0 or n > MAX_HEADER_BYTES:
        raise ValueError(f"load: {where}: header size {n} is out of bounds (1..{MAX_HEADER_BYTES}); the file is damaged or not safetensors")
    if 8 + n > len(blob):
        raise ValueError(f"load: {where} is truncated: the header says {n} bytes but the file has only {len(blob) - 8} after the size")
    try:
        header = json.loads(blob[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"load: {where}: the header is not valid JSON ({exc}); the file is damaged") from None
    if not isinstance(header, dict):
        raise ValueError(f"load: {where}: the header must be a JSON object")
    meta = header.pop("__metadata__", None)
    data = memoryview(blob)[8 + n:]
    arrays, spans = {}, []
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise ValueError(f"load: {where}: entry {name!r} must have exactly dtype, shape and data_offsets")
        code, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if code not in _DTYPES:
            raise ValueError(f"load: {where}: tensor {name!r} has unsupported dtype {code!r}")
        if not isinstance(shape, list) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
            raise ValueError(f"load: {where}: tensor {name!r} has an invalid shape {shape!r}")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
                or not 0 <= offsets[0] <= offsets[1]):
            raise ValueError(f"load: {where}: tensor {name!r} has invalid data_offsets {offsets!r}")
        begin, end = offsets
        if end > len(data):
            raise ValueError(
                f"load: {where}: tensor {name!r} ends at byte {end} of the data section, past its end ({len(data)} bytes); "
                "the file is truncated or tampered with"
            )
        dtype = _DTYPES[code]
        expected = int(_np.prod(shape, dtype=_np.int64)) * dtype.itemsize
        if end - begin != expected:
            raise ValueError(
                f"load: {where}: tensor {name!r} of shape {shape} and dtype {code} needs {expected} bytes "
                f"but its data_offsets span {end - begin}"
            )
        spans.append((begin, end, name))
        arrays[name] = (dtype, shape, begin, end)
    spans.sort()
    pos = 0
    for begin, end, name in spans:
        if begin != pos:
            raise ValueError(f"load: {where}: tensor {name!r} starts at byte {begin}, expected {pos} (gap or overlap)")
        pos = end
    if pos != len(data):
        raise ValueError(f"load: {where}: the data section has {len(data)} bytes but the tensors cover {pos}; the file is damaged")
    if meta is not None and (not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values())):
        raise ValueError(f"load: {where}: __metadata__ must map strings to strings")
    out = {}
    for name, (dtype, shape, begin, end) in arrays.items():
        arr = _np.frombuffer(data[begin:end], dtype=dtype).reshape(shape)
        if arr.dtype.byteorder == ">" or (arr.dtype.byteorder == "=" and not _np.little_endian):
            arr = arr.astype(dtype.newbyteorder("="))
        if dtype.kind == "b" and (_np.frombuffer(data[begin:end], dtype=_np.uint8) > 1).any():
            raise ValueError(f"load: {where}: bool tensor {name!r} holds bytes other than 0 and 1")
        out[name] = arr.copy()
    if meta is None or "tinynet" not in meta:
        tree = {name: {"__tensor__": name, "device": "cpu"} for name in out}  # a foreign safetensors file
    else:
        try:
            tree = json.loads(meta["tinynet"])
        except json.JSONDecodeError as exc:
            raise ValueError(f"load: {where}: the tinynet structure in __metadata__ is not valid JSON ({exc})") from None
    _check_tree(tree, out, "", where)
    return _decode(tree, out, map_location)


# --- npz -----------------------------------------------------------------------------

_TREE_KEY = "__tinynet__"


def _save_npz(tensors, tree, f):
    members = {name: arr for name, arr in tensors.items()}
    if _TREE_KEY in members:
        raise ValueError(f"save: {_TREE_KEY!r} is reserved in .npz checkpoints; rename that key")
    members[_TREE_KEY] = _np.array(json.dumps(tree, separators=(",", ":")))
    _np.savez(f, **members)


def _load_npz(path, map_location):
    where = os.fspath(path)
    try:
        with _np.load(path, allow_pickle=False) as z:
            arrays = {name: z[name] for name in z.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, zipfile.LargeZipFile) as exc:
        raise ValueError(f"load: {where} is not a readable .npz checkpoint ({type(exc).__name__}: {exc})") from None
    if _TREE_KEY in arrays:
        try:
            tree = json.loads(str(arrays.pop(_TREE_KEY)))
        except json.JSONDecodeError as exc:
            raise ValueError(f"load: {where}: the tinynet structure is not valid JSON ({exc})") from None
    else:
        tree = {name: {"__tensor__": name, "device": "cpu"} for name in arrays}
    _check_tree(tree, arrays, "", where)
    return _decode(tree, arrays, map_location)


# --- public API ----------------------------------------------------------------------

def _is_npz(path) -> bool:
    return os.fspath(path).lower().endswith(".npz")


def save(obj, path):
    """Write ``obj`` (a nested dict/list of tensors, arrays and plain values) to ``path``.

    safetensors format unless ``path`` ends in ``.npz``; written atomically. See the module
    docstring for what can be stored.
    """
    tensors: dict = {}
    tree = _encode(obj, "", tensors, "obj")
    if _is_npz(path):
        _atomic_write(path, lambda f: _save_npz(tensors, tree, f))
    else:
        header, chunks = _safetensors_bytes(tensors, tree)

        def write(f):
            f.write(header)
            for c in chunks:
                f.write(c)

        _atomic_write(path, write)


def load(path, map_location=None):
    """Read a checkpoint written by :func:`save` (or any safetensors / npz file of arrays).

    Tensors go back to the device they were saved from, or to ``map_location`` ("cpu",
    "cuda") when given. Raises ``ValueError`` for a damaged file before returning anything.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no such checkpoint file: {os.fspath(path)!r}")
    if _is_npz(path):
        return _load_npz(path, map_location)
    return _load_safetensors(path, map_location)


__all__ = ["save", "load"]
