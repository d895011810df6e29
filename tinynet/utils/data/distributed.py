"""``tinynet.utils.data.distributed``: where ``torch.utils.data.distributed`` keeps ``DistributedSampler``."""
from ...data.sampler import DistributedSampler

__all__ = ["DistributedSampler"]
