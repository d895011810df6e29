"""Recipes ``--model gpt|lstm|bert``: sequence models on text and synthetic tasks.

* ``gpt`` (GPT-mini) and ``lstm`` (Embedding-LSTM-Dense) are language models, trained on
  next-token prediction:

  - ``pydoc``: CPython's bundled help text (real English, offline), character level by
    default (``--tokenizer word`` for words); 90 % train, then 5 % validation, 5 % test,
    cut by position; windows of ``--context`` tokens.
  - ``sort``, ``reverse``, ``addition``: "prompt | answer" sequences; the loss and the
    accuracy count only the answer tokens.

(The ``bert`` recipe lives in :mod:`.bert`.)

The checkpoint's ``extra`` holds the model kind, its constructor arguments and the
tokenizer's vocabulary, which is all ``tinynet generate`` needs.
"""
from __future__ import annotations

from ... import functional as F
from ...data import DataLoader, TensorDataset
from ...data.text import (IGNORE_INDEX, CharTokenizer, TextWindowDataset, WordTokenizer, addition_task,
                          pydoc_corpus, reverse_task, sort_task)
from ...models import build_model
from ..common import positive_int, probability
from .base import Setup, register

LM_DATASETS = ("pydoc", "sort", "reverse", "addition")


def _add_arguments(group):
    group.add_argument("--context", type=positive_int, default=64, help="gpt/lstm: tokens per training window (gpt: its context)")
    group.add_argument("--d-model", type=positive_int, default=None, help="gpt/bert: model width (default: gpt 128, bert 64)")
    group.add_argument("--n-heads", type=positive_int, default=4, help="gpt/bert: attention heads")
    group.add_argument("--n-layers", type=positive_int, default=None, help="gpt/bert/lstm: layers (default: gpt/bert 2, lstm 1)")
    group.add_argument("--hidden-size", type=positive_int, default=256, help="lstm: hidden units")
    group.add_argument("--embed-dim", type=positive_int, default=64, help="lstm: embedding width")
    group.add_argument("--seq-dropout", type=probability, default=0.0, help="gpt/lstm/bert: dropout probability")
    group.add_argument("--tokenizer", choices=("char", "word"), default="char", help="pydoc: character or word tokens")
    group.add_argument("--task-length", type=positive_int, default=None, help="sort/reverse: digits per sequence (default 6); "
                       "addition: digits per operand (2); bert on parens: maximum length (16)")
    group.add_argument("--task-samples", type=positive_int, default=10000, help="sort/reverse/addition/parens: training samples")
    group.add_argument("--window-stride", type=positive_int, default=None, help="pydoc: offset between training windows "
                       "(default: the context; smaller = more, overlapping windows per epoch)")


def _loader(ds, args, shuffle, offset):
    return DataLoader(ds, batch_size=args.batch_size, shuffle=shuffle, seed=args.seed + offset, device=args.device)


def lm_forward(model, batch):
    """Flatten (N, T, V) logits and (N, T) targets to token rows, dropping ignored targets."""
    x, y = batch[0], batch[1]
    logits = model(x)
    v = logits.shape[-1]
    flat, target = logits.reshape(-1, v), y.reshape(-1)
    keep = target.array != IGNORE_INDEX
    if not bool(keep.all()):
        idx = flat.device.xp.nonzero(keep)[0]
        flat, target = flat[idx], target[idx]
    return flat, target


def _task(name, n, length, seed):
    if name == "sort":
        return sort_task(n, length=length, seed=seed)
    if name == "reverse":
        return reverse_task(n, length=length, seed=seed)
    return addition_task(n, digits=length, seed=seed)


def lm_data(args):
    """(train, val, test datasets, tokenizer, extra task info) for a language-model dataset."""
    if args.dataset == "pydoc":
        train_text, held = pydoc_corpus(0.1)
        val_text, test_text = held[: len(held) // 2], held[len(held) // 2:]
        tok = (CharTokenizer.from_text(train_text) if args.tokenizer == "char"
               else WordTokenizer.from_text(train_text, max_size=8000, min_freq=2))
        ctx = args.context
        train = TextWindowDataset(tok.encode(train_text), ctx, stride=args.window_stride or ctx)
        val = TextWindowDataset(tok.encode(val_text), ctx, stride=ctx)
        test = TextWindowDataset(tok.encode(test_text), ctx, stride=ctx)
        return train, val, test, tok, {}
    length = args.task_length or (2 if args.dataset == "addition" else 6)
    n = args.task_samples
    # one draw split three ways, no sequence shared by two parts (separate draws would repeat sequences)
    m = max(n // 10, 100)
    parts = _task(args.dataset, n + 2 * m, length, args.seed).split3(m, m)
    tok = parts[0].tokenizer
    info = {"prompt_len": parts[0].prompt_len, "answer_len": parts[0].answer_len}
    return (*(p.dataset() for p in parts), tok, info)


def _model_config(args, vocab_size):
    kind = args.model
    if kind == "gpt":
        return dict(vocab_size=vocab_size, context=args.context, d_model=args.d_model or 128, n_heads=args.n_heads,
                    n_layers=args.n_layers or 2, dropout=args.seq_dropout)
    return dict(vocab_size=vocab_size, embed_dim=args.embed_dim, hidden_size=args.hidden_size,
                num_layers=args.n_layers or 1, dropout=args.seq_dropout)


def _lm_recipe(args) -> Setup:
    train, val, test, tok, info = lm_data(args)
    if args.model == "gpt" and args.dataset != "pydoc":
        args.context = max(args.context, train.tensors[0].shape[1])  # a task sequence must fit the context
    config = _model_config(args, tok.vocab_size)
    model = build_model(args.model, **config)
    extra = {"model_kind": args.model, "model_config": config, "tokenizer": tok.to_dict(), **info}
    # Text: loss (nats per token) is the measure; a 100-class confusion matrix would say little.
    # Tasks: the answer tokens' accuracy (a small vocabulary) is reported too.
    task = "regression" if args.dataset == "pydoc" else "classification"
    return Setup(model=model, train_loader=_loader(train, args, True, 0), val_loader=_loader(val, args, False, 1),
                 test_loader=_loader(test, args, False, 2), loss_fn=F.cross_entropy, task=task,
                 num_classes=tok.vocab_size if task == "classification" else None, forward=lm_forward, extra=extra)


_LM_DEFAULTS = {"optimizer": "adamw", "lr": 3e-3, "batch_size": 32, "epochs": 5, "weight_decay": 0.01}


register("gpt", datasets=LM_DATASETS, add_arguments=_add_arguments, defaults=_LM_DEFAULTS,
         help="GPT-mini decoder-only Transformer (tinynet.models.GPTMini)")(_lm_recipe)
register("lstm", datasets=LM_DATASETS, defaults=_LM_DEFAULTS,
         help="Embedding-LSTM-Dense language model (tinynet.models.LSTMLanguageModel)")(_lm_recipe)


def exact_match_accuracy(model, dataset: TensorDataset, prompt_len: int, answer_len: int, batch_size: int = 256) -> float:
    """Fraction of task sequences whose whole answer the model generates correctly (greedy)."""
    x, y = (t.numpy() for t in dataset.tensors)
    correct = 0
    for s in range(0, len(x), batch_size):
        prompt = x[s:s + batch_size, :prompt_len]
        out = model.generate(prompt, answer_len, temperature=0).numpy()[:, prompt_len:]
        correct += int((out == y[s:s + batch_size, prompt_len - 1:]).all(axis=1).sum())
    return correct / max(len(x), 1)
