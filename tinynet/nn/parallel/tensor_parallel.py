"""Tensor (intra-layer model) parallelism in the style of Megatron-LM (Shoeybi et al., 2019).

One layer's weight matrix is split across the ranks of the default process group, so a
layer too big for one process runs on several, each holding and computing its share.
A linear layer ``Y = X W^T + b`` with ``W`` of shape (out, in) can be split two ways:

- **by output features** (:class:`ColumnParallelLinear`; Megatron calls the split matrix's
  columns what are ``W``'s rows here, because it writes ``Y = X A`` with ``A = W^T``): rank
  ``r`` holds rows ``r*out/P .. (r+1)*out/P`` of ``W`` and computes that slice of ``Y``'s
  features from the whole input. No communication is needed to compute the slice.
- **by input features** (:class:`RowParallelLinear`): rank ``r`` holds columns
  ``r*in/P .. (r+1)*in/P`` of ``W``, multiplies its slice of ``X``'s features by them and
  gets a *partial sum* of ``Y``; the ``P`` partial sums are added with one all-reduce:
  ``Y = sum_r X_r W_r^T`` (+ ``b``, once, after the sum).

Put one after the other (column-split ``fc`` -> elementwise activation -> row-split
``proj``), the column split's output slice is exactly the row split's input slice, so an
MLP or an attention block (whose heads are independent) costs one all-reduce in forward
and one in backward, whatever the hidden width.

The communication lives in four autograd Functions, two conjugate pairs (the backward of
each is the forward of its partner, because each is the other's adjoint):

- :class:`CopyToTensorParallelRegion` (Megatron's *f*): forward identity, backward all-reduce (sum);
- :class:`ReduceFromTensorParallelRegion` (Megatron's *g*): forward all-reduce, backward identity;
- :class:`ScatterToTensorParallelRegion`: forward keeps this rank's block of the last
  dimension, backward all-gathers the blocks' gradients along it;
- :class:`GatherFromTensorParallelRegion`: forward all-gathers along the last dimension,
  backward keeps this rank's block of the gradient.

Because each backward is written as the partner Function, the backward is itself
differentiable (``create_graph=True``, ``gradgradcheck``).

Why *f*'s backward sums: a replicated input ``X`` feeds every rank's shard, so the loss
depends on ``X`` through all ``P`` of them and ``dL/dX = sum_r dL/dX|_r`` -- each rank only
knows its own term. Why *g*'s backward is the identity: ``Y = sum_r Y_r``, so
``dL/dY_r = dL/dY``, which every rank already holds (``Y`` is replicated after the sum).

The ranks of the default group (``tinynet.distributed.init_process_group``) are the
tensor-parallel group: its world size ``P`` is the tensor-parallel size. Everything that
is not split (inputs, layer norms, embeddings, biases of row-split layers) is replicated:
every rank holds the same values and computes the same thing, so every rank must be
seeded alike (``tn.manual_seed``) when dropout is used. Construction copies rank 0's
values to every rank (a broadcast of the full weight, as DistributedDataParallel does),
so the split model always equals one unsplit model.

The collectives are called as ``tinynet.distributed.all_reduce`` etc. (attribute lookups
at call time), so a test or profiler can wrap them to count or time the communication.

Example, run with ``mpiexec -n 2 python script.py``::

    dist.init_process_group("mpi")
    tn.manual_seed(0)                      # the same seed on every rank
    fc = nn.parallel.ColumnParallelLinear(512, 2048, gather_output=False)
    proj = nn.parallel.RowParallelLinear(2048, 512, input_is_parallel=True)
    y = proj(F.gelu(fc(x)))                # x, y: (..., 512) on every rank; 1 all-reduce each way
"""
from __future__ import annotations

import contextlib

from ... import distributed as dist
from ...autograd.function import Function
from ...autograd.grad_mode import no_grad
from ...backend import get_device
from ...backend.errors import DTypeError, ShapeError
from ...functional._args import as_int
from ...functional.linear import linear as _linear
from ...tensor import dtypes as _dt
from ...tensor.random import get_rng_state, set_rng_state
from ...tensor.tensor import Tensor
from .. import init
from ..linear import Linear
from ..module import Module
from ..parameter import empty_parameter

__all__ = ["CopyToTensorParallelRegion", "ReduceFromTensorParallelRegion", "ScatterToTensorParallelRegion",
           "GatherFromTensorParallelRegion", "copy_to_tensor_parallel_region", "reduce_from_tensor_parallel_region",
           "scatter_to_tensor_parallel_region", "gather_from_tensor_parallel_region", "ColumnParallelLinear",
           "RowParallelLinear", "tensor_parallel_world", "keep_rng_state"]


def tensor_parallel_world(owner: str) -> tuple:
    """``(world_size, rank)`` of the tensor-parallel group (the default process group).

    Raises a clear error naming ``owner`` when no process group is initialized: a
    tensor-parallel layer has no meaning without the ranks that hold its other shards."""
    if not dist.is_initialized():
        raise RuntimeError(
            f"{owner}: tensor parallelism splits the layer across the ranks of the default process group, "
            "which is not initialized; call tinynet.distributed.init_process_group('mpi') first and launch "
            "the script with `mpiexec -n N python script.py`"
        )
    return dist.get_world_size(), dist.get_rank()


def _check_input(op: str, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if x.ndim == 0:
        raise ShapeError(f"{op}: expected a tensor with at least one dimension (..., features), got a 0-d tensor")


def _split_last(op: str, x, world: int) -> int:
    last = x.shape[-1]
    if last % world:
        raise ShapeError(
            f"{op}: the last dimension of the input {tuple(x.shape)} is {last}, which does not divide into "
            f"{world} equal parts (one per rank); use a size divisible by the tensor-parallel world size {world}"
        )
    return last // world


def _all_reduce_copy(x):
    """A new tensor holding the sum of ``x`` over the ranks (``x`` itself is left as it is:
    a gradient array may be shared with other branches of the graph)."""
    out = Tensor._make(x.array.copy(), x.device)
    dist.all_reduce(out)
    return out


def _keep_slice(x, rank: int, part: int):
    """This rank's block ``rank*part .. (rank+1)*part`` of the last dimension, as a new array."""
    return Tensor._make(x.array[..., rank * part:(rank + 1) * part].copy(), x.device)


def _all_gather_last(x, world: int):
    """The ranks' ``x`` concatenated along the last dimension, in rank order.

    ``all_gather_into_tensor`` concatenates along dim 0, so the last dimension is moved to
    the front, gathered, and moved back: ``(..., k)`` -> ``(k, ...)`` -> ``(P*k, ...)`` ->
    ``(..., P*k)``."""
    xp = x.device.xp
    front = Tensor._make(xp.ascontiguousarray(xp.moveaxis(x.array, -1, 0)), x.device)
    out = Tensor._make(xp.empty((world * front.shape[0],) + tuple(front.shape[1:]), dtype=x.array.dtype), x.device)
    dist.all_gather_into_tensor(out, front)
    return Tensor._make(xp.ascontiguousarray(xp.moveaxis(out.array, 0, -1)), x.device)


class CopyToTensorParallelRegion(Function):
    """Enter the tensor-parallel region (Megatron's *f*): identity forward, all-reduce backward.

    Placed where a replicated tensor (the same on every rank) is consumed by every rank's
    shard of a split layer. The loss depends on it through every shard, so its gradient is
    the sum over ranks of each rank's partial gradient: ``dL/dx = sum_r dL/dx|_r``."""

    @staticmethod
    def forward(ctx, input_):
        _check_input("copy_to_tensor_parallel_region", input_)
        return Tensor._make(input_.array, input_.device, version=input_._version)  # a view: no copy

    @staticmethod
    def backward(ctx, grad_output):
        return ReduceFromTensorParallelRegion.apply(grad_output)


class ReduceFromTensorParallelRegion(Function):
    """Leave the tensor-parallel region by summing (Megatron's *g*): all-reduce forward,
    identity backward.

    Each rank holds a partial sum ``y_r`` (e.g. a row-split linear's ``x_r W_r^T``); the
    result ``y = sum_r y_r`` is replicated, and ``dL/dy_r = dL/dy`` on every rank."""

    @staticmethod
    def forward(ctx, input_):
        _check_input("reduce_from_tensor_parallel_region", input_)
        return _all_reduce_copy(input_)

    @staticmethod
    def backward(ctx, grad_output):
        return CopyToTensorParallelRegion.apply(grad_output)


class ScatterToTensorParallelRegion(Function):
    """Split the last dimension across ranks: forward keeps this rank's block (no
    communication), backward all-gathers the blocks' gradients into the full gradient."""

    @staticmethod
    def forward(ctx, input_):
        op = "scatter_to_tensor_parallel_region"
        _check_input(op, input_)
        world, rank = tensor_parallel_world(op)
        return _keep_slice(input_, rank, _split_last(op, input_, world))

    @staticmethod
    def backward(ctx, grad_output):
        return GatherFromTensorParallelRegion.apply(grad_output)


class GatherFromTensorParallelRegion(Function):
    """Concatenate the ranks' blocks along the last dimension (rank order): forward
    all-gathers, backward keeps this rank's block of the gradient (the other blocks'
    gradients belong to the other ranks, which compute them themselves)."""

    @staticmethod
    def forward(ctx, input_):
        op = "gather_from_tensor_parallel_region"
        _check_input(op, input_)
        world, _ = tensor_parallel_world(op)
        return _all_gather_last(input_, world)

    @staticmethod
    def backward(ctx, grad_output):
        return ScatterToTensorParallelRegion.apply(grad_output)


def copy_to_tensor_parallel_region(x):
    """Identity in forward, all-reduce of the gradient in backward (see :class:`CopyToTensorParallelRegion`)."""
    return CopyToTensorParallelRegion.apply(x)


def reduce_from_tensor_parallel_region(x):
    """Sum over the ranks in forward, identity in backward (see :class:`ReduceFromTensorParallelRegion`)."""
    return ReduceFromTensorParallelRegion.apply(x)


def scatter_to_tensor_parallel_region(x):
    """This rank's block of the last dimension; all-gather in backward (see :class:`ScatterToTensorParallelRegion`)."""
    return ScatterToTensorParallelRegion.apply(x)


def gather_from_tensor_parallel_region(x):
    """All ranks' blocks joined along the last dimension; split in backward (see :class:`GatherFromTensorParallelRegion`)."""
    return GatherFromTensorParallelRegion.apply(x)


def _broadcast_full(t):
    """A contiguous copy of ``t`` holding rank 0's values on every rank (one broadcast)."""
    full = Tensor._make(t.array.copy(), t.device)
    dist.broadcast(full, src=0)
    return full


@contextlib.contextmanager
def keep_rng_state():
    """Build a module inside this block without moving the global generator: the unsplit
    modules that ``to_linear``/``to_block`` fill with gathered values draw an initialisation
    that is thrown away, and a later dropout mask must not depend on that."""
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)


def _empty_linear(in_features, out_features, like, bias):
    """An ``nn.Linear`` on ``like``'s device and dtype, for the caller to fill."""
    with keep_rng_state():
        return Linear(in_features, out_features, bias=bias, device=like.device, dtype=like.array.dtype)


class _ParallelLinear(Module):
    """What the two split linears share: the sizes, the rank, input checks, construction."""

    _split = ""  # "out" or "in": which dimension of the (out, in) weight is split

    def _setup(self, in_features, out_features, bias, device, dtype):
        name = type(self).__name__
        self.in_features = as_int(in_features, "in_features", name, minimum=1)
        self.out_features = as_int(out_features, "out_features", name, minimum=1)
        self.world_size, self.rank = tensor_parallel_world(f"{name}({self.in_features}\u2192{self.out_features})")
        split = self.out_features if self._split == "out" else self.in_features
        if split % self.world_size:
            what = "out_features" if self._split == "out" else "in_features"
            raise ShapeError(
                f"{name}({self.in_features}\u2192{self.out_features}): {what}={split} must divide by the "
                f"tensor-parallel world size {self.world_size} (each rank holds {what} / world size of them); "
                f"choose {what} as a multiple of {self.world_size} or run on a world size that divides {split}"
            )
        self._device = get_device(device)
        self._dtype = _dt.to_dtype(dtype) or _dt.get_default_dtype()
        self._has_bias = bool(bias)

    def reset_parameters(self):
        """Draw the *full* weight and bias exactly as ``nn.Linear(in, out)`` does (PyTorch's
        default: uniform in ±1/sqrt(in_features)) and keep this rank's shard, so the split
        layer equals an ``nn.Linear`` built after the same ``tn.manual_seed``. Rank 0's draw
        is broadcast, so the shards always fit together even if the ranks' seeds differ."""
        dev, dt = self.weight.device, self.weight.array.dtype  # where the layer lives now (after .to())
        w = empty_parameter((self.out_features, self.in_features), dev, dt)
        b = empty_parameter((self.out_features,), dev, dt) if self._has_bias else None
        init.default_weight_and_bias_(w, b, self.in_features)
        self._load_full(w, b)

    @classmethod
    def _from_linear(cls, linear, **options):
        if not isinstance(linear, Linear):
            raise TypeError(f"{cls.__name__}.from_linear: expected an nn.Linear, got {type(linear).__name__}")
        return cls._from_full(linear.weight, linear.bias, **options)

    @classmethod
    def _from_full(cls, weight, bias, **options):
        """The split layer holding this rank's shard of the full ``weight`` (out, in) and
        ``bias`` (out,) or None (rank 0's values; nothing is drawn from the generator)."""
        layer = cls.__new__(cls)
        Module.__init__(layer)
        out_features, in_features = weight.shape
        layer._setup(in_features, out_features, bias is not None, weight.device, weight.dtype)
        for key, value in options.items():
            setattr(layer, key, bool(value))
        layer._make_parameters()
        layer._load_full(weight, bias)
        return layer

    def _label(self) -> str:
        return (f"{type(self).__name__}({self.in_features}\u2192{self.out_features}, "
                f"rank {self.rank} of {self.world_size})")

    def _check(self, x, features: int, what: str):
        label = self._label()
        if not isinstance(x, Tensor):
            raise TypeError(f"{label}: expected a Tensor input, got {type(x).__name__}; wrap data with tn.tensor(...)")
        if x.ndim == 0 or x.shape[-1] != features:
            raise ShapeError(f"{label}: expected input with {features} features (last axis; {what}), "
                             f"got shape {tuple(x.shape)}")
        w = self.weight
        if x.device is not w.device:
            raise RuntimeError(f"{label}: input is on {x.device.type} but the layer's weights are on "
                               f"{w.device.type}; move one, e.g. `x.to('{w.device.type}')`")
        if x.array.dtype != w.array.dtype:
            raise DTypeError(f"{label}: input is {x.dtype} but the layer's weights are {w.dtype}; "
                             f"convert one, e.g. `x.to({w.dtype})`")


class ColumnParallelLinear(_ParallelLinear):
    """``nn.Linear(in_features, out_features)`` with its output features split across ranks.

    Rank ``r`` holds ``weight`` of shape (out_features / P, in_features): rows
    ``r*out/P .. (r+1)*out/P`` of the full weight, and the same slice of the bias. The input
    is replicated (every rank passes the same ``x``); rank ``r`` computes
    ``y_r = x W_r^T + b_r``, features ``r*out/P .. (r+1)*out/P`` of the full output.

    ``gather_output=True`` all-gathers the slices, so ``forward`` returns the full
    (..., out_features) output on every rank; ``gather_output=False`` returns this rank's
    (..., out_features / P) slice, ready for a :class:`RowParallelLinear` with
    ``input_is_parallel=True`` (Megatron's MLP and attention: no communication in between).
    In backward, the input's gradient is all-reduced (``copy_to_tensor_parallel_region``):
    each rank's shard contributes a term of it.

    ``out_features`` must divide by the world size P. Construction draws the full weight as
    ``nn.Linear`` does (same seed, same values) and keeps the shard; ``from_linear`` shards
    an existing ``nn.Linear``. Unlike Megatron's layer, ``forward`` returns one tensor (the
    bias is added inside, as ``nn.Linear`` does).
    """

    _split = "out"

    def __init__(self, in_features: int, out_features: int, bias: bool = True, gather_output: bool = True,
                 device=None, dtype=None):
        super().__init__()
        self._setup(in_features, out_features, bias, device, dtype)
        self.gather_output = bool(gather_output)
        self._make_parameters()
        self.reset_parameters()

    @property
    def output_size_per_partition(self) -> int:
        """How many output features this rank computes: out_features / world size."""
        return self.out_features // self.world_size

    def _make_parameters(self):
        part = self.output_size_per_partition
        self.weight = empty_parameter((part, self.in_features), self._device, self._dtype)
        self.register_parameter("bias", empty_parameter((part,), self._device, self._dtype) if self._has_bias else None)

    def _load_full(self, weight, bias):
        part, r = self.output_size_per_partition, self.rank
        with no_grad():
            self.weight.copy_(_broadcast_full(weight).array[r * part:(r + 1) * part])
            if self.bias is not None:
                self.bias.copy_(_broadcast_full(bias).array[r * part:(r + 1) * part])

    @classmethod
    def from_linear(cls, linear, gather_output: bool = True):
        """Shard an existing ``nn.Linear`` (its values are copied; rank 0's copy is used on
        every rank): this rank keeps rows ``r*out/P .. (r+1)*out/P`` of weight and bias."""
        return cls._from_linear(linear, gather_output=gather_output)

    def forward(self, x):
        self._check(x, self.in_features, "the input is replicated on every rank")
        y = _linear(copy_to_tensor_parallel_region(x), self.weight, self.bias)
        return gather_from_tensor_parallel_region(y) if self.gather_output else y

    def to_linear(self):
        """The full ``nn.Linear`` on every rank (weights all-gathered; e.g. to save a checkpoint
        that loads into the unsplit model)."""
        full = _empty_linear(self.in_features, self.out_features, self.weight, self.bias is not None)
        with no_grad():
            full.weight.copy_(_all_gather_last(self.weight.detach().T, self.world_size).T)
            if self.bias is not None:
                full.bias.copy_(_all_gather_last(self.bias.detach(), self.world_size))
        return full

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
                f"gather_output={self.gather_output}, world_size={self.world_size}, rank={self.rank}")


class RowParallelLinear(_ParallelLinear):
    """``nn.Linear(in_features, out_features)`` with its input features split across ranks.

    Rank ``r`` holds ``weight`` of shape (out_features, in_features / P): columns
    ``r*in/P .. (r+1)*in/P`` of the full weight. It multiplies its slice of the input by
    them, a partial sum ``x_r W_r^T``; one all-reduce adds the P partial sums, then the
    bias (replicated, shape (out_features,)) is added once:
    ``y = sum_r x_r W_r^T + b``. The output is replicated on every rank.

    ``input_is_parallel=False`` (default): ``x`` is the full (..., in_features) input on
    every rank and the layer keeps its slice (the backward all-gathers the slices'
    gradients). ``input_is_parallel=True``: ``x`` is already this rank's
    (..., in_features / P) slice, e.g. the output of a :class:`ColumnParallelLinear` with
    ``gather_output=False`` (through an elementwise activation).

    ``in_features`` must divide by the world size P. Construction draws the full weight as
    ``nn.Linear`` does and keeps the shard; ``from_linear`` shards an existing ``nn.Linear``.
    """

    _split = "in"

    def __init__(self, in_features: int, out_features: int, bias: bool = True, input_is_parallel: bool = False,
                 device=None, dtype=None):
        super().__init__()
        self._setup(in_features, out_features, bias, device, dtype)
        self.input_is_parallel = bool(input_is_parallel)
        self._make_parameters()
        self.reset_parameters()

    @property
    def input_size_per_partition(self) -> int:
        """How many input features this rank multiplies: in_features / world size."""
        return self.in_features // self.world_size

    def _make_parameters(self):
        self.weight = empty_parameter((self.out_features, self.input_size_per_partition), self._device, self._dtype)
        self.register_parameter("bias", empty_parameter((self.out_features,), self._device, self._dtype)
                                if self._has_bias else None)

    def _load_full(self, weight, bias):
        part, r = self.input_size_per_partition, self.rank
        with no_grad():
            self.weight.copy_(_broadcast_full(weight).array[:, r * part:(r + 1) * part])
            if self.bias is not None:
                self.bias.copy_(_broadcast_full(bias))

    @classmethod
    def from_linear(cls, linear, input_is_parallel: bool = False):
        """Shard an existing ``nn.Linear`` (its values are copied; rank 0's copy is used on
        every rank): this rank keeps columns ``r*in/P .. (r+1)*in/P`` of the weight and the
        whole bias."""
        return cls._from_linear(linear, input_is_parallel=input_is_parallel)

    def forward(self, x):
        if self.input_is_parallel:
            self._check(x, self.input_size_per_partition,
                        f"input_is_parallel=True: this rank's slice, in_features / {self.world_size}")
        else:
            self._check(x, self.in_features, "input_is_parallel=False: the full input, replicated on every rank")
            x = scatter_to_tensor_parallel_region(x)
        y = reduce_from_tensor_parallel_region(_linear(x, self.weight))
        return y if self.bias is None else y + self.bias

    def to_linear(self):
        """The full ``nn.Linear`` on every rank (weight columns all-gathered)."""
        full = _empty_linear(self.in_features, self.out_features, self.weight, self.bias is not None)
        with no_grad():
            full.weight.copy_(_all_gather_last(self.weight.detach(), self.world_size))
            if self.bias is not None:
                full.bias.copy_(self.bias)
        return full

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
                f"input_is_parallel={self.input_is_parallel}, world_size={self.world_size}, rank={self.rank}")
