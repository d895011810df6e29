"""Variable-length sequences (PyTorch's ``torch.nn.utils.rnn``): padding and packing.

A batch of sequences of different lengths is either *padded* (one (T, B, *) tensor, the
short sequences filled with ``padding_value`` after their end) or *packed*: a
:class:`PackedSequence` keeps only the real steps, time-major, the sequences sorted by
decreasing length, so that step ``t`` holds the first ``batch_sizes[t]`` sequences::

    lengths [3, 1, 2] -> sorted order [0, 2, 1]; batch_sizes [3, 2, 1]
    data = [a0, c0, b0,  a1, c1,  a2]       (sequence a has 3 steps, b 1, c 2)

``nn.RNN``/``nn.LSTM``/``nn.GRU`` accept a PackedSequence and return one: each sequence
stops at its own length (its final hidden state is the one after its last real step, the
reverse direction starts at its last real step), with no computation on padding.

Every function here is differentiable with respect to the sequence values (packing and
padding are gathers), so a loss on a padded output back-propagates into the inputs.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as _np

from ...backend import get_device
from ...backend.errors import ShapeError
from ...functional.join import cat, stack
from ...tensor.creation import full
from ...tensor.tensor import Tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pack_sequence", "pad_packed_sequence",
           "pad_sequence", "unpack_sequence", "unpad_sequence"]


def _int_tensor(values, device=None):
    """An int64 tensor of ``values`` on ``device`` (default the cpu)."""
    dev = get_device("cpu") if device is None else device
    return Tensor._make(dev.from_host(_np.asarray(values, dtype=_np.int64)), dev)


def _host_ints(t):
    """A Tensor/sequence of integers as a host int64 NumPy array."""
    if isinstance(t, Tensor):
        return _np.asarray(t.device.to_host(t.array)).astype(_np.int64)
    return _np.asarray(t, dtype=_np.int64)


def invert_permutation(permutation):
    """The inverse of a permutation tensor (None stays None): ``out[perm[i]] = i``."""
    if permutation is None:
        return None
    p = _host_ints(permutation)
    inv = _np.empty_like(p)
    inv[p] = _np.arange(p.size, dtype=_np.int64)
    dev = permutation.device if isinstance(permutation, Tensor) else None
    return _int_tensor(inv, dev)


_PackedSequenceBase = namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])


class PackedSequence(_PackedSequenceBase):
    """A packed batch of variable-length sequences (see the module docstring).

    Fields (a named tuple, as PyTorch's): ``data`` (sum of lengths, *) the steps, time-major;
    ``batch_sizes`` (T,) int64 on the cpu, how many sequences are still running at each step;
    ``sorted_indices`` (B,) the original batch index of each packed column (None when the
    input was already sorted), ``unsorted_indices`` its inverse. Build one with
    :func:`pack_padded_sequence` or :func:`pack_sequence` rather than by hand.
    """

    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:
            raise TypeError("PackedSequence: batch_sizes is required (build packed sequences with "
                            "nn.utils.rnn.pack_padded_sequence or pack_sequence)")
        if isinstance(batch_sizes, Tensor) and batch_sizes.device.type != "cpu":
            raise ValueError("PackedSequence: batch_sizes should always be on the cpu (as PyTorch); "
                             "move it with .cpu() or use nn.utils.rnn.pack_padded_sequence")
        if not isinstance(batch_sizes, Tensor):
            batch_sizes = _int_tensor(batch_sizes)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def _apply_data(self, fn, move_indices=None):
        data = fn(self.data)
        si, ui = self.sorted_indices, self.unsorted_indices
        if move_indices is not None and si is not None:
            si, ui = si.to(move_indices), ui.to(move_indices)
        if data is self.data and si is self.sorted_indices:
            return self
        return type(self)(data, self.batch_sizes, si, ui)

    def to(self, *args, **kwargs):
        """Move/cast ``data`` as ``Tensor.to`` does; the indices follow the data's device,
        ``batch_sizes`` stays on the cpu (as PyTorch). Returns self when nothing changes."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        return self._apply_data(lambda _d: data, data.device)

    def cuda(self, *args, **kwargs):
        return self.to("cuda")

    def cpu(self, *args, **kwargs):
        return self.to("cpu")

    def double(self):
        return self._apply_data(lambda d: d.double())

    def float(self):
        return self._apply_data(lambda d: d.float())

    def half(self):
        return self._apply_data(lambda d: d.half())

    def long(self):
        return self._apply_data(lambda d: d.long())

    def int(self):
        return self._apply_data(lambda d: d.int())

    def short(self):
        return self._apply_data(lambda d: d.short())

    def char(self):
        return self._apply_data(lambda d: d.char())

    def byte(self):
        return self._apply_data(lambda d: d.byte())

    @property
    def is_cuda(self):
        """Whether the data lives on a cuda device."""
        return self.data.device.type == "cuda"

    def is_pinned(self):
        """Always False: tinynet has no pinned host memory."""
        return False


def _check_tensor(x, fn, what="input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}: {what} must be a Tensor, got {type(x).__name__}")


def pack_padded_sequence(input, lengths, batch_first: bool = False, enforce_sorted: bool = True):
    """Pack a padded batch ``input`` (T, B, *) ((B, T, *) with ``batch_first``) of sequences of
    ``lengths`` (a list or a cpu int64 tensor, each in 1..T) into a :class:`PackedSequence`.

    With ``enforce_sorted=True`` the lengths must be in decreasing order (``sorted_indices``
    is then None); with False the batch is sorted by decreasing length first (a stable sort,
    ties keep their order) and the permutation is recorded so that unpacking restores it.
    """
    fn = "pack_padded_sequence"
    _check_tensor(input, fn)
    if isinstance(lengths, Tensor) and lengths.device.type != "cpu":
        raise ValueError(f"{fn}: 'lengths' argument should be a 1D CPU int64 tensor, but got 1D "
                         f"{lengths.device.type} {lengths.dtype} tensor; pass lengths.cpu()")
    lens = _host_ints(lengths)
    if lens.ndim != 1:
        raise ShapeError(f"{fn}: lengths must be 1-D (one per sequence), got shape {tuple(lens.shape)}")
    if input.ndim < 2:
        raise ShapeError(f"{fn}: input must be (T, B, *) or (B, T, *) with batch_first, got shape "
                         f"{tuple(input.shape)}")
    x = input.swapaxes(0, 1) if batch_first else input
    T, B = x.shape[0], x.shape[1]
    if lens.size != B:
        raise ShapeError(f"{fn}: expected {B} lengths (the batch size of input {tuple(input.shape)}, "
                         f"batch_first={batch_first}), got {lens.size}")
    if B and lens.min() <= 0:
        raise ValueError(f"{fn}: Length of all samples has to be greater than 0, but found an element in "
                         f"'lengths' that is <= 0 (lengths {lens.tolist()})")
    if B and lens.max() > T:
        raise ShapeError(f"{fn}: a length ({int(lens.max())}) exceeds the padded length {T} of input "
                         f"{tuple(input.shape)} (batch_first={batch_first})")
    if enforce_sorted:
        if _np.any(lens[1:] > lens[:-1]):
            raise RuntimeError(f"{fn}: `lengths` array must be sorted in decreasing order when `enforce_sorted` is "
                               f"True (got {lens.tolist()}). You can pass `enforce_sorted=False` to "
                               "pack_padded_sequence and/or pack_sequence to sidestep this requirement if you do "
                               "not need ONNX exportability.")
        order, sorted_indices = _np.arange(B), None
    else:
        order = _np.argsort(-lens, kind="stable")
        sorted_indices = _int_tensor(order, input.device)
    slens = lens[order]
    batch_sizes = _np.array([(slens > t).sum() for t in range(int(slens[0]) if B else 0)], dtype=_np.int64)
    # flat index (t * B + original batch column) of every packed step, time-major
    idx = _np.concatenate([t * B + order[:bs] for t, bs in enumerate(batch_sizes)]) if B else _np.zeros(0, _np.int64)
    rest = tuple(x.shape[2:])
    data = x.reshape((T * B,) + rest)[idx]
    return PackedSequence(data, _int_tensor(batch_sizes), sorted_indices, invert_permutation(sorted_indices))


def pad_packed_sequence(sequence, batch_first: bool = False, padding_value: float = 0.0, total_length=None):
    """Undo :func:`pack_padded_sequence`: returns ``(padded, lengths)``, ``padded`` (T, B, *)
    ((B, T, *) with ``batch_first``) in the original batch order, filled with ``padding_value``
    after each sequence's end, and ``lengths`` (B,) int64 on the cpu. ``T`` is the longest
    length, or ``total_length`` when given (it must not be shorter)."""
    fn = "pad_packed_sequence"
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"{fn}: expected a PackedSequence, got {type(sequence).__name__}")
    bs = _host_ints(sequence.batch_sizes)
    data = sequence.data
    T = int(bs.size)
    B = int(bs[0]) if T else 0
    if total_length is not None:
        if int(total_length) < T:
            raise ValueError(f"{fn}: Expected total_length to be at least the length of the longest sequence in "
                             f"input, but got total_length={total_length} and max sequence length being {T}")
        T_out = int(total_length)
    else:
        T_out = T
    lens_sorted = _np.array([(bs > b).sum() for b in range(B)], dtype=_np.int64)
    order = _host_ints(sequence.sorted_indices) if sequence.sorted_indices is not None else _np.arange(B)
    # source row in data (or the padding row, index n) for every (t, original b)
    n = int(data.shape[0])
    src = _np.full((T_out, B), n, dtype=_np.int64)
    offsets = _np.concatenate([[0], _np.cumsum(bs)])
    for t in range(T):
        src[t, order[:bs[t]]] = offsets[t] + _np.arange(bs[t])
    if batch_first:
        src = src.T
    rest = tuple(data.shape[1:])
    pad_row = full((1,) + rest, padding_value, dtype=data.dtype, device=data.device)
    padded = cat([data, pad_row], axis=0)[src.reshape(-1)]
    padded = padded.reshape(src.shape + rest)
    lengths = _np.empty(B, dtype=_np.int64)
    lengths[order] = lens_sorted
    return padded, _int_tensor(lengths)


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0, padding_side: str = "right"):
    """Stack tensors of shapes (L_i, *) into one (T, B, *) tensor ((B, T, *) with ``batch_first``),
    T = max L_i, filling with ``padding_value`` after each sequence (``padding_side='right'``) or
    before it (``'left'``)."""
    fn = "pad_sequence"
    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0))
    sequences = list(sequences)
    if padding_side not in ("left", "right"):
        raise ValueError(f"{fn}: Expected padding_side to be one of left or right, but got {padding_side!r}.")
    if not sequences:
        raise ValueError(f"{fn}: received an empty list of sequences")
    for s in sequences:
        _check_tensor(s, fn, "every sequence")
    first = sequences[0]
    rest = tuple(first.shape[1:]) if first.ndim else ()
    for s in sequences:
        if s.ndim == 0 or tuple(s.shape[1:]) != rest:
            raise ShapeError(f"{fn}: every sequence must be (L_i, *) with the same trailing shape; got shapes "
                             f"{[tuple(q.shape) for q in sequences]}")
        if s.device is not first.device:
            raise ValueError(f"{fn}: sequences are on {first.device.type} and {s.device.type}; move them to one device")
    T = max(int(s.shape[0]) for s in sequences)
    cols = []
    for s in sequences:
        k = T - int(s.shape[0])
        if k:
            pad = full((k,) + rest, padding_value, dtype=s.dtype, device=s.device)
            s = cat([s, pad] if padding_side == "right" else [pad, s], axis=0)
        cols.append(s)
    return stack(cols, axis=0 if batch_first else 1)


def unpad_sequence(padded_sequences, lengths, batch_first: bool = False):
    """Split a padded batch back into a list of its sequences (``lengths[i]`` steps each)."""
    fn = "unpad_sequence"
    _check_tensor(padded_sequences, fn, "padded_sequences")
    lens = _host_ints(lengths)
    x = padded_sequences if batch_first else padded_sequences.swapaxes(0, 1)
    if lens.size != x.shape[0]:
        raise ShapeError(f"{fn}: expected {x.shape[0]} lengths, got {lens.size}")
    return [x[i, :int(n)] for i, n in enumerate(lens)]


def pack_sequence(sequences, enforce_sorted: bool = True):
    """Pack a list of tensors (L_i, *) (``pad_sequence`` then ``pack_padded_sequence``)."""
    sequences = list(sequences)
    lengths = [int(s.shape[0]) if isinstance(s, Tensor) and s.ndim else 0 for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """A PackedSequence back to the list of its sequences, in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
