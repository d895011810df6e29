"""``tinynet quantize CKPT``: an int8 version of a trained model, compared with the float one.

    tinynet quantize runs/cnn-digits/checkpoint.safetensors                  # static PTQ, 256 samples
    tinynet quantize runs/cnn-digits/checkpoint.safetensors --qat --epochs 2 # quantization-aware training
    tinynet quantize runs/mlp-digits/checkpoint.safetensors --dynamic        # int8 weights only
    tinynet evaluate runs/cnn-digits/int8-static/quantized.safetensors       # evaluate the result

Three ways to get there, each PyTorch's eager-mode flow (``torch.ao.quantization``):

* **static post-training quantization** (the default): fuse each Conv2d/Linear with the
  BatchNorm and ReLU that follow it, put a QuantStub before the model and a DeQuantStub
  after it, ``prepare`` (observers record the range of every activation), run
  ``--calibrate`` training samples through it (no augmentation), ``convert``. Weights and
  activations are int8/uint8; Linear and Conv2d run int8 x int8 products accumulated in
  int32 and are requantized to uint8 with the output scale the observers chose;
* **quantization-aware training** (``--qat``): the same fused model with fake quantization
  (quantize-then-dequantize, straight-through gradient) on weights and activations,
  fine-tuned for ``--epochs`` with the run's optimizer at a small learning rate, then
  converted, so the weights learn to live with int8 rounding;
* **dynamic quantization** (``--dynamic``): int8 weights for Linear and LSTM layers only;
  each input is quantized on the fly from its own range, so no calibration is needed.

Writes, in ``--out`` (default: ``int8-<mode>`` next to the checkpoint): the quantized
checkpoint ``quantized.safetensors`` (int8 weights and their scales, float biases, each
quantized activation's scale and zero point, the quantization record saying which layer became which quantized module, and the
run's settings so that ``tinynet evaluate`` can rebuild the model and its test split) and
``quantize.json`` (the comparison). Prints, float32 against int8, side by side:

* test accuracy and loss;
* sizes: the model file (the float32 weights saved with the same settings, against the
  quantized checkpoint), the tensor data inside it (int8 is one byte per weight against
  four; the rest of a file, tensor names and settings, is a few KB whatever the weights),
  and the training checkpoint given (which also holds the optimizer's state);
* latency: one forward pass at batch 1 and 32, the median of ``--repeats`` rounds that
  alternate between the two models (so drift of a busy machine hits both alike).

A quantized checkpoint is not a training checkpoint: ``tinynet train --resume`` and a
float model's ``load_state_dict`` refuse it, and quantizing it again is an error.
"""
from __future__ import annotations

import argparse
import copy
import io
import json
import os
import statistics
import sys
import time

import numpy as _np

from .common import CLIError, non_negative_int, positive_float, positive_int, resolve_device
from .info import cpu_model

QUANTIZED_FORMAT = "tinynet-quantized-checkpoint/1"
QUANTIZED_CHECKPOINT = "quantized.safetensors"
REPORT = "quantize.json"
MODES = ("static", "qat", "dynamic")
BACKENDS = ("fbgemm", "x86", "qnnpack")
DEFAULT_CALIBRATE = 256
DEFAULT_QAT_EPOCHS = 2
QAT_LR_FACTOR = 0.1  # QAT fine-tunes at a tenth of the run's learning rate unless --lr is given
LATENCY_BATCHES = (1, 32)


def add_parser(subparsers):
    p = subparsers.add_parser(
        "quantize", help="int8 version of a trained model (static PTQ, QAT or dynamic) with accuracy/size/latency",
        description="Quantize a `tinynet train` checkpoint to int8 (static post-training quantization by default, "
                    "quantization-aware training with --qat, int8 weights only with --dynamic) and report test "
                    "accuracy, file size and latency against the float model.")
    p.add_argument("checkpoint", metavar="CKPT", help="a checkpoint.safetensors written by `tinynet train`")
    p.add_argument("--calibrate", type=non_negative_int, default=None, metavar="N",
                   help=f"static quantization: training samples run through the observers (default: "
                        f"{DEFAULT_CALIBRATE}, or the whole training split if smaller)")
    p.add_argument("--qat", action="store_true", help="quantization-aware training instead of post-training")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help=f"--qat: fine-tuning epochs (default: {DEFAULT_QAT_EPOCHS})")
    p.add_argument("--lr", type=positive_float, default=None,
                   help=f"--qat: fine-tuning learning rate (default: {QAT_LR_FACTOR:g} x the run's)")
    p.add_argument("--dynamic", action="store_true",
                   help="dynamic quantization: int8 weights of Linear and LSTM layers, inputs quantized per call")
    p.add_argument("--per-channel", action=argparse.BooleanOptionalAction, default=None,
                   help="one weight scale per output channel (default: the backend's: per channel for fbgemm/x86, "
                        "per tensor for qnnpack)")
    p.add_argument("--backend", choices=BACKENDS, default="fbgemm",
                   help="whose default qconfig to use (torch.ao.quantization.get_default_qconfig / "
                        "get_default_qat_qconfig): fbgemm/x86 observe activations in 7 bits (reduce_range) with "
                        "per-channel weights, qnnpack in 8 bits with per-tensor weights; with --dynamic it only "
                        "chooses per-channel or per-tensor weights (default: fbgemm)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="output folder (default: int8-<static|qat|dynamic> next to the checkpoint)")
    p.add_argument("--device", default="cpu", help="cpu or cuda: where the models run (default: cpu)")
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help="batch size of calibration, --qat fine-tuning and evaluation (default: the run's)")
    p.add_argument("--repeats", type=positive_int, default=7, metavar="R",
                   help="latency: alternating timing rounds per batch size (default: 7)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (shown by --qat's fine-tuning)")
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    return p


# --- the options ---------------------------------------------------------------------------
def mode_of(args) -> str:
    """"static", "qat" or "dynamic" from the flags; options that do not apply are usage errors."""
    if args.qat and args.dynamic:
        raise CLIError("--qat and --dynamic are two different methods; choose one (or neither: static "
                       "post-training quantization)")
    mode = "qat" if args.qat else "dynamic" if args.dynamic else "static"
    if mode != "qat":
        for flag, value in (("--epochs", args.epochs), ("--lr", args.lr)):
            if value is not None:
                raise CLIError(f"{flag} sets the quantization-aware fine-tuning; it needs --qat")
    if args.calibrate is not None and mode != "static":
        why = ("its observers watch the fine-tuning batches" if mode == "qat"
               else "inputs are quantized from their own range at every call")
        raise CLIError(f"--calibrate is for static quantization; --{mode} does not calibrate ({why})")
    if mode == "static" and args.calibrate == 0:
        raise CLIError("--calibrate 0: static quantization needs calibration data to choose the activations' scales "
                       f"and zero points; give --calibrate N (N >= 1, default {DEFAULT_CALIBRATE}), or use "
                       "--dynamic, which needs none")
    return mode


# --- checkpoints ---------------------------------------------------------------------------
def is_quantized_checkpoint(obj) -> bool:
    """Whether a loaded file is a quantized checkpoint (written by this command, or by
    ``tinynet.quantization.save_quantized``)."""
    from .. import quantization as Q

    return (isinstance(obj, dict) and obj.get("format") == QUANTIZED_FORMAT) or Q.is_quantized_checkpoint(obj)


def _read(path, device):
    from ..serialization import load

    try:
        return load(path, map_location=device)
    except (ValueError, TypeError, OSError) as exc:
        raise CLIError(exc, code=1) from None


def _rebuild(config, where, device_name, batch_size=None):
    """The float model and data of a run from its saved config: ``(namespace, setup)``."""
    from .train import _setup, config_namespace

    ns = config_namespace(config, where)
    ns.device = device_name
    if batch_size is not None:
        ns.batch_size = batch_size
    try:
        _, setup = _setup(ns)
    except CLIError as exc:
        raise CLIError(f"{where}: its settings do not build a model: {exc}", code=1) from None
    return ns, setup


def _check_quantized(ck, where):
    def bad(what):
        raise CLIError(f"{where}: not a usable quantized checkpoint of `tinynet quantize` (or one tampered with): "
                       f"{what}", code=1)

    if ck.get("format") != QUANTIZED_FORMAT:
        bad("it has no run settings to rebuild the model and its test data from (a checkpoint written by "
            "tinynet.quantization.save_quantized: load it in Python with tinynet.quantization.load_quantized)")
    for key in ("config", "model", "quantization", "method", "extra"):
        if not isinstance(ck.get(key), dict):
            bad(f"{key!r} must be a dict, found {type(ck.get(key)).__name__}")
    method = ck["method"]
    if method.get("mode") not in MODES:
        bad(f"its quantization mode must be one of {', '.join(MODES)}, found {method.get('mode')!r}")
    return ck


def load_quantized(path, device_name="cpu", batch_size=None, loaded=None):
    """Rebuild the int8 model a quantized checkpoint holds: ``(checkpoint, namespace, setup, qmodel)``.

    The run's recipe builds the float model and data again; the checkpoint's quantization
    record says which layers became which quantized modules, and the saved int8 weights,
    scales and zero points are loaded into them exactly (no calibration). ``loaded``: the
    file's content when the caller has already read it.
    """
    from .. import quantization as Q

    device = resolve_device(device_name)
    ck = _check_quantized(_read(path, device) if loaded is None else loaded, path)
    ns, setup = _rebuild(ck["config"], path, device_name, batch_size)
    try:
        qmodel = Q.load_quantized(ck, setup.model)
    except (ValueError, KeyError, RuntimeError, TypeError) as exc:
        raise CLIError(f"{path}: the int8 weights do not fit the model: {exc}", code=1) from None
    return ck, ns, setup, qmodel.to(device).eval()


# --- what can be quantized -----------------------------------------------------------------
def _describe_layers(problems, limit=6):
    text = ", ".join(f"{n or '(the model)'} ({t})" for n, t in problems[:limit])
    return text + (f" and {len(problems) - limit} more" if len(problems) > limit else "")


def check_quantizable(model, mode):
    """Raise a ``CLIError`` naming the layers when ``model`` cannot be quantized by ``mode``.

    Static and QAT: after fusing the Conv2d/Linear + BatchNorm + ReLU chains of its Sequential
    containers, every layer must have an int8 version and there must be a Linear or Conv2d.
    Dynamic: there must be a Linear or LSTM.
    """
    from .. import nn
    from .. import quantization as Q

    name = type(model).__name__
    if mode == "dynamic":
        if not any(isinstance(m, (nn.Linear, nn.LSTM)) for m in model.modules()):
            raise CLIError(f"this {name} has nothing to quantize dynamically: it has no Linear or LSTM layer", code=1)
        return
    fused = copy.deepcopy(model).eval()
    groups = Q.fusable_groups(fused)
    if groups:
        Q.fuse_modules(fused, groups, inplace=True)
    problems = Q.unsupported_layers(fused)
    if problems:
        raise CLIError(f"{'static' if mode == 'static' else 'quantization-aware'} int8 quantization cannot handle "
                       f"this {name}: {_describe_layers(problems)} {'has' if len(problems) == 1 else 'have'} no int8 "
                       "version (supported: Conv2d and Linear, each fused with a BatchNorm and ReLU that follow it in "
                       "a Sequential, ReLU, MaxPool2d, Flatten, Dropout). Try --dynamic (int8 Linear/LSTM weights "
                       "only)", code=1)
    if not any(isinstance(m, (nn.Linear, nn.Conv2d)) for m in model.modules()):
        raise CLIError(f"this {name} has nothing to quantize: no Linear or Conv2d layer", code=1)


def qconfig_for(backend, per_channel, qat=False):
    """The backend's default QConfig (``get_default_qconfig`` / ``get_default_qat_qconfig``) with
    the weight observer per channel or per tensor as asked (None: the backend's choice)."""
    from .. import quantization as Q

    base = Q.get_default_qat_qconfig(backend) if qat else Q.get_default_qconfig(backend)
    if per_channel is None or per_channel == per_channel_default(backend):
        return base
    if qat:
        weight = Q.default_per_channel_weight_fake_quant if per_channel else Q.default_weight_fake_quant
    else:
        weight = Q.default_per_channel_weight_observer if per_channel else Q.default_weight_observer
    return Q.QConfig(activation=base.activation, weight=weight)


def per_channel_default(backend) -> bool:
    """Whether the backend's default weight observer is per channel (fbgemm/x86: yes; qnnpack: no)."""
    return backend in ("fbgemm", "x86")


def quantize_static(model, calibration, backend="fbgemm", per_channel=None):
    """Static post-training quantization (fuse, stubs, prepare, calibrate on ``calibration``:
    batches of inputs or (inputs, targets), convert); ``model`` is not changed."""
    from .. import quantization as Q

    check_quantizable(model, "static")
    return Q.quantize_model(model, calibration, qconfig=qconfig_for(backend, per_channel))


def prepare_qat(model, backend="fbgemm", per_channel=None):
    """The fused, stubbed model with fake quantization, ready to fine-tune (train mode)."""
    from .. import quantization as Q

    check_quantizable(model, "qat")
    return Q.prepare_qat_model(model, qconfig=qconfig_for(backend, per_channel, qat=True))


def dynamic_model(model, per_channel):
    """Dynamic quantization of the Linear and LSTM layers (int8 weights)."""
    from .. import nn
    from .. import quantization as Q

    check_quantizable(model, "dynamic")
    qconfig = Q.per_channel_dynamic_qconfig if per_channel else Q.default_dynamic_qconfig
    return Q.quantize_dynamic(copy.deepcopy(model).eval(), {nn.Linear: qconfig, nn.LSTM: qconfig}, dtype=Q.qint8)


def _calibration_loader(setup, n, batch_size, device, seed):
    """The first ``n`` training samples of a seeded permutation, without augmentation."""
    from ..data import DataLoader, Subset

    ds = setup.train_loader.dataset
    idx = _np.random.default_rng(seed).permutation(len(ds))[:n]
    return DataLoader(Subset(ds, idx), batch_size=batch_size, shuffle=False, device=device)


# --- measurements --------------------------------------------------------------------------
def file_bytes(obj) -> int:
    """Size of ``obj`` written as a safetensors checkpoint (``tn.save``), in bytes."""
    from ..serialization import save

    buf = io.BytesIO()
    save(obj, buf)
    return len(buf.getvalue())


def tensor_bytes(state_dict) -> int:
    """Bytes of the tensor data in a state dict (what the file holds besides names and settings)."""
    return sum(int(v.array.nbytes) for v in state_dict.values() if hasattr(v, "array"))


def _sample_batch(loader, size):
    """A batch of ``size`` inputs (repeating the split's samples if it is smaller)."""
    xs = []
    have = 0
    for batch in loader:
        x = batch[0]
        xs.append(x)
        have += x.shape[0]
        if have >= size:
            break
    from ..functional.join import cat

    x = cat(xs, 0) if len(xs) > 1 else xs[0]
    while x.shape[0] < size:
        x = cat([x, x], 0)
    return x[:size]


def latency(models: dict, inputs: dict, repeats: int, device, block_s=0.05) -> dict:
    """Median seconds per forward call: ``{model label: {batch: seconds}}``.

    Each round times a block of calls of every model in turn (A B A B ...), so slow drift of
    the machine hits each alike; the figure is the median over the rounds of the mean per call.
    """
    from ..autograd import no_grad

    def sync():
        if device.type == "cuda":
            from .. import cuda

            cuda.synchronize()

    out = {label: {} for label in models}
    with no_grad():
        for batch, x in inputs.items():
            calls = {}
            for label, model in models.items():
                for _ in range(2):  # warm up (first calls compile kernels)
                    model(x)
                sync()
                t0, n = time.perf_counter(), 0
                while time.perf_counter() - t0 < block_s / 2 or n < 2:
                    model(x)
                    n += 1
                sync()
                per = (time.perf_counter() - t0) / n
                calls[label] = max(1, int(block_s / max(per, 1e-7)))
            samples = {label: [] for label in models}
            for _ in range(repeats):
                for label, model in models.items():
                    sync()
                    t0 = time.perf_counter()
                    for _ in range(calls[label]):
                        model(x)
                    sync()
                    samples[label].append((time.perf_counter() - t0) / calls[label])
            for label in models:
                out[label][batch] = statistics.median(samples[label])
    return out


def _fmt_bytes(n):
    return f"{n / 1024:.1f} KB" if n < 1024 ** 2 else f"{n / 1024 ** 2:.2f} MB"


def _fmt_s(s):
    return f"{s * 1e6:.0f} us" if s < 1e-3 else f"{s * 1e3:.2f} ms"


def _smaller(ratio):
    return f"{ratio:.2f}x smaller" if ratio >= 1 else f"{1 / ratio:.2f}x larger"


def format_table(rep) -> str:
    f, q = rep["float32"], rep["int8"]
    label = f"int8 ({rep['mode']})"
    rows = [("", "float32", label, "")]
    if f.get("accuracy") is not None:
        rows.append(("test accuracy", f"{100 * f['accuracy']:.2f} %", f"{100 * q['accuracy']:.2f} %",
                     f"{rep['accuracy_change_points']:+.2f} points"))
    rows.append(("test loss", f"{f['loss']:.4f}", f"{q['loss']:.4f}", ""))
    rows.append(("model file", _fmt_bytes(f["file_bytes"]), _fmt_bytes(q["file_bytes"]),
                 _smaller(rep["size_ratio"])))
    rows.append(("  tensor data in it", _fmt_bytes(f["tensor_bytes"]), _fmt_bytes(q["tensor_bytes"]),
                 _smaller(rep["tensor_ratio"])))
    rows.append(("training checkpoint", _fmt_bytes(f["training_checkpoint_bytes"]), _fmt_bytes(q["file_bytes"]),
                 _smaller(f["training_checkpoint_bytes"] / q["file_bytes"])))
    for b in rep["latency_batches"]:
        fs, qs = f["latency_s"][str(b)], q["latency_s"][str(b)]
        rows.append((f"latency, batch {b}", _fmt_s(fs), _fmt_s(qs),
                     f"{fs / qs:.2f}x faster" if qs <= fs else f"{qs / fs:.2f}x slower"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
             for r in rows]
    return "\n".join(lines)


# --- the command ---------------------------------------------------------------------------
def run(args) -> int:
    from .trainer import Trainer, check_checkpoint, prepare_out_dir

    mode = mode_of(args)
    device = resolve_device(args.device)
    raw = _read(args.checkpoint, device)
    if is_quantized_checkpoint(raw):
        method = raw.get("method") if isinstance(raw.get("method"), dict) else {}
        how = f" ({method['mode']} int8)" if method.get("mode") in MODES else ""
        raise CLIError(f"{args.checkpoint} is already quantized{how}; quantize the float training checkpoint it came "
                       "from instead (the checkpoint.safetensors `tinynet train` wrote)", code=1)
    try:
        ck = check_checkpoint(raw, args.checkpoint)
    except ValueError as exc:
        raise CLIError(exc, code=1) from None
    ns, setup = _rebuild(ck["config"], args.checkpoint, args.device, args.batch_size)
    try:
        setup.model.load_state_dict(ck["model"])
    except (ValueError, KeyError, RuntimeError) as exc:
        raise CLIError(f"{args.checkpoint}: the weights do not fit the model: {exc}", code=1) from None
    if setup.test_loader is None:
        raise CLIError(f"the {ns.model} recipe has no test split to compare the float and int8 models on", code=1)
    if setup.task != "classification":
        raise CLIError(f"--model {ns.model} is a {setup.task} model; `tinynet quantize` compares classifiers "
                       "(accuracy)", code=1)
    float_model = setup.model.eval()
    check_quantizable(float_model, mode)  # before anything is written
    per_channel = per_channel_default(args.backend) if args.per_channel is None else args.per_channel
    out_dir = args.out or os.path.join(os.path.dirname(args.checkpoint) or os.curdir, f"int8-{mode}")
    try:
        prepare_out_dir(out_dir)
    except OSError as exc:
        raise CLIError(exc, code=1) from None
    say = (lambda *a, **k: print(*a, file=sys.stderr, **k)) if args.json else print
    t_start = time.perf_counter()
    say(f"quantizing {ns.model} on {ns.dataset} from {args.checkpoint} (epoch {ck['epoch']}): {mode}, "
        f"backend {args.backend}, {'per-channel' if per_channel else 'per-tensor'} weights, on {args.device}")

    info = {"mode": mode, "backend": args.backend, "per_channel": per_channel}
    from .. import quantization as Q

    try:
        if mode == "dynamic":
            qmodel = dynamic_model(float_model, per_channel)
        elif mode == "static":
            n = min(args.calibrate or DEFAULT_CALIBRATE, len(setup.train_loader.dataset))
            calibration = _calibration_loader(setup, n, ns.batch_size, args.device, ns.seed)
            qmodel = quantize_static(float_model, calibration, args.backend, per_channel)
            info["calibration_samples"] = n
            say(f"calibrated on {n} training samples")
        else:
            from .common import build_optimizer

            prepared = prepare_qat(float_model, args.backend, per_channel)
            epochs = args.epochs or DEFAULT_QAT_EPOCHS
            lr = args.lr or QAT_LR_FACTOR * ns.lr
            optimizer = build_optimizer(ns.optimizer, prepared.parameters(), lr, ns.weight_decay, ns.momentum)
            trainer = Trainer(prepared, optimizer, setup.loss_fn, setup.train_loader, setup.val_loader,
                              task=setup.task, forward=setup.forward, predict=setup.predict,
                              progress=not args.no_progress, num_classes=setup.num_classes,
                              log=lambda line: say("qat " + line))
            say(f"quantization-aware fine-tuning: {epochs} epochs, {ns.optimizer} lr {lr:g}")
            try:
                trainer.fit(epochs)
            except (ValueError, FloatingPointError) as exc:
                raise CLIError(f"--qat: {exc}", code=1) from None
            info.update(qat_epochs=epochs, qat_lr=lr, qat_optimizer=ns.optimizer)
            qmodel = Q.convert(prepared.eval())
    except (ValueError, RuntimeError, TypeError) as exc:  # the library's own checks (named layers)
        raise CLIError(f"{mode} quantization failed: {exc}", code=1) from None
    qmodel.eval()

    evaluator = Trainer(float_model, None, setup.loss_fn, setup.train_loader, task=setup.task, forward=setup.forward,
                        predict=setup.predict, num_classes=setup.num_classes, progress=False)
    float_metrics = evaluator.evaluate(setup.test_loader)
    evaluator.model = qmodel
    try:
        int8_metrics = evaluator.evaluate(setup.test_loader)
    except (TypeError, AttributeError, NotImplementedError) as exc:
        raise CLIError(f"the int8 {type(float_model).__name__} does not run: {type(exc).__name__}: {exc}. Its forward "
                       "uses its layers in a way their int8 versions do not support (for example reading a layer's "
                       "`.weight` as a Tensor, which a quantized layer has as the method weight(), or arithmetic on "
                       "quantized activations)", code=1) from None

    extra = {"format": QUANTIZED_FORMAT, "epoch": ck["epoch"], "config": ck["config"], "extra": ck["extra"],
             "method": info}
    qpath = os.path.join(out_dir, QUANTIZED_CHECKPOINT)
    try:
        Q.save_quantized(qmodel, qpath, **extra)
    except OSError as exc:
        raise CLIError(exc, code=1) from None
    float_equiv = {"model": float_model.state_dict(), **extra}

    inputs = {b: _sample_batch(setup.test_loader, b) for b in LATENCY_BATCHES}
    lat = latency({"float32": float_model, "int8": qmodel}, inputs, args.repeats, device)
    f_bytes, q_bytes = file_bytes(float_equiv), os.path.getsize(qpath)
    f_tensors, q_tensors = tensor_bytes(float_model.state_dict()), tensor_bytes(qmodel.state_dict())
    rep = {
        "checkpoint": args.checkpoint, "quantized_checkpoint": qpath, "model": ns.model, "dataset": ns.dataset,
        **info,
        "float32": {"accuracy": float_metrics.get("accuracy"), "loss": float_metrics["loss"],
                    "file_bytes": f_bytes, "tensor_bytes": f_tensors,
                    "training_checkpoint_bytes": os.path.getsize(args.checkpoint),
                    "latency_s": {str(b): lat["float32"][b] for b in LATENCY_BATCHES}},
        "int8": {"accuracy": int8_metrics.get("accuracy"), "loss": int8_metrics["loss"], "file_bytes": q_bytes,
                 "tensor_bytes": q_tensors,
                 "latency_s": {str(b): lat["int8"][b] for b in LATENCY_BATCHES}},
        "accuracy_change_points": 100 * ((int8_metrics.get("accuracy") or 0) - (float_metrics.get("accuracy") or 0)),
        "size_ratio": f_bytes / q_bytes, "tensor_ratio": f_tensors / q_tensors,
        "speedup": {str(b): lat["float32"][b] / lat["int8"][b] for b in LATENCY_BATCHES},
        "batch_size": ns.batch_size, "latency_batches": list(LATENCY_BATCHES), "latency_rounds": args.repeats,
        "device": args.device, "cpu": cpu_model(), "threads": os.cpu_count(),
        "test_samples": len(setup.test_loader.dataset), "elapsed_s": time.perf_counter() - t_start,
    }
    try:
        from ..serialization import atomic_write

        atomic_write(os.path.join(out_dir, REPORT),
                     lambda fh: fh.write(json.dumps(rep, indent=1).encode()))
    except OSError as exc:
        raise CLIError(exc, code=1) from None
    if args.json:
        print(json.dumps(rep))
    else:
        print(format_table(rep))
        print(f"model file: the float32 weights saved with the same settings, against {QUANTIZED_CHECKPOINT} "
              "(tensor data: weights, biases, scales and zero points; the rest of a file is names and settings); "
              f"training checkpoint: {args.checkpoint} with its optimizer state. Latency: one forward pass, median "
              f"of {args.repeats} alternating rounds on "
              + (rep["cpu"] if device.type == "cpu" else f"{args.device} (host: {rep['cpu']})"))
        print(f"wrote {qpath} and {os.path.join(out_dir, REPORT)}; evaluate it with `tinynet evaluate {qpath}`")
    return 0
