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

The package's modules, one job each: ``paths`` (accepting paths, opening only regular
files), ``guarded_json`` (JSON a hostile header cannot abuse), ``tree`` (an object as tensors
plus a JSON structure, and back), ``safetensors_file`` and ``npz_file`` (the two layouts),
``atomic`` (atomic writes), ``constants`` and ``errors``.

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

import io
import json

from .atomic import atomic_write
from .constants import MAX_HEADER_BYTES, MAX_INT_DIGITS, MAX_NESTING
from .npz_file import TREE_KEY, load_npz, save_npz
from .paths import is_npz, open_regular_file, path_str
from .safetensors_file import load_safetensors, safetensors_bytes
from .errors import CheckpointError, IsADirectoryCheckpointError, NotAFileError
from .tree import encode_object


def _is_file_object(f) -> bool:
    return hasattr(f, "read") or hasattr(f, "write")


def save(obj, f, **pytorch_options):
    """Write ``obj`` (a nested dict/list of tensors, arrays and plain values) to ``f``.

    ``f`` is a path (str, bytes or os.PathLike) or, as in PyTorch, a binary file object open
    for writing (``io.BytesIO()``, ``open(p, "wb")``). safetensors format unless the path (or
    the file object's ``name``) ends in ``.npz``. A path is written atomically, through a
    symlink to its target; a file object gets the bytes written at its position (the caller
    owns it). See the module docstring for what can be stored. Raises
    ``TypeError``/``ValueError`` naming the offending entry before writing anything, and an
    ``OSError`` naming the path when the file can't be written. PyTorch's pickle options
    (``pickle_protocol``, ``_use_new_zipfile_serialization``, ``pickle_module``) are accepted
    and have no effect: tinynet never pickles.
    """
    unknown = set(pytorch_options) - {"pickle_protocol", "_use_new_zipfile_serialization", "pickle_module",
                                      "_disable_byteorder_record"}
    if unknown:
        raise TypeError(f"save() got unexpected keyword argument(s) {sorted(unknown)}")
    if _is_file_object(f):
        if not hasattr(f, "write"):
            raise TypeError(f"save: the file object {f!r} has no write(); open it for writing in binary mode ('wb')")
        name = getattr(f, "name", None)
        buf = io.BytesIO()
        _write(obj, buf, isinstance(name, str) and is_npz(name))
        f.write(buf.getvalue())
        return
    where = path_str(f, "save")
    _write(obj, where, is_npz(where))


def _write(obj, target, npz: bool):
    """Encode ``obj`` (all checks first) and write it to ``target``: a path (atomically) or a
    file object."""
    tensors: dict = {}
    tree = encode_object(obj, "", tensors, "obj", {})  # every check, before anything is written
    tree_json = json.dumps(tree, separators=(",", ":"))
    if npz:
        if TREE_KEY in tensors:
            raise ValueError(f"save: {TREE_KEY!r} is reserved in .npz checkpoints; rename that key")
        if len(tree_json) > MAX_HEADER_BYTES:
            raise ValueError(f"save: the structure takes {len(tree_json)} bytes of JSON, over the limit of "
                             f"{MAX_HEADER_BYTES}; store large data in arrays")

        def write(f):
            save_npz(tensors, tree_json, f)
    else:
        header, chunks = safetensors_bytes(tensors, tree_json)

        def write(f):
            f.write(header)
            for c in chunks:
                f.write(c)

    if isinstance(target, str):
        atomic_write(target, write)
    else:
        write(target)


def _map_location(map_location):
    """PyTorch's ``map_location`` forms, reduced to a device spec or None."""
    if map_location is None or isinstance(map_location, str):
        return map_location
    if hasattr(map_location, "type") and hasattr(map_location, "xp"):  # a Device
        return map_location.type
    raise TypeError(f"load: map_location must be None, 'cpu', 'cuda' or a device, got {type(map_location).__name__} "
                    "(tinynet does not take dicts or functions here)")


def load(f, map_location=None, weights_only=True, **pytorch_options):
    """Read a checkpoint written by :func:`save` (or any safetensors / npz file of arrays).

    ``f`` is a str, bytes or os.PathLike naming a regular file or, as in PyTorch, a binary
    file object open for reading (``io.BytesIO``, ``open(p, "rb")``; read from its position
    to its end; an .npz zip is recognised by its first bytes). Tensors go back to the device
    they were saved from, or to ``map_location`` ("cpu", "cuda", a device) when given. Raises
    ``FileNotFoundError`` for a missing file, ``IsADirectoryError`` (also a ``ValueError``) for
    a directory, and :class:`CheckpointError` (a ``ValueError``) for a FIFO, device or socket
    or for a damaged or hostile file -- before reading any tensor data or returning anything.
    ``weights_only`` is accepted for PyTorch compatibility: tinynet loads only data, never
    pickle, so every load is weights-only whatever it says (``mmap`` and the other pickle
    options likewise have no effect).
    """
    unknown = set(pytorch_options) - {"mmap", "pickle_module", "encoding"}
    if unknown:
        raise TypeError(f"load() got unexpected keyword argument(s) {sorted(unknown)}")
    map_location = _map_location(map_location)
    if _is_file_object(f):
        if not hasattr(f, "read"):
            raise TypeError(f"load: the file object {f!r} has no read(); open it for reading in binary mode ('rb')")
        data = f.read()
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError("load: the file object returned text; open it in binary mode ('rb')")
        where = str(getattr(f, "name", "<file object>"))
        buf = io.BytesIO(data)
        if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            return load_npz(buf, len(data), where, map_location)
        return load_safetensors(buf, len(data), where, map_location)
    where = path_str(f, "load")
    fh, size = open_regular_file(where)
    with fh:
        if is_npz(where):
            return load_npz(fh, size, where, map_location)
        return load_safetensors(fh, size, where, map_location)


__all__ = ["save", "load", "atomic_write", "MAX_NESTING", "MAX_INT_DIGITS", "CheckpointError", "NotAFileError", "IsADirectoryCheckpointError"]
