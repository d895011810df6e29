"""JSON parsing that a hostile header cannot abuse: depth pre-scan, duplicate keys, huge ints."""
from __future__ import annotations

import json

import numpy as _np

from .constants import INTP_MAX
from .errors import CheckpointError


class HugeInt:
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


def json_loads(raw: bytes, where: str, what: str, max_depth: int, max_digits: int):
    """Parse untrusted JSON: depth pre-scanned, duplicate keys refused, long integers kept as
    :class:`HugeInt` for the caller to refuse by key. Errors are ``CheckpointError`` naming ``where``."""
    pos = _too_deep_at(raw, max_depth)
    if pos is not None:
        near = raw[max(0, pos - 40):pos + 1].decode("utf-8", "replace")
        raise CheckpointError(f"load: {where}: {what} nests deeper than {max_depth} levels (at byte {pos}, "
                              f"near {near!r}); no tinynet checkpoint does - the file is damaged or hostile")

    def parse_int(literal):
        digits = len(literal) - literal.startswith("-")
        return HugeInt(digits) if digits > max_digits else int(literal)

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


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def nbytes_of(shape, itemsize: int) -> int:
    """Bytes a tensor of ``shape`` holds, exact (Python ints never overflow)."""
    n = itemsize
    for d in shape:
        n *= d
    return n


def too_big_for_numpy(shape, itemsize: int) -> bool:
    """NumPy refuses a shape whose non-zero dims multiply past intp, even if another dim is 0."""
    n = itemsize
    for d in shape:
        n *= max(d, 1)
    return n > INTP_MAX
