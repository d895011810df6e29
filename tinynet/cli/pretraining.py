"""BERT pre-training on unlabelled text: the pieces :class:`~tinynet.cli.trainer.Trainer` runs.

    model = BERTForPreTraining(tok.vocab_size, max_len=128, type_vocab_size=2)
    step = MaskedLMStep(tok)                                  # forward: masks each batch afresh
    trainer = Trainer(model, optimizer, pretraining_loss, train_loader, val_loader,
                      forward=step, task="regression", metrics=PretrainingMetrics(),
                      scheduler=warmup_linear_decay(optimizer, warmup, total), scheduler_interval="step")

A batch holds ``(input_ids, token_type_ids, sentence_labels)``: sentence pairs
``[CLS] A [SEP] B [SEP]`` from :func:`tinynet.data.pretraining.build_pretraining_examples`.
:class:`MaskedLMStep` masks 15 % of the tokens of every training batch anew (dynamic
masking, as RoBERTa does, drawn from tinynet's global generator, so a resumed run draws the
same masks as an uninterrupted one); a batch with a fourth entry, the MLM labels, is
already masked (validation and test data are masked once, so their metrics compare across
epochs). The vocabulary logits are computed only at the masked positions.

The loss is BERT's: the mean cross-entropy over the masked tokens plus the cross-entropy
of the sentence-pair objective. :class:`PretrainingMetrics` reports the masked-token
accuracy, the MLM loss, its perplexity ``exp(mlm_loss)`` and the sentence-pair accuracy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as _np

from .. import functional as F
from ..data.docstrings import docstring_task, pretraining_documents
from ..data.pretraining import mask_tokens
from ..autograd import no_grad
from ..data.text import IGNORE_INDEX
from ..optim import lr_scheduler as _sched
from ..tensor import random as _random
from ..tensor.tensor import Tensor


@dataclass
class PretrainingOutputs:
    """What :class:`MaskedLMStep` gives the loss: vocabulary logits of the masked tokens
    (M, V), sentence-pair logits (N, 2) and the sentence-pair labels (N,)."""

    mlm_logits: Tensor
    sentence_logits: Tensor
    sentence_labels: Tensor


class MaskedLMStep:
    """``forward(model, batch) -> (PretrainingOutputs, mlm_targets)`` for the Trainer.

    ``mlm_targets`` holds the original ids of the masked tokens only (M,), so the
    Trainer's per-batch count is the number of predicted tokens.
    """

    def __init__(self, tokenizer, mlm_probability: float = 0.15):
        if not 0.0 < mlm_probability < 1.0:
            raise ValueError(f"MaskedLMStep: mlm_probability must be in (0, 1), got {mlm_probability}")
        self.tokenizer, self.mlm_probability = tokenizer, mlm_probability

    def mask(self, ids: _np.ndarray, generator=None):
        """``(masked_ids, labels)`` of an (N, T) id array (see :func:`mask_tokens`)."""
        return mask_tokens(ids, self.tokenizer, mlm_probability=self.mlm_probability,
                           generator=_random.generator() if generator is None else generator)

    def __call__(self, model, batch):
        if len(batch) == 4:  # masked once, with its labels (validation, test)
            ids, types, sentence, labels = batch
            labels = labels.numpy()
        else:
            ids, types, sentence = batch
            masked, labels = self.mask(ids.numpy())
            ids = Tensor(masked, device=ids.device)
        hidden = model.encode(ids, types)
        where = _np.flatnonzero(labels.reshape(-1) != IGNORE_INDEX)
        rows = hidden.reshape(-1, hidden.shape[-1])[Tensor(where, device=hidden.device)]
        targets = Tensor(labels.reshape(-1)[where], device=hidden.device)
        return PretrainingOutputs(model.mlm_logits(rows), model.sentence_logits(hidden), sentence), targets


def pretraining_loss(outputs: PretrainingOutputs, targets):
    """BERT's pre-training loss: mean masked-token cross-entropy + sentence-pair cross-entropy."""
    return F.cross_entropy(outputs.mlm_logits, targets) + F.cross_entropy(outputs.sentence_logits,
                                                                          outputs.sentence_labels)


class PretrainingMetrics:
    """Masked-token accuracy, MLM loss and perplexity, sentence-pair accuracy (torchmetrics'
    ``reset``/``update``/``compute`` protocol, summed over batches)."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.nll = 0.0
        self.tokens = self.correct = self.pairs = self.pairs_correct = 0

    def update(self, outputs: PretrainingOutputs, targets):
        with no_grad():
            logits = outputs.mlm_logits.detach()
            y = targets.reshape(-1)
            if y.shape[0]:
                self.nll += float(F.cross_entropy(logits.double(), y, reduction="sum").item())
                self.correct += int((logits.argmax(axis=1) == y).sum().item())
                self.tokens += int(y.shape[0])
            s = outputs.sentence_labels.reshape(-1)
            self.pairs_correct += int((outputs.sentence_logits.detach().argmax(axis=1) == s).sum().item())
            self.pairs += int(s.shape[0])

    def compute(self) -> dict:
        mlm_loss = self.nll / self.tokens if self.tokens else float("nan")
        return {
            "mlm_accuracy": self.correct / self.tokens if self.tokens else float("nan"),
            "mlm_loss": mlm_loss,
            "perplexity": math.exp(min(mlm_loss, 700.0)) if self.tokens else float("nan"),
            "sentence_accuracy": self.pairs_correct / self.pairs if self.pairs else float("nan"),
        }


def warmup_linear_decay(optimizer, warmup_steps: int, total_steps: int):
    """BERT's schedule, stepped once per optimizer step: the rate rises linearly over
    ``warmup_steps`` (from ``lr / warmup_steps``) to ``lr``, then falls linearly to 0 at
    ``total_steps``. Built from ``LinearLR`` + ``SequentialLR``, so it checkpoints as data."""
    if total_steps < 1 or not 0 <= warmup_steps < total_steps:
        raise ValueError(f"warmup_linear_decay: need 0 <= warmup_steps < total_steps, got warmup_steps={warmup_steps}, "
                         f"total_steps={total_steps}")
    decay = _sched.LinearLR(optimizer, start_factor=1.0, end_factor=0.0, total_iters=total_steps - warmup_steps)
    if warmup_steps == 0:
        return decay
    warm = _sched.LinearLR(optimizer, start_factor=1.0 / warmup_steps, end_factor=1.0, total_iters=warmup_steps)
    return _sched.SequentialLR(optimizer, [warm, decay], milestones=[warmup_steps])


def no_decay_groups(model, weight_decay: float):
    """Parameter groups as BERT trains them: weight decay on matrices, none on biases,
    LayerNorm weights and other vectors."""
    decay, plain = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else plain).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]


def mask_dataset(dataset_arrays, step: MaskedLMStep, seed: int):
    """Validation/test data masked once: ``(ids, types, labels)`` -> ``(masked, types, labels, mlm_labels)``."""
    ids, types, sentence = dataset_arrays
    masked, mlm_labels = step.mask(ids, generator=_np.random.default_rng(seed))
    return masked, types, sentence, mlm_labels


def corpus(max_documents=None):
    """``(train_documents, validation_documents)`` of the pydoc pre-training corpus.

    Python's help topics and standard-library docstrings, without the validation and test
    texts of the ``docstrings`` task (:func:`tinynet.data.docstring_task`, its default
    split); the last 5 % of the documents are the validation part."""
    task = docstring_task()
    docs = pretraining_documents(exclude=task.heldout_texts())
    if max_documents is not None:
        docs = docs[:max_documents]
    n_val = max(1, len(docs) // 20)
    if len(docs) < 2 * n_val or len(docs) < 4:
        raise ValueError(f"max_documents={max_documents}: too few documents to hold some out for validation; use "
                         "at least 4")
    return docs[:-n_val], docs[-n_val:]
