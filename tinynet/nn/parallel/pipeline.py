"""Pipeline parallelism: consecutive layers on consecutive ranks, on the GPipe schedule.

A model too large for one process is cut into *stages*: ``nn.Sequential`` layers
``[0, b0)`` on rank 0, ``[b0, b0 + b1)`` on rank 1, and so on (``balance = [b0, b1, ...]``,
torchgpipe's name). A batch then flows rank 0 -> 1 -> ... -> S-1: each rank receives the
activation of the stage before it, runs its own layers and sends the result on; in the
backward pass the gradient with respect to each received activation travels back the
other way. Each rank only ever holds (and updates) its own stage's parameters.

Run one stage after another and all but one rank would sit idle. GPipe (Huang et al.,
"GPipe: Efficient Training of Giant Neural Networks using Pipeline Parallelism", 2019)
splits the mini-batch into ``M = chunks`` micro-batches along dim 0, so stage ``r`` can
work on micro-batch ``i`` while stage ``r + 1`` works on micro-batch ``i - 1``::

    time ->      forward (F)                backward (B, reverse order)
    rank 0   F0 F1 F2 F3 .  .  .  .  .  .  .  .  .  B3 B2 B1 B0
    rank 1   .  F0 F1 F2 F3 .  .  .  .  .  .  B3 B2 B1 B0 .
    rank 2   .  .  F0 F1 F2 F3 .  .  .  B3 B2 B1 B0 .  .
                                  (S = 3 stages, M = 4 micro-batches)

All forwards run first, then all backwards in reverse micro-batch order; every
parameter's gradient is the sum of its micro-batch gradients, so the result is the
gradient of the whole mini-batch (a synchronous schedule: no stale weights). With equal
work per stage, each rank idles for ``S - 1`` of its ``M + S - 1`` time slots in each
direction: the *bubble fraction* is

    bubble = (S - 1) / (M + S - 1)

(3 stages and 1 micro-batch: 2/3 of the time idle; 4 micro-batches: 1/3; 32: 1/17), which
is why ``chunks`` should be several times the number of stages.

Messages go through :mod:`tinynet.distributed` point-to-point calls. Every activation is
preceded by a small int64 header (micro-batch count, batch size, ``requires_grad``,
dtype, shape), so the receiver can allocate the buffer without knowing the model;
gradients need no header (each has its activation's shape and dtype). Sends are
non-blocking (``isend``): a stage starts its next micro-batch while the previous
activation is still on its way, and all gradient receives are posted before the
backward pass starts, so they arrive while the stage is busy with earlier ones.
"""
from __future__ import annotations

import numbers

import numpy as _np

from ...autograd.grad_mode import enable_grad, is_grad_enabled, no_grad
from ...backend.errors import ArgumentError, ShapeError
from ...distributed import collectives as _dist
from ...distributed.process_group import get_rank, get_world_size
from ...functional.join import cat
from ...tensor.creation import empty, full_like, tensor, zeros_like
from ...tensor.tensor import Tensor
from ..containers import Sequential
from ..module import Module

__all__ = ["Pipeline"]

#: Header of one activation message: [micro-batch count, batch size, requires_grad,
#: dtype character code, device (0 cpu, 1 cuda), ndim, shape[0], ..., shape[_MAX_DIMS - 1]]
#: (int64).
_MAX_DIMS = 16
_HEADER = 6 + _MAX_DIMS
_DEVICE_TYPES = ("cpu", "cuda")
#: Message kinds; the tag of micro-batch i's message of kind k is 3 * (i % _TAG_CYCLE) + k.
#: MPI keeps the order of messages with equal (source, tag), so tags may repeat safely
#: after _TAG_CYCLE micro-batches (MPI guarantees tags up to 32767).
_HEAD, _DATA, _GRAD = 0, 1, 2
_TAG_CYCLE = 8192


def _tag(i, kind):
    return 3 * (i % _TAG_CYCLE) + kind


def _split_sizes(n, m):
    """Micro-batch sizes of a batch of ``n`` cut into ``m`` parts, as ``torch.tensor_split``:
    the first ``n % m`` parts hold one sample more (10 into 4: 3, 3, 2, 2)."""
    q, extra = divmod(n, m)
    return [q + 1] * extra + [q] * (m - extra)


def _bounds(sizes):
    start = 0
    for s in sizes:
        yield start, start + s
        start += s


class Pipeline(Module):
    """``Pipeline(module, balance, chunks=1)``: ``module``'s layers split over the ranks of
    the default process group and run on the GPipe schedule (torchgpipe's names).

    Args:
        module: an ``nn.Sequential``; rank ``r`` keeps layers
            ``[sum(balance[:r]), sum(balance[:r + 1]))`` as its stage. The Pipeline holds
            no reference to the other layers: once the caller drops its own reference to
            ``module``, they are freed on this rank.
        balance: layers per stage, one positive int per rank: ``len(balance)`` must equal
            the world size and ``sum(balance)`` must equal ``len(module)``.
        chunks: number of micro-batches the mini-batch is split into along dim 0
            (``torch.tensor_split`` sizes, so a batch not divisible by ``chunks`` works;
            a batch smaller than ``chunks`` gives one micro-batch per sample).

    Every rank constructs the Pipeline with the same arguments (this checks that the ranks
    agree, one small all-gather). The local stage's layers are registered under their
    names in ``module``, so ``pipe.parameters()`` is this stage's parameters (hand them to
    this rank's optimizer) and ``pipe.state_dict()`` has ``module``'s keys for this
    stage: the union of every rank's state dict loads into the unsplit ``module``.

    Use:

    - ``out = pipe(x)``: forward of the whole mini-batch, pipelined over micro-batches;
      the output (micro-batch outputs concatenated along dim 0) is returned on **every**
      rank, as a tensor without autograd history (the forward never records a graph: a
      backward cannot cross processes; train with :meth:`train_step`). Only rank 0 reads
      ``x``; other ranks may pass it or ``None``.
    - ``loss = pipe.train_step(x, target, loss_fn)``: the GPipe forward and backward of the
      mini-batch; afterwards each rank's stage parameters hold the gradients the unsplit
      model would have for ``loss_fn`` over the whole batch; then ``optimizer.step()``.

    Example (``mpiexec -n 2 python train.py``; every rank runs the same script)::

        dist.init_process_group("mpi")
        model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
        pipe = nn.parallel.Pipeline(model, balance=[2, 1], chunks=4)   # rank 1: Linear(256->10)
        opt = optim.SGD(pipe.parameters(), lr=0.1)                      # this stage's parameters
        for x, y in loader:
            opt.zero_grad()
            loss = pipe.train_step(x, y, nn.CrossEntropyLoss())         # same value on every rank
            opt.step()

    Every activation crossing a stage boundary (and the final output) must be one Tensor
    whose dim 0 is the batch. The stages' layers must treat samples independently for the
    split to be exact: BatchNorm inside a stage normalizes with each *micro-batch's*
    statistics (as in GPipe), so its output and running statistics differ from the
    unsplit model's unless ``chunks=1``; Dropout draws its own random masks on each rank.
    All micro-batches' activations are kept until the backward pass (GPipe without
    re-materialization): memory grows with the batch, not with ``chunks``.
    """

    def __init__(self, module, balance, chunks: int = 1):
        super().__init__()
        if not isinstance(module, Sequential):
            raise TypeError(f"Pipeline: module must be an nn.Sequential (its layers are cut into stages), got "
                            f"{type(module).__name__}; wrap the layers in nn.Sequential(...)")
        if not isinstance(balance, (list, tuple)) or not balance or not all(
                isinstance(b, numbers.Integral) and not isinstance(b, bool) for b in balance):
            raise ArgumentError(f"Pipeline: balance must be a non-empty list of ints (layers per stage, one per "
                                f"rank), got {balance!r}")
        balance = [int(b) for b in balance]
        if any(b < 1 for b in balance):
            raise ArgumentError(f"Pipeline: balance={balance} has a stage with {min(balance)} layers; every stage "
                                "needs at least one layer")
        if isinstance(chunks, bool) or not isinstance(chunks, numbers.Integral) or chunks < 1:
            raise ArgumentError(f"Pipeline: chunks must be an int >= 1 (the number of micro-batches), got {chunks!r}")
        world = get_world_size()
        if len(balance) != world:
            raise ArgumentError(f"Pipeline: balance={balance} has {len(balance)} stages but the process group has "
                                f"{world} ranks; give one stage per rank (len(balance) == world size) or launch "
                                f"{len(balance)} processes (mpiexec -n {len(balance)})")
        if sum(balance) != len(module):
            raise ArgumentError(f"Pipeline: balance={balance} places {sum(balance)} layers but the Sequential has "
                                f"{len(module)}; sum(balance) must equal len(module)")
        rank = get_rank()
        self._check_ranks_agree(len(module), balance, int(chunks))
        start = sum(balance[:rank])
        stop = start + balance[rank]
        self._balance = tuple(balance)
        self._chunks = int(chunks)
        self._stage = rank
        self._first_layer = start
        self._names = []
        for name, layer in list(module._modules.items())[start:stop]:
            try:
                self.add_module(name, layer)
            except KeyError:
                raise ArgumentError(f"Pipeline: the Sequential's layer name {name!r} clashes with an attribute of "
                                    "Pipeline; rename that layer") from None
            self._names.append(name)

    @staticmethod
    def _check_ranks_agree(length, balance, chunks):
        mine = tensor([length, chunks] + balance, dtype=_np.int64)
        everyone = empty(len(balance) * mine.shape[0], dtype=_np.int64)
        _dist.all_gather_into_tensor(everyone, mine)
        rows = everyone.numpy().reshape(len(balance), -1)
        for r, row in enumerate(rows):
            if not _np.array_equal(row, rows[0]):
                raise ArgumentError(
                    f"Pipeline: the ranks disagree: rank 0 has a Sequential of {rows[0][0]} layers, chunks="
                    f"{rows[0][1]}, balance={rows[0][2:].tolist()}; rank {r} has {row[0]} layers, chunks={row[1]}, "
                    f"balance={row[2:].tolist()}; build the same Pipeline on every rank")

    # --- what this rank holds ------------------------------------------------------------
    @property
    def balance(self):
        """Layers per stage (one entry per rank)."""
        return list(self._balance)

    @property
    def chunks(self):
        """Number of micro-batches a mini-batch is split into."""
        return self._chunks

    @property
    def stage(self):
        """This rank's stage index (its rank)."""
        return self._stage

    @property
    def num_stages(self):
        return len(self._balance)

    @property
    def partition(self):
        """This rank's layers as an ``nn.Sequential`` (sharing the modules)."""
        return Sequential(dict((n, self._modules[n]) for n in self._names))

    def extra_repr(self):
        stop = self._first_layer + self._balance[self._stage]
        return (f"balance={list(self._balance)}, chunks={self._chunks}, stage={self._stage} "
                f"(layers {self._first_layer}..{stop - 1})")

    # --- one stage ---------------------------------------------------------------------
    def _run_stage(self, a):
        for name in self._names:
            a = self._modules[name](a)
        if not isinstance(a, Tensor):
            stop = self._first_layer + self._balance[self._stage]
            raise TypeError(f"Pipeline: stage {self._stage} (layers {self._first_layer}..{stop - 1}) returned "
                            f"{type(a).__name__}; a stage must return one Tensor (batch along dim 0) to send on")
        return a

    def _device(self):
        for p in self.parameters():
            return p.device
        for b in self.buffers():
            return b.device
        return None

    def _header(self, m, n, out, requires_grad):
        if out.ndim > _MAX_DIMS or out.ndim < 1:
            raise ShapeError(f"Pipeline: stage {self._stage} output has shape {tuple(out.shape)}; an activation "
                             f"sent between stages needs 1 to {_MAX_DIMS} dims with the batch along dim 0")
        row = _np.zeros(_HEADER, dtype=_np.int64)
        row[:6] = (m, n, int(requires_grad), ord(out.array.dtype.char), _DEVICE_TYPES.index(out.device.type),
                   out.ndim)
        row[6:6 + out.ndim] = out.shape
        return tensor(row, dtype=_np.int64)

    def _forward_all(self, x):
        """Run every micro-batch through this stage (the forward half of GPipe).

        Returns ``(inputs, outputs, sizes, n, sends)``: the received activations (leaves;
        rank 0: the slices of ``x``), this stage's outputs, the micro-batch sizes, the batch
        size, and the sends still in flight."""
        s, last = self._stage, self._stage == self.num_stages - 1
        sends = []
        if s == 0:
            if not isinstance(x, Tensor):
                raise TypeError(f"Pipeline: rank 0 (the first stage) needs the input batch as a Tensor, got "
                                f"{type(x).__name__}")
            if x.ndim < 1 or x.shape[0] < 1:
                raise ShapeError(f"Pipeline: the input batch has shape {tuple(x.shape)}; it needs a non-empty batch "
                                 "dimension (dim 0) to split into micro-batches")
            n = x.shape[0]
            sizes = _split_sizes(n, min(self._chunks, n))
            inbox = None
            inputs = [x[a:b] for a, b in _bounds(sizes)]
        else:
            inbox = _ForwardInbox(s - 1, self._device())
            n, sizes = inbox.n, inbox.sizes
            inputs = []
        m = len(sizes)
        outputs = []
        for i in range(m):
            a = inputs[i] if inbox is None else inbox.get(i)
            if inbox is not None:
                inputs.append(a)
            out = self._run_stage(a)
            if not last:
                rg = out.requires_grad and is_grad_enabled()
                sends.append(_dist.isend(self._header(m, n, out, rg), s + 1, tag=_tag(i, _HEAD)))
                sends.append(_dist.isend(out, s + 1, tag=_tag(i, _DATA)))
            outputs.append(out)
        return inputs, outputs, sizes, n, sends

    # --- the public calls --------------------------------------------------------------
    def forward(self, input=None):
        """The whole model's output for the mini-batch ``input`` (read on rank 0 only),
        returned on every rank without autograd history."""
        with no_grad():
            _, outputs, _, _, sends = self._forward_all(input if self._stage == 0 else None)
            out = cat(outputs, dim=0) if self._stage == self.num_stages - 1 else None
            for w in sends:
                w.wait()
            return self._share_from_last(out)

    def _share_from_last(self, out):
        last = self.num_stages - 1
        if last == 0:
            return out
        head = self._header(0, 0, out, False) if self._stage == last else empty(_HEADER, dtype=_np.int64)
        _dist.broadcast(head, src=last)
        if self._stage == last:
            result = out
        else:
            result = _allocate(head, self._device())
        _dist.broadcast(result, src=last)
        return result

    def train_step(self, input, target, loss_fn, reduction=None):
        """Forward and backward of one mini-batch on the GPipe schedule; returns the loss.

        ``input`` is read on rank 0 and ``target`` on the last rank (pass them, or None,
        elsewhere). Stage by stage, every micro-batch runs forward; the last rank computes
        ``loss_fn(output_i, target_i)`` for each; then the backward runs micro-batch by
        micro-batch in reverse order, each rank sending the gradient with respect to the
        activation it received back to the rank before it.

        Gradients *accumulate* into this stage's parameters' ``.grad`` as ``backward()``
        does (zero them first, e.g. ``optimizer.zero_grad()``). When done, they equal those
        of the unsplit model for the loss over the whole batch: with
        ``reduction="mean"`` the batch loss is the mean of the micro-batch losses weighted
        by their sizes, ``L = sum_i (n_i / N) * L_i`` (exactly ``loss_fn``'s mean over the
        whole batch when that mean is over samples, or over elements with the same count
        per sample); with ``reduction="sum"``, ``L = sum_i L_i``. ``reduction=None`` reads
        ``loss_fn.reduction`` (nn loss modules, ``functools.partial(F.mse_loss,
        reduction=...)``) and defaults to ``"mean"`` (the functional losses' default).
        A loss mean with per-class weights (``cross_entropy(weight=...)``) or
        ``ignore_index`` hits is not a plain per-sample mean, so it is not split exactly.

        Returns the batch loss ``L`` on **every** rank: a 0-dim tensor without history, of
        the loss's dtype, on this stage's device (the loss's device for a stage without
        parameters or buffers).
        The name follows PyTorch's pipeline schedules (``ScheduleGPipe(...).step(x,
        target=y)``), which also take the loss: plain ``loss.backward()`` cannot run a
        backward pass across processes, so one call runs both halves. Autograd is enabled
        inside it even under ``no_grad``, since gradients are what it is for.
        """
        if not callable(loss_fn):
            raise TypeError(f"Pipeline.train_step: loss_fn must be callable (e.g. nn.MSELoss() or F.cross_entropy), "
                            f"got {type(loss_fn).__name__}")
        reduction = _loss_reduction(loss_fn, reduction)
        last = self.num_stages - 1
        s = self._stage
        with enable_grad():
            inputs, outputs, sizes, n, sends = self._forward_all(input if s == 0 else None)
            if s == last:
                targets = self._split_target(target, n, sizes)
            m = len(sizes)
            grads = [None] * m
            if s != last:  # every gradient receive posted now: they arrive while we work
                for i in reversed(range(m)):
                    if outputs[i].requires_grad:
                        g = empty(*outputs[i].shape, dtype=outputs[i].array.dtype, device=outputs[i].device)
                        grads[i] = (g, _dist.irecv(g, s + 1, tag=_tag(i, _GRAD)))
            total = 0.0
            like = None  # the last micro-batch loss: its dtype and device for the result
            for i in reversed(range(m)):
                if s == last:
                    loss = loss_fn(outputs[i], targets[i])
                    if not isinstance(loss, Tensor) or loss.array.size != 1:
                        raise ShapeError(
                            f"Pipeline.train_step: loss_fn returned "
                            f"{tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__} for micro-batch "
                            f"{i}; it must return one number per micro-batch (reduction 'mean' or 'sum')")
                    weight = sizes[i] / n if reduction == "mean" else 1.0
                    total += weight * float(loss.item())
                    like = loss
                    if loss.requires_grad:
                        loss.backward(full_like(loss, weight))
                elif grads[i] is not None:
                    g, work = grads[i]
                    work.wait()
                    outputs[i].backward(g)
                outputs[i] = None  # this micro-batch's graph is done: free it
                if s > 0 and inputs[i].requires_grad:
                    gi = inputs[i].grad
                    if gi is None:  # the stage's output did not depend on its input
                        gi = zeros_like(inputs[i])
                    sends.append(_dist.isend(gi, s - 1, tag=_tag(i, _GRAD)))
                    inputs[i] = None
            for w in sends:
                w.wait()
        return self._share_loss(total, like)

    def _split_target(self, target, n, sizes):
        if not isinstance(target, Tensor):
            raise TypeError(f"Pipeline.train_step: the last rank ({self._stage}) needs target as a Tensor, got "
                            f"{type(target).__name__}")
        if target.ndim < 1 or target.shape[0] != n:
            raise ShapeError(f"Pipeline.train_step: target has shape {tuple(target.shape)} but the input batch has "
                             f"{n} samples; target needs the same batch size along dim 0")
        return [target[a:b] for a, b in _bounds(sizes)]

    def _share_loss(self, total, like):
        """The batch loss from the last rank to every rank: [value, dtype code, device]
        in one float64 broadcast (the codes are small ints, exact in float64)."""
        last = self.num_stages - 1
        box = _np.zeros(3, dtype=_np.float64)
        if like is not None:
            box[:] = (total, ord(like.array.dtype.char), _DEVICE_TYPES.index(like.device.type))
        box = tensor(box, dtype=_np.float64)
        if last > 0:
            _dist.broadcast(box, src=last)
        value, code, device = box.numpy()
        own = self._device()
        return tensor(value, dtype=_np.dtype(chr(int(code))),
                      device=own if own is not None else _DEVICE_TYPES[int(device)])


def _loss_reduction(loss_fn, reduction):
    found = getattr(loss_fn, "reduction", None)
    if found is None:
        found = (getattr(loss_fn, "keywords", None) or {}).get("reduction")  # functools.partial
    if reduction is None:
        reduction = found if found is not None else "mean"
    elif found is not None and found != reduction:
        raise ArgumentError(f"Pipeline.train_step: reduction={reduction!r} but loss_fn has reduction={found!r}; "
                            "leave reduction=None or make them agree")
    if reduction not in ("mean", "sum"):
        raise ArgumentError(f"Pipeline.train_step: reduction must be 'mean' or 'sum' (one loss per micro-batch, "
                            f"combined into the batch loss), got {reduction!r}")
    return reduction


def _allocate(head, device):
    """An empty tensor for the activation ``head`` describes: its shape and dtype, on
    ``device`` (the receiving stage's own device), or on the sender's device type when the
    receiving stage has no parameters or buffers to say where it runs."""
    row = head.numpy()
    shape = tuple(int(d) for d in row[6:6 + int(row[5])])
    return empty(*shape, dtype=_np.dtype(chr(int(row[3]))),
                 device=device if device is not None else _DEVICE_TYPES[int(row[4])])


class _ForwardInbox:
    """The activations a stage receives from the stage before it, in micro-batch order.

    Header 0 is received first (it says how many micro-batches follow); the headers of
    all the others are then posted at once, and each data receive is posted as soon as
    its header is in, so the next activation can arrive while this one is computed."""

    def __init__(self, src, device):
        self.src, self.device = src, device
        first = empty(_HEADER, dtype=_np.int64)
        _dist.recv(first, src, tag=_tag(0, _HEAD))
        m, self.n = int(first.numpy()[0]), int(first.numpy()[1])
        self.sizes = _split_sizes(self.n, m)
        self.heads = [first] + [empty(_HEADER, dtype=_np.int64) for _ in range(m - 1)]
        self.head_work = [None] + [_dist.irecv(self.heads[i], src, tag=_tag(i, _HEAD)) for i in range(1, m)]
        self.data = [None] * m

    def _post(self, i):
        buf = _allocate(self.heads[i], self.device)
        self.data[i] = (buf, bool(self.heads[i].numpy()[2]), _dist.irecv(buf, self.src, tag=_tag(i, _DATA)))

    def get(self, i):
        if self.data[i] is None:
            if self.head_work[i] is not None:
                self.head_work[i].wait()
            self._post(i)
        for j in range(i + 1, len(self.data)):  # headers already in: start those receives too
            if self.data[j] is not None:
                continue
            if not self.head_work[j].is_completed():
                break
            self._post(j)
        buf, requires_grad, work = self.data[i]
        work.wait()
        self.data[i] = None
        if requires_grad:
            buf.requires_grad_(True)
        return buf
