"""Automatic mixed precision: tn.autocast (op casts, nesting, device rule, cache), tn.amp.GradScaler,
and the tn.cuda / tn.cpu faces (tn.cuda.amp, peak memory, set_device, is_bf16_supported)."""
import math
import warnings

import numpy as np
import pytest

import tinynet as tn
import tinynet.nn as nn
import tinynet.nn.functional as F
from tinynet.autograd import autocast_state


def _other(device):
    return "cuda" if device == "cpu" else "cpu"


# --- autocast: the lower-precision list ---------------------------------------------------------
def test_linear_under_autocast_is_float16_with_float32_grads(device):
    x = tn.randn(4, 6, device=device)
    w = tn.randn(3, 6, device=device, requires_grad=True)
    b = tn.randn(3, device=device, requires_grad=True)
    with tn.autocast(device):
        y = F.linear(x, w, b)
    assert y.dtype == tn.float16 and y.device.type == device
    ref = F.linear(x, w, b)
    np.testing.assert_allclose(y.float().detach().numpy(), ref.detach().numpy(), rtol=2e-2, atol=2e-2)
    y.float().sum().backward()
    assert w.grad.dtype == tn.float32 and b.grad.dtype == tn.float32
    np.testing.assert_allclose(w.grad.numpy(), np.broadcast_to(x.numpy().sum(0), (3, 6)), rtol=2e-2, atol=2e-2)
    np.testing.assert_allclose(b.grad.numpy(), np.full(3, 4.0))


def test_products_and_attention_are_lowered(device):
    a = tn.randn(3, 4, device=device)
    b = tn.randn(4, 5, device=device)
    bb = tn.randn(2, 3, 4, device=device)
    bc = tn.randn(2, 4, 5, device=device)
    with tn.autocast(device):
        outs = {
            "matmul": tn.matmul(a, b), "@": a @ b, "mm": tn.mm(a, b), "bmm": tn.bmm(bb, bc),
            "addmm": tn.addmm(tn.randn(3, 5, device=device), a, b),
            "baddbmm": tn.baddbmm(tn.randn(2, 3, 5, device=device), bb, bc),
            "addbmm": tn.addbmm(tn.randn(3, 5, device=device), bb, bc),
            "einsum": tn.einsum("ij,jk->ik", a, b), "tensordot": tn.tensordot(a, b, 1),
            "sdpa": F.scaled_dot_product_attention(bb, bb, bb),
            "sdpa_mask": F.scaled_dot_product_attention(bb, bb, bb, attn_mask=tn.zeros(3, 3, device=device)),
        }
        kept = {"dot": tn.dot(a[0], a[0]), "outer": tn.outer(a[0], a[0]),
                "bilinear": F.bilinear(a, a, tn.randn(2, 4, 4, device=device))}
    for name, t in outs.items():
        assert t.dtype == tn.float16, name
    for name, t in kept.items():  # not on PyTorch's lists: they run in their inputs' dtype
        assert t.dtype == tn.float32, name


def test_device_specific_lists(device):
    """mv, addmv and addr are lowered on cuda only (PyTorch's CUDA list; its CPU list lacks them)."""
    m, v = tn.randn(3, 4, device=device), tn.randn(4, device=device)
    with tn.autocast(device):
        got = {tn.mv(m, v).dtype, tn.addmv(tn.randn(3, device=device), m, v).dtype,
               tn.addr(tn.randn(3, 4, device=device), tn.randn(3, device=device), v).dtype}
    assert got == {tn.float16 if device == "cuda" else tn.float32}


def test_float32_list_casts_float16_up(device):
    x = tn.randn(3, 4, device=device).half()
    with tn.autocast(device):
        d = tn.cdist(x, x)
    assert d.dtype == tn.float32
    assert tn.cdist(x, x).dtype == tn.float16  # outside autocast: the input's dtype


def test_float64_and_integers_are_not_cast(device):
    a = tn.randn(3, 4, device=device, dtype=tn.float64)
    with tn.autocast(device):
        assert tn.mm(a, a.T).dtype == tn.float64
        assert F.linear(a, a).dtype == tn.float64


def test_tensors_of_another_device_are_untouched(device):
    other = _other(device)
    if other not in tn.backend.available_devices():
        pytest.skip(f"device {other} is not available")
    a = tn.randn(3, 4, device=device)
    with tn.autocast(other):
        assert tn.mm(a, a.T).dtype == tn.float32
    with tn.autocast(device):
        assert tn.mm(a, a.T).dtype == tn.float16


def test_autocast_state_nesting_and_restore():
    assert not tn.is_autocast_enabled("cpu")
    x = tn.randn(2, 3)
    with tn.autocast("cpu") as outer:
        assert outer.fast_dtype == tn.float16 and tn.is_autocast_enabled("cpu")
        with tn.autocast("cpu", enabled=False):
            assert not tn.is_autocast_enabled("cpu")
            assert tn.mm(x, x.T).dtype == tn.float32
        assert tn.is_autocast_enabled("cpu")
        assert tn.mm(x, x.T).dtype == tn.float16
    assert not tn.is_autocast_enabled("cpu")
    with pytest.raises(KeyError):
        with tn.autocast("cpu"):
            raise KeyError("boom")
    assert not tn.is_autocast_enabled("cpu") and autocast_state.STATE.nesting == 0


def test_autocast_as_decorator_and_aliases():
    @tn.autocast("cpu")
    def f(a):
        assert tn.is_autocast_enabled("cpu")
        return tn.mm(a, a.T)

    assert f(tn.randn(2, 3)).dtype == tn.float16
    assert not tn.is_autocast_enabled("cpu")

    @tn.cpu.amp.autocast()
    def g(a):
        return tn.mm(a, a.T)

    assert g(tn.randn(2, 3)).dtype == tn.float16
    assert tn.amp.autocast is tn.autocast
    with tn.cpu.amp.autocast(enabled=False):
        assert not tn.is_autocast_enabled("cpu")
    with tn.cuda.amp.autocast():
        assert tn.is_autocast_enabled("cuda") == ("cuda" in tn.backend.available_devices())


def test_recursive_decorated_function_restores_each_level():
    @tn.autocast("cpu")
    def depth(n):
        return 0 if n == 0 else depth(n - 1) + 1

    assert depth(3) == 3 and not tn.is_autocast_enabled("cpu") and autocast_state.STATE.nesting == 0


def test_dtype_arguments_and_errors():
    assert tn.get_autocast_dtype("cpu") == tn.float16 and tn.get_autocast_dtype("cuda") == tn.float16
    with tn.autocast("cpu", dtype=tn.float16) as ac:
        assert ac.fast_dtype == tn.float16
    with pytest.raises(TypeError, match="bfloat16"):
        tn.autocast("cpu", dtype="bfloat16")
    with pytest.raises(AttributeError, match="bfloat16"):
        tn.autocast("cpu", dtype=tn.bfloat16)
    with pytest.warns(UserWarning, match="not supported"):
        ac = tn.autocast("cpu", dtype=tn.float32)
    with ac:
        assert not tn.is_autocast_enabled("cpu")
    with pytest.raises(ValueError, match="str"):
        tn.autocast(tn.device("cpu"))
    with pytest.raises(RuntimeError, match="unsupported device_type"):
        tn.autocast("tpu")
    with pytest.raises(TypeError, match="enabled"):
        tn.autocast("cpu", enabled=1)
    with pytest.raises(TypeError, match="cache_enabled"):
        tn.autocast("cpu", cache_enabled="yes")
    with pytest.raises(ValueError, match="device_type"):
        tn.is_autocast_enabled("tpu")
    with pytest.raises(ValueError, match="supports"):
        tn.amp.set_autocast_dtype("cpu", tn.float64)
    assert tn.amp.is_autocast_available("cuda") and not tn.amp.is_autocast_available("xla")


def test_cuda_autocast_without_cuda_warns_and_disables(monkeypatch):
    from tinynet.backend import registry
    monkeypatch.setattr(registry, "cuda_available", lambda: False)
    monkeypatch.setattr(registry, "simulated_cuda", lambda: False)
    with pytest.warns(UserWarning, match="CUDA is not available"):
        ac = tn.autocast("cuda")
    with ac:
        assert not tn.is_autocast_enabled("cuda")
    with pytest.warns(UserWarning, match="CUDA is not available"):
        scaler = tn.amp.GradScaler("cuda")
    assert not scaler.is_enabled()


# --- the cast cache -------------------------------------------------------------------------------
def test_cache_reuses_a_parameters_cast_and_gradients_accumulate():
    w = tn.randn(3, 3, requires_grad=True)
    x = tn.randn(2, 3)
    with tn.autocast("cpu"):
        y1 = tn.mm(x, w)
        y2 = tn.mm(x, w)
        assert len(autocast_state.STATE.cache) == 1
        (cast,) = [entry[2] for entry in autocast_state.STATE.cache.values()]
        assert cast.grad_fn is not None and cast.dtype == tn.float16
    assert autocast_state.STATE.cache == {}  # dropped when the outermost region exits
    (y1.float().sum() + y2.float().sum()).backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * np.broadcast_to(x.numpy().sum(0)[:, None], (3, 3)),
                               rtol=2e-2, atol=2e-2)


def test_cache_disabled_and_invalidated_by_inplace_change():
    w = tn.randn(3, 3, requires_grad=True)
    x = tn.randn(2, 3)
    with tn.autocast("cpu", cache_enabled=False):
        tn.mm(x, w)
        assert autocast_state.STATE.cache == {}
    with tn.autocast("cpu"):
        a = tn.mm(x, w)
        with tn.no_grad():
            w.mul_(2.0)  # a new version: the cached float16 copy is stale
        b = tn.mm(x, w)
    np.testing.assert_allclose(b.float().detach().numpy(), 2 * a.float().detach().numpy(), rtol=2e-2, atol=2e-2)


def test_cache_survives_no_backward_reuse_after_backward():
    """A second forward + backward in the same region does not reuse a freed cast node."""
    w = tn.randn(3, 3, requires_grad=True)
    x = tn.randn(2, 3)
    with tn.autocast("cpu"):
        tn.mm(x, w).float().sum().backward()
        tn.mm(x, w).float().sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * np.broadcast_to(x.numpy().sum(0)[:, None], (3, 3)),
                               rtol=2e-2, atol=2e-2)


# --- nn layers under autocast ---------------------------------------------------------------------
def test_mlp_under_autocast(device):
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)).to(device)
    x = tn.randn(4, 6, device=device)
    with tn.autocast(device):
        out = model(x)
        loss = F.cross_entropy(out.float(), tn.tensor([0, 1, 2, 0], device=device))
    assert out.dtype == tn.float16
    loss.backward()
    assert all(p.grad.dtype == tn.float32 for p in model.parameters())


# --- GradScaler -----------------------------------------------------------------------------------
def _setup(device, **kw):
    p = nn.Parameter(tn.ones(3, device=device))
    opt = tn.optim.SGD([p], lr=0.1)
    return p, opt, tn.amp.GradScaler(device, **kw)


def test_gradscaler_scales_unscales_and_steps(device):
    p, opt, scaler = _setup(device, init_scale=4.0)
    loss = (p * p).sum()
    scaled = scaler.scale(loss)
    assert scaled.item() == pytest.approx(12.0)
    scaled.backward()
    np.testing.assert_allclose(p.grad.numpy(), [8.0, 8.0, 8.0])
    scaler.unscale_(opt)
    np.testing.assert_allclose(p.grad.numpy(), [2.0, 2.0, 2.0])
    scaler.step(opt)  # unscale_ was called: not again
    np.testing.assert_allclose(p.detach().numpy(), [0.8, 0.8, 0.8], rtol=1e-6)
    scaler.update()
    assert scaler.get_scale() == 4.0 and scaler._get_growth_tracker() == 1


def test_gradscaler_skips_step_on_inf_and_backs_off(device):
    p, opt, scaler = _setup(device, init_scale=8.0, growth_interval=2)
    for step, inject in enumerate([False, True, False, False, False]):
        opt.zero_grad()
        scaler.scale((p * p).sum()).backward()
        if inject:
            p.grad = p.grad * float("nan")
        before = p.detach().numpy().copy()
        scaler.step(opt)
        after = p.detach().numpy()
        assert np.array_equal(before, after) == inject, step
        scaler.update()
    # 8 (1 clean) -> 4 (nan, tracker 0) -> 4 (1) -> 8 (2: grow) -> 8 (1)
    assert scaler.get_scale() == 8.0 and scaler._get_growth_tracker() == 1


def test_gradscaler_scale_iterables_and_dtype():
    scaler = tn.amp.GradScaler("cpu", init_scale=2.0)
    a, b = tn.ones(2), tn.ones(2).half()
    out = scaler.scale([a, (b, a)])
    assert isinstance(out, list) and isinstance(out[1], tuple)
    assert out[1][0].dtype == tn.float16 and out[1][0].numpy().tolist() == [2.0, 2.0]
    assert [t.numpy().tolist() for t in scaler.scale(iter([a]))] == [[2.0, 2.0]]
    with pytest.raises(ValueError, match="iterable of Tensors"):
        scaler.scale(3.0)


def test_gradscaler_update_with_new_scale_and_state_dict():
    p, opt, scaler = _setup("cpu", init_scale=16.0, growth_interval=5)
    assert scaler.get_scale() == 16.0  # before the first scale(): init_scale
    scaler.scale((p * p).sum()).backward()
    scaler.step(opt)
    scaler.update(3.0)
    assert scaler.get_scale() == 3.0
    scaler.scale((p * p).sum()).backward()
    scaler.step(opt)
    scaler.update(tn.tensor(5.0))
    assert scaler.get_scale() == 5.0
    sd = scaler.state_dict()
    assert sd == {"scale": 5.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 5,
                  "_growth_tracker": 0}
    other = tn.amp.GradScaler("cpu")
    other.load_state_dict(sd)
    assert other.state_dict() == sd
    with pytest.raises(RuntimeError, match="empty"):
        other.load_state_dict({})
    with pytest.raises(KeyError, match="lacks"):
        other.load_state_dict({"scale": 1.0})
    scaler.scale((p * p).sum()).backward()
    scaler.step(opt)
    with pytest.raises(TypeError, match="new_scale"):
        scaler.update(2)
    with pytest.raises(ValueError, match="1-element"):
        scaler.update(tn.tensor([1.0, 2.0]))


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_gradscaler_growth_stops_before_float32_overflow():
    p, opt, scaler = _setup("cpu", init_scale=2.0 ** 127, growth_interval=1)
    scaler.scale((p * p).sum()).backward()
    p.grad = tn.zeros(3)
    scaler.step(opt)
    scaler.update()
    assert scaler.get_scale() == 2.0 ** 127  # 2**128 is inf in float32: not taken


def test_gradscaler_disabled_is_a_pass_through():
    p, opt, _ = _setup("cpu")
    scaler = tn.cuda.amp.GradScaler(enabled=False)  # nanoGPT's line, on any machine
    assert not scaler.is_enabled() and scaler.get_scale() == 1.0 and scaler.state_dict() == {}
    loss = (p * p).sum()
    assert scaler.scale(loss) is loss
    loss.backward()
    assert scaler.unscale_(opt) is None
    scaler.step(opt)
    np.testing.assert_allclose(p.detach().numpy(), [0.8, 0.8, 0.8], rtol=1e-6)
    assert scaler.update() is None
    scaler.load_state_dict({})  # ignored when disabled, as PyTorch


@pytest.mark.filterwarnings("ignore:overflow encountered")  # 2**16 * a float16 loss overflows, as in PyTorch
def test_gradscaler_errors():
    p, opt, scaler = _setup("cpu")
    with pytest.raises(RuntimeError, match="scaler.scale"):
        scaler.step(opt)
    with pytest.raises(RuntimeError, match="scaler.scale"):
        scaler.update()
    scaler.scale((p * p).sum()).backward()
    with pytest.raises(RuntimeError, match="No inf checks"):
        scaler.update()
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="already been called"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match="after step"):
        scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match=r"step\(\) has already been called"):
        scaler.step(opt)
    with pytest.raises(RuntimeError, match="Closure"):
        scaler.step(opt, closure=lambda: 0.0)
    scaler.update()
    h = nn.Parameter(tn.ones(2).half())
    opt16 = tn.optim.SGD([h], lr=0.1)
    scaler.scale((h * h).sum()).backward()
    with pytest.raises(ValueError, match="FP16 gradients"):
        scaler.unscale_(opt16)
    for kw, msg in [({"growth_factor": 1.0}, "growth factor"), ({"backoff_factor": 1.0}, "backoff factor"),
                    ({"init_scale": 0.0}, "init_scale"), ({"init_scale": math.inf}, "init_scale"),
                    ({"growth_interval": 0}, "growth_interval"), ({"growth_interval": 2.5}, "growth_interval")]:
        with pytest.raises(ValueError, match=msg):
            tn.amp.GradScaler("cpu", **kw)
    with pytest.raises(ValueError, match="device"):
        tn.amp.GradScaler("tpu")


def test_gradscaler_setters_and_cpu_alias():
    s = tn.cpu.amp.GradScaler(init_scale=4.0, growth_interval=7)
    assert s.get_scale() == 4.0 and s.get_growth_interval() == 7 and s.is_enabled()
    s.set_growth_factor(3.0), s.set_backoff_factor(0.25), s.set_growth_interval(9)
    assert (s.get_growth_factor(), s.get_backoff_factor(), s.get_growth_interval()) == (3.0, 0.25, 9)


def test_amp_training_loop_reduces_loss(device):
    tn.manual_seed(0)
    model = nn.Linear(4, 1).to(device)
    opt = tn.optim.SGD(model.parameters(), lr=0.1)
    scaler = tn.amp.GradScaler(device, init_scale=2.0 ** 10)
    x = tn.randn(16, 4, device=device)
    y = x.sum(axis=1, keepdims=True)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        with tn.autocast(device):
            out = F.linear(x, model.weight, model.bias)
        loss = F.mse_loss(out.float(), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0]


# --- tn.cuda housekeeping ---------------------------------------------------------------------------
def test_cuda_memory_peak_and_device_helpers():
    if not tn.cuda.is_available():
        assert tn.cuda.max_memory_allocated() == 0
        assert tn.cuda.reset_peak_memory_stats() is None
    else:
        tn.cuda.reset_peak_memory_stats()
        base = tn.cuda.max_memory_allocated()
        x = tn.zeros(1 << 20, device="cuda")
        assert x.numel() == 1 << 20
        del x
        assert tn.cuda.max_memory_allocated() >= base + 4 * (1 << 20)
    assert tn.cuda.is_bf16_supported() is False
    tn.cuda.set_device(0), tn.cuda.set_device("cuda"), tn.cuda.set_device("cuda:0"), tn.cuda.set_device(-1)
    with pytest.raises(ValueError, match="CUDA_VISIBLE_DEVICES"):
        tn.cuda.set_device(1)
    with pytest.raises(ValueError, match="cuda device"):
        tn.cuda.set_device("cpu")
    with pytest.raises(TypeError, match="int or a device string"):
        tn.cuda.set_device(1.5)
    assert tn.cuda.amp.GradScaler is not tn.amp.GradScaler and issubclass(tn.cuda.amp.GradScaler, tn.amp.GradScaler)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tn.cuda.amp.GradScaler(enabled=False)


# --- tn.compile: PyTorch's signature, eager execution ---------------------------------------------
def test_compile_returns_the_model_unchanged():
    model = nn.Linear(3, 2)
    x = tn.randn(4, 3)
    compiled = tn.compile(model, mode="max-autotune", dynamic=True, fullgraph=True)
    assert compiled is model
    np.testing.assert_array_equal(compiled(x).detach().numpy(), model(x).detach().numpy())
    assert list(compiled.state_dict()) == ["weight", "bias"]

    def f(a):
        return a * 2

    assert tn.compile(f, backend="eager") is f
    assert tn.compile(f, backend=lambda gm, inputs: gm, options={"trace.enabled": False}) is f
    assert tn.compile(f, disable=True) is f

    @tn.compile(fullgraph=True)
    def g(a):
        return a + 1

    assert g(tn.ones(2)).numpy().tolist() == [2.0, 2.0]


def test_compile_argument_errors():
    f = lambda a: a  # noqa: E731
    with pytest.raises(RuntimeError, match="Invalid backend"):
        tn.compile(f, backend="fastest")
    with pytest.raises(RuntimeError, match="Unrecognized mode"):
        tn.compile(f, mode="fast")
    with pytest.raises(RuntimeError, match="Either mode or options"):
        tn.compile(f, mode="default", options={})
    with pytest.raises(TypeError, match="fullgraph"):
        tn.compile(f, fullgraph="yes")
    with pytest.raises(TypeError, match="dynamic"):
        tn.compile(f, dynamic=1)
    with pytest.raises(TypeError, match="disable"):
        tn.compile(f, disable=None)
    with pytest.raises(TypeError, match="backend"):
        tn.compile(f, backend=3)
    with pytest.raises(TypeError, match="options"):
        tn.compile(f, options=[("a", 1)])
    with pytest.raises(TypeError, match="Module or a function"):
        tn.compile(3)


def test_module_compile_checks_arguments_and_changes_nothing():
    model = nn.Linear(2, 2)
    before = model.weight.detach().numpy().copy()
    assert model.compile() is None and tn.compile(model) is model
    np.testing.assert_array_equal(model.weight.detach().numpy(), before)
    with pytest.raises(RuntimeError):
        model.compile(backend="no-such-backend")
