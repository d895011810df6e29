"""Registry entries for layout ops (repeat, flip, roll, diagonal, ...) and linear algebra
(products, einsum, norms, matrix functions)."""
import numpy as np

import tinynet as tn

from . import ELEMENTWISE, OpEntry, _apart, _n


def _weighted(pieces):
    """Concatenate a tuple of outputs, each scaled differently, so every piece's gradient differs."""
    return tn.cat([p.reshape(-1) * (i + 1) for i, p in enumerate(pieces)])


def _np_weighted(pieces):
    return np.concatenate([np.asarray(p).reshape(-1) * (i + 1) for i, p in enumerate(pieces)])


def _eye(a, n, scale):
    return tn.eye(n, dtype=a.dtype, device=a.device) * scale


def _spd(a):
    """A well-conditioned symmetric positive-definite matrix from any square ``a``."""
    return a @ a.mT + _eye(a, a.shape[-1], 3.0)


def _np_spd(a):
    return a @ np.swapaxes(a, -1, -2) + 3.0 * np.eye(a.shape[-1])


def _well(r, *shape):
    """Well-conditioned square matrices (``(..., n, n)``): random plus 3 on the diagonal."""
    return r.standard_normal(shape) + 3.0 * np.eye(shape[-1])


def _sym(a):
    return (a + a.mT) * 0.5


def _eigh_invariants(a):
    """Eigenvalues and sign-free functions of the eigenvectors (each is unique up to sign)."""
    w, V = tn.linalg.eigh(_sym(a))
    return tn.cat([w.reshape(-1), (V * V).reshape(-1), (V[..., :1, :] * V[..., 1:2, :]).reshape(-1)])


def _np_eigh_invariants(a):
    w, V = np.linalg.eigh((a + np.swapaxes(a, -1, -2)) / 2)
    return np.concatenate([w.reshape(-1), (V * V).reshape(-1), (V[..., :1, :] * V[..., 1:2, :]).reshape(-1)])


def _svd_invariants(a, full=False):
    U, S, Vh = tn.linalg.svd(a, full_matrices=full)
    k = S.shape[-1]
    return tn.cat([S.reshape(-1), (U[..., :k] * U[..., :k]).reshape(-1), (Vh[..., :k, :] * Vh[..., :k, :]).reshape(-1),
                   (U[..., :k] @ Vh[..., :k, :]).reshape(-1)])


def _np_svd_invariants(a):
    U, S, Vh = np.linalg.svd(a, full_matrices=False)
    return np.concatenate([S.reshape(-1), (U * U).reshape(-1), (Vh * Vh).reshape(-1), (U @ Vh).reshape(-1)])


def _qr_fixed(a, mode="reduced"):
    """Q and R with the signs made unique (R's diagonal positive)."""
    Q, R = tn.linalg.qr(a, mode=mode)
    s = tn.sign(tn.diagonal(R, 0, -2, -1))
    return tn.cat([(Q * s.unsqueeze(-2)).reshape(-1), (R * s.unsqueeze(-1)).reshape(-1)])


def _np_qr_fixed(a, mode="reduced"):
    Q, R = np.linalg.qr(a, mode=mode)
    s = np.sign(np.diagonal(R, 0, -2, -1))
    return np.concatenate([(Q * s[..., None, :]).reshape(-1), (R * s[..., :, None]).reshape(-1)])


def _np_expm(a):
    """exp(A) by its Taylor series after scaling (float64, enough terms to converge)."""
    s = max(0, int(np.ceil(np.log2(max(np.abs(a).sum(-2).max(), 1e-300) / 0.25))))
    x = a / 2.0 ** s
    out = term = np.broadcast_to(np.eye(a.shape[-1]), a.shape).copy()
    for k in range(1, 30):
        term = term @ x / k
        out = out + term
    for _ in range(s):
        out = out @ out
    return out


def _vnorm(a, p, axis=None, keepdims=False):
    if p == np.inf:
        return np.abs(a).max(axis=axis, keepdims=keepdims)
    if p == -np.inf:
        return np.abs(a).min(axis=axis, keepdims=keepdims)
    if p == 0:
        return (a != 0).sum(axis=axis, keepdims=keepdims).astype(a.dtype)
    return (np.abs(a) ** p).sum(axis=axis, keepdims=keepdims) ** (1.0 / p)


def _roll_ref(a):
    return np.roll(a, (1, -2), (0, 2))


ENTRIES = [
    # --- shape (signatures) --------------------------------------------------------------------
    OpEntry("view_shape_tuple", lambda a: a.view((4, -1)), lambda r: [_n(r, 2, 3, 2)], lambda a: a.reshape(4, -1)),
    OpEntry("swapdims", lambda a: a.swapdims(0, 2), lambda r: [_n(r, 2, 3, 4)], lambda a: a.swapaxes(0, 2)),
    OpEntry("permute_tuple", lambda a: tn.permute(a, (1, 2, 0)), lambda r: [_n(r, 2, 3, 4)],
            lambda a: a.transpose(1, 2, 0)),
    OpEntry("expand_minus_one", lambda a: a.expand(2, -1, 4), lambda r: [_n(r, 3, 1)],
            lambda a: np.broadcast_to(a, (2, 3, 4))),
    OpEntry("squeeze_tuple", lambda a: a.squeeze((0, 2)), lambda r: [_n(r, 1, 3, 1, 2)], lambda a: a.reshape(3, 2)),
    # --- join ----------------------------------------------------------------------------------
    OpEntry("hstack", lambda a, b: tn.hstack([a, b]), lambda r: [_n(r, 2, 3), _n(r, 2, 1)],
            lambda a, b: np.hstack([a, b])),
    OpEntry("vstack_1d", lambda a, b: tn.vstack([a, b]), lambda r: [_n(r, 3), _n(r, 2, 3)],
            lambda a, b: np.vstack([a, b])),
    OpEntry("dstack", lambda a, b: tn.dstack((a, b)), lambda r: [_n(r, 2, 3), _n(r, 2, 3, 2)],
            lambda a, b: np.dstack([a, b])),
    OpEntry("column_stack", lambda a, b: tn.column_stack([a, b]), lambda r: [_n(r, 3), _n(r, 3, 2)],
            lambda a, b: np.column_stack([a, b])),
    OpEntry("tensor_split_sections", lambda a: _weighted(tn.tensor_split(a, 3, dim=1)), lambda r: [_n(r, 2, 7)],
            lambda a: _np_weighted(np.array_split(a, 3, axis=1))),
    OpEntry("tensor_split_indices", lambda a: _weighted(a.tensor_split([1, 4], 0)), lambda r: [_n(r, 6, 2)],
            lambda a: _np_weighted(np.split(a, [1, 4], axis=0))),
    OpEntry("hsplit_vsplit", lambda a: _weighted(a.hsplit(2) + tn.vsplit(a, [1])), lambda r: [_n(r, 3, 4)],
            lambda a: _np_weighted(np.hsplit(a, 2) + np.vsplit(a, [1]))),
    OpEntry("dsplit", lambda a: _weighted(tn.dsplit(a, [1])), lambda r: [_n(r, 2, 2, 3)],
            lambda a: _np_weighted(np.dsplit(a, [1]))),
    OpEntry("atleast_3d", lambda a, b: _weighted(tn.atleast_3d(a, b)), lambda r: [_n(r, 3), _n(r, 2, 3)],
            lambda a, b: _np_weighted(np.atleast_3d(a, b))),
    OpEntry("ravel", lambda a: a.ravel(), lambda r: [_n(r, 2, 3)], np.ravel),
    # --- layout: copies -------------------------------------------------------------------------
    OpEntry("repeat", lambda a: a.repeat(2, 1, 3), lambda r: [_n(r, 2, 3)], lambda a: np.tile(a, (2, 1, 3))),
    OpEntry("tile_fewer_dims", lambda a: tn.tile(a, (2,)), lambda r: [_n(r, 2, 3)], lambda a: np.tile(a, (1, 2))),
    OpEntry("repeat_interleave_int", lambda a: a.repeat_interleave(2, dim=1), lambda r: [_n(r, 2, 3)],
            lambda a: np.repeat(a, 2, axis=1)),
    OpEntry("repeat_interleave_flat", lambda a: tn.repeat_interleave(a, 3), lambda r: [_n(r, 2, 2)],
            lambda a: np.repeat(a, 3)),
    OpEntry("repeat_interleave_tensor", lambda a, reps: tn.repeat_interleave(a, reps, 0, output_size=5),
            lambda r: [_n(r, 3, 2), np.array([2, 0, 3])], lambda a, reps: np.repeat(a, [2, 0, 3], axis=0)),
    # --- layout: reordering ---------------------------------------------------------------------
    OpEntry("flip", lambda a: a.flip((0, 2)), lambda r: [_n(r, 2, 3, 4)], lambda a: a[::-1, :, ::-1]),
    OpEntry("fliplr_flipud", lambda a: tn.fliplr(a) * 2 + tn.flipud(a), lambda r: [_n(r, 3, 3)],
            lambda a: a[:, ::-1] * 2 + a[::-1]),
    OpEntry("roll_dims", lambda a: a.roll((1, -2), (0, 2)), lambda r: [_n(r, 2, 3, 4)], _roll_ref),
    OpEntry("roll_flat", lambda a: tn.roll(a, 4), lambda r: [_n(r, 2, 3)], lambda a: np.roll(a, 4)),
    OpEntry("rot90_k1", lambda a: a.rot90(1, (1, 2)), lambda r: [_n(r, 2, 3, 4)], lambda a: np.rot90(a, 1, (1, 2))),
    OpEntry("rot90_k3", lambda a: tn.rot90(a, -1), lambda r: [_n(r, 2, 3)], lambda a: np.rot90(a, -1)),
    OpEntry("movedim", lambda a: tn.movedim(a, (0, 1), (2, 0)), lambda r: [_n(r, 2, 3, 4)],
            lambda a: np.moveaxis(a, (0, 1), (2, 0))),
    OpEntry("moveaxis", lambda a: a.moveaxis(-1, 0), lambda r: [_n(r, 2, 3, 4)], lambda a: np.moveaxis(a, -1, 0)),
    OpEntry("unflatten", lambda a: a.unflatten(1, (2, -1)), lambda r: [_n(r, 3, 6)], lambda a: a.reshape(3, 2, 3)),
    OpEntry("t", lambda a: a.t(), lambda r: [_n(r, 2, 3)], lambda a: a.T),
    # --- layout: picking ------------------------------------------------------------------------
    OpEntry("narrow", lambda a: a.narrow(1, -3, 2), lambda r: [_n(r, 2, 4)], lambda a: a[:, 1:3]),
    OpEntry("select", lambda a: tn.select(a, 1, -1), lambda r: [_n(r, 2, 3, 2)], lambda a: a[:, -1]),
    OpEntry("unbind", lambda a: _weighted(a.unbind(1)), lambda r: [_n(r, 2, 3)],
            lambda a: _np_weighted([a[:, i] for i in range(3)])),
    OpEntry("diagonal", lambda a: a.diagonal(1, 2, 0), lambda r: [_n(r, 3, 2, 4)],
            lambda a: np.diagonal(a, 1, 2, 0)),
    OpEntry("diagonal_negative_offset", lambda a: tn.diagonal(a, -1), lambda r: [_n(r, 4, 3)],
            lambda a: np.diagonal(a, -1)),
    OpEntry("diag_vector_to_matrix", lambda a: tn.diag(a, 1), lambda r: [_n(r, 3)], lambda a: np.diag(a, 1)),
    OpEntry("diag_matrix_to_vector", lambda a: a.diag(-1), lambda r: [_n(r, 3, 4)], lambda a: np.diag(a, -1)),
    OpEntry("diag_embed", lambda a: tn.diag_embed(a, -1, 0, 2), lambda r: [_n(r, 2, 3)],
            lambda a: np.moveaxis(np.stack([np.diag(v, -1) for v in a]), 0, 1)),
    OpEntry("narrow_copy", lambda a: a.narrow_copy(0, 1, 2), lambda r: [_n(r, 3, 2)], lambda a: a[1:3].copy()),
    OpEntry("block_diag", lambda a, b, c: tn.block_diag(a, b, c), lambda r: [_n(r, 2, 2), _n(r, 3), _n(r, 1, 2)],
            lambda a, b, c: np.block([[a, np.zeros((2, 5))], [np.zeros((1, 2)), b[None], np.zeros((1, 2))],
                                      [np.zeros((1, 5)), c]])),
    # --- layout: grids and conveniences ---------------------------------------------------------
    OpEntry("meshgrid_xy", lambda a, b: _weighted(tn.meshgrid(a, b, indexing="xy")), lambda r: [_n(r, 2), _n(r, 3)],
            lambda a, b: _np_weighted(np.meshgrid(a, b, indexing="xy"))),
    OpEntry("meshgrid_ij_list", lambda a, b, c: _weighted(tn.meshgrid([a, b, c])),
            lambda r: [_n(r, 2), _n(r, 3), _n(r, 2)], lambda a, b, c: _np_weighted(np.meshgrid(a, b, c, indexing="ij"))),
    OpEntry("cartesian_prod", lambda a, b: tn.cartesian_prod(a, b), lambda r: [_n(r, 2), _n(r, 3)],
            lambda a, b: np.stack([g.reshape(-1) for g in np.meshgrid(a, b, indexing="ij")], 1)),
    OpEntry("view_as_reshape_as", lambda a, b: a.view_as(b) + a.reshape_as(b) * 2, lambda r: [_n(r, 2, 3), _n(r, 3, 2)],
            lambda a, b: a.reshape(3, 2) * 3, no_grad=(1,)),
    OpEntry("expand_as", lambda a, b: a.expand_as(b), lambda r: [_n(r, 3, 1), _n(r, 2, 3, 4)],
            lambda a, b: np.broadcast_to(a, (2, 3, 4)), no_grad=(1,)),
    OpEntry("type_as", lambda a, b: a.type_as(b) * b, lambda r: [_n(r, 2, 3), _n(r, 2, 3)], lambda a, b: a * b),
    OpEntry("clone_channels_last", lambda a: a.clone(memory_format=tn.channels_last) * 2, lambda r: [_n(r, 1, 2, 2, 3)],
            lambda a: a * 2),
    # --- products -------------------------------------------------------------------------------
    OpEntry("mm", tn.mm, lambda r: [_n(r, 2, 3), _n(r, 3, 4)], np.matmul),
    OpEntry("bmm", lambda a, b: a.bmm(b), lambda r: [_n(r, 2, 2, 3), _n(r, 2, 3, 2)], np.matmul),
    OpEntry("mv", tn.mv, lambda r: [_n(r, 2, 3), _n(r, 3)], np.matmul),
    OpEntry("dot", tn.dot, lambda r: [_n(r, 4), _n(r, 4)], np.dot),
    OpEntry("vdot", lambda a, b: a.vdot(b), lambda r: [_n(r, 4), _n(r, 4)], np.vdot),
    OpEntry("inner", tn.inner, lambda r: [_n(r, 2, 3), _n(r, 4, 3)], np.inner),
    OpEntry("outer", lambda a, b: a.outer(b) + tn.ger(a, b), lambda r: [_n(r, 3), _n(r, 2)],
            lambda a, b: 2 * np.outer(a, b)),
    OpEntry("addmm", lambda c, a, b: tn.addmm(c, a, b, beta=0.5, alpha=2.0), lambda r: [_n(r, 4), _n(r, 2, 3), _n(r, 3, 4)],
            lambda c, a, b: 0.5 * c + 2.0 * a @ b),
    OpEntry("addmm_beta0", lambda c, a, b: c.addmm(a, b, beta=0), lambda r: [_n(r, 2, 4), _n(r, 2, 3), _n(r, 3, 4)],
            lambda c, a, b: a @ b),
    OpEntry("addmv", lambda c, a, b: tn.addmv(c, a, b, alpha=-1), lambda r: [_n(r, 2), _n(r, 2, 3), _n(r, 3)],
            lambda c, a, b: c - a @ b),
    OpEntry("addr", lambda c, a, b: tn.addr(c, a, b, beta=2), lambda r: [_n(r, 3, 2), _n(r, 3), _n(r, 2)],
            lambda c, a, b: 2 * c + np.outer(a, b)),
    OpEntry("addbmm", lambda c, a, b: tn.addbmm(c, a, b), lambda r: [_n(r, 2, 2), _n(r, 3, 2, 3), _n(r, 3, 3, 2)],
            lambda c, a, b: c + (a @ b).sum(0)),
    OpEntry("baddbmm", lambda c, a, b: c.baddbmm(a, b, alpha=0.5), lambda r: [_n(r, 1, 2), _n(r, 2, 2, 3), _n(r, 2, 3, 2)],
            lambda c, a, b: c + 0.5 * (a @ b)),
    OpEntry("tensordot_int", lambda a, b: tn.tensordot(a, b, 2), lambda r: [_n(r, 2, 3, 2), _n(r, 3, 2, 2)],
            lambda a, b: np.tensordot(a, b, 2)),
    OpEntry("tensordot_lists", lambda a, b: tn.tensordot(a, b, dims=([0, 2], [2, 0])), lambda r: [_n(r, 2, 3, 2), _n(r, 2, 4, 2)],
            lambda a, b: np.tensordot(a, b, ([0, 2], [2, 0]))),
    OpEntry("kron", tn.kron, lambda r: [_n(r, 2, 3), _n(r, 2, 1, 2)], np.kron),
    OpEntry("trace", tn.trace, lambda r: [_n(r, 3, 4)], np.trace),
    # --- einsum ---------------------------------------------------------------------------------
    OpEntry("einsum_matmul", lambda a, b: tn.einsum("ij,jk->ik", a, b), lambda r: [_n(r, 2, 3), _n(r, 3, 2)], np.matmul),
    OpEntry("einsum_implicit_three", lambda a, b, c: tn.einsum("ab,bc,cd", [a, b, c]),
            lambda r: [_n(r, 2, 3), _n(r, 3, 2), _n(r, 2, 2)], lambda a, b, c: a @ b @ c),
    OpEntry("einsum_diagonal", lambda a: tn.einsum("iij->ji", a), lambda r: [_n(r, 3, 3, 2)],
            lambda a: np.einsum("iij->ji", a)),
    OpEntry("einsum_trace", lambda a: tn.einsum("ii", a), lambda r: [_n(r, 3, 3)], np.trace),
    OpEntry("einsum_ellipsis_broadcast", lambda a, b: tn.einsum("...ij,...jk->...ik", a, b),
            lambda r: [_n(r, 2, 1, 2, 3), _n(r, 3, 3, 2)], np.matmul),
    OpEntry("einsum_summed_letter", lambda a, b: tn.einsum("bi,bj->bj", a, b), lambda r: [_n(r, 2, 3), _n(r, 2, 4)],
            lambda a, b: a.sum(1, keepdims=True) * b),
    OpEntry("einsum_sublist", lambda a, b: tn.einsum(a, [0, 1, 2], b, [1, 2], [0]), lambda r: [_n(r, 2, 3, 2), _n(r, 3, 2)],
            lambda a, b: np.einsum(a, [0, 1, 2], b, [1, 2], [0])),
    OpEntry("cross", lambda a, b: tn.cross(a, b, dim=1) + tn.linalg.cross(a, b), lambda r: [_n(r, 2, 3), _n(r, 2, 3)],
            lambda a, b: 2 * np.cross(a, b), broadcast=(1,)),
    OpEntry("cross_default_dim", lambda a, b: tn.cross(a, b), lambda r: [_n(r, 3, 2), _n(r, 3, 2)],
            lambda a, b: np.cross(a, b, axis=0)),
    # --- norms ----------------------------------------------------------------------------------
    OpEntry("norm_fro_all", tn.norm, lambda r: [_n(r, 3, 4)], lambda a: np.sqrt((a * a).sum()),
            layouts=ELEMENTWISE),
    OpEntry("norm_p3_dim", lambda a: a.norm(3, dim=1, keepdim=True), lambda r: [_n(r, 3, 4)],
            lambda a: _vnorm(a, 3, 1, True)),
    OpEntry("norm_p1", lambda a: tn.norm(a, 1, dim=(0, 2)), lambda r: [_apart(r, 2, 3, 2)], lambda a: _vnorm(a, 1, (0, 2))),
    OpEntry("norm_p_half", lambda a: tn.norm(a, 0.5), lambda r: [_apart(r, 2, 3)], lambda a: _vnorm(a, 0.5)),
    OpEntry("norm_p0", lambda a: tn.norm(a, 0, dim=0) + a.sum(), lambda r: [_n(r, 3, 2)],
            lambda a: _vnorm(a, 0, 0) + a.sum()),
    OpEntry("vector_norm_inf", lambda a: tn.linalg.vector_norm(a, float("inf"), dim=-1), lambda r: [_apart(r, 3, 4) + 0.05],
            lambda a: _vnorm(a, np.inf, -1)),
    OpEntry("vector_norm_neg_inf", lambda a: tn.linalg.vector_norm(a, -float("inf")), lambda r: [_apart(r, 3, 4) + 0.05],
            lambda a: _vnorm(a, -np.inf)),
    OpEntry("vector_norm_neg1_keepdim", lambda a: tn.linalg.vector_norm(a, -1, keepdim=True), lambda r: [_apart(r, 2, 3)],
            lambda a: _vnorm(a, -1, None, True)),
    OpEntry("matrix_norm_fro", lambda a: tn.linalg.matrix_norm(a), lambda r: [_n(r, 2, 3, 4)],
            lambda a: np.linalg.norm(a, "fro", axis=(-2, -1))),
    OpEntry("matrix_norm_1_inf",
            lambda a: tn.linalg.matrix_norm(a, 1).sum() + 2 * tn.linalg.matrix_norm(a, float("inf"), dim=(0, 1)).sum(),
            lambda r: [_n(r, 3, 4, 2)],  # (normal values: sums of _apart values can tie)
            lambda a: np.linalg.norm(a, 1, axis=(1, 2)).sum() + 2 * np.linalg.norm(a, np.inf, axis=(0, 1)).sum()),
    OpEntry("matrix_norm_neg", lambda a: tn.linalg.matrix_norm(a, -1) + tn.linalg.matrix_norm(a, -float("inf")),
            lambda r: [_n(r, 3, 4)], lambda a: np.linalg.norm(a, -1) + np.linalg.norm(a, -np.inf)),
    OpEntry("matrix_norm_nuc_2", lambda a: tn.linalg.matrix_norm(a, "nuc") + tn.linalg.norm(a, 2) - tn.linalg.norm(a, -2),
            lambda r: [_n(r, 3, 4)],
            lambda a: np.linalg.norm(a, "nuc") + np.linalg.norm(a, 2) - np.linalg.norm(a, -2)),
    OpEntry("svdvals", lambda a: tn.linalg.svdvals(a), lambda r: [_n(r, 2, 4, 3)],
            lambda a: np.linalg.svd(a, compute_uv=False)),
    OpEntry("linalg_norm_vector_dim", lambda a: tn.linalg.norm(a, dim=1), lambda r: [_n(r, 3, 4)],
            lambda a: np.linalg.norm(a, axis=1)),
    OpEntry("dist", lambda a, b: tn.dist(a, b, 3), lambda r: [_n(r, 2, 3), _n(r, 3)],
            lambda a, b: _vnorm(a - b, 3), broadcast=(1,)),
    OpEntry("cdist_p2", tn.cdist, lambda r: [_n(r, 2, 3, 2), _n(r, 4, 2)],
            lambda a, b: np.sqrt(((a[..., :, None, :] - b[..., None, :, :]) ** 2).sum(-1))),
    OpEntry("cdist_mm", lambda a, b: tn.cdist(a, b, compute_mode="use_mm_for_euclid_dist"),
            lambda r: [_n(r, 2, 3, 2), _n(r, 2, 4, 2)],
            lambda a, b: np.sqrt(((a[..., :, None, :] - b[..., None, :, :]) ** 2).sum(-1)), broadcast=(1,),
            fwd_atol=1e-6,  # |x1|^2 + |x2|^2 - 2 x1.x2 cancels: a few ulps of the squared norms
            tol32=(2e-5, 1e-4)),  # (same cancellation in float32)
    OpEntry("cdist_p1", lambda a, b: tn.cdist(a, b, p=1.0), lambda r: [_apart(r, 3, 2), _apart(r, 4, 2) + 0.1],
            lambda a, b: np.abs(a[:, None, :] - b[None, :, :]).sum(-1)),
    OpEntry("vecdot", lambda a, b: tn.linalg.vecdot(a, b, dim=0), lambda r: [_n(r, 3, 2), _n(r, 3, 2)],
            lambda a, b: (a * b).sum(0)),
    OpEntry("vander", lambda a: tn.linalg.vander(a, N=4), lambda r: [_n(r, 2, 3)],
            lambda a: a[..., None] ** np.arange(4)),
    OpEntry("multi_dot", lambda a, b, c: tn.linalg.multi_dot([a, b, c]), lambda r: [_n(r, 3), _n(r, 3, 2), _n(r, 2, 2)],
            lambda a, b, c: a @ b @ c),
    # --- matrix functions (well-conditioned inputs) --------------------------------------------
    OpEntry("inv", lambda a: tn.linalg.inv(a), lambda r: [_well(r, 2, 3, 3)], np.linalg.inv,
            tol32=(1e-5, 1e-4)),  # float32 LAPACK inverse: a few ulps times the condition number
    OpEntry("det", lambda a: tn.linalg.det(a), lambda r: [_well(r, 2, 3, 3)], np.linalg.det,
            tol32=(1e-5, 1e-4)),  # (same reason as inv)
    OpEntry("slogdet", lambda a: tn.linalg.slogdet(a)[1], lambda r: [_well(r, 3, 3)],
            lambda a: np.linalg.slogdet(a)[1], tol32=(1e-5, 1e-4)),  # (same reason as inv)
    OpEntry("logdet", lambda a: tn.logdet(a), lambda r: [_well(r, 2, 3, 3)],
            lambda a: np.log(np.linalg.det(a)), tol32=(1e-5, 1e-4)),  # (same reason as inv)
    OpEntry("solve_matrix", lambda a, b: tn.linalg.solve(a, b), lambda r: [_well(r, 2, 3, 3), _n(r, 3, 2)],
            np.linalg.solve, tol32=(1e-5, 1e-4)),  # (same reason as inv)
    OpEntry("solve_vector", lambda a, b: tn.linalg.solve(a, b), lambda r: [_well(r, 3, 3), _n(r, 3)],
            np.linalg.solve, tol32=(1e-5, 1e-4)),  # (same reason as inv)
    OpEntry("solve_right", lambda a, b: tn.linalg.solve(a, b, left=False), lambda r: [_well(r, 3, 3), _n(r, 2, 3)],
            lambda a, b: np.linalg.solve(a.T, b.T).T, tol32=(1e-5, 1e-4)),  # (same reason as inv)
    OpEntry("matrix_power", lambda a: tn.linalg.matrix_power(a, 3) + a.matrix_power(-2) + tn.matrix_power(a, 0),
            lambda r: [_well(r, 2, 3, 3)],
            lambda a: np.linalg.matrix_power(a, 3) + np.linalg.matrix_power(a, -2) + np.eye(3),
            tol32=(1e-5, 1e-4)),  # (same reason as inv)
    OpEntry("linalg_diagonal", lambda a: tn.linalg.diagonal(a, offset=1), lambda r: [_n(r, 2, 3, 4)],
            lambda a: np.diagonal(a, 1, -2, -1)),
    # eigenvectors and singular vectors are unique up to sign: the entries check sign-free functions
    OpEntry("eigh", _eigh_invariants, lambda r: [_n(r, 2, 3, 3)], _np_eigh_invariants,
            tol32=(1e-5, 1e-4)),  # (same reason as inv)
    OpEntry("eigvalsh_upper", lambda a: tn.linalg.eigvalsh(_sym(a), UPLO="U"), lambda r: [_n(r, 3, 3)],
            lambda a: np.linalg.eigvalsh((a + a.T) / 2), tol32=(1e-5, 1e-4)),  # (same reason as inv)
    OpEntry("svd_tall", _svd_invariants, lambda r: [_n(r, 4, 3)], _np_svd_invariants,
            tol32=(1e-5, 1e-4)),  # (same reason as inv)
    OpEntry("svd_wide_batched", _svd_invariants, lambda r: [_n(r, 2, 2, 4)], _np_svd_invariants,
            tol32=(1e-5, 1e-4)),  # (same reason as inv)
    OpEntry("svd_full_matrices", lambda a: _svd_invariants(a, True), lambda r: [_n(r, 3, 2)], _np_svd_invariants,
            tol32=(1e-5, 1e-4)),  # (same reason as inv)
    OpEntry("qr_tall", _qr_fixed, lambda r: [_n(r, 2, 4, 3)], _np_qr_fixed,
            tol32=(1e-5, 1e-4)),  # (same reason as inv)
    OpEntry("qr_wide_complete", lambda a: _qr_fixed(a, "complete"), lambda r: [_n(r, 2, 4)],
            lambda a: _np_qr_fixed(a, "complete"), tol32=(1e-5, 1e-4)),  # (same reason as inv)
    OpEntry("qr_r", lambda a: tn.linalg.qr(a, mode="r")[1], lambda r: [_n(r, 3, 3)],
            lambda a: np.linalg.qr(a, mode="r"), tol32=(1e-5, 1e-4)),  # (same reason as inv)
    OpEntry("svd_values", lambda a: tn.linalg.svd(a, full_matrices=False)[1], lambda r: [_n(r, 3, 2)],
            lambda a: np.linalg.svd(a, compute_uv=False), tol32=(1e-5, 1e-4)),  # (same reason as inv)
    OpEntry("solve_triangular", lambda a, b: tn.linalg.solve_triangular(a, b, upper=True)
            + tn.linalg.solve_triangular(a, b, upper=False, unitriangular=True),
            lambda r: [_well(r, 3, 3), _n(r, 3, 2)],
            lambda a, b: np.linalg.solve(np.triu(a), b) + np.linalg.solve(np.tril(a, -1) + np.eye(3), b),
            tol32=(1e-5, 1e-4)),  # (same reason as inv)
    OpEntry("pinv", lambda a: tn.linalg.pinv(a), lambda r: [_n(r, 2, 4, 3)], np.linalg.pinv,
            tol32=(1e-5, 1e-4)),  # (same reason as inv)
    OpEntry("pinv_hermitian", lambda a: tn.linalg.pinv(_sym(a), hermitian=True), lambda r: [_n(r, 3, 3)],
            lambda a: np.linalg.pinv((a + a.T) / 2, hermitian=True), tol32=(1e-5, 1e-4)),  # (same reason as inv)
    OpEntry("matrix_exp", lambda a: tn.linalg.matrix_exp(a) + a.matrix_exp(), lambda r: [_n(r, 2, 3, 3)],
            lambda a: 2 * _np_expm(a), tol32=(1e-5, 1e-4)),  # (same reason as inv)
    OpEntry("cholesky", lambda a: tn.linalg.cholesky(_spd(a)), lambda r: [_n(r, 2, 3, 3)],
            lambda a: np.linalg.cholesky(_np_spd(a)), tol32=(1e-5, 1e-4)),  # (same reason as inv)
    OpEntry("cholesky_upper", lambda a: tn.cholesky(_spd(a), upper=True), lambda r: [_n(r, 3, 3)],
            lambda a: np.linalg.cholesky(_np_spd(a)).T, tol32=(1e-5, 1e-4)),  # (same reason as inv)
]
