"""Reading and writing the safetensors layout (header length, JSON header, tensor bytes)."""
from __future__ import annotations

import json
import struct

import numpy as _np

from .constants import FORMAT, FORMAT_VERSION, MAX_HEADER_BYTES, MAX_NESTING, CODES, DTYPES, HEADER_INT_DIGITS, NPY_MAX_NDIM
from .errors import CheckpointError
from .guarded_json import is_int, json_loads, nbytes_of, too_big_for_numpy
from .paths import read_exact, read_into, sniff_format
from .tree import foreign_tree, parse_tree, rebuild_object


def safetensors_bytes(tensors: dict, tree_json: str) -> tuple[bytes, list]:
    header, chunks, offset = {}, [], 0
    for name, arr in tensors.items():
        code = CODES[(arr.dtype.kind, arr.dtype.itemsize)]
        data = _np.ascontiguousarray(arr, dtype=DTYPES[code]).tobytes()
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
    if not isinstance(code, str) or code not in DTYPES:
        raise CheckpointError(f"load: {where}: tensor {name!r} has unsupported dtype {code!r}; tinynet reads "
                              f"{', '.join(DTYPES)}")
    if not isinstance(shape, list) or len(shape) > NPY_MAX_NDIM or not all(is_int(s) and s >= 0 for s in shape):
        raise CheckpointError(f"load: {where}: tensor {name!r} has an invalid shape {shape!r}; expected a list "
                              f"of at most {NPY_MAX_NDIM} non-negative integers")
    if (not isinstance(offsets, list) or len(offsets) != 2 or not all(is_int(o) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1]):
        raise CheckpointError(f"load: {where}: tensor {name!r} has invalid data_offsets {offsets!r}; expected "
                              "[begin, end] with 0 <= begin <= end")
    dtype, (begin, end) = DTYPES[code], offsets
    need = nbytes_of(shape, dtype.itemsize)
    if need > data_len:
        raise CheckpointError(
            f"load: {where}: tensor {name!r} of shape {shape} and dtype {code} needs {need} bytes, but the "
            f"file holds only {data_len} bytes of tensor data; the file is truncated or tampered with")
    if too_big_for_numpy(shape, dtype.itemsize):
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


def load_safetensors(f, size: int, where: str, map_location):
    if size < 8:
        raise CheckpointError(f"load: {where} is not a checkpoint: {size} bytes, shorter than the 8-byte header size")
    head = read_exact(f, 8, where, "the header size")
    (n,) = struct.unpack("<Q", head)
    if n == 0 or n > MAX_HEADER_BYTES:
        raise CheckpointError(f"load: {where}: header size {n} is out of bounds (1..{MAX_HEADER_BYTES}); the file "
                              f"is damaged or not safetensors{sniff_format(head)}")
    if n > size - 8:
        raise CheckpointError(f"load: {where} is truncated: the header size says {n} bytes but the file has only "
                              f"{size - 8} after it{sniff_format(head)}")
    header = json_loads(read_exact(f, n, where, "the header"), where, "the header",
                         max_depth=MAX_NESTING, max_digits=HEADER_INT_DIGITS)
    if not isinstance(header, dict):
        raise CheckpointError(f"load: {where}: the header must be a JSON object, got {type(header).__name__}")
    meta = _metadata(header.pop("__metadata__", None), where)
    entries = _header_entries(header, where, size - 8 - n)
    if "tinynet" in meta:
        tree = parse_tree(meta["tinynet"].encode("utf-8", "surrogatepass"), where,
                           "the tinynet structure in __metadata__")
    else:
        tree = foreign_tree(entries)  # a foreign safetensors file

    def read_arrays():
        out = {}
        for name, (dtype, shape, begin) in sorted(entries.items(), key=lambda e: e[1][2]):
            arr = _np.empty(shape, dtype)
            read_into(f, arr, where, f"tensor {name!r}")
            if dtype.kind == "b" and (arr.reshape(-1).view(_np.uint8) > 1).any():
                raise CheckpointError(f"load: {where}: bool tensor {name!r} holds bytes other than 0 and 1")
            out[name] = arr if dtype.isnative else arr.astype(dtype.newbyteorder("="))
        return {name: out[name] for name in entries}

    return rebuild_object(tree, {name: e[0] for name, e in entries.items()}, read_arrays, where, map_location)
