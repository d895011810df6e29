"""``nn.utils`` (PyTorch's ``torch.nn.utils``): gradient clipping, parameter vectors, packed
sequences (``nn.utils.rnn``), weight reparametrisations (``weight_norm``, ``spectral_norm``,
``nn.utils.parametrize``, ``nn.utils.parametrizations``), conv/linear + batch-norm fusion,
``skip_init`` and ``nn.utils.stateless.functional_call``."""
from . import parametrizations, parametrize, prune, rnn, stateless
from .clip_grad import clip_grad_norm, clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm
from .convert_parameters import parameters_to_vector, vector_to_parameters
from .fusion import fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval, fuse_linear_bn_weights
from .init import skip_init
from .spectral_norm import remove_spectral_norm, spectral_norm
from .weight_norm import remove_weight_norm, weight_norm

# As in PyTorch, the functions weight_norm and spectral_norm shadow their modules' names as
# attributes of this package (import the modules' other names with `from .weight_norm import ...`).
__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "fuse_conv_bn_eval",
           "fuse_conv_bn_weights", "fuse_linear_bn_eval", "fuse_linear_bn_weights", "get_total_norm",
           "parameters_to_vector", "parametrizations", "parametrize", "prune", "remove_spectral_norm", "remove_weight_norm",
           "rnn", "skip_init", "spectral_norm", "stateless", "vector_to_parameters", "weight_norm"]
