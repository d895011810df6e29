"""``tinynet.utils``: PyTorch's ``torch.utils`` names (``tinynet.utils.data``)."""
from . import data

__all__ = ["data"]
