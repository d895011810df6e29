"""``tn.metrics``: accuracy, precision, recall, F1 and the confusion matrix.

    y_pred = tn.metrics.predictions(logits)          # argmax over classes
    tn.metrics.accuracy(y_true, y_pred)
    tn.metrics.f1_score(y_true, y_pred, average="macro")
"""
from .classification import (accuracy, classification_report, confusion_matrix, f1_score, precision,
                             predictions, recall)

__all__ = ["accuracy", "precision", "recall", "f1_score", "confusion_matrix", "predictions",
           "classification_report"]
