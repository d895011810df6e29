"""WordPieceTokenizer: BERT's basic pre-tokenization, greedy longest-match encoding,
likelihood-score training (checked against a from-scratch recount), persistence, errors."""
import json
from collections import Counter

import pytest

import tinynet as tn
from tinynet.data import WordPieceTokenizer
from tinynet.data.text import CharTokenizer, Tokenizer, WordTokenizer, pydoc_text
from tinynet.data.wordpiece import _train_merges, basic_tokenize

CORPUS = [
    "The cat sat on the mat. The dog sat on the log.",
    "A cat and a dog are friends; the cat runs, the dog runs.",
    "Running cats and running dogs: the runner runs faster than the walker walks.",
] * 5


@pytest.fixture(scope="module")
def tok():
    return WordPieceTokenizer.train(CORPUS, vocab_size=70, min_frequency=2)


# --- basic pre-tokenization --------------------------------------------------------------
def test_basic_tokenize_splits_punctuation_and_lowercases():
    assert basic_tokenize("Hello, World! x_1=f(2.5)") == \
        ["hello", ",", "world", "!", "x", "_", "1", "=", "f", "(", "2", ".", "5", ")"]
    assert basic_tokenize("Hello World", lower=False) == ["Hello", "World"]
    assert basic_tokenize("  \t\n ") == []


def test_basic_tokenize_unicode_rules():
    # accents stripped when lower-casing, Unicode punctuation split, CJK ideographs split,
    # control characters dropped, symbols that are not punctuation stay inside the word
    assert basic_tokenize("Café «naïve»—ok") == ["cafe", "«", "naive", "»", "—", "ok"]
    assert basic_tokenize("中文x") == ["中", "文", "x"]
    assert basic_tokenize("a\x00b\u200bc a©b") == ["abc", "a©b"]
    assert basic_tokenize("Ünïcode", lower=False) == ["Ünïcode"]
    # the ASCII fast path and the general path agree
    text = "def f(x): return x**2 # square_it\x07!"
    assert basic_tokenize(text) == basic_tokenize(text + " é")[:-1]


def test_basic_tokenize_rejects_non_strings():
    with pytest.raises(TypeError, match="basic_tokenize"):
        basic_tokenize(b"bytes")


# --- vocabulary layout -------------------------------------------------------------------
def test_special_tokens_and_ids(tok):
    assert tok.vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert (tok.pad_id, tok.unk_id, tok.cls_id, tok.sep_id, tok.mask_id) == (0, 1, 2, 3, 4)
    assert set(tok.special_ids) == {0, 1, 2, 3, 4}
    assert tok.kind == "wordpiece" and isinstance(tok, Tokenizer)
    assert tn.data.WordPieceTokenizer is WordPieceTokenizer


def test_training_learns_frequent_words_and_continuation_pieces(tok):
    assert len(tok) == tok.vocab_size == 70
    for word in ("the", "cat", "dog", "sat"):
        assert word in tok.stoi, word
        assert tok.tokenize(word) == [word]
    assert any(t.startswith("##") and len(t) > 3 for t in tok.vocab)  # merged continuation pieces
    # every character of the corpus is in the vocabulary in the form it occurs
    for w in set(w for text in CORPUS for w in basic_tokenize(text)):
        assert w[0] in tok.stoi and all("##" + c in tok.stoi for c in w[1:])


def test_training_stops_when_no_pair_is_frequent_enough():
    full = WordPieceTokenizer.train(CORPUS, vocab_size=10_000, min_frequency=2)
    assert len(full) < 10_000  # every pair occurring twice got merged: words seen twice are whole
    assert all(w in full.stoi for w, c in Counter(w for t in CORPUS for w in basic_tokenize(t)).items() if c >= 2)
    small = WordPieceTokenizer.train(["abc abd"], vocab_size=1000, min_frequency=2)
    # only "a"+"##b" occurs twice: alphabet (a, ##b, ##c, ##d) + "ab" + specials
    assert small.vocab[5:] == ["a", "##b", "##c", "##d", "ab"]
    once = WordPieceTokenizer.train(["abc abd"], vocab_size=1000, min_frequency=1)
    assert "abc" in once.stoi and "abd" in once.stoi


def _naive_state(words):
    seqs = {w: [w[0]] + ["##" + c for c in w[1:]] for w in words}
    return seqs


def _naive_counts(seqs, words):
    sym, pairs = Counter(), Counter()
    for w, seq in seqs.items():
        for s in seq:
            sym[s] += words[w]
        for a, b in zip(seq, seq[1:]):
            pairs[(a, b)] += words[w]
    return sym, pairs


@pytest.mark.parametrize("kind", ["frequency", "likelihood"])
def test_incremental_training_matches_a_full_recount(kind):
    """Every merge the incremental trainer picks has the maximal score (the pair count, or
    count(ab)/(count(a)count(b))) under a full recount of the current segmentation, and the
    final vocabulary is what that replay produces."""
    words = Counter(w for text in CORPUS + ["unbelievable believable unable tokenizer tokenizers"] * 2
                    for w in basic_tokenize(text))
    tokens, merges = _train_merges(words, 90, 2, "test", kind)
    seqs = _naive_state(words)
    learned = []
    for a, b in merges:
        sym, pairs = _naive_counts(seqs, words)
        scores = {p: (c if kind == "frequency" else c / (sym[p[0]] * sym[p[1]])) for p, c in pairs.items() if c >= 2}
        assert pairs[(a, b)] >= 2
        assert scores[(a, b)] == pytest.approx(max(scores.values()), rel=1e-12)
        merged = a + b[2:]
        learned.append(merged)
        for w, seq in seqs.items():
            out, i = [], 0
            while i < len(seq):
                if i + 1 < len(seq) and seq[i] == a and seq[i + 1] == b:
                    out.append(merged)
                    i += 2
                else:
                    out.append(seq[i])
                    i += 1
            seqs[w] = out
    alphabet = sorted({w[0] for w in words}) + sorted({"##" + c for w in words for c in w[1:]})
    assert len(tokens) == 90
    assert tokens == alphabet + list(dict.fromkeys(m for m in learned if m not in alphabet))


# --- encoding / decoding -----------------------------------------------------------------
def test_greedy_longest_match_first():
    t = WordPieceTokenizer(["un", "##a", "##af", "##aff", "##able", "a", "##b"])
    assert t.tokenize("unaffable") == ["un", "##aff", "##able"]  # BERT's docstring example
    assert t.encode("unaffable") == [t.stoi["un"], t.stoi["##aff"], t.stoi["##able"]]
    assert t.tokenize("ab unab") == ["a", "##b", "un", "##a", "##b"]


def test_unknown_characters_and_long_words_become_unk(tok):
    assert tok.tokenize("cat€dog the") == ["[UNK]", "the"]  # € never seen: the whole word is [UNK]
    assert tok.tokenize("the" * 34) == ["[UNK]"]  # 102 characters > max_input_chars_per_word=100
    assert tok.tokenize("the" * 33) != ["[UNK]"]  # 99 characters is fine
    short = WordPieceTokenizer(["a", "##a"], max_input_chars_per_word=3)
    assert short.tokenize("aaa aaaa") == ["a", "##a", "##a", "[UNK]"]


def test_encode_special_tokens_and_decode(tok):
    ids = tok.encode("The cat.", add_special_tokens=True)
    assert ids[0] == tok.cls_id and ids[-1] == tok.sep_id
    assert tok.decode(ids) == "the cat ."
    assert tok.decode(ids, skip_special_tokens=False) == "[CLS] the cat . [SEP]"
    assert tok.decode(tn.tensor(ids)) == "the cat ."
    with pytest.raises(IndexError, match="decode"):
        tok.decode([len(tok)])


def test_round_trip_of_known_words(tok):
    text = "Running DOGS and the walker: cats sat, faster."
    assert tok.decode(tok.encode(text)) == " ".join(basic_tokenize(text))
    pieces = tok.tokenize("faster!")
    assert pieces[-1] == "[UNK]" and "[UNK]" not in pieces[:-1]  # "!" never occurs in the corpus
    pieces = tok.tokenize("runners")  # not in the vocabulary: built from pieces
    assert len(pieces) > 1 and all(p.startswith("##") for p in pieces[1:])
    assert tok.decode(tok.encode("runners")) == "runners"


def test_lower_false_keeps_case():
    t = WordPieceTokenizer.train(["Cat cat Cat cat"], vocab_size=20, min_frequency=1, lower=False)
    assert t.tokenize("Cat cat") == ["Cat", "cat"]


def test_pydoc_corpus_training_and_coverage():
    text = pydoc_text()[:150_000]
    t = WordPieceTokenizer.train([text], vocab_size=1500)
    assert len(t) == 1500
    ids = t.encode(text)
    assert t.unk_id not in ids  # the alphabet covers every character of the training text
    assert t.decode(ids) == " ".join(basic_tokenize(text))
    words = basic_tokenize(text)
    assert len(words) < len(ids) < 0.75 * sum(map(len, words))  # subwords: between words and characters


# --- persistence -------------------------------------------------------------------------
def test_json_round_trip(tok, tmp_path):
    t = WordPieceTokenizer(tok.vocab[5:], lower=False, max_input_chars_per_word=7)
    path = tmp_path / "wp.json"
    t.save(path)
    assert json.loads(path.read_text())["kind"] == "wordpiece"
    back = Tokenizer.load(path)
    assert type(back) is WordPieceTokenizer
    assert back.vocab == t.vocab and back.lower is False and back.max_input_chars_per_word == 7
    text = "The dog runs. Catcatcatcat"
    assert back.encode(text, add_special_tokens=True) == t.encode(text, add_special_tokens=True)
    assert back.mask_id == 4 and back.special_ids == t.special_ids


def test_registry_keeps_char_and_word_tokenizers():
    assert Tokenizer._registry["char"] is CharTokenizer and Tokenizer._registry["word"] is WordTokenizer
    assert Tokenizer._registry["wordpiece"] is WordPieceTokenizer
    c = Tokenizer.from_dict(CharTokenizer.from_text("abc").to_dict())
    w = Tokenizer.from_dict(WordTokenizer.from_text("a b b").to_dict())
    assert c.encode("cab") == [4, 2, 3] and w.encode("b a") == [2, 3]
    with pytest.raises(ValueError, match="unknown tokenizer kind 'bpe'.*wordpiece"):
        Tokenizer.from_dict({"kind": "bpe", "vocab": [], "specials": []})
    bad = WordPieceTokenizer(["a"]).to_dict()
    bad["specials"] = ["[PAD]"]
    with pytest.raises(ValueError, match=r"\[UNK\]"):
        Tokenizer.from_dict(bad)
    bad = WordPieceTokenizer(["a"]).to_dict()
    bad["max_input_chars_per_word"] = "many"
    with pytest.raises(ValueError, match="unexpected entry 'max_input_chars_per_word'"):
        Tokenizer.from_dict(bad)


# --- errors ------------------------------------------------------------------------------
def test_vocab_size_smaller_than_alphabet_plus_specials():
    # alphabet of "abc ab": a, ##b, ##c -> 3 symbols + 5 specials = 8
    assert len(WordPieceTokenizer.train(["abc ab"], vocab_size=8)) == 8
    with pytest.raises(ValueError, match=r"vocab_size=7 .*alphabet of 3 .*vocab_size >= 8"):
        WordPieceTokenizer.train(["abc ab"], vocab_size=7)


def test_empty_corpus_and_bad_arguments():
    for texts in ([], [""], ["  \n\t "]):
        with pytest.raises(ValueError, match="no words"):
            WordPieceTokenizer.train(texts, vocab_size=100)
    with pytest.raises(TypeError, match="item 1 is a int"):
        WordPieceTokenizer.train(["ok", 3])
    with pytest.raises(TypeError, match="vocab_size must be an int"):
        WordPieceTokenizer.train(["ok"], vocab_size=10.5)
    with pytest.raises(ValueError, match="min_frequency"):
        WordPieceTokenizer.train(["ok"], min_frequency=0)
    with pytest.raises(ValueError, match="score must be"):
        WordPieceTokenizer.train(["ok"], score="bpe")
    with pytest.raises(ValueError, match="repeated"):
        WordPieceTokenizer(["a", "a"])
    with pytest.raises(ValueError, match="non-empty strings"):
        WordPieceTokenizer(["a", ""])
    with pytest.raises(ValueError, match="max_input_chars_per_word"):
        WordPieceTokenizer(["a"], max_input_chars_per_word=0)


def test_single_string_counts_as_one_text():
    assert WordPieceTokenizer.train("the the cat", vocab_size=30).vocab == \
        WordPieceTokenizer.train(["the the cat"], vocab_size=30).vocab
