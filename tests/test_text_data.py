"""Tokenizers, LM windows, the pydoc corpus, the bigram baseline and the synthetic tasks."""
import json

import numpy as np
import pytest

from tinynet.data import DataLoader
from tinynet.data.text import (IGNORE_INDEX, CharTokenizer, TextWindowDataset, Tokenizer, WordTokenizer,
                               addition_task, bigram_loss, parens_task, pydoc_corpus, pydoc_text, reverse_task,
                               sort_task)


def test_char_tokenizer_round_trip_and_specials(tmp_path):
    tok = CharTokenizer.from_text("hello world", add_cls=True, add_sep=True)
    assert tok.vocab[:4] == ["<pad>", "<unk>", "<cls>", "<sep>"] and tok.pad_id == 0
    ids = tok.encode("hello", add_special_tokens=True)
    assert ids[0] == tok.cls_id and ids[-1] == tok.sep_id
    assert tok.decode(ids) == "hello"
    assert tok.encode("hz") == [tok.stoi["h"], tok.unk_id]
    path = tmp_path / "vocab.json"
    tok.save(path)
    assert json.loads(path.read_text())["kind"] == "char"  # plain JSON
    back = Tokenizer.load(path)
    assert back.vocab == tok.vocab and back.decode(back.encode("world")) == "world"
    with pytest.raises(IndexError, match="outside the vocabulary"):
        tok.decode([999])


def test_word_tokenizer_frequency_order_and_limits():
    text = "the cat sat on the mat. The cat."
    tok = WordTokenizer.from_text(text, max_size=3)
    assert tok.vocab[2:] == ["the", ".", "cat"]  # most frequent first (3, 2, 2), ties by code point
    assert tok.decode(tok.encode("the cat.")) == "the cat."
    assert tok.encode("dog")[0] == tok.unk_id
    back = Tokenizer.from_dict(json.loads(json.dumps(tok.to_dict())))
    assert back.lower and back.vocab == tok.vocab


def test_text_windows_are_shifted_by_one_and_batch_through_the_loader():
    ids = np.arange(20)
    ds = TextWindowDataset(ids, context=5, stride=3)
    assert len(ds) == 5
    x, y = ds[1]
    assert x.tolist() == [3, 4, 5, 6, 7] and y.tolist() == [4, 5, 6, 7, 8]
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))
    assert xb.shape == (4, 5) and np.array_equal(yb.numpy()[:, :-1], xb.numpy()[:, 1:])
    with pytest.raises(ValueError, match="too short"):
        TextWindowDataset(np.arange(4), context=5)


def test_pydoc_corpus_is_real_deterministic_english():
    train, val = pydoc_corpus(0.1)
    assert len(train) > 300_000 and len(val) > 30_000
    assert pydoc_text() == train + val
    assert "return" in train and "the" in val


def test_bigram_baseline_is_below_uniform():
    train, val = pydoc_corpus(0.1)
    tok = CharTokenizer.from_text(train)
    loss = bigram_loss(tok.encode(train), tok.encode(val), tok.vocab_size)
    assert 1.5 < loss < np.log(tok.vocab_size)


@pytest.mark.parametrize("make,check", [
    (sort_task, lambda p, a: sorted(p) == list(a)),
    (reverse_task, lambda p, a: p[::-1] == a),
])
def test_decoder_tasks_are_correct_and_seeded(make, check):
    t = make(50, length=5, seed=3)
    assert np.array_equal(t.inputs, make(50, length=5, seed=3).inputs)
    assert not np.array_equal(t.inputs, make(50, length=5, seed=4).inputs)
    for x, y in zip(t.inputs, t.targets):
        text = t.tokenizer.decode(np.concatenate([x, y[-1:]]))
        prompt, answer = text.split("|")
        assert check(prompt, answer)
    assert (t.targets[:, : t.prompt_len - 1] == IGNORE_INDEX).all()
    assert (t.targets[:, t.prompt_len - 1:] != IGNORE_INDEX).all()


def test_addition_task_sums():
    t = addition_task(30, digits=2, seed=0)
    for x, y in zip(t.inputs, t.targets):
        prompt, answer = t.tokenizer.decode(np.concatenate([x, y[-1:]])).split("|")
        a, b = prompt.split("+")
        assert int(answer[::-1]) == int(a) + int(b)


def test_parens_task_labels_are_right_and_balanced_in_count():
    t = parens_task(400, max_len=12, seed=1)
    assert t.inputs.shape == (400, 13) and (t.inputs[:, 0] == t.tokenizer.cls_id).all()
    assert abs(t.targets.mean() - 0.5) < 0.01
    for x, label in zip(t.inputs, t.targets):
        s = t.tokenizer.decode(x)
        depth, ok = 0, True
        for c in s:
            depth += 1 if c == "(" else -1
            ok &= depth >= 0
        assert label == int(ok and depth == 0)


def _rows(a):
    return set(map(bytes, a))


@pytest.mark.parametrize("make", [lambda: parens_task(3000, max_len=12, seed=0),
                                  lambda: sort_task(3000, length=5, num_digits=5, seed=0)])
def test_split_holds_out_sequences_never_trained_on(make):
    """A random draw repeats sequences (700 distinct parentheses strings in 3000 draws); the
    default split keeps every held-out sequence out of training, while disjoint=False (the last
    n samples) would put most validation strings in training too."""
    task = make()
    train, val = task.split(500)
    assert len(val.inputs) <= 500 and len(val.inputs) >= 450 and len(train.inputs) + len(val.inputs) == 3000
    assert not _rows(train.inputs) & _rows(val.inputs)
    naive_train, naive_val = task.split(500, disjoint=False)
    assert len(naive_val.inputs) == 500 and np.array_equal(naive_val.inputs, task.inputs[-500:])
    if task.name == "parens":
        assert np.mean([bytes(r) in _rows(naive_train.inputs) for r in naive_val.inputs]) > 0.8
        assert val.targets.mean() == pytest.approx(task.targets.mean(), abs=0.01)  # the class quota
    # every sample kept with its own target, in the original order
    rows = {bytes(r): i for i, r in enumerate(task.inputs)}
    for part in (train, val):
        idx = [rows[bytes(r)] for r in part.inputs]
        assert all(np.array_equal(task.targets[i], t) for i, t in zip(idx, part.targets))


def test_split3_parts_are_pairwise_disjoint_and_errors_are_clear():
    task = sort_task(2000, length=4, num_digits=6, seed=1)
    a, b, c = task.split3(200, 300)
    assert len(a.inputs) + len(b.inputs) + len(c.inputs) == 2000
    for x, y in ((a, b), (a, c), (b, c)):
        assert not _rows(x.inputs) & _rows(y.inputs)
    with pytest.raises(ValueError, match="n_val must be an int in"):
        task.split(0)
    with pytest.raises(ValueError, match="n_val must be an int in"):
        task.split(2000)
    tiny = sort_task(200, length=1, num_digits=2, seed=0)  # two prompts, ~100 copies each
    with pytest.raises(ValueError, match="no disjoint validation part fits"):
        tiny.split(10)
