"""Paths and reading: accept str/bytes/PathLike, open only regular files, read exact byte counts."""
from __future__ import annotations

import errno
import os
import stat

import numpy as _np

from .errors import CheckpointError, IsADirectoryCheckpointError, NotAFileError


def path_str(path, op: str) -> str:
    """``path`` (str, bytes or os.PathLike) as a str, the form every message shows."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"{op}: the path must be a str, bytes or os.PathLike, got {type(path).__name__}")
    where = os.fsdecode(path)
    if not where:
        raise ValueError(f"{op}: the path is empty; give a file name such as 'checkpoint.safetensors'")
    if "\0" in where:
        raise ValueError(f"{op}: the path {where!r} contains a NUL character, which no file name can hold")
    return where


def is_npz(where: str) -> bool:
    return where.lower().endswith(".npz")


def _file_kind(mode: int) -> str:
    """Words for a non-regular file type, for messages."""
    for test, words in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                        (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                        (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return words
    return "not a regular file"


def refuse_non_regular(mode: int, where: str, op: str):
    """Raise unless ``mode`` is a regular file's: reading a FIFO blocks forever and /dev/zero never ends."""
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise IsADirectoryCheckpointError(
            errno.EISDIR, f"{op}: the path is a directory, not a checkpoint file; name the file itself, "
            "e.g. os.path.join(folder, 'checkpoint.safetensors')", where)
    raise NotAFileError(f"{op}: {where} is {_file_kind(mode)}, not a regular file; tinynet only "
                        f"{'reads' if op == 'load' else 'writes'} checkpoints stored as regular files")


def reworded(exc: OSError, message: str) -> OSError:
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


def open_regular_file(where: str):
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
        raise reworded(exc, f"load: can't read checkpoint {where!r}") from None
    refuse_non_regular(st.st_mode, where, "load")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(where, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise reworded(exc, f"load: can't open checkpoint {where!r}") from None
    try:
        st = os.fstat(fd)
        refuse_non_regular(st.st_mode, where, "load")
        return os.fdopen(fd, "rb"), st.st_size
    except BaseException:
        os.close(fd)
        raise


def sniff_format(head: bytes) -> str:
    """A hint about what a file that isn't the expected format looks like, for messages."""
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return ("; it is a zip archive (an .npz checkpoint needs a name ending in .npz; a PyTorch .pt file "
                "holds pickle, which tinynet never loads)")
    if head.startswith(b"\x93NUMPY"):
        return "; it is a single .npy array, not a checkpoint"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "; it is a pickle, which tinynet never loads because loading pickle can run arbitrary code"
    return ""


def read_exact(f, n: int, where: str, what: str) -> bytes:
    """Read exactly ``n`` bytes (``n`` is already checked against the file size)."""
    data = f.read(n)
    if len(data) != n:
        raise CheckpointError(f"load: {where}: the file ended while reading {what} (it changed while being read?)")
    return data


def read_into(f, arr, where: str, what: str):
    """Fill ``arr`` (freshly allocated, contiguous) with the next ``arr.nbytes`` bytes of ``f``."""
    view = memoryview(arr.reshape(-1).view(_np.uint8))
    got = 0
    while got < len(view):
        n = f.readinto(view[got:got + (1 << 24)])  # chunks bound the temporary copy a zip member makes
        if not n:
            raise CheckpointError(f"load: {where}: the file ended while reading {what} (it changed while being read?)")
        got += n
