"""The recipe registry: :class:`Setup`, :func:`register`, :data:`RECIPES` (see ``tinynet.cli.recipes``).

Kept apart from the package ``__init__`` so that the recipe modules import it without
importing the package that imports them (no import circle).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as _np

from ...tensor.tensor import Tensor

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
class InputCodec:
    """How a recipe's model inputs relate to its dataset's *raw* samples, so that a teacher
    trained by one recipe can be fed the batches another recipe's student trains on
    (``tinynet train --teacher``).

    ``dataset`` names the raw sample format (two codecs with the same ``dataset`` agree on
    it; for ``digits``: ``(N, 64)`` pixel values in [0, 1]); ``to_raw(x)`` maps a batch of
    model inputs back to raw samples and ``from_raw(r)`` maps raw samples to model inputs.
    Both take and return Tensors on the batch's device. Adapting a student batch ``x`` for
    the teacher is then ``teacher.from_raw(student.to_raw(x))``: e.g. undo the MLP's
    standardization and reshape ``(N, 64)`` to the CNN's ``(N, 1, 8, 8)`` images.
    """

    dataset: str
    to_raw: Callable
    from_raw: Callable
    describe: str = ""


def array_codec(dataset: str, to_raw, from_raw, describe: str = "") -> InputCodec:
    """An :class:`InputCodec` from two functions on raw arrays (``xp`` is the batch device's
    array module): inputs carry no gradient, so the mapping needs no autograd."""
    def wrap(fn):
        def on_tensor(x):
            return Tensor._make(fn(x.array, x.device.xp), x.device)
        return on_tensor

    return InputCodec(dataset, wrap(to_raw), wrap(from_raw), describe)


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
    #: How the model's inputs map to and from the dataset's raw samples (None: no mapping
    #: known, so a teacher of another recipe cannot be fed this recipe's batches).
    inputs: InputCodec | None = None

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
