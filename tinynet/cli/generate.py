"""``tinynet generate CKPT --prompt TEXT --tokens N``: sample text from a trained language model.

    tinynet train --model gpt --dataset pydoc --out runs/gpt
    tinynet generate runs/gpt/checkpoint.safetensors --prompt "The return statement" --tokens 300

The checkpoint written by ``tinynet train --model gpt|lstm`` carries the model's
constructor arguments and the tokenizer's vocabulary, so nothing else (no dataset) is
needed. Sampling divides the logits by ``--temperature`` (0 = always the most likely
token), optionally keeps the ``--top-k`` most likely tokens, and is reproducible with
``--seed``. Characters the tokenizer has never seen become ``<unk>``.
"""
from __future__ import annotations

import argparse

from .common import CLIError, load_checkpoint, non_negative_float, positive_int, resolve_device, seed_int


def add_parser(subparsers):
    p = subparsers.add_parser("generate", help="sample text from a trained GPT-mini or LSTM checkpoint",
                              description=__doc__.split("\n\n")[2],
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("checkpoint", metavar="CKPT", help="a checkpoint.safetensors written by `tinynet train --model gpt|lstm`")
    p.add_argument("--prompt", default="", help="text to continue (empty: start from a newline)")
    p.add_argument("--tokens", type=positive_int, default=200, help="how many tokens to generate")
    p.add_argument("--temperature", type=non_negative_float, default=0.8, help="sampling temperature (0 = greedy)")
    p.add_argument("--top-k", type=positive_int, default=None, help="sample only among the k most likely tokens")
    p.add_argument("--seed", type=seed_int, default=0, help="seed of the sampler")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    return p


def load_generator(path, device="cpu"):
    """(model, tokenizer) rebuilt from a language-model training checkpoint."""
    from ..data.text import Tokenizer
    from ..models import build_model

    ck = load_checkpoint(path, map_location=device)
    extra = ck["extra"]
    if not isinstance(extra.get("tokenizer"), dict) or extra.get("model_kind") not in ("gpt", "lstm") \
            or not isinstance(extra.get("model_config"), dict):
        raise CLIError(f"{path} is not a language-model checkpoint (train one with `tinynet train --model gpt` "
                       "or `--model lstm`)", code=1)
    try:
        tok = Tokenizer.from_dict(extra["tokenizer"])
        model = build_model(extra["model_kind"], **extra["model_config"])
    except (ValueError, TypeError, KeyError) as exc:
        raise CLIError(f"{path}: its tokenizer or model settings are unusable: {exc}", code=1) from None
    try:
        model.load_state_dict(ck["model"])
    except (ValueError, KeyError, RuntimeError, TypeError) as exc:
        raise CLIError(f"{path}: the weights do not fit the model: {exc}", code=1) from None
    return model.to(device), tok


def run(args) -> int:
    device = resolve_device(args.device)
    model, tok = load_generator(args.checkpoint, device)
    ids = tok.encode(args.prompt) or tok.encode("\n") or [tok.unk_id]
    context = getattr(model, "context", None)
    if context:
        ids = ids[-context:]
    out = model.generate([ids], args.tokens, temperature=args.temperature, top_k=args.top_k, seed=args.seed)
    print(tok.decode(out.numpy()[0]))
    return 0
