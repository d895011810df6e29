"""The kernel-table contract: ``tinynet.kernels.cpu`` and ``tinynet.kernels.cuda`` are twins.

Both packages export the same public names: host wrappers with the same signatures and
constants of the same shape (``KERNEL_MIN_ELEMENTS`` with the same family keys). Every
kernel handles its inputs the same way on both devices: called with contiguous float64
or float32 arrays, with non-contiguous views, or with float arguments of mixed dtypes, the
two give the same outputs and leave the same values in the arrays they update in place
(dtype, shape and values), or both raise the same exception type; non-contiguous views
give the same numbers as contiguous arrays (which tests/test_op_registry.py checks
against NumPy references through the ops). So a missing twin, or
a twin that converts what the other refuses, fails here rather than when a user first
calls it. cuda runs in Numba's CUDA simulator without a GPU, hence the tiny shapes.

Adding a kernel: export it from both packages, give it a family in
``tests/registry.KERNEL_FAMILIES`` and a call in ``CALLS`` below (host arrays from a
generator; float arrays in float64, the test derives the other variants).
"""
import importlib
import inspect

import numpy as np
import pytest

import tinynet as tn

from registry import KERNEL_FAMILIES

from conftest import DEVICES

pytestmark = pytest.mark.skipif("cuda" not in DEVICES, reason="no cuda device, real or simulated")


def _modules():
    tn.device("cuda")  # switches the simulator on first when there is no GPU
    return importlib.import_module("tinynet.kernels.cpu"), importlib.import_module("tinynet.kernels.cuda")


def _public(module):
    return {k: v for k, v in vars(module).items() if not k.startswith("_") and not inspect.ismodule(v)
            and k != "annotations"}


def _signature(fn):
    return inspect.signature(getattr(fn, "py_func", fn))


# --- names, signatures, constants ---------------------------------------------------------------
def test_same_public_names():
    cpu, cuda = _modules()
    a, b = set(_public(cpu)), set(_public(cuda))
    assert a == b, f"only in kernels.cpu: {sorted(a - b)}; only in kernels.cuda: {sorted(b - a)}"


def test_same_signatures_and_constants():
    cpu, cuda = _modules()
    pa, pb = _public(cpu), _public(cuda)
    problems = []
    for name in sorted(set(pa) & set(pb)):
        x, y = pa[name], pb[name]
        if callable(x) != callable(y):
            problems.append(f"{name}: callable on one device only")
        elif callable(x):
            if _signature(x) != _signature(y):
                problems.append(f"{name}: cpu{_signature(x)} vs cuda{_signature(y)}")
        elif type(x) is not type(y):
            problems.append(f"{name}: {type(x).__name__} vs {type(y).__name__}")
        elif isinstance(x, dict) and set(x) != set(y):
            problems.append(f"{name}: keys {sorted(x)} vs {sorted(y)}")
    assert not problems, "\n".join(problems)


def test_every_kernel_has_a_family_and_a_call():
    """KERNEL_FAMILIES (the registry's size axis) and CALLS (below) cover every kernel."""
    cpu, _ = _modules()
    kernels = {k for k, v in _public(cpu).items() if callable(v)}
    assert kernels == set(KERNEL_FAMILIES), (
        f"missing from tests/registry KERNEL_FAMILIES: {sorted(kernels - set(KERNEL_FAMILIES))}; "
        f"no longer kernels: {sorted(set(KERNEL_FAMILIES) - kernels)}")
    assert kernels == set(CALLS), (f"missing from CALLS: {sorted(kernels - set(CALLS))}; "
                                   f"no longer kernels: {sorted(set(CALLS) - kernels)}")


# --- one small call per kernel ------------------------------------------------------------------
def _n(r, *shape):
    return r.standard_normal(shape)


def _pos(r, *shape):
    return r.uniform(0.1, 1.0, size=shape)


def _softmax(x):
    e = np.exp(x - x.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _conv_geom():
    # n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow: strided, padded, 2x3 kernel
    return 2, 2, 5, 4, 2, 3, 2, 1, 1, 1, 1, 1, 3, 4


def _im2col(r):
    n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow = _conv_geom()
    return [_n(r, n, c, h, w), kh, kw, sh, sw, ph, pw, dh, dw, oh, ow]


def _col2im(r):
    n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow = _conv_geom()
    return [_n(r, c * kh * kw, n * oh * ow), n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow]


def _max_pool_idx(x, kh, kw, sh, sw, ph, pw, oh, ow):
    """The flat index (h * W + w) of each window's first maximum: what the forward returns."""
    n, c, h, w = x.shape
    idx = np.zeros((n, c, oh, ow), np.int64)
    for i in range(oh):
        for j in range(ow):
            best = np.full((n, c), -np.inf)
            for a in range(kh):
                for b in range(kw):
                    y, z = i * sh - ph + a, j * sw - pw + b
                    if 0 <= y < h and 0 <= z < w:
                        better = x[:, :, y, z] > best
                        best = np.where(better, x[:, :, y, z], best)
                        idx[:, :, i, j] = np.where(better, y * w + z, idx[:, :, i, j])
    return idx


def _max_pool_backward(r):
    x = r.permutation(150).reshape(2, 3, 5, 5) * 0.1
    return [_n(r, 2, 3, 3, 6), _max_pool_idx(x, 3, 2, 2, 1, 1, 1, 3, 6), 5, 5, 3, 2, 2, 1, 1, 1, 1, 1]


def _targets(r, rows, C):
    t = r.integers(0, C, size=rows)
    t[1] = -100
    return t


def _attention(r, backward):
    """q, k, v (B=2, H=2, L=3, S=5), a key-padding additive mask, and for the backward the
    forward's output and log-sum-exp (NumPy) and an output gradient."""
    q, k, v, mask = _n(r, 2, 2, 3, 4), _n(r, 2, 2, 5, 4), _n(r, 2, 2, 5, 3), _n(r, 2, 1, 1, 5)
    if not backward:
        return [q, k, v, mask, 0.5, True, 0.2, 7]
    s = q @ k.swapaxes(-1, -2) * 0.5 + mask
    lse = np.log(np.exp(s).sum(-1))
    out = np.exp(s - lse[..., None]) @ v
    return [q, k, v, out, lse, _n(r, 2, 2, 3, 3), mask, 0.5, False, 0.2, 7]


#: kernel name -> make(rng): the arguments (float arrays in float64) of one small call.
CALLS = {
    "attention_forward": lambda r: _attention(r, False),
    "attention_backward": lambda r: _attention(r, True),
    "attention_dropout_mask": lambda r: [_n(r, 2, 2, 3, 4), 5, 0.3, 11],
    "relu_forward": lambda r: [_n(r, 4, 5)],
    "int8_linear": lambda r: [r.integers(0, 256, (3, 7)).astype(np.uint8), r.integers(-128, 128, (4, 7)).astype(np.int8),
                              r.integers(-500, 500, 4).astype(np.int32), 5, _pos(r, 4) * 1e-3, _n(r, 4), True, 0.05,
                              100],
    "int8_linear_dequant": lambda r: [r.integers(0, 256, (3, 7)).astype(np.uint8),
                                      r.integers(-128, 128, (4, 7)).astype(np.int8),
                                      r.integers(-500, 500, 4).astype(np.int32), 5, _pos(r, 4) * 1e-3, _n(r, 4)],
    "quantize_per_tensor_u8": lambda r: [_n(r, 4, 5) * 40, 1.0 / 0.3, 7],
    "int8_im2col": lambda r: [r.integers(0, 256, (2, 2, 5, 4)).astype(np.uint8), 7, 2, 3, 2, 1, 1, 1, 1, 1, 3, 4],
    "relu_backward": lambda r: [_n(r, 4, 5), _n(r, 4, 5)],
    "erf": lambda r: [_n(r, 3, 5)],
    "gelu_forward": lambda r: [_n(r, 3, 5), False, True],
    "gelu_backward": lambda r: [_n(r, 3, 5), _n(r, 3, 5), True],
    "softmax_forward": lambda r: [_n(r, 4, 3)],
    "log_softmax_forward": lambda r: [_n(r, 4, 3)],
    "softmax_backward": lambda r: [_softmax(_n(r, 4, 3)), _n(r, 4, 3)],
    "log_softmax_backward": lambda r: [np.log(_softmax(_n(r, 4, 3))), _n(r, 4, 3)],
    "cross_entropy_forward": lambda r: [_n(r, 4, 3), _targets(r, 4, 3), -100, 0.1],
    "cross_entropy_backward": lambda r: [_n(r, 4, 3), _n(r, 4) + 2.0, _targets(r, 4, 3), _pos(r, 4), -100, 0.1],
    "layer_norm_forward": lambda r: [_n(r, 3, 4), _n(r, 4), _n(r, 4), 1e-5],
    "layer_norm_backward": lambda r: [_n(r, 3, 4), _n(r, 3, 4), _n(r, 4), _n(r, 3), _pos(r, 3)],
    "im2col": _im2col,
    "col2im": _col2im,
    "conv2d_tiled": lambda r: [_n(r, 2, 2, 5, 4), _n(r, 4, 1, 2, 3), _n(r, 4), 2, 1, 1, 1, 1, 1, 3, 4, 2],
    "conv2d_input_grad_tiled": lambda r: [_n(r, 2, 4, 3, 4), _n(r, 4, 1, 2, 3), 5, 4, 2, 1, 1, 1, 1, 1, 2],
    "conv2d_weight_grad_tiled": lambda r: [_n(r, 2, 2, 5, 4), _n(r, 2, 4, 3, 4), 2, 3, 2, 1, 1, 1, 1, 1, 2],
    "max_pool2d_forward": lambda r: [r.permutation(150).reshape(2, 3, 5, 5) * 0.1, 3, 2, 2, 1, 1, 1, 1, 1, 3, 6],
    "max_pool2d_backward": _max_pool_backward,
    "avg_pool2d_forward": lambda r: [_n(r, 2, 3, 5, 5), 3, 2, 2, 1, 1, 1, 3, 6, False, 0],
    "avg_pool2d_backward": lambda r: [_n(r, 2, 3, 3, 6), 5, 5, 3, 2, 2, 1, 1, 1, 3, 6, True, 0],
    "recurrent_forward": lambda r: ["gru", _n(r, 4, 3, 6), _n(r, 3, 2), None, _n(r, 6, 2), _n(r, 6), True],
    "recurrent_backward": lambda r: ["lstm", _n(r, 4, 3, 2), _n(r, 3, 2), _n(r, 3, 2), _n(r, 3, 2), _n(r, 8, 2),
                                     _n(r, 4, 3, 2), _n(r, 4, 3, 2), _pos(r, 4, 3, 8), np.tanh(_n(r, 4, 3, 2)), False],
    "sgd_step": lambda r: [_n(r, 7), _n(r, 7), _n(r, 7), 0.1, 0.9, 0.1, 0.01, True, False, False],
    "adam_step": lambda r: [_n(r, 7), _n(r, 7), _n(r, 7), _pos(r, 7), _pos(r, 7), 0.01, 0.9, 0.999, 1e-8, 0.01,
                            3, True, True, False],
    "rmsprop_step": lambda r: [_n(r, 7), _n(r, 7), _pos(r, 7) + 1.0, _n(r, 7) * 0.1, _n(r, 7), 0.01, 0.99, 1e-8,
                               0.01, 0.9, True, False],
    "adagrad_step": lambda r: [_n(r, 7), _n(r, 7), _pos(r, 7), 0.1, 0.01, 1e-10, 0.01, 3, False],
    "adadelta_step": lambda r: [_n(r, 7), _n(r, 7), _pos(r, 7), _pos(r, 7), 1.0, 0.9, 1e-6, 0.01, True],
}

#: How the float arrays of a call are built: (dtype of the first float array, dtype of the
#: others, non-contiguous views). Integer arrays follow the layout too.
VARIANTS = {
    "float64": (np.float64, np.float64, False),
    "float32": (np.float32, np.float32, False),
    "noncontig-float64": (np.float64, np.float64, True),
    "noncontig-float32": (np.float32, np.float32, True),
    "mixed-float32-float64": (np.float32, np.float64, False),
}


def _on_device(dev, a, noncontig):
    """``a`` on ``dev``; with ``noncontig``, as every other element of a buffer twice as wide."""
    if not noncontig or a.ndim == 0 or a.size == 0:
        return dev.from_host(np.ascontiguousarray(a))
    base = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
    base[..., ::2] = a
    view = dev.from_host(base)[..., ::2]
    assert a.size == 1 or not view.flags.c_contiguous
    return view


def _call(device, name, variant):
    """Run kernel ``name`` on ``device``: ``("ok", outputs, arrays after the call)`` as host
    arrays, or ``("raise", exception)``."""
    first, rest, noncontig = VARIANTS[variant]
    dev = tn.device(device)
    module = importlib.import_module(f"tinynet.kernels.{device}")
    raw = CALLS[name](np.random.default_rng(0))
    args, seen_float = [], False
    for a in raw:
        if isinstance(a, np.ndarray):
            if a.dtype.kind == "f":
                a = a.astype(rest if seen_float else first)
                seen_float = True
            a = _on_device(dev, a, noncontig)
        args.append(a)
    try:
        out = getattr(module, name)(*args)
    except Exception as exc:  # noqa: BLE001 - the type is what is compared
        return ("raise", exc)
    outs = list(out) if isinstance(out, (tuple, list)) else ([] if out is None else [out])
    host = lambda x: np.array(dev.to_host(x))  # noqa: E731
    return ("ok", [host(o) for o in outs], [host(a) for a in args if hasattr(a, "dtype") and hasattr(a, "shape")])


def _differences(what, xs, ys, single, names=("cpu", "cuda")):
    """Mismatches between the arrays ``xs`` and ``ys`` (from the calls ``names``);
    ``single``: a float32 argument was involved, so float64 results carry float32 rounding."""
    p, q = names
    if len(xs) != len(ys):
        return [f"{what}: {len(xs)} arrays from {p}, {len(ys)} from {q}"]
    out = []
    for i, (x, y) in enumerate(zip(xs, ys)):
        if x.dtype != y.dtype or x.shape != y.shape:
            out.append(f"{what} {i}: {p} {x.dtype} {x.shape} vs {q} {y.dtype} {y.shape}")
            continue
        if x.dtype.kind == "f":
            # The simulator rounds float32 intermediates that a GPU (or the cpu's float32
            # loops) keep differently: float32 agreement to a few ulps, float64 to ~1e-12.
            tol = dict(rtol=1e-5, atol=1e-6) if single or x.dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
            ok = np.allclose(x, y, equal_nan=True, **tol)
        else:
            ok = np.array_equal(x, y)
        if not ok:
            out.append(f"{what} {i} ({x.dtype} {x.shape}): values differ, max |{p} - {q}| = "
                       f"{np.max(np.abs(x.astype(np.float64) - y.astype(np.float64))):.3g}")
    return out


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("name", sorted(CALLS))
def test_same_input_handling(name, variant):
    """Both devices compute the same thing from the same arguments, or both refuse them."""
    a, b = _call("cpu", name, variant), _call("cuda", name, variant)
    if a[0] == "raise" or b[0] == "raise":
        if a[0] == b[0] and type(a[1]) is type(b[1]):
            return
        show = lambda r: (f"raises {type(r[1]).__name__}: {r[1]}" if r[0] == "raise"  # noqa: E731
                          else "returns " + (", ".join(f"{o.dtype} {o.shape}" for o in r[1]) or "None"))
        pytest.fail(f"{name} [{variant}]: cpu {show(a)}; cuda {show(b)}")
    single = np.float32 in VARIANTS[variant][:2]
    problems = (_differences("output", a[1], b[1], single)
                + _differences("array argument after the call", a[2], b[2], single))
    assert not problems, f"{name} [{variant}]: cpu and cuda differ:\n  " + "\n  ".join(problems)
    if VARIANTS[variant][2]:  # strided views: the same numbers as contiguous arrays (checked by the registry)
        contiguous = variant.replace("noncontig-", "")
        for device, got in (("cpu", a), ("cuda", b)):
            want = _call(device, name, contiguous)
            names = ("views", "contiguous")
            problems = (_differences("output", got[1], want[1], single, names)
                        + _differences("array argument after the call", got[2], want[2], single, names))
            assert not problems, f"{name} [{variant}] on {device}: views and contiguous arrays differ:\n  " + \
                "\n  ".join(problems)
