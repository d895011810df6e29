"""The fused (flash-style) attention path: ``FusedAttention`` / ``FusedPackedSelfAttention``
and the kernels ``attention_forward``, ``attention_backward``, ``attention_dropout_mask``.

The op registry (tests/test_op_registry.py) runs the attention entries through the fused
kernels (serial and parallel cpu loops, cuda) and the unfused op, in float32 and float64,
contiguous and strided; tests/test_kernel_contract.py checks both devices' kernels give the
same numbers. Here: each kind of mask, dropout (the same mask on cpu and cuda, its
statistics, the backward using the forward's mask, reproducibility from ``tn.manual_seed``),
strided W3-style inputs, grouped-query attention, gradcheck and double backward through the
fused path, fully masked rows, which path a call takes, what the op saves, the kernels'
errors and the ONNX export. Each against the unfused op and, where PyTorch has the op,
against torch's ``scaled_dot_product_attention`` (float64 tight, float32 to float32 rounding).
Shapes are tiny: the simulated GPU runs one Python thread per GPU thread.
"""
import numpy as np
import pytest

import tinynet as tn
import tinynet.functional as F
from tinynet.functional.attention import Attention, FusedAttention, FusedPackedSelfAttention, PackedSelfAttention

torch = pytest.importorskip("torch")

HUGE = 1 << 62


def _path(monkeypatch, device, fused):
    """Force the fused (threshold 0) or the unfused (threshold above any size) op on ``device``."""
    monkeypatch.setitem(tn.device(device).kernels.KERNEL_MIN_ELEMENTS, "attention", 0 if fused else HUGE)


def _tol(dtype):
    return dict(rtol=1e-5, atol=2e-6) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)


def _t(a, device, dtype, grad=True):
    return tn.tensor(np.asarray(a), dtype=getattr(tn, dtype), device=device, requires_grad=grad)


def _host(t):
    return np.asarray(t.detach().to("cpu").numpy(), dtype=np.float64)


def _run(fn, arrays, device, dtype, g):
    """fn(*tensors) and the gradients of sum(out * g) for q, k, v (a mask, the 4th array,
    needs none: a mask that needs a gradient takes the unfused op)."""
    ts = [_t(a, device, dtype, n < 3) if a.dtype.kind == "f" else tn.tensor(a, device=device)
          for n, a in enumerate(arrays)]
    out = fn(*ts)
    (out * tn.tensor(g, dtype=out.dtype, device=device)).sum().backward()
    return out, [_host(out)] + [_host(t.grad) for t in ts if t.requires_grad]


def _torch_run(fn, arrays, g):
    ts = [torch.tensor(a, requires_grad=n < 3) for n, a in enumerate(arrays)]
    out = fn(*ts)
    (out * torch.tensor(g)).sum().backward()
    return [out.detach().numpy()] + [t.grad.numpy() for t in ts if t.requires_grad]


def _close(got, want, dtype, what):
    for k, (a, b) in enumerate(zip(got, want)):
        np.testing.assert_allclose(a, b, **_tol(dtype), err_msg=f"{what}: result {k}")


def _qkv(r, B=1, H=2, L=3, S=5, d=4, dv=3):
    return [r.standard_normal((B, H, L, d)), r.standard_normal((B, H, S, d)), r.standard_normal((B, H, S, dv))]


_PAD = np.array([[True, True, False, True, False]])  # key padding of one sequence, S = 5

CASES = {
    "plain": (lambda q, k, v: F.scaled_dot_product_attention(q, k, v),
              lambda q, k, v: torch.nn.functional.scaled_dot_product_attention(q, k, v), []),
    "causal": (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.3),
               lambda q, k, v: torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.3),
               []),
    "additive_float_mask": (lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
                            lambda q, k, v, m: torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=m),
                            ["float_mask"]),
    "bool_key_padding": (lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
                         lambda q, k, v, m: torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=m),
                         ["bool_mask"]),
}


def _case_arrays(name, r):
    arrays = _qkv(r)
    if "float_mask" in CASES[name][2]:
        arrays.append(r.standard_normal((3, 5)))  # (L, S), broadcast over batch and heads
    if "bool_mask" in CASES[name][2]:
        arrays.append(_PAD[:, None, None, :])  # (N, 1, 1, S)
    return arrays


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", list(CASES))
def test_fused_matches_unfused_and_torch(device, case, dtype, monkeypatch, rng):
    fn, torch_fn, _ = CASES[case]
    arrays = _case_arrays(case, rng)
    g = rng.standard_normal((1, 2, 3, 3))
    _path(monkeypatch, device, True)
    out, fused = _run(fn, arrays, device, dtype, g)
    assert isinstance(out.grad_fn, FusedAttention), type(out.grad_fn)
    assert out.dtype == getattr(tn, dtype) and out.device == device
    _path(monkeypatch, device, False)
    out, unfused = _run(fn, arrays, device, dtype, g)
    assert isinstance(out.grad_fn, Attention)
    _close(fused, unfused, dtype, f"{case} fused vs unfused")
    want = _torch_run(torch_fn, [a.astype(np.float32) if dtype == "float32" and a.dtype.kind == "f" else a
                                 for a in arrays], g.astype(np.float32) if dtype == "float32" else g)
    _close(fused, want, dtype, f"{case} fused vs torch")


def test_packed_self_attention_fused_matches_unfused(device, monkeypatch, rng):
    qkv = rng.standard_normal((2, 4, 12))
    mask = np.array([[True, True, True, False], [True, True, False, False]])[:, None, None, :]
    g = rng.standard_normal((2, 4, 4))

    def fn(x, m):
        return F.packed_self_attention(x, num_heads=2, attn_mask=m, is_causal=True)

    _path(monkeypatch, device, True)
    out, fused = _run(fn, [qkv, mask], device, "float64", g)
    assert isinstance(out.grad_fn, FusedPackedSelfAttention)
    _path(monkeypatch, device, False)
    out, unfused = _run(fn, [qkv, mask], device, "float64", g)
    assert isinstance(out.grad_fn, PackedSelfAttention)
    _close(fused, unfused, "float64", "packed fused vs unfused")


# --- dropout ----------------------------------------------------------------------------------
def _dropout_call(device, seed, p=0.4, arrays=None, dtype="float64"):
    tn.manual_seed(seed)
    q, k, v = (_t(a, device, dtype) for a in arrays)
    return F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True), (q, k, v)


def test_dropout_same_mask_on_cpu_and_cuda_and_reproducible(monkeypatch, rng):
    from conftest import DEVICES

    if "cuda" not in DEVICES:
        pytest.skip("no cuda device, real or simulated")
    arrays = _qkv(rng, L=4, S=4)
    for dev in ("cpu", "cuda"):
        _path(monkeypatch, dev, True)
    a, _ = _dropout_call("cpu", 5, arrays=arrays)
    b, _ = _dropout_call("cuda", 5, arrays=arrays)
    assert isinstance(a.grad_fn, FusedAttention) and isinstance(b.grad_fn, FusedAttention)
    assert a.grad_fn.seed == b.grad_fn.seed
    np.testing.assert_allclose(_host(a), _host(b), rtol=1e-12, atol=1e-13)
    again, _ = _dropout_call("cpu", 5, arrays=arrays)
    np.testing.assert_array_equal(_host(again), _host(a))  # tn.manual_seed reproduces the run
    other, _ = _dropout_call("cpu", 6, arrays=arrays)
    assert not np.allclose(_host(other), _host(a))
    q = np.zeros((2, 3, 5, 1))
    keep = [np.asarray(tn.device(d).to_host(tn.device(d).kernels.attention_dropout_mask(
        tn.device(d).from_host(q), 7, 0.3, 12345))) for d in ("cpu", "cuda")]
    np.testing.assert_array_equal(keep[0], keep[1])


def test_dropout_mask_statistics():
    kern = tn.device("cpu").kernels
    p = 0.3
    keep = kern.attention_dropout_mask(np.zeros((4, 8, 64, 1), np.float32), 64, p, 2024)
    assert keep.dtype == np.float32 and keep.shape == (4, 8, 64, 64)
    assert set(np.unique(keep)) == {0.0, np.float32(1 / (1 - p))}
    dropped = keep == 0
    assert abs(dropped.mean() - p) < 0.01  # 131072 draws: sd 0.0013
    assert abs(keep.mean() - 1.0) < 0.015  # inverted dropout keeps the expectation
    for axis in range(4):  # neighbours along every axis (batch, head, row, column) are independent:
        changes = np.diff(dropped, axis=axis) != 0  # they differ with probability 2 p (1 - p)
        assert abs(changes.mean() - 2 * p * (1 - p)) < 0.02, axis
    other = kern.attention_dropout_mask(np.zeros((4, 8, 64, 1), np.float32), 64, p, 2025) == 0
    assert abs((dropped & other).mean() - p * p) < 0.01  # another seed: an independent mask
    np.testing.assert_array_equal(kern.attention_dropout_mask(np.zeros((1, 1, 4, 1)), 4, 0.0, 1), 1.0)


def _softmax(s):
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_dropout_backward_uses_the_forward_mask(device, monkeypatch, rng):
    """Forward and gradients against the unfused formulas with the explicit mask Z that the
    kernel's hash gives for the op's seed."""
    arrays = _qkv(rng, L=4, S=4)
    _path(monkeypatch, device, True)
    out, (q, k, v) = _dropout_call(device, 9, arrays=arrays)
    g = rng.standard_normal(out.shape)
    fn_seed = out.grad_fn.seed  # (the graph is freed by backward)
    (out * tn.tensor(g, device=device)).sum().backward()
    z = tn.device("cpu").kernels.attention_dropout_mask(arrays[0], 4, 0.4, fn_seed)
    qn, kn, vn = arrays
    scale = 1 / np.sqrt(4)
    s = qn @ kn.swapaxes(-1, -2) * scale + np.triu(np.full((4, 4), -np.inf), 1)
    P = _softmax(s)
    np.testing.assert_allclose(_host(out), (P * z) @ vn, rtol=1e-10, atol=1e-12)
    dP = (g @ vn.swapaxes(-1, -2)) * z
    dS = P * (dP - (dP * P).sum(-1, keepdims=True))
    for got, want in ((q.grad, scale * dS @ kn), (k.grad, scale * dS.swapaxes(-1, -2) @ qn),
                      (v.grad, (P * z).swapaxes(-1, -2) @ g)):
        np.testing.assert_allclose(_host(got), want, rtol=1e-10, atol=1e-12)
    assert (z == 0).any() and (z != 0).any()


def test_fused_and_unfused_ops_drop_the_same_entries(device, monkeypatch, rng):
    arrays = _qkv(rng, L=4, S=4)
    g = rng.standard_normal((1, 2, 4, 3))
    results = []
    for fused in (True, False):
        _path(monkeypatch, device, fused)
        tn.manual_seed(21)
        out, res = _run(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, dropout_p=0.5), arrays, device,
                        "float64", g)
        assert isinstance(out.grad_fn, FusedAttention if fused else Attention)
        results.append(res)
    _close(results[0], results[1], "float64", "dropout fused vs unfused")


# --- layouts, GQA ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_strided_w3_layout_cpu_vs_torch(dtype, monkeypatch, rng):
    """q, k, v as the strided views GPT-mini makes: qkv.reshape(B, T, 3, H, d).permute(2, 0, 3, 1, 4)."""
    _path(monkeypatch, "cpu", True)
    B, T, H, d = 2, 19, 3, 5
    x = rng.standard_normal((B, T, 3 * H * d))
    g = rng.standard_normal((B, H, T, d))
    xt = _t(x, "cpu", dtype)
    q, k, v = xt.reshape(B, T, 3, H, d).permute(2, 0, 3, 1, 4)
    assert not q.array.flags.c_contiguous
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert isinstance(out.grad_fn, FusedAttention)
    (out * tn.tensor(g, dtype=out.dtype)).sum().backward()
    cast = np.float32 if dtype == "float32" else np.float64
    xt_t = torch.tensor(x.astype(cast), requires_grad=True)
    tq, tk, tv = xt_t.reshape(B, T, 3, H, d).permute(2, 0, 3, 1, 4)
    to = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=True)
    (to * torch.tensor(g.astype(cast))).sum().backward()
    _close([_host(out), _host(xt.grad)], [to.detach().numpy(), xt_t.grad.numpy()], dtype, "strided")


def test_gqa_takes_the_fused_path(device, monkeypatch, rng):
    _path(monkeypatch, device, True)
    arrays = [rng.standard_normal((1, 4, 3, 2)), rng.standard_normal((1, 2, 4, 2)), rng.standard_normal((1, 2, 4, 3))]
    g = rng.standard_normal((1, 4, 3, 3))

    def fn(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, enable_gqa=True, is_causal=True)

    out, got = _run(fn, arrays, device, "float64", g)
    assert isinstance(out.grad_fn, FusedAttention)
    want = _torch_run(lambda q, k, v: torch.nn.functional.scaled_dot_product_attention(
        q, k, v, enable_gqa=True, is_causal=True), arrays, g)
    _close(got, want, "float64", "gqa")


def test_broadcast_batch_axes(monkeypatch, rng):
    """A query with batch axes (2, 3, 2) against keys/values shared over the first two."""
    _path(monkeypatch, "cpu", True)
    arrays = [rng.standard_normal((2, 3, 2, 4, 3)), rng.standard_normal((2, 5, 3)), rng.standard_normal((1, 5, 2))]
    mask = rng.standard_normal((3, 1, 4, 5))
    g = rng.standard_normal((2, 3, 2, 4, 2))

    def fn(q, k, v, m):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=m)

    out, got = _run(fn, arrays + [mask], "cpu", "float64", g)
    assert isinstance(out.grad_fn, FusedAttention)
    want = _torch_run(lambda q, k, v, m: torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=m),
                      arrays + [mask], g)
    _close(got, want, "float64", "broadcast batch")


# --- higher order, gradcheck, NaN rows ----------------------------------------------------------------
def test_gradcheck_and_gradgradcheck_through_the_fused_path(monkeypatch, rng):
    _path(monkeypatch, "cpu", True)
    q, k, v = (_t(a, "cpu", "float64") for a in _qkv(rng, L=3, S=4, d=2, dv=2))
    mask = tn.tensor(rng.standard_normal((3, 4)), dtype=tn.float64)

    def fn(q, k, v):
        tn.manual_seed(3)  # the same dropout mask at every evaluation
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=0.3)
        assert isinstance(out.grad_fn, FusedAttention)
        return out

    assert tn.gradcheck(fn, (q, k, v))
    assert tn.gradgradcheck(fn, (q, k, v))

    def causal(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)

    assert tn.gradcheck(causal, (q, k, v))
    assert tn.gradgradcheck(causal, (q, k, v))


def test_double_backward_matches_the_unfused_op(device, monkeypatch, rng):
    arrays = _qkv(rng, L=3, S=3)
    results = []
    for fused in (True, False):
        _path(monkeypatch, device, fused)
        q, k, v = (_t(a, device, "float64") for a in arrays)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        assert isinstance(out.grad_fn, FusedAttention if fused else Attention)
        gq, = tn.autograd.grad((out ** 2).sum(), q, create_graph=True)
        (gq ** 2).sum().backward()
        results.append([_host(gq), _host(k.grad), _host(v.grad), _host(q.grad)])
    _close(results[0], results[1], "float64", "double backward")


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # the simulator's -inf - -inf
def test_fully_masked_rows_give_nan_as_the_unfused_op(device, monkeypatch, rng):
    """A query row with every key masked has NaN output, and NaN reaches the gradients the same
    way on both paths (tinynet keeps the NaN of softmax over an all -inf row)."""
    arrays = _qkv(rng, L=3, S=4)
    m = np.ones((3, 4), bool)
    m[1] = False
    g = np.ones((1, 2, 3, 3))
    results = []
    for fused in (True, False):
        _path(monkeypatch, device, fused)
        out, res = _run(lambda q, k, v, mm: F.scaled_dot_product_attention(q, k, v, attn_mask=mm),
                        arrays + [m], device, "float64", g)
        assert isinstance(out.grad_fn, FusedAttention if fused else Attention)
        results.append(res)
    assert np.isnan(results[0][0][:, :, 1]).all() and not np.isnan(results[0][0][:, :, [0, 2]]).any()
    for a, b in zip(*results):
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, equal_nan=True)


# --- dispatch, memory -------------------------------------------------------------------------------
def test_which_path_a_call_takes(monkeypatch, rng):
    _path(monkeypatch, "cpu", True)
    q, k, v = (_t(a, "cpu", "float32") for a in _qkv(rng))
    assert isinstance(F.scaled_dot_product_attention(q, k, v).grad_fn, FusedAttention)
    out, w = F.scaled_dot_product_attention(q, k, v, need_weights=True)
    assert isinstance(out.grad_fn, Attention) and w.shape == (1, 2, 3, 5)
    learned = tn.zeros(3, 5, requires_grad=True)  # a mask that needs a gradient: an input of the unfused op
    assert isinstance(F.scaled_dot_product_attention(q, k, v, attn_mask=learned).grad_fn, Attention)
    qkv = tn.randn(1, 3, 12, requires_grad=True)
    assert isinstance(F.packed_self_attention(qkv, 2).grad_fn, FusedPackedSelfAttention)
    assert isinstance(F.packed_self_attention(qkv, 2, need_weights=True)[0].grad_fn, PackedSelfAttention)
    # the size threshold of kernels/policy.py: L*S = 3*5 = 15 score entries per head
    monkeypatch.setitem(tn.device("cpu").kernels.KERNEL_MIN_ELEMENTS, "attention", 16)
    assert isinstance(F.scaled_dot_product_attention(q, k, v).grad_fn, Attention)
    monkeypatch.setitem(tn.device("cpu").kernels.KERNEL_MIN_ELEMENTS, "attention", 15)
    assert isinstance(F.scaled_dot_product_attention(q, k, v).grad_fn, FusedAttention)


def test_head_dims_beyond_the_cuda_tiles_use_the_unfused_op(device, monkeypatch, rng):
    """cuda's shared-memory tiles hold head dims up to 64; the cpu kernel has no limit."""
    _path(monkeypatch, device, True)
    q = _t(rng.standard_normal((1, 1, 2, 65)), device, "float64")
    out = F.scaled_dot_product_attention(q, q, q)
    limited = tn.device(device).kernels.ATTENTION_MAX_HEAD_DIM < 65
    assert limited == (device == "cuda")
    assert isinstance(out.grad_fn, Attention if limited else FusedAttention)


def test_the_fused_op_saves_no_probabilities(monkeypatch):
    _path(monkeypatch, "cpu", True)
    B, H, L, d = 2, 2, 16, 4
    q, k, v = (tn.randn(B, H, L, d, requires_grad=True) for _ in range(3))
    fn = F.scaled_dot_product_attention(q, k, v, is_causal=True).grad_fn
    saved = [a for a in vars(fn).values() if isinstance(a, np.ndarray)]
    assert saved and max(a.size for a in saved) <= B * H * L * d < B * H * L * L
    assert fn.lse.shape == (B, H, L) and fn.lse.dtype == np.float64


# --- kernels called directly: errors -------------------------------------------------------------------
def test_kernels_refuse_integer_and_oversized_inputs(device):
    kern = tn.device(device).kernels
    dev = tn.device(device)
    q = dev.from_host(np.ones((1, 1, 2, 3), np.int64))
    with pytest.raises(TypeError, match="attention kernel: query must be float32 or float64, got int64"):
        kern.attention_forward(q, q, q, None, 1.0, False, 0.0, 0)
    with pytest.raises(TypeError, match="float32 or float64"):
        kern.attention_dropout_mask(q, 2, 0.1, 0)
    if device == "cuda":
        big = dev.from_host(np.ones((1, 1, 2, kern.ATTENTION_MAX_HEAD_DIM + 1)))
        with pytest.raises(ValueError, match="head dimensions up to 64"):
            kern.attention_forward(big, big, big, None, 1.0, False, 0.0, 0)


def test_no_keys_gives_nan_rows(device):
    """S = 0: every row is fully masked (NaN output, NaN log-sum-exp), zero gradients."""
    dev = tn.device(device)
    kern = dev.kernels
    q = dev.from_host(np.ones((1, 2, 3, 2)))
    kv = dev.from_host(np.ones((1, 2, 0, 2)))
    out, lse = kern.attention_forward(q, kv, kv, None, 1.0, False, 0.0, 0)
    assert out.shape == (1, 2, 3, 2) and np.isnan(np.asarray(dev.to_host(out))).all()
    assert np.isnan(np.asarray(dev.to_host(lse))).all()
    dq, dk, dv = kern.attention_backward(q, kv, kv, out, lse, q, None, 1.0, False, 0.0, 0)
    assert dk.shape == (1, 2, 0, 2) and not np.asarray(dev.to_host(dq)).any()


# --- export --------------------------------------------------------------------------------------------
def test_onnx_export_of_the_fused_op(tmp_path, monkeypatch, rng):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    _path(monkeypatch, "cpu", True)

    class Causal(tn.nn.Module):
        def forward(self, q, k, v):
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)

    arrays = [a.astype(np.float32) for a in _qkv(rng, L=4, S=4)]
    model = Causal()
    want = model(*[tn.tensor(a) for a in arrays])
    assert isinstance(F.scaled_dot_product_attention(*[tn.tensor(a, requires_grad=True) for a in arrays],
                                                     is_causal=True).grad_fn, FusedAttention)
    path = tmp_path / "causal.onnx"
    tn.onnx.export(model, tuple(tn.tensor(a) for a in arrays), str(path), input_names=["q", "k", "v"])
    onnx.checker.check_model(onnx.load(str(path)))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, dict(zip(["q", "k", "v"], arrays)))[0]
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-5, atol=1e-6)
