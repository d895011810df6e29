"""The data side of BERT pretraining: masked-token inputs and sentence pairs.

* :func:`mask_tokens` picks the positions a masked language model must predict, as
  Hugging Face's ``DataCollatorForLanguageModeling.torch_mask_tokens`` does: every
  non-special position is chosen independently with probability ``mlm_probability``
  (0.15); a chosen token becomes ``[MASK]`` (80 %), a random non-special token (10 %) or
  stays as it is (10 %). Labels hold the original id at chosen positions and -100
  (cross_entropy's ``ignore_index``) everywhere else.
* :func:`split_segments` cuts a document into sentence-like segments.
* :func:`build_pretraining_examples` packs consecutive segments of one document into
  ``[CLS] A [SEP] B [SEP] [PAD]...`` pairs with a sentence-level label for BERT's
  next-sentence prediction ("nsp") or ALBERT's sentence-order prediction ("sop"). It
  returns a :class:`PretrainingExamples` (NumPy arrays + ``.dataset()``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as _np

from ..tensor import random as _random
from ..tensor.tensor import Tensor
from .dataset import TensorDataset
from .text import IGNORE_INDEX


# --- masked language modelling ---------------------------------------------------------
def mask_tokens(input_ids, tokenizer=None, *, mask_id=None, special_ids=None, vocab_size=None,
                mlm_probability: float = 0.15, generator=None):
    """``(masked_inputs, labels)`` for masked language modelling; ``input_ids`` is not modified.

    input_ids: integer array (any shape, usually (N, T)) of token ids, or a Tensor.
    tokenizer: supplies ``mask_id``, ``special_ids`` and ``vocab_size`` (a
        :class:`~tinynet.data.wordpiece.WordPieceTokenizer`); the keyword arguments of
        the same names override it or replace it.
    generator: a ``numpy.random.Generator`` or ``tn.Generator`` (the same generator state
        gives the same masking), or None for tinynet's global generator (``tn.manual_seed``).

    Positions holding a special id ([CLS], [SEP], [PAD] ...) are never chosen. The random
    replacement is drawn uniformly from the non-special ids, so it can (rarely) equal the
    original token.
    """
    who = "mask_tokens"
    if tokenizer is not None:
        mask_id = tokenizer.mask_id if mask_id is None else mask_id
        special_ids = tokenizer.special_ids if special_ids is None else special_ids
        vocab_size = tokenizer.vocab_size if vocab_size is None else vocab_size
    if mask_id is None or special_ids is None or vocab_size is None:
        raise TypeError(f"{who}: pass a tokenizer, or all of mask_id, special_ids and vocab_size")
    if isinstance(input_ids, Tensor):
        input_ids = input_ids.numpy()
    ids = _np.asarray(input_ids)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{who}: input_ids must hold integer token ids, got dtype {ids.dtype}")
    if not 0.0 <= float(mlm_probability) <= 1.0:
        raise ValueError(f"{who}: mlm_probability must be in [0, 1], got {mlm_probability}")
    if generator is not None and not isinstance(generator, (_np.random.Generator, _random.Generator)):
        raise TypeError(f"{who}: generator must be a numpy.random.Generator, a tn.Generator or None (the global "
                        f"generator), got {type(generator).__name__}")
    generator = _random.resolve(generator)
    vocab_size = int(vocab_size)
    special = _np.asarray(sorted(int(s) for s in special_ids), dtype=_np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"{who}: input_ids must lie in [0, {vocab_size}), got values in "
                         f"[{ids.min()}, {ids.max()}]")
    if not 0 <= int(mask_id) < vocab_size:
        raise ValueError(f"{who}: mask_id {mask_id} is outside the vocabulary of size {vocab_size}")
    regular = _np.setdiff1d(_np.arange(vocab_size), special)
    if regular.size == 0:
        raise ValueError(f"{who}: the vocabulary of size {vocab_size} has no non-special token to sample")

    ids = ids.astype(_np.int64)  # a copy: the caller's array stays as it was
    labels = ids.copy()
    chosen = (generator.random(ids.shape) < mlm_probability) & ~_np.isin(ids, special)
    labels[~chosen] = IGNORE_INDEX
    to_mask = chosen & (generator.random(ids.shape) < 0.8)
    ids[to_mask] = int(mask_id)
    # half of the remaining 20 %: a random regular token; the other half keeps the original
    to_random = chosen & ~to_mask & (generator.random(ids.shape) < 0.5)
    ids[to_random] = regular[generator.integers(0, regular.size, size=int(to_random.sum()))]
    return ids, labels


# --- segments ----------------------------------------------------------------------------
_PARAGRAPHS = re.compile(r"\n\s*\n")
# A sentence ends at . ! or ? followed by space and something that is not a lower-case
# letter (so "e.g. the" stays together).
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[^a-z\s])")


def split_segments(text: str) -> list[str]:
    """Sentence-like segments of ``text``: split on blank lines, then on sentence ends.

    Lines inside a paragraph are joined with spaces (wrapped prose); empty segments are
    dropped. ``"One. Two!\\n\\nThree"`` -> ``['One.', 'Two!', 'Three']``.
    """
    if not isinstance(text, str):
        raise TypeError(f"split_segments: text must be a str, got {type(text).__name__}")
    out = []
    for para in _PARAGRAPHS.split(text):
        para = " ".join(para.split())
        out.extend(s for s in _SENTENCE_END.split(para) if s)
    return out


# --- sentence pairs ----------------------------------------------------------------------
@dataclass
class PretrainingExamples:
    """Sentence-pair examples for BERT/ALBERT pretraining, one row each.

    input_ids (N, max_len): ``[CLS] A [SEP] B [SEP]`` then ``[PAD]``.
    token_type_ids (N, max_len): 0 for ``[CLS] A [SEP]`` and padding, 1 for ``B [SEP]``.
    sentence_labels (N,): "sop": 0 = A then B in document order, 1 = swapped;
        "nsp": 0 = B is the segment that follows A, 1 = B comes from another document.
    """

    input_ids: _np.ndarray
    token_type_ids: _np.ndarray
    sentence_labels: _np.ndarray
    objective: str
    pad_id: int

    def __len__(self):
        return len(self.input_ids)

    @property
    def attention_mask(self) -> _np.ndarray:
        """1 at real tokens, 0 at padding (N, max_len)."""
        return (self.input_ids != self.pad_id).astype(_np.int64)

    def dataset(self) -> TensorDataset:
        """A TensorDataset of ``(input_ids, token_type_ids, sentence_labels)``; mask batches with
        :func:`mask_tokens` as they are drawn, so every epoch sees new masks."""
        return TensorDataset(self.input_ids, self.token_type_ids, self.sentence_labels)


def _truncate_pair(a: list, b: list, max_tokens: int) -> None:
    """Drop tokens from the end of the longer side until ``len(a) + len(b) <= max_tokens``."""
    while len(a) + len(b) > max_tokens:
        (a if len(a) > len(b) else b).pop()


def _random_segments(docs, skip: int, target: int, rng) -> list:
    """Tokens of consecutive segments of a random document other than ``docs[skip]``."""
    d = int(rng.integers(0, len(docs) - 1))
    doc = docs[d + (d >= skip)]
    start, out = int(rng.integers(0, len(doc))), []
    for seg in doc[start:]:
        out.extend(seg)
        if len(out) >= target:
            break
    return out


def build_pretraining_examples(documents, tokenizer, max_len: int = 128, objective: str = "sop", seed: int = 0,
                               short_seq_prob: float = 0.1) -> PretrainingExamples:
    """Sentence pairs from ``documents`` (a list of strings), after BERT's
    ``create_instances_from_document`` (one pass, simplified).

    Each document is cut into segments (:func:`split_segments`) and tokenized. Consecutive
    segments are collected into a chunk until it reaches the target length (``max_len - 3``,
    or with probability ``short_seq_prob`` a random shorter one, as BERT does so the model
    also sees short inputs); a random cut splits the chunk into A and B (a one-segment
    chunk is cut inside the segment). With probability 1/2 the pair is then altered:

    * "sop" (ALBERT's sentence-order prediction): A and B swap places, label 1;
    * "nsp" (BERT's next-sentence prediction): B is replaced by consecutive segments of a
      random other document, label 1, and the unused part of the chunk is reused.

    Too-long pairs lose tokens from the end of the longer side first. Rows come out in
    shuffled order. ``tokenizer`` needs ``encode``, ``cls_id``, ``sep_id`` and ``pad_id``.
    """
    who = "build_pretraining_examples"
    if objective not in ("sop", "nsp"):
        raise ValueError(f"{who}: objective must be 'sop' or 'nsp', got {objective!r}")
    if isinstance(documents, str):
        raise TypeError(f"{who}: documents must be a list of strings, got one str; wrap it as [text]")
    documents = list(documents)
    if not all(isinstance(d, str) for d in documents):
        raise TypeError(f"{who}: documents must be a list of strings")
    if not 0.0 <= short_seq_prob <= 1.0:
        raise ValueError(f"{who}: short_seq_prob must be in [0, 1], got {short_seq_prob}")
    if isinstance(max_len, bool) or not isinstance(max_len, (int, _np.integer)) or max_len < 5:
        raise ValueError(f"{who}: max_len must be an int >= 5 ([CLS] A [SEP] B [SEP]), got {max_len!r}")
    if getattr(tokenizer, "cls_id", None) is None or getattr(tokenizer, "sep_id", None) is None:
        raise ValueError(f"{who}: the tokenizer needs [CLS] and [SEP] tokens (cls_id and sep_id); use a "
                         f"WordPieceTokenizer, or a char/word tokenizer built with add_cls=True, add_sep=True")
    rng = _np.random.default_rng(seed)
    docs = [[s for s in (tokenizer.encode(seg) for seg in split_segments(text)) if s] for text in documents]
    docs = [d for d in docs if d]
    if not docs:
        raise ValueError(f"{who}: the documents hold no tokens")
    if objective == "nsp" and len(docs) < 2:
        raise ValueError(f"{who}: 'nsp' draws random next segments from other documents; it needs at least "
                         f"2 non-empty documents, got {len(docs)}")

    max_tokens = max_len - 3
    pairs = []
    for di, doc in enumerate(docs):
        target = max_tokens if rng.random() >= short_seq_prob else int(rng.integers(2, max_tokens + 1))
        chunk, length, i = [], 0, 0
        while i < len(doc):
            chunk.append(doc[i])
            length += len(doc[i])
            if i == len(doc) - 1 or length >= target:
                a_end = 0  # segments of the chunk that went into A (0: cut inside one segment)
                if len(chunk) > 1:
                    a_end = int(rng.integers(1, len(chunk)))
                    a = [t for s in chunk[:a_end] for t in s]
                    b_in_order = [t for s in chunk[a_end:] for t in s]
                elif len(chunk[0]) >= 2:  # a single segment: cut it inside
                    cut = int(rng.integers(1, len(chunk[0])))
                    a, b_in_order = list(chunk[0][:cut]), list(chunk[0][cut:])
                else:  # a one-token chunk (only at a document's end) holds no pair
                    a = None
                if a is not None:
                    label = int(rng.random() < 0.5)
                    if label == 0:
                        b = b_in_order
                    elif objective == "sop":
                        a, b = b_in_order, a
                    else:
                        b = _random_segments(docs, di, max(1, target - len(a)), rng)
                        if a_end:  # the segments B would have used start the next chunk
                            i -= len(chunk) - a_end
                    _truncate_pair(a, b, max_tokens)
                    pairs.append((a, b, label))
                chunk, length = [], 0
                target = max_tokens if rng.random() >= short_seq_prob else int(rng.integers(2, max_tokens + 1))
            i += 1
    if not pairs:
        raise ValueError(f"{who}: no sentence pair could be built (every document is a single one-token segment)")

    n = len(pairs)
    input_ids = _np.full((n, max_len), tokenizer.pad_id, dtype=_np.int64)
    token_type_ids = _np.zeros((n, max_len), dtype=_np.int64)
    labels = _np.zeros(n, dtype=_np.int64)
    cls_id, sep_id = tokenizer.cls_id, tokenizer.sep_id
    for r, k in enumerate(rng.permutation(n)):
        a, b, label = pairs[k]
        row = [cls_id] + a + [sep_id] + b + [sep_id]
        input_ids[r, : len(row)] = row
        token_type_ids[r, len(a) + 2: len(row)] = 1
        labels[r] = label
    return PretrainingExamples(input_ids, token_type_ids, labels, objective, int(tokenizer.pad_id))
