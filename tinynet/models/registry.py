"""The model registry: a name ("mlp", "cnn", "gpt", ...) -> a builder function.

    from tinynet.models import build_model, register_model

    @register_model("mlp")
    def _mlp(in_features, out_features, **kw):
        return MLP(in_features, out_features=out_features, **kw)

    model = build_model("mlp", in_features=64, out_features=10)

Each model module registers its own builders when it is imported
(``tinynet/models/__init__.py`` imports them all), so adding a model never means editing
a central table. Builders take keyword arguments only and return an ``nn.Module``.
"""
from __future__ import annotations

from typing import Callable

MODELS: dict[str, Callable] = {}


def register_model(name: str):
    """Decorator: register ``fn`` as the builder of model ``name`` (names are unique)."""
    def deco(fn):
        if name in MODELS and MODELS[name] is not fn:
            raise ValueError(f"register_model: a model named {name!r} is already registered ({MODELS[name].__module__})")
        MODELS[name] = fn
        return fn
    return deco


def build_model(name: str, **kwargs):
    """Build the registered model ``name`` with ``kwargs``."""
    try:
        builder = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; registered models: {', '.join(sorted(MODELS)) or 'none'}") from None
    return builder(**kwargs)


def list_models() -> list[str]:
    return sorted(MODELS)
