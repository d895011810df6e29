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
Containers may nest at most :data:`MAX_NESTING` deep and ints hold at most
:data:`MAX_INT_DIGITS` digits; ``save`` refuses a reference cycle or deeper nesting by path.

**npz** (path ends in ``.npz``): the same flattened tensors as ``.npy`` members of a zip
file (what ``np.savez`` writes) plus the JSON structure as the 0-d string member
``__tinynet__``.

**Writes are atomic**: the file is written to a temporary file next to the target (the
target of a symlink, which stays a symlink), flushed to disk and moved over the target with
``os.replace``, so a crash, a full disk or Ctrl-C never leaves half a checkpoint or a
stray temporary file. The new file gets the mode a plain ``open(path, "w")`` would give a
new file (``0o666`` less the umask) -- also when it replaces an existing file, whose own
mode is not carried over (set a umask such as ``0o077`` for private checkpoints).

**Loads trust nothing** (the checks of the ``safetensors`` package and of PyTorch's
``weights_only`` loader): only a regular file is opened (a FIFO, device or socket is refused
at once, never read); every size is checked against the file's size before anything is
allocated; the JSON is pre-scanned for depth and refuses duplicate keys and absurdly long
integers; dtypes, shapes, offsets (no overlap, no gap), the structure and, for ``.npz``,
every member's ``.npy`` header and zip sizes are checked -- all *before* any tensor data is
read or anything is returned. A bad file raises :class:`CheckpointError` (a ``ValueError``)
naming the file and the tensor or key, so ``model.load_state_dict(tn.load(path))`` cannot
half-apply a damaged or hostile file.
"""
from __future__ import annotations

import errno
import json
import os
import stat
import struct
import tempfile
import zipfile
import zlib

import numpy as _np
from numpy.lib import format as _npy

from .backend import get_device
from .tensor.tensor import Tensor

FORMAT = "tinynet"
FORMAT_VERSION = 1
MAX_HEADER_BYTES = 100 * 1024 * 1024  # the safetensors package's own limit
MAX_NESTING = 64  # containers (dicts, lists, tuples) nested inside each other in a saved object
MAX_INT_DIGITS = 1000  # ints in the structure: far beyond any counter, seed or RNG state
_HEADER_INT_DIGITS = 20  # a uint64 has at most 20 digits; no valid shape or offset has more
_NPY_MAX_NDIM = 64  # NumPy 2's limit on array dimensions
_INTP_MAX = int(_np.iinfo(_np.intp).max)  # NumPy cannot make an array of more bytes
_DEVICES = ("cpu", "cuda")  # what save writes as a tensor's device

# safetensors dtype names <-> NumPy dtypes (stored little-endian)
_DTYPES = {
    "F64": _np.dtype("<f8"), "F32": _np.dtype("<f4"), "F16": _np.dtype("<f2"),
    "I64": _np.dtype("<i8"), "I32": _np.dtype("<i4"), "I16": _np.dtype("<i2"), "I8": _np.dtype("i1"),
    "U64": _np.dtype("<u8"), "U32": _np.dtype("<u4"), "U16": _np.dtype("<u2"), "U8": _np.dtype("u1"),
    "BOOL": _np.dtype("?"),
}
_CODES = {(dt.kind, dt.itemsize): code for code, dt in _DTYPES.items()}


class CheckpointError(ValueError):
    """A file that is not a valid tinynet checkpoint: damaged, truncated, tampered with or hostile."""


class NotAFileError(CheckpointError):
    """The path names a FIFO, device, socket or other non-regular file (never opened or read)."""


class IsADirectoryCheckpointError(IsADirectoryError, NotAFileError):
    """The path names a directory: an ``IsADirectoryError`` (an ``OSError``) and a ``ValueError``,
    so callers catching either one handle it."""


# --- paths ---------------------------------------------------------------------------

def _path_str(path, op: str) -> str:
    """``path`` (str, bytes or os.PathLike) as a str, the form every message shows."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"{op}: the path must be a str, bytes or os.PathLike, got {type(path).__name__}")
    where = os.fsdecode(path)
    if not where:
        raise ValueError(f"{op}: the path is empty; give a file name such as 'checkpoint.safetensors'")
    if "\0" in where:
        raise ValueError(f"{op}: the path {where!r} contains a NUL character, which no file name can hold")
    return where


def _is_npz(where: str) -> bool:
    return where.lower().endswith(".npz")


def _file_kind(mode: int) -> str:
    """Words for a non-regular file type, for messages."""
    for test, words in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                        (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                        (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return words
    return "not a regular file"


def _refuse_non_regular(mode: int, where: str, op: str):
    """Raise unless ``mode`` is a regular file's: reading a FIFO blocks forever and /dev/zero never ends."""
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise IsADirectoryCheckpointError(
            errno.EISDIR, f"{op}: the path is a directory, not a checkpoint file; name the file itself, "
            "e.g. os.path.join(folder, 'checkpoint.safetensors')", where)
    raise NotAFileError(f"{op}: {where} is {_file_kind(mode)}, not a regular file; tinynet only "
                        f"{'reads' if op == 'load' else 'writes'} checkpoints stored as regular files")


def _reworded(exc: OSError, message: str) -> OSError:
    """The same OSError class and errno, with a message saying what tinynet was doing."""
    code = exc.errno
    if code is None and len(exc.args) == 1 and isinstance(exc.args[0], int):
        code = exc.args[0]  # OSError(errno.ENOSPC) carries the code only in args
    detail = exc.strerror or (os.strerror(code) if code else str(exc)) or type(exc).__name__
    args = (code, f"{message} ({detail})") if code is not None else (f"{message} ({detail})",)
    try:
        return type(exc)(*args)
    except Exception:  # an OSError subclass with another constructor
        return OSError(*args)


def _open_regular_file(where: str):
    """Open ``where`` for reading if (and only if) it is a regular file; return (file, size).

    Checked with stat before opening and again with fstat on the opened descriptor (so a file
    swapped for a FIFO in between is still refused); O_NONBLOCK keeps even that open from
    waiting for a writer.
    """
    try:
        st = os.stat(where)
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, "load: no such checkpoint file", where) from None
    except OSError as exc:
        raise _reworded(exc, f"load: can't read checkpoint {where!r}") from None
    _refuse_non_regular(st.st_mode, where, "load")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(where, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise _reworded(exc, f"load: can't open checkpoint {where!r}") from None
    try:
        st = os.fstat(fd)
        _refuse_non_regular(st.st_mode, where, "load")
        return os.fdopen(fd, "rb"), st.st_size
    except BaseException:
        os.close(fd)
        raise


def _sniff(head: bytes) -> str:
    """A hint about what a file that isn't the expected format looks like, for messages."""
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return ("; it is a zip archive (an .npz checkpoint needs a name ending in .npz; a PyTorch .pt file "
                "holds pickle, which tinynet never loads)")
    if head.startswith(b"\x93NUMPY"):
        return "; it is a single .npy array, not a checkpoint"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "; it is a pickle, which tinynet never loads because loading pickle can run arbitrary code"
    return ""


def _read_exact(f, n: int, where: str, what: str) -> bytes:
    """Read exactly ``n`` bytes (``n`` is already checked against the file size)."""
    data = f.read(n)
    if len(data) != n:
        raise CheckpointError(f"load: {where}: the file ended while reading {what} (it changed while being read?)")
    return data


def _read_into(f, arr, where: str, what: str):
    """Fill ``arr`` (freshly allocated, contiguous) with the next ``arr.nbytes`` bytes of ``f``."""
    view = memoryview(arr.reshape(-1).view(_np.uint8))
    got = 0
    while got < len(view):
        n = f.readinto(view[got:got + (1 << 24)])  # chunks bound the temporary copy a zip member makes
        if not n:
            raise CheckpointError(f"load: {where}: the file ended while reading {what} (it changed while being read?)")
        got += n


# --- guarded JSON --------------------------------------------------------------------

class _HugeInt:
    """Stands in for a JSON integer literal with too many digits (the ``parse_int`` hook), so
    validation names the key holding it instead of ``int()`` failing inside ``json``."""

    __slots__ = ("digits",)

    def __init__(self, digits: int):
        self.digits = digits

    def __repr__(self):
        return f"<an integer of {self.digits} digits>"


class _DuplicateKey(Exception):
    def __init__(self, key):
        super().__init__(key)
        self.key = key


def _unique_object(pairs):
    """``object_pairs_hook``: a JSON object that repeats a key is refused (``json`` would keep the last)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


_SCAN_CHUNK = 1 << 20  # bytes per step of the depth pre-scan (bounds its temporary memory)
_BRACKETS = _np.zeros(256, _np.int64)
_BRACKETS[[ord("["), ord("{")]] = 1
_BRACKETS[[ord("]"), ord("}")]] = -1


def _too_deep_at(raw: bytes, limit: int):
    """Byte position where JSON ``raw`` first nests deeper than ``limit``, or None.

    ``json`` parses nesting by recursion, so a hostile 100000-deep document must be refused
    before parsing. Vectorised and chunked (a header may be 100 MiB): brackets count unless
    inside a string, and a quote ends a string unless an odd run of backslashes precedes it.
    """
    data = _np.frombuffer(raw, _np.uint8)
    depth, in_string, run = 0, False, 0  # carried across chunks: nesting, inside a string, backslash run
    for start in range(0, len(data), _SCAN_CHUNK):
        c = data[start:start + _SCAN_CHUNK]
        idx = _np.arange(len(c))
        last_other = _np.maximum.accumulate(_np.where(c == 92, -1, idx))  # last non-backslash so far
        runs = idx - last_other + _np.where(last_other == -1, run, 0)  # backslashes ending here
        runs[c != 92] = 0
        before = _np.concatenate(([run], runs[:-1]))
        quotes = (c == 34) & (before % 2 == 0)
        inside = (_np.cumsum(quotes) % 2 == 1) ^ in_string
        levels = depth + _np.cumsum(_np.where(inside, 0, _BRACKETS[c]))
        over = _np.flatnonzero(levels > limit)
        if over.size:
            return start + int(over[0])
        depth, in_string, run = int(levels[-1]), bool(inside[-1]), int(runs[-1])
    return None


def _json_loads(raw: bytes, where: str, what: str, max_depth: int, max_digits: int):
    """Parse untrusted JSON: depth pre-scanned, duplicate keys refused, long integers kept as
    :class:`_HugeInt` for the caller to refuse by key. Errors are ``CheckpointError`` naming ``where``."""
    pos = _too_deep_at(raw, max_depth)
    if pos is not None:
        near = raw[max(0, pos - 40):pos + 1].decode("utf-8", "replace")
        raise CheckpointError(f"load: {where}: {what} nests deeper than {max_depth} levels (at byte {pos}, "
                              f"near {near!r}); no tinynet checkpoint does - the file is damaged or hostile")

    def parse_int(literal):
        digits = len(literal) - literal.startswith("-")
        return _HugeInt(digits) if digits > max_digits else int(literal)

    try:
        text = raw.decode("utf-8")
        return json.loads(text, object_pairs_hook=_unique_object, parse_int=parse_int)
    except UnicodeDecodeError as exc:
        raise CheckpointError(f"load: {where}: {what} is not valid UTF-8 ({exc}); the file is damaged") from None
    except _DuplicateKey as exc:
        raise CheckpointError(f"load: {where}: {what} repeats the key {exc.key!r}; a JSON object may hold each "
                              "key once, so the file was tampered with or written by a broken tool") from None
    except RecursionError:  # the pre-scan should make this unreachable
        raise CheckpointError(f"load: {where}: {what} nests too deeply to parse") from None
    except ValueError as exc:  # json.JSONDecodeError and anything else json refuses
        raise CheckpointError(f"load: {where}: {what} is not valid JSON ({exc}); the file is damaged") from None


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _nbytes(shape, itemsize: int) -> int:
    """Bytes a tensor of ``shape`` holds, exact (Python ints never overflow)."""
    n = itemsize
    for d in shape:
        n *= d
    return n


def _too_big_for_numpy(shape, itemsize: int) -> bool:
    """NumPy refuses a shape whose non-zero dims multiply past intp, even if another dim is 0."""
    n = itemsize
    for d in shape:
        n *= max(d, 1)
    return n > _INTP_MAX


# --- turning an object into (tensors, JSON tree) and back ----------------------------

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


def _encode(obj, prefix, tensors, path, ancestors):
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
            items.append((k, _encode(v, child, tensors, f"{path}[{k!r}]", ancestors)))
        del ancestors[id(obj)]
        return dict(items) if plain else {"__dict__": [[k, v] for k, v in items]}
    if isinstance(obj, (list, tuple)):
        _enter(obj, path, ancestors)
        vals = [_encode(v, f"{prefix}.{i}" if prefix else str(i), tensors, f"{path}[{i}]", ancestors)
                for i, v in enumerate(obj)]
        del ancestors[id(obj)]
        return {"__tuple__": vals} if isinstance(obj, tuple) else vals
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, float, _np.integer, _np.floating, _np.bool_)):
        value = obj.item() if isinstance(obj, _np.generic) else obj
        if _is_int(value):
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
        if isinstance(node, _HugeInt):
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
            if isinstance(k, _HugeInt):
                raise self.bad(path, f"__dict__ key {i} is an integer literal of {k.digits} digits (at most "
                                     f"{MAX_INT_DIGITS})")
            if not (isinstance(k, str) or _is_int(k)):
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
            if device not in _DEVICES:
                raise self.bad(path, f"tensor {name!r} has unknown device {device!r}; expected one of {list(_DEVICES)}")
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


def _foreign_tree(names) -> dict:
    """The structure of a file without tinynet metadata: each tensor at its own name, on the cpu."""
    return {name: {"__tensor__": name, "device": "cpu"} for name in names}


def _parse_tree(raw: bytes, where: str, what: str):
    # JSON nesting per saved level: a dict in the {"__dict__": [[k, v]]} form takes 3, plus the tensor reference
    return _json_loads(raw, where, what, max_depth=3 * MAX_NESTING + 1, max_digits=MAX_INT_DIGITS)


def _finish(tree, dtypes: dict, read_arrays, where: str, map_location):
    """Validate ``tree`` against the tensors, resolve devices, then read the data and rebuild the object."""
    checker = _Tree(where, dtypes)
    checker.check(tree)
    checker.check_all_used()
    devices = checker.resolve_devices(map_location)
    arrays = read_arrays()
    return checker.build(tree, arrays, devices)


# --- atomic writes -------------------------------------------------------------------

def _umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux /proc), since
    ``os.umask`` can only read it by setting it, which races with threads creating files."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _make_parent(directory: str, where: str):
    """Create the folder the checkpoint goes in (as ``os.makedirs``), but say so clearly when a
    component of it is a file."""
    existing = directory
    while not os.path.lexists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    if os.path.lexists(existing) and not os.path.isdir(existing):
        raise NotADirectoryError(errno.ENOTDIR, f"save: {existing!r} is a file, not a directory, so nothing can "
                                 "be written under it; remove it or choose another path", where)
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise _reworded(exc, f"save: can't create the folder {directory!r} for {where!r}") from exc


def _check_target(target: str, where: str):
    """Refuse to replace a directory, FIFO, device or socket (only regular files are replaced)."""
    try:
        st = os.stat(target)
    except OSError:
        return  # absent (the usual case) or unreachable: _make_parent and mkstemp report it
    _refuse_non_regular(st.st_mode, where, "save")


def _fsync_directory(directory: str):
    """Flush the rename to disk (best effort; not possible on every OS or file system)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _set_new_file_mode(f, tmp: str):
    """Give the temporary file the mode ``open(path, "w")`` gives a new file (mkstemp makes it 0o600).

    Best effort: some file systems (FAT, network shares) refuse chmod, and a checkpoint
    should still be written there.
    """
    mode = 0o666 & ~_umask()
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(f.fileno(), mode)
        else:
            os.chmod(tmp, mode)
    except OSError:
        pass


def atomic_write(where: str, write):
    """Run ``write(fileobj)`` on a temporary file next to the target of ``where``, then rename it into place.

    A symlink is followed: its target is replaced and the link stays. The file gets mode
    ``0o666 & ~umask`` like any new file. On any error (a full disk, a permission, Ctrl-C) the
    temporary file is removed and the previous file is untouched.
    """
    if where.endswith(tuple(sep for sep in (os.sep, os.altsep) if sep)):
        raise IsADirectoryCheckpointError(errno.EISDIR, "save: the path ends in a separator, so it names a "
                                          "directory; add a file name such as 'checkpoint.safetensors'", where)
    target = os.path.realpath(where)
    _check_target(target, where)
    directory = os.path.dirname(target)
    _make_parent(directory, where)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-" + os.path.basename(target) + ".", dir=directory)
    except OSError as exc:
        raise _reworded(exc, f"save: can't create a temporary file in {directory!r} to write {where!r}") from exc
    try:
        try:
            f = os.fdopen(fd, "wb")
        except BaseException:
            os.close(fd)
            raise
        with f:
            _set_new_file_mode(f, tmp)
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise _reworded(exc, f"save: writing {where!r} failed; the previous file, if any, is untouched") from exc
        raise
    _fsync_directory(directory)


# --- safetensors ---------------------------------------------------------------------

def _safetensors_bytes(tensors: dict, tree_json: str) -> tuple[bytes, list]:
    header, chunks, offset = {}, [], 0
    for name, arr in tensors.items():
        code = _CODES[(arr.dtype.kind, arr.dtype.itemsize)]
        data = _np.ascontiguousarray(arr, dtype=_DTYPES[code]).tobytes()
        header[name] = {"dtype": code, "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": FORMAT, "tinynet_version": str(FORMAT_VERSION), "tinynet": tree_json}
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)  # pad to 8 bytes so the tensor section is aligned, as safetensors does
    if len(raw) > MAX_HEADER_BYTES:
        raise ValueError(f"save: the safetensors header would be {len(raw)} bytes, over the format's limit of "
                         f"{MAX_HEADER_BYTES}; store fewer tensors or less metadata (or use .npz)")
    return struct.pack("<Q", len(raw)) + raw, chunks


def _check_entry(name: str, info, where: str, data_len: int):
    """Check one tensor entry of a safetensors header against the data section's size;
    return (dtype, shape, begin, end). Sizes are exact Python ints, so no shape can overflow."""
    if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
        got = sorted(info) if isinstance(info, dict) else type(info).__name__
        raise CheckpointError(f"load: {where}: entry {name!r} must be an object with exactly dtype, shape and "
                              f"data_offsets, got {got}")
    code, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if not isinstance(code, str) or code not in _DTYPES:
        raise CheckpointError(f"load: {where}: tensor {name!r} has unsupported dtype {code!r}; tinynet reads "
                              f"{', '.join(_DTYPES)}")
    if not isinstance(shape, list) or len(shape) > _NPY_MAX_NDIM or not all(_is_int(s) and s >= 0 for s in shape):
        raise CheckpointError(f"load: {where}: tensor {name!r} has an invalid shape {shape!r}; expected a list "
                              f"of at most {_NPY_MAX_NDIM} non-negative integers")
    if (not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_int(o) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1]):
        raise CheckpointError(f"load: {where}: tensor {name!r} has invalid data_offsets {offsets!r}; expected "
                              "[begin, end] with 0 <= begin <= end")
    dtype, (begin, end) = _DTYPES[code], offsets
    need = _nbytes(shape, dtype.itemsize)
    if need > data_len:
        raise CheckpointError(
            f"load: {where}: tensor {name!r} of shape {shape} and dtype {code} needs {need} bytes, but the "
            f"file holds only {data_len} bytes of tensor data; the file is truncated or tampered with")
    if _too_big_for_numpy(shape, dtype.itemsize):
        raise CheckpointError(f"load: {where}: tensor {name!r} has shape {shape}, too large for a NumPy array")
    if end > data_len:
        raise CheckpointError(
            f"load: {where}: tensor {name!r} ends at byte {end} of the data section, past its end ({data_len} "
            "bytes); the file is truncated or tampered with")
    if end - begin != need:
        raise CheckpointError(f"load: {where}: tensor {name!r} of shape {shape} and dtype {code} needs {need} "
                              f"bytes but its data_offsets span {end - begin}")
    return dtype, tuple(shape), begin, end


def _check_spans(spans: list, where: str, data_len: int):
    """The tensors must fill the data section back to back: no overlap, no gap, nothing left over."""
    pos = 0
    for begin, end, name in sorted(spans):
        if begin != pos:
            raise CheckpointError(f"load: {where}: tensor {name!r} starts at byte {begin} of the data section, "
                                  f"expected {pos} (gap or overlap)")
        pos = end
    if pos != data_len:
        raise CheckpointError(f"load: {where}: the data section has {data_len} bytes but the tensors cover {pos}; "
                              "the file is damaged")


def _header_entries(header: dict, where: str, data_len: int) -> dict:
    """Check every tensor entry of a safetensors header; name -> (dtype, shape, begin)."""
    entries, spans = {}, []
    for name, info in header.items():
        dtype, shape, begin, end = _check_entry(name, info, where, data_len)
        entries[name] = (dtype, shape, begin)
        spans.append((begin, end, name))
    _check_spans(spans, where, data_len)
    return entries


def _metadata(meta, where: str) -> dict:
    """Check ``__metadata__``: a string-to-string map, from a tinynet version this one reads."""
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise CheckpointError(f"load: {where}: __metadata__ must map strings to strings, got {type(meta).__name__}")
    for k, v in meta.items():
        if not isinstance(v, str):
            raise CheckpointError(f"load: {where}: __metadata__[{k!r}] is {v!r}; __metadata__ must map strings "
                                  "to strings")
    version = meta.get("tinynet_version")
    if meta.get("format") == FORMAT and version is not None and version != str(FORMAT_VERSION):
        raise CheckpointError(f"load: {where} was written in tinynet checkpoint format {version!r}; this tinynet "
                              f"reads format {FORMAT_VERSION} - upgrade tinynet")
    return meta


def _load_safetensors(f, size: int, where: str, map_location):
    if size < 8:
        raise CheckpointError(f"load: {where} is not a checkpoint: {size} bytes, shorter than the 8-byte header size")
    head = _read_exact(f, 8, where, "the header size")
    (n,) = struct.unpack("<Q", head)
    if n == 0 or n > MAX_HEADER_BYTES:
        raise CheckpointError(f"load: {where}: header size {n} is out of bounds (1..{MAX_HEADER_BYTES}); the file "
                              f"is damaged or not safetensors{_sniff(head)}")
    if n > size - 8:
        raise CheckpointError(f"load: {where} is truncated: the header size says {n} bytes but the file has only "
                              f"{size - 8} after it{_sniff(head)}")
    header = _json_loads(_read_exact(f, n, where, "the header"), where, "the header",
                         max_depth=MAX_NESTING, max_digits=_HEADER_INT_DIGITS)
    if not isinstance(header, dict):
        raise CheckpointError(f"load: {where}: the header must be a JSON object, got {type(header).__name__}")
    meta = _metadata(header.pop("__metadata__", None), where)
    entries = _header_entries(header, where, size - 8 - n)
    if "tinynet" in meta:
        tree = _parse_tree(meta["tinynet"].encode("utf-8", "surrogatepass"), where,
                           "the tinynet structure in __metadata__")
    else:
        tree = _foreign_tree(entries)  # a foreign safetensors file

    def read_arrays():
        out = {}
        for name, (dtype, shape, begin) in sorted(entries.items(), key=lambda e: e[1][2]):
            arr = _np.empty(shape, dtype)
            _read_into(f, arr, where, f"tensor {name!r}")
            if dtype.kind == "b" and (arr.reshape(-1).view(_np.uint8) > 1).any():
                raise CheckpointError(f"load: {where}: bool tensor {name!r} holds bytes other than 0 and 1")
            out[name] = arr if dtype.isnative else arr.astype(dtype.newbyteorder("="))
        return {name: out[name] for name in entries}

    return _finish(tree, {name: e[0] for name, e in entries.items()}, read_arrays, where, map_location)


# --- npz -----------------------------------------------------------------------------

_TREE_KEY = "__tinynet__"
_DEFLATE_MAX_RATIO = 1032  # deflate cannot expand data more than this; a larger claim is a zip bomb
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, KeyError, IndexError,
               NotImplementedError, RuntimeError, zlib.error, struct.error, OverflowError, UnicodeDecodeError)


def _save_npz(tensors: dict, tree_json: str, f):
    """Write ``.npy`` members to a zip, exactly as ``np.savez`` does (but any tensor name works as a
    member name: ``np.savez(f, file=...)`` would clash with its own arguments)."""
    members = dict(tensors)
    members[_TREE_KEY] = _np.array(tree_json)
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, arr in members.items():
            with zf.open(name + ".npy", mode="w", force_zip64=True) as member:
                _npy.write_array(member, _np.asanyarray(arr), allow_pickle=False)


def _zip_members(zf, size: int, where: str) -> list:
    """Check the zip's directory before reading anything: only .npy members, stored or deflated,
    unencrypted, not overlapping, with uncompressed sizes deflate could really produce."""
    infos = zf.infolist()
    names = [info.filename for info in infos]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise CheckpointError(f"load: {where}: .npz member {dup!r} appears twice; the file was tampered with")
    for info in infos:
        name = info.filename
        if not name.endswith(".npy") or info.is_dir():
            raise CheckpointError(f"load: {where}: .npz member {name!r} is not a .npy array; tinynet checkpoints "
                                  "hold only .npy members (never pickle or other files)")
        if info.flag_bits & 0x1:
            raise CheckpointError(f"load: {where}: .npz member {name!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise CheckpointError(f"load: {where}: .npz member {name!r} uses zip compression method "
                                  f"{info.compress_type}; tinynet reads stored or deflated members")
        stored = info.compress_type == zipfile.ZIP_STORED
        if (stored and info.file_size != info.compress_size) or \
                info.file_size > info.compress_size * _DEFLATE_MAX_RATIO + 1024:
            raise CheckpointError(f"load: {where}: .npz member {name!r} claims {info.file_size} bytes from "
                                  f"{info.compress_size} stored bytes, more than its compression can produce "
                                  "(a zip bomb or a damaged file)")
    # a local header takes at least 30 bytes before its data; members sharing bytes are a zip bomb trick
    ranges = sorted((i.header_offset, i.header_offset + 30 + i.compress_size, i.filename) for i in infos)
    for (_, end, name), (begin, _, _) in zip(ranges, ranges[1:] + [(size, 0, "")]):
        if end > begin:
            raise CheckpointError(f"load: {where}: .npz member {name!r} overlaps the next member or runs past the "
                                  "end of the file; the file is damaged or a zip bomb")
    return infos


def _npy_header(member, name: str, where: str):
    """Read a member's .npy header (never its data); return (shape, fortran_order, dtype, header bytes)."""
    try:
        version = _npy.read_magic(member)
    except ValueError:
        raise CheckpointError(f"load: {where}: .npz member {name!r} is not a .npy array; tinynet checkpoints hold "
                              "only .npy members (never pickle or other files)") from None
    if version not in ((1, 0), (2, 0)):
        raise CheckpointError(f"load: {where}: .npz member {name!r} uses .npy format {version[0]}.{version[1]}, "
                              "which tinynet checkpoints never hold (only structured arrays need it)")
    read = _npy.read_array_header_1_0 if version == (1, 0) else _npy.read_array_header_2_0
    try:
        shape, fortran, dtype = read(member)
    except (ValueError, SyntaxError, TypeError, RecursionError, OverflowError) as exc:
        raise CheckpointError(f"load: {where}: .npz member {name!r} has a damaged .npy header ({exc})") from None
    return shape, fortran, dtype, member.tell()


def _check_npy(name: str, shape, dtype, data_len: int, where: str):
    """A tensor member must have a dtype save writes and exactly the bytes its shape needs;
    the structure member must be the 0-d string save writes."""
    if name == _TREE_KEY:
        if dtype.kind != "U" or shape != ():
            raise CheckpointError(f"load: {where}: the structure member {name!r} must be a 0-d string array, got "
                                  f"dtype {dtype} and shape {shape}")
        if dtype.itemsize > 4 * MAX_HEADER_BYTES:
            raise CheckpointError(f"load: {where}: the structure member {name!r} holds {dtype.itemsize} bytes, "
                                  f"over the limit of {4 * MAX_HEADER_BYTES}")
    elif dtype.names is not None or dtype.shape != () or (dtype.kind, dtype.itemsize) not in _CODES:
        raise CheckpointError(f"load: {where}: .npz member {name!r} has dtype {dtype}, which tinynet checkpoints "
                              "never hold (only bool, int, uint and float arrays)")
    if not (isinstance(shape, tuple) and len(shape) <= _NPY_MAX_NDIM and all(_is_int(s) and s >= 0 for s in shape)):
        raise CheckpointError(f"load: {where}: .npz member {name!r} has an invalid shape {shape!r}")
    need = _nbytes(shape, dtype.itemsize)
    if need != data_len or _too_big_for_numpy(shape, dtype.itemsize):
        raise CheckpointError(f"load: {where}: .npz member {name!r} of shape {shape} and dtype {dtype} needs "
                              f"{need} bytes but holds {data_len}; the file is damaged or tampered with")


def _read_npy_data(member, shape, fortran, dtype, name, where):
    """Read a checked member's data into a new C-ordered array in native byte order."""
    buf = _np.empty(shape[::-1] if fortran else shape, dtype)
    _read_into(member, buf, where, f".npz member {name!r}")
    if member.read(1):  # also makes zipfile check the member's CRC
        raise CheckpointError(f"load: {where}: .npz member {name!r} holds more bytes than it declares")
    arr = _np.ascontiguousarray(buf.T) if fortran else buf
    if dtype.kind == "b" and (arr.reshape(-1).view(_np.uint8) > 1).any():
        raise CheckpointError(f"load: {where}: bool array {name!r} holds bytes other than 0 and 1")
    return arr if dtype.isnative else arr.astype(dtype.newbyteorder("="))


def _tree_text(member, dtype, data_len: int, where: str) -> bytes:
    """The structure member's JSON, as UTF-8 bytes (it is stored as UTF-32, NumPy's 'U')."""
    data = _read_exact(member, data_len, where, f"the structure member {_TREE_KEY!r}")
    if member.read(1):  # also makes zipfile check the member's CRC
        raise CheckpointError(f"load: {where}: the structure member {_TREE_KEY!r} holds more bytes than it declares")
    big = dtype.byteorder == ">" or (dtype.byteorder == "=" and not _np.little_endian)
    try:
        text = data.decode("utf-32-be" if big else "utf-32-le").rstrip("\0")
    except UnicodeDecodeError as exc:
        raise CheckpointError(f"load: {where}: the structure member {_TREE_KEY!r} is not valid text ({exc})") from None
    return text.encode("utf-8", "surrogatepass")


def _npz_zip_error(exc, where: str) -> CheckpointError:
    return CheckpointError(f"load: {where} is not a readable .npz checkpoint ({type(exc).__name__}: {exc})")


def _npz_directory(zf, size: int, where: str):
    """Pass 1: check the zip directory and every member's .npy header, and parse the structure
    member; return ({name: (info, shape, fortran, dtype, data offset)}, tree or None)."""
    specs, tree = {}, None
    for info in _zip_members(zf, size, where):
        name = info.filename[:-len(".npy")]
        with zf.open(info) as member:
            shape, fortran, dtype, offset = _npy_header(member, name, where)
            _check_npy(name, shape, dtype, info.file_size - offset, where)
            if name == _TREE_KEY:
                tree = _parse_tree(_tree_text(member, dtype, info.file_size - offset, where), where,
                                   f"the tinynet structure (member {_TREE_KEY!r})")
            else:
                specs[name] = (info, shape, fortran, dtype, offset)
    return specs, tree


def _npz_arrays(zf, specs: dict, where: str) -> dict:
    """Pass 2, once everything is checked: read every member's data."""
    out = {}
    for name, (info, shape, fortran, dtype, offset) in specs.items():
        with zf.open(info) as member:
            member.read(offset)  # the .npy header, checked in pass 1
            out[name] = _read_npy_data(member, shape, fortran, dtype, name, where)
    return out


def _load_npz(f, size: int, where: str, map_location):
    head = f.read(8)
    f.seek(0)
    if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise CheckpointError(f"load: {where} is not a readable .npz checkpoint: it is not a zip archive"
                              f"{_sniff(head)}")
    try:
        zf = zipfile.ZipFile(f)
        specs, tree = _npz_directory(zf, size, where)
    except CheckpointError:
        raise
    except _ZIP_ERRORS as exc:
        raise _npz_zip_error(exc, where) from None

    def read_arrays():
        try:
            return _npz_arrays(zf, specs, where)
        except CheckpointError:
            raise
        except _ZIP_ERRORS as exc:
            raise _npz_zip_error(exc, where) from None

    if tree is None:
        tree = _foreign_tree(specs)
    return _finish(tree, {name: s[3] for name, s in specs.items()}, read_arrays, where, map_location)


# --- public API ----------------------------------------------------------------------

def save(obj, path):
    """Write ``obj`` (a nested dict/list of tensors, arrays and plain values) to ``path``.

    safetensors format unless ``path`` (str, bytes or os.PathLike) ends in ``.npz``; written
    atomically, through a symlink to its target. See the module docstring for what can be
    stored. Raises ``TypeError``/``ValueError`` naming the offending entry before touching any
    file, and an ``OSError`` naming the path when the file can't be written.
    """
    where = _path_str(path, "save")
    tensors: dict = {}
    tree = _encode(obj, "", tensors, "obj", {})
    tree_json = json.dumps(tree, separators=(",", ":"))
    if _is_npz(where):
        if _TREE_KEY in tensors:
            raise ValueError(f"save: {_TREE_KEY!r} is reserved in .npz checkpoints; rename that key")
        if len(tree_json) > MAX_HEADER_BYTES:
            raise ValueError(f"save: the structure takes {len(tree_json)} bytes of JSON, over the limit of "
                             f"{MAX_HEADER_BYTES}; store large data in arrays")
        atomic_write(where, lambda f: _save_npz(tensors, tree_json, f))
    else:
        header, chunks = _safetensors_bytes(tensors, tree_json)

        def write(f):
            f.write(header)
            for c in chunks:
                f.write(c)

        atomic_write(where, write)


def load(path, map_location=None):
    """Read a checkpoint written by :func:`save` (or any safetensors / npz file of arrays).

    ``path`` is a str, bytes or os.PathLike naming a regular file. Tensors go back to the
    device they were saved from, or to ``map_location`` ("cpu", "cuda") when given. Raises
    ``FileNotFoundError`` for a missing file, ``IsADirectoryError`` (also a ``ValueError``) for
    a directory, and :class:`CheckpointError` (a ``ValueError``) for a FIFO, device or socket
    or for a damaged or hostile file -- before reading any tensor data or returning anything.
    """
    where = _path_str(path, "load")
    f, size = _open_regular_file(where)
    with f:
        if _is_npz(where):
            return _load_npz(f, size, where, map_location)
        return _load_safetensors(f, size, where, map_location)


__all__ = ["save", "load", "atomic_write", "CheckpointError", "NotAFileError", "IsADirectoryCheckpointError"]
