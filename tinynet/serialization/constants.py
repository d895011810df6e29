"""Format constants: the safetensors dtype table, size and nesting limits."""
from __future__ import annotations

import numpy as _np


FORMAT = "tinynet"
FORMAT_VERSION = 1
MAX_HEADER_BYTES = 100 * 1024 * 1024  # the safetensors package's own limit
MAX_NESTING = 64  # containers (dicts, lists, tuples) nested inside each other in a saved object
MAX_INT_DIGITS = 1000  # ints in the structure: far beyond any counter, seed or RNG state
HEADER_INT_DIGITS = 20  # a uint64 has at most 20 digits; no valid shape or offset has more
NPY_MAX_NDIM = 64  # NumPy 2's limit on array dimensions
INTP_MAX = int(_np.iinfo(_np.intp).max)  # NumPy cannot make an array of more bytes
DEVICES = ("cpu", "cuda")  # what save writes as a tensor's device

# safetensors dtype names <-> NumPy dtypes (stored little-endian)
DTYPES = {
    "F64": _np.dtype("<f8"), "F32": _np.dtype("<f4"), "F16": _np.dtype("<f2"),
    "I64": _np.dtype("<i8"), "I32": _np.dtype("<i4"), "I16": _np.dtype("<i2"), "I8": _np.dtype("i1"),
    "U64": _np.dtype("<u8"), "U32": _np.dtype("<u4"), "U16": _np.dtype("<u2"), "U8": _np.dtype("u1"),
    "BOOL": _np.dtype("?"),
}
CODES = {(dt.kind, dt.itemsize): code for code, dt in DTYPES.items()}
