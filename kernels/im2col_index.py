"""Sliding-window index arithmetic (im2col / col2im, pooling), written once as plain Python.

A convolution or pooling window of ``kh x kw`` taps slides over each ``H x W`` plane with
stride ``(sh, sw)``, dilation ``(dh, dw)`` and top/left padding ``(ph, pw)``. Output
``(oy, ox)`` reads, through tap ``(i, j)``, the input pixel::

    hh = oy*sh + i*dh - ph,    ww = ox*sw + j*dw - pw        (outside 0 <= hh < H, 0 <= ww < W: padding)

so along one axis, with ``offset = tap*dilation - pad``, output ``o`` reads input position
``o*stride + offset``. im2col unrolls the windows into the columns of one matrix, with rows
ordered like a flattened ``(O, C, kh, kw)`` weight and columns ordered ``(n, oy, ox)``::

    cols[(c, i, j), (n, oy, ox)] = x[n, c, hh, ww]      (0 on padding)

and col2im is its adjoint: every entry of ``cols`` is added back onto the pixel it was
copied from. The devices walk this map from opposite ends, so both directions are here:

* :func:`valid_outputs`: for one tap, the range of outputs that read inside the input (the
  cpu kernels copy or add whole strips of that range at once);
* :func:`reading_output`: for one input position, the output that reads it through one tap
  (the GPU kernels run one thread per pixel and gather, so no two threads write one pixel);
* :func:`unravel`: a flat thread index to the entry, cell or pixel it owns (GPU).

``kernels/cpu/conv.py`` compiles what it uses with ``numba.njit`` (inlined into its loops),
``kernels/cuda/conv.py`` and ``kernels/cuda/pooling.py`` with ``numba.cuda.jit(device=True)``.
Each function is a leaf (it calls no other function of this module): Numba compiles a
call to plain Python as an error, so the device files, which compile each function, are
where they are combined.
"""


def unravel(t, rows, cols):
    """``(block, row, col)`` of flat index ``t`` over C-ordered ``(blocks, rows, cols)``:
    ``t = (block*rows + row)*cols + col``. A row of ``cols`` unravels to ``(c, i, j)`` with
    ``(kh, kw)``, a column to ``(n, oy, ox)`` with ``(oh, ow)``, a cell of a stack of
    planes to ``(plane, y, x)``. Two divisions (the remainders by multiply-subtract): a GPU
    thread unravels one or two indices per entry it copies, and 64-bit integer division is
    slow there."""
    size = rows * cols
    block = t // size
    rest = t - block * size
    row = rest // cols
    return block, row, rest - row * cols


def valid_outputs(n_out, stride, offset, size):
    """``(lo, hi)``: the outputs ``o`` in ``[0, n_out)`` with ``0 <= o*stride + offset < size``
    (an empty range has ``lo == hi``)."""
    lo = 0
    if offset < 0:
        lo = (-offset + stride - 1) // stride
    hi = 0
    if size - offset > 0:
        hi = (size - offset + stride - 1) // stride
    hi = min(hi, n_out)
    lo = min(lo, hi)
    return lo, hi


def reading_output(pos, stride, offset, n_out):
    """The output ``o`` in ``[0, n_out)`` with ``o*stride + offset == pos``, or -1 when there
    is none (``pos - offset`` negative, not a multiple of the stride, or past the last output)."""
    a = pos - offset
    if a < 0 or a % stride != 0:
        return -1
    o = a // stride
    return o if o < n_out else -1
