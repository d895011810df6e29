"""``tinynet pretrain``: pre-train BERT on unlabelled text (masked language modelling).

    tinynet pretrain --model bert --dataset pydoc
    tinynet pretrain --resume runs/bert-pretrain-pydoc/checkpoint.safetensors --epochs 20
    tinynet train --model bert --dataset docstrings --init-from runs/bert-pretrain-pydoc/checkpoint.safetensors

What it does, as BERT (Devlin et al., 2019) and ALBERT (Lan et al., 2020) describe:

1. **Corpus** (``--dataset pydoc``): Python's own documentation, already on every machine:
   the help topics CPython bundles for ``help()`` plus the docstrings of the standard
   library's source files. The texts held out as validation and test data of the
   ``docstrings`` classification task (``tinynet train --model bert --dataset docstrings``)
   are left out, so fine-tuning is never evaluated on text pre-training has seen. 5 % of
   the documents (by position) are kept for validation.
2. **Tokenizer**: a WordPiece vocabulary of ``--vocab-size`` pieces trained on the
   training documents, with BERT's special tokens ``[PAD] [UNK] [CLS] [SEP] [MASK]``.
3. **Examples**: sentence pairs ``[CLS] A [SEP] B [SEP]`` of at most ``--max-len`` tokens
   cut from one document, with segment ids, and the sentence-pair label: ``sop``
   (ALBERT's sentence order: are A and B in their original order or swapped?) or ``nsp``
   (BERT's next sentence: is B A's continuation or a random segment?).
4. **Masking**: 15 % of the tokens (``--mlm-probability``) of each training batch are
   chosen anew; 80 % of those become ``[MASK]``, 10 % a random token, 10 % stay; the
   model predicts the original tokens (the MLM head's decoder is the token embedding).
5. **Training**: AdamW (no weight decay on biases and LayerNorm weights), the learning
   rate rising linearly over the first ``--warmup-ratio`` of the steps and then falling
   linearly to 0, gradient clipping at 1. Per epoch: masked-token accuracy, MLM loss,
   perplexity and sentence-pair accuracy on the validation pairs; the checkpoint
   (``checkpoint.safetensors``, model + optimizer + schedule + random states + tokenizer),
   ``metrics.csv``/``metrics.json`` and ``curves.png``, all written atomically.

``--resume CKPT`` continues a run exactly (same data, masks, schedule); ``--epochs`` is
the new total and must not pass the schedule's planned end (the rate is 0 there).

Exit status: 0 on success; 1 if training diverged or a file is unusable; 2 for usage errors.
"""
from __future__ import annotations

import os
import time

import numpy as _np

from .common import CLIError, load_checkpoint, non_negative_float, positive_float, positive_int, probability, resolve_device, seed_int
from .pretraining import (MaskedLMStep, PretrainingMetrics, corpus, mask_dataset, no_decay_groups,
                          pretraining_loss, warmup_linear_decay)

# Options a resumed run may give; every other setting comes from the checkpoint.
RESUME_OVERRIDES = ("epochs", "out", "device", "no_progress", "resume")
PRETRAIN_KIND = "bert-pretraining"


def add_parser(subparsers):
    p = subparsers.add_parser("pretrain", help="pre-train BERT on unlabelled text (masked language modelling)",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="bert", choices=("bert",), help="model to pre-train (default: bert)")
    p.add_argument("--dataset", default="pydoc", choices=("pydoc",),
                   help="pydoc: CPython's help topics and standard-library docstrings (default)")
    p.add_argument("--epochs", type=positive_int, default=None, help="epochs (default 30)")
    p.add_argument("--batch-size", type=positive_int, default=None, help="sentence pairs per batch (default 32)")
    p.add_argument("--lr", type=positive_float, default=None, help="peak learning rate (default 1e-3)")
    p.add_argument("--weight-decay", type=non_negative_float, default=None, help="AdamW weight decay (default 0.01)")
    p.add_argument("--warmup-ratio", type=probability, default=None,
                   help="fraction of the steps with a rising learning rate (default 0.1)")
    p.add_argument("--clip-grad-norm", type=positive_float, default=None, help="gradient norm clip (default 1.0)")
    p.add_argument("--vocab-size", type=positive_int, default=None, help="WordPiece vocabulary size (default 4000)")
    p.add_argument("--max-len", type=positive_int, default=None, help="tokens per sentence pair (default 64)")
    p.add_argument("--mlm-probability", type=probability, default=None,
                   help="fraction of tokens to predict (default 0.15)")
    p.add_argument("--objective", choices=("sop", "nsp"), default=None,
                   help="sentence-pair objective: sop (ALBERT's order) or nsp (BERT's next sentence); default sop")
    p.add_argument("--d-model", type=positive_int, default=None, help="model width (default 128)")
    p.add_argument("--n-heads", type=positive_int, default=None, help="attention heads (default 4)")
    p.add_argument("--n-layers", type=positive_int, default=None, help="encoder layers (default 2)")
    p.add_argument("--dropout", type=probability, default=None, help="dropout probability (default 0.1)")
    p.add_argument("--max-documents", type=positive_int, default=None,
                   help="use only the first N documents (quick runs; default: all)")
    p.add_argument("--seed", type=seed_int, default=None, help="seed for data, initialisation and masks (default 0)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="output folder (default runs/bert-pretrain-pydoc, numbered if it holds a run)")
    p.add_argument("--resume", default=None, metavar="CKPT", help="continue a pre-training run from its checkpoint")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


DEFAULTS = dict(epochs=30, batch_size=32, lr=1e-3, weight_decay=0.01, warmup_ratio=0.1, clip_grad_norm=1.0,
                vocab_size=4000, max_len=64, mlm_probability=0.15, objective="sop", d_model=128, n_heads=4,
                n_layers=2, dropout=0.1, max_documents=None, seed=0, model="bert", dataset="pydoc")


def _config(args) -> dict:
    return {k: getattr(args, k) for k in DEFAULTS}


def _resume_config(args):
    """The saved run's settings; options other than RESUME_OVERRIDES must not be given."""
    ck = load_checkpoint(args.resume)
    extra = ck.get("extra") or {}
    if extra.get("model_kind") != PRETRAIN_KIND:
        raise CLIError(f"--resume: {args.resume} is not a `tinynet pretrain` checkpoint (its model is "
                       f"{extra.get('model_kind')!r}); resume it with `tinynet train --resume`", code=1)
    saved = ck["config"]
    unknown = sorted(set(saved) - set(DEFAULTS))
    if unknown:
        raise CLIError(f"--resume: {args.resume}: unknown setting(s) {', '.join(unknown)} in its config", code=1)
    changed = [k for k in DEFAULTS if k not in RESUME_OVERRIDES and getattr(args, k) is not None
               and getattr(args, k) != saved.get(k)]
    if changed:
        names = ", ".join("--" + k.replace("_", "-") for k in changed)
        raise CLIError(f"--resume continues the saved run, so {names} cannot change; drop the option or start a "
                       "new run without --resume")
    epochs = args.epochs
    for k in DEFAULTS:
        setattr(args, k, saved.get(k, DEFAULTS[k]))
    args.epochs = epochs or saved["epochs"]
    if args.epochs > saved["epochs"]:
        raise CLIError(f"--resume: this run's learning rate decays to 0 at epoch {saved['epochs']} (its planned "
                       f"end), so it cannot run to --epochs {args.epochs}; start a new pre-training run with more "
                       "--epochs")
    if args.out is None:
        args.out = os.path.dirname(args.resume) or os.curdir
    return ck


def build(args, tokenizer=None):
    """Tokenizer, model, loaders and the forward step of a pre-training run (``args`` complete)."""
    from ..data import DataLoader, TensorDataset
    from ..data.pretraining import build_pretraining_examples
    from ..data.wordpiece import WordPieceTokenizer
    from ..models import build_model
    from ..tensor.random import manual_seed

    try:
        train_docs, val_docs = corpus(args.max_documents)
    except ValueError as exc:
        raise CLIError(exc) from None
    if tokenizer is None:
        tokenizer = WordPieceTokenizer.train(train_docs, vocab_size=args.vocab_size)
    manual_seed(args.seed)
    train = build_pretraining_examples(train_docs, tokenizer, max_len=args.max_len, objective=args.objective,
                                       seed=args.seed)
    val = build_pretraining_examples(val_docs, tokenizer, max_len=args.max_len, objective=args.objective,
                                     seed=args.seed + 1)
    step = MaskedLMStep(tokenizer, mlm_probability=args.mlm_probability)
    config = dict(vocab_size=tokenizer.vocab_size, max_len=args.max_len, d_model=args.d_model,
                  n_heads=args.n_heads, n_layers=args.n_layers, dropout=args.dropout, pad_id=tokenizer.pad_id,
                  type_vocab_size=2)
    try:
        model = build_model(PRETRAIN_KIND, **config)
    except ValueError as exc:  # (e.g. a width the heads do not divide)
        raise CLIError(exc) from None
    device = resolve_device(args.device)
    model.to(device)
    val_arrays = mask_dataset((val.input_ids, val.token_type_ids, val.sentence_labels), step, seed=args.seed + 2)
    train_loader = DataLoader(train.dataset(), batch_size=args.batch_size, shuffle=True,
                              seed=args.seed, device=args.device)
    val_loader = DataLoader(TensorDataset(*val_arrays), batch_size=args.batch_size, shuffle=False,
                            device=args.device)
    extra = {"model_kind": PRETRAIN_KIND, "model_config": config, "tokenizer": tokenizer.to_dict(),
             "documents": len(train_docs), "pairs": len(train_loader.dataset)}
    return tokenizer, model, train_loader, val_loader, step, extra


def run(args) -> int:
    from ..data.text import Tokenizer
    from .train import fresh_run_dir
    from .trainer import NonFiniteLossError, Trainer, prepare_out_dir

    start = time.perf_counter()
    ck = _resume_config(args) if args.resume else None
    for k, v in DEFAULTS.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    if not 0.0 < args.mlm_probability < 1.0:
        raise CLIError(f"--mlm-probability must be between 0 and 1 (exclusive), got {args.mlm_probability:g}")
    if args.warmup_ratio >= 1.0:
        raise CLIError(f"--warmup-ratio must be below 1 (the rest of the run decays the rate), got {args.warmup_ratio:g}")
    if args.max_len < 8:
        raise CLIError(f"--max-len must be at least 8 ([CLS] A [SEP] B [SEP] needs room for both segments), got "
                       f"{args.max_len}")
    if args.out is None:
        args.out = fresh_run_dir(os.path.join("runs", "bert-pretrain-pydoc"))
    try:
        prepare_out_dir(args.out)
    except OSError as exc:
        raise CLIError(exc, code=1) from None
    tokenizer = None
    if ck is not None:
        try:
            tokenizer = Tokenizer.from_dict(ck["extra"]["tokenizer"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CLIError(f"--resume: {args.resume}: its tokenizer is unusable ({exc})", code=1) from None
    say = print
    say(f"pre-training BERT on {args.dataset}: preparing the corpus and tokenizer ...")
    tokenizer, model, train_loader, val_loader, step, extra = build(args, tokenizer)
    total = args.epochs * len(train_loader)
    optimizer = _adamw(model, args)
    scheduler = warmup_linear_decay(optimizer, int(args.warmup_ratio * total), total)
    trainer = Trainer(model, optimizer, pretraining_loss, train_loader, val_loader, scheduler, task="regression",
                      forward=step, out_dir=args.out, progress=not args.no_progress, config=_config(args),
                      extra=extra, clip_grad_norm=args.clip_grad_norm, scheduler_interval="step",
                      metrics=PretrainingMetrics())
    if ck is not None:
        try:
            trainer.load_checkpoint(ck)
        except ValueError as exc:
            raise CLIError(f"--resume: {args.resume}: {exc}", code=1) from None
        trainer.last_good = (ck["epoch"], args.resume)
    n_params = sum(p.numel() for p in model.parameters())
    say(f"{extra['documents']} documents, {extra['pairs']} sentence pairs of <= {args.max_len} tokens, WordPiece "
        f"vocabulary {tokenizer.vocab_size}; {n_params:,} parameters, {args.objective} objective, "
        f"{args.epochs} epochs x {len(train_loader)} steps, lr {args.lr:g} (warm-up {args.warmup_ratio:g}, linear "
        f"decay), writing to {args.out}" + (f", resuming from epoch {ck['epoch']}" if ck else ""))
    try:
        with _np.errstate(all="ignore"):
            trainer.fit(args.epochs)
    except NonFiniteLossError as exc:
        raise CLIError(exc, code=1) from None
    except OSError as exc:
        raise CLIError(exc, code=1) from None
    last = trainer.history[-1] if trainer.history else {}
    if last:
        say(f"validation: masked-token accuracy {100 * last['val_mlm_accuracy']:.2f}%, perplexity "
            f"{last['val_perplexity']:.2f}, sentence-{args.objective} accuracy "
            f"{100 * last['val_sentence_accuracy']:.2f}%")
    say(f"done in {time.perf_counter() - start:.1f} s; wrote {trainer.checkpoint_path}, metrics.csv, metrics.json, "
        f"curves.png in {args.out}")
    return 0


def _adamw(model, args):
    from ..optim import AdamW

    return AdamW(no_decay_groups(model, args.weight_decay), lr=args.lr)
