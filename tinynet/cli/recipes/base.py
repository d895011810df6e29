"""The recipe registry: :class:`Setup`, :func:`register`, :data:`RECIPES` (see ``tinynet.cli.recipes``).

Kept apart from the package ``__init__`` so that the recipe modules import it without
importing the package that imports them (no import circle).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as _np

RECIPES: dict[str, "Recipe"] = {}

TASKS = ("classification", "regression")


def default_forward(model, batch):
    """``x, y = batch``; returns ``(model(x), y)``."""
    x, y = batch[0], batch[1]
    return model(x), y


def default_predict(outputs):
    """Predicted labels: arg-max over the class axis (axis 1), as a host NumPy array."""
    data = outputs.detach().numpy()
    return _np.argmax(data, axis=1) if data.ndim > 1 else (data > 0).astype(_np.int64)


@dataclass
class Setup:
    """What a recipe returns (see the module docstring)."""

    model: Any
    train_loader: Any
    loss_fn: Callable
    val_loader: Any = None
    test_loader: Any = None
    task: str = "classification"
    num_classes: int | None = None
    forward: Callable = default_forward
    predict: Callable = default_predict
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"Setup: task must be one of {TASKS}, got {self.task!r}")


@dataclass
class Recipe:
    name: str
    build: Callable
    datasets: tuple
    defaults: dict
    add_arguments: Callable | None
    help: str


def register(name: str, datasets, defaults=None, add_arguments=None, help: str = ""):
    """Decorator: register ``fn(args) -> Setup`` as the recipe for ``--model name``."""
    datasets = tuple(datasets)
    if not datasets:
        raise ValueError(f"register({name!r}): a recipe needs at least one dataset")

    def deco(fn):
        if name in RECIPES and RECIPES[name].build is not fn:
            raise ValueError(f"register: a recipe for --model {name!r} already exists ({RECIPES[name].build.__module__})")
        RECIPES[name] = Recipe(name, fn, datasets, dict(defaults or {}), add_arguments, help)
        return fn

    return deco


def get(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(sorted(RECIPES))}") from None
