"""``tinynet train``: train a model with a recipe, save checkpoint, metrics and curves.

    tinynet train --model mlp --dataset digits
    tinynet train --model mlp --dataset moons --epochs 20 --optimizer sgd --lr 0.1
    tinynet train --model mlp --dataset digits --epochs 60 --resume runs/mlp-digits/checkpoint.safetensors

Writes to ``--out`` (default ``runs/<model>-<dataset>``): ``checkpoint.safetensors`` (each
epoch, atomically), ``metrics.csv``, ``metrics.json`` (per-epoch history and the final test
metrics) and ``curves.png``. Exit status: 0 on success, 1 if the loss became NaN/inf
(the last good checkpoint is kept), 2 for usage errors.
"""
from __future__ import annotations

import os
import sys
import time

from .common import (OPTIMIZERS, SCHEDULERS, CLIError, apply_defaults, build_optimizer, build_scheduler,
                     config_of, non_negative_float, positive_float, positive_int, resolve_device)
from .recipes import RECIPES, get as get_recipe

# Options a resumed run takes from the command line when given; everything else (model, data,
# optimizer, schedule, seed) comes from the checkpoint's config, so the run continues unchanged.
# A learning-rate schedule keeps the length it was planned with (its state is restored).
RESUME_OVERRIDES = ("epochs", "out", "device", "no_progress", "resume")


def add_parser(subparsers):
    p = subparsers.add_parser(
        "train", help="train a model (e.g. --model mlp --dataset digits)",
        description="Train a model on an offline dataset with a progress bar, validation metrics each epoch, "
                    "a checkpoint, metrics CSV/JSON and a PNG of the curves. Options left out take the "
                    "model recipe's defaults.")
    p.add_argument("--model", default="mlp", choices=sorted(RECIPES), help="which model (recipe) to train (default: mlp)")
    p.add_argument("--dataset", default=None,
                   help="dataset; per model: " + "; ".join(f"{n}: {', '.join(r.datasets)}" for n, r in sorted(RECIPES.items()))
                   + " (default: the model's first)")
    p.add_argument("--epochs", type=positive_int, default=None, help="epochs (default: the recipe's)")
    p.add_argument("--batch-size", type=positive_int, default=None, help="batch size (default: the recipe's)")
    p.add_argument("--lr", type=positive_float, default=None, help="learning rate (default: the recipe's)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=None, help="optimizer (default: the recipe's)")
    p.add_argument("--momentum", type=non_negative_float, default=None, help="momentum for sgd (0.9) and rmsprop (0)")
    p.add_argument("--weight-decay", type=non_negative_float, default=None, help="weight decay (L2; decoupled for adamw)")
    p.add_argument("--scheduler", choices=SCHEDULERS, default=None, help="per-epoch learning-rate schedule")
    p.add_argument("--clip-grad-norm", type=positive_float, default=None, help="clip the gradient norm to this value")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    p.add_argument("--seed", type=int, default=0, help="seed for initialisation, shuffling and dropout (default: 0)")
    p.add_argument("--out", default=None, metavar="DIR", help="output directory (default: runs/<model>-<dataset>)")
    p.add_argument("--resume", default=None, metavar="CKPT",
                   help="continue from a checkpoint (its settings are reused; --epochs is the new total)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    for name, recipe in sorted(RECIPES.items()):
        if recipe.add_arguments is not None:
            recipe.add_arguments(p.add_argument_group(f"{name} options"))
    return p


def _merge_resume(args):
    """Take the run's settings from the checkpoint so the resumed run continues the same one."""
    from ..serialization import load

    try:
        ck = load(args.resume, map_location="cpu")
    except (ValueError, FileNotFoundError) as exc:
        raise CLIError(f"--resume: {exc}", code=1) from None
    config = ck.get("config") if isinstance(ck, dict) else None
    if not isinstance(config, dict):
        raise CLIError(f"--resume: {args.resume} is not a tinynet training checkpoint (no config)", code=1)
    for key, value in config.items():
        if key not in RESUME_OVERRIDES or getattr(args, key, None) is None:
            setattr(args, key, value)
    return ck


def _setup(args):
    """Seed, build the recipe's Setup, move the model to the device."""
    from ..tensor.random import manual_seed

    recipe = get_recipe(args.model)
    if args.dataset is None:
        args.dataset = recipe.datasets[0]
    if args.dataset not in recipe.datasets:
        raise CLIError(f"--model {args.model} has no dataset {args.dataset!r}; choose one of {', '.join(recipe.datasets)}")
    apply_defaults(args, recipe)
    device = resolve_device(args.device)
    manual_seed(args.seed)
    try:
        setup = recipe.build(args)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    setup.model.to(device)
    return recipe, setup


def run(args) -> int:
    from .trainer import NonFiniteLossError, Trainer

    start = time.perf_counter()
    ck = _merge_resume(args) if args.resume else None
    recipe, setup = _setup(args)
    if args.out is None:
        args.out = os.path.join("runs", f"{args.model}-{args.dataset}")
    optimizer = build_optimizer(args.optimizer, setup.model.parameters(), args.lr, args.weight_decay, args.momentum)
    scheduler = build_scheduler(args.scheduler, optimizer, args.epochs)
    config = config_of(args)
    trainer = Trainer(setup.model, optimizer, setup.loss_fn, setup.train_loader, setup.val_loader, scheduler,
                      task=setup.task, forward=setup.forward, predict=setup.predict, out_dir=args.out,
                      progress=not args.no_progress, config=config, extra=setup.extra,
                      clip_grad_norm=args.clip_grad_norm, num_classes=setup.num_classes)
    n_params = sum(p.numel() for p in setup.model.parameters())
    print(f"training {args.model} on {args.dataset} ({len(setup.train_loader.dataset)} train samples) on "
          f"{args.device}: {n_params:,} parameters, {args.optimizer} lr {args.lr:g}, batch {args.batch_size}, "
          f"{args.epochs} epochs, seed {args.seed}" + (f", resuming from {args.resume}" if ck else ""))
    try:
        trainer.fit(args.epochs, resume=ck)
    except NonFiniteLossError as exc:
        print(f"tinynet train: error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        if ck is not None:
            raise CLIError(f"--resume: {exc}", code=1) from None
        raise
    test = None
    if setup.test_loader is not None:
        test = trainer.evaluate(setup.test_loader)
        trainer.write_results(test)
        print(format_report(test, "test"))
    elapsed = time.perf_counter() - start
    print(f"done in {elapsed:.1f} s; wrote {trainer.checkpoint_path}, metrics.csv, metrics.json, curves.png "
          f"in {args.out}")
    return 0


def format_report(metrics: dict, split: str) -> str:
    """A few lines: loss, accuracy, macro precision/recall/F1 and the confusion matrix."""
    lines = [f"{split} loss {metrics['loss']:.4f}"]
    if "accuracy" in metrics:
        lines[0] += (f"  accuracy {100 * metrics['accuracy']:.2f}%  precision {metrics['precision_macro']:.4f}  "
                     f"recall {metrics['recall_macro']:.4f}  F1 {metrics['f1_macro']:.4f} (macro)")
        cm = metrics["confusion_matrix"]
        width = max(3, max(len(str(v)) for row in cm for v in row) + 1)
        lines.append("confusion matrix (rows: true class, columns: predicted):")
        lines.append("     " + "".join(f"{j:>{width}}" for j in range(len(cm))))
        for i, row in enumerate(cm):
            lines.append(f"  {i:>2} " + "".join(f"{v:>{width}}" for v in row))
    return "\n".join(lines)
