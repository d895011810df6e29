"""Quantized models: float32 against int8 latency of whole digits models, tinynet and PyTorch.

    python -m benchmarks.bench_quantize [--quick] [--out DIR]   # alone
    python -m benchmarks --only QUANT                            # as a section of the suite

The models are the ``tinynet train`` recipes' digits MLP (64-128-64-10, ReLU) and LeNet CNN
(conv 1->32 and 32->64, 3x3, each with ReLU and 2x2 max pooling, then 256-128-10), in eval
mode, one forward pass per call, at batch 1, 32 and 256:

* **tinynet float32**: the float model;
* **tinynet int8 (static)**: what ``tinynet quantize`` builds: Conv2d/Linear fused with their
  ReLU, QuantStub/DeQuantStub around the model, the fbgemm default qconfig (per-channel
  weights), calibrated on 256 digits training images, converted: int8 x int8 products
  accumulated in int32 in tinynet's kernels;
* **tinynet int8 (dynamic)**, MLP only: int8 Linear weights, inputs quantized per call;
* **PyTorch float32** and **PyTorch int8 (static)** with torch.ao.quantization's eager flow on
  the same architecture and the same calibration data (fbgemm/x86 engine), when PyTorch is
  installed.

Times are medians of alternating rounds (``benchmarks._timing.alternate``), so the
machine's drift hits every variant alike. The weights are the models' random
initialisation: latency does not depend on what the weights learned. The goal is
int8 faster than float32 for batch <= 32 on the CPU; the tables report what is measured.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

from ._threads import limit_threads
from ._timing import alternate, fmt_time

BATCHES = (1, 32, 256)
MODELS = ("mlp", "cnn")
CALIBRATION = 256


def _digits(n, flatten):
    from tinynet.data import load_digits

    ds = load_digits("train", seed=0, flatten=flatten)
    x = ds.tensors[0].numpy()
    reps = -(-n // len(x))
    return np.concatenate([x] * reps)[:n].astype(np.float32)


def _tinynet_models(name):
    """{"float32": model, "int8 (static)": qmodel[, "int8 (dynamic)": dmodel]} for tinynet."""
    import tinynet as tn
    from tinynet.cli.quantize import dynamic_model, quantize_static
    from tinynet.models import build_model

    tn.manual_seed(0)
    if name == "mlp":
        model = build_model("mlp", in_features=64, out_features=10, hidden=(128, 64))
    else:
        model = build_model("cnn", in_channels=1, num_classes=10, input_size=8, channels=(32, 64), hidden=128,
                            dropout=0.25)
    model.eval()
    calib = _digits(CALIBRATION, flatten=(name == "mlp"))
    batches = [tn.tensor(calib[i:i + 32]) for i in range(0, CALIBRATION, 32)]
    out = {"float32": model, "int8 (static)": quantize_static(model, batches, "fbgemm")}
    if name == "mlp":
        out["int8 (dynamic)"] = dynamic_model(model, True)
    return out


def _torch_models(name):
    import warnings

    warnings.filterwarnings("ignore", message=".*quantized tensor creation functions.*")
    warnings.filterwarnings("ignore", message=".*torch.ao.quantization is deprecated.*")
    import torch
    import torch.ao.quantization as tq
    from torch import nn

    torch.manual_seed(0)
    if name == "mlp":
        model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
        groups = [["0", "1"], ["2", "3"]]
    else:
        model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                              nn.Linear(256, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10))
        groups = [["0", "1"], ["3", "4"], ["7", "8"]]
    model.eval()
    engine = "x86" if "x86" in torch.backends.quantized.supported_engines else "fbgemm"
    torch.backends.quantized.engine = engine
    q = tq.QuantWrapper(tq.fuse_modules(__import__("copy").deepcopy(model), groups))
    q.qconfig = tq.get_default_qconfig(engine)
    q = tq.prepare(q)
    calib = torch.from_numpy(_digits(CALIBRATION, flatten=(name == "mlp")))
    with torch.no_grad():
        for i in range(0, CALIBRATION, 32):
            q(calib[i:i + 32])
    return {"float32": model, "int8 (static)": tq.convert(q).eval()}, engine


def _case_tinynet(model, x):
    import tinynet as tn
    from tinynet.autograd import no_grad

    xt = tn.tensor(x)

    def step():
        with no_grad():
            model(xt)
    return step


def _case_torch(model, x):
    import torch

    xt = torch.from_numpy(x)

    def step():
        with torch.no_grad():
            model(xt)
    return step


def run(quick=False, log=print, clock=time.perf_counter):
    """Time every (model, batch, variant); returns the results dict (see the module docstring)."""
    rounds, block_s = (5, 0.02) if quick else (9, 0.05)
    res = {"batches": list(BATCHES), "rounds": rounds, "entries": [], "not_available": {}}
    try:
        import torch
        res["torch_threads"] = torch.get_num_threads()
    except ImportError:
        torch = None
        res["not_available"]["torch"] = "PyTorch not installed"
    for name in MODELS:
        try:
            tmodels = _tinynet_models(name)
        except Exception as exc:  # reported, never hidden
            res["not_available"][f"tinynet {name}"] = f"{type(exc).__name__}: {exc}"
            tmodels = {}
        tqmodels, engine = ({}, None)
        if torch is not None:
            try:
                tqmodels, engine = _torch_models(name)
                res["torch_engine"] = engine
            except Exception as exc:
                res["not_available"][f"torch {name}"] = f"{type(exc).__name__}: {exc}"
        for batch in BATCHES:
            x = _digits(batch, flatten=(name == "mlp"))
            cases = {}
            for label, m in tmodels.items():
                cases[f"tinynet {label}"] = (lambda m=m: _case_tinynet(m, x))
            for label, m in tqmodels.items():
                cases[f"torch {label}"] = (lambda m=m: _case_torch(m, x))
            built, errors = {}, {}
            for label, make in cases.items():
                try:
                    built[label] = make()
                except Exception as exc:
                    errors[label] = {"error": f"not available: {type(exc).__name__}: {exc}"}
            log(f"QUANT {name} batch {batch}: {', '.join(built)}")
            out = alternate(built, rounds=rounds, block_s=block_s, clock=clock)
            out.update(errors)
            entry = {"model": name, "batch": batch, "results": out}
            med = {k: v["median_s"] for k, v in out.items() if "median_s" in v}
            entry["speedup_int8"] = {fw: med[f"{fw} float32"] / med[f"{fw} int8 (static)"]
                                     for fw in ("tinynet", "torch")
                                     if f"{fw} float32" in med and f"{fw} int8 (static)" in med}
            res["entries"].append(entry)
    return res


def markdown(res) -> str:
    labels = ["tinynet float32", "tinynet int8 (static)", "tinynet int8 (dynamic)", "torch float32",
              "torch int8 (static)"]
    lines = ["## Quantized models: float32 vs int8 forward latency (digits MLP and CNN)", "",
             "One eval-mode forward pass per call; medians of alternating rounds. Speed-up = float32 time / "
             "int8 (static) time of the same framework (above 1: int8 is faster). Goal: tinynet int8 faster "
             f"than float32 for batch <= 32 on the CPU. PyTorch engine: {res.get('torch_engine', '—')}.", "",
             "| model | batch | " + " | ".join(labels) + " | tinynet speed-up | goal met | PyTorch speed-up |",
             "|---|---|" + "---|" * (len(labels) + 3)]
    for e in res["entries"]:
        r = e["results"]
        cells = [fmt_time(r[k]["median_s"]) if "median_s" in r.get(k, {}) else ("—" if k not in r else "error")
                 for k in labels]
        sp = e["speedup_int8"]
        tn_sp = sp.get("tinynet")
        met = "—" if tn_sp is None or e["batch"] > 32 else ("yes" if tn_sp > 1 else "no")
        th_sp = sp.get("torch")
        lines.append(f"| {e['model']} | {e['batch']} | " + " | ".join(cells) +
                     f" | {'—' if tn_sp is None else format(tn_sp, '.2f') + 'x'} | {met} | "
                     f"{'—' if th_sp is None else format(th_sp, '.2f') + 'x'} |")
    errors = {f"{e['model']}/{e['batch']} {k}": v["error"] for e in res["entries"] for k, v in e["results"].items()
              if "error" in v}
    missing = {**res["not_available"], **errors}
    if missing:
        lines += ["", "Not timed: " + "; ".join(f"{k}: {v}" for k, v in missing.items()) + "."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_quantize", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds")
    ap.add_argument("--out", default=os.path.join("benchmarks", "results"), help="output folder (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=None, help="limit BLAS, Numba and PyTorch to this many threads")
    args = ap.parse_args(argv)
    if args.threads:
        limit_threads(args.threads)
    from . import machine

    res = run(quick=args.quick, log=lambda m: print(m, file=sys.stderr, flush=True))
    res["machine"] = machine.describe()
    text = f"Machine: {machine.summary_line(res['machine'])}.\n\n" + markdown(res)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "quantize.md"), "w") as fh:
        fh.write(text)
    with open(os.path.join(args.out, "quantize.json"), "w") as fh:
        json.dump(res, fh, indent=1, default=str)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
