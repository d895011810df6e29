"""The op registry: every differentiable op with an input generator and a reference.

Each module in this package defines ``ENTRIES``, a list of :class:`OpEntry`. The suite
(``tests/test_op_registry.py``) runs every entry through a grid of cases, as Chainer's
``chainer.testing`` op tests do, on every available device (cpu, simulated or real cuda):

================  =========================================================================
base              float64, contiguous inputs, shipped kernel policy: forward against the
                  NumPy float64 reference, ``tn.gradcheck``, and ``tn.gradgradcheck``
                  unless ``gradgrad=False``.
dtype             float32 inputs (``dtypes``): forward against the float64 reference (of
                  the float32-rounded inputs) with float32 tolerances (``tol32``); the
                  gradients against the float64 gradients of the same values; outputs and
                  gradients stay float32 (``keeps_dtype``).
layout            ``layouts``: ``"noncontig"`` (every array argument is a strided view),
                  ``"broadcast"`` (the arguments listed in ``broadcast`` shrink to size 1
                  along axis 0, so the op broadcasts them), ``"0d"`` (every array argument
                  becomes its first element, 0-d), ``"empty"`` (the arguments of the
                  largest rank get 0 rows). Each in every dtype; the float64 cases of the
                  layouts that change shapes also run ``gradcheck``.
size              ``kernel_families``: below and above every threshold of
                  ``kernels/policy.py`` that applies to the op, by moving the threshold
                  (``monkeypatch.setitem``) rather than allocating huge arrays. cpu:
                  ``numpy`` (array expressions), ``serial`` and ``parallel`` (the kernel's
                  two loops); cuda: ``numpy`` and ``kernel``. Every dtype, contiguous and
                  non-contiguous, compared with the float64 reference as above (float64
                  gradients to ~1e-9: every path computes the same numbers); the float64
                  cpu cases also run gradcheck and gradgradcheck through that path.
forms             every node of the op's graph that has both gradient forms: ``backward``
                  (Tensor formula, as run with ``create_graph=True``) and
                  ``backward_array`` (array fast path) give the same values, dtype and
                  shape, on every device, dtype and kernel policy.
================  =========================================================================

and fails if any :class:`tinynet.autograd.Op` subclass is not exercised by some
entry (a new op cannot be added without being checked), or if an entry's graph calls a
kernel of a family it does not declare in ``kernel_families``.

How to add an entry
-------------------
1. Pick the module of this package for the op's family (or add a module defining
   ``ENTRIES``; it is found automatically) and append::

       OpEntry("softmax_axis0", lambda a: F.softmax(a, axis=0),   # name, the call
               lambda r: [r.standard_normal((4, 3))],              # inputs from rng r
               lambda a: _softmax(a, 0),                           # NumPy float64 reference
               layouts=("noncontig", "0d", "empty"),               # extra input layouts
               kernel_families=("softmax",))                       # thresholds crossed

   ``make(rng)`` returns NumPy arrays (float arrays become tensors of the case's dtype
   that require grad unless their index is in ``no_grad``; int/bool arrays become
   constant tensors) or plain Python values, passed through unchanged. Keep shapes tiny:
   the CUDA simulator runs one Python thread per GPU thread. Use values without ties or
   kinks near the inputs where the gradient jumps (see the ``_apart`` helpers).
2. ``ref(*arrays)`` gets the same arrays in float64 and returns the expected output
   (None: no forward reference, e.g. a random op; gradients are still checked).
3. Declare what applies: ``layouts`` (default ``("noncontig",)``; add ``ELEMENTWISE`` for
   elementwise ops that accept 0-d and empty tensors), ``broadcast`` (argument indices the
   op broadcasts), ``kernel_families`` (families of ``KERNEL_FAMILIES`` the op's kernels
   belong to: the suite checks this list against the kernels the op really calls),
   ``dtypes`` (drop ``"float32"`` only for an op that has no float32 form).
4. Loosen tolerances only with a reason in a comment: ``atol``/``rtol``/``eps`` for
   gradcheck, ``fwd_atol`` for the float64 forward, ``tol32`` for the float32 cases.
5. Run it alone: ``pytest tests/test_op_registry.py -k softmax_axis0`` (every case of
   the entry), or one device: ``-k "cpu and softmax_axis0"``.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

#: Every float dtype an entry may run in; float64 is always run (gradcheck needs it).
DTYPES = ("float64", "float32")

#: The layouts an entry may list (besides the contiguous inputs every entry runs with).
LAYOUTS = ("noncontig", "broadcast", "0d", "empty")

#: Layouts of an elementwise op (or a full reduction): also 0-d and empty inputs.
ELEMENTWISE = ("noncontig", "0d", "empty")

#: Kernel name (``device.kernels.<name>``) -> its family: the key of its thresholds in
#: ``kernels/policy.py``. Every public kernel must be listed (tests/test_kernel_contract.py).
KERNEL_FAMILIES = {
    "relu_forward": "relu", "relu_backward": "relu",
    "int8_linear": "int8", "int8_linear_dequant": "int8", "int8_im2col": "im2col", "quantize_per_tensor_u8": "quantize",
    "softmax_forward": "softmax", "softmax_backward": "softmax",
    "log_softmax_forward": "softmax", "log_softmax_backward": "softmax",
    "cross_entropy_forward": "softmax", "cross_entropy_backward": "softmax",
    "erf": "gelu", "gelu_forward": "gelu", "gelu_backward": "gelu",
    "layer_norm_forward": "layer_norm", "layer_norm_backward": "layer_norm",
    "im2col": "im2col", "col2im": "im2col",
    "conv2d_tiled": "im2col", "conv2d_input_grad_tiled": "im2col", "conv2d_weight_grad_tiled": "im2col",
    "max_pool2d_forward": "pooling", "max_pool2d_backward": "pooling",
    "avg_pool2d_forward": "pooling", "avg_pool2d_backward": "pooling",
    "recurrent_forward": "lstm", "recurrent_backward": "lstm",
    "sgd_step": "optim", "adam_step": "optim", "rmsprop_step": "optim", "adagrad_step": "optim", "adadelta_step": "optim",
    "attention_forward": "attention", "attention_backward": "attention", "attention_dropout_mask": "attention",
}

#: Float32 tolerances (atol, rtol) of forward values and gradients: absolute errors are
#: scaled by the reference's largest magnitude (at least 1).
TOL32 = (2e-6, 2e-5)

_HUGE = 1 << 62


def _n(rng, *shape):
    """Standard-normal inputs of ``shape``."""
    return rng.standard_normal(shape)


def _apart(rng, *shape):
    """Values with no near-ties and none near 0: for ops whose gradient jumps there (relu-like
    kinks, max/min/abs/clip)."""
    n = int(np.prod(shape))
    vals = (rng.permutation(n) - n / 2 + 0.5) * 0.3
    return vals.reshape(shape)


@dataclass
class OpEntry:
    """One registry entry (see the module docstring for how to add one).

    Fields: ``name`` (unique; the test ids use it), ``fn(*args)`` (calls the tinynet op),
    ``make(rng)`` (the arguments), ``ref(*arrays)`` (NumPy float64 forward, or None);
    ``gradgrad`` (run gradgradcheck), ``no_grad`` (indices of float arguments that do not
    require grad), ``atol``/``rtol``/``eps``/``mode`` (gradcheck), ``fwd_atol`` (float64
    forward), ``devices``; ``dtypes``, ``layouts``, ``broadcast``, ``kernel_families``,
    ``tol32`` and ``keeps_dtype`` (the grid of cases: see the module docstring).
    """

    name: str
    fn: Callable
    make: Callable[[np.random.Generator], list]
    ref: Optional[Callable] = None
    gradgrad: bool = True
    no_grad: tuple = ()
    atol: float = 1e-5
    rtol: float = 1e-3
    fwd_atol: float = 1e-7
    mode: str = "auto"
    eps: float = 1e-6
    devices: tuple = ("cpu", "cuda")
    tags: tuple = field(default_factory=tuple)
    #: Float dtypes the op runs in (float64 always; float32 checked against float64).
    dtypes: tuple = DTYPES
    #: Extra input layouts (of ``LAYOUTS``); ``"broadcast"`` is added when ``broadcast`` is set.
    layouts: tuple = ("noncontig",)
    #: Indices of arguments the op broadcasts: the ``"broadcast"`` case shrinks them to size 1 on axis 0.
    broadcast: tuple = ()
    #: Kernel families (``KERNEL_FAMILIES`` values) whose thresholds the op's path crosses.
    kernel_families: tuple = ()
    #: Float32 tolerances ``(atol, rtol)`` (atol scaled by the reference's magnitude).
    tol32: tuple = TOL32
    #: Float32 inputs give float32 outputs (False for ops that convert, e.g. ``.to(float64)``).
    keeps_dtype: bool = True

    def __post_init__(self):
        bad = set(self.layouts) - set(LAYOUTS)
        if bad:
            raise ValueError(f"{self.name}: unknown layouts {sorted(bad)} (known: {LAYOUTS})")
        if self.broadcast and "broadcast" not in self.layouts:
            self.layouts = tuple(self.layouts) + ("broadcast",)
        if "broadcast" in self.layouts and not self.broadcast:
            raise ValueError(f"{self.name}: layout 'broadcast' needs the argument indices in broadcast=")
        bad = set(self.kernel_families) - set(KERNEL_FAMILIES.values())
        if bad:
            raise ValueError(f"{self.name}: unknown kernel families {sorted(bad)}")
        if "float64" not in self.dtypes or set(self.dtypes) - set(DTYPES):
            raise ValueError(f"{self.name}: dtypes must include float64, from {DTYPES}")

    def __repr__(self):
        return f"OpEntry({self.name})"


def all_entries() -> list:
    """Every entry from every module of this package."""
    entries = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        entries.extend(getattr(module, "ENTRIES", []))
    names = [e.name for e in entries]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ValueError(f"duplicate registry entry names: {sorted(dupes)}")
    return entries


# --- the grid of cases --------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One cell of an entry's grid: dtype, layout and kernel policy (``family``/``policy``)."""

    dtype: str = "float64"
    layout: str = "contiguous"
    family: Optional[str] = None
    policy: Optional[str] = None

    @property
    def id(self) -> str:
        parts = [self.dtype, self.layout]
        if self.family:
            parts.append(f"{self.family}={self.policy}")
        return "-".join(parts)

    @property
    def shape_changing(self) -> bool:
        """Layouts whose float64 case is not the base case with other strides: gradcheck them."""
        return self.layout in ("broadcast", "0d", "empty")


def _settings(device: str, family: str, policy: str) -> list:
    """``(table, key, value)`` threshold settings that force ``policy`` for ``family``."""
    import tinynet as tn
    from tinynet.kernels.policy import CPU_PARALLEL_MIN_ELEMENTS

    out = []
    kernel_min = tn.device(device).kernels.KERNEL_MIN_ELEMENTS
    if family in kernel_min:
        out.append((kernel_min, family, _HUGE if policy == "numpy" else 0))
    if device == "cpu" and family in CPU_PARALLEL_MIN_ELEMENTS:
        out.append((CPU_PARALLEL_MIN_ELEMENTS, family, 1 if policy == "parallel" else _HUGE))
    return out


def policies(device: str, family: str) -> list:
    """The kernel policies of ``family`` on ``device`` (see :func:`apply_policy`), leaving
    out a policy whose thresholds are the shipped ones (the base case runs it already)."""
    import tinynet as tn
    from tinynet.kernels.policy import CPU_PARALLEL_MIN_ELEMENTS

    gated = family in tn.device(device).kernels.KERNEL_MIN_ELEMENTS
    out = ["numpy"] if gated else []
    if device == "cpu":
        out += ["serial", "parallel"] if family in CPU_PARALLEL_MIN_ELEMENTS else (["serial"] if gated else [])
    elif gated:
        out.append("kernel")
    return [p for p in out if any(table[key] != value for table, key, value in _settings(device, family, p))]


def apply_policy(monkeypatch, device: str, family: str, policy: str):
    """Move the thresholds of ``family`` so the op takes ``policy``'s path at any size.

    ``numpy``: the array expressions (``KERNEL_MIN_ELEMENTS`` above any size);
    ``serial``/``parallel`` (cpu): the fused kernel's serial or ``prange`` loop
    (``CPU_PARALLEL_MIN_ELEMENTS`` above any size, or 1); ``kernel`` (cuda): the kernel.
    """
    for table, key, value in _settings(device, family, policy):
        monkeypatch.setitem(table, key, value)


def cases(entry: OpEntry, device: str) -> list:
    """Every case of ``entry`` on ``device`` except the base one (float64, contiguous, shipped
    policy): each dtype with each layout, and each kernel policy with contiguous and (when
    listed) non-contiguous inputs in each dtype."""
    out = [Case(dtype=dt) for dt in entry.dtypes if dt != "float64"]
    for layout in entry.layouts:
        out += [Case(dtype=dt, layout=layout) for dt in entry.dtypes]
    layouts = ["contiguous"] + (["noncontig"] if "noncontig" in entry.layouts else [])
    for family in entry.kernel_families:
        for policy in policies(device, family):
            out += [Case(dtype=dt, layout=lay, family=family, policy=policy) for lay in layouts for dt in entry.dtypes]
    return out


def policy_cases(entry: OpEntry, device: str) -> list:
    """Contiguous cases in every dtype: shipped policy, then each kernel policy."""
    out = [Case(dtype=dt) for dt in entry.dtypes]
    for family in entry.kernel_families:
        for policy in policies(device, family):
            out += [Case(dtype=dt, family=family, policy=policy) for dt in entry.dtypes]
    return out


# --- building the inputs --------------------------------------------------------------------------
def _arrays(raw):
    return [i for i, a in enumerate(raw) if isinstance(a, np.ndarray)]


def transform(entry: OpEntry, raw: list, layout: str) -> list:
    """The arguments ``raw`` (from ``entry.make``) with their shapes changed for ``layout``.

    ``broadcast``: the arguments in ``entry.broadcast`` keep one row of axis 0;
    ``0d``: every array becomes its first element (0-d); ``empty``: the arrays of the
    largest rank get 0 rows (lower-rank arrays still broadcast against them). Other
    layouts keep the shapes (``noncontig`` changes only the strides, in :func:`build_args`).
    """
    raw = list(raw)
    idx = _arrays(raw)
    if layout == "broadcast":
        for i in entry.broadcast:
            if raw[i].ndim:
                raw[i] = raw[i][:1].copy()
    elif layout == "0d":
        for i in idx:
            raw[i] = raw[i].reshape(-1)[:1].reshape(()).copy()
    elif layout == "empty":
        top = max((raw[i].ndim for i in idx), default=0)
        for i in idx:
            if raw[i].ndim == top and top:
                raw[i] = raw[i][:0].copy()
    return raw


def has_layout(entry: OpEntry, raw: list, layout: str) -> bool:
    """Whether ``layout`` changes anything for these arguments (e.g. no strided view of 0-d inputs)."""
    if layout == "noncontig":
        return any(raw[i].ndim for i in _arrays(raw))
    return True


def _strided(tn, a, dtype, device):
    """A tensor holding ``a``'s values as a non-contiguous view: every other element of the
    last axis of a buffer twice as wide (a leaf, built under no_grad)."""
    base = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype if dtype is None else dtype)
    base[..., ::2] = a
    with tn.no_grad():
        t = tn.tensor(base, dtype=dtype, device=device)[..., ::2]
    if t.numel() > 1:
        assert not t.device.xp.asarray(t.array).flags.c_contiguous, "the strided view came out contiguous"
    return t


def build_args(entry: OpEntry, device: str, seed: int = 0, dtype: str = "float64", layout: str = "contiguous",
               raw: Optional[list] = None):
    """The entry's arguments as tinynet tensors on ``device``: float arrays in ``dtype``
    (requiring grad unless in ``no_grad``), int/bool arrays as constants, other values as is.

    Returns ``(raw, args)``: ``raw`` are the NumPy arguments after :func:`transform`, with
    float arrays rounded to ``dtype`` and held in float64 (what the reference gets).
    """
    import tinynet as tn

    if raw is None:
        raw = transform(entry, entry.make(np.random.default_rng(seed)), layout)
    raw = [a.astype(dtype).astype(np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
           for a in raw]
    args = []
    for i, a in enumerate(raw):
        if not isinstance(a, np.ndarray):
            args.append(a)
            continue
        floating = a.dtype.kind == "f"
        if layout == "noncontig" and a.ndim:
            t = _strided(tn, a, dtype if floating else None, device)
        else:
            t = tn.tensor(a, dtype=dtype if floating else None, device=device)
        if floating and i not in entry.no_grad:
            t.requires_grad_(True)
        args.append(t)
    return raw, args
