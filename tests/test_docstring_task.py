"""The docstring classification task: records, splits, pretraining documents, BoW baseline."""
import ast

import pytest
from pydoc_data.topics import topics

import tinynet.data as tdata
from tinynet.data import docstrings
from tinynet.data.docstrings import (DEFAULT_CLASSES, DocstringRecord, DocstringTask, bag_of_words_baseline,
                                     docstring_task, normalize_text, pretraining_documents, stdlib_docstrings)

SPLITS = ("train", "val", "test")


@pytest.fixture(scope="module")
def records():
    return stdlib_docstrings(min_chars=1)  # parses the standard library once for the whole file


@pytest.fixture(scope="module")
def task(records):
    return docstring_task(seed=0)


def test_public_names_are_exported_from_tinynet_data():
    assert tdata.docstring_task is docstring_task and tdata.stdlib_docstrings is stdlib_docstrings
    assert tdata.pretraining_documents is pretraining_documents
    assert tdata.bag_of_words_baseline is bag_of_words_baseline and tdata.DEFAULT_CLASSES == DEFAULT_CLASSES


def test_records_come_from_stdlib_sources_with_qualified_names(records):
    assert len(records) > 3000 and all(isinstance(r, DocstringRecord) for r in records)
    for r in records:
        parts = r.qualname.split(".")
        assert parts[0] == r.module and r.text == r.text.strip() and r.text
        # skipped directories (unittest/test, idlelib, ...); a function may be named test (cgi.test)
        assert not set(parts[:-1]) & {"test", "tests", "idlelib", "lib2to3", "site-packages"}
    names = {r.qualname for r in records}
    # a module, a class, a method and a module docstring of a package __init__
    assert {"json", "json.decoder.JSONDecoder", "json.decoder.JSONDecoder.decode", "email"} <= names
    # min_chars filters the same cached records; the returned list is a copy
    long = stdlib_docstrings(80)
    assert long == [r for r in records if len(r.text) >= 80]
    long.clear()
    assert stdlib_docstrings(80) == [r for r in records if len(r.text) >= 80]


def test_docstrings_of_nested_definitions_get_python_qualnames():
    src = '''"""Module doc."""
class A:
    """Class doc."""
    def m(self):
        """Method doc."""
        def inner():
            """Inner doc."""
    async def am(self):
        """Async doc."""
if True:
    def f():
        """Guarded doc."""
def g():
    x = lambda: 0
'''
    got = docstrings._file_docstrings(ast.parse(src), "pkg.mod")
    assert got == [("pkg.mod", "Module doc."), ("pkg.mod.A", "Class doc."), ("pkg.mod.A.m", "Method doc."),
                   ("pkg.mod.A.m.<locals>.inner", "Inner doc."), ("pkg.mod.A.am", "Async doc."),
                   ("pkg.mod.f", "Guarded doc.")]


def test_splits_are_disjoint_balanced_and_labelled(task):
    assert isinstance(task, DocstringTask) and task.classes == DEFAULT_CLASSES and task.num_classes == 8
    keys = {}
    for split in SPLITS:
        rows = getattr(task, split)
        ks = [normalize_text(t) for t, _ in rows]
        assert len(ks) == len(set(ks)), f"repeated text within {split}"
        keys[split] = set(ks)
        assert all(isinstance(y, int) and 0 <= y < 8 for _, y in rows)
    assert not keys["train"] & keys["val"] and not keys["train"] & keys["test"] and not keys["val"] & keys["test"]
    for split, per_class in (("train", 50), ("val", len(task.val) // 8), ("test", len(task.test) // 8)):
        labels = task.labels(split)
        assert [labels.count(c) for c in range(8)] == [per_class] * 8
    assert len(task.val) == len(task.test) >= 8 * 10
    assert len(set(task.labels("train")[:16])) > 2  # shuffled, not grouped by class


def test_examples_come_from_the_stated_packages(task, records):
    texts_of = {}  # a qualified name can repeat (definitions under if/else for each platform)
    for r in records:
        texts_of.setdefault(r.qualname, set()).add(normalize_text(r.text))
    for split in SPLITS:
        rows, sources = getattr(task, split), task.sources[split]
        assert len(rows) == len(sources)
        for (text, label), qualname in zip(rows, sources):
            assert qualname.split(".")[0] == task.classes[label]
            assert len(text) >= 40 and normalize_text(text) in texts_of[qualname]


def test_seed_determinism_and_fixed_test_set_across_train_sizes(task):
    again = docstring_task(seed=0)
    assert (again.train, again.val, again.test) == (task.train, task.val, task.test)
    other = docstring_task(seed=1)
    assert set(other.texts("train")) != set(task.texts("train"))
    small = docstring_task(train_per_class=25, val_per_class=10, test_per_class=10, seed=0)
    big = docstring_task(train_per_class=100, val_per_class=10, test_per_class=10, seed=0)
    assert sorted(small.test) == sorted(big.test) and len(big.train) == 800 and len(small.train) == 200
    one_given = docstring_task(classes=("email", "xml"), train_per_class=50, test_per_class=5)
    assert len(one_given.test) == 10 and len(one_given.val) > len(one_given.test)


def test_duplicates_and_texts_shared_by_classes_are_dropped_before_splitting(monkeypatch):
    fake = [DocstringRecord("a", f"a.f{i}", f"Alpha text number {i} about apples and more.") for i in range(6)]
    fake += [DocstringRecord("b", f"b.f{i}", f"Beta text number {i} about bananas and more.") for i in range(6)]
    fake += [DocstringRecord("a", "a.dup", "ALPHA   text number 0 about apples\nand more."),  # same key as a.f0
             DocstringRecord("a", "a.shared", "Shared between both packages, dropped."),
             DocstringRecord("b", "b.shared", "shared between  BOTH packages, dropped.")]
    monkeypatch.setattr(docstrings, "stdlib_docstrings", lambda min_chars=80: list(fake))
    t = docstring_task(classes=("a", "b"), train_per_class=2, seed=0)
    assert len(t.train) == 4 and len(t.val) == 4 and len(t.test) == 4  # 6 distinct texts per class: 2 + 2 + 2
    everything = [normalize_text(x) for s in SPLITS for x in t.texts(s)]
    assert len(everything) == len(set(everything)) == 12
    assert not any("shared" in k for k in everything)
    assert "a.dup" not in sum(t.sources.values(), [])  # the first occurrence is the one kept
    with pytest.raises(ValueError, match="train_per_class"):
        docstring_task(classes=("a", "b"), train_per_class=5)


def test_pretraining_documents_exclude_heldout_texts(task):
    heldout = {normalize_text(t) for t in task.heldout_texts()}
    docs = pretraining_documents(exclude=task.heldout_texts())
    everything = pretraining_documents()
    keys = [normalize_text(d) for d in docs]
    assert len(keys) == len(set(keys))
    assert not set(keys) & heldout
    assert len(everything) - len(docs) == len(heldout)
    assert set(task.texts("train")) <= set(docs)  # unlabelled training texts stay in
    assert docs[0] == topics[sorted(topics)[0]].strip()  # help topics come first
    assert sum(len(d) for d in docs) > 1_000_000
    with pytest.raises(TypeError, match="exclude"):
        pretraining_documents(exclude="one text")
    with pytest.raises(TypeError, match="exclude"):
        pretraining_documents(exclude=task.val)  # (text, label) pairs, not texts


def test_bag_of_words_baseline_beats_chance_and_is_deterministic(task):
    first = bag_of_words_baseline(task)
    assert first.test_accuracy > 0.5 and first.val_accuracy > 0.5  # chance is 1/8
    assert bag_of_words_baseline(task) == first
    assert first.C in (0.01, 0.1, 1.0, 10.0, 100.0)
    with pytest.raises(TypeError, match="DocstringTask"):
        bag_of_words_baseline(task.train)
    with pytest.raises(ValueError, match="Cs"):
        bag_of_words_baseline(task, Cs=(0.0,))


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(classes=("asyncio", "no_such_package")), ValueError, "classes.*no_such_package"),
    (dict(classes="asyncio"), TypeError, "classes"),
    (dict(classes=("email", "email")), ValueError, "classes"),
    (dict(train_per_class=0), ValueError, "train_per_class must be >= 1"),
    (dict(train_per_class=-3), ValueError, "train_per_class must be >= 1"),
    (dict(train_per_class=2.5), TypeError, "train_per_class"),
    (dict(train_per_class=10_000), ValueError, "train_per_class=10000.*smallest class"),
    (dict(val_per_class=500), ValueError, "val_per_class=500"),
    (dict(test_per_class=0), ValueError, "test_per_class must be >= 1"),
    (dict(seed="0"), TypeError, "seed"),
])
def test_bad_arguments_raise_clear_errors(task, kwargs, err, match):
    with pytest.raises(err, match=match):
        docstring_task(**kwargs)


def test_stdlib_docstrings_checks_min_chars():
    with pytest.raises(ValueError, match="min_chars"):
        stdlib_docstrings(0)
    with pytest.raises(TypeError, match="min_chars"):
        stdlib_docstrings("80")
