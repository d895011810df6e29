"""Structured pruning benchmark: forward time of the digits MLP and CNN, dense vs 50 % of the
channels pruned (masked) vs rebuilt smaller (``nn.utils.shrink.shrink``).

    python -m benchmarks.bench_prune                 # batch 1, 32, 256
    python -m benchmarks.bench_prune --threads 1     # pin every thread pool (busy machines)
    python -m benchmarks.bench_prune --json out.json

Models: the ``tinynet train --model mlp --dataset digits`` MLP (64-128-64-10) and the
``--model cnn`` LeNet on 8x8 digits (Conv 1→32, Conv 32→64, Linear 256→128→10). Every
Linear/Conv2d but the output layer loses 50 % of its output channels by L2 norm
(``prune.ln_structured(..., dim=0)`` and the channels' biases), then the model is shrunk;
the shrunk model's outputs are checked against the masked one's before timing. Timing:
``model(x)`` under ``tn.no_grad()`` in eval mode, interleaved rounds, median per call.
Masked pruning is no faster than dense (same tensor sizes, plus the mask product in the
pre-hook); only the rebuilt model does less work.
"""
from __future__ import annotations

import argparse
import json
import sys

from ._threads import pin_threads

if "numpy" not in sys.modules:
    pin_threads(sys.argv)

import numpy as np  # noqa: E402

from ._timing import alternate, fmt_time  # noqa: E402

BATCHES = (1, 32, 256)


def models():
    """{name: (dense model, input shape without batch)} with the digits recipes' layer sizes."""
    import tinynet as tn
    from tinynet.models import build_model

    tn.manual_seed(0)
    return {
        "mlp": (build_model("mlp", in_features=64, out_features=10, hidden=(128, 64)), (64,)),
        "cnn": (build_model("cnn", in_channels=1, num_classes=10, input_size=8, channels=(32, 64), hidden=128),
                (1, 8, 8)),
    }


def pruned_versions(model, shape, amount=0.5):
    """(masked copy, shrunk copy) of ``model`` with ``amount`` of the channels pruned."""
    import copy

    import tinynet as tn
    from tinynet import nn
    from tinynet.nn.utils import prune
    from tinynet.nn.utils.shrink import prune_dead_biases, shrink

    masked = copy.deepcopy(model)
    layers = [m for m in masked.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    for m in layers[:-1]:
        prune.ln_structured(m, "weight", amount=amount, n=2, dim=0)
    prune_dead_biases(masked)
    masked.eval()
    x = tn.randn(8, *shape)
    small = shrink(masked, x)
    small.eval()
    with tn.no_grad():
        np.testing.assert_allclose(masked(x).numpy(), small(x).numpy(), rtol=1e-4, atol=1e-5)
    return masked, small


def run(rounds=7):
    import tinynet as tn

    results = []
    for name, (dense, shape) in models().items():
        dense.eval()
        masked, small = pruned_versions(dense, shape)
        params = {"dense": dense.num_parameters(), "shrunk": small.num_parameters()}
        for batch in BATCHES:
            x = tn.randn(batch, *shape)

            def fwd(m):
                def f():
                    with tn.no_grad():
                        m(x)
                return f

            res = alternate({"dense": fwd(dense), "masked": fwd(masked), "shrunk": fwd(small)}, rounds=rounds,
                            block_s=0.05)
            row = {"model": name, "batch": batch, "params_dense": params["dense"], "params_shrunk": params["shrunk"]}
            for label, r in res.items():
                row[label + "_s"] = r.get("median_s")
            row["speedup"] = row["dense_s"] / row["shrunk_s"]
            results.append(row)
            print(f"{name:>3} batch {batch:>3}: dense {fmt_time(row['dense_s']):>9}  masked "
                  f"{fmt_time(row['masked_s']):>9}  shrunk {fmt_time(row['shrunk_s']):>9}  "
                  f"speed-up {row['speedup']:.2f}x  (params {params['dense']:,} -> {params['shrunk']:,})",
                  flush=True)
    return results


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=None, help="pin thread pools (read before NumPy loads)")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--json", default=None, metavar="PATH", help="also write the results as JSON")
    args = p.parse_args(argv)
    from .machine import describe, summary_line

    info = describe()
    print(summary_line(info))
    results = run(args.rounds)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"machine": info, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
