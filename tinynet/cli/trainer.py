"""Trainer: the training loop behind ``tinynet train`` (usable from Python and notebooks).

    trainer = Trainer(model, optimizer, loss_fn, train_loader, val_loader, out_dir="runs/x")
    history = trainer.fit(epochs=20)           # or fit(20, resume="runs/x/checkpoint.safetensors")
    test = trainer.evaluate(test_loader)       # loss, accuracy, precision/recall/F1, confusion matrix

Each epoch: one pass over ``train_loader`` (zero_grad, forward, loss, backward, step) with a
tqdm progress bar on stderr showing the running loss and accuracy, then validation
metrics, the scheduler step, and -- when ``out_dir`` is set -- a checkpoint written
atomically plus ``metrics.csv`` / ``metrics.json``; ``curves.png`` at the end.

**Checkpoint** (``checkpoint.safetensors``, see :mod:`tinynet.serialization`): model,
optimizer and scheduler state, the epoch, the history so far, the config and every random
state the next epoch will use (tinynet's global generator, which drives dropout, and the
train loader's generator, which drives shuffling and augmentation). Restoring all of it
makes a resumed run compute exactly the same losses as an uninterrupted one.

**Divergence**: if a batch's loss is NaN or infinite, training stops before that step
changes any weight, with :class:`NonFiniteLossError` naming the epoch and step; the
checkpoint on disk is still the last good one (the end of the previous epoch).
"""
from __future__ import annotations

import csv
import json
import math
import os
import sys
import time

import numpy as _np

from .. import metrics as _metrics
from ..autograd import no_grad
from ..serialization import load as _load, save as _save
from ..tensor import random as _random
from .recipes import default_forward, default_predict

CHECKPOINT = "checkpoint.safetensors"
CHECKPOINT_FORMAT = "tinynet-checkpoint/1"


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; ``epoch``, ``step`` and ``checkpoint`` say where and what is kept."""

    def __init__(self, message, epoch, step, value, checkpoint):
        super().__init__(message)
        self.epoch, self.step, self.value, self.checkpoint = epoch, step, value, checkpoint


def _is_plateau(scheduler) -> bool:
    return scheduler is not None and type(scheduler).__name__ == "ReduceLROnPlateau"


def _lr(optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


class Trainer:
    """Train ``model`` with ``optimizer`` on ``train_loader`` (see the module docstring).

    Args:
        model, optimizer, loss_fn: as in any PyTorch loop; ``loss_fn(outputs, targets)``.
        train_loader, val_loader: DataLoaders yielding ``(inputs, targets)`` batches.
        scheduler: an ``optim.lr_scheduler`` scheduler, stepped once per epoch
            (``ReduceLROnPlateau`` gets the validation loss).
        task: "classification" (accuracy and F1 are tracked) or "regression" (loss only).
        forward, predict: how a batch becomes ``(outputs, targets)`` and outputs become
            labels (defaults: ``model(x), y`` and arg-max over axis 1).
        out_dir: where the checkpoint and metrics go (None: keep nothing on disk).
        progress: show the tqdm bar (it also hides itself when stderr is not a terminal).
        config, extra: plain data saved in the checkpoint (how to rebuild this run).
        log: called with one summary line per epoch (default: print to stdout).
        clip_grad_norm: clip the gradient norm to this value before each step.
    """

    def __init__(self, model, optimizer, loss_fn, train_loader, val_loader=None, scheduler=None,
                 task="classification", forward=default_forward, predict=default_predict, out_dir=None,
                 progress=True, config=None, extra=None, log=print, clip_grad_norm=None, num_classes=None):
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.train_loader, self.val_loader, self.scheduler = train_loader, val_loader, scheduler
        self.task, self.forward, self.predict = task, forward, predict
        self.out_dir = os.fspath(out_dir) if out_dir is not None else None
        self.progress, self.config, self.extra = progress, dict(config or {}), dict(extra or {})
        self.log, self.clip_grad_norm, self.num_classes = log, clip_grad_norm, num_classes
        self.history: list[dict] = []
        self.epoch = 0  # epochs completed
        self.global_step = 0
        self.wall_time = 0.0

    # --- paths ------------------------------------------------------------------------
    def path(self, name):
        return os.path.join(self.out_dir, name) if self.out_dir else None

    @property
    def checkpoint_path(self):
        return self.path(CHECKPOINT)

    # --- one epoch ------------------------------------------------------------------------
    def _bar(self, loader, epoch, epochs):
        from tqdm import tqdm  # (text bar; tqdm.auto would want ipywidgets in notebooks)

        return tqdm(loader, total=len(loader), desc=f"epoch {epoch}/{epochs}", file=sys.stderr, leave=False,
                    unit="batch", dynamic_ncols=True, disable=None if self.progress else True)

    def train_epoch(self, epoch, epochs):
        self.model.train()
        total_loss, total_n, correct, seen = 0.0, 0, 0, 0
        bar = self._bar(self.train_loader, epoch, epochs)
        try:
            for i, batch in enumerate(bar, start=1):
                outputs, targets = self.forward(self.model, batch)
                loss = self.loss_fn(outputs, targets)
                value = float(loss.item())
                if not math.isfinite(value):
                    self._diverged(epoch, i, len(self.train_loader), value)
                self.optimizer.zero_grad()
                loss.backward()
                if self.clip_grad_norm:
                    from ..nn.utils import clip_grad_norm_

                    clip_grad_norm_(self.model.parameters(), self.clip_grad_norm)
                self.optimizer.step()
                self.global_step += 1
                n = len(targets)
                total_loss += value * n
                total_n += n
                postfix = {"loss": f"{total_loss / total_n:.4f}"}
                if self.task == "classification":
                    labels = _np.asarray(targets.numpy()).reshape(-1)
                    pred = _np.asarray(self.predict(outputs)).reshape(-1)
                    correct += int((pred == labels).sum())
                    seen += labels.size
                    postfix["acc"] = f"{correct / seen:.3f}"
                bar.set_postfix(postfix, refresh=False)
        finally:
            bar.close()
        out = {"train_loss": total_loss / max(total_n, 1)}
        if self.task == "classification":
            out["train_accuracy"] = correct / max(seen, 1)
        return out

    def _diverged(self, epoch, batch_index, batches, value):
        step = self.global_step + 1
        ck = self.checkpoint_path
        if ck and os.path.exists(ck):
            kept = f"The last good checkpoint, from the end of epoch {self.epoch}, is kept at {ck}."
        elif ck:
            kept = "No checkpoint was written (the first epoch did not finish)."
        else:
            kept = "(No out_dir: nothing was saved.)"
        message = (f"loss is {value} at epoch {epoch}, step {step} (batch {batch_index} of {batches}); training "
                   f"stopped before this step changed any weight. {kept} Try a smaller learning rate (--lr), "
                   "gradient clipping, or check the inputs for NaN/inf.")
        self._write_metrics()
        raise NonFiniteLossError(message, epoch, step, value, ck if ck and os.path.exists(ck) else None)

    # --- evaluation -------------------------------------------------------------------
    def evaluate(self, loader, prefix=""):
        """Loss and (for classification) accuracy, macro precision/recall/F1, confusion matrix."""
        was_training = self.model.training
        self.model.eval()
        total, n = 0.0, 0
        preds, labels = [], []
        try:
            with no_grad():
                for batch in loader:
                    outputs, targets = self.forward(self.model, batch)
                    loss = self.loss_fn(outputs, targets)
                    k = len(targets)
                    total += float(loss.item()) * k
                    n += k
                    if self.task == "classification":
                        preds.append(_np.asarray(self.predict(outputs)).reshape(-1))
                        labels.append(_np.asarray(targets.numpy()).reshape(-1))
        finally:
            self.model.train(was_training)
        out = {prefix + "loss": total / max(n, 1)}
        if self.task == "classification" and preds:
            y_pred, y_true = _np.concatenate(preds), _np.concatenate(labels)
            rep = _metrics.classification_report(y_true, y_pred, num_classes=self.num_classes)
            out.update({prefix + k: v for k, v in rep.items()})
        return out

    # --- checkpoints ------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "format": CHECKPOINT_FORMAT,
            "epoch": self.epoch,
            "global_step": self.global_step,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "rng": {"tinynet": _random.get_rng_state(), "train_loader": self.train_loader.state_dict()},
            "history": self.history,
            "wall_time_s": self.wall_time,
            "config": self.config,
            "extra": self.extra,
        }

    def save_checkpoint(self, path=None):
        _save(self.state_dict(), path or self.checkpoint_path)

    def load_checkpoint(self, path_or_state):
        """Restore a checkpoint (a path or a loaded dict); training continues after its epoch.

        The file is fully read and validated first, and the model's keys and shapes are
        checked by ``load_state_dict``, so a bad checkpoint raises before changing anything.
        """
        ck = _load(path_or_state) if isinstance(path_or_state, (str, os.PathLike)) else path_or_state
        if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{path_or_state}: not a tinynet training checkpoint (format {ck.get('format') if isinstance(ck, dict) else None!r})")
        self.model.load_state_dict(ck["model"])
        self.optimizer.load_state_dict(ck["optimizer"])
        if self.scheduler is not None and ck.get("scheduler") is not None:
            self.scheduler.load_state_dict(ck["scheduler"])
        _random.set_rng_state(ck["rng"]["tinynet"])
        self.train_loader.load_state_dict(ck["rng"]["train_loader"])
        self.epoch = int(ck["epoch"])
        self.global_step = int(ck.get("global_step", 0))
        self.history = list(ck.get("history", []))
        self.wall_time = float(ck.get("wall_time_s", 0.0))
        return ck

    # --- the loop ---------------------------------------------------------------------------
    def fit(self, epochs, resume=None):
        """Train until ``epochs`` epochs are done (counting those of a resumed checkpoint)."""
        if resume is not None:
            self.load_checkpoint(resume)
            if self.epoch >= epochs:
                self.log(f"checkpoint is already at epoch {self.epoch} of {epochs}; nothing to train")
        if self.out_dir:
            os.makedirs(self.out_dir, exist_ok=True)
        for epoch in range(self.epoch + 1, epochs + 1):
            t0 = time.perf_counter()
            row = {"epoch": epoch, "lr": _lr(self.optimizer)}
            row.update(self.train_epoch(epoch, epochs))
            if self.val_loader is not None:
                val = self.evaluate(self.val_loader, prefix="val_")
                row.update({k: v for k, v in val.items() if not k.endswith("confusion_matrix")})
            if self.scheduler is not None:
                if _is_plateau(self.scheduler):
                    self.scheduler.step(row.get("val_loss", row["train_loss"]))
                else:
                    self.scheduler.step()
            row["epoch_time_s"] = time.perf_counter() - t0
            self.wall_time += row["epoch_time_s"]
            self.history.append(row)
            self.epoch = epoch
            if self.out_dir:
                self.save_checkpoint()
                self._write_metrics()
            self.log(self._summary(row, epochs))
        if self.out_dir:
            self.plot()
        return self.history

    @staticmethod
    def _summary(row, epochs):
        parts = [f"epoch {row['epoch']:>3}/{epochs}", f"train loss {row['train_loss']:.4f}"]
        if "train_accuracy" in row:
            parts.append(f"acc {100 * row['train_accuracy']:.2f}%")
        if "val_loss" in row:
            parts.append(f"| val loss {row['val_loss']:.4f}")
        if "val_accuracy" in row:
            parts.append(f"acc {100 * row['val_accuracy']:.2f}%")
        parts.append(f"| lr {row['lr']:.3g} | {row['epoch_time_s']:.2f} s")
        return "  ".join(parts)

    # --- metrics files ----------------------------------------------------------------------
    def _write_metrics(self, test=None):
        if not self.out_dir or not self.history:
            return
        keys = []
        for row in self.history:
            keys += [k for k in row if k not in keys]
        tmp = self.path("metrics.csv.tmp")
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(self.history)
        os.replace(tmp, self.path("metrics.csv"))
        doc = {"config": self.config, "epochs_completed": self.epoch, "wall_time_s": self.wall_time,
               "history": self.history}
        if test is not None:
            doc["test"] = test
        tmp = self.path("metrics.json.tmp")
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=2)
        os.replace(tmp, self.path("metrics.json"))

    def write_results(self, test: dict):
        """Add the final test metrics to metrics.json."""
        self._write_metrics(test=test)

    def plot(self, path=None):
        """Loss (and accuracy) curves per epoch as a PNG (matplotlib, Agg backend)."""
        if not self.history:
            return None
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        path = path or self.path("curves.png")
        epochs = [r["epoch"] for r in self.history]
        classification = "train_accuracy" in self.history[0]
        fig, axes = plt.subplots(1, 2 if classification else 1, figsize=(10 if classification else 5, 3.6))
        axes = _np.atleast_1d(axes)
        for key, label in (("train_loss", "train"), ("val_loss", "validation")):
            if key in self.history[0]:
                axes[0].plot(epochs, [r[key] for r in self.history], label=label)
        axes[0].set(xlabel="epoch", ylabel="loss", title="loss")
        if classification:
            for key, label in (("train_accuracy", "train"), ("val_accuracy", "validation")):
                if key in self.history[0]:
                    axes[1].plot(epochs, [100 * r[key] for r in self.history], label=label)
            axes[1].set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
        for ax in axes:
            ax.grid(alpha=0.3)
            ax.legend()
        title = " ".join(str(self.config.get(k, "")) for k in ("model", "dataset")).strip()
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path
