"""``tinynet evaluate CKPT``: reload a training checkpoint and report its metrics.

The checkpoint's config says which recipe, dataset, split seed and options built the
model; the recipe rebuilds the same model and data splits, the weights are loaded (the
file is validated first), and the chosen split (default: test) is evaluated: loss,
accuracy, macro precision/recall/F1 and the confusion matrix. A quantized checkpoint
(written by ``tinynet quantize``) is recognised by its format: its int8 model is rebuilt
and evaluated the same way.
"""
from __future__ import annotations

import argparse
import json

from .common import CLIError, positive_int, resolve_device


def add_parser(subparsers):
    p = subparsers.add_parser("evaluate", help="reload a checkpoint and report accuracy, precision/recall/F1",
                              description=__doc__.split("\n\n")[1],
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("checkpoint", metavar="CKPT", help="a checkpoint.safetensors written by `tinynet train`")
    p.add_argument("--split", choices=("test", "val", "train"), default="test", help="which split to evaluate")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--batch-size", type=positive_int, default=None, help="evaluation batch size (default: training's)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    return p


def _read(path, device):
    from ..serialization import load

    try:
        return load(path, map_location=device)
    except (ValueError, TypeError, OSError) as exc:
        raise CLIError(exc, code=1) from None


def run(args) -> int:
    from .quantize import is_quantized_checkpoint, load_quantized
    from .train import _setup, config_namespace, format_report
    from .trainer import Trainer, check_checkpoint

    device = resolve_device(args.device)
    raw = _read(args.checkpoint, device)
    kind = ""
    if is_quantized_checkpoint(raw):  # written by `tinynet quantize`: rebuild the int8 model
        ck, ns, setup, model = load_quantized(args.checkpoint, args.device, args.batch_size, loaded=raw)
        setup.model = model
        kind = f", int8 ({ck['method']['mode']})"
    else:
        try:
            ck = check_checkpoint(raw, args.checkpoint)
        except ValueError as exc:
            raise CLIError(exc, code=1) from None
        ns = config_namespace(ck["config"], args.checkpoint)
        ns.device = args.device
        if args.batch_size is not None:
            ns.batch_size = args.batch_size
        try:
            _, setup = _setup(ns)
        except CLIError as exc:  # the saved settings do not build a run: the checkpoint's fault
            raise CLIError(f"{args.checkpoint}: its settings do not build a model: {exc}", code=1) from None
        try:
            setup.model.load_state_dict(ck["model"])
        except (ValueError, KeyError, RuntimeError) as exc:
            raise CLIError(f"{args.checkpoint}: the weights do not fit the model: {exc}", code=1) from None
    loader = {"test": setup.test_loader, "val": setup.val_loader, "train": setup.train_loader}[args.split]
    if loader is None:
        raise CLIError(f"the {ns.model} recipe has no {args.split} split")
    trainer = Trainer(setup.model, None, setup.loss_fn, setup.train_loader, task=setup.task, forward=setup.forward,
                      predict=setup.predict, num_classes=setup.num_classes, progress=False)
    try:
        metrics = trainer.evaluate(loader)
    except ValueError as exc:  # an empty split
        raise CLIError(exc, code=1) from None
    if args.json:
        quantized = ck["method"]["mode"] if is_quantized_checkpoint(ck) else None
        print(json.dumps({"checkpoint": args.checkpoint, "epoch": ck.get("epoch"), "split": args.split,
                          "quantized": quantized, **metrics}))
    else:
        print(f"{args.checkpoint}: {ns.model}{kind} on {ns.dataset}, epoch {ck.get('epoch')}, "
              f"{args.split} split ({len(loader.dataset)} samples)")
        print(format_report(metrics, args.split))
    return 0
