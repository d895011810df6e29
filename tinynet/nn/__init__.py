"""Neural-network building blocks (``tinynet.nn``): Module, Parameter, layers, losses, init.

    import tinynet.nn as nn
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    loss = nn.CrossEntropyLoss()(model(x), y)

``nn.functional`` is ``tinynet.functional``; ``nn.init`` initialises weights; ``nn.utils``
clips gradients.
"""
from . import functional, init, parallel, utils
from .activation import *  # noqa: F401,F403
from .containers import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .embedding import *  # noqa: F401,F403
from .layer_norm import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .transformer import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .distillation import *  # noqa: F401,F403
from .distance import *  # noqa: F401,F403
from .module import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .lazy import *  # noqa: F401,F403
from .padding import *  # noqa: F401,F403
from .upsampling import *  # noqa: F401,F403
from .fold import *  # noqa: F401,F403
from .pixelshuffle import *  # noqa: F401,F403
from .parameter import *  # noqa: F401,F403
from .regularization import *  # noqa: F401,F403
from .parallel.sync_batchnorm import SyncBatchNorm  # noqa: F401
