"""Recipe ``--model bert``: the BERT encoder classifier (tinynet.models.BERTClassifier).

* ``parens``: balanced-parentheses classification (synthetic), ``<cls>`` + symbols +
  padding, trained from scratch.
* ``docstrings``: which standard-library package a docstring comes from
  (:func:`tinynet.data.docstring_task`: 8 packages, ``--train-per-class`` labelled
  examples each, validation and test texts disjoint from training and from each other).
  Inputs are WordPiece tokens ``[CLS] text [SEP]`` cut to ``--max-len``. With
  ``--init-from`` a ``tinynet pretrain`` checkpoint gives the tokenizer, the architecture
  and the encoder's weights (fine-tuning; ``--freeze encoder`` for a linear probe);
  without it the same architecture starts from random weights and the tokenizer is
  trained exactly as ``tinynet pretrain`` trains it (same corpus, same vocabulary size),
  so the two runs differ only in the initial weights.
"""
from __future__ import annotations

import numpy as _np

from ... import functional as F
from ...data import DataLoader, TensorDataset
from ...data.docstrings import docstring_task
from ...data.text import Tokenizer, parens_task
from ...data.wordpiece import WordPieceTokenizer
from ...models import build_model
from ..common import CLIError, positive_int
from ..finetune import init_checkpoint
from ..pretraining import corpus
from .base import Setup, register

PRETRAIN_DEFAULTS = dict(d_model=128, n_heads=4, n_layers=2, max_len=64, vocab_size=4000)


def _add_arguments(group):
    group.add_argument("--norm-first", action="store_true", help="bert: pre-norm encoder layers (default: post-norm)")
    group.add_argument("--max-len", type=positive_int, default=None,
                       help="bert on docstrings: tokens per text, [CLS] and [SEP] included (default 64)")
    group.add_argument("--vocab-size", type=positive_int, default=None,
                       help="bert on docstrings without --init-from: WordPiece vocabulary size (default 4000)")
    group.add_argument("--pooling", choices=("cls", "mean"), default="cls",
                       help="bert: classify from the pooled [CLS] vector (BERT) or the mean of the tokens' hidden "
                            "states (default: cls)")
    group.add_argument("--train-per-class", type=positive_int, default=50,
                       help="bert on docstrings: labelled training examples per class (default 50)")


def _loader(ds, args, shuffle, offset):
    return DataLoader(ds, batch_size=args.batch_size, shuffle=shuffle, seed=args.seed + offset, device=args.device)


def encode_texts(tokenizer, texts, max_len: int) -> _np.ndarray:
    """(N, max_len) ids ``[CLS] tokens [SEP] [PAD] ...``, each text's tokens cut to fit."""
    out = _np.full((len(texts), max_len), tokenizer.pad_id, dtype=_np.int64)
    for i, text in enumerate(texts):
        ids = [tokenizer.cls_id] + tokenizer.encode(text)[: max_len - 2] + [tokenizer.sep_id]
        out[i, : len(ids)] = ids
    return out


def _given(args, key):
    return getattr(args, key, None) is not None


def _docstrings(args) -> Setup:
    ck = init_checkpoint(args)
    if ck is not None:
        extra = ck.get("extra") or {}
        config = extra.get("model_config")
        if not isinstance(config, dict) or extra.get("model_kind") not in ("bert-pretraining", "bert"):
            raise CLIError(f"--init-from {args.init_from}: not a BERT checkpoint (its model is "
                           f"{extra.get('model_kind')!r}); pre-train one with `tinynet pretrain --model bert`", code=1)
        clash = [k for k in ("d_model", "n_layers", "max_len", "vocab_size") if _given(args, k)]
        clash += ["n_heads"] if any(a.split("=")[0] == "--n-heads" for a in getattr(args, "_argv", ())) else []
        if clash:
            raise CLIError(f"--init-from: the architecture and tokenizer come from the checkpoint, so "
                           f"{', '.join('--' + k.replace('_', '-') for k in clash)} cannot be given")
        try:
            tokenizer = Tokenizer.from_dict(extra.get("tokenizer"))
        except (TypeError, ValueError, AttributeError) as exc:
            raise CLIError(f"--init-from {args.init_from}: its tokenizer is unusable ({exc})", code=1) from None
        arch = {k: config[k] for k in ("max_len", "d_model", "n_heads", "n_layers", "dim_feedforward", "norm_first",
                                       "type_vocab_size") if k in config}
    else:
        train_docs, _ = corpus()
        tokenizer = WordPieceTokenizer.train(train_docs, vocab_size=args.vocab_size or PRETRAIN_DEFAULTS["vocab_size"])
        arch = dict(max_len=args.max_len or PRETRAIN_DEFAULTS["max_len"],
                    d_model=args.d_model or PRETRAIN_DEFAULTS["d_model"], n_heads=args.n_heads,
                    n_layers=args.n_layers or PRETRAIN_DEFAULTS["n_layers"], norm_first=args.norm_first,
                    type_vocab_size=2)
    task = docstring_task(train_per_class=args.train_per_class)
    config = dict(vocab_size=tokenizer.vocab_size, num_classes=task.num_classes, dropout=args.seq_dropout,
                  pad_id=tokenizer.pad_id, pooling=args.pooling, **arch)
    model = build_model("bert", **config)
    splits = [TensorDataset(encode_texts(tokenizer, task.texts(s), config["max_len"]),
                            _np.asarray(task.labels(s), dtype=_np.int64)) for s in ("train", "val", "test")]
    extra = {"model_kind": "bert", "model_config": config, "tokenizer": tokenizer.to_dict(),
             "classes": list(task.classes)}
    return Setup(model=model, train_loader=_loader(splits[0], args, True, 0), val_loader=_loader(splits[1], args, False, 1),
                 test_loader=_loader(splits[2], args, False, 2), loss_fn=F.cross_entropy, task="classification",
                 num_classes=task.num_classes, extra=extra)


def _parens(args) -> Setup:
    if init_checkpoint(args) is not None:
        raise CLIError("--init-from: bert on parens has its own symbol vocabulary, so no pre-trained BERT fits it; "
                       "fine-tune on --dataset docstrings")
    max_len = args.task_length or 16
    n = args.task_samples
    m = max(n // 5, 200)  # one draw split three ways, no string shared by two parts
    parts = parens_task(n + 2 * m, max_len=max_len, seed=args.seed).split3(m, m)
    tok = parts[0].tokenizer
    config = dict(vocab_size=tok.vocab_size, num_classes=2, max_len=max_len + 1, d_model=args.d_model or 64,
                  n_heads=args.n_heads, n_layers=args.n_layers or 2, dropout=args.seq_dropout, norm_first=args.norm_first,
                  pad_id=tok.pad_id, pooling=args.pooling)
    model = build_model("bert", **config)
    extra = {"model_kind": "bert", "model_config": config, "tokenizer": tok.to_dict()}
    return Setup(model=model, train_loader=_loader(parts[0].dataset(), args, True, 0),
                 val_loader=_loader(parts[1].dataset(), args, False, 1),
                 test_loader=_loader(parts[2].dataset(), args, False, 2), loss_fn=F.cross_entropy,
                 task="classification", num_classes=2, extra=extra)


@register("bert", datasets=("parens", "docstrings"), add_arguments=_add_arguments,
          defaults={"optimizer": "adamw", "lr": 1e-3, "batch_size": 64, "epochs": 15, "weight_decay": 0.01},
          help="BERT encoder classifier (tinynet.models.BERTClassifier); fine-tunes a `tinynet pretrain` "
               "checkpoint with --init-from")
def bert_recipe(args) -> Setup:
    return _docstrings(args) if args.dataset == "docstrings" else _parens(args)
