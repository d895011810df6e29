"""``tinynet.ao.quantization``: the names of :mod:`tinynet.quantization` (PyTorch's
``torch.ao.quantization`` path)."""
from ..quantization import *  # noqa: F401,F403
from ..quantization import nn  # noqa: F401
