"""Reading and writing ``.npz`` checkpoints: zip members checked by hand, never ``allow_pickle``."""
from __future__ import annotations

import struct
import zipfile
import zlib

import numpy as _np
from numpy.lib import format as _npy

from .constants import MAX_HEADER_BYTES, CODES, NPY_MAX_NDIM
from .errors import CheckpointError
from .guarded_json import is_int, nbytes_of, too_big_for_numpy
from .paths import read_exact, read_into, sniff_format
from .tree import foreign_tree, parse_tree, rebuild_object


TREE_KEY = "__tinynet__"
_DEFLATE_MAX_RATIO = 1032  # deflate cannot expand data more than this; a larger claim is a zip bomb
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, KeyError, IndexError,
               NotImplementedError, RuntimeError, zlib.error, struct.error, OverflowError, UnicodeDecodeError)


def save_npz(tensors: dict, tree_json: str, f):
    """Write ``.npy`` members to a zip, exactly as ``np.savez`` does (but any tensor name works as a
    member name: ``np.savez(f, file=...)`` would clash with its own arguments)."""
    members = dict(tensors)
    members[TREE_KEY] = _np.array(tree_json)
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
    if name == TREE_KEY:
        if dtype.kind != "U" or shape != ():
            raise CheckpointError(f"load: {where}: the structure member {name!r} must be a 0-d string array, got "
                                  f"dtype {dtype} and shape {shape}")
        if dtype.itemsize > 4 * MAX_HEADER_BYTES:
            raise CheckpointError(f"load: {where}: the structure member {name!r} holds {dtype.itemsize} bytes, "
                                  f"over the limit of {4 * MAX_HEADER_BYTES}")
    elif dtype.names is not None or dtype.shape != () or (dtype.kind, dtype.itemsize) not in CODES:
        raise CheckpointError(f"load: {where}: .npz member {name!r} has dtype {dtype}, which tinynet checkpoints "
                              "never hold (only bool, int, uint and float arrays)")
    if not (isinstance(shape, tuple) and len(shape) <= NPY_MAX_NDIM and all(is_int(s) and s >= 0 for s in shape)):
        raise CheckpointError(f"load: {where}: .npz member {name!r} has an invalid shape {shape!r}")
    need = nbytes_of(shape, dtype.itemsize)
    if need != data_len or too_big_for_numpy(shape, dtype.itemsize):
        raise CheckpointError(f"load: {where}: .npz member {name!r} of shape {shape} and dtype {dtype} needs "
                              f"{need} bytes but holds {data_len}; the file is damaged or tampered with")


def _read_npy_data(member, shape, fortran, dtype, name, where):
    """Read a checked member's data into a new C-ordered array in native byte order."""
    buf = _np.empty(shape[::-1] if fortran else shape, dtype)
    read_into(member, buf, where, f".npz member {name!r}")
    if member.read(1):  # also makes zipfile check the member's CRC
        raise CheckpointError(f"load: {where}: .npz member {name!r} holds more bytes than it declares")
    arr = _np.ascontiguousarray(buf.T) if fortran else buf
    if dtype.kind == "b" and (arr.reshape(-1).view(_np.uint8) > 1).any():
        raise CheckpointError(f"load: {where}: bool array {name!r} holds bytes other than 0 and 1")
    return arr if dtype.isnative else arr.astype(dtype.newbyteorder("="))


def _tree_text(member, dtype, data_len: int, where: str) -> bytes:
    """The structure member's JSON, as UTF-8 bytes (it is stored as UTF-32, NumPy's 'U')."""
    data = read_exact(member, data_len, where, f"the structure member {TREE_KEY!r}")
    if member.read(1):  # also makes zipfile check the member's CRC
        raise CheckpointError(f"load: {where}: the structure member {TREE_KEY!r} holds more bytes than it declares")
    big = dtype.byteorder == ">" or (dtype.byteorder == "=" and not _np.little_endian)
    try:
        text = data.decode("utf-32-be" if big else "utf-32-le").rstrip("\0")
    except UnicodeDecodeError as exc:
        raise CheckpointError(f"load: {where}: the structure member {TREE_KEY!r} is not valid text ({exc})") from None
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
            if name == TREE_KEY:
                tree = parse_tree(_tree_text(member, dtype, info.file_size - offset, where), where,
                                   f"the tinynet structure (member {TREE_KEY!r})")
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


def load_npz(f, size: int, where: str, map_location):
    head = f.read(8)
    f.seek(0)
    if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise CheckpointError(f"load: {where} is not a readable .npz checkpoint: it is not a zip archive"
                              f"{sniff_format(head)}")
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
        tree = foreign_tree(specs)
    return rebuild_object(tree, {name: s[3] for name, s in specs.items()}, read_arrays, where, map_location)
