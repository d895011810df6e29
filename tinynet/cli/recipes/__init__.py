"""Training recipes: what ``tinynet train --model NAME`` builds.

A recipe turns the parsed command-line arguments into everything the
:class:`~tinynet.cli.trainer.Trainer` needs: the model, the data loaders, the loss and the
kind of task. One module per family registers its recipes (``mlp.py`` here; ``cnn.py`` and
``sequence.py`` by the CNN and sequence-model work) and is imported at the bottom of this
file, so ``--model`` choices and ``tinynet evaluate`` find them.

Writing a recipe
----------------
::

    from tinynet.cli.recipes import Setup, register

    def _add_arguments(group):              # optional: options only this recipe reads
        group.add_argument("--channels", type=int, default=16, help="...")

    @register("cnn", datasets=("digits",), add_arguments=_add_arguments,
              defaults={"epochs": 20, "lr": 1e-3, "batch_size": 64, "optimizer": "adam"},
              help="LeNet-style CNN")
    def cnn_recipe(args) -> Setup:
        train, val, test = ...                # datasets for args.dataset, split with args.seed
        return Setup(
            model=..., train_loader=DataLoader(train, args.batch_size, shuffle=True, seed=args.seed),
            val_loader=..., test_loader=..., loss_fn=F.cross_entropy, task="classification",
            num_classes=10)

The contract:

* ``register(name, datasets, defaults=None, add_arguments=None, help="")``. ``name`` is the
  ``--model`` value and must be unique. ``datasets`` lists the ``--dataset`` values the recipe
  accepts (the first is the default). ``defaults`` fills ``epochs``, ``lr``, ``batch_size``,
  ``optimizer``, ``weight_decay``, ``scheduler``, ``momentum`` when the user does not give
  them. ``add_arguments(group)`` adds recipe-specific options to ``tinynet train`` (names
  must not clash with other recipes'; prefix them if in doubt); their values are saved in
  the checkpoint's config.
* The recipe function receives the ``argparse.Namespace`` (``args.model``, ``args.dataset``,
  ``args.batch_size``, ``args.seed``, ``args.device`` ... with defaults already applied) and
  returns a :class:`Setup`. It is called again, with the saved config, by ``tinynet
  evaluate`` (and ``generate``), so it must build the same model and splits from the same
  arguments: derive every random choice from ``args.seed``. The global generator is seeded
  with ``args.seed`` just before the call; move nothing to the device yourself (the trainer
  moves the model to ``args.device``, and the loaders should be built with
  ``device=args.device``).
* Losses are computed as ``loss_fn(outputs, targets)`` where ``outputs, targets =
  setup.forward(model, batch)``; the default ``forward`` does ``x, y = batch; return model(x), y``.
  For classification, predicted labels are ``setup.predict(outputs)`` (default: arg-max over
  axis 1, the class axis of ``(N, C)`` or ``(N, C, T)`` outputs); language models whose
  outputs are ``(N, T, V)`` pass ``predict=lambda out: out.numpy().argmax(-1)``.
* ``task`` is "classification" (accuracy, precision/recall/F1, confusion matrix are
  reported) or "regression" (loss only).
* ``extra`` is a dict of plain data (numbers, strings, lists) stored in the checkpoint, e.g.
  a tokenizer's vocabulary for ``tinynet generate``.
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


# Recipe modules: one import line each (they register themselves).
from . import mlp  # noqa: E402,F401
from . import cnn  # noqa: E402,F401
from . import sequence  # noqa: E402,F401
