"""``tinynet prune CKPT``: prune a trained model iteratively, fine-tuning between steps.

    tinynet prune runs/mlp-digits/checkpoint.safetensors --amount 0.8 --steps 4 --epochs 2
    tinynet prune runs/cnn-digits/checkpoint.safetensors --amount 0.5 --structured --n 2

The checkpoint's config rebuilds the run's model, data and optimizer (as ``tinynet
evaluate`` does). Pruning then reaches ``--amount`` in ``--steps`` steps, the usual
iterative schedule: each step prunes the fraction ``a = 1 - (1 - amount)^(1/steps)`` of
what is still unpruned, so after ``s`` steps ``1 - (1 - a)^s`` is pruned and after the last
one ``amount``. (Each step prunes a count, ``round(N (1 - (1 - a)^s))`` minus what is already
pruned, so the rounding does not drift: the last step ends at ``round(N * amount)`` of the
``N`` weights, or of each layer's ``N`` channels.) After each step the model is fine-tuned for
``--epochs`` epochs with the run's optimizer, data and augmentation at ``--lr`` (default: the
run's base learning rate, constant; a fresh optimizer state), so the remaining weights take over the work of
the pruned ones; pruned weights stay zero (their gradient is masked).

* default (unstructured): ``prune.global_unstructured`` with ``L1Unstructured`` over the
  weights of every Linear and Conv2d together, so the least important layers lose most;
* ``--structured``: ``prune.ln_structured(layer, "weight", a, n=--n, dim=--dim)`` on each
  Linear/Conv2d except the output layer (its rows are the classes); with ``--dim 0``
  (whole output channels) the bias of each pruned channel is pruned too, and the model is
  then rebuilt with those channels removed (``nn.utils.shrink.shrink``): a smaller, faster
  model with the same outputs (``--model mlp`` and ``--model cnn`` runs).

Writes to ``--out`` (default ``runs/<model>-<dataset>-pruned``, or ``...-2``, ... when that
holds a run): ``checkpoint.safetensors``, the pruned model with the pruning made permanent
(``prune.remove``: plain weights with zeros, the same keys as the original, so ``tinynet
evaluate`` reads it and the zeros compress well; ``extra.pruning`` records the settings
and per-layer sparsity); with ``--structured --dim 0`` also ``shrunk.safetensors``, the
rebuilt model, whose config names its new layer sizes so ``tinynet evaluate`` rebuilds it;
and ``prune.json``, the report (accuracy before and after, sparsity per layer).

The checkpoints are for evaluating and deploying. ``tinynet train --resume`` on one would
train every weight again (no masks are kept), so it is not a way to continue fine-tuning:
run ``tinynet prune`` again with the settings you want instead.
"""
from __future__ import annotations

import argparse
import json
import os
import time
import warnings

import numpy as _np

from .common import CLIError, build_optimizer, load_checkpoint, positive_float, positive_int, resolve_device

SHRINKABLE = ("mlp", "cnn")


def _fraction(text):
    """argparse type: a number in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1) such as 0.8, got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1) such as 0.8 (the share of weights to "
                                         f"prune), got {text!r}")
    return value


def _norm(text):
    """argparse type: the norm order of --n: a number >= 0, inf or -inf."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a norm order (1, 2, inf, ...), got {text!r}") from None
    if value != value or (value < 0 and value != float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a norm order >= 0, inf or -inf, got {text!r}")
    return int(value) if value.is_integer() else value


def add_parser(subparsers):
    p = subparsers.add_parser("prune", help="prune a checkpoint iteratively with fine-tuning (e.g. --amount 0.8)",
                              description=__doc__.split("\n\n")[2],
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("checkpoint", metavar="CKPT", help="a checkpoint.safetensors written by `tinynet train`")
    p.add_argument("--amount", type=_fraction, default=0.8, help="share of the weights (channels) to prune in all")
    p.add_argument("--steps", type=positive_int, default=4, help="pruning steps to reach --amount")
    p.add_argument("--epochs", type=int, default=2, help="fine-tuning epochs after each step (0: none)")
    p.add_argument("--lr", type=positive_float, default=None, help="fine-tuning learning rate (None: the run's --lr)")
    p.add_argument("--structured", action="store_true", help="prune whole channels (ln_structured) and rebuild smaller")
    p.add_argument("--dim", type=int, default=0, help="--structured: the dimension of the slices (0: output channels)")
    p.add_argument("--n", type=_norm, default=1, help="--structured: the norm order ranking the slices")
    p.add_argument("--out", default=None, metavar="DIR", help="output folder (default: runs/<model>-<dataset>-pruned)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def step_amount(amount: float, steps: int) -> float:
    """The fraction of the still-unpruned weights each of ``steps`` steps prunes so that
    ``1 - (1 - a)^steps = amount``."""
    return 1.0 - (1.0 - amount) ** (1.0 / steps)


def pruned_by_step(total: int, amount: float, step: int, steps: int) -> int:
    """How many of ``total`` entries (or channels) are pruned after ``step`` of ``steps``:
    ``round(total * (1 - (1 - amount)^(step/steps)))``. Each step prunes the difference as a
    count, so the last step lands on ``round(total * amount)`` exactly (a per-step fraction
    would round at every step and drift)."""
    return round(total * (1.0 - (1.0 - amount) ** (step / steps)))


def _masked_entries(m) -> int:
    mask = getattr(m, "weight_mask", None)
    return 0 if mask is None else int((_np.asarray(mask.numpy()) == 0).sum())


def _alive_slices(m, dim) -> int:
    """Slices of ``m.weight`` along ``dim`` not yet pruned whole (all of them before any mask)."""
    mask = getattr(m, "weight_mask", None)
    if mask is None:
        return m.weight.shape[dim]
    a = _np.moveaxis(_np.asarray(mask.numpy()), dim, 0)
    return int((a.reshape(a.shape[0], -1).sum(axis=1) != 0).sum())


def _layers(model):
    from .. import nn

    return [(name, m) for name, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


def sparsity(model) -> dict:
    """``{layer name: share of zero weights}`` for every Linear/Conv2d weight, plus ``"total"``."""
    out, zeros, total = {}, 0, 0
    for name, m in _layers(model):
        w = _np.asarray(m.weight.detach().numpy())
        z = int((w == 0).sum())
        out[name] = z / w.size
        zeros, total = zeros + z, total + w.size
    out["total"] = zeros / max(total, 1)
    return out


def _accuracy(metrics):
    return metrics.get("accuracy", float("nan"))


def run(args) -> int:
    from ..nn.utils import prune
    from ..nn.utils.shrink import prune_dead_biases, shrink
    from .train import _setup, config_namespace, fresh_run_dir
    from .trainer import Trainer, prepare_out_dir

    if args.epochs < 0:
        raise CLIError(f"--epochs must be >= 0, got {args.epochs}")
    start = time.perf_counter()
    device = resolve_device(args.device)
    ck = load_checkpoint(args.checkpoint, map_location=device)
    ns = config_namespace(ck["config"], args.checkpoint)
    ns.device = args.device
    shrinking = args.structured and args.dim == 0
    if shrinking and ns.model not in SHRINKABLE:
        raise CLIError(f"--structured rebuilds {', '.join(SHRINKABLE)} models smaller; this checkpoint is a "
                       f"{ns.model} run. Prune it without --structured, or with --dim other than 0 (no rebuild)")
    try:
        _, setup = _setup(ns)
    except CLIError as exc:
        raise CLIError(f"{args.checkpoint}: its settings do not build a model: {exc}", code=1) from None
    model = setup.model
    try:
        model.load_state_dict(ck["model"])
    except (ValueError, KeyError, RuntimeError) as exc:
        raise CLIError(f"{args.checkpoint}: the weights do not fit the model: {exc}", code=1) from None
    layers = _layers(model)
    if not layers:
        raise CLIError(f"the {ns.model} model has no Linear or Conv2d layer to prune", code=1)
    targets = layers[:-1] if args.structured else layers
    if args.structured:
        for name, m in targets:
            if not -m.weight.ndim <= args.dim < m.weight.ndim:
                raise CLIError(f"--dim {args.dim} is out of range for {name} ({type(m).__name__} weight of shape "
                               f"{tuple(m.weight.shape)}): use 0 .. {m.weight.ndim - 1}")
        if not targets:
            raise CLIError("--structured prunes the layers before the output layer, and this model has none", code=1)
    out = args.out or fresh_run_dir(os.path.join("runs", f"{ns.model}-{ns.dataset}-pruned"))
    try:
        prepare_out_dir(out)
    except OSError as exc:
        raise CLIError(exc, code=1) from None

    lr = args.lr if args.lr is not None else ns.lr
    optimizer = build_optimizer(ns.optimizer, model.parameters(), lr, ns.weight_decay, ns.momentum)
    trainer = Trainer(model, optimizer, setup.loss_fn, setup.train_loader, setup.val_loader, task=setup.task,
                      forward=setup.forward, predict=setup.predict, progress=not args.no_progress,
                      num_classes=setup.num_classes, clip_grad_norm=ns.clip_grad_norm)
    per_step = step_amount(args.amount, args.steps)
    kind = (f"structured L{args.n} (dim {args.dim}) on {len(targets)} layers" if args.structured
            else f"global unstructured L1 over {len(targets)} weights")
    print(f"pruning {ns.model} on {ns.dataset} from {args.checkpoint}: {kind}, to {100 * args.amount:g}% in "
          f"{args.steps} steps of {100 * per_step:.2f}% of the remaining, fine-tuning {args.epochs} epoch(s) per step "
          f"({ns.optimizer} lr {lr:g}), writing to {out}")
    with warnings.catch_warnings(), _np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        before = trainer.evaluate(setup.test_loader)
        print(f"before: test loss {before['loss']:.4f}  accuracy {100 * _accuracy(before):.2f}%")
        history = []
        for step in range(1, args.steps + 1):
            if args.structured:
                for _, m in targets:
                    size = m.weight.shape[args.dim]
                    count = pruned_by_step(size, args.amount, step, args.steps) - (size - _alive_slices(m, args.dim))
                    prune.ln_structured(m, "weight", amount=max(count, 0), n=args.n, dim=args.dim)
                if args.dim == 0:
                    prune_dead_biases(model)
            else:
                total = sum(m.weight.numel() for _, m in targets)
                done = sum(_masked_entries(m) for _, m in targets)
                count = pruned_by_step(total, args.amount, step, args.steps) - done
                prune.global_unstructured([(m, "weight") for _, m in targets], prune.L1Unstructured,
                                          amount=max(count, 0))
            sp = sparsity(model)["total"]
            if args.epochs:
                trainer.fit(trainer.epoch + args.epochs)
            val = trainer.evaluate(setup.val_loader) if setup.val_loader is not None else {}
            history.append({"step": step, "sparsity": sp, "val_accuracy": _accuracy(val) if val else None})
            print(f"step {step}/{args.steps}: sparsity {100 * sp:.2f}%"
                  + (f", val accuracy {100 * _accuracy(val):.2f}%" if val else ""))
        after = trainer.evaluate(setup.test_loader)
    for _, m in layers:
        for name in [h._tensor_name for h in list(m._forward_pre_hooks.values())
                     if isinstance(h, prune.BasePruningMethod)]:
            prune.remove(m, name)
    per_layer = sparsity(model)
    print(f"after:  test loss {after['loss']:.4f}  accuracy {100 * _accuracy(after):.2f}% "
          f"({100 * (_accuracy(after) - _accuracy(before)):+.2f} points)")
    print("sparsity per layer (share of zero weights):")
    width = max(len(k) for k in per_layer)
    for name, value in per_layer.items():
        m = dict(layers).get(name)
        shape = f"  {tuple(m.weight.shape)}" if m is not None else ""
        print(f"  {name:<{width}}  {100 * value:6.2f}%{shape}")
    report = {"checkpoint": args.checkpoint, "amount": args.amount, "steps": args.steps, "epochs": args.epochs,
              "structured": bool(args.structured), "dim": args.dim, "n": args.n, "lr": lr,
              "test_before": {k: v for k, v in before.items() if k != "confusion_matrix"},
              "test_after": {k: v for k, v in after.items() if k != "confusion_matrix"},
              "sparsity": per_layer, "steps_history": history}
    config = dict(ck["config"])
    config["out"] = out
    extra = dict(ck["extra"])
    extra["pruning"] = {"amount": args.amount, "steps": args.steps, "epochs": args.epochs,
                        "structured": bool(args.structured), "sparsity": per_layer, "source": args.checkpoint}
    trainer.config, trainer.extra = config, extra
    written = [os.path.join(out, "checkpoint.safetensors")]
    try:
        trainer.save_checkpoint(written[0])
        if shrinking:
            written.append(_write_shrunk(args, ns, trainer, setup, shrink, out, report))
        with open(os.path.join(out, "prune.json"), "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
        written.append(os.path.join(out, "prune.json"))
    except OSError as exc:
        raise CLIError(exc, code=1) from None
    print(f"done in {time.perf_counter() - start:.1f} s; wrote {', '.join(written)}")
    return 0


def _write_shrunk(args, ns, trainer, setup, shrink, out, report):
    """Rebuild the pruned model without its zero channels, check that its config rebuilds it
    (so ``tinynet evaluate`` reads it), save it as ``shrunk.safetensors``."""
    from .. import nn
    from .train import _setup

    model = trainer.model
    example = next(iter(setup.test_loader))[0]
    small = shrink(model, example)
    layers = [m for m in small.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    config = dict(trainer.config)
    if ns.model == "mlp":
        config["hidden"] = ",".join(str(m.out_features) for m in layers[:-1])
    else:  # cnn: two convolutions, then the hidden Linear when there is one
        config["channels"] = f"{layers[0].out_channels},{layers[1].out_channels}"
        if len(layers) == 4:
            config["cnn_hidden"] = layers[2].out_features
    rebuilt_ns = argparse.Namespace(**vars(ns))
    for k, v in config.items():
        setattr(rebuilt_ns, k, v)
    _, rebuilt = _setup(rebuilt_ns)
    rebuilt.model.load_state_dict(small.state_dict())  # raises if the config does not describe it
    optimizer = build_optimizer(ns.optimizer, small.parameters(), trainer.optimizer.param_groups[0]["lr"],
                                ns.weight_decay, ns.momentum)
    from .trainer import Trainer

    t = Trainer(small, optimizer, setup.loss_fn, setup.train_loader, task=setup.task, forward=setup.forward,
                predict=setup.predict, progress=False, num_classes=setup.num_classes, config=config,
                extra=trainer.extra)
    t.epoch, t.global_step, t.history = trainer.epoch, trainer.global_step, trainer.history
    test = t.evaluate(setup.test_loader)
    n_before = sum(p.numel() for p in model.parameters())
    n_after = sum(p.numel() for p in small.parameters())
    sizes = config.get("hidden") if ns.model == "mlp" else f"channels {config['channels']}, hidden " \
        f"{config.get('cnn_hidden')}"
    print(f"shrunk: {n_before:,} -> {n_after:,} parameters ({sizes}); test accuracy {100 * _accuracy(test):.2f}%")
    report["shrunk"] = {"parameters_before": n_before, "parameters_after": n_after,
                        "config": {k: config[k] for k in ("hidden", "channels", "cnn_hidden") if k in config},
                        "test_accuracy": _accuracy(test)}
    path = os.path.join(out, "shrunk.safetensors")
    t.save_checkpoint(path)
    return path
