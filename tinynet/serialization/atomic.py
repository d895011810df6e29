"""Atomic file writes: temporary file, fsync, rename; umask-respecting, symlink-following."""
from __future__ import annotations

import errno
import os
import tempfile

from .errors import IsADirectoryCheckpointError
from .paths import refuse_non_regular, reworded


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
        raise reworded(exc, f"save: can't create the folder {directory!r} for {where!r}") from exc


def _check_target(target: str, where: str):
    """Refuse to replace a directory, FIFO, device or socket (only regular files are replaced)."""
    try:
        st = os.stat(target)
    except OSError:
        return  # absent (the usual case) or unreachable: _make_parent and mkstemp report it
    refuse_non_regular(st.st_mode, where, "save")


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
        raise reworded(exc, f"save: can't create a temporary file in {directory!r} to write {where!r}") from exc
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
            raise reworded(exc, f"save: writing {where!r} failed; the previous file, if any, is untouched") from exc
        raise
    _fsync_directory(directory)
