"""Anomaly detection (PyTorch's ``torch.autograd.detect_anomaly`` / ``set_detect_anomaly``).

While it is on:

* every node an op records remembers where in the user's code it was created (a short
  traceback of the forward call);
* during ``backward`` (and ``autograd.grad``), a gradient containing NaN produced by a
  node raises ``RuntimeError("Function 'MulBackward' returned nan values in its 0th
  output.")``, and the traceback of the forward call that made that node is printed to
  stderr and appended to the message, which points straight at the culprit.

No cost when off: the forward recording is installed by wrapping ``Op.apply`` only while
the mode is on (and removed after), and the backward check is one flag test per node.
"""
from __future__ import annotations

import functools
import sys
import traceback
import warnings

from .op import Op

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "is_anomaly_check_nan_enabled"]


class _AnomalyState:
    __slots__ = ("enabled", "check_nan")

    def __init__(self):
        self.enabled = False
        self.check_nan = True


ANOMALY = _AnomalyState()

#: how many frames of the forward call a node keeps
TRACE_DEPTH = 12

_plain_apply = Op.__dict__["apply"]


def _recording_apply(cls, *inputs, **params):
    """``Op.apply`` that also stores the forward's traceback on the node it records."""
    out = _plain_apply.__func__(cls, *inputs, **params)
    fn = out.grad_fn
    if fn is not None and "_anomaly_trace" not in fn.__dict__:
        fn._anomaly_trace = traceback.format_list(traceback.extract_stack(limit=TRACE_DEPTH + 1)[:-1])
    return out


_RECORDING_APPLY = classmethod(_recording_apply)


def _set(mode: bool, check_nan: bool):
    ANOMALY.enabled, ANOMALY.check_nan = bool(mode), bool(check_nan)
    Op.apply = _RECORDING_APPLY if mode else _plain_apply


def is_anomaly_enabled() -> bool:
    """True while anomaly detection is on."""
    return ANOMALY.enabled


def is_anomaly_check_nan_enabled() -> bool:
    """True while anomaly detection also checks the gradients for NaN."""
    return ANOMALY.check_nan


def node_name(fn) -> str:
    """A node's name in PyTorch's style: ``MulBackward``; a custom Function's ``CubeBackward``."""
    cls = getattr(fn, "fn_cls", None) or type(fn)
    return f"{cls.__name__}Backward"


def check_nan(fn, in_grads, xp_isnan):
    """Raise if a gradient ``fn`` produced (arrays or Tensors, None allowed) holds NaN,
    printing the forward traceback the node recorded. Called by the engine in anomaly mode."""
    for i, g in enumerate(in_grads):
        if g is None:
            continue
        arr = getattr(g, "array", g)
        if arr.dtype.kind in "fc" and bool(xp_isnan(arr).any()):
            name = node_name(fn)
            trace = fn.__dict__.get("_anomaly_trace")
            where = ("\n\nTraceback of forward call that caused the error:\n" + "".join(trace)) if trace else \
                "\n\n(no forward traceback: the node was recorded before anomaly detection was turned on)"
            print(f"tinynet anomaly detection: error detected in {name}.{where}", file=sys.stderr)
            raise RuntimeError(f"Function '{name}' returned nan values in its {i}th output.{where}")


class set_detect_anomaly:
    """Turn anomaly detection on or off: at once when called (``set_detect_anomaly(True)``),
    and, used as a context manager, back to the previous setting on exit."""

    def __init__(self, mode: bool, check_nan: bool = True):
        self.prev = (ANOMALY.enabled, ANOMALY.check_nan)
        _set(mode, check_nan)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _set(*self.prev)
        return False


class detect_anomaly:
    """Context manager and decorator that turns anomaly detection on (see the module
    docstring): ``with tn.autograd.detect_anomaly(): loss.backward()`` or
    ``@tn.autograd.detect_anomaly()``. ``check_nan=False`` records tracebacks without
    the NaN check. Warns that it slows things down, as PyTorch does."""

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan
        self.prev = None
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime and should only be "
                      "enabled for debugging.", stacklevel=2)

    def __enter__(self):
        self.prev = (ANOMALY.enabled, ANOMALY.check_nan)
        _set(True, self.check_nan)
        return self

    def __exit__(self, *exc):
        _set(*self.prev)
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.__class__.__new__(self.__class__)._fresh(self.check_nan):
                return func(*args, **kwargs)

        return wrapper

    def _fresh(self, check_nan):
        self.check_nan, self.prev = check_nan, None
        return self
