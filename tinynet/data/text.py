"""Text data: tokenizers, language-model windows, an offline English corpus, synthetic tasks.

* :class:`CharTokenizer` and :class:`WordTokenizer` map text to integer ids through a
  vocabulary built from text. Special tokens come first: ``<pad>`` = 0, ``<unk>`` = 1,
  and optionally ``<cls>`` / ``<sep>``. They save and load as plain JSON (no pickle),
  and :meth:`Tokenizer.to_dict` is what a checkpoint stores so ``tinynet generate`` can
  decode without the training data.
* :class:`TextWindowDataset` cuts a long id sequence into fixed-length windows for
  next-token training: sample ``i`` is ``(ids[s:s+T], ids[s+1:s+T+1])``.
* :func:`pydoc_corpus` is real English already on every machine: the help topics that
  CPython bundles for ``help()`` (``pydoc_data.topics``), in sorted-key order, split into
  train/validation text by position.
* Synthetic tasks with a seed: :func:`sort_task`, :func:`reverse_task`,
  :func:`addition_task` (decoder "prompt then answer" sequences) and
  :func:`parens_task` (balanced-parentheses classification for an encoder).
"""
from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as _np

from ..tensor.tensor import Tensor
from .dataset import TensorDataset

PAD, UNK, CLS, SEP = "<pad>", "<unk>", "<cls>", "<sep>"
IGNORE_INDEX = -100  # target value that cross_entropy skips (PyTorch's default ignore_index)


# --- tokenizers ------------------------------------------------------------------------
class Tokenizer:
    """A vocabulary (id -> token) with special tokens first; subclasses define splitting."""

    kind = "base"
    # The special-token strings a subclass uses (WordPiece uses BERT's "[PAD]", "[UNK]" ...).
    pad_token, unk_token, cls_token, sep_token = PAD, UNK, CLS, SEP
    # kind -> subclass, filled by __init_subclass__ so from_dict finds every tokenizer.
    _registry: dict = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            Tokenizer._registry[cls.kind] = cls

    def __init__(self, tokens, add_cls: bool = False, add_sep: bool = False):
        specials = [PAD, UNK] + ([CLS] if add_cls else []) + ([SEP] if add_sep else [])
        vocab = specials + [t for t in tokens if t not in specials]
        self.vocab = vocab
        self.stoi = {t: i for i, t in enumerate(vocab)}
        if len(self.stoi) != len(vocab):
            raise ValueError(f"{type(self).__name__}: the vocabulary has repeated tokens")
        self.specials = specials

    # ids of the special tokens
    pad_id = property(lambda self: self.stoi[self.pad_token])
    unk_id = property(lambda self: self.stoi[self.unk_token])
    cls_id = property(lambda self: self.stoi.get(self.cls_token))
    sep_id = property(lambda self: self.stoi.get(self.sep_token))

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def __len__(self):
        return len(self.vocab)

    def split(self, text: str) -> list:
        raise NotImplementedError

    def join(self, tokens: list) -> str:
        raise NotImplementedError

    def encode(self, text: str, add_special_tokens: bool = False) -> list:
        """Token ids of ``text`` (unknown tokens -> ``<unk>``); optionally ``<cls> ... <sep>``."""
        unk = self.unk_id
        ids = [self.stoi.get(t, unk) for t in self.split(text)]
        if add_special_tokens:
            if self.cls_id is not None:
                ids = [self.cls_id] + ids
            if self.sep_id is not None:
                ids = ids + [self.sep_id]
        return ids

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        """Text of ``ids`` (a list, array or Tensor); special tokens dropped unless asked."""
        if isinstance(ids, Tensor):
            ids = ids.tolist()
        n = len(self.vocab)
        toks = []
        for i in _np.asarray(ids).reshape(-1).tolist():
            if not 0 <= i < n:
                raise IndexError(f"{type(self).__name__}.decode: id {i} is outside the vocabulary of size {n}")
            t = self.vocab[i]
            if skip_special_tokens and t in self.specials:
                continue
            toks.append(t)
        return self.join(toks)

    # --- persistence (plain JSON) ------------------------------------------------------
    def to_dict(self) -> dict:
        return {"kind": self.kind, "vocab": self.vocab, "specials": self.specials, **self._extra()}

    # Settings beyond the vocabulary that ``to_dict`` writes (``_extra``), with their types.
    _EXTRA_TYPES: dict = {}

    def _extra(self) -> dict:
        return {}

    @staticmethod
    def from_dict(d: dict) -> "Tokenizer":
        kinds = Tokenizer._registry
        if d.get("kind") not in kinds:
            raise ValueError(f"Tokenizer.from_dict: unknown tokenizer kind {d.get('kind')!r}; "
                             f"expected one of {sorted(kinds)}")
        cls = kinds[d["kind"]]
        vocab, specials = d.get("vocab"), d.get("specials")
        if not isinstance(vocab, list) or not all(isinstance(t, str) for t in vocab) or len(set(vocab)) != len(vocab):
            raise ValueError("Tokenizer.from_dict: 'vocab' must be a list of distinct strings")
        if not isinstance(specials, list) or not all(isinstance(t, str) and t in vocab for t in specials) \
                or cls.unk_token not in specials or cls.pad_token not in specials:
            raise ValueError(f"Tokenizer.from_dict: 'specials' must list vocabulary entries including "
                             f"{cls.pad_token!r} and {cls.unk_token!r}")
        tok = cls.__new__(cls)
        tok.vocab = list(vocab)
        tok.stoi = {t: i for i, t in enumerate(tok.vocab)}
        tok.specials = list(specials)
        for k in set(d) - {"kind", "vocab", "specials"}:
            if k not in cls._EXTRA_TYPES or not isinstance(d[k], cls._EXTRA_TYPES[k]):
                raise ValueError(f"Tokenizer.from_dict: unexpected entry {k!r} for a {d['kind']} tokenizer")
            setattr(tok, k, d[k])
        return tok

    def save(self, path):
        """Write the vocabulary as JSON."""
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, ensure_ascii=False)
        os.replace(tmp, path)

    @staticmethod
    def load(path) -> "Tokenizer":
        with open(path, encoding="utf-8") as f:
            return Tokenizer.from_dict(json.load(f))


class CharTokenizer(Tokenizer):
    """One token per character; the vocabulary is the sorted set of characters seen."""

    kind = "char"

    @classmethod
    def from_text(cls, text: str, add_cls: bool = False, add_sep: bool = False) -> "CharTokenizer":
        return cls(sorted(set(text)), add_cls=add_cls, add_sep=add_sep)

    def split(self, text):
        return list(text)

    def join(self, tokens):
        return "".join(tokens)


_WORD_RE = re.compile(r"\w+|[^\w\s]")


class WordTokenizer(Tokenizer):
    """Words and punctuation marks (regex ``\\w+|[^\\w\\s]``), optionally lower-cased.

    The vocabulary keeps the ``max_size`` most frequent tokens seen at least
    ``min_freq`` times (ties broken alphabetically, so it is deterministic).
    """

    kind = "word"

    def __init__(self, tokens, add_cls=False, add_sep=False, lower: bool = True):
        super().__init__(tokens, add_cls, add_sep)
        self.lower = lower

    _EXTRA_TYPES = {"lower": bool}

    def _extra(self):
        return {"lower": self.lower}

    @classmethod
    def from_text(cls, text: str, max_size: int | None = None, min_freq: int = 1, lower: bool = True,
                  add_cls: bool = False, add_sep: bool = False) -> "WordTokenizer":
        counts = Counter(_WORD_RE.findall(text.lower() if lower else text))
        ranked = sorted((t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t))
        if max_size is not None:
            ranked = ranked[:max_size]
        return cls(ranked, add_cls=add_cls, add_sep=add_sep, lower=lower)

    def split(self, text):
        return _WORD_RE.findall(text.lower() if self.lower else text)

    def join(self, tokens):
        out = ""
        for t in tokens:
            out += t if (not out or (not t[0].isalnum() and t[0] not in "([{")) else " " + t
        return out


# --- language-model windows ------------------------------------------------------------
class TextWindowDataset(TensorDataset):
    """Fixed-length next-token windows over one long id sequence.

    Sample ``i`` starts at ``s = i * stride``: input ``ids[s:s+context]``, target
    ``ids[s+1:s+context+1]`` (the input shifted by one). Windows are cut on demand, so
    ``stride=1`` (every offset) costs no memory. It is a TensorDataset only so the
    DataLoader's batched fast path (``take``) gathers a whole batch with one index op.
    """

    def __init__(self, ids, context: int, stride: int | None = None):
        arr = ids.array if isinstance(ids, Tensor) else _np.asarray(ids)
        self.ids = _np.ascontiguousarray(arr, dtype=_np.int64).reshape(-1)
        self.context = int(context)
        self.stride = int(stride or context)
        if self.context < 1 or self.stride < 1:
            raise ValueError(f"TextWindowDataset: context and stride must be >= 1, got {context} and {stride}")
        if self.ids.size < self.context + 1:
            raise ValueError(
                f"TextWindowDataset: a text of {self.ids.size} tokens is too short for windows of "
                f"{self.context} (+1 for the shifted target); use a smaller context"
            )
        self._n = (self.ids.size - self.context - 1) // self.stride + 1
        self._offsets = _np.arange(self.context + 1)

    def __len__(self):
        return self._n

    def __getitem__(self, index):
        x, y = self.take(_np.asarray([index]))
        return Tensor._make(x.array[0], x.device), Tensor._make(y.array[0], y.device)

    def take(self, indices):
        idx = _np.asarray(indices, dtype=_np.int64).reshape(-1)
        if idx.size and (idx.min() < -self._n or idx.max() >= self._n):
            raise IndexError(f"TextWindowDataset: index out of range for {self._n} windows")
        starts = (idx % self._n) * self.stride
        win = self.ids[starts[:, None] + self._offsets]
        from ..backend import get_device

        cpu = get_device("cpu")
        return Tensor._make(win[:, :-1].copy(), cpu), Tensor._make(win[:, 1:].copy(), cpu)


# --- the offline English corpus -----------------------------------------------------------
def pydoc_text() -> str:
    """CPython's bundled help topics (``pydoc_data.topics``), joined in sorted-key order."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[k].strip() for k in sorted(topics))


def pydoc_corpus(val_fraction: float = 0.1) -> tuple[str, str]:
    """(train_text, val_text): the last ``val_fraction`` of :func:`pydoc_text` is validation."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"pydoc_corpus: val_fraction must be in (0, 1), got {val_fraction}")
    text = pydoc_text()
    cut = int(len(text) * (1.0 - val_fraction))
    return text[:cut], text[cut:]


def bigram_loss(train_ids, val_ids, vocab_size: int, alpha: float = 1.0) -> float:
    """Mean cross-entropy (nats/token) on ``val_ids`` of a bigram model fitted on ``train_ids``.

    P(b | a) = (count(a, b) + alpha) / (count(a) + alpha * V): add-``alpha`` smoothing
    (alpha=1 is Laplace's add-one). The baseline a sequence model must beat.
    """
    tr = _np.asarray(train_ids, dtype=_np.int64).reshape(-1)
    va = _np.asarray(val_ids, dtype=_np.int64).reshape(-1)
    counts = _np.zeros((vocab_size, vocab_size))
    _np.add.at(counts, (tr[:-1], tr[1:]), 1.0)
    probs = (counts + alpha) / (counts.sum(axis=1, keepdims=True) + alpha * vocab_size)
    return float(-_np.log(probs[va[:-1], va[1:]]).mean())


# --- synthetic tasks -------------------------------------------------------------------
@dataclass
class SequenceTask:
    """A synthetic task: token arrays, the tokenizer, and how to read them.

    Decoder tasks (sort, reverse, addition): ``inputs`` (N, T) and ``targets`` (N, T) are a
    "prompt ``|`` answer" sequence shifted by one, with prompt positions of ``targets`` set
    to ``IGNORE_INDEX`` so only the answer is learned; ``prompt_len`` tokens (ending with
    the separator) are given at generation time and ``answer_len`` are produced.
    Classification tasks (parens): ``inputs`` (N, T) start with ``<cls>`` and are padded
    with ``<pad>``; ``targets`` (N,) are class labels.
    """

    name: str
    inputs: _np.ndarray
    targets: _np.ndarray
    tokenizer: Tokenizer
    prompt_len: int = 0
    answer_len: int = 0
    num_classes: int = 0
    extra: dict = field(default_factory=dict)

    def dataset(self) -> TensorDataset:
        return TensorDataset(self.inputs, self.targets)

    def split(self, n_val: int, disjoint: bool = True):
        """Two tasks, ``(train, val)``, with about ``n_val`` samples held out.

        ``disjoint=True`` (default): no held-out sequence occurs in the training part. A
        random draw repeats sequences (a parentheses task of length <= 12 has a few hundred
        distinct strings, so most of 3000 draws are repeats), and a validation string that
        was also trained on measures memory, not generalisation. Samples are grouped by
        their input sequence; scanning from the last sample backwards, a whole group goes to
        validation when it still fits in ``n_val`` (groups too large to fit, such as the
        commonest short strings, stay in training); a classification task fills a quota per
        class, so validation keeps the task's class balance. Validation may then hold slightly
        fewer than ``n_val`` samples, never more; both parts keep the original order.

        ``disjoint=False``: the first ``len - n_val`` samples and the last ``n_val``, repeats
        and all.
        """
        n = len(self.inputs)
        if isinstance(n_val, bool) or not isinstance(n_val, (int, _np.integer)) or not 0 < n_val < n:
            raise ValueError(f"SequenceTask.split: n_val must be an int in [1, {n - 1}] for a task of {n} samples, "
                             f"got {n_val!r}")
        if disjoint:
            held = self._disjoint_holdout(int(n_val))
        else:
            held = _np.zeros(n, dtype=bool)
            held[n - n_val:] = True
        return self._subset(~held), self._subset(held)

    def _disjoint_holdout(self, n_val: int) -> _np.ndarray:
        """A mask of held-out samples: whole groups of equal input rows, at most ``n_val`` in all."""
        rows = _np.ascontiguousarray(self.inputs).view(_np.dtype((_np.void, self.inputs.dtype.itemsize *
                                                                   self.inputs.shape[1]))).ravel()
        _, group, counts = _np.unique(rows, return_inverse=True, return_counts=True)
        # classification: a quota per class, so validation keeps the task's class balance
        # (repeats are commoner in some classes: balanced strings are fewer than unbalanced ones)
        labels = self.targets if self.num_classes and self.targets.ndim == 1 else _np.zeros(len(group), _np.int64)
        classes, per_class = _np.unique(labels, return_counts=True)
        quota = dict(zip(classes.tolist(), _np.floor(per_class * n_val / len(group)).astype(int).tolist()))
        quota[classes[-1].item()] += n_val - sum(quota.values())
        group_label = _np.empty(len(counts), dtype=labels.dtype)
        group_label[group] = labels
        chosen = _np.zeros(len(counts), dtype=bool)
        seen = _np.zeros(len(counts), dtype=bool)
        total = 0
        for g in group[::-1]:
            if seen[g]:
                continue
            seen[g] = True
            c = group_label[g].item()
            if counts[g] <= quota[c]:
                chosen[g] = True
                quota[c] -= counts[g]
                total += counts[g]
                if total == n_val:
                    break
        if total == 0:
            raise ValueError(f"SequenceTask.split: every distinct sequence of this {self.name} task occurs more than "
                             f"n_val={n_val} times, so no disjoint validation part fits; draw more samples or a "
                             "longer task, or pass disjoint=False")
        return chosen[group]

    def _subset(self, mask):
        return SequenceTask(self.name, self.inputs[mask], self.targets[mask], self.tokenizer, self.prompt_len,
                            self.answer_len, self.num_classes, self.extra)

    def split3(self, n_val: int, n_test: int, disjoint: bool = True):
        """``(train, val, test)``: :meth:`split` applied twice (test first), so with ``disjoint``
        no sequence is shared by any two parts."""
        rest, test = self.split(n_test, disjoint)
        train, val = rest.split(n_val, disjoint)
        return train, val, test


def _decoder_task(name, prompts, answers, alphabet) -> SequenceTask:
    tok = CharTokenizer(list(alphabet) + ["|"])
    seqs = _np.array([tok.encode(p + "|" + a) for p, a in zip(prompts, answers)], dtype=_np.int64)
    plen = len(prompts[0]) + 1
    inputs = seqs[:, :-1].copy()
    targets = seqs[:, 1:].copy()
    targets[:, : plen - 1] = IGNORE_INDEX
    return SequenceTask(name, inputs, targets, tok, prompt_len=plen, answer_len=len(answers[0]))


_DIGITS = "0123456789"


def sort_task(num_samples: int, length: int = 6, num_digits: int = 10, seed: int = 0) -> SequenceTask:
    """Sort ``length`` random digits (0..num_digits-1): ``"3142|1234"``."""
    rng = _np.random.default_rng(seed)
    xs = rng.integers(0, num_digits, size=(num_samples, length))
    prompts = ["".join(_DIGITS[d] for d in row) for row in xs]
    answers = ["".join(_DIGITS[d] for d in sorted(row)) for row in xs]
    return _decoder_task("sort", prompts, answers, _DIGITS[:num_digits])


def reverse_task(num_samples: int, length: int = 6, num_digits: int = 10, seed: int = 0) -> SequenceTask:
    """Reverse ``length`` random digits: ``"3142|2413"``."""
    rng = _np.random.default_rng(seed)
    xs = rng.integers(0, num_digits, size=(num_samples, length))
    prompts = ["".join(_DIGITS[d] for d in row) for row in xs]
    return _decoder_task("reverse", prompts, [p[::-1] for p in prompts], _DIGITS[:num_digits])


def addition_task(num_samples: int, digits: int = 2, seed: int = 0) -> SequenceTask:
    """Add two ``digits``-digit numbers: ``"12+39|15"``.

    The sum (``digits + 1`` digits, zero-padded) is written least-significant digit first,
    the order in which carries are computed, as minGPT's adder does; reverse the answer to
    read it.
    """
    rng = _np.random.default_rng(seed)
    hi = 10 ** digits
    a = rng.integers(0, hi, size=num_samples)
    b = rng.integers(0, hi, size=num_samples)
    prompts = [f"{x:0{digits}d}+{y:0{digits}d}" for x, y in zip(a, b)]
    answers = [f"{x + y:0{digits + 1}d}"[::-1] for x, y in zip(a, b)]
    return _decoder_task("addition", prompts, answers, _DIGITS + "+")


def _balanced(rng, pairs: int) -> str:
    """A uniformly-shuffled balanced string: random walk that never dips below zero."""
    out, depth, opens = [], 0, pairs
    for _ in range(2 * pairs):
        closes_left = 2 * pairs - len(out) - opens
        # choose "(" with probability proportional to the remaining budget, but never go negative
        if opens and (depth == 0 or rng.random() < opens / (opens + closes_left)):
            out.append("(")
            opens -= 1
            depth += 1
        else:
            out.append(")")
            depth -= 1
    return "".join(out)


def _is_balanced(s: str) -> bool:
    depth = 0
    for c in s:
        depth += 1 if c == "(" else -1
        if depth < 0:
            return False
    return depth == 0


def parens_task(num_samples: int, max_len: int = 16, min_len: int = 2, seed: int = 0) -> SequenceTask:
    """Classify parenthesis strings as balanced (1) or not (0), half of each.

    Unbalanced strings are balanced ones with one or two symbols flipped or two swapped,
    so they are as long and nearly as well-formed: counting alone is not enough (a swap
    keeps the counts equal). Lengths vary (even, ``min_len..max_len``); inputs are
    ``<cls>`` + symbols + ``<pad>`` up to ``max_len + 1``.
    """
    rng = _np.random.default_rng(seed)
    tok = CharTokenizer(["(", ")"], add_cls=True)
    T = max_len + 1
    inputs = _np.full((num_samples, T), tok.pad_id, dtype=_np.int64)
    labels = _np.zeros(num_samples, dtype=_np.int64)
    for i in range(num_samples):
        pairs = int(rng.integers(max(1, min_len // 2), max_len // 2 + 1))
        s = _balanced(rng, pairs)
        want = i % 2
        if not want:
            while _is_balanced(s):
                chars = list(s)
                kind = rng.integers(0, 3)
                if kind == 0:  # flip one symbol
                    j = rng.integers(0, len(chars))
                    chars[j] = "(" if chars[j] == ")" else ")"
                elif kind == 1:  # swap two symbols (counts stay equal)
                    j, k = rng.integers(0, len(chars), size=2)
                    chars[j], chars[k] = chars[k], chars[j]
                else:  # flip two symbols of opposite kinds (counts stay equal)
                    j = rng.integers(0, len(chars))
                    k = rng.integers(0, len(chars))
                    chars[j] = "(" if chars[j] == ")" else ")"
                    chars[k] = "(" if chars[k] == ")" else ")"
                s = "".join(chars)
        labels[i] = int(_is_balanced(s))
        ids = tok.encode(s, add_special_tokens=True)
        inputs[i, : len(ids)] = ids
    order = rng.permutation(num_samples)
    return SequenceTask("parens", inputs[order], labels[order], tok, num_classes=2)
