"""BERT pretraining data: masking statistics (HF's 15 % / 80-10-10 rule), segment
splitting, and [CLS] A [SEP] B [SEP] pairs for sentence-order and next-sentence prediction."""
import math

import numpy as np
import pytest

import tinynet as tn
from tinynet.data import DataLoader, TensorDataset, WordPieceTokenizer
from tinynet.data.pretraining import (PretrainingExamples, build_pretraining_examples, mask_tokens,
                                      split_segments)
from tinynet.data.text import WordTokenizer, pydoc_text

PAD, UNK, CLS, SEP, MASK = 0, 1, 2, 3, 4
SPECIALS = {PAD, UNK, CLS, SEP, MASK}


def _batch(rng, n=400, t=64, vocab=20):
    """Rows [CLS] x... [SEP] [PAD]... with regular ids 5..vocab-1 and a few [UNK]."""
    ids = rng.integers(5, vocab, size=(n, t))
    lengths = rng.integers(t // 2, t, size=n)
    for r, L in enumerate(lengths):
        ids[r, 0] = CLS
        ids[r, L - 1] = SEP
        ids[r, L:] = PAD
    ids[rng.random(ids.shape) < 0.01] = UNK
    ids[:, 0] = CLS
    return ids.astype(np.int64)


def _within(count, n, p, sigmas=5.0):
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


# --- masking -----------------------------------------------------------------------------
def test_mask_statistics_follow_the_15_80_10_10_rule():
    vocab = 20  # 15 regular ids: a random replacement equals the original 1/15 of the time
    ids = _batch(np.random.default_rng(1), vocab=vocab)
    before = ids.copy()
    out, labels = mask_tokens(ids, mask_id=MASK, special_ids=SPECIALS, vocab_size=vocab,
                              generator=np.random.default_rng(0))
    assert np.array_equal(ids, before)  # input untouched
    assert out.dtype == labels.dtype == np.int64 and out.shape == labels.shape == ids.shape

    special = np.isin(ids, list(SPECIALS))
    chosen = labels != -100
    assert not (chosen & special).any()  # specials are never chosen
    assert np.array_equal(out[special], ids[special])
    assert np.array_equal(labels[chosen], ids[chosen])  # labels hold the original ids
    assert np.array_equal(out[~chosen], ids[~chosen])  # nothing else changes
    eligible = int((~special).sum())
    assert _within(int(chosen.sum()), eligible, 0.15)

    n = int(chosen.sum())
    masked = chosen & (out == MASK)
    random_other = chosen & (out != MASK) & (out != ids)
    same = chosen & (out == ids)
    regular = vocab - len(SPECIALS)
    assert _within(int(masked.sum()), n, 0.8)
    assert _within(int(random_other.sum()), n, 0.1 * (1 - 1 / regular))
    assert _within(int(same.sum()), n, 0.1 + 0.1 / regular)
    # random replacements are never special tokens (other than [MASK] for the 80 %)
    assert not np.isin(out[chosen & ~masked], list(SPECIALS)).any()


def test_mask_is_reproducible_and_uses_the_tokenizer():
    tok = WordPieceTokenizer(["a", "b", "c", "##a", "##b"])
    ids = _batch(np.random.default_rng(2), n=50, t=16, vocab=len(tok))
    a = mask_tokens(ids, tok, generator=np.random.default_rng(7))
    b = mask_tokens(ids, tok, generator=np.random.default_rng(7))
    c = mask_tokens(ids, tok, generator=np.random.default_rng(8))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    # a Tensor works too, and keyword arguments override the tokenizer
    d = mask_tokens(tn.tensor(ids), tok, generator=np.random.default_rng(7))
    assert np.array_equal(a[0], d[0])
    # a tn.Generator, and the global generator (tn.manual_seed) when generator is None
    g1 = mask_tokens(ids, tok, generator=tn.Generator().manual_seed(5))
    g2 = mask_tokens(ids, tok, generator=tn.Generator().manual_seed(5))
    assert np.array_equal(g1[1], g2[1])
    tn.manual_seed(11)
    n1 = mask_tokens(ids, tok)
    tn.manual_seed(11)
    n2 = mask_tokens(ids, tok)
    assert np.array_equal(n1[0], n2[0]) and np.array_equal(n1[1], n2[1])
    e = mask_tokens(ids, tok, special_ids=set(), mlm_probability=1.0, generator=np.random.default_rng(0))
    assert (e[1] != -100).all()  # with no special ids every position can be chosen


def test_mask_probability_extremes():
    ids = _batch(np.random.default_rng(3), n=20, t=16)
    out, labels = mask_tokens(ids, mask_id=MASK, special_ids=SPECIALS, vocab_size=20, mlm_probability=0.0,
                              generator=np.random.default_rng(0))
    assert np.array_equal(out, ids) and (labels == -100).all()
    out, labels = mask_tokens(ids, mask_id=MASK, special_ids=SPECIALS, vocab_size=20, mlm_probability=1.0,
                              generator=np.random.default_rng(0))
    assert np.array_equal(labels != -100, ~np.isin(ids, list(SPECIALS)))


def test_mask_errors():
    ids = np.array([[2, 5, 6, 3]])
    kw = dict(mask_id=MASK, special_ids=SPECIALS, vocab_size=10)
    with pytest.raises(TypeError, match="mask_tokens: pass a tokenizer"):
        mask_tokens(ids, mask_id=MASK)
    with pytest.raises(TypeError, match="integer token ids, got dtype float"):
        mask_tokens(ids.astype(np.float32), **kw)
    with pytest.raises(ValueError, match=r"must lie in \[0, 10\), got values in \[2, 12\]"):
        mask_tokens(np.array([[2, 12]]), **kw)
    with pytest.raises(ValueError, match="mlm_probability"):
        mask_tokens(ids, mlm_probability=1.5, **kw)
    with pytest.raises(TypeError, match="mask_tokens: generator must be"):
        mask_tokens(ids, generator=42, **kw)
    with pytest.raises(ValueError, match="no non-special token"):
        mask_tokens(np.array([[0, 1]]), mask_id=1, special_ids={0, 1}, vocab_size=2)


# --- segments ----------------------------------------------------------------------------
def test_split_segments():
    text = "First sentence here. Second one!\nStill second? Yes.\n\n\n  Third para, e.g. this one\n  wraps.\n\n"
    assert split_segments(text) == ["First sentence here.", "Second one!", "Still second?", "Yes.",
                                    "Third para, e.g. this one wraps."]
    assert split_segments("One. Two!\n\nThree") == ["One.", "Two!", "Three"]
    assert split_segments("   \n\n  ") == []
    with pytest.raises(TypeError, match="split_segments"):
        split_segments(None)


# --- sentence pairs ----------------------------------------------------------------------
def _numbered_docs(n_docs=30, n_segs=12, words=4):
    """Documents whose words name (document, segment, position): "d3s5w1"."""
    docs = ["\n\n".join(" ".join(f"d{d}s{s}w{w}" for w in range(words)) for s in range(n_segs))
            for d in range(n_docs)]
    vocab = [f"d{d}s{s}w{w}" for d in range(n_docs) for s in range(n_segs) for w in range(words)]
    return docs, WordPieceTokenizer(vocab)


def _where(tok, ids):
    """(document, segment*100 + word) of each id."""
    out = []
    for i in ids:
        d, rest = tok.vocab[i][1:].split("s")
        s, w = rest.split("w")
        out.append((int(d), int(s) * 100 + int(w)))
    return out


def _split_row(ex, r, tok):
    row, types = ex.input_ids[r], ex.token_type_ids[r]
    assert row[0] == tok.cls_id
    seps = np.flatnonzero(row == tok.sep_id)
    assert len(seps) == 2
    first, second = seps
    assert (row[second + 1:] == tok.pad_id).all() and (row[1:second] != tok.pad_id).all()
    assert (types[: first + 1] == 0).all() and (types[first + 1: second + 1] == 1).all()
    assert (types[second + 1:] == 0).all()
    return row[1:first], row[first + 1: second]


@pytest.mark.parametrize("max_len", [12, 32])
def test_sop_pairs_layout_and_order(max_len):
    docs, tok = _numbered_docs()
    ex = build_pretraining_examples(docs, tok, max_len=max_len, objective="sop", seed=0)
    assert isinstance(ex, PretrainingExamples) and ex.objective == "sop"
    n = len(ex)
    assert ex.input_ids.shape == ex.token_type_ids.shape == (n, max_len) and ex.sentence_labels.shape == (n,)
    assert n > 60 and abs(ex.sentence_labels.mean() - 0.5) < 0.5 * 5 / math.sqrt(n)  # ~50/50
    for r in range(n):
        a, b = _split_row(ex, r, tok)
        assert len(a) >= 1 and len(b) >= 1
        wa, wb = _where(tok, a), _where(tok, b)
        assert len({d for d, _ in wa + wb}) == 1  # one document
        pa, pb = [p for _, p in wa], [p for _, p in wb]
        assert pa == sorted(pa) and pb == sorted(pb)  # each side keeps document order
        if ex.sentence_labels[r] == 0:
            assert max(pa) < min(pb)  # B follows A
        else:
            assert max(pb) < min(pa)  # swapped: B came first in the document
    assert np.array_equal(ex.attention_mask, (ex.input_ids != tok.pad_id).astype(np.int64))


def test_nsp_pairs_meaning():
    docs, tok = _numbered_docs()
    ex = build_pretraining_examples(docs, tok, max_len=24, objective="nsp", seed=1)
    n = len(ex)
    assert abs(ex.sentence_labels.mean() - 0.5) < 0.5 * 5 / math.sqrt(n)
    own = set()  # (document, segment) seen in its own document's context
    for r in range(n):
        a, b = _split_row(ex, r, tok)
        wa, wb = _where(tok, a), _where(tok, b)
        (da,), (db,) = {d for d, _ in wa}, {d for d, _ in wb}
        own |= {(d, p // 100) for d, p in wa}
        if ex.sentence_labels[r] == 0:
            assert da == db and max(p for _, p in wa) < min(p for _, p in wb)
            own |= {(d, p // 100) for d, p in wb}
        else:
            assert da != db  # a random segment of another document
    # segments a random B displaced are reused for the next pair, so none is lost
    # (4-token segments lose at most 3 tokens to truncation at this max_len)
    assert own == {(d, s) for d in range(30) for s in range(12)}


def test_long_segments_are_truncated_longer_side_first():
    doc = " ".join(f"d0s0w{w}" for w in range(40))  # one 40-token segment
    vocab = [f"d0s0w{w}" for w in range(40)]
    tok = WordPieceTokenizer(vocab)
    ex = build_pretraining_examples([doc] * 20, tok, max_len=16, objective="sop", seed=0, short_seq_prob=0.0)
    assert len(ex) == 20
    for r in range(len(ex)):
        a, b = _split_row(ex, r, tok)
        wa, wb = [p for _, p in _where(tok, a)], [p for _, p in _where(tok, b)]
        first, second = (wa, wb) if ex.sentence_labels[r] == 0 else (wb, wa)
        assert first[0] == 0  # truncation cuts ends, so each side starts where it started
        cut = second[0]  # the segment was cut at this word: A had `cut` tokens, B 40 - `cut`
        assert first == list(range(len(first))) and second == list(range(cut, cut + len(second)))
        short, long_ = sorted((cut, 40 - cut))
        kept_short = min(short, 6)  # the longer side is cut first, down to the shorter one
        assert sorted((len(a), len(b))) == [kept_short, 13 - kept_short]


def test_pairs_are_deterministic_and_feed_a_dataloader():
    docs, tok = _numbered_docs(n_docs=6)
    a = build_pretraining_examples(docs, tok, max_len=20, seed=3)
    b = build_pretraining_examples(docs, tok, max_len=20, seed=3)
    c = build_pretraining_examples(docs, tok, max_len=20, seed=4)
    assert all(np.array_equal(x, y) for x, y in zip((a.input_ids, a.token_type_ids, a.sentence_labels),
                                                    (b.input_ids, b.token_type_ids, b.sentence_labels)))
    assert not np.array_equal(a.input_ids, c.input_ids)
    ds = a.dataset()
    assert isinstance(ds, TensorDataset) and len(ds) == len(a)
    ids, types, labels = next(iter(DataLoader(ds, batch_size=4)))
    assert ids.shape == (4, 20) and types.shape == (4, 20) and labels.shape == (4,)
    masked, mlm_labels = mask_tokens(ids, tok, generator=np.random.default_rng(0))
    assert masked.shape == (4, 20) and not (mlm_labels[ids.numpy() == tok.cls_id] != -100).any()


def test_real_text_pipeline():
    text = pydoc_text()[:60_000]
    tok = WordPieceTokenizer.train([text], vocab_size=600)
    docs = [text[i:i + 3000] for i in range(0, len(text), 3000)]
    ex = build_pretraining_examples(docs, tok, max_len=64, objective="nsp", seed=0)
    assert len(ex) > 20 and set(np.unique(ex.sentence_labels)) == {0, 1}
    assert (ex.input_ids[:, 0] == tok.cls_id).all() and ((ex.input_ids == tok.sep_id).sum(1) == 2).all()


def test_pair_errors():
    docs, tok = _numbered_docs(n_docs=2)
    with pytest.raises(ValueError, match="objective must be 'sop' or 'nsp'"):
        build_pretraining_examples(docs, tok, objective="mlm")
    with pytest.raises(ValueError, match="max_len must be an int >= 5"):
        build_pretraining_examples(docs, tok, max_len=4)
    with pytest.raises(ValueError, match="at least 2 non-empty documents, got 1"):
        build_pretraining_examples(docs[:1] + ["  "], tok, objective="nsp")
    with pytest.raises(ValueError, match="hold no tokens"):
        build_pretraining_examples(["", "\n\n"], tok)
    with pytest.raises(TypeError, match="wrap it as"):
        build_pretraining_examples(docs[0], tok)
    with pytest.raises(TypeError, match="list of strings"):
        build_pretraining_examples([docs[0], 3], tok)
    with pytest.raises(ValueError, match="short_seq_prob"):
        build_pretraining_examples(docs, tok, short_seq_prob=2.0)
    with pytest.raises(ValueError, match=r"needs \[CLS\] and \[SEP\]"):
        build_pretraining_examples(docs, WordTokenizer.from_text(docs[0]))
    word = WordTokenizer.from_text(" ".join(docs), add_cls=True, add_sep=True)  # any tokenizer with CLS/SEP
    assert (build_pretraining_examples(docs, word, max_len=16).input_ids[:, 0] == word.cls_id).all()
    with pytest.raises(ValueError, match="no sentence pair"):
        build_pretraining_examples(["d0s0w0"], tok)
