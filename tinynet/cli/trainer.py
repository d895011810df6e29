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
changes any weight, with :class:`NonFiniteLossError` naming the epoch and step. At the end
of each epoch the parameters, floating buffers and validation loss are checked *before*
the checkpoint replaces the previous one: a NaN/inf there stops training the same way. So
the checkpoint on disk is always the last good one (finite weights, finite validation
loss), and the message names its epoch.

**Output folder**: checked before the first step (it must be a folder, or creatable, and
writable); stale temporary files of a crashed earlier run are removed. Every file is
written to a temporary file and renamed into place, so a full disk or a crash leaves the
previous checkpoint and metrics intact; the error is an ``OSError`` naming the file.

**Restoring** (:meth:`Trainer.load_checkpoint`) is all or nothing: the checkpoint's
structure is checked first (:func:`check_checkpoint`), then model, optimizer, scheduler and
random states are loaded; if any part is refused, every one of them is put back as it was.

**Distillation** (``teacher=Teacher(...)``): each training batch also goes through a trained
teacher model (eval mode, under ``no_grad``, after this rank's slice is taken), and the
training loss is the teacher's :class:`~tinynet.nn.DistillationLoss` of the student's
outputs, the teacher's outputs and the labels. Validation and test losses stay the plain
``loss_fn`` (the hard-label cross-entropy), so a distilled student's metrics compare
directly with those of a student trained on labels alone. metrics.json gets a ``teacher``
entry (``Teacher.info``).

**Several processes** (data parallel): pass the model wrapped in
:class:`~tinynet.nn.parallel.DistributedDataParallel` (after
``tinynet.distributed.init_process_group``) and give every rank the *same* loaders (same
data, same seed). Each rank then draws the same global batch of ``B`` samples and trains on
its own slice of it: rank ``r`` of ``N`` takes ``B // N`` rows, plus one of the ``B % N``
left over when ``r < B % N``. DDP averages the gradients over ranks, so rank ``r``'s loss
(the mean over its ``n_r`` targets) is scaled by ``N * n_r / n``: then

    (1/N) * sum_r grad(N * n_r / n * L_r) = sum_r (n_r / n) * grad L_r = grad L

the gradient of the mean over the whole global batch of ``n`` targets, as one process would
compute it, even when the slices are uneven. One small all-reduce per step sums the ranks'
target counts, losses and correct predictions, so every rank knows the global batch loss
(a NaN on any rank stops every rank at the same step) and rank 0 reports exactly the numbers
one process would. Validation and test run on every rank with the plain module (identical
weights, identical results, no communication). Only rank 0 prints, shows the progress bar
and writes the checkpoint, metrics and curves; the checkpoint holds the plain module's state,
so it resumes with any number of processes. Dropout differs: every rank draws its own masks
(rank ``r > 0`` from a stream seeded by the config's seed, the epoch and ``r``), so a run with
dropout is a valid but not bit-identical twin of the one-process run.
"""
from __future__ import annotations

import csv
import glob
import io
import json
import math
import os
import sys
import tempfile
import time

import numpy as _np

from .. import metrics as _metrics
from ..autograd import no_grad
from ..distributed import get_rank as _get_rank, get_world_size as _get_world_size
from ..distributed.collectives import all_reduce_unchecked as _all_reduce_unchecked
from ..nn.distillation import DistillationLoss
from ..nn.parallel import DistributedDataParallel
from ..serialization import atomic_write as _atomic_write, load as _load, save as _save
from ..tensor import random as _random
from ..tensor.tensor import Tensor
from .recipes.base import default_forward, default_predict

CHECKPOINT = "checkpoint.safetensors"
CHECKPOINT_FORMAT = "tinynet-checkpoint/1"


# The files a run writes (a crashed run may leave their temporary ``.tmp-NAME.*`` twins).
OUTPUT_FILES = (CHECKPOINT, "metrics.csv", "metrics.json", "curves.png")


class NonFiniteLossError(FloatingPointError):
    """Training diverged: the loss, a weight or the validation loss became NaN or infinite.

    ``epoch`` and ``step`` say where, ``value`` what was found, ``checkpoint`` the path of
    the last good checkpoint (None when none was written) and ``checkpoint_epoch`` its epoch.
    """

    def __init__(self, message, epoch, step, value, checkpoint, checkpoint_epoch=None):
        super().__init__(message)
        self.epoch, self.step, self.value, self.checkpoint = epoch, step, value, checkpoint
        self.checkpoint_epoch = checkpoint_epoch


def prepare_out_dir(path) -> str:
    """Make sure ``path`` is (or can become) a writable folder, before any training step.

    Raises an ``OSError`` subclass naming the problem: the path is a file, lies under a
    file, or cannot be written (read-only folder or file system, no permission). Removes the
    temporary files a crashed earlier run left behind (``.tmp-checkpoint.safetensors.*``,
    ...), which are never a finished file.
    """
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise NotADirectoryError(f"output folder {path!r} is a file; give --out a folder (new or existing)")
    parent = path
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if parent and not os.path.isdir(parent):
        raise NotADirectoryError(f"output folder {path!r} lies under {parent!r}, which is a file, not a folder")
    try:
        os.makedirs(path, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".tmp-probe.", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise type(exc)(exc.errno, f"output folder {path!r} is not writable ({exc.strerror}); "
                        "choose another --out or fix its permissions") from None
    for name in OUTPUT_FILES:
        for stale in glob.glob(os.path.join(glob.escape(path), f".tmp-{glob.escape(name)}.*")) + \
                [os.path.join(path, name + ".tmp")]:
            if os.path.isfile(stale) and not os.path.islink(stale):
                os.unlink(stale)
    return path


def _check(condition, path, what):
    if not condition:
        raise ValueError(f"{path}: not a tinynet training checkpoint (or one tampered with): {what}")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_checkpoint(ck, path="checkpoint") -> dict:
    """Check the structure of a training checkpoint (as :func:`tn.load` returns it); return it.

    Every part :meth:`Trainer.load_checkpoint`, ``tinynet train --resume``, ``evaluate``
    and ``generate`` read is checked for presence and type, so a checkpoint of another
    kind, or one tampered with, is a ``ValueError`` naming the file and the part.
    """
    _check(isinstance(ck, dict), path, f"expected a dict, found {type(ck).__name__}")
    _check(ck.get("format") == CHECKPOINT_FORMAT, path,
           f"its format is {ck.get('format')!r}, expected {CHECKPOINT_FORMAT!r} (written by `tinynet train`)")
    for key in ("epoch", "global_step"):
        _check(_is_int(ck.get(key)) and ck[key] >= 0, path, f"{key!r} must be an integer >= 0, found {ck.get(key)!r}")
    for key in ("model", "optimizer", "rng", "config", "extra"):
        _check(isinstance(ck.get(key), dict), path, f"{key!r} must be a dict, found {type(ck.get(key)).__name__}")
    _check(all(isinstance(k, str) for k in ck["model"]), path, "'model' keys must be parameter names (strings)")
    _check(ck.get("scheduler") is None or isinstance(ck["scheduler"], dict), path, "'scheduler' must be a dict or None")
    rng = ck["rng"]
    _check(isinstance(rng.get("tinynet"), dict) and isinstance(rng.get("train_loader"), dict), path,
           "'rng' must hold the 'tinynet' and 'train_loader' generator states")
    history = ck.get("history")
    _check(isinstance(history, list) and all(isinstance(r, dict) and _is_int(r.get("epoch")) for r in history),
           path, "'history' must be a list of per-epoch dicts with an integer 'epoch'")
    _check(isinstance(ck.get("wall_time_s", 0.0), (int, float)) and not isinstance(ck.get("wall_time_s"), bool),
           path, "'wall_time_s' must be a number")
    config = ck["config"]
    _check(all(isinstance(k, str) and not k.startswith("_") for k in config), path,
           "'config' keys must be option names (strings not starting with '_')")
    return ck


class Teacher:
    """A trained model that gives a student soft targets (knowledge distillation).

        teacher = Teacher(cnn, adapt=lambda x: x.reshape(-1, 1, 8, 8), temperature=4.0, alpha=0.9)
        Trainer(mlp, optimizer, nn.CrossEntropyLoss(), train_loader, teacher=teacher).fit(10)

    Args:
        model: the teacher; put in eval mode (dropout off, batch norm on running statistics)
            and always run under ``no_grad``: it is never trained and no gradient reaches it.
        forward: how a batch becomes the teacher's ``(outputs, targets)`` (a recipe's
            ``forward``; default ``model(x), y``).
        adapt: maps the student's input batch ``x`` to the teacher's input (e.g. flat digits
            vectors to images); default: the same inputs.
        temperature, alpha: of the :class:`~tinynet.nn.DistillationLoss` used as the training loss.
        info: plain data describing the teacher, written to metrics.json.
    """

    def __init__(self, model, forward=default_forward, adapt=None, temperature=4.0, alpha=0.9, info=None):
        self.model, self.forward, self.adapt = model, forward, adapt
        self.loss = DistillationLoss(temperature, alpha)
        self.info = {"temperature": self.loss.temperature, "alpha": self.loss.alpha, **dict(info or {})}
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)

    def __call__(self, batch):
        """The teacher's outputs for a training batch ``(x, y, ...)`` of the student."""
        if self.model.training:  # someone switched it back: a teacher always predicts in eval mode
            self.model.eval()
        if self.adapt is not None:
            batch = (self.adapt(batch[0]), *batch[1:])
        with no_grad():
            outputs, _ = self.forward(self.model, batch)
        return outputs


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
        teacher: a :class:`Teacher`: train by distillation from it (training loss only).
        scheduler_interval: "epoch" (step the scheduler after each epoch) or "step" (after
            each optimizer step: warm-up and decay schedules counted in steps).
        metrics: extra metrics, an object with torchmetrics' protocol: ``reset()``,
            ``update(outputs, targets)`` per batch, ``compute() -> {name: float}``. They are
            reported for training (``train_<name>``) and evaluation (``val_<name>``, ...).
            With several processes the training values are rank 0's share of each batch.

    A ``DistributedDataParallel`` model trains on this rank's slice of each global batch (see
    the module docstring); ``trainer.model`` is then the wrapped plain module, which is what
    is evaluated and saved.
    """

    def __init__(self, model, optimizer, loss_fn, train_loader, val_loader=None, scheduler=None,
                 task="classification", forward=default_forward, predict=default_predict, out_dir=None,
                 progress=True, config=None, extra=None, log=print, clip_grad_norm=None, num_classes=None,
                 teacher=None, scheduler_interval="epoch", metrics=None):
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(f"Trainer: scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}")
        if scheduler_interval == "step" and scheduler is not None and _is_plateau(scheduler):
            raise ValueError("Trainer: ReduceLROnPlateau needs a validation loss, so it steps per epoch; "
                             "use scheduler_interval='epoch'")
        self.ddp = model if isinstance(model, DistributedDataParallel) else None
        self.rank, self.world_size = (_get_rank(), _get_world_size()) if self.ddp is not None else (0, 1)
        if self.ddp is not None:
            model = model.module
            if self.rank != 0:  # rank 0 alone reports and writes files
                log, progress = (lambda *a, **k: None), False
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.train_loader, self.val_loader, self.scheduler = train_loader, val_loader, scheduler
        self.task, self.forward, self.predict = task, forward, predict
        self.out_dir = os.fspath(out_dir) if out_dir is not None else None
        self.progress, self.config, self.extra = progress, dict(config or {}), dict(extra or {})
        self.log, self.clip_grad_norm, self.num_classes = log, clip_grad_norm, num_classes
        self.teacher = teacher
        self.scheduler_interval, self.metrics = scheduler_interval, metrics
        self._metric_names: list = []  # names the metrics reported (for the epoch summary line)
        self.history: list[dict] = []
        self.epoch = 0  # epochs completed
        self.global_step = 0
        self.wall_time = 0.0
        self.last_good = None  # (epoch, path) of the checkpoint training would fall back to

    # --- paths ------------------------------------------------------------------------
    @property
    def writes(self) -> bool:
        """Whether this process writes the run's files (an out_dir is set and this is rank 0)."""
        return bool(self.out_dir) and self.rank == 0

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
        model = self.ddp if self.ddp is not None else self.model
        model.train()
        if self.ddp is not None and self.rank > 0:
            self._seed_rank_stream(epoch)
        total_loss, total_n, correct, seen = 0.0, 0, 0, 0
        if self.metrics is not None:
            self.metrics.reset()
        bar = self._bar(self.train_loader, epoch, epochs)
        try:
            for i, batch in enumerate(bar, start=1):
                if self.ddp is not None:
                    batch = self._local_share(batch)
                outputs, targets = self.forward(model, batch)
                if self.teacher is not None:  # (on this rank's slice: the teacher sees the same samples)
                    loss = self.teacher.loss(outputs, self.teacher(batch), targets)
                else:
                    loss = self.loss_fn(outputs, targets)
                value = float(loss.item())
                n = len(targets)
                batch_correct = batch_seen = 0
                if self.task == "classification":
                    labels = _np.asarray(targets.numpy()).reshape(-1)
                    pred = _np.asarray(self.predict(outputs)).reshape(-1)
                    batch_correct, batch_seen = int((pred == labels).sum()), labels.size
                if self.ddp is not None:
                    # The global batch: counts, loss sum and correct predictions of every rank.
                    local_n = n
                    n, loss_sum, batch_correct, batch_seen = self._sum_over_ranks(
                        [n, value * n if n else 0.0, batch_correct, batch_seen])
                    value = loss_sum / n if n else float("nan")
                    loss = loss * (self.world_size * local_n / n)  # DDP's average is then the global mean's gradient
                if not math.isfinite(value):
                    self._diverged(epoch, i, len(self.train_loader), value)
                self.optimizer.zero_grad()
                loss.backward()
                if self.clip_grad_norm:
                    from ..nn.utils import clip_grad_norm_

                    clip_grad_norm_(self.model.parameters(), self.clip_grad_norm)
                self.optimizer.step()
                if self.scheduler is not None and self.scheduler_interval == "step":
                    self.scheduler.step()
                if self.metrics is not None:
                    self.metrics.update(outputs, targets)
                self.global_step += 1
                total_loss += value * n
                total_n += n
                postfix = {"loss": f"{total_loss / total_n:.4f}"}
                if self.task == "classification":
                    correct += batch_correct
                    seen += batch_seen
                    postfix["acc"] = f"{correct / max(seen, 1):.3f}"
                bar.set_postfix(postfix, refresh=False)
        finally:
            bar.close()
        if total_n == 0:
            raise ValueError(f"epoch {epoch}: the training loader yielded no batches ({_describe(self.train_loader)}); "
                             "there is nothing to train on")
        out = {"train_loss": total_loss / total_n}
        if self.task == "classification":
            out["train_accuracy"] = correct / max(seen, 1)
        if self.metrics is not None:
            values = self.metrics.compute()
            self._metric_names = list(values)
            out.update({"train_" + k: float(v) for k, v in values.items()})
        return out

    # --- several processes -------------------------------------------------------------------
    def _local_share(self, batch):
        """This rank's rows ``[lo, hi)`` of the global ``batch`` (every tensor whose first
        dimension is the batch size is sliced; anything else is passed on unchanged)."""
        size = _batch_size(batch)
        if size is None:
            raise ValueError("Trainer: with DistributedDataParallel each batch must hold tensors with a batch dimension "
                             f"(to split it across {self.world_size} processes), got {type(batch).__name__}")
        if size < self.world_size:
            raise ValueError(f"Trainer: a batch of {size} samples cannot be split across {self.world_size} processes "
                             "(each needs at least one sample); use fewer processes or a larger batch size")
        lo, hi = share(size, self.rank, self.world_size)
        return _slice_batch(batch, size, lo, hi)

    def _sum_over_ranks(self, values):
        """Element-wise sums of ``values`` over every rank (one small all-reduce; every rank
        passes four float64 numbers by construction, so the cross-rank shape check is skipped)."""
        t = Tensor(_np.asarray(values, dtype=_np.float64))
        _all_reduce_unchecked(t)
        n, loss_sum, correct, seen = (float(v) for v in t.array)
        return int(round(n)), loss_sum, int(round(correct)), int(round(seen))

    def _seed_rank_stream(self, epoch):
        """Rank ``r > 0`` draws its dropout masks from its own stream, seeded by (seed, epoch, r):
        the ranks' masks differ (they see different samples), and a resumed run draws the same
        masks as an uninterrupted one (rank 0 continues the checkpointed generator)."""
        seed = self.config.get("seed", 0)
        seed = seed if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0 else 0
        state = _np.random.SeedSequence([seed, epoch, self.rank]).generate_state(1, _np.uint64)[0]
        _random.manual_seed(int(state >> _np.uint64(1)))

    def check_shares(self):
        """Refuse, before the first step, a training loader whose smallest batch has fewer
        samples than there are processes (some rank would get nothing to train on)."""
        loader = self.train_loader
        size, dataset = getattr(loader, "batch_size", None), getattr(loader, "dataset", None)
        if self.ddp is None or not isinstance(size, int) or dataset is None or not hasattr(dataset, "__len__"):
            return
        total, drop_last = len(dataset), bool(getattr(loader, "drop_last", False))
        sizes = [size] * (total // size) + ([total % size] if total % size and not drop_last else [])
        if sizes and min(sizes) < self.world_size:
            small = min(sizes)
            samples = f"{small} sample{'s' if small != 1 else ''}"
            what = (f"the batch size is {size}" if small == size else
                    f"the last batch of every epoch holds only {samples} ({total} samples, batch size {size})")
            raise ValueError(f"training on {self.world_size} processes splits every batch across them, but {what}, "
                             f"so some process would get no sample; use at most {small} process"
                             f"{'es' if small != 1 else ''}, or a batch size whose batches all hold at least "
                             f"{self.world_size} samples")

    def _diverged(self, epoch, batch_index, batches, value):
        step = self.global_step + 1
        self._stop(f"loss is {value} at epoch {epoch}, step {step} (batch {batch_index} of {batches}); training "
                   "stopped before this step changed any weight.", epoch, step, value)

    def _stop(self, what, epoch, step, value):
        """Raise :class:`NonFiniteLossError` with ``what`` and where the last good checkpoint is."""
        if self.last_good is not None:
            kept_epoch, ck = self.last_good
            kept = f"The last good checkpoint, from the end of epoch {kept_epoch}, is kept at {ck}."
        else:
            kept_epoch, ck = None, None
            kept = ("No checkpoint was written (no epoch finished with finite weights)." if self.out_dir
                    else "(No out_dir: nothing was saved.)")
        message = (f"{what} {kept} Try a smaller learning rate (--lr), gradient clipping (--clip-grad-norm), "
                   "or check the inputs for NaN/inf.")
        self._write_metrics()
        raise NonFiniteLossError(message, epoch, step, value, ck, kept_epoch)

    def _check_finite(self, row, epoch):
        """Stop before saving if the validation loss or any weight/buffer is NaN or infinite."""
        val = row.get("val_loss")
        if val is not None and not math.isfinite(val):
            self._stop(f"validation loss is {val} after epoch {epoch}; training stopped and this epoch's weights "
                       "were not saved.", epoch, self.global_step, val)
        for name, t in list(self.model.named_parameters()) + list(self.model.named_buffers()):
            if t.dtype.kind == "f" and not bool(t.device.xp.isfinite(t.array).all()):
                self._stop(f"{name} holds NaN or infinite values after epoch {epoch}; training stopped and this "
                           "epoch's weights were not saved.", epoch, self.global_step, float("nan"))

    # --- evaluation -------------------------------------------------------------------
    def evaluate(self, loader, prefix=""):
        """Loss and (for classification) accuracy, macro precision/recall/F1, confusion matrix."""
        was_training = self.model.training
        self.model.eval()
        total, n = 0.0, 0
        preds, labels = [], []
        if self.metrics is not None:
            self.metrics.reset()
        try:
            with no_grad():
                for batch in loader:
                    outputs, targets = self.forward(self.model, batch)
                    loss = self.loss_fn(outputs, targets)
                    k = len(targets)
                    total += float(loss.item()) * k
                    n += k
                    if self.metrics is not None:
                        self.metrics.update(outputs, targets)
                    if self.task == "classification":
                        preds.append(_np.asarray(self.predict(outputs)).reshape(-1))
                        labels.append(_np.asarray(targets.numpy()).reshape(-1))
        finally:
            self.model.train(was_training)
        if n == 0:
            raise ValueError(f"evaluate: the {prefix.rstrip('_') or 'evaluation'} loader yielded no samples "
                             f"({_describe(loader)}); an empty split has no loss or accuracy")
        out = {prefix + "loss": total / n}
        if self.task == "classification" and preds:
            y_pred, y_true = _np.concatenate(preds), _np.concatenate(labels)
            rep = _metrics.classification_report(y_true, y_pred, num_classes=self.num_classes)
            out.update({prefix + k: v for k, v in rep.items()})
        if self.metrics is not None:
            out.update({prefix + k: float(v) for k, v in self.metrics.compute().items()})
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
        path = path or self.checkpoint_path
        if self.rank != 0:  # rank 0 writes it; the others keep track of it for their messages
            if path == self.checkpoint_path:
                self.last_good = (self.epoch, path)
            return
        try:
            _save(self.state_dict(), path)
        except OSError as exc:
            kept = (f"the checkpoint from epoch {self.last_good[0]} is kept" if self.last_good
                    else "no earlier checkpoint exists")
            raise type(exc)(exc.errno, f"could not write the checkpoint {path} ({exc.strerror or exc}); {kept}") from None
        if path == self.checkpoint_path:
            self.last_good = (self.epoch, path)

    def _restorable_state(self):
        """A copy of what :meth:`load_checkpoint` changes, so a refused load can be undone
        (state dicts share memory with the live tensors, hence the copy)."""
        return _snapshot({"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                          "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
                          "rng": _random.get_rng_state(), "train_loader": self.train_loader.state_dict()})

    def _restore(self, state):
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        _random.set_rng_state(state["rng"])
        self.train_loader.load_state_dict(state["train_loader"])

    def load_checkpoint(self, path_or_state):
        """Restore a checkpoint (a path or a loaded dict); training continues after its epoch.

        All or nothing: the structure is checked first (:func:`check_checkpoint`); if the
        model, optimizer, scheduler or a generator then refuses its part, everything loaded
        so far is put back and a ``ValueError`` names the file and the part.
        """
        is_path = isinstance(path_or_state, (str, bytes, os.PathLike))
        where = os.fsdecode(path_or_state) if is_path else "checkpoint"
        ck = check_checkpoint(_load(path_or_state) if is_path else path_or_state, where)
        prefix = f"{where}: " if is_path else ""
        before = self._restorable_state()
        parts = [("model", lambda: self.model.load_state_dict(ck["model"])),
                 ("optimizer", lambda: self.optimizer.load_state_dict(ck["optimizer"])),
                 ("scheduler", lambda: self.scheduler is not None and ck["scheduler"] is not None
                  and self.scheduler.load_state_dict(ck["scheduler"])),
                 ("rng", lambda: _random.set_rng_state(ck["rng"]["tinynet"])),
                 ("rng.train_loader", lambda: self.train_loader.load_state_dict(ck["rng"]["train_loader"]))]
        if self.scheduler is not None and ck["scheduler"] is None:
            raise ValueError(f"{prefix}the checkpoint has no scheduler state but this run uses "
                             f"{type(self.scheduler).__name__}")
        for name, load_part in parts:
            try:
                load_part()
            except Exception as exc:  # any refusal: undo every part, then report this one
                self._restore(before)
                raise ValueError(f"{prefix}its {name} state does not fit this run: {exc}") from None
        self.epoch, self.global_step = ck["epoch"], ck["global_step"]
        self.history = list(ck["history"])
        self.wall_time = float(ck.get("wall_time_s", 0.0))
        if is_path:  # until this run saves one, the resumed file is the checkpoint to fall back to
            self.last_good = (self.epoch, where)
        return ck

    # --- the loop ---------------------------------------------------------------------------
    def fit(self, epochs, resume=None):
        """Train until ``epochs`` epochs are done (counting those of a resumed checkpoint)."""
        if resume is not None:
            self.load_checkpoint(resume)
        if self.epoch >= epochs:
            self.log(f"checkpoint is already at epoch {self.epoch} of {epochs}; nothing to train")
        elif len(self.train_loader) == 0:
            raise ValueError(f"the training loader has no batches ({_describe(self.train_loader)}); "
                             "there is nothing to train on")
        self.check_shares()
        if self.writes:
            prepare_out_dir(self.out_dir)
        for epoch in range(self.epoch + 1, epochs + 1):
            t0 = time.perf_counter()
            row = {"epoch": epoch, "lr": _lr(self.optimizer)}
            row.update(self.train_epoch(epoch, epochs))
            if self.val_loader is not None:
                val = self.evaluate(self.val_loader, prefix="val_")
                row.update({k: v for k, v in val.items() if not k.endswith("confusion_matrix")})
            if self.scheduler is not None and self.scheduler_interval == "epoch":
                if _is_plateau(self.scheduler):
                    self.scheduler.step(row.get("val_loss", row["train_loss"]))
                else:
                    self.scheduler.step()
            row["epoch_time_s"] = time.perf_counter() - t0
            self._check_finite(row, epoch)
            self.wall_time += row["epoch_time_s"]
            self.history.append(row)
            self.epoch = epoch
            if self.out_dir:
                self.save_checkpoint()
                self._write_metrics()
            self.log(self._summary(row, epochs))
        if self.writes:
            self.plot()
        return self.history

    def _summary(self, row, epochs):
        parts = [f"epoch {row['epoch']:>3}/{epochs}", f"train loss {row['train_loss']:.4f}"]
        if "train_accuracy" in row:
            parts.append(f"acc {100 * row['train_accuracy']:.2f}%")
        if "val_loss" in row:
            parts.append(f"| val loss {row['val_loss']:.4f}")
        if "val_accuracy" in row:
            parts.append(f"acc {100 * row['val_accuracy']:.2f}%")
        for key in self._metric_names:
            if "val_" + key in row:
                parts.append(f"{key} {row['val_' + key]:.4g}")
        parts.append(f"| lr {row['lr']:.3g} | {row['epoch_time_s']:.2f} s")
        return "  ".join(parts)

    # --- metrics files ----------------------------------------------------------------------
    def _write_metrics(self, test=None):
        if not self.writes or not self.history:
            return
        keys = []
        for row in self.history:
            keys += [k for k in row if k not in keys]
        table = io.StringIO(newline="")
        w = csv.DictWriter(table, fieldnames=keys)
        w.writeheader()
        w.writerows(self.history)
        doc = {"config": self.config, "epochs_completed": self.epoch, "wall_time_s": self.wall_time,
               "history": self.history}
        if self.teacher is not None:
            doc["teacher"] = self.teacher.info
        if test is not None:
            doc["test"] = test
        for name, text in (("metrics.csv", table.getvalue()), ("metrics.json", json.dumps(doc, indent=2))):
            _atomic_write(self.path(name), lambda f, text=text: f.write(text.encode("utf-8")))

    def write_results(self, test: dict):
        """Add the final test metrics to metrics.json."""
        self._write_metrics(test=test)

    def plot(self, path=None):
        """Loss (and accuracy) curves per epoch as a PNG (matplotlib, Agg backend), plus one
        panel per extra metric (``metrics=``), train and validation."""
        if not self.history:
            return None
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        path = path or self.path("curves.png")
        epochs = [r["epoch"] for r in self.history]
        classification = "train_accuracy" in self.history[0]
        extra = [k for k in self._metric_names if "train_" + k in self.history[0] or "val_" + k in self.history[0]]
        panels = 1 + classification + len(extra)
        cols = min(panels, 3)
        rows = -(-panels // cols)
        fig, grid = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
        axes = grid.reshape(-1)
        for ax in axes[panels:]:
            ax.set_visible(False)
        axes = axes[:panels]
        for key, label in (("train_loss", "train"), ("val_loss", "validation")):
            if key in self.history[0]:
                axes[0].plot(epochs, [r[key] for r in self.history], label=label)
        axes[0].set(xlabel="epoch", ylabel="loss", title="loss")
        if classification:
            for key, label in (("train_accuracy", "train"), ("val_accuracy", "validation")):
                if key in self.history[0]:
                    axes[1].plot(epochs, [100 * r[key] for r in self.history], label=label)
            axes[1].set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
        for ax, name in zip(axes[1 + classification:], extra):
            for key, label in (("train_" + name, "train"), ("val_" + name, "validation")):
                if key in self.history[0]:
                    ax.plot(epochs, [r[key] for r in self.history], label=label)
            ax.set(xlabel="epoch", ylabel=name.replace("_", " "), title=name.replace("_", " "))
            if name == "perplexity":
                ax.set_yscale("log")
        for ax in axes:
            ax.grid(alpha=0.3)
            ax.legend()
        title = " ".join(str(self.config.get(k, "")) for k in ("model", "dataset")).strip()
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        png = io.BytesIO()
        fig.savefig(png, format="png", dpi=100)
        plt.close(fig)
        _atomic_write(path, lambda f: f.write(png.getvalue()))
        return path


def share(size: int, rank: int, world_size: int):
    """Rows ``(lo, hi)`` of a batch of ``size`` that rank ``rank`` of ``world_size`` trains on:
    ``size // world_size`` each, the first ``size % world_size`` ranks one more."""
    base, extra = divmod(size, world_size)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (1 if rank < extra else 0)


def _batch_size(batch):
    """The first dimension of the first tensor (or array) in ``batch``; None if there is none."""
    if isinstance(batch, (Tensor, _np.ndarray)):
        return int(batch.shape[0]) if batch.ndim else None
    items = batch.values() if isinstance(batch, dict) else batch if isinstance(batch, (list, tuple)) else ()
    for item in items:
        size = _batch_size(item)
        if size is not None:
            return size
    return None


def _slice_batch(batch, size, lo, hi):
    """``batch`` with rows ``[lo, hi)`` of every tensor/array whose first dimension is ``size``."""
    if isinstance(batch, (Tensor, _np.ndarray)):
        return batch[lo:hi] if batch.ndim and batch.shape[0] == size else batch
    if isinstance(batch, dict):
        return type(batch)((k, _slice_batch(v, size, lo, hi)) for k, v in batch.items())
    if isinstance(batch, (list, tuple)):
        parts = [_slice_batch(v, size, lo, hi) for v in batch]
        return type(batch)(*parts) if hasattr(batch, "_fields") else type(batch)(parts)
    return batch


def _snapshot(obj):
    """A deep copy of nested dicts/lists/tuples whose tensors and arrays are copied too."""
    if isinstance(obj, dict):
        return type(obj)((k, _snapshot(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_snapshot(v) for v in obj)
    if isinstance(obj, Tensor):
        return Tensor._make(obj.array.copy(), obj.device)
    if isinstance(obj, _np.ndarray):
        return obj.copy()
    return obj


def _describe(loader) -> str:
    """``N samples, batch_size B, drop_last D`` for error messages about empty loaders."""
    dataset = getattr(loader, "dataset", None)
    n = len(dataset) if dataset is not None and hasattr(dataset, "__len__") else "?"
    return (f"{n} samples, batch_size {getattr(loader, 'batch_size', '?')}, "
            f"drop_last {getattr(loader, 'drop_last', '?')}")
