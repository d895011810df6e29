"""Data parallelism: :class:`DistributedDataParallel` (PyTorch's DDP, Li et al., VLDB 2020).

Every rank holds a whole copy of the model and runs it on its own share of the batch. If
each rank's loss is the mean over its share, the gradient of the mean over the whole batch
is the mean of the ranks' gradients::

    grad L = (1/N) * sum_r grad L_r        (N ranks, equal shares)

so after ``backward()`` the ranks average their gradients (an all-reduce) and every
optimizer then takes the same step from the same weights: the copies never drift apart.

**Buckets, overlapped with the backward pass.** One all-reduce per parameter would pay
the per-message latency hundreds of times; one for the whole model would start only after
the backward pass ended. DDP packs the gradients into buckets of about ``bucket_cap_mb``
megabytes, in reverse registration order (roughly the order the backward produces them;
the first bucket is capped at 1 MB so communication starts early). When a parameter's
gradient is final (a post-accumulate-grad hook, fired by the engine as soon as the last node
feeding it has run), it is copied into its bucket; when a bucket is full its all-reduce
starts asynchronously while the backward pass carries on with earlier layers. Buckets are
launched in index order, so every rank issues the same collectives in the same order. At
the end of the backward (``autograd.queue_callback``) DDP waits for the buckets, divides by
the world size and writes the averages into ``.grad`` -- before ``optimizer.step()`` runs.

``no_sync()`` skips the reduction (gradients accumulate locally, e.g. over micro-batches);
the first backward outside it reduces the accumulated sum. ``find_unused_parameters=True``
walks the graph after each forward and counts parameters it does not reach as ready (zero
gradient), so a model whose forward skips some parameters still completes its buckets.
``broadcast_buffers=True`` copies rank 0's buffers (BatchNorm's running statistics) to every
rank at each training forward; :class:`~tinynet.nn.SyncBatchNorm` instead computes the
batch statistics over every rank.

``state_dict()`` has the plain module's keys (no ``module.`` prefix, unlike PyTorch), so a
checkpoint written by N processes loads into one and back.
"""
from __future__ import annotations

import contextlib
import time
import zlib

import numpy as _np

from ...autograd.engine import queue_callback, topological_order
from ...autograd.grad_mode import STATE as _GRAD_STATE, no_grad
from ...backend.errors import ArgumentError, DeviceError, ShapeError
from ...distributed import collectives as _coll
from ...distributed.process_group import ReduceOp, get_rank, get_world_size, is_initialized
from ...tensor.tensor import Tensor
from ..module import Module

#: PyTorch's first bucket is small so the first all-reduce starts as early as possible.
FIRST_BUCKET_BYTES = 1024 * 1024


class _Bucket:
    """Gradients of some parameters packed into one flat array, all-reduced together."""

    __slots__ = ("params", "offsets", "flat", "ready", "work")

    def __init__(self, params, xp, dtype):
        self.params = params
        sizes = [int(p.array.size) for p in params]
        self.offsets = _np.concatenate([[0], _np.cumsum(sizes)]).astype(int).tolist()
        self.flat = xp.zeros(self.offsets[-1], dtype=dtype)
        self.ready = 0
        self.work = None


def _bucketize(params, cap_bytes):
    """Split ``params`` (already in reverse registration order) into buckets of at most
    ``cap_bytes`` (the first one at most ``FIRST_BUCKET_BYTES``), one dtype per bucket."""
    buckets, current, size, dtype = [], [], 0, None
    limit = min(FIRST_BUCKET_BYTES, cap_bytes)
    for p in params:
        nbytes = p.array.nbytes
        if current and (size + nbytes > limit or p.array.dtype != dtype):
            buckets.append(current)
            current, size = [], 0
            limit = cap_bytes
        current.append(p)
        size += nbytes
        dtype = p.array.dtype
    if current:
        buckets.append(current)
    return buckets


def _tensors_in(obj):
    """Every Tensor inside a (nested) tuple/list/dict output."""
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _tensors_in(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors_in(o)


class DistributedDataParallel(Module):
    """Wrap ``module`` so that ``backward()`` averages its gradients over every rank.

    Construction broadcasts rank 0's parameters and buffers (every replica starts equal)
    and checks that every rank wraps the same architecture. Use it like the module::

        model = DistributedDataParallel(Net())      # after init_process_group("mpi")
        loss = loss_fn(model(x_local), y_local)      # this rank's share of the batch
        loss.backward()                              # gradients now averaged over ranks
        optimizer.step()

    ``bucket_cap_mb``: bucket size in MB (PyTorch's 25). ``find_unused_parameters``: allow a
    forward that leaves some parameters without gradient. ``broadcast_buffers``: copy rank
    0's buffers to the others at each training forward. ``gradient_as_bucket_view``: make
    each ``.grad`` a view into its bucket instead of a copy (saves memory and a copy).
    ``device_ids``/``output_device`` are accepted for PyTorch scripts and must name the
    module's own (single) device.
    """

    def __init__(self, module, device_ids=None, output_device=None, broadcast_buffers: bool = True,
                 process_group=None, bucket_cap_mb: float = 25, find_unused_parameters: bool = False,
                 gradient_as_bucket_view: bool = False):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be an nn.Module, got {type(module).__name__}")
        if not is_initialized():
            raise RuntimeError("DistributedDataParallel: the default process group is not initialized; call "
                               "tn.distributed.init_process_group('mpi') (or 'nccl' for cuda models) first (in processes started by mpiexec or "
                               "`python -m tinynet.distributed.run`)")
        if process_group is not None:
            raise ArgumentError("DistributedDataParallel: only the default process group is supported; leave "
                                "process_group=None")
        if not isinstance(bucket_cap_mb, (int, float)) or isinstance(bucket_cap_mb, bool) or not bucket_cap_mb > 0:
            raise ArgumentError(f"DistributedDataParallel: bucket_cap_mb must be a positive number, got "
                                f"{bucket_cap_mb!r}")
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        self.gradient_as_bucket_view = bool(gradient_as_bucket_view)
        self.bucket_cap_mb = bucket_cap_mb
        self.require_backward_grad_sync = True
        self.world_size = get_world_size()

        seen, params, names = set(), [], {}
        for name, p in module.named_parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append(p)
                names[id(p)] = name
        if not params:
            raise ArgumentError("DistributedDataParallel: the module has no parameter that requires grad; there is "
                                "nothing to average")
        self._check_devices(params, device_ids, output_device)
        self._names = names
        self._params = params
        self._check_same_model(module)
        with no_grad():
            self._broadcast_coalesced(list(module.parameters()) + list(module.buffers()))

        xp = params[0].device.xp
        self._buckets = [_Bucket(group, xp, group[0].array.dtype)
                         for group in _bucketize(params[::-1], int(bucket_cap_mb * 1024 * 1024))]
        self._where = {}
        for b, bucket in enumerate(self._buckets):
            for i, p in enumerate(bucket.params):
                self._where[id(p)] = (b, i)
        self._armed = False        # a forward with sync on happened: its backward reduces
        self._started = False      # this backward's finishing callback is queued
        self._next_launch = 0
        self._used = _np.zeros(len(params), dtype=_np.int32)
        self._index = {id(p): k for k, p in enumerate(params)}
        #: after each synced backward: how many buckets (and bytes) were already reduced when the
        #: backward pass ended -- the communication it hid -- and the seconds spent waiting for the rest
        self.comm_stats = None
        self._hook_handles = [p.register_post_accumulate_grad_hook(self._on_grad_ready) for p in params]

    # --- construction ---------------------------------------------------------------------
    @staticmethod
    def _check_devices(params, device_ids, output_device):
        devices = {p.device.type for p in params}
        if len(devices) != 1:
            raise DeviceError(f"DistributedDataParallel: the module's parameters are on several devices "
                              f"({sorted(devices)}); DDP replicates a module that lives on one device per rank")
        dev = params[0].device.type
        for what, given in (("device_ids", device_ids), ("output_device", output_device)):
            if given is None:
                continue
            ids = list(given) if isinstance(given, (list, tuple)) else [given]
            # an int is a GPU index (PyTorch's usual device_ids=[local_rank]); else "cpu", "cuda:0", a Device
            kinds = {"cuda" if isinstance(g, int) else str(getattr(g, "type", g)).split(":")[0] for g in ids}
            if len(ids) != 1 or kinds != {dev}:
                raise DeviceError(f"DistributedDataParallel: {what}={given!r} but the module is on {dev}; pass "
                                  f"the module's single device (or leave {what}=None)")

    def _check_same_model(self, module):
        """Every rank must wrap the same parameters (names, shapes, dtypes): compare a checksum."""
        signature = ";".join(f"{n}:{tuple(p.shape)}:{p.array.dtype}" for n, p in module.named_parameters())
        mine = Tensor(_np.array([zlib.crc32(signature.encode()), len(self._params)], dtype=_np.int64))
        every = [Tensor(_np.zeros(2, dtype=_np.int64)) for _ in range(self.world_size)]
        _coll.all_gather(every, mine)
        for r, other in enumerate(every):
            if not _np.array_equal(other.array, mine.array):
                raise ShapeError(f"DistributedDataParallel: rank {get_rank()} and rank {r} wrap different models "
                                 f"(parameter names/shapes/dtypes differ: {int(mine.array[1])} vs "
                                 f"{int(other.array[1])} parameters); every rank must build the same module")

    @staticmethod
    def _broadcast_coalesced(tensors):
        """Copy rank 0's values of ``tensors`` to every rank: one broadcast per dtype and device."""
        groups = {}
        for t in tensors:
            groups.setdefault((t.device.type, t.array.dtype), []).append(t)
        for group in groups.values():
            xp = group[0].device.xp
            flat = Tensor._make(xp.concatenate([t.array.reshape(-1) for t in group]), group[0].device)
            _coll.broadcast(flat, src=0)
            start = 0
            for t in group:
                n = t.array.size
                t.array[...] = flat.array[start:start + n].reshape(t.array.shape)
                t._version[0] += 1
                start += n

    # --- forward ----------------------------------------------------------------------------
    def forward(self, *inputs, **kwargs):
        sync = _GRAD_STATE.enabled and self.require_backward_grad_sync
        if sync and self.broadcast_buffers and self.world_size > 1:
            buffers = list(self.module.buffers())
            if buffers:
                with no_grad():
                    self._broadcast_coalesced(buffers)
        out = self.module(*inputs, **kwargs)
        self._armed = sync
        if sync:
            self._prepare_for_backward(out)
        return out

    def _prepare_for_backward(self, out):
        self._reset()
        if not self.find_unused_parameters:
            return
        roots = [t.grad_fn for t in _tensors_in(out) if t.grad_fn is not None]
        reached = {id(inp) for fn in topological_order(roots) for inp in fn.inputs if inp.grad_fn is None}
        for t in _tensors_in(out):
            reached.add(id(t))
        for p in self._params:
            if id(p) not in reached:
                self._mark_ready(p, None)

    def _reset(self):
        self._started = False
        self._next_launch = 0
        self._used[:] = 0
        for bucket in self._buckets:
            bucket.ready = 0
            bucket.work = None

    @contextlib.contextmanager
    def no_sync(self):
        """Inside this block, forwards+backwards only accumulate local gradients (no
        communication); the first backward after it averages the accumulated sums."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    # --- backward: hooks, buckets, the finishing callback -----------------------------------------
    def _on_grad_ready(self, p):
        if not self._armed:
            return
        if not self._started:
            self._started = True
            queue_callback(self._finish)
        self._used[self._index[id(p)]] = 1
        self._mark_ready(p, p.grad)
        for bucket in self._buckets[:self._next_launch]:  # let MPI progress the ones in flight
            if bucket.work is not None:
                bucket.work.is_completed()

    def _mark_ready(self, p, grad):
        b, i = self._where[id(p)]
        bucket = self._buckets[b]
        lo, hi = bucket.offsets[i], bucket.offsets[i + 1]
        if grad is None:
            bucket.flat[lo:hi] = 0
        else:
            bucket.flat[lo:hi] = grad.array.reshape(-1)
        bucket.ready += 1
        self._launch_ready()

    def _launch_ready(self):
        """Start the all-reduce of every full bucket, in index order (the same order on every rank)."""
        while self._next_launch < len(self._buckets):
            bucket = self._buckets[self._next_launch]
            if bucket.ready < len(bucket.params):
                return
            flat = Tensor._make(bucket.flat, bucket.params[0].device)
            bucket.work = _coll.all_reduce_unchecked(flat, ReduceOp.AVG, async_op=True)
            self._next_launch += 1

    def _finish(self):
        """End of backward: every bucket must have been launched; wait, then write ``.grad``."""
        if self._next_launch < len(self._buckets):
            missing = [self._names[id(p)] for bucket in self._buckets for k, p in enumerate(bucket.params)
                       if not self._used[self._index[id(p)]]]
            self._reset()
            raise RuntimeError(
                f"DistributedDataParallel: rank {get_rank()}: these parameters received no gradient in this backward: "
                f"{', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}; if the forward does not use every "
                "parameter, wrap the model with find_unused_parameters=True"
            )
        # how much communication the backward pass hid: buckets already reduced when it ended
        hidden = [bucket.work.is_completed() for bucket in self._buckets]
        waited = 0.0
        used_anywhere = None
        if self.find_unused_parameters:
            used = Tensor(self._used.copy())
            _coll.all_reduce_unchecked(used, ReduceOp.MAX)
            used_anywhere = used.array
        for bucket in self._buckets:
            start = time.perf_counter()
            bucket.work.wait()
            waited += time.perf_counter() - start
            device = bucket.params[0].device
            for i, p in enumerate(bucket.params):
                if used_anywhere is not None and not used_anywhere[self._index[id(p)]]:
                    continue
                avg = bucket.flat[bucket.offsets[i]:bucket.offsets[i + 1]].reshape(p.array.shape)
                if self.gradient_as_bucket_view:
                    p.grad = Tensor._make(avg, device)
                elif p.grad is None or tuple(p.grad.shape) != tuple(p.shape):
                    p.grad = Tensor._make(avg.copy(), device)
                else:
                    p.grad.array[...] = avg
                    p.grad._version[0] += 1
        self.comm_stats = {
            "buckets": len(self._buckets), "hidden_buckets": sum(hidden),
            "bytes": sum(b.flat.nbytes for b in self._buckets),
            "hidden_bytes": sum(b.flat.nbytes for b, h in zip(self._buckets, hidden) if h),
            "wait_seconds": waited}
        self._reset()
        self._armed = False  # one reduction per forward: later backwards (another wrapper's) are not ours

    # --- the plain module's view --------------------------------------------------------------
    def state_dict(self, *args, destination=None, prefix: str = "", keep_vars: bool = False):
        """The wrapped module's state dict (its own keys, no ``module.`` prefix)."""
        return self.module.state_dict(*args, destination=destination, prefix=prefix, keep_vars=keep_vars)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Load into the wrapped module (keys as the plain module's; a ``module.`` prefix from a
        PyTorch DDP checkpoint is also accepted)."""
        keys = list(state_dict.keys())
        if keys and all(k.startswith("module.") for k in keys):
            state_dict = {k[len("module."):]: v for k, v in state_dict.items()}
        return self.module.load_state_dict(state_dict, strict=strict, assign=assign)

    def extra_repr(self) -> str:
        return (f"world_size={self.world_size}, buckets={len(self._buckets)}, bucket_cap_mb={self.bucket_cap_mb}, "
                f"find_unused_parameters={self.find_unused_parameters}")
