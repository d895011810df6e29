"""Issue 5's acceptance runs for the sequence models (minutes, not a test).

    python -m benchmarks.acceptance_sequence sort      # GPT-mini, sort: exact-sequence accuracy >= 99 %
    python -m benchmarks.acceptance_sequence pydoc-gpt  # <= 5 min on pydoc text: val loss < bigram's
    python -m benchmarks.acceptance_sequence pydoc-lstm
    python -m benchmarks.acceptance_sequence parens     # BERT-style classifier >= 95 %

Each prints its figures and a PASS/FAIL line; ``--json FILE`` also writes them.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

import tinynet as tn
import tinynet.functional as F
import tinynet.optim as optim
from tinynet.cli.recipes.sequence import exact_match_accuracy
from tinynet.data.text import (CharTokenizer, TextWindowDataset, bigram_loss, parens_task, pydoc_corpus,
                               sort_task)
from tinynet.models import BERTClassifier, GPTMini, LSTMLanguageModel


def run_sort(budget_s=900.0):
    tn.manual_seed(0)
    train, val = sort_task(20000, length=6, seed=0), sort_task(1000, length=6, seed=1)
    V = train.tokenizer.vocab_size
    model = GPTMini(V, context=12, d_model=64, n_heads=4, n_layers=2)
    opt = optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    rng = np.random.default_rng(0)
    t0, step, acc = time.time(), 0, 0.0
    while time.time() - t0 < budget_s:
        idx = rng.integers(0, len(train.inputs), 64)
        loss = F.cross_entropy(model(tn.tensor(train.inputs[idx])).reshape(-1, V), tn.tensor(train.targets[idx]).reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 250 == 0:
            acc = exact_match_accuracy(model, val.dataset(), val.prompt_len, val.answer_len)
            print(f"sort step {step} loss {loss.item():.4f} val exact-sequence accuracy {acc:.4f} ({time.time() - t0:.0f} s)", flush=True)
            if acc >= 0.995:
                break
    return {"task": "sort (length 6, digits 0-9)", "steps": step, "seconds": time.time() - t0,
            "exact_sequence_accuracy": acc, "pass": acc >= 0.99}


def _eval_lm(model, ds, V, batch=64):
    total, n = 0.0, 0
    with tn.no_grad():
        for s in range(0, len(ds), batch):
            x, y = ds.take(np.arange(s, min(s + batch, len(ds))))
            total += F.cross_entropy(model(x).reshape(-1, V), y.reshape(-1), reduction="sum").item()
            n += y.numel()
    return total / n


def run_pydoc(kind, budget_s=300.0):
    tn.manual_seed(0)
    train_text, val_text = pydoc_corpus(0.1)
    tok = CharTokenizer.from_text(train_text)
    V = tok.vocab_size
    train_ids, val_ids = tok.encode(train_text), tok.encode(val_text)
    bigram = bigram_loss(train_ids, val_ids, V, alpha=1.0)
    ctx = 64
    train = TextWindowDataset(train_ids, ctx, stride=1)
    val = TextWindowDataset(val_ids, ctx, stride=ctx)
    if kind == "gpt":
        model = GPTMini(V, context=ctx, d_model=128, n_heads=4, n_layers=2)
        opt = optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    else:
        model = LSTMLanguageModel(V, embed_dim=64, hidden_size=256)
        opt = optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    rng = np.random.default_rng(0)
    t0, step = time.time(), 0
    while time.time() - t0 < budget_s:
        x, y = train.take(rng.integers(0, len(train), 32))
        loss = F.cross_entropy(model(x).reshape(-1, V), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 200 == 0:
            print(f"{kind} step {step} train loss {loss.item():.3f} ({time.time() - t0:.0f} s)", flush=True)
    train_s = time.time() - t0
    model.eval()
    val_loss = _eval_lm(model, val, V)
    sample = tok.decode(model.generate([tok.encode("The return statement")], 200, temperature=0.8, seed=0).numpy()[0])
    print(f"--- {kind} sample (temperature 0.8) ---\n{sample}\n---")
    return {"model": kind, "steps": step, "train_seconds": train_s, "val_loss": val_loss,
            "bigram_val_loss_add_one": bigram, "bigram_val_loss_ml_add_1e-3": bigram_loss(train_ids, val_ids, V, alpha=1e-3),
            "sample": sample, "pass": val_loss < bigram}


def run_parens(budget_s=900.0):
    tn.manual_seed(0)
    train, val = parens_task(10000, max_len=16, seed=0), parens_task(2000, max_len=16, seed=1)
    model = BERTClassifier(train.tokenizer.vocab_size, 2, max_len=17, d_model=64, n_heads=4, n_layers=2, dropout=0.0)
    opt = optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    rng = np.random.default_rng(0)
    t0, step, acc = time.time(), 0, 0.0
    while time.time() - t0 < budget_s:
        idx = rng.integers(0, len(train.inputs), 64)
        loss = F.cross_entropy(model(tn.tensor(train.inputs[idx])), tn.tensor(train.targets[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 250 == 0:
            model.eval()
            with tn.no_grad():
                acc = float((model(tn.tensor(val.inputs)).numpy().argmax(1) == val.targets).mean())
            model.train()
            print(f"parens step {step} loss {loss.item():.4f} val accuracy {acc:.4f} ({time.time() - t0:.0f} s)", flush=True)
            if acc >= 0.99:
                break
    return {"task": "balanced parentheses (length <= 16)", "steps": step, "seconds": time.time() - t0,
            "accuracy": acc, "pass": acc >= 0.95}


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.acceptance_sequence")
    ap.add_argument("which", choices=("sort", "pydoc-gpt", "pydoc-lstm", "parens"))
    ap.add_argument("--budget", type=float, default=None, help="seconds of training (pydoc default 300)")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)
    if args.which == "sort":
        res = run_sort(args.budget or 900.0)
    elif args.which == "parens":
        res = run_parens(args.budget or 900.0)
    else:
        res = run_pydoc(args.which.split("-")[1], args.budget or 300.0)
    print(json.dumps({k: v for k, v in res.items() if k != "sample"}, indent=1))
    print("PASS" if res["pass"] else "FAIL")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0 if res["pass"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
