"""WordPiece: BERT's subword tokenizer (uncased scheme), trained from text.

Tokenizing runs in two stages, as in BERT's ``tokenization.py``:

1. **Basic pre-tokenization** (BERT's ``BasicTokenizer``): drop control characters, turn
   every whitespace character into a space, optionally lower-case and strip accents
   (NFD, then drop combining marks), put spaces around CJK ideographs, split on
   whitespace and make every punctuation character a word of its own. "Punctuation" is
   every non-alphanumeric printable ASCII character (so ``( . _ = "`` in code are split off)
   plus every Unicode character whose category starts with ``P``.
2. **WordPiece** (BERT's ``WordpieceTokenizer``): each word is cut greedily, longest
   vocabulary entry first, from the left. Pieces after the first carry the ``##`` prefix
   ("tokenizer" -> ``token ##izer``). A word that can't be covered, or that is longer
   than ``max_input_chars_per_word`` characters, becomes ``[UNK]`` as a whole.

Training (:meth:`WordPieceTokenizer.train`) starts from the characters of the corpus
(a word's first character plain, the others as ``##c``) and repeatedly merges one
adjacent pair into a new piece. Which pair:

* ``score="frequency"`` (the default): the most frequent pair, as byte-pair encoding
  does and as Hugging Face's ``WordPieceTrainer`` does. Frequent words ("the", "return")
  become single pieces early, so text costs few tokens per word (about 1.3 on Python's
  documentation with 4000 pieces).
* ``score="likelihood"``: the pair with the highest

      score(a, b) = count(ab) / (count(a) * count(b))

  the likelihood criterion of WordPiece as described in Hugging Face's course
  ("WordPiece tokenization"): it favours pairs whose parts rarely occur apart, which
  builds rare whole words before common short ones (about 2.5 tokens per word on the
  same text and vocabulary size).

Pair counts are updated incrementally: a merge only re-counts the words that contain the
merged pair.

Special tokens come first, with BERT's ids: ``[PAD]`` 0, ``[UNK]`` 1, ``[CLS]`` 2,
``[SEP]`` 3, ``[MASK]`` 4. The tokenizer saves and loads as JSON through
:meth:`Tokenizer.save` / :meth:`Tokenizer.load`.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Iterable

import numpy as _np

from .text import Tokenizer

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = (PAD, UNK, CLS, SEP, MASK)
CONTINUATION = "##"

# --- basic pre-tokenization (BERT's BasicTokenizer) ------------------------------------
_ASCII_PIECES = re.compile(r"[A-Za-z0-9]+|[^\sA-Za-z0-9]")
# ASCII control characters BERT drops (tab, newline and carriage return are whitespace).
_ASCII_CONTROL = {c: None for c in list(range(0, 9)) + [11, 12] + list(range(14, 32)) + [127]}


def _is_whitespace(ch: str) -> bool:
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def _is_control(ch: str) -> bool:
    return ch not in "\t\n\r" and unicodedata.category(ch).startswith("C")


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_tokenize(text: str, lower: bool = True) -> list[str]:
    """BERT's basic pre-tokenization: the words and punctuation marks of ``text``.

    >>> basic_tokenize("Héllo, World! x_1=f(2)")
    ['hello', ',', 'world', '!', 'x', '_', '1', '=', 'f', '(', '2', ')']
    """
    if not isinstance(text, str):
        raise TypeError(f"basic_tokenize: text must be a str, got {type(text).__name__}")
    if text.isascii():  # fast path: one regex does cleaning-free splitting of ASCII text
        text = text.translate(_ASCII_CONTROL)
        return _ASCII_PIECES.findall(text.lower() if lower else text)
    chars = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or _is_control(ch):
            continue
        if _is_whitespace(ch):
            chars.append(" ")
        elif _is_cjk(cp):
            chars.append(f" {ch} ")
        else:
            chars.append(ch)
    text = "".join(chars)
    if lower:
        text = unicodedata.normalize("NFD", text.lower())
        text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    out = []
    for word in text.split():
        start = 0
        for i, ch in enumerate(word):
            if _is_punctuation(ch):
                if start < i:
                    out.append(word[start:i])
                out.append(ch)
                start = i + 1
        if start < len(word):
            out.append(word[start:])
    return out


# --- the tokenizer ---------------------------------------------------------------------
class WordPieceTokenizer(Tokenizer):
    """BERT-style WordPiece tokenizer. Build it with :meth:`train` or from a vocabulary.

    ``WordPieceTokenizer(tokens)`` takes the non-special vocabulary (word-initial pieces
    plain, continuation pieces with ``##``); the five special tokens are put first.
    """

    kind = "wordpiece"
    pad_token, unk_token, cls_token, sep_token, mask_token = PAD, UNK, CLS, SEP, MASK
    _EXTRA_TYPES = {"lower": bool, "max_input_chars_per_word": int}
    _CACHE_LIMIT = 200_000  # words remembered by encode before the cache is cleared

    def __init__(self, tokens: Iterable[str], lower: bool = True, max_input_chars_per_word: int = 100):
        tokens = list(tokens)
        if not all(isinstance(t, str) and t and t != CONTINUATION for t in tokens):
            raise ValueError("WordPieceTokenizer: tokens must be non-empty strings other than '##'")
        if int(max_input_chars_per_word) < 1:
            raise ValueError(f"WordPieceTokenizer: max_input_chars_per_word must be >= 1, got {max_input_chars_per_word}")
        specials = list(SPECIAL_TOKENS)
        self.vocab = specials + [t for t in tokens if t not in specials]
        self.stoi = {t: i for i, t in enumerate(self.vocab)}
        if len(self.stoi) != len(self.vocab):
            raise ValueError("WordPieceTokenizer: the vocabulary has repeated tokens")
        self.specials = specials
        self.lower = bool(lower)
        self.max_input_chars_per_word = int(max_input_chars_per_word)

    mask_id = property(lambda self: self.stoi[self.mask_token])

    @property
    def special_ids(self) -> frozenset:
        """Ids of the special tokens (never masked, skipped by ``decode``)."""
        return frozenset(self.stoi[t] for t in self.specials)

    def _extra(self):
        return {"lower": self.lower, "max_input_chars_per_word": self.max_input_chars_per_word}

    # --- encoding ------------------------------------------------------------------------
    def _word_cache(self) -> dict:
        # Built lazily: Tokenizer.from_dict creates instances without calling __init__.
        cache = self.__dict__.get("_cache")
        if cache is None or len(cache) > self._CACHE_LIMIT:
            cache = self.__dict__["_cache"] = {}
            self.__dict__["_longest"] = max((len(t) for t in self.vocab), default=1)
        return cache

    def _word_ids(self, word: str) -> list:
        """Greedy longest-match-first WordPiece ids of one pre-tokenized word (cached)."""
        cache = self._word_cache()
        ids = cache.get(word)
        if ids is not None:
            return ids
        stoi, n = self.stoi, len(word)
        if n > self.max_input_chars_per_word:
            ids = [self.unk_id]
        else:
            longest = self.__dict__["_longest"]
            ids, start = [], 0
            while start < n:
                prefix = CONTINUATION if start else ""
                end = min(n, start + longest)
                while end > start and prefix + word[start:end] not in stoi:
                    end -= 1
                if end == start:  # nothing in the vocabulary covers word[start]
                    ids = [self.unk_id]
                    break
                ids.append(stoi[prefix + word[start:end]])
                start = end
        cache[word] = ids
        return ids

    def split(self, text: str) -> list:
        """Basic pre-tokenization of ``text`` (the words WordPiece then cuts)."""
        return basic_tokenize(text, self.lower)

    def tokenize(self, text: str) -> list:
        """WordPiece token strings of ``text``, e.g. ``"Tokenizers!"`` -> ``['token', '##izer', '##s', '!']``."""
        return [self.vocab[i] for i in self.encode(text)]

    def encode(self, text: str, add_special_tokens: bool = False) -> list:
        """Token ids of ``text``; with ``add_special_tokens`` wrapped as ``[CLS] ... [SEP]``."""
        ids = [i for word in self.split(text) for i in self._word_ids(word)]
        if add_special_tokens:
            ids = [self.cls_id] + ids + [self.sep_id]
        return ids

    def join(self, tokens: list) -> str:
        """Glue ``##`` pieces onto the previous piece; words are separated by one space."""
        out = []
        for t in tokens:
            if t.startswith(CONTINUATION) and out:
                out[-1] += t[len(CONTINUATION):]
            else:
                out.append(t)
        return " ".join(out)

    # --- training --------------------------------------------------------------------------
    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int = 4000, min_frequency: int = 2, lower: bool = True,
              max_input_chars_per_word: int = 100, score: str = "frequency") -> "WordPieceTokenizer":
        """Learn a WordPiece vocabulary of ``vocab_size`` entries (specials included) from ``texts``.

        ``texts`` is an iterable of strings (a single string counts as one text). The
        vocabulary holds the special tokens, then every character seen (plain and ``##``
        forms as they occur: the alphabet, so only unseen characters become ``[UNK]``),
        then merged pieces in the order they were learned. A pair is merged only if it
        occurs at least ``min_frequency`` times; training stops early when no pair does.
        Words longer than ``max_input_chars_per_word`` are left out (they encode to ``[UNK]``).
        ``score`` picks the pair to merge: "frequency" (the most frequent pair, as BPE) or
        "likelihood" (count(ab) / (count(a) count(b))); see the module docstring.
        """
        who = "WordPieceTokenizer.train"
        if score not in ("frequency", "likelihood"):
            raise ValueError(f"{who}: score must be 'frequency' or 'likelihood', got {score!r}")
        if isinstance(texts, str):
            texts = [texts]
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, (int, _np.integer)):
            raise TypeError(f"{who}: vocab_size must be an int, got {type(vocab_size).__name__}")
        if isinstance(min_frequency, bool) or not isinstance(min_frequency, (int, _np.integer)) or min_frequency < 1:
            raise ValueError(f"{who}: min_frequency must be an int >= 1, got {min_frequency!r}")
        words = Counter()
        for k, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"{who}: texts must be strings, item {k} is a {type(text).__name__}")
            words.update(basic_tokenize(text, lower))
        for w in [w for w in words if len(w) > max_input_chars_per_word]:
            del words[w]
        if not words:
            raise ValueError(f"{who}: the corpus has no words (empty texts or only whitespace/control "
                             f"characters); pass some text to learn a vocabulary from")
        tokens, _ = _train_merges(words, int(vocab_size) - len(SPECIAL_TOKENS), int(min_frequency), who, score)
        return cls(tokens, lower=lower, max_input_chars_per_word=max_input_chars_per_word)


def _train_merges(words: Counter, budget: int, min_frequency: int, who: str,
                  score_kind: str = "frequency") -> tuple[list, list]:
    """(tokens, merges): the alphabet then the learned pieces (``budget`` entries at most),
    and the merged pairs ``(a, b)`` in the order they were chosen."""
    # Symbols are ints indexing ``names``; each distinct word is a list of symbols.
    names, ids = [], {}

    def symbol(name):
        s = ids.get(name)
        if s is None:
            s = ids[name] = len(names)
            names.append(name)
        return s

    merges = []
    alphabet = sorted({w[0] for w in words}) + sorted({CONTINUATION + c for w in words for c in w[1:]})
    if budget < len(alphabet):
        raise ValueError(
            f"{who}: vocab_size={budget + len(SPECIAL_TOKENS)} is smaller than the {len(SPECIAL_TOKENS)} special "
            f"tokens plus the corpus alphabet of {len(alphabet)} symbols; use vocab_size >= "
            f"{len(alphabet) + len(SPECIAL_TOKENS)}"
        )
    for name in alphabet:
        symbol(name)
    seqs = [[ids[w[0]]] + [ids[CONTINUATION + c] for c in w[1:]] for w in words]
    freqs = list(words.values())

    # Symbol counts and pair counts. Pair counts live in a NumPy array (indexed by pair id)
    # so the best score is one vectorized argmax per merge; ``where`` lists the words that
    # contain (or once contained) each pair.
    sym_count = _np.zeros(len(names) + budget + 1)
    pair_id, pa, pb, where = {}, [], [], []
    pc = _np.zeros(1024)
    delta = {}

    def add_pairs(w, sign):
        seq, f = seqs[w], freqs[w] * sign
        for a, b in zip(seq, seq[1:]):
            p = pair_id.get((a, b))
            if p is None:
                p = pair_id[(a, b)] = len(pa)
                pa.append(a)
                pb.append(b)
                where.append(set())
            if sign > 0:
                where[p].add(w)
            delta[p] = delta.get(p, 0) + f

    def flush():
        nonlocal pc
        if len(pa) > pc.size:
            pc = _np.concatenate([pc, _np.zeros(max(pc.size, len(pa) - pc.size))])
        keys = _np.fromiter(delta.keys(), dtype=_np.int64, count=len(delta))
        pc[keys] += _np.fromiter(delta.values(), dtype=_np.float64, count=len(delta))
        delta.clear()

    for w, seq in enumerate(seqs):
        for s in seq:
            sym_count[s] += freqs[w]
        add_pairs(w, +1)
    flush()

    while len(names) < budget:
        n = len(pa)
        a_arr, b_arr = _np.asarray(pa), _np.asarray(pb)
        counts = pc[:n]
        if score_kind == "frequency":
            score = _np.where(counts >= min_frequency, counts, -1.0)
        else:
            score = _np.where(counts >= min_frequency,
                              counts / _np.maximum(sym_count[a_arr] * sym_count[b_arr], 1.0), -1.0)
        best = int(score.argmax())
        if score[best] < 0:  # no pair occurs min_frequency times: the vocabulary is complete
            break
        a, b = pa[best], pb[best]
        na, nb = names[a], names[b]
        merges.append((na, nb))
        c = symbol(na + nb[len(CONTINUATION):])  # b always carries "##" (it is never word-initial)
        for w in list(where[best]):
            seq = seqs[w]
            if not any(x == a and y == b for x, y in zip(seq, seq[1:])):
                continue  # the pair was merged away in this word by an earlier merge
            add_pairs(w, -1)
            out, i, f = [], 0, freqs[w]
            while i < len(seq):
                if i + 1 < len(seq) and seq[i] == a and seq[i + 1] == b:
                    out.append(c)
                    sym_count[a] -= f
                    sym_count[b] -= f
                    sym_count[c] += f
                    i += 2
                else:
                    out.append(seq[i])
                    i += 1
            seqs[w] = out
            add_pairs(w, +1)
        where[best] = set()
        flush()
        pc[best] = 0.0  # every occurrence was merged (the count is 0 already; kept explicit)
    return names, merges
