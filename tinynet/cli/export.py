"""``tinynet export CKPT --format onnx --out model.onnx``: write a trained model as ONNX.

    tinynet train --model cnn --dataset digits --out runs/cnn
    tinynet export runs/cnn/checkpoint.safetensors --out cnn.onnx

The checkpoint's config rebuilds the model and its data exactly as ``tinynet evaluate``
does; the weights are loaded and ``--batch-size`` samples of the test split (the first
split there is) are the example input of ``tinynet.onnx.export``. A ``tinynet pretrain``
checkpoint exports BERT with both pre-training heads: inputs ``input_ids`` and
``token_type_ids`` (batch, max_len), outputs ``mlm_logits`` and ``sentence_logits``. The batch axis of the
input and of the outputs is dynamic, so the file runs on any batch size (sequence lengths
and image sizes stay those of the training data). Needs the ``onnx`` package
(``pip install tinynet[onnx]``).
"""
from __future__ import annotations

import argparse
import os

import numpy as np

from ..tensor.tensor import Tensor
from .common import CLIError, load_checkpoint, positive_int, resolve_device
from .pretrain import PRETRAIN_KIND

FORMATS = ("onnx",)


def add_parser(subparsers):
    p = subparsers.add_parser("export", help="write a trained checkpoint as an ONNX model",
                              description=__doc__.split("\n\n")[2],
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("checkpoint", metavar="CKPT",
                   help="a checkpoint.safetensors written by `tinynet train` or `tinynet pretrain`")
    p.add_argument("--format", choices=FORMATS, default="onnx", help="the file format")
    p.add_argument("--out", required=True, help="where to write the model (e.g. model.onnx)")
    p.add_argument("--batch-size", type=positive_int, default=1, help="batch size of the example input")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset version (17 to 21)")
    return p


def _example_input(setup, batch_size):
    """``batch_size`` samples of the first split the recipe has (test, val, then train)."""
    for loader in (setup.test_loader, setup.val_loader, setup.train_loader):
        if loader is None:
            continue
        for batch in loader:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            n = x.shape[0]
            idx = np.arange(batch_size) % n  # repeat samples when a batch is smaller
            return x[idx.tolist()] if batch_size != n else x
    raise CLIError("the checkpoint's recipe has no data to build an example input from", code=1)


def _pretrained_model(ck, path, batch_size):
    """(model, example inputs) of a ``tinynet pretrain`` checkpoint."""
    from ..models import build_model

    config = ck["extra"].get("model_config")
    try:
        model = build_model("bert-pretraining", **config)
        model.load_state_dict(ck["model"])
    except (TypeError, ValueError, KeyError, RuntimeError) as exc:
        raise CLIError(f"{path}: its settings or weights do not build the pre-training model: {exc}", code=1) from None
    t, v = config["max_len"], config["vocab_size"]
    ids = 5 + (np.arange(batch_size * t).reshape(batch_size, t) * 7919) % max(v - 5, 1)  # ordinary tokens
    ids[:, 0] = 2  # [CLS]
    types = np.zeros_like(ids)
    types[:, t // 2:] = 1
    return model, (Tensor(ids.astype(np.int64)), Tensor(types.astype(np.int64)))


def _load_model(path, device_name):
    from .evaluate import _read
    from .quantize import is_quantized_checkpoint
    from .train import _setup, config_namespace
    from .trainer import check_checkpoint

    device = resolve_device(device_name)
    raw = _read(path, device)
    if is_quantized_checkpoint(raw):
        raise CLIError(f"{path} is a quantized (int8) checkpoint; export the float checkpoint it was made from",
                       code=1)
    try:
        ck = check_checkpoint(raw, path)
    except ValueError as exc:
        raise CLIError(exc, code=1) from None
    ns = config_namespace(ck["config"], path)
    ns.device = device_name
    try:
        _, setup = _setup(ns)
    except CLIError as exc:
        raise CLIError(f"{path}: its settings do not build a model: {exc}", code=1) from None
    try:
        setup.model.load_state_dict(ck["model"])
    except (ValueError, KeyError, RuntimeError) as exc:
        raise CLIError(f"{path}: the weights do not fit the model: {exc}", code=1) from None
    return ns, setup


def run(args) -> int:
    from .. import onnx as tn_onnx

    if not tn_onnx.is_available():
        raise CLIError("exporting to ONNX needs the onnx package: pip install tinynet[onnx]", code=1)
    if not tn_onnx.MIN_OPSET <= args.opset <= tn_onnx.MAX_OPSET:
        raise CLIError(f"--opset must be from {tn_onnx.MIN_OPSET} to {tn_onnx.MAX_OPSET}, got {args.opset}")
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):
        raise CLIError(f"--out {args.out}: the folder {out_dir} does not exist", code=1)
    ck = load_checkpoint(args.checkpoint)
    if (ck.get("extra") or {}).get("model_kind") == PRETRAIN_KIND:
        model, inputs = _pretrained_model(ck, args.checkpoint, args.batch_size)
        inputs_names, output_names, what, extra = ["input_ids", "token_type_ids"], ["mlm_logits", "sentence_logits"], \
            "BERT pre-training model", {}
    else:
        ns, setup = _load_model(args.checkpoint, "cpu")
        model, inputs, extra = setup.model, (_example_input(setup, args.batch_size),), setup.extra or {}
        inputs_names, output_names, what = ["input"], ["output"], f"{ns.model} on {ns.dataset}"
    names = {n: {0: "batch"} for n in inputs_names + output_names}
    try:
        proto = tn_onnx.export(model, inputs, args.out, input_names=inputs_names, output_names=output_names,
                               dynamic_axes=names, opset_version=args.opset)
    except (tn_onnx.OnnxExporterError, ValueError, TypeError) as exc:
        raise CLIError(f"{args.checkpoint}: the {what} cannot be exported: {exc}", code=1) from None
    print(f"wrote {args.out} (ONNX opset {args.opset}, {what})")
    for kind, values in (("input", proto.graph.input), ("output", proto.graph.output)):
        for v in values:
            t = v.type.tensor_type
            dims = ", ".join(d.dim_param or str(d.dim_value) for d in t.shape.dim)
            dtype = tn_onnx_dtype(t.elem_type)
            print(f"  {kind} {v.name}: {dtype} ({dims})")
    if "standardize" in extra:
        print("  note: the model was trained on standardized inputs (--standardize); standardize them the same "
              "way before running the ONNX model")
    return 0


def tn_onnx_dtype(elem_type) -> str:
    """The NumPy name of an ONNX element type (e.g. "float32")."""
    from onnx import helper

    return str(helper.tensor_dtype_to_np_dtype(elem_type))
