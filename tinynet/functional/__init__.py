"""Differentiable ops on Tensors (``tinynet.functional``, also ``tinynet.nn.functional``).

Each module holds one family of ops; every op is a :class:`~tinynet.autograd.Op`
(forward on arrays, backward as tinynet ops) or a composition of them. Op modules import
only downward (the helpers ``_args``/``_util``, then ``elementwise``, ``shape``, ...); the
Tensor methods and operators are bound once, by :mod:`.methods`, imported last.

Each family module lists its public ops in ``__all__``; everything listed is exported here
(and so as ``tn.<name>`` and ``tinynet.nn.functional.<name>``): a new op is one ``def`` and
one ``__all__`` entry in its family module, plus its op-registry entry (CONTRIBUTING.md).
"""
import sys as _sys

from .conversion import *  # noqa: F401,F403
from .elementwise import *  # noqa: F401,F403
from .linalg import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .dropout2d import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .embedding import *  # noqa: F401,F403
from .layer_norm import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
from .positional import *  # noqa: F401,F403
from .recurrent import *  # noqa: F401,F403
from .reduction import *  # noqa: F401,F403
from .indexing import *  # noqa: F401,F403
from .join import *  # noqa: F401,F403
from .encoding import *  # noqa: F401,F403
from .activation import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .distillation import *  # noqa: F401,F403
from .shape import *  # noqa: F401,F403
from .pointwise import *  # noqa: F401,F403
from .bitwise import *  # noqa: F401,F403
from .scattering import *  # noqa: F401,F403
from .sorting import *  # noqa: F401,F403
from .scan import *  # noqa: F401,F403
from .sampling import *  # noqa: F401,F403
from .layout import *  # noqa: F401,F403
from .distance import *  # noqa: F401,F403
from .resize import *  # noqa: F401,F403
from .padding import *  # noqa: F401,F403
from .folding import *  # noqa: F401,F403
from .introspection import *  # noqa: F401,F403
from .special import *  # noqa: F401,F403
from .statistics import *  # noqa: F401,F403
from .sampling_grid import *  # noqa: F401,F403
from . import methods as _methods  # noqa: F401  (last: binds every Tensor method and operator)

#: Every public op of every family module (what ``from tinynet.functional import *`` and so
#: ``tn.<name>`` export): the ops only, not the family modules themselves (some of which share
#: a name with an op, e.g. ``linear``: the star imports above rebound those names to the ops).
__all__ = sorted({name for module_name, module in list(_sys.modules.items())
                  if module_name.startswith(__name__ + ".") and module_name.count(".") == 2
                  and not module_name.rsplit(".", 1)[1].startswith("_")  # helpers (_args, _util)
                  for name in getattr(module, "__all__", ())})