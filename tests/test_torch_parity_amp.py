"""Mixed precision against PyTorch (CPU): autocast output dtypes and values per op with
dtype=float16 (PyTorch's CPU autocast accepts float16), and GradScaler's scale sequence."""
import numpy as np
import pytest

import tinynet as tn
import tinynet.nn as nn
import tinynet.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _pair(*shape, seed=0):
    a = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return tn.tensor(a), torch.tensor(a)


def _cases():
    """name -> (tinynet fn, torch fn, input shapes)."""
    return {
        "linear": (F.linear, TF.linear, [(3, 4), (5, 4), (5,)]),
        "matmul": (tn.matmul, torch.matmul, [(2, 3, 4), (4, 5)]),
        "matmul_1d": (tn.matmul, torch.matmul, [(4,), (4, 3)]),
        "mm": (tn.mm, torch.mm, [(3, 4), (4, 5)]),
        "bmm": (tn.bmm, torch.bmm, [(2, 3, 4), (2, 4, 5)]),
        "addmm": (tn.addmm, torch.addmm, [(3, 5), (3, 4), (4, 5)]),
        "baddbmm": (tn.baddbmm, torch.baddbmm, [(2, 3, 5), (2, 3, 4), (2, 4, 5)]),
        "addbmm": (tn.addbmm, torch.addbmm, [(3, 5), (2, 3, 4), (2, 4, 5)]),
        "einsum": (lambda a, b: tn.einsum("bij,jk->bik", a, b), lambda a, b: torch.einsum("bij,jk->bik", a, b),
                   [(2, 3, 4), (4, 5)]),
        "tensordot": (lambda a, b: tn.tensordot(a, b, 1), lambda a, b: torch.tensordot(a, b, 1), [(3, 4), (4, 5)]),
        "sdpa": (F.scaled_dot_product_attention, TF.scaled_dot_product_attention, [(2, 3, 4)] * 3),
        "sdpa_causal": (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                        lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, is_causal=True), [(2, 3, 4)] * 3),
        # not lowered on the CPU: they stay float32
        "mv": (tn.mv, torch.mv, [(3, 4), (4,)]),
        "addmv": (tn.addmv, torch.addmv, [(3,), (3, 4), (4,)]),
        "addr": (tn.addr, torch.addr, [(3, 4), (3,), (4,)]),
        "dot": (tn.dot, torch.dot, [(4,), (4,)]),
        "outer": (tn.outer, torch.outer, [(3,), (4,)]),
        "bilinear": (F.bilinear, TF.bilinear, [(3, 4), (3, 2), (5, 4, 2)]),
    }


@pytest.mark.parametrize("name", list(_cases()))
def test_autocast_output_dtype_values_and_grads_match_torch(name):
    tn_fn, t_fn, shapes = _cases()[name]
    pairs = [_pair(*s, seed=i) for i, s in enumerate(shapes)]
    tn_in = [a.requires_grad_() for a, _ in pairs]
    t_in = [b.requires_grad_() for _, b in pairs]
    with tn.autocast("cpu", dtype=tn.float16):
        got = tn_fn(*tn_in)
    with torch.autocast("cpu", dtype=torch.float16):
        want = t_fn(*t_in)
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
    # float16 results: float16's precision. bilinear: float32 in both, but PyTorch computes it
    # through a lowered bmm (float16 internally) while tinynet keeps it in float32.
    tol = 2e-2 if want.dtype == torch.float16 or name == "bilinear" else 1e-5
    np.testing.assert_allclose(got.float().detach().numpy(), want.float().detach().numpy(), rtol=tol, atol=tol)
    got.float().sum().backward()
    want.float().sum().backward()
    for a, b in zip(tn_in, t_in):
        assert a.grad.dtype == tn.float32 and b.grad.dtype == torch.float32
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=tol, atol=tol)


def test_cdist_float16_inputs_run_in_float32_like_torch():
    a, b = _pair(3, 4)
    with tn.autocast("cpu", dtype=tn.float16):
        got = tn.cdist(a.half(), a.half())
    with torch.autocast("cpu", dtype=torch.float16):
        want = torch.cdist(b.half(), b.half())
    assert got.dtype == tn.float32 and want.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-3, atol=1e-3)


def test_nested_disabled_region_matches_torch():
    a, b = _pair(3, 4)
    with tn.autocast("cpu", dtype=tn.float16):
        with tn.autocast("cpu", enabled=False):
            inner = tn.mm(a, a.T).dtype
        outer = tn.mm(a, a.T).dtype
    with torch.autocast("cpu", dtype=torch.float16):
        with torch.autocast("cpu", enabled=False):
            t_inner = torch.mm(b, b.T).dtype
        t_outer = torch.mm(b, b.T).dtype
    assert (inner, outer) == (tn.float32, tn.float16) and (t_inner, t_outer) == (torch.float32, torch.float16)


def _scaler_run(lib, steps, inject, **kw):
    if lib == "torch":
        p = torch.nn.Parameter(torch.ones(3))
        opt = torch.optim.SGD([p], lr=0.05)
        scaler = torch.amp.GradScaler("cpu", **kw)
    else:
        p = nn.Parameter(tn.ones(3))
        opt = tn.optim.SGD([p], lr=0.05)
        scaler = tn.amp.GradScaler("cpu", **kw)
    trace = []
    for i in range(steps):
        opt.zero_grad()
        scaled = scaler.scale((p * p).sum())
        scaled.backward()
        if i in inject:  # an overflowed gradient: the step is skipped and the scale backs off
            bad = float("inf") if inject[i] == "inf" else float("nan")
            if lib == "torch":
                with torch.no_grad():
                    p.grad[1] = bad
            else:
                p.grad = p.grad * tn.tensor([1.0, bad, 1.0])
        if i % 3 == 1:  # sometimes unscale_ first (as before gradient clipping)
            scaler.unscale_(opt)
        scaler.step(opt)
        scaler.update()
        trace.append((float(scaled.item()), scaler.get_scale(), scaler._get_growth_tracker(),
                      p.detach().numpy().tolist()))
    return trace, scaler.state_dict()


@pytest.mark.parametrize("kw", [dict(init_scale=8.0, growth_interval=3),
                                dict(init_scale=1000.0, growth_factor=3.0, backoff_factor=0.3, growth_interval=2)])
def test_gradscaler_sequence_matches_torch(kw):
    inject = {2: "inf", 5: "nan", 6: "inf", 11: "inf"}
    want, want_sd = _scaler_run("torch", 14, inject, **kw)
    got, got_sd = _scaler_run("tn", 14, inject, **kw)
    for step, (g, w) in enumerate(zip(got, want)):
        assert g[0] == pytest.approx(w[0], rel=1e-6), step
        assert g[1:3] == w[1:3], step  # the float32 scale and the growth tracker, exactly
        np.testing.assert_allclose(g[3], w[3], rtol=1e-6, err_msg=f"step {step}")
    assert got_sd == want_sd


def test_gradscaler_disabled_and_state_dict_keys_match_torch():
    off = torch.amp.GradScaler("cpu", enabled=False)
    assert tn.amp.GradScaler("cpu", enabled=False).state_dict() == off.state_dict() == {}
    t = torch.amp.GradScaler("cpu", init_scale=32.0, growth_interval=11)
    s = tn.amp.GradScaler("cpu", init_scale=32.0, growth_interval=11)
    assert s.state_dict() == t.state_dict()
    s.load_state_dict(t.state_dict())
    assert s.get_scale() == t.get_scale() == 32.0
