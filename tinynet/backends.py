"""``tn.backends``: the switches PyTorch scripts set on ``torch.backends``, and what they do here.

Scripts written for PyTorch often start with ``torch.backends.cudnn.benchmark = True`` or
``torch.backends.cudnn.deterministic = True``. tinynet has no cuDNN, no TF32 and no MKL-DNN
path, so these flags are kept (they can be set and read back, and ``tinynet info`` could show
them) but change nothing:

* ``cudnn.benchmark`` (autotune convolution algorithms): tinynet has one convolution
  algorithm per device (im2col + GEMM), so there is nothing to choose between;
* ``cudnn.deterministic``: tinynet's kernels are deterministic already, on cpu and cuda
  (no atomics-based reductions whose order varies between runs);
* ``cudnn.enabled``, ``cudnn.allow_tf32``, ``cuda.matmul.allow_tf32``,
  ``cuda.matmul.allow_fp16_reduced_precision_reduction``: tinynet never uses cuDNN or TF32;
  float32 matmuls are computed in float32.

``cudnn.is_available()`` is False and ``cudnn.version()`` None: there is no cuDNN here.
``mps.is_available()`` is False (no Apple GPU backend).
"""
from __future__ import annotations


class _Flags:
    """A namespace of switches: attributes can be set and read; only known names exist, so a
    typo (``cudnn.benchmarks = True``) is an AttributeError instead of a silent no-op."""

    def __init__(self, name, **flags):
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_flags", dict(flags))

    def __getattr__(self, key):
        flags = object.__getattribute__(self, "_flags")
        if key in flags:
            return flags[key]
        raise AttributeError(f"tn.backends.{self._name} has no flag {key!r}; it has: {', '.join(sorted(flags))}")

    def __setattr__(self, key, value):
        if key not in self._flags:
            raise AttributeError(f"tn.backends.{self._name} has no flag {key!r}; it has: {', '.join(sorted(self._flags))}")
        self._flags[key] = value

    def __repr__(self):
        return f"tn.backends.{self._name}({', '.join(f'{k}={v!r}' for k, v in sorted(self._flags.items()))})"


class _CuDNN(_Flags):
    def is_available(self) -> bool:
        """False: tinynet does not use cuDNN."""
        return False

    def version(self):
        return None


class _MPS:
    @staticmethod
    def is_available() -> bool:
        """False: tinynet has no Apple-GPU backend (devices are cpu and cuda)."""
        return False

    @staticmethod
    def is_built() -> bool:
        return False


cudnn = _CuDNN("cudnn", benchmark=False, deterministic=False, enabled=True, allow_tf32=True)


class _Cuda:
    matmul = _Flags("cuda.matmul", allow_tf32=False, allow_fp16_reduced_precision_reduction=True,
                    allow_bf16_reduced_precision_reduction=True)

    @staticmethod
    def is_built() -> bool:
        """Whether tinynet can use CUDA at all: True (through CuPy, when installed)."""
        return True


cuda = _Cuda()
mps = _MPS()

__all__ = ["cudnn", "cuda", "mps"]


_DETERMINISTIC = {"mode": False, "warn_only": False}
_MATMUL_PRECISION = ["highest"]


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False):
    """``torch.use_deterministic_algorithms``: recorded; every tinynet kernel is deterministic
    already (see the module docstring), so no op needs refusing."""
    _DETERMINISTIC.update(mode=bool(mode), warn_only=bool(warn_only))


def are_deterministic_algorithms_enabled() -> bool:
    return _DETERMINISTIC["mode"]


def set_float32_matmul_precision(precision: str):
    """``"highest"``, ``"high"`` or ``"medium"``: recorded; tinynet computes float32 matmuls in
    float32 at every setting (no TF32/bfloat16 shortcut exists here)."""
    if precision not in ("highest", "high", "medium"):
        raise ValueError(f"set_float32_matmul_precision: expected 'highest', 'high' or 'medium', got {precision!r}")
    _MATMUL_PRECISION[0] = precision


def get_float32_matmul_precision() -> str:
    return _MATMUL_PRECISION[0]
