"""PyTorch parity of the layout, shape and linear-algebra ops: the same float64 inputs through
tinynet and torch give the same values and the same gradients (of a fixed random weighting
of the outputs). Skipped when torch is not installed."""
import math

import numpy as np
import pytest

import tinynet as tn

torch = pytest.importorskip("torch")

_R = np.random.default_rng(0)


def _n(*shape):
    return _R.standard_normal(shape)


def _well(*shape):
    return _R.standard_normal(shape) + 3.0 * np.eye(shape[-1])


def _flat(out):
    """A tuple of outputs as one list (ops such as unbind/meshgrid return several)."""
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _check(fn_tn, fn_torch, *arrays, device="cpu", atol=1e-8):
    xs = [tn.tensor(a, dtype=tn.float64, device=device, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    outs, touts = _flat(fn_tn(*xs)), _flat(fn_torch(*ts))
    assert len(outs) == len(touts)
    for o, t in zip(outs, touts):
        assert tuple(o.shape) == tuple(t.shape)
        np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), atol=atol, rtol=1e-7)
    rng = np.random.default_rng(1)
    weights = [rng.standard_normal(tuple(t.shape)) for t in touts]
    loss = sum(((o * tn.tensor(w, dtype=tn.float64, device=device)).sum() for o, w in zip(outs, weights)),
               tn.tensor(0.0, dtype=tn.float64, device=device))
    tloss = sum((t * torch.tensor(w)).sum() for t, w in zip(touts, weights))
    if not tloss.requires_grad:
        return
    loss.backward()
    tloss.backward()
    for x, t in zip(xs, ts):
        gx = np.zeros(x.shape) if x.grad is None else x.grad.numpy()
        gt = np.zeros(tuple(t.shape)) if t.grad is None else t.grad.numpy()
        np.testing.assert_allclose(gx, gt, atol=1e-7, rtol=1e-6)


LAYOUT = {
    "view": (lambda x: x.view(4, 6), lambda x: x.view(4, 6), [(2, 3, 4)]),
    "permute": (lambda x: x.permute((2, 0, 1)), lambda x: x.permute((2, 0, 1)), [(2, 3, 4)]),
    "swapdims": (lambda x: x.swapdims(0, 2), lambda x: x.swapdims(0, 2), [(2, 3, 4)]),
    "expand": (lambda x: x.expand(2, -1, 4), lambda x: x.expand(2, -1, 4), [(3, 1)]),
    "squeeze_tuple": (lambda x: x.squeeze((0, 2)), lambda x: x.squeeze((0, 2)), [(1, 3, 1, 2)]),
    "flatten": (lambda x: x.flatten(1, 2), lambda x: x.flatten(1, 2), [(2, 3, 4, 1)]),
    "split_list": (lambda x: x.split([1, 3], 1), lambda x: x.split([1, 3], 1), [(2, 4)]),
    "chunk": (lambda x: x.chunk(4), lambda x: x.chunk(4), [(5, 2)]),
    "tensor_split": (lambda x: x.tensor_split(3, 1), lambda x: x.tensor_split(3, 1), [(2, 7)]),
    "tensor_split_idx": (lambda x: tn.tensor_split(x, [1, 4]), lambda x: torch.tensor_split(x, [1, 4]), [(6,)]),
    "hstack": (lambda a, b: tn.hstack([a, b]), lambda a, b: torch.hstack([a, b]), [(2, 3), (2, 1)]),
    "vstack": (lambda a, b: tn.vstack([a, b]), lambda a, b: torch.vstack([a, b]), [(3,), (2, 3)]),
    "dstack": (lambda a, b: tn.dstack([a, b]), lambda a, b: torch.dstack([a, b]), [(3,), (1, 3, 2)]),
    "column_stack": (lambda a, b: tn.column_stack([a, b]), lambda a, b: torch.column_stack([a, b]), [(3,), (3, 2)]),
    "stack": (lambda a, b: tn.stack([a, b], dim=1), lambda a, b: torch.stack([a, b], dim=1), [(2, 3), (2, 3)]),
    "repeat": (lambda x: x.repeat(2, 1, 3), lambda x: x.repeat(2, 1, 3), [(2, 3)]),
    "tile": (lambda x: x.tile((2,)), lambda x: x.tile((2,)), [(2, 3)]),
    "repeat_interleave": (lambda x: x.repeat_interleave(2, dim=1), lambda x: x.repeat_interleave(2, dim=1), [(2, 3)]),
    "repeat_interleave_flat": (lambda x: x.repeat_interleave(2), lambda x: x.repeat_interleave(2), [(2, 3)]),
    "repeat_interleave_tensor": (lambda x: x.repeat_interleave(tn.tensor([2, 0, 1]), dim=0),
                                 lambda x: x.repeat_interleave(torch.tensor([2, 0, 1]), dim=0), [(3, 2)]),
    "flip": (lambda x: x.flip((0, 2)), lambda x: x.flip((0, 2)), [(2, 3, 4)]),
    "fliplr": (lambda x: x.fliplr(), lambda x: x.fliplr(), [(2, 3)]),
    "flipud": (lambda x: x.flipud(), lambda x: x.flipud(), [(2, 3)]),
    "roll": (lambda x: x.roll((1, -5), (1, 2)), lambda x: x.roll((1, -5), (1, 2)), [(2, 3, 4)]),
    "roll_flat": (lambda x: x.roll(3), lambda x: x.roll(3), [(2, 3)]),
    "rot90_1": (lambda x: x.rot90(1, (1, 2)), lambda x: x.rot90(1, (1, 2)), [(2, 3, 4)]),
    "rot90_2": (lambda x: x.rot90(2), lambda x: x.rot90(2), [(2, 3)]),
    "rot90_m1": (lambda x: x.rot90(-1), lambda x: x.rot90(-1), [(2, 3)]),
    "narrow": (lambda x: x.narrow(2, -3, 2), lambda x: x.narrow(2, -3, 2), [(2, 3, 4)]),
    "select": (lambda x: x.select(1, -1), lambda x: x.select(1, -1), [(2, 3, 4)]),
    "unbind": (lambda x: x.unbind(1), lambda x: x.unbind(1), [(2, 3)]),
    "unflatten": (lambda x: x.unflatten(1, (2, -1)), lambda x: x.unflatten(1, (2, -1)), [(3, 6)]),
    "movedim": (lambda x: x.movedim((0, 1), (2, 0)), lambda x: x.movedim((0, 1), (2, 0)), [(2, 3, 4)]),
    "moveaxis": (lambda x: tn.moveaxis(x, -1, 0), lambda x: torch.moveaxis(x, -1, 0), [(2, 3, 4)]),
    "diag_1d": (lambda x: x.diag(-1), lambda x: x.diag(-1), [(3,)]),
    "diag_2d": (lambda x: x.diag(1), lambda x: x.diag(1), [(3, 4)]),
    "diagonal": (lambda x: x.diagonal(1, 2, 0), lambda x: x.diagonal(1, 2, 0), [(3, 2, 4)]),
    "diagonal_empty": (lambda x: x.diagonal(5), lambda x: x.diagonal(5), [(3, 4)]),
    "diag_embed": (lambda x: x.diag_embed(1, 0, 2), lambda x: x.diag_embed(1, 0, 2), [(2, 3)]),
    "meshgrid_xy": (lambda a, b, c: tn.meshgrid(a, b, c, indexing="xy"),
                    lambda a, b, c: torch.meshgrid(a, b, c, indexing="xy"), [(2,), (3,), (4,)]),
    "meshgrid_ij": (lambda a, b: tn.meshgrid([a, b], indexing="ij"),
                    lambda a, b: torch.meshgrid([a, b], indexing="ij"), [(2,), (3,)]),
    "cartesian_prod": (lambda a, b, c: tn.cartesian_prod(a, b, c), lambda a, b, c: torch.cartesian_prod(a, b, c),
                       [(2,), (3,), (2,)]),
    "t": (lambda x: x.t(), lambda x: x.t(), [(2, 3)]),
    "view_as": (lambda x, y: x.view_as(y), lambda x, y: x.view_as(y), [(2, 3), (3, 2)]),
    "expand_as": (lambda x, y: x.expand_as(y), lambda x, y: x.expand_as(y), [(3, 1), (2, 3, 4)]),
    "reshape_as": (lambda x, y: x.reshape_as(y), lambda x, y: x.reshape_as(y), [(2, 3), (6,)]),
    "clone_cl": (lambda x: x.clone(memory_format=tn.channels_last),
                 lambda x: x.clone(memory_format=torch.channels_last), [(1, 2, 2, 3)]),
}


@pytest.mark.parametrize("name", sorted(LAYOUT))
def test_layout_parity(name, device):
    fn, tfn, shapes = LAYOUT[name]
    _check(fn, tfn, *[_n(*s) for s in shapes], device=device)


LINALG = {
    "mm": (tn.mm, torch.mm, [_n(2, 3), _n(3, 4)]),
    "bmm": (tn.bmm, torch.bmm, [_n(2, 2, 3), _n(2, 3, 4)]),
    "mv": (tn.mv, torch.mv, [_n(2, 3), _n(3)]),
    "dot": (tn.dot, torch.dot, [_n(3), _n(3)]),
    "vdot": (tn.vdot, torch.vdot, [_n(3), _n(3)]),
    "inner": (tn.inner, torch.inner, [_n(2, 3), _n(4, 3)]),
    "outer": (tn.outer, torch.outer, [_n(3), _n(2)]),
    "ger": (tn.ger, torch.outer, [_n(3), _n(2)]),
    "addmm": (lambda c, a, b: tn.addmm(c, a, b, beta=0.5, alpha=2), lambda c, a, b: torch.addmm(c, a, b, beta=0.5, alpha=2),
              [_n(4), _n(2, 3), _n(3, 4)]),
    "addmv": (lambda c, a, b: tn.addmv(c, a, b, alpha=-1), lambda c, a, b: torch.addmv(c, a, b, alpha=-1),
              [_n(2), _n(2, 3), _n(3)]),
    "addr": (lambda c, a, b: tn.addr(c, a, b, beta=2), lambda c, a, b: torch.addr(c, a, b, beta=2), [_n(3, 2), _n(3), _n(2)]),
    "addbmm": (tn.addbmm, torch.addbmm, [_n(2, 4), _n(3, 2, 3), _n(3, 3, 4)]),
    "baddbmm": (lambda c, a, b: tn.baddbmm(c, a, b, beta=0), lambda c, a, b: torch.baddbmm(c, a, b, beta=0),
                [_n(3, 2, 4), _n(3, 2, 3), _n(3, 3, 4)]),
    "tensordot_int": (lambda a, b: tn.tensordot(a, b, 2), lambda a, b: torch.tensordot(a, b, 2),
                      [_n(2, 3, 4), _n(3, 4, 2)]),
    "tensordot_lists": (lambda a, b: tn.tensordot(a, b, ([0, 2], [2, 0])),
                        lambda a, b: torch.tensordot(a, b, ([0, 2], [2, 0])), [_n(2, 3, 4), _n(4, 3, 2)]),
    "kron": (tn.kron, torch.kron, [_n(2, 3), _n(3, 1, 2)]),
    "trace": (tn.trace, torch.trace, [_n(3, 4)]),
    "einsum_matmul": (lambda a, b: tn.einsum("ij,jk->ik", a, b), lambda a, b: torch.einsum("ij,jk->ik", a, b),
                      [_n(2, 3), _n(3, 4)]),
    "einsum_diag": (lambda a: tn.einsum("ii->i", a), lambda a: torch.einsum("ii->i", a), [_n(3, 3)]),
    "einsum_trace": (lambda a: tn.einsum("ii", a), lambda a: torch.einsum("ii", a), [_n(3, 3)]),
    "einsum_repeat3": (lambda a: tn.einsum("iij->ij", a), lambda a: torch.einsum("iij->ij", a), [_n(3, 3, 2)]),
    "einsum_ellipsis": (lambda a, b: tn.einsum("...ij,...jk", a, b), lambda a, b: torch.einsum("...ij,...jk", a, b),
                        [_n(2, 1, 2, 3), _n(4, 3, 2)]),
    "einsum_summed": (lambda a, b: tn.einsum("bi,bj->b", a, b), lambda a, b: torch.einsum("bi,bj->b", a, b),
                      [_n(2, 3), _n(2, 4)]),
    "einsum_list": (lambda a, b, c: tn.einsum("ab,bc,cd->ad", [a, b, c]),
                    lambda a, b, c: torch.einsum("ab,bc,cd->ad", [a, b, c]), [_n(2, 3), _n(3, 4), _n(4, 2)]),
    "einsum_broadcast1": (lambda a, b: tn.einsum("ij,ij->ij", a, b), lambda a, b: torch.einsum("ij,ij->ij", a, b),
                          [_n(1, 3), _n(2, 3)]),
    "dist": (lambda a, b: tn.dist(a, b, 3), lambda a, b: torch.dist(a, b, 3), [_n(2, 3), _n(3)]),
    "cdist": (tn.cdist, torch.cdist, [_n(2, 3, 4), _n(5, 4)]),
    "cdist_mm": (lambda a, b: tn.cdist(a, b, compute_mode="use_mm_for_euclid_dist"),
                 lambda a, b: torch.cdist(a, b, compute_mode="use_mm_for_euclid_dist"), [_n(2, 3, 4), _n(5, 4)]),
    "cdist_mm_if_necessary": (tn.cdist, torch.cdist, [_n(30, 3), _n(4, 3)]),
    "cdist_p1": (lambda a, b: tn.cdist(a, b, 1), lambda a, b: torch.cdist(a, b, 1), [_n(3, 4), _n(5, 4)]),
    "cdist_p3": (lambda a, b: tn.cdist(a, b, 3), lambda a, b: torch.cdist(a, b, 3), [_n(3, 4), _n(5, 4)]),
    "inv": (tn.linalg.inv, torch.linalg.inv, [_well(2, 3, 3)]),
    "inverse": (tn.inverse, torch.inverse, [_well(3, 3)]),
    "det": (tn.linalg.det, torch.linalg.det, [_well(2, 3, 3)]),
    "slogdet": (lambda a: tn.linalg.slogdet(a)[1], lambda a: torch.linalg.slogdet(a)[1], [_well(3, 3)]),
    "solve": (tn.linalg.solve, torch.linalg.solve, [_well(2, 3, 3), _n(2, 3, 2)]),
    "solve_vec": (tn.linalg.solve, torch.linalg.solve, [_well(2, 3, 3), _n(2, 3)]),
    "solve_right": (lambda a, b: tn.linalg.solve(a, b, left=False), lambda a, b: torch.linalg.solve(a, b, left=False),
                    [_well(2, 3, 3), _n(2, 4, 3)]),
    "cholesky": (lambda a: tn.linalg.cholesky(a @ a.mT), lambda a: torch.linalg.cholesky(a @ a.mT), [_well(2, 3, 3)]),
    "svdvals": (tn.linalg.svdvals, torch.linalg.svdvals, [_n(2, 3, 4)]),
    "matrix_power": (lambda a: tn.linalg.matrix_power(a, -3), lambda a: torch.linalg.matrix_power(a, -3), [_well(3, 3)]),
    "multi_dot": (lambda a, b, c: tn.linalg.multi_dot([a, b, c]), lambda a, b, c: torch.linalg.multi_dot([a, b, c]),
                  [_n(3), _n(3, 4), _n(4)]),
    "vecdot": (lambda a, b: tn.linalg.vecdot(a, b, dim=0), lambda a, b: torch.linalg.vecdot(a, b, dim=0),
               [_n(3, 2), _n(3, 2)]),
    "linalg_diagonal": (lambda a: tn.linalg.diagonal(a, offset=-1), lambda a: torch.linalg.diagonal(a, offset=-1),
                        [_n(2, 3, 4)]),
}


@pytest.mark.parametrize("name", sorted(LINALG))
def test_linalg_parity(name, device):
    fn, tfn, arrays = LINALG[name]
    _check(fn, tfn, *arrays, device=device)


_PS = [2, 1, 3, 0.5, math.inf, -math.inf, 0, "fro", -1]


@pytest.mark.parametrize("p", _PS, ids=str)
def test_norm_parity(p, device):
    x = _n(2, 3)
    _check(lambda a: tn.norm(a, p), lambda a: torch.norm(a, p), x, device=device)
    _check(lambda a: a.norm(p, dim=1, keepdim=True), lambda a: a.norm(p, dim=1, keepdim=True), x, device=device)
    if p != "fro":
        _check(lambda a: tn.linalg.vector_norm(a, p, dim=(0, 2)), lambda a: torch.linalg.vector_norm(a, p, dim=(0, 2)),
               _n(2, 3, 2), device=device)
        _check(lambda a: tn.linalg.norm(a, p, dim=-1), lambda a: torch.linalg.norm(a, p, dim=-1), _n(2, 3), device=device)


@pytest.mark.parametrize("ord", ["fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf], ids=str)
def test_matrix_norm_parity(ord, device):
    _check(lambda a: tn.linalg.matrix_norm(a, ord), lambda a: torch.linalg.matrix_norm(a, ord), _n(2, 3, 4), device=device)
    _check(lambda a: tn.linalg.matrix_norm(a, ord, dim=(2, 0), keepdim=True),
           lambda a: torch.linalg.matrix_norm(a, ord, dim=(2, 0), keepdim=True), _n(2, 3, 4), device=device)
    _check(lambda a: tn.linalg.norm(a, ord), lambda a: torch.linalg.norm(a, ord), _n(3, 4), device=device)


def test_nuclear_torch_norm_parity():
    _check(lambda a: tn.norm(a, "nuc"), lambda a: torch.norm(a, "nuc"), _n(3, 4))


def test_zero_norm_and_zero_distance_gradients_match_torch():
    _check(lambda a: tn.norm(a * 0), lambda a: torch.norm(a * 0), _n(3))
    z = _n(3, 4)
    _check(lambda a, b: tn.cdist(a, b), lambda a, b: torch.cdist(a, b), z, z.copy())


def test_view_dtype_parity():
    x = np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5
    for tdt, ndt in ((torch.int32, tn.int32), (torch.int16, tn.float16), (torch.uint8, tn.uint8)):
        a = tn.tensor(x).view(ndt).numpy()
        b = torch.tensor(x).view(tdt).numpy()
        assert a.shape == b.shape and a.tobytes() == b.tobytes()


def test_repeat_interleave_repeats_only_parity():
    r = [3, 0, 1, 2]
    assert tn.repeat_interleave(tn.tensor(r)).tolist() == torch.repeat_interleave(torch.tensor(r)).tolist()


def test_chunk_sizes_parity():
    for n in range(0, 9):
        for c in range(1, 6):
            a = [p.shape[0] for p in tn.arange(float(n)).reshape(n, 1).chunk(c)]
            b = [p.shape[0] for p in torch.arange(float(n)).reshape(n, 1).chunk(c)]
            assert a == b, (n, c)


def _sym(a):
    return (a + a.mT) / 2


def _eigh_inv(mod):
    def f(a):
        w, V = mod.linalg.eigh(_sym(a))
        return w, V * V, V @ V.mT, V[..., :1, :] * V[..., 1:2, :]
    return f


def _svd_inv(mod, full):
    def f(a):
        U, S, Vh = mod.linalg.svd(a, full_matrices=full)
        k = S.shape[-1]
        return S, U[..., :k] * U[..., :k], Vh[..., :k, :] * Vh[..., :k, :], U[..., :k] @ Vh[..., :k, :]
    return f


def _qr_fixed(mod, mode):
    def f(a):
        Q, R = mod.linalg.qr(a, mode=mode)
        s = mod.sign(mod.diagonal(R, 0, -2, -1))
        return Q * s.unsqueeze(-2), R * s.unsqueeze(-1)
    return f


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4)])
def test_eigh_parity(shape, device):
    """Eigenvectors are unique up to sign: compare eigenvalues and sign-free functions of them."""
    _check(_eigh_inv(tn), _eigh_inv(torch), _n(*shape), device=device)
    _check(lambda a: tn.linalg.eigvalsh(_sym(a), UPLO="U"), lambda a: torch.linalg.eigvalsh(_sym(a), UPLO="U"),
           _n(*shape), device=device)


@pytest.mark.parametrize("shape", [(3, 3), (4, 3), (3, 5), (2, 4, 2)])
@pytest.mark.parametrize("full", [False, True])
def test_svd_parity(shape, full, device):
    _check(_svd_inv(tn, full), _svd_inv(torch, full), _n(*shape), device=device)


@pytest.mark.parametrize("shape, mode", [((3, 3), "reduced"), ((4, 3), "reduced"), ((3, 5), "reduced"),
                                         ((2, 4, 2), "reduced"), ((3, 5), "complete"), ((3, 3), "complete")])
def test_qr_parity(shape, mode, device):
    _check(_qr_fixed(tn, mode), _qr_fixed(torch, mode), _n(*shape), device=device)


def test_qr_modes_shapes():
    a = _n(4, 3)
    for mode in ("reduced", "complete", "r"):
        q, r = tn.linalg.qr(tn.tensor(a), mode=mode)
        tq, tr = torch.linalg.qr(torch.tensor(a), mode=mode)
        assert tuple(q.shape) == tuple(tq.shape) and tuple(r.shape) == tuple(tr.shape)


MORE = {
    "hsplit": (lambda x: x.hsplit(2), lambda x: x.hsplit(2), [_n(3, 4)]),
    "vsplit": (lambda x: tn.vsplit(x, [1, 2]), lambda x: torch.vsplit(x, [1, 2]), [_n(3, 4)]),
    "dsplit": (lambda x: tn.dsplit(x, 3), lambda x: torch.dsplit(x, 3), [_n(2, 2, 3)]),
    "atleast_3d": (lambda a, b: tn.atleast_3d(a, b), lambda a, b: torch.atleast_3d(a, b), [_n(3), _n(2, 3)]),
    "atleast_2d": (lambda a: tn.atleast_2d(a), lambda a: torch.atleast_2d(a), [_n(3)]),
    "ravel": (lambda x: x.ravel(), lambda x: x.ravel(), [_n(2, 3)]),
    "narrow_copy": (lambda x: x.narrow_copy(1, 1, 2), lambda x: x.narrow_copy(1, 1, 2), [_n(2, 4)]),
    "block_diag": (lambda a, b, c: tn.block_diag(a, b, c), lambda a, b, c: torch.block_diag(a, b, c),
                   [_n(2, 2), _n(3), _n(1, 2)]),
    "cross": (lambda a, b: tn.cross(a, b, dim=1), lambda a, b: torch.cross(a, b, dim=1), [_n(2, 3), _n(1, 3)]),
    "linalg_cross": (tn.linalg.cross, torch.linalg.cross, [_n(2, 3), _n(2, 3)]),
    "logdet": (tn.logdet, torch.logdet, [_well(2, 3, 3)]),
    "vander": (lambda a: tn.linalg.vander(a), torch.linalg.vander, [_n(2, 3)]),
    "solve_triangular_upper": (lambda a, b: tn.linalg.solve_triangular(a, b, upper=True),
                               lambda a, b: torch.linalg.solve_triangular(a, b, upper=True), [_well(2, 3, 3), _n(2, 3, 2)]),
    "solve_triangular_lower_unit_right": (
        lambda a, b: tn.linalg.solve_triangular(a, b, upper=False, left=False, unitriangular=True),
        lambda a, b: torch.linalg.solve_triangular(a, b, upper=False, left=False, unitriangular=True),
        [_well(3, 3), _n(2, 3)]),
    "pinv_tall": (tn.linalg.pinv, torch.linalg.pinv, [_n(4, 3)]),
    "pinv_wide_batched": (tn.linalg.pinv, torch.linalg.pinv, [_n(2, 2, 3)]),
    "pinv_hermitian": (lambda a: tn.linalg.pinv(_sym(a), hermitian=True),
                       lambda a: torch.linalg.pinv(_sym(a), hermitian=True), [_n(3, 3)]),
    "matrix_exp_small": (tn.linalg.matrix_exp, torch.linalg.matrix_exp, [_n(2, 3, 3) * 0.1]),
    "matrix_exp_large": (lambda a: a.matrix_exp(), lambda a: a.matrix_exp(), [_n(3, 3) * 3]),
    "einsum_sublist": (lambda a, b: tn.einsum(a, [0, 1, 2], b, [1, 2], [0]),
                       lambda a, b: torch.einsum(a, [0, 1, 2], b, [1, 2], [0]), [_n(2, 3, 2), _n(3, 2)]),
}


@pytest.mark.parametrize("name", sorted(MORE))
def test_more_parity(name, device):
    fn, tfn, arrays = MORE[name]
    _check(fn, tfn, *arrays, device=device)


def test_matrix_rank_parity(device):
    rng = np.random.default_rng(3)
    mats = [rng.standard_normal((3, 4)), np.outer([1.0, 2.0, 3.0], [1.0, 1.0]), np.zeros((2, 2)),
            rng.standard_normal((2, 3, 3))]
    for a in mats:
        for kw in ({}, {"atol": 0.5}, {"rtol": 0.3}):
            ours = tn.linalg.matrix_rank(tn.tensor(a, device=device), **kw)
            assert ours.dtype == tn.int64
            assert ours.tolist() == torch.linalg.matrix_rank(torch.tensor(a), **kw).tolist()
        s = a @ np.swapaxes(a, -1, -2)
        assert tn.linalg.matrix_rank(tn.tensor(s, device=device), hermitian=True).tolist() == \
            torch.linalg.matrix_rank(torch.tensor(s), hermitian=True).tolist()


def test_pinv_rank_deficient_values():
    a = np.outer([1.0, 2.0, 3.0], [1.0, 1.0, 2.0])
    np.testing.assert_allclose(tn.linalg.pinv(tn.tensor(a)).numpy(), torch.linalg.pinv(torch.tensor(a)).numpy(),
                               atol=1e-10)
    np.testing.assert_allclose(tn.linalg.pinv(tn.tensor(a), atol=0.5).numpy(),
                               torch.linalg.pinv(torch.tensor(a), atol=0.5).numpy(), atol=1e-10)
