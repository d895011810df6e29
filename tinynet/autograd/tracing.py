"""The tracing hook slot: how an exporter (``tinynet.onnx``) sees the ops a forward runs.

The autograd core owns the slot; an exporter fills it. While ``tracer`` is None (always,
except inside an export) every op pays one global ``is not None`` check and nothing else. While
it holds an object, ``Op.apply`` hands each differentiable op to ``tracer.trace_op(cls,
inputs, params)``, which runs the op itself (with the slot cleared, so the op's own work is
not recorded twice) and records it. Ops that never go through ``Op.apply`` (comparisons
such as ``ids == pad_id``, which have no gradient) report themselves with
:func:`note`.

Layering: ``tinynet.onnx`` imports this module, never the reverse, so the core does not
depend on any exporter. The slot is mirrored into ``op._TRACER`` (a module global of
``op.py``) so that ``Op.apply``'s check is a single global load.
"""
from __future__ import annotations

from . import op as _op

#: The active tracer, or None. Set only through :func:`install` / :func:`uninstall`.
tracer = None


def _set(value) -> None:
    global tracer
    tracer = value
    _op._TRACER = value


def install(new_tracer) -> None:
    """Make ``new_tracer`` receive every op; refuses nested tracing (one export at a time)."""
    if tracer is not None:
        raise RuntimeError("tracing: a tracer is already active (an export is running); tracing does not nest")
    _set(new_tracer)


def uninstall() -> None:
    """Stop tracing (safe to call when nothing is installed)."""
    _set(None)


def suspended():
    """Context manager: run code with the slot cleared, then put the tracer back."""
    return _Suspend()


class _Suspend:
    def __enter__(self):
        self.saved = tracer
        _set(None)
        return self.saved

    def __exit__(self, *exc):
        _set(self.saved)
        return False


def note(name: str, inputs, params: dict, output) -> None:
    """Report a non-differentiable op (``name`` e.g. "equal") that produced Tensor ``output``
    from Tensors ``inputs``; a no-op unless a tracer is active."""
    if tracer is not None:
        tracer.trace_plain(name, inputs, params, output)
