"""Matrix products, contractions, norms and matrix functions.

For C = A @ B the chain rule gives dL/dA = dL/dC @ B^T and dL/dB = A^T @ dL/dC. Batched
and broadcast operands follow NumPy's ``matmul``: leading (batch) axes broadcast, and
``unbroadcast`` sums the gradient over the axes an operand was broadcast along. A 1-D
operand is treated as a row (left) or column (right) vector and the added axis dropped.

The PyTorch products ``mm``, ``bmm``, ``mv``, ``dot``, ``vdot``, ``outer``, ``addmm`` and
friends check their operands' ranks (as PyTorch does) and then are ``matmul``. ``einsum``
is one op whose gradient for each operand is another ``einsum`` (of the output gradient with
the other operands), so it differentiates to any order; ``tensordot`` and ``kron`` are built
on it and on reshapes.

Norms follow ``torch.norm`` / ``torch.linalg.vector_norm``: the p-norm
``(sum |x|^p)^(1/p)`` has gradient ``sign(x) |x|^(p-1) / norm^(p-1)``, taken as 0 where the
norm is 0 (PyTorch's subgradient, so ``norm(x - x)`` does not give NaN). Matrix functions
(``inv``, ``det``, ``solve``, ``cholesky``) and decompositions (``eigh``, ``svd``, ``qr``, as
PyTorch's, each one op whose outputs are packed into one array and sliced apart) have their
textbook gradients written with these same ops, so they differentiate again; ``svdvals`` (and
the spectral and nuclear norms built on it) has the gradient ``U diag(g) V^T``, whose plain
``backward()`` stays finite when singular values repeat.
"""
from __future__ import annotations

import math
import numbers
import string

from ..backend.errors import ArgumentError, DTypeError, ShapeError
from ..autograd.autocast_state import STATE as _AUTOCAST
from ..autograd.op import Op
from ..tensor import creation as _creation
from ..tensor.tensor import Tensor
from ._autocast import autocast_float32, autocast_lower
from ._util import normalize_axis, pair, unbroadcast, unbroadcast_array
from .elementwise import abs as _abs
from .elementwise import sign, where
from .join import cat as _cat
from .join import stack as _stack
from .layout import diagonal, movedim
from .reduction import amax, amin

__all__ = [  # the public ops: tinynet.functional and tn.<name> export these
    "addbmm", "addmm", "addmv", "addr", "baddbmm", "bmm", "cdist", "cholesky", "det", "dist", "dot", "einsum",
    "cross", "ger", "inner", "inverse", "kron", "logdet", "matmul", "matrix_exp", "matrix_norm", "matrix_power", "mm", "mv", "norm", "outer",
    "slogdet", "svdvals", "tensordot", "trace", "vdot", "vector_norm",
]
# eigh, eigvalsh, qr, solve and svd are reached as tn.linalg.<name> only: torch.svd / torch.qr at
# the top level have older conventions (V rather than Vh, some=True) that these do not follow.


class MatMul(Op):
    name = "matmul"
    saves_output = False

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(f"matmul: both operands need at least 1 dimension, got shapes {tuple(a.shape)} and {tuple(b.shape)}; use * for scalars")
        k_a = a.shape[-1]
        k_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
        if k_a != k_b:
            raise ShapeError(
                f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} are not aligned: the last axis of "
                f"the first ({k_a}) must equal the {'second-to-last' if b.ndim > 1 else 'only'} axis of the second ({k_b})"
            )
        try:
            return a @ b
        except ValueError:
            raise ShapeError(f"matmul: batch axes of {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast together") from None

    def backward(self, g):
        a, b = self.inputs
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        if a.ndim == 1 and b.ndim == 1:
            g2 = g.reshape(1, 1)
        elif a.ndim == 1:
            g2 = g.unsqueeze(-2)
        elif b.ndim == 1:
            g2 = g.unsqueeze(-1)
        else:
            g2 = g
        ga = gb = None
        if a._requires_grad:
            ga = unbroadcast(g2 @ b2.swapaxes(-1, -2), a2.shape).reshape(a.shape)
        if b._requires_grad:
            gb = unbroadcast(a2.swapaxes(-1, -2) @ g2, b2.shape).reshape(b.shape)
        return ga, gb

    def backward_array(self, g):
        a, b = self.inputs
        ad, bd = a.array, b.array
        if ad.ndim == 2 and bd.ndim == 2:  # the common case: plain matrices, no broadcasting
            return (g @ bd.T if a._requires_grad else None,
                    ad.T @ g if b._requires_grad else None)
        a2 = ad.reshape(1, -1) if ad.ndim == 1 else ad
        b2 = bd.reshape(-1, 1) if bd.ndim == 1 else bd
        if ad.ndim == 1 and bd.ndim == 1:
            g2 = g.reshape(1, 1)
        elif ad.ndim == 1:
            g2 = self.xp.expand_dims(g, -2)
        elif bd.ndim == 1:
            g2 = self.xp.expand_dims(g, -1)
        else:
            g2 = g
        ga = gb = None
        if a._requires_grad:
            ga = unbroadcast_array(g2 @ b2.swapaxes(-1, -2), a2.shape).reshape(ad.shape)
        if b._requires_grad:
            gb = unbroadcast_array(a2.swapaxes(-1, -2) @ g2, b2.shape).reshape(bd.shape)
        return ga, gb


def matmul(a, b):
    """Matrix product with NumPy's rules (batched, broadcasting, 1-D operands).

    Under ``tn.autocast`` its operands are cast to the autocast dtype (a lower-precision op),
    as are those of ``mm``, ``bmm``, ``addmm``, ``baddbmm``, ``addbmm`` and ``einsum`` (and, on
    cuda only, ``mv``, ``addmv``, ``addr``): PyTorch's lists, see ``functional/_autocast.py``.
    """
    a, b = pair(a, b, "matmul")
    if _AUTOCAST.active:
        a, b = autocast_lower("matmul", a, b)
    return MatMul.apply(a, b)


def _matmul(a, b):
    """``matmul`` without the autocast cast: for the products PyTorch does not lower (dot, ...)."""
    return MatMul.apply(*pair(a, b, "matmul"))


# --- products with PyTorch's rank checks --------------------------------------------------------
def _need(t, ndim, op, what):
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: {what} must be a Tensor, got {type(t).__name__}")
    if t.ndim != ndim:
        raise ShapeError(f"{op}: {what} must be a {ndim}-D tensor, got shape {tuple(t.shape)}")


def _same_dtype(op, *ts):
    if len({t.dtype for t in ts}) > 1:
        desc = " and ".join(str(t.dtype) for t in ts)
        raise DTypeError(f"{op}: expected operands of one dtype, got {desc}; convert one with .to(other.dtype)")


def dot(input, tensor):
    """Inner product of two 1-D tensors of equal length."""
    _need(input, 1, "dot", "input"), _need(tensor, 1, "dot", "tensor")
    if input.shape[0] != tensor.shape[0]:
        raise ShapeError(f"dot: 1-D tensors of different lengths {input.shape[0]} and {tensor.shape[0]}")
    return _matmul(input, tensor)


def vdot(input, other):
    """``sum(conj(input) * other)`` of two 1-D tensors; tinynet's tensors are real, so ``dot``."""
    _need(input, 1, "vdot", "input"), _need(other, 1, "vdot", "other")
    if input.shape[0] != other.shape[0]:
        raise ShapeError(f"vdot: 1-D tensors of different lengths {input.shape[0]} and {other.shape[0]}")
    return _matmul(input, other)


def inner(input, other):
    """Sum of products over the last axes (a scalar times a tensor when either is 0-D)."""
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise ShapeError(f"inner: the last dimensions of {tuple(input.shape)} and {tuple(other.shape)} differ")
    return tensordot(input, other, ([input.ndim - 1], [other.ndim - 1]))


def mm(input, mat2):
    """Product of two matrices ``(n, m) @ (m, p)`` (no broadcasting: use matmul for that)."""
    _need(input, 2, "mm", "input"), _need(mat2, 2, "mm", "mat2")
    if input.shape[1] != mat2.shape[0]:
        raise ShapeError(
            f"mm: shapes {tuple(input.shape)} and {tuple(mat2.shape)} cannot be multiplied "
            f"({input.shape[1]} columns vs {mat2.shape[0]} rows)"
        )
    return _matmul(*autocast_lower("mm", input, mat2))


def bmm(input, mat2):
    """Batched product ``(b, n, m) @ (b, m, p)``; the batch sizes must be equal (no broadcasting)."""
    _need(input, 3, "bmm", "input"), _need(mat2, 3, "bmm", "mat2")
    if input.shape[0] != mat2.shape[0] or input.shape[2] != mat2.shape[1]:
        raise ShapeError(
            f"bmm: shapes {tuple(input.shape)} and {tuple(mat2.shape)} don't match: expected (b, n, m) and (b, m, p)"
        )
    return _matmul(*autocast_lower("bmm", input, mat2))


def mv(input, vec):
    """Matrix-vector product ``(n, m) @ (m,)``."""
    _need(input, 2, "mv", "input"), _need(vec, 1, "mv", "vec")
    if input.shape[1] != vec.shape[0]:
        raise ShapeError(f"mv: matrix {tuple(input.shape)} and vector {tuple(vec.shape)} don't match")
    return _matmul(*autocast_lower("mv", input, vec))


def outer(input, vec2):
    """Outer product of two 1-D tensors: ``out[i, j] = input[i] * vec2[j]``."""
    _need(input, 1, "outer", "input"), _need(vec2, 1, "outer", "vec2")
    return input.reshape(-1, 1) * vec2.reshape(1, -1)


ger = outer


def _scaled_add(op, input, prod, beta, alpha):
    """``beta * input + alpha * prod`` (PyTorch's ``add*`` ops): ``input`` must broadcast to the
    product's shape; with ``beta == 0`` it is not read (NaN in it does not propagate)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    ins, outs = tuple(input.shape), tuple(prod.shape)
    if len(ins) > len(outs) or any(i not in (1, o) for i, o in zip(ins[::-1], outs[::-1])):
        raise ShapeError(
            f"{op}: input of shape {tuple(input.shape)} can't be broadcast to the product's shape {tuple(prod.shape)}"
        )
    out = prod if alpha == 1 else prod * alpha
    if beta == 0:
        return out
    return out + (input if beta == 1 else input * beta)


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat1 @ mat2)`` for matrices; ``input`` broadcasts."""
    input, mat1, mat2 = autocast_lower("addmm", input, mat1, mat2)
    return _scaled_add("addmm", input, mm(mat1, mat2), beta, alpha)


def addmv(input, mat, vec, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat @ vec)``."""
    input, mat, vec = autocast_lower("addmv", input, mat, vec)
    return _scaled_add("addmv", input, mv(mat, vec), beta, alpha)


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    """``beta * input + alpha * outer(vec1, vec2)``."""
    input, vec1, vec2 = autocast_lower("addr", input, vec1, vec2)
    return _scaled_add("addr", input, outer(vec1, vec2), beta, alpha)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * sum_b batch1[b] @ batch2[b]`` (the batch is summed away)."""
    input, batch1, batch2 = autocast_lower("addbmm", input, batch1, batch2)
    return _scaled_add("addbmm", input, bmm(batch1, batch2).sum(axis=0), beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * (batch1 @ batch2)`` per batch element."""
    input, batch1, batch2 = autocast_lower("baddbmm", input, batch1, batch2)
    return _scaled_add("baddbmm", input, bmm(batch1, batch2), beta, alpha)


# --- einsum -------------------------------------------------------------------------------------
class Einsum(Op):
    """``einsum`` on operands whose sizes already agree per letter (broadcasting was done by
    ``expand`` before). ``terms`` are the operands' subscripts, ``out_term`` the output's, all
    explicit letters (no ``...``).

    The gradient for operand i is an einsum of the output gradient with the other operands
    onto operand i's distinct letters; letters that only operand i has (summed away in the
    forward) are broadcast back, and a letter repeated in operand i (a diagonal) puts the
    gradient back on that diagonal through an einsum with identity matrices.
    """

    name = "einsum"
    saves_output = False  # the backward reads the operands, never the output

    def forward(self, *arrays):
        eq = ",".join(self.terms) + "->" + self.out_term
        # optimize: contract through BLAS (tensordot) in a good order instead of one nested loop
        return self.xp.asarray(self.xp.einsum(eq, *arrays, optimize=self.optimize))

    def backward(self, g):
        grads = []
        for i, t in enumerate(self.inputs):
            grads.append(_einsum_grad(g, self.inputs, i, self.terms, self.out_term) if t._requires_grad else None)
        return tuple(grads)


def _einsum_op(tensors, terms, out_term):
    """Run :class:`Einsum`; NumPy's path optimizer only pays off beyond tiny operands."""
    big = any(t.array.size > 64 for t in tensors)
    return Einsum.apply(*tensors, terms=list(terms), out_term=out_term, optimize=big)


def _einsum_grad(g, inputs, i, terms, out_term):
    term = terms[i]
    x = inputs[i]
    sizes = dict(zip(term, x.shape))
    uniq = "".join(dict.fromkeys(term))
    others = [j for j in range(len(inputs)) if j != i]
    avail = set(out_term).union(*[set(terms[j]) for j in others])
    have = "".join(c for c in uniq if c in avail)
    grad = _einsum_op([g] + [inputs[j] for j in others], [out_term] + [terms[j] for j in others], have)
    if have != uniq:  # letters summed away in the forward: the gradient is constant along them
        grad = grad.reshape(tuple(sizes[c] if c in have else 1 for c in uniq))
        grad = grad.expand(tuple(sizes[c] for c in uniq))
    if uniq != term:  # a repeated letter (a diagonal): back onto the diagonal through identities
        used = set("".join(terms) + out_term)
        fresh = iter(c for c in string.ascii_letters if c not in used)
        seen, full, eye_terms, eyes = set(), [], [], []
        for c in term:
            if c in seen:
                f = next(fresh)
                full.append(f)
                eye_terms.append(c + f)
                eyes.append(_creation.eye(sizes[c], dtype=x.dtype, device=x.device))
            else:
                seen.add(c)
                full.append(c)
        grad = _einsum_op([grad] + eyes, [uniq] + eye_terms, "".join(full))
    return grad


def _parse_einsum(equation, shapes):
    """Explicit subscripts (``...`` replaced by letters) per operand and for the output."""
    eq = equation.replace(" ", "")
    if eq.count("->") > 1:
        raise ArgumentError(f"einsum: equation {equation!r} has more than one '->'")
    lhs, rhs = eq.split("->") if "->" in eq else (eq, None)
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ArgumentError(
            f"einsum: equation {equation!r} has {len(terms)} operand subscripts but {len(shapes)} operands were given"
        )
    for part in terms + ([rhs] if rhs is not None else []):
        rest = part.replace("...", "", 1)
        if any(not (c in string.ascii_letters) for c in rest):
            raise ArgumentError(f"einsum: invalid subscript {part!r} in {equation!r}: use letters a-z, A-Z and one '...'")
    used = set(c for c in eq if c in string.ascii_letters)
    free = [c for c in string.ascii_letters if c not in used]
    counts = []
    for term, shape in zip(terms, shapes):
        n = len(term) - (3 if "..." in term else 0)
        if ("..." in term and n > len(shape)) or ("..." not in term and n != len(shape)):
            raise ShapeError(
                f"einsum: subscripts {term!r} name {n} dimensions but the operand has shape {tuple(shape)} "
                f"({len(shape)} dimensions) in {equation!r}"
            )
        counts.append(len(shape) - n if "..." in term else 0)
    n_ell = max(counts, default=0)
    ell = "".join(free[:n_ell])
    terms = [t.replace("...", ell[n_ell - k:]) for t, k in zip(terms, counts)]
    if rhs is None:
        letters = "".join(terms)
        rhs = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ell))
    else:
        rhs = rhs.replace("...", ell)
        if len(set(rhs)) != len(rhs):
            raise ArgumentError(f"einsum: output subscripts {rhs!r} repeat a letter in {equation!r}")
        missing = [c for c in rhs if c not in "".join(terms)]
        if missing:
            raise ArgumentError(f"einsum: output letter {missing[0]!r} does not appear in any operand of {equation!r}")
    sizes = {}
    for term, shape in zip(terms, shapes):
        for c, n in zip(term, shape):
            if sizes.get(c, 1) == 1:
                sizes[c] = n
            elif n != 1 and n != sizes[c]:
                raise ShapeError(
                    f"einsum: subscript {c!r} stands for axes of sizes {sizes[c]} and {n}, which must be equal (or 1) "
                    f"(shapes {[tuple(s) for s in shapes]}, equation {equation!r})"
                )
    return terms, rhs, sizes


def _sublist_equation(args):
    """``(equation, operands)`` from the sublist form ``op0, sub0, op1, sub1, ..., [out]``."""
    def letters(sub):
        out = []
        for v in sub:
            if v is Ellipsis:
                out.append("...")
            elif isinstance(v, numbers.Integral) and 0 <= int(v) < 52:
                out.append(string.ascii_letters[int(v)])
            else:
                raise ArgumentError(f"einsum: sublist labels must be ints in [0, 52) or Ellipsis, got {v!r}")
        return "".join(out)

    args = list(args)
    out = letters(args.pop()) if len(args) % 2 else None
    operands, terms = args[0::2], args[1::2]
    for t in operands:
        if not isinstance(t, Tensor):
            raise TypeError(f"einsum: in the sublist form operands and label lists alternate; got {type(t).__name__}")
    eq = ",".join(letters(t) for t in terms) + ("" if out is None else "->" + out)
    return eq, tuple(operands)


def einsum(equation, *operands):
    """Einstein summation, as ``torch.einsum``: ``einsum("ij,jk->ik", a, b)`` is ``a @ b``.

    Each operand's axes are labelled by letters; letters missing from the output (after
    ``->``) are summed over, and a letter repeated within one operand takes its diagonal.
    Without ``->`` the output is ``...`` followed by the letters used once, alphabetically.
    ``...`` stands for the same broadcast batch axes in every operand (aligned from the
    right; size-1 axes broadcast). The operands may also be given as one list, or in the
    sublist form ``einsum(a, [0, 1], b, [1, 2], [0, 2])`` (axis labels 0-51, ``...`` as Ellipsis).
    """
    if isinstance(equation, Tensor):  # sublist form: einsum(a, [0, 1], b, [1, 2], [0, 2])
        equation, operands = _sublist_equation((equation,) + operands)
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the equation must be a string, got {type(equation).__name__}")
    if not operands:
        raise ArgumentError("einsum: expected at least one operand")
    for k, t in enumerate(operands):
        if not isinstance(t, Tensor):
            raise TypeError(f"einsum: operand {k} is a {type(t).__name__}, not a Tensor")
    operands = autocast_lower("einsum", *operands)
    _same_dtype("einsum", *operands)
    terms, out, sizes = _parse_einsum(equation, [t.shape for t in operands])
    ops = []
    for t, term in zip(operands, terms):
        target = tuple(sizes[c] for c in term)
        if len(set(term)) != len(term):  # a repeated letter must have one size within the operand
            for c, n in zip(term, t.shape):
                if n != sizes[c]:
                    raise ShapeError(f"einsum: subscript {c!r} repeats in {term!r} with different sizes {tuple(t.shape)}")
        ops.append(t if tuple(t.shape) == target else t.expand(target))
    return _einsum_op(ops, terms, out)


def tensordot(a, b, dims=2):
    """Contract the last ``dims`` axes of ``a`` with the first ``dims`` of ``b`` (an int), or the
    listed axes ``dims=([axes of a], [axes of b])``; the remaining axes of ``a`` then ``b`` stay."""
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, numbers.Integral):
        n = int(dims)
        if n < 0 or n > a.ndim or n > b.ndim:
            raise ShapeError(f"tensordot: dims={n} is out of range for shapes {tuple(a.shape)} and {tuple(b.shape)}")
        da, db = list(range(a.ndim - n, a.ndim)), list(range(n))
    else:
        try:
            da, db = dims
        except (TypeError, ValueError):
            raise TypeError(f"tensordot: dims must be an int or a pair of axis lists, got {dims!r}") from None
        da = [da] if isinstance(da, numbers.Integral) else list(da)
        db = [db] if isinstance(db, numbers.Integral) else list(db)
        if len(da) != len(db):
            raise ShapeError(f"tensordot: both sides of dims must list the same number of axes, got {dims!r}")
        da = [normalize_axis(d, a.ndim, "tensordot") for d in da]
        db = [normalize_axis(d, b.ndim, "tensordot") for d in db]
    for x, y in zip(da, db):
        if a.shape[x] != b.shape[y]:
            raise ShapeError(
                f"tensordot: axis {x} of a (size {a.shape[x]}, shape {tuple(a.shape)}) and axis {y} of b "
                f"(size {b.shape[y]}, shape {tuple(b.shape)}) must have the same size"
            )
    letters = iter(string.ascii_letters)
    ta = [next(letters) for _ in range(a.ndim)]
    tb = [next(letters) for _ in range(b.ndim)]
    for x, y in zip(da, db):
        tb[y] = ta[x]
    out = [c for k, c in enumerate(ta) if k not in da] + [c for k, c in enumerate(tb) if k not in db]
    return einsum("".join(ta) + "," + "".join(tb) + "->" + "".join(out), a, b)


def kron(input, other):
    """Kronecker product: block (i, j, ...) of the result is ``input[i, j, ...] * other``.

    The operand with fewer axes gets leading axes of size 1; the result has shape
    ``input.shape * other.shape`` elementwise.
    """
    nd = max(input.ndim, other.ndim)
    a = input.reshape((1,) * (nd - input.ndim) + tuple(input.shape))
    b = other.reshape((1,) * (nd - other.ndim) + tuple(other.shape))
    a2 = a.reshape(tuple(v for n in a.shape for v in (n, 1)))
    b2 = b.reshape(tuple(v for n in b.shape for v in (1, n)))
    return (a2 * b2).reshape(tuple(p * q for p, q in zip(a.shape, b.shape)))


def trace(input):
    """Sum of the main diagonal of a matrix."""
    if input.ndim != 2:
        raise ShapeError(f"trace: expected a matrix (2-D tensor), got shape {tuple(input.shape)}")
    return diagonal(input).sum()


# --- norms --------------------------------------------------------------------------------------
def _kept(shape, axes):
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class PNorm(Op):
    """``(sum |x|^p)^(1/p)`` over ``axes`` for a finite ``p`` other than 0.

    Gradient: ``sign(x) |x|^(p-1) / norm^(p-1)`` (``x / norm`` for p = 2, ``sign(x)`` for
    p = 1), and 0 where the norm is 0 (PyTorch's choice of subgradient).
    """

    name = "vector_norm"

    def forward(self, x):
        xp = self.xp
        p = self.p
        if p == 2:
            s = (x * x).sum(axis=self.axes, keepdims=self.keepdims)
            return xp.sqrt(s)
        a = xp.abs(x)
        if p == 1:
            return a.sum(axis=self.axes, keepdims=self.keepdims)
        return (a ** p).sum(axis=self.axes, keepdims=self.keepdims) ** (1.0 / p)

    def backward(self, g):
        x = self.inputs[0]
        kept = _kept(x.shape, self.axes)
        g = g.reshape(kept)
        if self.p == 1:
            return g * sign(x)
        n = self.output().reshape(kept)
        safe = where(n == 0, 1.0, n)
        if self.p == 2:
            return g * x / safe
        return g * sign(x) * _abs(x) ** (self.p - 1) / safe ** (self.p - 1)


class NonzeroCount(Op):
    """The "0-norm": the number of nonzero elements over ``axes`` (as the input's dtype).
    Piecewise constant, so its gradient is 0 everywhere (as in PyTorch)."""

    name = "vector_norm"
    saves_values = False

    def forward(self, x):
        return (x != 0).sum(axis=self.axes, keepdims=self.keepdims).astype(x.dtype)

    def backward(self, g):
        return self.constant(self.xp.zeros(self.inputs[0].shape, dtype=g.dtype))


def _norm_axes(x, dim, op):
    if dim is None:
        return tuple(range(x.ndim))
    axes = normalize_axis(tuple(dim) if isinstance(dim, (list, tuple)) else (dim,), x.ndim, op)
    if len(set(axes)) != len(axes):
        raise ShapeError(f"{op}: dim {dim} repeats an axis")
    return axes if x.ndim else ()


def _check_float(x, op, dtype=None):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if dtype is not None:
        x = x.to(dtype)
    if x.dtype.kind != "f":
        raise DTypeError(
            f"{op}: expected a floating-point tensor, got {x.dtype}; convert it first (x.float() or dtype=tn.float32)"
        )
    return x


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """The vector ``ord``-norm over ``dim`` (all elements when None), as ``torch.linalg.vector_norm``.

    ``ord``: any real number (``(sum |x|^ord)^(1/ord)``), ``inf`` (largest ``|x|``), ``-inf``
    (smallest), 0 (the number of nonzero elements). ``dtype`` converts the input first.
    """
    x = _check_float(x, "vector_norm", dtype)
    if isinstance(ord, str) or not isinstance(ord, numbers.Real):
        raise TypeError(f"vector_norm: ord must be a real number (or inf/-inf), got {ord!r}")
    axes = _norm_axes(x, dim, "vector_norm")
    keep = bool(keepdim)
    if math.isinf(ord):
        if x.array.size == 0 or (axes and any(x.shape[a] == 0 for a in axes)):
            raise ShapeError(
                f"vector_norm: the {'max' if ord > 0 else 'min'} of |x| (ord={ord}) over an empty dimension is "
                f"undefined (shape {tuple(x.shape)}, dim {dim})"
            )
        red = amax if ord > 0 else amin
        return red(_abs(x), axis=axes if axes else None, keepdims=keep) if x.ndim else _abs(x)
    if ord == 0:
        return NonzeroCount.apply(x, axes=axes, keepdims=keep)
    return PNorm.apply(x, p=float(ord) if ord not in (1, 2) else int(ord), axes=axes, keepdims=keep)


def _matrix_axes(A, dim, op):
    if A.ndim < 2:
        raise ShapeError(f"{op}: expected a tensor with at least 2 dimensions (a matrix), got shape {tuple(A.shape)}")
    if not isinstance(dim, (tuple, list)) or len(dim) != 2:
        raise ShapeError(f"{op}: dim must be a pair of axes for a matrix norm, got {dim!r}")
    d0, d1 = normalize_axis(tuple(dim), A.ndim, op)
    if d0 == d1:
        raise ShapeError(f"{op}: the two dims must differ, got {dim!r}")
    return d0, d1


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """The matrix norm of each matrix spanned by ``dim``, as ``torch.linalg.matrix_norm``.

    ``'fro'`` (sqrt of the sum of squares), ``'nuc'`` (sum of singular values), ``inf``/``-inf``
    (largest/smallest row sum of ``|A|``), ``1``/``-1`` (largest/smallest column sum), ``2``/``-2``
    (largest/smallest singular value).
    """
    A = _check_float(A, "matrix_norm", dtype)
    d0, d1 = _matrix_axes(A, dim, "matrix_norm")
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):
        s = svdvals(movedim(A, (d0, d1), (-2, -1)))
        out = s.sum(axis=-1) if ord == "nuc" else (amax if ord == 2 else amin)(s, axis=-1)
        if keepdim:
            out = out.unsqueeze(min(d0, d1)).unsqueeze(max(d0, d1))
        return out
    if isinstance(ord, numbers.Real) and ord in (1, -1, math.inf, -math.inf):
        summed, over = (d0, d1) if ord in (1, -1) else (d1, d0)  # 1: column sums; inf: row sums
        s = _abs(A).sum(axis=summed, keepdims=True)
        out = (amax if ord > 0 else amin)(s, axis=over, keepdims=True)
        return out if keepdim else out.squeeze((d0, d1))
    raise ArgumentError(f"matrix_norm: unsupported ord {ord!r}; expected 'fro', 'nuc', inf, -inf, 1, -1, 2 or -2")


def norm(input, p="fro", dim=None, keepdim=False, out=None, dtype=None):
    """``torch.norm``: a vector or matrix norm.

    ``p`` a number (or inf/-inf/0): the vector p-norm over ``dim`` (an int, a tuple, or None for
    every element). ``'fro'``: the 2-norm over ``dim`` (every element when None). ``'nuc'``:
    the nuclear norm of the matrices spanned by ``dim`` (a pair; None means a 2-D input).
    """
    if out is not None:
        raise TypeError("norm: out= is not supported by tinynet (tensors are immutable results); assign the result")
    if p == "fro":
        if dim is not None and isinstance(dim, (tuple, list)) and len(dim) > 2:
            raise ShapeError(f"norm: p='fro' takes at most two dims, got {dim!r}")
        return vector_norm(input, 2, dim, keepdim, dtype=dtype)
    if p == "nuc":
        if dim is None:
            if input.ndim != 2:
                raise ShapeError(f"norm: p='nuc' with dim=None needs a 2-D tensor, got shape {tuple(input.shape)}")
            dim = (0, 1)
        return matrix_norm(input, "nuc", dim, keepdim, dtype=dtype)
    if isinstance(p, str):
        raise ArgumentError(f"norm: unknown p {p!r}; expected a number, inf, -inf, 'fro' or 'nuc'")
    return vector_norm(input, 2 if p is None else p, dim, keepdim, dtype=dtype)


def dist(input, other, p=2):
    """The p-norm of ``input - other`` (broadcast) over every element."""
    return vector_norm(input - other, p)


_CDIST_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist")


class EuclidCdistMM(Op):
    """Euclidean ``cdist`` by PyTorch's matrix-product formula: ``d^2 = |x1|^2 + |x2|^2 - 2 x1 x2^T``
    (clamped at 0), which needs no ``(P, R, M)`` array of differences.

    Gradient: ``gx1_i = sum_j w_ij (x1_i - x2_j)`` and ``gx2_j = sum_i w_ij (x2_j - x1_i)`` with
    ``w = g / d`` (0 where d = 0), from the exact differences, as PyTorch's backward.
    """

    name = "cdist"

    def forward(self, x1, x2):
        xp = self.xp
        sq1 = (x1 * x1).sum(axis=-1)[..., :, None]
        sq2 = (x2 * x2).sum(axis=-1)[..., None, :]
        d2 = sq1 + sq2 - 2 * (x1 @ x2.swapaxes(-1, -2))
        return xp.sqrt(xp.maximum(d2, 0))

    def backward(self, g):
        x1, x2 = self.inputs
        d = self.output()
        w = where(d == 0, 0.0, g / where(d == 0, 1.0, d)).unsqueeze(-1)
        diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
        g1 = (w * diff).sum(axis=-2) if x1._requires_grad else None
        g2 = -(w * diff).sum(axis=-3) if x2._requires_grad else None
        return (unbroadcast(g1, x1.shape) if g1 is not None else None,
                unbroadcast(g2, x2.shape) if g2 is not None else None)


_CDIST_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist")


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """Pairwise p-norm distances between the rows of ``x1`` ``(..., P, M)`` and ``x2`` ``(..., R, M)``:
    a ``(..., P, R)`` tensor; batch axes broadcast.

    ``compute_mode`` is PyTorch's: for p = 2, ``'use_mm_for_euclid_dist'`` (and
    ``'..._if_necessary'`` when P > 25 or R > 25) uses the matrix-product formula (less
    memory, a little rounding); otherwise the distances come from the differences
    ``x1[..., :, None, :] - x2[..., None, :, :]``. Either way the gradient is 0, not NaN, at
    zero distance, as in PyTorch.
    """
    x1, x2 = autocast_float32("cdist", x1, x2)  # on PyTorch's float32 autocast list
    if compute_mode not in _CDIST_MODES:
        raise ArgumentError(f"cdist: unknown compute_mode {compute_mode!r}; expected one of {_CDIST_MODES}")
    for name, t in (("x1", x1), ("x2", x2)):
        if not isinstance(t, Tensor):
            raise TypeError(f"cdist: {name} must be a Tensor, got {type(t).__name__}")
        if t.ndim < 2:
            raise ShapeError(f"cdist: {name} must have at least 2 dimensions (..., rows, features), got shape {tuple(t.shape)}")
    if x1.shape[-1] != x2.shape[-1]:
        raise ShapeError(
            f"cdist: x1 {tuple(x1.shape)} and x2 {tuple(x2.shape)} must have the same number of features (last dim)"
        )
    if p < 0:
        raise ArgumentError(f"cdist: p must be non-negative, got {p}")
    _same_dtype("cdist", x1, x2)
    use_mm = p == 2 and (compute_mode == "use_mm_for_euclid_dist" or (
        compute_mode == "use_mm_for_euclid_dist_if_necessary" and (x1.shape[-2] > 25 or x2.shape[-2] > 25)))
    if use_mm:
        return EuclidCdistMM.apply(x1, x2)
    return vector_norm(x1.unsqueeze(-2) - x2.unsqueeze(-3), p, -1)


# --- matrix functions ---------------------------------------------------------------------------
def _square(A, op):
    if not isinstance(A, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(A).__name__}")
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ShapeError(f"{op}: expected a (batch of) square matrices (..., n, n), got shape {tuple(A.shape)}")
    if A.dtype.kind != "f":
        raise DTypeError(f"{op}: expected a floating-point tensor, got {A.dtype}; convert it with .float()")


def _linalg_error(op, A, exc):
    return ValueError(f"{op}: the matrix of shape {tuple(A.shape)} is singular or not valid for {op} ({exc})")


class Inv(Op):
    """Matrix inverse; gradient ``-A^{-T} g A^{-T}``."""

    name = "inv"

    def forward(self, a):
        try:
            return self.xp.linalg.inv(a)
        except Exception as exc:  # LinAlgError (NumPy/CuPy): singular matrix
            raise _linalg_error("inv", a, exc) from None

    def backward(self, g):
        inv_t = self.output().mT
        return -(inv_t @ g @ inv_t)


def inverse(input):
    """The inverse of each square matrix (``torch.inverse`` / ``torch.linalg.inv``)."""
    _square(input, "inv")
    return Inv.apply(input)


class Det(Op):
    """Determinant; gradient ``g * det(A) * A^{-T}`` (Jacobi's formula)."""

    name = "det"

    def forward(self, a):
        return self.xp.asarray(self.xp.linalg.det(a))

    def backward(self, g):
        a = self.inputs[0]
        scale = (g * self.output()).unsqueeze(-1).unsqueeze(-1)
        return scale * inverse(a).mT


def det(input):
    """The determinant of each square matrix. (Its gradient needs the matrix to be invertible.)"""
    _square(input, "det")
    return Det.apply(input)


def slogdet(input):
    """``(sign, log|det|)`` of each square matrix; ``logabsdet`` has gradient ``A^{-T}``."""
    _square(input, "slogdet")
    d = det(input)
    return sign(d).detach(), (d * sign(d).detach()).log()


class Cholesky(Op):
    """Lower Cholesky factor L of a symmetric positive-definite A = L L^T.

    Gradient (Murray, 2016): with ``P = Phi(L^T gL)`` (lower triangle, diagonal halved),
    ``S = L^{-T} P L^{-1}`` and ``gA = (S + S^T) / 2`` (only the symmetric part of A is used).
    """

    name = "cholesky"

    def forward(self, a):
        try:
            return self.xp.linalg.cholesky(a)
        except Exception as exc:
            raise ArgumentError(
                f"cholesky: the matrix of shape {tuple(a.shape)} is not positive-definite ({exc}); "
                "check that it is symmetric with positive eigenvalues"
            ) from None

    def backward(self, g):
        L = self.output()
        n = L.shape[-1]
        xp = self.xp
        lower = xp.tril(xp.ones((n, n), dtype=g.dtype), -1) + 0.5 * xp.eye(n, dtype=g.dtype)
        P = (L.mT @ g) * self.constant(lower)
        Linv = inverse(L)
        S = Linv.mT @ P @ Linv
        return (S + S.mT) * 0.5


def cholesky(input, upper=False):
    """The Cholesky factor of each symmetric positive-definite matrix (lower, or upper if ``upper``)."""
    _square(input, "cholesky")
    L = Cholesky.apply(input)
    return L.mT if upper else L


class SvdVals(Op):
    """Singular values (descending); gradient ``U diag(g) V^T``.

    ``backward_array`` uses the singular vectors kept by the forward (finite even when
    singular values repeat); the Tensor formula (``create_graph=True``) takes U and V^T from a
    differentiable :func:`svd` of the input, so second derivatives follow (for distinct
    singular values, as PyTorch's).
    """

    name = "svdvals"
    saves_output = False  # the backward reads the singular vectors kept by the forward, not S

    def forward(self, a):
        u, s, vh = self.xp.linalg.svd(a, full_matrices=False)
        self.u, self.vh = u, vh
        return s

    def backward(self, g):
        a = self.inputs[0]
        U, _, Vh = svd(a, full_matrices=False)
        return (U * g.unsqueeze(-2)) @ Vh

    def backward_array(self, g):
        return (self.u * g[..., None, :]) @ self.vh


def svdvals(A):
    """The singular values of each matrix, in descending order (``torch.linalg.svdvals``)."""
    if not isinstance(A, Tensor) or A.ndim < 2:
        raise ShapeError(f"svdvals: expected a (batch of) matrices, got {getattr(A, 'shape', type(A).__name__)}")
    if A.dtype.kind != "f":
        raise DTypeError(f"svdvals: expected a floating-point tensor, got {A.dtype}")
    return SvdVals.apply(A)


class Solve(Op):
    """``X = A^{-1} B`` for square ``A`` ``(..., n, n)`` and ``B`` ``(..., n, k)``, batch axes
    broadcasting. Gradients: ``gB = solve(A^T, g)`` and ``gA = -gB X^T``."""

    name = "solve"

    def forward(self, a, b):
        try:
            return self.xp.linalg.solve(a, b)
        except ValueError as exc:
            raise ShapeError(f"solve: A {tuple(a.shape)} and B {tuple(b.shape)} don't fit together ({exc})") from None
        except Exception as exc:  # LinAlgError: singular
            raise _linalg_error("solve", a, exc) from None

    def backward(self, g):
        a, b = self.inputs
        gb = Solve.apply(a.mT, g)
        ga = -(gb @ self.output().mT) if a._requires_grad else None
        return (unbroadcast(ga, a.shape) if ga is not None else None,
                unbroadcast(gb, b.shape) if b._requires_grad else None)


def solve(A, B, *, left=True):
    """The solution ``X`` of ``A X = B`` (``X A = B`` when ``left=False``), as ``torch.linalg.solve``.

    ``B`` is a batch of vectors when it is 1-D or has one axis fewer than ``A`` with matching
    leading sizes; otherwise a batch of matrices. Batch axes broadcast. With ``left=False``
    ``B`` must be matrices ``(..., k, n)`` (as in PyTorch).
    """
    _square(A, "solve")
    if not isinstance(B, Tensor):
        raise TypeError(f"solve: B must be a Tensor, got {type(B).__name__}")
    _same_dtype("solve", A, B)
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    if not left:  # X A = B  <=>  A^T X^T = B^T
        if vector:
            raise ShapeError(
                f"solve: with left=False B must be a (batch of) matrices (..., k, {A.shape[-1]}), got shape "
                f"{tuple(B.shape)}; for a vector b solve x A = b as solve(A.mT, b)"
            )
        return solve(A.mT, B.mT).mT
    Bm = B.unsqueeze(-1) if vector else B
    if Bm.shape[-2] != A.shape[-1]:
        raise ShapeError(
            f"solve: A has shape {tuple(A.shape)} but B has shape {tuple(B.shape)}; B needs {A.shape[-1]} rows"
        )
    X = Solve.apply(A, Bm)
    return X.squeeze(-1) if vector else X


def matrix_power(input, n):
    """``A @ A @ ... @ A`` (``n`` factors) for square matrices: the identity for ``n = 0``, powers of
    the inverse for ``n < 0``; by repeated squaring (differentiable through ``matmul``/``inv``)."""
    _square(input, "matrix_power")
    n = int(n)
    if n == 0:
        eye = _creation.eye(input.shape[-1], dtype=input.dtype, device=input.device)
        return eye.expand(tuple(input.shape))
    base = inverse(input) if n < 0 else input
    n = abs(n)
    result = None
    while n:
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    return result


# --- decompositions with several outputs: one op, its outputs packed into one array ---------------
def _eye_const(op, n, dtype):
    return op.constant(op.xp.eye(n, dtype=dtype))


class Eigh(Op):
    """Eigenvalues (ascending) and eigenvectors of symmetric matrices, packed as one array
    ``(..., n + 1, n)``: row 0 the eigenvalues, rows 1.. the eigenvectors (columns). Only the
    ``uplo`` triangle of A is read (as in NumPy/PyTorch); the gradient is the symmetric one, as
    PyTorch's (A is taken to be symmetric).

    Gradient (distinct eigenvalues): ``gA = V (diag(gw) + skew(V^T gV) / 2 / E) V^T`` with
    ``E_ij = w_j - w_i`` off the diagonal; written with tinynet ops, so it differentiates again.
    """

    name = "eigh"

    def forward(self, a):
        w, v = self.xp.linalg.eigh(a, UPLO=self.uplo)
        return self.xp.concatenate([w[..., None, :], v], axis=-2)

    def backward(self, g):
        out = self.output()
        n = out.shape[-1]
        w, V = out[..., 0, :], out[..., 1:, :]
        gw, gV = g[..., 0, :], g[..., 1:, :]
        eye = _eye_const(self, n, g.dtype)
        VtgV = V.mT @ gV
        E = w.unsqueeze(-2) - w.unsqueeze(-1)
        E = where(self.constant(eye.array != 0), 1.0, E)
        inner = (VtgV - VtgV.mT) * 0.5 / E * (1 - eye) + gw.unsqueeze(-1) * eye
        return V @ inner @ V.mT  # symmetric, as PyTorch's (the gradient w.r.t. a symmetric A)


def eigh(A, UPLO="L"):
    """Eigen-decomposition of symmetric matrices: ``(eigenvalues ascending, eigenvectors as
    columns)``, as ``torch.linalg.eigh``. Only the ``UPLO`` triangle ('L' or 'U') is read.
    Gradients assume distinct eigenvalues (eigenvectors of repeated ones are not unique)."""
    _square(A, "eigh")
    if UPLO not in ("L", "U"):
        raise ArgumentError(f"eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    packed = Eigh.apply(A, uplo=UPLO)
    return packed[..., 0, :], packed[..., 1:, :]


def eigvalsh(A, UPLO="L"):
    """The eigenvalues (ascending) of symmetric matrices (``torch.linalg.eigvalsh``)."""
    return eigh(A, UPLO)[0]


class Svd(Op):
    """``A = U diag(S) Vh``, packed per matrix as one flat array ``U | S | Vh`` (``..., m*ku + k + kv*n``).

    Gradient (PyTorch's ``svd_backward``, real case, distinct singular values): with
    ``E_ij = S_j^2 - S_i^2`` (1 on the diagonal), ``J = (skew(U^T gU) S_col + S_row skew(V^T gV)) / E
    + diag(gS)`` and the terms for the part of gU (gV) outside U's (V's) span when m > k (n > k).
    With ``full_matrices`` on a non-square A the extra columns are not unique, so a gradient
    through them is refused (as in PyTorch).
    """

    name = "svd"

    def forward(self, a):
        u, s, vh = self.xp.linalg.svd(a, full_matrices=self.full)
        lead = a.shape[:-2]
        return self.xp.concatenate([u.reshape(lead + (-1,)), s, vh.reshape(lead + (-1,))], axis=-1)

    def backward(self, g):
        m, n, full = self.m, self.n, self.full
        U, S, Vh = _svd_unpack(self.output(), m, n, full)
        gU, gS, gVh = _svd_unpack(g, m, n, full)
        k = min(m, n)
        if self.full and m != n:
            extra = (gU.array[..., k:], gVh.array[..., k:, :])
            if any(bool(self.xp.any(e != 0)) for e in extra):
                raise RuntimeError(
                    "svd: with full_matrices=True the columns of U (rows of Vh) beyond min(m, n) are not unique, "
                    "so the loss must not depend on them; use full_matrices=False"
                )
            U, gU, Vh, gVh = U[..., :k], gU[..., :k], Vh[..., :k, :], gVh[..., :k, :]
        V, gV = Vh.mT, gVh.mT
        eye = _eye_const(self, k, g.dtype)
        UtgU = U.mT @ gU
        VtgV = V.mT @ gV
        S2 = S * S
        E = S2.unsqueeze(-2) - S2.unsqueeze(-1)
        E = where(self.constant(eye.array != 0), 1.0, E)
        J = ((UtgU - UtgU.mT) * S.unsqueeze(-2) + S.unsqueeze(-1) * (VtgV - VtgV.mT)) / E * (1 - eye)
        J = J + gS.unsqueeze(-1) * eye
        if m > k:
            gUS = gU / S.unsqueeze(-2)
            return (U @ J + gUS - U @ (U.mT @ gUS)) @ Vh
        if n > k:
            SgVh = gVh / S.unsqueeze(-1)
            return U @ (J @ Vh + SgVh - (SgVh @ V) @ Vh)
        return U @ J @ Vh


def svd(A, full_matrices=True):
    """Singular value decomposition ``A = U diag(S) Vh`` (``torch.linalg.svd``; S descending).

    ``full_matrices=True`` (PyTorch's default) gives square U and Vh; ``False`` the reduced
    ``(m, k)`` and ``(k, n)`` factors, k = min(m, n). Gradients assume distinct nonzero
    singular values (as PyTorch's).
    """
    if not isinstance(A, Tensor) or A.ndim < 2:
        raise ShapeError(f"svd: expected a (batch of) matrices, got {getattr(A, 'shape', type(A).__name__)}")
    if A.dtype.kind != "f":
        raise DTypeError(f"svd: expected a floating-point tensor, got {A.dtype}")
    m, n = A.shape[-2:]
    packed = Svd.apply(A, full=bool(full_matrices), m=m, n=n)
    return _svd_unpack(packed, m, n, bool(full_matrices))


def _svd_unpack(packed, m, n, full):
    """``(U, S, Vh)`` from the packed ``U | S | Vh`` rows of :class:`Svd` (Tensors: slices and reshapes)."""
    k = min(m, n)
    ku, kv = (m, n) if full else (k, k)
    lead = tuple(packed.shape[:-1])
    return (packed[..., :m * ku].reshape(lead + (m, ku)), packed[..., m * ku:m * ku + k],
            packed[..., m * ku + k:].reshape(lead + (kv, n)))


class Qr(Op):
    """``A = Q R`` (Q orthonormal columns, R upper triangular), packed as one array: Q above R
    (reduced, m >= n) or Q beside R (otherwise).

    Gradient (PyTorch's ``linalg_qr_backward``): with ``M = gR R^T - Q^T gQ``, for m >= n
    ``gA = (gQ + Q S) R^{-T}`` where S is the symmetric matrix with M's upper triangle; for
    m < n ``gA = [Q tril(-M + M^T) R1^{-T} | 0] + Q gR`` with R1 the first m columns of R.
    """

    name = "qr"

    def forward(self, a):
        q, r = self.xp.linalg.qr(a, mode=self.mode)
        return self.xp.concatenate([q, r], axis=_qr_axis(self.m, self.n, self.mode))

    def backward(self, g):
        m, n, mode = self.m, self.n, self.mode
        if mode == "complete" and m > n:
            raise RuntimeError("qr: with mode='complete' and more rows than columns the extra columns of Q are not "
                               "unique, so QR is not differentiable there; use mode='reduced'")
        Q, R = _qr_unpack(self.output(), m, n, mode)
        gQ, gR = _qr_unpack(g, m, n, mode)
        return _qr_grad(self, Q, R, gQ, gR)


def _triangle(op, k, dtype, diagonal_scale, strict_upper):
    """A constant ``(k, k)`` mask: the upper (``strict_upper``) or lower strict triangle, plus
    ``diagonal_scale`` on the diagonal."""
    xp = op.xp
    ones = xp.ones((k, k), dtype=dtype)
    tri = xp.triu(ones, 1) if strict_upper else xp.tril(ones, -1)
    return op.constant(tri + diagonal_scale * xp.eye(k, dtype=dtype))


def _qr_grad(op, Q, R, gQ, gR):
    m, n = Q.shape[-2], R.shape[-1]
    MH = gR @ R.mT - Q.mT @ gQ
    if m >= n:
        # b = Q syminvadj(triu(MH)) + gQ, where syminvadj(U) = U + U^T with U's diagonal once
        upper = MH * _triangle(op, n, MH.dtype, 0.5, True)
        b = Q @ (upper + upper.mT) + gQ
        return b @ inverse(R).mT
    # wide: gA = [Q tril(X - X^T) R1^{-T} | 0] + Q gR, X = Q^T gQ - gR R^T, R1 = R[:, :m]
    X = -MH
    low = (X - X.mT) * _triangle(op, m, MH.dtype, 1.0, False)
    left = Q @ low @ inverse(R[..., :, :m]).mT
    zeros = op.constant(op.xp.zeros(tuple(left.shape[:-1]) + (n - m,), dtype=MH.dtype))
    return _cat([left, zeros], -1) + Q @ gR


def qr(A, mode="reduced"):
    """QR decomposition ``(Q, R)``, as ``torch.linalg.qr``: ``mode='reduced'`` (Q ``(m, k)``, R
    ``(k, n)``), ``'complete'`` (Q ``(m, m)``, R ``(m, n)``) or ``'r'`` (R only; Q empty). R is
    differentiable in every mode; ``'complete'`` with m > n is not (its extra columns of Q are
    not unique), as in PyTorch."""
    if not isinstance(A, Tensor) or A.ndim < 2:
        raise ShapeError(f"qr: expected a (batch of) matrices, got {getattr(A, 'shape', type(A).__name__)}")
    if A.dtype.kind != "f":
        raise DTypeError(f"qr: expected a floating-point tensor, got {A.dtype}")
    if mode not in ("reduced", "complete", "r"):
        raise ArgumentError(f"qr: mode must be 'reduced', 'complete' or 'r', got {mode!r}")
    m, n = A.shape[-2:]
    if mode == "r":
        r = Qr.apply(A, mode="reduced", m=m, n=n)
        _, R = _qr_unpack(r, m, n, "reduced")
        return _creation.zeros(0, dtype=A.dtype, device=A.device), R
    packed = Qr.apply(A, mode=mode, m=m, n=n)
    return _qr_unpack(packed, m, n, mode)


def _qr_axis(m, n, mode):
    """The axis along which :class:`Qr` packs Q and R: rows when they have the same number of
    columns (reduced, m >= n), else columns (they then have the same number of rows, m)."""
    return -2 if mode != "complete" and m >= n else -1


def _qr_unpack(packed, m, n, mode):
    """``(Q, R)`` from :class:`Qr`'s packed array (each one slice of it)."""
    if _qr_axis(m, n, mode) == -2:
        return packed[..., :m, :], packed[..., m:, :]
    k = m if mode == "complete" else min(m, n)
    return packed[..., :, :k], packed[..., :, k:]


def logdet(input):
    """``log(det(A))`` of each square matrix: NaN for a negative determinant, -inf for a zero one
    (``torch.logdet``); the gradient is ``A^{-T}``."""
    return det(input).log()


def cross(input, other, dim=None):
    """The 3-D cross product along ``dim`` (``torch.cross``; with ``dim=None`` the first axis of
    size 3, as PyTorch's deprecated default), broadcasting the other axes:
    ``(a1 b2 - a2 b1, a2 b0 - a0 b2, a0 b1 - a1 b0)``."""
    a, b = pair(input, other, "cross")
    if a.ndim != b.ndim:
        raise ShapeError(f"cross: input {tuple(a.shape)} and other {tuple(b.shape)} must have the same number of dimensions")
    if dim is None:
        dims = [i for i, (p, q) in enumerate(zip(a.shape, b.shape)) if p == 3 and q == 3]
        if not dims:
            raise ShapeError(f"cross: no dimension of size 3 in {tuple(a.shape)} and {tuple(b.shape)}")
        dim = dims[0]
    d = normalize_axis(dim, a.ndim, "cross")
    if a.shape[d] != 3 or b.shape[d] != 3:
        raise ShapeError(
            f"cross: dimension {d} must have size 3 in both tensors, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    a0, a1, a2 = a.unbind(d)
    b0, b1, b2 = b.unbind(d)
    from_parts = [a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0]
    return _stack(from_parts, d)


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False):
    """The numerical rank of each matrix: the number of singular values above
    ``max(atol, rtol * largest)`` (``torch.linalg.matrix_rank``; ``rtol`` defaults to
    ``eps * max(m, n)`` when ``atol`` is not given, else to 0). An int64 tensor, no gradient.
    ``hermitian=True`` uses the eigenvalues' magnitudes of a symmetric A instead."""
    if not isinstance(A, Tensor) or A.ndim < 2:
        raise ShapeError(f"matrix_rank: expected a (batch of) matrices, got {getattr(A, 'shape', type(A).__name__)}")
    if A.dtype.kind != "f":
        raise DTypeError(f"matrix_rank: expected a floating-point tensor, got {A.dtype}")
    xp = A.device.xp
    a = A.array
    if hermitian:
        s = xp.abs(xp.linalg.eigvalsh(a))
    else:
        s = xp.linalg.svd(a, compute_uv=False)
    if rtol is None:
        rtol = 0.0 if atol is not None and atol > 0 else xp.finfo(a.dtype).eps * max(a.shape[-2:])
    top = s.max(axis=-1, keepdims=True) if s.shape[-1] else xp.zeros(s.shape[:-1] + (1,), dtype=s.dtype)
    tol = xp.maximum(0.0 if atol is None else atol, rtol * top)
    return Tensor._make((s > tol).sum(axis=-1).astype("int64"), A.device)


def vander(x, N=None):
    """The Vandermonde matrix ``[1, x, x^2, ..., x^(N-1)]`` along a new last axis, increasing powers
    (``torch.linalg.vander``; N defaults to ``x.shape[-1]``)."""
    if not isinstance(x, Tensor) or x.ndim < 1:
        raise ShapeError(f"vander: expected a tensor with at least 1 dimension, got {getattr(x, 'shape', type(x).__name__)}")
    n = x.shape[-1] if N is None else int(N)
    if n <= 0:
        raise ArgumentError(f"vander: N must be positive, got {N}")
    columns = [_creation.ones(tuple(x.shape), dtype=x.dtype, device=x.device)]
    for _ in range(1, n):
        columns.append(columns[-1] * x)
    return _stack(columns, -1)


def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """The solution ``X`` of ``A X = B`` (``X A = B`` when ``left=False``) for triangular ``A``,
    as ``torch.linalg.solve_triangular``: only the ``upper`` (or lower) triangle of A is read,
    and with ``unitriangular`` its diagonal is taken as ones. The gradient for A is triangular
    likewise (the unread part gets 0)."""
    _square(A, "solve_triangular")
    if not isinstance(B, Tensor) or B.ndim < 2:
        raise ShapeError(
            f"solve_triangular: B must be a (batch of) matrices, got {getattr(B, 'shape', type(B).__name__)}"
        )
    n = A.shape[-1]
    xp = A.device.xp
    ones = xp.ones((n, n), dtype=A.dtype)
    keep = xp.triu(ones, 1 if unitriangular else 0) if upper else xp.tril(ones, -1 if unitriangular else 0)
    T = A * Tensor._make(keep, A.device)
    if unitriangular:
        T = T + _creation.eye(n, dtype=A.dtype, device=A.device)
    return solve(T, B, left=left)


def pinv(A, *, atol=None, rtol=None, hermitian=False):
    """The Moore-Penrose pseudo-inverse ``V diag(1/s) U^T`` over the singular values above
    ``max(atol, rtol * largest)`` (``torch.linalg.pinv``; ``rtol`` defaults to ``eps * max(m, n)``
    when ``atol`` is not given, else 0). Differentiable through :func:`svd` (or :func:`eigh` with
    ``hermitian=True``) where the kept singular values are distinct."""
    if not isinstance(A, Tensor) or A.ndim < 2:
        raise ShapeError(f"pinv: expected a (batch of) matrices, got {getattr(A, 'shape', type(A).__name__)}")
    if A.dtype.kind != "f":
        raise DTypeError(f"pinv: expected a floating-point tensor, got {A.dtype}")
    if rtol is None:
        rtol = 0.0 if atol is not None and atol > 0 else float(A.device.xp.finfo(A.dtype).eps) * max(A.shape[-2:])
    atol = 0.0 if atol is None else float(atol)
    if hermitian:
        w, V = eigh(A)
        mag = _abs(w)
        top = amax(mag, axis=-1, keepdims=True) if mag.shape[-1] else mag
        keep = mag > _threshold(top * rtol, atol)
        inv_w = where(keep, 1.0 / where(keep, w, 1.0), 0.0)
        return (V * inv_w.unsqueeze(-2)) @ V.mT
    U, S, Vh = svd(A, full_matrices=False)
    top = amax(S, axis=-1, keepdims=True) if S.shape[-1] else S
    keep = S > _threshold(top * rtol, atol)
    inv_s = where(keep, 1.0 / where(keep, S, 1.0), 0.0)
    return (Vh.mT * inv_s.unsqueeze(-2)) @ U.mT


def _threshold(t, value):
    """``max(t, value)`` elementwise as a constant threshold (no gradient: a cut-off)."""
    return Tensor._make(t.device.xp.maximum(t.array, value), t.device)


_PADE6 = tuple(math.factorial(12 - k) * math.factorial(6) / (math.factorial(12) * math.factorial(k) * math.factorial(6 - k))
               for k in range(7))


def matrix_exp(A):
    """The matrix exponential ``sum_k A^k / k!`` of each square matrix (``torch.linalg.matrix_exp``).

    Scaling and squaring: A is divided by ``2^s`` so that its 1-norm is at most 1/2, the
    degree-6 Pade approximant ``D^{-1} N`` (error below float64 rounding there) is taken, and
    the result squared ``s`` times. Built from matmul and solve, so it differentiates (to any
    order) like the exponential it approximates.
    """
    _square(A, "matrix_exp")
    n = A.shape[-1]
    if A.array.size == 0:
        return A * 0
    xp = A.device.xp
    norm1 = float(xp.abs(A.array).sum(axis=-2).max())
    s = max(0, int(math.ceil(math.log2(norm1 / 0.5))) if norm1 > 0.5 else 0)
    X = A * (0.5 ** s) if s else A
    eye = _creation.eye(n, dtype=A.dtype, device=A.device)
    power = eye.expand(tuple(A.shape))
    N = power * _PADE6[0]
    D = power * _PADE6[0]
    for k in range(1, 7):
        power = power @ X
        N = N + power * _PADE6[k]
        D = D + power * (_PADE6[k] if k % 2 == 0 else -_PADE6[k])
    E = solve(D, N)
    for _ in range(s):
        E = E @ E
    return E
