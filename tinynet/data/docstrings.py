"""An offline low-label text classification task built from CPython's own docstrings.

BERT-style "pretrain, then fine-tune" pays off when labelled examples are few and
unlabelled text is plentiful. This module builds such a setting from text already on
every machine and not written for this project:

* :func:`stdlib_docstrings` reads the standard library's *source files* with :mod:`ast`
  (no module is imported, so nothing runs and no optional C extension is needed) and
  returns one :class:`DocstringRecord` per module, class, function and method docstring.
* :func:`docstring_task` is the downstream task: given a docstring, which top-level
  standard-library package does it come from (``asyncio``, ``email``, ...)? Few labelled
  examples per class (50 by default), balanced, stratified, seeded splits.
* :func:`pretraining_documents` is the unlabelled side: CPython's ``help()`` topics plus
  every standard-library docstring, minus the task's held-out (validation and test)
  texts, so evaluation texts are never seen, not even without their labels.
* :func:`bag_of_words_baseline` is the score to beat: logistic regression on word
  counts (scikit-learn), with its regularisation chosen on the validation split.

Texts are compared by a normalized key (lower-cased, whitespace collapsed, see
:func:`normalize_text`): duplicates are removed before splitting, so no text appears in
two splits, or twice in one.
"""
from __future__ import annotations

import ast
import functools
import os
import sysconfig
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as _np

__all__ = ["DocstringRecord", "DocstringTask", "BaselineResult", "DEFAULT_CLASSES", "normalize_text",
           "stdlib_docstrings", "docstring_task", "pretraining_documents", "bag_of_words_baseline"]

# Directories never read: test suites, the IDLE application, third-party packages,
# bytecode caches and the retired lib2to3 (with its grammar test data).
SKIP_DIRS = frozenset({"test", "tests", "idlelib", "site-packages", "__pycache__", "lib2to3"})

# Eight packages whose source ships with CPython 3.10-3.13 on every platform (pure Python,
# no optional extension: tkinter and turtle are left out because some Linux distributions
# package them separately) and that each have at least 120 distinct docstrings of 40 or more
# characters in every one of those versions (fewest: http, with 121 in 3.10 and 3.11).
DEFAULT_CLASSES = ("asyncio", "email", "http", "importlib", "logging", "multiprocessing", "unittest", "xml")


class DocstringRecord(NamedTuple):
    """One docstring of the standard library.

    ``module`` is the top-level package or module (``"asyncio"``), ``qualname`` the dotted
    path of what it documents (``"asyncio.events.AbstractEventLoop.run_forever"``; a
    function defined inside a function gets ``<locals>`` as Python's ``__qualname__`` does),
    ``text`` the docstring as :func:`ast.get_docstring` cleans it (indentation removed).
    """

    module: str
    qualname: str
    text: str


def normalize_text(text: str) -> str:
    """The key texts are compared by: lower-cased, runs of whitespace collapsed to one space."""
    return " ".join(text.lower().split())


# --- reading the standard library ---------------------------------------------------------
def _stdlib_root() -> str:
    return sysconfig.get_paths()["stdlib"]


def _source_files(root: str) -> list[str]:
    """Every ``.py`` file under ``root`` outside :data:`SKIP_DIRS`, in sorted path order."""
    paths = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        paths.extend(os.path.join(dirpath, f) for f in filenames if f.endswith(".py"))
    return sorted(paths, key=lambda p: os.path.relpath(p, root).split(os.sep))


def _dotted_name(path: str, root: str) -> str:
    """``asyncio/events.py`` -> ``asyncio.events``; ``email/__init__.py`` -> ``email``."""
    parts = os.path.relpath(path, root)[: -len(".py")].split(os.sep)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


_DEFS = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _file_docstrings(tree: ast.Module, module_name: str) -> list[tuple[str, str]]:
    """(qualname, docstring) of the module and every class/function in it, in source order."""
    out = []
    doc = ast.get_docstring(tree, clean=True)
    if doc:
        out.append((module_name, doc))

    def visit(node, prefix: str):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, _DEFS):
                name = f"{prefix}.{child.name}"
                doc = ast.get_docstring(child, clean=True)
                if doc:
                    out.append((name, doc))
                # names inside a function body are locals, as in Python's __qualname__
                visit(child, name + ".<locals>" if not isinstance(child, ast.ClassDef) else name)
            elif not isinstance(child, ast.expr):  # expressions hold no def: skipping them is 3x faster
                visit(child, prefix)  # defs under if/try/with blocks belong to the enclosing scope

    visit(tree, module_name)
    return out


@functools.lru_cache(maxsize=None)
def _all_docstrings(root: str) -> tuple[DocstringRecord, ...]:
    """Every non-empty docstring under ``root`` (parsed once per process: about 600 files)."""
    records = []
    for path in _source_files(root):
        try:
            with open(path, "rb") as f:  # bytes: ast honours the file's coding declaration
                tree = ast.parse(f.read(), filename=path)
        except (SyntaxError, ValueError):  # not valid for this interpreter: skipped
            continue
        name = _dotted_name(path, root)
        top = name.split(".")[0]
        records.extend(DocstringRecord(top, q, d.strip()) for q, d in _file_docstrings(tree, name))
    return tuple(records)


def stdlib_docstrings(min_chars: int = 80) -> list[DocstringRecord]:
    """Docstrings of the standard library's source files with at least ``min_chars`` characters.

    Reads ``sysconfig.get_paths()["stdlib"]`` with :mod:`ast` (never importing a module),
    skipping the directories in :data:`SKIP_DIRS`. Order is deterministic: files in
    sorted path order, and within a file the module docstring, then classes, functions
    and methods in source order. Parsing happens once per process (a few seconds); later
    calls filter the cached result. Duplicates are kept here; :func:`docstring_task` and
    :func:`pretraining_documents` remove them.
    """
    if isinstance(min_chars, bool) or not isinstance(min_chars, int):
        raise TypeError(f"stdlib_docstrings: min_chars must be an int, got {type(min_chars).__name__}")
    if min_chars < 1:
        raise ValueError(f"stdlib_docstrings: min_chars must be >= 1, got {min_chars}")
    return [r for r in _all_docstrings(_stdlib_root()) if len(r.text) >= min_chars]


# --- the classification task -----------------------------------------------------------------
@dataclass
class DocstringTask:
    """Train/validation/test splits of ``(text, label)`` pairs; ``classes[label]`` is the package.

    ``sources[split]`` lists the qualified name each example was taken from, in the same
    order as the split (for inspection; models see only the text).
    """

    train: list
    val: list
    test: list
    classes: tuple
    sources: dict = field(default_factory=dict, repr=False)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def texts(self, split: str) -> list:
        """The texts of ``"train"``, ``"val"`` or ``"test"``."""
        if split not in ("train", "val", "test"):
            raise ValueError(f"DocstringTask.texts: split must be 'train', 'val' or 'test', got {split!r}")
        return [t for t, _ in getattr(self, split)]

    def labels(self, split: str) -> list:
        """The integer labels of ``"train"``, ``"val"`` or ``"test"``."""
        if split not in ("train", "val", "test"):
            raise ValueError(f"DocstringTask.labels: split must be 'train', 'val' or 'test', got {split!r}")
        return [y for _, y in getattr(self, split)]

    def heldout_texts(self) -> list:
        """Validation and test texts: what :func:`pretraining_documents` must exclude."""
        return self.texts("val") + self.texts("test")


def _check_count(name: str, value, allow_none: bool = False):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, _np.integer)):
        raise TypeError(f"docstring_task: {name} must be an int, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"docstring_task: {name} must be >= 1, got {value}")


def _class_texts(classes: tuple, min_chars: int) -> dict:
    """Per class, its distinct texts (first occurrence kept) not shared with another class."""
    per_class = {c: {} for c in classes}  # class -> {normalized key: (text, qualname)}
    owners: dict = {}
    for r in stdlib_docstrings(min_chars):
        if r.module in per_class:
            key = normalize_text(r.text)
            per_class[r.module].setdefault(key, (r.text, r.qualname))
            owners.setdefault(key, set()).add(r.module)
    return {c: [v for k, v in items.items() if len(owners[k]) == 1] for c, items in per_class.items()}


def docstring_task(classes=DEFAULT_CLASSES, train_per_class: int = 50, val_per_class: int | None = None,
                   test_per_class: int | None = None, seed: int = 0, min_chars: int = 40) -> DocstringTask:
    """Which standard-library package does a docstring come from? A balanced, low-label task.

    Texts are docstrings of at least ``min_chars`` characters from the top-level packages
    ``classes`` (label ``i`` is ``classes[i]``). Before splitting, each class keeps one copy
    of each normalized text (:func:`normalize_text`) and texts found in two classes are
    dropped, so the splits are disjoint and free of repeats. Each class's texts are then
    shuffled with ``numpy.random.default_rng(seed)`` and cut into test, validation and
    train, in that order, so for a fixed ``seed`` and ``test_per_class`` the test set does
    not depend on ``train_per_class``.

    ``val_per_class`` and ``test_per_class`` default to an even share of what the smallest
    class has left after ``train_per_class``: every class gets the same numbers, so all
    three splits are balanced. With :data:`DEFAULT_CLASSES` each class has at least 120
    texts in CPython 3.10-3.13, so ``train_per_class`` up to 100 works everywhere.
    Each split is shuffled (seeded) so labels are interleaved.
    """
    if isinstance(classes, str) or not all(isinstance(c, str) for c in classes):
        raise TypeError(f"docstring_task: classes must be a sequence of package names (str), got {classes!r}")
    classes = tuple(classes)
    if len(classes) < 2 or len(set(classes)) != len(classes):
        raise ValueError(f"docstring_task: classes must name at least 2 distinct packages, got {classes!r}")
    _check_count("train_per_class", train_per_class)
    _check_count("val_per_class", val_per_class, allow_none=True)
    _check_count("test_per_class", test_per_class, allow_none=True)
    if isinstance(seed, bool) or not isinstance(seed, (int, _np.integer)):
        raise TypeError(f"docstring_task: seed must be an int, got {type(seed).__name__}")

    available = _class_texts(classes, min_chars)
    unknown = [c for c in classes if not available[c]]
    if unknown:
        raise ValueError(
            f"docstring_task: classes: no docstrings of >= {min_chars} characters for {unknown!r} in "
            f"{_stdlib_root()}; use top-level standard-library packages such as {list(DEFAULT_CLASSES)}"
        )
    counts = {c: len(v) for c, v in available.items()}
    smallest = min(counts, key=counts.get)
    left = counts[smallest] - train_per_class
    if val_per_class is None and test_per_class is None:
        n_val = n_test = left // 2
    else:  # one given: the other takes the rest
        n_val = val_per_class if val_per_class is not None else left - test_per_class
        n_test = test_per_class if test_per_class is not None else left - val_per_class
    if left < 2 or n_val + n_test > left or n_val < 1 or n_test < 1:
        raise ValueError(
            f"docstring_task: train_per_class={train_per_class}, val_per_class={val_per_class}, "
            f"test_per_class={test_per_class} need more texts per class than the smallest class "
            f"({smallest!r}: {counts[smallest]}) has; counts: {counts}. Ask for fewer per class"
        )

    rng = _np.random.default_rng(int(seed))
    splits = {"train": [], "val": [], "test": []}
    for label, c in enumerate(classes):
        items = available[c]
        order = rng.permutation(len(items))
        cuts = {"test": order[:n_test], "val": order[n_test:n_test + n_val],
                "train": order[n_test + n_val:n_test + n_val + train_per_class]}
        for split, idx in cuts.items():
            splits[split].extend((items[i][0], label, items[i][1]) for i in idx)
    out, sources = {}, {}
    for split, rows in splits.items():
        rows = [rows[i] for i in rng.permutation(len(rows))]
        out[split] = [(text, label) for text, label, _ in rows]
        sources[split] = [q for _, _, q in rows]
    return DocstringTask(out["train"], out["val"], out["test"], classes, sources)


# --- unlabelled text for pretraining ---------------------------------------------------------
def pretraining_documents(exclude=None) -> list[str]:
    """Unlabelled documents for masked-language-model pretraining.

    CPython's ``help()`` topics (``pydoc_data.topics``, one document per topic, sorted by
    key, as :func:`tinynet.data.text.pydoc_text` joins them), then every standard-library
    docstring (:func:`stdlib_docstrings` with ``min_chars=1``), each normalized text once.
    Texts whose normalized key matches one in ``exclude`` are left out: pass the task's
    :meth:`DocstringTask.heldout_texts` so validation and test texts are never seen, not
    even unlabelled. The task's training texts stay in: pretraining on them without their
    labels is what a BERT-style recipe does with its fine-tuning data.
    """
    from pydoc_data.topics import topics  # a large module, read only when asked for

    if exclude is None:
        exclude = ()
    if isinstance(exclude, str):
        raise TypeError("pretraining_documents: exclude must be a collection of texts, got one str")
    excluded = set()
    for t in exclude:
        if not isinstance(t, str):
            raise TypeError(f"pretraining_documents: exclude must hold texts (str), got a {type(t).__name__}")
        excluded.add(normalize_text(t))
    docs, seen = [], set(excluded)
    candidates = [topics[k].strip() for k in sorted(topics)] + [r.text for r in stdlib_docstrings(1)]
    for text in candidates:
        key = normalize_text(text)
        if key and key not in seen:
            seen.add(key)
            docs.append(text)
    return docs


# --- the baseline to beat -----------------------------------------------------------------------
@dataclass(frozen=True)
class BaselineResult:
    """Accuracies of :func:`bag_of_words_baseline` and the ``C`` chosen on validation."""

    test_accuracy: float
    val_accuracy: float
    C: float


def bag_of_words_baseline(task: DocstringTask, Cs=(0.01, 0.1, 1.0, 10.0, 100.0), tfidf: bool = True,
                          max_iter: int = 2000) -> BaselineResult:
    """Logistic regression on bag-of-words features, ``C`` picked by validation accuracy.

    Words are scikit-learn's default tokens (runs of 2+ word characters, lower-cased),
    counted over the training texts only; with ``tfidf`` the counts are TF-IDF weighted
    (sub-linear term frequency), otherwise raw counts. For each ``C`` in ``Cs`` (inverse
    L2 strength) a multinomial model is fitted on train; the best validation accuracy
    wins (the smallest ``C`` on ties) and its test accuracy is reported. The solver
    (lbfgs) has no randomness, so results are deterministic.
    """
    # scikit-learn takes about a second to import: read only when the baseline runs
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    if not isinstance(task, DocstringTask):
        raise TypeError(f"bag_of_words_baseline: task must be a DocstringTask, got {type(task).__name__}")
    Cs = tuple(float(c) for c in Cs)
    if not Cs or any(not c > 0 for c in Cs):
        raise ValueError(f"bag_of_words_baseline: Cs must be positive numbers, got {Cs}")
    vec = TfidfVectorizer(sublinear_tf=True) if tfidf else CountVectorizer()
    x_train = vec.fit_transform(task.texts("train"))
    x_val, x_test = vec.transform(task.texts("val")), vec.transform(task.texts("test"))
    y_train, y_val, y_test = (_np.asarray(task.labels(s)) for s in ("train", "val", "test"))
    best = None
    # One BLAS thread: the problem is small, and on a busy machine BLAS worker threads
    # competing for cores made these fits a hundred times slower.
    with threadpool_limits(limits=1, user_api="blas"):
        for c in Cs:
            model = LogisticRegression(C=c, max_iter=max_iter).fit(x_train, y_train)
            val_acc = float((model.predict(x_val) == y_val).mean())
            if best is None or val_acc > best[0]:
                best = (val_acc, c, model)
    val_acc, c, model = best
    return BaselineResult(float((model.predict(x_test) == y_test).mean()), val_acc, c)
