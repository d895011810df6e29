"""Rebuilding a structurally pruned model smaller: ``shrink(model, example_input)``.

Structured pruning (``prune.ln_structured(layer, "weight", amount, n, dim=0)``) zeroes whole
output rows of a Linear weight or output channels of a Conv2d weight, but the tensors keep
their size, so nothing runs faster. :func:`shrink` returns a copy of the model in which
those channels are really gone:

* the producing layer loses the rows (out channels) whose weight slice is all zero, with
  their bias entries;
* a BatchNorm between it and the next layer loses the same channels (weight, bias and
  running statistics);
* the next Linear/Conv2d (the consumer) loses the matching *input* columns: for a Linear
  after ``Flatten``, the ``H*W`` columns each removed channel fed.

A channel whose weight slice is zero still outputs a constant: its bias ``b_c`` passed
through the layers in between, ``k_c = f(b_c)`` (``f``: activation, pooling, BatchNorm in
eval mode). When ``k_c = 0`` (bias pruned too, or ``relu`` of a negative bias) removing the
channel changes nothing. Otherwise its contribution to the consumer, ``W[:, c] · k_c``, is
the same for every input, so it is folded into the consumer's bias: exact for a Linear
consumer and for a Conv2d without padding. A zero-padded Conv2d sees the constant only
where its window is inside the image, a contribution that varies at the borders: shrink
refuses that case (prune the channels' bias too, e.g. with ``prune.custom_from_mask``).

Which layers feed which is read from one forward pass of ``example_input`` (the order in
which the leaf modules run), so it works for ``nn.Sequential`` stacks and models whose
``forward`` is such a chain, like tinynet's MLP and LeNet CNN. Supported in between a
producer and its consumer: activations, Dropout, max/average pooling, BatchNorm1d/2d,
Flatten and Identity; other layers end the chain (the producer before them is kept whole).
The output layer is never shrunk (its outputs are the model's outputs). Finally the shrunk
model's output on ``example_input`` is compared with the original's; a model whose forward
is not a chain (a residual connection, say) fails this check with an error instead of
returning a wrong model.
"""
from __future__ import annotations

import copy

from ...autograd.grad_mode import no_grad
from ...backend.errors import ArgumentError, ShapeError
from ...tensor.tensor import Tensor
from .. import activation as _act
from ..conv import Conv2d
from ..dropout import Dropout
from ..linear import Flatten, Identity, Linear
from ..module import Module
from ..normalization import BatchNorm1d, BatchNorm2d
from ..parameter import Parameter
from ..pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from . import prune as _prune

__all__ = ["dead_channels", "prune_dead_biases", "shrink"]

_CHANNELWISE = (Dropout, Identity, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, BatchNorm1d, BatchNorm2d, Flatten,
                _act.ReLU, _act.LeakyReLU, _act.Tanh, _act.Sigmoid, _act.GELU, _act.SiLU, _act.ELU)
_LAYERS = (Linear, Conv2d)


def _name(m) -> str:
    return _prune._describe(m)


def dead_channels(layer):
    """Boolean array: True for each output channel (row) of a Linear/Conv2d whose weight
    slice is all zero (taking any pruning mask into account)."""
    w = layer.weight.detach().array
    xp = layer.weight.device.xp
    return ~xp.any(w.reshape(w.shape[0], -1) != 0, axis=1)


def prune_dead_biases(model):
    """Prune (``prune.custom_from_mask``) the bias entries of every Linear/Conv2d output channel
    whose weight slice is all zero, so a pruned channel outputs exactly 0 and :func:`shrink`
    can remove it in front of any layer, zero-padded convolutions included. Returns the
    number of bias entries pruned. Layers without a bias are left alone."""
    total = 0
    for m in model.modules():
        if not isinstance(m, _LAYERS) or getattr(m, "bias", None) is None:
            continue
        dead = dead_channels(m)
        if not bool(dead.any()):
            continue
        bias = m.bias
        mask = Tensor._make((~dead).astype(bias.array.dtype), bias.device)
        _prune.custom_from_mask(m, "bias", mask)
        total += int(dead.sum())
    return total


def _trace(model, example_input):
    """The leaf modules in the order ``model(example_input)`` calls them, with each one's input shape."""
    calls, handles = [], []
    for m in model.modules():
        if not m._modules:
            handles.append(m.register_forward_pre_hook(
                lambda mod, args: calls.append((mod, tuple(args[0].shape) if args and isinstance(args[0], Tensor)
                                                else None))))
    try:
        with no_grad():
            out = model(example_input)
    finally:
        for h in handles:
            h.remove()
    return calls, out


def _deepcopy_pruned(model):
    """``copy.deepcopy`` of a model that may be pruned: a pruned tensor's computed value
    (``weight = weight_orig * weight_mask``, a non-leaf with history) cannot be deep-copied,
    so it is set aside during the copy and recomputed on both models afterwards."""
    pruned = [(m, h) for m in model.modules() for h in m._forward_pre_hooks.values()
              if isinstance(h, _prune.BasePruningMethod)]
    held = [(m, h, m.__dict__.pop(h._tensor_name, None)) for m, h in pruned]
    try:
        new = copy.deepcopy(model)
    finally:
        for m, h, value in held:
            if value is not None:
                object.__setattr__(m, h._tensor_name, value)
    for m in new.modules():
        for h in m._forward_pre_hooks.values():
            if isinstance(h, _prune.BasePruningMethod):
                object.__setattr__(m, h._tensor_name, h.apply_mask(m))
    return new


def _set(module, name, array):
    module._parameters[name] = Parameter(Tensor._make(array, module._parameters[name].device))


def _slice_buffer(module, name, keep):
    b = module._buffers.get(name)
    if b is not None:
        module._buffers[name] = Tensor._make(b.array[keep].copy(), b.device)


def shrink(model, example_input):
    """A copy of ``model`` with every all-zero output channel removed (see the module docstring).

    Args:
        model: an ``nn.Module`` whose forward is a chain of layers (pruned or not; pruning is
            made permanent in the copy, the original is left as it is).
        example_input: a batch the model accepts; its forward pass tells which layer feeds which.

    Returns the smaller model (same device and dtype, same mode, plain Parameters). Its
    outputs equal the original's (checked on ``example_input``).
    """
    if not isinstance(model, Module):
        raise TypeError(f"shrink: expected a tn.nn.Module, got {type(model).__name__}")
    if not isinstance(example_input, Tensor):
        raise TypeError(f"shrink: example_input must be a Tensor (a batch the model accepts), got "
                        f"{type(example_input).__name__}")
    was_training = model.training
    new = _deepcopy_pruned(model)
    for m in new.modules():
        for hook in [h for h in m._forward_pre_hooks.values() if isinstance(h, _prune.BasePruningMethod)]:
            _prune.remove(m, hook._tensor_name)
    model.eval()
    new.eval()
    try:
        with no_grad():
            reference = model(example_input)
        calls, _ = _trace(new, example_input)
        seen = set()
        for m, _shape in calls:
            if id(m) in seen and isinstance(m, _LAYERS + (BatchNorm1d, BatchNorm2d)):
                raise ArgumentError(f"shrink: {_name(m)} runs more than once in one forward pass; only models whose "
                                    "forward is a chain of distinct layers can be shrunk")
            seen.add(id(m))
        with no_grad():
            for i, (producer, _shape) in enumerate(calls):
                if isinstance(producer, _LAYERS):
                    _shrink_after(calls, i)
            out = new(example_input)
        xp = out.device.xp
        scale = float(xp.abs(reference.array).max()) if reference.array.size else 0.0
        if out.shape != reference.shape or not xp.allclose(out.array, reference.array, rtol=1e-4,
                                                           atol=1e-5 * max(1.0, scale)):
            raise ArgumentError(
                f"shrink: the rebuilt {type(model).__name__} does not reproduce the pruned model's outputs on "
                "example_input (max difference "
                f"{float(xp.abs(out.array - reference.array).max()) if out.shape == reference.shape else 'n/a'}); "
                "its forward is not a plain chain of layers (e.g. a residual connection), which shrink cannot follow")
    finally:
        model.train(was_training)
    new.train(was_training)
    return new


def _shrink_after(calls, i):
    """Remove the dead output channels of ``calls[i]`` and the matching inputs downstream."""
    producer = calls[i][0]
    if isinstance(producer, Conv2d) and producer.groups != 1:
        return
    between, consumer, consumer_shape = [], None, None
    for m, shape in calls[i + 1:]:
        if isinstance(m, _LAYERS):
            consumer, consumer_shape = m, shape
            break
        if not isinstance(m, _CHANNELWISE):
            return  # an unsupported layer: keep this producer whole
        between.append((m, shape))
    if consumer is None or (isinstance(consumer, Conv2d) and consumer.groups != 1):
        return
    dead = dead_channels(producer)
    n_out = int(dead.shape[0])
    n_dead = int(dead.sum())
    if n_dead == 0:
        return
    if n_dead == n_out:
        raise ArgumentError(f"shrink: every output channel of {_name(producer)} is pruned, so the model's output "
                            "does not depend on its input; prune a smaller amount")
    keep = ~dead
    flatten = [m for m, _ in between if isinstance(m, Flatten)]
    if flatten and (flatten[0].start_dim != 1 or flatten[0].end_dim != -1):
        return
    if isinstance(consumer, Linear) and not flatten and consumer.in_features != n_out:
        return
    if isinstance(consumer, Conv2d) and (flatten or consumer.in_channels != n_out):
        return
    xp = producer.weight.device.xp
    if flatten:
        flat_in = next(shape for m, shape in between if isinstance(m, Flatten))
        per = 1
        for s in flat_in[2:]:
            per *= s
        if consumer.in_features != n_out * per:
            return
        keep_cols = xp.repeat(keep, per)
    else:
        keep_cols = keep
    _fold_constants(producer, between, consumer, consumer_shape, dead, keep_cols)
    # the producer's rows
    _set(producer, "weight", producer.weight.array[keep].copy())
    if producer._parameters.get("bias") is not None:
        _set(producer, "bias", producer.bias.array[keep].copy())
    n_keep = int(keep.sum())
    if isinstance(producer, Linear):
        producer.out_features = n_keep
    else:
        producer.out_channels = n_keep
    # batch norms in between
    for m, _ in between:
        if isinstance(m, (BatchNorm1d, BatchNorm2d)):
            for p in ("weight", "bias"):
                if m._parameters.get(p) is not None:
                    _set(m, p, m._parameters[p].array[keep].copy())
            _slice_buffer(m, "running_mean", keep)
            _slice_buffer(m, "running_var", keep)
            m.num_features = n_keep
    # the consumer's columns
    _set(consumer, "weight", consumer.weight.array[:, keep_cols].copy())
    if isinstance(consumer, Linear):
        consumer.in_features = int(keep_cols.sum())
    else:
        consumer.in_channels = n_keep


def _fold_constants(producer, between, consumer, consumer_shape, dead, keep_cols):
    """Add the constant output of the dead channels (bias through the layers in between) to
    the consumer's bias, or refuse where that is not exact."""
    bias = producer._parameters.get("bias")
    if bias is None:
        return
    xp = bias.device.xp
    dev = bias.device
    out_shape = (1, producer.weight.shape[0]) + ((1, 1) if isinstance(producer, Conv2d) else ())
    if between or isinstance(producer, Conv2d):
        # the producer's output shape, batch 1: the input shape of the next module
        shape = between[0][1] if between else consumer_shape
        out_shape = (1,) + tuple(shape[1:])
    const = xp.zeros(out_shape, dtype=bias.array.dtype)
    b = xp.where(dead, bias.array, 0).astype(bias.array.dtype)
    const += b.reshape((1, -1) + (1,) * (len(out_shape) - 2))
    x = Tensor._make(const, dev)
    for m, _ in between:
        x = m(x)
    x = x.array.reshape(1, -1) if isinstance(consumer, Linear) else x.array
    if isinstance(consumer, Linear):
        x = x * (~keep_cols)  # only the dead channels' constants
    else:
        x = x * (~keep_cols).reshape(1, -1, 1, 1)
    if not xp.any(x != 0):
        return
    zero = Tensor._make(xp.zeros_like(x), dev)
    delta = (consumer(Tensor._make(x, dev)) - consumer(zero)).array
    if isinstance(consumer, Conv2d):
        corner = delta[:, :, :1, :1]
        if not xp.allclose(delta, corner, rtol=1e-5, atol=1e-6 * max(1.0, float(xp.abs(delta).max()))):
            raise ShapeError(
                f"shrink: the pruned channels of {_name(producer)} still output a constant (their bias), which "
                f"the zero-padded {_name(consumer)} sees differently at the image borders, so removing them would "
                f"change the outputs; prune their bias too (prune.custom_from_mask(layer, 'bias', mask)) "
                "before shrinking")
        delta = corner.reshape(-1)
    else:
        delta = delta.reshape(-1)
    cb = consumer._parameters.get("bias")
    if cb is None:
        consumer.bias = Parameter(Tensor._make(delta.astype(consumer.weight.array.dtype), dev))
    else:
        _set(consumer, "bias", (cb.array + delta).astype(cb.array.dtype))
