"""``nn.utils.skip_init`` (PyTorch's ``torch.nn.utils.init``)."""
from __future__ import annotations

import inspect

from ..module import Module

__all__ = ["skip_init"]


def skip_init(module_cls, *args, **kwargs):
    """An instance of ``module_cls(*args, **kwargs)`` whose parameters and buffers are left
    uninitialised (fresh, unspecified memory on ``kwargs['device']``, default the cpu), for a
    caller that sets every value itself (e.g. from a checkpoint). As in PyTorch the class must
    accept a ``device`` argument. tinynet has no "meta" device that would skip the
    constructor's work, so the constructor runs as usual and its values are then discarded
    (``Module.to_empty``): the result is what PyTorch gives, the time saving is not."""
    if not (isinstance(module_cls, type) and issubclass(module_cls, Module)):
        raise RuntimeError(f"skip_init: Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    final_device = kwargs.pop("device", "cpu")
    return module_cls(*args, **kwargs, device=final_device).to_empty(device=final_device)
