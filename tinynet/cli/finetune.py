"""Fine-tuning options of ``tinynet train``: start from a pre-trained checkpoint.

    tinynet train --model bert --dataset docstrings --init-from runs/bert-pretrain-pydoc/checkpoint.safetensors
    ... --freeze encoder          # linear probing: only the new head learns
    ... --freeze tok_emb,pos_emb  # keep the loaded tensors under these names fixed, train the rest
    ... --encoder-lr 1e-4         # the pre-trained part learns at a lower rate than the head

``--init-from CKPT`` (a checkpoint of ``tinynet pretrain`` or ``tinynet train``) loads every
tensor of the checkpoint's model whose name the new model has, with
``load_state_dict(state, strict=False)`` as in PyTorch: the new model's other parameters
(a fresh classification head) keep their initialisation and the checkpoint's other tensors
(a pre-training head) are left out; both lists are printed. A tensor whose shape differs
is an error. The loaded tensors are "the encoder": ``--freeze encoder`` turns their
gradients off (``requires_grad_(False)``), ``--encoder-lr`` puts them in a parameter group
of their own. ``--freeze`` also takes a comma-separated list of parameter-name prefixes
(``tok_emb,pos_emb``: a module's name freezes all its parameters): those loaded tensors
stay fixed and everything else trains (each prefix must name some loaded tensor). A recipe that needs more from the checkpoint than weights (the BERT recipe
takes the pre-training tokenizer and architecture) reads :func:`init_checkpoint`.
"""
from __future__ import annotations

from .common import CLIError, load_checkpoint, positive_float



def add_options(p):
    """Add ``--init-from``, ``--freeze`` and ``--encoder-lr`` to the train parser ``p``."""
    p.add_argument("--init-from", default=None, metavar="CKPT",
                   help="start from the weights of this checkpoint (`tinynet pretrain` or `tinynet train`); "
                        "tensors the model has by name are loaded, the rest (a new head) stay fresh")
    p.add_argument("--freeze", default=None, metavar="encoder|PREFIXES",
                   help="with --init-from: `encoder` keeps every loaded weight fixed and trains only the new "
                        "parameters (linear probing); or comma-separated parameter-name prefixes to keep fixed "
                        "(e.g. tok_emb,pos_emb)")
    p.add_argument("--encoder-lr", type=positive_float, default=None, metavar="LR",
                   help="with --init-from: learning rate of the loaded weights (--lr is the new parameters')")


def check_options(args):
    """--freeze/--encoder-lr need --init-from, and exclude each other."""
    if args.init_from is None:
        given = [f"--{k.replace('_', '-')}" for k in ("freeze", "encoder_lr") if getattr(args, k) is not None]
        if given:
            raise CLIError(f"{' and '.join(given)} need --init-from CKPT (the pre-trained weights they refer to)")
    elif args.freeze == "encoder" and args.encoder_lr is not None:
        raise CLIError("--freeze encoder trains no encoder weight, so --encoder-lr has nothing to set; give one "
                       "of the two")
    if args.freeze is not None and (not args.freeze.strip() or any(not p.strip() for p in args.freeze.split(","))):
        raise CLIError(f"--freeze {args.freeze!r}: give `encoder` or comma-separated parameter-name prefixes")


def init_checkpoint(args):
    """The ``--init-from`` checkpoint (loaded and checked once per run), or None."""
    if args.init_from is None:
        return None
    cached = getattr(args, "_init_checkpoint", None)
    if cached is None:
        cached = load_checkpoint(args.init_from)
        args._init_checkpoint = cached
    return cached


def apply(args, model, log=print):
    """Load the ``--init-from`` weights into ``model``; return its parameters for the
    optimizer (one list, or two groups with ``--encoder-lr``)."""
    ck = init_checkpoint(args)
    if ck is None:
        return list(model.parameters())
    state = ck["model"]
    try:
        result = model.load_state_dict(state, strict=False)
    except (ValueError, RuntimeError, TypeError) as exc:
        raise CLIError(f"--init-from {args.init_from}: its weights do not fit --model {args.model}: {exc}",
                       code=1) from None
    loaded = {name for name, _ in model.named_parameters()} & set(state)
    if not loaded:
        raise CLIError(f"--init-from {args.init_from}: none of its tensors is a parameter of --model {args.model} "
                       f"(checkpoint: {', '.join(sorted(state)[:4])}, ...); was it written for another model?", code=1)
    log(f"initialised {len(loaded)} parameter tensors from {args.init_from}; new: "
        f"{', '.join(result.missing_keys) or 'none'}; not used: {_short(result.unexpected_keys)}")
    frozen = set()
    if args.freeze == "encoder":
        frozen = set(loaded)
    elif args.freeze is not None:
        for prefix in (p.strip() for p in args.freeze.split(",")):
            hits = {n for n in loaded if n == prefix or n.startswith(prefix + ".")}
            if not hits:
                raise CLIError(f"--freeze: no loaded parameter is named {prefix!r} or starts with {prefix + '.'!r}; "
                               f"loaded: {_short(sorted(loaded))}", code=1)
            frozen |= hits
    for name, p in model.named_parameters():
        if name in frozen:
            p.requires_grad_(False)
    encoder = [p for name, p in model.named_parameters() if name in loaded and name not in frozen]
    head = [p for name, p in model.named_parameters() if name not in loaded]
    if not head and not encoder:
        raise CLIError(f"--freeze {args.freeze}: every parameter of the model would be fixed, so nothing would "
                       "train", code=1)
    if args.encoder_lr is not None:
        if not encoder or not head:
            raise CLIError(f"--encoder-lr: with --freeze {args.freeze} there is no "
                           f"{'trainable loaded' if not encoder else 'new'} parameter; drop --encoder-lr", code=1)
        return [{"params": encoder, "lr": args.encoder_lr}, {"params": head}]
    return encoder + head


def _short(names, k=6):
    names = list(names)
    if not names:
        return "none"
    return ", ".join(names[:k]) + (f" and {len(names) - k} more" if len(names) > k else "")
