"""``tn.compile``: PyTorch's ``torch.compile`` signature, with tinynet's honest answer.

tinynet runs every op eagerly (each op computes as it is called) and has no graph compiler.
``tn.compile(model)`` therefore validates its arguments as PyTorch does and returns ``model``
itself, unchanged: the same object, the same speed, the same ``state_dict`` keys. It
exists so that PyTorch programs that call ``model = torch.compile(model)`` run unchanged;
it gives no speed-up. (tinynet's speed comes from its fused kernels, used eagerly.)
"""
from __future__ import annotations

__all__ = ["compile", "check_compile_args"]

#: PyTorch's built-in backend names (``torch._dynamo.list_backends(exclude_tags=())``, 2.13, less its test ones)
BACKENDS = ("aot_eager", "aot_eager_decomp_partition", "aot_eager_decomp_partition_crossref",
            "aot_eager_decomp_partition_with_mode", "aot_eager_default_partitioner", "aot_ts", "cudagraphs",
            "eager", "eager_debug", "eager_noexcept", "inductor", "invoke_subgraph", "openxla", "openxla_eval",
            "pre_dispatch_eager", "ts", "tvm", "onnxrt", "tensorrt", "torch_tensorrt")
MODES = (None, "default", "lite", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")


def check_compile_args(fullgraph=False, dynamic=None, backend="inductor", mode=None, options=None, disable=False,
                       what="compile"):
    """Raise for arguments ``torch.compile`` refuses (type, unknown backend or mode, both
    ``mode`` and ``options``)."""
    if not isinstance(fullgraph, bool):
        raise TypeError(f"{what}: fullgraph must be a bool, got {type(fullgraph).__name__}")
    if dynamic is not None and not isinstance(dynamic, bool):
        raise TypeError(f"{what}: dynamic must be None or a bool, got {type(dynamic).__name__}")
    if not isinstance(disable, bool):
        raise TypeError(f"{what}: disable must be a bool, got {type(disable).__name__}")
    if backend is not None and not callable(backend):
        if not isinstance(backend, str):
            raise TypeError(f"{what}: backend must be a name or a callable, got {type(backend).__name__}")
        if backend not in BACKENDS:
            raise RuntimeError(f"{what}: Invalid backend: {backend!r}; PyTorch's backends are {BACKENDS} "
                               "(tinynet runs eagerly whichever is named)")
    if mode is not None and options is not None:
        raise RuntimeError(f"{what}: Either mode or options can be specified, but both can't be specified at the "
                           "same time.")
    if mode not in MODES:
        raise RuntimeError(f"{what}: Unrecognized mode={mode!r}, should be one of: {', '.join(m for m in MODES if m)}")
    if options is not None and not isinstance(options, dict):
        raise TypeError(f"{what}: options must be a dict, got {type(options).__name__}")


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None, options=None,
            disable=False):
    """``tn.compile(model_or_fn, *, fullgraph=False, dynamic=None, backend='inductor', mode=None,
    options=None, disable=False)``: returns ``model`` unchanged (see the module docstring: no
    compiler, no speed-up). Without ``model`` it returns a decorator, as ``@torch.compile(...)``.
    """
    check_compile_args(fullgraph, dynamic, backend, mode, options, disable)
    if model is None:
        def decorator(fn):
            return compile(fn, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode, options=options,
                           disable=disable)

        return decorator
    if not callable(model):
        raise TypeError(f"compile: expected a Module or a function, got {type(model).__name__}")
    return model
