"""``tinynet.nn.functional`` is ``tinynet.functional`` (PyTorch's ``torch.nn.functional`` path).

``import tinynet.nn.functional as F`` gives every op: ``F.relu``, ``F.cross_entropy``,
``F.linear``, ``F.dropout``, ``F.batch_norm``, ...
"""
from tinynet.functional import *  # noqa: F401,F403
from tinynet import functional as _functional


def __getattr__(name):
    # Ops added to tinynet.functional later (or not in its __all__) are found here too.
    try:
        return getattr(_functional, name)
    except AttributeError:
        raise AttributeError(f"module 'tinynet.nn.functional' has no attribute {name!r}") from None
