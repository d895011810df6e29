"""RemovableHandle: what ``register_hook`` (tensors) and ``register_*_hook`` (modules) return."""
from __future__ import annotations

import itertools

_IDS = itertools.count()


class RemovableHandle:
    """``handle.remove()`` unregisters the hook (idempotent); also a context manager that
    removes it on exit (``with t.register_hook(h): ...``), as PyTorch's handle."""

    def __init__(self, hooks: dict):
        self.id = next(_IDS)
        self._hooks = hooks

    def remove(self):
        if self._hooks is not None:
            self._hooks.pop(self.id, None)
            self._hooks = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


def add_hook(hooks: dict, hook, prepend: bool = False) -> RemovableHandle:
    """Insert ``hook`` into the ordered ``{id: hook}`` dict (at the front with ``prepend``)."""
    if not callable(hook):
        raise TypeError(f"a hook must be callable, got {type(hook).__name__}")
    handle = RemovableHandle(hooks)
    if prepend:
        rest = dict(hooks)
        hooks.clear()
        hooks[handle.id] = hook
        hooks.update(rest)
    else:
        hooks[handle.id] = hook
    return handle
