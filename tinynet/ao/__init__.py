"""``tinynet.ao``: where PyTorch keeps quantization (``torch.ao.quantization``), so
``from tinynet.ao.quantization import prepare, convert`` works as the PyTorch import does.
The code lives in :mod:`tinynet.quantization`."""
from . import quantization  # noqa: F401
