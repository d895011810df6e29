"""Training recipes: what ``tinynet train --model NAME`` builds.

A recipe turns the parsed command-line arguments into everything the
:class:`~tinynet.cli.trainer.Trainer` needs: the model, the data loaders, the loss and the
kind of task. One module per family registers its recipes (``mlp.py`` here; ``cnn.py`` and
``sequence.py`` by the CNN and sequence-model work) and is imported at the bottom of this
file, so ``--model`` choices and ``tinynet evaluate`` find them.

Writing a recipe
----------------
::

    from tinynet.cli.recipes import Setup, register   # (inside tinynet: from .base import ...)

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
* ``inputs`` (optional) is an :class:`InputCodec`: how model inputs map to and from the
  dataset's raw samples, which lets ``tinynet train --teacher`` feed a teacher of another
  recipe (a CNN taking images) the batches of this one (an MLP taking flat vectors).
* ``extra`` is a dict of plain data (numbers, strings, lists) stored in the checkpoint, e.g.
  a tokenizer's vocabulary for ``tinynet generate``.
"""
from .base import (RECIPES, TASKS, InputCodec, Recipe, Setup, default_forward, default_predict, get,  # noqa: F401
                   register)

# Recipe modules: one import line each (they register themselves).
from . import mlp  # noqa: F401
from . import cnn  # noqa: F401
from . import sequence  # noqa: F401
from . import bert  # noqa: F401
