"""The errors a damaged, hostile or misplaced checkpoint raises (all ``ValueError``)."""
from __future__ import annotations


class CheckpointError(ValueError):
    """A file that is not a valid tinynet checkpoint: damaged, truncated, tampered with or hostile."""


class NotAFileError(CheckpointError):
    """The path names a FIFO, device, socket or other non-regular file (never opened or read)."""


class IsADirectoryCheckpointError(IsADirectoryError, NotAFileError):
    """The path names a directory: an ``IsADirectoryError`` (an ``OSError``) and a ``ValueError``,
    so callers catching either one handle it."""
