"""Helpers shared by the subcommands: errors, devices, optimizers, schedulers, configs."""
from __future__ import annotations

import argparse
import math
import os

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
SCHEDULERS = ("none", "step", "cosine", "exponential", "plateau", "warmup-cosine")

# Used when neither the user nor the recipe gives a value.
GLOBAL_DEFAULTS = {"epochs": 10, "lr": 1e-3, "batch_size": 32, "optimizer": "adam", "weight_decay": 0.0,
                   "scheduler": "none"}


class CLIError(Exception):
    """A user error: printed as ``tinynet <command>: error: ...`` with exit status ``code``.

    ``message`` may be an exception; an ``OSError`` is shown as its message and file name,
    without Python's ``[Errno N]`` prefix.
    """

    def __init__(self, message, code=2):
        if isinstance(message, OSError) and message.strerror:
            name = os.fsdecode(message.filename) if message.filename is not None else None
            message = message.strerror + (f": {name!r}" if name and name not in message.strerror else "")
        super().__init__(str(message))
        self.code = code


def _number(text, kind, what):
    """Parse ``text`` as ``kind`` (int or float) for an argparse ``type=``; ``what`` names the range."""
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r} (not a finite number)")
    return value


def positive_int(text):
    """argparse type: an integer >= 1."""
    value = _number(text, int, "a positive integer (1, 2, ...)")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer (1, 2, ...), got {text!r}")
    return value


def non_negative_int(text):
    """argparse type: an integer >= 0."""
    value = _number(text, int, "an integer >= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


MAX_SEED = 2**63 - 1


def seed_int(text):
    """argparse type: a seed, an integer in [0, 2**63 - 1] (NumPy's generators take no negative seed)."""
    value = _number(text, int, f"a seed in [0, {MAX_SEED}]")
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected a seed in [0, {MAX_SEED}], got {text!r}")
    return value


def positive_float(text):
    """argparse type: a finite number > 0 (``inf`` and ``nan`` are refused)."""
    value = _number(text, float, "a finite number > 0")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def non_negative_float(text):
    """argparse type: a finite number >= 0."""
    value = _number(text, float, "a finite number >= 0")
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def probability(text):
    """argparse type: a dropout probability in [0, 1)."""
    value = _number(text, float, "a probability in [0, 1)")
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1), got {text!r}")
    return value


def int_list(text):
    """argparse type: comma-separated positive integers such as ``128,64`` (kept as the text)."""
    parts = [s.strip() for s in str(text).split(",")]
    if not parts or not all(s.isdigit() and int(s) > 0 for s in parts):
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers such as 128,64, got {text!r}")
    return text


def existing_dir(text):
    """argparse type: a folder that exists."""
    if not os.path.isdir(text):
        why = "is not a folder" if os.path.exists(text) else "does not exist"
        raise argparse.ArgumentTypeError(f"{text!r} {why}; give the folder that holds the files")
    return text


def resolve_device(name: str):
    """The Device for ``--device``; a missing GPU is a clear CLIError (exit 2)."""
    from ..backend import registry

    kind = str(name).split(":")[0].lower()
    if kind in ("cuda", "gpu"):
        if registry._probe_cuda() is None:
            reason = registry.cuda_unavailable_reason()
            raise CLIError(
                f"--device {name}: no usable GPU here ({reason}). The cuda device needs CuPy and an NVIDIA GPU: "
                "install them with `pip install \"tinynet[cuda12]\"` (or `tinynet[cuda13]`; from a checkout: "
                "`pip install -e \".[cuda12]\"`). To try the GPU code path without a GPU, set TINYNET_CUDA_SIM=1 "
                "(Numba's CUDA simulator: correct but very slow). Or use --device cpu."
            )
    try:
        return registry.get_device(name)
    except (ValueError, TypeError, RuntimeError) as exc:
        raise CLIError(f"--device {name}: {exc}") from None


def build_optimizer(name, params, lr, weight_decay=0.0, momentum=None):
    """The optimizer for ``--optimizer``; ``momentum`` None means 0.9 for SGD and 0 for RMSprop."""
    from .. import optim

    params = list(params)
    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=0.9 if momentum is None else momentum, weight_decay=weight_decay)
    if name == "adam":
        return optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "rmsprop":
        return optim.RMSprop(params, lr=lr, momentum=momentum or 0.0, weight_decay=weight_decay)
    if name == "adagrad":
        return optim.Adagrad(params, lr=lr, weight_decay=weight_decay)
    raise CLIError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


def build_scheduler(name, optimizer, epochs):
    """Per-epoch learning-rate schedules:

    * ``step``: x0.1 at 1/2 and 3/4 of the run (MultiStepLR);
    * ``cosine``: cosine decay to 0 over the run;
    * ``exponential``: x0.95 per epoch;
    * ``plateau``: x0.5 when the validation loss stalls for 3 epochs;
    * ``warmup-cosine``: linear warm-up over the first 10 % (at least 1 epoch), then cosine.
    """
    from ..optim import lr_scheduler as S

    if name in (None, "none"):
        return None
    if name == "step":
        return S.MultiStepLR(optimizer, milestones=[max(1, epochs // 2), max(2, (3 * epochs) // 4)], gamma=0.1)
    if name == "cosine":
        return S.CosineAnnealingLR(optimizer, T_max=max(1, epochs))
    if name == "exponential":
        return S.ExponentialLR(optimizer, gamma=0.95)
    if name == "plateau":
        return S.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=3)
    if name == "warmup-cosine":
        warm = max(1, epochs // 10)
        return S.SequentialLR(optimizer, [S.LinearLR(optimizer, start_factor=0.1, total_iters=warm),
                                          S.CosineAnnealingLR(optimizer, T_max=max(1, epochs - warm))],
                              milestones=[warm])
    raise CLIError(f"unknown scheduler {name!r}; choose one of {', '.join(SCHEDULERS)}")


def apply_defaults(args, recipe):
    """Fill options the user left out (None) from the recipe's defaults, then the global ones."""
    for key, value in GLOBAL_DEFAULTS.items():
        if getattr(args, key, None) is None:
            setattr(args, key, recipe.defaults.get(key, value))
    return args


def config_of(args) -> dict:
    """The JSON-able options of a run (saved in checkpoints and metrics.json)."""
    skip = {"resume", "no_progress", "command"}
    out = {}
    for k, v in vars(args).items():
        if k.startswith("_") or k in skip:
            continue
        if v is None or isinstance(v, (bool, int, float, str)):
            out[k] = v
        elif isinstance(v, (list, tuple)) and all(isinstance(a, (bool, int, float, str)) for a in v):
            out[k] = list(v)
        elif isinstance(v, os.PathLike):
            out[k] = os.fspath(v)
    return out


def load_checkpoint(path, map_location="cpu"):
    """Load and check a training checkpoint; any problem is a one-line CLIError (exit status 1)."""
    from ..serialization import load
    from .trainer import check_checkpoint

    try:
        return check_checkpoint(load(path, map_location=map_location), path)
    except (ValueError, TypeError, OSError) as exc:
        raise CLIError(exc, code=1) from None
