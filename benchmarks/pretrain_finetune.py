"""Does pre-training matter? BERT fine-tuned vs trained from scratch vs a linear probe vs
bag-of-words logistic regression on a low-label task (tens of minutes on 2 cores; not a test).

    python -m benchmarks.pretrain_finetune                        # pre-train, then everything
    python -m benchmarks.pretrain_finetune --pretrained runs/bert-pretrain-pydoc/checkpoint.safetensors

The task is ``tinynet train --model bert --dataset docstrings``: which of 8 standard-library
packages a docstring comes from, 50 labelled docstrings per class (400), validation and
test texts disjoint from training (and left out of the pre-training corpus). Every arm is
the same command-line run with different options, repeated with seeds 0, 1, 2 (the seed
sets the head's initialisation, dropout and shuffling; the split is fixed):

* **scratch**: the same architecture and tokenizer, random weights;
* **fine-tuned**: ``--init-from`` the pre-trained checkpoint, every weight trained;
* **linear probe**: ``--init-from ... --freeze encoder``, only the linear head trained;
* **bag of words**: TF-IDF + logistic regression (C chosen on the validation split).

Writes ``pretrain_finetune.md`` (the table, the pre-training curve, the commands) and
``pretrain_finetune.png`` into ``--out``.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np

from tinynet.cli.main import main as tinynet
from tinynet.data import bag_of_words_baseline, docstring_task

from .machine import describe, summary_line

# Each arm's options beyond the task's (`--model bert --dataset docstrings --pooling P`).
# Scratch and fine-tuned train identically (rate, epochs, dropout, batch): only the initial
# weights differ. The probe trains one linear layer, so it gets a larger rate and more epochs.
ARMS = {
    "scratch": ["--lr", "1e-3", "--epochs", "30"],
    "fine-tuned": ["--lr", "1e-3", "--epochs", "30", "--init-from", "{ckpt}"],
    "linear probe": ["--lr", "1e-2", "--epochs", "60", "--init-from", "{ckpt}", "--freeze", "encoder"],
}
COMMON = ["--model", "bert", "--dataset", "docstrings", "--seq-dropout", "0.1", "--batch-size", "32", "--no-progress"]


def pretrain(out_dir: str, epochs: int) -> str:
    code = tinynet(["pretrain", "--epochs", str(epochs), "--out", out_dir, "--no-progress"])
    if code:
        raise SystemExit(f"tinynet pretrain failed with status {code}")
    return os.path.join(out_dir, "checkpoint.safetensors")


def run_arm(name, ckpt, seed, work, per_class, pooling) -> dict:
    out = os.path.join(work, f"{name.replace(' ', '-')}-{pooling}-{per_class}-{seed}")
    args = (COMMON + ["--pooling", pooling, "--train-per-class", str(per_class)] + [a.format(ckpt=ckpt) for a in ARMS[name]]
            + ["--seed", str(seed), "--out", out])
    t0 = time.perf_counter()
    code = tinynet(["train", *args])
    if code:
        raise SystemExit(f"tinynet train {' '.join(args)} failed with status {code}")
    doc = json.load(open(os.path.join(out, "metrics.json")))
    best_val = max(r["val_accuracy"] for r in doc["history"])
    return {"test": doc["test"]["accuracy"], "val": doc["history"][-1]["val_accuracy"], "best_val": best_val,
            "seconds": time.perf_counter() - t0, "command": "tinynet train " + " ".join(args[:-2])}


def _plot(history, results, bow, labels, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    epochs = [r["epoch"] for r in history]
    a.plot(epochs, [r["val_perplexity"] for r in history], "o-", label="validation perplexity (masked tokens)")
    a.set_xlabel("pre-training epoch")
    a.set_ylabel("perplexity")
    a.set_yscale("log")
    a2 = a.twinx()
    a2.plot(epochs, [100 * r["val_mlm_accuracy"] for r in history], "s--", color="C1", label="masked-token accuracy")
    a2.set_ylabel("masked-token accuracy (%)")
    a.set_title("masked-language-model pre-training")
    lines = a.get_legend_handles_labels()[0] + a2.get_legend_handles_labels()[0]
    a.legend(lines, [ln.get_label() for ln in lines], loc="center right", fontsize=8)
    names = list(results) + ["bag of words"]
    means = [100 * np.mean([r["test"] for r in results[n]]) for n in results] + [100 * bow.test_accuracy]
    stds = [100 * np.std([r["test"] for r in results[n]]) for n in results] + [0.0]
    b.bar(names, means, yerr=stds, color=["C7", "C0", "C2", "C3"][: len(names)], capsize=4)
    for x, (m, sd) in enumerate(zip(means, stds)):
        b.text(x, m + sd + 1.5, f"{m:.1f}", ha="center")
    b.axhline(100 / 8, color="k", lw=0.8, ls=":", label="chance")
    b.set_ylabel("test accuracy (%)")
    b.set_title(f"docstring -> package, {labels} labels (mean of {len(next(iter(results.values())))} seeds)")
    b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pretrained", default=None, help="a `tinynet pretrain` checkpoint (default: pre-train now)")
    p.add_argument("--pretrain-epochs", type=int, default=30)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    p.add_argument("--train-per-class", type=int, default=50, help="labelled training texts per class")
    p.add_argument("--pooling", choices=("cls", "mean"), default="cls",
                   help="the classifier's input: the pooled [CLS] vector (BERT's) or the mean hidden state")
    p.add_argument("--out", default="benchmarks/results")
    args = p.parse_args(argv)
    work = tempfile.mkdtemp(prefix="pretrain-finetune-")
    t0 = time.perf_counter()
    ckpt = args.pretrained or pretrain(os.path.join(work, "pretrain"), args.pretrain_epochs)
    history = json.load(open(os.path.join(os.path.dirname(ckpt), "metrics.json")))["history"]
    results = {name: [run_arm(name, ckpt, s, work, args.train_per_class, args.pooling) for s in args.seeds]
               for name in args.arms}
    task = docstring_task(train_per_class=args.train_per_class)
    bow = bag_of_words_baseline(task)
    lines = [f"# Pre-training vs from scratch on a low-label task ({time.strftime('%Y-%m-%d')}; "
             f"{args.pooling} pooling)", "",
             f"Machine: {summary_line(describe())}", "",
             f"Task: docstring -> standard-library package, {task.num_classes} classes, "
             f"{len(task.train)} / {len(task.val)} / {len(task.test)} train / validation / test texts "
             "(disjoint; validation and test texts are not in the pre-training corpus).", "",
             "| arm | test accuracy, mean ± std (seeds " + ", ".join(map(str, args.seeds)) + ") | per seed | "
             "validation (last epoch) | seconds per run |", "|---|---|---|---|---|"]
    for name, rows in results.items():
        t = [r["test"] for r in rows]
        lines.append(f"| {name} | **{100 * np.mean(t):.1f}** ± {100 * np.std(t):.1f} | "
                     + ", ".join(f"{100 * v:.1f}" for v in t)
                     + f" | {100 * np.mean([r['val'] for r in rows]):.1f} | {np.mean([r['seconds'] for r in rows]):.0f} |")
    lines.append(f"| bag of words (TF-IDF + logistic regression, C={bow.C:g}) | **{100 * bow.test_accuracy:.1f}** | "
                 f"(deterministic) | {100 * bow.val_accuracy:.1f} | - |")
    if "fine-tuned" in results and "scratch" in results:
        gain = 100 * (np.mean([r["test"] for r in results["fine-tuned"]]) - np.mean([r["test"] for r in results["scratch"]]))
        lines += ["", f"Fine-tuned minus scratch: **{gain:+.1f} points** (target: at least +5)."]
    if "linear probe" in results:
        gap = 100 * (np.mean([r["test"] for r in results["linear probe"]]) - bow.test_accuracy)
        lines += [f"Linear probe minus bag of words: **{gap:+.1f} points** (target: above 0)."]
    lines += ["", "Pre-training (validation pairs; masked-token metrics over the 15 % masked positions):", "",
              "| epoch | MLM loss | perplexity | masked-token accuracy | sentence-order accuracy |", "|---|---|---|---|---|"]
    for r in history:
        lines.append(f"| {r['epoch']} | {r['val_mlm_loss']:.3f} | {r['val_perplexity']:.1f} | "
                     f"{100 * r['val_mlm_accuracy']:.1f} % | {100 * r['val_sentence_accuracy']:.1f} % |")
    lines += ["", "Commands:", "", "```", f"tinynet pretrain --epochs {len(history)}"]
    lines += sorted({rows[0]["command"].replace(ckpt, "PRETRAINED_CKPT") for rows in results.values()})
    lines += ["```", "", f"Total time: {time.perf_counter() - t0:.0f} s.", ""]
    os.makedirs(args.out, exist_ok=True)
    stem = "pretrain_finetune" + (f"_{args.pooling}" if args.pooling != "cls" else "") \
        + (f"_{args.train_per_class}" if args.train_per_class != 50 else "")
    with open(os.path.join(args.out, stem + ".md"), "w") as f:
        f.write("\n".join(lines))
    _plot(history, results, bow, len(task.train), os.path.join(args.out, stem + ".png"))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
