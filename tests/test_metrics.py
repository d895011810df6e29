"""tn.metrics against scikit-learn."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinynet as tn
from tinynet import metrics as M

sk = pytest.importorskip("sklearn.metrics")


def _labels(draw_k, n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, draw_k, n), rng.integers(0, draw_k, n)


@settings(max_examples=10)  # each example makes ~13 scikit-learn calls
@given(k=st.integers(2, 6), n=st.integers(1, 60), seed=st.integers(0, 10_000))
def test_multiclass_matches_sklearn(k, n, seed):
    t, p = _labels(k, n, seed)
    assert M.accuracy(t, p) == pytest.approx(sk.accuracy_score(t, p))
    for avg in ("macro", "micro", "weighted"):
        kw = dict(average=avg, zero_division=0)
        assert M.precision(t, p, average=avg) == pytest.approx(sk.precision_score(t, p, **kw))
        assert M.recall(t, p, average=avg) == pytest.approx(sk.recall_score(t, p, **kw))
        assert M.f1_score(t, p, average=avg) == pytest.approx(sk.f1_score(t, p, **kw))
    np.testing.assert_allclose(M.f1_score(t, p, average=None), sk.f1_score(t, p, average=None, zero_division=0))
    np.testing.assert_array_equal(M.confusion_matrix(t, p, num_classes=k),
                                  sk.confusion_matrix(t, p, labels=list(range(k))))


@settings(max_examples=10)
@given(n=st.integers(1, 40), seed=st.integers(0, 10_000), pos=st.sampled_from([0, 1]))
def test_binary_matches_sklearn(n, seed, pos):
    t, p = _labels(2, n, seed)
    kw = dict(average="binary", pos_label=pos, zero_division=0)
    if pos not in np.union1d(t, p):
        return  # sklearn refuses a pos_label that never occurs
    assert M.precision(t, p, average="binary", pos_label=pos) == pytest.approx(sk.precision_score(t, p, **kw))
    assert M.recall(t, p, average="binary", pos_label=pos) == pytest.approx(sk.recall_score(t, p, **kw))
    assert M.f1_score(t, p, average="binary", pos_label=pos) == pytest.approx(sk.f1_score(t, p, **kw))


def test_known_values():
    t = [0, 0, 1, 1, 1]
    p = [0, 1, 1, 1, 0]
    assert M.accuracy(t, p) == 0.6
    assert M.precision(t, p) == pytest.approx(2 / 3)
    assert M.recall(t, p) == pytest.approx(2 / 3)
    np.testing.assert_array_equal(M.confusion_matrix(t, p), [[1, 1], [1, 2]])


def test_tensors_and_devices(device):
    t = tn.tensor([0, 1, 2, 2], device=device)
    logits = tn.tensor([[2.0, 0, 0], [0, 3.0, 0], [0, 0, 1.0], [5.0, 0, 0]], device=device)
    pred = M.predictions(logits)
    np.testing.assert_array_equal(pred, [0, 1, 2, 0])
    assert M.accuracy(t, pred) == 0.75
    assert M.f1_score(t, tn.tensor(pred, device=device), average="macro") == pytest.approx(
        sk.f1_score([0, 1, 2, 2], pred, average="macro"))


def test_predictions_binary_probabilities():
    np.testing.assert_array_equal(M.predictions(np.array([0.2, 0.7, 0.5])), [0, 1, 0])
    np.testing.assert_array_equal(M.predictions(np.array([[0.9], [0.1]])), [1, 0])


def test_bad_inputs():
    with pytest.raises(ValueError, match="predictions"):
        M.accuracy([0, 1], np.array([[0.1, 0.9], [0.8, 0.2]]))
    with pytest.raises(ValueError, match="must match"):
        M.accuracy([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="non-negative"):
        M.accuracy([0, -1], [0, 1])
    with pytest.raises(ValueError, match="integer class labels"):
        M.accuracy([0.5, 1], [0, 1])
    with pytest.raises(ValueError, match="two classes"):
        M.precision([0, 1, 2], [0, 1, 2])
    with pytest.raises(ValueError, match="average"):
        M.recall([0, 1], [0, 1], average="samples")
    with pytest.raises(ValueError, match="out of range"):
        M.confusion_matrix([0, 5], [0, 1], num_classes=3)
    with pytest.raises(ValueError, match="no labels"):
        M.accuracy([], [])
    with pytest.raises(TypeError):
        M.accuracy(["a", "b"], [0, 1])


def test_zero_division_and_num_classes():
    # class 2 never occurs: with num_classes=3 it counts (as 0) in the macro mean
    t, p = [0, 1, 1], [0, 1, 0]
    assert M.precision(t, p, average="macro") == pytest.approx(sk.precision_score(t, p, average="macro"))
    three = M.recall(t, p, average="macro", num_classes=3)
    assert three == pytest.approx(sk.recall_score(t, p, average="macro", labels=[0, 1, 2], zero_division=0))
    assert M.confusion_matrix(t, p, num_classes=3).shape == (3, 3)


def test_classification_report_and_reachable():
    rep = M.classification_report([0, 1, 1], [0, 1, 0])
    assert set(rep) == {"accuracy", "precision_macro", "recall_macro", "f1_macro", "confusion_matrix"}
    assert tn.metrics.accuracy is M.accuracy
