"""Gradient mode: whether ops record a graph.

``no_grad`` works as a context manager and as a decorator, like PyTorch's.
"""
from __future__ import annotations

import functools


class _GradState:
    __slots__ = ("enabled",)

    def __init__(self):
        self.enabled = True


STATE = _GradState()


def is_grad_enabled() -> bool:
    """True when new ops record the graph needed for ``backward``."""
    return STATE.enabled


class set_grad_enabled:
    """Context manager (and decorator) that sets gradient recording on or off."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self.prev = None

    def __enter__(self):
        self.prev = STATE.enabled
        STATE.enabled = self.mode
        return self

    def __exit__(self, *exc):
        STATE.enabled = self.prev
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(self.mode):
                return func(*args, **kwargs)

        return wrapper


class no_grad(set_grad_enabled):
    """Disable graph recording: ``with tn.no_grad(): ...`` or ``@tn.no_grad()``.

    Also usable bare as a decorator: ``@tn.no_grad``.
    """

    def __new__(cls, func=None):
        self = super().__new__(cls)
        if callable(func):  # used as @no_grad without parentheses
            self.__init__()
            return self(func)
        return self

    def __init__(self, func=None):
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Re-enable graph recording inside a ``no_grad`` block."""

    def __init__(self):
        super().__init__(True)


class inference_mode(set_grad_enabled):
    """PyTorch's ``torch.inference_mode(mode=True)``: like :class:`no_grad` for running a model.

    ``with tn.inference_mode(): y = model(x)`` or ``@tn.inference_mode()`` (or bare
    ``@tn.inference_mode``). PyTorch additionally marks the results as "inference tensors"
    that can never join a graph later, which lets it skip version counting; tinynet's
    no-grad path already skips that bookkeeping, so here the two modes are the same thing.
    ``inference_mode(False)`` leaves recording as it is (PyTorch's meaning: not in
    inference mode), so it can switch the mode off inside an inference block only together
    with ``enable_grad``.
    """

    def __new__(cls, mode=True):
        self = super().__new__(cls)
        if callable(mode):  # used as @inference_mode without parentheses
            self.__init__()
            return self(mode)
        return self

    def __init__(self, mode=True):
        super().__init__(False)
        self.active = bool(mode)

    def __enter__(self):
        self.prev = STATE.enabled
        if self.active:
            STATE.enabled = False
            _INFERENCE[0] += 1
        return self

    def __exit__(self, *exc):
        STATE.enabled = self.prev
        if self.active:
            _INFERENCE[0] -= 1
        return False

    def __call__(self, func):
        active = self.active

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with inference_mode(active):
                return func(*args, **kwargs)

        return wrapper


#: How many ``inference_mode`` blocks are open.
_INFERENCE = [0]


def is_inference_mode_enabled() -> bool:
    """True inside an ``inference_mode()`` block (not merely under ``no_grad``)."""
    return _INFERENCE[0] > 0
