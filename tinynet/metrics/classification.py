"""Classification metrics on predicted labels: accuracy, precision, recall, F1, confusion matrix.

Arguments follow scikit-learn's order, ``metric(y_true, y_pred)``, and accept Tensors (any
device), NumPy arrays or lists of integer class labels. They take *labels*, not scores:
turn a model's ``(N, C)`` logits into labels first with :func:`predictions` (the arg-max over
the class axis). Passing 2-D scores where labels are expected is an error, not a silent guess.

With ``TP_c``, ``FP_c``, ``FN_c`` counted per class c:

* precision_c = TP_c / (TP_c + FP_c), recall_c = TP_c / (TP_c + FN_c),
  F1_c = 2 P_c R_c / (P_c + R_c);
* ``average="binary"``: the class ``pos_label`` only (labels must be two classes);
* ``average="macro"``: the unweighted mean over classes;
* ``average="micro"``: from the summed counts (for single-label multi-class data this
  equals accuracy);
* ``average="weighted"``: mean weighted by each class's support; ``average=None``: the
  per-class array.

A 0/0 (a class never predicted, or absent) counts as ``zero_division`` (0.0, as in
scikit-learn). The classes considered are ``range(num_classes)`` when given, otherwise the
labels that occur in ``y_true`` or ``y_pred``.
"""
from __future__ import annotations

import numpy as _np

from ..tensor.tensor import Tensor

_AVERAGES = ("binary", "macro", "micro", "weighted", None)


def _host(x, who, name):
    if isinstance(x, Tensor):
        x = x.device.to_host(x.array)
    arr = _np.asarray(x)
    if arr.dtype == object:
        raise TypeError(f"{who}: {name} must be integer class labels, got {type(x).__name__} of objects")
    return arr


def _labels(x, who, name):
    arr = _host(x, who, name)
    if arr.ndim == 2 and arr.shape[1] > 1:
        raise ValueError(
            f"{who}: {name} has shape {tuple(arr.shape)}, which looks like per-class scores; pass predicted "
            "labels of shape (N,) instead, e.g. tn.metrics.predictions(logits)"
        )
    arr = arr.reshape(-1)
    if arr.dtype.kind == "b":
        arr = arr.astype(_np.int64)
    if arr.dtype.kind == "f":
        if arr.size and not _np.all(arr == _np.round(arr)):
            raise ValueError(f"{who}: {name} must hold integer class labels, got non-integer values")
        arr = arr.astype(_np.int64)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{who}: {name} must be integer class labels, got dtype {arr.dtype}")
    return arr.astype(_np.int64, copy=False)


def _pair(y_true, y_pred, who):
    t = _labels(y_true, who, "y_true")
    p = _labels(y_pred, who, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"{who}: y_true has {t.size} labels but y_pred has {p.size}; they must match")
    if t.size and (t.min() < 0 or p.min() < 0):
        raise ValueError(f"{who}: class labels must be non-negative integers, got {int(min(t.min(), p.min()))}")
    return t, p


def predictions(scores, axis=1):
    """Predicted class labels from scores/logits/probabilities: ``argmax`` over ``axis``.

    A 1-D input of probabilities for a binary problem (one sigmoid output) is thresholded
    at 0.5 instead; shape ``(N, 1)`` is treated the same way.
    """
    arr = _host(scores, "predictions", "scores")
    if arr.ndim == 1 or (arr.ndim == 2 and arr.shape[1] == 1):
        return (arr.reshape(-1) > 0.5).astype(_np.int64)
    return _np.argmax(arr, axis=axis).astype(_np.int64)


def accuracy(y_true, y_pred) -> float:
    """Fraction of labels predicted exactly."""
    t, p = _pair(y_true, y_pred, "accuracy")
    if t.size == 0:
        raise ValueError("accuracy: got no labels")
    return float(_np.mean(t == p))


def confusion_matrix(y_true, y_pred, num_classes=None):
    """``C[i, j]`` = number of samples of true class i predicted as class j (int64 array).

    The matrix is ``num_classes`` square, by default ``max(label) + 1``.
    """
    t, p = _pair(y_true, y_pred, "confusion_matrix")
    k = _num_classes(t, p, num_classes, "confusion_matrix")
    return _np.bincount(t * k + p, minlength=k * k).reshape(k, k).astype(_np.int64)


def _num_classes(t, p, num_classes, who):
    top = int(max(t.max(initial=-1), p.max(initial=-1))) + 1
    if num_classes is None:
        return max(top, 1)
    if num_classes < top:
        raise ValueError(f"{who}: label {top - 1} is out of range for num_classes={num_classes}")
    return int(num_classes)


def _counts(y_true, y_pred, num_classes, who):
    t, p = _pair(y_true, y_pred, who)
    k = _num_classes(t, p, num_classes, who)
    cm = _np.bincount(t * k + p, minlength=k * k).reshape(k, k)
    tp = _np.diag(cm).astype(_np.float64)
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    present = _np.arange(k) if num_classes is not None else _np.union1d(t, p)
    return tp, fp, fn, present


def _ratio(num, den, zero_division):
    num = _np.asarray(num, dtype=_np.float64)
    den = _np.asarray(den, dtype=_np.float64)
    out = _np.full(num.shape, float(zero_division))
    _np.divide(num, den, out=out, where=den > 0)
    return out


def _score(kind, y_true, y_pred, average, pos_label, num_classes, zero_division):
    who = f"{kind}_score" if kind == "f1" else kind
    if average not in _AVERAGES:
        raise ValueError(f"{who}: average must be one of 'binary', 'macro', 'micro', 'weighted' or None, got {average!r}")
    tp, fp, fn, present = _counts(y_true, y_pred, num_classes, who)

    def per_class(tp, fp, fn):
        prec = _ratio(tp, tp + fp, zero_division)
        rec = _ratio(tp, tp + fn, zero_division)
        if kind == "precision":
            return prec
        if kind == "recall":
            return rec
        return _ratio(2 * tp, 2 * tp + fp + fn, zero_division)

    if average == "binary":
        if present.size > 2:
            raise ValueError(
                f"{who}: average='binary' needs two classes, but the labels hold {present.size} "
                f"({present.tolist()}); use average='macro', 'micro' or 'weighted'"
            )
        if pos_label >= tp.size:
            return float(zero_division)
        return float(per_class(tp[pos_label], fp[pos_label], fn[pos_label]))
    if average == "micro":
        return float(per_class(tp[present].sum(), fp[present].sum(), fn[present].sum()))
    scores = per_class(tp[present], fp[present], fn[present])
    if average is None:
        return scores
    if average == "macro":
        return float(scores.mean())
    support = (tp + fn)[present]
    return float((scores * support).sum() / support.sum()) if support.sum() > 0 else float(zero_division)


def precision(y_true, y_pred, average="binary", pos_label=1, num_classes=None, zero_division=0.0):
    """Of the samples predicted as a class, the fraction that truly are (see module docstring)."""
    return _score("precision", y_true, y_pred, average, pos_label, num_classes, zero_division)


def recall(y_true, y_pred, average="binary", pos_label=1, num_classes=None, zero_division=0.0):
    """Of the samples of a class, the fraction predicted as it (see module docstring)."""
    return _score("recall", y_true, y_pred, average, pos_label, num_classes, zero_division)


def f1_score(y_true, y_pred, average="binary", pos_label=1, num_classes=None, zero_division=0.0):
    """Harmonic mean of precision and recall, ``2TP / (2TP + FP + FN)`` (see module docstring)."""
    return _score("f1", y_true, y_pred, average, pos_label, num_classes, zero_division)


def classification_report(y_true, y_pred, num_classes=None) -> dict:
    """Accuracy, macro precision/recall/F1 and the confusion matrix (as lists), in one dict."""
    return {
        "accuracy": accuracy(y_true, y_pred),
        "precision_macro": precision(y_true, y_pred, average="macro", num_classes=num_classes),
        "recall_macro": recall(y_true, y_pred, average="macro", num_classes=num_classes),
        "f1_macro": f1_score(y_true, y_pred, average="macro", num_classes=num_classes),
        "confusion_matrix": confusion_matrix(y_true, y_pred, num_classes=num_classes).tolist(),
    }
